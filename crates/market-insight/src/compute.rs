//! The daily report's persistence inputs, computed as the earlier service's
//! `ConceptHeatCalculator` and `LimitUpScanner` compute them, from plain values.

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::domain::{ConceptHeat, ConceptRef, LimitType, LimitUpEntry};

/// One stock's bar of the day, as the computation needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct DayBar {
    /// The stock (`600000.SH`).
    pub third_code: String,
    /// Its name on the day (an `ST` in it selects the 5 % limit).
    pub name: String,
    /// Change (%).
    pub pct_chg: f64,
    /// Close.
    pub close: f64,
    /// Turnover.
    pub amount: f64,
}

/// A concept board and its members.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardMembers {
    /// The board's code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its stocks' codes.
    pub members: Vec<String>,
}

impl LimitType {
    /// The limit a change of `pct_chg` % reached for `third_code` named `name`, if it
    /// reached one: the service's thresholds, checked in its order (ST ≥ 4.9, Beijing ≥
    /// 29.5, STAR and ChiNext ≥ 19.8, the rest ≥ 9.9). Unlike the service, a `92…` code is
    /// Beijing's (the service takes it for a main-board stock at 9.9 %).
    pub fn of(third_code: &str, name: &str, pct_chg: f64) -> Option<Self> {
        let (limit, threshold) = if name.contains("ST") {
            (Self::St, 4.9)
        } else if third_code.starts_with(['4', '8']) || third_code.starts_with("92") {
            (Self::Bse, 29.5)
        } else if third_code.starts_with("68") {
            (Self::Star, 19.8)
        } else if third_code.starts_with('3') {
            (Self::Gem, 19.8)
        } else {
            (Self::MainBoard, 9.9)
        };
        (pct_chg >= threshold).then_some(limit)
    }
}

/// How each board did on `day`: over its members with a bar, the equal-weighted mean
/// change, risers (> 0), fallers (< 0), limit-ups and summed turnover. A board none of
/// whose members has a bar is left out. In `boards`' order.
pub fn concept_heat(day: NaiveDate, bars: &[DayBar], boards: &[BoardMembers]) -> Vec<ConceptHeat> {
    let by_code: HashMap<&str, &DayBar> = bars.iter().map(|b| (b.third_code.as_str(), b)).collect();
    boards
        .iter()
        .filter_map(|board| {
            let bars: Vec<&DayBar> = board
                .members
                .iter()
                .filter_map(|code| by_code.get(code.as_str()).copied())
                .collect();
            if bars.is_empty() {
                return None;
            }
            let count = |keep: &dyn Fn(&DayBar) -> bool| {
                i32::try_from(bars.iter().filter(|b| keep(b)).count()).unwrap_or(i32::MAX)
            };
            Some(ConceptHeat {
                trade_date: day,
                concept_code: board.code.clone(),
                concept_name: board.name.clone(),
                avg_pct_chg: bars.iter().map(|b| b.pct_chg).sum::<f64>() / bars.len() as f64,
                stock_count: count(&|_| true),
                up_count: count(&|b| b.pct_chg > 0.0),
                down_count: count(&|b| b.pct_chg < 0.0),
                limit_up_count: count(&|b| {
                    LimitType::of(&b.third_code, &b.name, b.pct_chg).is_some()
                }),
                total_amount: bars.iter().map(|b| b.amount).sum(),
            })
        })
        .collect()
}

/// The bars of `day` at their limit-up, each with the boards it belongs to (in `boards`'
/// order), in `bars`' order.
pub fn scan_limit_ups(
    day: NaiveDate,
    bars: &[DayBar],
    boards: &[BoardMembers],
) -> Vec<LimitUpEntry> {
    let mut concepts_of: HashMap<&str, Vec<ConceptRef>> = HashMap::new();
    for board in boards {
        for member in &board.members {
            concepts_of.entry(member).or_default().push(ConceptRef {
                code: board.code.clone(),
                name: board.name.clone(),
            });
        }
    }
    bars.iter()
        .filter_map(|bar| {
            let limit_type = LimitType::of(&bar.third_code, &bar.name, bar.pct_chg)?;
            Some(LimitUpEntry {
                trade_date: day,
                third_code: bar.third_code.clone(),
                stock_name: bar.name.clone(),
                pct_chg: bar.pct_chg,
                close: bar.close,
                amount: bar.amount,
                concepts: concepts_of
                    .get(bar.third_code.as_str())
                    .cloned()
                    .unwrap_or_default(),
                limit_type,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(code: &str, name: &str, pct_chg: f64) -> DayBar {
        DayBar {
            third_code: code.into(),
            name: name.into(),
            pct_chg,
            close: 10.0,
            amount: 100.0,
        }
    }

    #[test]
    fn limits_follow_the_board_and_the_name() {
        assert_eq!(
            LimitType::of("600000.SH", "浦发银行", 9.95),
            Some(LimitType::MainBoard)
        );
        assert_eq!(LimitType::of("600000.SH", "浦发银行", 9.8), None);
        assert_eq!(LimitType::of("300750.SZ", "宁德时代", 10.0), None);
        assert_eq!(
            LimitType::of("300750.SZ", "宁德时代", 19.99),
            Some(LimitType::Gem)
        );
        assert_eq!(
            LimitType::of("688981.SH", "中芯国际", 20.0),
            Some(LimitType::Star)
        );
        assert_eq!(
            LimitType::of("830799.BJ", "艾融软件", 29.9),
            Some(LimitType::Bse)
        );
        assert_eq!(
            LimitType::of("920002.BJ", "万达轴承", 10.0),
            None,
            "Beijing's 30 %"
        );
        assert_eq!(
            LimitType::of("600518.SH", "ST康美", 5.0),
            Some(LimitType::St)
        );
        assert_eq!(LimitType::of("600518.SH", "*ST康美", 4.0), None);
    }

    #[test]
    fn heat_counts_members_with_a_bar() {
        let day = NaiveDate::from_ymd_opt(2024, 6, 3).unwrap();
        let bars = [
            bar("600001.SH", "甲", 10.0),
            bar("600002.SH", "乙", -2.0),
            bar("300003.SZ", "丙", 0.0),
        ];
        let boards = [
            BoardMembers {
                code: "BK1".into(),
                name: "一".into(),
                members: vec![
                    "600001.SH".into(),
                    "600002.SH".into(),
                    "300003.SZ".into(),
                    "600009.SH".into(),
                ],
            },
            BoardMembers {
                code: "BK2".into(),
                name: "二".into(),
                members: vec!["600009.SH".into()],
            },
        ];
        let heat = concept_heat(day, &bars, &boards);
        assert_eq!(heat.len(), 1, "a board without bars is left out");
        let h = &heat[0];
        assert_eq!(
            (h.stock_count, h.up_count, h.down_count, h.limit_up_count),
            (3, 1, 1, 1)
        );
        assert!((h.avg_pct_chg - 8.0 / 3.0).abs() < 1e-12);
        assert_eq!(h.total_amount, 300.0);
        let ups = scan_limit_ups(day, &bars, &boards);
        assert_eq!(ups.len(), 1);
        assert_eq!(
            ups[0].concepts,
            [ConceptRef {
                code: "BK1".into(),
                name: "一".into()
            }]
        );
        assert_eq!(ups[0].limit_type, LimitType::MainBoard);
    }
}
