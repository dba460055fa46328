//! Result column names as PostgreSQL chooses them.
//!
//! The engine names an unaliased expression after its text (`count(*)`, `Int64(1)`,
//! `format_type(a.atttypid,a.atttypmod)`); PostgreSQL names it after its outermost function,
//! cast or construct (`count`, `?column?`, `format_type`), and clients key results by those
//! names (pandas columns, SQLAlchemy rows, psql headers). Before a statement is planned, every
//! unaliased select item whose PostgreSQL name differs from the engine's gets that name as an
//! alias, in the query, its CTEs and its derived tables (so `SELECT * FROM (SELECT count(*)
//! FROM t) s` has a column `count` too).
//!
//! The names follow PostgreSQL's rules: a column reference gives its column name; a function
//! call its (unqualified) function name; a cast the name of what it casts, or else the type's
//! name (`'1'::int` → `int4`); `CASE` the name of its `ELSE` branch, or else `case`; `ARRAY[…]`
//! `array`; `EXISTS (…)` `exists`; a scalar subquery its first column's name; constants,
//! operators and everything else `?column?`. The engine requires unique names in one select
//! list, PostgreSQL does not: where a PostgreSQL name would repeat another name of the same
//! list (`SELECT count(*), count(x)`, `SELECT 1, 2`), that item keeps the engine's name.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use hepq_sql::datafusion::sql::sqlparser::ast::{
    self, ArrayElemTypeDef, DataType, Expr, Ident, Query, Select, SelectItem, SetExpr, Statement,
    TableFactor, TableWithJoins, visit_expressions,
};

/// PostgreSQL's name for an unnamed result column.
const NO_NAME: &str = "?column?";

/// Names the unaliased select items of `statement` as PostgreSQL would (see the module docs).
pub fn name_like_postgres(statement: &mut Statement) {
    if let Statement::Query(q) = statement {
        query(q);
    }
}

fn query(q: &mut Query) {
    if let Some(with) = q.with.as_mut() {
        for cte in &mut with.cte_tables {
            query(&mut cte.query);
        }
    }
    let sorted_by = order_by_names(q);
    set_expr(&mut q.body, &sorted_by);
}

