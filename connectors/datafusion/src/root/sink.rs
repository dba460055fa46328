//! [`RootSink`]: `COPY (SELECT …) TO 'out.root' STORED AS ROOT` — the query's batches written
//! as one TTree by hepq-root's [`TreeWriter`].
//!
//! ```text
//!  input stream ──(bounded channel, 2 batches)──► blocking thread: TreeWriter ──► file
//! ```
//!
//! The writer is synchronous and seeks back to fill in the file header, so it runs on a
//! blocking thread and writes a local file: the target itself for `file://` URLs, a temporary
//! file uploaded in parts afterwards for other object stores. The channel keeps at most two
//! batches in flight, so memory stays at one basket per branch plus those batches.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::{DataFusionError, Result, exec_err, not_impl_err, plan_err};
use datafusion::datasource::physical_plan::FileSinkConfig;
use datafusion::datasource::sink::DataSink;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType};
use futures::StreamExt;
use hepq_root::write::{BasketSize, Compression, TreeWriter, WriteOptions};
use object_store::path::Path as StorePath;
use object_store::{ObjectStoreExt, PutPayload};

/// Writes a query's result as a ROOT file with one TTree.
#[derive(Debug)]
pub struct RootSink {
    config: FileSinkConfig,
    options: WriteOptions,
}

impl RootSink {
    /// A sink for `config`'s output path with the writer options.
    pub fn new(config: FileSinkConfig, options: WriteOptions) -> Self {
        Self { config, options }
    }

    /// The object-store path of the file to write.
    fn target(&self) -> Result<StorePath> {
        let Some(url) = self.config.table_paths.first() else {
            return exec_err!("COPY TO ... STORED AS ROOT: no output path");
        };
        if url.is_collection() {
            return not_impl_err!(
                "COPY TO '{}' STORED AS ROOT: write to a file name ending in .root, not a directory",
                self.config.original_url
            );
        }
        Ok(url.prefix().clone())
    }
}

impl DisplayAs for RootSink {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => write!(
                f,
                "RootSink(file={}, tree={}, compression={})",
                self.config.original_url,
                self.options.tree,
                self.options.compression.setting()
            ),
            DisplayFormatType::TreeRender => write!(f, "file={}", self.config.original_url),
        }
    }
}

/// Options only COPY TO understands (given to a read they are an error, by name).
pub const WRITE_ONLY_OPTIONS: &[&str] = &[
    "compression",
    "level",
    "basket_entries",
    "basket_bytes",
    "title",
];

/// Options only reads understand (given to COPY TO they are an error, by name).
pub const READ_ONLY_OPTIONS: &[&str] = &["collections"];

/// Checks one write option's value; `Ok` for options that are not write options.
pub fn check_write_option(key: &str, value: &str) -> Result<()> {
    let positive = |what: &str| -> Result<()> {
        match value.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(()),
            _ => plan_err!("option '{key}' must be a positive number of {what}, not '{value}'"),
        }
    };
    match key {
        "compression" => Compression::new(value.trim(), 0)
            .map(|_| ())
            .map_err(|e| DataFusionError::Plan(format!("option 'compression': {e}"))),
        "level" => match value.trim().parse::<u32>() {
            Ok(_) => Ok(()),
            Err(_) => plan_err!("option 'level' must be a whole number, not '{value}'"),
        },
        "basket_entries" => positive("entries"),
        "basket_bytes" => positive("bytes"),
        _ => Ok(()),
    }
}

