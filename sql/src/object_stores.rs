//! Object stores: local files, S3 and HTTP, created on first use and counted for progress.
//!
//! [`HepqObjectStoreRegistry`] hands DataFusion a store for any `file://`, `s3://bucket` or
//! `http(s)://host` URL, building it the first time it is asked:
//!
//! * `s3://` stores take their settings from the standard AWS variables the front end passed in
//!   ([`crate::SessionOptions::object_store_env`]), overridden per table by
//!   `CREATE EXTERNAL TABLE … OPTIONS ('aws.region' '…', 'aws.endpoint' '…', …)`.
//! * `http(s)://` stores read single files with range requests (listing needs WebDAV).
//!
//! Every store is wrapped in a [`CountingStore`] that adds the bytes it returns to the shared
//! [`IoCounters`], from which the CLI draws its progress bar.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::execution::object_store::ObjectStoreRegistry;
use futures::stream::BoxStream;
use object_store::ClientOptions;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::http::HttpBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};
use url::Url;

use crate::error::{Error, Result};

/// Table options that configure an S3 store, with the AWS setting each one sets.
pub const S3_TABLE_OPTIONS: &[(&str, &str)] = &[
    ("aws.access_key_id", "aws_access_key_id"),
    ("aws.secret_access_key", "aws_secret_access_key"),
    ("aws.session_token", "aws_session_token"),
    ("aws.region", "aws_region"),
    ("aws.endpoint", "aws_endpoint"),
    ("aws.allow_http", "aws_allow_http"),
    ("aws.skip_signature", "aws_skip_signature"),
    (
        "aws.virtual_hosted_style_request",
        "aws_virtual_hosted_style_request",
    ),
];

/// Bytes and files read through hepq's object stores since the counters were created.
#[derive(Debug, Default)]
pub struct IoCounters {
    bytes: AtomicU64,
    requests: AtomicU64,
    files: Mutex<HashSet<String>>,
}

impl IoCounters {
    /// Bytes returned by reads so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Read requests so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Distinct objects read from so far.
    pub fn files_touched(&self) -> u64 {
        self.files.lock().map(|f| f.len() as u64).unwrap_or(0)
    }

    fn record(&self, store: &str, location: &Path, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut files) = self.files.lock()
            && files.len() < 1_000_000
        {
            files.insert(format!("{store}/{location}"));
        }
    }
}

/// An [`ObjectStore`] that counts what is read through it and otherwise forwards every call.
#[derive(Debug)]
pub struct CountingStore {
    name: String,
    inner: Arc<dyn ObjectStore>,
    counters: Arc<IoCounters>,
}

impl CountingStore {
    /// Wraps `inner`, reporting reads to `counters` under the store's `name` (its URL key).
    pub fn new(name: String, inner: Arc<dyn ObjectStore>, counters: Arc<IoCounters>) -> Self {
        Self {
            name,
            inner,
            counters,
        }
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.inner)
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let head = options.head;
        let result = self.inner.get_opts(location, options).await?;
        if !head {
            let len = result.range.end.saturating_sub(result.range.start);
            self.counters.record(&self.name, location, len);
        }
        Ok(result)
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        let parts = self.inner.get_ranges(location, ranges).await?;
        let len = parts.iter().map(|b| b.len() as u64).sum();
        self.counters.record(&self.name, location, len);
        Ok(parts)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

/// DataFusion's object-store registry for hepq: creates stores for new URLs on demand.
pub struct HepqObjectStoreRegistry {
    stores: RwLock<HashMap<String, Arc<dyn ObjectStore>>>,
    s3_env: Vec<(String, String)>,
    counters: Arc<IoCounters>,
}

impl fmt::Debug for HepqObjectStoreRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<String> = self
            .stores
            .read()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("HepqObjectStoreRegistry")
            .field("stores", &keys)
            .finish()
    }
}

impl HepqObjectStoreRegistry {
    /// A registry whose S3 stores start from `s3_env` (`AWS_*` variable names and values).
    pub fn new(s3_env: Vec<(String, String)>, counters: Arc<IoCounters>) -> Self {
        Self {
            stores: RwLock::new(HashMap::new()),
            s3_env,
            counters,
        }
    }

    /// The counters every store of this registry reports to.
    pub fn counters(&self) -> &Arc<IoCounters> {
        &self.counters
    }

