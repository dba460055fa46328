//! Writing: Arrow record batches → a ROOT file with one TTree.
//!
//! [`TreeWriter`] streams: each batch is cut into clusters of a fixed number of entries, and
//! when a cluster is full every branch's basket is compressed and written as its own TBasket
//! key, so memory holds one basket per branch, never the table. The TTree record (branches,
//! leaves, basket positions, entry and byte counts, cluster sizes), the `StreamerInfo` record,
//! the keys list and the free-segments record are written by [`TreeWriter::finish`], which then
//! fills in the file header and the top directory.
//!
//! | Arrow | ROOT branch |
//! |---|---|
//! | Int8, UInt8, Int16, UInt16, Int32, UInt32, Int64, UInt64 | `x/B`, `b`, `S`, `s`, `I`, `i`, `L`, `l` |
//! | Boolean, Float32, Float64 | `x/O`, `F`, `D` |
//! | Utf8, LargeUtf8, Utf8View | `x/C` (`char*`, as uproot writes strings) |
//! | FixedSizeList of numbers (nested) | `x[3][4]/F` |
//! | List of numbers or of fixed-size lists | `x[nx]/F` with a counter branch `nx/I` |
//!
//! Counters follow NanoAOD and uproot: list columns `Jet_pt`, `Jet_eta`, … whose per-row
//! lengths agree (in the first batch) share one counter `nJet`; any other list column `x` gets
//! `nx`. An integer column already named like the counter (`nJet` read from a NanoAOD file)
//! becomes the counter, and its values must equal the lists' lengths. Nulls are an error
//! naming the column (ROOT has no nulls), and so is any other Arrow type, before anything is
//! written.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use arrow_array::{Float32Array, RecordBatch};
//! # use arrow_schema::{DataType, Field, Schema};
//! use hepq_root::write::{TreeWriter, WriteOptions};
//!
//! let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float32, false)]));
//! let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Float32Array::from(vec![1.0, 2.0]))])?;
//! let mut w = TreeWriter::create("out.root", schema, WriteOptions::default())?;
//! w.write(&batch)?;
//! w.finish()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod buffer;
mod columns;
mod compress;
mod layout;
mod streamers;
mod tree;

#[cfg(test)]
mod tests;

use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use rayon::prelude::*;

pub use compress::Compression;

use crate::error::{Error, Result};
use columns::{Basket, BranchPlan, ColType, Kind};
use layout::{BEGIN, FileHeader, KeyHeader, START_BIG_FILE, TopDirectory};
use tree::{BasketRecord, BranchMetaOut, TreeMetaOut};

/// How big a cluster (one basket of every branch) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasketSize {
    /// A fixed number of entries per basket.
    Entries(u64),
    /// About this many uncompressed bytes in the largest branch's basket: the number of entries
    /// is chosen from the first batch (as ROOT turns a byte-sized `AutoFlush` into entries after
    /// its first cluster), and a basket that grows past four times the size is flushed early.
    Bytes(u64),
}

impl Default for BasketSize {
    /// 256 KiB per basket of the widest branch.
    fn default() -> Self {
        BasketSize::Bytes(256 * 1024)
    }
}

/// Options of [`TreeWriter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// The tree's name (default `Events`).
    pub tree: String,
    /// The tree's title (default empty).
    pub title: String,
    /// The compression of baskets and metadata (default zlib level 1, as ROOT 6).
    pub compression: Compression,
    /// Entries per cluster.
    pub basket: BasketSize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            tree: "Events".into(),
            title: String::new(),
            compression: Compression::default(),
            basket: BasketSize::default(),
        }
    }
}

/// Writes one TTree into a new ROOT file, batch by batch.
pub struct TreeWriter<W: Write + Seek> {
    sink: W,
    file_name: String,
    options: WriteOptions,
    schema: SchemaRef,
    types: Vec<ColType>,
    branches: Option<Vec<BranchMetaOut>>,
    baskets: Vec<Basket>,
    pos: u64,
    datime: u32,
    uuid: [u8; 16],
    entries: u64,
    clusters: Vec<u64>,
    cluster_rows: u64,
    cluster_target: u64,
}

impl<W: Write + Seek> std::fmt::Debug for TreeWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeWriter")
            .field("file", &self.file_name)
            .field("tree", &self.options.tree)
            .field("entries", &self.entries)
            .finish()
    }
}

