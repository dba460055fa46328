//! `OPTIONS ('collections' 'zip')`: NanoAOD collections as lists of structs.
//!
//! NanoAOD stores a collection `Jet` as a counter branch `nJet` and one jagged branch per
//! member (`Jet_pt[nJet]`, `Jet_eta[nJet]`, …). Zipped, the members become one column
//! `Jet: List<Struct<pt, eta, …>>`, so `Jet[1].pt` or `unnest(Jet)` see whole objects — what
//! coffea's NanoEvents and uproot's `arrays(how="zip")` give Python users.
//!
//! The rule is NanoAOD's naming convention: the list-typed branches `X_member` of a tree that
//! also has a branch `nX` form the collection `X`, placed where its first member was. The
//! counter `nX` stays a column. Members of one collection must hold the same number of items
//! in every entry; a file where they do not is an error naming both branches.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, ListArray, StructArray, new_null_array};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema};
use datafusion::common::{DataFusionError, Result};

/// Where one table column comes from in a file's tree schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A branch (its index in the tree schema), or `None` when this file lacks it.
    Branch(Option<usize>),
    /// A zipped collection: for each struct member of the table's column, the member branch's
    /// index in the tree schema (`None`: this file lacks it, its values read as NULL).
    Collection(Vec<Option<usize>>),
}

/// The collection prefix `X` of a list branch `X_member` when the schema has a branch `nX`.
fn collection_of<'a>(
    name: &'a str,
    field: &Field,
    names: &HashMap<&str, usize>,
) -> Option<(&'a str, &'a str)> {
    if !matches!(field.data_type(), DataType::List(_)) {
        return None;
    }
    let (prefix, member) = name.split_once('_')?;
    if prefix.is_empty() || member.is_empty() {
        return None;
    }
    names
        .contains_key(format!("n{prefix}").as_str())
        .then_some((prefix, member))
}

