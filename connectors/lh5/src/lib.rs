//! # hepq-lh5: the LEGEND LH5 decoder
//!
//! Reads LEGEND's LH5 convention on top of HDF5 (written by legend-pydataobj / legend-lh5io)
//! into Arrow, with a pure-Rust HDF5 reader (`hdf5-reader`, zstd filter 32015 registered
//! here): no libhdf5 is needed. Every object's `datatype` attribute decides its Arrow type:
//!
//! | LH5 | Arrow |
//! |---|---|
//! | `array<1>{real}` | the dataset's numeric type |
//! | `array<1>{bool}` | `Boolean` |
//! | `array<1>{string}` | `Utf8` |
//! | `array<N>{…}`, `array_of_equalsized_arrays<1,1>{…}` | `FixedSizeList` (nested for N > 2) |
//! | `array<1>{array<1>{…}}` (VectorOfVectors) | `List` (nested) |
//! | `array_of_encoded_equalsized_arrays<1,1>{…}` | `FixedSizeList<Int32>`, decoded |
//! | `array<1>{encoded_array<1>{…}}` | `List<Int32>`, decoded |
//! | `struct{…}`, `table{…}` (and waveform tables `t0`, `dt`, `values`) | `Struct` / columns |
//!
//! `units` attributes become Arrow field metadata under [`UNITS_KEY`]. A table column hepq
//! cannot read is listed in [`Lh5Table::unsupported`] with its reason; the rest of the table
//! still reads. Corrupt files give an [`Lh5Error`] naming the file and the object.
//!
//! ```no_run
//! # fn main() -> hepq_lh5::Result<()> {
//! let file = hepq_lh5::Lh5File::open("l200-p03-r001-cal-20230318T012144Z-tier_hit.lh5")?;
//! let table = file.table("ch1084803/hit")?;
//! let batch = table.read(&file, None)?;
//! println!("{} rows, {} columns", batch.num_rows(), batch.num_columns());
//! # Ok(()) }
//! ```

pub mod codec;
pub mod datatype;
pub mod error;
pub mod reader;

pub use codec::{Codec, CodecError};
pub use datatype::{Element, Lh5Type};
pub use error::{Lh5Error, Result};
pub use reader::{
    DEFAULT_MAX_READ_BYTES, FILTER_ZSTD, Lh5File, Lh5Table, ObjectInfo, UNITS_KEY, Unsupported,
};
