//! The field tree and what each field becomes in Arrow: a [`Plan`] per top-level field, or the
//! reason it cannot be read.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, UnionFields, UnionMode};

use crate::column::{ColumnSpec, ColumnType};
use crate::meta::{ROLE_COLLECTION, ROLE_LEAF, ROLE_RECORD, ROLE_STREAMER, ROLE_VARIANT, Schema};

/// The Arrow primitive a leaf decodes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leaf {
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
}

impl Leaf {
    fn from_type(t: &str) -> Option<Leaf> {
        Some(match t {
            "bool" => Leaf::Bool,
            "char" | "std::int8_t" => Leaf::I8,
            "std::byte" | "std::uint8_t" => Leaf::U8,
            "std::int16_t" => Leaf::I16,
            "std::uint16_t" => Leaf::U16,
            "std::int32_t" => Leaf::I32,
            "std::uint32_t" => Leaf::U32,
            "std::int64_t" => Leaf::I64,
            "std::uint64_t" => Leaf::U64,
            "float" => Leaf::F32,
            "double" => Leaf::F64,
            _ => return None,
        })
    }

    pub(crate) fn data_type(self) -> DataType {
        match self {
            Leaf::Bool => DataType::Boolean,
            Leaf::I8 => DataType::Int8,
            Leaf::U8 => DataType::UInt8,
            Leaf::I16 => DataType::Int16,
            Leaf::U16 => DataType::UInt16,
            Leaf::I32 => DataType::Int32,
            Leaf::U32 => DataType::UInt32,
            Leaf::I64 => DataType::Int64,
            Leaf::U64 => DataType::UInt64,
            Leaf::F32 => DataType::Float32,
            Leaf::F64 => DataType::Float64,
        }
    }

    fn accepts(self, ty: ColumnType) -> bool {
        match self {
            Leaf::F32 | Leaf::F64 => ty.is_real(),
            _ => ty.is_integer(),
        }
    }
}

/// What a column slot decodes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Leaf(Leaf),
    /// Cluster-relative end offsets.
    Index,
    /// Bytes of a string.
    Chars,
    Switch,
}

/// How one field is assembled.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Leaf(Leaf),
    String,
    /// A projected `RNTupleCardinality<SizeT>`: lengths of a collection.
    Cardinality {
        wide: bool,
    },
    List(Box<Plan>),
    Optional(Box<Plan>),
    Array(Box<Plan>, usize),
    /// `std::bitset<N>`: one bit column, N bits per entry.
    Bitset(usize),
    Struct(Vec<(String, Plan)>),
    Variant(Vec<Plan>),
}

/// A field's decoding plan.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) field: usize,
    pub(crate) kind: Kind,
    /// Physical column IDs per representation; every representation has one column per slot.
    pub(crate) reprs: Vec<Vec<usize>>,
    pub(crate) data_type: DataType,
    pub(crate) nullable: bool,
}

impl Plan {
    /// The decoding target of each column slot.
    pub(crate) fn targets(&self) -> Vec<Target> {
        match &self.kind {
            Kind::Leaf(l) => vec![Target::Leaf(*l)],
            Kind::String => vec![Target::Index, Target::Chars],
            Kind::Cardinality { .. } | Kind::List(_) | Kind::Optional(_) => vec![Target::Index],
            Kind::Bitset(_) => vec![Target::Leaf(Leaf::Bool)],
            Kind::Variant(_) => vec![Target::Switch],
            Kind::Array(..) | Kind::Struct(_) => vec![],
        }
    }

    /// Calls `f` for this plan and every plan below it.
    pub(crate) fn visit<'a>(&'a self, f: &mut impl FnMut(&'a Plan)) {
        f(self);
        match &self.kind {
            Kind::List(c) | Kind::Optional(c) | Kind::Array(c, _) => c.visit(f),
            Kind::Struct(cs) => cs.iter().for_each(|(_, c)| c.visit(f)),
            Kind::Variant(cs) => cs.iter().for_each(|c| c.visit(f)),
            _ => {}
        }
    }
}

/// The field tree with each field's columns.
pub(crate) struct Tree<'a> {
    pub(crate) schema: &'a Schema,
    pub(crate) children: Vec<Vec<usize>>,
    /// (physical column ID, representation index) per field, in column order.
    pub(crate) columns: Vec<Vec<(usize, u16)>>,
    pub(crate) top: Vec<usize>,
}

