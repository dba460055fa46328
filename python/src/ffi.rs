//! The Arrow C data and C stream interfaces, both directions, without copying buffers.
//!
//! Results leave as an `ArrowArrayStream` (one struct array per record batch) whose buffers are
//! the engine's own; tables arrive the same way from anything with `__arrow_c_stream__`
//! (pyarrow, polars, DuckDB, …), their buffers kept alive by the producer's release callback.
//!
//! The arrow crate has these structs behind its `ffi` feature, which the workspace does not
//! enable (turning it on would rebuild arrow and DataFusion for every crate); this module is
//! hepq's own small implementation of the specification
//! (<https://arrow.apache.org/docs/format/CDataInterface.html>,
//! <https://arrow.apache.org/docs/format/CStreamInterface.html>).
//!
//! Export layout per type (buffer 0 is the validity bitmap wherever the type has one):
//!
//! ```text
//! Null                         —
//! Boolean, primitives          validity, values
//! Utf8/Binary (+Large)         validity, offsets, data
//! Utf8View/BinaryView          validity, views, data buffers…, i64 sizes of the data buffers
//! List/LargeList/Map           validity, offsets; one child
//! FixedSizeList/Struct         validity; children
//! Dictionary                   validity, keys; `dictionary` holds the values
//! ```
//!
//! Unions, run-end encoded arrays and list views are refused with an error naming the type.

#![allow(unsafe_code)]

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::ptr::{self, NonNull};
use std::sync::Arc;

use hepq_sql::datafusion::arrow::array::{
    Array, ArrayData, ArrayDataBuilder, BooleanBufferBuilder, StructArray,
};
use hepq_sql::datafusion::arrow::buffer::{Buffer, MutableBuffer};
use hepq_sql::datafusion::arrow::datatypes::{
    DataType, Field, FieldRef, Fields, IntervalUnit, Schema, SchemaRef, TimeUnit,
};
use hepq_sql::datafusion::arrow::error::ArrowError;
use hepq_sql::datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};

type Result<T> = std::result::Result<T, ArrowError>;

const FLAG_DICTIONARY_ORDERED: i64 = 1;
const FLAG_NULLABLE: i64 = 2;
const FLAG_MAP_KEYS_SORTED: i64 = 4;

/// `struct ArrowSchema` of the C data interface.
#[repr(C)]
#[derive(Debug)]
pub struct FfiSchema {
    format: *const c_char,
    name: *const c_char,
    metadata: *const c_char,
    flags: i64,
    n_children: i64,
    children: *mut *mut FfiSchema,
    dictionary: *mut FfiSchema,
    release: Option<unsafe extern "C" fn(*mut FfiSchema)>,
    private_data: *mut c_void,
}

/// `struct ArrowArray` of the C data interface.
#[repr(C)]
#[derive(Debug)]
pub struct FfiArray {
    length: i64,
    null_count: i64,
    offset: i64,
    n_buffers: i64,
    n_children: i64,
    buffers: *mut *const c_void,
    children: *mut *mut FfiArray,
    dictionary: *mut FfiArray,
    release: Option<unsafe extern "C" fn(*mut FfiArray)>,
    private_data: *mut c_void,
}

/// `struct ArrowArrayStream` of the C stream interface.
#[repr(C)]
#[derive(Debug)]
pub struct FfiStream {
    get_schema: Option<unsafe extern "C" fn(*mut FfiStream, *mut FfiSchema) -> c_int>,
    get_next: Option<unsafe extern "C" fn(*mut FfiStream, *mut FfiArray) -> c_int>,
    get_last_error: Option<unsafe extern "C" fn(*mut FfiStream) -> *const c_char>,
    release: Option<unsafe extern "C" fn(*mut FfiStream)>,
    private_data: *mut c_void,
}

// The structs own what they point to (through their release callbacks), which is safe to
// release from any thread; the C interface requires producers to allow that.
unsafe impl Send for FfiSchema {}
unsafe impl Send for FfiArray {}
unsafe impl Send for FfiStream {}

impl FfiSchema {
    /// A released (empty) schema, as consumers allocate before `get_schema`.
    pub fn empty() -> Self {
        Self {
            format: ptr::null(),
            name: ptr::null(),
            metadata: ptr::null(),
            flags: 0,
            n_children: 0,
            children: ptr::null_mut(),
            dictionary: ptr::null_mut(),
            release: None,
            private_data: ptr::null_mut(),
        }
    }
}

impl FfiArray {
    /// A released (empty) array, as consumers allocate before `get_next`.
    pub fn empty() -> Self {
        Self {
            length: 0,
            null_count: 0,
            offset: 0,
            n_buffers: 0,
            n_children: 0,
            buffers: ptr::null_mut(),
            children: ptr::null_mut(),
            dictionary: ptr::null_mut(),
            release: None,
            private_data: ptr::null_mut(),
        }
    }
}

impl FfiStream {
    /// A released (empty) stream.
    pub fn empty() -> Self {
        Self {
            get_schema: None,
            get_next: None,
            get_last_error: None,
            release: None,
            private_data: ptr::null_mut(),
        }
    }
}