/// The writer options from `STORED AS ROOT OPTIONS (...)` of a COPY: `tree` (default
/// `Events`), `title`, `compression` (`zlib`, `lzma`, `lz4`, `zstd`, `none`; default zlib),
/// `level` (default: 1 for zlib, 7 lzma, 4 lz4, 5 zstd), `basket_entries` or `basket_bytes`.
pub fn write_options(tree: Option<&str>, write: &BTreeMap<String, String>) -> Result<WriteOptions> {
    let mut o = WriteOptions::default();
    if let Some(t) = tree {
        o.tree = t.to_string();
    }
    if let Some(t) = write.get("title") {
        o.title = t.clone();
    }
    let plan = |e: String| DataFusionError::Plan(format!("STORED AS ROOT: {e}"));
    let algorithm = write.get("compression").map(|s| s.trim().to_string());
    let level = match write.get("level") {
        Some(l) => Some(
            l.trim()
                .parse::<u32>()
                .map_err(|e| plan(format!("option 'level': {e}")))?,
        ),
        None => None,
    };
    let alg = algorithm.unwrap_or_else(|| "zlib".to_string());
    let probe = Compression::new(&alg, 0).map_err(plan)?;
    let level = level.unwrap_or_else(|| Compression::default_level(probe.codec));
    o.compression = Compression::new(&alg, level).map_err(plan)?;
    match (write.get("basket_entries"), write.get("basket_bytes")) {
        (Some(_), Some(_)) => {
            return plan_err!("STORED AS ROOT: give 'basket_entries' or 'basket_bytes', not both");
        }
        (Some(n), None) => {
            o.basket = BasketSize::Entries(
                n.trim()
                    .parse()
                    .map_err(|e| plan(format!("option 'basket_entries': {e}")))?,
            )
        }
        (None, Some(n)) => {
            o.basket = BasketSize::Bytes(
                n.trim()
                    .parse()
                    .map_err(|e| plan(format!("option 'basket_bytes': {e}")))?,
            )
        }
        (None, None) => {}
    }
    Ok(o)
}

fn external(e: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

#[async_trait]
impl DataSink for RootSink {
    fn schema(&self) -> &SchemaRef {
        self.config.output_schema()
    }

    async fn write_all(
        &self,
        mut data: SendableRecordBatchStream,
        context: &Arc<TaskContext>,
    ) -> Result<u64> {
        if !self.config.table_partition_cols.is_empty() {
            return not_impl_err!("COPY ... STORED AS ROOT does not support PARTITIONED BY");
        }
        let target = self.target()?;
        let local = self.config.object_store_url.as_str() == "file:///";
        let file: PathBuf = if local {
            let p = PathBuf::from(format!("/{target}"));
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir).map_err(DataFusionError::IoError)?;
            }
            p
        } else {
            std::env::temp_dir().join(format!(
                "hepq-copy-{}-{}.root",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos()
            ))
        };
        let schema = data.schema();
        let options = self.options.clone();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<datafusion::arrow::array::RecordBatch>(2);
        let path = file.clone();
        let writer = tokio::task::spawn_blocking(move || -> hepq_root::Result<()> {
            let mut w = TreeWriter::create(&path, schema, options)?;
            while let Some(batch) = rx.blocking_recv() {
                w.write(&batch)?;
            }
            w.finish()?;
            Ok(())
        });
        let mut rows = 0u64;
        let mut input_error = None;
        while let Some(batch) = data.next().await {
            match batch {
                Ok(b) => {
                    rows += b.num_rows() as u64;
                    // a closed channel means the writer failed; its error is reported below
                    if tx.send(b).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    input_error = Some(e);
                    break;
                }
            }
        }
        drop(tx);
        let written = writer
            .await
            .map_err(|e| DataFusionError::Execution(format!("ROOT writer thread: {e}")))?;
        if let Some(e) = input_error {
            let _ = std::fs::remove_file(&file);
            return Err(e);
        }
        if let Err(e) = written {
            let _ = std::fs::remove_file(&file);
            return Err(external(e));
        }
        if !local {
            let store = context
                .runtime_env()
                .object_store(&self.config.object_store_url)?;
            let uploaded = upload(store.as_ref(), &file, &target).await;
            let _ = std::fs::remove_file(&file);
            uploaded?;
        }
        Ok(rows)
    }
}

/// Uploads a local file to an object store in 16 MiB parts.
async fn upload(
    store: &dyn object_store::ObjectStore,
    file: &PathBuf,
    to: &StorePath,
) -> Result<()> {
    let mut f = std::fs::File::open(file)?;
    let mut up = store.put_multipart(to).await.map_err(external)?;
    loop {
        let mut chunk = vec![0u8; 16 << 20];
        let mut n = 0;
        while n < chunk.len() {
            let k = f.read(&mut chunk[n..])?;
            if k == 0 {
                break;
            }
            n += k;
        }
        if n == 0 {
            break;
        }
        chunk.truncate(n);
        up.put_part(PutPayload::from(chunk))
            .await
            .map_err(external)?;
    }
    up.complete().await.map_err(external)?;
    Ok(())
}
