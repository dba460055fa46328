//! hepq's statements beyond DataFusion's: materialised views.
//!
//! [`parse_sql`] splits a script as DataFusion's parser does, but parses these itself:
//!
//! * `CREATE [OR REPLACE] MATERIALIZED VIEW [IF NOT EXISTS] name [PARTITIONED BY (cols)]
//!   [WITH (key = 'value', …)] AS query [WITH [NO] DATA]` — sqlparser has no `PARTITIONED BY`
//!   for views; the columns travel as the option `partitioned_by` of the `CREATE VIEW`
//!   statement it returns, and `WITH NO DATA` as `populate = 'false'`.
//! * `REFRESH MATERIALIZED VIEW name [FULL]` — sqlparser has none; it becomes
//!   `CALL hepq_refresh_materialized_view('name', 'full'|'auto')`, which only the session runs.
//!
//! `DROP MATERIALIZED VIEW` and `SHOW MATERIALIZED VIEWS` parse as sqlparser parses them.
//! [`classify`] tells the session which of these a parsed statement is.

use std::collections::VecDeque;

use datafusion::common::{DataFusionError, Result};
use datafusion::sql::parser::{DFParserBuilder, Statement};
use datafusion::sql::sqlparser::ast::{
    ColumnDef, CreateTableOptions, DataType as SqlDataType, Expr, FunctionArg, FunctionArgExpr,
    FunctionArguments, HiveDistributionStyle, Ident, ObjectName, ObjectType, Query, SqlOption,
    Statement as SqlStatement, Value,
};
use datafusion::sql::sqlparser::dialect::Dialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{IsOptional, Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

/// The procedure a `REFRESH MATERIALIZED VIEW` statement is carried as.
pub const REFRESH_PROCEDURE: &str = "hepq_refresh_materialized_view";

/// The `CREATE VIEW` option that carries `WITH NO DATA` (`'false'`).
pub const POPULATE_OPTION: &str = "populate";

/// The `CREATE VIEW` option that carries `PARTITIONED BY`.
pub const PARTITIONED_BY_OPTION: &str = "partitioned_by";

/// Parses every `;`-separated statement of `sql` with `dialect`, hepq's statements included.
pub fn parse_sql(sql: &str, dialect: &dyn Dialect) -> Result<VecDeque<Statement>> {
    let mut parser = DFParserBuilder::new(sql).with_dialect(dialect).build()?;
    let mut statements = VecDeque::new();
    let mut expecting_delimiter = false;
    loop {
        while parser.parser.consume_token(&Token::SemiColon) {
            expecting_delimiter = false;
        }
        if parser.parser.peek_token() == Token::EOF {
            break;
        }
        if expecting_delimiter {
            let found = parser.parser.peek_token();
            return Err(DataFusionError::SQL(
                Box::new(ParserError::ParserError(format!(
                    "Expected: end of statement, found: {found}{}",
                    found.span.start
                ))),
                None,
            ));
        }
        let statement = match extension(&mut parser.parser, dialect) {
            Some(parsed) => parsed.map_err(|e| DataFusionError::SQL(Box::new(e), None))?,
            None => parser.parse_statement()?,
        };
        statements.push_back(statement);
        expecting_delimiter = true;
    }
    Ok(statements)
}

fn word_is(parser: &Parser, n: usize, keyword: Keyword) -> bool {
    matches!(parser.peek_nth_token(n).token, Token::Word(w) if w.keyword == keyword)
}

/// Parses one of hepq's statements if the parser stands at one.
fn extension(
    parser: &mut Parser,
    dialect: &dyn Dialect,
) -> Option<std::result::Result<Statement, ParserError>> {
    if word_is(parser, 0, Keyword::CREATE) {
        let offset = if word_is(parser, 1, Keyword::OR) && word_is(parser, 2, Keyword::REPLACE) {
            2
        } else {
            0
        };
        if word_is(parser, offset + 1, Keyword::MATERIALIZED)
            && word_is(parser, offset + 2, Keyword::VIEW)
        {
            return Some(parse_create_materialized_view(parser, dialect, offset > 0));
        }
    }
    if word_is(parser, 0, Keyword::CREATE)
        && let Some(parsed) = create_table_with_transforms(parser, dialect)
    {
        return Some(parsed);
    }
    if word_is(parser, 0, Keyword::REFRESH)
        && word_is(parser, 1, Keyword::MATERIALIZED)
        && word_is(parser, 2, Keyword::VIEW)
    {
        return Some(parse_refresh(parser, dialect));
    }
    None
}

/// `CREATE TABLE … PARTITIONED BY (bucket(16, event), truncate(4, name), run) …` (Spark's and
/// Iceberg's way to write partition transforms), which sqlparser cannot parse: the clause is
/// cut out, the rest parsed as usual, and the fields put back as the Hive distribution
/// `PARTITIONED BY (event bucket(16), name truncate(4), run)` that [`crate::iceberg`] reads.
/// `None` when the statement is no such `CREATE TABLE`.
fn create_table_with_transforms(
    parser: &mut Parser,
    dialect: &dyn Dialect,
) -> Option<std::result::Result<Statement, ParserError>> {
    // CREATE [OR REPLACE] [TEMPORARY] TABLE
    let table_at = (1..=4).find(|&i| word_is(parser, i, Keyword::TABLE))?;
    let mut depth = 0usize;
    let mut clause = None;
    let mut end = 0;
    loop {
        let token = parser.peek_nth_token(end).token;
        match token {
            Token::EOF => break,
            Token::SemiColon if depth == 0 => break,
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Word(w)
                if depth == 0
                    && end > table_at
                    && w.keyword == Keyword::PARTITIONED
                    && word_is(parser, end + 1, Keyword::BY)
                    && parser.peek_nth_token(end + 2).token == Token::LParen =>
            {
                clause.get_or_insert(end);
            }
            _ => {}
        }
        end += 1;
    }
    let start = clause?;
    // The clause's parenthesised list: tokens start+3 .. close.
    let mut depth = 0usize;
    let mut close = None;
    for i in start + 2..end {
        match parser.peek_nth_token(i).token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close?;
    let inner: Vec<_> = (start + 3..close)
        .map(|i| parser.peek_nth_token(i))
        .collect();
    if !inner.iter().any(|t| t.token == Token::LParen) {
        // Plain columns: sqlparser parses those itself.
        return None;
    }
    let rest: Vec<_> = (0..end)
        .filter(|i| *i < start || *i > close)
        .map(|i| parser.peek_nth_token(i))
        .collect();
    for _ in 0..end {
        parser.next_token();
    }
    Some((|| {
        let mut fields = Parser::new(dialect).with_tokens_with_locations(inner);
        let exprs = fields.parse_comma_separated(Parser::parse_expr)?;
        let trailing = fields.peek_token();
        if trailing.token != Token::EOF {
            return Err(ParserError::ParserError(format!(
                "PARTITIONED BY: expected a column, bucket(N, column) or truncate(W, column), \
                 found {trailing}"
            )));
        }
        let mut columns = Vec::with_capacity(exprs.len());
        for expr in exprs {
            columns.push(partition_column(expr)?);
        }
        let mut statement = Parser::new(dialect)
            .with_tokens_with_locations(rest)
            .parse_statement()?;
        match &mut statement {
            SqlStatement::CreateTable(create) => {
                create.hive_distribution = HiveDistributionStyle::PARTITIONED { columns };
            }
            _ => {
                return Err(ParserError::ParserError(
                    "PARTITIONED BY (…) with transforms belongs to CREATE TABLE".into(),
                ));
            }
        }
        Ok(Statement::Statement(Box::new(statement)))
    })())
}

/// One field of `PARTITIONED BY (…)`: a column, or `bucket(N, column)` / `truncate(W, column)`.
fn partition_column(expr: Expr) -> std::result::Result<ColumnDef, ParserError> {
    let bad = |what: &str| {
        ParserError::ParserError(format!(
            "PARTITIONED BY: expected a column, bucket(N, column) or truncate(W, column),              found {what}"
        ))
    };
    match expr {
        Expr::Identifier(name) => Ok(ColumnDef {
            name,
            data_type: SqlDataType::Unspecified,
            options: vec![],
        }),
        Expr::Function(f) => {
            let function = f.name.to_string();
            let FunctionArguments::List(list) = &f.args else {
                return Err(bad(&function));
            };
            let args: Vec<&Expr> = list
                .args
                .iter()
                .filter_map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                    _ => None,
                })
                .collect();
            match args.as_slice() {
                [Expr::Value(n), Expr::Identifier(column)] => Ok(ColumnDef {
                    name: column.clone(),
                    data_type: SqlDataType::Custom(
                        ObjectName::from(vec![Ident::new(function)]),
                        vec![n.value.to_string()],
                    ),
                    options: vec![],
                }),
                _ => Err(bad(&format!("{function}(…)"))),
            }
        }
        other => Err(bad(&other.to_string())),
    }
}

