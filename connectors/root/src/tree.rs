//! The public tree handle: branch listing, Arrow schema, basket planning and reading.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use rayon::prelude::*;

use crate::compression::{self, Codec};
use crate::decode::{Builder, Loaded, empty};
use crate::direct::{self, Piece, Shape, SharedOffsets, Src};
use crate::error::{Error, Malformed, Result};
use crate::file::{Key, RootFile};
use crate::meta::{self, TreeMeta};
use crate::types::{Plan, Typed, classify};

/// Bytes read first of a basket record for its header (a key and TBasket header, which is
/// longer only for very long branch names: then the whole record is read for it).
const HEADER_PREFIX: usize = 512;

/// Field metadata key holding a column's ROOT type name.
pub const ROOT_TYPE_KEY: &str = "root.type";

/// One branch of a tree, supported or not.
#[derive(Debug, Clone, PartialEq)]
pub struct BranchInfo {
    /// The branch's name (`fName`), which is also its column name when it is supported (or its
    /// `path` when two branches share a name).
    pub name: String,
    /// The path through parent branches, `/`-separated (`evt/P3/P3.Px`), as uproot names it.
    pub path: String,
    /// The ROOT type name (`Float_t`, `Int_t[nJet]`, `vector<float>`, a class name, …).
    pub root_type: String,
    /// The Arrow type, for supported branches.
    pub data_type: Option<DataType>,
    /// Why the branch cannot be read, for unsupported ones.
    pub unsupported: Option<String>,
    /// True for branches that only group sub-branches (split objects) and hold no values.
    pub group: bool,
    /// The column index in [`Tree::schema`], for supported branches.
    pub column: Option<usize>,
    /// Number of baskets.
    pub baskets: usize,
    /// Bytes on disk (`fZipBytes`).
    pub compressed_bytes: u64,
    /// Bytes before compression (`fTotBytes`).
    pub uncompressed_bytes: u64,
    /// The codec named by the branch's compression setting (`none`, `zlib`, `lzma`, `lz4`, `zstd`).
    pub codec: String,
    /// The branch's entry count.
    pub entries: u64,
}

/// Where one basket is.
#[derive(Debug, Clone)]
enum Location {
    Disk { seek: u64, len: usize },
    Embedded(usize),
}

#[derive(Debug, Clone)]
struct BasketRef {
    start: u64,
    stop: u64,
    loc: Location,
}

/// An open TTree.
#[derive(Debug, Clone)]
pub struct Tree {
    file: RootFile,
    path: String,
    title: String,
    meta: Arc<TreeMeta>,
    typed: Vec<Typed>,
    infos: Vec<BranchInfo>,
    /// schema column → branch index
    columns: Vec<usize>,
    schema: SchemaRef,
    baskets: Vec<Vec<BasketRef>>,
}

fn basket_refs(b: &meta::BranchMeta) -> Vec<BasketRef> {
    let mut out = Vec::new();
    let mut normal = 0;
    for (i, &s) in b.basket_seek.iter().enumerate() {
        if s <= 0 || i as i64 == b.write_basket as i64 {
            break;
        }
        normal += 1;
    }
    let embedded_entries: i64 = b.embedded.iter().map(|e| e.entries as i64).sum();
    let mut last = 0u64;
    for i in 0..normal {
        let start = b.basket_entry.get(i).copied().unwrap_or(0).max(0) as u64;
        let stop = match b.basket_entry.get(i + 1) {
            Some(&s) if i < normal => s.max(0) as u64,
            _ => (b.entries - embedded_entries).max(0) as u64,
        };
        let len = b.basket_bytes.get(i).copied().unwrap_or(0).max(0) as usize;
        out.push(BasketRef {
            start,
            stop,
            loc: Location::Disk {
                seek: b.basket_seek[i] as u64,
                len,
            },
        });
        last = stop;
    }
    let normal_end = b.basket_entry.get(normal).copied().map(|e| e.max(0) as u64);
    let need_embedded = normal_end.is_none_or(|e| e as i64 != b.entries) || normal == 0;
    if need_embedded {
        for (k, e) in b.embedded.iter().enumerate() {
            let start = last;
            let stop = last + e.entries as u64;
            out.push(BasketRef {
                start,
                stop,
                loc: Location::Embedded(k),
            });
            last = stop;
        }
    }
    out
}

