//! Database URLs as text: shown without their secrets, and cleaned of what the driver
//! would log. Read as text rather than trusted to a URL parser, which takes
//! `postgres://app:#S3cret@db/x` for a host `app` and a fragment.

use crate::error::InvalidInput;

/// What a URL that cannot be parsed prints as: it may hold a password anywhere.
pub const UNPARSABLE_URL: &str = "<unparsable URL>";

/// Query parameters whose value is a secret (libpq's `password`, `sslpassword`, and any
/// name with `pass`, `secret` or `token` in it).
fn is_secret_parameter(name: &str) -> bool {
    let name = percent_decode(name).to_ascii_lowercase();
    ["pass", "pwd", "secret", "token"]
        .iter()
        .any(|word| name.contains(word))
}

/// `text` with `%XX` escapes decoded (invalid ones kept as they are; not UTF-8: lossy).
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut idx = 0;
    while idx < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[idx], bytes.get(idx + 1), bytes.get(idx + 2)) {
            (b'%', Some(&hi), Some(&lo)) if hex(hi).is_some() && hex(lo).is_some() => {
                out.push((hex(hi).unwrap_or(0) * 16 + hex(lo).unwrap_or(0)) as u8);
                idx += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                idx += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A URL cut into its parts as text, by the rules [`redact_url`] states.
struct UrlParts<'a> {
    scheme: &'a str,
    /// Everything between `://` and the `@` that ends the credentials.
    userinfo: Option<&'a str>,
    /// Host, port and path.
    location: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

impl<'a> UrlParts<'a> {
    /// The parts of `url`, or `None` when they cannot be told with certainty.
    fn split(url: &'a str) -> Option<Self> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
        if !scheme_ok {
            return None;
        }
        let (userinfo, after) = match (rest.find('@'), rest.rfind('@')) {
            // Several `@`: a password holding `@` (`a@b@host`), or an `@` in the path, query
            // or fragment after the real one. Past a `/`, `?` or `#` between them it could
            // be either, and a guess could show a password.
            (Some(first), Some(last)) if rest[first..last].contains(['/', '?', '#']) => {
                return None;
            }
            (_, Some(at)) => (Some(&rest[..at]), &rest[at + 1..]),
            _ => (None, rest),
        };
        let user = userinfo.map(|info| info.split(':').next().unwrap_or_default());
        if user.is_some_and(|user| user.contains(['/', '?', '#', ' ', '\t', '\n'])) {
            return None;
        }
        let (after, fragment) = match after.split_once('#') {
            Some((after, fragment)) => (after, Some(fragment)),
            None => (after, None),
        };
        let (location, query) = match after.split_once('?') {
            Some((location, query)) => (location, Some(query)),
            None => (after, None),
        };
        // A port that is not a number is a password seen without its `@` (a list of URLs
        // split at a `,` inside one, `postgres://app:se,cret@db`).
        let authority = location.split('/').next().unwrap_or_default();
        let bad_port = authority.split(',').any(|host| {
            let host = host.rsplit(']').next().unwrap_or(host);
            host.rsplit_once(':')
                .is_some_and(|(_, port)| !port.chars().all(|c| c.is_ascii_digit()))
        });
        if bad_port {
            return None;
        }
        Some(Self {
            scheme,
            userinfo,
            location,
            query,
            fragment,
        })
    }
}

/// `url` fit for logs and messages, read as text rather than trusted to a URL parser
/// (which takes `postgres://app:#S3cret@db/x` for a host `app` and a fragment): everything
/// between `://` and the last `@` is credentials, shown as the user name and `***`; a
/// fragment is never shown; the value of every secret query parameter (`password=`,
/// `sslpassword=`, also percent-encoded names) is `***`. What cannot be read with
/// certainty — no `scheme://`, a "user name" holding `/`, `?`, `#` or spaces (an `@` in a
/// query put the cut in the wrong place), `@`s on both sides of a `/`, `?` or `#`, a port
/// that is not a number (a password without its `@`) — prints as [`UNPARSABLE_URL`]. In the query, the pieces after a secret parameter up to the next
/// parameter libpq or the driver knows are taken for part of its value (an unencoded `&`).
pub fn redact_url(url: &str) -> String {
    let Some(parts) = UrlParts::split(url) else {
        return UNPARSABLE_URL.to_owned();
    };
    let mut out = format!("{}://", parts.scheme);
    if let Some(userinfo) = parts.userinfo {
        match userinfo.split_once(':') {
            Some((user, _)) => out.push_str(&format!("{user}:***@")),
            None => out.push_str(&format!("{userinfo}@")),
        }
    }
    out.push_str(parts.location);
    if let Some(query) = parts.query {
        out.push('?');
        let pairs: Vec<String> = query_pairs(query)
            .into_iter()
            .filter_map(|pair| match pair {
                QueryPair::Plain(pair) => Some(pair.to_owned()),
                QueryPair::Secret(pair) => Some(format!("{}=***", QueryPair::name(pair))),
                QueryPair::SecretPiece(_) => None,
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

/// `url` pointing at database `name` of the same server (user, host, port and query
/// kept). Errors name the URL without its secrets.
pub fn url_with_database(url: &str, name: &str) -> Result<String, InvalidInput> {
    let mut parsed = url::Url::parse(url)
        .map_err(|err| InvalidInput::new("url", redact_url(url), format!("not a URL: {err}")))?;
    parsed.set_path(&format!("/{name}"));
    Ok(parsed.to_string())
}

/// The query parameters the driver reads (sqlx's `PgConnectOptions`); it logs any other
/// with its value, at WARN.
const KNOWN_PARAMETERS: [&str; 18] = [
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// Every parameter libpq knows (PostgreSQL 17), beside the driver's: where a secret value
/// cut by an unencoded `&` certainly ends.
const LIBPQ_PARAMETERS: [&str; 43] = [
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "require_auth",
    "channel_binding",
    "connect_timeout",
    "client_encoding",
    "options",
    "application_name",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "replication",
    "gssencmode",
    "sslmode",
    "sslnegotiation",
    "requiressl",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcertmode",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "service",
    "target_session_attrs",
    "load_balance_hosts",
    "sslkeylogfile",
];

/// One `&`-separated piece of a URL's query.
#[derive(Debug, PartialEq, Eq)]
enum QueryPair<'a> {
    /// A parameter that holds no secret, as written.
    Plain(&'a str),
    /// A secret parameter, as written.
    Secret(&'a str),
    /// A piece after a secret parameter and before the next parameter the driver knows:
    /// the rest of a secret value whose `&` was not percent-encoded (`password=a&b=c`).
    SecretPiece(&'a str),
}

impl<'a> QueryPair<'a> {
    fn name(pair: &'a str) -> &'a str {
        pair.split('=').next().unwrap_or_default()
    }
}

/// The pieces of `query` (empty ones skipped). After a secret parameter every piece is
/// taken for part of its value until one names a parameter libpq or the driver knows: an
/// unencoded `&` splits a password, and its pieces are as secret as the rest.
fn query_pairs(query: &str) -> Vec<QueryPair<'_>> {
    let mut in_secret = false;
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let name = QueryPair::name(pair);
            if is_secret_parameter(name) {
                in_secret = true;
                QueryPair::Secret(pair)
            } else if in_secret
                && !KNOWN_PARAMETERS.contains(&name)
                && !LIBPQ_PARAMETERS.contains(&name)
            {
                QueryPair::SecretPiece(pair)
            } else {
                in_secret = false;
                QueryPair::Plain(pair)
            }
        })
        .collect()
}

/// What [`known_parameters_only`] left out of a URL.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// The names of parameters the driver does not know.
    pub(crate) names: Vec<String>,
    /// Pieces of a secret value cut by an unencoded `&`, counted, never named.
    pub(crate) secret_pieces: usize,
}

impl Dropped {
    pub(crate) fn is_empty(&self) -> bool {
        self.names.is_empty() && self.secret_pieces == 0
    }
}

/// `url` without the query parameters the driver does not know, and what was left out:
/// the driver would log each with its value (`sslpassword=…`) before stockdb could
/// redact it. `None` when the URL's parts cannot be told with certainty (see
/// [`redact_url`]): the driver might read a password as a host or a parameter, and log it.
pub(crate) fn known_parameters_only(url: &str) -> Option<(String, Dropped)> {
    let parts = UrlParts::split(url)?;
    let mut kept = Vec::new();
    let mut dropped = Dropped::default();
    for pair in parts.query.map(query_pairs).unwrap_or_default() {
        match pair {
            QueryPair::SecretPiece(_) => dropped.secret_pieces += 1,
            QueryPair::Plain(pair) | QueryPair::Secret(pair)
                if KNOWN_PARAMETERS.contains(&QueryPair::name(pair)) =>
            {
                kept.push(pair)
            }
            QueryPair::Plain(pair) | QueryPair::Secret(pair) => {
                dropped.names.push(QueryPair::name(pair).to_owned())
            }
        }
    }
    let mut clean = format!("{}://", parts.scheme);
    if let Some(userinfo) = parts.userinfo {
        clean.push_str(userinfo);
        clean.push('@');
    }
    clean.push_str(parts.location);
    if !kept.is_empty() {
        clean.push('?');
        clean.push_str(&kept.join("&"));
    }
    if let Some(fragment) = parts.fragment {
        clean.push('#');
        clean.push_str(fragment);
    }
    Some((clean, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_password_only() {
        assert_eq!(
            redact_url("postgres://app:s3cr%40t@db:5432/stock?sslmode=disable"),
            "postgres://app:***@db:5432/stock?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
        assert_eq!(
            redact_url("postgres:///x?host=/tmp"),
            "postgres:///x?host=/tmp"
        );
    }

    #[test]
    fn url_with_database_replaces_only_the_path() {
        assert_eq!(
            url_with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "x").unwrap(),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(
            url_with_database("postgres://h", "x").unwrap(),
            "postgres://h/x"
        );
        let err = url_with_database("postgres://u:pa/ss@h/x", "y").unwrap_err();
        assert!(!err.to_string().contains("pa/ss"), "{err}");
    }

    #[test]
    fn secrets_in_any_part_of_a_url_are_masked() {
        for (url, shown) in [
            (
                "postgres://app:hunter2@db/stock?sslmode=require&password=hunter2",
                "postgres://app:***@db/stock?sslmode=require&password=***",
            ),
            (
                "postgres://db/stock?user=app&password=hunter2",
                "postgres://db/stock?user=app&password=***",
            ),
            (
                "postgres://app@db/stock?sslpassword=hunter2",
                "postgres://app@db/stock?sslpassword=***",
            ),
            // Unencoded `/`, `?`, `#` or `@` in a password: still credentials.
            (
                "postgres://app:hun/ter2@db/stock",
                "postgres://app:***@db/stock",
            ),
            (
                "postgres://app:hun?ter2@db/stock",
                "postgres://app:***@db/stock",
            ),
            ("postgres://app:#hunter2@db/x", "postgres://app:***@db/x"),
            ("postgres://app:hun@ter2@db/x", "postgres://app:***@db/x"),
            ("postgres://app:1#hunter2@db/x", "postgres://app:***@db/x"),
            // A fragment is never shown; a percent-encoded secret name is still one.
            ("postgres://db/x#hunter2", "postgres://db/x"),
            (
                "postgres://db/x?pass%77ord=hunter2",
                "postgres://db/x?pass%77ord=***",
            ),
            // An unencoded `&` in a query password: the pieces up to the next parameter
            // the driver knows go with it.
            (
                "postgres://db/x?password=hun&ter2&x=hunter2&sslmode=disable",
                "postgres://db/x?password=***&sslmode=disable",
            ),
            // An `@` in the query moves the cut: nothing is shown rather than a guess.
            (
                "postgres://db/x?application_name=a@b&password=hunter2",
                UNPARSABLE_URL,
            ),
            // `@` in the password and in the fragment: either could be the cut.
            ("postgres://app:@hunter2@db/x#@hunter2", UNPARSABLE_URL),
            // A URL cut at a `,` inside its password (a list split in the wrong place).
            ("postgres://app:hunter2", UNPARSABLE_URL),
            ("postgres://[::1]:5432/x", "postgres://[::1]:5432/x"),
            ("not a url hunter2", UNPARSABLE_URL),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
            assert!(!redact_url(url).contains("hunter2"));
        }
    }

    #[test]
    fn parameters_the_driver_does_not_know_go_before_it_sees_them() {
        let (url, dropped) = known_parameters_only(
            "postgres://app:p@db/x?sslmode=require&sslpassword=hunter2&connect_timeout=5",
        )
        .unwrap();
        assert_eq!(url, "postgres://app:p@db/x?sslmode=require");
        assert_eq!(dropped.names, ["sslpassword", "connect_timeout"]);
        let (url, dropped) = known_parameters_only("postgres://db/x").unwrap();
        assert_eq!(
            (url.as_str(), dropped.is_empty()),
            ("postgres://db/x", true)
        );
        // An unencoded `&` in a password: its pieces are dropped unnamed, up to the next
        // parameter the driver knows.
        let (url, dropped) =
            known_parameters_only("postgres://db/x?password=a&b=c&d&sslmode=disable&e=1").unwrap();
        assert_eq!(url, "postgres://db/x?password=a&sslmode=disable");
        assert_eq!(dropped.names, ["e"]);
        assert_eq!(dropped.secret_pieces, 2);
        // A `?` in the password is not the query.
        let (url, _) = known_parameters_only("postgres://app:a?b@db/x?application_name=t").unwrap();
        assert_eq!(url, "postgres://app:a?b@db/x?application_name=t");
    }
}
