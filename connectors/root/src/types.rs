//! How a branch's bytes map to Arrow: the element kinds, the per-branch decoding plan, and the
//! rules that choose a plan from the branch's class, leaves and streamer information.

use std::sync::Arc;

use arrow_schema::{DataType, Field};

use crate::meta::{BranchMeta, LeafMeta, TreeMeta};
use crate::streamer::{Streamers, canonical};

/// One stored number and the Arrow value it becomes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Elem {
    Bool,
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
    /// `Double32_t` stored as a float (no range given).
    F32AsF64,
    /// `Float16_t`/`Double32_t` packed into an integer over a range: low + raw × (high-low)/2^bits.
    Packed {
        low: f64,
        high: f64,
        bits: u32,
        wide: bool,
    },
    /// `Float16_t`/`Double32_t` truncated to an exponent byte and `bits` mantissa bits.
    Truncated {
        bits: u32,
        wide: bool,
    },
}

impl Elem {
    /// Bytes per stored value.
    pub(crate) fn size(self) -> usize {
        match self {
            Elem::Bool | Elem::I8 | Elem::U8 => 1,
            Elem::I16 | Elem::U16 => 2,
            Elem::I32 | Elem::U32 | Elem::F32 | Elem::F32AsF64 | Elem::Packed { .. } => 4,
            Elem::Truncated { .. } => 3,
            Elem::I64 | Elem::U64 | Elem::F64 => 8,
        }
    }

    /// The Arrow type of one value.
    pub(crate) fn data_type(self) -> DataType {
        match self {
            Elem::Bool => DataType::Boolean,
            Elem::I8 => DataType::Int8,
            Elem::U8 => DataType::UInt8,
            Elem::I16 => DataType::Int16,
            Elem::U16 => DataType::UInt16,
            Elem::I32 => DataType::Int32,
            Elem::U32 => DataType::UInt32,
            Elem::I64 => DataType::Int64,
            Elem::U64 => DataType::UInt64,
            Elem::F32 => DataType::Float32,
            Elem::F64 | Elem::F32AsF64 => DataType::Float64,
            Elem::Packed { wide, .. } | Elem::Truncated { wide, .. } => {
                if wide {
                    DataType::Float64
                } else {
                    DataType::Float32
                }
            }
        }
    }

    /// ROOT's name for the type.
    pub(crate) fn root_name(self) -> &'static str {
        match self {
            Elem::Bool => "Bool_t",
            Elem::I8 => "Char_t",
            Elem::U8 => "UChar_t",
            Elem::I16 => "Short_t",
            Elem::U16 => "UShort_t",
            Elem::I32 => "Int_t",
            Elem::U32 => "UInt_t",
            Elem::I64 => "Long64_t",
            Elem::U64 => "ULong64_t",
            Elem::F32 => "Float_t",
            Elem::F64 => "Double_t",
            Elem::F32AsF64 => "Double32_t",
            Elem::Packed { wide, .. } | Elem::Truncated { wide, .. } => {
                if wide {
                    "Double32_t"
                } else {
                    "Float16_t"
                }
            }
        }
    }
}

/// How to turn one branch's basket bytes into one Arrow array.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan {
    /// Every entry holds the product of `dims` values (a scalar when `dims` is empty).
    Fixed { elem: Elem, dims: Vec<usize> },
    /// Every entry holds `header` bytes, then a variable number of `dims`-shaped values.
    /// Lengths come from the basket's entry offsets, or from `counter`'s values without them.
    Jagged {
        elem: Elem,
        dims: Vec<usize>,
        header: usize,
        counter: Option<usize>,
    },
    /// One string per entry, after `header` bytes.
    Str { header: usize },
    /// `std::vector<std::string>` (or `TString`) with a 10-byte header.
    VecStr,
    /// `std::vector<std::vector<T>>` with a 10-byte header.
    VecVec { elem: Elem },
    /// A leaf-list branch (`a/I:b/F:c[3]/D`): one struct per entry.
    LeafList {
        fields: Vec<(String, Elem, Vec<usize>)>,
    },
}

