//! LH5 files: the HDF5 file, its tables, and LH5 objects decoded into Arrow arrays.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{
    Array, ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, Float64Array, Int8Array,
    Int16Array, Int32Array, Int64Array, ListArray, RecordBatch, RecordBatchOptions, StructArray,
    UInt8Array, UInt16Array, UInt32Array, UInt64Array,
};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};
use hdf5_reader::{Datatype, FilterRegistry, Hdf5File, OpenOptions};

use crate::codec::Codec;
use crate::datatype::{Element, Lh5Type};
use crate::error::{Lh5Error, Result};

/// The HDF5 filter id of zstd (registered by the HDF5 plugin authors; hdf5plugin writes it).
pub const FILTER_ZSTD: u16 = 32015;

/// The largest decoded dataset (in bytes) one read may allocate unless told otherwise: 8 GiB.
pub const DEFAULT_MAX_READ_BYTES: usize = 8 << 30;

/// Field metadata key under which an object's `units` attribute is kept.
pub const UNITS_KEY: &str = "units";

/// A column of an LH5 table that hepq does not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The column's name in the table.
    pub column: String,
    /// Why it is left out.
    pub reason: String,
}

/// One LH5 object found by [`Lh5File::objects`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its path from the file root, without a leading `/` (`ch1084803/hit/cuspEmax`).
    pub path: String,
    /// Its `datatype` attribute (empty for plain HDF5 datasets that have none).
    pub datatype: String,
}

/// An open LH5 file.
pub struct Lh5File {
    name: String,
    h5: Hdf5File,
}

impl std::fmt::Debug for Lh5File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lh5File").field("name", &self.name).finish()
    }
}

/// How one column (or one nested field) is read: which datasets, and into which Arrow type.
#[derive(Debug, Clone)]
enum Plan {
    /// A numeric or boolean dataset; rank > 1 datasets become nested fixed-size lists.
    Dataset {
        path: String,
        /// The Arrow type of one element.
        element: DataType,
        /// Trailing dimensions (empty for 1-D and scalar datasets).
        inner_dims: Vec<usize>,
    },
    /// A fixed-length or variable-length string dataset.
    Strings { path: String },
    /// VectorOfVectors: list offsets from `cumulative_length`.
    Vov {
        cumulative_length: String,
        inner: Box<Plan>,
        item: FieldRef,
    },
    /// ArrayOfEncodedEqualSizedArrays (`decoded_size` is `Some`) or VectorOfEncodedVectors.
    Encoded {
        path: String,
        codec: Codec,
        /// For ArrayOfEncodedEqualSizedArrays: the samples per waveform.
        decoded_size: Option<usize>,
    },
    /// Struct / table / waveform table.
    Struct { fields: Fields, plans: Vec<Plan> },
}

/// A column plan with its Arrow field and row count.
#[derive(Debug, Clone)]
struct Column {
    field: Field,
    plan: Plan,
    rows: usize,
    scalar: bool,
}

/// An LH5 table's columns, as planned from the file's metadata (no data read yet).
#[derive(Debug, Clone)]
pub struct Lh5Table {
    group: String,
    schema: SchemaRef,
    num_rows: usize,
    plans: Vec<Plan>,
    unsupported: Vec<Unsupported>,
}

/// hdf5-reader's options: zstd registered as filter 32015, reads bounded by `max_read_bytes`.
fn open_options(max_read_bytes: usize) -> OpenOptions {
    let mut filters = FilterRegistry::new();
    filters.register(FILTER_ZSTD, Box::new(|_, data, _| zstd_chunk(data)));
    OpenOptions::default()
        .with_filter_registry(filters)
        .with_max_read_bytes(max_read_bytes)
}

/// Decompresses one zstd-filtered chunk, refusing output past hdf5-reader's chunk limit
/// (custom filters are not given the limit, so a zstd bomb is stopped here).
fn zstd_chunk(data: &[u8]) -> hdf5_reader::error::Result<Vec<u8>> {
    use std::io::Read;
    let bad = |e: String| hdf5_reader::error::Error::InvalidData(format!("zstd filter: {e}"));
    let cap = hdf5_reader::DEFAULT_MAX_CHUNK_BYTES;
    let decoder = zstd::stream::read::Decoder::new(data).map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    decoder
        .take(cap as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| bad(e.to_string()))?;
    if out.len() > cap {
        return Err(bad(format!("chunk decompresses to more than {cap} bytes")));
    }
    Ok(out)
}