impl Drop for FfiSchema {
    fn drop(&mut self) {
        if let Some(release) = self.release {
            // SAFETY: a live struct's release callback, called once; it sets `release` to None.
            unsafe { release(self) };
        }
    }
}

impl Drop for FfiArray {
    fn drop(&mut self) {
        if let Some(release) = self.release {
            // SAFETY: as for FfiSchema.
            unsafe { release(self) };
        }
    }
}

impl Drop for FfiStream {
    fn drop(&mut self) {
        if let Some(release) = self.release {
            // SAFETY: as for FfiSchema.
            unsafe { release(self) };
        }
    }
}

// ------------------------------------------------------------------------------------------
// Export: schema
// ------------------------------------------------------------------------------------------

struct SchemaPrivate {
    format: CString,
    name: CString,
    metadata: Option<Vec<u8>>,
    children: Box<[*mut FfiSchema]>,
    dictionary: *mut FfiSchema,
}

unsafe extern "C" fn release_schema(schema: *mut FfiSchema) {
    if schema.is_null() {
        return;
    }
    // SAFETY: `schema` is one we exported: its private data is a boxed SchemaPrivate and its
    // children and dictionary are boxed FfiSchemas that we own.
    unsafe {
        let schema = &mut *schema;
        if !schema.private_data.is_null() {
            let private = Box::from_raw(schema.private_data as *mut SchemaPrivate);
            for child in private.children.iter() {
                drop(Box::from_raw(*child));
            }
            if !private.dictionary.is_null() {
                drop(Box::from_raw(private.dictionary));
            }
        }
        schema.private_data = ptr::null_mut();
        schema.release = None;
    }
}

fn time_unit_char(unit: &TimeUnit) -> char {
    match unit {
        TimeUnit::Second => 's',
        TimeUnit::Millisecond => 'm',
        TimeUnit::Microsecond => 'u',
        TimeUnit::Nanosecond => 'n',
    }
}

fn unsupported(data_type: &DataType) -> ArrowError {
    ArrowError::NotYetImplemented(format!(
        "the Arrow C data interface of hepq does not handle {data_type}; cast the column \
         (e.g. to a plain list or string) first"
    ))
}

/// The C data interface format string of `data_type` (for a dictionary: of its keys).
fn format_of(data_type: &DataType) -> Result<String> {
    Ok(match data_type {
        DataType::Null => "n".into(),
        DataType::Boolean => "b".into(),
        DataType::Int8 => "c".into(),
        DataType::UInt8 => "C".into(),
        DataType::Int16 => "s".into(),
        DataType::UInt16 => "S".into(),
        DataType::Int32 => "i".into(),
        DataType::UInt32 => "I".into(),
        DataType::Int64 => "l".into(),
        DataType::UInt64 => "L".into(),
        DataType::Float16 => "e".into(),
        DataType::Float32 => "f".into(),
        DataType::Float64 => "g".into(),
        DataType::Binary => "z".into(),
        DataType::LargeBinary => "Z".into(),
        DataType::BinaryView => "vz".into(),
        DataType::Utf8 => "u".into(),
        DataType::LargeUtf8 => "U".into(),
        DataType::Utf8View => "vu".into(),
        DataType::FixedSizeBinary(n) => format!("w:{n}"),
        DataType::Decimal32(p, s) => format!("d:{p},{s},32"),
        DataType::Decimal64(p, s) => format!("d:{p},{s},64"),
        DataType::Decimal128(p, s) => format!("d:{p},{s}"),
        DataType::Decimal256(p, s) => format!("d:{p},{s},256"),
        DataType::Date32 => "tdD".into(),
        DataType::Date64 => "tdm".into(),
        DataType::Time32(u) | DataType::Time64(u) => format!("tt{}", time_unit_char(u)),
        DataType::Timestamp(u, tz) => {
            format!("ts{}:{}", time_unit_char(u), tz.as_deref().unwrap_or(""))
        }
        DataType::Duration(u) => format!("tD{}", time_unit_char(u)),
        DataType::Interval(IntervalUnit::YearMonth) => "tiM".into(),
        DataType::Interval(IntervalUnit::DayTime) => "tiD".into(),
        DataType::Interval(IntervalUnit::MonthDayNano) => "tin".into(),
        DataType::List(_) => "+l".into(),
        DataType::LargeList(_) => "+L".into(),
        DataType::FixedSizeList(_, n) => format!("+w:{n}"),
        DataType::Struct(_) => "+s".into(),
        DataType::Map(_, _) => "+m".into(),
        DataType::Dictionary(keys, _) => format_of(keys)?,
        other => return Err(unsupported(other)),
    })
}

