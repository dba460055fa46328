//! Arrow ↔ PostgreSQL types: the type OID of every Arrow type hepq produces, text and binary
//! encoding of result values, and decoding of bound parameters.
//!
//! | Arrow | PostgreSQL |
//! |---|---|
//! | Boolean | `bool` |
//! | Int8, Int16, UInt8 | `int2` |
//! | Int32, UInt16 | `int4` |
//! | Int64, UInt32, UInt64 | `int8` (a UInt64 value above 2^63-1 fails the query, 22003) |
//! | Decimal128/256(p, s) | `numeric` (typmod from p, s) |
//! | Float16, Float32 | `float4` |
//! | Float64 | `float8` |
//! | Utf8, LargeUtf8, Utf8View | `text` (`json` when marked `arrow.json`, e.g. histograms) |
//! | Binary, LargeBinary, BinaryView, FixedSizeBinary | `bytea` |
//! | Date32, Date64 | `date` |
//! | Time32, Time64 | `time` |
//! | Timestamp without / with time zone | `timestamp` / `timestamptz` (microseconds) |
//! | Interval, Duration | `interval` |
//! | List, LargeList, FixedSizeList, ListView of a scalar T | `T[]` (`_float4`, `_int4`, …) |
//! | lists of FixedSizeLists (rectangular by type) | multi-dimensional `T[]` |
//! | lists of variable-length lists (may be jagged), structs, maps, lists of structs | `json` |
//! | Dictionary(K, V) | as V |
//! | Null | `text` (always NULL) |

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::*;
use bytes::{BufMut, BytesMut};
use hepq_sql::datafusion::common::ScalarValue;

/// Microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days between 1970-01-01 and 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;

/// A PostgreSQL base type hepq sends or accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Scalar {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Text,
    Bytea,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Interval,
    Json,
    /// `name` (catalog identifiers): text on the wire.
    Name,
    /// `"char"` (catalog one-letter codes such as `relkind`): text on the wire.
    Char,
    /// `oid`: an unsigned 32-bit integer (from Int64 values).
    Oid,
}

/// Field-metadata key that declares a column's PostgreSQL type where the Arrow type alone
/// would give another (`name`, `"char"`, `oid` columns of the emulated `pg_catalog` and of
/// the catalog functions); see [`pg_type_field`].
pub const PG_TYPE_KEY: &str = "hepq.pg_type";

/// `field` declared as PostgreSQL type `pg_type` (`name`, `char` or `oid`).
pub fn pg_type_field(field: Field, pg_type: &str) -> Field {
    let mut metadata = field.metadata().clone();
    metadata.insert(PG_TYPE_KEY.to_string(), pg_type.to_string());
    field.with_metadata(metadata)
}

/// The scalar a field's [`PG_TYPE_KEY`] declares, when its Arrow type can carry it.
fn declared_scalar(field: &Field) -> Option<Scalar> {
    use DataType as D;
    let declared = field.metadata().get(PG_TYPE_KEY)?;
    match (declared.as_str(), field.data_type()) {
        ("name", D::Utf8 | D::LargeUtf8 | D::Utf8View) => Some(Scalar::Name),
        ("char", D::Utf8 | D::LargeUtf8 | D::Utf8View) => Some(Scalar::Char),
        ("oid", D::Int32 | D::Int64 | D::UInt32) => Some(Scalar::Oid),
        _ => None,
    }
}

/// A row of the `pg_type` emulation: oid, name, array oid (0 for arrays), element oid (0 for
/// base types), typlen, category.
#[derive(Debug, Clone, Copy)]
pub struct TypeRow {
    /// Type OID.
    pub oid: u32,
    /// `typname`.
    pub name: &'static str,
    /// `typarray`.
    pub array: u32,
    /// `typelem`.
    pub elem: u32,
    /// `typlen`.
    pub len: i16,
    /// `typcategory`.
    pub category: char,
    /// The SQL name `format_type` prints.
    pub display: &'static str,
}

const fn base(
    oid: u32,
    name: &'static str,
    array: u32,
    len: i16,
    category: char,
    display: &'static str,
) -> TypeRow {
    TypeRow {
        oid,
        name,
        array,
        elem: 0,
        len,
        category,
        display,
    }
}

const fn arr(oid: u32, name: &'static str, elem: u32, display: &'static str) -> TypeRow {
    TypeRow {
        oid,
        name,
        array: 0,
        elem,
        len: -1,
        category: 'A',
        display,
    }
}

/// Every type in the `pg_type` emulation.
pub const TYPES: &[TypeRow] = &[
    base(16, "bool", 1000, 1, 'B', "boolean"),
    base(17, "bytea", 1001, -1, 'U', "bytea"),
    base(18, "char", 1002, 1, 'Z', "\"char\""),
    base(19, "name", 1003, 64, 'S', "name"),
    base(20, "int8", 1016, 8, 'N', "bigint"),
    base(21, "int2", 1005, 2, 'N', "smallint"),
    base(23, "int4", 1007, 4, 'N', "integer"),
    base(24, "regproc", 1008, 4, 'N', "regproc"),
    base(25, "text", 1009, -1, 'S', "text"),
    base(26, "oid", 1028, 4, 'N', "oid"),
    base(114, "json", 199, -1, 'U', "json"),
    base(700, "float4", 1021, 4, 'N', "real"),
    base(701, "float8", 1022, 8, 'N', "double precision"),
    base(705, "unknown", 0, -2, 'X', "unknown"),
    base(1042, "bpchar", 1014, -1, 'S', "character"),
    base(1043, "varchar", 1015, -1, 'S', "character varying"),
    base(1082, "date", 1182, 4, 'D', "date"),
    base(1083, "time", 1183, 8, 'D', "time without time zone"),
    base(
        1114,
        "timestamp",
        1115,
        8,
        'D',
        "timestamp without time zone",
    ),
    base(
        1184,
        "timestamptz",
        1185,
        8,
        'D',
        "timestamp with time zone",
    ),
    base(1186, "interval", 1187, 16, 'T', "interval"),
    base(1700, "numeric", 1231, -1, 'N', "numeric"),
    base(2205, "regclass", 2210, 4, 'N', "regclass"),
    base(2206, "regtype", 2211, 4, 'N', "regtype"),
    base(2950, "uuid", 2951, 16, 'U', "uuid"),
    base(3802, "jsonb", 3807, -1, 'U', "jsonb"),
    base(2249, "record", 2287, -1, 'P', "record"),
    base(2278, "void", 0, 4, 'P', "void"),
    arr(1000, "_bool", 16, "boolean[]"),
    arr(1001, "_bytea", 17, "bytea[]"),
    arr(1002, "_char", 18, "\"char\"[]"),
    arr(1003, "_name", 19, "name[]"),
    arr(1016, "_int8", 20, "bigint[]"),
    arr(1005, "_int2", 21, "smallint[]"),
    arr(1007, "_int4", 23, "integer[]"),
    arr(1008, "_regproc", 24, "regproc[]"),
    arr(1009, "_text", 25, "text[]"),
    arr(1028, "_oid", 26, "oid[]"),
    arr(199, "_json", 114, "json[]"),
    arr(1021, "_float4", 700, "real[]"),
    arr(1022, "_float8", 701, "double precision[]"),
    arr(1014, "_bpchar", 1042, "character[]"),
    arr(1015, "_varchar", 1043, "character varying[]"),
    arr(1182, "_date", 1082, "date[]"),
    arr(1183, "_time", 1083, "time without time zone[]"),
    arr(1115, "_timestamp", 1114, "timestamp without time zone[]"),
    arr(1185, "_timestamptz", 1184, "timestamp with time zone[]"),
    arr(1187, "_interval", 1186, "interval[]"),
    arr(1231, "_numeric", 1700, "numeric[]"),
    arr(2210, "_regclass", 2205, "regclass[]"),
    arr(2211, "_regtype", 2206, "regtype[]"),
    arr(2951, "_uuid", 2950, "uuid[]"),
    arr(3807, "_jsonb", 3802, "jsonb[]"),
    arr(2287, "_record", 2249, "record[]"),
];

