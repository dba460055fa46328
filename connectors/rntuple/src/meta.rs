//! The anchor and the three envelopes (header, footer, page lists): their layout, checksums and
//! the records they hold (fields, columns, alias columns, cluster groups, clusters, pages).

use crate::cursor::{Cursor, PResult};

/// Envelope type IDs.
pub(crate) const ENV_HEADER: u16 = 1;
pub(crate) const ENV_FOOTER: u16 = 2;
pub(crate) const ENV_PAGELIST: u16 = 3;

/// The largest envelope this reader accepts (uncompressed).
pub(crate) const MAX_ENVELOPE_LEN: u64 = 1 << 30;

/// Structural roles of fields.
pub(crate) const ROLE_LEAF: u16 = 0;
pub(crate) const ROLE_COLLECTION: u16 = 1;
pub(crate) const ROLE_RECORD: u16 = 2;
pub(crate) const ROLE_VARIANT: u16 = 3;
pub(crate) const ROLE_STREAMER: u16 = 4;

const FIELD_REPETITIVE: u16 = 0x01;
const FIELD_PROJECTED: u16 = 0x02;
const FIELD_CHECKSUM: u16 = 0x04;
const COLUMN_DEFERRED: u16 = 0x01;
const COLUMN_RANGE: u16 = 0x02;

/// The `ROOT::RNTuple` anchor object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Anchor {
    pub(crate) version: [u16; 4],
    pub(crate) header: Locator,
    pub(crate) header_len: u64,
    pub(crate) footer: Locator,
    pub(crate) footer_len: u64,
    pub(crate) max_key_size: u64,
}

/// A byte range in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Locator {
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

fn be_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

/// Parses the anchor from the key's object bytes: a ROOT byte count and class version, then
/// big-endian fields, then (outside the byte count) an XXH3 checksum of those fields.
pub(crate) fn parse_anchor(obj: &[u8]) -> PResult<Anchor> {
    if obj.len() < 6 + 64 + 8 {
        return Err(format!(
            "the anchor object has {} bytes, fewer than the 78 of specification 1.0",
            obj.len()
        ));
    }
    let count = u32::from_be_bytes([obj[0], obj[1], obj[2], obj[3]]);
    let end = if count & 0x4000_0000 != 0 {
        (count & !0x4000_0000) as usize + 4
    } else {
        obj.len() - 8
    };
    if end < 6 + 64 || end + 8 > obj.len() {
        return Err(format!(
            "the anchor's byte count {end} does not fit its {} bytes",
            obj.len()
        ));
    }
    let fields = &obj[6..end];
    let stored = be_u64(obj, end);
    let computed = xxhash_rust::xxh3::xxh3_64(fields);
    if stored != computed {
        return Err(format!(
            "anchor checksum mismatch (stored {stored:#018x}, computed {computed:#018x})"
        ));
    }
    let f = fields;
    let version = [be_u16(f, 0), be_u16(f, 2), be_u16(f, 4), be_u16(f, 6)];
    if version[0] != 1 {
        return Err(format!(
            "RNTuple format epoch {} is not supported (this reader knows epoch 1)",
            version[0]
        ));
    }
    Ok(Anchor {
        version,
        header: Locator {
            offset: be_u64(f, 8),
            size: be_u64(f, 16),
        },
        header_len: be_u64(f, 24),
        footer: Locator {
            offset: be_u64(f, 32),
            size: be_u64(f, 40),
        },
        footer_len: be_u64(f, 48),
        max_key_size: be_u64(f, 56),
    })
}

/// Checks an uncompressed envelope (type, length, checksum) and returns its checksum and a
/// cursor over its payload.
pub(crate) fn open_envelope(data: &[u8], ty: u16) -> PResult<(u64, Cursor<'_>)> {
    if data.len() < 16 {
        return Err(format!("{} bytes are too few for an envelope", data.len()));
    }
    let split = data.len() - 8;
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&data[split..]);
    let stored = u64::from_le_bytes(tail);
    let computed = xxhash_rust::xxh3::xxh3_64(&data[..split]);
    if stored != computed {
        return Err(format!(
            "checksum mismatch (stored {stored:#018x}, computed {computed:#018x})"
        ));
    }
    let mut c = Cursor::new(&data[..split]);
    let word = c.u64()?;
    let found = (word & 0xffff) as u16;
    if found != ty {
        return Err(format!("envelope type is {found}, expected {ty}"));
    }
    let len = word >> 16;
    if len != data.len() as u64 {
        return Err(format!(
            "envelope says it has {len} bytes but {} were read",
            data.len()
        ));
    }
    Ok((computed, c))
}

