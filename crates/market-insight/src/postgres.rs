//! [`PgMarketInsightRepository`]: both tables described once for the shared engine
//! ([`DayRow`]) and read through [`DayTable`].

use async_trait::async_trait;
use chrono::NaiveDate;
use sea_orm::QueryResult;
use serde_json::{Value, json};
use shared_db::Accessor::{Date, Float8, Int4, Json, Text, Timestamp};
use shared_db::{
    BulkColumn, BulkTable, DayRow, DayTable, Db, InvalidInput, Page, RepoError, Stamped,
    UpsertReport,
};

use crate::domain::{ConceptHeat, ConceptRef, LimitUpEntry};
use crate::repository::MarketInsightRepository;

/// Both market-insight tables on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgMarketInsightRepository {
    heat: DayTable<ConceptHeat>,
    limit_ups: DayTable<LimitUpEntry>,
}

impl PgMarketInsightRepository {
    /// The tables on `db`.
    pub fn new(db: Db) -> Self {
        Self {
            heat: DayTable::new(db.clone()),
            limit_ups: DayTable::new(db),
        }
    }
}

const MI_CONCEPT_HEAT: BulkTable<Stamped<ConceptHeat>> = BulkTable::new(
    "mi_concept_heat",
    &[
        BulkColumn::key("trade_date", Date(|s| Some(s.row.trade_date))),
        BulkColumn::key("concept_code", Text(|s| Some(&s.row.concept_code))),
        BulkColumn::value("concept_name", Text(|s| Some(&s.row.concept_name))),
        BulkColumn::value("avg_pct_chg", Float8(|s| Some(s.row.avg_pct_chg))),
        BulkColumn::value("stock_count", Int4(|s| Some(s.row.stock_count))),
        BulkColumn::value("up_count", Int4(|s| Some(s.row.up_count))),
        BulkColumn::value("down_count", Int4(|s| Some(s.row.down_count))),
        BulkColumn::value("limit_up_count", Int4(|s| Some(s.row.limit_up_count))),
        BulkColumn::value("total_amount", Float8(|s| Some(s.row.total_amount))),
        BulkColumn::created("created_at", Timestamp(|s| Some(s.at))),
        BulkColumn::touched("updated_at", Timestamp(|s| Some(s.at))),
    ],
);

impl DayRow for ConceptHeat {
    type Key<'a> = (NaiveDate, &'a str);
    const TABLE: &'static BulkTable<Stamped<Self>> = &MI_CONCEPT_HEAT;
    const ORDER_BY: &'static str = "avg_pct_chg DESC, concept_code, trade_date";

    fn key(&self) -> Self::Key<'_> {
        (self.trade_date, &self.concept_code)
    }

    fn validate(&self) -> Result<(), InvalidInput> {
        ConceptHeat::validate(self)
    }

    fn read(row: &QueryResult) -> Result<Self, RepoError> {
        Ok(Self {
            trade_date: row.try_get_by_index(0)?,
            concept_code: row.try_get_by_index(1)?,
            concept_name: row.try_get_by_index(2)?,
            avg_pct_chg: row.try_get_by_index(3)?,
            stock_count: row.try_get_by_index(4)?,
            up_count: row.try_get_by_index(5)?,
            down_count: row.try_get_by_index(6)?,
            limit_up_count: row.try_get_by_index(7)?,
            total_amount: row.try_get_by_index(8)?,
        })
    }
}

const MI_LIMIT_UP_STOCK: BulkTable<Stamped<LimitUpEntry>> = BulkTable::new(
    "mi_limit_up_stock",
    &[
        BulkColumn::key("trade_date", Date(|s| Some(s.row.trade_date))),
        BulkColumn::key("third_code", Text(|s| Some(&s.row.third_code))),
        BulkColumn::value("stock_name", Text(|s| Some(&s.row.stock_name))),
        BulkColumn::value("pct_chg", Float8(|s| Some(s.row.pct_chg))),
        BulkColumn::value("close", Float8(|s| Some(s.row.close))),
        BulkColumn::value("amount", Float8(|s| Some(s.row.amount))),
        BulkColumn::value("concepts", Json(|s| Some(concepts_json(&s.row.concepts)))),
        BulkColumn::value("limit_type", Text(|s| Some(s.row.limit_type.as_str()))),
        BulkColumn::created("created_at", Timestamp(|s| Some(s.at))),
        BulkColumn::touched("updated_at", Timestamp(|s| Some(s.at))),
    ],
);

