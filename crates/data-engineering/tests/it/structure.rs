//! `PgMarketStructureRepository`: the calendar, halts told from gaps, status as known on a
//! day, index membership over time and adjustment factors checked against dividends. Each
//! expected answer is worked out by hand in the test.

use chrono::{Datelike, NaiveDate, Weekday};
use data_engineering::{
    Adjust, CalendarDay, DayClass, Dividend, Exchange, IndexWeight, MarketRows,
    MarketStructureRepository, Membership, NameChange, PgMarketStructureRepository,
    PgStockDailyRepository, PgStockFinanceRepository, PgStockRepository, PriceLimit,
    StockDailyRepository, StockFinanceRepository, StockRepository, SuspendType, Suspension,
};
use test_support::TestDb;

use crate::{bar, code, date, report, stock};

/// `exchange`'s calendar from `start` to `end`: weekdays open except `holidays`.
fn calendar(exchange: Exchange, start: &str, end: &str, holidays: &[&str]) -> MarketRows {
    let holidays: Vec<NaiveDate> = holidays.iter().map(|d| date(d)).collect();
    let days = date(start)
        .iter_days()
        .take_while(|d| *d <= date(end))
        .map(|cal_date| CalendarDay {
            exchange,
            cal_date,
            is_open: !matches!(cal_date.weekday(), Weekday::Sat | Weekday::Sun)
                && !holidays.contains(&cal_date),
            pretrade_date: None,
            source: None,
        })
        .collect();
    MarketRows::Calendar(days)
}

fn suspension(third_code: &str, day: &str, kind: SuspendType, timing: Option<&str>) -> Suspension {
    Suspension {
        third_code: code(third_code),
        trade_date: date(day),
        suspend_type: kind,
        suspend_timing: timing.map(str::to_owned),
        reason: Some("重大事项".into()),
        source: None,
    }
}

#[tokio::test]
async fn the_calendar_answers_open_days_neighbours_and_the_n_days_before() {
    let test_db = TestDb::new().await;
    let repo = PgMarketStructureRepository::new(test_db.db().clone());
    // January 2024: 23 weekdays, New Year's Day closed: 22 open days.
    let saved = repo
        .save(calendar(
            Exchange::Sse,
            "2024-01-01",
            "2024-01-31",
            &["2024-01-01"],
        ))
        .await
        .unwrap();
    assert_eq!(saved.inserted, 31);
    let open = repo
        .trading_days(Exchange::Sse, date("2024-01-01"), date("2024-01-31"))
        .await
        .unwrap();
    assert_eq!(open.len(), 22);
    assert_eq!(open[0], date("2024-01-02"));
    assert!(
        repo.trading_days(Exchange::Szse, date("2024-01-01"), date("2024-01-31"))
            .await
            .unwrap()
            .is_empty(),
        "each exchange has its own calendar"
    );
    // Saturday the 6th: the Friday before, the Monday after.
    let sat = date("2024-01-06");
    let prev = repo.previous_trading_day(Exchange::Sse, sat).await.unwrap();
    let next = repo.next_trading_day(Exchange::Sse, sat).await.unwrap();
    assert_eq!(
        (prev, next),
        (Some(date("2024-01-05")), Some(date("2024-01-08")))
    );
    // An open day is not its own neighbour.
    let prev = repo
        .previous_trading_day(Exchange::Sse, date("2024-01-08"))
        .await
        .unwrap();
    assert_eq!(prev, Some(date("2024-01-05")));
    assert_eq!(
        repo.previous_trading_day(Exchange::Sse, date("2024-01-02"))
            .await
            .unwrap(),
        None,
        "nothing before the calendar"
    );
    let before = repo
        .trading_days_before(Exchange::Sse, date("2024-01-10"), 4)
        .await
        .unwrap();
    assert_eq!(
        before,
        ["2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"].map(date)
    );
    let all = repo
        .trading_days_before(Exchange::Sse, date("2024-01-05"), 10)
        .await
        .unwrap();
    assert_eq!(all, ["2024-01-02", "2024-01-03", "2024-01-04"].map(date));
    let err = repo
        .trading_days_before(Exchange::Sse, date("2024-01-05"), 0)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("count"), "{err}");
}

