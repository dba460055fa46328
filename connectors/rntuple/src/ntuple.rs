//! The public RNTuple handle: opening by name, the Arrow schema, field and column listings,
//! cluster boundaries and parallel reads.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use hepq_root::RootFile;
use hepq_root::compression::Codec;

use crate::column::ColumnType;
use crate::error::{Error, Result};
use crate::field::{Plan, Tree};
use crate::meta::{
    self, Anchor, Cluster, ENV_FOOTER, ENV_HEADER, ENV_PAGELIST, Locator, MAX_ENVELOPE_LEN,
};
use crate::read::{Source, read_clusters};

/// The class name of RNTuple anchors.
pub const ANCHOR_CLASS: &str = "ROOT::RNTuple";

/// Field metadata key holding a column's C++ type name (the same key as the TTree reader's).
pub const ROOT_TYPE_KEY: &str = hepq_root::ROOT_TYPE_KEY;

/// One RNTuple found in a file, as listed by [`ntuples`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtupleInfo {
    /// The path from the file's top directory, like `Events` or `dir/ntuple`.
    pub path: String,
    /// The anchor key's cycle.
    pub cycle: i16,
}

/// Lists the RNTuples of a file (every `ROOT::RNTuple` key, the highest cycle of each path).
pub fn ntuples(file: &RootFile) -> Result<Vec<NtupleInfo>> {
    let mut out: Vec<NtupleInfo> = Vec::new();
    for k in file.keys()? {
        if k.class_name != ANCHOR_CLASS {
            continue;
        }
        match out.iter_mut().find(|n| n.path == k.path) {
            Some(n) => n.cycle = n.cycle.max(k.cycle),
            None => out.push(NtupleInfo {
                path: k.path,
                cycle: k.cycle,
            }),
        }
    }
    Ok(out)
}

/// One top-level field, supported or not.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldInfo {
    /// The field's name, which is also its column name when it is supported.
    pub name: String,
    /// The C++ type name (`float`, `std::vector<float>`, a class name, ...).
    pub type_name: String,
    /// The type alias as written (`Double32_t`, ...), empty when none.
    pub type_alias: String,
    /// The field's description.
    pub description: String,
    /// The Arrow type, for supported fields.
    pub data_type: Option<DataType>,
    /// Why the field cannot be read, for unsupported ones.
    pub unsupported: Option<String>,
    /// The column index in [`RNTuple::schema`], for supported fields.
    pub column: Option<usize>,
    /// The physical columns this field and its subfields read (alias columns resolved).
    pub columns: Vec<usize>,
    /// Pages of those columns, over all clusters.
    pub pages: usize,
    /// Bytes on storage of those pages.
    pub compressed_bytes: u64,
    /// Bytes of those pages once decompressed.
    pub uncompressed_bytes: u64,
}

/// One physical column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnInfo {
    /// The column ID.
    pub id: usize,
    /// The owning field's path, `.`-separated (`jets._0.pt`).
    pub field_path: String,
    /// The column type's name (`SplitReal32`, `Index64`, ...), or `unknown 0x..`.
    pub column_type: String,
    /// Bits per element on storage.
    pub bits: u16,
    /// The representation index.
    pub representation: u16,
    /// The first element index of a deferred column (0 for ordinary columns).
    pub first_element: i64,
    /// Pages over all clusters.
    pub pages: usize,
    /// Elements over all clusters.
    pub elements: u64,
    /// Bytes on storage.
    pub compressed_bytes: u64,
    /// Bytes once decompressed.
    pub uncompressed_bytes: u64,
    /// The codec of the first cluster that stores pages (`none`, `zstd`, ...).
    pub codec: String,
}

struct Inner {
    file: RootFile,
    name: String,
    anchor: Anchor,
    ntuple_name: String,
    description: String,
    writer: String,
    schema_meta: meta::Schema,
    clusters: Vec<Cluster>,
    plans: Vec<Plan>,
    fields: Vec<FieldInfo>,
    columns: Vec<ColumnInfo>,
    schema: SchemaRef,
    entries: u64,
}

/// An open RNTuple. Cheap to clone and shareable between threads.
#[derive(Clone)]
pub struct RNTuple {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RNTuple {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RNTuple")
            .field("file", &self.inner.file.name())
            .field("name", &self.inner.name)
            .field("entries", &self.inner.entries)
            .finish()
    }
}