/// One field record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldRec {
    pub(crate) parent: u32,
    pub(crate) role: u16,
    pub(crate) name: String,
    pub(crate) type_name: String,
    pub(crate) type_alias: String,
    pub(crate) description: String,
    pub(crate) array_size: u64,
    pub(crate) repetitive: bool,
    pub(crate) source: Option<u32>,
}

/// One physical column record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColumnRec {
    pub(crate) ty: u16,
    pub(crate) bits: u16,
    pub(crate) field: u32,
    pub(crate) repr: u16,
    /// The first element index of a deferred column (0 otherwise); negative for deferred and
    /// suppressed columns.
    pub(crate) first_element: i64,
    pub(crate) range: Option<(f64, f64)>,
}

/// One alias column record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AliasRec {
    pub(crate) physical: u32,
    pub(crate) field: u32,
}

/// A schema description (from the header, extended by the footer's schema extension).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Schema {
    pub(crate) fields: Vec<FieldRec>,
    pub(crate) columns: Vec<ColumnRec>,
    pub(crate) aliases: Vec<AliasRec>,
}

/// The parsed header.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Header {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) writer: String,
    pub(crate) schema: Schema,
}

fn parse_field(c: &mut Cursor<'_>) -> PResult<FieldRec> {
    let _field_version = c.u32()?;
    let _type_version = c.u32()?;
    let parent = c.u32()?;
    let role = c.u16()?;
    let flags = c.u16()?;
    let name = c.string()?;
    let type_name = c.string()?;
    let type_alias = c.string()?;
    let description = c.string()?;
    let repetitive = flags & FIELD_REPETITIVE != 0;
    let array_size = if repetitive { c.u64()? } else { 0 };
    let source = if flags & FIELD_PROJECTED != 0 {
        Some(c.u32()?)
    } else {
        None
    };
    if flags & FIELD_CHECKSUM != 0 {
        let _checksum = c.u32()?;
    }
    Ok(FieldRec {
        parent,
        role,
        name,
        type_name,
        type_alias,
        description,
        array_size,
        repetitive,
        source,
    })
}

fn parse_column(c: &mut Cursor<'_>) -> PResult<ColumnRec> {
    let ty = c.u16()?;
    let bits = c.u16()?;
    let field = c.u32()?;
    let flags = c.u16()?;
    let repr = c.u16()?;
    let first_element = if flags & COLUMN_DEFERRED != 0 {
        c.i64()?
    } else {
        0
    };
    let range = if flags & COLUMN_RANGE != 0 {
        Some((c.f64()?, c.f64()?))
    } else {
        None
    };
    Ok(ColumnRec {
        ty,
        bits,
        field,
        repr,
        first_element,
        range,
    })
}

/// Parses the four schema list frames (fields, columns, alias columns, extra type info) and
/// appends them to `schema`.
fn parse_schema(c: &mut Cursor<'_>, schema: &mut Schema) -> PResult<()> {
    let (mut l, n) = c.list(8 + 20)?;
    for i in 0..n {
        let mut r = l.record()?;
        schema
            .fields
            .push(parse_field(&mut r).map_err(|e| format!("field record {i}: {e}"))?);
    }
    let (mut l, n) = c.list(8 + 12)?;
    for i in 0..n {
        let mut r = l.record()?;
        schema
            .columns
            .push(parse_column(&mut r).map_err(|e| format!("column record {i}: {e}"))?);
    }
    let (mut l, n) = c.list(8 + 8)?;
    for _ in 0..n {
        let mut r = l.record()?;
        schema.aliases.push(AliasRec {
            physical: r.u32()?,
            field: r.u32()?,
        });
    }
    // extra type information (streamer info for streamer fields): not needed
    let _ = c.list(8)?;
    Ok(())
}

/// Parses a header envelope's payload.
pub(crate) fn parse_header(c: &mut Cursor<'_>) -> PResult<Header> {
    c.feature_flags()?;
    let name = c.string()?;
    let description = c.string()?;
    let writer = c.string()?;
    let mut schema = Schema::default();
    parse_schema(c, &mut schema)?;
    Ok(Header {
        name,
        description,
        writer,
        schema,
    })
}

/// A cluster group as the footer lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClusterGroup {
    pub(crate) min_entry: u64,
    pub(crate) entry_span: u64,
    pub(crate) clusters: u32,
    pub(crate) page_list: Locator,
    pub(crate) page_list_len: u64,
}

/// The parsed footer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Footer {
    pub(crate) header_checksum: u64,
    pub(crate) extension: Schema,
    pub(crate) groups: Vec<ClusterGroup>,
}

