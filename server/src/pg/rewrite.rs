//! PostgreSQL-isms that drivers and psql send, rewritten in the parsed statement before the
//! engine plans it:
//!
//! * unqualified `pg_class`, `pg_type`, … → `pg_catalog.pg_class` (PostgreSQL searches
//!   `pg_catalog` first);
//! * `pg_catalog.f(…)` → `f(…)` (the functions are registered unqualified);
//! * `x::regclass`, `x::regtype` → `hepq_regclass(x)`, `hepq_regtype(x)` (a name becomes an
//!   OID, an OID becomes a name); `::oid`, `::name`, `::"char"` → `hepq_oid(x)`,
//!   `hepq_name(x)`, `hepq_char(x)` (sent as PostgreSQL's types); `::regproc`,
//!   `::regnamespace` are dropped;
//! * `ARRAY(SELECT …)` → `(SELECT array_agg(…) FROM (…))`; `array_upper`/`array_lower`
//!   through `array_length`; `LIKE … ESCAPE 'c'` → backslash escapes; `FROM
//!   pg_catalog.unnest(…)` → `FROM unnest(…)`;
//! * `OPERATOR(pg_catalog.~)` and friends → the plain operator; `COLLATE …` is dropped;
//! * a scalar subquery or `EXISTS` over a catalog table hepq always keeps empty
//!   (`pg_attrdef`, `pg_constraint`, `pg_description`, …) → `NULL` / `false`, which is its
//!   exact value and spares the engine correlated subqueries it cannot decorrelate.

use std::collections::HashSet;
use std::ops::ControlFlow;

use hepq_sql::datafusion::sql::sqlparser::ast::{
    self as ast, BinaryOperator, CastKind, DataType, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentList, FunctionArguments, GroupByExpr, Ident, JoinOperator, ObjectName,
    ObjectNamePart, Query, SelectItem, SetExpr, Statement, TableFactor, Value, ValueWithSpan,
    Visit, VisitMut, Visitor, VisitorMut, visit_expressions_mut, visit_relations_mut,
};
use hepq_sql::datafusion::sql::sqlparser::tokenizer::Span;

use super::catalog::{EMPTY_TABLES, INFORMATION_SCHEMA, TABLES};

/// Applies every rewrite to `statement`.
pub fn rewrite(statement: &mut Statement) {
    let _ = visit_relations_mut(statement, |name: &mut ObjectName| {
        if name.0.len() == 1
            && let Some(ObjectNamePart::Identifier(ident)) = name.0.first()
            && TABLES.contains(&ident.value.to_ascii_lowercase().as_str())
        {
            name.0
                .insert(0, ObjectNamePart::Identifier(Ident::new("pg_catalog")));
        }
        // PostgreSQL's `information_schema` (PostgreSQL type names, not the engine's).
        if name.0.len() == 2
            && let Some(ObjectNamePart::Identifier(schema)) = name.0.first()
            && schema.value.eq_ignore_ascii_case("information_schema")
            && let Some(view) = last_part(name).filter(|v| INFORMATION_SCHEMA.contains(&v.as_str()))
        {
            name.0 = vec![
                ObjectNamePart::Identifier(Ident::new("pg_catalog")),
                ObjectNamePart::Identifier(Ident::new(format!("hepq_information_schema_{view}"))),
            ];
        }
        // `FROM pg_catalog.unnest(…)`: the engine's table functions are unqualified.
        if name.0.len() == 2
            && let Some(ObjectNamePart::Identifier(schema)) = name.0.first()
            && schema.value.eq_ignore_ascii_case("pg_catalog")
            && last_part(name).is_some_and(|f| TABLE_FUNCTIONS.contains(&f.as_str()))
        {
            name.0.remove(0);
        }
        ControlFlow::<()>::Continue(())
    });
    let _ = statement.visit(&mut EmptyFold);
    let _ = visit_expressions_mut(statement, |expr: &mut Expr| {
        rewrite_expr(expr);
        ControlFlow::<()>::Continue(())
    });
}

