//! Bad input, table-driven: more than a hundred malformed inputs across the public API
//! and the CSV importer. Each is a typed error (or, for a CSV line, a failure record)
//! naming the field and the value, and nothing of a failed call is written.

use std::sync::atomic::AtomicBool;

use audit::{CallStatus, ExternalApiCallLog, LlmCallLog};
use chrono::{NaiveDate, NaiveDateTime};
use coordinator::{NodeExecution, NodeStatus, ResearchSession, SessionStatus};
use data_engineering::{
    StockDaily, StockFinance, StockInfo, SyncFailureRecord, SyncJobType, SyncTask, ThirdCode,
};
use llm_platform::{ApiKey, NewLlmConfig, SecretCipher};
use serde_json::json;
use shared_db::{DbConfig, InvalidInput, Page, RepoError, utc_now};
use stockdb_cli::import::{ImportKind, ImportOptions, NoProgress, import_csv};
use test_support::TestDb;

/// One case: what was tried, the field the error must name, a fragment of the value it
/// must show, and what happened.
struct Outcome {
    what: String,
    field: &'static str,
    value: String,
    result: Result<(), RepoError>,
}

#[derive(Default)]
struct Cases(Vec<Outcome>);

impl Cases {
    fn check(
        &mut self,
        what: impl Into<String>,
        field: &'static str,
        value: impl Into<String>,
        result: Result<(), RepoError>,
    ) {
        self.0.push(Outcome {
            what: what.into(),
            field,
            value: value.into(),
            result,
        });
    }

    fn check_input<T>(
        &mut self,
        what: impl Into<String>,
        field: &'static str,
        value: impl Into<String>,
        result: Result<T, InvalidInput>,
    ) {
        self.check(
            what,
            field,
            value,
            result.map(drop).map_err(RepoError::from),
        );
    }
}

fn code() -> ThirdCode {
    ThirdCode::parse("000001.SZ").unwrap()
}

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn stock_with(edit: impl FnOnce(&mut StockInfo)) -> StockInfo {
    let mut stock = StockInfo::new(code(), "000001", "平安银行");
    edit(&mut stock);
    stock
}

fn bar_with(edit: impl FnOnce(&mut StockDaily)) -> StockDaily {
    let mut bar = StockDaily::new(code(), day("2024-01-02"));
    bar.close = Some(10.0);
    edit(&mut bar);
    bar
}

fn report_with(edit: impl FnOnce(&mut StockFinance)) -> StockFinance {
    let mut report = StockFinance::new(code(), day("2024-04-20"), day("2024-03-31"));
    edit(&mut report);
    report
}

fn at(text: &str) -> NaiveDateTime {
    text.parse().unwrap()
}

fn llm_call(edit: impl FnOnce(&mut LlmCallLog)) -> LlmCallLog {
    let mut call = LlmCallLog::new(
        "research",
        "deepseek",
        "deepseek-chat",
        "?",
        at("2024-06-03T10:00:00"),
    );
    call.prompt_tokens = Some(1);
    call.completion_tokens = Some(1);
    call.total_tokens = Some(2);
    call.temperature = 0.5;
    call.latency_ms = 10;
    edit(&mut call);
    call
}

fn api_call(edit: impl FnOnce(&mut ExternalApiCallLog)) -> ExternalApiCallLog {
    let mut call = ExternalApiCallLog::new("tushare", "daily", at("2024-06-03T10:00:00"));
    call.status_code = Some(200);
    call.latency_ms = 10;
    edit(&mut call);
    call
}