fn read_envelope(
    file: &RootFile,
    ntuple: &str,
    what: &str,
    loc: Locator,
    len: u64,
) -> Result<Vec<u8>> {
    let bad = |m: String| Error::Malformed {
        file: file.name().to_string(),
        ntuple: ntuple.to_string(),
        context: what.to_string(),
        message: m,
    };
    if len > MAX_ENVELOPE_LEN || loc.size > MAX_ENVELOPE_LEN {
        return Err(bad(format!(
            "{len} bytes ({} on storage) exceed the {MAX_ENVELOPE_LEN}-byte envelope limit",
            loc.size
        )));
    }
    if loc.size > len {
        return Err(bad(format!(
            "{} bytes on storage for {len} uncompressed bytes",
            loc.size
        )));
    }
    let raw = file.read_range(loc.offset, loc.size as usize, what)?;
    hepq_root::compression::decompress(&raw, len as usize)
        .map_err(|e| bad(format!("decompression failed: {e}")))
}

impl RNTuple {
    /// Opens the RNTuple at `path` (`Events`, `dir/ntuple`, optionally `Events;2`), or the
    /// file's only RNTuple when `path` is `None`.
    pub fn open(file: &RootFile, path: Option<&str>) -> Result<RNTuple> {
        let list = ntuples(file)?;
        let available = || {
            if list.is_empty() {
                "none".to_string()
            } else {
                list.iter()
                    .map(|n| n.path.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let (p, cycle) = match path {
            None => match list.as_slice() {
                [one] => (one.path.clone(), None),
                _ => {
                    return Err(Error::NoSuchNtuple {
                        file: file.name().to_string(),
                        ntuple: String::new(),
                        available: format!(
                            "{}; name one, the file does not hold exactly one",
                            available()
                        ),
                    });
                }
            },
            Some(path) => match path.rsplit_once(';') {
                Some((p, c)) => match c.parse::<i16>() {
                    Ok(c) => (p.trim_matches('/').to_string(), Some(c)),
                    Err(_) => (path.trim_matches('/').to_string(), None),
                },
                None => (path.trim_matches('/').to_string(), None),
            },
        };
        let keys = file.keys()?;
        if !keys.iter().any(|k| {
            k.class_name == ANCHOR_CLASS && k.path == p && cycle.is_none_or(|c| c == k.cycle)
        }) {
            return Err(Error::NoSuchNtuple {
                file: file.name().to_string(),
                ntuple: path.unwrap_or_default().to_string(),
                available: available(),
            });
        }
        let cycle = cycle.or_else(|| {
            keys.iter()
                .filter(|k| k.class_name == ANCHOR_CLASS && k.path == p)
                .map(|k| k.cycle)
                .max()
        });
        let obj = file.object_bytes(&p, cycle)?;
        Self::from_anchor(file, &p, &obj)
    }

    fn from_anchor(file: &RootFile, name: &str, obj: &[u8]) -> Result<RNTuple> {
        let bad = |context: &str, m: String| Error::Malformed {
            file: file.name().to_string(),
            ntuple: name.to_string(),
            context: context.to_string(),
            message: m,
        };
        let anchor = meta::parse_anchor(obj).map_err(|e| bad("anchor", e))?;
        let hb = read_envelope(
            file,
            name,
            "header envelope",
            anchor.header,
            anchor.header_len,
        )?;
        let (header_sum, mut c) =
            meta::open_envelope(&hb, ENV_HEADER).map_err(|e| bad("header envelope", e))?;
        let header = meta::parse_header(&mut c).map_err(|e| bad("header envelope", e))?;
        let fb = read_envelope(
            file,
            name,
            "footer envelope",
            anchor.footer,
            anchor.footer_len,
        )?;
        let (_, mut c) =
            meta::open_envelope(&fb, ENV_FOOTER).map_err(|e| bad("footer envelope", e))?;
        let footer = meta::parse_footer(&mut c).map_err(|e| bad("footer envelope", e))?;
        if footer.header_checksum != header_sum {
            return Err(bad(
                "footer envelope",
                "the footer names a different header checksum: header and footer do not belong together".into(),
            ));
        }
        let mut schema = header.schema.clone();
        schema
            .fields
            .extend(footer.extension.fields.iter().cloned());
        schema
            .columns
            .extend(footer.extension.columns.iter().cloned());
        schema
            .aliases
            .extend(footer.extension.aliases.iter().cloned());
        let mut clusters: Vec<Cluster> = Vec::new();
        for (gi, g) in footer.groups.iter().enumerate() {
            let what = format!("page list envelope {gi}");
            let pb = read_envelope(file, name, &what, g.page_list, g.page_list_len)?;
            let (_, mut c) = meta::open_envelope(&pb, ENV_PAGELIST).map_err(|e| bad(&what, e))?;
            let (sum, cl) = meta::parse_page_list(&mut c).map_err(|e| bad(&what, e))?;
            if sum != header_sum {
                return Err(bad(
                    &what,
                    "the page list names a different header checksum".into(),
                ));
            }
            if cl.len() != g.clusters as usize {
                return Err(bad(
                    &what,
                    format!(
                        "the footer announces {} clusters, the page list has {}",
                        g.clusters,
                        cl.len()
                    ),
                ));
            }
            // the group's entry range only speeds up random access; the clusters are checked
            // for contiguity below
            let _ = (g.min_entry, g.entry_span);
            clusters.extend(cl);
        }
        clusters.sort_by_key(|c| c.first_entry);
        let mut entries = 0u64;
        for (i, c) in clusters.iter().enumerate() {
            if c.first_entry != entries {
                return Err(bad(
                    "page list envelopes",
                    format!(
                        "cluster {i} starts at entry {} but the clusters before it end at {entries}",
                        c.first_entry
                    ),
                ));
            }
            if c.columns.len() > schema.columns.len() {
                return Err(bad(
                    "page list envelopes",
                    format!(
                        "cluster {i} lists {} columns but the schema has {}",
                        c.columns.len(),
                        schema.columns.len()
                    ),
                ));
            }
            entries = entries
                .checked_add(c.entries)
                .ok_or_else(|| bad("page list envelopes", "entry count overflows".into()))?;
        }
        let tree = Tree::new(&schema).map_err(|e| bad("header envelope", e))?;
        let column_infos = column_infos(&schema, &clusters);
        let mut plans = Vec::new();
        let mut fields = Vec::new();
        let mut arrow_fields = Vec::new();
        for &id in &tree.top {
            let rec = &schema.fields[id];
            let planned = tree.plan(id, 0);
            let mut cols = Vec::new();
            collect_columns(&tree, id, &mut cols, 0);
            cols.sort_unstable();
            cols.dedup();
            let (mut pages, mut cb, mut ub) = (0, 0, 0);
            for &c in &cols {
                if let Some(ci) = column_infos.get(c) {
                    pages += ci.pages;
                    cb += ci.compressed_bytes;
                    ub += ci.uncompressed_bytes;
                }
            }
            let (data_type, unsupported, column) = match planned {
                Ok(plan) => {
                    let dt = plan.data_type.clone();
                    arrow_fields.push(
                        Field::new(rec.name.clone(), dt.clone(), plan.nullable).with_metadata(
                            [(ROOT_TYPE_KEY.to_string(), rec.type_name.clone())].into(),
                        ),
                    );
                    plans.push(plan);
                    (Some(dt), None, Some(plans.len() - 1))
                }
                Err(r) => (None, Some(r), None),
            };
            fields.push(FieldInfo {
                name: rec.name.clone(),
                type_name: rec.type_name.clone(),
                type_alias: rec.type_alias.clone(),
                description: rec.description.clone(),
                data_type,
                unsupported,
                column,
                columns: cols,
                pages,
                compressed_bytes: cb,
                uncompressed_bytes: ub,
            });
        }
        Ok(RNTuple {
            inner: Arc::new(Inner {
                file: file.clone(),
                name: name.to_string(),
                anchor,
                ntuple_name: header.name,
                description: header.description,
                writer: header.writer,
                schema_meta: schema,
                clusters,
                plans,
                fields,
                columns: column_infos,
                schema: Arc::new(Schema::new(arrow_fields)),
                entries,
            }),
        })
    }

    /// The key path this RNTuple was opened by.
    pub fn path(&self) -> &str {
        &self.inner.name
    }

    /// The name stored in the header.
    pub fn ntuple_name(&self) -> &str {
        &self.inner.ntuple_name
    }

    /// The description stored in the header.
    pub fn description(&self) -> &str {
        &self.inner.description
    }

    /// The writing library or program, as stored in the header.
    pub fn writer(&self) -> &str {
        &self.inner.writer
    }

    /// The format version (epoch, major, minor, patch) of the anchor.
    pub fn format_version(&self) -> [u16; 4] {
        self.inner.anchor.version
    }

    /// The file this RNTuple lives in.
    pub fn file(&self) -> &RootFile {
        &self.inner.file
    }

    /// The Arrow schema: one column per supported top-level field.
    pub fn schema(&self) -> SchemaRef {
        self.inner.schema.clone()
    }

    /// Every top-level field, supported or not, in header order.
    pub fn fields(&self) -> &[FieldInfo] {
        &self.inner.fields
    }

    /// Every physical column.
    pub fn columns(&self) -> &[ColumnInfo] {
        &self.inner.columns
    }

    /// The number of entries.
    pub fn entries(&self) -> u64 {
        self.inner.entries
    }

    /// The entry range of every cluster, in order.
    pub fn clusters(&self) -> Vec<Range<u64>> {
        self.inner
            .clusters
            .iter()
            .map(|c| c.first_entry..c.first_entry + c.entries)
            .collect()
    }

    /// The first entry of every cluster.
    pub fn cluster_starts(&self) -> Vec<u64> {
        self.inner.clusters.iter().map(|c| c.first_entry).collect()
    }

    /// Reads the schema columns `projection` for the entries `entries`. Only the projected
    /// fields' pages are read; they are decompressed and decoded in parallel, one task per
    /// (cluster, column).
    pub fn read(&self, projection: &[usize], entries: Range<u64>) -> Result<RecordBatch> {
        let inner = &self.inner;
        let invalid = |m: String| Error::InvalidArgument {
            file: inner.file.name().to_string(),
            ntuple: inner.name.clone(),
            message: m,
        };
        if entries.start > entries.end || entries.end > inner.entries {
            return Err(invalid(format!(
                "entry range {entries:?} is outside 0..{}",
                inner.entries
            )));
        }
        let mut plans = Vec::with_capacity(projection.len());
        for &p in projection {
            plans.push(inner.plans.get(p).ok_or_else(|| {
                invalid(format!(
                    "column {p} does not exist (the schema has {})",
                    inner.plans.len()
                ))
            })?);
        }
        let schema = Arc::new(
            inner
                .schema
                .project(projection)
                .map_err(|e| invalid(e.to_string()))?,
        );
        let n = (entries.end - entries.start) as usize;
        let opts = RecordBatchOptions::new().with_row_count(Some(n));
        if plans.is_empty() || n == 0 {
            let arrays = schema
                .fields()
                .iter()
                .map(|f| arrow_array::new_empty_array(f.data_type()))
                .collect();
            let schema = if n == 0 {
                schema
            } else {
                Arc::new(Schema::empty())
            };
            return RecordBatch::try_new_with_options(
                schema,
                if n == 0 { arrays } else { Vec::new() },
                &opts,
            )
            .map_err(|e| invalid(e.to_string()));
        }
        let c0 = inner
            .clusters
            .partition_point(|c| c.first_entry + c.entries <= entries.start);
        let c1 = inner
            .clusters
            .partition_point(|c| c.first_entry < entries.end);
        let base = inner.clusters.get(c0).map_or(0, |c| c.first_entry);
        let src = Source {
            file: &inner.file,
            columns: &inner.schema_meta.columns,
            clusters: &inner.clusters,
            // uproot writes 0: no limit
            max_key_size: match inner.anchor.max_key_size {
                0 => u64::MAX,
                k => k,
            },
        };
        let arrays = read_clusters(&src, &plans, c0..c1).map_err(|(pi, message)| {
            let field = schema.field(pi).name().clone();
            Error::Field {
                file: inner.file.name().to_string(),
                ntuple: inner.name.clone(),
                field,
                message,
            }
        })?;
        let off = (entries.start - base) as usize;
        let arrays = arrays.into_iter().map(|a| a.slice(off, n)).collect();
        RecordBatch::try_new_with_options(schema, arrays, &opts).map_err(|e| invalid(e.to_string()))
    }

    /// The byte ranges (pages, with their checksums) that [`RNTuple::read`] of the same
    /// arguments reads, so that a remote reader can fetch them in one request first. Invalid
    /// arguments give no ranges (the read itself reports them).
    pub fn byte_ranges(&self, projection: &[usize], entries: Range<u64>) -> Vec<Range<u64>> {
        let inner = &self.inner;
        let mut cols = Vec::new();
        for p in projection {
            if let Some(plan) = inner.plans.get(*p) {
                plan.visit(&mut |q: &Plan| {
                    cols.extend(q.reprs.iter().flatten().copied());
                });
            }
        }
        cols.sort_unstable();
        cols.dedup();
        let mut out = Vec::new();
        for c in &inner.clusters {
            let range = c.first_entry..c.first_entry + c.entries;
            if range.end <= entries.start || range.start >= entries.end {
                continue;
            }
            for &col in &cols {
                let Some(cp) = c.columns.get(col) else {
                    continue;
                };
                for p in &cp.pages {
                    let extra = if p.checksum { 8 } else { 0 };
                    out.push(p.loc.offset..p.loc.offset.saturating_add(p.loc.size + extra));
                }
            }
        }
        out.sort_by_key(|r| r.start);
        out.dedup();
        out
    }

    /// Reads a field by name, for error messages that name an unsupported field: returns the
    /// field's schema column, or an [`Error::Unsupported`] naming its type and the reason.
    pub fn column_of(&self, name: &str) -> Result<usize> {
        let inner = &self.inner;
        match inner.fields.iter().find(|f| f.name == name) {
            Some(FieldInfo {
                column: Some(c), ..
            }) => Ok(*c),
            Some(f) => Err(Error::Unsupported {
                file: inner.file.name().to_string(),
                ntuple: inner.name.clone(),
                field: f.name.clone(),
                type_name: f.type_name.clone(),
                reason: f.unsupported.clone().unwrap_or_default(),
            }),
            None => Err(Error::InvalidArgument {
                file: inner.file.name().to_string(),
                ntuple: inner.name.clone(),
                message: format!("no field {name:?}"),
            }),
        }
    }
}

fn collect_columns(tree: &Tree<'_>, id: usize, out: &mut Vec<usize>, depth: usize) {
    if depth > 64 {
        return;
    }
    out.extend(tree.columns[id].iter().map(|(c, _)| *c));
    for &k in &tree.children[id] {
        collect_columns(tree, k, out, depth + 1);
    }
}

fn field_path(schema: &meta::Schema, id: usize) -> String {
    let mut parts = Vec::new();
    let mut at = id;
    for _ in 0..=schema.fields.len() {
        let Some(f) = schema.fields.get(at) else {
            break;
        };
        parts.push(f.name.as_str());
        if f.parent as usize == at {
            break;
        }
        at = f.parent as usize;
    }
    parts.reverse();
    parts.join(".")
}

fn column_infos(schema: &meta::Schema, clusters: &[Cluster]) -> Vec<ColumnInfo> {
    schema
        .columns
        .iter()
        .enumerate()
        .map(|(id, c)| {
            let ty = ColumnType::from_code(c.ty);
            let spec = ty.map(|ty| crate::column::ColumnSpec {
                ty,
                bits: c.bits,
                range: c.range,
            });
            let (mut pages, mut elements, mut cb, mut ub) = (0, 0u64, 0u64, 0u64);
            let mut codec = None;
            for cl in clusters {
                let Some(cp) = cl.columns.get(id) else {
                    continue;
                };
                if cp.suppressed {
                    continue;
                }
                if codec.is_none() && !cp.pages.is_empty() {
                    codec = Some(Codec::from_setting(cp.compression as i32).name());
                }
                pages += cp.pages.len();
                elements += cp.elements();
                for p in &cp.pages {
                    cb += p.loc.size;
                    ub += spec
                        .and_then(|s| s.page_bytes(p.elements as usize))
                        .unwrap_or(0) as u64;
                }
            }
            ColumnInfo {
                id,
                field_path: field_path(schema, c.field as usize),
                column_type: ty
                    .map_or_else(|| format!("unknown {:#x}", c.ty), |t| t.name().to_string()),
                bits: c.bits,
                representation: c.repr,
                first_element: c.first_element,
                pages,
                elements,
                compressed_bytes: cb,
                uncompressed_bytes: ub,
                codec: codec.unwrap_or("none").to_string(),
            }
        })
        .collect()
}
