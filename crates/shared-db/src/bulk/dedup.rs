//! Deduplication on the key, last row wins, and the key order every writer locks in.

use std::cmp::Ordering;

/// `rows` sorted by key (`by_key` compares two rows' keys), keeping the last row of each key (input order decides).
///
/// Sorts indices, not rows, and then moves the rows into place: a stable sort of a million
/// wide rows would allocate a buffer of half of them, and a copy would double the call's
/// memory; this needs three `usize` per row.
pub(crate) fn sorted_last_of_each_key<R>(
    mut rows: Vec<R>,
    by_key: impl Fn(&R, &R) -> Ordering,
) -> Vec<R> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_unstable_by(|&a, &b| by_key(&rows[a], &rows[b]).then(a.cmp(&b)));
    let mut kept: Vec<usize> = Vec::with_capacity(order.len());
    for idx in order {
        match kept.last_mut() {
            Some(last) if by_key(&rows[*last], &rows[idx]).is_eq() => *last = idx,
            _ => kept.push(idx),
        }
    }
    // Where each row goes: its place in `kept`, or nowhere.
    let mut target = vec![usize::MAX; rows.len()];
    for (place, &idx) in kept.iter().enumerate() {
        target[idx] = place;
    }
    // Follow the permutation's cycles; every swap puts one row in its final place.
    for idx in 0..rows.len() {
        while target[idx] != usize::MAX && target[idx] != idx {
            let to = target[idx];
            rows.swap(idx, to);
            target.swap(idx, to);
        }
    }
    rows.truncate(kept.len());
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dedup(rows: Vec<(&'static str, f64)>) -> Vec<(&'static str, f64)> {
        sorted_last_of_each_key(rows, |a, b| a.0.cmp(b.0))
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
}
