//! Framing and decoding of frontend messages, and buffered writing of backend messages.
//!
//! Frontend messages are decoded here with a bounds-checked cursor, so that garbage, truncated
//! or hostile bytes become a protocol error (SQLSTATE 08P01) instead of a panic or an
//! allocation the peer never pays for: every length is checked against the bytes actually
//! received, and a message body is read incrementally up to [`MAX_MESSAGE`] bytes. Backend
//! messages are the `pgwire` crate's types, encoded into a write buffer that is flushed at
//! protocol boundaries (or whenever it grows past [`FLUSH_AT`]).

use bytes::{Bytes, BytesMut};
use pgwire::messages::PgWireBackendMessage;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest frontend message accepted (a query text or a Bind with large parameters).
pub const MAX_MESSAGE: usize = 256 * 1024 * 1024;
/// The largest startup packet accepted (PostgreSQL uses 10000).
pub const MAX_STARTUP: usize = 10_000;
/// Write-buffer size at which rows are pushed to the socket while a result streams.
pub const FLUSH_AT: usize = 64 * 1024;

const SSL_REQUEST: i32 = 80_877_103;
const GSSENC_REQUEST: i32 = 80_877_104;
const CANCEL_REQUEST: i32 = 80_877_102;

/// A protocol violation: the connection is closed after an 08P01 error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProtocolError(pub String);

/// The first packet of a connection.
#[derive(Debug)]
pub enum StartupPacket {
    /// `SSLRequest`.
    Ssl,
    /// `GSSENCRequest`.
    GssEnc,
    /// `CancelRequest` for (pid, secret).
    Cancel(i32, i32),
    /// `StartupMessage`: protocol version and parameters.
    Startup {
        /// Minor protocol version.
        minor: u16,
        /// `user`, `database`, `application_name`, options, …
        params: Vec<(String, String)>,
    },
}

/// A frontend message after startup.
#[derive(Debug)]
pub enum Frontend {
    /// `Q`: simple query.
    Query(String),
    /// `P`: Parse.
    Parse {
        /// Statement name ("" is the unnamed statement).
        name: String,
        /// The SQL text.
        query: String,
        /// Declared parameter type OIDs (0 = unspecified).
        param_types: Vec<u32>,
    },
    /// `B`: Bind.
    Bind {
        /// Portal name.
        portal: String,
        /// Statement name.
        statement: String,
        /// Parameter format codes (0, 1 or one per parameter).
        param_formats: Vec<i16>,
        /// Parameter values (`None` = NULL).
        params: Vec<Option<Bytes>>,
        /// Result column format codes (0, 1 or one per column).
        result_formats: Vec<i16>,
    },
    /// `D`: Describe a statement (`S`) or portal (`P`).
    Describe {
        /// `S` or `P`.
        kind: u8,
        /// The name.
        name: String,
    },
    /// `E`: Execute a portal with a row limit (0 = all).
    Execute {
        /// Portal name.
        portal: String,
        /// Row limit.
        max_rows: i32,
    },
    /// `C`: Close a statement or portal.
    Close {
        /// `S` or `P`.
        kind: u8,
        /// The name.
        name: String,
    },
    /// `S`.
    Sync,
    /// `H`.
    Flush,
    /// `X`.
    Terminate,
    /// `d`, `c`, `f`: COPY FROM data (not supported; answered with an error).
    CopyIn,
    /// `p`: a password, SASLInitialResponse or SASLResponse message (raw body).
    Password(Vec<u8>),
}

/// A bounds-checked reader over one message body.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.buf.len())
            .ok_or_else(|| ProtocolError("message truncated".into()))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn i16(&mut self) -> Result<i16, ProtocolError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32, ProtocolError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn cstring(&mut self) -> Result<String, ProtocolError> {
        let rest = &self.buf[self.pos..];
        let len = rest
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| ProtocolError("string without terminator".into()))?;
        let s = std::str::from_utf8(&rest[..len])
            .map_err(|_| ProtocolError("invalid UTF-8 in message".into()))?
            .to_string();
        self.pos += len + 1;
        Ok(s)
    }

    /// A count of items of at least `min_size` bytes each, checked against what is left.
    fn count(&mut self, min_size: usize) -> Result<usize, ProtocolError> {
        // PostgreSQL reads these counts as unsigned 16-bit integers.
        let n = self.i16()? as u16 as usize;
        if n.saturating_mul(min_size) > self.buf.len() - self.pos {
            return Err(ProtocolError(format!(
                "count {n} exceeds the message length"
            )));
        }
        Ok(n)
    }
}

