//! SQL-level cursors: parsing `DECLARE`, `FETCH`, `MOVE` and `CLOSE`, and resolving a fetch
//! direction against the cursor's position.
//!
//! A cursor is a portal (the same namespace as the extended protocol's named portals, as in
//! PostgreSQL: psycopg 3 describes a cursor with a Describe-portal message) holding the
//! engine's record-batch stream, so `FETCH n` encodes and sends the next `n` rows and the
//! result is never materialised. Cursors only move forward: `PRIOR`, `BACKWARD`, `LAST`
//! and going back with `ABSOLUTE`/`RELATIVE` fail with 55000, as for a `NO SCROLL` cursor.
//!
//! The statements are parsed here rather than by the SQL parser: the cursor name may be a
//! keyword-like word and `MOVE` has no AST; the query of a `DECLARE` is handed back as text
//! for the normal parser.

use super::errors::PgError;

/// A word of a cursor statement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An unquoted word, lower-cased (PostgreSQL folds unquoted names).
    Word(String),
    /// A double-quoted identifier, as written.
    Quoted(String),
    /// An integer, with its sign.
    Number(i64),
}

impl Token {
    fn is(&self, keyword: &str) -> bool {
        matches!(self, Token::Word(w) if w == keyword)
    }
}

fn syntax(message: impl Into<String>) -> PgError {
    PgError::new("42601", message)
}

/// Splits `sql` into tokens up to the first `;` (or the end); returns them and the byte
/// offset after that `;`. With `stop_at_for`, stops before an unquoted `FOR` instead and
/// returns the offset of the text after it.
fn tokens(sql: &str, stop_at_for: bool) -> Result<(Vec<Token>, usize), PgError> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b';' {
            return Ok((out, i + 1));
        } else if c == b'-' && bytes.get(i + 1) == Some(&b'-') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if c == b'"' {
            let mut name = String::new();
            let mut j = i + 1;
            loop {
                match sql[j..].find('"') {
                    None => return Err(syntax("unterminated quoted identifier")),
                    Some(k) => {
                        name.push_str(&sql[j..j + k]);
                        j += k + 1;
                        if bytes.get(j) == Some(&b'"') {
                            name.push('"');
                            j += 1;
                        } else {
                            break;
                        }
                    }
                }
            }
            out.push(Token::Quoted(name));
            i = j;
        } else if c.is_ascii_digit() || ((c == b'-' || c == b'+') && i + 1 < bytes.len()) {
            let start = i;
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let text = &sql[start..i];
            let n = text
                .parse::<i64>()
                .map_err(|_| syntax(format!("syntax error at or near \"{text}\"")))?;
            out.push(Token::Number(n));
        } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80)
            {
                i += 1;
            }
            let word = sql[start..i].to_lowercase();
            if stop_at_for && word == "for" {
                return Ok((out, i));
            }
            out.push(Token::Word(word));
        } else {
            let rest: String = sql[i..].chars().take(10).collect();
            return Err(syntax(format!("syntax error at or near \"{rest}\"")));
        }
    }
    if stop_at_for {
        return Err(syntax("syntax error: DECLARE … CURSOR needs FOR query"));
    }
    Ok((out, bytes.len()))
}

fn name_of(t: &Token) -> Result<String, PgError> {
    match t {
        Token::Word(w) | Token::Quoted(w) => Ok(w.clone()),
        Token::Number(n) => Err(syntax(format!("syntax error at or near \"{n}\""))),
    }
}

/// The head of `DECLARE name [BINARY] [ASENSITIVE | INSENSITIVE] [[NO] SCROLL] CURSOR
/// [{WITH | WITHOUT} HOLD] FOR query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclareHead {
    /// The cursor's name.
    pub name: String,
    /// `BINARY`.
    pub binary: bool,
    /// `WITH HOLD`.
    pub hold: bool,
    /// Byte offset of the query in the statement text.
    pub query_at: usize,
}

