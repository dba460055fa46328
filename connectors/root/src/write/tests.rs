//! Round trips through the crate's own reader: what the writer puts in a file reads back as the
//! same arrays, for every type, codec and basket layout; bad input is refused with a message
//! that names the column. (tests/python/test_root_write.py checks the same files with uproot.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Cursor;
use std::sync::Arc;

use arrow_array::builder::{FixedSizeListBuilder, Float32Builder, Int16Builder, ListBuilder};
use arrow_array::*;
use arrow_schema::{DataType, Field, Schema};

use super::*;
use crate::compression::Codec;
use crate::{MemReader, RootFile};

fn write_mem(batches: &[RecordBatch], schema: SchemaRef, options: WriteOptions) -> Vec<u8> {
    let mut w = TreeWriter::new(Cursor::new(Vec::new()), "mem.root", schema, options).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn read_all(bytes: Vec<u8>, tree: &str) -> (crate::Tree, RecordBatch) {
    let f = RootFile::open(Arc::new(MemReader::new(bytes)), "mem.root").unwrap();
    let t = f.tree(tree).unwrap();
    for b in t.branches() {
        assert!(b.unsupported.is_none(), "{b:?}");
    }
    let cols: Vec<usize> = (0..t.schema().fields().len()).collect();
    let batch = t.read(&cols, 0..t.entries()).unwrap();
    (t, batch)
}

fn column<'a>(b: &'a RecordBatch, name: &str) -> &'a ArrayRef {
    let i = b
        .schema()
        .index_of(name)
        .unwrap_or_else(|_| panic!("no column {name} in {:?}", b.schema()));
    b.column(i)
}

fn list_f32(rows: &[Vec<f32>]) -> ArrayRef {
    let mut b = ListBuilder::new(Float32Builder::new());
    for r in rows {
        b.values().append_slice(r);
        b.append(true);
    }
    Arc::new(b.finish())
}

fn list_i32(rows: &[Vec<i32>]) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<
        arrow_array::types::Int32Type,
        _,
        _,
    >(
        rows.iter()
            .map(|r| Some(r.iter().map(|&x| Some(x)).collect::<Vec<_>>())),
    ))
}

/// A batch with every supported type, `n` rows starting at row `start`.
fn everything(start: usize, n: usize) -> RecordBatch {
    let r: Vec<usize> = (start..start + n).collect();
    let jets: Vec<Vec<f32>> = r
        .iter()
        .map(|&i| (0..i % 4).map(|j| i as f32 + j as f32 / 8.0).collect())
        .collect();
    let jet_id: Vec<Vec<i32>> = r
        .iter()
        .map(|&i| (0..i % 4).map(|j| (i * 10 + j) as i32 - 7).collect())
        .collect();
    let muons: Vec<Vec<f32>> = r
        .iter()
        .map(|&i| (0..(i * 7) % 3).map(|j| -(j as f32) - 0.5).collect())
        .collect();
    let mut fixed = FixedSizeListBuilder::new(Float32Builder::new(), 3);
    let mut nested =
        FixedSizeListBuilder::new(FixedSizeListBuilder::new(Int16Builder::new(), 2), 3);
    let mut jagged_fixed = ListBuilder::new(FixedSizeListBuilder::new(Float32Builder::new(), 2));
    for &i in &r {
        fixed.values().append_slice(&[i as f32, -(i as f32), 0.25]);
        fixed.append(true);
        for k in 0..3 {
            nested
                .values()
                .values()
                .append_slice(&[(i * 6 + k) as i16, -((k + 1) as i16)]);
            nested.values().append(true);
        }
        nested.append(true);
        for k in 0..(i % 3) {
            jagged_fixed
                .values()
                .values()
                .append_slice(&[k as f32, i as f32]);
            jagged_fixed.values().append(true);
        }
        jagged_fixed.append(true);
    }
    let strings: Vec<String> = r
        .iter()
        .map(|&i| match i % 3 {
            0 => String::new(),
            1 => format!("event {i} ü"),
            _ => "x".repeat(250 + i % 10),
        })
        .collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "i8",
            Arc::new(Int8Array::from_iter_values(
                r.iter().map(|&i| (i as i64 - 100) as i8),
            )),
        ),
        (
            "u8",
            Arc::new(UInt8Array::from_iter_values(
                r.iter().map(|&i| (i % 256) as u8),
            )),
        ),
        (
            "i16",
            Arc::new(Int16Array::from_iter_values(
                r.iter().map(|&i| -(i as i16) * 3),
            )),
        ),
        (
            "u16",
            Arc::new(UInt16Array::from_iter_values(
                r.iter().map(|&i| 65535 - i as u16),
            )),
        ),
        (
            "i32",
            Arc::new(Int32Array::from_iter_values(
                r.iter().map(|&i| i as i32 * -1000),
            )),
        ),
        (
            "u32",
            Arc::new(UInt32Array::from_iter_values(
                r.iter().map(|&i| u32::MAX - i as u32),
            )),
        ),
        (
            "i64",
            Arc::new(Int64Array::from_iter_values(
                r.iter().map(|&i| i as i64 * -(1 << 40)),
            )),
        ),
        (
            "u64",
            Arc::new(UInt64Array::from_iter_values(
                r.iter().map(|&i| u64::MAX - i as u64),
            )),
        ),
        (
            "flag",
            Arc::new(BooleanArray::from_iter(r.iter().map(|&i| Some(i % 3 == 0)))),
        ),
        (
            "f32",
            Arc::new(Float32Array::from_iter_values(
                r.iter().map(|&i| i as f32 * 0.5),
            )),
        ),
        (
            "f64",
            Arc::new(Float64Array::from_iter_values(
                r.iter()
                    .map(|&i| if i == 5 { f64::NAN } else { i as f64 / 3.0 }),
            )),
        ),
        ("label", Arc::new(StringArray::from_iter_values(strings))),
        ("p3", Arc::new(fixed.finish())),
        ("grid", Arc::new(nested.finish())),
        ("Jet_pt", list_f32(&jets)),
        ("Jet_id", list_i32(&jet_id)),
        ("Muon_pt", list_f32(&muons)),
        ("hits", Arc::new(jagged_fixed.finish())),
    ];
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), false))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap()
}