/// Wraps a value type in one fixed-size list per dimension (innermost last).
pub(crate) fn shaped(dt: DataType, dims: &[usize]) -> DataType {
    dims.iter().rev().fold(dt, |inner, &n| {
        DataType::FixedSizeList(Arc::new(Field::new_list_field(inner, true)), n as i32)
    })
}

pub(crate) fn list_of(dt: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(dt, true)))
}

impl Plan {
    /// The Arrow type the plan produces.
    pub(crate) fn data_type(&self) -> DataType {
        match self {
            Plan::Fixed { elem, dims } => shaped(elem.data_type(), dims),
            Plan::Jagged { elem, dims, .. } => list_of(shaped(elem.data_type(), dims)),
            Plan::Str { .. } => DataType::Utf8,
            Plan::VecStr => list_of(DataType::Utf8),
            Plan::VecVec { elem } => list_of(list_of(elem.data_type())),
            Plan::LeafList { fields } => DataType::Struct(
                fields
                    .iter()
                    .map(|(n, e, d)| Field::new(n, shaped(e.data_type(), d), false))
                    .collect(),
            ),
        }
    }
}

/// A decision for one branch: a plan, or the reason there is none.
#[derive(Debug, Clone)]
pub(crate) struct Typed {
    pub(crate) root_type: String,
    pub(crate) plan: Result<Plan, String>,
    /// True for branches that only group sub-branches (split objects); they hold no data.
    pub(crate) group: bool,
}

fn basic_code(code: i32) -> Option<Elem> {
    Some(match code {
        1 => Elem::I8,
        2 => Elem::I16,
        3 => Elem::I32,
        4 | 16 => Elem::I64,
        5 => Elem::F32,
        6 | 13 | 15 => Elem::U32,
        8 => Elem::F64,
        11 => Elem::U8,
        12 => Elem::U16,
        14 | 17 => Elem::U64,
        18 => Elem::Bool,
        _ => return None,
    })
}

fn leaf_class_elem(leaf: &LeafMeta) -> Option<Elem> {
    let u = leaf.is_unsigned;
    Some(match leaf.class.as_str() {
        "TLeafO" => Elem::Bool,
        "TLeafB" => {
            if u {
                Elem::U8
            } else {
                Elem::I8
            }
        }
        "TLeafS" => {
            if u {
                Elem::U16
            } else {
                Elem::I16
            }
        }
        "TLeafI" => {
            if u {
                Elem::U32
            } else {
                Elem::I32
            }
        }
        "TLeafL" | "TLeafG" => {
            if u {
                Elem::U64
            } else {
                Elem::I64
            }
        }
        "TLeafF" => Elem::F32,
        "TLeafD" => Elem::F64,
        _ => return None,
    })
}

/// Evaluates the range in a `Double32_t`/`Float16_t` comment: `[low, high]` or `[low, high, bits]`,
/// with numbers, `pi`, `+ - * /` and parentheses.
pub(crate) fn parse_range(title: &str) -> Option<(f64, f64, Option<i64>)> {
    let l = title.find('[')?;
    let r = l + title[l..].find(']')?;
    let parts: Vec<&str> = title[l + 1..r].split(',').collect();
    let vals: Option<Vec<f64>> = parts.iter().map(|p| eval(p)).collect();
    let vals = vals?;
    match vals.as_slice() {
        [lo, hi] => Some((*lo, *hi, None)),
        [lo, hi, bits] if bits.fract() == 0.0 => Some((*lo, *hi, Some(*bits as i64))),
        _ => None,
    }
}

fn eval(s: &str) -> Option<f64> {
    let toks: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
    let mut pos = 0;
    let v = expr(&toks, &mut pos)?;
    (pos == toks.len()).then_some(v)
}

fn expr(t: &[char], p: &mut usize) -> Option<f64> {
    let mut v = term(t, p)?;
    while *p < t.len() && (t[*p] == '+' || t[*p] == '-') {
        let op = t[*p];
        *p += 1;
        let r = term(t, p)?;
        v = if op == '+' { v + r } else { v - r };
    }
    Some(v)
}

