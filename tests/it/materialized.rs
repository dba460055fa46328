//! Materialised views end to end: an incremental refresh reads only the new source files and
//! gives exactly what a recomputation from scratch gives; readers running during a refresh see
//! the old or the new content, never a mix; a refresh that fails keeps the last good snapshot
//! and releases its lease. The reference for every result is the same query run directly on
//! the source table (DataFusion's own Parquet reader and expression evaluation).

use std::path::Path;
use std::sync::Arc;

use hepq_sql::HepqSession;

use crate::catalog::{open, rows};

/// Writes source file `part-N.parquet` with ids `from..to`.
async fn add_part(session: &HepqSession, warehouse: &Path, n: usize, from: i64, to: i64) {
    let sql = format!(
        "COPY (SELECT value AS id, value % 7 AS k FROM generate_series({from}, {}) ) \
         TO '{}/src/part-{n}.parquet' STORED AS PARQUET",
        to - 1,
        warehouse.display()
    );
    session.query(&sql).await.unwrap();
}

const VIEW_QUERY: &str = "SELECT id, id * 2 AS d, k FROM src WHERE k < 3";

async fn last_refresh(session: &HepqSession) -> Vec<String> {
    rows(
        session,
        "SELECT status, mode, CAST(rows_in AS VARCHAR), CAST(rows_out AS VARCHAR), \
         CAST(source_files AS VARCHAR) FROM hepq.refreshes ORDER BY refresh_id DESC LIMIT 1",
    )
    .await
    .remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_refreshes_read_only_new_files_and_equal_a_recomputation() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    let session = open(w).await;
    for n in 0..3 {
        add_part(&session, w, n, n as i64 * 1000, (n as i64 + 1) * 1000).await;
    }
    session
        .query(&format!(
            "CREATE EXTERNAL TABLE src STORED AS PARQUET LOCATION '{}/src/'",
            w.display()
        ))
        .await
        .unwrap();
    session
        .query(&format!("CREATE MATERIALIZED VIEW skim AS {VIEW_QUERY}"))
        .await
        .unwrap();
    assert_eq!(
        last_refresh(&session).await,
        ["succeeded", "full", "3000", "1287", "3"]
    );

    // Two new files of 500 rows: the refresh reads those 1000 rows only.
    add_part(&session, w, 3, 3000, 3500).await;
    add_part(&session, w, 4, 3500, 4000).await;
    let report = session
        .refresh_materialized_view("public", "skim", false)
        .await
        .unwrap();
    assert_eq!(report.mode, "incremental");
    assert_eq!(report.source_files, 2);
    assert_eq!(report.rows_in, Some(1000));
    let expected = rows(&session, &format!("{VIEW_QUERY} ORDER BY id")).await;
    assert_eq!(expected.len(), 1716);
    assert_eq!(
        rows(&session, "SELECT id, d, k FROM skim ORDER BY id").await,
        expected
    );

    // A new session (a restart) refreshes incrementally on top, and FULL gives the same rows.
    drop(session);
    let session = open(w).await;
    add_part(&session, w, 5, 4000, 4100).await;
    session
        .query("REFRESH MATERIALIZED VIEW skim")
        .await
        .unwrap();
    assert_eq!(
        last_refresh(&session).await,
        ["succeeded", "incremental", "100", "42", "1"]
    );
    let expected = rows(&session, &format!("{VIEW_QUERY} ORDER BY id")).await;
    assert_eq!(
        rows(&session, "SELECT id, d, k FROM skim ORDER BY id").await,
        expected
    );
    session
        .query("REFRESH MATERIALIZED VIEW skim FULL")
        .await
        .unwrap();
    assert_eq!(
        last_refresh(&session).await,
        ["succeeded", "full", "4100", "1758", "6"]
    );
    assert_eq!(
        rows(&session, "SELECT id, d, k FROM skim ORDER BY id").await,
        expected
    );

    // A rewritten source file cannot be appended: the refresh recomputes, and says why.
    std::fs::remove_file(w.join("src/part-5.parquet")).unwrap();
    let report = session
        .refresh_materialized_view("public", "skim", false)
        .await
        .unwrap();
    assert_eq!(report.mode, "full");
    assert!(
        report.reason.contains("part-5.parquet"),
        "{}",
        report.reason
    );
    assert_eq!(
        rows(&session, "SELECT count(*) FROM skim").await,
        [["1716"]]
    );

    // Old snapshots beyond the kept two are gone from disk: only data folders of kept
    // snapshots remain.
    let kept: usize = rows(
        &session,
        "SELECT count(*) FROM hepq.snapshots WHERE view_name = 'skim'",
    )
    .await[0][0]
        .parse()
        .unwrap();
    assert_eq!(kept, 2);
    let folders = std::fs::read_dir(w.join("materialized/public/skim/data"))
        .unwrap()
        .count();
    assert!(folders <= 2, "{folders} data folders left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_old_or_new_content_and_failures_keep_the_last_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    let writer = Arc::new(open(w).await);
    for n in 0..4 {
        add_part(&writer, w, n, n as i64 * 20_000, (n as i64 + 1) * 20_000).await;
    }
    writer
        .query(&format!(
            "CREATE EXTERNAL TABLE src STORED AS PARQUET LOCATION '{}/src/'",
            w.display()
        ))
        .await
        .unwrap();
    writer
        .query("CREATE MATERIALIZED VIEW skim AS SELECT id, 1000 / (id - 999999) AS q FROM src")
        .await
        .unwrap();
    let old = "80000".to_string();
    add_part(&writer, w, 4, 80_000, 200_000).await;
    let new = "200000".to_string();

    let reader = open(w).await;
    let refresh = {
        let writer = Arc::clone(&writer);
        tokio::spawn(async move {
            writer
                .refresh_materialized_view("public", "skim", true)
                .await
        })
    };
    let mut seen = std::collections::BTreeSet::new();
    while !refresh.is_finished() {
        let count = rows(&reader, "SELECT count(*) FROM skim").await[0][0].clone();
        assert!(count == old || count == new, "a reader saw {count} rows");
        seen.insert(count);
    }
    refresh.await.unwrap().unwrap();
    assert_eq!(
        rows(&reader, "SELECT count(*) FROM skim").await,
        [[new.clone()]]
    );

    // A source file whose rows make the query fail: the refresh fails, the view keeps its
    // content, the failure is recorded and the lease is free for the next refresh.
    add_part(&writer, w, 5, 999_999, 1_000_001).await;
    let err = writer
        .refresh_materialized_view("public", "skim", false)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("Divide by zero"), "{err}");
    assert_eq!(
        rows(&reader, "SELECT count(*) FROM skim").await,
        [[new.clone()]]
    );
    let failed = rows(
        &reader,
        "SELECT status, error LIKE '%Divide by zero%' FROM hepq.refreshes \
         ORDER BY refresh_id DESC LIMIT 1",
    )
    .await;
    assert_eq!(failed, [["failed", "true"]]);
    // No data folder of the failed refresh is left behind.
    let folders = std::fs::read_dir(w.join("materialized/public/skim/data"))
        .unwrap()
        .count();
    assert!(folders <= 2, "{folders} data folders");
    // Without the bad file the sources are those of the last good snapshot: nothing to do.
    std::fs::remove_file(w.join("src/part-5.parquet")).unwrap();
    let report = writer
        .refresh_materialized_view("public", "skim", false)
        .await
        .unwrap();
    assert_eq!(
        (
            report.mode.as_str(),
            report.reason.as_str(),
            report.rows_out
        ),
        ("incremental", "no new source files", 0)
    );
    assert_eq!(rows(&reader, "SELECT count(*) FROM skim").await, [[new]]);
}
