//! The write suites: `stock_daily` and `stock_finance` through the repository, against
//! `COPY` and the naive SeaORM path, and the repository's peak memory.

use chrono::NaiveDate;
use data_engineering::baseline::{
    column_counts, insert_many_dailies, insert_many_finance, max_rows_per_statement,
};
use data_engineering::{
    PgStockDailyRepository, PgStockFinanceRepository, PgStockRepository, StockDaily,
    StockDailyRepository, StockFinance, StockFinanceRepository, StockInfo, StockRepository,
};
use serde::Serialize;

use crate::copy::{binary_payload, copy_in, daily_fields, finance_fields, text_payload};
use crate::stats::{PeakRss, Timing, rss_bytes};
use crate::{Bench, DAYS, QUARTERS, SEED, Settings};

/// The first trading day of the generated data.
const FIRST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2024, 1, 2).expect("a valid date");
/// The newest report period of the generated data.
pub(crate) const LAST_QUARTER: NaiveDate =
    NaiveDate::from_ymd_opt(2024, 9, 30).expect("a valid date");

/// The generated rows every suite uses.
pub(crate) struct Data {
    pub(crate) stocks: Vec<StockInfo>,
    pub(crate) days: Vec<NaiveDate>,
    pub(crate) dailies: Vec<StockDaily>,
    /// The same bars with prices moved, so an upsert really changes every row.
    pub(crate) changed_dailies: Vec<StockDaily>,
    pub(crate) reports: Vec<StockFinance>,
    pub(crate) changed_reports: Vec<StockFinance>,
    /// How many stocks have bars (the first ones of `stocks`).
    pub(crate) daily_stocks: usize,
}

impl Data {
    pub(crate) fn generate(settings: &Settings) -> Self {
        eprintln!(
            "generating {} stocks × {DAYS} days and {} × {QUARTERS} reports",
            settings.stocks, settings.finance_stocks
        );
        let stocks = sample::stocks(settings.stocks.max(settings.finance_stocks), SEED);
        let days = sample::trading_days(FIRST_DAY, DAYS);
        let dailies: Vec<StockDaily> =
            sample::daily_bars(&stocks[..settings.stocks], &days, SEED).collect();
        let changed_dailies = dailies.iter().map(perturb_daily).collect();
        let reports = sample::finance_reports(
            &stocks[..settings.finance_stocks],
            QUARTERS,
            LAST_QUARTER,
            SEED,
        );
        let changed_reports = reports.iter().map(perturb_finance).collect();
        Self {
            stocks,
            days,
            dailies,
            changed_dailies,
            reports,
            changed_reports,
            daily_stocks: settings.stocks,
        }
    }

    /// Every other run writes the changed version, so each run really updates every row.
    fn dailies_for(&self, run: usize) -> &[StockDaily] {
        if run.is_multiple_of(2) {
            &self.changed_dailies
        } else {
            &self.dailies
        }
    }

    fn reports_for(&self, run: usize) -> &[StockFinance] {
        if run.is_multiple_of(2) {
            &self.changed_reports
        } else {
            &self.reports
        }
    }
}

/// `stock_daily` write timings. Each group was measured interleaved (see
/// `Bench::interleave`), with its own `COPY` baseline.
#[derive(Debug, Serialize)]
pub(crate) struct DailyWrites {
    /// New rows: the repository, `COPY` text and `COPY` binary into an empty table.
    pub(crate) repository_new: Timing,
    pub(crate) copy_text: Timing,
    pub(crate) copy_binary: Timing,
    /// Every row already stored: the repository with every value changed, with every
    /// value identical, and `COPY` text into an empty table beside them.
    pub(crate) repository_conflict: Timing,
    pub(crate) repository_identical: Timing,
    pub(crate) copy_text_beside_conflict: Timing,
    pub(crate) naive_new: Timing,
    pub(crate) naive_conflict: Timing,
}

/// `stock_finance` write timings, interleaved like the daily ones.
#[derive(Debug, Serialize)]
pub(crate) struct FinanceWrites {
    pub(crate) repository_new: Timing,
    pub(crate) copy_text: Timing,
    pub(crate) repository_conflict: Timing,
    pub(crate) copy_text_beside_conflict: Timing,
    pub(crate) naive_new: Timing,
    /// Rows per naive statement: the most that fit 65,535 parameters.
    pub(crate) naive_batch: usize,
    /// What the naive path does with 1,000-row statements.
    pub(crate) naive_1000_row_batches: String,
}

