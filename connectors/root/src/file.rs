//! The container: the TFile header, TKeys, TDirectories (with subdirectories and cycles) and the
//! file's TStreamerInfo list.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::compression;
use crate::cursor::Cursor;
use crate::error::{Error, PResult, Result, malformed};
use crate::io::ReadAt;
use crate::streamer::Streamers;
use crate::tree::Tree;

/// Classes that are trees.
const TREE_CLASSES: &[&str] = &["TTree", "TNtuple", "TNtupleD"];
/// Classes that are directories.
const DIR_CLASSES: &[&str] = &["TDirectory", "TDirectoryFile"];

/// The fixed part of the file header.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub(crate) version: i32,
    pub(crate) begin: u64,
    pub(crate) end: u64,
    pub(crate) seek_info: u64,
    pub(crate) nbytes_info: usize,
    pub(crate) nbytes_name: usize,
}

/// A TKey: the header in front of every object record.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub(crate) nbytes: usize,
    pub(crate) objlen: usize,
    pub(crate) keylen: usize,
    pub(crate) cycle: i16,
    pub(crate) seek_key: u64,
    pub(crate) class_name: String,
    pub(crate) name: String,
    pub(crate) title: String,
}

impl Key {
    pub(crate) fn parse(c: &mut Cursor<'_>) -> PResult<Key> {
        let nbytes = c.i32()?;
        let version = c.i16()?;
        let objlen = c.i32()?;
        let _datime = c.u32()?;
        let keylen = c.i16()?;
        let cycle = c.i16()?;
        let (seek_key, _seek_pdir) = if version > 1000 {
            (c.i64()?, c.i64()?)
        } else {
            (c.i32()? as i64, c.i32()? as i64)
        };
        let class_name = c.tstring()?;
        let name = c.tstring()?;
        let title = c.tstring()?;
        if nbytes < 0 || objlen < 0 || keylen < 0 || seek_key < 0 {
            return malformed(format!(
                "key {name:?} has negative sizes or offsets (nbytes {nbytes}, objlen {objlen}, keylen {keylen}, seek {seek_key})"
            ));
        }
        Ok(Key {
            nbytes: nbytes as usize,
            objlen: objlen as usize,
            keylen: keylen as usize,
            cycle,
            seek_key: seek_key as u64,
            class_name,
            name,
            title,
        })
    }
}

/// A directory's list of keys.
#[derive(Debug, Clone, Default)]
pub(crate) struct Directory {
    pub(crate) keys: Vec<Key>,
}

/// One TTree found in a file, as listed by [`RootFile::trees`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeInfo {
    /// The path from the file's top directory, like `Events` or `dir/sub/tree`.
    pub path: String,
    /// The key's cycle number (the highest cycle of each name is listed).
    pub cycle: i16,
    /// The number of entries.
    pub entries: u64,
    /// The tree's title.
    pub title: String,
    /// The tree's class (`TTree`, `TNtuple`, `TNtupleD`).
    pub class_name: String,
}

pub(crate) struct FileInner {
    pub(crate) reader: Arc<dyn ReadAt>,
    pub(crate) name: String,
    pub(crate) header: Header,
    pub(crate) size: u64,
    pub(crate) root: Directory,
    streamers: OnceLock<std::result::Result<Arc<Streamers>, String>>,
}

/// One key of a file, as listed by [`RootFile::keys`]: any object, of any class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The path from the file's top directory, like `ntuple` or `dir/sub/ntuple`.
    pub path: String,
    /// The key's cycle number.
    pub cycle: i16,
    /// The stored object's class name (`TTree`, `ROOT::RNTuple`, `TH1F`, ...).
    pub class_name: String,
    /// The key's title.
    pub title: String,
}

/// An open ROOT file.
///
/// Opening reads the header and the top directory's keys; trees are read when asked for.
/// The handle is cheap to clone and can be shared between threads.
#[derive(Clone)]
pub struct RootFile {
    pub(crate) inner: Arc<FileInner>,
}

impl std::fmt::Debug for RootFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootFile")
            .field("name", &self.inner.name)
            .field("version", &self.inner.header.version)
            .finish()
    }
}

impl FileInner {
    pub(crate) fn malformed(&self, context: impl Into<String>, message: impl ToString) -> Error {
        Error::Malformed {
            file: self.name.clone(),
            context: context.into(),
            message: message.to_string(),
        }
    }

    pub(crate) fn read(&self, offset: u64, len: usize, what: &str) -> Result<Bytes> {
        let end = offset.checked_add(len as u64);
        if end.is_none_or(|e| e > self.size) {
            return Err(self.malformed(
                what,
                format!(
                    "{len} bytes at offset {offset} run past the end of the file ({} bytes)",
                    self.size
                ),
            ));
        }
        self.reader
            .read_at(offset, len)
            .map_err(|source| Error::Io {
                file: self.name.clone(),
                source,
            })
    }

