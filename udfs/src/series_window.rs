//! [`SeriesWindowUdf`]: the one DataFusion `WindowUDFImpl` behind every window
//! function of this crate, and [`SeriesWindow`], what each function adds to it.
//!
//! Every window function here walks a partition the caller orders by time, has
//! its own argument coercion (values to `Float64`, times to nanoseconds, see
//! `points`), is immutable, and returns a nullable `Float64` per row: a NULL is
//! a row InfluxDB would not emit. That shape lives here once; a function file
//! keeps only its name, its arguments and its evaluator.

use std::fmt::Debug;
use std::hash::Hash;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{PartitionEvaluator, Signature, Volatility, WindowUDFImpl};

/// What one window function of this crate is: its name, how its arguments are
/// coerced and how it evaluates a partition.
pub trait SeriesWindow: Debug + PartialEq + Eq + Hash + Send + Sync + 'static {
    /// The SQL name.
    fn name(&self) -> &'static str;

    /// The types the arguments are cast to; a wrong count or type is a plan
    /// error naming the function's arguments.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>>;

    /// The evaluator of one partition; constant arguments are checked here,
    /// before any row is read.
    fn partition_evaluator(&self, args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>>;
}

/// The window function `W` as a DataFusion window UDF.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SeriesWindowUdf<W> {
    function: W,
    signature: Signature,
}

impl<W: SeriesWindow> SeriesWindowUdf<W> {
    /// The UDF computing `function`.
    pub fn new(function: W) -> Self {
        Self { function, signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl<W: SeriesWindow> WindowUDFImpl for SeriesWindowUdf<W> {
    fn name(&self) -> &str {
        self.function.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.function.coerce_types(arg_types)
    }

    fn partition_evaluator(&self, args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        self.function.partition_evaluator(args)
    }

    fn field(&self, args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Field::new(args.name(), DataType::Float64, true).into())
    }
}