fn term(t: &[char], p: &mut usize) -> Option<f64> {
    let mut v = atom(t, p)?;
    while *p < t.len() && (t[*p] == '*' || t[*p] == '/') {
        let op = t[*p];
        *p += 1;
        let r = atom(t, p)?;
        v = if op == '*' { v * r } else { v / r };
    }
    Some(v)
}

fn atom(t: &[char], p: &mut usize) -> Option<f64> {
    let c = *t.get(*p)?;
    if c == '-' || c == '+' {
        *p += 1;
        let v = atom(t, p)?;
        return Some(if c == '-' { -v } else { v });
    }
    if c == '(' {
        *p += 1;
        let v = expr(t, p)?;
        if t.get(*p) != Some(&')') {
            return None;
        }
        *p += 1;
        return Some(v);
    }
    let start = *p;
    while *p < t.len()
        && (t[*p].is_ascii_alphanumeric() || t[*p] == '.' || t[*p] == '_' || t[*p] == ':')
    {
        // allow exponents like 1e-3
        if (t[*p] == 'e' || t[*p] == 'E')
            && *p + 1 < t.len()
            && (t[*p + 1] == '-' || t[*p + 1] == '+')
            && t[start].is_ascii_digit()
        {
            *p += 2;
            continue;
        }
        *p += 1;
    }
    let word: String = t[start..*p].iter().collect();
    let word = word.trim_end_matches("()");
    match word.to_ascii_lowercase().as_str() {
        "pi" | "tmath::pi" => Some(std::f64::consts::PI),
        "twopi" | "tmath::twopi" => Some(2.0 * std::f64::consts::PI),
        _ => {
            // `TMath::Pi()` leaves "()" in the stream
            if t.get(*p) == Some(&'(') && t.get(*p + 1) == Some(&')') {
                *p += 2;
                return match word.to_ascii_lowercase().as_str() {
                    "tmath::pi" => Some(std::f64::consts::PI),
                    _ => None,
                };
            }
            word.parse().ok()
        }
    }
}

/// The element for a `Float16_t` (`wide == false`) or `Double32_t` with the given comment.
pub(crate) fn float16_double32(title: &str, wide: bool) -> Elem {
    match parse_range(title) {
        None => {
            if wide {
                Elem::F32AsF64
            } else {
                Elem::Truncated { bits: 12, wide }
            }
        }
        Some((low, high, bits)) => {
            let bits = match bits {
                Some(b) if (2..=32).contains(&b) => b as u32,
                _ => 32,
            };
            if low == 0.0 && high == 0.0 {
                Elem::Truncated { bits, wide }
            } else {
                Elem::Packed {
                    low,
                    high,
                    bits,
                    wide,
                }
            }
        }
    }
}

/// Fixed dimensions in a leaf title such as `x[3][4]` (symbolic ones are skipped); falls back to
/// `fLen` when the title has none.
fn title_dims(leaf: &LeafMeta) -> Vec<usize> {
    let t = &leaf.title;
    let mut dims = Vec::new();
    if let Some(first) = t.find('[') {
        let name_part = &t[..first];
        if !name_part.contains(']') {
            let mut rest = &t[first..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(close) = stripped.find(']') else {
                    break;
                };
                let inner = &stripped[..close];
                if let Ok(n) = inner.parse::<usize>()
                    && n > 0
                    && !inner.starts_with('0')
                {
                    dims.push(n);
                }
                rest = &stripped[close + 1..];
            }
        }
    }
    if dims.is_empty() && leaf.len > 1 {
        dims.push(leaf.len as usize);
    }
    dims
}

/// The C++ type grammar this decoder understands inside STL containers.
#[derive(Debug, Clone, PartialEq)]
enum Cpp {
    Num(Elem),
    Str,
    Vector(Box<Cpp>),
    Other(String),
}

