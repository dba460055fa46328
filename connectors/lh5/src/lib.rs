//! # hepq-lh5: the LEGEND LH5 decoder
//!
//! Reads LEGEND's LH5 convention on top of HDF5 into Arrow: tables, VectorOfVectors (as Arrow
//! `List`), ArrayOfEqualSizedArrays (as `FixedSizeList`), waveform tables and the encoded
//! waveform formats (`radware_sigcompress`, `uleb128_zigzag_diff`), with a pure-Rust HDF5 reader.
//!
//! Status: the decoder arrives with the LH5 connector issue; this crate reserves its place in
//! the workspace layout (see `ARCHITECTURE.md`).