/// Table functions drivers call qualified with `pg_catalog.`.
const TABLE_FUNCTIONS: &[&str] = &["generate_series", "unnest"];

/// Parses an expression written in SQL (for rewrites easier to state as text).
fn parse_expr(sql: &str) -> Option<Expr> {
    use hepq_sql::datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use hepq_sql::datafusion::sql::sqlparser::parser::Parser;
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .ok()
}

/// `x LIKE p ESCAPE 'c'` with another escape character than the engine's backslash: the
/// pattern rewritten to backslash escapes (exactly for a literal pattern; for a computed one
/// by replacing `c` with `\` at run time, after doubling the backslashes it had).
fn backslash_escapes(pattern: &mut Expr, escape: &mut Option<ValueWithSpan>) {
    let Some(c) = escape.as_ref().and_then(|v| match &v.value {
        Value::SingleQuotedString(s) => Some(s.clone()),
        _ => None,
    }) else {
        return;
    };
    if c == "\\" {
        return;
    }
    let Some(ch) = c.chars().next().filter(|_| c.chars().count() == 1) else {
        return;
    };
    if let Expr::Value(v) = pattern
        && let Value::SingleQuotedString(text) = &v.value
    {
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars();
        while let Some(x) = chars.next() {
            if x == ch {
                if let Some(next) = chars.next() {
                    out.push('\\');
                    out.push(next);
                }
            } else if x == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(x);
            }
        }
        *pattern = value(Value::SingleQuotedString(out));
    } else {
        let quoted = ch.to_string().replace('\'', "''");
        let Some(runtime) = parse_expr(&format!(
            "replace(replace({pattern}, '\\', '\\\\'), '{quoted}', '\\')"
        )) else {
            return;
        };
        *pattern = runtime;
    }
    *escape = None;
}

/// A scalar subquery over catalog tables that looks one row up (`(SELECT typcollation FROM
/// pg_type WHERE oid = a.atttypid)`) gets its value wrapped in `max(…)`: the engine can
/// decorrelate aggregated subqueries only, and for the single row PostgreSQL requires of a
/// scalar subquery the value is the same.
fn aggregate_catalog_lookup(query: &mut Query) {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    let reads_catalog = select.from.iter().any(|item| {
        std::iter::once(&item.relation)
            .chain(item.joins.iter().map(|j| &j.relation))
            .any(|f| match f {
                TableFactor::Table { name, .. } => {
                    last_part(name).is_some_and(|t| TABLES.contains(&t.as_str()))
                }
                _ => false,
            })
    });
    let grouped = !matches!(&select.group_by, GroupByExpr::Expressions(v, _) if v.is_empty());
    let mut finder = AggregateFinder::default();
    for item in &select.projection {
        let _ = item.visit(&mut finder);
    }
    if !reads_catalog || grouped || finder.found || select.projection.len() != 1 {
        return;
    }
    match &mut select.projection[0] {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
            *e = call("max", e.clone());
        }
        _ => {}
    }
}

/// Finds aggregate calls of a projection, not looking into its subqueries.
#[derive(Default)]
struct AggregateFinder {
    depth: usize,
    found: bool,
}

impl Visitor for AggregateFinder {
    type Break = ();

    fn pre_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        const AGGREGATES: &[&str] = &[
            "count",
            "sum",
            "min",
            "max",
            "avg",
            "array_agg",
            "string_agg",
            "bool_and",
            "bool_or",
            "json_agg",
            "every",
        ];
        if self.depth == 0
            && let Expr::Function(f) = expr
            && last_part(&f.name).is_some_and(|n| AGGREGATES.contains(&n.as_str()))
        {
            self.found = true;
        }
        ControlFlow::Continue(())
    }
}

/// Queries over always-empty catalog tables keep their columns but lose everything that
/// could trouble the planner: the projection's computed expressions become NULL and the
/// filter `false`. The result (no rows) is exactly the same.
struct EmptyFold;