#[tokio::test]
async fn a_halt_across_a_month_end_is_told_from_a_missing_sync() {
    let test_db = TestDb::new().await;
    let db = test_db.db().clone();
    let repo = PgMarketStructureRepository::new(db.clone());
    repo.save(calendar(Exchange::Szse, "2024-01-22", "2024-02-09", &[]))
        .await
        .unwrap();
    let mut listed = stock("000001.SZ", "000001", "平安银行");
    listed.list_date = Some(date("1991-04-03"));
    let mut late = stock("000002.SZ", "000002", "万科A");
    late.list_date = Some(date("2024-02-05"));
    PgStockRepository::new(db.clone())
        .save_all(vec![listed, late])
        .await
        .unwrap();
    // 000001.SZ: bars on every open day but the 23rd (missed by the sync) and the halt:
    // suspended all day from Tue 30 Jan, resumed Mon 5 Feb. An intraday halt on the 26th
    // does not stop it trading that day.
    let halted = ["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"];
    let open = repo
        .trading_days(Exchange::Szse, date("2024-01-22"), date("2024-02-09"))
        .await
        .unwrap();
    assert_eq!(open.len(), 15);
    let bars: Vec<_> = open
        .iter()
        .filter(|d| **d != date("2024-01-23") && !halted.map(date).contains(d))
        .map(|d| bar("000001.SZ", &d.to_string(), 10.0))
        .chain(["2024-02-05", "2024-02-06"].map(|d| bar("000002.SZ", d, 5.0)))
        .collect();
    PgStockDailyRepository::new(db.clone())
        .save_all(bars)
        .await
        .unwrap();
    repo.save(MarketRows::Suspensions(vec![
        suspension(
            "000001.SZ",
            "2024-01-26",
            SuspendType::Suspend,
            Some("09:30-10:30"),
        ),
        suspension("000001.SZ", "2024-01-30", SuspendType::Suspend, None),
        suspension("000001.SZ", "2024-02-05", SuspendType::Resume, None),
    ]))
    .await
    .unwrap();
    let days = repo
        .classify_days(&code("000001.SZ"), date("2024-01-22"), date("2024-02-09"))
        .await
        .unwrap();
    let of = |class| -> Vec<NaiveDate> {
        days.iter()
            .filter(|d| d.class == class)
            .map(|d| d.day)
            .collect()
    };
    assert_eq!(of(DayClass::Halted), halted.map(date));
    assert_eq!(of(DayClass::NotSynced), [date("2024-01-23")]);
    assert_eq!(of(DayClass::Traded).len(), 10);
    let late_days = repo
        .classify_days(&code("000002.SZ"), date("2024-01-29"), date("2024-02-09"))
        .await
        .unwrap();
    let classes: Vec<DayClass> = late_days.iter().map(|d| d.class).collect();
    use DayClass::{NotListed, NotSynced, Traded};
    assert_eq!(
        classes,
        [
            NotListed, NotListed, NotListed, NotListed, NotListed, Traded, Traded, NotSynced,
            NotSynced, NotSynced
        ]
    );
    // The market-wide view agrees: the 23rd for one, the 7th to 9th for the other.
    let gaps = repo
        .sync_gaps(date("2024-01-22"), date("2024-02-09"))
        .await
        .unwrap();
    let gaps: Vec<_> = gaps
        .iter()
        .map(|g| (g.third_code.as_str(), g.days, g.first, g.last))
        .collect();
    assert_eq!(
        gaps,
        [
            ("000001.SZ", 1, date("2024-01-23"), date("2024-01-23")),
            ("000002.SZ", 3, date("2024-02-07"), date("2024-02-09")),
        ]
    );
    let on_halt = repo
        .status_on(&code("000001.SZ"), date("2024-02-01"))
        .await
        .unwrap();
    assert!(!on_halt.tradable() && on_halt.halt.is_some());
    assert_eq!(on_halt.halt.unwrap().trade_date, date("2024-01-30"));
    let intraday = repo
        .status_on(&code("000001.SZ"), date("2024-01-26"))
        .await
        .unwrap();
    assert!(intraday.tradable() && intraday.intraday_halt.is_some());
    let weekend = repo
        .status_on(&code("000001.SZ"), date("2024-01-27"))
        .await
        .unwrap();
    assert_eq!((weekend.open, weekend.tradable()), (Some(false), false));
    let err = repo
        .classify_days(&code("AAPL"), date("2024-01-22"), date("2024-02-09"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("exchange suffix"), "{err}");
}

#[tokio::test]
async fn a_special_treatment_announced_after_it_took_effect_counts_from_its_announcement() {
    let test_db = TestDb::new().await;
    let repo = PgMarketStructureRepository::new(test_db.db().clone());
    let name = |name: &str, start: &str, ann: Option<&str>| NameChange {
        third_code: code("600518.SH"),
        name: name.into(),
        start_date: date(start),
        end_date: None,
        ann_date: ann.map(date),
        change_reason: None,
        source: None,
    };
    let mut first = name("康美药业", "2001-03-19", Some("2001-03-16"));
    first.end_date = Some(date("2019-05-21"));
    repo.save(MarketRows::Names(vec![
        first,
        // In force from 22 May, announced on the 24th: a reader on the 22nd or 23rd could
        // not have known it.
        name("ST康美", "2019-05-22", Some("2019-05-24")),
        // Announced ahead of its start: not in force before it.
        name("*ST康美", "2020-04-28", Some("2020-04-25")),
    ]))
    .await
    .unwrap();
    repo.save(MarketRows::Limits(vec![PriceLimit {
        third_code: code("600518.SH"),
        trade_date: date("2019-05-24"),
        pre_close: Some(2.0),
        up_limit: 2.1,
        down_limit: 1.9,
        source: None,
    }]))
    .await
    .unwrap();
    let on = |day: &'static str| {
        let repo = repo.clone();
        async move { repo.status_on(&code("600518.SH"), date(day)).await.unwrap() }
    };
    let before = on("2019-05-23").await;
    assert_eq!(before.name.as_ref().unwrap().name, "康美药业");
    assert!(!before.flags.st, "not yet known to be ST");
    let known = on("2019-05-24").await;
    assert_eq!(known.name.as_ref().unwrap().name, "ST康美");
    assert!(known.flags.st && !known.flags.star_st);
    // 5 % limits of an ST stock, as stored for the day.
    let limit = known.limit.unwrap();
    assert_eq!((limit.up_limit, limit.down_limit), (2.1, 1.9));
    assert!(on("2019-05-25").await.limit.is_none());
    assert!(
        !on("2020-04-27").await.flags.star_st,
        "announced, not started"
    );
    assert!(on("2020-04-28").await.flags.star_st);
    assert!(
        on("2001-03-18").await.name.is_none(),
        "no name before the first"
    );
    let history = repo.names(&code("600518.SH")).await.unwrap();
    assert_eq!(history.len(), 3);
}

