//! Functions Prometheus 3 renamed, called by their Prometheus 2 names:
//! `holt_winters` is `double_exponential_smoothing` (the same arithmetic).
//! The parser follows Prometheus 3 and refuses the old names, while
//! dashboards written for Prometheus 2 still send them, so a query's calls
//! of an old name are renamed before parsing. Only calls are renamed (the
//! name followed by `(`); string literals, comments, label names and metric
//! names are left as written.

use std::borrow::Cow;

/// (Prometheus 2 name, Prometheus 3 name).
const RENAMED: &[(&str, &str)] = &[("holt_winters", "double_exponential_smoothing")];

/// `text` with every call of a renamed function under its new name;
/// borrowed when there is none.
pub(crate) fn with_new_names(text: &str) -> Cow<'_, str> {
    if !RENAMED.iter().any(|(old, _)| text.contains(old)) {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 32);
    // Every delimiter is ASCII, so byte offsets found here fall on
    // character boundaries and unrenamed text is copied by slices.
    let (mut copied, mut i) = (0, 0);
    while let Some(&b) = bytes.get(i) {
        i = match b {
            b'"' | b'\'' | b'`' => literal_end(bytes, i),
            b'#' => bytes[i..].iter().position(|&c| c == b'\n').map_or(bytes.len(), |n| i + n),
            b if is_word_byte(b) => {
                let end = i + bytes[i..].iter().take_while(|&&c| is_word_byte(c)).count();
                let called = text[end..].trim_start().starts_with('(');
                if let Some((_, new)) = RENAMED.iter().find(|(old, _)| called && *old == &text[i..end]) {
                    out.push_str(&text[copied..i]);
                    out.push_str(new);
                    copied = end;
                }
                end
            }
            _ => i + 1,
        };
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// Bytes of names, numbers and durations.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

/// The offset just past the string literal opening at `start` (the end of
/// the text if it is not closed); a backslash escapes the next byte except
/// in a raw (backquoted) string.
fn literal_end(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while let Some(&b) = bytes.get(i) {
        if b == quote {
            return i + 1;
        }
        i += if b == b'\\' && quote != b'`' { 2 } else { 1 };
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_of_old_names_are_renamed() {
        assert_eq!(
            with_new_names("holt_winters(x[10m], 0.5, 0.5) + holt_winters (y[5m], 0.1, 0.9)"),
            "double_exponential_smoothing(x[10m], 0.5, 0.5) + double_exponential_smoothing (y[5m], 0.1, 0.9)"
        );
        assert!(matches!(with_new_names("rate(x[5m])"), Cow::Borrowed(_)));
    }

    #[test]
    fn names_that_are_not_calls_stay() {
        for text in [
            r#"holt_winters{job="a"}"#,
            r#"sum by (holt_winters) (x)"#,
            r#"label_replace(x, "y", "holt_winters(", "z", "(.*)")"#,
            r#"label_replace(x, "y", 'it\'s holt_winters(', "z", "(.*)")"#,
            "x # holt_winters(\n",
            "my_holt_winters(x)",
            "holt_winters_total",
            "`holt_winters(`",
        ] {
            assert_eq!(with_new_names(text), text, "{text}");
        }
    }

    #[test]
    fn unclosed_literals_and_other_scripts_are_copied() {
        assert_eq!(with_new_names("\"héllo holt_winters("), "\"héllo holt_winters(");
        assert_eq!(
            with_new_names("héllo + holt_winters(x[1m],0.5,0.5)"),
            "héllo + double_exponential_smoothing(x[1m],0.5,0.5)"
        );
    }
}
