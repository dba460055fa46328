//! The SQL function reference, generated from each function's `#[user_doc]` documentation.
//!
//! `udfs/docs/sql-functions.md` is this module's [`render_reference`] output; a unit test fails
//! when the committed page is stale. Regenerate it with
//! `HEPQ_UPDATE_DOCS=1 cargo test --workspace --lib docs::` and review the diff.

use std::collections::BTreeMap;
use std::fmt::Write;

use datafusion::logical_expr::Documentation;

use crate::{all_aggregate_functions, all_scalar_functions};

/// One documented function: its name, aliases, kind and documentation.
struct Entry<'a> {
    name: String,
    aliases: Vec<String>,
    kind: &'static str,
    doc: &'a Documentation,
}

/// Renders the whole reference page (Markdown).
pub fn render_reference() -> String {
    let scalars = all_scalar_functions();
    let aggregates = all_aggregate_functions();
    let mut entries: Vec<Entry<'_>> = Vec::new();
    for udf in &scalars {
        if let Some(doc) = udf.documentation() {
            entries.push(Entry {
                name: udf.name().to_string(),
                aliases: udf.aliases().to_vec(),
                kind: "scalar",
                doc,
            });
        }
    }
    for udaf in &aggregates {
        if let Some(doc) = udaf.documentation() {
            entries.push(Entry {
                name: udaf.name().to_string(),
                aliases: udaf.aliases().to_vec(),
                kind: "aggregate",
                doc,
            });
        }
    }
    for (name, doc) in crate::hist::table_function_docs() {
        entries.push(Entry {
            name: name.to_string(),
            aliases: Vec::new(),
            kind: "table",
            doc,
        });
    }
    // Functions of one family share one `Documentation` (e.g. the element-wise operators):
    // they are rendered once, under all their names.
    let mut groups: Vec<Group<'_>> = Vec::new();
    for entry in &entries {
        match groups
            .iter_mut()
            .find(|g| std::ptr::eq(g.doc, entry.doc) && g.kind == entry.kind)
        {
            Some(group) => {
                group.names.push(entry.name.clone());
                group.aliases.extend(entry.aliases.iter().cloned());
            }
            None => groups.push(Group {
                names: vec![entry.name.clone()],
                aliases: entry.aliases.clone(),
                kind: entry.kind,
                doc: entry.doc,
            }),
        }
    }
    for group in &mut groups {
        group.names.sort();
        group.aliases.sort();
    }
    // Sections in first-seen order of their label, functions sorted by name inside each.
    let mut order: Vec<String> = Vec::new();
    let mut sections: BTreeMap<String, Vec<&Group<'_>>> = BTreeMap::new();
    for group in &groups {
        let label = group.doc.doc_section.label.to_string();
        if !order.contains(&label) {
            order.push(label.clone());
        }
        sections.entry(label).or_default().push(group);
    }
    let mut out = String::new();
    out.push_str(
        "<!-- Generated from the functions' #[user_doc] by udfs/src/docs.rs; do not edit.\n     \
         Regenerate: HEPQ_UPDATE_DOCS=1 cargo test --workspace --lib docs:: -->\n\n",
    );
    out.push_str("# hepq SQL functions\n\n");
    out.push_str(
        "hepq adds these functions to DataFusion's own (see DataFusion's SQL reference for \
         `array_*`/`list_*`, `unnest`, lambdas such as `array_transform`). Lists are 1-based. \
         Lambdas (`x -> x * 2`) parse in hepq's default SQL dialect (DuckDB's); a session \
         that switches `datafusion.sql_parser.dialect` to `Generic` loses them.\n\n",
    );
    for label in &order {
        let Some(list) = sections.get_mut(label) else {
            continue;
        };
        list.sort_by(|a, b| a.names.cmp(&b.names));
        let _ = writeln!(out, "## {label}\n");
        if let Some(description) = list.first().and_then(|e| e.doc.doc_section.description) {
            let _ = writeln!(out, "{description}\n");
        }
        for group in list.iter() {
            render_entry(&mut out, group);
        }
    }
    render_builtins(&mut out);
    out
}

