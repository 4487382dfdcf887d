//! Errors of the dialect: a message and the byte offset it points at, turned
//! into [`crate::Error::Dialect`] (line and column) once the query text is known.

/// A refused query: what was wrong, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    /// Byte offset in the query.
    pub at: usize,
    /// What was wrong.
    pub message: String,
}

impl SyntaxError {
    /// An error at byte `at`.
    pub fn new(at: usize, message: impl Into<String>) -> Self {
        Self { at, message: message.into() }
    }

    /// The database error, with the line and column of the offset in `text`.
    pub fn locate(self, text: &str) -> crate::Error {
        let before = text.get(..self.at.min(text.len())).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        crate::Error::Dialect { line, column, message: self.message }
    }
}

/// Results of parsing and planning.
pub type Result<T, E = SyntaxError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines_and_character_columns() {
        let e = SyntaxError::new(9, "x").locate("SELECT µ\nFROM");
        assert!(matches!(e, crate::Error::Dialect { line: 1, column: 9, .. }), "{e:?}");
        let e = SyntaxError::new(10, "x").locate("SELECT µ\nFROM");
        assert!(matches!(e, crate::Error::Dialect { line: 2, column: 1, .. }), "{e:?}");
    }
}