impl VisitorMut for EmptyFold {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        let sorted_by = super::colnames::order_by_names(query);
        fold_set_expr(query.body.as_mut(), &sorted_by);
        ControlFlow::Continue(())
    }
}

fn fold_set_expr(body: &mut SetExpr, sorted_by: &HashSet<String>) {
    match body {
        SetExpr::SetOperation { left, right, .. } => {
            fold_set_expr(left, sorted_by);
            fold_set_expr(right, sorted_by);
        }
        SetExpr::Query(q) => {
            let sorted_by = super::colnames::order_by_names(q);
            fold_set_expr(q.body.as_mut(), &sorted_by);
        }
        SetExpr::Select(select) if select_over_empty(select) => {
            let mut used: Vec<String> = Vec::new();
            for (k, item) in select.projection.iter_mut().enumerate() {
                let computed = |e: &Expr| !super::colnames::is_column(e);
                match item {
                    SelectItem::UnnamedExpr(e) if computed(e) => {
                        // PostgreSQL's name for the column, unless the list already has it.
                        let name = super::colnames::postgres_name(e);
                        let name = if used.contains(&name) || sorted_by.contains(&name) {
                            format!("column{}", k + 1)
                        } else {
                            name
                        };
                        used.push(name.clone());
                        *item = SelectItem::ExprWithAlias {
                            expr: value(Value::Null),
                            alias: Ident::with_quote('"', name),
                        };
                    }
                    SelectItem::ExprWithAlias { expr, .. } if computed(expr) => {
                        *expr = value(Value::Null);
                    }
                    _ => {}
                }
            }
            select.selection = Some(value(Value::Boolean(false)));
        }
        _ => {}
    }
}

fn last_part(name: &ObjectName) -> Option<String> {
    match name.0.last()? {
        ObjectNamePart::Identifier(i) => Some(i.value.to_ascii_lowercase()),
        ObjectNamePart::Function(_) => None,
    }
}

fn call(name: &str, arg: Expr) -> Expr {
    Expr::Function(Function {
        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(name))]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))],
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

fn plain_type(name: &str) -> Option<DataType> {
    Some(match name {
        "int2" | "smallint" => DataType::SmallInt(None),
        "int4" | "integer" | "int" => DataType::Int(None),
        "int8" | "bigint" => DataType::BigInt(None),
        "float4" | "real" => DataType::Real,
        "float8" => DataType::DoublePrecision,
        "bool" | "boolean" => DataType::Boolean,
        "numeric" => DataType::Numeric(ast::ExactNumberInfo::None),
        "date" => DataType::Date,
        "timestamp" => DataType::Timestamp(None, ast::TimezoneInfo::None),
        "timestamptz" => DataType::Timestamp(None, ast::TimezoneInfo::Tz),
        "bytea" => DataType::Bytea,
        "json" | "jsonb" => DataType::Text,
        _ => return None,
    })
}

fn value(v: Value) -> Expr {
    Expr::Value(ValueWithSpan {
        value: v,
        span: Span::empty(),
    })
}