fn h5err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn norm(path: &str) -> String {
    path.trim_matches('/').to_string()
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

impl Lh5File {
    /// Opens an LH5 file on disk (read with positional reads: only the datasets a read
    /// needs are read from disk).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let h5 = Hdf5File::open_with_options(path, open_options(DEFAULT_MAX_READ_BYTES))
            .map_err(|e| Lh5Error::new(&name, "", format!("not a readable HDF5 file: {e}")))?;
        Ok(Lh5File { name, h5 })
    }

    /// Opens an LH5 file held in memory; `name` is used in error messages.
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> Result<Self> {
        Self::from_bytes_with_limit(name, bytes, DEFAULT_MAX_READ_BYTES)
    }

    /// As [`Lh5File::from_bytes`], with the largest decoded dataset one read may allocate.
    pub fn from_bytes_with_limit(
        name: impl Into<String>,
        bytes: Vec<u8>,
        max_read_bytes: usize,
    ) -> Result<Self> {
        let name = name.into();
        let h5 = Hdf5File::from_vec_with_options(bytes, open_options(max_read_bytes))
            .map_err(|e| Lh5Error::new(&name, "", format!("not a readable HDF5 file: {e}")))?;
        Ok(Lh5File { name, h5 })
    }

    /// The name given when opening (the path, for files on disk).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn err(&self, object: &str, message: impl Into<String>) -> Lh5Error {
        Lh5Error::new(&self.name, object, message)
    }

    /// The `datatype` attribute of the object at `path` (group or dataset), if any.
    fn datatype_of(
        &self,
        path: &str,
        is_group: bool,
    ) -> std::result::Result<Option<String>, String> {
        let attr = if is_group {
            let g = self.h5.group(&format!("/{path}")).map_err(h5err)?;
            g.attribute("datatype")
        } else {
            let d = self.h5.dataset(&format!("/{path}")).map_err(h5err)?;
            d.attribute("datatype")
        };
        match attr {
            Ok(a) => a.read_string().map(Some).map_err(h5err),
            Err(hdf5_reader::error::Error::AttributeNotFound(_)) => Ok(None),
            Err(e) => Err(h5err(e)),
        }
    }

    /// A string or numeric attribute of an object, as text (`None` when absent or unreadable).
    fn attribute_text(&self, path: &str, is_group: bool, name: &str) -> Option<String> {
        let attr = if is_group {
            self.h5
                .group(&format!("/{path}"))
                .ok()?
                .attribute(name)
                .ok()?
        } else {
            self.h5
                .dataset(&format!("/{path}"))
                .ok()?
                .attribute(name)
                .ok()?
        };
        if let Ok(s) = attr.read_string() {
            return Some(s);
        }
        attr.read_as_f64().ok().map(|v| v.to_string())
    }

    /// Member names of a group: (groups, datasets).
    fn members(&self, path: &str) -> std::result::Result<(Vec<String>, Vec<String>), String> {
        let g = if path.is_empty() {
            self.h5.root_group()
        } else {
            self.h5.group(&format!("/{path}"))
        }
        .map_err(h5err)?;
        g.member_names().map_err(h5err)
    }

    /// Whether `path` names a group (`Some(true)`), a dataset (`Some(false)`) or nothing.
    fn kind(&self, path: &str) -> std::result::Result<Option<bool>, String> {
        let (parent, name) = match path.rsplit_once('/') {
            Some((p, n)) => (p, n),
            None => ("", path),
        };
        let Ok((groups, datasets)) = self.members(parent) else {
            return Ok(None);
        };
        if groups.iter().any(|g| g == name) {
            Ok(Some(true))
        } else if datasets.iter().any(|d| d == name) {
            Ok(Some(false))
        } else {
            Ok(None)
        }
    }

    /// Every LH5 table in the file (`ch1084803/hit`, `evt`, …), in file order; tables nested
    /// in other tables are not listed separately.
    pub fn tables(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        self.walk("", 0, &mut |path, dt| {
            if matches!(Lh5Type::parse(dt), Lh5Type::Table(_)) {
                out.push(path.to_string());
                true
            } else {
                false
            }
        })?;
        Ok(out)
    }

    /// Every LH5 object that is not a struct or table (its leaves: arrays, vectors of
    /// vectors, encoded arrays, scalars), plus plain HDF5 datasets without a `datatype`.
    pub fn objects(&self) -> Result<Vec<ObjectInfo>> {
        let mut out = Vec::new();
        self.walk("", 0, &mut |path, dt| {
            if matches!(Lh5Type::parse(dt), Lh5Type::Table(_) | Lh5Type::Struct(_))
                && !dt.is_empty()
            {
                return false;
            }
            out.push(ObjectInfo {
                path: path.to_string(),
                datatype: dt.to_string(),
            });
            true
        })?;
        Ok(out)
    }

    /// Depth-first walk over groups and datasets. `visit(path, datatype)` returns true to
    /// stop descending into that object. Groups without a `datatype` are always entered.
    fn walk(
        &self,
        path: &str,
        depth: usize,
        visit: &mut dyn FnMut(&str, &str) -> bool,
    ) -> Result<()> {
        if depth > 64 {
            return Err(self.err(path, "groups nested more than 64 deep"));
        }
        let (groups, datasets) = self.members(path).map_err(|e| self.err(path, e))?;
        for g in groups {
            let child = join(path, &g);
            let dt = self
                .datatype_of(&child, true)
                .map_err(|e| self.err(&child, e))?;
            let stop = match &dt {
                Some(dt) => visit(&child, dt),
                None => false,
            };
            if !stop {
                self.walk(&child, depth + 1, visit)?;
            }
        }
        for d in datasets {
            let child = join(path, &d);
            let dt = self
                .datatype_of(&child, false)
                .map_err(|e| self.err(&child, e))?;
            visit(&child, dt.as_deref().unwrap_or(""));
        }
        Ok(())
    }

    /// Plans the table at `group` (`ch1084803/hit`): its schema, its row count and the
    /// columns left out. Columns are the names in the `table{…}` attribute, looked up by name.
    pub fn table(&self, group: &str) -> Result<Lh5Table> {
        let group = norm(group);
        match self.kind(&group).map_err(|e| self.err(&group, e))? {
            Some(true) => {}
            Some(false) => return Err(self.err(&group, "is a dataset, not an LH5 table")),
            None => {
                let tables = self.tables().unwrap_or_default();
                let hint = if tables.is_empty() {
                    "the file has no tables".to_string()
                } else {
                    format!("tables: {}", tables.join(", "))
                };
                return Err(self.err(&group, format!("no such group ({hint})")));
            }
        }
        let dt = self
            .datatype_of(&group, true)
            .map_err(|e| self.err(&group, e))?
            .ok_or_else(|| self.err(&group, "group has no 'datatype' attribute"))?;
        let names = match Lh5Type::parse(&dt) {
            Lh5Type::Table(names) | Lh5Type::Struct(names) => names,
            _ => return Err(self.err(&group, format!("datatype '{dt}' is not a table"))),
        };
        let mut fields = Vec::new();
        let mut plans = Vec::new();
        let mut unsupported = Vec::new();
        let mut num_rows: Option<usize> = None;
        for name in names {
            match self.plan_object(&join(&group, &name), &name, 0) {
                Ok(col) if col.scalar => unsupported.push(Unsupported {
                    column: name,
                    reason: "a scalar, not a column".into(),
                }),
                Ok(col) => match num_rows {
                    Some(n) if n != col.rows => unsupported.push(Unsupported {
                        column: name,
                        reason: format!("has {} rows, the table {n}", col.rows),
                    }),
                    _ => {
                        num_rows = Some(col.rows);
                        fields.push(col.field);
                        plans.push(col.plan);
                    }
                },
                Err(reason) => unsupported.push(Unsupported {
                    column: name,
                    reason,
                }),
            }
        }
        Ok(Lh5Table {
            group,
            schema: Arc::new(Schema::new(fields)),
            num_rows: num_rows.unwrap_or(0),
            plans,
            unsupported,
        })
    }

    /// Reads any LH5 object but a struct/table's enclosing group as one Arrow array: one
    /// element per row (a scalar is a one-element array). Structs and tables become struct
    /// arrays.
    pub fn read_object(&self, path: &str) -> Result<(Field, ArrayRef)> {
        let path = norm(path);
        let name = path.rsplit('/').next().unwrap_or(&path).to_string();
        let col = self
            .plan_object(&path, &name, 0)
            .map_err(|e| self.err(&path, e))?;
        let array = self.read_plan(&col.plan)?;
        Ok((col.field, array))
    }

    /// Plans the object at `path`. Errors are reasons (the object is unsupported).
    fn plan_object(
        &self,
        path: &str,
        name: &str,
        depth: usize,
    ) -> std::result::Result<Column, String> {
        if depth > 32 {
            return Err("objects nested more than 32 deep".into());
        }
        let is_group = self.kind(path)?.ok_or("missing from the file")?;
        let dt = self.datatype_of(path, is_group)?.unwrap_or_default();
        let ty = if dt.is_empty() && !is_group {
            Lh5Type::Array {
                rank: 1,
                element: Element::Real,
            }
        } else {
            Lh5Type::parse(&dt)
        };
        let mut metadata = HashMap::new();
        if let Some(units) = self.attribute_text(path, is_group, "units") {
            metadata.insert(UNITS_KEY.to_string(), units);
        }
        let col = match ty {
            Lh5Type::Scalar(e)
            | Lh5Type::Array { element: e, .. }
            | Lh5Type::EqualSizedArrays(e) => {
                if is_group {
                    return Err(format!("datatype '{dt}' on a group"));
                }
                let scalar = matches!(ty, Lh5Type::Scalar(_));
                self.plan_dataset(path, name, e, scalar)?
            }
            Lh5Type::VectorOfVectors(_) => {
                if !is_group {
                    return Err(format!("datatype '{dt}' on a dataset"));
                }
                let cl = join(path, "cumulative_length");
                let rows = self.dataset_rows(&cl)?;
                let inner = self.plan_object(&join(path, "flattened_data"), "item", depth + 1)?;
                let item = Arc::new(inner.field.clone().with_nullable(true));
                Column {
                    field: Field::new(name, DataType::List(item.clone()), true),
                    plan: Plan::Vov {
                        cumulative_length: cl,
                        inner: Box::new(inner.plan),
                        item,
                    },
                    rows,
                    scalar: false,
                }
            }
            Lh5Type::ArrayOfEncodedEqualSizedArrays | Lh5Type::VectorOfEncodedVectors => {
                if !is_group {
                    return Err(format!("datatype '{dt}' on a dataset"));
                }
                let codec_name = self
                    .attribute_text(path, true, "codec")
                    .ok_or("encoded array without a 'codec' attribute")?;
                let shift = match self.attribute_text(path, true, "codec_shift") {
                    Some(s) => s
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.fract() == 0.0 && v.abs() <= f64::from(i32::MAX))
                        .ok_or_else(|| format!("invalid codec_shift '{s}'"))?
                        as i32,
                    None => 0,
                };
                let codec = Codec::from_name(&codec_name, shift)
                    .ok_or_else(|| format!("unknown codec '{codec_name}'"))?;
                let rows = self.dataset_rows(&join(path, "encoded_data/cumulative_length"))?;
                let item = Arc::new(Field::new("item", DataType::Int32, true));
                let (data_type, decoded_size) =
                    if matches!(ty, Lh5Type::ArrayOfEncodedEqualSizedArrays) {
                        let size = self.scalar_usize(&join(path, "decoded_size"))?;
                        let size32 = i32::try_from(size)
                            .map_err(|_| format!("decoded_size {size} too large"))?;
                        (DataType::FixedSizeList(item, size32), Some(size))
                    } else {
                        (DataType::List(item), None)
                    };
                Column {
                    field: Field::new(name, data_type, true),
                    plan: Plan::Encoded {
                        path: path.to_string(),
                        codec,
                        decoded_size,
                    },
                    rows,
                    scalar: false,
                }
            }
            Lh5Type::Struct(names) | Lh5Type::Table(names) => {
                if !is_group {
                    return Err(format!("datatype '{dt}' on a dataset"));
                }
                let mut fields = Vec::new();
                let mut plans = Vec::new();
                let mut rows: Option<usize> = None;
                let mut all_scalar = true;
                for child in &names {
                    let col = self
                        .plan_object(&join(path, child), child, depth + 1)
                        .map_err(|e| format!("field '{child}': {e}"))?;
                    match rows {
                        Some(n) if n != col.rows => {
                            return Err(format!(
                                "fields of unequal length ('{child}' has {}, others {n})",
                                col.rows
                            ));
                        }
                        _ => rows = Some(col.rows),
                    }
                    all_scalar &= col.scalar;
                    fields.push(col.field);
                    plans.push(col.plan);
                }
                let fields = Fields::from(fields);
                Column {
                    field: Field::new(name, DataType::Struct(fields.clone()), true),
                    plan: Plan::Struct { fields, plans },
                    rows: rows.unwrap_or(0),
                    scalar: all_scalar && !names.is_empty(),
                }
            }
            Lh5Type::Other(_) => return Err(format!("unsupported datatype '{dt}'")),
        };
        let Column {
            field,
            plan,
            rows,
            scalar,
        } = col;
        let field = if metadata.is_empty() {
            field
        } else {
            field.with_metadata(metadata)
        };
        Ok(Column {
            field,
            plan,
            rows,
            scalar,
        })
    }

    fn dataset_rows(&self, path: &str) -> std::result::Result<usize, String> {
        let ds = self
            .h5
            .dataset(&format!("/{path}"))
            .map_err(|e| format!("{path}: {e}"))?;
        let shape = ds.shape();
        let rows = shape.first().copied().unwrap_or(1);
        usize::try_from(rows).map_err(|_| format!("{path}: {rows} rows"))
    }

    fn scalar_usize(&self, path: &str) -> std::result::Result<usize, String> {
        let ds = self
            .h5
            .dataset(&format!("/{path}"))
            .map_err(|e| format!("{path}: {e}"))?;
        let values = numeric_as_i128(&ds).map_err(|e| format!("{path}: {e}"))?;
        match values.as_slice() {
            [v] => usize::try_from(*v).map_err(|_| format!("{path}: invalid size {v}")),
            _ => Err(format!(
                "{path}: expected one value, found {}",
                values.len()
            )),
        }
    }

    fn plan_dataset(
        &self,
        path: &str,
        name: &str,
        element: Element,
        scalar: bool,
    ) -> std::result::Result<Column, String> {
        let ds = self.h5.dataset(&format!("/{path}")).map_err(h5err)?;
        let shape: Vec<usize> = ds
            .shape()
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| format!("dimension {d} too large")))
            .collect::<std::result::Result<_, _>>()?;
        let rows = shape.first().copied().unwrap_or(1);
        let inner_dims: Vec<usize> = shape.iter().skip(1).copied().collect();
        let (plan, mut data_type) = match element {
            Element::String => {
                if !inner_dims.is_empty() {
                    return Err("string arrays of rank > 1".into());
                }
                match ds.dtype() {
                    Datatype::String { .. } | Datatype::VarLen { .. } => {}
                    other => return Err(format!("string datatype stored as {other:?}")),
                }
                (
                    Plan::Strings {
                        path: path.to_string(),
                    },
                    DataType::Utf8,
                )
            }
            Element::Complex => return Err("complex numbers are not supported".into()),
            Element::Real | Element::Bool | Element::DetectorId => {
                let mut element_type = arrow_type(ds.dtype())?;
                if element == Element::Bool {
                    if !element_type.is_integer() {
                        return Err(format!("bool stored as {element_type}"));
                    }
                    element_type = DataType::Boolean;
                }
                (
                    Plan::Dataset {
                        path: path.to_string(),
                        element: element_type.clone(),
                        inner_dims: inner_dims.clone(),
                    },
                    element_type,
                )
            }
        };
        for &d in inner_dims.iter().rev() {
            let size = i32::try_from(d).map_err(|_| format!("dimension {d} too large"))?;
            data_type =
                DataType::FixedSizeList(Arc::new(Field::new("item", data_type, true)), size);
        }
        Ok(Column {
            field: Field::new(name, data_type, true),
            plan,
            rows,
            scalar: scalar || shape.is_empty(),
        })
    }

    fn read_plan(&self, plan: &Plan) -> Result<ArrayRef> {
        match plan {
            Plan::Dataset {
                path,
                element,
                inner_dims,
            } => {
                let ds = self
                    .h5
                    .dataset(&format!("/{path}"))
                    .map_err(|e| self.err(path, e.to_string()))?;
                let bytes = ds
                    .read_native_bytes()
                    .map_err(|e| self.err(path, e.to_string()))?;
                let flat =
                    primitive_array(&bytes, ds.dtype(), element).map_err(|e| self.err(path, e))?;
                nest_fixed(flat, inner_dims).map_err(|e| self.err(path, e))
            }
            Plan::Strings { path } => {
                let ds = self
                    .h5
                    .dataset(&format!("/{path}"))
                    .map_err(|e| self.err(path, e.to_string()))?;
                let strings = ds
                    .read_strings()
                    .map_err(|e| self.err(path, e.to_string()))?;
                let mut b = StringBuilder::new();
                for s in strings {
                    b.append_value(s.trim_end_matches('\0'));
                }
                Ok(Arc::new(b.finish()))
            }
            Plan::Vov {
                cumulative_length,
                inner,
                item,
            } => {
                let values = self.read_plan(inner)?;
                let offsets = self.offsets(cumulative_length, values.len())?;
                let last = offsets.last().copied().unwrap_or(0) as usize;
                let values = values.slice(0, last);
                let list = ListArray::try_new(item.clone(), offsets, values, None)
                    .map_err(|e| self.err(cumulative_length, e.to_string()))?;
                Ok(Arc::new(list))
            }
            Plan::Encoded {
                path,
                codec,
                decoded_size,
            } => self.read_encoded(path, *codec, *decoded_size),
            Plan::Struct { fields, plans } => {
                let mut arrays = Vec::with_capacity(plans.len());
                for p in plans {
                    arrays.push(self.read_plan(p)?);
                }
                let len = arrays.first().map_or(0, |a| a.len());
                let s = StructArray::try_new_with_length(fields.clone(), arrays, None, len)
                    .map_err(|e| self.err("", e.to_string()))?;
                Ok(Arc::new(s))
            }
        }
    }

    /// List offsets from a `cumulative_length` dataset, checked against `values` elements.
    fn offsets(&self, path: &str, values: usize) -> Result<OffsetBuffer<i32>> {
        let ds = self
            .h5
            .dataset(&format!("/{path}"))
            .map_err(|e| self.err(path, e.to_string()))?;
        let cl = numeric_as_i128(&ds).map_err(|e| self.err(path, e))?;
        let mut offsets = Vec::new();
        offsets
            .try_reserve(cl.len() + 1)
            .map_err(|e| self.err(path, e.to_string()))?;
        offsets.push(0i32);
        let mut previous = 0i128;
        for (i, &c) in cl.iter().enumerate() {
            if c < previous {
                return Err(self.err(
                    path,
                    format!("cumulative_length decreases at entry {i} ({previous} then {c})"),
                ));
            }
            if c > values as i128 {
                return Err(self.err(
                    path,
                    format!("cumulative_length {c} at entry {i} exceeds the {values} values"),
                ));
            }
            let c32 = i32::try_from(c).map_err(|_| {
                self.err(path, format!("cumulative_length {c} exceeds 2^31 values"))
            })?;
            offsets.push(c32);
            previous = c;
        }
        Ok(OffsetBuffer::new(ScalarBuffer::from(offsets)))
    }

    fn read_encoded(
        &self,
        path: &str,
        codec: Codec,
        decoded_size: Option<usize>,
    ) -> Result<ArrayRef> {
        let flat_path = join(path, "encoded_data/flattened_data");
        let ds = self
            .h5
            .dataset(&format!("/{flat_path}"))
            .map_err(|e| self.err(&flat_path, e.to_string()))?;
        if !matches!(
            ds.dtype(),
            Datatype::FixedPoint { size: 1, .. } | Datatype::Enum { .. }
        ) {
            return Err(self.err(&flat_path, "encoded data is not bytes"));
        }
        let bytes = ds
            .read_raw_bytes()
            .map_err(|e| self.err(&flat_path, e.to_string()))?;
        let cl_path = join(path, "encoded_data/cumulative_length");
        let offsets = self.offsets(&cl_path, bytes.len())?;
        let rows = offsets.len() - 1;
        // Per-row sample limit: the declared size, or for vectors the decoded_size entry.
        let sizes: Option<Vec<usize>> = match decoded_size {
            Some(_) => None,
            None => {
                let sp = join(path, "decoded_size");
                let ds = self
                    .h5
                    .dataset(&format!("/{sp}"))
                    .map_err(|e| self.err(&sp, e.to_string()))?;
                let v = numeric_as_i128(&ds).map_err(|e| self.err(&sp, e))?;
                if v.len() != rows {
                    return Err(self.err(
                        &sp,
                        format!("{} decoded sizes for {rows} encoded vectors", v.len()),
                    ));
                }
                Some(
                    v.iter()
                        .map(|&s| {
                            usize::try_from(s)
                                .map_err(|_| self.err(&sp, format!("invalid size {s}")))
                        })
                        .collect::<Result<_>>()?,
                )
            }
        };
        let total: usize = match (&sizes, decoded_size) {
            (Some(s), _) => s.iter().try_fold(0usize, |a, &b| a.checked_add(b)),
            (None, Some(n)) => rows.checked_mul(n),
            (None, None) => Some(0),
        }
        .filter(|&t| t <= i32::MAX as usize)
        .ok_or_else(|| self.err(path, "decoded waveforms exceed 2^31 samples"))?;
        // Reserve no more than the encoded bytes can produce (a radware waveform holds at
        // most 32767 samples, a uleb128 one at most one per byte), whatever the sizes claim.
        let producible = match codec {
            Codec::RadwareSigcompress { .. } => rows.saturating_mul(i16::MAX as usize),
            Codec::Uleb128ZigzagDiff => bytes.len(),
        };
        let mut samples: Vec<i32> = Vec::new();
        samples
            .try_reserve(total.min(producible))
            .map_err(|e| self.err(path, e.to_string()))?;
        let mut list_offsets = Vec::with_capacity(rows + 1);
        list_offsets.push(0i32);
        for row in 0..rows {
            let start = offsets[row] as usize;
            let end = offsets[row + 1] as usize;
            let input = bytes.get(start..end).unwrap_or_default();
            let expected = match (&sizes, decoded_size) {
                (Some(s), _) => s.get(row).copied().unwrap_or(0),
                (None, Some(n)) => n,
                (None, None) => 0,
            };
            let got = codec
                .decode(input, expected, &mut samples)
                .map_err(|e| self.err(path, format!("waveform {row}: {e}")))?;
            if got != expected {
                return Err(self.err(
                    path,
                    format!("waveform {row}: decoded {got} samples, decoded_size says {expected}"),
                ));
            }
            list_offsets.push(samples.len() as i32);
        }
        let values: ArrayRef = Arc::new(Int32Array::from(samples));
        let item = Arc::new(Field::new("item", DataType::Int32, true));
        match decoded_size {
            Some(n) => {
                let size =
                    i32::try_from(n).map_err(|_| self.err(path, "decoded_size too large"))?;
                let a = FixedSizeListArray::try_new(item, size, values, None)
                    .map_err(|e| self.err(path, e.to_string()))?;
                Ok(Arc::new(a))
            }
            None => {
                let a = ListArray::try_new(
                    item,
                    OffsetBuffer::new(ScalarBuffer::from(list_offsets)),
                    values,
                    None,
                )
                .map_err(|e| self.err(path, e.to_string()))?;
                Ok(Arc::new(a))
            }
        }
    }
}