/// Checks `got` against the batches written one after the other.
fn assert_parts(parts: &[RecordBatch], got: &RecordBatch) {
    let mut at = 0;
    for p in parts {
        assert_same(p, &got.slice(at, p.num_rows()));
        at += p.num_rows();
    }
    assert_eq!(at, got.num_rows());
}

fn assert_same(expected: &RecordBatch, got: &RecordBatch) {
    for (i, f) in expected.schema().fields().iter().enumerate() {
        let g = column(got, f.name());
        let e = expected.column(i);
        assert_eq!(g.data_type(), e.data_type(), "type of {}", f.name());
        if f.name() == "f64" {
            let (a, b) = (
                e.as_any().downcast_ref::<Float64Array>().unwrap(),
                g.as_any().downcast_ref::<Float64Array>().unwrap(),
            );
            assert_eq!(a.len(), b.len());
            for k in 0..a.len() {
                assert!(a.value(k) == b.value(k) || (a.value(k).is_nan() && b.value(k).is_nan()));
            }
            continue;
        }
        assert_eq!(e.as_ref(), g.as_ref(), "values of {}", f.name());
    }
}

#[test]
fn every_type_and_codec_round_trips() {
    let batch = everything(0, 40);
    for (alg, level) in [
        ("zlib", 1),
        ("zlib", 9),
        ("lzma", 7),
        ("lz4", 4),
        ("zstd", 5),
        ("none", 0),
    ] {
        let options = WriteOptions {
            compression: Compression::new(alg, level).unwrap(),
            ..Default::default()
        };
        let bytes = write_mem(std::slice::from_ref(&batch), batch.schema(), options);
        let (t, got) = read_all(bytes, "Events");
        assert_eq!(t.entries(), 40);
        assert_same(&batch, &got);
        // counters: Jet_* share nJet, the others get their own
        let names: Vec<String> = got
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert!(names.contains(&"nJet".to_string()), "{names:?}");
        assert!(names.contains(&"nMuon".to_string()), "{names:?}");
        assert!(names.contains(&"nhits".to_string()), "{names:?}");
        let njet = column(&got, "nJet")
            .as_any()
            .downcast_ref::<Int32Array>()
            .unwrap();
        assert_eq!(
            njet.values()
                .iter()
                .map(|&x| x as usize)
                .collect::<Vec<_>>(),
            (0..40).map(|i| i % 4).collect::<Vec<_>>()
        );
        let codec = if level == 0 {
            Codec::None
        } else {
            Compression::new(alg, level).unwrap().codec
        };
        let jet = t.branches().iter().find(|b| b.name == "Jet_pt").unwrap();
        assert_eq!(jet.codec, codec.name());
        assert_eq!(jet.root_type, "Float_t[nJet]");
        let label = t.branches().iter().find(|b| b.name == "label").unwrap();
        assert_eq!(label.root_type, "char*");
    }
}