fn rewrite_expr(expr: &mut Expr) {
    match expr {
        Expr::Function(f) => {
            if f.name.0.len() == 2
                && let Some(ObjectNamePart::Identifier(schema)) = f.name.0.first()
                && schema.value.eq_ignore_ascii_case("pg_catalog")
            {
                f.name.0.remove(0);
            }
            let name = last_part(&f.name).unwrap_or_default();
            // `ARRAY(SELECT …)`: the subquery's values aggregated into an array (an empty
            // array when it reads an always-empty catalog table).
            if name == "array"
                && let FunctionArguments::Subquery(q) = &f.args
            {
                let text = if over_empty_table(q) {
                    "CAST(make_array() AS TEXT[])".to_string()
                } else {
                    format!("(SELECT array_agg(hepq_array.v) FROM ({q}) AS hepq_array(v))")
                };
                if let Some(replacement) = parse_expr(&text) {
                    *expr = replacement;
                }
                return;
            }
            // `array_upper(a, d)` / `array_lower(a, d)` of hepq's 1-based lists.
            if (name == "array_upper" || name == "array_lower")
                && let FunctionArguments::List(list) = &f.args
                && let [a, d] = list.args.as_slice()
            {
                let text = if name == "array_upper" {
                    format!("CAST(array_length({a}, {d}) AS BIGINT)")
                } else {
                    format!("CASE WHEN array_length({a}, {d}) > 0 THEN 1 END")
                };
                if let Some(replacement) = parse_expr(&text) {
                    *expr = replacement;
                }
            }
        }
        Expr::Like {
            pattern,
            escape_char,
            ..
        }
        | Expr::ILike {
            pattern,
            escape_char,
            ..
        } => backslash_escapes(pattern, escape_char),
        Expr::Cast {
            kind: CastKind::DoubleColon | CastKind::Cast,
            expr: inner,
            data_type,
            ..
        } => {
            // `x::oid[]` and friends: the element type is rewritten like a plain cast.
            if let DataType::Array(ast::ArrayElemTypeDef::SquareBracket(elem, _)) = data_type
                && let DataType::Custom(name, _) = elem.as_ref()
                && let Some(plain) = last_part(name).and_then(|n| match n.as_str() {
                    "oid" | "regtype" | "regclass" | "regproc" => Some(DataType::BigInt(None)),
                    "name" | "char" | "text" | "varchar" => Some(DataType::Text),
                    other => plain_type(other),
                })
            {
                **elem = plain;
            }
            let type_name = match data_type {
                DataType::Regclass => Some("regclass".to_string()),
                DataType::Custom(name, _) => last_part(name),
                _ => None,
            };
            let replacement = match type_name.as_deref() {
                Some("regclass") => Some(call("hepq_regclass", (**inner).clone())),
                Some("regtype") => Some(call("hepq_regtype", (**inner).clone())),
                Some("regproc" | "regprocedure" | "regnamespace" | "regrole" | "regoper") => {
                    Some((**inner).clone())
                }
                // Typed like PostgreSQL's (`oid`, `name`, `"char"` result columns).
                Some("oid") => Some(call("hepq_oid", (**inner).clone())),
                Some("name") => Some(call("hepq_name", (**inner).clone())),
                Some("char") => Some(call("hepq_char", (**inner).clone())),
                Some("xid" | "cid") => {
                    *data_type = DataType::BigInt(None);
                    None
                }
                Some(
                    "bpchar" | "int2vector" | "oidvector" | "pg_node_tree" | "text" | "varchar",
                ) => {
                    *data_type = DataType::Text;
                    None
                }
                Some(other) => {
                    // `pg_catalog.int4` and friends: the plain SQL type.
                    if let Some(plain) = plain_type(other) {
                        *data_type = plain;
                    }
                    None
                }
                None => None,
            };
            if let Some(r) = replacement {
                *expr = r;
            }
        }
        Expr::Collate { expr: inner, .. } => {
            *expr = (**inner).clone();
        }
        Expr::BinaryOp { op, .. } => {
            if let BinaryOperator::PGCustomBinaryOperator(parts) = op
                && let Some(symbol) = parts.last()
            {
                let plain = match symbol.as_str() {
                    "~" => Some(BinaryOperator::PGRegexMatch),
                    "~*" => Some(BinaryOperator::PGRegexIMatch),
                    "!~" => Some(BinaryOperator::PGRegexNotMatch),
                    "!~*" => Some(BinaryOperator::PGRegexNotIMatch),
                    "~~" => Some(BinaryOperator::PGLikeMatch),
                    "!~~" => Some(BinaryOperator::PGNotLikeMatch),
                    "=" => Some(BinaryOperator::Eq),
                    "<>" => Some(BinaryOperator::NotEq),
                    "<" => Some(BinaryOperator::Lt),
                    ">" => Some(BinaryOperator::Gt),
                    "<=" => Some(BinaryOperator::LtEq),
                    ">=" => Some(BinaryOperator::GtEq),
                    "||" => Some(BinaryOperator::StringConcat),
                    _ => None,
                };
                if let Some(plain) = plain {
                    *op = plain;
                }
            }
        }
        Expr::Subquery(q) if over_empty_table(q) => {
            *expr = value(Value::Null);
        }
        Expr::Subquery(q) => aggregate_catalog_lookup(q),
        Expr::Exists { subquery, negated } if over_empty_table(subquery) => {
            *expr = value(Value::Boolean(*negated));
        }
        _ => {}
    }
}