#[tokio::test]
async fn an_index_universe_keeps_the_members_of_its_day() {
    let test_db = TestDb::new().await;
    let repo = PgMarketStructureRepository::new(test_db.db().clone());
    let index = code("000300.SH");
    // Monthly snapshots: A throughout; B until February (left in March); C from March;
    // D in January, out, back in April.
    let snapshots = [
        ("2015-01-30", vec!["A", "B", "D"]),
        ("2015-02-27", vec!["A", "B"]),
        ("2015-03-31", vec!["A", "C"]),
        ("2015-04-30", vec!["A", "C", "D"]),
    ];
    let member = |name: &str| match name {
        "A" => "600000.SH",
        "B" => "600001.SH",
        "C" => "000001.SZ",
        _ => "000002.SZ",
    };
    let weights = snapshots
        .iter()
        .flat_map(|(day, members)| {
            members.iter().map(|m| IndexWeight {
                index_code: index.clone(),
                trade_date: date(day),
                con_code: code(member(m)),
                weight: Some(1.5),
                source: None,
            })
        })
        .collect();
    repo.save(MarketRows::IndexWeights(weights)).await.unwrap();
    let members = |day: &'static str| {
        let (repo, index) = (repo.clone(), index.clone());
        async move {
            let universe = repo.universe_as_of(&index, date(day)).await.unwrap();
            let codes: Vec<String> = universe
                .members
                .iter()
                .map(|(c, _)| c.to_string())
                .collect();
            (universe.snapshot, codes)
        }
    };
    // Mid-February: January's snapshot; B (which left later) is in, C (joined later) not.
    assert_eq!(
        members("2015-02-15").await,
        (
            Some(date("2015-01-30")),
            vec!["000002.SZ".into(), "600000.SH".into(), "600001.SH".into()]
        )
    );
    assert_eq!(
        members("2015-03-31").await,
        (
            Some(date("2015-03-31")),
            vec!["000001.SZ".into(), "600000.SH".into()]
        )
    );
    assert_eq!(members("2014-12-31").await, (None, vec![]));
    let stretches = repo.memberships(&index).await.unwrap();
    let stretch = |c: &str, i: &str, o: Option<&str>| Membership {
        con_code: code(c),
        in_date: date(i),
        out_date: o.map(date),
    };
    // Finance of the universe as of mid-February: B (left later) is in, C (joined later)
    // is not, and B's report announced after the day is not known yet.
    let finance = PgStockFinanceRepository::new(test_db.db().clone());
    finance
        .save_all(vec![
            report("600000.SH", "2015-01-20", "2014-09-30", 1.0),
            report("600001.SH", "2014-10-28", "2014-09-30", 2.0),
            report("600001.SH", "2015-03-20", "2014-12-31", 3.0),
            report("000001.SZ", "2015-01-20", "2014-09-30", 4.0),
        ])
        .await
        .unwrap();
    let known = finance
        .get_universe_as_of(&index, date("2015-02-15"))
        .await
        .unwrap();
    let known: Vec<(String, Option<f64>)> = known
        .iter()
        .map(|r| (r.third_code.to_string(), r.roe))
        .collect();
    assert_eq!(
        known,
        [
            ("600000.SH".to_owned(), Some(1.0)),
            ("600001.SH".to_owned(), Some(2.0))
        ]
    );
    assert_eq!(
        stretches,
        [
            stretch("000001.SZ", "2015-03-31", None),
            stretch("000002.SZ", "2015-01-30", Some("2015-02-27")),
            stretch("000002.SZ", "2015-04-30", None),
            stretch("600000.SH", "2015-01-30", None),
            stretch("600001.SH", "2015-01-30", Some("2015-03-31")),
        ]
    );
}