#[tokio::test]
async fn every_malformed_input_is_a_typed_error_naming_field_and_value_and_writes_nothing() {
    crate::logs();
    let test_db = TestDb::new().await;
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), None);
    let mut cases = Cases::default();

    // Codes.
    for (raw, fragment) in [
        ("", ""),
        ("000001.SZ.TOO.LONG.CODE", "000001.SZ.TOO.LONG.CODE"),
        ("000001 .SZ", "000001 .SZ"),
        ("000001.SZ\n", "000001.SZ"),
        ("x'); DROP TABLE stock_info;--", "DROP TABLE"),
        ("平安银行", "平安银行"),
        ("000001;SZ", "000001;SZ"),
        ("000001.SZ\0", "000001.SZ"),
        ("%", "%"),
        ("../../etc/passwd", "../../etc/passwd"),
        (" 000001.SZ", "000001.SZ"),
        ("０００００１.SZ", "０００００１"),
    ] {
        cases.check_input(
            format!("ThirdCode {raw:?}"),
            "third_code",
            fragment,
            ThirdCode::parse(raw),
        );
    }

    // The stock list.
    let over = |n: usize| "长".repeat(n);
    for (field, stock) in [
        ("symbol", stock_with(|s| s.symbol = String::new())),
        ("symbol", stock_with(|s| s.symbol = "00000100001".into())),
        ("name", stock_with(|s| s.name = "   ".into())),
        ("name", stock_with(|s| s.name = over(101))),
        ("area", stock_with(|s| s.area = Some(over(51)))),
        ("industry", stock_with(|s| s.industry = Some(over(51)))),
        ("market", stock_with(|s| s.market = Some(over(21)))),
        ("fullname", stock_with(|s| s.fullname = Some(over(201)))),
        ("enname", stock_with(|s| s.enname = Some("E".repeat(201)))),
        ("cnspell", stock_with(|s| s.cnspell = Some("P".repeat(51)))),
        (
            "exchange",
            stock_with(|s| s.exchange = Some("X".repeat(21))),
        ),
        (
            "curr_type",
            stock_with(|s| s.curr_type = Some("C".repeat(21))),
        ),
        (
            "list_status",
            stock_with(|s| s.list_status = Some("LISTED_FOR_GOOD".into())),
        ),
        (
            "is_hs",
            stock_with(|s| s.is_hs = Some("HONGKONG_SHANGHAI".into())),
        ),
        (
            "source",
            stock_with(|s| s.source = Some("a-source-name-over-20".into())),
        ),
        (
            "list_date",
            stock_with(|s| s.list_date = Some(day("1850-01-01"))),
        ),
        (
            "delist_date",
            stock_with(|s| s.delist_date = Some(day("2999-01-01"))),
        ),
        (
            "last_finance_sync_date",
            stock_with(|s| s.last_finance_sync_date = Some(day("0001-01-01"))),
        ),
    ] {
        let shown = match field {
            "list_date" => "1850-01-01".to_owned(),
            "delist_date" => "2999-01-01".to_owned(),
            "last_finance_sync_date" => "0001-01-01".to_owned(),
            _ => String::new(),
        };
        let good = stock_with(|s| s.third_code = ThirdCode::parse("600000.SH").unwrap());
        cases.check(
            format!("stocks.save_all bad {field}"),
            field,
            shown.clone(),
            db.stocks().save_all(vec![good, stock]).await.map(drop),
        );
    }
    cases.check(
        "stocks.save bad name",
        "name",
        "",
        db.stocks()
            .save(stock_with(|s| s.name = String::new()))
            .await
            .map(drop),
    );
    cases.check_input("page limit 0", "limit", "0", Page::first(0));
    cases.check(
        "missing finance limit 100001",
        "limit",
        "100001",
        db.stocks()
            .get_missing_finance_stocks(day("2024-03-31"), day("2024-04-30"), 100_001)
            .await
            .map(drop),
    );
    cases.check(
        "update sync date year 3000",
        "date",
        "3000-01-01",
        db.stocks()
            .update_last_finance_sync_date(&[code()], day("3000-01-01"))
            .await
            .map(drop),
    );

    // Daily bars: every kind of non-finite value, dates, source.
    for (field, value, edit) in [
        (
            "open",
            "NaN",
            Box::new(|b: &mut StockDaily| b.open = Some(f64::NAN))
                as Box<dyn FnOnce(&mut StockDaily)>,
        ),
        (
            "high",
            "inf",
            Box::new(|b: &mut StockDaily| b.high = Some(f64::INFINITY)),
        ),
        (
            "low",
            "-inf",
            Box::new(|b: &mut StockDaily| b.low = Some(f64::NEG_INFINITY)),
        ),
        (
            "close",
            "NaN",
            Box::new(|b: &mut StockDaily| b.close = Some(f64::NAN)),
        ),
        (
            "pct_chg",
            "inf",
            Box::new(|b: &mut StockDaily| b.pct_chg = Some(f64::INFINITY)),
        ),
        (
            "vol",
            "NaN",
            Box::new(|b: &mut StockDaily| b.vol = Some(f64::NAN)),
        ),
        (
            "amount",
            "inf",
            Box::new(|b: &mut StockDaily| b.amount = Some(f64::MAX * 2.0)),
        ),
        (
            "pe_ttm",
            "NaN",
            Box::new(|b: &mut StockDaily| b.pe_ttm = Some(f64::NAN)),
        ),
        (
            "circ_mv",
            "-inf",
            Box::new(|b: &mut StockDaily| b.circ_mv = Some(f64::MIN * 2.0)),
        ),
        (
            "trade_date",
            "1899-12-31",
            Box::new(|b: &mut StockDaily| b.trade_date = day("1899-12-31")),
        ),
        (
            "trade_date",
            "2201-01-01",
            Box::new(|b: &mut StockDaily| b.trade_date = day("2201-01-01")),
        ),
        (
            "source",
            "tushare-pro-api-daily-v2",
            Box::new(|b: &mut StockDaily| b.source = Some("tushare-pro-api-daily-v2".into())),
        ),
    ] {
        let rows = vec![
            bar_with(|_| {}),
            bar_with(|b| {
                b.trade_date = day("2024-01-03");
                edit(b);
            }),
        ];
        cases.check(
            format!("dailies.save_all bad {field}"),
            field,
            value,
            db.dailies().save_all(rows.clone()).await.map(drop),
        );
        cases.check(
            format!("dailies.merge_all bad {field}"),
            field,
            value,
            db.dailies().merge_all(rows).await.map(drop),
        );
    }
    cases.check(
        "daily range reversed",
        "start",
        "2024-02-01",
        db.dailies()
            .get_by_third_code_and_date_range(&code(), day("2024-02-01"), day("2024-01-01"))
            .await
            .map(drop),
    );
    cases.check(
        "valuation range reversed",
        "start",
        "2024-02-01",
        db.dailies()
            .get_valuation_dailies(&code(), day("2024-02-01"), day("2024-01-01"))
            .await
            .map(drop),
    );

    // Financial reports.
    for (field, value, edit) in [
        (
            "eps",
            "NaN",
            Box::new(|r: &mut StockFinance| r.eps = Some(f64::NAN))
                as Box<dyn FnOnce(&mut StockFinance)>,
        ),
        (
            "roe",
            "inf",
            Box::new(|r: &mut StockFinance| r.roe = Some(f64::INFINITY)),
        ),
        (
            "debt_to_eqt",
            "-inf",
            Box::new(|r: &mut StockFinance| r.debt_to_eqt = Some(f64::NEG_INFINITY)),
        ),
        (
            "fcff",
            "NaN",
            Box::new(|r: &mut StockFinance| r.fcff = Some(f64::NAN)),
        ),
        (
            "ann_date",
            "1700-01-01",
            Box::new(|r: &mut StockFinance| r.ann_date = day("1700-01-01")),
        ),
        (
            "end_date",
            "2500-12-31",
            Box::new(|r: &mut StockFinance| r.end_date = day("2500-12-31")),
        ),
        (
            "source",
            "a-very-long-source-name",
            Box::new(|r: &mut StockFinance| r.source = Some("a-very-long-source-name".into())),
        ),
    ] {
        let rows = vec![
            report_with(|_| {}),
            report_with(|r| {
                r.ann_date = day("2024-04-21");
                edit(r);
            }),
        ];
        cases.check(
            format!("finance.save_all bad {field}"),
            field,
            value,
            db.finance().save_all(rows).await.map(drop),
        );
    }
    cases.check(
        "finance recent 0",
        "limit",
        "0",
        db.finance()
            .get_by_third_code_recent(&code(), 0)
            .await
            .map(drop),
    );

    // Sync tasks and failures.
    let now = utc_now();
    cases.check_input(
        "task batch_size 0",
        "batch_size",
        "0",
        SyncTask::new(SyncJobType::DailyHistory, 0, None, now),
    );
    cases.check_input(
        "task batch_size -5",
        "batch_size",
        "-5",
        SyncTask::new(SyncJobType::DailyHistory, -5, None, now),
    );
    for (what, config) in [
        ("array", json!([1, 2])),
        ("string", json!("start=2024")),
        ("number", json!(7)),
        ("null", json!(null)),
        ("bool", json!(true)),
    ] {
        cases.check_input(
            format!("task config {what}"),
            "config",
            "",
            SyncTask::new(SyncJobType::DailyHistory, 10, Some(config), now),
        );
    }
    let mut negative = SyncTask::new(SyncJobType::DailyHistory, 10, None, now).unwrap();
    negative.current_offset = -1;
    cases.check(
        "task create offset -1",
        "current_offset",
        "-1",
        db.sync().create(&negative).await,
    );
    negative.current_offset = 0;
    negative.total_processed = -3;
    cases.check(
        "task update processed -3",
        "total_processed",
        "-3",
        db.sync().update(&negative).await.map(drop),
    );
    cases.check_input(
        "job type",
        "job_type",
        "daily",
        "daily".parse::<SyncJobType>(),
    );
    cases.check_input(
        "job type SQL",
        "job_type",
        "DAILY'--",
        "DAILY'--".parse::<SyncJobType>(),
    );
    for (what, locator) in [("empty", String::new()), ("21 chars", "x".repeat(21))] {
        let failure =
            SyncFailureRecord::new(SyncJobType::DailyHistory, locator.clone(), "boom", now);
        cases.check(
            format!("failure locator {what}"),
            "third_code",
            locator.clone(),
            db.sync().create_failure(&failure).await,
        );
        cases.check(
            format!("failure batch locator {what}"),
            "third_code",
            locator,
            db.sync()
                .create_failures(&[
                    SyncFailureRecord::new(SyncJobType::DailyHistory, "ok", "x", now),
                    failure,
                ])
                .await,
        );
    }
    let failure = SyncFailureRecord::new(SyncJobType::DailyHistory, "000001.SZ", "x", now)
        .with_max_retries(-1);
    cases.check(
        "failure max_retries -1",
        "max_retries",
        "-1",
        db.sync().create_failure(&failure).await,
    );
    let mut failure = SyncFailureRecord::new(SyncJobType::DailyHistory, "000001.SZ", "x", now);
    failure.retry_count = -2;
    cases.check(
        "failure retry_count -2",
        "retry_count",
        "-2",
        db.sync().update_failure(&failure).await,
    );
    cases.check(
        "list tasks limit 0",
        "limit",
        "0",
        db.sync().list_tasks(None, 0).await.map(drop),
    );
    cases.check(
        "list failures limit 20000",
        "limit",
        "20000",
        db.sync().list_failures(None, true, 20_000).await.map(drop),
    );

    // LLM configurations; the key is a secret and never shown.
    let config_with = |edit: &dyn Fn(&mut NewLlmConfig)| {
        let mut config = NewLlmConfig::new(
            "deepseek",
            "deepseek",
            "openai",
            "deepseek-chat",
            ApiKey::new("sk-bad-input-0001"),
        );
        edit(&mut config);
        config
    };
    for (field, value, config) in [
        ("alias", "", config_with(&|c| c.alias = String::new())),
        ("vendor", "", config_with(&|c| c.vendor = "  ".into())),
        (
            "provider_type",
            "",
            config_with(&|c| c.provider_type = String::new()),
        ),
        (
            "model_name",
            "",
            config_with(&|c| c.model_name = String::new()),
        ),
        (
            "api_key",
            "***",
            config_with(&|c| c.api_key = ApiKey::new("")),
        ),
        (
            "api_key",
            "***",
            config_with(&|c| c.api_key = ApiKey::new("   ")),
        ),
        (
            "base_url",
            "ftp://api.example.com",
            config_with(&|c| c.base_url = Some("ftp://api.example.com".into())),
        ),
        (
            "base_url",
            "javascript:alert(1)",
            config_with(&|c| c.base_url = Some("javascript:alert(1)".into())),
        ),
        (
            "base_url",
            "api.example.com",
            config_with(&|c| c.base_url = Some("api.example.com?key=sk-bad-input-0001".into())),
        ),
        (
            "tags",
            "",
            config_with(&|c| c.tags = vec!["ok".into(), " ".into()]),
        ),
    ] {
        cases.check(
            format!("llm config bad {field}"),
            field,
            value,
            db.llm_configs().upsert(config).await.map(drop),
        );
    }
    cases.check_input(
        "cipher key not base64",
        "STOCKDB_SECRET_KEY",
        "***",
        SecretCipher::from_base64("not base64!"),
    );
    cases.check_input(
        "cipher key 16 bytes",
        "STOCKDB_SECRET_KEY",
        "***",
        SecretCipher::from_base64("AAAAAAAAAAAAAAAAAAAAAA=="),
    );

    // Research sessions and nodes.
    let session_with = |edit: &dyn Fn(&mut ResearchSession)| {
        let mut session = ResearchSession::start("600519.SH", at("2024-06-03T10:00:00"));
        edit(&mut session);
        session
    };
    for (field, value, session) in [
        ("symbol", "", session_with(&|s| s.symbol = String::new())),
        (
            "symbol",
            "600519.SH.TOO.LONG.SYM",
            session_with(&|s| s.symbol = "600519.SH.TOO.LONG.SYM".into()),
        ),
        (
            "trigger_source",
            "",
            session_with(&|s| s.trigger_source = Some("t".repeat(51))),
        ),
        (
            "options",
            "[",
            session_with(&|s| s.options = Some(json!(["depth", 2]))),
        ),
        (
            "options",
            "depth=2",
            session_with(&|s| s.options = Some(json!("depth=2"))),
        ),
        (
            "options",
            "42",
            session_with(&|s| s.options = Some(json!(42))),
        ),
        (
            "options",
            "true",
            session_with(&|s| s.options = Some(json!(true))),
        ),
        (
            "duration_ms",
            "-1",
            session_with(&|s| s.duration_ms = Some(-1)),
        ),
        (
            "completed_at",
            "2024-06-03 09:00:00",
            session_with(&|s| s.completed_at = Some(at("2024-06-03T09:00:00"))),
        ),
    ] {
        cases.check(
            format!("session bad {field}"),
            field,
            value,
            db.sessions().save_session(&session).await,
        );
    }
    let running = session_with(&|_| {});
    db.sessions().save_session(&running).await.unwrap();
    cases.check(
        "finish as running",
        "status",
        "running",
        db.sessions()
            .update_session(running.id, SessionStatus::Running, None, None)
            .await
            .map(drop),
    );
    cases.check(
        "finish with -5 ms",
        "duration_ms",
        "-5",
        db.sessions()
            .update_session(running.id, SessionStatus::Completed, None, Some(-5))
            .await
            .map(drop),
    );
    cases.check_input(
        "session status",
        "status",
        "done",
        "done".parse::<SessionStatus>(),
    );
    let node_with = |edit: &dyn Fn(&mut NodeExecution)| {
        let mut node = NodeExecution::new(
            running.id,
            "valuation",
            NodeStatus::Success,
            at("2024-06-03T10:00:01"),
        );
        edit(&mut node);
        node
    };
    for (field, value, node) in [
        ("node_type", "", node_with(&|n| n.node_type = String::new())),
        (
            "node_type",
            "",
            node_with(&|n| n.node_type = "n".repeat(51)),
        ),
        (
            "error_type",
            "",
            node_with(&|n| n.error_type = Some("E".repeat(101))),
        ),
        (
            "result_data",
            "[1,2]",
            node_with(&|n| n.result_data = Some(json!([1, 2]))),
        ),
        (
            "result_data",
            "\"ok\"",
            node_with(&|n| n.result_data = Some(json!("ok"))),
        ),
        (
            "duration_ms",
            "-100",
            node_with(&|n| n.duration_ms = Some(-100)),
        ),
        (
            "completed_at",
            "2024-06-03 09:59:00",
            node_with(&|n| n.completed_at = Some(at("2024-06-03T09:59:00"))),
        ),
    ] {
        cases.check(
            format!("node bad {field}"),
            field,
            value,
            db.sessions().save_node_execution(&node).await,
        );
    }
    cases.check(
        "sessions page limit 0",
        "limit",
        "0",
        Page::new(0, 0).map(drop).map_err(RepoError::from),
    );

    // Audit logs.
    for (field, value, call) in [
        (
            "caller_module",
            "",
            llm_call(|c| c.caller_module = String::new()),
        ),
        (
            "caller_module",
            "",
            llm_call(|c| c.caller_module = "m".repeat(51)),
        ),
        (
            "caller_agent",
            "",
            llm_call(|c| c.caller_agent = Some("a".repeat(51))),
        ),
        (
            "model_name",
            "",
            llm_call(|c| c.model_name = "m".repeat(101)),
        ),
        ("vendor", "", llm_call(|c| c.vendor = String::new())),
        ("temperature", "NaN", llm_call(|c| c.temperature = f64::NAN)),
        (
            "temperature",
            "inf",
            llm_call(|c| c.temperature = f64::INFINITY),
        ),
        ("latency_ms", "-1", llm_call(|c| c.latency_ms = -1)),
        (
            "prompt_tokens",
            "-10",
            llm_call(|c| c.prompt_tokens = Some(-10)),
        ),
        (
            "completion_tokens",
            "-1",
            llm_call(|c| c.completion_tokens = Some(-1)),
        ),
        (
            "total_tokens",
            "-2",
            llm_call(|c| c.total_tokens = Some(-2)),
        ),
    ] {
        cases.check(
            format!("llm call bad {field}"),
            field,
            value,
            db.llm_calls().save(&call).await,
        );
    }
    for (field, value, call) in [
        (
            "service_name",
            "",
            api_call(|c| c.service_name = String::new()),
        ),
        (
            "service_name",
            "",
            api_call(|c| c.service_name = "s".repeat(51)),
        ),
        ("operation", "", api_call(|c| c.operation = "o".repeat(101))),
        ("latency_ms", "-7", api_call(|c| c.latency_ms = -7)),
        ("status_code", "99", api_call(|c| c.status_code = Some(99))),
        (
            "status_code",
            "600",
            api_call(|c| c.status_code = Some(600)),
        ),
        (
            "request_params",
            "***",
            api_call(|c| {
                c.request_params = Some(json!(["token", {"api_key": "sk-bad-input-0002"}]))
            }),
        ),
        (
            "request_params",
            "q=1",
            api_call(|c| c.request_params = Some(json!("q=1&token=sk-bad-input-0003"))),
        ),
    ] {
        cases.check(
            format!("api call bad {field}"),
            field,
            value,
            db.api_calls().save(&call).await,
        );
    }
    cases.check_input(
        "window reversed",
        "from",
        "2024-06-03",
        audit::TimeWindow::new(at("2024-06-03T10:00:00"), at("2024-06-02T10:00:00")),
    );
    cases.check_input("call status", "status", "ok", "ok".parse::<CallStatus>());

    // Configuration.
    for (what, lookup, field) in [
        ("no DATABASE_URL", vec![], "DATABASE_URL"),
        (
            "mysql URL",
            vec![("DATABASE_URL", "mysql://root@localhost/x")],
            "url",
        ),
        (
            "max connections ten",
            vec![
                ("DATABASE_URL", "postgres://x@y/z"),
                ("STOCKDB_DB_MAX_CONNECTIONS", "ten"),
            ],
            "STOCKDB_DB_MAX_CONNECTIONS",
        ),
        (
            "max connections 0",
            vec![
                ("DATABASE_URL", "postgres://x@y/z"),
                ("STOCKDB_DB_MAX_CONNECTIONS", "0"),
            ],
            "STOCKDB_DB_MAX_CONNECTIONS",
        ),
        (
            "timeout -1",
            vec![
                ("DATABASE_URL", "postgres://x@y/z"),
                ("STOCKDB_DB_ACQUIRE_TIMEOUT_MS", "-1"),
            ],
            "STOCKDB_DB_ACQUIRE_TIMEOUT_MS",
        ),
        (
            "min over max",
            vec![
                ("DATABASE_URL", "postgres://x@y/z"),
                ("STOCKDB_DB_MIN_CONNECTIONS", "50"),
            ],
            "min_connections",
        ),
    ] {
        let result = DbConfig::from_lookup(|key| {
            lookup
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        });
        cases.check_input(format!("config {what}"), field, "", result);
    }

    // Judge every case.
    let mut wrong = Vec::new();
    for case in &cases.0 {
        match &case.result {
            Err(RepoError::Invalid(invalid))
                if invalid.field == case.field && invalid.value.contains(&case.value) => {}
            other => wrong.push(format!(
                "{}: expected invalid {} showing {:?}, got {other:?}",
                case.what, case.field, case.value
            )),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases wrong:\n{}",
        wrong.len(),
        cases.0.len(),
        wrong.join("\n")
    );
    assert!(cases.0.len() >= 100, "only {} cases", cases.0.len());

    // Nothing of a failed call was written (only the one running session set up above).
    for table in [
        "stock_info",
        "stock_daily",
        "stock_finance",
        "sync_tasks",
        "sync_failure_records",
        "llm_configs",
        "node_executions",
        "llm_call_logs",
        "external_api_call_logs",
    ] {
        assert_eq!(test_db.count(table).await, 0, "{table} was written to");
    }
    assert_eq!(test_db.count("research_sessions").await, 1);
    for case in &cases.0 {
        if let Err(err) = &case.result {
            let shown = format!("{err} {err:?}");
            assert!(
                !shown.contains("sk-bad-input"),
                "{}: a secret leaked: {shown}",
                case.what
            );
        }
    }
}

