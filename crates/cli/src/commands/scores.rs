//! `stockdb sessions score|scores` and `audit stats --score NAME`: scores and feedback on
//! research sessions, their nodes and their LLM calls.

use chrono::NaiveDateTime;
use clap::Args;
use stockdb::Stockdb;
use stockdb::coordinator::{Score, ScoreSource, ScoreSummary, ScoreTarget, ScoreValue};
use uuid::Uuid;

use super::output::{self, clean, opt, print_json, print_table, table};

/// `stockdb sessions score SESSION …`.
#[derive(Debug, Args)]
pub(crate) struct ScoreArgs {
    /// The session.
    session: Uuid,
    /// What is scored (`accuracy`, `user_feedback` …).
    #[arg(long)]
    name: String,
    /// A numeric value.
    #[arg(
        long,
        conflicts_with = "category",
        required_unless_present = "category"
    )]
    value: Option<f64>,
    /// A categorical value (`correct`, `hallucinated` …).
    #[arg(long)]
    category: Option<String>,
    /// Score one of the session's nodes (its agent is the node's type).
    #[arg(long, conflicts_with = "call")]
    node: Option<Uuid>,
    /// Score one of the session's LLM calls (give its agent with --agent).
    #[arg(long)]
    call: Option<Uuid>,
    /// The agent judged, for summaries by agent.
    #[arg(long)]
    agent: Option<String>,
    /// Why, in words.
    #[arg(long)]
    comment: Option<String>,
    /// `human` (default), `model` or `rule`.
    #[arg(long, default_value = "human", value_parser = |s: &str| s.parse::<ScoreSource>())]
    source: ScoreSource,
}

/// Saves the score `args` describe.
pub(crate) async fn add(db: &Stockdb, args: ScoreArgs, json: bool) -> anyhow::Result<()> {
    let (kind, target) = match (args.node, args.call) {
        (Some(node), _) => (ScoreTarget::Node, node),
        (None, Some(call)) => (ScoreTarget::Call, call),
        (None, None) => (ScoreTarget::Session, args.session),
    };
    let value = match (args.value, args.category) {
        (Some(value), _) => ScoreValue::Numeric(value),
        (None, category) => ScoreValue::Categorical(category.unwrap_or_default()),
    };
    let mut score = Score::new(
        kind,
        target,
        args.name,
        value,
        args.source,
        shared_db::utc_now(),
    );
    // A node's session comes from the node; a call's is the one named.
    score.session_id = (kind != ScoreTarget::Node).then_some(args.session);
    score.agent = args.agent;
    score.comment = args.comment;
    db.scores().save(&score).await?;
    if json {
        return print_json(&score);
    }
    println!(
        "scored {} {}: {} = {} ({})",
        score.target_kind,
        score.target_id,
        clean(&score.name),
        shown(&score.value),
        score.source
    );
    Ok(())
}

/// Lists the scores of session `id`, its nodes and calls.
pub(crate) async fn list(db: &Stockdb, id: Uuid, json: bool) -> anyhow::Result<()> {
    let scores = db.scores().list_by_session(id).await?;
    if json {
        return print_json(&scores);
    }
    let mut t = table(&[
        "at (UTC)", "target", "agent", "name", "value", "source", "comment",
    ]);
    for s in &scores {
        t.add_row(vec![
            s.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            s.target_kind.to_string(),
            opt(s.agent.as_deref().map(|a| clean(a).into_owned())),
            clean(&s.name).into_owned(),
            shown(&s.value),
            s.source.to_string(),
            opt(s.comment.as_deref().map(|c| clean(c).into_owned())),
        ]);
    }
    print_table(t);
    println!("{} score(s)", scores.len());
    Ok(())
}

/// The summary of scores named `name` in `[from, to)`, for `audit stats --score`.
pub(crate) async fn summary(
    db: &Stockdb,
    from: NaiveDateTime,
    to: NaiveDateTime,
    name: &str,
) -> anyhow::Result<Vec<ScoreSummary>> {
    Ok(db.scores().summarize(from, to, Some(name)).await?)
}

/// Score summaries as a table.
pub(crate) fn print_summary(rows: &[ScoreSummary]) {
    output::heading("Scores by name and agent");
    let mut t = table(&[
        "name",
        "agent",
        "scores",
        "mean",
        "min",
        "max",
        "categories",
    ]);
    let num = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
    for s in rows {
        t.add_row(vec![
            clean(&s.name).into_owned(),
            clean(&s.agent).into_owned(),
            s.scores.to_string(),
            num(s.mean),
            num(s.min),
            num(s.max),
            s.categories
                .iter()
                .map(|(k, n)| format!("{}: {n}", clean(k)))
                .collect::<Vec<_>>()
                .join(", "),
        ]);
    }
    print_table(t);
}

fn shown(value: &ScoreValue) -> String {
    match value {
        ScoreValue::Numeric(v) => v.to_string(),
        ScoreValue::Categorical(c) => clean(c).into_owned(),
    }
}
