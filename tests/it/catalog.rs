//! The warehouse's persistent catalog across sessions: a session is dropped (its catalog
//! connections closed) and a new one opened on the same warehouse, as a restart would.
//! Expected values are those of the .slt files, from uproot and legend-lh5io on the same files.

use std::path::{Path, PathBuf};

use hepq_sql::{HepqSession, SessionOptions};

const HZZ: &str = "../../shared/testdata/scikit-hep-testdata/uproot-HZZ-zlib.root";
const STAFF: &str = "../../shared/testdata/scikit-hep-testdata/ntpl001_staff_rntuple_v1-0-0-0.root";
const LH5: &str = "../../shared/testdata/legend-testdata/lh5/prod-ref-l200/generated/tier/hit/cal/p03/r001/l200-p03-r001-cal-20230318T012144Z-tier_hit.lh5";

/// A session on `warehouse` (2 threads); also used by the materialised-view tests.
pub(crate) async fn open(warehouse: &Path) -> HepqSession {
    HepqSession::new(SessionOptions {
        threads: Some(2),
        warehouse: Some(warehouse.to_path_buf()),
        ..Default::default()
    })
    .await
    .unwrap()
}

/// The rows of `sql`'s result as text.
pub(crate) async fn rows(session: &HepqSession, sql: &str) -> Vec<Vec<String>> {
    let (_, batches) = session
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    batches
        .iter()
        .flat_map(|b| hepq_tests::format_rows(b).unwrap())
        .collect()
}

async fn error(session: &HepqSession, sql: &str) -> String {
    match session.query(sql).await {
        Ok(_) => panic!("{sql} should fail"),
        Err(e) => e.to_string(),
    }
}

/// What the catalog holds, as `schema.name kind`.
async fn stored(warehouse: &Path) -> Vec<String> {
    let store = hepq_catalog_store(warehouse).await;
    let names = store
        .tables()
        .await
        .unwrap()
        .into_iter()
        .map(|t| format!("{} {}", t.qualified_name(), t.kind.as_str()))
        .collect();
    store.close().await;
    names
}

async fn hepq_catalog_store(warehouse: &Path) -> hepq_catalog::CatalogStore {
    hepq_catalog::CatalogStore::open_warehouse(warehouse)
        .await
        .unwrap()
}

/// Queries whose results must be identical before and after a restart.
const QUERIES: &[&str] = &[
    "SELECT count(*), sum(NJet), sum(NMuon) FROM lhc.hzz",
    "SELECT n FROM lhc.two_muons",
    "SELECT count(*), sum(\"Age\"), count(DISTINCT \"Nation\") FROM staff",
    "SELECT count(*), round(sum(cuspEmax_ctc_cal), 4) FROM hit",
    "SELECT run, sum(x) FROM runs GROUP BY run ORDER BY run",
    "SELECT a, b FROM csv_table ORDER BY a",
    "SELECT table_schema, table_name, table_type FROM information_schema.tables \
     WHERE table_schema IN ('public', 'lhc') ORDER BY 1, 2",
];

#[tokio::test]
async fn tables_of_every_format_and_views_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = dir.path().join("wh");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("t.csv"), "a,b\n1,x\n2,y\n").unwrap();
    let before = {
        let s = open(&warehouse).await;
        s.query(&format!(
            "CREATE SCHEMA lhc; \
             CREATE EXTERNAL TABLE lhc.hzz STORED AS ROOT LOCATION '{HZZ}'; \
             CREATE VIEW lhc.two_muons AS SELECT count(*) AS n FROM lhc.hzz WHERE NMuon = 2; \
             CREATE EXTERNAL TABLE staff STORED AS RNTUPLE LOCATION '{STAFF}'; \
             CREATE EXTERNAL TABLE hit STORED AS LH5 LOCATION '{LH5}' OPTIONS ('group' 'ch1084803/hit'); \
             COPY (SELECT * FROM (VALUES (1, 7), (2, 7), (40, 9)) AS t(x, run)) TO '{p}/runs/' \
               STORED AS PARQUET PARTITIONED BY (run); \
             CREATE EXTERNAL TABLE runs STORED AS PARQUET LOCATION '{p}/runs/'; \
             CREATE EXTERNAL TABLE csv_table STORED AS CSV LOCATION '{p}/t.csv' \
               OPTIONS ('format.has_header' 'true')",
            p = data.display()
        ))
        .await
        .unwrap();
        let mut out = Vec::new();
        for q in QUERIES {
            out.push(rows(&s, q).await);
        }
        out
    };
    // Independent expectations (uproot, legend-lh5io; the CSV and Parquet written here).
    assert_eq!(before[0], [["2421", "2773", "3825"]]);
    assert_eq!(before[1], [["1371"]]);
    assert_eq!(before[2], [["3354", "158151", "15"]]);
    assert_eq!(before[3], [["10", "2373.5897"]]);
    assert_eq!(before[4], [["7", "3"], ["9", "40"]]);
    assert_eq!(before[5], [["1", "x"], ["2", "y"]]);

    let s = open(&warehouse).await;
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
    // Opening the session read no table data: stored tables open on first use.
    assert_eq!(s.io_counters().bytes_read(), 0);
    for (q, expected) in QUERIES.iter().zip(&before) {
        assert_eq!(&rows(&s, q).await, expected, "{q}");
    }

    // DROP persists; so does CREATE OR REPLACE.
    s.query(
        "DROP TABLE staff; DROP VIEW lhc.two_muons; \
         CREATE OR REPLACE EXTERNAL TABLE hit STORED AS LH5 LOCATION '../../shared/testdata/legend-testdata/lh5/prod-ref-l200/generated/tier/hit/' OPTIONS ('tier' 'hit')",
    )
    .await
    .unwrap();
    drop(s);
    let s = open(&warehouse).await;
    assert!(error(&s, "SELECT * FROM staff").await.contains("staff"));
    assert!(
        error(&s, "SELECT * FROM lhc.two_muons")
            .await
            .contains("two_muons")
    );
    assert_eq!(rows(&s, "SELECT count(*) FROM hit").await, [["180"]]);
    let table = hepq_catalog_store(&warehouse)
        .await
        .table("public", "hit")
        .await
        .unwrap()
        .unwrap();
    assert!(
        table.definition.contains("'tier' 'hit'"),
        "{}",
        table.definition
    );
    assert!(
        Path::new(table.location.as_deref().unwrap()).is_absolute(),
        "relative locations are stored absolute: {:?}",
        table.location
    );
}

