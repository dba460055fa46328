//! The `StreamerInfo` record: a `TList` of `TStreamerInfo`s describing every class the writer
//! puts in the file (`TTree`, `TBranch`, the `TLeaf*`s and their bases), so that ROOT can read
//! it with schema evolution in mind. The descriptions below are this crate's own table of
//! those classes' members (as ROOT 6 declares them); the records are generated from it.
//! Class checksums are ROOT's own numbers for these class versions (what `TClass::GetCheckSum`
//! gives); `tests/python/test_root_write.py` compares every class, member and checksum with
//! the streamers of a file written by ROOT 6.20.

use super::buffer::{OBJECT_BITS, Out};

/// One member of a class, as a `TStreamerElement` subclass describes it.
#[derive(Debug, Clone, Copy)]
enum M {
    /// A base class (`TStreamerBase`): name, title, base version.
    Base(&'static str, &'static str, i32),
    /// A basic type (`TStreamerBasicType`): name, type code, size, type name, title.
    Basic(&'static str, i32, i32, &'static str, &'static str),
    /// A pointer to a counted array (`TStreamerBasicPointer`): name, type code, size, type
    /// name, counter name, title.
    Array(
        &'static str,
        i32,
        i32,
        &'static str,
        &'static str,
        &'static str,
    ),
    /// A `TString` member (`TStreamerString`): name, title.
    Str(&'static str, &'static str),
    /// An embedded `TObject`-derived member (`TStreamerObject`): name, type name, title.
    Object(&'static str, &'static str, &'static str),
    /// An embedded non-`TObject` member (`TStreamerObjectAny`): name, size, type name, title.
    Any(&'static str, i32, &'static str, &'static str),
    /// A pointer to an object (`TStreamerObjectPointer`): name, type name, title.
    Pointer(&'static str, &'static str, &'static str),
}

/// A class: name, version, checksum, members.
struct Class {
    name: &'static str,
    version: i32,
    checksum: u32,
    members: &'static [M],
}

// ROOT's type codes (TVirtualStreamerInfo::EReadWrite).
const K_CHAR: i32 = 1;
const K_SHORT: i32 = 2;
const K_INT: i32 = 3;
const K_COUNTER: i32 = 6;
const K_FLOAT: i32 = 5;
const K_DOUBLE: i32 = 8;
const K_UCHAR: i32 = 11;
const K_UINT: i32 = 13;
const K_BITS: i32 = 15;
const K_LONG64: i32 = 16;
const K_BOOL: i32 = 18;
const K_OFFSET_P: i32 = 40;
const K_OBJECT: i32 = 61;
const K_ANY: i32 = 62;
const K_OBJECT_P: i32 = 64;
const K_TSTRING: i32 = 65;
const K_TOBJECT: i32 = 66;
const K_TNAMED: i32 = 67;

const NAMED: M = M::Base("TNamed", "The basis for a named object (name, title)", 1);
const LEAF: M = M::Base("TLeaf", "Leaf: description of a Branch data type", 2);
const MIN: &str = "Minimum value if leaf range is specified";
const MAX: &str = "Maximum value if leaf range is specified";

macro_rules! leaf_class {
    ($name:literal, $checksum:literal, $code:expr, $size:literal, $ty:literal) => {
        Class {
            name: $name,
            version: 1,
            checksum: $checksum,
            members: &[
                LEAF,
                M::Basic("fMinimum", $code, $size, $ty, MIN),
                M::Basic("fMaximum", $code, $size, $ty, MAX),
            ],
        }
    };
}

const CLASSES: &[Class] = &[
    Class {
        name: "TObject",
        version: 1,
        checksum: 0x901b_c02d,
        members: &[
            M::Basic(
                "fUniqueID",
                K_UINT,
                4,
                "unsigned int",
                "object unique identifier",
            ),
            M::Basic("fBits", K_BITS, 4, "unsigned int", "bit field status word"),
        ],
    },
    Class {
        name: "TNamed",
        version: 1,
        checksum: 0xdfb7_4a3c,
        members: &[
            M::Base("TObject", "Basic ROOT object", 1),
            M::Str("fName", "object identifier"),
            M::Str("fTitle", "object title"),
        ],
    },
    Class {
        name: "TString",
        version: 2,
        checksum: 0x0001_7419,
        members: &[],
    },
    Class {
        name: "TAttLine",
        version: 2,
        checksum: 0x9407_4549,
        members: &[
            M::Basic("fLineColor", K_SHORT, 2, "short", "Line color"),
            M::Basic("fLineStyle", K_SHORT, 2, "short", "Line style"),
            M::Basic("fLineWidth", K_SHORT, 2, "short", "Line width"),
        ],
    },
    Class {
        name: "TAttFill",
        version: 2,
        checksum: 0xffd9_2a92,
        members: &[
            M::Basic("fFillColor", K_SHORT, 2, "short", "Fill area color"),
            M::Basic("fFillStyle", K_SHORT, 2, "short", "Fill area style"),
        ],
    },
    Class {
        name: "TAttMarker",
        version: 2,
        checksum: 0x291d_8bec,
        members: &[
            M::Basic("fMarkerColor", K_SHORT, 2, "short", "Marker color"),
            M::Basic("fMarkerStyle", K_SHORT, 2, "short", "Marker style"),
            M::Basic("fMarkerSize", K_FLOAT, 4, "float", "Marker size"),
        ],
    },
    Class {
        name: "TCollection",
        version: 3,
        checksum: 0x57e3_cb9c,
        members: &[
            M::Base("TObject", "Basic ROOT object", 1),
            M::Str("fName", "name of the collection"),
            M::Basic("fSize", K_INT, 4, "int", "number of elements in collection"),
        ],
    },
    Class {
        name: "TSeqCollection",
        version: 0,
        checksum: 0xfc6c_3bc6,
        members: &[M::Base("TCollection", "Collection abstract base class", 3)],
    },
    Class {
        name: "TList",
        version: 5,
        checksum: 0x69c5_c3bb,
        members: &[M::Base("TSeqCollection", "Sequenceable collection ABC", 0)],
    },
    Class {
        name: "TObjArray",
        version: 3,
        checksum: 0xa99e_6552,
        members: &[
            M::Base("TSeqCollection", "Sequenceable collection ABC", 0),
            M::Basic("fLowerBound", K_INT, 4, "int", "Lower bound of the array"),
            M::Basic(
                "fLast",
                K_INT,
                4,
                "int",
                "Last element in array containing an object",
            ),
        ],
    },
    Class {
        name: "ROOT::TIOFeatures",
        version: 1,
        checksum: 0x1aa1_2f10,
        members: &[M::Basic("fIOBits", K_UCHAR, 1, "unsigned char", "")],
    },
    Class {
        name: "TTree",
        version: 20,
        checksum: 0x7264_e07f,
        members: &[
            NAMED,
            M::Base("TAttLine", "Line attributes", 2),
            M::Base("TAttFill", "Fill area attributes", 2),
            M::Base("TAttMarker", "Marker attributes", 2),
            M::Basic("fEntries", K_LONG64, 8, "Long64_t", "Number of entries"),
            M::Basic(
                "fTotBytes",
                K_LONG64,
                8,
                "Long64_t",
                "Total number of bytes in all branches before compression",
            ),
            M::Basic(
                "fZipBytes",
                K_LONG64,
                8,
                "Long64_t",
                "Total number of bytes in all branches after compression",
            ),
            M::Basic(
                "fSavedBytes",
                K_LONG64,
                8,
                "Long64_t",
                "Number of autosaved bytes",
            ),
            M::Basic(
                "fFlushedBytes",
                K_LONG64,
                8,
                "Long64_t",
                "Number of auto-flushed bytes",
            ),
            M::Basic(
                "fWeight",
                K_DOUBLE,
                8,
                "double",
                "Tree weight (see TTree::SetWeight)",
            ),
            M::Basic(
                "fTimerInterval",
                K_INT,
                4,
                "int",
                "Timer interval in milliseconds",
            ),
            M::Basic(
                "fScanField",
                K_INT,
                4,
                "int",
                "Number of runs before prompting in Scan",
            ),
            M::Basic("fUpdate", K_INT, 4, "int", "Update frequency for EntryLoop"),
            M::Basic(
                "fDefaultEntryOffsetLen",
                K_INT,
                4,
                "int",
                "Initial Length of fEntryOffset table in the basket buffers",
            ),
            M::Basic(
                "fNClusterRange",
                K_COUNTER,
                4,
                "int",
                "Number of Cluster range in addition to the one defined by 'AutoFlush'",
            ),
            M::Basic(
                "fMaxEntries",
                K_LONG64,
                8,
                "Long64_t",
                "Maximum number of entries in case of circular buffers",
            ),
            M::Basic(
                "fMaxEntryLoop",
                K_LONG64,
                8,
                "Long64_t",
                "Maximum number of entries to process",
            ),
            M::Basic(
                "fMaxVirtualSize",
                K_LONG64,
                8,
                "Long64_t",
                "Maximum total size of buffers kept in memory",
            ),
            M::Basic(
                "fAutoSave",
                K_LONG64,
                8,
                "Long64_t",
                "Autosave tree when fAutoSave entries written or -fAutoSave (compressed) bytes produced",
            ),
            M::Basic(
                "fAutoFlush",
                K_LONG64,
                8,
                "Long64_t",
                "Auto-flush tree when fAutoFlush entries written or -fAutoFlush (compressed) bytes produced",
            ),
            M::Basic(
                "fEstimate",
                K_LONG64,
                8,
                "Long64_t",
                "Number of entries to estimate histogram limits",
            ),
            M::Array(
                "fClusterRangeEnd",
                K_OFFSET_P + K_LONG64,
                8,
                "Long64_t*",
                "fNClusterRange",
                "[fNClusterRange] Last entry of a cluster range.",
            ),
            M::Array(
                "fClusterSize",
                K_OFFSET_P + K_LONG64,
                8,
                "Long64_t*",
                "fNClusterRange",
                "[fNClusterRange] Number of entries in each cluster for a given range.",
            ),
            M::Any(
                "fIOFeatures",
                1,
                "ROOT::TIOFeatures",
                "IO features to define for newly-written baskets and branches.",
            ),
            M::Object("fBranches", "TObjArray", "List of Branches"),
            M::Object(
                "fLeaves",
                "TObjArray",
                "Direct pointers to individual branch leaves",
            ),
            M::Pointer(
                "fAliases",
                "TList*",
                "List of aliases for expressions based on the tree branches.",
            ),
            M::Any("fIndexValues", 24, "TArrayD", "Sorted index values"),
            M::Any("fIndex", 24, "TArrayI", "Index of sorted values"),
            M::Pointer(
                "fTreeIndex",
                "TVirtualIndex*",
                "Pointer to the tree Index (if any)",
            ),
            M::Pointer("fFriends", "TList*", "pointer to list of friend elements"),
            M::Pointer(
                "fUserInfo",
                "TList*",
                "pointer to a list of user objects associated to this Tree",
            ),
            M::Pointer(
                "fBranchRef",
                "TBranchRef*",
                "Branch supporting the TRefTable (if any)",
            ),
        ],
    },
    Class {
        name: "TBranch",
        version: 13,
        checksum: 0x1097_8aac,
        members: &[
            NAMED,
            M::Base("TAttFill", "Fill area attributes", 2),
            M::Basic(
                "fCompress",
                K_INT,
                4,
                "int",
                "Compression level and algorithm",
            ),
            M::Basic(
                "fBasketSize",
                K_INT,
                4,
                "int",
                "Initial Size of  Basket Buffer",
            ),
            M::Basic(
                "fEntryOffsetLen",
                K_INT,
                4,
                "int",
                "Initial Length of fEntryOffset table in the basket buffers",
            ),
            M::Basic(
                "fWriteBasket",
                K_INT,
                4,
                "int",
                "Last basket number written",
            ),
            M::Basic(
                "fEntryNumber",
                K_LONG64,
                8,
                "Long64_t",
                "Current entry number (last one filled in this branch)",
            ),
            M::Any(
                "fIOFeatures",
                1,
                "ROOT::TIOFeatures",
                "IO features for newly-created baskets.",
            ),
            M::Basic("fOffset", K_INT, 4, "int", "Offset of this branch"),
            M::Basic(
                "fMaxBaskets",
                K_COUNTER,
                4,
                "int",
                "Maximum number of Baskets so far",
            ),
            M::Basic("fSplitLevel", K_INT, 4, "int", "Branch split level"),
            M::Basic("fEntries", K_LONG64, 8, "Long64_t", "Number of entries"),
            M::Basic(
                "fFirstEntry",
                K_LONG64,
                8,
                "Long64_t",
                "Number of the first entry in this branch",
            ),
            M::Basic(
                "fTotBytes",
                K_LONG64,
                8,
                "Long64_t",
                "Total number of bytes in all leaves before compression",
            ),
            M::Basic(
                "fZipBytes",
                K_LONG64,
                8,
                "Long64_t",
                "Total number of bytes in all leaves after compression",
            ),
            M::Object(
                "fBranches",
                "TObjArray",
                "-> List of Branches of this branch",
            ),
            M::Object("fLeaves", "TObjArray", "-> List of leaves of this branch"),
            M::Object("fBaskets", "TObjArray", "-> List of baskets of this branch"),
            M::Array(
                "fBasketBytes",
                K_OFFSET_P + K_INT,
                4,
                "int*",
                "fMaxBaskets",
                "[fMaxBaskets] Length of baskets on file",
            ),
            M::Array(
                "fBasketEntry",
                K_OFFSET_P + K_LONG64,
                8,
                "Long64_t*",
                "fMaxBaskets",
                "[fMaxBaskets] Table of first entry in each basket",
            ),
            M::Array(
                "fBasketSeek",
                K_OFFSET_P + K_LONG64,
                8,
                "Long64_t*",
                "fMaxBaskets",
                "[fMaxBaskets] Addresses of baskets on file",
            ),
            M::Str(
                "fFileName",
                "Name of file where buffers are stored (\"\" if in same file as Tree header)",
            ),
        ],
    },
    Class {
        name: "TLeaf",
        version: 2,
        checksum: 0x6d1e_8152,
        members: &[
            NAMED,
            M::Basic(
                "fLen",
                K_INT,
                4,
                "int",
                "Number of fixed length elements in the leaf's data.",
            ),
            M::Basic(
                "fLenType",
                K_INT,
                4,
                "int",
                "Number of bytes for this data type",
            ),
            M::Basic(
                "fOffset",
                K_INT,
                4,
                "int",
                "Offset in ClonesArray object (if one)",
            ),
            M::Basic(
                "fIsRange",
                K_BOOL,
                1,
                "bool",
                "(=kTRUE if leaf has a range, kFALSE otherwise).  This is equivalent to being a 'leafcount'.  For a TLeafElement the range information is actually store in the TBranchElement.",
            ),
            M::Basic(
                "fIsUnsigned",
                K_BOOL,
                1,
                "bool",
                "(=kTRUE if unsigned, kFALSE otherwise)",
            ),
            M::Pointer(
                "fLeafCount",
                "TLeaf*",
                "Pointer to Leaf count if variable length (we do not own the counter)",
            ),
        ],
    },
    leaf_class!("TLeafO", 0x02ae_48d3, K_BOOL, 1, "bool"),
    leaf_class!("TLeafB", 0x0f1e_4b5e, K_CHAR, 1, "char"),
    leaf_class!("TLeafS", 0x150c_eecf, K_SHORT, 2, "short"),
    leaf_class!("TLeafI", 0x7e6a_ae19, K_INT, 4, "int"),
    leaf_class!("TLeafL", 0xde32_0862, K_LONG64, 8, "Long64_t"),
    leaf_class!("TLeafF", 0x3add_9d72, K_FLOAT, 4, "float"),
    leaf_class!("TLeafD", 0x118e_8776, K_DOUBLE, 8, "double"),
    leaf_class!("TLeafC", 0xfbe3_b2f3, K_INT, 4, "int"),
];

fn class(name: &str) -> Option<&'static Class> {
    CLASSES.iter().find(|c| c.name == name)
}

/// The version and checksum ROOT expects for a class this writer streams.
pub(crate) fn checksum(name: &str) -> u32 {
    class(name).map(|c| c.checksum).unwrap_or(0)
}

/// The classes always described: everything a tree of plain branches refers to.
const ALWAYS: &[&str] = &[
    "TNamed",
    "TObject",
    "TString",
    "TAttLine",
    "TAttFill",
    "TAttMarker",
    "TTree",
    "ROOT::TIOFeatures",
    "TBranch",
    "TLeaf",
    "TList",
    "TSeqCollection",
    "TCollection",
    "TObjArray",
];

/// Serialises the body of the `StreamerInfo` key (a `TList` of `TStreamerInfo`) for the leaf
/// classes in `leaves` plus every class in [`ALWAYS`]. `keylen` is the length of the key in
/// front of it (references count from the key's start).
pub(crate) fn streamer_list(leaves: &[&str], keylen: usize) -> Vec<u8> {
    let mut names: Vec<&str> = ALWAYS.to_vec();
    for l in leaves {
        if !names.contains(l) {
            names.push(l);
        }
    }
    let mut o = Out::new(keylen);
    let list = o.begin(5);
    o.tobject(0x0200_0000);
    o.tstring("");
    let infos: Vec<&Class> = names.iter().filter_map(|n| class(n)).collect();
    o.i32(infos.len() as i32);
    for c in infos {
        let (_, m) = o.begin_object("TStreamerInfo");
        streamer_info(&mut o, c);
        o.end_object(m);
        // the TList option string after each object
        o.tstring("");
    }
    o.end(list);
    o.buf
}

fn streamer_info(o: &mut Out, c: &Class) {
    let info = o.begin(9);
    o.tnamed(c.name, "", OBJECT_BITS | 0x0001_0000);
    o.u32(c.checksum);
    o.i32(c.version);
    let (_, arr_obj) = o.begin_object("TObjArray");
    let arr = o.begin(3);
    o.tobject(0x0200_0000);
    o.tstring("");
    o.i32(c.members.len() as i32);
    o.i32(0);
    for m in c.members {
        element(o, m, c);
    }
    o.end(arr);
    o.end_object(arr_obj);
    o.end(info);
}

/// The `TStreamerElement` part shared by every element kind.
#[allow(clippy::too_many_arguments)]
fn element_base(
    o: &mut Out,
    name: &str,
    title: &str,
    ftype: i32,
    size: i32,
    type_name: &str,
    max_index_1: u32,
) {
    let e = o.begin(4);
    o.tnamed(name, title, OBJECT_BITS);
    o.i32(ftype);
    o.i32(size);
    o.i32(0); // fArrayLength
    o.i32(0); // fArrayDim
    o.i32(0); // fMaxIndex[0..5]
    o.u32(max_index_1);
    o.i32(0);
    o.i32(0);
    o.i32(0);
    o.tstring(type_name);
    o.end(e);
}

fn element(o: &mut Out, m: &M, owner: &Class) {
    match *m {
        M::Base(name, title, version) => {
            let (_, p) = o.begin_object("TStreamerBase");
            let s = o.begin(3);
            let ftype = match name {
                "TObject" => K_TOBJECT,
                "TNamed" => K_TNAMED,
                _ => 0,
            };
            element_base(o, name, title, ftype, 0, "BASE", checksum(name));
            o.i32(version);
            o.end(s);
            o.end_object(p);
        }
        M::Basic(name, ftype, size, ty, title) => {
            let (_, p) = o.begin_object("TStreamerBasicType");
            let s = o.begin(2);
            element_base(o, name, title, ftype, size, ty, 0);
            o.end(s);
            o.end_object(p);
        }
        M::Array(name, ftype, size, ty, count, title) => {
            let (_, p) = o.begin_object("TStreamerBasicPointer");
            let s = o.begin(2);
            element_base(o, name, title, ftype, size, ty, 0);
            // the counter is a member of the same class
            o.i32(owner.version);
            o.tstring(count);
            o.tstring(owner.name);
            o.end(s);
            o.end_object(p);
        }
        M::Str(name, title) => {
            let (_, p) = o.begin_object("TStreamerString");
            let s = o.begin(2);
            element_base(o, name, title, K_TSTRING, 24, "TString", 0);
            o.end(s);
            o.end_object(p);
        }
        M::Object(name, ty, title) => {
            let (_, p) = o.begin_object("TStreamerObject");
            let s = o.begin(2);
            element_base(o, name, title, K_OBJECT, 64, ty, 0);
            o.end(s);
            o.end_object(p);
        }
        M::Any(name, size, ty, title) => {
            let (_, p) = o.begin_object("TStreamerObjectAny");
            let s = o.begin(2);
            element_base(o, name, title, K_ANY, size, ty, 0);
            o.end(s);
            o.end_object(p);
        }
        M::Pointer(name, ty, title) => {
            let (_, p) = o.begin_object("TStreamerObjectPointer");
            let s = o.begin(2);
            element_base(o, name, title, K_OBJECT_P, 8, ty, 0);
            o.end(s);
            o.end_object(p);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::streamer::Streamers;

    #[test]
    fn the_decoder_parses_the_generated_list() {
        let keylen = 60;
        let body = streamer_list(&["TLeafF", "TLeafI"], keylen);
        let s = Streamers::parse(&body, keylen).unwrap();
        let tree = &s.classes["TTree"];
        assert_eq!(tree.len(), 33);
        assert_eq!(tree[4].type_name, "Long64_t");
        assert!(s.classes.contains_key("TLeafF"));
        assert!(s.classes.contains_key("TBranch"));
        assert!(!s.classes.contains_key("TLeafD"));
    }
}