fn encode_metadata(metadata: &HashMap<String, String>) -> Option<Vec<u8>> {
    if metadata.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    let mut entries: Vec<_> = metadata.iter().collect();
    entries.sort();
    out.extend_from_slice(&(entries.len() as i32).to_ne_bytes());
    for (key, value) in entries {
        out.extend_from_slice(&(key.len() as i32).to_ne_bytes());
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&(value.len() as i32).to_ne_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    Some(out)
}

fn cstring(text: &str) -> Result<CString> {
    CString::new(text)
        .map_err(|_| ArrowError::InvalidArgumentError(format!("name {text:?} contains NUL")))
}

/// Exports one field (name, type, nullability, metadata) as an `ArrowSchema`.
fn export_field_parts(
    name: &str,
    data_type: &DataType,
    nullable: bool,
    metadata: &HashMap<String, String>,
) -> Result<FfiSchema> {
    let format = cstring(&format_of(data_type)?)?;
    let mut flags = if nullable { FLAG_NULLABLE } else { 0 };
    let (children, dictionary): (Vec<FfiSchema>, Option<FfiSchema>) = match data_type {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            (vec![export_field(f)?], None)
        }
        DataType::Map(f, sorted) => {
            if *sorted {
                flags |= FLAG_MAP_KEYS_SORTED;
            }
            (vec![export_field(f)?], None)
        }
        DataType::Struct(fields) => (
            fields
                .iter()
                .map(|f| export_field(f))
                .collect::<Result<_>>()?,
            None,
        ),
        DataType::Dictionary(_, values) => (
            vec![],
            Some(export_field_parts("", values, true, &HashMap::new())?),
        ),
        _ => (vec![], None),
    };
    if matches!(data_type, DataType::Dictionary(..)) && metadata.contains_key("dict_ordered") {
        flags |= FLAG_DICTIONARY_ORDERED;
    }
    let children: Box<[*mut FfiSchema]> = children
        .into_iter()
        .map(|c| Box::into_raw(Box::new(c)))
        .collect();
    let dictionary = dictionary.map_or(ptr::null_mut(), |d| Box::into_raw(Box::new(d)));
    let private = Box::new(SchemaPrivate {
        format,
        name: cstring(name)?,
        metadata: encode_metadata(metadata),
        children,
        dictionary,
    });
    let mut schema = FfiSchema {
        format: private.format.as_ptr(),
        name: private.name.as_ptr(),
        metadata: private
            .metadata
            .as_ref()
            .map_or(ptr::null(), |m| m.as_ptr() as *const c_char),
        flags,
        n_children: private.children.len() as i64,
        children: ptr::null_mut(),
        dictionary: private.dictionary,
        release: Some(release_schema),
        private_data: ptr::null_mut(),
    };
    let private = Box::into_raw(private);
    // SAFETY: `private` is a live box; its children slice lives as long as it does.
    schema.children = unsafe { (*private).children.as_ptr() as *mut *mut FfiSchema };
    schema.private_data = private as *mut c_void;
    Ok(schema)
}

fn export_field(field: &Field) -> Result<FfiSchema> {
    export_field_parts(
        field.name(),
        field.data_type(),
        field.is_nullable(),
        field.metadata(),
    )
}

/// Exports a schema as the `ArrowSchema` of a non-nullable struct (as streams describe batches).
pub fn export_schema(schema: &Schema) -> Result<FfiSchema> {
    export_field_parts(
        "",
        &DataType::Struct(schema.fields().clone()),
        false,
        schema.metadata(),
    )
}

// ------------------------------------------------------------------------------------------
// Export: array
// ------------------------------------------------------------------------------------------

struct ArrayPrivate {
    // Keeps every buffer of the array alive until the consumer releases it.
    _data: ArrayData,
    // Buffers made for the export (a realigned validity bitmap, view sizes, offsets of an
    // empty array).
    _extra: Vec<Buffer>,
    buffers: Box<[*const c_void]>,
    children: Box<[*mut FfiArray]>,
    dictionary: *mut FfiArray,
}

unsafe extern "C" fn release_array(array: *mut FfiArray) {
    if array.is_null() {
        return;
    }
    // SAFETY: `array` is one we exported: private data is a boxed ArrayPrivate; children and
    // dictionary are boxed FfiArrays we own (a consumer may have moved a child out, leaving
    // it released, which dropping handles).
    unsafe {
        let array = &mut *array;
        if !array.private_data.is_null() {
            let private = Box::from_raw(array.private_data as *mut ArrayPrivate);
            for child in private.children.iter() {
                drop(Box::from_raw(*child));
            }
            if !private.dictionary.is_null() {
                drop(Box::from_raw(private.dictionary));
            }
        }
        array.private_data = ptr::null_mut();
        array.release = None;
    }
}

/// The validity bitmap in the C layout: bit `offset + i` for row `i`.
fn export_validity(data: &ArrayData, extra: &mut Vec<Buffer>) -> *const c_void {
    let Some(nulls) = data.nulls() else {
        return ptr::null();
    };
    if nulls.null_count() == 0 {
        return ptr::null();
    }
    if nulls.offset() >= data.offset() && (nulls.offset() - data.offset()).is_multiple_of(8) {
        // Bit `data.offset() + i` of the pointer below is bit `nulls.offset() + i` of the
        // bitmap: share it.
        let bytes = (nulls.offset() - data.offset()) / 8;
        if let Some(tail) = nulls.buffer().as_slice().get(bytes..) {
            return tail.as_ptr() as *const c_void;
        }
    }
    // The bitmap starts elsewhere than the values: rebuild it aligned to the data offset.
    let mut builder = BooleanBufferBuilder::new(data.offset() + data.len());
    builder.append_n(data.offset(), false);
    for i in 0..data.len() {
        builder.append(nulls.is_valid(i));
    }
    let buffer = builder.finish().into_inner();
    let pointer = buffer.as_ptr() as *const c_void;
    extra.push(buffer);
    pointer
}

