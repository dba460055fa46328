//! `pg_catalog` emulation answered from the live session catalog, and the catalog functions
//! drivers and psql call (`version()`, `format_type`, `pg_table_is_visible`, …).
//!
//! Every `pg_catalog` table is built when a query reads it, from the session's catalogs at
//! that moment, so tables created or dropped a statement earlier are already there. Tables
//! and schemas get stable OIDs (a hash of their qualified name); column types carry the same
//! OIDs, typmods and array dimensions the wire protocol sends. hepq has no indexes,
//! constraints, defaults, comments, sequences, triggers or inheritance, so those catalogs
//! exist with PostgreSQL's columns and no rows.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use hepq_sql::datafusion::arrow::array::ArrayRef;
use hepq_sql::datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema};
use hepq_sql::datafusion::arrow::record_batch::RecordBatch;
use hepq_sql::datafusion::catalog::{CatalogProviderList, SchemaProvider, TableProvider};
use hepq_sql::datafusion::common::{DataFusionError, Result, ScalarValue, exec_err};
use hepq_sql::datafusion::datasource::MemTable;
use hepq_sql::datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TableType, TypeSignature, Volatility,
};

use super::settings::Settings;
use super::types::{self, Wire};

/// OID of the `pg_catalog` namespace.
pub const PG_CATALOG_OID: i64 = 11;
/// OID of the `public` namespace.
pub const PUBLIC_OID: i64 = 2200;
/// OID of the single role.
pub const ROLE_OID: i64 = 10;
/// OID of the database.
pub const DATABASE_OID: i64 = 16384;

/// PostgreSQL's `information_schema` views hepq answers itself (as
/// `pg_catalog.hepq_information_schema_<view>`; see `rewrite.rs`).
pub const INFORMATION_SCHEMA: &[&str] = &["columns", "schemata", "tables", "views"];

/// The tables of the emulated `pg_catalog`.
pub const TABLES: &[&str] = &[
    "hepq_information_schema_columns",
    "hepq_information_schema_schemata",
    "hepq_information_schema_tables",
    "hepq_information_schema_views",
    "pg_am",
    "pg_attrdef",
    "pg_attribute",
    "pg_auth_members",
    "pg_class",
    "pg_collation",
    "pg_constraint",
    "pg_cursors",
    "pg_database",
    "pg_depend",
    "pg_description",
    "pg_enum",
    "pg_extension",
    "pg_foreign_table",
    "pg_index",
    "pg_indexes",
    "pg_inherits",
    "pg_matviews",
    "pg_namespace",
    "pg_opclass",
    "pg_partitioned_table",
    "pg_policy",
    "pg_proc",
    "pg_publication",
    "pg_publication_namespace",
    "pg_publication_rel",
    "pg_range",
    "pg_rewrite",
    "pg_roles",
    "pg_sequence",
    "pg_settings",
    "pg_shdescription",
    "pg_stat_activity",
    "pg_statistic_ext",
    "pg_tables",
    "pg_tablespace",
    "pg_trigger",
    "pg_type",
    "pg_user",
    "pg_views",
];

/// Catalog tables that never have rows in hepq.
pub const EMPTY_TABLES: &[&str] = &[
    "pg_attrdef",
    "pg_auth_members",
    "pg_collation",
    "pg_constraint",
    "pg_depend",
    "pg_description",
    "pg_enum",
    "pg_extension",
    "pg_foreign_table",
    "pg_index",
    "pg_indexes",
    "pg_inherits",
    "pg_matviews",
    "pg_opclass",
    "pg_partitioned_table",
    "pg_policy",
    "pg_publication",
    "pg_publication_namespace",
    "pg_publication_rel",
    "pg_range",
    "pg_rewrite",
    "pg_sequence",
    "pg_shdescription",
    "pg_statistic_ext",
    "pg_trigger",
];

/// A stable OID for a named object: a hash of its name above PostgreSQL's reserved range.
pub fn stable_oid(kind: &str, name: &str) -> i64 {
    // FNV-1a: stable across runs and platforms (std's hasher is not guaranteed to be).
    let mut h: u32 = 0x811c_9dc5;
    for b in kind.bytes().chain([0]).chain(name.bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    20_000 + i64::from(h % 2_000_000_000)
}

/// Who is connected to what, for `current_user`, `pg_database`, …
#[derive(Debug, Clone)]
pub struct Identity {
    /// The user name from the startup packet.
    pub user: String,
    /// The database name from the startup packet.
    pub database: String,
    /// The backend pid.
    pub pid: i32,
}

/// One relation of the live catalog.
struct Rel {
    oid: i64,
    schema: String,
    nsp: i64,
    name: String,
    kind: &'static str,
    fields: Vec<FieldRef>,
}

/// One open cursor of the session, as `pg_cursors` shows it.
#[derive(Debug, Clone)]
pub struct CursorRow {
    /// The cursor's name.
    pub name: String,
    /// The `DECLARE` statement.
    pub statement: String,
    /// `WITH HOLD`.
    pub is_holdable: bool,
    /// `BINARY`.
    pub is_binary: bool,
    /// When it was declared, in microseconds since 1970 (UTC).
    pub created_micros: i64,
}

/// The session's open cursors, published by the connection before each statement is planned.
pub type Cursors = Arc<Mutex<Vec<CursorRow>>>;

/// The `pg_catalog` schema of one session.
pub struct PgCatalog {
    catalogs: Weak<dyn CatalogProviderList>,
    settings: Arc<Mutex<Settings>>,
    identity: Identity,
    functions: Vec<(String, &'static str)>,
    cursors: Cursors,
    backends: Option<Arc<super::Backends>>,
}

impl std::fmt::Debug for PgCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgCatalog").finish_non_exhaustive()
    }
}

/// The OID of a namespace name.
pub fn namespace_oid(name: &str) -> i64 {
    match name {
        "pg_catalog" => PG_CATALOG_OID,
        "public" => PUBLIC_OID,
        "information_schema" => 13_000,
        other => stable_oid("namespace", other),
    }
}