impl TreeWriter<BufWriter<std::fs::File>> {
    /// Creates (or truncates) the file at `path` and starts a tree in it.
    pub fn create(
        path: impl AsRef<Path>,
        schema: SchemaRef,
        options: WriteOptions,
    ) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = std::fs::File::create(path).map_err(|source| Error::Io {
            file: name.clone(),
            source,
        })?;
        let base = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.clone());
        let mut w = TreeWriter::new(
            BufWriter::with_capacity(1 << 20, file),
            &base,
            schema,
            options,
        )?;
        w.file_name = base;
        Ok(w)
    }
}

impl<W: Write + Seek> TreeWriter<W> {
    /// Starts a tree written to `sink` (positioned at its start); `file_name` is recorded in the
    /// file and named in errors. Fails, before writing anything, on a column type a TTree cannot
    /// hold.
    pub fn new(sink: W, file_name: &str, schema: SchemaRef, options: WriteOptions) -> Result<Self> {
        let mut types = Vec::with_capacity(schema.fields().len());
        let werr = |message: String| Error::Write {
            file: file_name.to_string(),
            tree: options.tree.clone(),
            message,
        };
        if options.tree.is_empty() {
            return Err(werr("the tree name is empty".into()));
        }
        if schema.fields().is_empty() {
            return Err(werr("a TTree needs at least one column".into()));
        }
        for f in schema.fields() {
            let t = columns::col_type(f.data_type()).map_err(|why| {
                werr(format!(
                    "column {:?} has Arrow type {} which a TTree cannot hold: {why}",
                    f.name(),
                    f.data_type()
                ))
            })?;
            types.push(t);
        }
        for (i, f) in schema.fields().iter().enumerate() {
            if schema.fields()[..i].iter().any(|g| g.name() == f.name()) {
                return Err(werr(format!("two columns are named {:?}", f.name())));
            }
        }
        match options.basket {
            BasketSize::Entries(0) | BasketSize::Bytes(0) => {
                return Err(werr("the basket size must be positive".into()));
            }
            _ => {}
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let seed = format!("{file_name}{}{}", now.as_nanos(), std::process::id());
        let a = xxhash_rust::xxh64::xxh64(seed.as_bytes(), 1);
        let b = xxhash_rust::xxh64::xxh64(seed.as_bytes(), 2);
        let mut uuid = [0u8; 16];
        uuid[..8].copy_from_slice(&a.to_be_bytes());
        uuid[8..].copy_from_slice(&b.to_be_bytes());
        let mut w = TreeWriter {
            sink,
            file_name: file_name.to_string(),
            options,
            schema,
            types,
            branches: None,
            baskets: Vec::new(),
            pos: 0,
            datime: layout::datime(now.as_secs()),
            uuid,
            entries: 0,
            clusters: Vec::new(),
            cluster_rows: 0,
            cluster_target: 0,
        };
        // Header and top directory now, filled in by `finish`.
        let head = w.header_bytes(&FileHeader::default(), &w.top_directory(0, 0));
        w.put(&head)?;
        Ok(w)
    }

    fn werr(&self, message: impl Into<String>) -> Error {
        Error::Write {
            file: self.file_name.clone(),
            tree: self.options.tree.clone(),
            message: message.into(),
        }
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            file: self.file_name.clone(),
            source,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.sink.write_all(bytes).map_err(|e| self.io(e))?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    fn top_directory(&self, seek_keys: u64, nbytes_keys: u32) -> TopDirectory {
        TopDirectory {
            file_name: self.file_name.clone(),
            title: String::new(),
            datime: self.datime,
            nbytes_keys,
            seek_keys,
            uuid: self.uuid,
        }
    }

    fn header_bytes(&self, h: &FileHeader, dir: &TopDirectory) -> Vec<u8> {
        let mut h = h.clone();
        h.nbytes_name = dir.nbytes_name() as u32;
        h.uuid = self.uuid;
        h.compress = self.options.compression.setting();
        let mut out = h.bytes();
        out.extend(dir.bytes());
        out
    }

    /// The number of entries written so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// The Arrow schema the writer was created with.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn ensure_plan(&mut self, sample: Option<&RecordBatch>) -> Result<()> {
        if self.branches.is_some() {
            return Ok(());
        }
        let plans = columns::plan(&self.schema, &self.types, sample).map_err(|m| self.werr(m))?;
        self.cluster_target = match self.options.basket {
            BasketSize::Entries(n) => n,
            BasketSize::Bytes(b) => {
                let per_row = sample
                    .map(|s| columns::max_row_bytes(&plans, s))
                    .unwrap_or(8) as u64;
                (b / per_row.max(1)).max(1)
            }
        };
        self.baskets = plans.iter().map(|_| Basket::default()).collect();
        self.branches = Some(
            plans
                .into_iter()
                .map(|plan| BranchMetaOut {
                    plan,
                    baskets: Vec::new(),
                    tot_bytes: 0,
                    zip_bytes: 0,
                    max: 0,
                })
                .collect(),
        );
        Ok(())
    }

    /// Appends a batch. Its schema must have the writer's column names and types. Fails on
    /// nulls, naming the column.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let bs = batch.schema();
        if bs.fields().len() != self.schema.fields().len()
            || bs
                .fields()
                .iter()
                .zip(self.schema.fields())
                .any(|(a, b)| a.name() != b.name() || a.data_type() != b.data_type())
        {
            return Err(self.werr(format!(
                "a batch's schema ({}) differs from the tree's ({})",
                describe(&bs),
                describe(&self.schema)
            )));
        }
        for (f, a) in self.schema.fields().iter().zip(batch.columns()) {
            columns::check_nulls(a.as_ref())
                .map_err(|why| self.werr(format!("column {:?} {why}", f.name())))?;
        }
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.ensure_plan(Some(batch))?;
        let names: Vec<&str> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let name_refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let mut row = 0usize;
        while row < batch.num_rows() {
            let room = (self.cluster_target - self.cluster_rows) as usize;
            let take = room.min(batch.num_rows() - row);
            let first_entry = self.entries + self.cluster_rows;
            {
                let Some(branches) = self.branches.as_ref() else {
                    return Ok(());
                };
                for (b, basket) in branches.iter().zip(self.baskets.iter_mut()) {
                    columns::append(
                        &b.plan,
                        basket,
                        batch,
                        row..row + take,
                        &name_refs,
                        first_entry,
                    )
                    .map_err(|m| Error::Write {
                        file: self.file_name.clone(),
                        tree: self.options.tree.clone(),
                        message: m,
                    })?;
                }
            }
            self.cluster_rows += take as u64;
            row += take;
            let overfull = match self.options.basket {
                BasketSize::Bytes(b) => self
                    .baskets
                    .iter()
                    .any(|k| k.data.len() as u64 > b.saturating_mul(4)),
                BasketSize::Entries(_) => false,
            };
            if self.cluster_rows == self.cluster_target || overfull {
                self.flush_cluster()?;
            }
        }
        Ok(())
    }