/// Parses a `DECLARE … CURSOR … FOR` head (`sql` starts with `DECLARE`).
pub fn parse_declare(sql: &str) -> Result<DeclareHead, PgError> {
    let (t, query_at) = tokens(sql, true)?;
    if !t.first().is_some_and(|k| k.is("declare")) {
        return Err(syntax("expected DECLARE"));
    }
    let name = name_of(
        t.get(1)
            .ok_or_else(|| syntax("DECLARE needs a cursor name"))?,
    )?;
    let mut head = DeclareHead {
        name,
        binary: false,
        hold: false,
        query_at,
    };
    let mut k = 2;
    let mut saw_cursor = false;
    while k < t.len() {
        let word = match &t[k] {
            Token::Word(w) => w.as_str(),
            other => return Err(syntax(format!("syntax error at or near {other:?}"))),
        };
        match word {
            "binary" => head.binary = true,
            "asensitive" | "insensitive" | "scroll" => {}
            "no" if t.get(k + 1).is_some_and(|n| n.is("scroll")) => k += 1,
            "cursor" => saw_cursor = true,
            "with" | "without" if t.get(k + 1).is_some_and(|n| n.is("hold")) => {
                head.hold = word == "with";
                k += 1;
            }
            other => return Err(syntax(format!("syntax error at or near \"{other}\""))),
        }
        k += 1;
    }
    if !saw_cursor {
        return Err(syntax("syntax error: DECLARE needs CURSOR"));
    }
    Ok(head)
}

/// Where a `FETCH`/`MOVE` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The next `n` rows (`None`: all the rest).
    Forward(Option<u64>),
    /// The row with this 1-based number.
    Absolute(i64),
    /// The row this many rows ahead.
    Relative(i64),
    /// A backward move (`PRIOR`, `BACKWARD`, `LAST`, a negative count): not supported.
    Backward(&'static str),
}

/// A parsed `FETCH`/`MOVE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSpec {
    /// The cursor.
    pub name: String,
    /// The direction.
    pub direction: Direction,
}

fn count(t: &Token) -> Result<i64, PgError> {
    match t {
        Token::Number(n) => Ok(*n),
        other => Err(syntax(format!(
            "syntax error at or near {other:?}: expected a row count"
        ))),
    }
}

fn forward(n: i64) -> Direction {
    if n < 0 {
        Direction::Backward("a negative count")
    } else {
        Direction::Forward(Some(n as u64))
    }
}

/// Parses `FETCH`/`MOVE [direction] [FROM | IN] name`; returns it, the keyword (`fetch` or
/// `move`) and the offset of any statements after it.
pub fn parse_fetch(sql: &str) -> Result<(FetchSpec, bool, usize), PgError> {
    let (t, rest) = tokens(sql, false)?;
    let is_move = match t.first() {
        Some(k) if k.is("fetch") => false,
        Some(k) if k.is("move") => true,
        _ => return Err(syntax("expected FETCH or MOVE")),
    };
    let Some(last) = t.last().filter(|_| t.len() >= 2) else {
        return Err(syntax("FETCH needs a cursor name"));
    };
    let name = name_of(last)?;
    let mut words = &t[1..t.len() - 1];
    if let Some(w) = words.last()
        && (w.is("from") || w.is("in"))
    {
        words = &words[..words.len() - 1];
    }
    let direction = match words {
        [] => Direction::Forward(Some(1)),
        [w] if w.is("next") || w.is("forward") => Direction::Forward(Some(1)),
        [w] if w.is("all") => Direction::Forward(None),
        [w] if w.is("first") => Direction::Absolute(1),
        [w] if w.is("prior") => Direction::Backward("PRIOR"),
        [w] if w.is("last") => Direction::Backward("LAST"),
        [w] if w.is("backward") => Direction::Backward("BACKWARD"),
        [Token::Number(n)] => forward(*n),
        [f, w] if f.is("forward") && w.is("all") => Direction::Forward(None),
        [f, n] if f.is("forward") => forward(count(n)?),
        [b, _] if b.is("backward") => Direction::Backward("BACKWARD"),
        [a, n] if a.is("absolute") => Direction::Absolute(count(n)?),
        [r, n] if r.is("relative") => Direction::Relative(count(n)?),
        _ => {
            return Err(syntax(format!(
                "syntax error in {}",
                if is_move { "MOVE" } else { "FETCH" }
            )));
        }
    };
    Ok((FetchSpec { name, direction }, is_move, rest))
}

