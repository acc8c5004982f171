//! Concept boards over the sample's stocks: a few themes, each with a dozen members.

use data_engineering::{Concept, ConceptStock, StockInfo};
use rand::Rng;

use crate::{Sampler, round};

/// The themes, with their board codes.
const BOARDS: [(&str, &str); 6] = [
    ("BK0493", "新能源汽车"),
    ("BK0500", "半导体概念"),
    ("BK0628", "人工智能"),
    ("BK0896", "白酒"),
    ("BK1036", "光伏概念"),
    ("BK1173", "低空经济"),
];

/// Up to six boards of `stocks`, each with 8 to 15 of them (a stock may be in several).
pub fn concepts(stocks: &[StockInfo], seed: u64) -> Vec<(Concept, Vec<ConceptStock>)> {
    let mut s = Sampler::new(seed ^ 0x434f_4e43);
    if stocks.is_empty() {
        return Vec::new();
    }
    BOARDS
        .iter()
        .map(|(code, name)| {
            let members = s.rng.random_range(8..=15).min(stocks.len());
            let mut picked: Vec<&StockInfo> = Vec::with_capacity(members);
            while picked.len() < members {
                let stock = &stocks[s.rng.random_range(0..stocks.len())];
                if !picked.iter().any(|p| p.third_code == stock.third_code) {
                    picked.push(stock);
                }
            }
            let board = Concept {
                code: (*code).to_owned(),
                name: (*name).to_owned(),
                description: None,
            };
            let members = picked
                .into_iter()
                .map(|stock| ConceptStock {
                    third_code: stock.third_code.clone(),
                    stock_name: stock.name.clone(),
                    weight: Some(round(s.uniform(0.5, 10.0), 2)),
                })
                .collect();
            (board, members)
        })
        .collect()
}