/// `[{"code": …, "name": …}]`, as the service's `model_dump` writes them.
fn concepts_json(concepts: &[ConceptRef]) -> Value {
    Value::Array(
        concepts
            .iter()
            .map(|c| json!({"code": c.code, "name": c.name}))
            .collect(),
    )
}

impl DayRow for LimitUpEntry {
    type Key<'a> = (NaiveDate, &'a str);
    const TABLE: &'static BulkTable<Stamped<Self>> = &MI_LIMIT_UP_STOCK;
    const ORDER_BY: &'static str = "pct_chg DESC, third_code";

    fn key(&self) -> Self::Key<'_> {
        (self.trade_date, &self.third_code)
    }

    fn validate(&self) -> Result<(), InvalidInput> {
        LimitUpEntry::validate(self)
    }

    fn read(row: &QueryResult) -> Result<Self, RepoError> {
        let concepts: Value = row.try_get_by_index(6)?;
        let limit_type: String = row.try_get_by_index(7)?;
        Ok(Self {
            trade_date: row.try_get_by_index(0)?,
            third_code: row.try_get_by_index(1)?,
            stock_name: row.try_get_by_index(2)?,
            pct_chg: row.try_get_by_index(3)?,
            close: row.try_get_by_index(4)?,
            amount: row.try_get_by_index(5)?,
            concepts: serde_json::from_value(concepts.clone()).map_err(|err| {
                RepoError::Internal {
                    component: "mi_limit_up_stock",
                    detail: format!("concepts is not a list of {{code, name}}: {err}: {concepts}"),
                }
            })?,
            limit_type: limit_type
                .parse()
                .map_err(|err: InvalidInput| RepoError::Internal {
                    component: "mi_limit_up_stock",
                    detail: err.to_string(),
                })?,
        })
    }
}

#[async_trait]
impl MarketInsightRepository for PgMarketInsightRepository {
    async fn save_concept_heat(&self, rows: Vec<ConceptHeat>) -> Result<UpsertReport, RepoError> {
        self.heat.save_all(rows).await
    }

    async fn concept_heat(
        &self,
        day: NaiveDate,
        top: Option<u64>,
    ) -> Result<Vec<ConceptHeat>, RepoError> {
        let top = top
            .map(|n| Page::first(n).map(|page| page.limit()))
            .transpose()?;
        self.heat
            .select("trade_date = $1", vec![day.into()], top)
            .await
    }

    async fn concept_heat_history(
        &self,
        concept_code: &str,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<ConceptHeat>, RepoError> {
        if start > end {
            return Err(InvalidInput::new("start", start, format!("after end ({end})")).into());
        }
        let mut days = self
            .heat
            .select(
                "concept_code = $1 AND trade_date BETWEEN $2 AND $3",
                vec![concept_code.into(), start.into(), end.into()],
                None,
            )
            .await?;
        days.sort_by_key(|h| h.trade_date);
        Ok(days)
    }

    async fn save_limit_ups(&self, rows: Vec<LimitUpEntry>) -> Result<UpsertReport, RepoError> {
        self.limit_ups.save_all(rows).await
    }

    async fn limit_ups(
        &self,
        day: NaiveDate,
        concept: Option<&str>,
    ) -> Result<Vec<LimitUpEntry>, RepoError> {
        match concept {
            None => self.limit_ups.by_date(day).await,
            Some(code) => {
                let filter = json!([{ "code": code }]);
                self.limit_ups
                    .select(
                        "trade_date = $1 AND concepts @> $2",
                        vec![day.into(), filter.into()],
                        None,
                    )
                    .await
            }
        }
    }

    async fn latest_day(&self) -> Result<Option<NaiveDate>, RepoError> {
        self.heat.latest_day().await
    }
}