/// The zipped form of a tree schema: collection members folded into `List<Struct>` columns.
pub(crate) fn zip_schema(schema: &Schema) -> Schema {
    let names: HashMap<&str, usize> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name().as_str(), i))
        .collect();
    enum Column {
        Plain(FieldRef),
        Collection(String, Vec<FieldRef>),
    }
    // Output order: each collection at its first member's position.
    let mut order: Vec<Column> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for field in schema.fields() {
        let zipped = collection_of(field.name(), field, &names);
        let (Some((prefix, member)), DataType::List(item)) = (zipped, field.data_type()) else {
            order.push(Column::Plain(Arc::clone(field)));
            continue;
        };
        let child: FieldRef = Arc::new(Field::new(
            member,
            item.data_type().clone(),
            item.is_nullable(),
        ));
        match at.get(prefix).and_then(|&i| order.get_mut(i)) {
            Some(Column::Collection(_, children)) => children.push(child),
            _ => {
                at.insert(prefix.to_string(), order.len());
                order.push(Column::Collection(prefix.to_string(), vec![child]));
            }
        }
    }
    let fields: Vec<FieldRef> = order
        .into_iter()
        .map(|column| match column {
            Column::Plain(field) => field,
            Column::Collection(prefix, children) => {
                let item = Field::new_list_field(DataType::Struct(Fields::from(children)), true);
                Arc::new(Field::new(prefix, DataType::List(Arc::new(item)), true))
            }
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

/// For each column of `table` (the table schema, projected), where this file's tree schema
/// holds it; with `zip`, list-of-struct columns that are not branches themselves are zipped
/// collections. Types must match: a branch of another type is an error naming it.
pub(crate) fn sources(tree: &Schema, table: &Schema, zip: bool, file: &str) -> Result<Vec<Source>> {
    let index = |name: &str, want: &DataType| -> Result<Option<usize>> {
        match tree.index_of(name) {
            Ok(i) => {
                let have = tree.field(i).data_type();
                if have == want {
                    Ok(Some(i))
                } else {
                    Err(DataFusionError::Execution(format!(
                        "'{file}': branch '{name}' is {have} here but {want} in the table"
                    )))
                }
            }
            Err(_) => Ok(None),
        }
    };
    table
        .fields()
        .iter()
        .map(|field| match zipped_members(field) {
            Some(members) if zip && tree.index_of(field.name()).is_err() => {
                let members = members
                    .iter()
                    .map(|m| {
                        let want = DataType::List(Arc::new(Field::new_list_field(
                            m.data_type().clone(),
                            m.is_nullable(),
                        )));
                        index(&format!("{}_{}", field.name(), m.name()), &want)
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Source::Collection(members))
            }
            _ => Ok(Source::Branch(index(field.name(), field.data_type())?)),
        })
        .collect()
}

/// The struct members of a zipped collection column, or `None` for any other column.
fn zipped_members(field: &Field) -> Option<&Fields> {
    match field.data_type() {
        DataType::List(item) => match item.data_type() {
            DataType::Struct(children) if !children.is_empty() => Some(children),
            _ => None,
        },
        _ => None,
    }
}

/// Builds the collection column `field` from its member branches' list arrays (`None`: the
/// file lacks that member). All present members must have identical offsets.
pub(crate) fn assemble(
    field: &Field,
    members: Vec<Option<ArrayRef>>,
    rows: usize,
    file: &str,
) -> Result<ArrayRef> {
    let Some(children) = zipped_members(field) else {
        return Err(DataFusionError::Internal(format!(
            "column '{}' is not a zipped collection",
            field.name()
        )));
    };
    let mut offsets: Option<(OffsetBuffer<i32>, String)> = None;
    let mut lists: Vec<Option<ListArray>> = Vec::with_capacity(members.len());
    for (member, child) in members.into_iter().zip(children.iter()) {
        let name = format!("{}_{}", field.name(), child.name());
        let Some(array) = member else {
            lists.push(None);
            continue;
        };
        let list = array
            .as_any()
            .downcast_ref::<ListArray>()
            .ok_or_else(|| {
                DataFusionError::Execution(format!("'{file}': branch '{name}' is not a list"))
            })?
            .clone();
        match &offsets {
            None => offsets = Some((list.offsets().clone(), name)),
            Some((first, first_name)) => {
                if first != list.offsets() {
                    let row = first
                        .lengths()
                        .zip(list.offsets().lengths())
                        .position(|(a, b)| a != b)
                        .unwrap_or(0);
                    let counts = (
                        first.lengths().nth(row).unwrap_or(0),
                        list.offsets().lengths().nth(row).unwrap_or(0),
                    );
                    return Err(DataFusionError::Execution(format!(
                        "'{file}': cannot zip collection '{}': in entry {row} of this batch \
                         '{first_name}' has {} items but '{name}' has {}",
                        field.name(),
                        counts.0,
                        counts.1
                    )));
                }
            }
        }
        lists.push(Some(list));
    }
    let Some((offsets, _)) = offsets else {
        // No member in this file: the whole collection reads as NULL.
        return Ok(new_null_array(field.data_type(), rows));
    };
    let items = offsets.last().copied().unwrap_or(0).max(0) as usize;
    let columns: Vec<ArrayRef> = lists
        .into_iter()
        .zip(children.iter())
        .map(|(list, child)| match list {
            Some(list) => {
                let start = list.value_offsets().first().copied().unwrap_or(0).max(0) as usize;
                list.values().slice(start, items)
            }
            None => new_null_array(child.data_type(), items),
        })
        .collect();
    let structs = StructArray::try_new(children.clone(), columns, None)?;
    let DataType::List(item) = field.data_type() else {
        return Err(DataFusionError::Internal(
            "zipped column is not a list".into(),
        ));
    };
    // Rebase the offsets to start at zero (the member values were sliced from there).
    let base = offsets.first().copied().unwrap_or(0);
    let rebased = OffsetBuffer::new(
        offsets
            .iter()
            .map(|o| o - base)
            .collect::<Vec<i32>>()
            .into(),
    );
    Ok(Arc::new(ListArray::try_new(
        Arc::clone(item),
        rebased,
        Arc::new(structs),
        None,
    )?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use datafusion::arrow::array::Float32Array;

    fn list(values: Vec<f32>, offsets: Vec<i32>) -> ArrayRef {
        Arc::new(ListArray::new(
            Arc::new(Field::new_list_field(DataType::Float32, true)),
            OffsetBuffer::new(offsets.into()),
            Arc::new(Float32Array::from(values)),
            None,
        ))
    }

    fn nano() -> Schema {
        let l = DataType::List(Arc::new(Field::new_list_field(DataType::Float32, true)));
        Schema::new(vec![
            Field::new("run", DataType::Int32, false),
            Field::new("nJet", DataType::UInt32, false),
            Field::new("Jet_pt", l.clone(), true),
            Field::new("MET_pt", DataType::Float32, false),
            Field::new("Jet_eta", l.clone(), true),
            Field::new("Tau_pt", l, true), // no nTau: stays a plain list
        ])
    }

    #[test]
    fn zips_members_of_counted_collections_in_place() {
        let zipped = zip_schema(&nano());
        let names: Vec<&str> = zipped.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["run", "nJet", "Jet", "MET_pt", "Tau_pt"]);
        let members = zipped_members(zipped.field(2)).unwrap();
        let member_names: Vec<&str> = members.iter().map(|f| f.name().as_str()).collect();
        assert_eq!(member_names, ["pt", "eta"]);
        assert!(zipped_members(zipped.field(4)).is_none());
    }

    #[test]
    fn assembles_list_of_struct_and_rejects_unequal_counts() {
        let zipped = zip_schema(&nano());
        let field = zipped.field(2);
        let pt = list(vec![1.0, 2.0, 3.0], vec![0, 2, 2, 3]);
        let eta = list(vec![0.1, 0.2, 0.3], vec![0, 2, 2, 3]);
        let jets = assemble(field, vec![Some(pt.clone()), Some(eta)], 3, "f.root").unwrap();
        let jets = jets.as_any().downcast_ref::<ListArray>().unwrap();
        assert_eq!(jets.value_length(0), 2);
        assert_eq!(jets.value_length(1), 0);
        let first = jets.value(2);
        let s = first.as_any().downcast_ref::<StructArray>().unwrap();
        let eta = s.column(1).as_any().downcast_ref::<Float32Array>().unwrap();
        assert_eq!(eta.value(0), 0.3);

        let bad = list(vec![0.1, 0.2, 0.3], vec![0, 1, 2, 3]);
        let err = assemble(field, vec![Some(pt), Some(bad)], 3, "f.root").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("'Jet_pt' has 2 items but 'Jet_eta' has 1"),
            "{msg}"
        );
        assert!(msg.contains("f.root"), "{msg}");
    }

    #[test]
    fn sources_map_members_and_missing_branches() {
        let tree = nano();
        let table = zip_schema(&tree);
        let got = sources(&tree, &table, true, "f.root").unwrap();
        assert_eq!(
            got,
            vec![
                Source::Branch(Some(0)),
                Source::Branch(Some(1)),
                Source::Collection(vec![Some(2), Some(4)]),
                Source::Branch(Some(3)),
                Source::Branch(Some(5)),
            ]
        );
        // A file without Jet_eta: that member reads as NULL.
        let fewer = Schema::new(
            tree.fields()
                .iter()
                .filter(|f| f.name() != "Jet_eta")
                .cloned()
                .collect::<Vec<_>>(),
        );
        let got = sources(&fewer, &table, true, "g.root").unwrap();
        assert_eq!(got[2], Source::Collection(vec![Some(2), None]));
    }
}