/// An offsets buffer with at least `offset + len + 1` entries (arrow-rs allows an empty one
/// for an empty array; C consumers read `offsets[offset + len]`).
fn export_offsets(data: &ArrayData, width: usize, extra: &mut Vec<Buffer>) -> *const c_void {
    let needed = (data.offset() + data.len() + 1) * width;
    match data.buffers().first() {
        Some(b) if b.len() >= needed => b.as_ptr() as *const c_void,
        _ => {
            let buffer: Buffer = MutableBuffer::from_len_zeroed(needed).into();
            let pointer = buffer.as_ptr() as *const c_void;
            extra.push(buffer);
            pointer
        }
    }
}

/// Exports `data` (kept alive until released) as an `ArrowArray`.
pub fn export_array(data: ArrayData) -> Result<FfiArray> {
    let data_type = data.data_type().clone();
    format_of(&data_type)?; // refuse what we cannot describe before building anything
    let mut extra = Vec::new();
    let mut buffers: Vec<*const c_void> = Vec::new();
    let mut children: Vec<FfiArray> = Vec::new();
    let mut dictionary = None;
    let data_buffers = |data: &ArrayData| -> Vec<*const c_void> {
        data.buffers()
            .iter()
            .map(|b| b.as_ptr() as *const c_void)
            .collect()
    };
    match &data_type {
        DataType::Null => {}
        DataType::Utf8 | DataType::Binary | DataType::LargeUtf8 | DataType::LargeBinary => {
            let width = if matches!(data_type, DataType::Utf8 | DataType::Binary) {
                4
            } else {
                8
            };
            buffers.push(export_validity(&data, &mut extra));
            buffers.push(export_offsets(&data, width, &mut extra));
            let values = data.buffers().get(1).map_or(ptr::null(), |b| b.as_ptr());
            buffers.push(values as *const c_void);
        }
        DataType::Utf8View | DataType::BinaryView => {
            buffers.push(export_validity(&data, &mut extra));
            buffers.extend(data_buffers(&data));
            let sizes: Vec<i64> = data
                .buffers()
                .iter()
                .skip(1)
                .map(|b| b.len() as i64)
                .collect();
            let sizes = Buffer::from_vec(sizes);
            buffers.push(sizes.as_ptr() as *const c_void);
            extra.push(sizes);
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::Map(_, _) => {
            let width = if matches!(data_type, DataType::LargeList(_)) {
                8
            } else {
                4
            };
            buffers.push(export_validity(&data, &mut extra));
            buffers.push(export_offsets(&data, width, &mut extra));
            for child in data.child_data() {
                children.push(export_array(child.clone())?);
            }
        }
        DataType::FixedSizeList(_, _) | DataType::Struct(_) => {
            buffers.push(export_validity(&data, &mut extra));
            for child in data.child_data() {
                children.push(export_array(child.clone())?);
            }
        }
        DataType::Dictionary(_, _) => {
            buffers.push(export_validity(&data, &mut extra));
            buffers.extend(data_buffers(&data));
            let values = data.child_data().first().cloned().ok_or_else(|| {
                ArrowError::InvalidArgumentError("dictionary array without values".into())
            })?;
            dictionary = Some(export_array(values)?);
        }
        _ => {
            // Boolean and the fixed-width primitives: validity, values.
            buffers.push(export_validity(&data, &mut extra));
            buffers.extend(data_buffers(&data));
        }
    }
    let children: Box<[*mut FfiArray]> = children
        .into_iter()
        .map(|c| Box::into_raw(Box::new(c)))
        .collect();
    let dictionary = dictionary.map_or(ptr::null_mut(), |d| Box::into_raw(Box::new(d)));
    let null_count = if data_type == DataType::Null {
        data.len() as i64
    } else if buffers.first().is_some_and(|b| b.is_null()) {
        0
    } else {
        data.null_count() as i64
    };
    let private = Box::new(ArrayPrivate {
        buffers: buffers.into_boxed_slice(),
        children,
        dictionary,
        _extra: extra,
        _data: data.clone(),
    });
    let array = FfiArray {
        length: data.len() as i64,
        null_count,
        offset: data.offset() as i64,
        n_buffers: private.buffers.len() as i64,
        n_children: private.children.len() as i64,
        buffers: private.buffers.as_ptr() as *mut *const c_void,
        children: private.children.as_ptr() as *mut *mut FfiArray,
        dictionary: private.dictionary,
        release: Some(release_array),
        private_data: Box::into_raw(private) as *mut c_void,
    };
    Ok(array)
}

/// Exports a record batch as the struct array that streams hand over.
pub fn export_batch(batch: &RecordBatch) -> Result<FfiArray> {
    export_array(StructArray::from(batch.clone()).into_data())
}

// ------------------------------------------------------------------------------------------
// Export: stream
// ------------------------------------------------------------------------------------------

/// Where an exported stream's batches come from. Called without the GIL, possibly from
/// another thread than the one that made the stream.
pub trait BatchSource: Send {
    /// The next batch, `None` at the end.
    fn next_batch(&mut self) -> Option<Result<RecordBatch>>;
}

impl BatchSource for std::vec::IntoIter<RecordBatch> {
    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        self.next().map(Ok)
    }
}