/// Peak memory of one repository save of every `stock_daily` row.
#[derive(Debug, Serialize)]
pub(crate) struct Memory {
    pub(crate) rows: u64,
    pub(crate) rss_before_mib: f64,
    pub(crate) peak_rss_mib: f64,
    pub(crate) peak_increase_mib: f64,
}

impl Bench {
    /// Empties `table` and fills it with `binary` (a `COPY` payload), then vacuums,
    /// analyses and flushes it: an update run starts from freshly written pages, filled
    /// as the table's `fillfactor` says, as after a first sync.
    pub(crate) async fn load(&self, table: &str, binary: &[u8]) -> anyhow::Result<()> {
        self.sql(&format!("TRUNCATE {table}")).await?;
        copy_in(self.db.pool(), table, "(FORMAT binary)", binary).await?;
        self.sql(&format!("VACUUM ANALYZE {table}")).await?;
        self.sql("CHECKPOINT").await
    }

    /// The `stock_daily` write paths, then the peak memory of one repository save.
    pub(crate) async fn daily_writes(&self, data: &Data) -> anyhow::Result<(DailyWrites, Memory)> {
        let stock_repo = PgStockRepository::new(self.db.clone());
        let repo = PgStockDailyRepository::new(self.db.clone());
        stock_repo.save_all(data.stocks.clone()).await?;
        let n = data.dailies.len();
        eprintln!("stock_daily: {n} rows");
        let text = text_payload(&data.dailies, daily_fields);
        let binary = [
            binary_payload(&data.changed_dailies, daily_fields),
            binary_payload(&data.dailies, daily_fields),
        ];
        // `binary[run % 2]` holds what `dailies_for(run)` holds.
        let mut new = self
            .interleave(
                &[
                    ("repository, new rows", n),
                    ("COPY text", n),
                    ("COPY binary", n),
                ],
                async |side, _| {
                    self.reset("stock_daily").await?;
                    Ok((side == 0).then(|| data.dailies.clone()))
                },
                async |side, _, input| match side {
                    0 => Ok(repo.save_all(input.unwrap_or_default()).await.map(drop)?),
                    1 => copy_in(self.db.pool(), "stock_daily", "", &text).await,
                    _ => {
                        copy_in(self.db.pool(), "stock_daily", "(FORMAT binary)", &binary[1]).await
                    }
                },
            )
            .await?
            .into_iter();
        let mut conflict = self
            .interleave(
                &[
                    ("repository, all conflicts (values changed)", n),
                    ("repository, all conflicts (values identical)", n),
                    ("COPY text", n),
                ],
                async |side, run| match side {
                    0 => {
                        self.load("stock_daily", &binary[(run + 1) % 2]).await?;
                        Ok(Some(data.dailies_for(run).to_vec()))
                    }
                    1 => {
                        self.load("stock_daily", &binary[run % 2]).await?;
                        Ok(Some(data.dailies_for(run).to_vec()))
                    }
                    _ => self.reset("stock_daily").await.map(|()| None),
                },
                async |side, _, input| {
                    let Some(rows) = input else {
                        return copy_in(self.db.pool(), "stock_daily", "", &text).await;
                    };
                    let report = repo.save_all(rows).await?;
                    let done = if side == 0 {
                        report.updated
                    } else {
                        report.unchanged
                    };
                    anyhow::ensure!(done == n as u64, "expected {n} rows done, got {report:?}");
                    Ok(())
                },
            )
            .await?
            .into_iter();
        drop(text);
        let naive_new = self
            .measure(
                "naive insert_many, 1,000-row batches, new rows",
                n,
                async |_| self.reset("stock_daily").await,
                async |_, ()| Ok(insert_many_dailies(&self.db, &data.dailies, 1_000).await?),
            )
            .await?;
        let naive_conflict = self
            .measure(
                "naive insert_many, all conflicts",
                n,
                async |run| self.load("stock_daily", &binary[(run + 1) % 2]).await,
                async |run, ()| {
                    Ok(insert_many_dailies(&self.db, data.dailies_for(run), 1_000).await?)
                },
            )
            .await?;
        drop(binary);
        let memory = self.peak_memory(&repo, data).await?;
        let writes = DailyWrites {
            repository_new: next_side(&mut new)?,
            copy_text: next_side(&mut new)?,
            copy_binary: next_side(&mut new)?,
            repository_conflict: next_side(&mut conflict)?,
            repository_identical: next_side(&mut conflict)?,
            copy_text_beside_conflict: next_side(&mut conflict)?,
            naive_new,
            naive_conflict,
        };
        Ok((writes, memory))
    }