/// Reads a body of `len` bytes, growing the buffer only as bytes arrive.
async fn read_body<R: AsyncRead + Unpin>(reader: &mut R, len: usize) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(len.min(64 * 1024));
    let read = reader.take(len as u64).read_to_end(&mut body).await?;
    if read != len {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(body)
}

/// Reads the first packet of a connection (or the one after a refused SSL request).
pub async fn read_startup<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> std::io::Result<Result<StartupPacket, ProtocolError>> {
    let len = reader.read_i32().await?;
    let Some(len) = usize::try_from(len)
        .ok()
        .filter(|l| (8..=MAX_STARTUP).contains(l))
    else {
        return Ok(Err(ProtocolError(format!(
            "invalid startup packet length {len}"
        ))));
    };
    let body = read_body(reader, len - 4).await?;
    Ok(parse_startup(&body))
}

fn parse_startup(body: &[u8]) -> Result<StartupPacket, ProtocolError> {
    let mut c = Cursor::new(body);
    let code = c.i32()?;
    match code {
        SSL_REQUEST => Ok(StartupPacket::Ssl),
        GSSENC_REQUEST => Ok(StartupPacket::GssEnc),
        CANCEL_REQUEST => {
            let pid = c.i32()?;
            let secret = c.i32()?;
            Ok(StartupPacket::Cancel(pid, secret))
        }
        _ => {
            let major = (code >> 16) as u16;
            let minor = (code & 0xffff) as u16;
            if major != 3 {
                return Err(ProtocolError(format!(
                    "unsupported frontend protocol {major}.{minor}: server supports 3.0"
                )));
            }
            let mut params = Vec::new();
            loop {
                let key = c.cstring()?;
                if key.is_empty() {
                    break;
                }
                let value = c.cstring()?;
                params.push((key, value));
            }
            Ok(StartupPacket::Startup { minor, params })
        }
    }
}

/// Reads one frontend message. `Ok(None)` is a clean end of stream.
pub async fn read_message<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> std::io::Result<Option<Result<Frontend, ProtocolError>>> {
    let mut tag = [0u8; 1];
    if reader.read(&mut tag).await? == 0 {
        return Ok(None);
    }
    let len = reader.read_i32().await?;
    let Some(len) = usize::try_from(len)
        .ok()
        .filter(|l| (4..=MAX_MESSAGE).contains(l))
    else {
        return Ok(Some(Err(ProtocolError(format!(
            "invalid message length {len} for message type {:?}",
            tag[0] as char
        )))));
    };
    let body = read_body(reader, len - 4).await?;
    Ok(Some(parse_message(tag[0], &body)))
}

fn parse_message(tag: u8, body: &[u8]) -> Result<Frontend, ProtocolError> {
    let mut c = Cursor::new(body);
    let message = match tag {
        b'Q' => Frontend::Query(c.cstring()?),
        b'P' => {
            let name = c.cstring()?;
            let query = c.cstring()?;
            let n = c.count(4)?;
            let mut param_types = Vec::with_capacity(n);
            for _ in 0..n {
                param_types.push(c.i32()? as u32);
            }
            Frontend::Parse {
                name,
                query,
                param_types,
            }
        }
        b'B' => {
            let portal = c.cstring()?;
            let statement = c.cstring()?;
            let n = c.count(2)?;
            let mut param_formats = Vec::with_capacity(n);
            for _ in 0..n {
                param_formats.push(c.i16()?);
            }
            let n = c.count(4)?;
            let mut params = Vec::with_capacity(n);
            for _ in 0..n {
                let len = c.i32()?;
                if len < 0 {
                    params.push(None);
                } else {
                    params.push(Some(Bytes::copy_from_slice(c.take(len as usize)?)));
                }
            }
            let n = c.count(2)?;
            let mut result_formats = Vec::with_capacity(n);
            for _ in 0..n {
                result_formats.push(c.i16()?);
            }
            Frontend::Bind {
                portal,
                statement,
                param_formats,
                params,
                result_formats,
            }
        }
        b'D' | b'C' => {
            let kind = c.take(1)?[0];
            if kind != b'S' && kind != b'P' {
                return Err(ProtocolError(format!(
                    "invalid {} target {:?}",
                    if tag == b'D' { "DESCRIBE" } else { "CLOSE" },
                    kind as char
                )));
            }
            let name = c.cstring()?;
            if tag == b'D' {
                Frontend::Describe { kind, name }
            } else {
                Frontend::Close { kind, name }
            }
        }
        b'E' => {
            let portal = c.cstring()?;
            let max_rows = c.i32()?;
            Frontend::Execute { portal, max_rows }
        }
        b'S' => Frontend::Sync,
        b'H' => Frontend::Flush,
        b'X' => Frontend::Terminate,
        b'd' | b'c' | b'f' => Frontend::CopyIn,
        b'p' => Frontend::Password(body.to_vec()),
        other => {
            return Err(ProtocolError(format!(
                "invalid frontend message type {other}"
            )));
        }
    };
    Ok(message)
}

