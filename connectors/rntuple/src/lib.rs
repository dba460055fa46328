//! # hepq-rntuple: the RNTuple decoder
//!
//! Reads ROOT's columnar RNTuple format into Arrow: the anchor, the header, footer and page-list
//! envelopes, page decoding (split, zigzag, delta, bit, truncated and quantised reals) and the
//! mapping of the field tree onto Arrow types. It reuses the container and compression code of
//! [`hepq_root`] and nothing else.
//!
//! Status: the decoder arrives with the RNTuple connector issue; this crate reserves its place
//! in the workspace layout (see `ARCHITECTURE.md`).

/// The ROOT container crate this decoder builds on.
pub use hepq_root as root;