struct StreamPrivate {
    schema: SchemaRef,
    source: Box<dyn BatchSource>,
    last_error: Option<CString>,
}

const EIO: c_int = 5;
const EINVAL: c_int = 22;

/// The private data of a stream we exported (checked by the callbacks).
///
/// # Safety
/// `stream` must be null or a stream made by [`export_stream`], not yet released.
unsafe fn stream_private<'a>(stream: *mut FfiStream) -> Option<&'a mut StreamPrivate> {
    if stream.is_null() {
        return None;
    }
    // SAFETY: per the function's contract.
    unsafe {
        let private = (*stream).private_data as *mut StreamPrivate;
        private.as_mut()
    }
}

unsafe extern "C" fn stream_get_schema(stream: *mut FfiStream, out: *mut FfiSchema) -> c_int {
    // SAFETY: the consumer passes a stream we made and space for one schema.
    let Some(private) = (unsafe { stream_private(stream) }) else {
        return EINVAL;
    };
    if out.is_null() {
        return EINVAL;
    }
    match export_schema(&private.schema) {
        Ok(schema) => {
            // SAFETY: `out` is writable, uninitialised space owned by the consumer.
            unsafe { ptr::write(out, schema) };
            0
        }
        Err(e) => {
            private.last_error = CString::new(e.to_string()).ok();
            EINVAL
        }
    }
}

unsafe extern "C" fn stream_get_next(stream: *mut FfiStream, out: *mut FfiArray) -> c_int {
    // SAFETY: as for get_schema.
    let Some(private) = (unsafe { stream_private(stream) }) else {
        return EINVAL;
    };
    if out.is_null() {
        return EINVAL;
    }
    // A panic must not unwind into C: report it as an error of the stream.
    let next =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| private.source.next_batch()));
    let next = match next {
        Ok(next) => next,
        Err(_) => Some(Err(ArrowError::ExternalError(
            "internal error: the query panicked".into(),
        ))),
    };
    let result = match next {
        None => Ok(FfiArray::empty()),
        Some(Ok(batch)) => export_batch(&batch),
        Some(Err(e)) => Err(e),
    };
    match result {
        Ok(array) => {
            // SAFETY: `out` is writable, uninitialised space owned by the consumer.
            unsafe { ptr::write(out, array) };
            0
        }
        Err(e) => {
            private.last_error = CString::new(e.to_string().replace('\0', " ")).ok();
            EIO
        }
    }
}

unsafe extern "C" fn stream_get_last_error(stream: *mut FfiStream) -> *const c_char {
    // SAFETY: as for get_schema.
    match unsafe { stream_private(stream) } {
        Some(private) => private
            .last_error
            .as_ref()
            .map_or(ptr::null(), |e| e.as_ptr()),
        None => ptr::null(),
    }
}

unsafe extern "C" fn stream_release(stream: *mut FfiStream) {
    if stream.is_null() {
        return;
    }
    // SAFETY: a stream we made; its private data is a boxed StreamPrivate.
    unsafe {
        let stream = &mut *stream;
        if !stream.private_data.is_null() {
            drop(Box::from_raw(stream.private_data as *mut StreamPrivate));
        }
        stream.private_data = ptr::null_mut();
        stream.release = None;
    }
}

/// Exports batches of `schema`, pulled from `source` one `get_next` at a time.
pub fn export_stream(schema: SchemaRef, source: Box<dyn BatchSource>) -> FfiStream {
    let private = Box::new(StreamPrivate {
        schema,
        source,
        last_error: None,
    });
    FfiStream {
        get_schema: Some(stream_get_schema),
        get_next: Some(stream_get_next),
        get_last_error: Some(stream_get_last_error),
        release: Some(stream_release),
        private_data: Box::into_raw(private) as *mut c_void,
    }
}

// ------------------------------------------------------------------------------------------
// Import
// ------------------------------------------------------------------------------------------

fn invalid(message: impl Into<String>) -> ArrowError {
    ArrowError::CDataInterface(message.into())
}

/// # Safety
/// `p` must be null or a NUL-terminated string.
unsafe fn c_str<'a>(p: *const c_char) -> Result<&'a str> {
    if p.is_null() {
        return Ok("");
    }
    // SAFETY: per the function's contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| invalid("a name or format is not UTF-8"))
}

/// # Safety
/// `p` must be null or C data interface metadata.
unsafe fn decode_metadata(p: *const c_char) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    if p.is_null() {
        return Ok(out);
    }
    let mut at = p as *const u8;
    // SAFETY: the encoding is a count then (length, bytes) pairs; lengths come from it.
    unsafe {
        let read_i32 = |at: &mut *const u8| -> i32 {
            let v = ptr::read_unaligned(*at as *const i32);
            *at = at.add(4);
            v
        };
        let count = read_i32(&mut at);
        for _ in 0..count.max(0) {
            let n = read_i32(&mut at).max(0) as usize;
            let key = std::slice::from_raw_parts(at, n);
            at = at.add(n);
            let m = read_i32(&mut at).max(0) as usize;
            let value = std::slice::from_raw_parts(at, m);
            at = at.add(m);
            out.insert(
                String::from_utf8_lossy(key).into_owned(),
                String::from_utf8_lossy(value).into_owned(),
            );
        }
    }
    Ok(out)
}