fn parse_cpp(name: &str) -> Cpp {
    let n = canonical(name);
    if let Some(inner) = n.strip_prefix("vector<").and_then(|s| s.strip_suffix('>')) {
        // reject allocator arguments and other multi-argument forms
        if inner.contains(',') {
            return Cpp::Other(n);
        }
        return Cpp::Vector(Box::new(parse_cpp(inner)));
    }
    let e = match n.as_str() {
        "bool" | "Bool_t" => Elem::Bool,
        "char" | "Char_t" | "int8_t" | "signed char" => Elem::I8,
        "unsigned char" | "UChar_t" | "uint8_t" | "Byte_t" => Elem::U8,
        "short" | "Short_t" | "int16_t" | "short int" => Elem::I16,
        "unsigned short" | "UShort_t" | "uint16_t" | "unsigned short int" => Elem::U16,
        "int" | "Int_t" | "int32_t" => Elem::I32,
        "unsigned int" | "UInt_t" | "uint32_t" | "unsigned" => Elem::U32,
        "long" | "Long_t" | "long long" | "Long64_t" | "int64_t" | "long int" | "long long int" => {
            Elem::I64
        }
        "unsigned long"
        | "ULong_t"
        | "unsigned long long"
        | "ULong64_t"
        | "uint64_t"
        | "size_t"
        | "unsigned long int"
        | "unsigned long long int" => Elem::U64,
        "float" | "Float_t" => Elem::F32,
        "double" | "Double_t" => Elem::F64,
        "string" | "TString" => return Cpp::Str,
        _ => return Cpp::Other(n),
    };
    Cpp::Num(e)
}

/// Plan for an STL-typed branch (top level or a member of a split class).
fn stl_plan(type_name: &str, top_level: bool) -> Result<Plan, String> {
    match parse_cpp(type_name) {
        Cpp::Str => Ok(Plan::Str {
            header: if top_level { 0 } else { 6 },
        }),
        Cpp::Vector(inner) => match *inner {
            Cpp::Num(elem) => Ok(Plan::Jagged {
                elem,
                dims: vec![],
                header: 10,
                counter: None,
            }),
            Cpp::Str => Ok(Plan::VecStr),
            Cpp::Vector(inner2) => match *inner2 {
                Cpp::Num(elem) => Ok(Plan::VecVec { elem }),
                other => Err(format!("nested vector of {other:?} is not supported")),
            },
            Cpp::Other(n) => Err(format!("vector of class {n} (objects are not decoded yet)")),
        },
        Cpp::Num(elem) => Ok(Plan::Fixed { elem, dims: vec![] }),
        Cpp::Other(n) => Err(format!("type {n} is not decoded yet")),
    }
}

fn leaf_type_name(leaf: &LeafMeta, elem: Elem) -> String {
    let mut s = elem.root_name().to_string();
    if let Some(i) = leaf.title.find('[') {
        s.push_str(&leaf.title[i..]);
    }
    s
}

/// Chooses the plan for branch `i` of `tree`.
pub(crate) fn classify(tree: &TreeMeta, i: usize, streamers: Option<&Streamers>) -> Typed {
    let mut t = classify_branch(tree, i, streamers);
    let b = &tree.branches[i];
    if !t.group && t.plan.is_ok() && b.entries != tree.entries {
        t.plan = Err(format!(
            "the branch holds {} entries but the tree has {}",
            b.entries, tree.entries
        ));
    }
    t
}