#[tokio::test]
async fn every_malformed_csv_line_becomes_a_failure_record_and_the_good_ones_load() {
    crate::logs();
    let test_db = TestDb::new().await;
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), None);
    let dir = tempfile::tempdir().unwrap();
    let header = "ts_code,trade_date,open,high,low,close,vol,amount\n";
    let bad_lines: Vec<(&[u8], &str)> = vec![
        (
            b"000001.SZ.TOO.LONG.CODE,20240102,1,1,1,1,1,1",
            "third_code",
        ),
        (b",20240102,1,1,1,1,1,1", "third_code"),
        (b"000001.SZ,,1,1,1,1,1,1", "trade_date"),
        (b"000001.SZ,20240230,1,1,1,1,1,1", "trade_date"),
        (b"000001.SZ,2024-13-01,1,1,1,1,1,1", "trade_date"),
        (b"000001.SZ,18991231,1,1,1,1,1,1", "trade_date"),
        (b"000001.SZ,99990101,1,1,1,1,1,1", "trade_date"),
        (b"000001.SZ,20240102,abc,1,1,1,1,1", "open"),
        (b"000001.SZ,20240102,1,inf,1,1,1,1", "high"),
        (b"000001.SZ,20240102,1,1,-Infinity,1,1,1", "low"),
        (b"000001.SZ,20240102,1,1,1,1e999,1,1", "close"),
        (b"000001.SZ,20240102,1,1,1,1,0x10,1", "vol"),
        (b"000001.SZ,20240102,1,1,1,1,1,1,extra", "expected 8 fields"),
        (b"000001.SZ,20240102,1", "expected 8 fields"),
        (b"000001.SZ,20240102,1,1,1,\xc3\x28,1,1", "not UTF-8"),
        (
            b"'; DELETE FROM stock_daily;--,20240102,1,1,1,1,1,1",
            "third_code",
        ),
        (b"000001.SZ,20240102,1,1,1,1,1,1;DROP", "amount"),
        (b"000001.SZ,20240102,1,1,1,\"1,5\",1,1", "close"),
    ];
    let mut csv = header.as_bytes().to_vec();
    let mut good = 0;
    for (idx, (line, _)) in bad_lines.iter().enumerate() {
        // A good line before every bad one.
        csv.extend_from_slice(format!("600{idx:03}.SH,20240102,1,2,0.5,1.5,100,150\n").as_bytes());
        good += 1;
        csv.extend_from_slice(line);
        csv.push(b'\n');
    }
    let file = dir.path().join("daily.csv");
    std::fs::write(&file, &csv).unwrap();
    let summary = import_csv(
        db.sync().as_ref(),
        &ImportOptions::new(ImportKind::Daily, &file),
        &NoProgress,
        &AtomicBool::new(false),
    )
    .await
    .unwrap();
    assert_eq!((summary.rows, summary.inserted), (good, good));
    assert_eq!(summary.rejected, bad_lines.len() as u64);
    let failures = db
        .sync()
        .list_failures(Some(SyncJobType::ImportDaily), true, 100)
        .await
        .unwrap();
    assert_eq!(failures.len(), bad_lines.len());
    for (idx, (_, fragment)) in bad_lines.iter().enumerate() {
        // Line 1 is the header; bad line idx is file line 2 * idx + 3.
        let line = format!("line {}:", 2 * idx + 3);
        let failure = failures
            .iter()
            .find(|f| {
                f.error_message
                    .as_deref()
                    .is_some_and(|m| m.starts_with(&line))
            })
            .unwrap_or_else(|| panic!("no failure record for {line}"));
        let message = failure.error_message.as_deref().unwrap_or_default();
        assert!(
            message.contains(fragment),
            "{message:?} should name {fragment}"
        );
    }
    assert_eq!(
        test_db.count("stock_daily").await,
        good as i64,
        "only the good lines"
    );
}
