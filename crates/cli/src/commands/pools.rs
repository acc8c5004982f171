//! `stockdb limit-up [DAY]`: a day's limit-up pool, shared with the earlier service.

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::Args;
use stockdb::Stockdb;

use super::args::parse_date;
use super::output::{clean, num, opt, print_json, print_table, table};

/// `stockdb limit-up` arguments.
#[derive(Debug, Args)]
pub(crate) struct LimitUpArgs {
    /// The day (default: the newest day with a pool).
    #[arg(value_parser = parse_date)]
    day: Option<NaiveDate>,
}

pub(crate) async fn limit_up(db: &Stockdb, args: &LimitUpArgs, json: bool) -> anyhow::Result<()> {
    let pool = db.limit_up();
    let day = match args.day {
        Some(day) => day,
        None => pool
            .latest_day()
            .await?
            .context("no limit-up pool is stored")?,
    };
    let stocks = pool.by_date(day).await?;
    if json {
        return print_json(&stocks);
    }
    let mut t = table(&[
        "stock",
        "name",
        "boards",
        "first sealed",
        "close",
        "pct_chg",
        "turnover %",
        "industry",
    ]);
    for s in &stocks {
        t.add_row(vec![
            s.third_code.to_string(),
            clean(&s.stock_name).into_owned(),
            s.consecutive_boards.to_string(),
            opt(s.first_limit_up_time.as_deref().map(clean)),
            num(Some(s.close), 2),
            num(Some(s.pct_chg), 2),
            num(Some(s.turnover_rate), 2),
            clean(&s.industry).into_owned(),
        ]);
    }
    if !stocks.is_empty() {
        print_table(t);
    }
    println!(
        "{} stock(s) closed at their limit-up price on {day}",
        stocks.len()
    );
    Ok(())
}
