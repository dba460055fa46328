//! The TTree record (class version 20) with its TBranches (13) and TLeaf*s, written once when
//! the file is closed, when every basket's place and size is known.

use super::buffer::{OBJECT_BITS, Out};
use super::columns::{BranchPlan, Kind};
use super::streamers::checksum;

/// A basket written to the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BasketRecord {
    pub(crate) seek: u64,
    pub(crate) nbytes: u32,
    pub(crate) first_entry: u64,
}

/// One branch's bookkeeping.
#[derive(Debug, Clone)]
pub(crate) struct BranchMetaOut {
    pub(crate) plan: BranchPlan,
    pub(crate) baskets: Vec<BasketRecord>,
    pub(crate) tot_bytes: i64,
    pub(crate) zip_bytes: i64,
    /// The largest counter value or string length.
    pub(crate) max: i64,
}

/// What the tree record says about the whole tree.
pub(crate) struct TreeMetaOut<'a> {
    pub(crate) name: &'a str,
    pub(crate) title: &'a str,
    pub(crate) entries: u64,
    pub(crate) compress: i32,
    pub(crate) branches: &'a [BranchMetaOut],
    /// Entries per cluster (sizes of the clusters in order).
    pub(crate) clusters: &'a [u64],
}

/// ROOT's default `fAutoFlush` (30 MB), for a tree without clusters.
const DEFAULT_AUTO_FLUSH: i64 = -30_000_000;

/// Describes clusters of the given sizes as ROOT does: `fAutoFlush` for the last range and
/// `(fClusterRangeEnd, fClusterSize)` pairs for earlier ranges of a different size. A shorter
/// final cluster is the tail of the range before it.
pub(crate) fn cluster_ranges(sizes: &[u64]) -> (i64, Vec<(i64, i64)>) {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &s in sizes {
        match runs.last_mut() {
            Some((size, n)) if *size == s => *n += 1,
            _ => runs.push((s, 1)),
        }
    }
    if runs.len() >= 2 {
        let (last_size, last_n) = runs[runs.len() - 1];
        let prev = runs[runs.len() - 2];
        if last_n == 1 && last_size < prev.0 {
            runs.pop();
            if let Some(p) = runs.last_mut() {
                p.1 += 1;
            }
            // the truncated tail is covered by the previous range's cluster size
        }
    }
    let Some(&(auto_flush, _)) = runs.last() else {
        return (DEFAULT_AUTO_FLUSH, Vec::new());
    };
    let mut ranges = Vec::new();
    let mut at: u64 = 0;
    for &(size, n) in &runs[..runs.len() - 1] {
        at += size * n;
        ranges.push((at as i64 - 1, size as i64));
    }
    (auto_flush as i64, ranges)
}

fn tio_features(o: &mut Out) {
    let m = o.begin(0);
    o.u32(checksum("ROOT::TIOFeatures"));
    o.u8(0);
    o.end(m);
}

fn empty_objarray(o: &mut Out) {
    let m = o.begin(3);
    o.tobject(OBJECT_BITS);
    o.tstring("");
    o.i32(0);
    o.i32(0);
    o.end(m);
}

