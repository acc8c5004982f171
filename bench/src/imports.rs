//! The import suite: `stockdb import daily` of a whole file against `psql \copy` of the
//! same file, and the merge workflow (a `daily` file, then a `daily_basic` file of the
//! same days) through the import path.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::Context as _;
use data_engineering::{PgSyncRepository, StockDaily};
use serde::Serialize;
use tushare::{ImportKind, ImportOptions, NoProgress, import_csv};

use crate::Bench;
use crate::stats::{Ratio, Timing};
use crate::writes::Data;

/// The columns of Tushare's `daily` endpoint.
pub(crate) const DAILY: &[&str] = &[
    "open",
    "high",
    "low",
    "close",
    "pre_close",
    "change",
    "pct_chg",
    "vol",
    "amount",
];
/// The columns of its `daily_basic` endpoint (`close` again, as Tushare sends it).
pub(crate) const DAILY_BASIC: &[&str] = &[
    "close",
    "turnover_rate",
    "turnover_rate_f",
    "volume_ratio",
    "pe",
    "pe_ttm",
    "pb",
    "ps",
    "ps_ttm",
    "dv_ratio",
    "dv_ttm",
    "total_share",
    "float_share",
    "free_share",
    "total_mv",
    "circ_mv",
];

/// Import timings (lines/s are rows/s of `Timing`: one row per line).
#[derive(Debug, Serialize)]
pub(crate) struct Imports {
    /// `stockdb import daily` of a file with every column into an empty table.
    pub(crate) import: Timing,
    /// `psql \copy` of the same file.
    pub(crate) psql_copy: Timing,
    /// The merge workflow: the `daily` file into an empty table, then the `daily_basic`
    /// file onto it.
    pub(crate) merge_first: Timing,
    pub(crate) merge_second: Timing,
    pub(crate) import_over_psql: Ratio,
    pub(crate) second_over_first: Ratio,
}

/// The generated files, removed when dropped.
struct Files {
    dir: PathBuf,
    full: PathBuf,
    daily: PathBuf,
    daily_basic: PathBuf,
}

impl Files {
    fn write(bars: &[StockDaily]) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("stockdb_bench_{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let files = Self {
            full: dir.join("daily_full.csv"),
            daily: dir.join("daily.csv"),
            daily_basic: dir.join("daily_basic.csv"),
            dir,
        };
        for (path, columns) in [
            (&files.full, StockDaily::VALUE_FIELDS),
            (&files.daily, DAILY),
            (&files.daily_basic, DAILY_BASIC),
        ] {
            let out = std::io::BufWriter::new(std::fs::File::create(path)?);
            tushare::write_daily_columns(out, bars.iter().cloned(), columns)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(files)
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Bench {
    /// The import suite, on every generated bar.
    pub(crate) async fn imports(&self, data: &Data) -> anyhow::Result<Imports> {
        let n = data.dailies.len();
        eprintln!("imports: {n}-line files");
        let files = Files::write(&data.dailies)?;
        let sync = PgSyncRepository::new(self.db.clone());
        let import = async |path: &Path| -> anyhow::Result<()> {
            let options = ImportOptions::new(ImportKind::Daily, path);
            let summary = import_csv(&sync, &options, &NoProgress, &AtomicBool::new(false)).await?;
            anyhow::ensure!(
                summary.rows == n as u64 && summary.rejected == 0,
                "expected {n} rows, got {summary:?}"
            );
            Ok(())
        };
        let timings = self
            .interleave(
                &[("stockdb import daily", n), ("psql \\copy", n)],
                async |_, _| self.reset("stock_daily").await,
                async |side, _, ()| {
                    if side == 0 {
                        import(&files.full).await
                    } else {
                        psql_copy(&self.url, &files.full)
                    }
                },
            )
            .await?;
        let [import_timing, psql_copy] =
            <[Timing; 2]>::try_from(timings).map_err(|_| anyhow::anyhow!("two sides measured"))?;
        let merge = self
            .interleave(
                &[("daily file (first)", n), ("daily_basic file (second)", n)],
                async |side, _| {
                    if side == 0 {
                        self.reset("stock_daily").await
                    } else {
                        self.sql("CHECKPOINT").await
                    }
                },
                async |side, _, ()| {
                    import(if side == 0 {
                        &files.daily
                    } else {
                        &files.daily_basic
                    })
                    .await
                },
            )
            .await?;
        let [merge_first, merge_second] =
            <[Timing; 2]>::try_from(merge).map_err(|_| anyhow::anyhow!("two sides measured"))?;
        Ok(Imports {
            import_over_psql: Ratio::throughput(&import_timing, &psql_copy),
            second_over_first: Ratio::throughput(&merge_second, &merge_first),
            import: import_timing,
            psql_copy,
            merge_first,
            merge_second,
        })
    }
}

/// `psql \copy` of a file with every `stock_daily` column into the table of `url`.
pub(crate) fn psql_copy(url: &str, path: &Path) -> anyhow::Result<()> {
    let mut columns = vec!["third_code", "trade_date"];
    columns.extend(StockDaily::VALUE_FIELDS);
    let command = format!(
        "\\copy stock_daily ({}) FROM '{}' WITH (FORMAT csv, HEADER true)",
        columns.join(", "),
        path.display()
    );
    // Blocking is fine: nothing else runs while a side is timed.
    let status = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c"])
        .arg(&command)
        .status()
        .context("running psql (install postgresql-client)")?;
    anyhow::ensure!(status.success(), "psql \\copy failed: {status}");
    Ok(())
}