/// Columns the ORDER BY of `q` names: the engine adds them to the select list while sorting,
/// so an alias equal to one of them (`c.oid::regclass AS oid … ORDER BY … c.oid …`) would make
/// the list ambiguous.
pub fn order_by_names(q: &Query) -> HashSet<String> {
    let mut sorted_by = HashSet::new();
    let _ = visit_expressions(&q.order_by, |e: &Expr| {
        match e {
            Expr::Identifier(i) => {
                sorted_by.insert(i.value.clone());
            }
            Expr::CompoundIdentifier(parts) => {
                if let Some(i) = parts.last() {
                    sorted_by.insert(i.value.clone());
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    sorted_by
}

fn set_expr(body: &mut SetExpr, sorted_by: &HashSet<String>) {
    match body {
        SetExpr::Select(s) => select(s, sorted_by),
        SetExpr::Query(q) => query(q),
        SetExpr::SetOperation { left, right, .. } => {
            set_expr(left, sorted_by);
            set_expr(right, sorted_by);
        }
        _ => {}
    }
}

fn from(t: &mut TableWithJoins) {
    factor(&mut t.relation);
    for j in &mut t.joins {
        factor(&mut j.relation);
    }
}

fn factor(f: &mut TableFactor) {
    match f {
        TableFactor::Derived { subquery, .. } => query(subquery),
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => from(table_with_joins),
        _ => {}
    }
}

fn select(s: &mut Select, sorted_by: &HashSet<String>) {
    for t in &mut s.from {
        from(t);
    }
    // Every name the list already has (plain column references and aliases), then the
    // PostgreSQL names of the other items.
    let mut taken: HashMap<String, usize> = HashMap::new();
    let mut wanted: Vec<Option<String>> = Vec::with_capacity(s.projection.len());
    for item in &s.projection {
        match item {
            SelectItem::UnnamedExpr(e) if !is_column(e) => {
                let (name, _) = figure(e);
                wanted.push(Some(name));
            }
            SelectItem::UnnamedExpr(e) => {
                *taken.entry(figure(e).0).or_default() += 1;
                wanted.push(None);
            }
            SelectItem::ExprWithAlias { alias, .. } => {
                *taken.entry(alias.value.clone()).or_default() += 1;
                wanted.push(None);
            }
            _ => wanted.push(None),
        }
    }
    for name in wanted.iter().flatten() {
        *taken.entry(name.clone()).or_default() += 1;
    }
    for (item, name) in s.projection.iter_mut().zip(wanted) {
        int4_literal(item);
        let Some(name) = name else { continue };
        if taken.get(&name).copied().unwrap_or(0) > 1 || sorted_by.contains(&name) {
            continue;
        }
        if let SelectItem::UnnamedExpr(e) = item {
            let expr = std::mem::replace(e, Expr::Value(ast::Value::Null.into()));
            *item = SelectItem::ExprWithAlias {
                expr,
                alias: Ident::with_quote('"', name),
            };
        }
    }
}

/// A select item that is a bare integer literal is `int4` in PostgreSQL when it fits (`SELECT
/// 1`); the engine would make it `int8`.
fn int4_literal(item: &mut SelectItem) {
    let (SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) = item else {
        return;
    };
    if let Expr::Value(v) = e
        && let ast::Value::Number(n, _) = &v.value
        && n.parse::<i32>().is_ok()
    {
        let literal = std::mem::replace(e, Expr::Value(ast::Value::Null.into()));
        *e = Expr::Cast {
            kind: ast::CastKind::DoubleColon,
            expr: Box::new(literal),
            data_type: DataType::Int(None),
            array: false,
            format: None,
        };
    }
}

/// PostgreSQL's name for the result column of `e` (`?column?` when it has none).
pub fn postgres_name(e: &Expr) -> String {
    figure(e).0
}

/// Whether `e` is a plain column reference (the engine already names it as PostgreSQL does).
pub fn is_column(e: &Expr) -> bool {
    matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
}

/// PostgreSQL's `FigureColname`: the name and its strength (0: none, 1: a fallback such as a
/// type name or `case`, 2: a real name).
fn figure(e: &Expr) -> (String, u8) {
    let strong = |s: &str| (s.to_string(), 2);
    match e {
        Expr::Identifier(i) => strong(&i.value),
        Expr::CompoundIdentifier(parts) => match parts.last() {
            Some(i) => strong(&i.value),
            None => (NO_NAME.into(), 0),
        },
        Expr::CompoundFieldAccess { root, .. } => figure(root),
        Expr::Nested(inner) | Expr::Collate { expr: inner, .. } => figure(inner),
        Expr::Function(f) => {
            let name = f
                .name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .map(|i| i.value.to_ascii_lowercase())
                .unwrap_or_else(|| NO_NAME.into());
            (name, 2)
        }
        Expr::Cast {
            expr, data_type, ..
        } => {
            let (name, strength) = figure(expr);
            if strength >= 2 {
                (name, strength)
            } else {
                (type_name(data_type), 1)
            }
        }
        Expr::TypedString(t) => (type_name(&t.data_type), 1),
        Expr::Case { else_result, .. } => match else_result.as_deref().map(figure) {
            Some((name, 2)) => (name, 2),
            _ => ("case".into(), 1),
        },
        Expr::Array(_) => ("array".into(), 2),
        Expr::Exists { .. } => ("exists".into(), 2),
        Expr::Subquery(q) => match first_item_name(q) {
            Some(name) => (name, 2),
            None => (NO_NAME.into(), 0),
        },
        Expr::Extract { .. } => strong("extract"),
        Expr::Substring { .. } => strong("substring"),
        Expr::Trim { .. } => strong("btrim"),
        Expr::Position { .. } => strong("position"),
        Expr::Overlay { .. } => strong("overlay"),
        Expr::Ceil { .. } => strong("ceil"),
        Expr::Floor { .. } => strong("floor"),
        Expr::AtTimeZone { .. } => strong("timezone"),
        Expr::Interval(_) => ("interval".into(), 1),
        Expr::Tuple(_) => strong("row"),
        _ => (NO_NAME.into(), 0),
    }
}

/// The name of a scalar subquery's first column.
fn first_item_name(q: &Query) -> Option<String> {
    let mut body = q.body.as_ref();
    loop {
        match body {
            SetExpr::Select(s) => {
                return match s.projection.first()? {
                    SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
                    SelectItem::UnnamedExpr(e) => {
                        let (name, strength) = figure(e);
                        (strength > 0).then_some(name)
                    }
                    _ => None,
                };
            }
            SetExpr::Query(q) => body = q.body.as_ref(),
            SetExpr::SetOperation { left, .. } => body = left.as_ref(),
            _ => return None,
        }
    }
}

/// The name PostgreSQL gives a type in a column name (its internal name: `int` → `int4`).
fn type_name(t: &DataType) -> String {
    if let DataType::Array(
        ArrayElemTypeDef::SquareBracket(inner, _)
        | ArrayElemTypeDef::AngleBracket(inner)
        | ArrayElemTypeDef::Parenthesis(inner),
    ) = t
    {
        return type_name(inner);
    }
    let text = t.to_string();
    let text = text.split('(').next().unwrap_or_default().trim();
    let text = text.trim_end_matches("[]");
    let last = text.rsplit('.').next().unwrap_or(text);
    if let Some(quoted) = last.strip_prefix('"') {
        return quoted.trim_end_matches('"').to_string();
    }
    let lower = last.to_ascii_lowercase();
    match lower.as_str() {
        "int" | "integer" | "int4" => "int4",
        "bigint" | "int8" => "int8",
        "smallint" | "int2" => "int2",
        "real" | "float4" => "float4",
        "double precision" | "double" | "float8" | "float" => "float8",
        "boolean" | "bool" => "bool",
        "character varying" | "varchar" => "varchar",
        "char" | "character" | "bpchar" => "bpchar",
        "decimal" | "numeric" => "numeric",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "timestamptz" | "timestamp with time zone" => "timestamptz",
        "time" | "time without time zone" => "time",
        other => return other.to_string(),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use hepq_sql::datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use hepq_sql::datafusion::sql::sqlparser::parser::Parser;

    fn named(sql: &str) -> String {
        let mut s = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        name_like_postgres(&mut s);
        s.to_string()
    }

    #[test]
    fn names_follow_postgres() {
        assert_eq!(
            named("SELECT count(*) FROM t"),
            r#"SELECT count(*) AS "count" FROM t"#
        );
        assert_eq!(named("SELECT 1"), r#"SELECT 1::INT AS "?column?""#);
        assert_eq!(
            named("SELECT 3000000000 AS big"),
            "SELECT 3000000000 AS big"
        );
        assert_eq!(named("SELECT '1'::int"), r#"SELECT '1'::INT AS "int4""#);
        assert_eq!(
            named("SELECT a::text FROM t"),
            r#"SELECT a::TEXT AS "a" FROM t"#
        );
        assert_eq!(
            named(
                "SELECT pg_catalog.format_type(a.atttypid, a.atttypmod), c.oid::pg_catalog.regclass FROM a, c"
            ),
            r#"SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) AS "format_type", c.oid::pg_catalog.regclass AS "oid" FROM a, c"#
        );
        assert_eq!(
            named(
                "SELECT CASE WHEN x THEN 1 END, ARRAY[1], EXISTS (SELECT 1), (SELECT max(y) FROM u) FROM t"
            ),
            r#"SELECT CASE WHEN x THEN 1 END AS "case", ARRAY[1] AS "array", EXISTS (SELECT 1) AS "exists", (SELECT max(y) FROM u) AS "max" FROM t"#
        );
        // Plain columns and aliases are left alone; repeated names keep the engine's.
        assert_eq!(named("SELECT a, b AS c FROM t"), "SELECT a, b AS c FROM t");
        assert_eq!(named("SELECT 1, 2"), "SELECT 1::INT, 2::INT");
        assert_eq!(
            named("SELECT count(*), count(x) FROM t"),
            "SELECT count(*), count(x) FROM t"
        );
        assert_eq!(
            named("SELECT oid, oid::regclass FROM c"),
            "SELECT oid, oid::REGCLASS FROM c"
        );
        // CTEs and derived tables too.
        assert_eq!(
            named("WITH w AS (SELECT sum(x) FROM t) SELECT * FROM (SELECT max(y) FROM u) s, w"),
            r#"WITH w AS (SELECT sum(x) AS "sum" FROM t) SELECT * FROM (SELECT max(y) AS "max" FROM u) s, w"#
        );
    }
}