impl<'a> Tree<'a> {
    pub(crate) fn new(schema: &'a Schema) -> Result<Tree<'a>, String> {
        let n = schema.fields.len();
        let mut children = vec![Vec::new(); n];
        let mut top = Vec::new();
        for (i, f) in schema.fields.iter().enumerate() {
            let p = f.parent as usize;
            if p == i {
                top.push(i);
            } else if p < n && p != i {
                children[p].push(i);
            } else {
                return Err(format!(
                    "field {i} ({:?}) names parent {p} of {n} fields",
                    f.name
                ));
            }
        }
        let mut columns = vec![Vec::new(); n];
        for (c, col) in schema.columns.iter().enumerate() {
            let f = col.field as usize;
            if f >= n {
                return Err(format!("column {c} names field {f} of {n}"));
            }
            columns[f].push((c, col.repr));
        }
        for a in &schema.aliases {
            let (f, p) = (a.field as usize, a.physical as usize);
            let Some(col) = schema.columns.get(p) else {
                return Err(format!("an alias column names physical column {p}"));
            };
            if f >= n {
                return Err(format!("an alias column names field {f} of {n}"));
            }
            columns[f].push((p, col.repr));
        }
        // a cycle in the parent links would recurse forever: check every field reaches a root
        for i in 0..n {
            let mut at = i;
            let mut steps = 0;
            while schema.fields[at].parent as usize != at {
                at = schema.fields[at].parent as usize;
                steps += 1;
                if steps > n {
                    return Err(format!("field {i}'s parents form a cycle"));
                }
            }
        }
        Ok(Tree {
            schema,
            children,
            columns,
            top,
        })
    }

    /// The column IDs of field `id` grouped by representation, checked for `slots` columns each.
    fn reprs(&self, id: usize, slots: usize) -> Result<Vec<Vec<usize>>, String> {
        let cols = &self.columns[id];
        let n_reprs = cols.iter().map(|(_, r)| *r as usize + 1).max().unwrap_or(0);
        let mut out = vec![Vec::new(); n_reprs];
        for &(c, r) in cols {
            out[r as usize].push(c);
        }
        if slots == 0 {
            return if out.is_empty() {
                Ok(out)
            } else {
                Err("has columns where none are expected".into())
            };
        }
        if out.is_empty() {
            return Err("has no columns".into());
        }
        for (r, cs) in out.iter().enumerate() {
            if cs.len() != slots {
                return Err(format!(
                    "representation {r} has {} columns, expected {slots}",
                    cs.len()
                ));
            }
        }
        Ok(out)
    }

    fn spec(&self, c: usize) -> Result<ColumnSpec, String> {
        let rec = &self.schema.columns[c];
        let ty = ColumnType::from_code(rec.ty)
            .ok_or_else(|| format!("column {c} has unknown column type {:#x}", rec.ty))?;
        let spec = ColumnSpec {
            ty,
            bits: rec.bits,
            range: rec.range,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks that every column of every representation suits the slot targets.
    fn check_columns(&self, reprs: &[Vec<usize>], targets: &[Target]) -> Result<(), String> {
        for cs in reprs {
            for (&c, t) in cs.iter().zip(targets) {
                let s = self.spec(c)?;
                let ok = match t {
                    Target::Leaf(l) => l.accepts(s.ty),
                    Target::Index => s.ty.is_index(),
                    Target::Chars => matches!(s.ty, ColumnType::Char),
                    Target::Switch => matches!(s.ty, ColumnType::Switch),
                };
                if !ok {
                    return Err(format!("column type {} is not expected here", s.ty.name()));
                }
            }
        }
        Ok(())
    }

    /// Plans field `id`, or says why it cannot be read. `depth` bounds the recursion.
    pub(crate) fn plan(&self, id: usize, depth: usize) -> Result<Plan, String> {
        if depth > 64 {
            return Err("fields nested more than 64 deep".into());
        }
        let f = &self.schema.fields[id];
        let ty = f.type_name.as_str();
        let kids = &self.children[id];
        let child = |i: usize| -> Result<Plan, String> {
            let c = kids[i];
            self.plan(c, depth + 1).map_err(|e| {
                format!(
                    "subfield {:?} ({}): {e}",
                    self.schema.fields[c].name, self.schema.fields[c].type_name
                )
            })
        };
        let build =
            |kind: Kind, slots: usize, dt: DataType, nullable: bool| -> Result<Plan, String> {
                let plan = Plan {
                    field: id,
                    kind,
                    reprs: Vec::new(),
                    data_type: dt,
                    nullable,
                };
                let reprs = self.reprs(id, slots)?;
                self.check_columns(&reprs, &plan.targets())?;
                Ok(Plan { reprs, ..plan })
            };
        let item = |p: &Plan| Arc::new(Field::new_list_field(p.data_type.clone(), true));
        match f.role {
            ROLE_LEAF if f.repetitive => {
                let n = usize::try_from(f.array_size)
                    .ok()
                    .filter(|&n| n > 0 && n <= i32::MAX as usize)
                    .ok_or_else(|| format!("array size {} is out of range", f.array_size))?;
                if kids.is_empty() {
                    let dt = DataType::FixedSizeList(
                        Arc::new(Field::new_list_field(DataType::Boolean, true)),
                        n as i32,
                    );
                    return build(Kind::Bitset(n), 1, dt, false);
                }
                if kids.len() != 1 {
                    return Err(format!("a fixed-size array with {} subfields", kids.len()));
                }
                let c = child(0)?;
                let dt = DataType::FixedSizeList(item(&c), n as i32);
                build(Kind::Array(Box::new(c), n), 0, dt, false)
            }
            ROLE_LEAF => {
                if ty.starts_with("ROOT::RNTupleCardinality<") {
                    let wide = ty.contains("uint64_t");
                    let dt = if wide {
                        DataType::UInt64
                    } else {
                        DataType::UInt32
                    };
                    return build(Kind::Cardinality { wide }, 1, dt, false);
                }
                if ty == "std::string" {
                    return build(Kind::String, 2, DataType::Utf8, false);
                }
                if let Some(l) = Leaf::from_type(ty) {
                    return build(Kind::Leaf(l), 1, l.data_type(), false);
                }
                // std::atomic<T> and enums: no columns, one subfield holding the value
                if self.columns[id].is_empty() && kids.len() == 1 {
                    return child(0);
                }
                Err(format!("leaf type {ty:?} is not supported"))
            }
            ROLE_COLLECTION => {
                let optional =
                    ty.starts_with("std::optional<") || ty.starts_with("std::unique_ptr<");
                if kids.len() == 1 {
                    let c = child(0)?;
                    if optional {
                        let dt = c.data_type.clone();
                        return build(Kind::Optional(Box::new(c)), 1, dt, true);
                    }
                    let dt = DataType::List(item(&c));
                    return build(Kind::List(Box::new(c)), 1, dt, false);
                }
                // an untyped collection of several subfields: a list of records
                let rec = self.record_of(id, kids, depth)?;
                let dt = DataType::List(item(&rec));
                build(Kind::List(Box::new(rec)), 1, dt, false)
            }
            ROLE_RECORD => {
                let members = self.members(id, depth)?;
                let fields: Fields = members
                    .iter()
                    .map(|(n, p)| Field::new(n, p.data_type.clone(), p.nullable))
                    .collect();
                build(Kind::Struct(members), 0, DataType::Struct(fields), false)
            }
            ROLE_VARIANT => {
                if kids.is_empty() || kids.len() > 125 {
                    return Err(format!("a variant with {} alternatives", kids.len()));
                }
                let alts = (0..kids.len()).map(child).collect::<Result<Vec<_>, _>>()?;
                let mut ids = vec![0i8];
                let mut fields = vec![Field::new("null", DataType::Null, true)];
                for (i, a) in alts.iter().enumerate() {
                    ids.push(i as i8 + 1);
                    fields.push(Field::new(
                        self.schema.fields[kids[i]].name.clone(),
                        a.data_type.clone(),
                        true,
                    ));
                }
                let uf = UnionFields::try_new(ids, fields).map_err(|e| e.to_string())?;
                build(
                    Kind::Variant(alts),
                    1,
                    DataType::Union(uf, UnionMode::Dense),
                    false,
                )
            }
            ROLE_STREAMER => Err(
                "objects stored with the ROOT streamer (streamer field) are not supported".into(),
            ),
            r => Err(format!("unknown structural role {r}")),
        }
    }

    /// A record built from the subfields of a field (an untyped collection's items).
    fn record_of(&self, id: usize, kids: &[usize], depth: usize) -> Result<Plan, String> {
        if kids.len() == 1 && self.schema.fields[kids[0]].role == ROLE_RECORD {
            let c = kids[0];
            return self
                .plan(c, depth + 1)
                .map_err(|e| format!("subfield {:?}: {e}", self.schema.fields[c].name));
        }
        let members = self.members(id, depth)?;
        let fields: Fields = members
            .iter()
            .map(|(n, p)| Field::new(n, p.data_type.clone(), p.nullable))
            .collect();
        Ok(Plan {
            field: id,
            kind: Kind::Struct(members),
            reprs: Vec::new(),
            data_type: DataType::Struct(fields),
            nullable: false,
        })
    }

    /// A record's members, with base classes (`:_0`, ...) flattened into it. Members that share
    /// a name after flattening are prefixed with the base classes they come through, outermost
    /// first (`Child::base_a1`), as few as make the names unique.
    fn members(&self, id: usize, depth: usize) -> Result<Vec<(String, Plan)>, String> {
        let mut found: Vec<(String, Vec<String>, Plan)> = Vec::new();
        let mut stack: Vec<(usize, Vec<String>)> = self.children[id]
            .iter()
            .rev()
            .map(|&c| (c, Vec::new()))
            .collect();
        let mut steps = 0;
        while let Some((c, chain)) = stack.pop() {
            steps += 1;
            if steps > self.schema.fields.len() {
                return Err("record members form a cycle".into());
            }
            let cf = &self.schema.fields[c];
            if cf.name.starts_with(':') && cf.role == ROLE_RECORD {
                let mut inner = chain.clone();
                inner.push(cf.type_name.clone());
                stack.extend(self.children[c].iter().rev().map(|&k| (k, inner.clone())));
                continue;
            }
            let p = self
                .plan(c, depth + 1)
                .map_err(|e| format!("member {:?} ({}): {e}", cf.name, cf.type_name))?;
            found.push((cf.name.clone(), chain, p));
        }
        let mut names: Vec<String> = found.iter().map(|(n, _, _)| n.clone()).collect();
        let longest = found.iter().map(|(_, c, _)| c.len()).max().unwrap_or(0);
        for k in 1..=longest {
            let dup: Vec<usize> = (0..names.len())
                .filter(|&i| names.iter().filter(|n| **n == names[i]).count() > 1)
                .collect();
            if dup.is_empty() {
                break;
            }
            for i in dup {
                let (name, chain, _) = &found[i];
                let take = k.min(chain.len());
                names[i] = if take == 0 {
                    name.clone()
                } else {
                    format!("{}::{name}", chain[..take].join("::"))
                };
            }
        }
        let mut seen = std::collections::HashSet::new();
        for n in &names {
            if !seen.insert(n.as_str()) {
                return Err(format!("member name {n:?} appears twice"));
            }
        }
        Ok(names
            .into_iter()
            .zip(found)
            .map(|(n, (_, _, p))| (n, p))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::meta::{ColumnRec, FieldRec};

    fn field(parent: u32, role: u16, name: &str, ty: &str) -> FieldRec {
        FieldRec {
            parent,
            role,
            name: name.into(),
            type_name: ty.into(),
            type_alias: String::new(),
            description: String::new(),
            array_size: 0,
            repetitive: false,
            source: None,
        }
    }

    fn column(ty: u16, bits: u16, field: u32) -> ColumnRec {
        ColumnRec {
            ty,
            bits,
            field,
            repr: 0,
            first_element: 0,
            range: None,
        }
    }

    #[test]
    fn unsupported_fields_say_why_and_others_still_plan() {
        let schema = Schema {
            fields: vec![
                field(0, ROLE_STREAMER, "obj", "TLorentzVector"),
                field(1, ROLE_LEAF, "x", "float"),
                field(2, ROLE_LEAF, "weird", "long double"),
                field(3, ROLE_LEAF, "bad_col", "float"),
                field(4, ROLE_COLLECTION, "v", "std::vector<TLorentzVector>"),
                field(4, ROLE_STREAMER, "_0", "TLorentzVector"),
            ],
            columns: vec![
                column(0x0E, 32, 0),
                column(0x01, 8, 0),
                column(0x0C, 32, 1),
                column(0x0C, 32, 2),
                column(0x07, 32, 3), // an Int32 column under a float field
                column(0x0F, 64, 4),
            ],
            aliases: vec![],
        };
        let tree = Tree::new(&schema).unwrap();
        assert_eq!(tree.top, [0, 1, 2, 3, 4]);
        assert!(tree.plan(0, 0).unwrap_err().contains("streamer"));
        let x = tree.plan(1, 0).unwrap();
        assert_eq!(x.data_type, DataType::Float32);
        assert!(tree.plan(2, 0).unwrap_err().contains("long double"));
        assert!(tree.plan(3, 0).unwrap_err().contains("Int32"));
        let e = tree.plan(4, 0).unwrap_err();
        assert!(e.contains("_0") && e.contains("streamer"), "{e}");
        // a parent cycle is refused
        let mut cyclic = schema.clone();
        cyclic.fields[1].parent = 2;
        cyclic.fields[2].parent = 1;
        assert!(Tree::new(&cyclic).is_err());
    }
}