    /// Reads `buf.len()` bytes at `offset` into `buf`.
    pub(crate) fn read_into(&self, offset: u64, buf: &mut [u8], what: &str) -> Result<()> {
        let len = buf.len();
        let end = offset.checked_add(len as u64);
        if end.is_none_or(|e| e > self.size) {
            return Err(self.malformed(
                what,
                format!(
                    "{len} bytes at offset {offset} run past the end of the file ({} bytes)",
                    self.size
                ),
            ));
        }
        self.reader
            .read_into(offset, buf)
            .map_err(|source| Error::Io {
                file: self.name.clone(),
                source,
            })
    }

    /// Reads a key header at `offset` (reading at most `hint` bytes).
    fn key_at(&self, offset: u64, what: &str) -> Result<Key> {
        let avail = self.size.saturating_sub(offset).min(1024) as usize;
        let b = self.read(offset, avail, what)?;
        Key::parse(&mut Cursor::new(&b, 0)).map_err(|e| self.malformed(what, e))
    }

    /// Reads and decompresses a key's object; returns the object bytes (after the key).
    pub(crate) fn object(&self, key: &Key) -> Result<Vec<u8>> {
        let what = format!("{} {:?}", key.class_name, key.name);
        if key.nbytes < key.keylen {
            return Err(self.malformed(&what, "key is longer than its record"));
        }
        let rec = self.read(key.seek_key, key.nbytes, &what)?;
        let body = &rec[key.keylen..];
        compression::decompress(body, key.objlen).map_err(|e| self.malformed(&what, e))
    }

    /// Reads a directory record (TDirectory streamer) at `offset` and then its keys.
    fn directory_at(&self, offset: u64, what: &str) -> Result<Directory> {
        let avail = self.size.saturating_sub(offset).min(256) as usize;
        let b = self.read(offset, avail, what)?;
        let mut c = Cursor::new(&b, 0);
        let parse = |c: &mut Cursor<'_>| -> PResult<(u64, usize)> {
            let version = c.i16()?;
            let _ctime = c.u32()?;
            let _mtime = c.u32()?;
            let nbytes_keys = c.i32()?;
            let _nbytes_name = c.i32()?;
            let (_seek_dir, _seek_parent, seek_keys) = if version > 1000 {
                (c.i64()?, c.i64()?, c.i64()?)
            } else {
                (c.i32()? as i64, c.i32()? as i64, c.i32()? as i64)
            };
            if seek_keys < 0 || nbytes_keys < 0 {
                return malformed("negative key-list offset or size");
            }
            Ok((seek_keys as u64, nbytes_keys as usize))
        };
        let (seek_keys, nbytes_keys) = parse(&mut c).map_err(|e| self.malformed(what, e))?;
        if seek_keys == 0 {
            return Ok(Directory::default());
        }
        let kb = self.read(seek_keys, nbytes_keys, what)?;
        let mut c = Cursor::new(&kb, 0);
        let parse_keys = |c: &mut Cursor<'_>| -> PResult<Vec<Key>> {
            let _list_key = Key::parse(c)?;
            let n = c.count("number of keys")?;
            // each key is at least 26 bytes; reject counts the buffer cannot hold
            if n > c.remaining() / 26 + 1 {
                return malformed(format!("{n} keys cannot fit in {} bytes", c.remaining()));
            }
            (0..n).map(|_| Key::parse(c)).collect()
        };
        let keys = parse_keys(&mut c).map_err(|e| self.malformed(what, e))?;
        Ok(Directory { keys })
    }

    pub(crate) fn streamers(&self) -> std::result::Result<Arc<Streamers>, String> {
        self.streamers
            .get_or_init(|| {
                if self.header.seek_info == 0 {
                    return Ok(Arc::new(Streamers::default()));
                }
                let key = self
                    .key_at(self.header.seek_info, "streamer info key")
                    .map_err(|e| e.to_string())?;
                let obj = self.object(&key).map_err(|e| e.to_string())?;
                Streamers::parse(&obj, key.keylen)
                    .map(Arc::new)
                    .map_err(|e| format!("streamer info: {e}"))
            })
            .clone()
    }
}

