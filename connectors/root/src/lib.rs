//! # hepq-root: the ROOT file decoder
//!
//! Turns the bytes of a ROOT file into Arrow arrays: the container (TFile header, TKey,
//! TDirectory, TStreamerInfo), its compression frames (`ZL`/`CS`, `L4`, `ZS`, `XZ`) and TTree
//! branches and baskets. It knows nothing of DataFusion or tokio, so it can be fuzzed and
//! benchmarked alone; `hepq-connectors` plugs it into the engine.
//!
//! Status: the decoder arrives with the ROOT TTree connector issue; this crate reserves its
//! place in the workspace layout (see `ARCHITECTURE.md`).