#[tokio::test]
async fn failed_and_session_only_ddl_record_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    for sql in [
        "CREATE EXTERNAL TABLE t STORED AS ROOT LOCATION '/no/such/file.root'",
        "CREATE VIEW v AS SELECT * FROM no_such_table",
        "CREATE EXTERNAL TABLE t STORED AS NO_SUCH_FORMAT LOCATION '/tmp'",
        "DROP SCHEMA hepq",
        "CREATE VIEW hepq.x AS SELECT 1",
    ] {
        error(&s, sql).await;
    }
    s.register("registered", HZZ, None).await.unwrap();
    s.query("CREATE TEMPORARY VIEW tv AS SELECT 1 AS x; SELECT * FROM tv")
        .await
        .unwrap();
    assert_eq!(
        rows(&s, "SELECT count(*) FROM registered").await,
        [["2421"]]
    );
    assert!(stored(dir.path()).await.is_empty());
    assert!(rows(&s, "SELECT * FROM hepq.tables").await.is_empty());

    // The old warehouse layout still works: tables/NAME/ folders, for the session only.
    let folder = dir.path().join("tables").join("events");
    std::fs::create_dir_all(&folder).unwrap();
    s.query(&format!(
        "COPY (SELECT 5 AS x) TO '{}/part-0.parquet' STORED AS PARQUET",
        folder.display()
    ))
    .await
    .unwrap();
    drop(s);
    let s = open(dir.path()).await;
    assert_eq!(rows(&s, "SELECT x FROM events").await, [["5"]]);
    assert!(error(&s, "SELECT * FROM tv").await.contains("tv"));
    assert!(stored(dir.path()).await.is_empty());
}

#[tokio::test]
async fn a_damaged_catalog_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.sqlite");
    std::fs::write(&file, vec![b'x'; 4096]).unwrap();
    let err = HepqSession::new(SessionOptions {
        warehouse: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");
}

#[tokio::test]
async fn a_table_whose_files_vanished_is_a_warning_not_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let data: PathBuf = dir.path().join("data");
    let s = open(dir.path()).await;
    s.query(&format!(
        "COPY (SELECT 1 AS x) TO '{d}/gone.parquet' STORED AS PARQUET; \
         COPY (SELECT 2 AS x) TO '{d}/kept.parquet' STORED AS PARQUET; \
         CREATE EXTERNAL TABLE gone STORED AS PARQUET LOCATION '{d}/gone.parquet'; \
         CREATE EXTERNAL TABLE kept STORED AS PARQUET LOCATION '{d}/kept.parquet'; \
         CREATE VIEW both_tables AS SELECT x FROM gone UNION ALL SELECT x FROM kept",
        d = data.display()
    ))
    .await
    .unwrap();
    drop(s);
    std::fs::remove_file(data.join("gone.parquet")).unwrap();

    let s = open(dir.path()).await;
    let gone = data.join("gone.parquet").display().to_string();
    assert!(
        s.warnings()
            .iter()
            .any(|w| w.contains("public.gone") && w.contains(&gone)),
        "{:?}",
        s.warnings()
    );
    let err = error(&s, "SELECT * FROM gone").await;
    assert!(err.contains("public.gone") && err.contains(&gone), "{err}");
    assert!(
        error(&s, "SELECT * FROM both_tables")
            .await
            .contains("gone")
    );
    assert_eq!(rows(&s, "SELECT x FROM kept").await, [["2"]]);
    assert_eq!(
        rows(
            &s,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
        )
        .await,
        [["both_tables"], ["gone"], ["kept"]]
    );
    // It stays in the catalog until dropped, which needs no files.
    assert_eq!(stored(dir.path()).await.len(), 3);
    s.query("DROP TABLE gone").await.unwrap();
    drop(s);
    let s = open(dir.path()).await;
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
    assert_eq!(
        stored(dir.path()).await,
        ["public.both_tables view", "public.kept external"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_writing_at_once_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = dir.path().to_path_buf();
    // Created first so that no two sessions race to create the file's tables.
    drop(open(&warehouse).await);
    let mut tasks = Vec::new();
    for writer in 0..4 {
        let warehouse = warehouse.clone();
        tasks.push(tokio::spawn(async move {
            let s = open(&warehouse).await;
            for i in 0..10 {
                s.query(&format!("CREATE VIEW v_{writer}_{i} AS SELECT {i} AS i"))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let s = open(&warehouse).await;
    assert_eq!(rows(&s, "SELECT count(*) FROM hepq.tables").await, [["40"]]);
    assert_eq!(rows(&s, "SELECT i FROM v_3_7").await, [["7"]]);
}