#[test]
fn many_baskets_in_clusters_of_fixed_size() {
    let batches: Vec<RecordBatch> = (0..8).map(|k| everything(k * 13, 13)).collect();
    let options = WriteOptions {
        basket: BasketSize::Entries(7),
        compression: Compression::new("zstd", 3).unwrap(),
        tree: "t".into(),
        ..Default::default()
    };
    let bytes = write_mem(&batches, batches[0].schema(), options);
    let (t, got) = read_all(bytes, "t");
    assert_eq!(t.entries(), 104);
    assert_eq!(
        t.cluster_starts(),
        (0..104).step_by(7).collect::<Vec<u64>>()
    );
    assert!(
        t.branches().iter().all(|b| b.baskets == 15),
        "{:?}",
        t.branches()
    );
    assert_parts(&batches, &got);
    // entry ranges across basket boundaries
    let i = t.schema().index_of("Jet_pt").unwrap();
    let part = t.read(&[i], 5..30).unwrap();
    let whole = column(&got, "Jet_pt").slice(5, 25);
    assert_eq!(part.column(0).as_ref(), whole.as_ref());
    assert_eq!(
        column(&got, "Jet_pt").slice(13, 13).as_ref(),
        batches[1].column(14).as_ref()
    );
}

#[test]
fn basket_size_in_bytes_gives_several_clusters() {
    let batch = everything(0, 3000);
    let options = WriteOptions {
        basket: BasketSize::Bytes(4096),
        ..Default::default()
    };
    let bytes = write_mem(std::slice::from_ref(&batch), batch.schema(), options);
    let (t, got) = read_all(bytes, "Events");
    assert!(t.cluster_starts().len() > 5, "{:?}", t.cluster_starts());
    assert_same(&batch, &got);
}

#[test]
fn empty_one_row_and_empty_lists() {
    let batch = everything(0, 40);
    // no rows at all: the tree exists with its branches and no entries
    let bytes = write_mem(
        &[batch.slice(0, 0)],
        batch.schema(),
        WriteOptions::default(),
    );
    let (t, got) = read_all(bytes, "Events");
    assert_eq!(t.entries(), 0);
    assert_eq!(got.num_rows(), 0);
    assert!(got.schema().index_of("Jet_pt").is_ok());
    assert!(got.schema().index_of("nJet").is_ok());
    // one row (row 0 has empty lists everywhere)
    let one = batch.slice(0, 1);
    let bytes = write_mem(
        std::slice::from_ref(&one),
        one.schema(),
        WriteOptions::default(),
    );
    let (t, got) = read_all(bytes, "Events");
    assert_eq!(t.entries(), 1);
    assert_same(&one, &got);
    // only empty lists
    let schema = Arc::new(Schema::new(vec![Field::new(
        "Jet_pt",
        DataType::new_list(DataType::Float32, true),
        false,
    )]));
    let empty =
        RecordBatch::try_new(schema.clone(), vec![list_f32(&[vec![], vec![], vec![]])]).unwrap();
    let bytes = write_mem(
        std::slice::from_ref(&empty),
        schema,
        WriteOptions::default(),
    );
    let (_, got) = read_all(bytes, "Events");
    assert_same(&empty, &got);
}

#[test]
fn records_over_16_mib_read_back() {
    let n = 4_500_000usize;
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float32, false)]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Float32Array::from_iter_values(
            (0..n).map(|i| (i % 1000) as f32),
        ))],
    )
    .unwrap();
    let options = WriteOptions {
        basket: BasketSize::Entries(n as u64),
        compression: Compression::new("zstd", 1).unwrap(),
        ..Default::default()
    };
    let bytes = write_mem(std::slice::from_ref(&batch), schema, options);
    let (t, got) = read_all(bytes, "Events");
    assert_eq!(t.branches()[0].baskets, 1);
    assert!(t.branches()[0].uncompressed_bytes > 16 << 20);
    assert_same(&batch, &got);
}