fn parse_create_materialized_view(
    parser: &mut Parser,
    dialect: &dyn Dialect,
    or_replace: bool,
) -> std::result::Result<Statement, ParserError> {
    parser.expect_keyword_is(Keyword::CREATE)?;
    if or_replace {
        parser.expect_keyword_is(Keyword::OR)?;
        parser.expect_keyword_is(Keyword::REPLACE)?;
    }
    parser.expect_keyword_is(Keyword::MATERIALIZED)?;
    parser.expect_keyword_is(Keyword::VIEW)?;
    let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = parser.parse_object_name(false)?;
    let mut partitioned_by: Vec<Ident> = Vec::new();
    let mut options: Vec<SqlOption> = Vec::new();
    loop {
        if parser.parse_keywords(&[Keyword::PARTITIONED, Keyword::BY]) {
            partitioned_by =
                parser.parse_parenthesized_column_list(IsOptional::Mandatory, false)?;
        } else if word_is(parser, 0, Keyword::WITH)
            && parser.peek_nth_token(1).token == Token::LParen
        {
            options.extend(parser.parse_options(Keyword::WITH)?);
        } else {
            break;
        }
    }
    parser.expect_keyword_is(Keyword::AS)?;
    let query = parser.parse_query()?;
    // PostgreSQL's `… AS query WITH [NO] DATA`.
    if parser.parse_keywords(&[Keyword::WITH, Keyword::NO, Keyword::DATA]) {
        options.push(SqlOption::KeyValue {
            key: Ident::new(POPULATE_OPTION),
            value: Expr::Value(Value::SingleQuotedString("false".into()).into()),
        });
    } else {
        // `WITH DATA` is the default.
        let _ = parser.parse_keywords(&[Keyword::WITH, Keyword::DATA]);
    }
    if !partitioned_by.is_empty() {
        let columns: Vec<String> = partitioned_by.iter().map(|i| i.value.clone()).collect();
        options.push(SqlOption::KeyValue {
            key: Ident::new(PARTITIONED_BY_OPTION),
            value: Expr::Value(Value::SingleQuotedString(columns.join(",")).into()),
        });
    }
    // sqlparser builds the statement (its struct has many dialect-specific fields); the parts
    // parsed here go in.
    let mut template = Parser::new(dialect)
        .try_with_sql("CREATE MATERIALIZED VIEW v AS SELECT 1")?
        .parse_statement()?;
    match &mut template {
        SqlStatement::CreateView(view) => {
            view.name = name;
            view.or_replace = or_replace;
            view.if_not_exists = if_not_exists;
            view.query = query;
            view.options = if options.is_empty() {
                CreateTableOptions::None
            } else {
                CreateTableOptions::With(options)
            };
        }
        _ => {
            return Err(ParserError::ParserError(
                "cannot build CREATE MATERIALIZED VIEW".into(),
            ));
        }
    }
    Ok(Statement::Statement(Box::new(template)))
}