/// The `pg_type` row of an OID.
pub fn type_row(oid: u32) -> Option<&'static TypeRow> {
    TYPES.iter().find(|t| t.oid == oid)
}

/// The OID of a type name as `::regtype` / `to_regtype` accept it (`int4`, `integer`,
/// `double precision`, `text[]`, `_int4`, `pg_catalog.int8`, …).
pub fn type_oid_by_name(name: &str) -> Option<u32> {
    let name = name.trim().trim_matches('"').to_ascii_lowercase();
    let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
    let aliases: &[(&str, &str)] = &[
        ("boolean", "bool"),
        ("smallint", "int2"),
        ("integer", "int4"),
        ("int", "int4"),
        ("bigint", "int8"),
        ("real", "float4"),
        ("double precision", "float8"),
        ("character varying", "varchar"),
        ("character", "bpchar"),
        ("decimal", "numeric"),
        ("timestamp without time zone", "timestamp"),
        ("timestamp with time zone", "timestamptz"),
        ("time without time zone", "time"),
    ];
    if let Some(elem) = name.strip_suffix("[]") {
        let elem_oid = type_oid_by_name(elem)?;
        return type_row(elem_oid).map(|t| t.array).filter(|a| *a != 0);
    }
    let canonical = aliases
        .iter()
        .find(|(alias, _)| *alias == name)
        .map(|(_, c)| *c)
        .unwrap_or(name);
    TYPES.iter().find(|t| t.name == canonical).map(|t| t.oid)
}

impl Scalar {
    /// The type OID.
    pub fn oid(self) -> u32 {
        match self {
            Scalar::Bool => 16,
            Scalar::Int2 => 21,
            Scalar::Int4 => 23,
            Scalar::Int8 => 20,
            Scalar::Float4 => 700,
            Scalar::Float8 => 701,
            Scalar::Numeric => 1700,
            Scalar::Text => 25,
            Scalar::Bytea => 17,
            Scalar::Date => 1082,
            Scalar::Time => 1083,
            Scalar::Timestamp => 1114,
            Scalar::TimestampTz => 1184,
            Scalar::Interval => 1186,
            Scalar::Json => 114,
            Scalar::Name => 19,
            Scalar::Char => 18,
            Scalar::Oid => 26,
        }
    }

    /// The OID of the array type with this element type.
    pub fn array_oid(self) -> u32 {
        type_row(self.oid()).map(|t| t.array).unwrap_or(0)
    }

    /// `typlen` (-1 for variable length).
    pub fn len(self) -> i16 {
        type_row(self.oid()).map(|t| t.len).unwrap_or(-1)
    }

    /// Whether array text output must consider quoting this element type.
    fn may_need_quotes(self) -> bool {
        !matches!(
            self,
            Scalar::Bool
                | Scalar::Int2
                | Scalar::Int4
                | Scalar::Int8
                | Scalar::Float4
                | Scalar::Float8
                | Scalar::Numeric
                | Scalar::Oid
        )
    }
}

/// How a column travels on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// A base type.
    Scalar(Scalar),
    /// An array with `dims` dimensions of `elem`.
    Array {
        /// Element type.
        elem: Scalar,
        /// Number of dimensions (1 for a list, 2 for a list of fixed-size lists, …).
        dims: usize,
    },
    /// JSON text of the value (structs, maps, jagged nested lists).
    Json,
}

/// The PostgreSQL description of one result column.
#[derive(Debug, Clone, Copy)]
pub struct ColumnType {
    /// How values are encoded.
    pub wire: Wire,
    /// Type OID.
    pub oid: u32,
    /// Type modifier (-1, or numeric precision/scale).
    pub typmod: i32,
    /// `typlen`.
    pub len: i16,
}

fn is_json_field(field: &Field) -> bool {
    field
        .metadata()
        .get("ARROW:extension:name")
        .is_some_and(|n| n == "arrow.json")
}

