//! Every `#[user_doc]` example of hepq's functions runs and prints what its documentation says.
//!
//! An example is written as `> SELECT …;` followed by the expected row(s), cells separated by
//! tabs, exactly as hepq prints them (`NULL` for nulls).

use hepq_sql::{HepqSession, SessionOptions};

/// (function name, SQL, expected rows) of every documented example.
fn examples() -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    for udf in hepq_udfs::all_scalar_functions() {
        let Some(example) = udf.documentation().and_then(|d| d.sql_example.clone()) else {
            continue;
        };
        let body = example
            .trim()
            .trim_start_matches("```sql")
            .trim_end_matches("```")
            .trim()
            .to_string();
        let mut lines = body.lines();
        let sql = lines
            .next()
            .and_then(|l| l.strip_prefix("> "))
            .unwrap_or_else(|| panic!("{}: example must start with '> SELECT …'", udf.name()))
            .to_string();
        let expected = lines.map(|l| l.to_string()).collect();
        out.push((udf.name().to_string(), sql, expected));
    }
    out
}

#[tokio::test]
async fn documented_examples_print_what_the_docs_say() {
    let session = HepqSession::new(SessionOptions {
        threads: Some(2),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut failures = Vec::new();
    let examples = examples();
    assert!(
        examples.len() >= 20,
        "only {} examples found",
        examples.len()
    );
    for (name, sql, expected) in examples {
        // Functions of one family share one example.
        if !seen.insert(sql.clone()) {
            continue;
        }
        let got = match session.query(&sql).await {
            Ok((_, batches)) => {
                let mut rows = Vec::new();
                for batch in &batches {
                    for row in hepq_tests::format_rows(batch).unwrap() {
                        // Multi-line cells (hist_ascii) come numbered `01)…` from the .slt
                        // formatter; examples show the lines as printed.
                        let line = row.join("\t");
                        let unnumbered = match line.get(..3) {
                            Some(p)
                                if p.ends_with(')')
                                    && p[..2].bytes().all(|b| b.is_ascii_digit()) =>
                            {
                                line[3..].to_string()
                            }
                            _ => line,
                        };
                        rows.push(unnumbered);
                    }
                }
                rows
            }
            Err(e) => vec![format!("error: {e}")],
        };
        if got != expected {
            failures.push(format!(
                "{name}: {sql}\n  expected {expected:?}\n  got      {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
