//! hepq's default SQL dialect: DuckDB's, except that `f(a = b)` passes a comparison.
//!
//! DuckDB's dialect brings lambdas (`list_filter(Jet_pt, x -> x > 30)`), struct literals and
//! list slices, but it also reads `name = value` inside a call as a named argument, which would
//! turn the everyday `list_count_true(Muon_charge = 1)` into an error. Here `=` in a call is
//! always a comparison; named arguments keep `name := value` and `name => value`. The parser
//! treats the dialect as DuckDB's everywhere else (`dialect()` reports DuckDB's type).

use std::any::TypeId;

use datafusion::sql::sqlparser::dialect::{Dialect, DuckDbDialect};

/// DuckDB's dialect with `=` in function arguments as a comparison.
#[derive(Debug, Default, Clone, Copy)]
pub struct HepqDialect;

impl Dialect for HepqDialect {
    fn dialect(&self) -> TypeId {
        TypeId::of::<DuckDbDialect>()
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        DuckDbDialect.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        DuckDbDialect.is_identifier_part(ch)
    }
    fn supports_named_fn_args_with_eq_operator(&self) -> bool {
        false
    }
    fn supports_named_fn_args_with_assignment_operator(&self) -> bool {
        DuckDbDialect.supports_named_fn_args_with_assignment_operator()
    }
    fn supports_trailing_commas(&self) -> bool {
        DuckDbDialect.supports_trailing_commas()
    }
    fn supports_filter_during_aggregation(&self) -> bool {
        DuckDbDialect.supports_filter_during_aggregation()
    }
    fn supports_group_by_expr(&self) -> bool {
        DuckDbDialect.supports_group_by_expr()
    }
    fn supports_bitwise_shift_operators(&self) -> bool {
        DuckDbDialect.supports_bitwise_shift_operators()
    }
    fn supports_dictionary_syntax(&self) -> bool {
        DuckDbDialect.supports_dictionary_syntax()
    }
    fn support_map_literal_syntax(&self) -> bool {
        DuckDbDialect.support_map_literal_syntax()
    }
    fn supports_lambda_functions(&self) -> bool {
        DuckDbDialect.supports_lambda_functions()
    }
    fn allow_extract_single_quotes(&self) -> bool {
        DuckDbDialect.allow_extract_single_quotes()
    }
    fn supports_explain_with_utility_options(&self) -> bool {
        DuckDbDialect.supports_explain_with_utility_options()
    }
    fn supports_load_extension(&self) -> bool {
        DuckDbDialect.supports_load_extension()
    }
    fn supports_array_typedef_with_brackets(&self) -> bool {
        DuckDbDialect.supports_array_typedef_with_brackets()
    }
    fn supports_from_first_select(&self) -> bool {
        DuckDbDialect.supports_from_first_select()
    }
    fn supports_order_by_all(&self) -> bool {
        DuckDbDialect.supports_order_by_all()
    }
    fn supports_select_wildcard_exclude(&self) -> bool {
        DuckDbDialect.supports_select_wildcard_exclude()
    }
    fn supports_notnull_operator(&self) -> bool {
        DuckDbDialect.supports_notnull_operator()
    }
    fn supports_install(&self) -> bool {
        DuckDbDialect.supports_install()
    }
    fn supports_detach(&self) -> bool {
        DuckDbDialect.supports_detach()
    }
    fn supports_select_wildcard_replace(&self) -> bool {
        DuckDbDialect.supports_select_wildcard_replace()
    }
    fn supports_comma_separated_trim(&self) -> bool {
        DuckDbDialect.supports_comma_separated_trim()
    }
}