/// The base type of a non-nested Arrow type.
pub fn scalar_of(data_type: &DataType, json: bool) -> Option<Scalar> {
    use DataType as D;
    Some(match data_type {
        D::Boolean => Scalar::Bool,
        D::Int8 | D::Int16 | D::UInt8 => Scalar::Int2,
        D::Int32 | D::UInt16 => Scalar::Int4,
        D::Int64 | D::UInt32 | D::UInt64 => Scalar::Int8,
        D::Decimal32(..) | D::Decimal64(..) | D::Decimal128(..) | D::Decimal256(..) => {
            Scalar::Numeric
        }
        D::Float16 | D::Float32 => Scalar::Float4,
        D::Float64 => Scalar::Float8,
        D::Utf8 | D::LargeUtf8 | D::Utf8View if json => Scalar::Json,
        D::Utf8 | D::LargeUtf8 | D::Utf8View | D::Null => Scalar::Text,
        D::Binary | D::LargeBinary | D::BinaryView | D::FixedSizeBinary(_) => Scalar::Bytea,
        D::Date32 | D::Date64 => Scalar::Date,
        D::Time32(_) | D::Time64(_) => Scalar::Time,
        D::Timestamp(_, None) => Scalar::Timestamp,
        D::Timestamp(_, Some(_)) => Scalar::TimestampTz,
        D::Interval(_) | D::Duration(_) => Scalar::Interval,
        D::Dictionary(_, value) => return scalar_of(value, json),
        _ => return None,
    })
}

fn list_child(data_type: &DataType) -> Option<(&FieldRef, bool)> {
    match data_type {
        DataType::List(f) | DataType::LargeList(f) | DataType::ListView(f) => Some((f, false)),
        DataType::LargeListView(f) => Some((f, false)),
        DataType::FixedSizeList(f, _) => Some((f, true)),
        _ => None,
    }
}

/// The wire form of a field.
pub fn wire_of(field: &Field) -> Wire {
    if let Some(s) = declared_scalar(field) {
        return Wire::Scalar(s);
    }
    if let Some(s) = scalar_of(field.data_type(), is_json_field(field)) {
        return Wire::Scalar(s);
    }
    let Some((mut child, _)) = list_child(field.data_type()) else {
        return Wire::Json;
    };
    let mut dims = 1;
    loop {
        if let Some(s) = scalar_of(child.data_type(), is_json_field(child)) {
            return Wire::Array { elem: s, dims };
        }
        match list_child(child.data_type()) {
            // Only fixed-size inner lists are rectangular by construction.
            Some((inner, true)) => {
                child = inner;
                dims += 1;
            }
            _ => return Wire::Json,
        }
    }
}

/// Type OID, modifier and length of a result column.
pub fn column_type(field: &Field) -> ColumnType {
    let wire = wire_of(field);
    let (oid, len) = match wire {
        Wire::Scalar(s) => (s.oid(), s.len()),
        Wire::Array { elem, .. } => (elem.array_oid(), -1),
        Wire::Json => (Scalar::Json.oid(), -1),
    };
    let typmod = match field.data_type() {
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => numeric_typmod(*p, *s),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => numeric_typmod(*p, *s),
        _ => -1,
    };
    ColumnType {
        wire,
        oid,
        typmod,
        len,
    }
}

fn numeric_typmod(precision: u8, scale: i8) -> i32 {
    if scale < 0 {
        return -1;
    }
    ((i32::from(precision) << 16) | i32::from(scale)) + 4
}

/// The type arrays are cast to before encoding (dictionaries unpacked, rare widths widened).
fn normalized(data_type: &DataType) -> DataType {
    use DataType as D;
    match data_type {
        D::Dictionary(_, value) => normalized(value),
        D::Float16 => D::Float32,
        D::Date64 => D::Date32,
        D::Time32(_) => D::Time64(TimeUnit::Microsecond),
        D::Decimal32(p, s) | D::Decimal64(p, s) => D::Decimal128(*p, *s),
        D::ListView(f) | D::List(f) => D::List(normalized_field(f)),
        D::LargeListView(f) | D::LargeList(f) => D::LargeList(normalized_field(f)),
        D::FixedSizeList(f, n) => D::FixedSizeList(normalized_field(f), *n),
        other => other.clone(),
    }
}

fn normalized_field(field: &FieldRef) -> FieldRef {
    let dt = normalized(field.data_type());
    if &dt == field.data_type() {
        field.clone()
    } else {
        std::sync::Arc::new(field.as_ref().clone().with_data_type(dt))
    }
}

/// Encodes the values of one result column.
pub struct ColumnEncoder {
    array: ArrayRef,
    wire: Wire,
    json: bool,
}

impl ColumnEncoder {
    /// Prepares `array` (a column described by `field`) for encoding.
    pub fn new(array: &ArrayRef, field: &Field) -> Result<Self, arrow::error::ArrowError> {
        let target = normalized(array.data_type());
        let array = if &target == array.data_type() {
            array.clone()
        } else {
            arrow::compute::cast(array, &target)?
        };
        if let Some(u) = array.as_primitive_opt::<UInt64Type>()
            && arrow::compute::max(u).is_some_and(|m| m > i64::MAX as u64)
        {
            return Err(arrow::error::ArrowError::ComputeError(format!(
                "value out of range for bigint in column \"{}\"",
                field.name()
            )));
        }
        Ok(Self {
            wire: wire_of(field),
            json: is_json_field(field),
            array,
        })
    }

    /// Appends the value of `row` in text or binary form; returns false for NULL (nothing
    /// written).
    pub fn write(&self, row: usize, binary: bool, out: &mut BytesMut) -> bool {
        if null_at(self.array.as_ref(), row) {
            return false;
        }
        match self.wire {
            Wire::Scalar(s) => {
                if binary {
                    scalar_binary(self.array.as_ref(), row, s, out)
                } else {
                    scalar_text(self.array.as_ref(), row, s, out)
                }
            }
            Wire::Array { elem, dims } => {
                if binary {
                    array_binary(self.array.as_ref(), row, elem, dims, out)
                } else {
                    array_text(self.array.as_ref(), row, elem, dims, out)
                }
            }
            Wire::Json => {
                let value = json_value(self.array.as_ref(), row, self.json);
                out.extend_from_slice(value.to_string().as_bytes());
            }
        }
        true
    }

    /// Appends a length-prefixed value (`-1` for NULL), as in DataRow and binary COPY.
    pub fn write_field(&self, row: usize, binary: bool, out: &mut BytesMut) {
        let at = out.len();
        out.put_i32(0);
        if self.write(row, binary, out) {
            let len = (out.len() - at - 4) as i32;
            out[at..at + 4].copy_from_slice(&len.to_be_bytes());
        } else {
            out.truncate(at);
            out.put_i32(-1);
        }
    }
}

/// NULL test that also covers `Null`-typed arrays (which carry no validity buffer).
fn null_at(a: &dyn Array, i: usize) -> bool {
    a.data_type() == &DataType::Null || a.is_null(i)
}

