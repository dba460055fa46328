//! Element-wise operators and math functions on lists.
//!
//! DataFusion's operators and math functions work on scalars only. hepq makes them work on
//! lists element by element, as awkward does:
//!
//! - [`ListOperatorPlanner`], an `ExprPlanner` that the session registers, rewrites a binary
//!   operator (`+ - * / %`, comparisons, `AND`/`OR`) with a list operand into one of the
//!   `elementwise_*` functions below (`Jet_pt > 30` → `elementwise_gt(Jet_pt, 30)`). A literal
//!   number next to a `Float32` list is cast to `Float32`, so that `Jet_pt * 2` stays `Float32`.
//! - `NOT` and unary `-` have no planner hook in DataFusion: on lists they are written
//!   `elementwise_not(mask)` and `elementwise_neg(x)`.
//! - [`lifted_math`] wraps DataFusion's `abs`, `sqrt`, `exp`, `ln`, `log`, `sin`, …, `atan2`,
//!   `power`: with scalar arguments the wrapper is the built-in (same coercion, result and
//!   simplification); with list arguments it runs the built-in once over the flat values.
//!
//! Operands are aligned by [`super::common::align`]: two lists must have equal lengths in every
//! row (else an error naming both operands and the row); scalars broadcast.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, AsArray, Datum, Scalar};
use datafusion::arrow::compute::kernels::{boolean, cmp, numeric};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::interval_arithmetic::Interval;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ExprSchemable, Operator, ReturnFieldArgs,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::BinaryOperator;
use datafusion_macros::user_doc;

use super::common::{
    Aligned, align, all_scalar, coerce_list, finish, is_list, list_element, list_of,
};

/// An element-wise operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `=`
    Eq,
    /// `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `AND`
    And,
    /// `OR`
    Or,
    /// `NOT` (unary)
    Not,
    /// unary `-`
    Neg,
}

impl Op {
    /// Every operation, in the order the functions are registered.
    pub const ALL: [Op; 15] = [
        Op::Add,
        Op::Sub,
        Op::Mul,
        Op::Div,
        Op::Mod,
        Op::Eq,
        Op::NotEq,
        Op::Lt,
        Op::LtEq,
        Op::Gt,
        Op::GtEq,
        Op::And,
        Op::Or,
        Op::Not,
        Op::Neg,
    ];

    /// The SQL function name.
    pub fn function_name(self) -> &'static str {
        match self {
            Op::Add => "elementwise_add",
            Op::Sub => "elementwise_sub",
            Op::Mul => "elementwise_mul",
            Op::Div => "elementwise_div",
            Op::Mod => "elementwise_mod",
            Op::Eq => "elementwise_eq",
            Op::NotEq => "elementwise_ne",
            Op::Lt => "elementwise_lt",
            Op::LtEq => "elementwise_le",
            Op::Gt => "elementwise_gt",
            Op::GtEq => "elementwise_ge",
            Op::And => "elementwise_and",
            Op::Or => "elementwise_or",
            Op::Not => "elementwise_not",
            Op::Neg => "elementwise_neg",
        }
    }

    fn operator(self) -> Option<Operator> {
        Some(match self {
            Op::Add => Operator::Plus,
            Op::Sub => Operator::Minus,
            Op::Mul => Operator::Multiply,
            Op::Div => Operator::Divide,
            Op::Mod => Operator::Modulo,
            Op::Eq => Operator::Eq,
            Op::NotEq => Operator::NotEq,
            Op::Lt => Operator::Lt,
            Op::LtEq => Operator::LtEq,
            Op::Gt => Operator::Gt,
            Op::GtEq => Operator::GtEq,
            Op::And => Operator::And,
            Op::Or => Operator::Or,
            Op::Not | Op::Neg => return None,
        })
    }

    fn from_sql(op: &BinaryOperator) -> Option<Op> {
        Some(match op {
            BinaryOperator::Plus => Op::Add,
            BinaryOperator::Minus => Op::Sub,
            BinaryOperator::Multiply => Op::Mul,
            BinaryOperator::Divide => Op::Div,
            BinaryOperator::Modulo => Op::Mod,
            BinaryOperator::Eq => Op::Eq,
            BinaryOperator::NotEq => Op::NotEq,
            BinaryOperator::Lt => Op::Lt,
            BinaryOperator::LtEq => Op::LtEq,
            BinaryOperator::Gt => Op::Gt,
            BinaryOperator::GtEq => Op::GtEq,
            BinaryOperator::And => Op::And,
            BinaryOperator::Or => Op::Or,
            _ => return None,
        })
    }

    fn is_unary(self) -> bool {
        matches!(self, Op::Not | Op::Neg)
    }
}

