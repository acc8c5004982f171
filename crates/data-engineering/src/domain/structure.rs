//! What the market-structure readers answer: a stock's trading days classified (traded,
//! halted, not synced), its status on one day as known that day, an index's members on a
//! day, and where stored adjustment factors disagree with the dividends. The
//! classification is a pure function of the calendar, the bars, the listing dates and the
//! suspensions, tested here without a database.

use chrono::NaiveDate;
use serde::Serialize;

use super::{Exchange, NameChange, NameFlags, PriceLimit, Suspension, ThirdCode};

shared_db::string_enum! {
    /// What an open day was for one stock.
    pub enum DayClass, field "class" {
        /// A bar is stored.
        Traded = "traded",
        /// No bar, and a suspension covers the day: nothing to sync.
        Halted = "halted",
        /// No bar and no suspension: a gap the sync must fill.
        NotSynced = "not_synced",
        /// Before the stock's listing or from its delisting on.
        NotListed = "not_listed",
    }
}

/// One open day of one stock, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClassifiedDay {
    /// The open day.
    pub day: NaiveDate,
    /// What it was.
    pub class: DayClass,
}

/// Whether `suspensions` (one stock's, oldest first) halt it on `day`: the last whole-day
/// `S` or `R` on or before the day decides, an `R` winning over an `S` of the same day; an
/// intraday `S` decides nothing.
pub(crate) fn halt_on(suspensions: &[Suspension], day: NaiveDate) -> Option<&Suspension> {
    let deciding = suspensions
        .iter()
        .take_while(|s| s.trade_date <= day)
        .filter(|s| s.halts() || s.suspend_type == super::SuspendType::Resume)
        .max_by_key(|s| (s.trade_date, s.suspend_type == super::SuspendType::Resume))?;
    deciding.halts().then_some(deciding)
}

/// Classifies each of `days` (open days, oldest first, each with whether a bar is stored)
/// for a stock listed on `list_date` (`None`: always) and delisted on `delist_date`, halted
/// as `suspensions` (oldest first) say.
pub(crate) fn classify_days(
    days: &[(NaiveDate, bool)],
    list_date: Option<NaiveDate>,
    delist_date: Option<NaiveDate>,
    suspensions: &[Suspension],
) -> Vec<ClassifiedDay> {
    days.iter()
        .map(|&(day, has_bar)| {
            let listed =
                list_date.is_none_or(|list| day >= list) && delist_date.is_none_or(|d| day < d);
            let class = if has_bar {
                DayClass::Traded
            } else if !listed {
                DayClass::NotListed
            } else if halt_on(suspensions, day).is_some() {
                DayClass::Halted
            } else {
                DayClass::NotSynced
            };
            ClassifiedDay { day, class }
        })
        .collect()
}

/// One stock on one day, as known that day: whether the exchange was open, whether the
/// stock was listed, halted, its price limits and its name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StockDayStatus {
    /// The stock.
    pub third_code: ThirdCode,
    /// The day.
    pub day: NaiveDate,
    /// Its exchange, from the code (`None` for a code of no known exchange).
    pub exchange: Option<Exchange>,
    /// Whether the exchange was open (`None`: the calendar does not cover the day).
    pub open: Option<bool>,
    /// Whether the stock was listed (`None`: the stock list does not hold it).
    pub listed: Option<bool>,
    /// Whether a bar is stored for the day.
    pub has_bar: bool,
    /// The suspension that halts it that day, if one does.
    pub halt: Option<Suspension>,
    /// An intraday halt recorded for the day (the stock trades).
    pub intraday_halt: Option<Suspension>,
    /// Its limit prices that day, when stored.
    pub limit: Option<PriceLimit>,
    /// The name in force that day among those announced by then.
    pub name: Option<NameChange>,
    /// What that name says.
    pub flags: NameFlags,
}

impl StockDayStatus {
    /// Whether the stock could trade that day: the exchange open, the stock listed, not
    /// halted. Unknowns (no calendar, not in the stock list) count as not tradable.
    pub fn tradable(&self) -> bool {
        self.open == Some(true) && self.listed == Some(true) && self.halt.is_none()
    }
}

/// An index's members on a day, from its latest snapshot on or before that day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Universe {
    /// The index.
    pub index_code: ThirdCode,
    /// The day asked about.
    pub as_of: NaiveDate,
    /// The snapshot the members come from (`None`: no snapshot by then; no members).
    pub snapshot: Option<NaiveDate>,
    /// The members and their weights (%), by code.
    pub members: Vec<(ThirdCode, Option<f64>)>,
}

/// One stretch of a stock's membership of an index, derived from the snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    /// The member.
    pub con_code: ThirdCode,
    /// The first snapshot of the stretch.
    pub in_date: NaiveDate,
    /// The first later snapshot without it (`None`: still in at the latest snapshot).
    pub out_date: Option<NaiveDate>,
}