fn int_at(a: &dyn Array, i: usize) -> Option<i128> {
    use DataType as D;
    Some(match a.data_type() {
        D::Int8 => i128::from(a.as_primitive::<Int8Type>().value(i)),
        D::Int16 => i128::from(a.as_primitive::<Int16Type>().value(i)),
        D::Int32 => i128::from(a.as_primitive::<Int32Type>().value(i)),
        D::Int64 => i128::from(a.as_primitive::<Int64Type>().value(i)),
        D::UInt8 => i128::from(a.as_primitive::<UInt8Type>().value(i)),
        D::UInt16 => i128::from(a.as_primitive::<UInt16Type>().value(i)),
        D::UInt32 => i128::from(a.as_primitive::<UInt32Type>().value(i)),
        D::UInt64 => i128::from(a.as_primitive::<UInt64Type>().value(i)),
        _ => return None,
    })
}

fn str_at(a: &dyn Array, i: usize) -> Option<&str> {
    use DataType as D;
    Some(match a.data_type() {
        D::Utf8 => a.as_string::<i32>().value(i),
        D::LargeUtf8 => a.as_string::<i64>().value(i),
        D::Utf8View => a.as_string_view().value(i),
        _ => return None,
    })
}

fn bytes_at(a: &dyn Array, i: usize) -> Option<&[u8]> {
    use DataType as D;
    Some(match a.data_type() {
        D::Binary => a.as_binary::<i32>().value(i),
        D::LargeBinary => a.as_binary::<i64>().value(i),
        D::BinaryView => a.as_binary_view().value(i),
        D::FixedSizeBinary(_) => a.as_fixed_size_binary().value(i),
        _ => return None,
    })
}

fn micros_at(a: &dyn Array, i: usize) -> Option<i64> {
    use DataType as D;
    let (v, unit) = match a.data_type() {
        D::Timestamp(TimeUnit::Second, _) => (
            a.as_primitive::<TimestampSecondType>().value(i),
            TimeUnit::Second,
        ),
        D::Timestamp(TimeUnit::Millisecond, _) => (
            a.as_primitive::<TimestampMillisecondType>().value(i),
            TimeUnit::Millisecond,
        ),
        D::Timestamp(TimeUnit::Microsecond, _) => (
            a.as_primitive::<TimestampMicrosecondType>().value(i),
            TimeUnit::Microsecond,
        ),
        D::Timestamp(TimeUnit::Nanosecond, _) => (
            a.as_primitive::<TimestampNanosecondType>().value(i),
            TimeUnit::Nanosecond,
        ),
        D::Time64(TimeUnit::Microsecond) => (
            a.as_primitive::<Time64MicrosecondType>().value(i),
            TimeUnit::Microsecond,
        ),
        D::Time64(TimeUnit::Nanosecond) => (
            a.as_primitive::<Time64NanosecondType>().value(i),
            TimeUnit::Nanosecond,
        ),
        D::Duration(TimeUnit::Second) => (
            a.as_primitive::<DurationSecondType>().value(i),
            TimeUnit::Second,
        ),
        D::Duration(TimeUnit::Millisecond) => (
            a.as_primitive::<DurationMillisecondType>().value(i),
            TimeUnit::Millisecond,
        ),
        D::Duration(TimeUnit::Microsecond) => (
            a.as_primitive::<DurationMicrosecondType>().value(i),
            TimeUnit::Microsecond,
        ),
        D::Duration(TimeUnit::Nanosecond) => (
            a.as_primitive::<DurationNanosecondType>().value(i),
            TimeUnit::Nanosecond,
        ),
        _ => return None,
    };
    Some(match unit {
        TimeUnit::Second => v.saturating_mul(1_000_000),
        TimeUnit::Millisecond => v.saturating_mul(1_000),
        TimeUnit::Microsecond => v,
        TimeUnit::Nanosecond => v.div_euclid(1_000),
    })
}

/// (months, days, microseconds) of an interval or duration value.
fn interval_at(a: &dyn Array, i: usize) -> Option<(i32, i32, i64)> {
    use DataType as D;
    Some(match a.data_type() {
        D::Interval(IntervalUnit::YearMonth) => {
            (a.as_primitive::<IntervalYearMonthType>().value(i), 0, 0)
        }
        D::Interval(IntervalUnit::DayTime) => {
            let v = a.as_primitive::<IntervalDayTimeType>().value(i);
            (0, v.days, i64::from(v.milliseconds) * 1000)
        }
        D::Interval(IntervalUnit::MonthDayNano) => {
            let v = a.as_primitive::<IntervalMonthDayNanoType>().value(i);
            (v.months, v.days, v.nanoseconds.div_euclid(1000))
        }
        D::Duration(_) => (0, 0, micros_at(a, i)?),
        _ => return None,
    })
}

fn decimal_string(a: &dyn Array, i: usize) -> Option<String> {
    use DataType as D;
    Some(match a.data_type() {
        D::Decimal128(..) => a.as_primitive::<Decimal128Type>().value_as_string(i),
        D::Decimal256(..) => a.as_primitive::<Decimal256Type>().value_as_string(i),
        D::UInt64 => a.as_primitive::<UInt64Type>().value(i).to_string(),
        _ => return int_at(a, i).map(|v| v.to_string()),
    })
}

fn push_fmt(out: &mut BytesMut, args: std::fmt::Arguments<'_>) {
    use std::fmt::Write;
    struct W<'a>(&'a mut BytesMut);
    impl Write for W<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
    let _ = W(out).write_fmt(args);
}

fn float_text(v: f64, out: &mut BytesMut) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        push_fmt(out, format_args!("{v}"));
    }
}

fn float32_text(v: f32, out: &mut BytesMut) {
    if v.is_nan() || v.is_infinite() {
        float_text(f64::from(v), out);
    } else {
        push_fmt(out, format_args!("{v}"));
    }
}

fn fraction(micros: i64) -> String {
    let frac = micros.rem_euclid(1_000_000);
    if frac == 0 {
        return String::new();
    }
    let s = format!(".{frac:06}");
    s.trim_end_matches('0').to_string()
}

/// Text of a timestamp (UTC microseconds since 1970).
pub fn timestamp_text(micros: i64) -> String {
    match arrow::temporal_conversions::timestamp_us_to_datetime(micros) {
        Some(dt) => format!("{}{}", dt.format("%Y-%m-%d %H:%M:%S"), fraction(micros)),
        None => micros.to_string(),
    }
}