/// The element type of `t` (itself when not a list).
fn element_of(t: &DataType) -> DataType {
    match list_element(t) {
        Some(f) => f.data_type().clone(),
        None => t.clone(),
    }
}

/// The `Elementwise` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "Element-wise operators on lists"),
    description = "Arithmetic (`+ - * / %`), comparisons (`= <> < <= > >=`) and logic (`AND`, `OR`, `NOT`, unary `-`) work element by element when an operand is a list, as in awkward: a list with a scalar broadcasts the scalar, two lists must have the same length in every row (else an error naming both operands and the row). The planner rewrites the operators into these functions, which can also be called by name (`NOT mask` and `-x` must be written `elementwise_not(mask)` and `elementwise_neg(x)` on lists). Element types follow DataFusion's rules for the operator, except that a literal number next to a Float32 list is taken as Float32. A NULL list or NULL scalar row gives NULL; NULL elements give NULL elements.",
    syntax_example = "list <op> scalar | scalar <op> list | list <op> list",
    sql_example = r#"```sql
> SELECT [20.5, 45.0, 31.0] > 30, [1, 2, 3] * [4, 5, 6], elementwise_not([true, false]);
[false, true, true]	[4, 10, 18]	[false, true]
```"#,
    argument(name = "left", description = "A list or scalar."),
    argument(
        name = "right",
        description = "A list or scalar (absent for `NOT` and unary `-`)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Elementwise {
    op: Op,
    signature: Signature,
    aliases: Vec<String>,
}

impl Elementwise {
    /// The function for `op`.
    pub fn new(op: Op) -> Self {
        let aliases = match op {
            Op::Not => vec!["list_not".to_string()],
            _ => vec![],
        };
        Self {
            op,
            signature: Signature::user_defined(Volatility::Immutable),
            aliases,
        }
    }

    fn element_types(&self, arg_types: &[DataType]) -> Result<(Vec<DataType>, DataType)> {
        let name = self.op.function_name();
        match (self.op, arg_types) {
            (Op::Not, [_]) => Ok((vec![DataType::Boolean], DataType::Boolean)),
            (Op::Neg, [a]) => {
                let e = element_of(a);
                if !(e.is_numeric() || e == DataType::Null) {
                    return plan_err!("{name}: cannot negate {a}");
                }
                Ok((vec![e.clone()], e))
            }
            (op, [l, r]) if !op.is_unary() => {
                let (le, re) = (element_of(l), element_of(r));
                let Some(operator) = op.operator() else {
                    return plan_err!("{name}: not a binary operator");
                };
                let coercer = BinaryTypeCoercer::new(&le, &operator, &re);
                let (lc, rc) = coercer.get_input_types().map_err(|e| {
                    datafusion::error::DataFusionError::Plan(format!(
                        "{name}: cannot apply {operator} to elements of {l} and {r}: {e}"
                    ))
                })?;
                let result = BinaryTypeCoercer::new(&lc, &operator, &rc).get_result_type()?;
                Ok((vec![lc, rc], result))
            }
            _ => plan_err!(
                "{name} takes {} argument(s), got {}",
                if self.op.is_unary() { 1 } else { 2 },
                arg_types.len()
            ),
        }
    }
}

impl ScalarUDFImpl for Elementwise {
    fn name(&self) -> &str {
        self.op.function_name()
    }
    fn aliases(&self) -> &[String] {
        &self.aliases
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (elements, _) = self.element_types(arg_types)?;
        Ok(arg_types
            .iter()
            .zip(elements.iter())
            .map(|(t, e)| {
                if is_list(t) {
                    coerce_list(t, Some(e))
                } else {
                    e.clone()
                }
            })
            .collect())
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let (_, result) = self.element_types(arg_types)?;
        if arg_types.iter().any(is_list) {
            Ok(list_of(result))
        } else {
            Ok(result)
        }
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = self.op.function_name();
        let scalar = all_scalar(&args.args);
        let any_list = args.args.iter().any(|a| is_list(&a.data_type()));
        if !any_list {
            // Plain scalars (the function called by name on non-lists).
            let arrays = ColumnarValue::values_to_arrays(&args.args)?;
            let out = match arrays.as_slice() {
                [a] => apply_unary(self.op, a)?,
                [l, r] => apply(self.op, l, r)?,
                _ => return exec_err!("{name}: wrong number of arguments"),
            };
            return finish(out, scalar);
        }
        let names: Vec<String> = args
            .arg_fields
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        let aligned = align(name, &names, &args.args, args.number_rows)?;
        let len = aligned.elements();
        let as_array = |a: &Aligned| -> Result<ArrayRef> {
            match a {
                Aligned::Array(x) => Ok(Arc::clone(x)),
                Aligned::Scalar(s) => s.to_array_of_size(len),
            }
        };
        let values = match (self.op.is_unary(), aligned.operands.as_slice()) {
            (true, [a]) => apply_unary(self.op, &as_array(a)?)?,
            (false, [Aligned::Array(l), Aligned::Scalar(r)])
                if !matches!(self.op, Op::And | Op::Or) =>
            {
                apply_datum(self.op, l, &Scalar::new(r.to_array_of_size(1)?))?
            }
            (false, [Aligned::Scalar(l), Aligned::Array(r)])
                if !matches!(self.op, Op::And | Op::Or) =>
            {
                apply_datum(self.op, &Scalar::new(l.to_array_of_size(1)?), r)?
            }
            (false, [l, r]) => apply(self.op, &as_array(l)?, &as_array(r)?)?,
            _ => return exec_err!("{name}: wrong number of arguments"),
        };
        finish(Arc::new(aligned.into_list(values)?), scalar)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

fn apply(op: Op, l: &ArrayRef, r: &ArrayRef) -> Result<ArrayRef> {
    match op {
        Op::And | Op::Or => {
            let (Some(lb), Some(rb)) = (l.as_boolean_opt(), r.as_boolean_opt()) else {
                return exec_err!("{}: operands must be boolean", op.function_name());
            };
            Ok(Arc::new(if op == Op::And {
                boolean::and_kleene(lb, rb)?
            } else {
                boolean::or_kleene(lb, rb)?
            }))
        }
        _ => apply_datum(op, l, r),
    }
}

fn apply_datum(op: Op, l: &dyn Datum, r: &dyn Datum) -> Result<ArrayRef> {
    Ok(match op {
        Op::Add => numeric::add_wrapping(l, r)?,
        Op::Sub => numeric::sub_wrapping(l, r)?,
        Op::Mul => numeric::mul_wrapping(l, r)?,
        Op::Div => numeric::div(l, r)?,
        Op::Mod => numeric::rem(l, r)?,
        Op::Eq => Arc::new(cmp::eq(l, r)?),
        Op::NotEq => Arc::new(cmp::neq(l, r)?),
        Op::Lt => Arc::new(cmp::lt(l, r)?),
        Op::LtEq => Arc::new(cmp::lt_eq(l, r)?),
        Op::Gt => Arc::new(cmp::gt(l, r)?),
        Op::GtEq => Arc::new(cmp::gt_eq(l, r)?),
        Op::And | Op::Or | Op::Not | Op::Neg => {
            return exec_err!("{}: not a binary arithmetic operator", op.function_name());
        }
    })
}

fn apply_unary(op: Op, a: &ArrayRef) -> Result<ArrayRef> {
    match op {
        Op::Not => match a.as_boolean_opt() {
            Some(b) => Ok(Arc::new(boolean::not(b)?)),
            None => exec_err!("elementwise_not: operand must be boolean"),
        },
        Op::Neg => Ok(numeric::neg_wrapping(a)?),
        _ => exec_err!("{}: not a unary operator", op.function_name()),
    }
}

/// The element-wise operator functions, one per [`Op`].
pub fn operator_functions() -> Vec<Arc<ScalarUDF>> {
    Op::ALL
        .iter()
        .map(|&op| Arc::new(ScalarUDF::from(Elementwise::new(op))))
        .collect()
}

static OPERATORS: LazyLock<Vec<Arc<ScalarUDF>>> = LazyLock::new(operator_functions);

fn operator_udf(op: Op) -> Option<Arc<ScalarUDF>> {
    OPERATORS
        .iter()
        .find(|u| u.name() == op.function_name())
        .cloned()
}

/// Casts a numeric literal next to a Float32 list to Float32, so that the result stays Float32.
fn narrow_literal(expr: Expr, other_type: &DataType) -> Expr {
    if element_of(other_type) != DataType::Float32 || !is_list(other_type) {
        return expr;
    }
    match expr {
        Expr::Literal(value, meta)
            if value.data_type().is_numeric() && value.data_type() != DataType::Float32 =>
        {
            match value.cast_to(&DataType::Float32) {
                Ok(v) => Expr::Literal(v, meta),
                Err(_) => Expr::Literal(value, meta),
            }
        }
        other => other,
    }
}

/// Plans binary operators with a list operand as `elementwise_*` calls.
#[derive(Debug, Default)]
pub struct ListOperatorPlanner;

impl ExprPlanner for ListOperatorPlanner {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let Some(op) = Op::from_sql(&expr.op) else {
            return Ok(PlannerResult::Original(expr));
        };
        // Operands whose type is not known here (lambda parameters such as `x` in
        // `array_transform(l, x -> x * 2)`) are left to DataFusion.
        let (Ok(left_type), Ok(right_type)) =
            (expr.left.get_type(schema), expr.right.get_type(schema))
        else {
            return Ok(PlannerResult::Original(expr));
        };
        if !is_list(&left_type) && !is_list(&right_type) {
            return Ok(PlannerResult::Original(expr));
        }
        let Some(udf) = operator_udf(op) else {
            return Ok(PlannerResult::Original(expr));
        };
        let left = narrow_literal(expr.left, &right_type);
        let right = narrow_literal(expr.right, &left_type);
        Ok(PlannerResult::Planned(udf.call(vec![left, right])))
    }
}

// ---------------------------------------------------------------------------------------------
// Math functions lifted to lists

/// The `ListMath` SQL function(s); user documentation in the `#[user_doc]` below.
#[user_doc(
    doc_section(label = "Element-wise math on lists"),
    description = "DataFusion's math functions also accept lists and then apply element by element (awkward/NumPy ufunc style): `abs(Jet_eta) < 1`, `sqrt(px*px + py*py)`, `atan2(py, px)`. With scalar arguments they are exactly DataFusion's functions. Several list arguments must have equal lengths per row; scalar arguments broadcast. Float32 lists stay Float32 where DataFusion's function keeps Float32. Note that, as in DataFusion, `log(x)` is the base-10 logarithm and `ln(x)` the natural one. `isnan(list)` gives the mask of NaN elements, e.g. to drop NaN padding: `list_where(x, list_not(isnan(x)))`; comparisons treat NaN as larger than every number (as SQL does), so `x > 0` alone keeps NaN.",
    syntax_example = "sqrt(list), atan2(list_y, list_x), power(list, 2), …",
    sql_example = r#"```sql
