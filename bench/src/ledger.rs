//! The ledger suite: a year's LLM cost by model and by day out of `log_rows` calls, read
//! from the rows (before any rollup) and from the daily rollup (after the catch-up), both
//! through `ModelPriceRepository::costs`, the rollup's read beside the same SQL on a bare
//! connection; and what the catch-up costs, first over the whole year and then when
//! nothing changed (the nightly run). The two reads must give the same totals.

use std::time::Instant;

use audit::{
    CostBy, CostRow, CostScope, ModelPrice, ModelPriceRepository as _, PgModelPriceRepository,
    PgRetentionRepository, RetentionRepository as _, TimeWindow,
};
use serde::Serialize;
use shared_db::Db;

use crate::Bench;
use crate::stats::Latency;

/// Reads of each kind from the rows: each scans the year, so a few say enough.
const ROW_READS: usize = 3;

/// What the suite measured.
#[derive(Debug, Serialize)]
pub(crate) struct Ledger {
    pub(crate) calls: u64,
    pub(crate) days: i64,
    /// A year's cost by model, computed from the rows.
    pub(crate) by_model_rows: Latency,
    /// A year's cost by day, computed from the rows.
    pub(crate) by_day_rows: Latency,
    /// The first catch-up: every day of the year rolled up, seconds.
    pub(crate) first_catch_up_s: f64,
    /// A catch-up with nothing new (what a nightly run costs), seconds.
    pub(crate) idle_catch_up_s: f64,
    /// A year's cost by model from the rollup, through the repository.
    pub(crate) by_model_rollup: Latency,
    /// A year's cost by day from the rollup, through the repository.
    pub(crate) by_day_rollup: Latency,
    /// The rollup's by-model statement alone, prepared, on a bare connection.
    pub(crate) by_model_floor: Latency,
    /// Rows in `llm_call_daily` after the catch-up.
    pub(crate) rollup_rows: i64,
    pub(crate) by_model_rows_over_rollup_p99: f64,
    pub(crate) by_day_rows_over_rollup_p99: f64,
    pub(crate) rollup_p99_over_floor: f64,
}

/// `rows` calls over `days` days from 2024-01-01 into the (re-partitioned) LLM log, with
/// the token breakdown on two calls in three and a configuration alias on most.
async fn fill(db: &Db, rows: u64, days: i64) -> anyhow::Result<()> {
    crate::audit::monthly_partitions(db, days).await?;
    let step_s = (days * 86_400) as f64 / rows as f64;
    let sql = format!(
        "INSERT INTO llm_call_logs (id, session_id, caller_module, caller_agent, model_name, \
             vendor, prompt_text, prompt_tokens, completion_tokens, total_tokens, \
             cached_prompt_tokens, reasoning_tokens, config_alias, temperature, latency_ms, \
             status, created_at) \
         SELECT md5(i::text)::uuid, md5('s' || (i / 8))::uuid, 'research', \
                (ARRAY['valuation', 'news', 'risk', 'report', 'technical'])[1 + i % 5], \
                (ARRAY['deepseek-chat', 'deepseek-reasoner', 'qwen-max', 'glm-4'])[1 + i % 4], \
                (ARRAY['deepseek', 'deepseek', 'aliyun', 'zhipu'])[1 + i % 4], 'p', \
                800 + i % 700, 300 + i % 400, 1100 + i % 700 + i % 400, \
                CASE WHEN i % 3 <> 0 THEN (800 + i % 700) / 3 END, \
                CASE WHEN i % 3 <> 0 THEN (300 + i % 400) / 4 END, \
                (ARRAY['main', 'backup', NULL])[1 + i % 3], 0.3, 200 + (i * 7919) % 5000, \
                CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'success' END, \
                timestamp '2024-01-01' + i * {step_s} * interval '1 second' \
         FROM generate_series(0::bigint, {rows} - 1) i"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(db.pool())
        .await?;
    sqlx::raw_sql("VACUUM ANALYZE llm_call_logs")
        .execute(db.pool())
        .await?;
    Ok(())
}

fn price(vendor: &str, model: &str, from: &str, rates: [f64; 3]) -> anyhow::Result<ModelPrice> {
    Ok(ModelPrice {
        vendor: vendor.into(),
        model: model.into(),
        effective_from: from.parse()?,
        input_per_million: rates[0],
        output_per_million: rates[1],
        cached_input_per_million: Some(rates[2]),
        reasoning_output_per_million: None,
        currency: "CNY".into(),
    })
}

/// `runs` reads of `by` over `window`; the last result and the latencies.
async fn timed_costs(
    prices: &PgModelPriceRepository,
    window: TimeWindow,
    by: CostBy,
    runs: usize,
) -> anyhow::Result<(Vec<CostRow>, Latency)> {
    let mut samples = Vec::with_capacity(runs);
    let mut last = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        last = prices.costs(CostScope::Window(window), by).await?;
        samples.push(started.elapsed());
    }
    Ok((last, Latency::new(&samples)))
}

/// Totals that must not depend on where they were read: calls, tokens and cost (to a
/// billionth) per currency.
fn totals(rows: &[CostRow]) -> Vec<(Option<String>, i64, i64, i64, i64)> {
    let mut by_currency: Vec<(Option<String>, i64, i64, i64, i64)> = Vec::new();
    for r in rows {
        let cost = r.cost.map_or(0, |c| (c * 1e9).round() as i64);
        match by_currency.iter_mut().find(|t| t.0 == r.currency) {
            Some(t) => {
                t.1 += r.calls;
                t.2 += r.prompt_tokens;
                t.3 += r.cached_prompt_tokens;
                t.4 += cost;
            }
            None => by_currency.push((
                r.currency.clone(),
                r.calls,
                r.prompt_tokens,
                r.cached_prompt_tokens,
                cost,
            )),
        }
    }
    by_currency.sort();
    by_currency
}