fn date_text(days: i32) -> String {
    match arrow::temporal_conversions::date32_to_datetime(days) {
        Some(dt) => dt.format("%Y-%m-%d").to_string(),
        None => days.to_string(),
    }
}

fn time_text(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    format!(
        "{:02}:{:02}:{:02}{}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60,
        fraction(micros)
    )
}

fn interval_text(months: i32, days: i32, micros: i64) -> String {
    let mut parts = Vec::new();
    let years = months / 12;
    let mons = months % 12;
    let plural = |n: i64, unit: &str| {
        if n.abs() == 1 {
            format!("{n} {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    if years != 0 {
        parts.push(plural(i64::from(years), "year"));
    }
    if mons != 0 {
        parts.push(plural(i64::from(mons), "mon"));
    }
    if days != 0 {
        parts.push(plural(i64::from(days), "day"));
    }
    if micros != 0 || parts.is_empty() {
        let sign = if micros < 0 { "-" } else { "" };
        let abs = micros.unsigned_abs() as i64;
        parts.push(format!("{sign}{}", time_text(abs)));
    }
    parts.join(" ")
}

fn scalar_text(a: &dyn Array, i: usize, s: Scalar, out: &mut BytesMut) {
    match s {
        Scalar::Bool => out.extend_from_slice(if a.as_boolean().value(i) { b"t" } else { b"f" }),
        Scalar::Int2 | Scalar::Int4 | Scalar::Int8 | Scalar::Oid => {
            if let Some(v) = int_at(a, i) {
                push_fmt(out, format_args!("{v}"));
            }
        }
        Scalar::Float4 => float32_text(a.as_primitive::<Float32Type>().value(i), out),
        Scalar::Float8 => float_text(a.as_primitive::<Float64Type>().value(i), out),
        Scalar::Numeric => {
            if let Some(s) = decimal_string(a, i) {
                out.extend_from_slice(s.as_bytes());
            }
        }
        Scalar::Text | Scalar::Json | Scalar::Name | Scalar::Char => match str_at(a, i) {
            Some(s) => out.extend_from_slice(s.as_bytes()),
            None => fallback_text(a, i, out),
        },
        Scalar::Bytea => {
            if let Some(b) = bytes_at(a, i) {
                out.extend_from_slice(b"\\x");
                for byte in b {
                    push_fmt(out, format_args!("{byte:02x}"));
                }
            }
        }
        Scalar::Date => {
            let days = a.as_primitive::<Date32Type>().value(i);
            out.extend_from_slice(date_text(days).as_bytes());
        }
        Scalar::Time => {
            if let Some(us) = micros_at(a, i) {
                out.extend_from_slice(time_text(us).as_bytes());
            }
        }
        Scalar::Timestamp | Scalar::TimestampTz => {
            if let Some(us) = micros_at(a, i) {
                out.extend_from_slice(timestamp_text(us).as_bytes());
                if s == Scalar::TimestampTz {
                    out.extend_from_slice(b"+00");
                }
            }
        }
        Scalar::Interval => {
            if let Some((m, d, us)) = interval_at(a, i) {
                out.extend_from_slice(interval_text(m, d, us).as_bytes());
            }
        }
    }
}

fn fallback_text(a: &dyn Array, i: usize, out: &mut BytesMut) {
    let options = arrow::util::display::FormatOptions::default();
    if let Ok(f) = arrow::util::display::ArrayFormatter::try_new(a, &options) {
        push_fmt(out, format_args!("{}", f.value(i)));
    }
}

fn scalar_binary(a: &dyn Array, i: usize, s: Scalar, out: &mut BytesMut) {
    match s {
        Scalar::Bool => out.put_u8(u8::from(a.as_boolean().value(i))),
        Scalar::Int2 => out.put_i16(int_at(a, i).unwrap_or(0) as i16),
        Scalar::Int4 => out.put_i32(int_at(a, i).unwrap_or(0) as i32),
        Scalar::Int8 => out.put_i64(int_at(a, i).unwrap_or(0) as i64),
        Scalar::Oid => out.put_u32(int_at(a, i).unwrap_or(0) as u32),
        Scalar::Float4 => out.put_f32(a.as_primitive::<Float32Type>().value(i)),
        Scalar::Float8 => out.put_f64(a.as_primitive::<Float64Type>().value(i)),
        Scalar::Numeric => {
            if let Some(s) = decimal_string(a, i) {
                numeric_binary(&s, out);
            }
        }
        Scalar::Text | Scalar::Json | Scalar::Name | Scalar::Char => scalar_text(a, i, s, out),
        Scalar::Bytea => {
            if let Some(b) = bytes_at(a, i) {
                out.extend_from_slice(b);
            }
        }
        Scalar::Date => out.put_i32(
            a.as_primitive::<Date32Type>()
                .value(i)
                .saturating_sub(PG_EPOCH_DAYS),
        ),
        Scalar::Time => out.put_i64(micros_at(a, i).unwrap_or(0)),
        Scalar::Timestamp | Scalar::TimestampTz => {
            out.put_i64(micros_at(a, i).unwrap_or(0).saturating_sub(PG_EPOCH_MICROS))
        }
        Scalar::Interval => {
            let (m, d, us) = interval_at(a, i).unwrap_or((0, 0, 0));
            out.put_i64(us);
            out.put_i32(d);
            out.put_i32(m);
        }
    }
}

/// PostgreSQL's binary `numeric` from a decimal string such as `-123.4500`.
pub fn numeric_binary(text: &str, out: &mut BytesMut) {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let dscale = frac_part.len() as i16;
    // Base-10000 groups: the integer part grouped from the right, the fraction from the left.
    let int_part = int_part.trim_start_matches('0');
    let pad = (4 - int_part.len() % 4) % 4;
    let int_padded = format!("{}{int_part}", "0".repeat(pad));
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let frac_padded = format!("{frac_part}{}", "0".repeat(frac_pad));
    let group = |s: &str| -> Vec<i16> {
        s.as_bytes()
            .chunks(4)
            .map(|c| {
                c.iter()
                    .fold(0i16, |acc, d| acc * 10 + i16::from(d.saturating_sub(b'0')))
            })
            .collect()
    };
    let int_groups = group(&int_padded);
    let frac_groups = group(&frac_padded);
    let mut weight = int_groups.len() as i16 - 1;
    let mut all: Vec<i16> = int_groups.into_iter().chain(frac_groups).collect();
    while all.first() == Some(&0) {
        all.remove(0);
        weight -= 1;
    }
    while all.last() == Some(&0) {
        all.pop();
    }
    if all.is_empty() {
        weight = 0;
    }
    out.put_i16(all.len() as i16);
    out.put_i16(weight);
    out.put_u16(if negative && !all.is_empty() {
        0x4000
    } else {
        0
    });
    out.put_i16(dscale);
    for g in all {
        out.put_i16(g);
    }
}

/// (child values, start, end) of list-like `a` at `row`.
fn list_range(a: &dyn Array, row: usize) -> Option<(ArrayRef, usize, usize)> {
    match a.data_type() {
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            let o = l.value_offsets();
            Some((l.values().clone(), o[row] as usize, o[row + 1] as usize))
        }
        DataType::LargeList(_) => {
            let l = a.as_list::<i64>();
            let o = l.value_offsets();
            Some((l.values().clone(), o[row] as usize, o[row + 1] as usize))
        }
        DataType::FixedSizeList(_, n) => {
            let l = a.as_fixed_size_list();
            let n = *n as usize;
            Some((l.values().clone(), row * n, (row + 1) * n))
        }
        _ => None,
    }
}

/// Dimensions and the flat leaf range of a (rectangular) array value.
fn flatten(a: &dyn Array, row: usize, dims: usize) -> Option<(Vec<usize>, ArrayRef, usize, usize)> {
    let (mut child, mut start, mut end) = list_range(a, row)?;
    let mut sizes = vec![end - start];
    for _ in 1..dims {
        let DataType::FixedSizeList(_, n) = child.data_type() else {
            return None;
        };
        let n = *n as usize;
        sizes.push(n);
        start *= n;
        end *= n;
        let inner = child.as_fixed_size_list().values().clone();
        child = inner;
    }
    Some((sizes, child, start, end))
}

fn array_binary(a: &dyn Array, row: usize, elem: Scalar, dims: usize, out: &mut BytesMut) {
    let Some((sizes, leaf, start, end)) = flatten(a, row, dims) else {
        return;
    };
    let empty = start == end;
    out.put_i32(if empty { 0 } else { sizes.len() as i32 });
    let has_null = (start..end).any(|j| null_at(leaf.as_ref(), j));
    out.put_i32(i32::from(has_null));
    out.put_u32(elem.oid());
    if !empty {
        for size in &sizes {
            out.put_i32(*size as i32);
            out.put_i32(1);
        }
    }
    for j in start..end {
        if null_at(leaf.as_ref(), j) {
            out.put_i32(-1);
            continue;
        }
        let at = out.len();
        out.put_i32(0);
        scalar_binary(leaf.as_ref(), j, elem, out);
        let len = (out.len() - at - 4) as i32;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
}

fn array_text(a: &dyn Array, row: usize, elem: Scalar, dims: usize, out: &mut BytesMut) {
    let Some((sizes, leaf, start, end)) = flatten(a, row, dims) else {
        return;
    };
    if start == end {
        out.extend_from_slice(b"{}");
        return;
    }
    let mut scratch = BytesMut::new();
    text_level(&sizes, leaf.as_ref(), start, elem, out, &mut scratch);
}

fn text_level(
    sizes: &[usize],
    leaf: &dyn Array,
    start: usize,
    elem: Scalar,
    out: &mut BytesMut,
    scratch: &mut BytesMut,
) {
    out.put_u8(b'{');
    let stride: usize = sizes[1..].iter().product();
    for k in 0..sizes[0] {
        if k > 0 {
            out.put_u8(b',');
        }
        let at = start + k * stride;
        if sizes.len() > 1 {
            text_level(&sizes[1..], leaf, at, elem, out, scratch);
            continue;
        }
        if null_at(leaf, at) {
            out.extend_from_slice(b"NULL");
            continue;
        }
        scratch.clear();
        scalar_text(leaf, at, elem, scratch);
        if elem.may_need_quotes() && needs_quotes(scratch) {
            out.put_u8(b'"');
            for &b in scratch.iter() {
                if b == b'"' || b == b'\\' {
                    out.put_u8(b'\\');
                }
                out.put_u8(b);
            }
            out.put_u8(b'"');
        } else {
            out.extend_from_slice(scratch);
        }
    }
    out.put_u8(b'}');
}

fn needs_quotes(s: &[u8]) -> bool {
    s.is_empty()
        || s.eq_ignore_ascii_case(b"NULL")
        || s.iter()
            .any(|b| matches!(b, b'{' | b'}' | b',' | b'"' | b'\\') || b.is_ascii_whitespace())
}

/// A value as JSON (structs → objects, lists → arrays, maps → objects).
pub fn json_value(a: &dyn Array, i: usize, json_text: bool) -> serde_json::Value {
    use serde_json::Value;
    if null_at(a, i) {
        return Value::Null;
    }
    match a.data_type() {
        DataType::Boolean => Value::Bool(a.as_boolean().value(i)),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let v = match a.data_type() {
                DataType::Float32 => f64::from(a.as_primitive::<Float32Type>().value(i)),
                DataType::Float64 => a.as_primitive::<Float64Type>().value(i),
                _ => f64::from(a.as_primitive::<Float16Type>().value(i).to_f32()),
            };
            serde_json::Number::from_f64(v)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(v.to_string()))
        }
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            let child_json = is_json_field(f);
            match list_range(a, i) {
                Some((child, s, e)) => Value::Array(
                    (s..e)
                        .map(|j| json_value(child.as_ref(), j, child_json))
                        .collect(),
                ),
                None => Value::Null,
            }
        }
        DataType::Struct(fields) => {
            let s = a.as_struct();
            let mut map = serde_json::Map::new();
            for (k, field) in fields.iter().enumerate() {
                map.insert(
                    field.name().clone(),
                    json_value(s.column(k).as_ref(), i, is_json_field(field)),
                );
            }
            Value::Object(map)
        }
        DataType::Map(..) => {
            let m = a.as_map();
            let offsets = m.value_offsets();
            let (keys, values) = (m.keys(), m.values());
            let mut map = serde_json::Map::new();
            for j in offsets[i] as usize..offsets[i + 1] as usize {
                let key = match json_value(keys.as_ref(), j, false) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                map.insert(key, json_value(values.as_ref(), j, false));
            }
            Value::Object(map)
        }
        DataType::Dictionary(..) | DataType::ListView(_) | DataType::LargeListView(_) => {
            let target = normalized(a.data_type());
            match arrow::compute::cast(&a.slice(i, 1), &target) {
                Ok(c) => json_value(c.as_ref(), 0, json_text),
                Err(_) => Value::Null,
            }
        }
        dt => {
            if let Some(v) = int_at(a, i) {
                return i64::try_from(v)
                    .map(Value::from)
                    .or_else(|_| u64::try_from(v).map(Value::from))
                    .unwrap_or_else(|_| Value::String(v.to_string()));
            }
            if let Some(s) = str_at(a, i) {
                if json_text && let Ok(v) = serde_json::from_str(s) {
                    return v;
                }
                return Value::String(s.to_string());
            }
            let mut buf = BytesMut::new();
            match scalar_of(dt, false) {
                Some(s) => scalar_text(a, i, s, &mut buf),
                None => fallback_text(a, i, &mut buf),
            }
            Value::String(String::from_utf8_lossy(&buf).into_owned())
        }
    }
}