#[test]
fn an_existing_counter_column_is_used_and_checked() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("nJet", DataType::UInt32, false),
        Field::new("Jet_pt", DataType::new_list(DataType::Float32, true), false),
    ]));
    let good = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(UInt32Array::from(vec![2, 0, 1])),
            list_f32(&[vec![1.0, 2.0], vec![], vec![3.0]]),
        ],
    )
    .unwrap();
    let bytes = write_mem(
        std::slice::from_ref(&good),
        schema.clone(),
        WriteOptions::default(),
    );
    let (t, got) = read_all(bytes, "Events");
    assert_eq!(got.num_columns(), 2);
    assert_same(&good, &got);
    assert_eq!(t.branches()[0].root_type, "UInt_t");
    let bad = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(UInt32Array::from(vec![2, 1, 1])),
            list_f32(&[vec![1.0, 2.0], vec![], vec![3.0]]),
        ],
    )
    .unwrap();
    let mut w = TreeWriter::new(
        Cursor::new(Vec::new()),
        "mem.root",
        schema,
        WriteOptions::default(),
    )
    .unwrap();
    let e = w.write(&bad).unwrap_err().to_string();
    assert!(e.contains("nJet") && e.contains("entry 1"), "{e}");
}

#[test]
fn lists_sharing_a_prefix_but_not_lengths_get_their_own_counters() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("Jet_pt", DataType::new_list(DataType::Float32, true), false),
        Field::new(
            "Jet_parts",
            DataType::new_list(DataType::Float32, true),
            false,
        ),
    ]));
    let b = RecordBatch::try_new(
        schema.clone(),
        vec![
            list_f32(&[vec![1.0], vec![2.0, 3.0]]),
            list_f32(&[vec![], vec![4.0]]),
        ],
    )
    .unwrap();
    let bytes = write_mem(
        std::slice::from_ref(&b),
        schema.clone(),
        WriteOptions::default(),
    );
    let (_, got) = read_all(bytes, "Events");
    let names: Vec<String> = got
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["nJet", "Jet_pt", "nJet_parts", "Jet_parts"]);
    assert_same(&b, &got);
    // once shared, a later batch that disagrees is an error naming both columns
    let same = RecordBatch::try_new(
        schema.clone(),
        vec![list_f32(&[vec![1.0]]), list_f32(&[vec![5.0]])],
    )
    .unwrap();
    let mut w = TreeWriter::new(
        Cursor::new(Vec::new()),
        "mem.root",
        schema,
        WriteOptions::default(),
    )
    .unwrap();
    w.write(&same).unwrap();
    let e = w.write(&b).unwrap_err().to_string();
    assert!(
        e.contains("Jet_pt") && e.contains("Jet_parts") && e.contains("nJet"),
        "{e}"
    );
}

#[test]
fn nulls_and_unsupported_types_are_errors_naming_the_column() {
    let schema = Arc::new(Schema::new(vec![Field::new("pt", DataType::Float32, true)]));
    let b = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Float32Array::from(vec![Some(1.0), None]))],
    )
    .unwrap();
    let mut w = TreeWriter::new(
        Cursor::new(Vec::new()),
        "mem.root",
        schema,
        WriteOptions::default(),
    )
    .unwrap();
    let e = w.write(&b).unwrap_err().to_string();
    assert!(e.contains("\"pt\"") && e.contains("null"), "{e}");

    // a null inside a list
    let schema = Arc::new(Schema::new(vec![Field::new(
        "Jet_pt",
        DataType::new_list(DataType::Float32, true),
        false,
    )]));
    let mut lb = ListBuilder::new(Float32Builder::new());
    lb.values().append_option(None);
    lb.append(true);
    let b = RecordBatch::try_new(schema.clone(), vec![Arc::new(lb.finish())]).unwrap();
    let mut w = TreeWriter::new(
        Cursor::new(Vec::new()),
        "mem.root",
        schema,
        WriteOptions::default(),
    )
    .unwrap();
    let e = w.write(&b).unwrap_err().to_string();
    assert!(e.contains("Jet_pt") && e.contains("null"), "{e}");

    for dt in [
        DataType::Date32,
        DataType::Struct(vec![Field::new("a", DataType::Int32, false)].into()),
        DataType::new_list(DataType::Utf8, true),
        DataType::Binary,
    ] {
        let schema = Arc::new(Schema::new(vec![
            Field::new("ok", DataType::Int32, false),
            Field::new("odd", dt.clone(), false),
        ]));
        let mut sink = Cursor::new(Vec::new());
        let e = TreeWriter::new(&mut sink, "mem.root", schema, WriteOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"odd\"") && e.contains(&dt.to_string()), "{e}");
        assert!(
            sink.get_ref().is_empty(),
            "nothing is written before the check"
        );
    }
    // a non-integer column with a counter's name
    let schema = Arc::new(Schema::new(vec![
        Field::new("nJet", DataType::Float32, false),
        Field::new("Jet_pt", DataType::new_list(DataType::Float32, true), false),
    ]));
    let b = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Float32Array::from(vec![1.0])),
            list_f32(&[vec![1.0]]),
        ],
    )
    .unwrap();
    let mut w = TreeWriter::new(
        Cursor::new(Vec::new()),
        "mem.root",
        schema,
        WriteOptions::default(),
    )
    .unwrap();
    let e = w.write(&b).unwrap_err().to_string();
    assert!(e.contains("nJet") && e.contains("not an integer"), "{e}");
}

