//! What the SQL tests share: a session with every function registered, and reading
//! the first (Float64) column of a query's result.
#![allow(dead_code, reason = "each test binary uses only some of these")]

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Float64Type;
use datafusion::prelude::{SessionConfig, SessionContext};

/// A session with every function registered, planning `target_partitions` ways.
pub fn session(target_partitions: usize) -> SessionContext {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(target_partitions));
    chronicle_udfs::register_all(&ctx);
    ctx
}

/// The first column of `sql`'s result, which must be Float64, in `ctx`.
pub async fn floats_in(ctx: &SessionContext, sql: &str) -> Vec<Option<f64>> {
    let batches = ctx.sql(sql).await.expect(sql).collect().await.expect(sql);
    batches.iter().flat_map(|b| b.column(0).as_primitive::<Float64Type>().iter().collect::<Vec<_>>()).collect()
}

/// The first column of `sql`'s result, which must be Float64.
pub async fn floats(sql: &str) -> Vec<Option<f64>> {
    floats_in(&session(1), sql).await
}

/// The error `sql` fails with, at planning or execution.
pub async fn error(sql: &str) -> String {
    let ctx = session(1);
    let result = match ctx.sql(sql).await {
        Ok(df) => df.collect().await.map(|_| ()),
        Err(e) => Err(e),
    };
    result.expect_err(sql).to_string()
}
