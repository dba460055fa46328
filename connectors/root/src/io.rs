//! Positional byte-range reads: the only thing the decoder needs from storage.
//!
//! [`ReadAt`] is deliberately synchronous and cursor-free, so that many threads can read one file
//! at once. Asynchronous object-store readers live in the DataFusion adapter, which prefetches the
//! byte ranges that [`crate::Tree::byte_ranges`] names and serves them through [`MemReader`] or
//! its own implementation.

use std::path::Path;

use bytes::Bytes;

/// A source of bytes addressed by offset: a local file, a buffer in memory, a prefetched object.
pub trait ReadAt: Send + Sync {
    /// Reads exactly `len` bytes starting at `offset`. Reading past the end is an error.
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Bytes>;
    /// The total size in bytes.
    fn size(&self) -> std::io::Result<u64>;
    /// Reads exactly `buf.len()` bytes starting at `offset` into `buf` (the reader reuses its
    /// buffers for baskets this way). By default a copy of [`ReadAt::read_at`].
    fn read_into(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let b = self.read_at(offset, buf.len())?;
        if b.len() != buf.len() {
            return Err(past_end(offset, buf.len(), offset + b.len() as u64));
        }
        buf.copy_from_slice(&b);
        Ok(())
    }
}

/// A local file read with positional reads (`pread`), so readers share no cursor.
#[derive(Debug)]
pub struct FileReader {
    file: std::fs::File,
    size: u64,
}

impl FileReader {
    /// Opens a local file for reading.
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let file = std::fs::File::open(path)?;
        let size = file.metadata()?.len();
        Ok(FileReader { file, size })
    }
}

fn past_end(offset: u64, len: usize, size: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        format!("read of {len} bytes at offset {offset} runs past the end ({size} bytes)"),
    )
}

impl ReadAt for FileReader {
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Bytes> {
        let mut buf = vec![0u8; len];
        self.read_into(offset, &mut buf)?;
        Ok(Bytes::from(buf))
    }

    fn size(&self) -> std::io::Result<u64> {
        Ok(self.size)
    }

    fn read_into(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let len = buf.len();
        let end = offset.checked_add(len as u64);
        if end.is_none_or(|e| e > self.size) {
            return Err(past_end(offset, len, self.size));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt;
            self.file.read_exact_at(buf, offset)?;
        }
        #[cfg(windows)]
        {
            use std::os::windows::fs::FileExt;
            let mut done = 0;
            while done < len {
                let n = self
                    .file
                    .seek_read(&mut buf[done..], offset + done as u64)?;
                if n == 0 {
                    return Err(past_end(offset, len, self.size));
                }
                done += n;
            }
        }
        Ok(())
    }
}

/// A whole file held in memory (tests, fuzzing, or an object fetched in one piece).
#[derive(Debug, Clone)]
pub struct MemReader {
    data: Bytes,
}

impl MemReader {
    /// Wraps a buffer.
    pub fn new(data: impl Into<Bytes>) -> Self {
        MemReader { data: data.into() }
    }
}

impl ReadAt for MemReader {
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Bytes> {
        let size = self.data.len() as u64;
        let end = offset.checked_add(len as u64);
        match end {
            Some(e) if e <= size => Ok(self.data.slice(offset as usize..e as usize)),
            _ => Err(past_end(offset, len, size)),
        }
    }

    fn size(&self) -> std::io::Result<u64> {
        Ok(self.data.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn mem_reader_bounds() {
        let r = MemReader::new(vec![1u8, 2, 3, 4]);
        assert_eq!(r.size().unwrap(), 4);
        assert_eq!(&r.read_at(1, 2).unwrap()[..], &[2, 3]);
        assert!(r.read_at(3, 2).is_err());
        assert!(r.read_at(u64::MAX, 2).is_err());
    }

    #[test]
    fn file_reader_positional() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, b"hello world").unwrap();
        let r = FileReader::open(f.path()).unwrap();
        assert_eq!(&r.read_at(6, 5).unwrap()[..], b"world");
        assert_eq!(&r.read_at(0, 5).unwrap()[..], b"hello");
        assert!(r.read_at(7, 5).is_err());
    }
}