fn parse_unit(c: Option<char>, format: &str) -> Result<TimeUnit> {
    match c {
        Some('s') => Ok(TimeUnit::Second),
        Some('m') => Ok(TimeUnit::Millisecond),
        Some('u') => Ok(TimeUnit::Microsecond),
        Some('n') => Ok(TimeUnit::Nanosecond),
        _ => Err(invalid(format!("unknown time unit in format '{format}'"))),
    }
}

fn parse_int<T: std::str::FromStr>(text: &str, format: &str) -> Result<T> {
    text.trim()
        .parse()
        .map_err(|_| invalid(format!("bad number in format '{format}'")))
}

/// # Safety
/// `schema` must be a live `ArrowSchema`.
unsafe fn import_field(schema: &FfiSchema) -> Result<Field> {
    // SAFETY: a live schema's strings, children and dictionary are valid.
    unsafe {
        let format = c_str(schema.format)?;
        let name = c_str(schema.name)?;
        let metadata = decode_metadata(schema.metadata)?;
        let mut children = Vec::new();
        for i in 0..schema.n_children.max(0) as usize {
            let child = *schema.children.add(i);
            let child = child.as_ref().ok_or_else(|| invalid("null child schema"))?;
            children.push(Arc::new(import_field(child)?));
        }
        let data_type = data_type_of(format, children, schema.flags)?;
        let data_type = match schema.dictionary.as_ref() {
            Some(dictionary) => {
                let values = import_field(dictionary)?;
                DataType::Dictionary(Box::new(data_type), Box::new(values.data_type().clone()))
            }
            None => data_type,
        };
        Ok(Field::new(name, data_type, schema.flags & FLAG_NULLABLE != 0).with_metadata(metadata))
    }
}

fn data_type_of(format: &str, mut children: Vec<FieldRef>, flags: i64) -> Result<DataType> {
    let one_child = |children: &mut Vec<FieldRef>| -> Result<FieldRef> {
        if children.len() == 1 {
            children.pop().ok_or_else(|| invalid("missing child"))
        } else {
            Err(invalid(format!(
                "format '{format}' needs exactly one child"
            )))
        }
    };
    Ok(match format {
        "n" => DataType::Null,
        "b" => DataType::Boolean,
        "c" => DataType::Int8,
        "C" => DataType::UInt8,
        "s" => DataType::Int16,
        "S" => DataType::UInt16,
        "i" => DataType::Int32,
        "I" => DataType::UInt32,
        "l" => DataType::Int64,
        "L" => DataType::UInt64,
        "e" => DataType::Float16,
        "f" => DataType::Float32,
        "g" => DataType::Float64,
        "z" => DataType::Binary,
        "Z" => DataType::LargeBinary,
        "vz" => DataType::BinaryView,
        "u" => DataType::Utf8,
        "U" => DataType::LargeUtf8,
        "vu" => DataType::Utf8View,
        "tdD" => DataType::Date32,
        "tdm" => DataType::Date64,
        "tts" => DataType::Time32(TimeUnit::Second),
        "ttm" => DataType::Time32(TimeUnit::Millisecond),
        "ttu" => DataType::Time64(TimeUnit::Microsecond),
        "ttn" => DataType::Time64(TimeUnit::Nanosecond),
        "tiM" => DataType::Interval(IntervalUnit::YearMonth),
        "tiD" => DataType::Interval(IntervalUnit::DayTime),
        "tin" => DataType::Interval(IntervalUnit::MonthDayNano),
        "+l" => DataType::List(one_child(&mut children)?),
        "+L" => DataType::LargeList(one_child(&mut children)?),
        "+s" => DataType::Struct(Fields::from(children)),
        "+m" => DataType::Map(one_child(&mut children)?, flags & FLAG_MAP_KEYS_SORTED != 0),
        f if f.starts_with("w:") => DataType::FixedSizeBinary(parse_int(&f[2..], format)?),
        f if f.starts_with("+w:") => {
            let n = parse_int(&f[3..], format)?;
            DataType::FixedSizeList(one_child(&mut children)?, n)
        }
        f if f.starts_with("d:") => {
            let parts: Vec<&str> = f[2..].split(',').collect();
            let (p, s) = match parts.as_slice() {
                [p, s] | [p, s, _] => (parse_int::<u8>(p, format)?, parse_int::<i8>(s, format)?),
                _ => return Err(invalid(format!("bad decimal format '{format}'"))),
            };
            match parts.get(2).map(|b| b.trim()) {
                None | Some("128") => DataType::Decimal128(p, s),
                Some("32") => DataType::Decimal32(p, s),
                Some("64") => DataType::Decimal64(p, s),
                Some("256") => DataType::Decimal256(p, s),
                Some(_) => return Err(invalid(format!("bad decimal width in '{format}'"))),
            }
        }
        f if f.starts_with("ts") && f.len() >= 3 => {
            let unit = parse_unit(f[2..].chars().next(), format)?;
            let tz = f.get(4..).filter(|tz| !tz.is_empty()).map(Arc::from);
            DataType::Timestamp(unit, tz)
        }
        f if f.starts_with("tD") => DataType::Duration(parse_unit(f[2..].chars().next(), format)?),
        other => {
            return Err(ArrowError::NotYetImplemented(format!(
                "hepq cannot import Arrow columns of format '{other}' (unions, run-end encoded \
                 arrays and list views are not supported); cast them first"
            )));
        }
    })
}