/// DataFusion list functions that hepq relies on and documents alongside its own: name,
/// syntax, what it is for on event data, and an example on HEP-style lists.
pub const BUILTINS: &[(&str, &str, &str, &str)] = &[
    (
        "array_transform",
        "array_transform(list, x -> expr)",
        "Applies a lambda to every element (alias `list_transform`); the lambda may use other \
         columns of the row.",
        "SELECT array_transform(Jet_pt, x -> x * 1.1) FROM events",
    ),
    (
        "array_filter",
        "array_filter(list, x -> predicate)",
        "Keeps the elements for which the lambda is true (alias `list_filter`); \
         `list_where(values, mask)` does the same with a mask.",
        "SELECT list_filter(Jet_pt, x -> x > 30) FROM events",
    ),
    (
        "array_any_match",
        "any_match(list, x -> predicate)",
        "Whether any element satisfies the lambda (aliases `any_match`, `list_any_match`); \
         `list_any(mask)` does the same with a mask.",
        "SELECT count(*) FROM events WHERE any_match(Muon_pt, x -> x > 25)",
    ),
    (
        "array_sum",
        "array_sum(list)",
        "DataFusion's sum: Float64, NULL for an empty list. hepq's `list_sum` (awkward \
         semantics: 0 for an empty list, Float32 kept) replaces DataFusion's `list_sum` alias.",
        "SELECT array_sum(Jet_pt) FROM events",
    ),
    (
        "array_max",
        "array_max(list)",
        "Largest element (NULL for an empty list); `array_min` the smallest. hepq's `list_max` \
         and `list_min` give the same values with a dedicated kernel.",
        "SELECT array_max(Jet_pt) FROM events",
    ),
    (
        "array_element",
        "array_element(list, i)  or  list[i]",
        "The i-th element (1-based; negative counts from the end; NULL when out of range), \
         e.g. the leading jet.",
        "SELECT Jet_pt[1], Jet_pt[list_argmax(Jet_btag)] FROM events",
    ),
    (
        "array_slice",
        "array_slice(list, begin, end)  or  list[begin:end]",
        "Elements `begin..=end` (1-based, inclusive), e.g. the two leading jets.",
        "SELECT Jet_pt[1:2] FROM events",
    ),
    (
        "arrays_zip",
        "arrays_zip(list1, list2, …)",
        "Zips parallel lists into a list of structs (alias `list_zip`), e.g. jets as records.",
        "SELECT arrays_zip(Jet_pt, Jet_eta) FROM events",
    ),
    (
        "unnest",
        "unnest(list)",
        "One row per element (awkward's `ak.flatten`), e.g. to histogram all jets.",
        "SELECT unnest(Jet_pt) AS pt FROM events",
    ),
];

fn render_builtins(out: &mut String) {
    out.push_str("## DataFusion list functions used with hepq's\n\n");
    out.push_str(
        "These are DataFusion's own (see its SQL reference for every option); they work on \
         hepq's Float32/Int32 jagged columns as they are.\n\n",
    );
    for (name, syntax, description, example) in BUILTINS {
        let _ = writeln!(out, "### `{name}`\n");
        let _ = writeln!(out, "{description}\n");
        let _ = writeln!(out, "```sql\n{syntax}\n```\n");
        let _ = writeln!(out, "**Example**\n\n```sql\n{example}\n```\n");
        out.push_str("*DataFusion built-in*\n\n");
    }
}

/// Functions sharing one documentation.
struct Group<'a> {
    names: Vec<String>,
    aliases: Vec<String>,
    kind: &'static str,
    doc: &'a Documentation,
}

fn render_entry(out: &mut String, entry: &Group<'_>) {
    let doc = entry.doc;
    let names: Vec<String> = entry.names.iter().map(|n| format!("`{n}`")).collect();
    let _ = writeln!(out, "### {}\n", names.join(", "));
    let _ = writeln!(out, "{}\n", doc.description.trim());
    let _ = writeln!(out, "```sql\n{}\n```\n", doc.syntax_example.trim());
    if let Some(arguments) = &doc.arguments {
        out.push_str("**Arguments**\n\n");
        for (name, description) in arguments {
            let _ = writeln!(out, "- `{name}`: {}", description.trim());
        }
        out.push('\n');
    }
    if let Some(example) = &doc.sql_example {
        let example = example.trim();
        let example = example
            .strip_prefix("```sql")
            .and_then(|e| e.strip_suffix("```"))
            .unwrap_or(example)
            .trim();
        let _ = writeln!(out, "**Example**\n\n```sql\n{example}\n```\n");
    }
    if let Some(alternatives) = &doc.alternative_syntax {
        out.push_str("**Alternative syntax**\n\n");
        for alternative in alternatives {
            let _ = writeln!(out, "- `{}`", alternative.trim());
        }
        out.push('\n');
    }
    if !entry.aliases.is_empty() {
        let aliases: Vec<String> = entry.aliases.iter().map(|a| format!("`{a}`")).collect();
        let _ = writeln!(out, "**Aliases**: {}\n", aliases.join(", "));
    }
    if let Some(related) = &doc.related_udfs {
        let related: Vec<String> = related.iter().map(|r| format!("`{r}`")).collect();
        let _ = writeln!(out, "**See also**: {}\n", related.join(", "));
    }
    let _ = writeln!(out, "*{} function*\n", entry.kind);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::path::Path;

    use super::*;

    #[test]
    fn every_function_is_documented() {
        for udf in all_scalar_functions() {
            assert!(
                udf.documentation().is_some(),
                "{} has no #[user_doc]",
                udf.name()
            );
        }
        for udaf in all_aggregate_functions() {
            assert!(
                udaf.documentation().is_some(),
                "{} has no #[user_doc]",
                udaf.name()
            );
        }
    }

    #[test]
    fn documented_builtins_exist() {
        let mut names: Vec<String> = Vec::new();
        for udf in datafusion::functions_nested::all_default_nested_functions() {
            names.push(udf.name().to_string());
        }
        for f in datafusion::functions_nested::all_default_higher_order_functions() {
            names.push(f.name().to_string());
        }
        for (name, ..) in BUILTINS {
            assert!(
                *name == "unnest" || names.iter().any(|n| n == name),
                "{name} is not a DataFusion function"
            );
        }
    }

    #[test]
    fn reference_page_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/sql-functions.md");
        let rendered = render_reference();
        if std::env::var_os("HEPQ_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &rendered).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == rendered,
            "{} is stale: regenerate with HEPQ_UPDATE_DOCS=1 cargo test --workspace --lib docs::",
            path.display()
        );
    }
}