impl Tree {
    pub(crate) fn parse(file: RootFile, path: String, key: &Key, obj: &[u8]) -> Result<Tree> {
        let meta = meta::parse_tree(obj, key.keylen, &key.class_name)
            .map_err(|e| file.inner.malformed(format!("tree {path:?}"), e))?;
        // Streamers are only needed for members of split classes; a broken streamer record
        // makes those branches unsupported rather than the whole tree unreadable.
        let needs_streamers = meta
            .branches
            .iter()
            .any(|b| b.element.as_ref().is_some_and(|e| e.id >= 0));
        let streamers = if needs_streamers {
            file.inner.streamers().ok()
        } else {
            None
        };
        let typed: Vec<Typed> = (0..meta.branches.len())
            .map(|i| classify(&meta, i, streamers.as_deref()))
            .collect();
        let baskets: Vec<Vec<BasketRef>> = meta.branches.iter().map(basket_refs).collect();
        // paths
        let mut paths = Vec::with_capacity(meta.branches.len());
        for b in &meta.branches {
            let p = match b.parent {
                Some(pi) => format!("{}/{}", paths.get(pi).cloned().unwrap_or_default(), b.name),
                None => b.name.clone(),
            };
            paths.push(p);
        }
        let mut name_count: HashMap<&str, usize> = HashMap::new();
        for (b, t) in meta.branches.iter().zip(&typed) {
            if t.plan.is_ok() {
                *name_count.entry(b.name.as_str()).or_default() += 1;
            }
        }
        let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        let mut infos = Vec::with_capacity(meta.branches.len());
        for (i, (b, t)) in meta.branches.iter().zip(&typed).enumerate() {
            let (data_type, unsupported, column) = match &t.plan {
                Ok(plan) => {
                    let mut col_name = if name_count.get(b.name.as_str()).copied().unwrap_or(0) > 1
                    {
                        paths[i].clone()
                    } else {
                        b.name.clone()
                    };
                    // the same path twice (ROOT allows it): number the later ones
                    let mut k = 2;
                    while taken.contains(&col_name) {
                        col_name = format!("{};{k}", paths[i]);
                        k += 1;
                    }
                    taken.insert(col_name.clone());
                    let dt = plan.data_type();
                    let field = Field::new(col_name, dt.clone(), false)
                        .with_metadata([(ROOT_TYPE_KEY.to_string(), t.root_type.clone())].into());
                    fields.push(field);
                    columns.push(i);
                    (Some(dt), None, Some(columns.len() - 1))
                }
                Err(r) => (None, Some(r.clone()), None),
            };
            infos.push(BranchInfo {
                name: b.name.clone(),
                path: paths[i].clone(),
                root_type: t.root_type.clone(),
                data_type,
                unsupported,
                group: t.group,
                column,
                baskets: baskets[i].len(),
                compressed_bytes: b.zip_bytes.max(0) as u64,
                uncompressed_bytes: b.tot_bytes.max(0) as u64,
                codec: Codec::from_setting(b.compress).name().to_string(),
                entries: b.entries.max(0) as u64,
            });
        }
        Ok(Tree {
            file,
            path,
            title: key.title.clone(),
            meta: Arc::new(meta),
            typed,
            infos,
            columns,
            schema: Arc::new(Schema::new(fields)),
            baskets,
        })
    }

    /// The tree's path in the file.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tree's title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The number of entries (rows).
    pub fn entries(&self) -> u64 {
        self.meta.entries.max(0) as u64
    }

    /// The Arrow schema of the supported branches, in file order. Each field's metadata holds
    /// the ROOT type under [`ROOT_TYPE_KEY`].
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Every branch, including unsupported ones and groups, depth first in file order.
    pub fn branches(&self) -> &[BranchInfo] {
        &self.infos
    }

