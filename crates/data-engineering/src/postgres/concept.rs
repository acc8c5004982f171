//! `PgConceptRepository`: concept boards and their stocks on PostgreSQL, written as the
//! earlier service writes them (a board upserted by code, its stocks replaced).

use std::collections::BTreeMap;

use async_trait::async_trait;
use sea_orm::QueryResult;
use shared_db::{Db, RepoError};

use crate::domain::{Concept, ConceptStock, ConceptSummary, ThirdCode};
use crate::repository::ConceptRepository;

/// Concept boards on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgConceptRepository {
    db: Db,
}

impl PgConceptRepository {
    /// A repository on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn concept(row: &QueryResult) -> Result<Concept, RepoError> {
    Ok(Concept {
        code: row.try_get_by_index(0)?,
        name: row.try_get_by_index(1)?,
        description: row.try_get_by_index(2)?,
    })
}

#[async_trait]
impl ConceptRepository for PgConceptRepository {
    async fn save_with_stocks(
        &self,
        board: &Concept,
        stocks: Vec<ConceptStock>,
    ) -> Result<(), RepoError> {
        board.validate()?;
        // Last row of a stock wins, as in every save; the service's insert would fail.
        let mut unique: BTreeMap<ThirdCode, ConceptStock> = BTreeMap::new();
        for (idx, stock) in stocks.into_iter().enumerate() {
            stock.validate().map_err(|err| err.at_row(idx))?;
            unique.insert(stock.third_code.clone(), stock);
        }
        let now = self.db.now();
        let mut txn = self.db.pool().begin().await?;
        sqlx::query(
            "INSERT INTO concept (code, name, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, \
                 description = EXCLUDED.description, updated_at = EXCLUDED.updated_at",
        )
        .bind(&board.code)
        .bind(&board.name)
        .bind(&board.description)
        .bind(now)
        .execute(&mut *txn)
        .await?;
        sqlx::query("DELETE FROM concept_stock WHERE concept_code = $1")
            .bind(&board.code)
            .execute(&mut *txn)
            .await?;
        let codes: Vec<&str> = unique.keys().map(ThirdCode::as_str).collect();
        let names: Vec<&str> = unique.values().map(|s| s.stock_name.as_str()).collect();
        let weights: Vec<Option<f64>> = unique.values().map(|s| s.weight).collect();
        sqlx::query(
            "INSERT INTO concept_stock (concept_code, third_code, stock_name, weight, created_at, \
                 updated_at) \
             SELECT $1, c, n, w, $5, $5 FROM UNNEST($2::varchar[], $3::varchar[], $4::float8[]) \
                 AS s(c, n, w)",
        )
        .bind(&board.code)
        .bind(codes)
        .bind(names)
        .bind(weights)
        .bind(now)
        .execute(&mut *txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    async fn concepts(&self) -> Result<Vec<ConceptSummary>, RepoError> {
        let rows = self
            .db
            .read_all(
                "SELECT c.code, c.name, c.description, count(s.id)::int8, c.updated_at \
                 FROM concept c LEFT JOIN concept_stock s ON s.concept_code = c.code \
                 GROUP BY c.id ORDER BY c.code",
                Vec::new(),
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(ConceptSummary {
                    concept: concept(row)?,
                    stocks: u32::try_from(row.try_get_by_index::<i64>(3)?).unwrap_or(u32::MAX),
                    updated_at: row.try_get_by_index(4)?,
                })
            })
            .collect()
    }

    async fn concept(&self, code: &str) -> Result<Option<(Concept, Vec<ConceptStock>)>, RepoError> {
        let rows = self
            .db
            .read_all(
                "SELECT code, name, description FROM concept WHERE code = $1",
                vec![code.into()],
            )
            .await?;
        let Some(board) = rows.first().map(concept).transpose()? else {
            return Ok(None);
        };
        let rows = self
            .db
            .read_all(
                "SELECT third_code, stock_name, weight FROM concept_stock \
                 WHERE concept_code = $1 ORDER BY third_code",
                vec![code.into()],
            )
            .await?;
        let stocks = rows
            .iter()
            .map(|row| {
                Ok(ConceptStock {
                    third_code: ThirdCode::from_stored(row.try_get_by_index(0)?),
                    stock_name: row.try_get_by_index(1)?,
                    weight: row.try_get_by_index(2)?,
                })
            })
            .collect::<Result<_, RepoError>>()?;
        Ok(Some((board, stocks)))
    }

    async fn concepts_of(&self, stock: &ThirdCode) -> Result<Vec<Concept>, RepoError> {
        let rows = self
            .db
            .read_all(
                "SELECT c.code, c.name, c.description FROM concept c \
                 JOIN concept_stock s ON s.concept_code = c.code \
                 WHERE s.third_code = $1 ORDER BY c.code",
                vec![stock.as_str().into()],
            )
            .await?;
        rows.iter().map(concept).collect()
    }
}