    /// Writes the current cluster: one basket per branch.
    fn flush_cluster(&mut self) -> Result<()> {
        if self.cluster_rows == 0 {
            return Ok(());
        }
        let Some(branches) = self.branches.as_mut() else {
            return Ok(());
        };
        let tree_name = self.options.tree.clone();
        let compression = self.options.compression;
        let datime = self.datime;
        let taken: Vec<Basket> = self
            .baskets
            .iter_mut()
            .map(|b| Basket {
                data: std::mem::take(&mut b.data),
                offsets: std::mem::take(&mut b.offsets),
                entries: std::mem::replace(&mut b.entries, 0),
                max: b.max,
            })
            .collect();
        // 64-bit keys for the whole cluster if it might reach past 2 GB.
        let bound: u64 = taken
            .iter()
            .zip(branches.iter())
            .map(|(k, b)| {
                (k.data.len() + 4 * k.offsets.len() + 8) as u64
                    + layout::key_len("TBasket", &b.plan.name, &tree_name, true) as u64
                    + 19
            })
            .sum();
        let big = self.pos + bound >= START_BIG_FILE;
        let prepared: Vec<std::io::Result<Prepared>> = taken
            .into_par_iter()
            .zip(branches.par_iter())
            .map(|(k, b)| {
                let keylen = layout::key_len("TBasket", &b.plan.name, &tree_name, big) + 19;
                let nev_buf_size = if b.plan.has_offsets() {
                    (k.entries + 1).max(1000)
                } else {
                    b.plan.entry_size()
                };
                let (entries, max) = (k.entries, k.max);
                let (payload, last) = basket_payload(&b.plan, k, keylen);
                let stored = compress::compress(&payload, compression)?;
                Ok(Prepared {
                    payload,
                    stored,
                    keylen,
                    last,
                    nev_buf_size,
                    entries,
                    max,
                })
            })
            .collect();
        let first_entry = self.entries;
        let entries = self.cluster_rows;
        let mut out: Vec<u8> = Vec::new();
        let mut pos = self.pos;
        for (res, b) in prepared.into_iter().zip(branches.iter_mut()) {
            let p = res.map_err(|source| Error::Io {
                file: self.file_name.clone(),
                source,
            })?;
            let body: &[u8] = p.stored.as_deref().unwrap_or(&p.payload);
            let nbytes = p.keylen + body.len();
            if nbytes > i32::MAX as usize || p.payload.len() > i32::MAX as usize {
                return Err(Error::Write {
                    file: self.file_name.clone(),
                    tree: tree_name.clone(),
                    message: format!(
                        "a basket of branch {:?} is over 2 GiB; use a smaller basket size",
                        b.plan.name
                    ),
                });
            }
            let key = KeyHeader {
                nbytes: nbytes as u32,
                objlen: p.payload.len() as u32,
                datime,
                cycle: 1,
                seek_key: pos,
                seek_pdir: BEGIN,
                class: "TBasket".into(),
                name: b.plan.name.clone(),
                title: tree_name.clone(),
                big,
                extra: 19,
            };
            let start = out.len();
            key.write(&mut out);
            out.extend_from_slice(&3u16.to_be_bytes());
            let buffer_size = (p.keylen + p.payload.len()).clamp(32000, i32::MAX as usize);
            out.extend_from_slice(&(buffer_size as i32).to_be_bytes());
            out.extend_from_slice(&(p.nev_buf_size.min(i32::MAX as usize) as i32).to_be_bytes());
            out.extend_from_slice(&(p.entries as i32).to_be_bytes());
            out.extend_from_slice(&(p.last as i32).to_be_bytes());
            out.push(0);
            debug_assert_eq!(out.len() - start, p.keylen);
            out.extend_from_slice(body);
            b.baskets.push(BasketRecord {
                seek: pos,
                nbytes: nbytes as u32,
                first_entry,
            });
            b.tot_bytes += (p.keylen + p.payload.len()) as i64;
            b.zip_bytes += nbytes as i64;
            b.max = b.max.max(p.max);
            pos += nbytes as u64;
            // keep the staging buffer small
            if out.len() > 8 << 20 {
                self.sink.write_all(&out).map_err(|source| Error::Io {
                    file: self.file_name.clone(),
                    source,
                })?;
                self.pos += out.len() as u64;
                out.clear();
            }
        }
        self.put(&out)?;
        self.entries += entries;
        self.clusters.push(entries);
        self.cluster_rows = 0;
        Ok(())
    }