> SELECT abs([-1.5, 2.0]), sqrt([4.0, 9.0]), atan2([1.0], [1.0]);
[1.5, 2.0]	[2.0, 3.0]	[0.7853981633974483]
```"#,
    argument(
        name = "x",
        description = "A number or a list of numbers (each argument)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListMath {
    inner: Arc<ScalarUDF>,
    signature: Signature,
    aliases: Vec<String>,
}

impl ListMath {
    /// Wraps the built-in `inner` so that it also accepts lists.
    pub fn new(inner: Arc<ScalarUDF>) -> Self {
        let volatility = inner.signature().volatility;
        let aliases = inner.aliases().to_vec();
        Self {
            inner,
            signature: Signature::user_defined(volatility),
            aliases,
        }
    }

    fn element_fields(fields: &[FieldRef]) -> Vec<FieldRef> {
        fields
            .iter()
            .map(|f| match list_element(f.data_type()) {
                Some(e) => Arc::new(Field::new(f.name(), e.data_type().clone(), true)),
                None => Arc::clone(f),
            })
            .collect()
    }
}

fn fields_of(types: &[DataType]) -> Vec<FieldRef> {
    types
        .iter()
        .map(|t| Arc::new(Field::new("arg", t.clone(), true)))
        .collect()
}

impl ScalarUDFImpl for ListMath {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn aliases(&self) -> &[String] {
        &self.aliases
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let elements: Vec<DataType> = arg_types.iter().map(element_of).collect();
        let coerced = fields_with_udf(&fields_of(&elements), self.inner.as_ref())?;
        Ok(arg_types
            .iter()
            .zip(coerced.iter())
            .map(|(t, c)| {
                if is_list(t) {
                    coerce_list(t, Some(c.data_type()))
                } else {
                    c.data_type().clone()
                }
            })
            .collect())
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let elements: Vec<DataType> = arg_types.iter().map(element_of).collect();
        let result = self.inner.return_type(&elements)?;
        if arg_types.iter().any(is_list) {
            Ok(list_of(result))
        } else {
            Ok(result)
        }
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if !args.arg_fields.iter().any(|f| is_list(f.data_type())) {
            return self.inner.return_field_from_args(args);
        }
        let elements = Self::element_fields(args.arg_fields);
        let scalars: Vec<Option<&ScalarValue>> = args
            .arg_fields
            .iter()
            .zip(args.scalar_arguments.iter())
            .map(|(f, s)| if is_list(f.data_type()) { None } else { *s })
            .collect();
        let element = self.inner.return_field_from_args(ReturnFieldArgs {
            arg_fields: &elements,
            scalar_arguments: &scalars,
        })?;
        Ok(Arc::new(Field::new(
            self.name(),
            list_of(element.data_type().clone()),
            true,
        )))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if !args.arg_fields.iter().any(|f| is_list(f.data_type())) {
            return self.inner.invoke_with_args(args);
        }
        let scalar = all_scalar(&args.args);
        let names: Vec<String> = args
            .arg_fields
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        let aligned = align(self.name(), &names, &args.args, args.number_rows)?;
        let len = aligned.elements();
        let element_args: Vec<ColumnarValue> = aligned
            .operands
            .iter()
            .map(|a| match a {
                Aligned::Array(x) => ColumnarValue::Array(Arc::clone(x)),
                Aligned::Scalar(s) => ColumnarValue::Scalar(s.clone()),
            })
            .collect();
        let return_element = match list_element(args.return_field.data_type()) {
            Some(f) => Arc::new(Field::new("item", f.data_type().clone(), true)),
            None => return exec_err!("{}: expected a list result", self.name()),
        };
        let result = self.inner.invoke_with_args(ScalarFunctionArgs {
            args: element_args,
            arg_fields: Self::element_fields(&args.arg_fields),
            number_rows: len,
            return_field: return_element,
            config_options: Arc::clone(&args.config_options),
        })?;
        let values = result.to_array(len)?;
        finish(Arc::new(aligned.into_list(values)?), scalar)
    }
    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        for arg in &args {
            if is_list(&info.get_data_type(arg)?) {
                return Ok(ExprSimplifyResult::Original(args));
            }
        }
        self.inner.simplify(args, info)
    }
    fn output_ordering(&self, inputs: &[ExprProperties]) -> Result<SortProperties> {
        self.inner.output_ordering(inputs)
    }
    fn preserves_lex_ordering(&self, inputs: &[ExprProperties]) -> Result<bool> {
        self.inner.preserves_lex_ordering(inputs)
    }
    fn evaluate_bounds(&self, input: &[&Interval]) -> Result<Interval> {
        self.inner.evaluate_bounds(input)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// DataFusion's math functions, wrapped so that they also accept lists.
pub fn lifted_math() -> Vec<Arc<ScalarUDF>> {
    use datafusion::functions::math;
    let builtins = vec![
        math::abs(),
        math::sqrt(),
        math::cbrt(),
        math::exp(),
        math::ln(),
        math::log(),
        math::log2(),
        math::log10(),
        math::sin(),
        math::cos(),
        math::tan(),
        math::asin(),
        math::acos(),
        math::atan(),
        math::atan2(),
        math::sinh(),
        math::cosh(),
        math::tanh(),
        math::asinh(),
        math::acosh(),
        math::atanh(),
        math::power(),
        math::signum(),
        math::floor(),
        math::ceil(),
        math::round(),
        math::trunc(),
        math::degrees(),
        math::radians(),
        math::isnan(),
        math::iszero(),
    ];
    builtins
        .into_iter()
        .map(|inner| Arc::new(ScalarUDF::from(ListMath::new(inner))))
        .collect()
}
