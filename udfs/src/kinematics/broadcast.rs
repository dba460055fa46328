//! The engine behind the element-wise kinematics functions: N numeric arguments, each a list, a
//! per-row number or a constant, lined up element by element (lists of equal lengths per row,
//! numbers broadcast), evaluated in double precision and returned as Float32 when the inputs
//! are Float32.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBufferBuilder, Float32Array, Float64Array, StructArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs};

use crate::list::common::{Aligned, align, all_scalar, finish, is_list, list_element, list_of};

/// The element type of a (list or scalar) argument type.
fn element(t: &DataType) -> &DataType {
    match list_element(t) {
        Some(f) => f.data_type(),
        None => t,
    }
}

/// Coerces numeric arguments: Float32/Float64 (and their lists) stay, other numbers become
/// Float64; list layouts become `List`.
pub(crate) fn coerce_numeric(
    name: &str,
    arg_types: &[DataType],
    arity: usize,
) -> Result<Vec<DataType>> {
    if arg_types.len() != arity {
        return plan_err!("{name} takes {arity} arguments, got {}", arg_types.len());
    }
    arg_types
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let e = match element(t) {
                DataType::Float32 => DataType::Float32,
                DataType::Null => DataType::Float64,
                e if e.is_numeric() => DataType::Float64,
                other => {
                    return plan_err!(
                        "{name}: argument {} must be a number or a list of numbers, got {other}",
                        i + 1
                    );
                }
            };
            Ok(if is_list(t) { list_of(e) } else { e })
        })
        .collect()
}

/// Whether the result is Float32: every non-constant argument is Float32 (constants such as a
/// muon mass literal do not force double precision), and at least one argument is not constant.
pub(crate) fn float32_result(args: &ReturnFieldArgs) -> bool {
    let mut any = false;
    for (field, scalar) in args.arg_fields.iter().zip(args.scalar_arguments.iter()) {
        if scalar.is_some() && !is_list(field.data_type()) {
            continue;
        }
        any = true;
        if element(field.data_type()) != &DataType::Float32 {
            return false;
        }
    }
    any
}

/// The result field: `outputs` named numbers (one → a number, several → a struct), as a list
/// when any argument is a list.
pub(crate) fn result_field(name: &str, args: &ReturnFieldArgs, outputs: &[&str]) -> FieldRef {
    let number = if float32_result(args) {
        DataType::Float32
    } else {
        DataType::Float64
    };
    let value = if outputs.len() == 1 {
        number
    } else {
        DataType::Struct(struct_fields(outputs, &number))
    };
    let any_list = args.arg_fields.iter().any(|f| is_list(f.data_type()));
    Arc::new(Field::new(
        name,
        if any_list { list_of(value) } else { value },
        true,
    ))
}

fn struct_fields(outputs: &[&str], number: &DataType) -> Fields {
    outputs
        .iter()
        .map(|n| Field::new(*n, number.clone(), true))
        .collect()
}

/// A source of f64 values lined up with the result's elements.
pub(crate) enum Source {
    /// One value per element.
    Values(Float64Array),
    /// A constant (NULL makes every result NULL).
    Constant(Option<f64>),
}

impl Source {
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<f64> {
        match self {
            Source::Values(a) => a.is_valid(i).then(|| a.value(i)),
            Source::Constant(c) => *c,
        }
    }
}

fn scalar_f64(s: &ScalarValue) -> Result<Option<f64>> {
    if s.is_null() {
        return Ok(None);
    }
    match s.cast_to(&DataType::Float64)? {
        ScalarValue::Float64(v) => Ok(v),
        other => exec_err!("expected a number, got {other}"),
    }
}

pub(crate) fn to_source(array: &ArrayRef) -> Result<Source> {
    let a = cast(array, &DataType::Float64)?;
    Ok(Source::Values(a.as_primitive::<Float64Type>().clone()))
}