    /// Entry numbers at which every data branch starts a new basket: ranges between them can be
    /// read without touching a basket twice. Always starts with 0.
    pub fn cluster_starts(&self) -> Vec<u64> {
        let mut common: Option<BTreeSet<u64>> = None;
        for (i, b) in self.baskets.iter().enumerate() {
            if self.typed[i].group || b.is_empty() {
                continue;
            }
            let starts: BTreeSet<u64> = b.iter().map(|r| r.start).collect();
            common = Some(match common {
                None => starts,
                Some(c) => c.intersection(&starts).copied().collect(),
            });
        }
        let mut out: Vec<u64> = common.unwrap_or_default().into_iter().collect();
        out.retain(|&s| s < self.entries());
        if out.first() != Some(&0) {
            out.insert(0, 0);
        }
        out
    }

    fn counter_of(&self, branch: usize) -> Option<usize> {
        match &self.typed[branch].plan {
            Ok(Plan::Jagged {
                counter, header, ..
            }) if *header != 10 => *counter,
            _ => None,
        }
    }

    /// File byte ranges of the baskets that [`Tree::read`] would fetch for these columns and
    /// entries, sorted, with touching ranges merged (for prefetching from object stores).
    pub fn byte_ranges(&self, columns: &[usize], entries: Range<u64>) -> Vec<Range<u64>> {
        let mut branches: Vec<usize> = Vec::new();
        for &c in columns {
            if let Some(&b) = self.columns.get(c) {
                branches.push(b);
                if self.meta.branches[b].entry_offset_len == 0
                    && let Some(cb) = self.counter_of(b)
                {
                    branches.push(cb);
                }
            }
        }
        let mut ranges: Vec<Range<u64>> = Vec::new();
        for b in branches {
            for r in &self.baskets[b] {
                if overlaps(r, &entries)
                    && let Location::Disk { seek, len } = r.loc
                {
                    ranges.push(seek..seek + len as u64);
                }
            }
        }
        ranges.sort_by_key(|r| (r.start, r.end));
        let mut out: Vec<Range<u64>> = Vec::new();
        for r in ranges {
            match out.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => out.push(r),
            }
        }
        out
    }

    fn branch_error(&self, branch: usize, e: impl std::fmt::Display) -> Error {
        Error::Branch {
            file: self.file.name().to_string(),
            tree: self.path.clone(),
            branch: self.meta.branches[branch].name.clone(),
            message: e.to_string(),
        }
    }

    /// Fetches and decompresses one basket.
    fn load(&self, branch: usize, r: &BasketRef) -> Result<Loaded> {
        let b = &self.meta.branches[branch];
        let expected = (r.stop.saturating_sub(r.start)) as usize;
        let loaded = match &r.loc {
            Location::Embedded(k) => {
                let e = &b.embedded[*k];
                Loaded {
                    entries: e.entries,
                    data: e.data.clone(),
                    offsets: e.offsets.clone(),
                }
            }
            Location::Disk { seek, len } => {
                let bytes = self
                    .file
                    .inner
                    .read(*seek, *len, &format!("basket of branch {:?}", b.name))
                    .map_err(|e| self.branch_error(branch, e))?;
                load_disk_basket(&bytes).map_err(|e| {
                    self.branch_error(branch, format!("basket at offset {seek}: {e}"))
                })?
            }
        };
        if loaded.entries != expected {
            return Err(self.branch_error(
                branch,
                format!(
                    "basket for entries {}..{} holds {} entries",
                    r.start, r.stop, loaded.entries
                ),
            ));
        }
        Ok(loaded)
    }

    fn unsupported(&self, branch: usize, reason: &str) -> Error {
        Error::Unsupported {
            file: self.file.name().to_string(),
            tree: self.path.clone(),
            branch: self.meta.branches[branch].name.clone(),
            root_type: self.typed[branch].root_type.clone(),
            reason: reason.to_string(),
        }
    }

    /// Reads branch `name` (by branch name or path), even one that is not in the schema, which
    /// gives [`Error::Unsupported`].
    pub fn read_branch(&self, name: &str, entries: Range<u64>) -> Result<ArrayRef> {
        let Some(i) = self
            .infos
            .iter()
            .position(|b| b.path == name)
            .or_else(|| self.infos.iter().position(|b| b.name == name))
        else {
            return Err(Error::InvalidArgument {
                file: self.file.name().to_string(),
                tree: self.path.clone(),
                message: format!("no branch {name:?}"),
            });
        };
        self.check_range(&entries)?;
        self.read_column(i, &entries, &SharedOffsets::default())
    }

    fn check_range(&self, entries: &Range<u64>) -> Result<()> {
        if entries.start > entries.end || entries.end > self.entries() {
            return Err(Error::InvalidArgument {
                file: self.file.name().to_string(),
                tree: self.path.clone(),
                message: format!(
                    "entry range {}..{} is outside 0..{}",
                    entries.start,
                    entries.end,
                    self.entries()
                ),
            });
        }
        Ok(())
    }

    fn read_column(
        &self,
        branch: usize,
        entries: &Range<u64>,
        shared: &SharedOffsets,
    ) -> Result<ArrayRef> {
        let plan = match &self.typed[branch].plan {
            Ok(p) => p.clone(),
            Err(reason) => return Err(self.unsupported(branch, reason)),
        };
        let wanted: Vec<&BasketRef> = self.baskets[branch]
            .iter()
            .filter(|r| overlaps(r, entries))
            .collect();
        if entries.is_empty() {
            return empty(&plan).map_err(|e| self.branch_error(branch, e));
        }
        // coverage check
        let mut at = entries.start;
        for r in &wanted {
            if r.start > at {
                break;
            }
            at = at.max(r.stop);
        }
        if at < entries.end {
            return Err(self.branch_error(
                branch,
                format!(
                    "baskets do not cover entries {}..{} (they end at {at})",
                    entries.start, entries.end
                ),
            ));
        }
        if let Some(shape) = Shape::of(&plan)
            && let Some(arr) = self.read_direct(branch, &shape, &wanted, entries, shared)
        {
            if arr.len() as u64 != entries.end - entries.start {
                return Err(
                    self.branch_error(branch, "decoded a different number of rows than asked")
                );
            }
            return Ok(arr);
        }
        let loaded: Vec<Result<Loaded>> = wanted.par_iter().map(|r| self.load(branch, r)).collect();
        let loaded = loaded.into_iter().collect::<Result<Vec<Loaded>>>()?;
        let mut builder = Builder::new(&plan, (entries.end - entries.start) as usize);
        // The decompressed bytes bound the values: one exact reservation instead of doubling.
        builder.reserve_values(loaded.iter().map(|l| l.data.len()).sum());
        for (r, l) in wanted.iter().zip(loaded) {
            let a = entries.start.max(r.start) - r.start;
            let b = entries.end.min(r.stop) - r.start;
            let counts = if l.offsets.is_none() {
                match self.counter_of(branch) {
                    Some(cb) if cb != branch => Some(self.counts(cb, r.start..r.stop)?),
                    _ => None,
                }
            } else {
                None
            };
            builder
                .push(&l, a as usize, b as usize, counts.as_deref())
                .map_err(|e| {
                    self.branch_error(branch, format!("basket at entry {}: {e}", r.start))
                })?;
        }
        let rows = builder.rows();
        let arr = builder.finish().map_err(|e| self.branch_error(branch, e))?;
        if arr.len() != rows || rows as u64 != entries.end - entries.start {
            return Err(self.branch_error(branch, "decoded a different number of rows than asked"));
        }
        Ok(arr)
    }

    /// Reads a numeric column straight into its Arrow buffers ([`direct`]), or `None` when a
    /// basket does not fit that path (the general builder then reads the column, and names any
    /// error).
    fn read_direct(
        &self,
        branch: usize,
        shape: &Shape<'_>,
        wanted: &[&BasketRef],
        entries: &Range<u64>,
        shared: &SharedOffsets,
    ) -> Option<ArrayRef> {
        let b = &self.meta.branches[branch];
        let pieces: Vec<Option<Piece>> = wanted
            .par_iter()
            .map(|r| {
                let first = (entries.start.max(r.start) - r.start) as usize;
                let last = (entries.end.min(r.stop) - r.start) as usize;
                let expected = (r.stop.saturating_sub(r.start)) as usize;
                let src = match &r.loc {
                    Location::Embedded(k) => {
                        let e = b.embedded.get(*k)?;
                        Src::Mem(Loaded {
                            entries: e.entries,
                            data: e.data.clone(),
                            offsets: e.offsets.clone(),
                        })
                    }
                    Location::Disk { seek, len } => {
                        // The header only: the record itself is read when it is decoded, into
                        // scratch memory of its declared length, which must lie in the file.
                        if seek.checked_add(*len as u64)? > self.file.inner.size {
                            return None;
                        }
                        let head = (*len).min(HEADER_PREFIX);
                        let mut h = self.file.inner.read(*seek, head, "basket").ok()?;
                        if meta::basket_header(&h).is_err() && head < *len {
                            h = self.file.inner.read(*seek, *len, "basket").ok()?;
                        }
                        let h = meta::basket_header(&h).ok()?;
                        Src::Disk {
                            seek: *seek,
                            len: *len,
                            h,
                        }
                    }
                };
                let (seek, len) = match r.loc {
                    Location::Disk { seek, len } => (seek, len),
                    Location::Embedded(_) => (0, 0),
                };
                let load = || {
                    let bytes = self.file.inner.read(seek, len, "basket").ok()?;
                    load_disk_basket(&bytes).ok()
                };
                direct::piece(shape, src, expected, first, last, &load)
            })
            .collect();
        let pieces: Vec<Piece> = pieces.into_iter().collect::<Option<_>>()?;
        direct::read(&self.file.inner, shape, &pieces, shared)
    }

    /// A counter branch's values as item counts.
    fn counts(&self, counter: usize, entries: Range<u64>) -> Result<Vec<u32>> {
        use arrow_array::cast::AsArray;
        use arrow_array::types::*;
        let a = self.read_column(counter, &entries, &SharedOffsets::default())?;
        let v: Option<Vec<u32>> = match a.data_type() {
            DataType::Int32 => a
                .as_primitive::<Int32Type>()
                .values()
                .iter()
                .map(|&x| u32::try_from(x).ok())
                .collect(),
            DataType::UInt32 => Some(a.as_primitive::<UInt32Type>().values().to_vec()),
            DataType::Int16 => a
                .as_primitive::<Int16Type>()
                .values()
                .iter()
                .map(|&x| u32::try_from(x).ok())
                .collect(),
            DataType::UInt16 => Some(
                a.as_primitive::<UInt16Type>()
                    .values()
                    .iter()
                    .map(|&x| x as u32)
                    .collect(),
            ),
            DataType::Int8 => a
                .as_primitive::<Int8Type>()
                .values()
                .iter()
                .map(|&x| u32::try_from(x).ok())
                .collect(),
            DataType::UInt8 => Some(
                a.as_primitive::<UInt8Type>()
                    .values()
                    .iter()
                    .map(|&x| x as u32)
                    .collect(),
            ),
            DataType::Int64 => a
                .as_primitive::<Int64Type>()
                .values()
                .iter()
                .map(|&x| u32::try_from(x).ok())
                .collect(),
            DataType::UInt64 => a
                .as_primitive::<UInt64Type>()
                .values()
                .iter()
                .map(|&x| u32::try_from(x).ok())
                .collect(),
            _ => None,
        };
        v.ok_or_else(|| {
            self.branch_error(
                counter,
                "counter branch holds negative or non-integer values",
            )
        })
    }

    /// Fetches and decompresses, in parallel, every basket on disk that [`Tree::read`] would
    /// for these columns and entries, without parsing or decoding them, and returns the
    /// decompressed baskets (held in memory, as a read's output is). This is the physical
    /// limit a read cannot beat, which the reader benchmark compares against.
    pub fn load_baskets(&self, columns: &[usize], entries: Range<u64>) -> Result<Vec<Vec<u8>>> {
        self.check_range(&entries)?;
        let mut wanted: Vec<(usize, &BasketRef)> = Vec::new();
        for &c in columns {
            if let Some(&b) = self.columns.get(c) {
                wanted.extend(
                    self.baskets[b]
                        .iter()
                        .filter(|r| overlaps(r, &entries))
                        .map(|r| (b, r)),
                );
            }
        }
        let baskets: Vec<Result<Vec<u8>>> = wanted
            .par_iter()
            .map(|&(b, r)| match r.loc {
                // Embedded baskets were decompressed with the tree's metadata.
                Location::Embedded(_) => Ok(Vec::new()),
                Location::Disk { seek, len } => {
                    let bytes = self
                        .file
                        .inner
                        .read(seek, len, "basket")
                        .map_err(|e| self.branch_error(b, e))?;
                    let h = meta::basket_header(&bytes).map_err(|e| self.branch_error(b, e))?;
                    if h.nbytes > bytes.len() || h.keylen > h.nbytes {
                        return Err(self.branch_error(b, "basket larger than its record"));
                    }
                    compression::decompress(&bytes[h.keylen..h.nbytes], h.objlen)
                        .map_err(|e| self.branch_error(b, e))
                }
            })
            .collect();
        baskets.into_iter().collect()
    }

    /// Reads columns (indexes into [`Tree::schema`]) for an entry range into one record batch.
    /// Baskets are fetched and decompressed in parallel.
    pub fn read(&self, columns: &[usize], entries: Range<u64>) -> Result<RecordBatch> {
        self.check_range(&entries)?;
        let mut branches = Vec::with_capacity(columns.len());
        for &c in columns {
            match self.columns.get(c) {
                Some(&b) => branches.push(b),
                None => {
                    return Err(Error::InvalidArgument {
                        file: self.file.name().to_string(),
                        tree: self.path.clone(),
                        message: format!(
                            "column {c} does not exist (the schema has {})",
                            self.columns.len()
                        ),
                    });
                }
            }
        }
        let shared = SharedOffsets::default();
        let arrays: Vec<Result<ArrayRef>> = branches
            .par_iter()
            .map(|&b| self.read_column(b, &entries, &shared))
            .collect();
        let arrays = arrays.into_iter().collect::<Result<Vec<_>>>()?;
        let schema = Arc::new(
            self.schema
                .project(columns)
                .map_err(|source| Error::Arrow {
                    file: self.file.name().to_string(),
                    tree: self.path.clone(),
                    source,
                })?,
        );
        let opts =
            RecordBatchOptions::new().with_row_count(Some((entries.end - entries.start) as usize));
        RecordBatch::try_new_with_options(schema, arrays, &opts).map_err(|source| Error::Arrow {
            file: self.file.name().to_string(),
            tree: self.path.clone(),
            source,
        })
    }
}

