//! `stockdb import KIND FILE.csv` (stocks, daily, finance, the market-structure files and
//! AkShare's day boards): progress on a TTY, plain lines otherwise, and a summary.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use stockdb::Stockdb;

use super::output;
use tushare::{ImportKind, ImportOptions, ImportProgress, ImportSummary, import_csv, stop_flag};

/// The file kinds, as the command line names them.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Kind {
    /// Tushare `stock_basic`: ts_code, symbol, name [, area, industry, fullname, enname,
    /// cnspell, market, exchange, curr_type, list_status, list_date, delist_date, is_hs].
    Stocks,
    /// Tushare `daily` / `daily_basic` / `adj_factor`: ts_code, trade_date and any of the
    /// 25 value columns.
    Daily,
    /// Tushare `fina_indicator`: ts_code, ann_date, end_date and any of the 87 indicators.
    Finance,
    /// Tushare `trade_cal`: exchange (SSE, SZSE, BSE), cal_date, is_open (1/0)
    /// [, pretrade_date].
    TradeCal,
    /// Tushare `suspend_d`: ts_code, trade_date, suspend_type (S/R) [, suspend_timing
    /// (empty: all day), suspend_reason].
    Suspend,
    /// Tushare `stk_limit`: ts_code, trade_date, up_limit, down_limit [, pre_close].
    StkLimit,
    /// Tushare `namechange`: ts_code, name, start_date [, end_date, ann_date,
    /// change_reason].
    Namechange,
    /// Tushare `index_weight`: index_code, con_code, trade_date [, weight].
    IndexWeight,
    /// Tushare `dividend`: ts_code, end_date, ann_date, div_proc [, stk_div, stk_bo_rate,
    /// stk_co_rate, cash_div, cash_div_tax, record_date, ex_date, pay_date, div_listdate,
    /// imp_ann_date, base_date, base_share].
    Dividend,
    /// AkShare `stock_zt_pool_em` of one day (--date): 代码, 名称, 涨跌幅, 最新价, 成交额,
    /// 换手率, 连板数 [, 首次封板时间, 最后封板时间, 所属行业].
    ZtPool,
    /// AkShare `stock_zt_pool_zbgc_em` of one day (--date): 代码, 名称, 涨跌幅, 最新价,
    /// 成交额, 换手率 [, 炸板次数, 首次封板时间, 所属行业].
    ZbgcPool,
    /// AkShare `stock_zt_pool_previous_em` of one day (--date): 代码, 名称, 涨跌幅, 最新价,
    /// 成交额, 换手率, 昨日连板数 [, 所属行业].
    PreviousPool,
    /// AkShare `stock_lhb_detail_em`: 代码, 名称, 上榜日, 收盘价, 涨跌幅, 龙虎榜净买额,
    /// 龙虎榜买入额, 龙虎榜卖出额, 上榜原因.
    Lhb,
    /// AkShare `stock_sector_fund_flow_rank` (今日) of one day (--date): 名称, 今日涨跌幅,
    /// 今日主力净流入-净额 [, sector_type (default 概念资金流)].
    SectorFlow,
}

impl From<Kind> for ImportKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Stocks => ImportKind::Stocks,
            Kind::Daily => ImportKind::Daily,
            Kind::Finance => ImportKind::Finance,
            Kind::TradeCal => ImportKind::TradeCal,
            Kind::Suspend => ImportKind::Suspend,
            Kind::StkLimit => ImportKind::StkLimit,
            Kind::Namechange => ImportKind::Namechange,
            Kind::IndexWeight => ImportKind::IndexWeight,
            Kind::Dividend => ImportKind::Dividend,
            Kind::ZtPool => ImportKind::ZtPool,
            Kind::ZbgcPool => ImportKind::ZbgcPool,
            Kind::PreviousPool => ImportKind::PreviousPool,
            Kind::Lhb => ImportKind::Lhb,
            Kind::SectorFlow => ImportKind::SectorFlow,
        }
    }
}

/// `stockdb import` arguments.
#[derive(Debug, Clone, Args)]
pub(crate) struct ImportArgs {
    /// What the file holds.
    #[arg(value_enum)]
    kind: Kind,
    /// The CSV file: UTF-8, comma-separated, a header line with Tushare's (or AkShare's)
    /// column names; dates as YYYYMMDD or YYYY-MM-DD; empty, nan or None for a missing value.
    file: PathBuf,
    /// Continue the newest unfinished import of this file from where it stopped.
    #[arg(long)]
    resume: bool,
    /// Lines per batch (at most 100,000); each batch commits with the task's progress.
    #[arg(long, default_value_t = 10_000)]
    batch_size: usize,
    /// Lines longer than this many bytes become failure records instead of rows (an
    /// import never holds more of one line in memory).
    #[arg(long, default_value_t = tushare::DEFAULT_MAX_RECORD_BYTES)]
    max_record_bytes: usize,
    /// The `source` written on rows when the file has no `source` column.
    #[arg(long, default_value = "tushare")]
    source: String,
    /// The day of an AkShare pool or sector-flow file (their frames have no date column).
    #[arg(long, value_parser = super::args::parse_date)]
    date: Option<chrono::NaiveDate>,
    /// Stop after this many batches, leaving the task paused (for trials and tests).
    #[arg(long, hide = true)]
    max_batches: Option<u64>,
}