#[test]
fn sliced_batches_write_their_own_rows() {
    let batch = everything(0, 50);
    let parts = [batch.slice(3, 10), batch.slice(20, 17)];
    let bytes = write_mem(
        &parts,
        batch.schema(),
        WriteOptions {
            basket: BasketSize::Entries(6),
            ..Default::default()
        },
    );
    let (_, got) = read_all(bytes, "Events");
    assert_parts(&parts, &got);
}

/// A sink that keeps only the 4 KiB pages holding something other than zeros, and reads the
/// rest back as zeros: a file of several GB in a few MB of memory.
#[derive(Default)]
struct SparseFile {
    pages: std::collections::HashMap<u64, Vec<u8>>,
    pos: u64,
    len: u64,
}

const PAGE: u64 = 4096;

impl std::io::Write for SparseFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut at = 0usize;
        while at < buf.len() {
            let page = (self.pos + at as u64) / PAGE;
            let off = ((self.pos + at as u64) % PAGE) as usize;
            let n = (PAGE as usize - off).min(buf.len() - at);
            let chunk = &buf[at..at + n];
            if chunk.iter().any(|&b| b != 0) || self.pages.contains_key(&page) {
                let p = self
                    .pages
                    .entry(page)
                    .or_insert_with(|| vec![0; PAGE as usize]);
                p[off..off + n].copy_from_slice(chunk);
            }
            at += n;
        }
        self.pos += buf.len() as u64;
        self.len = self.len.max(self.pos);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::io::Seek for SparseFile {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        match to {
            std::io::SeekFrom::Start(p) => self.pos = p,
            _ => return Err(std::io::Error::other("only absolute seeks")),
        }
        Ok(self.pos)
    }
}

impl crate::ReadAt for SparseFile {
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<bytes::Bytes> {
        if offset + len as u64 > self.len {
            return Err(std::io::Error::other("past the end"));
        }
        let mut out = vec![0u8; len];
        for (i, b) in out.iter_mut().enumerate() {
            let p = offset + i as u64;
            if let Some(page) = self.pages.get(&(p / PAGE)) {
                *b = page[(p % PAGE) as usize];
            }
        }
        Ok(out.into())
    }
    fn size(&self) -> std::io::Result<u64> {
        Ok(self.len)
    }
}

#[test]
fn files_past_2_gb_use_64_bit_offsets() {
    // 2.2 GB of zeros in 40 MB baskets, stored uncompressed, then a last batch of marked values
    let rows = 1 << 20;
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float32, false)]));
    let zeros = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Float32Array::from(vec![0.0f32; rows]))],
    )
    .unwrap();
    let tail = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Float32Array::from_iter_values(
            (0..1000).map(|i| i as f32 + 0.5),
        ))],
    )
    .unwrap();
    let options = WriteOptions {
        basket: BasketSize::Entries(10 << 20),
        compression: Compression::new("none", 0).unwrap(),
        ..Default::default()
    };
    let mut w = TreeWriter::new(SparseFile::default(), "big.root", schema, options).unwrap();
    let n = 525u64;
    for _ in 0..n {
        w.write(&zeros).unwrap();
    }
    w.write(&tail).unwrap();
    let sink = w.finish().unwrap();
    assert!(sink.len > START_BIG_FILE + (100 << 20), "{}", sink.len);
    let f = RootFile::open(Arc::new(sink), "big.root").unwrap();
    assert!(f.version() > 0);
    let t = f.tree("Events").unwrap();
    let total = n * rows as u64 + 1000;
    assert_eq!(t.entries(), total);
    let last = t.read(&[0], total - 1000..total).unwrap();
    assert_eq!(last.column(0).as_ref(), tail.column(0).as_ref());
    let before = t.read(&[0], total - 1010..total - 1000).unwrap();
    assert_eq!(
        before.column(0).as_ref(),
        zeros.column(0).slice(0, 10).as_ref()
    );
}
