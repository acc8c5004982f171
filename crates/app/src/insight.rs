//! The market-insight rows of a day, computed from data-engineering's bars and concept
//! boards: what the earlier service's daily report stores before it writes its report.

use chrono::NaiveDate;
use market_insight::{BoardMembers, DayBar, concept_heat, scan_limit_ups};
use serde::Serialize;
use shared_db::RepoError;

use crate::Stockdb;

/// What [`Stockdb::compute_insight`] stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InsightCounts {
    /// The day.
    pub trade_date: NaiveDate,
    /// Boards with a heat row (those with at least one member traded).
    pub concepts: u64,
    /// Stocks at their limit-up.
    pub limit_ups: u64,
}

impl Stockdb {
    /// Computes and saves `day`'s concept heat and limit-up stocks from the stored bars
    /// (with the stock list's names, as the service reads them) and concept boards: the
    /// service's thresholds and averages (see `market_insight::concept_heat`). Running it
    /// again for a day rewrites only rows whose values changed; a day without bars stores
    /// nothing.
    pub async fn compute_insight(&self, day: NaiveDate) -> Result<InsightCounts, RepoError> {
        let bars: Vec<DayBar> = self
            .dailies()
            .get_all_by_trade_date(day)
            .await?
            .into_iter()
            .filter_map(|bar| {
                Some(DayBar {
                    third_code: bar.daily.third_code.as_str().to_owned(),
                    name: bar.name.unwrap_or_default(),
                    pct_chg: bar.daily.pct_chg?,
                    close: bar.daily.close?,
                    amount: bar.daily.amount.unwrap_or_default(),
                })
            })
            .collect();
        let concepts = self.concepts();
        let mut boards = Vec::new();
        for summary in concepts.concepts().await? {
            if let Some((board, stocks)) = concepts.concept(&summary.concept.code).await? {
                boards.push(BoardMembers {
                    code: board.code,
                    name: board.name,
                    members: stocks
                        .into_iter()
                        .map(|s| s.third_code.as_str().to_owned())
                        .collect(),
                });
            }
        }
        let heat = concept_heat(day, &bars, &boards);
        let limit_ups = scan_limit_ups(day, &bars, &boards);
        let counts = InsightCounts {
            trade_date: day,
            concepts: heat.len() as u64,
            limit_ups: limit_ups.len() as u64,
        };
        let insight = self.insight();
        insight.save_concept_heat(heat).await?;
        insight.save_limit_ups(limit_ups).await?;
        Ok(counts)
    }
}
