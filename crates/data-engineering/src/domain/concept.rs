//! Concept boards (`concept`, `concept_stock`): a theme such as 白酒概念 and the stocks in
//! it, as the earlier service keeps them.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use shared_db::{InvalidInput, check_finite, check_len, check_not_empty};

use super::ThirdCode;

/// A concept board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Concept {
    /// Its code (`BK0815`; 1 to 50 characters), the key.
    pub code: String,
    /// Its name (1 to 100 characters).
    pub name: String,
    /// What it is about.
    pub description: Option<String>,
}

/// A stock of a concept board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConceptStock {
    /// The stock.
    pub third_code: ThirdCode,
    /// Its name as the board lists it (1 to 100 characters).
    pub stock_name: String,
    /// Its weight in the board, if the source gives one.
    pub weight: Option<f64>,
}

/// A stored concept board with how many stocks it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConceptSummary {
    /// The board.
    #[serde(flatten)]
    pub concept: Concept,
    /// Its stocks, counted.
    pub stocks: u32,
    /// When it was last saved (as its writer's clock said).
    pub updated_at: NaiveDateTime,
}

impl Concept {
    /// Checks code, name and description.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_not_empty("code", &self.code)?;
        check_len("code", Some(&self.code), 50)?;
        check_not_empty("name", &self.name)?;
        check_len("name", Some(&self.name), 100)?;
        shared_db::check_text("description", self.description.as_deref())
    }
}

impl ConceptStock {
    /// Checks the name and weight.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_not_empty("stock_name", &self.stock_name)?;
        check_len("stock_name", Some(&self.stock_name), 100)?;
        check_finite("weight", self.weight)
    }
}
