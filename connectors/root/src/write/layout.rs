//! The container records: the TFile header, TKey headers, the top directory, the keys list and
//! the free-segments record.

use super::buffer::{tstring_into, tstring_len};

/// Offsets at or past this use 64-bit fields (ROOT's `TFile::kStartBigFile`).
pub(crate) const START_BIG_FILE: u64 = 2_000_000_000;
/// Where the top directory's key starts (`fBEGIN`).
pub(crate) const BEGIN: u64 = 100;
/// The ROOT version this writer claims (6.30/00): the class versions it writes are 6.x's.
pub(crate) const ROOT_VERSION: i32 = 63000;
/// The length of a directory record (the same for the 32- and 64-bit forms).
pub(crate) const DIRECTORY_LEN: usize = 60;

/// A key header to write.
#[derive(Debug, Clone)]
pub(crate) struct KeyHeader {
    pub(crate) nbytes: u32,
    pub(crate) objlen: u32,
    pub(crate) datime: u32,
    pub(crate) cycle: i16,
    pub(crate) seek_key: u64,
    pub(crate) seek_pdir: u64,
    pub(crate) class: String,
    pub(crate) name: String,
    pub(crate) title: String,
    /// 64-bit seeks (needed at or past [`START_BIG_FILE`], allowed anywhere).
    pub(crate) big: bool,
    /// Bytes of the object's own header counted in `fKeylen` (a TBasket's 19).
    pub(crate) extra: usize,
}

impl KeyHeader {
    fn big(&self) -> bool {
        self.big || self.seek_key >= START_BIG_FILE || self.seek_pdir >= START_BIG_FILE
    }

    /// The header's length (`fKeylen`).
    pub(crate) fn len(&self) -> usize {
        key_len(&self.class, &self.name, &self.title, self.big()) + self.extra
    }

    /// Appends the header.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let big = self.big();
        out.extend_from_slice(&(self.nbytes as i32).to_be_bytes());
        out.extend_from_slice(&(if big { 1004i16 } else { 4i16 }).to_be_bytes());
        out.extend_from_slice(&(self.objlen as i32).to_be_bytes());
        out.extend_from_slice(&self.datime.to_be_bytes());
        out.extend_from_slice(&(self.len() as i16).to_be_bytes());
        out.extend_from_slice(&self.cycle.to_be_bytes());
        if big {
            out.extend_from_slice(&(self.seek_key as i64).to_be_bytes());
            out.extend_from_slice(&(self.seek_pdir as i64).to_be_bytes());
        } else {
            out.extend_from_slice(&(self.seek_key as i32).to_be_bytes());
            out.extend_from_slice(&(self.seek_pdir as i32).to_be_bytes());
        }
        tstring_into(out, self.class.as_bytes());
        tstring_into(out, self.name.as_bytes());
        tstring_into(out, self.title.as_bytes());
    }
}

/// The length of a key header for these strings, with 64-bit seeks when `big`.
pub(crate) fn key_len(class: &str, name: &str, title: &str, big: bool) -> usize {
    let fixed = if big { 34 } else { 26 };
    fixed + tstring_len(class) + tstring_len(name) + tstring_len(title)
}

/// The file header's fields.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileHeader {
    pub(crate) end: u64,
    pub(crate) seek_free: u64,
    pub(crate) nbytes_free: u32,
    pub(crate) nfree: u32,
    pub(crate) nbytes_name: u32,
    pub(crate) compress: i32,
    pub(crate) seek_info: u64,
    pub(crate) nbytes_info: u32,
    pub(crate) uuid: [u8; 16],
}

impl FileHeader {
    /// The header, padded to [`BEGIN`] bytes. Files that end past 2 GB get the 64-bit form.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        let big = self.end >= START_BIG_FILE;
        let mut o = Vec::with_capacity(BEGIN as usize);
        o.extend_from_slice(b"root");
        let version = if big {
            ROOT_VERSION + 1_000_000
        } else {
            ROOT_VERSION
        };
        o.extend_from_slice(&version.to_be_bytes());
        o.extend_from_slice(&(BEGIN as i32).to_be_bytes());
        if big {
            o.extend_from_slice(&(self.end as i64).to_be_bytes());
            o.extend_from_slice(&(self.seek_free as i64).to_be_bytes());
        } else {
            o.extend_from_slice(&(self.end as i32).to_be_bytes());
            o.extend_from_slice(&(self.seek_free as i32).to_be_bytes());
        }
        o.extend_from_slice(&(self.nbytes_free as i32).to_be_bytes());
        o.extend_from_slice(&(self.nfree as i32).to_be_bytes());
        o.extend_from_slice(&(self.nbytes_name as i32).to_be_bytes());
        o.push(if big { 8 } else { 4 });
        o.extend_from_slice(&self.compress.to_be_bytes());
        if big {
            o.extend_from_slice(&(self.seek_info as i64).to_be_bytes());
        } else {
            o.extend_from_slice(&(self.seek_info as i32).to_be_bytes());
        }
        o.extend_from_slice(&(self.nbytes_info as i32).to_be_bytes());
        o.extend_from_slice(&1u16.to_be_bytes());
        o.extend_from_slice(&self.uuid);
        o.resize(BEGIN as usize, 0);
        o
    }
}