/// Parses `CLOSE name | ALL`; returns the name (`None` for `ALL`) and the offset of any
/// statements after it.
pub fn parse_close(sql: &str) -> Result<(Option<String>, usize), PgError> {
    let (t, rest) = tokens(sql, false)?;
    match t.as_slice() {
        [c, a] if c.is("close") && a.is("all") => Ok((None, rest)),
        [c, n] if c.is("close") => Ok((Some(name_of(n)?), rest)),
        _ => Err(syntax("syntax error: expected CLOSE name or CLOSE ALL")),
    }
}

/// How many rows to skip and then return (`None`: all the rest) for `direction` from
/// `position`. `MOVE` returns none: it skips to the row a `FETCH` would return.
pub fn resolve(
    direction: Direction,
    position: u64,
    is_move: bool,
) -> Result<(u64, Option<u64>), PgError> {
    let backward = || {
        PgError::new(
            "55000",
            "cursor can only scan forward (hepq cursors do not support PRIOR, BACKWARD, LAST \
             or moving back)",
        )
    };
    // The row to stand on, for ABSOLUTE and RELATIVE.
    let target = match direction {
        Direction::Backward(_) => return Err(backward()),
        Direction::Forward(Some(0)) if !is_move => {
            return Err(PgError::new(
                "0A000",
                "FETCH 0 (re-reading the current row) is not supported",
            ));
        }
        Direction::Forward(n) => {
            return Ok(if is_move {
                (n.unwrap_or(u64::MAX), Some(0))
            } else {
                (0, n)
            });
        }
        Direction::Absolute(k) => k,
        Direction::Relative(k) => (position as i64).saturating_add(k),
    };
    let ahead = target - position as i64;
    if ahead < 0 || (ahead == 0 && !(is_move || target == 0)) {
        return Err(backward());
    }
    let ahead = ahead as u64;
    Ok(if is_move {
        (ahead, Some(0))
    } else if ahead == 0 {
        (0, Some(0))
    } else {
        (ahead - 1, Some(1))
    })
}

