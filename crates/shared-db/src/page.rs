//! `Page`: validated offset pagination.

use crate::error::InvalidInput;

/// `skip` rows, then at most `limit` rows.
///
/// Built by [`Page::new`], which bounds `limit` to `1..=Page::MAX_LIMIT` so that no caller
/// can ask for an unbounded result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    skip: u64,
    limit: u64,
}

impl Page {
    /// The largest `limit` a page may have.
    pub const MAX_LIMIT: u64 = 10_000;

    /// A page of `limit` rows after `skip` rows.
    pub fn new(skip: u64, limit: u64) -> Result<Self, InvalidInput> {
        if limit == 0 || limit > Self::MAX_LIMIT {
            return Err(InvalidInput::new(
                "limit",
                limit,
                format!("must be between 1 and {}", Self::MAX_LIMIT),
            ));
        }
        if i64::try_from(skip).is_err() {
            return Err(InvalidInput::new("skip", skip, "too large"));
        }
        Ok(Self { skip, limit })
    }

    /// The first `limit` rows.
    pub fn first(limit: u64) -> Result<Self, InvalidInput> {
        Self::new(0, limit)
    }

    /// Rows to skip.
    pub fn skip(&self) -> u64 {
        self.skip
    }

    /// Most rows to return.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_bounded() {
        assert!(Page::new(0, 0).is_err());
        assert!(Page::new(0, Page::MAX_LIMIT + 1).is_err());
        assert_eq!(
            Page::new(40, 20).map(|p| (p.skip(), p.limit())),
            Ok((40, 20))
        );
    }

    #[test]
    fn error_names_the_field() {
        assert_eq!(Page::new(0, 0).unwrap_err().field, "limit");
    }
}