/// The top directory's fields.
#[derive(Debug, Clone, Default)]
pub(crate) struct TopDirectory {
    pub(crate) file_name: String,
    pub(crate) title: String,
    pub(crate) datime: u32,
    pub(crate) nbytes_keys: u32,
    pub(crate) seek_keys: u64,
    pub(crate) uuid: [u8; 16],
}

impl TopDirectory {
    /// `fNbytesName`: the key and the TNamed part before the directory record.
    pub(crate) fn nbytes_name(&self) -> usize {
        self.key().len() + tstring_len(&self.file_name) + tstring_len(&self.title)
    }

    fn key(&self) -> KeyHeader {
        let objlen = tstring_len(&self.file_name) + tstring_len(&self.title) + DIRECTORY_LEN;
        let mut k = KeyHeader {
            nbytes: 0,
            objlen: objlen as u32,
            datime: self.datime,
            cycle: 1,
            seek_key: BEGIN,
            seek_pdir: 0,
            class: "TFile".into(),
            name: self.file_name.clone(),
            title: self.title.clone(),
            big: false,
            extra: 0,
        };
        k.nbytes = (k.len() + objlen) as u32;
        k
    }

    /// The key, the file's name and title, and the directory record (always the 64-bit form).
    pub(crate) fn bytes(&self) -> Vec<u8> {
        let mut o = Vec::new();
        self.key().write(&mut o);
        tstring_into(&mut o, self.file_name.as_bytes());
        tstring_into(&mut o, self.title.as_bytes());
        o.extend_from_slice(&1005u16.to_be_bytes());
        o.extend_from_slice(&self.datime.to_be_bytes());
        o.extend_from_slice(&self.datime.to_be_bytes());
        o.extend_from_slice(&(self.nbytes_keys as i32).to_be_bytes());
        o.extend_from_slice(&(self.nbytes_name() as i32).to_be_bytes());
        o.extend_from_slice(&(BEGIN as i64).to_be_bytes());
        o.extend_from_slice(&0i64.to_be_bytes());
        o.extend_from_slice(&(self.seek_keys as i64).to_be_bytes());
        o.extend_from_slice(&1u16.to_be_bytes());
        o.extend_from_slice(&self.uuid);
        o
    }
}

/// The free-segments record at `at` for a file that ends right after it: its key and one
/// `TFree` segment from the file's end onwards. Returns the bytes (the file ends after them).
pub(crate) fn free_segments(at: u64, file_name: &str, datime: u32) -> Vec<u8> {
    // The segment's start (the file's end) depends on the record's own length.
    for big in [false, true] {
        let seg_len = if big { 18 } else { 10 };
        let mut key = KeyHeader {
            nbytes: 0,
            objlen: seg_len as u32,
            datime,
            cycle: 1,
            seek_key: at,
            seek_pdir: BEGIN,
            class: "TFile".into(),
            name: file_name.into(),
            title: String::new(),
            big,
            extra: 0,
        };
        let total = key.len() + seg_len;
        key.nbytes = total as u32;
        let end = at + total as u64;
        if (end >= START_BIG_FILE) != big {
            continue;
        }
        let mut o = Vec::with_capacity(total);
        key.write(&mut o);
        if big {
            let mut last = START_BIG_FILE;
            while last <= end {
                last *= 2;
            }
            o.extend_from_slice(&1001u16.to_be_bytes());
            o.extend_from_slice(&(end as i64).to_be_bytes());
            o.extend_from_slice(&(last as i64).to_be_bytes());
        } else {
            o.extend_from_slice(&1u16.to_be_bytes());
            o.extend_from_slice(&(end as i32).to_be_bytes());
            o.extend_from_slice(&(START_BIG_FILE as i32).to_be_bytes());
        }
        return o;
    }
    Vec::new()
}

/// ROOT's `TDatime` encoding of a Unix time (UTC).
pub(crate) fn datime(unix: u64) -> u32 {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // civil date from days since 1970-01-01 (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let y = (year - 1995).clamp(0, 63) as u32;
    (y << 26)
        | ((month as u32) << 22)
        | ((day as u32) << 17)
        | ((h as u32) << 12)
        | ((m as u32) << 6)
        | s as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datime_encoding() {
        // 2020-03-06 12:34:56 UTC
        let d = datime(1_583_498_096);
        assert_eq!(d >> 26, 25);
        assert_eq!((d >> 22) & 0xf, 3);
        assert_eq!((d >> 17) & 0x1f, 6);
        assert_eq!((d >> 12) & 0x1f, 12);
        assert_eq!((d >> 6) & 0x3f, 34);
        assert_eq!(d & 0x3f, 56);
    }

    #[test]
    fn free_segments_switch_to_64_bits() {
        let small = free_segments(1000, "f.root", 0);
        assert_eq!(small.len(), key_len("TFile", "f.root", "", false) + 10);
        let big = free_segments(START_BIG_FILE + 5, "f.root", 0);
        assert_eq!(big.len(), key_len("TFile", "f.root", "", true) + 18);
    }
}