/// Splits a SASLInitialResponse body into (mechanism, data).
pub fn sasl_initial(body: &[u8]) -> Result<(String, Vec<u8>), ProtocolError> {
    let mut c = Cursor::new(body);
    let mechanism = c.cstring()?;
    let len = c.i32()?;
    let data = if len < 0 {
        Vec::new()
    } else {
        c.take(len as usize)?.to_vec()
    };
    Ok((mechanism, data))
}

/// The password of a PasswordMessage body.
pub fn password_text(body: &[u8]) -> Result<String, ProtocolError> {
    Cursor::new(body).cstring()
}

/// Buffered writer of backend messages.
pub struct Writer<W> {
    inner: W,
    buf: BytesMut,
}

impl<W: AsyncWrite + Unpin> Writer<W> {
    /// Wraps the write half of a connection.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            buf: BytesMut::with_capacity(FLUSH_AT * 2),
        }
    }

    /// Appends one message to the buffer.
    pub fn push(&mut self, message: PgWireBackendMessage) -> std::io::Result<()> {
        message
            .encode(&mut self.buf)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }

    /// The buffer, for callers that frame messages themselves (data rows).
    pub fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Writes out the buffer if it has grown large.
    pub async fn maybe_flush(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes out the buffer.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.inner.write_all(&self.buf).await?;
            self.buf.clear();
        }
        self.inner.flush().await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn truncated_and_hostile_messages_are_errors() {
        // A Bind that claims 30000 parameters in 10 bytes.
        let mut body = b"\0\0".to_vec();
        body.extend_from_slice(&0i16.to_be_bytes());
        body.extend_from_slice(&30000i16.to_be_bytes());
        assert!(parse_message(b'B', &body).is_err());
        // A parameter whose length runs past the end.
        let mut body = b"\0\0".to_vec();
        body.extend_from_slice(&0i16.to_be_bytes());
        body.extend_from_slice(&1i16.to_be_bytes());
        body.extend_from_slice(&1_000_000i32.to_be_bytes());
        assert!(parse_message(b'B', &body).is_err());
        // Strings without terminators, negative counts, unknown types.
        assert!(parse_message(b'Q', b"SELECT 1").is_err());
        assert!(parse_message(b'P', b"s\0SELECT 1\0\xff\xff\0\0").is_err());
        assert!(parse_message(b'Z', b"").is_err());
        assert!(parse_message(b'D', b"Xname\0").is_err());
        assert!(parse_startup(b"\0\x03").is_err());
        assert!(parse_startup(&[0, 4, 0, 0, b'u', 0]).is_err());
    }

    #[test]
    fn well_formed_messages_decode() {
        match parse_message(b'Q', b"SELECT 1\0").unwrap() {
            Frontend::Query(q) => assert_eq!(q, "SELECT 1"),
            other => panic!("{other:?}"),
        }
        let mut body = b"p\0s\0".to_vec();
        body.extend_from_slice(&1i16.to_be_bytes());
        body.extend_from_slice(&1i16.to_be_bytes());
        body.extend_from_slice(&2i16.to_be_bytes());
        body.extend_from_slice(&(-1i32).to_be_bytes());
        body.extend_from_slice(&2i32.to_be_bytes());
        body.extend_from_slice(b"42");
        body.extend_from_slice(&0i16.to_be_bytes());
        match parse_message(b'B', &body).unwrap() {
            Frontend::Bind {
                portal,
                statement,
                param_formats,
                params,
                result_formats,
            } => {
                assert_eq!((portal.as_str(), statement.as_str()), ("p", "s"));
                assert_eq!(param_formats, vec![1]);
                assert_eq!(params, vec![None, Some(Bytes::from_static(b"42"))]);
                assert!(result_formats.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    /// A small deterministic fuzzer: valid frontend messages, mutated a few hundred thousand
    /// times (flipped and inserted bytes, truncation, hostile counts and lengths, other
    /// message types), through the decoders and the framing reader. None may panic or
    /// allocate what the input does not pay for; tests/python/test_server_faults.py fuzzes
    /// the running server the same way.
    #[test]
    fn mutated_messages_never_panic() {
        use rand::{Rng as _, SeedableRng};
        struct Rng(rand::rngs::StdRng);
        impl Rng {
            fn next(&mut self) -> u64 {
                self.0.random()
            }
            fn below(&mut self, n: usize) -> usize {
                self.0.random_range(0..n.max(1))
            }
        }
        let mut bind = b"portal\0stmt\0".to_vec();
        bind.extend_from_slice(&2i16.to_be_bytes());
        bind.extend_from_slice(&0i16.to_be_bytes());
        bind.extend_from_slice(&1i16.to_be_bytes());
        bind.extend_from_slice(&2i16.to_be_bytes());
        bind.extend_from_slice(&(-1i32).to_be_bytes());
        bind.extend_from_slice(&4i32.to_be_bytes());
        bind.extend_from_slice(&7i32.to_be_bytes());
        bind.extend_from_slice(&1i16.to_be_bytes());
        bind.extend_from_slice(&1i16.to_be_bytes());
        let mut parse = b"s1\0SELECT $1, $2\0".to_vec();
        parse.extend_from_slice(&2i16.to_be_bytes());
        parse.extend_from_slice(&23i32.to_be_bytes());
        parse.extend_from_slice(&0i32.to_be_bytes());
        let mut sasl = b"SCRAM-SHA-256\0".to_vec();
        sasl.extend_from_slice(&8i32.to_be_bytes());
        sasl.extend_from_slice(b"n,,n=u,r");
        let mut startup = 196_608i32.to_be_bytes().to_vec();
        startup.extend_from_slice(b"user\0hepq\0database\0hepq\0\0");
        let seeds: Vec<(u8, Vec<u8>)> = vec![
            (b'Q', b"SELECT 1\0".to_vec()),
            (b'P', parse),
            (b'B', bind),
            (b'D', b"Pportal\0".to_vec()),
            (b'E', b"portal\0\0\0\0\x05".to_vec()),
            (b'C', b"Sstmt\0".to_vec()),
            (b'S', Vec::new()),
            (b'H', Vec::new()),
            (b'X', Vec::new()),
            (b'd', b"copy data".to_vec()),
            (b'c', Vec::new()),
            (b'f', b"no\0".to_vec()),
            (b'p', sasl),
            (0, startup),
        ];
        let tags = b"QPBDECSHXdcfpFZT\0\xff";
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut rng = Rng(rand::rngs::StdRng::seed_from_u64(20_261_203));
        let mut decoded = 0usize;
        for _ in 0..200_000 {
            let (tag, body) = &seeds[rng.below(seeds.len())];
            let mut m = body.clone();
            for _ in 0..=rng.below(4) {
                match rng.below(5) {
                    0 if !m.is_empty() => {
                        let k = rng.below(m.len());
                        m[k] ^= 1 << rng.below(8);
                    }
                    1 => {
                        let k = rng.below(m.len() + 1);
                        let b = rng.next() as u8;
                        m.insert(k, b);
                    }
                    2 if !m.is_empty() => m.truncate(rng.below(m.len())),
                    3 if m.len() >= 2 => {
                        let k = rng.below(m.len() - 1);
                        let v = [i16::MAX, -1, 0, 1, i16::MIN][rng.below(5)];
                        m[k..k + 2].copy_from_slice(&v.to_be_bytes());
                    }
                    _ if m.len() >= 4 => {
                        let k = rng.below(m.len() - 3);
                        let v = [i32::MAX, -1, 0, 4, 1 << 28][rng.below(5)];
                        m[k..k + 4].copy_from_slice(&v.to_be_bytes());
                    }
                    _ => {}
                }
            }
            let tag = if rng.below(8) == 0 {
                tags[rng.below(tags.len())]
            } else {
                *tag
            };
            if tag == 0 {
                let _ = parse_startup(&m);
            } else {
                decoded += usize::from(parse_message(tag, &m).is_ok());
            }
            let _ = sasl_initial(&m);
            let _ = password_text(&m);
            // The framing reader over the same bytes with a (possibly lying) length.
            let mut framed = vec![tag];
            let len = if rng.below(4) == 0 {
                [i32::MAX, -1, 3, 0][rng.below(4)]
            } else {
                i32::try_from(m.len() + 4).unwrap()
            };
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(&m);
            runtime.block_on(async {
                let mut reader = framed.as_slice();
                let _ = read_message(&mut reader).await;
                let mut reader = &framed[1..];
                let _ = read_startup(&mut reader).await;
            });
        }
        // The mutations are not all fatal: some still decode.
        assert!(decoded > 1000, "{decoded}");
    }
}