#[tokio::test]
async fn a_dividend_with_bonus_shares_derives_the_stored_factor_step() {
    let test_db = TestDb::new().await;
    let db = test_db.db().clone();
    let repo = PgMarketStructureRepository::new(db.clone());
    // 10 送 2 转 3 派 5 元 (before tax): per share 0.2 + 0.3 shares and 0.5 cash. Close
    // 20.00 on the 20th; reference (20 − 0.5) / 1.5 = 13.00; the factor steps by 20 / 13.
    let with_factor = |c: &str, d: &str, close: f64, factor: f64| {
        let mut b = bar(c, d, close);
        b.adj_factor = Some(factor);
        b
    };
    PgStockDailyRepository::new(db.clone())
        .save_all(vec![
            with_factor("600000.SH", "2024-06-20", 20.0, 1.0),
            with_factor("600000.SH", "2024-06-21", 13.2, 20.0 / 13.0),
            // The same event, but the stored factor did not step.
            with_factor("600001.SH", "2024-06-20", 20.0, 1.0),
            with_factor("600001.SH", "2024-06-21", 13.2, 1.0),
        ])
        .await
        .unwrap();
    let plan = |c: &str, proc: &str| {
        let mut d = Dividend::new(code(c), date("2023-12-31"), date("2024-04-20"), proc);
        d.stk_div = Some(0.5);
        d.stk_bo_rate = Some(0.2);
        d.stk_co_rate = Some(0.3);
        d.cash_div = Some(0.45);
        d.cash_div_tax = Some(0.5);
        d.ex_date = Some(date("2024-06-21"));
        d
    };
    repo.save(MarketRows::Dividends(vec![
        plan("600000.SH", "预案"),
        plan("600000.SH", "实施"),
        plan("600001.SH", "实施"),
    ]))
    .await
    .unwrap();
    let checks = repo
        .check_factors(None, date("2024-01-01"), date("2024-12-31"))
        .await
        .unwrap();
    assert_eq!(checks.len(), 2, "the plan's proposal stage moves no price");
    let good = &checks[0];
    assert_eq!(good.third_code, code("600000.SH"));
    assert_eq!(
        (good.prev_date, good.prev_close, good.cash, good.shares),
        (Some(date("2024-06-20")), Some(20.0), 0.5, 0.5)
    );
    assert!((good.derived_step.unwrap() - 20.0 / 13.0).abs() < 1e-12);
    assert!(good.agrees(1e-9));
    let bad = &checks[1];
    assert_eq!(bad.stored_step, Some(1.0));
    assert!(!bad.agrees(0.001));
    let one = repo
        .check_factors(
            Some(&code("600001.SH")),
            date("2024-01-01"),
            date("2024-12-31"),
        )
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(repo.dividends(&code("600000.SH")).await.unwrap().len(), 2);
    // The stored factors of 600001.SH are wrong; the ones derived from its dividend are
    // not. Forward to the ex-date: 20 × 13 / 20 = 13.00 the day before, 13.20 on it.
    // Backward: 20.00, then 13.20 × 20 / 13 = 20.3077.
    let closes = |adjust| {
        let repo = repo.clone();
        async move {
            repo.get_adjusted_by_dividends(
                &code("600001.SH"),
                date("2024-06-01"),
                date("2024-06-30"),
                adjust,
            )
            .await
            .unwrap()
            .iter()
            .map(|b| (b.close.unwrap() * 10_000.0).round() / 10_000.0)
            .collect::<Vec<f64>>()
        }
    };
    assert_eq!(closes(Adjust::Forward { anchor: None }).await, [13.0, 13.2]);
    assert_eq!(closes(Adjust::Backward).await, [20.0, 20.3077]);
    // Anchored the day before the ex-date, a later event is never used.
    let before = Adjust::Forward {
        anchor: Some(date("2024-06-20")),
    };
    assert_eq!(closes(before).await, [20.0, 20.3077]);
    assert_eq!(closes(Adjust::None).await, [20.0, 13.2]);
}

