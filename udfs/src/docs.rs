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
    // Sections in first-seen order of their label, functions sorted by name inside each.
    let mut order: Vec<String> = Vec::new();
    let mut sections: BTreeMap<String, Vec<&Entry<'_>>> = BTreeMap::new();
    for entry in &entries {
        let label = entry.doc.doc_section.label.to_string();
        if !order.contains(&label) {
            order.push(label.clone());
        }
        sections.entry(label).or_default().push(entry);
    }
    let mut out = String::new();
    out.push_str(
        "<!-- Generated from the functions' #[user_doc] by udfs/src/docs.rs; do not edit.\n     \
         Regenerate: HEPQ_UPDATE_DOCS=1 cargo test --workspace --lib docs:: -->\n\n",
    );
    out.push_str("# hepq SQL functions\n\n");
    out.push_str(
        "hepq adds these functions to DataFusion's own (see DataFusion's SQL reference for \
         `array_*`/`list_*`, `unnest`, lambdas such as `array_transform`). Lists are 1-based.\n\n",
    );
    for label in &order {
        let Some(list) = sections.get_mut(label) else {
            continue;
        };
        list.sort_by(|a, b| a.name.cmp(&b.name));
        let _ = writeln!(out, "## {label}\n");
        if let Some(description) = list.first().and_then(|e| e.doc.doc_section.description) {
            let _ = writeln!(out, "{description}\n");
        }
        for entry in list.iter() {
            render_entry(&mut out, entry);
        }
    }
    out
}

fn render_entry(out: &mut String, entry: &Entry<'_>) {
    let doc = entry.doc;
    let _ = writeln!(out, "### `{}`\n", entry.name);
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