impl PgCatalog {
    /// A `pg_catalog` over `catalogs` (held weakly: the session owns its catalogs).
    /// `functions` are (name, prokind) of the session's functions.
    pub fn new(
        catalogs: &Arc<dyn CatalogProviderList>,
        settings: Arc<Mutex<Settings>>,
        identity: Identity,
        functions: Vec<(String, &'static str)>,
    ) -> Self {
        Self {
            catalogs: Arc::downgrade(catalogs),
            settings,
            identity,
            functions,
            cursors: Cursors::default(),
            backends: None,
        }
    }

    /// Shows the server's connections in `pg_stat_activity` (and lets `pg_cancel_backend`
    /// reach them).
    pub fn with_backends(mut self, backends: Arc<super::Backends>) -> Self {
        self.backends = Some(backends);
        self
    }

    /// Shows `cursors` in `pg_cursors`.
    pub fn with_cursors(mut self, cursors: Cursors) -> Self {
        self.cursors = cursors;
        self
    }

    async fn relations(&self) -> Result<(Vec<(i64, String)>, Vec<Rel>)> {
        let mut namespaces = vec![(PG_CATALOG_OID, "pg_catalog".to_string())];
        let mut rels = Vec::new();
        let Some(list) = self.catalogs.upgrade() else {
            return Ok((namespaces, rels));
        };
        let mut catalog_names = list.catalog_names();
        catalog_names.sort();
        for catalog_name in catalog_names {
            let Some(catalog) = list.catalog(&catalog_name) else {
                continue;
            };
            let mut schema_names = catalog.schema_names();
            schema_names.sort();
            for schema_name in schema_names {
                if schema_name == "pg_catalog" {
                    continue;
                }
                let nsp = namespace_oid(&schema_name);
                if !namespaces.iter().any(|(o, _)| *o == nsp) {
                    namespaces.push((nsp, schema_name.clone()));
                }
                if schema_name == "information_schema" {
                    continue;
                }
                let Some(schema) = catalog.schema(&schema_name) else {
                    continue;
                };
                let mut names = schema.table_names();
                names.sort();
                for name in names {
                    let Ok(Some(table)) = schema.table(&name).await else {
                        continue;
                    };
                    let kind = match table.table_type() {
                        TableType::View => "v",
                        _ => "r",
                    };
                    rels.push(Rel {
                        oid: stable_oid("relation", &format!("{schema_name}.{name}")),
                        schema: schema_name.clone(),
                        nsp,
                        name,
                        kind,
                        fields: table.schema().fields().iter().cloned().collect(),
                    });
                }
            }
        }
        Ok((namespaces, rels))
    }

    /// Resolves a (possibly schema-qualified, possibly quoted) relation name to its OID.
    pub async fn relation_oid(&self, name: &str) -> Result<Option<i64>> {
        let (_, rels) = self.relations().await?;
        let parts: Vec<String> = name
            .split('.')
            .map(|p| {
                let p = p.trim();
                match p.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
                    Some(quoted) => quoted.replace("\"\"", "\""),
                    None => p.to_string(),
                }
            })
            .collect();
        let found = rels.iter().find(|r| match parts.as_slice() {
            [table] => r.name == *table || r.name.eq_ignore_ascii_case(table),
            [schema, table] => r.schema == *schema && r.name == *table,
            _ => false,
        });
        if let Some(r) = found {
            return Ok(Some(r.oid));
        }
        // The emulated catalog tables themselves (`'pg_class'::regclass`, as pgjdbc sends).
        let catalog_table = match parts.as_slice() {
            [table] => Some(table),
            [schema, table] if schema == "pg_catalog" => Some(table),
            _ => None,
        };
        Ok(catalog_table
            .filter(|t| TABLES.contains(&t.as_str()))
            .map(|t| stable_oid("relation", &format!("pg_catalog.{t}"))))
    }