impl Lh5Table {
    /// The table's group path (`ch1084803/hit`).
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The Arrow schema of the columns hepq reads (`units` in field metadata).
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rows in the table.
    pub fn num_rows(&self) -> usize {
        self.num_rows
    }

    /// Columns left out, each with its reason.
    pub fn unsupported(&self) -> &[Unsupported] {
        &self.unsupported
    }

    /// Reads the table, or only the columns at `projection` (indices into [`Self::schema`]);
    /// only those columns' datasets are read.
    pub fn read(&self, file: &Lh5File, projection: Option<&[usize]>) -> Result<RecordBatch> {
        let indices: Vec<usize> = match projection {
            Some(p) => p.to_vec(),
            None => (0..self.plans.len()).collect(),
        };
        let mut fields = Vec::with_capacity(indices.len());
        let mut arrays = Vec::with_capacity(indices.len());
        for i in indices {
            let plan = self
                .plans
                .get(i)
                .ok_or_else(|| file.err(&self.group, format!("no column {i}")))?;
            let array = file.read_plan(plan)?;
            if array.len() != self.num_rows {
                return Err(file.err(
                    &join(&self.group, self.schema.field(i).name()),
                    format!("read {} rows, expected {}", array.len(), self.num_rows),
                ));
            }
            fields.push(self.schema.field(i).clone());
            arrays.push(array);
        }
        let schema = Arc::new(Schema::new(fields));
        RecordBatch::try_new_with_options(
            schema,
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(self.num_rows)),
        )
        .map_err(|e| file.err(&self.group, e.to_string()))
    }
}