/// Owns an imported base `ArrowArray`; every imported buffer holds an `Arc` of it, so the
/// producer's memory is released when the last buffer goes.
struct ImportedArray(FfiArray);

// SAFETY: the C data interface lets a consumer release an array from any thread; the buffers
// are immutable.
unsafe impl Sync for ImportedArray {}

/// # Safety
/// `array` must be a live `ArrowArray` (owned by `owner` or one of its children) of type
/// `data_type`.
unsafe fn import_array_data(
    owner: &Arc<ImportedArray>,
    array: &FfiArray,
    data_type: &DataType,
) -> Result<ArrayData> {
    let length = usize::try_from(array.length).map_err(|_| invalid("negative length"))?;
    let offset = usize::try_from(array.offset).map_err(|_| invalid("negative offset"))?;
    let end = offset + length;
    let n_buffers = usize::try_from(array.n_buffers).map_err(|_| invalid("negative n_buffers"))?;
    let raw = |i: usize| -> Result<*const u8> {
        if i >= n_buffers {
            return Err(invalid(format!(
                "a {data_type} array needs buffer {i}, got {n_buffers}"
            )));
        }
        // SAFETY: `buffers` has `n_buffers` entries.
        Ok(unsafe { *array.buffers.add(i) } as *const u8)
    };
    let buffer = |i: usize, len: usize| -> Result<Buffer> {
        let p = raw(i)?;
        match NonNull::new(p as *mut u8) {
            // SAFETY: the producer guarantees `len` readable bytes behind buffer `i` while the
            // array lives; the Arc keeps it alive.
            Some(p) => {
                Ok(unsafe { Buffer::from_custom_allocation(p, len, Arc::clone(owner) as Arc<_>) })
            }
            None if len == 0 => Ok(Buffer::from_vec(Vec::<u8>::new())),
            None => Err(invalid(format!(
                "buffer {i} of a {data_type} array is null"
            ))),
        }
    };
    let validity = |has: bool| -> Result<Option<Buffer>> {
        if !has || array.null_count == 0 || raw(0)?.is_null() {
            return Ok(None);
        }
        Ok(Some(buffer(0, end.div_ceil(8))?))
    };
    // The last offset of an offsets buffer: the size of the data behind it.
    let last_offset = |width: usize| -> Result<usize> {
        let p = raw(1)?;
        if p.is_null() {
            return if length == 0 {
                Ok(0)
            } else {
                Err(invalid("null offsets buffer"))
            };
        }
        // SAFETY: an offsets buffer has `end + 1` entries of `width` bytes.
        let v = unsafe {
            if width == 4 {
                i64::from(ptr::read_unaligned((p as *const i32).add(end)))
            } else {
                ptr::read_unaligned((p as *const i64).add(end))
            }
        };
        usize::try_from(v).map_err(|_| invalid("negative offset"))
    };
    let child = |i: usize, data_type: &DataType| -> Result<ArrayData> {
        if i >= array.n_children.max(0) as usize {
            return Err(invalid(format!("a {data_type} array lacks child {i}")));
        }
        // SAFETY: `children` has `n_children` live entries.
        let c = unsafe { (*array.children.add(i)).as_ref() }
            .ok_or_else(|| invalid("null child array"))?;
        // SAFETY: a child of a live array, owned through its parent.
        unsafe { import_array_data(owner, c, data_type) }
    };

    let mut builder = ArrayDataBuilder::new(data_type.clone())
        .len(length)
        .offset(offset);
    match data_type {
        DataType::Null => {}
        DataType::Boolean => {
            builder = builder
                .null_bit_buffer(validity(true)?)
                .add_buffer(buffer(1, end.div_ceil(8))?);
        }
        DataType::Utf8 | DataType::Binary | DataType::LargeUtf8 | DataType::LargeBinary => {
            let width = if matches!(data_type, DataType::Utf8 | DataType::Binary) {
                4
            } else {
                8
            };
            let data_len = last_offset(width)?;
            let offsets_len = if raw(1)?.is_null() {
                0
            } else {
                (end + 1) * width
            };
            builder = builder
                .null_bit_buffer(validity(true)?)
                .add_buffer(buffer(1, offsets_len)?)
                .add_buffer(buffer(2, data_len)?);
        }
        DataType::Utf8View | DataType::BinaryView => {
            if n_buffers < 3 {
                return Err(invalid("a view array needs at least 3 buffers"));
            }
            let n_data = n_buffers - 3;
            let sizes = raw(n_buffers - 1)?;
            builder = builder
                .null_bit_buffer(validity(true)?)
                .add_buffer(buffer(1, end * 16)?);
            for k in 0..n_data {
                // SAFETY: the sizes buffer has one i64 per data buffer.
                let size = unsafe { ptr::read_unaligned((sizes as *const i64).add(k)) };
                let size = usize::try_from(size).map_err(|_| invalid("negative buffer size"))?;
                builder = builder.add_buffer(buffer(2 + k, size)?);
            }
        }
        DataType::List(f) | DataType::LargeList(f) | DataType::Map(f, _) => {
            let width = if matches!(data_type, DataType::LargeList(_)) {
                8
            } else {
                4
            };
            let offsets_len = if raw(1)?.is_null() {
                0
            } else {
                (end + 1) * width
            };
            builder = builder
                .null_bit_buffer(validity(true)?)
                .add_buffer(buffer(1, offsets_len)?)
                .add_child_data(child(0, f.data_type())?);
        }
        DataType::FixedSizeList(f, _) => {
            builder = builder
                .null_bit_buffer(validity(true)?)
                .add_child_data(child(0, f.data_type())?);
        }
        DataType::Struct(fields) => {
            builder = builder.null_bit_buffer(validity(true)?);
            for (i, f) in fields.iter().enumerate() {
                builder = builder.add_child_data(child(i, f.data_type())?);
            }
        }
        DataType::Dictionary(keys, values) => {
            let width = keys
                .primitive_width()
                .ok_or_else(|| invalid("dictionary keys must be integers"))?;
            // SAFETY: a dictionary array's `dictionary` is live while it is.
            let dictionary = unsafe { array.dictionary.as_ref() }
                .ok_or_else(|| invalid("dictionary array without dictionary"))?;
            // SAFETY: owned through the base array.
            let values = unsafe { import_array_data(owner, dictionary, values)? };
            builder = builder
                .null_bit_buffer(validity(true)?)
                .add_buffer(buffer(1, end * width)?)
                .add_child_data(values);
        }
        DataType::FixedSizeBinary(w) => {
            let w = usize::try_from(*w).map_err(|_| invalid("negative width"))?;
            builder = builder
                .null_bit_buffer(validity(true)?)
                .add_buffer(buffer(1, end * w)?);
        }
        other => {
            let width = other.primitive_width().ok_or_else(|| unsupported(other))?;
            builder = builder
                .null_bit_buffer(validity(true)?)
                .add_buffer(buffer(1, end * width)?);
        }
    }
    // `build` validates offsets, UTF-8 and child lengths: the producer is foreign.
    builder.build()
}

