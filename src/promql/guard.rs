//! Checks run on the query text before it is parsed: a nesting deeper than
//! the limit is refused at once, so no query can exhaust the stack of the
//! parser or of the evaluator (both recurse over the expression tree).

use super::error::{PromError, Result};
use super::options::PromOptions;

/// Refuses `text` when its expression nests deeper than the limit.
///
/// Depth is estimated from the text without parsing: open parentheses,
/// brackets and braces, plus unary and binary operators, each of which
/// adds a level to the tree the parser builds. Quoted strings are skipped.
/// The estimate never undercounts the tree's depth.
pub(crate) fn check(text: &str, options: &PromOptions) -> Result<()> {
    let limit = options.max_depth;
    let mut depth: usize = 0;
    let mut operators: usize = 0;
    let mut bytes = text.bytes().peekable();
    while let Some(b) = bytes.next() {
        match b {
            b'"' | b'\'' | b'`' => {
                // Skip the string, honouring backslash escapes (not in raw strings).
                while let Some(c) = bytes.next() {
                    if c == b'\\' && b != b'`' {
                        bytes.next();
                    } else if c == b {
                        break;
                    }
                }
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'<' | b'>' | b'=' | b'!' => operators += 1,
            b'#' => {
                // A comment runs to the end of the line.
                for c in bytes.by_ref() {
                    if c == b'\n' {
                        break;
                    }
                }
            }
            _ => {}
        }
        if depth.saturating_add(operators) > limit.saturating_mul(MAX_OPERATORS_PER_LEVEL) || depth > limit {
            return Err(PromError::BadData(format!(
                "query is too deeply nested or has too many operators: at most {limit} levels of nesting are accepted"
            )));
        }
    }
    Ok(())
}

/// Operators allowed per level of nesting: long flat sums such as
/// `a + b + c + ...` are normal, but each operator is a level of the
/// parsed tree, so their number is bounded too.
const MAX_OPERATORS_PER_LEVEL: usize = 50;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_and_operator_chains_are_refused_before_parsing() {
        let options = PromOptions::default();
        let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(matches!(check(&deep, &options), Err(PromError::BadData(m)) if m.contains("nested")));
        let chain = vec!["1"; 100_000].join(" + ");
        assert!(check(&chain, &options).is_err());
        let unary = format!("{}1", "-".repeat(100_000));
        assert!(check(&unary, &options).is_err());
        // Ordinary queries pass, and parentheses inside strings do not count.
        assert!(check(r#"sum by (job) (rate(http_requests_total{path=~"((((((((("}[5m]))"#, &options).is_ok());
        assert!(check(&vec!["a"; 500].join(" + "), &options).is_ok());
    }
}