    async fn peak_memory(
        &self,
        repo: &PgStockDailyRepository,
        data: &Data,
    ) -> anyhow::Result<Memory> {
        let n = data.dailies.len();
        eprintln!("peak memory of one repository save of {n} rows");
        self.reset("stock_daily").await?;
        let input = data.dailies.clone();
        let before = rss_bytes();
        let sampler = PeakRss::start();
        repo.save_all(input).await?;
        let peak = sampler.finish();
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        Ok(Memory {
            rows: n as u64,
            rss_before_mib: mib(before),
            peak_rss_mib: mib(peak),
            peak_increase_mib: mib(peak.saturating_sub(before)),
        })
    }

    /// The `stock_finance` write paths.
    pub(crate) async fn finance_writes(&self, data: &Data) -> anyhow::Result<FinanceWrites> {
        let repo = PgStockFinanceRepository::new(self.db.clone());
        let f = data.reports.len();
        eprintln!("stock_finance: {f} rows");
        let text = text_payload(&data.reports, finance_fields);
        let binary = [
            binary_payload(&data.changed_reports, finance_fields),
            binary_payload(&data.reports, finance_fields),
        ];
        let mut new = self
            .interleave(
                &[("repository, new rows", f), ("COPY text", f)],
                async |side, _| {
                    self.reset("stock_finance").await?;
                    Ok((side == 0).then(|| data.reports.clone()))
                },
                async |_, _, input| match input {
                    Some(rows) => Ok(repo.save_all(rows).await.map(drop)?),
                    None => copy_in(self.db.pool(), "stock_finance", "", &text).await,
                },
            )
            .await?
            .into_iter();
        let mut conflict = self
            .interleave(
                &[("repository, all conflicts", f), ("COPY text", f)],
                async |side, run| {
                    if side == 0 {
                        self.load("stock_finance", &binary[(run + 1) % 2]).await?;
                        Ok(Some(data.reports_for(run).to_vec()))
                    } else {
                        self.reset("stock_finance").await.map(|()| None)
                    }
                },
                async |_, _, input| match input {
                    Some(rows) => Ok(repo.save_all(rows).await.map(drop)?),
                    None => copy_in(self.db.pool(), "stock_finance", "", &text).await,
                },
            )
            .await?
            .into_iter();
        let (_, finance_columns) = column_counts();
        let naive_batch = max_rows_per_statement(finance_columns);
        let naive_new = self
            .measure(
                &format!("naive insert_many, {naive_batch}-row batches"),
                f,
                async |_| self.reset("stock_finance").await,
                async |_, ()| Ok(insert_many_finance(&self.db, &data.reports, naive_batch).await?),
            )
            .await?;
        self.reset("stock_finance").await?;
        let naive_1000_row_batches = match insert_many_finance(&self.db, &data.reports, 1_000).await
        {
            Ok(()) => "succeeded".to_owned(),
            Err(err) => format!("fails: {}", error_chain(&err)),
        };
        eprintln!("  naive insert_many, 1,000-row batches: {naive_1000_row_batches}");
        Ok(FinanceWrites {
            repository_new: next_side(&mut new)?,
            copy_text: next_side(&mut new)?,
            repository_conflict: next_side(&mut conflict)?,
            copy_text_beside_conflict: next_side(&mut conflict)?,
            naive_new,
            naive_batch,
            naive_1000_row_batches,
        })
    }
}

/// The next side's timing of an interleaved group.
fn next_side(timings: &mut std::vec::IntoIter<Timing>) -> anyhow::Result<Timing> {
    timings
        .next()
        .ok_or_else(|| anyhow::anyhow!("a side was not measured"))
}

/// The same bar with every price moved by 0.1 %, so an upsert really changes it.
fn perturb_daily(daily: &StockDaily) -> StockDaily {
    let mut changed = daily.clone();
    for name in [
        "open", "high", "low", "close", "amount", "total_mv", "circ_mv",
    ] {
        let value = changed.value(name).flatten().map(|v| v * 1.001);
        changed.set_value(name, value);
    }
    changed
}

fn perturb_finance(report: &StockFinance) -> StockFinance {
    let mut changed = report.clone();
    changed.roe = Some(changed.roe.unwrap_or(0.0) + 0.01);
    changed
}

/// Every cause of `err`, each said once.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        // Some errors already print their source; say each thing once.
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}