fn overlaps(r: &BasketRef, entries: &Range<u64>) -> bool {
    r.start < entries.end && entries.start < r.stop
}

/// Parses, decompresses and splits a basket record read from disk.
pub(crate) fn load_disk_basket(bytes: &[u8]) -> std::result::Result<Loaded, Malformed> {
    let h = meta::basket_header(bytes)?;
    if h.nbytes > bytes.len() || h.keylen > h.nbytes {
        return Err(Malformed(format!(
            "basket claims {} bytes but {} were read",
            h.nbytes,
            bytes.len()
        )));
    }
    let raw = compression::decompress(&bytes[h.keylen..h.nbytes], h.objlen)?;
    let border = h.last - h.keylen;
    if border > raw.len() {
        return Err(Malformed(format!(
            "basket data ends at {border}, beyond its {} bytes",
            raw.len()
        )));
    }
    let offsets = if border != raw.len() {
        Some(Arc::new(meta::entry_offsets(
            &raw[border..],
            h.nev_buf,
            h.keylen,
            border,
        )?))
    } else {
        None
    };
    let _ = h.nev_buf_size;
    let mut data = raw;
    data.truncate(border);
    Ok(Loaded {
        entries: h.nev_buf,
        data: Arc::new(data),
        offsets,
    })
}