/// Whether `query` provably yields no rows because it reads an always-empty catalog table
/// (through a cross, inner or left join that keeps the emptiness) and does not aggregate.
fn over_empty_table(query: &Query) -> bool {
    set_over_empty(query.body.as_ref())
}

fn set_over_empty(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(select) => select_over_empty(select),
        SetExpr::Query(q) => set_over_empty(q.body.as_ref()),
        SetExpr::SetOperation { left, right, .. } => set_over_empty(left) && set_over_empty(right),
        _ => false,
    }
}

fn select_over_empty(select: &ast::Select) -> bool {
    let is_empty = |factor: &TableFactor| match factor {
        TableFactor::Table { name, .. } => {
            last_part(name).is_some_and(|t| EMPTY_TABLES.contains(&t.as_str()))
        }
        _ => false,
    };
    // The FROM list is a cross product: one empty item empties it.
    let any_empty_item = select.from.iter().any(|item| {
        let base_empty = is_empty(&item.relation)
            && item.joins.iter().all(|j| {
                matches!(
                    j.join_operator,
                    JoinOperator::Join(_)
                        | JoinOperator::Inner(_)
                        | JoinOperator::Left(_)
                        | JoinOperator::LeftOuter(_)
                        | JoinOperator::CrossJoin(_)
                )
            });
        let inner_empty = item.joins.iter().any(|j| {
            is_empty(&j.relation)
                && matches!(
                    j.join_operator,
                    JoinOperator::Join(_) | JoinOperator::Inner(_) | JoinOperator::CrossJoin(_)
                )
        });
        base_empty || inner_empty
    });
    let grouped = !matches!(&select.group_by, GroupByExpr::Expressions(v, _) if v.is_empty());
    let mut finder = AggregateFinder::default();
    for item in &select.projection {
        let _ = item.visit(&mut finder);
    }
    any_empty_item && !grouped && !finder.found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hepq_sql::datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use hepq_sql::datafusion::sql::sqlparser::parser::Parser;

    fn rw(sql: &str) -> String {
        let mut s = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        rewrite(&mut s);
        s.to_string()
    }

    #[test]
    fn psql_and_driver_idioms() {
        assert_eq!(
            rw(
                "SELECT c.oid FROM pg_class c WHERE c.relname OPERATOR(pg_catalog.~) '^(e)$' COLLATE pg_catalog.default"
            ),
            "SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relname ~ '^(e)$'"
        );
        assert_eq!(
            rw(
                "SELECT pg_catalog.format_type(t.oid, NULL), 'events'::regclass, t.oid::regtype::text FROM pg_type t"
            ),
            "SELECT format_type(t.oid, NULL), hepq_regclass('events'), hepq_regtype(t.oid)::TEXT FROM pg_catalog.pg_type t"
        );
        assert_eq!(
            rw(
                "SELECT a.attname, (SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d WHERE d.adrelid = a.attrelid) FROM pg_attribute a"
            ),
            "SELECT a.attname, NULL FROM pg_catalog.pg_attribute a"
        );
        assert_eq!(
            rw("SELECT (SELECT count(*) FROM pg_attrdef)"),
            "SELECT (SELECT count(*) FROM pg_catalog.pg_attrdef)"
        );
    }
}