/// Writes one leaf; returns its reference key.
fn leaf(o: &mut Out, b: &BranchMetaOut, counter: Option<(u32, &str)>) -> u32 {
    let p = &b.plan;
    let class = if p.kind == Kind::Str {
        "TLeafC"
    } else {
        p.elem.leaf_class()
    };
    let (key, obj) = o.begin_object(class);
    let outer = o.begin(1);
    let base = o.begin(2);
    let title = match counter {
        Some((_, cname)) => format!("{}[{cname}]{}", p.name, p.dims_suffix()),
        None => format!("{}{}", p.name, p.dims_suffix()),
    };
    o.tnamed(&p.name, &title, OBJECT_BITS);
    let len: usize = p.dims.iter().product();
    let (f_len, len_type) = match p.kind {
        Kind::Str => ((b.max + 1).max(1) as i32, 1),
        _ => (len as i32, p.elem.size() as i32),
    };
    o.i32(f_len);
    o.i32(len_type);
    o.i32(0); // fOffset
    o.u8(matches!(p.kind, Kind::Counter { .. }) as u8); // fIsRange
    o.u8((p.kind != Kind::Str && p.elem.unsigned()) as u8);
    match counter {
        Some((k, _)) => o.object_ref(k),
        None => o.null(),
    }
    o.end(base);
    // fMinimum, fMaximum in the leaf's own type
    let max = match p.kind {
        Kind::Counter { .. } => b.max,
        Kind::Str => b.max + 1,
        _ => 0,
    };
    match class {
        "TLeafO" | "TLeafB" => {
            o.u8(0);
            o.u8(max.clamp(0, 127) as u8);
        }
        "TLeafS" => {
            o.i16(0);
            o.i16(max.clamp(0, i16::MAX as i64) as i16);
        }
        "TLeafI" | "TLeafC" => {
            o.i32(0);
            o.i32(max.clamp(0, i32::MAX as i64) as i32);
        }
        "TLeafL" => {
            o.i64(0);
            o.i64(max);
        }
        "TLeafF" => {
            o.f32(0.0);
            o.f32(0.0);
        }
        _ => {
            o.f64(0.0);
            o.f64(0.0);
        }
    }
    o.end(outer);
    o.end_object(obj);
    key
}

fn branch(
    o: &mut Out,
    b: &BranchMetaOut,
    entries: u64,
    compress: i32,
    counter: Option<(u32, &str)>,
) -> u32 {
    let p = &b.plan;
    let (_, obj) = o.begin_object("TBranch");
    let m = o.begin(13);
    let letter = if p.kind == Kind::Str {
        'C'
    } else {
        p.elem.letter()
    };
    let title = match counter {
        Some((_, cname)) => format!("{}[{cname}]{}/{letter}", p.name, p.dims_suffix()),
        None => format!("{}{}/{letter}", p.name, p.dims_suffix()),
    };
    o.tnamed(&p.name, &title, OBJECT_BITS | 0x0040_0000);
    let fill = o.begin(2);
    o.i16(0);
    o.i16(1001);
    o.end(fill);
    let n = b.baskets.len();
    o.i32(compress);
    o.i32(32000); // fBasketSize
    o.i32(if p.has_offsets() { 1000 } else { 0 }); // fEntryOffsetLen
    o.i32(n as i32); // fWriteBasket
    o.i64(entries as i64); // fEntryNumber
    tio_features(o);
    o.i32(0); // fOffset
    let max_baskets = (n + 1).max(10);
    o.i32(max_baskets as i32);
    o.i32(0); // fSplitLevel
    o.i64(entries as i64);
    o.i64(0); // fFirstEntry
    o.i64(b.tot_bytes);
    o.i64(b.zip_bytes);
    empty_objarray(o); // fBranches
    let leaves = o.begin(3);
    o.tobject(OBJECT_BITS);
    o.tstring("");
    o.i32(1);
    o.i32(0);
    let leaf_key = leaf(o, b, counter);
    o.end(leaves);
    empty_objarray(o); // fBaskets: every basket is on disk
    o.u8(1);
    for i in 0..max_baskets {
        o.i32(b.baskets.get(i).map(|r| r.nbytes as i32).unwrap_or(0));
    }
    o.u8(1);
    for i in 0..max_baskets {
        let e = match b.baskets.get(i) {
            Some(r) => r.first_entry as i64,
            None if i == n => entries as i64,
            None => 0,
        };
        o.i64(e);
    }
    o.u8(1);
    for i in 0..max_baskets {
        o.i64(b.baskets.get(i).map(|r| r.seek as i64).unwrap_or(0));
    }
    o.tstring(""); // fFileName
    o.end(m);
    o.end_object(obj);
    leaf_key
}