/// The rollup's by-model statement, as a bare connection would send it.
const ROLLUP_BY_MODEL: &str = "SELECT vendor || '/' || model_name AS grp, \
    nullif(currency, '') AS currency, sum(calls)::bigint, sum(cost)::float8, \
    sum(prompt_tokens)::bigint, sum(cached_prompt_tokens)::bigint, \
    sum(completion_tokens)::bigint, sum(reasoning_tokens)::bigint, \
    sum(calls_without_breakdown)::bigint \
    FROM llm_call_daily WHERE day >= $1 AND day < $2 GROUP BY 1, 2 ORDER BY 1, 2";

impl Bench {
    /// The ledger suite, on the newest schema.
    pub(crate) async fn ledger(&self) -> anyhow::Result<Ledger> {
        let (rows, days) = (self.settings.log_rows, self.settings.log_days);
        eprintln!("ledger: {rows} LLM calls over {days} days, costs from the rows and the rollup");
        fill(&self.db, rows, days).await?;
        let prices = PgModelPriceRepository::new(self.db.clone());
        for p in [
            price(
                "deepseek",
                "deepseek-*",
                "2024-01-01T00:00:00",
                [2.0, 8.0, 0.5],
            )?,
            price(
                "deepseek",
                "deepseek-chat",
                "2024-07-01T00:00:00",
                [1.0, 4.0, 0.25],
            )?,
            price("aliyun", "qwen-max", "2024-01-01T00:00:00", [2.4, 9.6, 0.6])?,
        ] {
            prices.set(&p).await?;
        }
        let from = crate::audit::day(0);
        let window = TimeWindow::new(from, from + chrono::Duration::days(days))?;
        let (model_rows, by_model_rows) =
            timed_costs(&prices, window, CostBy::Model, ROW_READS).await?;
        let (day_rows, by_day_rows) = timed_costs(&prices, window, CostBy::Day, ROW_READS).await?;

        let retention = PgRetentionRepository::new(self.db.clone());
        let started = Instant::now();
        let report = retention.roll_up().await?;
        let first_catch_up_s = started.elapsed().as_secs_f64();
        anyhow::ensure!(
            report.llm_calls == rows,
            "the catch-up rolled up {} calls of {rows}",
            report.llm_calls
        );
        let started = Instant::now();
        retention.roll_up().await?;
        let idle_catch_up_s = started.elapsed().as_secs_f64();

        let runs = self.settings.calls;
        let (model_rollup, by_model_rollup) =
            timed_costs(&prices, window, CostBy::Model, runs).await?;
        let (day_rollup, by_day_rollup) = timed_costs(&prices, window, CostBy::Day, runs).await?;
        anyhow::ensure!(
            totals(&model_rows) == totals(&model_rollup)
                && totals(&day_rows) == totals(&day_rollup),
            "the rollup's totals differ from the rows': {:?} vs {:?}",
            totals(&model_rows),
            totals(&model_rollup)
        );
        let mut conn = self.db.pool().acquire().await?;
        let mut floor = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            sqlx::query(ROLLUP_BY_MODEL)
                .bind(window.from.date())
                .bind(window.to.date())
                .fetch_all(&mut *conn)
                .await?;
            floor.push(started.elapsed());
        }
        drop(conn);
        let by_model_floor = Latency::new(&floor);
        let rollup_rows = sqlx::query_scalar("SELECT count(*) FROM llm_call_daily")
            .fetch_one(self.db.pool())
            .await?;
        Ok(Ledger {
            calls: rows,
            days,
            by_model_rows_over_rollup_p99: by_model_rows.p99_ms / by_model_rollup.p99_ms,
            by_day_rows_over_rollup_p99: by_day_rows.p99_ms / by_day_rollup.p99_ms,
            rollup_p99_over_floor: by_model_rollup.p99_ms / by_model_floor.p99_ms,
            by_model_rows,
            by_day_rows,
            first_catch_up_s,
            idle_catch_up_s,
            by_model_rollup,
            by_day_rollup,
            by_model_floor,
            rollup_rows,
        })
    }
}

/// The suite's table.
pub(crate) fn print(l: &Ledger) {
    println!(
        "\n## LLM ledger: a year's cost, {} calls over {} days (ms)\n",
        l.calls, l.days
    );
    println!("| read | calls | p50 | p99 | max |");
    println!("|---|---:|---:|---:|---:|");
    for (name, lat) in [
        ("cost by model, from the rows", &l.by_model_rows),
        ("cost by day, from the rows", &l.by_day_rows),
        ("cost by model, from the rollup", &l.by_model_rollup),
        ("cost by day, from the rollup", &l.by_day_rollup),
        ("rollup by-model SQL, bare connection", &l.by_model_floor),
    ] {
        println!(
            "| {name} | {} | {:.3} | {:.3} | {:.3} |",
            lat.calls, lat.p50_ms, lat.p99_ms, lat.max_ms
        );
    }
    println!(
        "\nrows / rollup p99: by model {:.0}×, by day {:.0}×; rollup / floor p99 {:.2}; \
         catch-up: first {:.1} s, idle {:.2} s; {} rollup rows",
        l.by_model_rows_over_rollup_p99,
        l.by_day_rows_over_rollup_p99,
        l.rollup_p99_over_floor,
        l.first_catch_up_s,
        l.idle_catch_up_s,
        l.rollup_rows
    );
}