fn parse_refresh(
    parser: &mut Parser,
    dialect: &dyn Dialect,
) -> std::result::Result<Statement, ParserError> {
    parser.expect_keyword_is(Keyword::REFRESH)?;
    parser.expect_keyword_is(Keyword::MATERIALIZED)?;
    parser.expect_keyword_is(Keyword::VIEW)?;
    let name = parser.parse_object_name(false)?;
    let full = parser.parse_keyword(Keyword::FULL);
    let call = format!(
        "CALL {REFRESH_PROCEDURE}({}, '{}')",
        quote(&name.to_string()),
        if full { "full" } else { "auto" }
    );
    let statement = Parser::new(dialect)
        .try_with_sql(&call)?
        .parse_statement()?;
    Ok(Statement::Statement(Box::new(statement)))
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// One of hepq's materialised-view statements, as parsed.
#[derive(Debug, Clone)]
pub enum Extension {
    /// `CREATE [OR REPLACE] MATERIALIZED VIEW …`.
    Create {
        /// The view's name as written.
        name: ObjectName,
        /// `OR REPLACE`.
        or_replace: bool,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// `PARTITIONED BY` columns.
        partitioned_by: Vec<String>,
        /// `WITH (…)` options, keys in lower case.
        options: Vec<(String, String)>,
        /// The defining query.
        query: Box<Query>,
    },
    /// `REFRESH MATERIALIZED VIEW name [FULL]`.
    Refresh {
        /// The view's name as written (parsed back from the call).
        name: String,
        /// `FULL`: recompute everything even where an incremental refresh would do.
        full: bool,
    },
    /// `DROP MATERIALIZED VIEW [IF EXISTS] names`.
    Drop {
        /// The views.
        names: Vec<ObjectName>,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `SHOW MATERIALIZED VIEWS`.
    Show,
}

fn literal_text(expr: &Expr) -> String {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        Expr::Identifier(ident) => ident.value.clone(),
        other => other.to_string(),
    }
}

/// Which materialised-view statement `statement` is, if any.
pub fn classify(statement: &Statement) -> Option<Extension> {
    let Statement::Statement(inner) = statement else {
        return None;
    };
    match inner.as_ref() {
        SqlStatement::CreateView(view) if view.materialized => {
            let mut partitioned_by = Vec::new();
            let mut options = Vec::new();
            let given: &[SqlOption] = match &view.options {
                CreateTableOptions::With(o) | CreateTableOptions::Options(o) => o,
                _ => &[],
            };
            for option in given {
                if let SqlOption::KeyValue { key, value } = option {
                    let key = key.value.to_ascii_lowercase();
                    let value = literal_text(value);
                    if key == PARTITIONED_BY_OPTION {
                        partitioned_by = value
                            .split(',')
                            .map(|c| c.trim().to_string())
                            .filter(|c| !c.is_empty())
                            .collect();
                    } else {
                        options.push((key, value));
                    }
                }
            }
            Some(Extension::Create {
                name: view.name.clone(),
                or_replace: view.or_replace,
                if_not_exists: view.if_not_exists,
                partitioned_by,
                options,
                query: view.query.clone(),
            })
        }
        SqlStatement::Call(function)
            if function
                .name
                .to_string()
                .eq_ignore_ascii_case(REFRESH_PROCEDURE) =>
        {
            let FunctionArguments::List(list) = &function.args else {
                return None;
            };
            let texts: Vec<String> = list
                .args
                .iter()
                .filter_map(|arg| match arg {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(literal_text(e)),
                    _ => None,
                })
                .collect();
            let name = texts.first()?.clone();
            let full = texts.get(1).is_some_and(|m| m.eq_ignore_ascii_case("full"));
            Some(Extension::Refresh { name, full })
        }
        SqlStatement::Drop {
            object_type: ObjectType::MaterializedView,
            names,
            if_exists,
            ..
        } => Some(Extension::Drop {
            names: names.clone(),
            if_exists: *if_exists,
        }),
        SqlStatement::ShowViews {
            materialized: true, ..
        } => Some(Extension::Show),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::dialect::HepqDialect;

    #[test]
    fn materialized_view_statements_parse() {
        let sql = "CREATE MATERIALIZED VIEW lhc.skim PARTITIONED BY (run) \
                   WITH (refresh = 'every 1 hour', format = 'parquet') AS \
                   SELECT run, list_len(Jet_pt) AS n FROM events WHERE nMuon = 2 WITH NO DATA; \
                   REFRESH MATERIALIZED VIEW lhc.skim FULL; refresh materialized view \"Odd\"; \
                   DROP MATERIALIZED VIEW IF EXISTS lhc.skim; SHOW MATERIALIZED VIEWS; SELECT 1";
        let statements = parse_sql(sql, &HepqDialect).unwrap();
        assert_eq!(statements.len(), 6);
        let kinds: Vec<Option<Extension>> = statements.iter().map(classify).collect();
        match &kinds[0] {
            Some(Extension::Create {
                name,
                partitioned_by,
                options,
                query,
                ..
            }) => {
                assert_eq!(name.to_string(), "lhc.skim");
                assert_eq!(partitioned_by, &["run"]);
                assert_eq!(
                    options,
                    &[
                        ("refresh".to_string(), "every 1 hour".to_string()),
                        ("format".to_string(), "parquet".to_string()),
                        ("populate".to_string(), "false".to_string())
                    ]
                );
                assert!(query.to_string().contains("list_len(Jet_pt)"));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(&kinds[1], Some(Extension::Refresh { name, full: true }) if name == "lhc.skim")
        );
        assert!(
            matches!(&kinds[2], Some(Extension::Refresh { name, full: false }) if name == "\"Odd\"")
        );
        assert!(matches!(
            &kinds[3],
            Some(Extension::Drop {
                if_exists: true,
                ..
            })
        ));
        assert!(matches!(&kinds[4], Some(Extension::Show)));
        assert!(kinds[5].is_none());
        // Errors keep their position.
        let err = parse_sql("REFRESH MATERIALIZED VIEW", &HepqDialect)
            .unwrap_err()
            .to_string();
        assert!(err.contains("Expected"), "{err}");
        assert!(parse_sql("SELECT 1 SELECT 2", &HepqDialect).is_err());
    }
}
