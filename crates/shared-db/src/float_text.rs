//! `Option<f64>` in JSON without losing a value: a finite number as a number, `NaN`,
//! `Infinity` and `-Infinity` as those strings (JSON has no form for them, and `null`
//! already means a missing value), `None` as `null`. For `#[serde(with = "…")]`.

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// Writes `value`: a number, one of the strings `NaN`, `Infinity`, `-Infinity`, or `null`.
pub fn serialize<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        None => serializer.serialize_none(),
        Some(v) if v.is_nan() => serializer.serialize_str("NaN"),
        Some(v) if v.is_infinite() && *v > 0.0 => serializer.serialize_str("Infinity"),
        Some(v) if v.is_infinite() => serializer.serialize_str("-Infinity"),
        Some(v) => serializer.serialize_f64(*v),
    }
}

/// Reads what [`serialize`] writes.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    deserializer.deserialize_option(OptionalFloat)
}

struct OptionalFloat;

impl<'de> Visitor<'de> for OptionalFloat {
    type Value = Option<f64>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a number, NaN, Infinity, -Infinity or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        match text {
            "NaN" => Ok(Some(f64::NAN)),
            "Infinity" => Ok(Some(f64::INFINITY)),
            "-Infinity" => Ok(Some(f64::NEG_INFINITY)),
            other => Err(E::custom(format!(
                "{other:?} is neither a number nor NaN, Infinity or -Infinity"
            ))),
        }
    }

    /// A number serde_json keeps at its full precision comes as a one-entry map holding
    /// its text (serde_json's `arbitrary_precision`), also through `#[serde(flatten)]`.
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some((_, text)) = map.next_entry::<String, String>()? else {
            return Err(de::Error::custom("an empty map is not a number"));
        };
        text.parse()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("{text:?} is not a number")))
    }
}

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    struct Bar {
        #[serde(with = "super")]
        close: Option<f64>,
    }

    #[test]
    fn non_finite_values_keep_their_value_and_differ_from_missing() {
        for (value, json) in [
            (None, r#"{"close":null}"#),
            (Some(1.5), r#"{"close":1.5}"#),
            (Some(f64::NAN), r#"{"close":"NaN"}"#),
            (Some(f64::INFINITY), r#"{"close":"Infinity"}"#),
            (Some(f64::NEG_INFINITY), r#"{"close":"-Infinity"}"#),
        ] {
            let shown = serde_json::to_string(&Bar { close: value }).unwrap();
            assert_eq!(shown, json);
            let back: Bar = serde_json::from_str(&shown).unwrap();
            assert_eq!(
                back.close.map(f64::to_bits),
                value.map(f64::to_bits),
                "{json}"
            );
        }
        assert!(serde_json::from_str::<Bar>(r#"{"close":"1.5"}"#).is_err());
    }
}