    /// Writes the remaining entries and the tree's metadata, completes the file and returns
    /// the sink.
    pub fn finish(mut self) -> Result<W> {
        self.ensure_plan(None)?;
        self.flush_cluster()?;
        let Some(branches) = self.branches.take() else {
            return Err(self.werr("no branches"));
        };
        let compression = self.options.compression;
        // the TTree record
        let tree_name = self.options.tree.clone();
        let tree_title = self.options.title.clone();
        let tree_pos = self.pos;
        let mut tree_key = KeyHeader {
            nbytes: 0,
            objlen: 0,
            datime: self.datime,
            cycle: 1,
            seek_key: tree_pos,
            seek_pdir: BEGIN,
            class: "TTree".into(),
            name: tree_name.clone(),
            title: tree_title.clone(),
            big: false,
            extra: 0,
        };
        let meta = TreeMetaOut {
            name: &tree_name,
            title: &tree_title,
            entries: self.entries,
            compress: compression.setting(),
            branches: &branches,
            clusters: &self.clusters,
        };
        let record = tree::tree_record(&meta, tree_key.len());
        let tree_bytes = self.keyed(&mut tree_key, &record)?;
        self.put(&tree_bytes)?;
        // the streamer infos
        let mut leaf_classes: Vec<&str> = Vec::new();
        for b in &branches {
            let c = if b.plan.kind == Kind::Str {
                "TLeafC"
            } else {
                b.plan.elem.leaf_class()
            };
            if !leaf_classes.contains(&c) {
                leaf_classes.push(c);
            }
        }
        let mut info_key = KeyHeader {
            nbytes: 0,
            objlen: 0,
            datime: self.datime,
            cycle: 1,
            seek_key: self.pos,
            seek_pdir: BEGIN,
            class: "TList".into(),
            name: "StreamerInfo".into(),
            title: "Doubly linked list".into(),
            big: false,
            extra: 0,
        };
        let info = streamers::streamer_list(&leaf_classes, info_key.len());
        let info_pos = self.pos;
        let info_bytes = self.keyed(&mut info_key, &info)?;
        self.put(&info_bytes)?;
        // the keys list: the tree's key
        let keys_pos = self.pos;
        let mut listed = Vec::new();
        tree_key.write(&mut listed);
        let mut keys_key = KeyHeader {
            nbytes: 0,
            objlen: (4 + listed.len()) as u32,
            datime: self.datime,
            cycle: 1,
            seek_key: keys_pos,
            seek_pdir: BEGIN,
            class: "TFile".into(),
            name: self.file_name.clone(),
            title: String::new(),
            big: false,
            extra: 0,
        };
        keys_key.nbytes = (keys_key.len() + 4 + listed.len()) as u32;
        let mut keys = Vec::new();
        keys_key.write(&mut keys);
        keys.extend_from_slice(&1i32.to_be_bytes());
        keys.extend_from_slice(&listed);
        self.put(&keys)?;
        // free segments
        let free_pos = self.pos;
        let free = layout::free_segments(free_pos, &self.file_name, self.datime);
        self.put(&free)?;
        let header = FileHeader {
            end: self.pos,
            seek_free: free_pos,
            nbytes_free: free.len() as u32,
            nfree: 1,
            nbytes_name: 0,
            compress: 0,
            seek_info: info_pos,
            nbytes_info: info_bytes.len() as u32,
            uuid: self.uuid,
        };
        let dir = self.top_directory(keys_pos, keys.len() as u32);
        let head = self.header_bytes(&header, &dir);
        self.sink
            .seek(SeekFrom::Start(0))
            .and_then(|_| self.sink.write_all(&head))
            .and_then(|_| self.sink.seek(SeekFrom::Start(self.pos)))
            .and_then(|_| self.sink.flush())
            .map_err(|e| self.io(e))?;
        Ok(self.sink)
    }

