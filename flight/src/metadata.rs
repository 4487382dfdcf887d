//! Metadata answers: `GetSqlInfo`, `GetCatalogs`, `GetDbSchemas`,
//! `GetTables`, `GetTableTypes` and `GetXdbcTypeInfo`, read from the
//! caller's session and built with arrow-flight's metadata builders.
//!
//! Invariant: filter patterns (`%`, `_`) are applied by the builders to
//! the names listed, never spliced into SQL, so a pattern cannot change
//! what is run.

use arrow_array::RecordBatch;
use arrow_flight::sql::metadata::{
    SqlInfoData, SqlInfoDataBuilder, XdbcTypeInfo, XdbcTypeInfoData, XdbcTypeInfoDataBuilder,
};
use arrow_flight::sql::{
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetTableTypes, CommandGetTables, Nullable, Searchable, SqlInfo,
    SqlSupportedTransaction, XdbcDataType, XdbcDatetimeSubcode,
};
use datafusion::datasource::TableType;
use datafusion::prelude::SessionContext;

use crate::error::Result;

/// The table types a DataFusion session has, as Flight SQL names them.
const TABLE_TYPES: [&str; 3] = ["TABLE", "VIEW", "LOCAL TEMPORARY"];

fn table_type_name(t: TableType) -> &'static str {
    match t {
        TableType::Base => TABLE_TYPES[0],
        TableType::View => TABLE_TYPES[1],
        TableType::Temporary => TABLE_TYPES[2],
    }
}

/// What `GetSqlInfo` reports: the server's name and version, and that it
/// speaks read-only SQL with bulk ingest, without transactions.
pub fn sql_info(name: &str, version: &str, timeout_ms: i32) -> Result<SqlInfoData> {
    let mut b = SqlInfoDataBuilder::new();
    b.append(SqlInfo::FlightSqlServerName, name);
    b.append(SqlInfo::FlightSqlServerVersion, version);
    b.append(SqlInfo::FlightSqlServerArrowVersion, "59");
    b.append(SqlInfo::FlightSqlServerReadOnly, false);
    b.append(SqlInfo::FlightSqlServerSql, true);
    b.append(SqlInfo::FlightSqlServerSubstrait, false);
    b.append(SqlInfo::FlightSqlServerTransaction, SqlSupportedTransaction::None as i32);
    b.append(SqlInfo::FlightSqlServerCancel, false);
    b.append(SqlInfo::FlightSqlServerBulkIngestion, true);
    b.append(SqlInfo::FlightSqlServerIngestTransactionsSupported, false);
    b.append(SqlInfo::FlightSqlServerStatementTimeout, timeout_ms);
    b.append(SqlInfo::SqlDdlCatalog, false);
    b.append(SqlInfo::SqlDdlSchema, false);
    b.append(SqlInfo::SqlDdlTable, false);
    b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    b.append(SqlInfo::SqlSupportsColumnAliasing, true);
    b.append(SqlInfo::SqlNullPlusNullIsNull, true);
    b.append(SqlInfo::SqlTransactionsSupported, false);
    Ok(b.build()?)
}

/// The SQL types a session's columns have, for `GetXdbcTypeInfo`.
pub fn xdbc_types() -> Result<XdbcTypeInfoData> {
    let mut b = XdbcTypeInfoDataBuilder::new();
    let types = [
        ("BOOLEAN", XdbcDataType::XdbcBit, Some(1), None),
        ("BIGINT", XdbcDataType::XdbcBigint, Some(64), None),
        ("DOUBLE", XdbcDataType::XdbcDouble, Some(53), None),
        ("VARCHAR", XdbcDataType::XdbcVarchar, None, None),
        ("TIMESTAMP", XdbcDataType::XdbcTimestamp, None, Some(XdbcDatetimeSubcode::XdbcSubcodeTimestamp)),
    ];
    for (name, data_type, column_size, datetime_subcode) in types {
        let text = data_type == XdbcDataType::XdbcVarchar || data_type == XdbcDataType::XdbcTimestamp;
        let numeric = column_size.is_some() && data_type != XdbcDataType::XdbcBit;
        b.append(XdbcTypeInfo {
            type_name: name.into(),
            data_type,
            column_size,
            literal_prefix: text.then(|| "'".into()),
            literal_suffix: text.then(|| "'".into()),
            create_params: None,
            nullable: Nullable::NullabilityNullable,
            case_sensitive: data_type == XdbcDataType::XdbcVarchar,
            searchable: Searchable::Full,
            unsigned_attribute: numeric.then_some(false),
            fixed_prec_scale: false,
            auto_increment: numeric.then_some(false),
            local_type_name: Some(name.into()),
            minimum_scale: None,
            maximum_scale: None,
            sql_data_type: data_type,
            datetime_subcode,
            num_prec_radix: numeric.then_some(2),
            interval_precision: None,
        });
    }
    Ok(b.build()?)
}

