//! asyncpg's type introspection query, answered with an equivalent query the engine can plan.
//!
//! Before it decodes a result column or encodes a parameter whose type it has no built-in
//! codec for (every array type but `oid[]` and `text[]`), asyncpg prepares one large query
//! (`asyncpg/introspection.py`, `INTRO_LOOKUP_TYPES`): a recursive CTE over `pg_type`,
//! `pg_namespace` and `pg_range` whose rows carry correlated scalar subqueries (itself a
//! recursive CTE, for domain base types) and `array_agg` of composite attributes, filtered by
//! `oid = any($1::oid[])`. The engine cannot decorrelate those subqueries. hepq's `pg_type`
//! holds base, array and pseudo types only (no domains, composites, ranges or enums), so the
//! recursion ends after one step (an array's element type) and every subquery is NULL; the
//! query below returns the same rows for that catalog, with the same column names and order.
//!
//! The statement is recognised at Parse; its one parameter is described as `oid[]` (which
//! asyncpg encodes natively) and the OIDs bound to it are written into the query as literals.

/// Whether `sql` is asyncpg's type introspection query (any of its versions: they share the
/// `typeinfo_tree` CTE and the `range_subtype` column).
pub fn is_asyncpg_typeinfo(sql: &str) -> bool {
    sql.contains("typeinfo_tree")
        && sql.contains("range_subtype")
        && sql.contains("$1")
        && sql
            .trim_start()
            .to_ascii_uppercase()
            .starts_with("WITH RECURSIVE")
}

/// The OID of the introspection query's parameter: `oid[]`.
pub const PARAM_OID: u32 = 1028;

/// The replacement query for the type OIDs `oids`: one row per requested type (depth 0) and
/// one per element type of a requested array type (depth 1), element types first, as
/// asyncpg registers codecs in row order.
pub fn typeinfo_sql(oids: &[i64]) -> String {
    let list = if oids.is_empty() {
        "NULL".to_string()
    } else {
        oids.iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "SELECT t.oid AS oid, 'pg_catalog' AS ns, t.typname AS name, t.typtype AS kind, \
         CAST(NULL AS BIGINT) AS basetype, t.typelem AS elemtype, e.typdelim AS elemdelim, \
         CAST(NULL AS BIGINT) AS range_subtype, CAST(NULL AS TEXT) AS attrtypoids, \
         CAST(NULL AS TEXT) AS attrnames, q.depth AS depth, \
         CAST(NULL AS TEXT) AS basetype_name, \
         CASE WHEN t.typelem <> 0 THEN format_type(t.typelem, NULL) END AS elemtype_name, \
         CAST(NULL AS TEXT) AS range_subtype_name \
         FROM ( \
           SELECT DISTINCT oid AS type_oid, 0 AS depth FROM pg_catalog.pg_type \
             WHERE oid IN ({list}) \
           UNION ALL \
           SELECT DISTINCT typelem AS type_oid, 1 AS depth FROM pg_catalog.pg_type \
             WHERE oid IN ({list}) AND typelem <> 0 \
         ) q \
         JOIN pg_catalog.pg_type t ON t.oid = q.type_oid \
         LEFT JOIN pg_catalog.pg_type e \
           ON t.typlen = -1 AND t.typelem <> 0 AND e.oid = t.typelem \
         ORDER BY depth DESC, oid"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_asyncpg_and_builds_literals() {
        let sql = "WITH RECURSIVE typeinfo_tree(\n oid, ns, name, kind, basetype, elemtype, \
                   elemdelim, range_subtype, attrtypoids, attrnames, depth) AS (SELECT 1 \
                   WHERE ti.oid = any($1::oid[])) SELECT 1";
        assert!(is_asyncpg_typeinfo(sql));
        assert!(!is_asyncpg_typeinfo("SELECT * FROM pg_type WHERE oid = $1"));
        assert!(typeinfo_sql(&[1021, 1007]).contains("IN (1021, 1007)"));
        assert!(typeinfo_sql(&[]).contains("IN (NULL)"));
    }
}