/// A locator: a 32-bit size (negative for non-standard locators) and a 64-bit offset, or a
/// large locator (64-bit size and offset).
pub(crate) fn parse_locator(c: &mut Cursor<'_>) -> PResult<Locator> {
    let size = c.i32()?;
    if size >= 0 {
        let offset = c.u64()?;
        return Ok(Locator {
            offset,
            size: size as u64,
        });
    }
    let ty = ((size as u32) >> 24) as u8 as i8;
    match ty.unsigned_abs() & 0x7f {
        1 => {
            let size = c.u64()?;
            let offset = c.u64()?;
            Ok(Locator { offset, size })
        }
        t => Err(format!("unsupported locator type {t:#x}")),
    }
}

/// Parses a footer envelope's payload.
pub(crate) fn parse_footer(c: &mut Cursor<'_>) -> PResult<Footer> {
    c.feature_flags()?;
    let header_checksum = c.u64()?;
    let mut ext = c.record()?;
    let mut extension = Schema::default();
    if ext.remaining() > 0 {
        parse_schema(&mut ext, &mut extension).map_err(|e| format!("schema extension: {e}"))?;
    }
    let (mut l, n) = c.list(8 + 20 + 8 + 12)?;
    let mut groups = Vec::with_capacity(n);
    for i in 0..n {
        let mut r = l.record()?;
        let parse = |r: &mut Cursor<'_>| -> PResult<ClusterGroup> {
            let min_entry = r.u64()?;
            let entry_span = r.u64()?;
            let clusters = r.u32()?;
            let page_list_len = r.u64()?;
            let page_list = parse_locator(r)?;
            Ok(ClusterGroup {
                min_entry,
                entry_span,
                clusters,
                page_list,
                page_list_len,
            })
        };
        groups.push(parse(&mut r).map_err(|e| format!("cluster group {i}: {e}"))?);
    }
    // later format versions append more lists (linked attribute sets); they are not needed
    Ok(Footer {
        header_checksum,
        extension,
        groups,
    })
}

/// One page of one column in one cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageRef {
    pub(crate) elements: u32,
    pub(crate) checksum: bool,
    pub(crate) loc: Locator,
}

/// One column's pages in one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnPages {
    pub(crate) suppressed: bool,
    /// The global index of the column's first element in this cluster.
    pub(crate) element_offset: u64,
    pub(crate) compression: u32,
    pub(crate) pages: Vec<PageRef>,
}

impl ColumnPages {
    pub(crate) fn elements(&self) -> u64 {
        self.pages.iter().map(|p| p.elements as u64).sum()
    }
}

/// One cluster: its entry range and the pages of every column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cluster {
    pub(crate) first_entry: u64,
    pub(crate) entries: u64,
    pub(crate) columns: Vec<ColumnPages>,
}

/// Parses a page-list envelope's payload; returns the header checksum it names and its clusters.
pub(crate) fn parse_page_list(c: &mut Cursor<'_>) -> PResult<(u64, Vec<Cluster>)> {
    let header_checksum = c.u64()?;
    let (mut l, n) = c.list(8 + 16)?;
    let mut clusters = Vec::with_capacity(n);
    for i in 0..n {
        let mut r = l.record()?;
        let first_entry = r.u64()?;
        let word = r.u64()?;
        let flags = word >> 56;
        if flags & 0x01 != 0 {
            return Err(format!(
                "cluster {i} is sharded, which this reader does not support"
            ));
        }
        clusters.push(Cluster {
            first_entry,
            entries: word & 0x00ff_ffff_ffff_ffff,
            columns: Vec::new(),
        });
    }
    let (mut top, n_top) = c.list(12)?;
    if n_top != clusters.len() {
        return Err(format!(
            "{} cluster summaries but page locations for {n_top} clusters",
            clusters.len()
        ));
    }
    for (ci, cluster) in clusters.iter_mut().enumerate() {
        let (mut cols, n_cols) = top.list(12 + 8).map_err(|e| format!("cluster {ci}: {e}"))?;
        cluster.columns.reserve(n_cols);
        for col in 0..n_cols {
            let parse = |cols: &mut Cursor<'_>| -> PResult<ColumnPages> {
                let (mut pages, n_pages) = cols.list(16)?;
                let mut out = Vec::with_capacity(n_pages);
                for _ in 0..n_pages {
                    let n = pages.i32()?;
                    let loc = parse_locator(&mut pages)?;
                    out.push(PageRef {
                        elements: n.unsigned_abs(),
                        checksum: n < 0,
                        loc,
                    });
                }
                let offset = pages.i64()?;
                let suppressed = offset < 0;
                let compression = if suppressed { 0 } else { pages.u32()? };
                if suppressed && !out.is_empty() {
                    return Err("a suppressed column has pages".into());
                }
                Ok(ColumnPages {
                    suppressed,
                    element_offset: offset.max(0) as u64,
                    compression,
                    pages: out,
                })
            };
            cluster
                .columns
                .push(parse(&mut cols).map_err(|e| format!("cluster {ci}, column {col}: {e}"))?);
        }
    }
    Ok((header_checksum, clusters))
}
