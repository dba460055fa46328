//! Password authentication: cleartext, MD5 and SCRAM-SHA-256 (RFC 5802/7677, no channel
//! binding) against users whose password hashes come from the config file, in PostgreSQL's
//! own formats (`md5<hex>` and `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::Md5;
use sha2::{Digest, Sha256};

/// How clients must authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// No password (PostgreSQL's `trust`).
    Trust,
    /// The password in clear (use with TLS).
    Password,
    /// PostgreSQL's MD5 challenge.
    Md5,
    /// SCRAM-SHA-256.
    ScramSha256,
}

/// A stored password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// `md5` + hex(md5(password + user)).
    Md5(String),
    /// A SCRAM-SHA-256 verifier.
    Scram {
        /// PBKDF2 iterations.
        iterations: u32,
        /// The salt.
        salt: Vec<u8>,
        /// H(ClientKey).
        stored_key: Vec<u8>,
        /// HMAC(SaltedPassword, "Server Key").
        server_key: Vec<u8>,
    },
}

impl Method {
    /// Parses `trust`, `password`, `md5` or `scram-sha-256`.
    pub fn parse(name: &str) -> Result<Self, String> {
        Ok(match name {
            "trust" => Method::Trust,
            "password" => Method::Password,
            "md5" => Method::Md5,
            "scram-sha-256" => Method::ScramSha256,
            other => {
                return Err(format!(
                    "unknown auth method '{other}' (expected trust, password, md5 or scram-sha-256)"
                ));
            }
        })
    }
}

impl Secret {
    /// Parses a hash as PostgreSQL stores it in `pg_authid.rolpassword`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(hex) = text.strip_prefix("md5") {
            if hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(Secret::Md5(hex.to_ascii_lowercase()));
            }
            return Err("an md5 password hash is 'md5' followed by 32 hex digits".into());
        }
        let rest = text
            .strip_prefix("SCRAM-SHA-256$")
            .ok_or("a password hash must start with 'md5' or 'SCRAM-SHA-256$'")?;
        let bad = || {
            "a SCRAM hash is SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>".to_string()
        };
        let (params, keys) = rest.split_once('$').ok_or_else(bad)?;
        let (iterations, salt) = params.split_once(':').ok_or_else(bad)?;
        let (stored, server) = keys.split_once(':').ok_or_else(bad)?;
        let iterations: u32 = iterations.parse().map_err(|_| bad())?;
        let decode = |s: &str| B64.decode(s).map_err(|_| bad());
        let (stored_key, server_key) = (decode(stored)?, decode(server)?);
        if iterations == 0 || stored_key.len() != 32 || server_key.len() != 32 {
            return Err(bad());
        }
        Ok(Secret::Scram {
            iterations,
            salt: decode(salt)?,
            stored_key,
            server_key,
        })
    }

    /// Whether `password` (in clear) matches for `user`.
    pub fn verify_cleartext(&self, user: &str, password: &str) -> bool {
        match self {
            Secret::Md5(hex) => constant_eq(
                md5_hex(&[password.as_bytes(), user.as_bytes()]).as_bytes(),
                hex.as_bytes(),
            ),
            Secret::Scram {
                iterations,
                salt,
                stored_key,
                ..
            } => {
                let salted = pbkdf2_sha256(password.as_bytes(), salt, *iterations);
                let client_key = hmac_sha256(&salted, b"Client Key");
                constant_eq(&Sha256::digest(client_key), stored_key)
            }
        }
    }
}

fn md5_hex(parts: &[&[u8]]) -> String {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The answer to an MD5 challenge with `salt` expected from a client knowing `secret`.
pub fn md5_response(stored_hex: &str, salt: &[u8; 4]) -> String {
    format!("md5{}", md5_hex(&[stored_hex.as_bytes(), salt]))
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HMAC-SHA-256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    let mut out = [0u8; 32];
    out.copy_from_slice(&outer.finalize());
    out
}

/// PBKDF2-HMAC-SHA-256 with one output block (SCRAM's `Hi`).
pub fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut msg = salt.to_vec();
    msg.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac_sha256(password, &msg);
    let mut out = u;
    for _ in 1..iterations {
        u = hmac_sha256(password, &u);
        for (o, x) in out.iter_mut().zip(u.iter()) {
            *o ^= x;
        }
    }
    out
}

/// The server side of one SCRAM-SHA-256 exchange.
pub struct Scram {
    client_first_bare: String,
    server_first: String,
    nonce: String,
    secret: Option<Secret>,
}

