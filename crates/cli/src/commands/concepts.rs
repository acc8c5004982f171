//! `stockdb concepts [CODE] [--stock CODE]`: concept boards, one board's stocks, or the
//! boards a stock is in.

use anyhow::Context as _;
use clap::Args;
use stockdb::Stockdb;

use super::args::code;
use super::output::{clean, num, print_json, print_table, table};

/// `stockdb concepts` arguments.
#[derive(Debug, Args)]
pub(crate) struct ConceptsArgs {
    /// A board's code (`BK0896`): its stocks.
    #[arg(conflicts_with = "stock")]
    board: Option<String>,
    /// The boards this stock (`600519.SH`) is in.
    #[arg(long)]
    stock: Option<String>,
}

pub(crate) async fn run(db: &Stockdb, args: &ConceptsArgs, json: bool) -> anyhow::Result<()> {
    let concepts = db.concepts();
    if let Some(board) = &args.board {
        let (board, stocks) = concepts
            .concept(board)
            .await?
            .with_context(|| format!("no concept board {}", clean(board)))?;
        if json {
            return print_json(&serde_json::json!({"concept": board, "stocks": stocks}));
        }
        let mut t = table(&["stock", "name", "weight"]);
        for s in &stocks {
            t.add_row(vec![
                s.third_code.to_string(),
                clean(&s.stock_name).into_owned(),
                num(s.weight, 4),
            ]);
        }
        print_table(t);
        println!(
            "{} stock(s) in {} {}",
            stocks.len(),
            clean(&board.code),
            clean(&board.name)
        );
        return Ok(());
    }
    if let Some(stock) = &args.stock {
        let stock = code(stock)?;
        let boards = concepts.concepts_of(&stock).await?;
        if json {
            return print_json(&boards);
        }
        let mut t = table(&["board", "name"]);
        for b in &boards {
            t.add_row(vec![
                clean(&b.code).into_owned(),
                clean(&b.name).into_owned(),
            ]);
        }
        print_table(t);
        println!("{stock} is in {} board(s)", boards.len());
        return Ok(());
    }
    let boards = concepts.concepts().await?;
    if json {
        return print_json(&boards);
    }
    let mut t = table(&["board", "name", "stocks"]);
    for b in &boards {
        t.add_row(vec![
            clean(&b.concept.code).into_owned(),
            clean(&b.concept.name).into_owned(),
            b.stocks.to_string(),
        ]);
    }
    print_table(t);
    println!("{} concept board(s)", boards.len());
    Ok(())
}