/// Evaluates `f` element by element over `args` and builds the result declared by
/// `args.return_field` (`M` outputs: a number, or a struct of `M` numbers).
pub(crate) fn map_elements<const N: usize, const M: usize>(
    name: &str,
    args: &ScalarFunctionArgs,
    outputs: [&str; M],
    f: impl Fn([f64; N]) -> [f64; M],
) -> Result<ColumnarValue> {
    if args.args.len() != N {
        return exec_err!("{name} takes {N} arguments, got {}", args.args.len());
    }
    let scalar = all_scalar(&args.args);
    let any_list = args.args.iter().any(|a| is_list(&a.data_type()));
    let names: Vec<String> = args
        .arg_fields
        .iter()
        .map(|f| f.name().to_string())
        .collect();

    // Line the arguments up.
    let (sources, len, aligned) = if any_list {
        let aligned = align(name, &names, &args.args, args.number_rows)?;
        let sources = aligned
            .operands
            .iter()
            .map(|a| match a {
                Aligned::Array(x) => to_source(x),
                Aligned::Scalar(s) => Ok(Source::Constant(scalar_f64(s)?)),
            })
            .collect::<Result<Vec<_>>>()?;
        let len = aligned.elements();
        (sources, len, Some(aligned))
    } else {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let len = arrays.first().map(|a| a.len()).unwrap_or(0);
        let sources = arrays.iter().map(to_source).collect::<Result<Vec<_>>>()?;
        (sources, len, None)
    };

    // Evaluate.
    let mut out: [Vec<f64>; M] = std::array::from_fn(|_| Vec::with_capacity(len));
    let mut validity = BooleanBufferBuilder::new(len);
    let mut all_valid = true;
    let mut x = [0.0f64; N];
    for i in 0..len {
        let mut valid = true;
        for (k, s) in sources.iter().enumerate() {
            match s.get(i) {
                Some(v) => x[k] = v,
                None => {
                    valid = false;
                    break;
                }
            }
        }
        let y = if valid { f(x) } else { [0.0; M] };
        for (o, v) in out.iter_mut().zip(y) {
            o.push(v);
        }
        validity.append(valid);
        all_valid &= valid;
    }
    let nulls = (!all_valid).then(|| NullBuffer::new(validity.finish()));

    // Build the values (number or struct) in the declared precision.
    let return_type = args.return_field.data_type();
    let value_type = list_element(return_type)
        .map(|f| f.data_type().clone())
        .unwrap_or_else(|| return_type.clone());
    let float32 = match &value_type {
        DataType::Struct(fields) => fields.iter().any(|f| f.data_type() == &DataType::Float32),
        t => t == &DataType::Float32,
    };
    let number = |v: Vec<f64>, nulls: Option<NullBuffer>| -> ArrayRef {
        if float32 {
            Arc::new(Float32Array::new(
                v.into_iter().map(|x| x as f32).collect(),
                nulls,
            ))
        } else {
            Arc::new(Float64Array::new(v.into(), nulls))
        }
    };
    let values: ArrayRef = if M == 1 {
        let v = out.into_iter().next().unwrap_or_default();
        number(v, nulls)
    } else {
        let number_type = if float32 {
            DataType::Float32
        } else {
            DataType::Float64
        };
        let columns: Vec<ArrayRef> = out.into_iter().map(|v| number(v, None)).collect();
        Arc::new(StructArray::try_new(
            struct_fields(&outputs, &number_type),
            columns,
            nulls,
        )?)
    };
    let result: ArrayRef = match aligned {
        Some(a) => Arc::new(a.into_list(values)?),
        None => values,
    };
    finish(result, scalar)
}

/// φ1 − φ2 wrapped into [−π, π).
#[inline]
pub(crate) fn wrap_phi(d: f64) -> f64 {
    use std::f64::consts::PI;
    (d + PI).rem_euclid(2.0 * PI) - PI
}