fn classify_branch(tree: &TreeMeta, i: usize, streamers: Option<&Streamers>) -> Typed {
    let b = &tree.branches[i];
    let el = b.element.as_ref();
    if !b.children.is_empty() {
        let class = el.map(|e| e.class_name.clone()).unwrap_or_default();
        if let Some(e) = el
            && (e.class_name == "TClonesArray" || e.ftype == 3)
        {
            return Typed {
                root_type: "TClonesArray".into(),
                plan: Ok(Plan::Fixed {
                    elem: Elem::I32,
                    dims: vec![],
                }),
                group: false,
            };
        }
        let rt = member_type(b, streamers).unwrap_or(class);
        return Typed {
            root_type: rt,
            plan: Err("split object: its members are separate branches".into()),
            group: true,
        };
    }
    if let Some(cls) = &b.object_class {
        return Typed {
            root_type: cls.clone(),
            plan: Err(format!(
                "object of class {cls} (TBranchObject) is not decoded"
            )),
            group: false,
        };
    }
    let leaves: Vec<&LeafMeta> = b
        .leaves
        .iter()
        .filter_map(|&l| tree.leaves.get(l))
        .collect();
    match leaves.as_slice() {
        [] => Typed {
            root_type: String::new(),
            plan: Err("branch has no leaves".into()),
            group: false,
        },
        [leaf] => classify_one(tree, b, leaf, streamers),
        many => {
            let mut fields = Vec::new();
            let mut names = Vec::new();
            for l in many {
                let Some(e) = leaf_class_elem(l) else {
                    return Typed {
                        root_type: "leaf-list".into(),
                        plan: Err(format!(
                            "leaf-list member {} of class {} is not numeric",
                            l.name, l.class
                        )),
                        group: false,
                    };
                };
                if l.leaf_count.is_some() {
                    return Typed {
                        root_type: "leaf-list".into(),
                        plan: Err("leaf-list with a variable-length member".into()),
                        group: false,
                    };
                }
                names.push(format!("{}/{}", l.title, leaf_code(e)));
                fields.push((l.name.clone(), e, title_dims_strict(l)));
            }
            Typed {
                root_type: names.join(":"),
                plan: Ok(Plan::LeafList { fields }),
                group: false,
            }
        }
    }
}

fn leaf_code(e: Elem) -> &'static str {
    match e {
        Elem::Bool => "O",
        Elem::I8 => "B",
        Elem::U8 => "b",
        Elem::I16 => "S",
        Elem::U16 => "s",
        Elem::I32 => "I",
        Elem::U32 => "i",
        Elem::I64 => "L",
        Elem::U64 => "l",
        Elem::F32 => "F",
        _ => "D",
    }
}

/// Dimensions of a leaf-list member: only the bracket groups written in its title.
fn title_dims_strict(leaf: &LeafMeta) -> Vec<usize> {
    let mut l = leaf.clone();
    l.len = 1;
    title_dims(&l)
}

/// The streamer element type name of a member branch, if the streamers know it.
fn member_type(b: &BranchMeta, streamers: Option<&Streamers>) -> Option<String> {
    let e = b.element.as_ref()?;
    let s = streamers?.element(&e.class_name, e.id)?;
    Some(s.type_name.clone())
}

fn member_title(b: &BranchMeta, streamers: Option<&Streamers>) -> Option<String> {
    let e = b.element.as_ref()?;
    let s = streamers?.element(&e.class_name, e.id)?;
    Some(s.title.clone())
}

