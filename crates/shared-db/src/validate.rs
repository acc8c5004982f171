//! Field checks every context's validation is built from, and `string_enum!` for
//! statuses stored as text. Each check names the field and the value it refuses.

use crate::error::InvalidInput;

/// Checks that an optional text fits `max_chars` characters and holds no NUL character
/// (PostgreSQL stores no NUL in text, and refuses the whole statement that sends one).
pub fn check_len(
    field: &'static str,
    value: Option<&str>,
    max_chars: usize,
) -> Result<(), InvalidInput> {
    check_text(field, value)?;
    match value {
        Some(text) if text.chars().count() > max_chars => Err(InvalidInput::new(
            field,
            text,
            format!("longer than {max_chars} characters"),
        )),
        _ => Ok(()),
    }
}

/// Checks that an optional text of any length holds no NUL character, which PostgreSQL
/// cannot store.
pub fn check_text(field: &'static str, value: Option<&str>) -> Result<(), InvalidInput> {
    match value {
        Some(text) if text.contains('\0') => Err(InvalidInput::new(
            field,
            text.escape_debug(),
            "contains a NUL character, which PostgreSQL cannot store",
        )),
        _ => Ok(()),
    }
}

/// Checks that no string (or key) anywhere in a JSON value holds a NUL character, which
/// `jsonb` cannot store.
pub fn check_json(
    field: &'static str,
    value: Option<&serde_json::Value>,
) -> Result<(), InvalidInput> {
    fn has_nul(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(text) => text.contains('\0'),
            serde_json::Value::Array(items) => items.iter().any(has_nul),
            serde_json::Value::Object(map) => map
                .iter()
                .any(|(key, value)| key.contains('\0') || has_nul(value)),
            _ => false,
        }
    }
    match value {
        Some(json) if has_nul(json) => Err(InvalidInput::new(
            field,
            "a string with \\u0000",
            "contains a NUL character, which PostgreSQL cannot store",
        )),
        _ => Ok(()),
    }
}

/// Checks that an optional float is finite: NaN and infinities are refused (a missing
/// value is `None`).
pub fn check_finite(field: &'static str, value: Option<f64>) -> Result<(), InvalidInput> {
    match value {
        Some(number) if !number.is_finite() => Err(InvalidInput::new(
            field,
            number,
            "not a finite number (use None for a missing value)",
        )),
        _ => Ok(()),
    }
}

/// Checks that `value` is an ISO 4217 currency code: three capital letters.
pub fn check_currency(field: &'static str, value: &str) -> Result<(), InvalidInput> {
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        return Ok(());
    }
    Err(InvalidInput::new(
        field,
        value,
        "an ISO 4217 code: three capital letters",
    ))
}

/// Checks that a required text is not empty or blank, and holds no NUL character.
pub fn check_not_empty(field: &'static str, value: &str) -> Result<(), InvalidInput> {
    if value.trim().is_empty() {
        return Err(InvalidInput::new(field, value, "must not be empty"));
    }
    check_text(field, Some(value))
}

/// Checks that an optional count or duration is not negative.
pub fn check_not_negative(field: &'static str, value: Option<i32>) -> Result<(), InvalidInput> {
    match value {
        Some(n) if n < 0 => Err(InvalidInput::new(field, n, "must not be negative")),
        _ => Ok(()),
    }
}

/// Defines an enum stored as fixed strings (`PENDING`, `running` …): `ALL`, `as_str`,
/// `Display`, `FromStr` (an unknown string is an [`InvalidInput`] naming `field`) and
/// serde as the same strings.
///
/// ```
/// shared_db::string_enum! {
///     /// How a call ended.
///     pub enum CallStatus, field "status" {
///         /// It worked.
///         Success = "success",
///         /// It did not.
///         Failed = "failed",
///     }
/// }
/// assert_eq!("failed".parse::<CallStatus>().unwrap(), CallStatus::Failed);
/// assert_eq!("ok".parse::<CallStatus>().unwrap_err().field, "status");
/// ```
#[macro_export]
macro_rules! string_enum {
    (
        $(#[$doc:meta])*
        $vis:vis enum $name:ident, field $field:literal {
            $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            $vis const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored text.
            $vis fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::InvalidInput;

            fn from_str(text: &str) -> ::std::result::Result<Self, Self::Err> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    _ => Err($crate::InvalidInput::new(
                        $field,
                        text,
                        concat!("not one of:", $(" ", $text),+),
                    )),
                }
            }
        }

        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S: $crate::__private::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                let text = <::std::string::String as $crate::__private::serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(<D::Error as $crate::__private::serde::de::Error>::custom)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    string_enum! {
        /// A test status.
        enum Light, field "light" {
            /// Go.
            Green = "GREEN",
            /// Stop.
            Red = "RED",
        }
    }

    #[test]
    fn string_enums_round_trip_through_text_and_serde() {
        for light in Light::ALL {
            assert_eq!(light.as_str().parse::<Light>().unwrap(), *light);
        }
        let err = "AMBER".parse::<Light>().unwrap_err();
        assert_eq!((err.field, err.value.as_str()), ("light", "AMBER"));
        assert_eq!(err.reason, "not one of: GREEN RED");
        assert_eq!(serde_json::to_string(&Light::Red).unwrap(), r#""RED""#);
        assert_eq!(
            serde_json::from_str::<Light>(r#""GREEN""#).unwrap(),
            Light::Green
        );
        assert!(serde_json::from_str::<Light>(r#""green""#).is_err());
    }

    #[test]
    fn nul_characters_are_refused_wherever_text_goes() {
        assert_eq!(
            check_len("name", Some("a\0b"), 10).unwrap_err().value,
            "a\\0b"
        );
        assert!(check_not_empty("name", "a\0").is_err());
        assert!(check_text("prompt", Some("ok")).is_ok());
        let json = serde_json::json!({"a": ["x", {"b\0": 1}]});
        assert_eq!(
            check_json("options", Some(&json)).unwrap_err().field,
            "options"
        );
        let json = serde_json::json!({"a": ["x\0"]});
        assert!(check_json("options", Some(&json)).is_err());
        assert!(check_json("options", Some(&serde_json::json!({"a": 1}))).is_ok());
    }

    #[test]
    fn checks_name_the_field_and_value() {
        assert!(check_finite("close", Some(f64::NAN)).is_err());
        assert!(check_finite("close", Some(f64::INFINITY)).is_err());
        assert!(check_finite("close", None).is_ok());
        assert_eq!(check_not_empty("name", "  ").unwrap_err().field, "name");
        assert!(check_not_empty("name", "x").is_ok());
        let err = check_not_negative("latency_ms", Some(-3)).unwrap_err();
        assert_eq!((err.field, err.value.as_str()), ("latency_ms", "-3"));
        assert!(check_not_negative("latency_ms", None).is_ok());
        assert_eq!(
            check_len("code", Some("abcd"), 3).unwrap_err().reason,
            "longer than 3 characters"
        );
    }
}
