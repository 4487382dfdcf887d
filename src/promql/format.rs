//! `format_query`: a PromQL expression pretty-printed, as Prometheus's
//! `/api/v1/format_query` answers. The text passes the same checks as a
//! query (the depth guard, Prometheus 2's function names) and is parsed,
//! printed and dropped on a query thread, since each of those recurses
//! once per level of the expression.

use promql_parser::parser;

use super::error::{PromError, Result};
use super::options::PromOptions;
use super::renamed_functions::with_new_names;
use super::{guard, stack};

/// `text` pretty-printed, or why it is not a valid expression.
pub fn format_query(text: &str, options: &PromOptions) -> Result<String> {
    guard::check(text, options)?;
    stack::on_query_thread(|| {
        let expr = parser::parse(&with_new_names(text)).map_err(PromError::BadData)?;
        Ok(expr.prettify())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected error")]

    use super::*;

    #[test]
    fn expressions_are_printed_as_prometheus_prints_them() {
        let options = PromOptions::default();
        assert_eq!(
            format_query("sum(rate(http_requests_total{job=\"a\"}[5m]))by(job)", &options).unwrap(),
            "sum by (job) (rate(http_requests_total{job=\"a\"}[5m]))"
        );
        // Prometheus 2's name is accepted and printed as the current one.
        assert_eq!(
            format_query("holt_winters(x[10m], 0.5, 0.5)", &options).unwrap(),
            "double_exponential_smoothing(x[10m], 0.5, 0.5)"
        );
        assert!(matches!(format_query("sum(", &options), Err(PromError::BadData(_))));
    }

    #[test]
    fn deep_expressions_are_refused_or_printed_without_overflowing() {
        let options = PromOptions::default();
        let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
        let e = format_query(&deep, &options).unwrap_err().to_string();
        assert!(e.contains("deep") || e.contains("nest"), "{e}");
        let chain = vec!["1"; 2_000].join(" + ");
        let printed = format_query(&chain, &options).unwrap();
        assert_eq!(printed.matches('+').count(), 1_999);
    }
}