fn classify_one(
    tree: &TreeMeta,
    b: &BranchMeta,
    leaf: &LeafMeta,
    streamers: Option<&Streamers>,
) -> Typed {
    let el = b.element.as_ref();
    let counter = leaf.leaf_count.and_then(|lc| owner_of_leaf(tree, lc));
    // numeric leaves
    let mut header = 0;
    let mut elem = leaf_class_elem(leaf);
    if elem.is_none() {
        match leaf.class.as_str() {
            "TLeafF16" => elem = Some(float16_double32(&leaf.title, false)),
            "TLeafD32" => elem = Some(float16_double32(&leaf.title, true)),
            "TLeafElement" => {
                let mut code = leaf.ftype;
                if (21..40).contains(&code) {
                    code -= 20;
                } else if (41..60).contains(&code) {
                    code -= 40;
                    header = 1;
                }
                elem = match code {
                    9 | 19 => {
                        let title = member_title(b, streamers).unwrap_or_default();
                        Some(float16_double32(&title, code == 9))
                    }
                    _ => basic_code(code),
                };
                // a member declared bool but coded as unsigned char
                if elem == Some(Elem::U8)
                    && member_type(b, streamers).is_some_and(|t| t == "bool" || t == "Bool_t")
                {
                    elem = Some(Elem::Bool);
                }
            }
            _ => {}
        }
    }
    if let Some(elem) = elem {
        let dims = title_dims(leaf);
        let root_type = leaf_type_name(leaf, elem);
        let in_collection = el.is_some_and(|e| e.ftype == 31 || e.ftype == 41);
        if in_collection && leaf.ftype % 20 == 15 {
            return Typed {
                root_type: leaf_type_name(leaf, elem),
                plan: Err(
                    "TObject::fBits in a collection (items carry optional process ids)".into(),
                ),
                group: false,
            };
        }
        let jagged = leaf.leaf_count.is_some() || header == 1 || in_collection;
        let counter = counter.or_else(|| el.and_then(|e| e.branch_count));
        let plan = if jagged {
            Plan::Jagged {
                elem,
                dims,
                header,
                counter,
            }
        } else {
            Plan::Fixed { elem, dims }
        };
        return Typed {
            root_type,
            plan: Ok(plan),
            group: false,
        };
    }
    if el.is_some_and(|e| e.streamer_type == 65) {
        return Typed {
            root_type: "TString".into(),
            plan: Ok(Plan::Str { header: 0 }),
            group: false,
        };
    }
    if leaf.class == "TLeafC" {
        return Typed {
            root_type: "char*".into(),
            plan: Ok(Plan::Str { header: 0 }),
            group: false,
        };
    }
    let Some(e) = el else {
        return Typed {
            root_type: leaf.class.clone(),
            plan: Err(format!("leaf class {} is not decoded", leaf.class)),
            group: false,
        };
    };
    let top_level = b.parent.is_none();
    let type_name = if top_level && e.id < 0 {
        Some(canonical(&e.class_name))
    } else {
        member_type(b, streamers)
    };
    let Some(type_name) = type_name else {
        return Typed {
            root_type: e.class_name.clone(),
            plan: Err("member type unknown (no streamer information)".into()),
            group: false,
        };
    };
    if e.ftype == 31 || e.ftype == 41 {
        return Typed {
            root_type: type_name.clone(),
            plan: Err(format!(
                "{type_name} inside a split collection is not decoded yet"
            )),
            group: false,
        };
    }
    let is_top_string = top_level && e.id < 0;
    Typed {
        plan: stl_plan(&type_name, is_top_string),
        root_type: type_name,
        group: false,
    }
}

fn owner_of_leaf(tree: &TreeMeta, leaf: usize) -> Option<usize> {
    tree.branches.iter().position(|b| b.leaves.contains(&leaf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("[0, 1, 8]"), Some((0.0, 1.0, Some(8))));
        let (lo, hi, b) = parse_range("x[-pi, 2*pi]").unwrap_or_default();
        assert!((lo + std::f64::consts::PI).abs() < 1e-12);
        assert!((hi - 2.0 * std::f64::consts::PI).abs() < 1e-12);
        assert_eq!(b, None);
        assert_eq!(parse_range("no range"), None);
        assert_eq!(parse_range("[3]"), None);
        assert_eq!(parse_range("[1e-3, 1.5e+2]"), Some((1e-3, 150.0, None)));
    }

    #[test]
    fn cpp_names() {
        assert_eq!(
            stl_plan("std::vector<std::vector<float> >", true),
            Ok(Plan::VecVec { elem: Elem::F32 })
        );
        assert_eq!(stl_plan("vector<string>", true), Ok(Plan::VecStr));
        assert!(stl_plan("map<int,int>", true).is_err());
        assert_eq!(stl_plan("string", false), Ok(Plan::Str { header: 6 }));
    }

    #[test]
    fn dims() {
        let leaf = LeafMeta {
            title: "x[3][4]".into(),
            len: 12,
            ..Default::default()
        };
        assert_eq!(title_dims(&leaf), vec![3, 4]);
        let leaf = LeafMeta {
            title: "x[n][2]".into(),
            len: 2,
            ..Default::default()
        };
        assert_eq!(title_dims(&leaf), vec![2]);
        let leaf = LeafMeta {
            title: "x".into(),
            len: 5,
            ..Default::default()
        };
        assert_eq!(title_dims(&leaf), vec![5]);
    }
}