/// Takes ownership of the stream behind an `arrow_array_stream` capsule's pointer, leaving the
/// original released (so the capsule's destructor does nothing).
///
/// # Safety
/// `stream` must point to a live `ArrowArrayStream`.
pub unsafe fn take_stream(stream: *mut FfiStream) -> FfiStream {
    // SAFETY: per the function's contract; moving is allowed by the stream interface.
    unsafe { ptr::replace(stream, FfiStream::empty()) }
}

/// Reads a whole imported stream: its schema and every batch (buffers not copied).
pub fn import_stream(mut stream: FfiStream) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let (Some(get_schema), Some(get_next)) = (stream.get_schema, stream.get_next) else {
        return Err(invalid("the stream is released"));
    };
    let error = |stream: &mut FfiStream, code: c_int| -> ArrowError {
        let message = stream
            .get_last_error
            // SAFETY: a live stream's last error is null or a string valid until the next call.
            .map(|f| unsafe { f(stream) })
            .filter(|p| !p.is_null())
            // SAFETY: non-null, NUL-terminated.
            .map(|p| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("error code {code}"));
        ArrowError::CDataInterface(format!("reading the Arrow stream failed: {message}"))
    };
    let mut schema = FfiSchema::empty();
    // SAFETY: a live stream and space for one schema.
    let code = unsafe { get_schema(&mut stream, &mut schema) };
    if code != 0 {
        return Err(error(&mut stream, code));
    }
    // SAFETY: get_schema filled it in.
    let field = unsafe { import_field(&schema)? };
    let DataType::Struct(fields) = field.data_type() else {
        return Err(invalid("a stream's schema must be a struct"));
    };
    let schema_ref = Arc::new(Schema::new_with_metadata(
        fields.clone(),
        field.metadata().clone(),
    ));
    let mut batches = Vec::new();
    loop {
        let mut array = FfiArray::empty();
        // SAFETY: a live stream and space for one array.
        let code = unsafe { get_next(&mut stream, &mut array) };
        if code != 0 {
            return Err(error(&mut stream, code));
        }
        if array.release.is_none() {
            break;
        }
        let owner = Arc::new(ImportedArray(array));
        // SAFETY: a live array of the stream's struct type, owned by `owner`.
        let data = unsafe { import_array_data(&owner, &owner.0, field.data_type())? };
        let columns = StructArray::from(data).into_parts().1;
        let options = RecordBatchOptions::new().with_row_count(Some(owner.0.length as usize));
        batches.push(RecordBatch::try_new_with_options(
            Arc::clone(&schema_ref),
            columns,
            &options,
        )?);
    }
    Ok((schema_ref, batches))
}