/// The Arrow type of one HDF5 numeric element (enums read as their integer base).
fn arrow_type(dt: &Datatype) -> std::result::Result<DataType, String> {
    Ok(match dt {
        Datatype::FixedPoint { size, signed, .. } => match (size, signed) {
            (1, true) => DataType::Int8,
            (2, true) => DataType::Int16,
            (4, true) => DataType::Int32,
            (8, true) => DataType::Int64,
            (1, false) => DataType::UInt8,
            (2, false) => DataType::UInt16,
            (4, false) => DataType::UInt32,
            (8, false) => DataType::UInt64,
            _ => return Err(format!("{size}-byte integers are not supported")),
        },
        Datatype::FloatingPoint { size: 4, .. } => DataType::Float32,
        Datatype::FloatingPoint { size: 8, .. } => DataType::Float64,
        Datatype::Enum { base, .. } => return arrow_type(base),
        other => return Err(format!("HDF5 datatype {other:?} is not supported")),
    })
}

macro_rules! from_ne {
    ($bytes:expr, $t:ty) => {
        $bytes
            .chunks_exact(std::mem::size_of::<$t>())
            .map(|c| {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(c);
                <$t>::from_ne_bytes(a)
            })
            .collect::<Vec<$t>>()
    };
}

/// Native-endian element bytes as an Arrow array of `element` (a numeric type or Boolean).
fn primitive_array(
    bytes: &[u8],
    dt: &Datatype,
    element: &DataType,
) -> std::result::Result<ArrayRef, String> {
    let stored = arrow_type(dt)?;
    if let Some(width) = stored.primitive_width()
        && !bytes.len().is_multiple_of(width)
    {
        return Err(format!(
            "{} bytes is not a whole number of {stored}",
            bytes.len()
        ));
    }
    if *element == DataType::Boolean {
        let values: Vec<bool> = match stored.primitive_width() {
            Some(1) => bytes.iter().map(|&b| b != 0).collect(),
            Some(w) => bytes
                .chunks_exact(w)
                .map(|c| c.iter().any(|&b| b != 0))
                .collect(),
            None => return Err(format!("bool stored as {stored}")),
        };
        return Ok(Arc::new(BooleanArray::from(values)));
    }
    Ok(match stored {
        DataType::Int8 => Arc::new(Int8Array::from(from_ne!(bytes, i8))),
        DataType::Int16 => Arc::new(Int16Array::from(from_ne!(bytes, i16))),
        DataType::Int32 => Arc::new(Int32Array::from(from_ne!(bytes, i32))),
        DataType::Int64 => Arc::new(Int64Array::from(from_ne!(bytes, i64))),
        DataType::UInt8 => Arc::new(UInt8Array::from(bytes.to_vec())),
        DataType::UInt16 => Arc::new(UInt16Array::from(from_ne!(bytes, u16))),
        DataType::UInt32 => Arc::new(UInt32Array::from(from_ne!(bytes, u32))),
        DataType::UInt64 => Arc::new(UInt64Array::from(from_ne!(bytes, u64))),
        DataType::Float32 => Arc::new(Float32Array::from(from_ne!(bytes, f32))),
        DataType::Float64 => Arc::new(Float64Array::from(from_ne!(bytes, f64))),
        other => return Err(format!("unsupported element type {other}")),
    })
}