/// Shows progress: a bar on a terminal, a line every few seconds otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: Mutex<Instant>,
    resumed: Mutex<u64>,
}

impl Progress {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] [{bar:30}] {bytes}/{total_bytes} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        Self {
            bar,
            started: Instant::now(),
            last_line: Mutex::new(Instant::now()),
            resumed: Mutex::new(0),
        }
    }
}

impl ImportProgress for Progress {
    fn begin(&self, total_bytes: u64, resumed_lines: u64) {
        if let Ok(mut resumed) = self.resumed.lock() {
            *resumed = resumed_lines;
        }
        if resumed_lines > 0 {
            eprintln!("resuming after {} lines", output::count(resumed_lines));
        }
        if let Some(bar) = &self.bar {
            bar.set_length(total_bytes);
        }
    }

    fn advance(&self, bytes: u64, lines: u64) {
        let resumed = self.resumed.lock().map_or(0, |r| *r);
        let rate =
            lines.saturating_sub(resumed) as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        let message = format!(
            "{} lines ({} lines/s)",
            output::count(lines),
            output::count(rate as i64)
        );
        match &self.bar {
            Some(bar) => {
                bar.set_position(bytes);
                bar.set_message(message);
            }
            None => {
                let mut last = self
                    .last_line
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if last.elapsed() >= Duration::from_secs(2) {
                    eprintln!("import: {message}");
                    *last = Instant::now();
                }
            }
        }
    }

    fn end(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Runs one import and prints its summary; Ctrl-C pauses it after the current batch.
pub(crate) async fn run(db: &Stockdb, args: &ImportArgs, json: bool) -> anyhow::Result<()> {
    let summary = import(db, args).await?;
    print_summary(&summary, json)?;
    Ok(())
}

/// Runs one import (also used by the demo).
pub(crate) async fn import(db: &Stockdb, args: &ImportArgs) -> anyhow::Result<ImportSummary> {
    let options = ImportOptions {
        kind: args.kind.into(),
        path: args.file.clone(),
        batch_size: args.batch_size,
        max_record_bytes: args.max_record_bytes,
        resume: args.resume,
        source: args.source.clone(),
        max_batches: args.max_batches,
        trade_date: args.date,
    };
    let stop = stop_flag();
    let on_signal = std::sync::Arc::clone(&stop);
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\ninterrupted: pausing after the current batch");
            on_signal.store(true, Ordering::Relaxed);
        }
    });
    let progress = Progress::new();
    let result = import_csv(db.sync().as_ref(), &options, &progress, &stop).await;
    watcher.abort();
    Ok(result?)
}

impl ImportArgs {
    /// Arguments for importing `file` as `kind` with the defaults.
    pub(crate) fn new(kind: Kind, file: PathBuf) -> Self {
        Self {
            kind,
            file,
            resume: false,
            batch_size: 10_000,
            max_record_bytes: tushare::DEFAULT_MAX_RECORD_BYTES,
            source: "tushare".to_owned(),
            date: None,
            max_batches: None,
        }
    }

    /// The same, for an AkShare board of `day`.
    pub(crate) fn of_day(mut self, day: chrono::NaiveDate) -> Self {
        self.date = Some(day);
        self
    }
}

pub(crate) fn print_summary(summary: &ImportSummary, json: bool) -> anyhow::Result<()> {
    if json {
        return output::print_json(summary);
    }
    println!(
        "{status}: {read} lines read in {elapsed:.1} s ({rate} lines/s): {inserted} inserted, {updated} updated, \
         {unchanged} unchanged, {rejected} rejected (sync task {task})",
        status = summary.status,
        read = output::count(summary.lines_read),
        elapsed = summary.elapsed.as_secs_f64(),
        rate = output::count(summary.lines_per_second() as i64),
        inserted = output::count(summary.inserted),
        updated = output::count(summary.updated),
        unchanged = output::count(summary.unchanged),
        rejected = output::count(summary.rejected),
        task = summary.task_id,
    );
    if let Some(earlier) = &summary.unfinished_before {
        println!(
            "  note: an earlier import of this file (sync task {}, {} after {} lines) was left \
             unfinished; this one read the file from its start (`--resume` would have \
             continued that one)",
            earlier.task_id,
            earlier.status,
            output::count(earlier.lines_done)
        );
    }
    if summary.resumed_after_lines > 0 {
        println!(
            "  resumed after {} lines done earlier",
            output::count(summary.resumed_after_lines)
        );
    }
    if summary.rejected > 0 {
        println!("  rejected lines are in `stockdb sync failures`");
    }
    if summary.deferred > 0 {
        println!(
            "  {} lines wait for their day's prices (this file has none of its own, and their \
             bar is not stored yet): import the daily prices, then this file again; they are \
             in `stockdb sync failures`",
            output::count(summary.deferred)
        );
    }
    if !summary.ignored_columns.is_empty() {
        let ignored: Vec<_> = summary
            .ignored_columns
            .iter()
            .map(|c| output::clean(c))
            .collect();
        println!("  ignored columns: {}", ignored.join(", "));
    }
    if summary.status == stockdb::data_engineering::SyncTaskStatus::Paused {
        println!("  paused: continue with --resume");
    }
    Ok(())
}
