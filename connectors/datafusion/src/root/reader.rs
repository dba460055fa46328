//! Byte sources for the ROOT decoder over any object store.
//!
//! The decoder (`hepq-root`) is synchronous. The opener runs it on a blocking thread
//! (`tokio::task::spawn_blocking`); from there [`ObjectStoreReadAt`] serves reads from ranges
//! prefetched in one coalesced request, and waits on the object store (with the runtime's
//! [`Handle`]) only for what was not prefetched. Local files skip all of this and are read
//! with positional reads (`hepq_root::FileReader`).

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::runtime::Handle;

/// Reads smaller than this are widened, so that the decoder's many small metadata reads
/// (keys, streamers, branch records) become few requests.
const MIN_FETCH: u64 = 256 * 1024;

/// A ROOT file in an object store, read through a cache of fetched ranges.
#[derive(Debug)]
pub struct ObjectStoreReadAt {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
    handle: Handle,
    cache: Mutex<BTreeMap<u64, Bytes>>,
}

impl ObjectStoreReadAt {
    /// A reader of `path` (`size` bytes) that fetches through `handle`'s runtime.
    pub fn new(store: Arc<dyn ObjectStore>, path: Path, size: u64, handle: Handle) -> Self {
        Self {
            store,
            path,
            size,
            handle,
            cache: Mutex::new(BTreeMap::new()),
        }
    }

    /// Fetches `ranges` (coalesced by the object store) into the cache. Call from an async
    /// context before decoding, with the byte ranges the decoder is about to read.
    pub async fn prefetch(&self, ranges: &[Range<u64>]) -> std::io::Result<()> {
        let wanted: Vec<Range<u64>> = ranges
            .iter()
            .filter(|r| r.start < r.end && !self.cached(r))
            .cloned()
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let fetched = self
            .store
            .get_ranges(&self.path, &wanted)
            .await
            .map_err(std::io::Error::other)?;
        let mut cache = self.lock();
        for (range, bytes) in wanted.into_iter().zip(fetched) {
            cache.insert(range.start, bytes);
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Bytes>> {
        // A poisoned lock only means another reader panicked; the map itself is intact.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cached(&self, range: &Range<u64>) -> bool {
        self.lookup(range.start, (range.end - range.start) as usize)
            .is_some()
    }

    /// The cached bytes covering `offset..offset+len`, if one cached range holds them all.
    fn lookup(&self, offset: u64, len: usize) -> Option<Bytes> {
        let cache = self.lock();
        let (start, bytes) = cache.range(..=offset).next_back()?;
        let from = (offset - start) as usize;
        let to = from.checked_add(len)?;
        (to <= bytes.len()).then(|| bytes.slice(from..to))
    }
}

impl hepq_root::ReadAt for ObjectStoreReadAt {
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Bytes> {
        let end = offset
            .checked_add(len as u64)
            .filter(|end| *end <= self.size)
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "read of {len} bytes at {offset} is past the end of '{}' ({} bytes)",
                        self.path, self.size
                    ),
                )
            })?;
        if let Some(bytes) = self.lookup(offset, len) {
            return Ok(bytes);
        }
        let fetch_end = end.max(offset.saturating_add(MIN_FETCH)).min(self.size);
        let store = Arc::clone(&self.store);
        let path = self.path.clone();
        // We are on a blocking thread (never inside the runtime), so blocking is allowed.
        let fetched = self
            .handle
            .block_on(async move { store.get_range(&path, offset..fetch_end).await })
            .map_err(std::io::Error::other)?;
        let bytes = fetched;
        self.lock().insert(offset, bytes.clone());
        if bytes.len() < len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("short read at {offset} of '{}'", self.path),
            ));
        }
        Ok(bytes.slice(0..len))
    }

    fn size(&self) -> std::io::Result<u64> {
        Ok(self.size)
    }
}