fn parse_header(b: &[u8]) -> PResult<Header> {
    let mut c = Cursor::new(b, 0);
    if c.take(4)? != b"root" {
        return malformed("not a ROOT file (no 'root' magic)");
    }
    let version = c.i32()?;
    let begin = c.i32()?;
    let large = version >= 1_000_000;
    let (end, _seek_free) = if large {
        (c.i64()?, c.i64()?)
    } else {
        (c.i32()? as i64, c.i32()? as i64)
    };
    let _nbytes_free = c.i32()?;
    let _nfree = c.i32()?;
    let nbytes_name = c.i32()?;
    let _units = c.u8()?;
    let _compress = c.i32()?;
    let (seek_info, nbytes_info) = if large {
        (c.i64()?, c.i32()?)
    } else {
        (c.i32()? as i64, c.i32()?)
    };
    if begin <= 0 || end < 0 || seek_info < 0 || nbytes_info < 0 || nbytes_name < 0 {
        return malformed("negative offsets in the file header");
    }
    Ok(Header {
        version,
        begin: begin as u64,
        end: end as u64,
        seek_info: seek_info as u64,
        nbytes_info: nbytes_info as usize,
        nbytes_name: nbytes_name as usize,
    })
}

impl RootFile {
    /// Opens a ROOT file read through `reader`; `name` is used in every error message.
    pub fn open(reader: Arc<dyn ReadAt>, name: &str) -> Result<RootFile> {
        let size = reader.size().map_err(|source| Error::Io {
            file: name.to_string(),
            source,
        })?;
        let head_len = size.min(128) as usize;
        let head = reader.read_at(0, head_len).map_err(|source| Error::Io {
            file: name.to_string(),
            source,
        })?;
        let header = parse_header(&head).map_err(|e| Error::Malformed {
            file: name.to_string(),
            context: "file header".into(),
            message: e.0,
        })?;
        let mut inner = FileInner {
            reader,
            name: name.to_string(),
            header,
            size,
            root: Directory::default(),
            streamers: OnceLock::new(),
        };
        let dir_offset = inner.header.begin + inner.header.nbytes_name as u64;
        inner.root = inner.directory_at(dir_offset, "top directory")?;
        let _ = inner.header.end;
        let _ = inner.header.nbytes_info;
        Ok(RootFile {
            inner: Arc::new(inner),
        })
    }

    /// The name given to [`RootFile::open`].
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The ROOT version that wrote the file (e.g. `62406` for 6.24/06).
    pub fn version(&self) -> i32 {
        self.inner.header.version % 1_000_000
    }

    /// Keys of a directory, keeping only the highest cycle of each name.
    fn latest(dir: &Directory) -> Vec<&Key> {
        let mut best: BTreeMap<&str, &Key> = BTreeMap::new();
        let mut order: Vec<&str> = Vec::new();
        for k in &dir.keys {
            match best.get(k.name.as_str()) {
                Some(prev) if prev.cycle >= k.cycle => {}
                Some(_) => {
                    best.insert(&k.name, k);
                }
                None => {
                    order.push(&k.name);
                    best.insert(&k.name, k);
                }
            }
        }
        order.iter().filter_map(|n| best.get(n).copied()).collect()
    }

    fn subdirectory(&self, key: &Key) -> Result<Directory> {
        // A directory record sits right after its key, uncompressed.
        self.inner.directory_at(
            key.seek_key + key.keylen as u64,
            &format!("directory {:?}", key.name),
        )
    }

    /// Every TTree in every directory (the highest cycle of each), depth first in key order.
    pub fn trees(&self) -> Result<Vec<TreeInfo>> {
        let mut out = Vec::new();
        self.walk(&self.inner.root, "", 0, &mut out)?;
        Ok(out)
    }

    fn walk(
        &self,
        dir: &Directory,
        prefix: &str,
        depth: usize,
        out: &mut Vec<TreeInfo>,
    ) -> Result<()> {
        if depth > 64 {
            return Err(self
                .inner
                .malformed(prefix, "directories nested more than 64 deep"));
        }
        for key in Self::latest(dir) {
            let path = format!("{prefix}{}", key.name);
            if TREE_CLASSES.contains(&key.class_name.as_str()) {
                let entries = self.tree_entries(key, &path)?;
                out.push(TreeInfo {
                    path,
                    cycle: key.cycle,
                    entries,
                    title: key.title.clone(),
                    class_name: key.class_name.clone(),
                });
            } else if DIR_CLASSES.contains(&key.class_name.as_str()) {
                let sub = self.subdirectory(key)?;
                self.walk(&sub, &format!("{path}/"), depth + 1, out)?;
            }
        }
        Ok(())
    }

    fn tree_entries(&self, key: &Key, path: &str) -> Result<u64> {
        let obj = self.inner.object(key)?;
        crate::meta::peek_entries(&obj, key.keylen, &key.class_name)
            .map_err(|e| self.inner.malformed(format!("tree {path:?}"), e))
    }