/// An integer dataset's values, widened (for lengths and sizes).
fn numeric_as_i128(ds: &hdf5_reader::Dataset) -> std::result::Result<Vec<i128>, String> {
    let bytes = ds.read_native_bytes().map_err(h5err)?;
    let array = primitive_array(&bytes, ds.dtype(), &DataType::Null)?;
    macro_rules! widen {
        ($t:ty) => {
            array
                .as_any()
                .downcast_ref::<$t>()
                .map(|a| a.values().iter().map(|&v| v as i128).collect())
        };
    }
    let out: Option<Vec<i128>> = match array.data_type() {
        DataType::Int8 => widen!(Int8Array),
        DataType::Int16 => widen!(Int16Array),
        DataType::Int32 => widen!(Int32Array),
        DataType::Int64 => widen!(Int64Array),
        DataType::UInt8 => widen!(UInt8Array),
        DataType::UInt16 => widen!(UInt16Array),
        DataType::UInt32 => widen!(UInt32Array),
        DataType::UInt64 => widen!(UInt64Array),
        DataType::Float64 => array.as_any().downcast_ref::<Float64Array>().map(|a| {
            a.values()
                .iter()
                .map(|&v| if v.fract() == 0.0 { v as i128 } else { -1 })
                .collect()
        }),
        _ => None,
    };
    out.ok_or_else(|| format!("expected integers, found {}", array.data_type()))
}

/// Wraps a flat array into nested fixed-size lists of `dims` (outermost first).
fn nest_fixed(flat: ArrayRef, dims: &[usize]) -> std::result::Result<ArrayRef, String> {
    let mut array = flat;
    for &d in dims.iter().rev() {
        let size = i32::try_from(d).map_err(|_| format!("dimension {d} too large"))?;
        if d == 0 || !array.len().is_multiple_of(d) {
            if d == 0 && array.is_empty() {
                // Zero-width rows: the row count cannot be recovered from the values.
                return Err("zero-width array dimensions are not supported".into());
            }
            return Err(format!("{} values do not fill rows of {d}", array.len()));
        }
        let item = Arc::new(Field::new("item", array.data_type().clone(), true));
        array = Arc::new(
            FixedSizeListArray::try_new(item, size, array, None).map_err(|e| e.to_string())?,
        );
    }
    Ok(array)
}
