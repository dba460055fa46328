//! The query facade as front ends use it: scripts, registration, errors.

use hepq_sql::{Format, HepqSession, SessionOptions};

async fn session() -> HepqSession {
    HepqSession::new(SessionOptions {
        threads: Some(2),
        ..Default::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_script_runs_in_order_and_returns_the_last_result() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let sql = format!(
        "COPY (SELECT * FROM (VALUES (1), (2), (40)) AS t(x)) TO '{}' STORED AS PARQUET; \
         CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{}'; \
         SELECT sum(x) AS s FROM t",
        path.display(),
        path.display()
    );
    let (schema, batches) = session().await.query(&sql).await.unwrap();
    assert_eq!(schema.field(0).name(), "s");
    let rows = hepq_tests::format_rows(&batches[0]).unwrap();
    assert_eq!(rows, vec![vec!["43".to_string()]]);
}

#[tokio::test]
async fn register_infers_the_format_from_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let s = session().await;
    let out = dir.path().join("runs");
    s.query(&format!(
        "COPY (SELECT 7 AS x, 194050 AS run) TO '{}/' STORED AS PARQUET PARTITIONED BY (run)",
        out.display()
    ))
    .await
    .unwrap();
    assert_eq!(
        s.infer_format(&out.display().to_string()).await.unwrap(),
        Format::Parquet
    );
    s.register("runs", &out.display().to_string(), None)
        .await
        .unwrap();
    let (_, batches) = s
        .query("SELECT arrow_typeof(run), x FROM runs")
        .await
        .unwrap();
    let rows = hepq_tests::format_rows(&batches[0]).unwrap();
    assert_eq!(rows, vec![vec!["Int64".to_string(), "7".to_string()]]);
}

#[tokio::test]
async fn errors_name_what_went_wrong() {
    let s = session().await;
    let err = s
        .register("x", "/no/such/place", None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/no/such/place") && err.contains("does not exist"),
        "{err}"
    );

    let err = s
        .query("SELECT * FROM nowhere")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("nowhere"), "{err}");

    let err = s.query("SELEC 1").await.unwrap_err().to_string();
    assert!(err.contains("SELEC"), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");
}