    /// Builds an S3 store for `url`'s bucket from the environment plus `options`
    /// (table options named in [`S3_TABLE_OPTIONS`]).
    pub fn build_s3(
        &self,
        url: &Url,
        options: &[(String, String)],
    ) -> Result<Arc<dyn ObjectStore>> {
        let bucket = url
            .host_str()
            .ok_or_else(|| Error::Config(format!("S3 URL '{url}' has no bucket")))?;
        let mut builder = AmazonS3Builder::new().with_bucket_name(bucket);
        for (key, value) in &self.s3_env {
            if let Ok(key) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                builder = builder.with_config(key, value);
            }
        }
        for (option, value) in options {
            let setting = S3_TABLE_OPTIONS
                .iter()
                .find(|(name, _)| name == option)
                .map(|(_, setting)| *setting)
                .ok_or_else(|| Error::Config(format!("unknown S3 option '{option}'")))?;
            let key = setting
                .parse::<AmazonS3ConfigKey>()
                .map_err(|e| Error::Config(format!("S3 option '{option}': {e}")))?;
            builder = builder.with_config(key, value);
        }
        let store = builder
            .build()
            .map_err(|e| Error::Config(format!("cannot configure S3 for '{url}': {e}")))?;
        Ok(Arc::new(store))
    }

    fn create(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        match url.scheme() {
            "file" => Ok(Arc::new(LocalFileSystem::new())),
            "s3" | "s3a" => self.build_s3(url, &[]),
            "http" | "https" => {
                let client = ClientOptions::new().with_allow_http(url.scheme() == "http");
                let store = HttpBuilder::new()
                    .with_url(store_key(url))
                    .with_client_options(client)
                    .build()
                    .map_err(|e| Error::Config(format!("cannot open '{url}': {e}")))?;
                Ok(Arc::new(store))
            }
            other => Err(Error::Config(format!(
                "unsupported URL scheme '{other}://' in '{url}' (use a path, s3:// or http(s)://)"
            ))),
        }
    }

    fn wrap(&self, url: &Url, store: Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore> {
        Arc::new(CountingStore::new(
            store_key(url),
            store,
            Arc::clone(&self.counters),
        ))
    }
}

/// The registry key of a URL: scheme, host and port.
fn store_key(url: &Url) -> String {
    format!(
        "{}://{}",
        url.scheme(),
        &url[url::Position::BeforeHost..url::Position::AfterPort]
    )
}

impl ObjectStoreRegistry for HepqObjectStoreRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        let wrapped = self.wrap(url, store);
        self.stores.write().ok()?.insert(store_key(url), wrapped)
    }

    fn deregister_store(&self, url: &Url) -> DfResult<Arc<dyn ObjectStore>> {
        let mut stores = self
            .stores
            .write()
            .map_err(|_| DataFusionError::Internal("object store registry poisoned".into()))?;
        stores.remove(&store_key(url)).ok_or_else(|| {
            DataFusionError::Execution(format!("no object store registered for '{url}'"))
        })
    }

    fn get_store(&self, url: &Url) -> DfResult<Arc<dyn ObjectStore>> {
        let key = store_key(url);
        if let Some(store) = self.stores.read().ok().and_then(|s| s.get(&key).cloned()) {
            return Ok(store);
        }
        let store = self.wrap(url, self.create(url).map_err(DataFusionError::from)?);
        let mut stores = self
            .stores
            .write()
            .map_err(|_| DataFusionError::Internal("object store registry poisoned".into()))?;
        Ok(Arc::clone(stores.entry(key).or_insert(store)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_host_and_port() {
        let url = Url::parse("http://127.0.0.1:9000/bucket/x.parquet").unwrap();
        assert_eq!(store_key(&url), "http://127.0.0.1:9000");
        let url = Url::parse("s3://bucket/a/b").unwrap();
        assert_eq!(store_key(&url), "s3://bucket");
    }

    #[test]
    fn unknown_scheme_is_a_clear_error() {
        let registry = HepqObjectStoreRegistry::new(vec![], Arc::default());
        let err = registry
            .get_store(&Url::parse("gopher://x/y").unwrap())
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("unsupported URL scheme 'gopher://'"),
            "{err}"
        );
    }

    #[test]
    fn s3_options_are_checked() {
        let registry = HepqObjectStoreRegistry::new(vec![], Arc::default());
        let url = Url::parse("s3://bucket/").unwrap();
        let opts = vec![("aws.colour".to_string(), "blue".to_string())];
        let err = registry.build_s3(&url, &opts).unwrap_err();
        assert!(err.to_string().contains("aws.colour"), "{err}");
    }
}