#[tokio::test]
async fn bad_rows_change_nothing_and_name_their_field() {
    let test_db = TestDb::new().await;
    let repo = PgMarketStructureRepository::new(test_db.db().clone());
    let limit = |up: f64, down: f64| PriceLimit {
        third_code: code("600000.SH"),
        trade_date: date("2024-01-02"),
        pre_close: None,
        up_limit: up,
        down_limit: down,
        source: None,
    };
    let err = repo
        .save(MarketRows::Limits(vec![limit(11.0, 9.0), limit(9.0, 11.0)]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("down_limit"), "{err}");
    assert_eq!(test_db.count("stock_limits").await, 0);
}

/// One generated stock: its listing day (an index into the window, or listed before it),
/// the days its bars are missing, and its suspension records (day, resume?, intraday?).
type Scenario = (Option<usize>, Vec<bool>, Vec<(usize, bool, bool)>);

#[tokio::test]
async fn the_classification_and_the_market_wide_gaps_agree_on_generated_histories() {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;

    let test_db = TestDb::new().await;
    let db = test_db.db().clone();
    let repo = PgMarketStructureRepository::new(db.clone());
    repo.save(calendar(
        Exchange::Sse,
        "2024-03-01",
        "2024-04-30",
        &["2024-04-04"],
    ))
    .await
    .unwrap();
    let open = repo
        .trading_days(Exchange::Sse, date("2024-03-01"), date("2024-04-30"))
        .await
        .unwrap();
    let n = open.len();
    let scenario = (
        proptest::option::of(0..n),
        proptest::collection::vec(proptest::bool::weighted(0.2), n),
        proptest::collection::vec(
            (0..n, proptest::bool::ANY, proptest::bool::weighted(0.2)),
            0..6,
        ),
    );
    let stocks = proptest::collection::vec(scenario, 40);
    let mut runner = TestRunner::deterministic();
    let generated: Vec<Scenario> = stocks.new_tree(&mut runner).unwrap().current();
    let (mut infos, mut bars, mut records) = (Vec::new(), Vec::new(), Vec::new());
    for (idx, (listed, missing, halts)) in generated.iter().enumerate() {
        let third_code = format!("{:06}.SH", 600_000 + idx);
        let mut info = stock(&third_code, &third_code[..6], "generated");
        info.list_date = Some(listed.map_or(date("2000-01-04"), |i| open[i]));
        infos.push(info);
        for (day, _) in open.iter().zip(missing).filter(|(_, missing)| !**missing) {
            // Bars only from the listing on, as an exchange gives them.
            if day >= &infos[idx].list_date.unwrap() {
                bars.push(bar(&third_code, &day.to_string(), 10.0));
            }
        }
        for (day, resume, intraday) in halts {
            let kind = if *resume {
                SuspendType::Resume
            } else {
                SuspendType::Suspend
            };
            let timing = (*intraday && !*resume).then_some("13:00-14:00");
            records.push(suspension(
                &third_code,
                &open[*day].to_string(),
                kind,
                timing,
            ));
        }
    }
    PgStockRepository::new(db.clone())
        .save_all(infos)
        .await
        .unwrap();
    PgStockDailyRepository::new(db.clone())
        .save_all(bars)
        .await
        .unwrap();
    // Two records of one key (same day, same kind): the last wins, as in any save.
    repo.save(MarketRows::Suspensions(records)).await.unwrap();
    let (first, last) = (open[0], open[n - 1]);
    let gaps = repo.sync_gaps(first, last).await.unwrap();
    let mut from_classification = Vec::new();
    for idx in 0..generated.len() {
        let code = code(&format!("{:06}.SH", 600_000 + idx));
        let days = repo.classify_days(&code, first, last).await.unwrap();
        assert_eq!(days.len(), n);
        let not_synced: Vec<NaiveDate> = days
            .iter()
            .filter(|d| d.class == DayClass::NotSynced)
            .map(|d| d.day)
            .collect();
        if let (Some(first), Some(last)) = (not_synced.first(), not_synced.last()) {
            from_classification.push((code, not_synced.len() as u32, *first, *last));
        }
    }
    let from_sql: Vec<_> = gaps
        .into_iter()
        .map(|g| (g.third_code, g.days, g.first, g.last))
        .collect();
    assert_eq!(
        from_sql, from_classification,
        "the SQL and the Rust halt rules agree"
    );
    assert!(!from_sql.is_empty(), "the generated histories have gaps");
}