/// The Arrow type a bound parameter of type `oid` becomes.
pub fn arrow_type_of_oid(oid: u32) -> Option<DataType> {
    Some(match oid {
        16 => DataType::Boolean,
        21 => DataType::Int16,
        23 => DataType::Int32,
        20 | 26 => DataType::Int64,
        700 => DataType::Float32,
        701 => DataType::Float64,
        1700 => DataType::Float64,
        25 | 1043 | 1042 | 19 | 114 | 3802 | 18 => DataType::Utf8,
        17 => DataType::Binary,
        1082 => DataType::Date32,
        1083 => DataType::Time64(TimeUnit::Microsecond),
        1114 => DataType::Timestamp(TimeUnit::Microsecond, None),
        1184 => DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
        oid => {
            let row = type_row(oid)?;
            if row.elem == 0 {
                return None;
            }
            let elem = arrow_type_of_oid(row.elem)?;
            DataType::List(std::sync::Arc::new(Field::new("item", elem, true)))
        }
    })
}

/// The PostgreSQL type OID of an Arrow type (used for parameter descriptions).
pub fn oid_of_arrow(data_type: &DataType) -> u32 {
    column_type(&Field::new("", data_type.clone(), true)).oid
}

/// Decodes one bound parameter: `oid` is the declared type (0 = unspecified) and `binary`
/// its format. Text values come back as Utf8 (the caller casts them to the inferred type);
/// binary values in the declared type.
pub fn decode_param(oid: u32, binary: bool, value: &[u8]) -> Result<ScalarValue, String> {
    if !binary {
        let text =
            std::str::from_utf8(value).map_err(|_| "parameter is not valid UTF-8".to_string())?;
        if let Some(row) = type_row(oid)
            && row.elem != 0
        {
            return parse_text_array(text, row.elem);
        }
        return Ok(ScalarValue::Utf8(Some(text.to_string())));
    }
    let fixed = |n: usize| -> Result<&[u8], String> {
        if value.len() == n {
            Ok(value)
        } else {
            Err(format!(
                "binary parameter of type {oid} has {} bytes, expected {n}",
                value.len()
            ))
        }
    };
    Ok(match oid {
        16 => ScalarValue::Boolean(Some(fixed(1)?[0] != 0)),
        21 => {
            let b = fixed(2)?;
            ScalarValue::Int16(Some(i16::from_be_bytes([b[0], b[1]])))
        }
        23 => {
            let b = fixed(4)?;
            ScalarValue::Int32(Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]])))
        }
        26 => {
            let b = fixed(4)?;
            ScalarValue::Int64(Some(i64::from(u32::from_be_bytes([
                b[0], b[1], b[2], b[3],
            ]))))
        }
        20 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(fixed(8)?);
            ScalarValue::Int64(Some(i64::from_be_bytes(a)))
        }
        700 => {
            let b = fixed(4)?;
            ScalarValue::Float32(Some(f32::from_be_bytes([b[0], b[1], b[2], b[3]])))
        }
        701 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(fixed(8)?);
            ScalarValue::Float64(Some(f64::from_be_bytes(a)))
        }
        1082 => {
            let b = fixed(4)?;
            let days = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            ScalarValue::Date32(Some(days.saturating_add(PG_EPOCH_DAYS)))
        }
        1114 | 1184 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(fixed(8)?);
            let us = i64::from_be_bytes(a).saturating_add(PG_EPOCH_MICROS);
            let tz = (oid == 1184).then(|| "+00:00".into());
            ScalarValue::TimestampMicrosecond(Some(us), tz)
        }
        1700 => ScalarValue::Utf8(Some(numeric_from_binary(value)?)),
        17 => ScalarValue::Binary(Some(value.to_vec())),
        3802 => ScalarValue::Utf8(Some(
            String::from_utf8_lossy(value.get(1..).unwrap_or_default()).into_owned(),
        )),
        oid if type_row(oid).is_some_and(|r| r.elem != 0) => binary_array(value)?,
        _ => ScalarValue::Utf8(Some(
            std::str::from_utf8(value)
                .map_err(|_| format!("binary parameter of type {oid} is not supported"))?
                .to_string(),
        )),
    })
}

