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
    pub(crate) fn generate(settings: Settings) -> Self {
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

/// `stock_daily` write timings.
#[derive(Debug, Serialize)]
pub(crate) struct DailyWrites {
    pub(crate) repository_new: Timing,
    pub(crate) repository_conflict: Timing,
    pub(crate) repository_identical: Timing,
    pub(crate) copy_text: Timing,
    pub(crate) copy_binary: Timing,
    pub(crate) naive_new: Timing,
    pub(crate) naive_conflict: Timing,
}

/// `stock_finance` write timings.
#[derive(Debug, Serialize)]
pub(crate) struct FinanceWrites {
    pub(crate) repository_new: Timing,
    pub(crate) repository_conflict: Timing,
    pub(crate) copy_text: Timing,
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
    /// The `stock_daily` write paths, then the peak memory of one repository save.
    pub(crate) async fn daily_writes(&self, data: &Data) -> anyhow::Result<(DailyWrites, Memory)> {
        let stock_repo = PgStockRepository::new(self.db.clone());
        let repo = PgStockDailyRepository::new(self.db.clone());
        stock_repo.save_all(data.stocks.clone()).await?;
        let n = data.dailies.len();
        eprintln!("stock_daily: {n} rows");
        let repository_new = self
            .measure(
                "repository, new rows",
                n,
                async |_| self.reset("stock_daily").await,
                async |_| Ok(repo.save_all(data.dailies.clone()).await.map(drop)?),
            )
            .await?;
        let repository_conflict = self
            .measure(
                "repository, all conflicts (values changed)",
                n,
                async |_| self.settle("stock_daily").await,
                async |run| {
                    let report = repo.save_all(data.dailies_for(run).to_vec()).await?;
                    anyhow::ensure!(
                        report.updated == n as u64,
                        "expected {n} updates, got {report:?}"
                    );
                    Ok(())
                },
            )
            .await?;
        // The table holds the version the last conflict run wrote.
        let current = data.dailies_for(self.settings.repeat - 1);
        let repository_identical = self
            .measure(
                "repository, all conflicts (values identical)",
                n,
                async |_| self.sql("CHECKPOINT").await,
                async |_| {
                    let report = repo.save_all(current.to_vec()).await?;
                    anyhow::ensure!(
                        report.unchanged == n as u64,
                        "expected {n} unchanged, got {report:?}"
                    );
                    Ok(())
                },
            )
            .await?;
        let text = text_payload(&data.dailies, daily_fields);
        let copy_text = self
            .measure(
                "COPY text",
                n,
                async |_| self.reset("stock_daily").await,
                async |_| copy_in(self.db.pool(), "stock_daily", "", &text).await,
            )
            .await?;
        drop(text);
        let binary = binary_payload(&data.dailies, daily_fields);
        let copy_binary = self
            .measure(
                "COPY binary",
                n,
                async |_| self.reset("stock_daily").await,
                async |_| copy_in(self.db.pool(), "stock_daily", "(FORMAT binary)", &binary).await,
            )
            .await?;
        drop(binary);
        let naive_new = self
            .measure(
                "naive insert_many, 1,000-row batches, new rows",
                n,
                async |_| self.reset("stock_daily").await,
                async |_| Ok(insert_many_dailies(&self.db, &data.dailies, 1_000).await?),
            )
            .await?;
        let naive_conflict = self
            .measure(
                "naive insert_many, all conflicts",
                n,
                async |_| self.settle("stock_daily").await,
                async |run| Ok(insert_many_dailies(&self.db, data.dailies_for(run), 1_000).await?),
            )
            .await?;
        let memory = self.peak_memory(&repo, data).await?;
        let writes = DailyWrites {
            repository_new,
            repository_conflict,
            repository_identical,
            copy_text,
            copy_binary,
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
        let repository_new = self
            .measure(
                "repository, new rows",
                f,
                async |_| self.reset("stock_finance").await,
                async |_| Ok(repo.save_all(data.reports.clone()).await.map(drop)?),
            )
            .await?;
        let repository_conflict = self
            .measure(
                "repository, all conflicts",
                f,
                async |_| self.settle("stock_finance").await,
                async |run| {
                    Ok(repo
                        .save_all(data.reports_for(run).to_vec())
                        .await
                        .map(drop)?)
                },
            )
            .await?;
        let text = text_payload(&data.reports, finance_fields);
        let copy_text = self
            .measure(
                "COPY text",
                f,
                async |_| self.reset("stock_finance").await,
                async |_| copy_in(self.db.pool(), "stock_finance", "", &text).await,
            )
            .await?;
        let (_, finance_columns) = column_counts();
        let naive_batch = max_rows_per_statement(finance_columns);
        let naive_new = self
            .measure(
                &format!("naive insert_many, {naive_batch}-row batches"),
                f,
                async |_| self.reset("stock_finance").await,
                async |_| Ok(insert_many_finance(&self.db, &data.reports, naive_batch).await?),
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
            repository_new,
            repository_conflict,
            copy_text,
            naive_new,
            naive_batch,
            naive_1000_row_batches,
        })
    }
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