    async fn build(
        &self,
        name: &str,
    ) -> Result<Option<(Vec<(&'static str, DataType)>, Vec<Vec<ScalarValue>>)>> {
        use DataType as D;
        let oid = D::Int64;
        let text = D::Utf8;
        let b = D::Boolean;
        let i16t = D::Int16;
        let i32t = D::Int32;
        let f32t = D::Float32;
        let text_list = D::List(Arc::new(Field::new("item", D::Utf8, true)));
        let i16_list = D::List(Arc::new(Field::new("item", D::Int16, true)));
        let oid_list = D::List(Arc::new(Field::new("item", D::Int64, true)));
        let s = |v: &str| ScalarValue::Utf8(Some(v.to_string()));
        let o = |v: i64| ScalarValue::Int64(Some(v));
        let bo = |v: bool| ScalarValue::Boolean(Some(v));
        let n16 = |v: i16| ScalarValue::Int16(Some(v));
        let n32 = |v: i32| ScalarValue::Int32(Some(v));
        let null = ScalarValue::Null;
        let user = self.identity.user.as_str();

        let columns: Vec<(&'static str, DataType)>;
        let mut rows: Vec<Vec<ScalarValue>> = Vec::new();
        macro_rules! cols {
            ($($n:literal : $t:expr),* $(,)?) => { vec![$(($n, $t.clone())),*] };
        }
        match name {
            "pg_namespace" => {
                columns = cols!["oid": oid, "nspname": text, "nspowner": oid, "nspacl": text_list];
                let (namespaces, _) = self.relations().await?;
                for (nsp_oid, nsp) in namespaces {
                    rows.push(vec![o(nsp_oid), s(&nsp), o(ROLE_OID), null.clone()]);
                }
            }
            "pg_class" => {
                columns = cols![
                    "oid": oid, "relname": text, "relnamespace": oid, "reltype": oid,
                    "reloftype": oid, "relowner": oid, "relam": oid, "relfilenode": oid,
                    "reltablespace": oid, "relpages": i32t, "reltuples": f32t,
                    "relallvisible": i32t, "reltoastrelid": oid, "relhasindex": b,
                    "relisshared": b, "relpersistence": text, "relkind": text, "relnatts": i16t,
                    "relchecks": i16t, "relhasrules": b, "relhastriggers": b,
                    "relhassubclass": b, "relrowsecurity": b, "relforcerowsecurity": b,
                    "relispopulated": b, "relreplident": text, "relispartition": b,
                    "relrewrite": oid, "relfrozenxid": oid, "relminmxid": oid,
                    "relacl": text_list, "reloptions": text_list, "relpartbound": text,
                ];
                let (_, rels) = self.relations().await?;
                for r in rels {
                    let am = if r.kind == "r" { 2 } else { 0 };
                    rows.push(vec![
                        o(r.oid),
                        s(&r.name),
                        o(r.nsp),
                        o(0),
                        o(0),
                        o(ROLE_OID),
                        o(am),
                        o(r.oid),
                        o(0),
                        n32(0),
                        ScalarValue::Float32(Some(-1.0)),
                        n32(0),
                        o(0),
                        bo(false),
                        bo(false),
                        s("p"),
                        s(r.kind),
                        n16(r.fields.len() as i16),
                        n16(0),
                        bo(false),
                        bo(false),
                        bo(false),
                        bo(false),
                        bo(false),
                        bo(true),
                        s("d"),
                        bo(false),
                        o(0),
                        o(0),
                        o(0),
                        null.clone(),
                        null.clone(),
                        null.clone(),
                    ]);
                }
            }
            "pg_attribute" => {
                columns = cols![
                    "attrelid": oid, "attname": text, "atttypid": oid, "attstattarget": i16t,
                    "attlen": i16t, "attnum": i16t, "attndims": i16t, "attcacheoff": i32t,
                    "atttypmod": i32t, "attbyval": b, "attalign": text, "attstorage": text,
                    "attcompression": text, "attnotnull": b, "atthasdef": b,
                    "atthasmissing": b, "attidentity": text, "attgenerated": text,
                    "attisdropped": b, "attislocal": b, "attinhcount": i16t,
                    "attcollation": oid, "attacl": text_list, "attoptions": text_list,
                    "attfdwoptions": text_list, "attmissingval": text,
                ];
                let (_, rels) = self.relations().await?;
                for r in rels {
                    for (k, f) in r.fields.iter().enumerate() {
                        let t = types::column_type(f);
                        let dims = match t.wire {
                            Wire::Array { dims, .. } => dims as i16,
                            _ => 0,
                        };
                        let collation = if t.oid == 25 { 100 } else { 0 };
                        rows.push(vec![
                            o(r.oid),
                            s(f.name()),
                            o(i64::from(t.oid)),
                            n16(-1),
                            n16(t.len),
                            n16(k as i16 + 1),
                            n16(dims),
                            n32(-1),
                            n32(t.typmod),
                            bo(t.len > 0 && t.len <= 8),
                            s(if t.len == 8 { "d" } else { "i" }),
                            s(if t.len > 0 { "p" } else { "x" }),
                            s(""),
                            bo(!f.is_nullable()),
                            bo(false),
                            bo(false),
                            s(""),
                            s(""),
                            bo(false),
                            bo(true),
                            n16(0),
                            o(collation),
                            null.clone(),
                            null.clone(),
                            null.clone(),
                            null.clone(),
                        ]);
                    }
                }
            }
            "pg_type" => {
                columns = cols![
                    "oid": oid, "typname": text, "typnamespace": oid, "typowner": oid,
                    "typlen": i16t, "typbyval": b, "typtype": text, "typcategory": text,
                    "typispreferred": b, "typisdefined": b, "typdelim": text, "typrelid": oid,
                    "typsubscript": text, "typelem": oid, "typarray": oid, "typinput": text,
                    "typoutput": text, "typreceive": text, "typsend": text, "typmodin": text,
                    "typmodout": text, "typanalyze": text, "typalign": text, "typstorage": text,
                    "typnotnull": b, "typbasetype": oid, "typtypmod": i32t, "typndims": i32t,
                    "typcollation": oid, "typdefaultbin": text, "typdefault": text,
                    "typacl": text_list,
                ];
                for t in types::TYPES {
                    let is_array = t.elem != 0;
                    let io = if is_array { "array" } else { t.name };
                    let typtype = if t.category == 'P' { "p" } else { "b" };
                    let collation = if matches!(t.oid, 25 | 1043 | 1042 | 19) {
                        100
                    } else {
                        0
                    };
                    rows.push(vec![
                        o(i64::from(t.oid)),
                        s(t.name),
                        o(PG_CATALOG_OID),
                        o(ROLE_OID),
                        n16(t.len),
                        bo(t.len > 0 && t.len <= 8),
                        s(typtype),
                        s(&t.category.to_string()),
                        bo(matches!(t.oid, 25 | 701 | 1184 | 16)),
                        bo(true),
                        s(","),
                        o(0),
                        s(if is_array {
                            "array_subscript_handler"
                        } else {
                            "-"
                        }),
                        o(i64::from(t.elem)),
                        o(i64::from(t.array)),
                        s(&format!("{io}_in")),
                        s(&format!("{io}_out")),
                        s(&format!("{io}_recv")),
                        s(&format!("{io}_send")),
                        s("-"),
                        s("-"),
                        s("-"),
                        s(if t.len == 8 { "d" } else { "i" }),
                        s(if t.len > 0 { "p" } else { "x" }),
                        bo(false),
                        o(0),
                        n32(-1),
                        n32(0),
                        o(collation),
                        null.clone(),
                        null.clone(),
                        null.clone(),
                    ]);
                }
            }
            "pg_proc" => {
                columns = cols![
                    "oid": oid, "proname": text, "pronamespace": oid, "proowner": oid,
                    "prolang": oid, "procost": f32t, "prorows": f32t, "provariadic": oid,
                    "prosupport": text, "prokind": text, "prosecdef": b, "proleakproof": b,
                    "proisstrict": b, "proretset": b, "provolatile": text, "proparallel": text,
                    "pronargs": i16t, "pronargdefaults": i16t, "prorettype": oid,
                    "proargtypes": oid_list, "proallargtypes": oid_list,
                    "proargmodes": text_list, "proargnames": text_list,
                    "proargdefaults": text, "protrftypes": oid_list, "prosrc": text,
                    "probin": text, "prosqlbody": text, "proconfig": text_list,
                    "proacl": text_list,
                ];
                for (fname, kind) in &self.functions {
                    rows.push(vec![
                        o(stable_oid("function", fname)),
                        s(fname),
                        o(PG_CATALOG_OID),
                        o(ROLE_OID),
                        o(12),
                        ScalarValue::Float32(Some(1.0)),
                        ScalarValue::Float32(Some(0.0)),
                        o(0),
                        s("-"),
                        s(kind),
                        bo(false),
                        bo(false),
                        bo(false),
                        bo(false),
                        s("i"),
                        s("s"),
                        n16(0),
                        n16(0),
                        o(25),
                        null.clone(),
                        null.clone(),
                        null.clone(),
                        null.clone(),
                        null.clone(),
                        null.clone(),
                        s(fname),
                        null.clone(),
                        null.clone(),
                        null.clone(),
                        null.clone(),
                    ]);
                }
            }
            "hepq_information_schema_schemata" => {
                columns = cols![
                    "catalog_name": text, "schema_name": text, "schema_owner": text,
                    "default_character_set_catalog": text, "default_character_set_schema": text,
                    "default_character_set_name": text, "sql_path": text,
                ];
                let (namespaces, _) = self.relations().await?;
                for (_, nsp) in namespaces {
                    rows.push(vec![
                        s(&self.identity.database),
                        s(&nsp),
                        s(user),
                        null.clone(),
                        null.clone(),
                        null.clone(),
                        null.clone(),
                    ]);
                }
            }
            "hepq_information_schema_tables" | "hepq_information_schema_views" => {
                let views = name.ends_with("views");
                columns = if views {
                    cols![
                        "table_catalog": text, "table_schema": text, "table_name": text,
                        "view_definition": text, "check_option": text, "is_updatable": text,
                        "is_insertable_into": text, "is_trigger_updatable": text,
                        "is_trigger_deletable": text, "is_trigger_insertable_into": text,
                    ]
                } else {
                    cols![
                        "table_catalog": text, "table_schema": text, "table_name": text,
                        "table_type": text, "self_referencing_column_name": text,
                        "reference_generation": text, "user_defined_type_catalog": text,
                        "user_defined_type_schema": text, "user_defined_type_name": text,
                        "is_insertable_into": text, "is_typed": text, "commit_action": text,
                    ]
                };
                let (_, rels) = self.relations().await?;
                for r in rels.iter().filter(|r| !views || r.kind == "v") {
                    let head = [s(&self.identity.database), s(&r.schema), s(&r.name)];
                    let tail = if views {
                        vec![
                            null.clone(),
                            s("NONE"),
                            s("NO"),
                            s("NO"),
                            s("NO"),
                            s("NO"),
                            s("NO"),
                        ]
                    } else {
                        let kind = if r.kind == "v" { "VIEW" } else { "BASE TABLE" };
                        let mut t = vec![s(kind)];
                        t.extend(std::iter::repeat_n(null.clone(), 5));
                        t.extend([s("NO"), s("NO"), null.clone()]);
                        t
                    };
                    rows.push(head.into_iter().chain(tail).collect());
                }
            }
            "hepq_information_schema_columns" => {
                columns = cols![
                    "table_catalog": text, "table_schema": text, "table_name": text,
                    "column_name": text, "ordinal_position": i32t, "column_default": text,
                    "is_nullable": text, "data_type": text, "character_maximum_length": i32t,
                    "character_octet_length": i32t, "numeric_precision": i32t,
                    "numeric_precision_radix": i32t, "numeric_scale": i32t,
                    "datetime_precision": i32t, "interval_type": text,
                    "interval_precision": i32t, "collation_name": text, "domain_name": text,
                    "udt_catalog": text, "udt_schema": text, "udt_name": text,
                    "dtd_identifier": text, "is_self_referencing": text, "is_identity": text,
                    "identity_generation": text, "is_generated": text,
                    "generation_expression": text, "is_updatable": text,
                ];
                let (_, rels) = self.relations().await?;
                for r in rels {
                    for (k, f) in r.fields.iter().enumerate() {
                        let t = types::column_type(f);
                        let row = types::type_row(t.oid);
                        let udt = row.map_or("", |row| row.name);
                        let data_type = if matches!(t.wire, Wire::Array { .. }) {
                            "ARRAY".to_string()
                        } else {
                            format_type(i64::from(t.oid), None)
                        };
                        let (precision, radix, scale) = match t.oid {
                            21 => (Some(16), Some(2), Some(0)),
                            23 => (Some(32), Some(2), Some(0)),
                            20 => (Some(64), Some(2), Some(0)),
                            700 => (Some(24), Some(2), None),
                            701 => (Some(53), Some(2), None),
                            1700 if t.typmod >= 4 => (
                                Some((t.typmod - 4) >> 16),
                                Some(10),
                                Some((t.typmod - 4) & 0xffff),
                            ),
                            1700 => (None, Some(10), None),
                            _ => (None, None, None),
                        };
                        let datetime = matches!(t.oid, 1082 | 1083 | 1114 | 1184)
                            .then_some(if t.oid == 1082 { 0 } else { 6 });
                        let int = |v: Option<i32>| ScalarValue::Int32(v);
                        rows.push(vec![
                            s(&self.identity.database),
                            s(&r.schema),
                            s(&r.name),
                            s(f.name()),
                            n32(k as i32 + 1),
                            null.clone(),
                            s(if f.is_nullable() { "YES" } else { "NO" }),
                            s(&data_type),
                            null.clone(),
                            if t.oid == 25 {
                                n32(1_073_741_824)
                            } else {
                                null.clone()
                            },
                            int(precision),
                            int(radix),
                            int(scale),
                            int(datetime),
                            null.clone(),
                            null.clone(),
                            null.clone(),
                            null.clone(),
                            s(&self.identity.database),
                            s("pg_catalog"),
                            s(udt),
                            s(&(k + 1).to_string()),
                            s("NO"),
                            s("NO"),
                            null.clone(),
                            s("NEVER"),
                            null.clone(),
                            s("NO"),
                        ]);
                    }
                }
            }
            "pg_stat_activity" => {
                let ts = D::Timestamp(
                    hepq_sql::datafusion::arrow::datatypes::TimeUnit::Microsecond,
                    Some("+00:00".into()),
                );
                columns = cols![
                    "datid": oid, "datname": text, "pid": i32t, "leader_pid": i32t,
                    "usesysid": oid, "usename": text, "application_name": text,
                    "client_addr": text, "client_hostname": text, "client_port": i32t,
                    "backend_start": ts, "xact_start": ts, "query_start": ts,
                    "state_change": ts, "wait_event_type": text, "wait_event": text,
                    "state": text, "backend_xid": oid, "backend_xmin": oid, "query_id": oid,
                    "query": text, "backend_type": text,
                ];
                let at =
                    |v: Option<i64>| ScalarValue::TimestampMicrosecond(v, Some("+00:00".into()));
                let activity = self
                    .backends
                    .as_ref()
                    .map(|b| b.activity())
                    .unwrap_or_default();
                for a in activity {
                    rows.push(vec![
                        o(DATABASE_OID),
                        s(&a.database),
                        n32(a.pid),
                        null.clone(),
                        o(ROLE_OID),
                        s(&a.user),
                        s(&a.application_name),
                        s(&a.client.ip().to_string()),
                        null.clone(),
                        n32(i32::from(a.client.port())),
                        at(Some(a.backend_start)),
                        at(a.xact_start),
                        at(a.query_start),
                        at(Some(a.state_change)),
                        if a.state == "idle" {
                            s("Client")
                        } else {
                            null.clone()
                        },
                        if a.state == "idle" {
                            s("ClientRead")
                        } else {
                            null.clone()
                        },
                        s(a.state),
                        null.clone(),
                        null.clone(),
                        null.clone(),
                        s(&a.query),
                        s("client backend"),
                    ]);
                }
            }
            "pg_cursors" => {
                columns = cols![
                    "name": text, "statement": text, "is_holdable": b, "is_binary": b,
                    "is_scrollable": b,
                    "creation_time": D::Timestamp(
                        hepq_sql::datafusion::arrow::datatypes::TimeUnit::Microsecond,
                        Some("+00:00".into())
                    ),
                ];
                let cursors = self.cursors.lock().map(|c| c.clone()).unwrap_or_default();
                for c in cursors {
                    rows.push(vec![
                        s(&c.name),
                        s(&c.statement),
                        bo(c.is_holdable),
                        bo(c.is_binary),
                        bo(false),
                        ScalarValue::TimestampMicrosecond(
                            Some(c.created_micros),
                            Some("+00:00".into()),
                        ),
                    ]);
                }
            }
            "pg_settings" => {
                columns = cols![
                    "name": text, "setting": text, "unit": text, "category": text,
                    "short_desc": text, "extra_desc": text, "context": text, "vartype": text,
                    "source": text, "min_val": text, "max_val": text, "enumvals": text_list,
                    "boot_val": text, "reset_val": text, "sourcefile": text, "sourceline": i32t,
                    "pending_restart": b,
                ];
                let all = self.settings.lock().map(|s| s.all()).unwrap_or_default();
                for (n, v) in all {
                    rows.push(vec![
                        s(&n),
                        s(&v),
                        null.clone(),
                        s("hepq"),
                        s(""),
                        null.clone(),
                        s("user"),
                        s("string"),
                        s("default"),
                        null.clone(),
                        null.clone(),
                        null.clone(),
                        s(&v),
                        s(&v),
                        null.clone(),
                        null.clone(),
                        bo(false),
                    ]);
                }
            }
            "pg_database" => {
                columns = cols![
                    "oid": oid, "datname": text, "datdba": oid, "encoding": i32t,
                    "datlocprovider": text, "datistemplate": b, "datallowconn": b,
                    "datconnlimit": i32t, "datfrozenxid": oid, "datminmxid": oid,
                    "dattablespace": oid, "datcollate": text, "datctype": text,
                    "daticulocale": text, "daticurules": text, "datcollversion": text,
                    "datacl": text_list,
                ];
                rows.push(vec![
                    o(DATABASE_OID),
                    s(&self.identity.database),
                    o(ROLE_OID),
                    n32(6),
                    s("c"),
                    bo(false),
                    bo(true),
                    n32(-1),
                    o(0),
                    o(0),
                    o(1663),
                    s("C"),
                    s("C"),
                    null.clone(),
                    null.clone(),
                    null.clone(),
                    null.clone(),
                ]);
            }
            "pg_roles" => {
                columns = cols![
                    "rolname": text, "rolsuper": b, "rolinherit": b, "rolcreaterole": b,
                    "rolcreatedb": b, "rolcanlogin": b, "rolreplication": b,
                    "rolconnlimit": i32t, "rolpassword": text, "rolvaliduntil": text,
                    "rolbypassrls": b, "rolconfig": text_list, "oid": oid,
                ];
                rows.push(vec![
                    s(user),
                    bo(false),
                    bo(true),
                    bo(false),
                    bo(false),
                    bo(true),
                    bo(false),
                    n32(-1),
                    s("********"),
                    null.clone(),
                    bo(false),
                    null.clone(),
                    o(ROLE_OID),
                ]);
            }
            "pg_user" => {
                columns = cols![
                    "usename": text, "usesysid": oid, "usecreatedb": b, "usesuper": b,
                    "userepl": b, "usebypassrls": b, "passwd": text, "valuntil": text,
                    "useconfig": text_list,
                ];
                rows.push(vec![
                    s(user),
                    o(ROLE_OID),
                    bo(false),
                    bo(false),
                    bo(false),
                    bo(false),
                    s("********"),
                    null.clone(),
                    null.clone(),
                ]);
            }
            "pg_am" => {
                columns = cols!["oid": oid, "amname": text, "amhandler": text, "amtype": text];
                rows.push(vec![o(2), s("heap"), s("heap_tableam_handler"), s("t")]);
                rows.push(vec![o(403), s("btree"), s("bthandler"), s("i")]);
            }
            "pg_tablespace" => {
                columns = cols![
                    "oid": oid, "spcname": text, "spcowner": oid, "spcacl": text_list,
                    "spcoptions": text_list,
                ];
                rows.push(vec![
                    o(1663),
                    s("pg_default"),
                    o(ROLE_OID),
                    null.clone(),
                    null.clone(),
                ]);
                rows.push(vec![
                    o(1664),
                    s("pg_global"),
                    o(ROLE_OID),
                    null.clone(),
                    null.clone(),
                ]);
            }
            "pg_tables" | "pg_views" => {
                let (_, rels) = self.relations().await?;
                if name == "pg_tables" {
                    columns = cols![
                        "schemaname": text, "tablename": text, "tableowner": text,
                        "tablespace": text, "hasindexes": b, "hasrules": b, "hastriggers": b,
                        "rowsecurity": b,
                    ];
                    for r in rels.iter().filter(|r| r.kind == "r") {
                        rows.push(vec![
                            s(&r.schema),
                            s(&r.name),
                            s(user),
                            null.clone(),
                            bo(false),
                            bo(false),
                            bo(false),
                            bo(false),
                        ]);
                    }
                } else {
                    columns = cols![
                        "schemaname": text, "viewname": text, "viewowner": text,
                        "definition": text,
                    ];
                    for r in rels.iter().filter(|r| r.kind == "v") {
                        rows.push(vec![s(&r.schema), s(&r.name), s(user), null.clone()]);
                    }
                }
            }
            // Catalogs that are always empty in hepq: PostgreSQL's columns, no rows.
            "pg_attrdef" => {
                columns = cols!["oid": oid, "adrelid": oid, "adnum": i16t, "adbin": text]
            }
            "pg_auth_members" => {
                columns = cols!["oid": oid, "roleid": oid, "member": oid, "grantor": oid, "admin_option": b]
            }
            "pg_collation" => {
                columns = cols![
                    "oid": oid, "collname": text, "collnamespace": oid, "collowner": oid,
                    "collprovider": text, "collisdeterministic": b, "collencoding": i32t,
                    "collcollate": text, "collctype": text,
                ]
            }
            "pg_constraint" => {
                columns = cols![
                    "oid": oid, "conname": text, "connamespace": oid, "contype": text,
                    "condeferrable": b, "condeferred": b, "convalidated": b, "conrelid": oid,
                    "contypid": oid, "conindid": oid, "conparentid": oid, "confrelid": oid,
                    "confupdtype": text, "confdeltype": text, "confmatchtype": text,
                    "conislocal": b, "coninhcount": i16t, "connoinherit": b, "conkey": i16_list,
                    "confkey": i16_list, "conpfeqop": oid_list, "conppeqop": oid_list,
                    "conffeqop": oid_list, "confdelsetcols": i16_list, "conexclop": oid_list,
                    "conbin": text,
                ]
            }
            "pg_depend" => {
                columns = cols![
                    "classid": oid, "objid": oid, "objsubid": i32t, "refclassid": oid,
                    "refobjid": oid, "refobjsubid": i32t, "deptype": text,
                ]
            }
            "pg_description" => {
                columns =
                    cols!["objoid": oid, "classoid": oid, "objsubid": i32t, "description": text]
            }
            "pg_shdescription" => {
                columns = cols!["objoid": oid, "classoid": oid, "description": text]
            }
            "pg_enum" => {
                columns =
                    cols!["oid": oid, "enumtypid": oid, "enumsortorder": f32t, "enumlabel": text]
            }
            "pg_extension" => {
                columns = cols![
                    "oid": oid, "extname": text, "extowner": oid, "extnamespace": oid,
                    "extrelocatable": b, "extversion": text, "extconfig": oid_list,
                    "extcondition": text_list,
                ]
            }
            "pg_foreign_table" => {
                columns = cols!["ftrelid": oid, "ftserver": oid, "ftoptions": text_list]
            }
            "pg_index" => {
                columns = cols![
                    "indexrelid": oid, "indrelid": oid, "indnatts": i16t, "indnkeyatts": i16t,
                    "indisunique": b, "indnullsnotdistinct": b, "indisprimary": b,
                    "indisexclusion": b, "indimmediate": b, "indisclustered": b,
                    "indisvalid": b, "indcheckxmin": b, "indisready": b, "indislive": b,
                    "indisreplident": b, "indkey": i16_list, "indcollation": oid_list,
                    "indclass": oid_list, "indoption": i16_list, "indexprs": text,
                    "indpred": text,
                ]
            }
            "pg_indexes" => {
                columns = cols![
                    "schemaname": text, "tablename": text, "indexname": text,
                    "tablespace": text, "indexdef": text,
                ]
            }
            "pg_inherits" => {
                columns = cols![
                    "inhrelid": oid, "inhparent": oid, "inhseqno": i32t, "inhdetachpending": b,
                ]
            }
            "pg_opclass" => {
                columns = cols![
                    "oid": oid, "opcmethod": oid, "opcname": text, "opcnamespace": oid,
                    "opcowner": oid, "opcfamily": oid, "opcintype": oid, "opcdefault": b,
                    "opckeytype": oid,
                ]
            }
            "pg_matviews" => {
                columns = cols![
                    "schemaname": text, "matviewname": text, "matviewowner": text,
                    "tablespace": text, "hasindexes": b, "ispopulated": b, "definition": text,
                ]
            }
            "pg_partitioned_table" => {
                columns = cols![
                    "partrelid": oid, "partstrat": text, "partnatts": i16t, "partdefid": oid,
                    "partattrs": i16_list,
                ]
            }
            "pg_policy" => {
                columns = cols![
                    "oid": oid, "polname": text, "polrelid": oid, "polcmd": text,
                    "polpermissive": b, "polroles": oid_list, "polqual": text,
                    "polwithcheck": text,
                ]
            }
            "pg_publication" => {
                columns = cols![
                    "oid": oid, "pubname": text, "pubowner": oid, "puballtables": b,
                    "pubinsert": b, "pubupdate": b, "pubdelete": b, "pubtruncate": b,
                    "pubviaroot": b,
                ]
            }
            "pg_publication_namespace" => {
                columns = cols!["oid": oid, "pnpubid": oid, "pnnspid": oid]
            }
            "pg_publication_rel" => {
                columns = cols!["oid": oid, "prpubid": oid, "prrelid": oid, "prqual": text, "prattrs": i16_list]
            }
            "pg_range" => {
                columns = cols![
                    "rngtypid": oid, "rngsubtype": oid, "rngmultitypid": oid,
                    "rngcollation": oid, "rngsubopc": oid, "rngcanonical": text,
                    "rngsubdiff": text,
                ]
            }
            "pg_rewrite" => {
                columns = cols![
                    "oid": oid, "rulename": text, "ev_class": oid, "ev_type": text,
                    "ev_enabled": text, "is_instead": b,
                ]
            }
            "pg_sequence" => {
                columns = cols![
                    "seqrelid": oid, "seqtypid": oid, "seqstart": oid, "seqincrement": oid,
                    "seqmax": oid, "seqmin": oid, "seqcache": oid, "seqcycle": b,
                ]
            }
            "pg_statistic_ext" => {
                columns = cols![
                    "oid": oid, "stxrelid": oid, "stxname": text, "stxnamespace": oid,
                    "stxowner": oid, "stxkeys": i16_list, "stxkind": text_list, "stxstattarget": i16t,
                ]
            }
            "pg_trigger" => {
                columns = cols![
                    "oid": oid, "tgrelid": oid, "tgparentid": oid, "tgname": text,
                    "tgfoid": oid, "tgtype": i16t, "tgenabled": text, "tgisinternal": b,
                ]
            }
            _ => return Ok(None),
        }
        Ok(Some((columns, rows)))
    }
}

/// Columns of the emulated catalog whose PostgreSQL type is `name` (the others are `text`).
const NAME_COLUMNS: &[&str] = &[
    "amname",
    "attname",
    "collname",
    "conname",
    "datname",
    "enumlabel",
    "extname",
    "indexname",
    "matviewname",
    "matviewowner",
    "nspname",
    "polname",
    "proname",
    "pubname",
    "relname",
    "rolname",
    "rulename",
    "schemaname",
    "spcname",
    "stxname",
    "tablename",
    "tableowner",
    "tablespace",
    "tgname",
    "typname",
    "usename",
    "viewname",
    "viewowner",
];

/// Catalog functions that return PostgreSQL's `name`.
const NAME_FUNCTIONS: &[&str] = &[
    "current_database",
    "current_role",
    "current_schema",
    "current_user",
    "pg_get_userbyid",
    "session_user",
    "user",
];

/// Columns of the emulated catalog whose PostgreSQL type is `"char"`.
const CHAR_COLUMNS: &[&str] = &[
    "amtype",
    "attalign",
    "attcompression",
    "attgenerated",
    "attidentity",
    "attstorage",
    "confdeltype",
    "confmatchtype",
    "confupdtype",
    "contype",
    "datlocprovider",
    "deptype",
    "polcmd",
    "proparallel",
    "prokind",
    "provolatile",
    "relkind",
    "relpersistence",
    "relreplident",
    "tgenabled",
    "typalign",
    "typcategory",
    "typdelim",
    "typstorage",
    "typtype",
];

/// A catalog column as the wire describes it: Int64 columns are `oid`s, and the
/// [`NAME_COLUMNS`]/[`CHAR_COLUMNS`] are `name`/`"char"` (see [`super::types::PG_TYPE_KEY`]).
fn catalog_field(name: &str, data_type: &DataType) -> Field {
    let field = Field::new(name, data_type.clone(), true);
    match data_type {
        DataType::Int64 if name != "query_id" => super::types::pg_type_field(field, "oid"),
        DataType::Utf8 if NAME_COLUMNS.contains(&name) => {
            super::types::pg_type_field(field, "name")
        }
        DataType::Utf8 if CHAR_COLUMNS.contains(&name) => {
            super::types::pg_type_field(field, "char")
        }
        _ => field,
    }
}

fn to_batch(
    columns: Vec<(&'static str, DataType)>,
    rows: Vec<Vec<ScalarValue>>,
) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, t)| catalog_field(n, t))
            .collect::<Vec<_>>(),
    ));
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (k, (_, t)) in columns.iter().enumerate() {
        let mut values = Vec::with_capacity(rows.len());
        for row in &rows {
            let v = row.get(k).cloned().unwrap_or(ScalarValue::Null);
            values.push(if v.is_null() {
                ScalarValue::try_from(t)?
            } else {
                v
            });
        }
        arrays.push(if values.is_empty() {
            hepq_sql::datafusion::arrow::array::new_empty_array(t)
        } else {
            ScalarValue::iter_to_array(values)?
        });
    }
    Ok(RecordBatch::try_new(schema, arrays)?)
}