fn numeric_from_binary(v: &[u8]) -> Result<String, String> {
    let get = |k: usize| -> Result<i16, String> {
        v.get(k..k + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "truncated binary numeric parameter".to_string())
    };
    let ndigits = get(0)?.max(0) as usize;
    let weight = i32::from(get(2)?);
    let sign = get(4)? as u16;
    let dscale = get(6)?.max(0) as usize;
    if sign == 0xC000 {
        return Ok("NaN".into());
    }
    let mut digits = Vec::with_capacity(ndigits);
    for k in 0..ndigits {
        digits.push(get(8 + 2 * k)?);
    }
    let mut int_part = String::new();
    for w in 0..=weight.max(-1) {
        let d = digits.get(w as usize).copied().unwrap_or(0);
        if int_part.is_empty() {
            int_part = d.to_string();
        } else {
            int_part.push_str(&format!("{d:04}"));
        }
    }
    if int_part.is_empty() {
        int_part.push('0');
    }
    let mut frac = String::new();
    let mut w = weight + 1;
    while frac.len() < dscale {
        let d = if w < 0 {
            0
        } else {
            digits.get(w as usize).copied().unwrap_or(0)
        };
        frac.push_str(&format!("{d:04}"));
        w += 1;
    }
    frac.truncate(dscale);
    let sign = if sign == 0x4000 { "-" } else { "" };
    Ok(if frac.is_empty() {
        format!("{sign}{int_part}")
    } else {
        format!("{sign}{int_part}.{frac}")
    })
}