    /// A key and its (possibly compressed) object; fills in the key's sizes.
    fn keyed(&self, key: &mut KeyHeader, object: &[u8]) -> Result<Vec<u8>> {
        let stored =
            compress::compress(object, self.options.compression).map_err(|e| self.io(e))?;
        let body = stored.as_deref().unwrap_or(object);
        key.objlen = object.len() as u32;
        key.nbytes = (key.len() + body.len()) as u32;
        let mut out = Vec::with_capacity(key.nbytes as usize);
        key.write(&mut out);
        out.extend_from_slice(body);
        Ok(out)
    }
}

/// One basket, compressed and ready to be framed by its key.
struct Prepared {
    payload: Vec<u8>,
    stored: Option<Vec<u8>>,
    keylen: usize,
    last: usize,
    nev_buf_size: usize,
    entries: usize,
    max: i64,
}

/// A basket's uncompressed payload (data, then the entry-offset table for branches that have
/// one) and `fLast` (where the data ends, counted from the key's start).
fn basket_payload(plan: &BranchPlan, k: Basket, keylen: usize) -> (Vec<u8>, usize) {
    let last = keylen + k.data.len();
    if !plan.has_offsets() {
        return (k.data, last);
    }
    let mut p = k.data;
    p.reserve(4 * (k.offsets.len() + 2));
    p.extend_from_slice(&((k.offsets.len() + 1) as i32).to_be_bytes());
    for &o in &k.offsets {
        p.extend_from_slice(&((o as usize + keylen) as i32).to_be_bytes());
    }
    // ROOT writes fNevBuf + 1 offsets, the last one zero
    p.extend_from_slice(&0i32.to_be_bytes());
    (p, last)
}

fn describe(s: &arrow_schema::Schema) -> String {
    s.fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect::<Vec<_>>()
        .join(", ")
}