#[async_trait]
impl SchemaProvider for PgCatalog {
    fn table_names(&self) -> Vec<String> {
        TABLES.iter().map(|t| t.to_string()).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        let Some((columns, rows)) = self.build(name).await? else {
            return Ok(None);
        };
        let batch = to_batch(columns, rows)?;
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        Ok(Some(Arc::new(table)))
    }

    fn table_exist(&self, name: &str) -> bool {
        TABLES.contains(&name)
    }
}

/// What a catalog function computes from one row of (scalar) arguments.
type Body = Arc<dyn Fn(&[ScalarValue]) -> Result<ScalarValue> + Send + Sync>;

/// How a catalog function's return type is chosen.
#[derive(Debug, Clone)]
enum Ret {
    Fixed(DataType),
    /// `hepq_regclass`/`hepq_regtype`: a name gives an OID, an OID gives a name.
    NameOrOid,
}

/// A PostgreSQL catalog function evaluated row by row (catalog queries are small).
struct PgFn {
    name: String,
    signature: Signature,
    ret: Ret,
    body: Body,
}

impl std::fmt::Debug for PgFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgFn({})", self.name)
    }
}

impl PartialEq for PgFn {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for PgFn {}

impl Hash for PgFn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for PgFn {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(match &self.ret {
            Ret::Fixed(t) => t.clone(),
            Ret::NameOrOid => match arg_types.first() {
                Some(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => DataType::Int64,
                _ => DataType::Utf8,
            },
        })
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let arg_types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let field = Field::new(self.name(), self.return_type(&arg_types)?, true);
        Ok(Arc::new(if NAME_FUNCTIONS.contains(&self.name.as_str()) {
            types::pg_type_field(field, "name")
        } else {
            field
        }))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ret = args.return_field.data_type().clone();
        let fix = |v: ScalarValue| -> Result<ScalarValue> {
            if v.is_null() {
                ScalarValue::try_from(&ret)
            } else if v.data_type() != ret {
                v.cast_to(&ret)
            } else {
                Ok(v)
            }
        };
        if args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)))
        {
            let scalars: Vec<ScalarValue> = args
                .args
                .iter()
                .filter_map(|a| match a {
                    ColumnarValue::Scalar(s) => Some(s.clone()),
                    ColumnarValue::Array(_) => None,
                })
                .collect();
            return Ok(ColumnarValue::Scalar(fix((self.body)(&scalars)?)?));
        }
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let mut out = Vec::with_capacity(args.number_rows);
        for row in 0..args.number_rows {
            let mut scalars = Vec::with_capacity(arrays.len());
            for a in &arrays {
                scalars.push(ScalarValue::try_from_array(a, row)?);
            }
            out.push(fix((self.body)(&scalars)?)?);
        }
        if out.is_empty() {
            return Ok(ColumnarValue::Array(
                hepq_sql::datafusion::arrow::array::new_empty_array(&ret),
            ));
        }
        Ok(ColumnarValue::Array(ScalarValue::iter_to_array(out)?))
    }
}