fn binary_array(v: &[u8]) -> Result<ScalarValue, String> {
    let get = |k: usize| -> Result<i32, String> {
        v.get(k..k + 4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| "truncated binary array parameter".to_string())
    };
    let ndim = get(0)?;
    let elem = get(8)? as u32;
    let elem_type = arrow_type_of_oid(elem).unwrap_or(DataType::Utf8);
    if ndim == 0 {
        return Ok(ScalarValue::List(ScalarValue::new_list_nullable(
            &[],
            &elem_type,
        )));
    }
    if ndim != 1 {
        return Err("only one-dimensional array parameters are supported".into());
    }
    let n = get(12)?.max(0) as usize;
    let mut pos = 20;
    let mut items = Vec::new();
    for _ in 0..n {
        let len = get(pos)?;
        pos += 4;
        if len < 0 {
            items.push(ScalarValue::try_from(&elem_type).map_err(|e| e.to_string())?);
            continue;
        }
        let len = len as usize;
        let bytes = v
            .get(pos..pos + len)
            .ok_or_else(|| "truncated binary array parameter".to_string())?;
        pos += len;
        let item = decode_param(elem, true, bytes)?;
        items.push(item.cast_to(&elem_type).map_err(|e| e.to_string())?);
    }
    Ok(ScalarValue::List(ScalarValue::new_list_nullable(
        &items, &elem_type,
    )))
}

/// Parses a one-dimensional array literal such as `{1,2,NULL}` or `{"a b",c}`.
fn parse_text_array(text: &str, elem: u32) -> Result<ScalarValue, String> {
    let elem_type = arrow_type_of_oid(elem).unwrap_or(DataType::Utf8);
    let inner = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| format!("malformed array literal: \"{text}\""))?;
    let mut items: Vec<Option<String>> = Vec::new();
    let mut chars = inner.chars().peekable();
    while chars.peek().is_some() {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        if chars.peek() == Some(&'{') {
            return Err("only one-dimensional array parameters are supported".into());
        }
        let mut item = String::new();
        let mut quoted = false;
        if chars.peek() == Some(&'"') {
            quoted = true;
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => item.extend(chars.next()),
                    '"' => break,
                    c => item.push(c),
                }
            }
            while chars.peek().is_some_and(|c| *c != ',') {
                chars.next();
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                item.push(c);
                chars.next();
            }
            item = item.trim().to_string();
        }
        chars.next(); // the comma
        if !quoted && item.eq_ignore_ascii_case("NULL") {
            items.push(None);
        } else {
            items.push(Some(item));
        }
    }
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        values.push(
            ScalarValue::Utf8(item)
                .cast_to(&elem_type)
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(ScalarValue::List(ScalarValue::new_list_nullable(
        &values, &elem_type,
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use arrow::array::{Float32Builder, ListBuilder};
    use std::sync::Arc;

    #[test]
    fn list_columns_are_arrays_with_element_oids() {
        let f = Field::new(
            "x",
            DataType::List(Arc::new(Field::new("item", DataType::Float32, true))),
            true,
        );
        let t = column_type(&f);
        assert_eq!(
            (t.oid, t.wire),
            (
                1021,
                Wire::Array {
                    elem: Scalar::Float4,
                    dims: 1
                }
            )
        );
        let jagged = Field::new(
            "y",
            DataType::List(Arc::new(Field::new("item", f.data_type().clone(), true))),
            true,
        );
        assert_eq!(column_type(&jagged).oid, 114);
        let square = Field::new(
            "z",
            DataType::List(Arc::new(Field::new(
                "item",
                DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Int32, true)), 2),
                true,
            ))),
            true,
        );
        assert_eq!(
            column_type(&square).wire,
            Wire::Array {
                elem: Scalar::Int4,
                dims: 2
            }
        );
    }

    #[test]
    fn array_text_and_binary() {
        let mut b = ListBuilder::new(Float32Builder::new());
        b.values().append_value(1.5);
        b.values().append_null();
        b.append(true);
        b.append(true);
        let a: ArrayRef = Arc::new(b.finish());
        let field = Field::new("x", a.data_type().clone(), true);
        let enc = ColumnEncoder::new(&a, &field).unwrap();
        let mut out = BytesMut::new();
        enc.write(0, false, &mut out);
        assert_eq!(&out[..], b"{1.5,NULL}");
        out.clear();
        enc.write(1, false, &mut out);
        assert_eq!(&out[..], b"{}");
        out.clear();
        enc.write(0, true, &mut out);
        let mut want = BytesMut::new();
        for v in [1i32, 1, 700, 2, 1] {
            want.put_i32(v);
        }
        want.put_i32(4);
        want.put_f32(1.5);
        want.put_i32(-1);
        assert_eq!(out, want);
    }

    #[test]
    fn numerics_round_trip() {
        for s in ["0", "-123.4500", "10000", "0.0001", "12345678.9"] {
            let mut out = BytesMut::new();
            numeric_binary(s, &mut out);
            let back = numeric_from_binary(&out).unwrap();
            let norm = |x: &str| x.parse::<f64>().unwrap();
            assert_eq!(norm(&back), norm(s), "{s} -> {back}");
        }
        let want = ScalarValue::List(ScalarValue::new_list_nullable(
            &[
                ScalarValue::Int32(Some(1)),
                ScalarValue::Int32(None),
                ScalarValue::Int32(Some(3)),
            ],
            &DataType::Int32,
        ));
        assert_eq!(parse_text_array("{1,NULL, 3}", 23).unwrap(), want);
        assert_eq!(type_oid_by_name("double precision"), Some(701));
        assert_eq!(type_oid_by_name("int4[]"), Some(1007));
        assert_eq!(
            interval_text(14, 3, 3_600_000_000),
            "1 year 2 mons 3 days 01:00:00"
        );
    }
}
