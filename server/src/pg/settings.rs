//! Per-session PostgreSQL settings (GUCs): what `SET`, `SHOW`, `current_setting`,
//! `set_config` and `pg_settings` see. Names are case-insensitive; engine options
//! (`datafusion.*`) are not stored here but passed to the engine.

use std::collections::BTreeMap;
use std::time::Duration;

/// A session's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Lower-cased name → (display name, value).
    values: BTreeMap<String, (String, String)>,
}

/// Settings PostgreSQL reports to the client at startup and whenever they change.
pub const REPORTED: &[&str] = &[
    "application_name",
    "client_encoding",
    "DateStyle",
    "default_transaction_read_only",
    "in_hot_standby",
    "integer_datetimes",
    "IntervalStyle",
    "is_superuser",
    "server_encoding",
    "server_version",
    "session_authorization",
    "standard_conforming_strings",
    "TimeZone",
];

impl Settings {
    /// The defaults of a new session for `user`, plus the startup packet's options.
    pub fn new(user: &str, max_connections: usize) -> Self {
        let mut s = Self {
            values: BTreeMap::new(),
        };
        let defaults: &[(&str, String)] = &[
            ("application_name", String::new()),
            ("bytea_output", "hex".into()),
            ("client_encoding", "UTF8".into()),
            ("client_min_messages", "notice".into()),
            ("DateStyle", "ISO, MDY".into()),
            ("default_transaction_isolation", "read committed".into()),
            ("default_transaction_read_only", "off".into()),
            ("extra_float_digits", "1".into()),
            ("in_hot_standby", "off".into()),
            ("integer_datetimes", "on".into()),
            ("IntervalStyle", "postgres".into()),
            ("is_superuser", "off".into()),
            ("jit", "off".into()),
            ("lc_collate", "C".into()),
            ("lc_ctype", "C".into()),
            ("lc_messages", "C".into()),
            ("lc_monetary", "C".into()),
            ("lc_numeric", "C".into()),
            ("lc_time", "C".into()),
            ("max_connections", max_connections.to_string()),
            ("max_identifier_length", "63".into()),
            ("search_path", "\"$user\", public".into()),
            ("server_encoding", "UTF8".into()),
            ("server_version", super::server_version()),
            ("server_version_num", super::PG_VERSION_NUM.into()),
            ("session_authorization", user.to_string()),
            ("standard_conforming_strings", "on".into()),
            ("statement_timeout", "0".into()),
            ("idle_in_transaction_session_timeout", "0".into()),
            ("lock_timeout", "0".into()),
            ("TimeZone", "UTC".into()),
            ("transaction_isolation", "read committed".into()),
            ("transaction_read_only", "off".into()),
            ("default_table_access_method", "heap".into()),
            ("block_size", "8192".into()),
        ];
        for (name, value) in defaults {
            s.values
                .insert(name.to_ascii_lowercase(), (name.to_string(), value.clone()));
        }
        s
    }

    /// The value of `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(&canonical(name)).map(|(_, v)| v.as_str())
    }

    /// The display name of a setting (`DateStyle`, `TimeZone`, …).
    pub fn display_name(&self, name: &str) -> String {
        self.values
            .get(&canonical(name))
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| name.to_ascii_lowercase())
    }

    /// Sets `name` (any name is accepted, as PostgreSQL accepts custom `a.b` settings).
    /// Returns an error for values that do not parse (`statement_timeout`).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let key = canonical(name);
        if key == "statement_timeout" {
            parse_duration_ms(value).ok_or_else(|| {
                format!("invalid value for parameter \"statement_timeout\": \"{value}\"")
            })?;
        }
        let display = self
            .values
            .get(&key)
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| name.to_string());
        self.values.insert(key, (display, value.to_string()));
        Ok(())
    }

    /// Every setting: (display name, value).
    pub fn all(&self) -> Vec<(String, String)> {
        self.values.values().cloned().collect()
    }

    /// `statement_timeout`, if set to more than zero.
    pub fn statement_timeout(&self) -> Option<Duration> {
        let ms = parse_duration_ms(self.get("statement_timeout")?)?;
        (ms > 0).then(|| Duration::from_millis(ms))
    }
}

fn canonical(name: &str) -> String {
    let n = name.trim().to_ascii_lowercase();
    match n.as_str() {
        "transaction isolation level" => "transaction_isolation".into(),
        "time zone" => "timezone".into(),
        "session authorization" => "session_authorization".into(),
        "names" => "client_encoding".into(),
        _ => n,
    }
}

/// Parses PostgreSQL durations: `1000` (ms), `500ms`, `2s`, `1min`, `1h`.
pub fn parse_duration_ms(value: &str) -> Option<u64> {
    let v = value.trim().trim_matches('\'').to_ascii_lowercase();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let n: u64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "us" => return Some(n / 1000),
        _ => return None,
    };
    n.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_timeouts_parse() {
        let mut s = Settings::new("hepq", 10);
        assert_eq!(s.get("datestyle"), Some("ISO, MDY"));
        assert_eq!(s.display_name("timezone"), "TimeZone");
        s.set("statement_timeout", "1500").unwrap();
        assert_eq!(s.statement_timeout(), Some(Duration::from_millis(1500)));
        s.set("statement_timeout", "2s").unwrap();
        assert_eq!(s.statement_timeout(), Some(Duration::from_secs(2)));
        assert!(s.set("statement_timeout", "soon").is_err());
        assert_eq!(s.get("transaction isolation level"), Some("read committed"));
    }
}