    /// Opens a tree by path: `Events`, `dir/sub/tree`, optionally with a cycle (`Events;2`).
    pub fn tree(&self, path: &str) -> Result<Tree> {
        let (p, cycle) = match path.rsplit_once(';') {
            Some((p, c)) => match c.parse::<i16>() {
                Ok(c) => (p, Some(c)),
                Err(_) => (path, None),
            },
            None => (path, None),
        };
        let parts: Vec<&str> = p.trim_matches('/').split('/').collect();
        let mut dir = self.inner.root.clone();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let key = if last {
                let cands = dir
                    .keys
                    .iter()
                    .filter(|k| k.name == *part && TREE_CLASSES.contains(&k.class_name.as_str()));
                match cycle {
                    Some(c) => cands.filter(|k| k.cycle == c).max_by_key(|k| k.cycle),
                    None => cands.max_by_key(|k| k.cycle),
                }
            } else {
                dir.keys
                    .iter()
                    .filter(|k| k.name == *part && DIR_CLASSES.contains(&k.class_name.as_str()))
                    .max_by_key(|k| k.cycle)
            };
            let Some(key) = key.cloned() else {
                return Err(self.no_such_tree(path));
            };
            if last {
                let obj = self.inner.object(&key)?;
                return Tree::parse(self.clone(), p.trim_matches('/').to_string(), &key, &obj);
            }
            dir = self.subdirectory(&key)?;
        }
        Err(self.no_such_tree(path))
    }

    /// Every key in every directory (all cycles), depth first in key order. Directories are
    /// listed and also entered.
    pub fn keys(&self) -> Result<Vec<KeyInfo>> {
        let mut out = Vec::new();
        self.walk_keys(&self.inner.root, "", 0, &mut out)?;
        Ok(out)
    }

    fn walk_keys(
        &self,
        dir: &Directory,
        prefix: &str,
        depth: usize,
        out: &mut Vec<KeyInfo>,
    ) -> Result<()> {
        if depth > 64 {
            return Err(self
                .inner
                .malformed(prefix, "directories nested more than 64 deep"));
        }
        for key in &dir.keys {
            let path = format!("{prefix}{}", key.name);
            out.push(KeyInfo {
                path: path.clone(),
                cycle: key.cycle,
                class_name: key.class_name.clone(),
                title: key.title.clone(),
            });
        }
        for key in Self::latest(dir) {
            if DIR_CLASSES.contains(&key.class_name.as_str()) {
                let sub = self.subdirectory(key)?;
                self.walk_keys(&sub, &format!("{prefix}{}/", key.name), depth + 1, out)?;
            }
        }
        Ok(())
    }

    /// The uncompressed object stored under the key at `path` (a path as [`RootFile::keys`]
    /// lists it) with the given cycle, or the highest cycle when `cycle` is `None`: the bytes
    /// after the key header, decompressed.
    pub fn object_bytes(&self, path: &str, cycle: Option<i16>) -> Result<Vec<u8>> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut dir = self.inner.root.clone();
        let missing = || {
            self.inner
                .malformed(format!("key {path:?}"), "no such key in the file")
        };
        for (i, part) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                let key = dir
                    .keys
                    .iter()
                    .filter(|k| k.name == *part && cycle.is_none_or(|c| k.cycle == c))
                    .max_by_key(|k| k.cycle)
                    .ok_or_else(missing)?;
                return self.inner.object(key);
            }
            let key = dir
                .keys
                .iter()
                .filter(|k| k.name == *part && DIR_CLASSES.contains(&k.class_name.as_str()))
                .max_by_key(|k| k.cycle)
                .cloned()
                .ok_or_else(missing)?;
            dir = self.subdirectory(&key)?;
        }
        Err(missing())
    }

    /// Reads `len` bytes at absolute file offset `offset` (bounds-checked against the file size;
    /// `what` names the structure being read in errors).
    pub fn read_range(&self, offset: u64, len: usize, what: &str) -> Result<Bytes> {
        self.inner.read(offset, len, what)
    }

    /// Reads `buf.len()` bytes at `offset` into `buf` (as [`RootFile::read_range`], into memory
    /// the caller reuses).
    pub fn read_range_into(&self, offset: u64, buf: &mut [u8], what: &str) -> Result<()> {
        self.inner.read_into(offset, buf, what)
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.inner.size
    }

    fn no_such_tree(&self, path: &str) -> Error {
        let available = match self.trees() {
            Ok(t) if t.is_empty() => "none".to_string(),
            Ok(t) => t.into_iter().map(|t| t.path).collect::<Vec<_>>().join(", "),
            Err(e) => format!("unknown: {e}"),
        };
        Error::NoSuchTree {
            file: self.inner.name.clone(),
            tree: path.to_string(),
            available,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::io::MemReader;

    #[test]
    fn not_root_is_a_clear_error() {
        let r = Arc::new(MemReader::new(b"hello world, not a root file".to_vec()));
        let e = RootFile::open(r, "x.root").unwrap_err().to_string();
        assert!(e.contains("x.root") && e.contains("magic"), "{e}");
        let r = Arc::new(MemReader::new(Vec::new()));
        assert!(RootFile::open(r, "empty.root").is_err());
    }
}