/// `GetCatalogs`: every catalog of the session.
pub fn catalogs(ctx: &SessionContext, query: CommandGetCatalogs) -> Result<RecordBatch> {
    let mut b = query.into_builder();
    let mut names = ctx.catalog_names();
    names.sort();
    for name in names {
        b.append(name);
    }
    Ok(b.build()?)
}

/// `GetDbSchemas`: the schemas of the catalogs, filtered by the request.
pub fn schemas(ctx: &SessionContext, query: CommandGetDbSchemas) -> Result<RecordBatch> {
    let mut b = query.into_builder();
    for catalog_name in ctx.catalog_names() {
        let Some(catalog) = ctx.catalog(&catalog_name) else { continue };
        for schema_name in catalog.schema_names() {
            b.append(&catalog_name, schema_name);
        }
    }
    Ok(b.build()?)
}

/// `GetTables`: the tables of the session, filtered by the request, with
/// their Arrow schemas when asked.
pub async fn tables(ctx: &SessionContext, query: CommandGetTables) -> Result<RecordBatch> {
    let include_schema = query.include_schema;
    let mut b = query.into_builder();
    let empty = arrow_schema::Schema::empty();
    for catalog_name in ctx.catalog_names() {
        let Some(catalog) = ctx.catalog(&catalog_name) else { continue };
        for schema_name in catalog.schema_names() {
            let Some(schema) = catalog.schema(&schema_name) else { continue };
            for table_name in schema.table_names() {
                // A table listed may be gone by now (dropped meanwhile): skip it.
                let Some(table) = schema.table(&table_name).await? else { continue };
                let table_schema = if include_schema { table.schema() } else { empty.clone().into() };
                b.append(&catalog_name, &schema_name, &table_name, table_type_name(table.table_type()), &table_schema)?;
            }
        }
    }
    Ok(b.build()?)
}

/// `GetTableTypes`: the kinds of table a session can hold.
pub fn table_types(query: CommandGetTableTypes) -> Result<RecordBatch> {
    let mut b = query.into_builder();
    for t in TABLE_TYPES {
        b.append(t);
    }
    Ok(b.build()?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected error")]

    use super::*;
    use arrow_array::cast::AsArray;

    async fn session() -> SessionContext {
        let ctx = SessionContext::new();
        for name in ["cpu", "cpu_2", "mem", "cpuxload"] {
            ctx.sql(&format!("CREATE TABLE {name} AS SELECT 1.0 AS value")).await.unwrap();
        }
        ctx
    }

    fn names(batch: &RecordBatch, column: &str) -> Vec<String> {
        let mut v: Vec<String> =
            batch.column_by_name(column).unwrap().as_string::<i32>().iter().map(|s| s.unwrap().to_owned()).collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn table_patterns_match_as_patterns() {
        let ctx = session().await;
        let query = |pattern: &str| CommandGetTables {
            catalog: None,
            db_schema_filter_pattern: Some("public".into()),
            table_name_filter_pattern: Some(pattern.into()),
            table_types: vec![],
            include_schema: false,
        };
        assert_eq!(names(&tables(&ctx, query("cpu%")).await.unwrap(), "table_name"), ["cpu", "cpu_2", "cpuxload"]);
        // `_` is one character: `cpu_2` and nothing of another length.
        assert_eq!(names(&tables(&ctx, query("cpu__")).await.unwrap(), "table_name"), ["cpu_2"]);
        // A quote in a pattern is a character to match, not SQL.
        assert!(tables(&ctx, query("x' OR '1'='1")).await.unwrap().num_rows() == 0);
    }

    #[tokio::test]
    async fn schemas_and_catalogs_come_from_the_session() {
        let ctx = session().await;
        let all = CommandGetDbSchemas { catalog: None, db_schema_filter_pattern: None };
        assert_eq!(names(&schemas(&ctx, all).unwrap(), "db_schema_name"), ["public"]);
        assert_eq!(names(&catalogs(&ctx, CommandGetCatalogs {}).unwrap(), "catalog_name"), ["datafusion"]);
        assert_eq!(table_types(CommandGetTableTypes {}).unwrap().num_rows(), 3);
    }
}