/// Splits a message of several statements at its top-level `;` (outside quotes, dollar
/// quotes and comments); returns the non-empty statements.
pub fn split_statements(sql: &str) -> Vec<&str> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => {
                let quote = bytes[i];
                // E'…' strings escape with backslashes; others double the quote.
                let escapes = quote == b'\''
                    && i > 0
                    && matches!(bytes[i - 1], b'e' | b'E')
                    && (i < 2 || !(bytes[i - 2].is_ascii_alphanumeric() || bytes[i - 2] == b'_'));
                i += 1;
                while i < bytes.len() {
                    if escapes && bytes[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if bytes[i] == quote {
                        if bytes.get(i + 1) == Some(&quote) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut depth = 0usize;
                while i < bytes.len() {
                    if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                        depth = depth.saturating_sub(1);
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'$' => {
                // A dollar quote $tag$…$tag$ (the tag may be empty); `$1` is a parameter.
                let rest = &sql[i + 1..];
                let tag_len = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                let is_quote = rest[tag_len..].starts_with('$')
                    && !rest.starts_with(|c: char| c.is_ascii_digit());
                if is_quote {
                    let tag = &sql[i..i + tag_len + 2];
                    let body = i + tag_len + 2;
                    i = sql[body..]
                        .find(tag)
                        .map_or(bytes.len(), |k| body + k + tag.len());
                } else {
                    i += 1;
                }
            }
            b';' => {
                let piece = sql[start..i].trim();
                if !piece.is_empty() {
                    out.push(piece);
                }
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    let piece = sql[start.min(sql.len())..].trim();
    if !piece.is_empty() {
        out.push(piece);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn declare_heads() {
        let sql = "DECLARE \"My \"\"c\"\"\" BINARY NO SCROLL CURSOR WITH HOLD FOR SELECT 1";
        let h = parse_declare(sql).unwrap();
        assert_eq!(h.name, "My \"c\"");
        assert!(h.binary && h.hold);
        assert_eq!(sql[h.query_at..].trim(), "SELECT 1");
        let h = parse_declare("declare C cursor without hold for select 2").unwrap();
        assert_eq!((h.name.as_str(), h.binary, h.hold), ("c", false, false));
        assert!(parse_declare("DECLARE c FOR SELECT 1").is_err());
        assert!(parse_declare("DECLARE c CURSOR SELECT 1").is_err());
    }

    #[test]
    fn fetch_directions() {
        let d = |sql: &str| parse_fetch(sql).unwrap().0.direction;
        assert_eq!(
            d("FETCH FORWARD 10 FROM \"c\""),
            Direction::Forward(Some(10))
        );
        assert_eq!(d("fetch all in c"), Direction::Forward(None));
        assert_eq!(d("FETCH NEXT FROM c"), Direction::Forward(Some(1)));
        assert_eq!(d("FETCH c"), Direction::Forward(Some(1)));
        assert_eq!(d("FETCH 5 c"), Direction::Forward(Some(5)));
        assert_eq!(d("MOVE ABSOLUTE 7 FROM c"), Direction::Absolute(7));
        assert_eq!(
            d("FETCH -1 FROM c"),
            Direction::Backward("a negative count")
        );
        let (spec, is_move, rest) = parse_fetch("MOVE 3 FROM c; SELECT 1").unwrap();
        assert!(is_move && spec.name == "c");
        assert_eq!(&"MOVE 3 FROM c; SELECT 1"[rest..], " SELECT 1");
        assert_eq!(parse_close("CLOSE ALL").unwrap().0, None);
        assert_eq!(parse_close("CLOSE \"c\"").unwrap().0.as_deref(), Some("c"));
    }

    #[test]
    fn statements_split_outside_quotes() {
        assert_eq!(
            split_statements("SELECT ';' AS \"a;b\"; MOVE 4 FROM m ; -- x;y\nFETCH 2 FROM m;"),
            vec![
                "SELECT ';' AS \"a;b\"",
                "MOVE 4 FROM m",
                "-- x;y\nFETCH 2 FROM m"
            ]
        );
        assert_eq!(
            split_statements("SELECT $$a;b$$, $t$;$t$, E'\\';', $1 /* ; /* ; */ */; ;"),
            vec!["SELECT $$a;b$$, $t$;$t$, E'\\';', $1 /* ; /* ; */ */"]
        );
        assert_eq!(
            split_statements("SELECT 'unterminated;"),
            vec!["SELECT 'unterminated;"]
        );
    }

    #[test]
    fn resolving_against_the_position() {
        assert_eq!(
            resolve(Direction::Forward(Some(5)), 3, false).unwrap(),
            (0, Some(5))
        );
        assert_eq!(
            resolve(Direction::Forward(None), 3, true).unwrap(),
            (u64::MAX, Some(0))
        );
        assert_eq!(
            resolve(Direction::Absolute(10), 3, false).unwrap(),
            (6, Some(1))
        );
        assert_eq!(
            resolve(Direction::Absolute(10), 3, true).unwrap(),
            (7, Some(0))
        );
        assert_eq!(
            resolve(Direction::Relative(2), 3, false).unwrap(),
            (1, Some(1))
        );
        assert!(resolve(Direction::Absolute(2), 3, false).is_err());
        assert!(resolve(Direction::Absolute(3), 3, false).is_err());
        assert_eq!(
            resolve(Direction::Absolute(3), 3, true).unwrap(),
            (0, Some(0))
        );
        assert!(resolve(Direction::Backward("PRIOR"), 3, true).is_err());
        assert!(resolve(Direction::Forward(Some(0)), 3, false).is_err());
    }
}
