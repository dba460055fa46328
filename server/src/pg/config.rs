//! The `hepq serve --config FILE` file, in a small subset of TOML (`key = value` lines, a
//! `[users]` table, `#` comments, double-quoted strings and integers):
//!
//! ```toml
//! listen = "0.0.0.0:5433"          # optional; --listen wins
//! max_connections = 200            # optional; --max-connections wins
//! auth = "scram-sha-256"           # trust | password | md5 | scram-sha-256
//! read_only_users = ["viewer"]     # optional: these users' sessions are read-only
//! read_only = false                # optional: true makes every session read-only
//!
//! [users]                          # password hashes as PostgreSQL stores them
//! alice = "SCRAM-SHA-256$4096:…$…:…" # from `hepq serve --hash-password`
//! bob = "md5…"                     # md5 + hex(md5(password + user name))
//!
//! [tls]                            # optional; the server refuses to start if these fail
//! cert = "server.crt"              # PEM certificate chain
//! key = "server.key"               # PEM private key
//! ```

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;

use super::auth::{Method, Secret};

/// The parsed config file.
#[derive(Debug, Default)]
pub struct Config {
    /// Listen address.
    pub listen: Option<SocketAddr>,
    /// Connection limit.
    pub max_connections: Option<usize>,
    /// Authentication method.
    pub auth: Option<Method>,
    /// User name → password hash.
    pub users: BTreeMap<String, String>,
    /// `[tls] cert = "…"`: PEM certificate chain.
    pub tls_cert: Option<std::path::PathBuf>,
    /// `[tls] key = "…"`: PEM private key.
    pub tls_key: Option<std::path::PathBuf>,
    /// `read_only_users = ["…", …]`: users whose sessions are read-only.
    pub read_only_users: Vec<String>,
    /// `read_only = true`: every session is read-only.
    pub read_only: Option<bool>,
}

/// A `["a", "b"]` array of quoted strings.
fn string_array(value: &str) -> Option<Vec<String>> {
    let inner = value.strip_prefix('[')?.strip_suffix(']')?.trim();
    if inner.is_empty() {
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    let mut rest = inner;
    loop {
        let rest_trimmed = rest.trim_start();
        let body = rest_trimmed.strip_prefix('"')?;
        // The closing quote: the first `"` not escaped by a backslash.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let end = end?;
        out.push(unquote(&rest_trimmed[..end + 2])?);
        let after = body[end + 1..].trim_start();
        if after.is_empty() {
            return Some(out);
        }
        rest = after.strip_prefix(',')?;
        if rest.trim().is_empty() {
            return Some(out);
        }
    }
}

fn unquote(value: &str) -> Option<String> {
    let inner = value.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// Drops a `#` comment that is not inside a string.
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' if quoted => escaped = !escaped,
            '"' if !escaped => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    line
}

impl Config {
    /// Reads and checks `path`; errors name the file, line and problem.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file '{}': {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("config file '{}': {e}", path.display()))
    }

    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut config = Config::default();
        let mut section = String::new();
        for (n, raw) in text.lines().enumerate() {
            let line = strip_comment(raw).trim();
            let at = |m: String| format!("line {}: {m}", n + 1);
            if line.is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim().to_string();
                if section != "users" && section != "tls" {
                    return Err(at(format!(
                        "unknown section [{section}] (expected [users] or [tls])"
                    )));
                }
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| at("expected key = value".into()))?;
            let key = key.trim().trim_matches('"').to_string();
            let value = value.trim();
            let string =
                || unquote(value).ok_or_else(|| at(format!("{key}: expected a \"quoted string\"")));
            if section == "tls" {
                match key.as_str() {
                    "cert" => config.tls_cert = Some(string()?.into()),
                    "key" => config.tls_key = Some(string()?.into()),
                    other => {
                        return Err(at(format!(
                            "[tls]: unknown key '{other}' (expected cert or key)"
                        )));
                    }
                }
                continue;
            }
            if section == "users" {
                let hash = string()?;
                config.users.insert(key, hash);
                continue;
            }
            match key.as_str() {
                "listen" => {
                    config.listen = Some(string()?.parse().map_err(|e| at(format!("listen: {e}")))?)
                }
                "max_connections" => {
                    config.max_connections = Some(
                        value
                            .parse()
                            .map_err(|_| at("max_connections: expected an integer".into()))?,
                    )
                }
                "auth" => config.auth = Some(Method::parse(&string()?).map_err(at)?),
                "read_only_users" => {
                    config.read_only_users = string_array(value).ok_or_else(|| {
                        at("read_only_users: expected an array of \"quoted\" user names".into())
                    })?
                }
                "read_only" => {
                    config.read_only = Some(match value {
                        "true" => true,
                        "false" => false,
                        _ => return Err(at("read_only: expected true or false".into())),
                    })
                }
                other => {
                    return Err(at(format!(
                        "unknown key '{other}' (expected listen, max_connections, auth, \
                         read_only_users, read_only or [users])"
                    )));
                }
            }
        }
        Ok(config)
    }

    /// The users with parsed password hashes.
    pub fn secrets(&self) -> Result<HashMap<String, Secret>, String> {
        self.users
            .iter()
            .map(|(user, hash)| {
                Secret::parse(hash)
                    .map(|s| (user.clone(), s))
                    .map_err(|e| format!("config file: user '{user}': {e}"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let c = Config::parse(
            "# hepq\nauth = \"md5\"  # comment\nmax_connections = 7\n[users]\nbob = \"md5a2f9c5d4a2b7d27b8a3f4d7ddc0d7d58\"\n",
        )
        .unwrap();
        assert_eq!(c.auth, Some(Method::Md5));
        assert_eq!(c.max_connections, Some(7));
        assert_eq!(c.secrets().unwrap().len(), 1);
        assert!(Config::parse("auth = \"kerberos\"").is_err());
        assert!(Config::parse("colour = 1").is_err());
        assert!(Config::parse("[tls]\ncolour = \"x\"").is_err());
        assert!(Config::parse("[ssl]").is_err());
        assert!(Config::parse("auth = md5").is_err());
        let bad = Config::parse("[users]\nx = \"hunter2\"").unwrap();
        assert!(bad.secrets().is_err());
        let ro = Config::parse(
            "read_only_users = [\"viewer\", \"a,\\\"b\"]  # two\nread_only = false\n",
        )
        .unwrap();
        assert_eq!(
            ro.read_only_users,
            vec!["viewer".to_string(), "a,\"b".to_string()]
        );
        assert_eq!(ro.read_only, Some(false));
        assert!(Config::parse("read_only_users = [viewer]").is_err());
        assert!(Config::parse("read_only_users = \"viewer\"").is_err());
        assert!(Config::parse("read_only = yes").is_err());
        assert_eq!(
            Config::parse("read_only_users = []")
                .unwrap()
                .read_only_users,
            Vec::<String>::new()
        );
    }
}
