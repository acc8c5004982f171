//! Deduplication on the key, last row wins, and the key order every writer locks in.

/// The indices of `rows` in key order (`key` borrows a row's key), only the last row of
/// each key kept (input order decides). The rows themselves stay where they are: the
/// writer reads them through these indices, so a million wide rows are never moved.
///
/// The keys are read once into a compact array and sorted there with their indices (a
/// comparison reads two adjacent entries, not two wide rows far apart in memory). The
/// sort is stable: of equal keys the later row stays later, and is the one kept. It finds
/// input already in key order in one pass and merges long natural runs (a file's days).
pub(crate) fn last_of_each_key_in_order<'r, R, K: Ord>(
    rows: &'r [R],
    key: impl Fn(&'r R) -> K,
) -> Vec<usize> {
    let mut keyed: Vec<(K, usize)> = rows.iter().map(key).zip(0..).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    // Of a run of equal keys the first entry stays: it takes the later one's index.
    keyed.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 = later.1;
        }
        same
    });
    keyed.into_iter().map(|(_, idx)| idx).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dedup(rows: Vec<(&'static str, f64)>) -> Vec<(&'static str, f64)> {
        last_of_each_key_in_order(&rows, |row| row.0)
            .into_iter()
            .map(|idx| rows[idx])
            .collect()
    }

    #[test]
    fn the_last_duplicate_wins() {
        let rows = vec![("b", 1.0), ("a", 2.0), ("c", 0.5), ("b", 3.0), ("a", 4.0)];
        assert_eq!(dedup(rows), [("a", 4.0), ("b", 3.0), ("c", 0.5)]);
    }

    #[test]
    fn dedup_matches_a_last_wins_map_on_many_duplicates() {
        const KEYS: [&str; 7] = ["a", "b", "c", "d", "e", "f", "g"];
        let mut state = 12_345u64;
        let rows: Vec<(&str, f64)> = (0..2_000)
            .map(|i| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                (KEYS[(state >> 33) as usize % KEYS.len()], f64::from(i))
            })
            .collect();
        let mut expected = std::collections::BTreeMap::new();
        for row in &rows {
            expected.insert(row.0, row.1);
        }
        assert_eq!(dedup(rows), expected.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn runs_of_stocks_in_any_order_come_out_in_key_order() {
        // Three stocks' days, the stocks out of order.
        let rows: Vec<(u32, u32)> = [3, 1, 2]
            .into_iter()
            .flat_map(|stock| (0..20).map(move |day| (stock, day)))
            .collect();
        let order = last_of_each_key_in_order(&rows, |row| *row);
        let mut expected = rows.clone();
        expected.sort_unstable();
        assert_eq!(order.iter().map(|&i| rows[i]).collect::<Vec<_>>(), expected);
        // Days of all stocks, day by day, and a key repeated: its last row is kept.
        let mut by_day: Vec<(u32, u32)> = (0..20)
            .flat_map(|day| [1, 2, 3].into_iter().map(move |stock| (stock, day)))
            .collect();
        by_day.push((2, 5));
        let order = last_of_each_key_in_order(&by_day, |row| *row);
        assert_eq!(
            order.iter().map(|&i| by_day[i]).collect::<Vec<_>>(),
            expected
        );
        assert!(
            order.contains(&(by_day.len() - 1)),
            "the last (2, 5) is kept"
        );
    }

    proptest::proptest! {
        /// Whatever the rows (runs of stocks' days in any order, overlapping runs,
        /// repeated keys), the order is the keys ascending, each key once, its last row.
        #[test]
        fn the_order_is_a_last_wins_map_of_the_rows(
            blocks in proptest::collection::vec((0u8..12, 0u8..40, 1usize..30), 0..30),
        ) {
            // Each block: a stock's consecutive days from a first one; the value says
            // which row it is.
            let rows: Vec<((u8, u8), usize)> = blocks
                .iter()
                .flat_map(|&(stock, first, days)| {
                    (0..days).map(move |d| (stock, first.saturating_add(d as u8)))
                })
                .enumerate()
                .map(|(n, key)| (key, n))
                .collect();
            let order = last_of_each_key_in_order(&rows, |row| row.0);
            let mut expected = std::collections::BTreeMap::new();
            for row in &rows {
                expected.insert(row.0, row.1);
            }
            let got: Vec<((u8, u8), usize)> = order.iter().map(|&i| rows[i]).collect();
            proptest::prop_assert_eq!(got, expected.into_iter().collect::<Vec<_>>());
        }
    }
}
