//! The syntax tree of one dialect `SELECT`, as the parser reads it and the
//! planner (and [`crate::query::Query`]) consumes it. Every node that can be
//! refused keeps the byte offset it was written at.

/// `SELECT <fields> FROM <measurement> [WHERE ..] [GROUP BY ..] [fill(..)]
/// [ORDER BY time [ASC|DESC]] [LIMIT n] [OFFSET m]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    /// `EXPLAIN` (plan only) or `EXPLAIN ANALYZE` (run and measure) in front.
    pub explain: Option<Explain>,
    /// The selected expressions.
    pub fields: Vec<Field>,
    /// The measurement.
    pub from: String,
    /// The WHERE condition.
    pub condition: Option<Cond>,
    /// The GROUP BY clause.
    pub group_by: GroupBy,
    /// How empty buckets are filled.
    pub fill: Fill,
    /// `ORDER BY time DESC`.
    pub descending: bool,
    /// At most this many rows per series.
    pub limit: Option<usize>,
    /// Rows skipped per series.
    pub offset: usize,
}

/// What an `EXPLAIN` prefix asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Explain {
    /// The plans.
    Plan,
    /// The plan run, with its metrics.
    Analyze,
}

/// One selected expression and its output name.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The expression.
    pub expr: Expr,
    /// `AS alias`.
    pub alias: Option<String>,
}

/// A selected expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `*`: every field and tag (raw), or every field (inside an aggregate).
    Wildcard {
        /// Offset.
        at: usize,
    },
    /// A field or tag.
    Ref {
        /// Its name.
        name: String,
        /// Offset.
        at: usize,
    },
    /// A number.
    Number(f64),
    /// A duration in nanoseconds.
    Duration(i64),
    /// A function call.
    Call {
        /// The function, lower-cased.
        name: String,
        /// The arguments.
        args: Vec<Expr>,
        /// Offset of the name.
        at: usize,
    },
    /// Arithmetic: `lhs op rhs`. A negation `-x` reads as `-1 * x`, as in InfluxQL.
    Binary {
        /// The operator.
        op: ArithOp,
        /// Left side.
        lhs: Box<Expr>,
        /// Right side.
        rhs: Box<Expr>,
        /// Offset of the operator.
        at: usize,
    },
}

impl Expr {
    /// The byte offset of the expression (of its first operand that has
    /// one, else of its operator), where it has one.
    pub fn at(&self) -> Option<usize> {
        match self {
            Expr::Wildcard { at } | Expr::Ref { at, .. } | Expr::Call { at, .. } => Some(*at),
            Expr::Binary { lhs, rhs, at, .. } => lhs.at().or(rhs.at()).or(Some(*at)),
            Expr::Number(_) | Expr::Duration(_) => None,
        }
    }
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (a division by zero gives 0, as in InfluxDB)
    Div,
    /// `%` (the remainder of a division by zero is null)
    Mod,
}

/// `GROUP BY time(every[, offset]), tag, ... | *`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupBy {
    /// Time buckets.
    pub time: Option<TimeBuckets>,
    /// Tags, in the order written.
    pub tags: Vec<String>,
    /// `GROUP BY *`: every tag.
    pub all_tags: bool,
}

/// `time(every, offset)`: buckets start at `offset + k * every` from the epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeBuckets {
    /// Bucket width in nanoseconds (> 0).
    pub every: i64,
    /// Shift of the bucket starts, in nanoseconds.
    pub offset: i64,
    /// Offset of the clause.
    pub at: usize,
}

/// `fill(..)`: what an empty bucket of a `GROUP BY time` query shows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Fill {
    /// A row with null values (count: 0). The default.
    #[default]
    Null,
    /// No row.
    None,
    /// The previous bucket's value.
    Previous,
    /// Linear interpolation between the neighbouring values.
    Linear,
    /// This number.
    Value(f64),
}

/// A WHERE condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// Both hold.
    And(Box<Cond>, Box<Cond>),
    /// Either holds.
    Or(Box<Cond>, Box<Cond>),
    /// A comparison.
    Cmp {
        /// Left side.
        lhs: Operand,
        /// The operator.
        op: CmpOp,
        /// Right side.
        rhs: Operand,
        /// Offset of the operator.
        at: usize,
    },
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=` or `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `=~`
    Match,
    /// `!~`
    NotMatch,
}

impl CmpOp {
    /// The operator with its sides swapped (`a < b` is `b > a`).
    pub fn flipped(self) -> Self {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::LtEq => CmpOp::GtEq,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::GtEq => CmpOp::LtEq,
            other => other,
        }
    }
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A field, a tag, or `time`.
    Ident(String),
    /// A string (a tag value, or an RFC 3339 time).
    Str(String),
    /// A number.
    Number(f64),
    /// An integer (nanoseconds when compared with `time`), possibly beyond
    /// the range of timestamps.
    Int(i128),
    /// A regex.
    Regex(String),
    /// A duration in nanoseconds.
    Duration(i64),
    /// `now()`.
    Now,
    /// `lhs + rhs` or `lhs - rhs` (time arithmetic).
    Arith {
        /// Left side.
        lhs: Box<Operand>,
        /// `+` (else `-`).
        plus: bool,
        /// Right side.
        rhs: Box<Operand>,
    },
}
