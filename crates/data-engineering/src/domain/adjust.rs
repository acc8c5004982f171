//! Adjusted prices: Tushare's `adj_factor` taken out of a bar series, forward (前复权) or
//! backward (后复权), without looking ahead.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{StockDaily, ThirdCode};

/// How `get_adjusted` treats prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Adjust {
    /// Prices as stored.
    #[default]
    None,
    /// 前复权: `price × factor / anchor factor`, so that prices on the anchor day are as
    /// traded and earlier ones are scaled down to them. The anchor factor is that of the
    /// latest bar on or before `anchor` (default: the range's end): never a factor from
    /// after that day, so bars stored later do not change the result.
    Forward {
        /// The day whose prices stay as traded; `None` is the range's end.
        anchor: Option<NaiveDate>,
    },
    /// 后复权: `price × factor`, prices in the money of the first listing day.
    Backward,
}

/// The price columns a factor scales; `change` (a difference of two of them) is scaled
/// too. Volumes, amounts and valuation columns are returned as stored.
pub const ADJUSTED_COLUMNS: [&str; 6] = ["open", "high", "low", "close", "pre_close", "change"];

/// A bar with no factor on or before its day: it cannot be adjusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NoFactor {
    pub(crate) code: ThirdCode,
    pub(crate) on_or_before: NaiveDate,
}

/// Scales `bars` (one stock, oldest first) by `factor / divisor`, where a bar's factor is
/// its own `adj_factor` or, when that is missing, the last known one: of an earlier bar
/// of `bars`, or `before` (the stock's last factor before the first bar). Forward
/// adjustment passes the anchor factor as `divisor`, backward 1.
pub(crate) fn scale(
    mut bars: Vec<StockDaily>,
    before: Option<f64>,
    divisor: f64,
) -> Result<Vec<StockDaily>, NoFactor> {
    let mut known = before;
    for bar in &mut bars {
        known = bar.adj_factor.or(known);
        let Some(factor) = known else {
            return Err(NoFactor {
                code: bar.third_code.clone(),
                on_or_before: bar.trade_date,
            });
        };
        let ratio = factor / divisor;
        for column in ADJUSTED_COLUMNS {
            let value = bar.value(column).flatten().map(|price| price * ratio);
            bar.set_value(column, value);
        }
    }
    Ok(bars)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stock at 10.00 that pays 0.50 a share before day 3 (factor 1 → 1.05) and splits
    /// 2-for-1 before day 5 (factor 1.05 → 2.10); day 4 has no factor stored.
    fn series() -> Vec<StockDaily> {
        let code = ThirdCode::parse("600000.SH").unwrap();
        [
            (1, 10.00, Some(1.0)),
            (2, 10.50, Some(1.0)),
            (3, 10.00, Some(1.05)),
            (4, 10.20, None),
            (5, 5.00, Some(2.10)),
        ]
        .into_iter()
        .map(|(day, close, factor)| {
            let mut bar =
                StockDaily::new(code.clone(), NaiveDate::from_ymd_opt(2024, 6, day).unwrap());
            bar.close = Some(close);
            bar.adj_factor = factor;
            bar.vol = Some(1000.0);
            bar
        })
        .collect()
    }

    fn closes(bars: &[StockDaily]) -> Vec<f64> {
        bars.iter()
            .map(|b| (b.close.unwrap() * 10_000.0).round() / 10_000.0)
            .collect()
    }

    #[test]
    fn forward_scales_history_down_to_the_anchor() {
        let bars = scale(series(), None, 2.10).unwrap();
        // 10 × 1/2.1, 10.5 × 1/2.1, 10 × 1.05/2.1, 10.2 × 1.05/2.1 (carried), 5 × 2.1/2.1.
        assert_eq!(closes(&bars), [4.7619, 5.0, 5.0, 5.1, 5.0]);
        assert_eq!(
            bars[3].adj_factor, None,
            "the stored factor is returned as stored"
        );
        assert_eq!(bars[0].vol, Some(1000.0), "volumes are not adjusted");
    }

    #[test]
    fn backward_scales_later_prices_up() {
        let bars = scale(series(), None, 1.0).unwrap();
        assert_eq!(closes(&bars), [10.0, 10.5, 10.5, 10.71, 10.5]);
    }

    #[test]
    fn a_missing_first_factor_comes_from_before_the_range_or_is_refused() {
        let mut bars = series();
        bars[0].adj_factor = None;
        assert_eq!(
            closes(&scale(bars.clone(), Some(1.0), 1.0).unwrap())[0],
            10.0
        );
        let err = scale(bars, None, 1.0).unwrap_err();
        assert_eq!(
            err.on_or_before,
            NaiveDate::from_ymd_opt(2024, 6, 1).unwrap()
        );
    }
}