/// An open day with no bar and no halt for a listed stock, counted per stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncGap {
    /// The stock.
    pub third_code: ThirdCode,
    /// How many open days it misses.
    pub days: u32,
    /// The first.
    pub first: NaiveDate,
    /// The last.
    pub last: NaiveDate,
}

/// An implemented dividend's ex-date, the step in the adjustment factor the event implies
/// and the step stored.
///
/// On the ex-date the exchange's reference price is `(P − cash) / (1 + shares)` for the
/// previous close `P`, cash before tax and bonus plus transfer shares per share; a forward
/// factor steps up by `P / reference = P (1 + shares) / (P − cash)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FactorCheck {
    /// The stock.
    pub third_code: ThirdCode,
    /// The ex-date.
    pub ex_date: NaiveDate,
    /// The last bar before it (`None`: no bar before the ex-date is stored).
    pub prev_date: Option<NaiveDate>,
    /// That bar's close.
    pub prev_close: Option<f64>,
    /// Cash per share before tax.
    pub cash: f64,
    /// Bonus plus transfer shares per share.
    pub shares: f64,
    /// `adj_factor(ex_date) / adj_factor(prev_date)` the event implies.
    pub derived_step: Option<f64>,
    /// The same ratio of the stored factors (`None` when either is missing).
    pub stored_step: Option<f64>,
}

impl FactorCheck {
    /// The factor step `prev_close`, `cash` and `shares` imply, when it is defined.
    pub fn derive(prev_close: f64, cash: f64, shares: f64) -> Option<f64> {
        let reference = (prev_close - cash) / (1.0 + shares);
        (prev_close > 0.0 && reference > 0.0).then(|| prev_close / reference)
    }

    /// Whether the stored step agrees with the derived one within `tolerance` (relative):
    /// `false` also when either is missing.
    pub fn agrees(&self, tolerance: f64) -> bool {
        match (self.derived_step, self.stored_step) {
            (Some(derived), Some(stored)) => (stored / derived - 1.0).abs() <= tolerance,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SuspendType;

    fn day(d: &str) -> NaiveDate {
        NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap()
    }

    fn record(d: &str, kind: SuspendType, timing: Option<&str>) -> Suspension {
        Suspension {
            third_code: ThirdCode::parse("000001.SZ").unwrap(),
            trade_date: day(d),
            suspend_type: kind,
            suspend_timing: timing.map(str::to_owned),
            reason: None,
            source: None,
        }
    }

    #[test]
    fn a_halt_across_a_month_end_is_told_from_a_gap() {
        use DayClass::*;
        use SuspendType::*;
        let open = [
            ("2024-01-25", true),
            ("2024-01-26", false),
            ("2024-01-29", true),
            ("2024-01-30", false),
            ("2024-01-31", false),
            ("2024-02-01", false),
            ("2024-02-02", true),
            ("2024-02-05", false),
        ];
        let days: Vec<_> = open.iter().map(|(d, bar)| (day(d), *bar)).collect();
        let halts = [
            record("2024-01-29", Suspend, Some("09:30-10:30")),
            record("2024-01-30", Suspend, None),
            record("2024-02-02", Resume, None),
        ];
        let classes: Vec<DayClass> = classify_days(&days, Some(day("2024-01-26")), None, &halts)
            .into_iter()
            .map(|c| c.class)
            .collect();
        assert_eq!(
            classes,
            [
                Traded, NotSynced, Traded, Halted, Halted, Halted, Traded, NotSynced
            ]
        );
        let before_listing = classify_days(&days[..2], Some(day("2024-01-29")), None, &[]);
        assert_eq!(before_listing[1].class, NotListed);
    }

    #[test]
    fn every_suspended_day_listed_reads_as_an_interval_and_a_same_day_resume_wins() {
        use SuspendType::*;
        let daily = [
            record("2024-03-01", Suspend, None),
            record("2024-03-04", Suspend, None),
            record("2024-03-05", Resume, None),
            record("2024-03-05", Suspend, None),
        ];
        assert!(halt_on(&daily, day("2024-02-29")).is_none());
        assert!(halt_on(&daily, day("2024-03-02")).is_some());
        assert_eq!(
            halt_on(&daily, day("2024-03-04")).map(|s| s.trade_date),
            Some(day("2024-03-04"))
        );
        assert!(halt_on(&daily, day("2024-03-05")).is_none());
    }

    #[test]
    fn a_dividend_with_bonus_shares_steps_the_factor_by_hand() {
        // Close 20.00; 10 送 2 转 3 派 5 元 (before tax): per share 0.5 shares, 0.5 cash.
        // Reference (20 − 0.5) / 1.5 = 13.0; step 20 / 13 = 1.538461…
        let step = FactorCheck::derive(20.0, 0.5, 0.5).unwrap();
        assert!((step - 20.0 / 13.0).abs() < 1e-12);
        assert_eq!(FactorCheck::derive(1.0, 1.0, 0.0), None);
    }
}