/// A cast to a PostgreSQL type the engine has no type for (`oid`, `name`, `"char"`): the
/// values are cast, whole arrays at a time, to the Arrow type that carries them, and the
/// result column is declared as the PostgreSQL type (see [`types::PG_TYPE_KEY`]).
#[derive(Debug, PartialEq, Eq, Hash)]
struct TypedCast {
    name: &'static str,
    carrier: DataType,
    pg_type: &'static str,
    signature: Signature,
}

impl TypedCast {
    fn new(name: &'static str, carrier: DataType, pg_type: &'static str) -> Self {
        Self {
            name,
            carrier,
            pg_type,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for TypedCast {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.carrier.clone())
    }

    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        let field = Field::new(self.name, self.carrier.clone(), true);
        Ok(Arc::new(types::pg_type_field(field, self.pg_type)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match args.args.first() {
            Some(v) => v.cast_to(&self.carrier, None),
            None => exec_err!("{} takes one argument", self.name),
        }
    }
}

fn udf(name: &str, arities: &[usize], ret: Ret, body: Body) -> ScalarUDF {
    let signature = if arities == [usize::MAX] {
        Signature::variadic_any(Volatility::Stable)
    } else {
        Signature::one_of(
            arities
                .iter()
                .map(|n| {
                    if *n == 0 {
                        TypeSignature::Nullary
                    } else {
                        TypeSignature::Any(*n)
                    }
                })
                .collect(),
            Volatility::Stable,
        )
    };
    ScalarUDF::new_from_impl(PgFn {
        name: name.to_string(),
        signature,
        ret,
        body,
    })
}

fn text_arg(args: &[ScalarValue], k: usize) -> Option<String> {
    match args.get(k)? {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Some(s.clone()),
        v if v.is_null() => None,
        v => Some(v.to_string()),
    }
}

fn int_arg(args: &[ScalarValue], k: usize) -> Option<i64> {
    let v = args.get(k)?;
    if v.is_null() {
        return None;
    }
    v.cast_to(&DataType::Int64).ok().and_then(|v| match v {
        ScalarValue::Int64(x) => x,
        _ => None,
    })
}

/// `format_type(oid, typmod)`.
pub fn format_type(oid: i64, typmod: Option<i64>) -> String {
    let Some(t) = u32::try_from(oid).ok().and_then(types::type_row) else {
        return "???".into();
    };
    match (t.oid, typmod) {
        (1700, Some(m)) if m >= 4 => {
            let m = m - 4;
            format!("numeric({},{})", (m >> 16) & 0xffff, m & 0xffff)
        }
        _ => t.display.to_string(),
    }
}

/// The catalog functions of one session (they read its settings, identity and catalog).
pub fn functions(catalog: Arc<PgCatalog>) -> Vec<ScalarUDF> {
    use DataType as D;
    let settings = Arc::clone(&catalog.settings);
    let identity = catalog.identity.clone();
    let constant = |v: ScalarValue| -> Body { Arc::new(move |_| Ok(v.clone())) };
    let s = |v: &str| ScalarValue::Utf8(Some(v.to_string()));
    let user = identity.user.clone();
    let mut out = vec![
        udf(
            "version",
            &[0],
            Ret::Fixed(D::Utf8),
            constant(s(&super::version_string())),
        ),
        udf(
            "current_schema",
            &[0],
            Ret::Fixed(D::Utf8),
            constant(s("public")),
        ),
        udf(
            "current_database",
            &[0],
            Ret::Fixed(D::Utf8),
            constant(s(&identity.database)),
        ),
        udf(
            "pg_backend_pid",
            &[0],
            Ret::Fixed(D::Int32),
            constant(ScalarValue::Int32(Some(identity.pid))),
        ),
        udf(
            // Cancels the running statement of another connection of this server (as a
            // CancelRequest would); false when no such connection exists.
            "pg_cancel_backend",
            &[1],
            Ret::Fixed(D::Boolean),
            {
                let backends = catalog.backends.clone();
                Arc::new(move |args: &[ScalarValue]| {
                    let Some(pid) = int_arg(args, 0) else {
                        return Ok(ScalarValue::Boolean(None));
                    };
                    let done = match (&backends, i32::try_from(pid)) {
                        (Some(b), Ok(pid)) => b.cancel(pid, None),
                        _ => false,
                    };
                    Ok(ScalarValue::Boolean(Some(done)))
                })
            },
        ),
        udf(
            // hepq has no advisory locks, so there is never one to release (asyncpg's pool
            // calls this when a connection goes back to the pool).
            "pg_advisory_unlock_all",
            &[0],
            Ret::Fixed(D::Utf8),
            constant(ScalarValue::Utf8(None)),
        ),
        udf(
            "pg_is_in_recovery",
            &[0],
            Ret::Fixed(D::Boolean),
            constant(ScalarValue::Boolean(Some(false))),
        ),
        udf(
            "pg_encoding_to_char",
            &[1],
            Ret::Fixed(D::Utf8),
            constant(s("UTF8")),
        ),
        udf(
            "txid_current",
            &[0],
            Ret::Fixed(D::Int64),
            constant(ScalarValue::Int64(Some(1))),
        ),
        udf(
            "current_schemas",
            &[1],
            Ret::Fixed(D::List(Arc::new(Field::new("item", D::Utf8, true)))),
            Arc::new(|args| {
                let implicit = matches!(args.first(), Some(ScalarValue::Boolean(Some(true))));
                let mut names = vec![];
                if implicit {
                    names.push(ScalarValue::Utf8(Some("pg_catalog".into())));
                }
                names.push(ScalarValue::Utf8(Some("public".into())));
                Ok(ScalarValue::List(ScalarValue::new_list_nullable(
                    &names,
                    &D::Utf8,
                )))
            }),
        ),
        udf(
            "format_type",
            &[1, 2],
            Ret::Fixed(D::Utf8),
            Arc::new(|args| {
                Ok(match int_arg(args, 0) {
                    Some(oid) => ScalarValue::Utf8(Some(format_type(oid, int_arg(args, 1)))),
                    None => ScalarValue::Utf8(None),
                })
            }),
        ),
        udf(
            "quote_ident",
            &[1],
            Ret::Fixed(D::Utf8),
            Arc::new(|args| {
                Ok(ScalarValue::Utf8(text_arg(args, 0).map(|t| {
                    let plain = t
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
                        && t.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                    if plain {
                        t
                    } else {
                        hepq_sql::quote_identifier(&t)
                    }
                })))
            }),
        ),
        udf(
            "pg_size_pretty",
            &[1],
            Ret::Fixed(D::Utf8),
            Arc::new(|args| {
                Ok(ScalarValue::Utf8(
                    int_arg(args, 0).map(|n| format!("{n} bytes")),
                ))
            }),
        ),
        udf(
            "to_regtype",
            &[1],
            Ret::Fixed(D::Int64),
            Arc::new(|args| {
                Ok(ScalarValue::Int64(
                    text_arg(args, 0)
                        .and_then(|n| types::type_oid_by_name(&n))
                        .map(i64::from),
                ))
            }),
        ),
        udf(
            "hepq_regtype",
            &[1],
            Ret::NameOrOid,
            Arc::new(|args| match args.first() {
                Some(
                    ScalarValue::Utf8(Some(n))
                    | ScalarValue::LargeUtf8(Some(n))
                    | ScalarValue::Utf8View(Some(n)),
                ) => match types::type_oid_by_name(n) {
                    Some(oid) => Ok(ScalarValue::Int64(Some(i64::from(oid)))),
                    None => exec_err!("type \"{n}\" does not exist"),
                },
                _ => Ok(ScalarValue::Utf8(
                    int_arg(args, 0).map(|o| format_type(o, None)),
                )),
            }),
        ),
    ];
    for name in [
        "current_user",
        "session_user",
        "user",
        "current_role",
        "pg_get_userbyid",
    ] {
        let arity: &[usize] = if name == "pg_get_userbyid" {
            &[1]
        } else {
            &[0]
        };
        out.push(udf(name, arity, Ret::Fixed(D::Utf8), constant(s(&user))));
    }
    for name in [
        "pg_table_is_visible",
        "pg_type_is_visible",
        "pg_function_is_visible",
        "has_table_privilege",
        "has_schema_privilege",
        "has_database_privilege",
        "has_column_privilege",
        "has_any_column_privilege",
        "has_function_privilege",
        "has_sequence_privilege",
        "pg_has_role",
    ] {
        out.push(udf(
            name,
            &[usize::MAX],
            Ret::Fixed(D::Boolean),
            constant(ScalarValue::Boolean(Some(true))),
        ));
    }
    out.push(udf(
        "pg_relation_is_publishable",
        &[1],
        Ret::Fixed(D::Boolean),
        constant(ScalarValue::Boolean(Some(false))),
    ));
    for name in [
        "pg_get_expr",
        "pg_get_constraintdef",
        "pg_get_indexdef",
        "pg_get_viewdef",
        "pg_get_triggerdef",
        "pg_get_ruledef",
        "pg_get_functiondef",
        "pg_get_function_result",
        "pg_get_function_arguments",
        "pg_get_function_identity_arguments",
        "pg_get_serial_sequence",
        "pg_get_partkeydef",
        "pg_get_statisticsobjdef_columns",
        "obj_description",
        "col_description",
        "shobj_description",
    ] {
        out.push(udf(
            name,
            &[usize::MAX],
            Ret::Fixed(D::Utf8),
            constant(ScalarValue::Utf8(None)),
        ));
    }
    for name in [
        "pg_relation_size",
        "pg_total_relation_size",
        "pg_table_size",
        "pg_indexes_size",
        "pg_database_size",
    ] {
        out.push(udf(
            name,
            &[usize::MAX],
            Ret::Fixed(D::Int64),
            constant(ScalarValue::Int64(Some(0))),
        ));
    }
    let read = Arc::clone(&settings);
    out.push(udf(
        "current_setting",
        &[1, 2],
        Ret::Fixed(D::Utf8),
        Arc::new(move |args| {
            let Some(name) = text_arg(args, 0) else {
                return Ok(ScalarValue::Utf8(None));
            };
            let missing_ok = matches!(args.get(1), Some(ScalarValue::Boolean(Some(true))));
            let value = read
                .lock()
                .ok()
                .and_then(|s| s.get(&name).map(str::to_string));
            match value {
                Some(v) => Ok(ScalarValue::Utf8(Some(v))),
                None if missing_ok => Ok(ScalarValue::Utf8(None)),
                None => exec_err!("unrecognized configuration parameter \"{name}\""),
            }
        }),
    ));
    let write = Arc::clone(&settings);
    out.push(udf(
        "set_config",
        &[3],
        Ret::Fixed(D::Utf8),
        Arc::new(move |args| {
            let (Some(name), Some(value)) = (text_arg(args, 0), text_arg(args, 1)) else {
                return Ok(ScalarValue::Utf8(None));
            };
            if let Ok(mut s) = write.lock() {
                s.set(&name, &value).map_err(DataFusionError::Execution)?;
            }
            Ok(ScalarValue::Utf8(Some(value)))
        }),
    ));
    // `x::oid`, `x::name`, `x::"char"` (rewritten to these).
    out.push(ScalarUDF::new_from_impl(TypedCast::new(
        "hepq_oid",
        D::Int64,
        "oid",
    )));
    out.push(ScalarUDF::new_from_impl(TypedCast::new(
        "hepq_name",
        D::Utf8,
        "name",
    )));
    out.push(ScalarUDF::new_from_impl(TypedCast::new(
        "hepq_char",
        D::Utf8,
        "char",
    )));
    // Relation names <-> OIDs need the live catalog. Its lookup is async but does no I/O for
    // registered tables (they are held in memory), so it is driven to completion in place.
    for (name, strict) in [("hepq_regclass", true), ("to_regclass", false)] {
        let cat = Arc::clone(&catalog);
        out.push(udf(
            name,
            &[1],
            if strict {
                Ret::NameOrOid
            } else {
                Ret::Fixed(D::Int64)
            },
            Arc::new(move |args| match args.first() {
                Some(
                    ScalarValue::Utf8(Some(n))
                    | ScalarValue::LargeUtf8(Some(n))
                    | ScalarValue::Utf8View(Some(n)),
                ) => {
                    let found = futures::executor::block_on(cat.relation_oid(n))?;
                    match found {
                        Some(oid) => Ok(ScalarValue::Int64(Some(oid))),
                        None if strict => exec_err!("relation \"{n}\" does not exist"),
                        None => Ok(ScalarValue::Int64(None)),
                    }
                }
                Some(v) if v.is_null() => Ok(ScalarValue::Null),
                _ if !strict => Ok(ScalarValue::Int64(int_arg(args, 0))),
                _ => {
                    let oid = int_arg(args, 0);
                    let rels = futures::executor::block_on(cat.relations())?.1;
                    Ok(ScalarValue::Utf8(oid.map(|oid| {
                        rels.iter()
                            .find(|r| r.oid == oid)
                            .map(|r| r.name.clone())
                            .unwrap_or_else(|| oid.to_string())
                    })))
                }
            }),
        ));
    }
    out
}