/// The TTree record's bytes (after its key of length `keylen`).
pub(crate) fn tree_record(t: &TreeMetaOut<'_>, keylen: usize) -> Vec<u8> {
    let mut o = Out::new(keylen);
    let tree = o.begin(20);
    o.tnamed(t.name, t.title, OBJECT_BITS | 0x08);
    let line = o.begin(2);
    o.i16(602);
    o.i16(1);
    o.i16(1);
    o.end(line);
    let fill = o.begin(2);
    o.i16(0);
    o.i16(1001);
    o.end(fill);
    let marker = o.begin(2);
    o.i16(1);
    o.i16(1);
    o.f32(1.0);
    o.end(marker);
    let tot: i64 = t.branches.iter().map(|b| b.tot_bytes).sum();
    let zip: i64 = t.branches.iter().map(|b| b.zip_bytes).sum();
    let (auto_flush, ranges) = cluster_ranges(t.clusters);
    o.i64(t.entries as i64);
    o.i64(tot);
    o.i64(zip);
    o.i64(zip); // fSavedBytes
    o.i64(zip); // fFlushedBytes
    o.f64(1.0); // fWeight
    o.i32(0); // fTimerInterval
    o.i32(25); // fScanField
    o.i32(0); // fUpdate
    o.i32(1000); // fDefaultEntryOffsetLen
    o.i32(ranges.len() as i32);
    o.i64(1_000_000_000_000); // fMaxEntries
    o.i64(1_000_000_000_000); // fMaxEntryLoop
    o.i64(0); // fMaxVirtualSize
    o.i64(-300_000_000); // fAutoSave
    o.i64(auto_flush);
    o.i64(1_000_000); // fEstimate
    o.u8(!ranges.is_empty() as u8);
    for (end, _) in &ranges {
        o.i64(*end);
    }
    o.u8(!ranges.is_empty() as u8);
    for (_, size) in &ranges {
        o.i64(*size);
    }
    tio_features(&mut o);
    // fBranches
    let arr = o.begin(3);
    o.tobject(OBJECT_BITS);
    o.tstring("");
    o.i32(t.branches.len() as i32);
    o.i32(0);
    let mut leaf_keys: Vec<u32> = Vec::with_capacity(t.branches.len());
    for b in t.branches {
        let counter = match b.plan.kind {
            Kind::Jagged { counter } => leaf_keys
                .get(counter)
                .map(|&k| (k, t.branches[counter].plan.name.as_str())),
            _ => None,
        };
        let k = branch(&mut o, b, t.entries, t.compress, counter);
        leaf_keys.push(k);
    }
    o.end(arr);
    // fLeaves: references to the leaves written above
    let leaves = o.begin(3);
    o.tobject(OBJECT_BITS);
    o.tstring("");
    o.i32(leaf_keys.len() as i32);
    o.i32(0);
    for k in &leaf_keys {
        o.object_ref(*k);
    }
    o.end(leaves);
    o.null(); // fAliases
    o.i32(0); // fIndexValues (TArrayD, empty)
    o.i32(0); // fIndex (TArrayI, empty)
    o.null(); // fTreeIndex
    o.null(); // fFriends
    o.null(); // fUserInfo
    o.null(); // fBranchRef
    o.end(tree);
    o.buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_become_ranges() {
        assert_eq!(cluster_ranges(&[]), (DEFAULT_AUTO_FLUSH, vec![]));
        assert_eq!(cluster_ranges(&[10, 10, 10, 3]), (10, vec![]));
        assert_eq!(cluster_ranges(&[7]), (7, vec![]));
        assert_eq!(
            cluster_ranges(&[10, 10, 4, 10, 10, 2]),
            (10, vec![(19, 10), (23, 4)])
        );
        // a final cluster longer than the ones before it is a range of its own
        assert_eq!(cluster_ranges(&[5, 5, 8]), (8, vec![(9, 5)]));
    }
}