impl Scram {
    /// Starts from the client-first-message; `secret` is `None` for an unknown user (the
    /// exchange then runs with a made-up salt and fails at the end, as PostgreSQL does).
    pub fn start(client_first: &str, secret: Option<Secret>) -> Result<(Self, String), String> {
        let bare = match client_first.split_once(",,") {
            Some((gs2, bare))
                if gs2 == "n" || gs2 == "y" || gs2.starts_with("n,") || gs2.starts_with("y,") =>
            {
                bare
            }
            Some(_) => return Err("channel binding is not supported".into()),
            None => return Err("malformed SCRAM client-first-message".into()),
        };
        let client_nonce = bare
            .split(',')
            .find_map(|a| a.strip_prefix("r="))
            .ok_or("SCRAM client-first-message without a nonce")?;
        let server_nonce: [u8; 18] = rand::random();
        let nonce = format!("{client_nonce}{}", B64.encode(server_nonce));
        let (salt, iterations) = match &secret {
            Some(Secret::Scram {
                salt, iterations, ..
            }) => (salt.clone(), *iterations),
            _ => (rand::random::<[u8; 16]>().to_vec(), 4096),
        };
        let server_first = format!("r={nonce},s={},i={iterations}", B64.encode(salt));
        Ok((
            Self {
                client_first_bare: bare.to_string(),
                server_first: server_first.clone(),
                nonce,
                secret,
            },
            server_first,
        ))
    }

    /// Checks the client-final-message; on success returns the server-final-message.
    pub fn finish(&self, client_final: &str) -> Result<String, String> {
        let (without_proof, proof) = client_final
            .rsplit_once(",p=")
            .ok_or("SCRAM client-final-message without a proof")?;
        let nonce = without_proof
            .split(',')
            .find_map(|a| a.strip_prefix("r="))
            .ok_or("SCRAM client-final-message without a nonce")?;
        let proof = B64.decode(proof).map_err(|_| "malformed SCRAM proof")?;
        let Some(Secret::Scram {
            stored_key,
            server_key,
            ..
        }) = &self.secret
        else {
            return Err("authentication failed".into());
        };
        if nonce != self.nonce || proof.len() != 32 {
            return Err("authentication failed".into());
        }
        let auth_message = format!(
            "{},{},{without_proof}",
            self.client_first_bare, self.server_first
        );
        let signature = hmac_sha256(stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof
            .iter()
            .zip(signature.iter())
            .map(|(p, s)| p ^ s)
            .collect();
        if !constant_eq(&Sha256::digest(&client_key), stored_key) {
            return Err("authentication failed".into());
        }
        let server_signature = hmac_sha256(server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)))
    }
}

/// A SCRAM-SHA-256 verifier for `password` (what `hepq serve --hash-password` prints).
pub fn scram_verifier(password: &str) -> String {
    let salt: [u8; 16] = rand::random();
    let iterations = 4096;
    let salted = pbkdf2_sha256(password.as_bytes(), &salt, iterations);
    let client_key = hmac_sha256(&salted, b"Client Key");
    let stored_key = Sha256::digest(client_key);
    let server_key = hmac_sha256(&salted, b"Server Key");
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        B64.encode(salt),
        B64.encode(stored_key),
        B64.encode(server_key)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hmac_and_pbkdf2_match_rfc_vectors() {
        // RFC 4231 test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // RFC 7914 section 11 (PBKDF2-HMAC-SHA256, first block).
        let dk = pbkdf2_sha256(b"passwd", b"salt", 1);
        let hex: String = dk.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
    }

    #[test]
    fn rfc7677_exchange() {
        // RFC 7677 section 3: user "user", password "pencil".
        let salted = pbkdf2_sha256(
            b"pencil",
            &B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap(),
            4096,
        );
        let client_key = hmac_sha256(&salted, b"Client Key");
        let secret = Secret::Scram {
            iterations: 4096,
            salt: B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap(),
            stored_key: Sha256::digest(client_key).to_vec(),
            server_key: hmac_sha256(&salted, b"Server Key").to_vec(),
        };
        let mut scram = Scram::start("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", Some(secret.clone()))
            .unwrap()
            .0;
        // Replay the RFC's server nonce.
        scram.nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".into();
        scram.server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096".into();
        let fin = scram
            .finish("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap();
        assert_eq!(fin, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        assert!(secret.verify_cleartext("user", "pencil"));
        assert!(!secret.verify_cleartext("user", "pencil2"));
        let md5 = Secret::parse("md5a2f9c5d4a2b7d27b8a3f4d7ddc0d7d58").unwrap();
        assert!(matches!(md5, Secret::Md5(_)));
        assert!(
            Secret::parse(&scram_verifier("x"))
                .unwrap()
                .verify_cleartext("u", "x")
        );
        assert!(Secret::parse("plain").is_err());
    }
}
