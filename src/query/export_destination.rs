//! Where a Parquet export writes: a local path, a `file://` URL or an
//! `s3://bucket/key` URL, and [`ExportOptions`], how it reaches it.
//!
//! An S3 destination gets an `object_store` S3 client configured from the
//! `AWS_*` environment first and the caller's [`ExportOptions`] second (an
//! explicit option wins), with the bucket always the URL's. The client is
//! registered in the export's session under `s3://bucket`, so DataFusion's
//! Parquet writer reaches it exactly as it reaches local files: every
//! destination goes through that one writer. Any other scheme, and `s3://`
//! in a build without the `s3` cargo feature, is refused before anything is
//! read or written.

use datafusion::datasource::listing::ListingTableUrl;
use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};

/// What a refused destination's error lists as accepted.
const SUPPORTED: &str =
    if cfg!(feature = "s3") { "a local path, file:// or s3://bucket/key" } else { "a local path or file://" };

/// How an export reaches its destination, beyond what the environment says.
///
/// An `s3://` destination is configured like any `object_store` S3 client:
/// from the `AWS_*` environment variables (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
/// `AWS_ENDPOINT` or `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, ...), then from
/// the options set here, which win (an endpoint set here also outranks
/// `AWS_ENDPOINT_URL_S3`). Keys not set here keep the environment's value,
/// a session token included. The bucket is always the URL's. Local
/// destinations ignore these options, and so does a build without the `s3`
/// cargo feature, which refuses `s3://` destinations.
///
/// ```
/// use chronicle::ExportOptions;
///
/// // An S3-compatible server on this machine, whatever the environment says.
/// let options = ExportOptions::new()
///     .with_storage_option("aws_endpoint", "http://127.0.0.1:9000")
///     .with_storage_option("aws_allow_http", "true");
/// ```
#[derive(Clone, Default)]
pub struct ExportOptions {
    storage: Vec<(String, String)>,
}

impl ExportOptions {
    /// Options that add nothing to the environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets option `key` of the destination's object store to `value`, over
    /// the environment's. For `s3://` the keys are `object_store`'s S3 keys
    /// (`aws_access_key_id`, `aws_endpoint`, `aws_allow_http`, ...), in
    /// lower case or spelled as the environment variable; an unknown key
    /// fails the export with [`Error::InvalidArgument`]. A later value for
    /// the same key wins.
    pub fn with_storage_option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.storage.push((key.into(), value.into()));
        self
    }

    /// The object-store options, in the order they were set.
    #[cfg(feature = "s3")]
    fn storage_options(&self) -> impl Iterator<Item = (&str, &str)> {
        self.storage.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl std::fmt::Debug for ExportOptions {
    /// Prints the keys only: values include secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportOptions")
            .field("storage", &self.storage.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .finish()
    }
}

/// Makes `destination` writable from `ctx`: registers the object store its
/// URL needs (none for local files). Refuses unsupported schemes, S3 URLs
/// without a bucket and unknown S3 options.
pub(super) fn register_destination(ctx: &SessionContext, destination: &str, options: &ExportOptions) -> Result<()> {
    let url = ListingTableUrl::parse(destination)
        .map_err(|e| Error::InvalidArgument(format!("export destination `{destination}`: {e}")))?;
    match url.scheme() {
        "file" => Ok(()),
        "s3" => register_s3(ctx, destination, &url, options),
        other => Err(Error::InvalidArgument(format!(
            "export destination `{destination}`: unsupported URL scheme `{other}://`; supported are {SUPPORTED}"
        ))),
    }
}

/// Registers the S3 client of `url`'s bucket in `ctx`.
#[cfg(feature = "s3")]
fn register_s3(ctx: &SessionContext, destination: &str, url: &ListingTableUrl, options: &ExportOptions) -> Result<()> {
    let bucket = url.get_url().host_str().filter(|b| !b.is_empty()).ok_or_else(|| {
        Error::InvalidArgument(format!("export destination `{destination}` names no bucket (s3://bucket/key)"))
    })?;
    let store = s3_builder(bucket, options)
        .and_then(|b| b.build().map_err(|e| e.to_string()))
        .map_err(|e| Error::InvalidArgument(format!("export destination `{destination}`: {e}")))?;
    ctx.register_object_store(url.object_store().as_ref(), std::sync::Arc::new(store));
    Ok(())
}

/// Refuses `s3://`: this build has no S3 client.
#[cfg(not(feature = "s3"))]
fn register_s3(_: &SessionContext, destination: &str, _: &ListingTableUrl, _: &ExportOptions) -> Result<()> {
    Err(Error::InvalidArgument(format!(
        "export destination `{destination}`: this build of Chronicle lacks S3 support (built without the `s3` \
         cargo feature); supported are {SUPPORTED}"
    )))
}

/// The S3 client builder for `bucket`: the environment, then `options`
/// over it, then the bucket over both (a store registered for `s3://a`
/// must not write to bucket `b`). Exports and the cold tier share it.
#[cfg(feature = "s3")]
pub(crate) fn s3_builder(bucket: &str, options: &ExportOptions) -> Result<object_store::aws::AmazonS3Builder, String> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};

    let mut builder = AmazonS3Builder::from_env();
    for (key, value) in options.storage_options() {
        // Keys are accepted as the environment spells them, too (AWS_ENDPOINT).
        let parsed: AmazonS3ConfigKey =
            key.to_ascii_lowercase().parse().map_err(|_| format!("unknown S3 option `{key}`"))?;
        // The environment's AWS_ENDPOINT_URL_S3 outranks any `aws_endpoint`
        // in object_store; an endpoint given here must outrank both.
        if matches!(parsed, AmazonS3ConfigKey::Endpoint) {
            builder = builder.with_config(AmazonS3ConfigKey::S3Endpoint, value);
        }
        builder = builder.with_config(parsed, value);
    }
    Ok(builder.with_bucket_name(bucket))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected error")]

    use super::*;

    fn refusal(destination: &str, options: &ExportOptions) -> String {
        match register_destination(&SessionContext::new(), destination, options) {
            Err(Error::InvalidArgument(message)) => message,
            other => panic!("{destination}: expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn local_paths_and_file_urls_need_no_store() {
        let none = ExportOptions::new();
        for destination in ["/tmp/x.parquet", "x.parquet", "out/x.parquet", "file:///tmp/x.parquet"] {
            register_destination(&SessionContext::new(), destination, &none).unwrap();
        }
    }

    #[test]
    fn other_schemes_are_refused_naming_what_is_supported() {
        let none = ExportOptions::new();
        let gcs = refusal("gs://bucket/cpu.parquet", &none);
        assert!(gcs.contains("`gs://`") && gcs.contains("file://"), "{gcs}");
        assert_eq!(gcs.contains("s3://"), cfg!(feature = "s3"), "s3:// is listed only where it is built: {gcs}");
        let http = refusal("https://example.com/cpu.parquet", &none);
        assert!(http.contains("`https://`"), "{http}");
    }

    #[cfg(feature = "s3")]
    #[test]
    fn an_s3_url_registers_a_store_for_its_bucket() {
        let ctx = SessionContext::new();
        let options = ExportOptions::new()
            .with_storage_option("AWS_ENDPOINT", "http://127.0.0.1:1")
            .with_storage_option("aws_allow_http", "true")
            .with_storage_option("aws_access_key_id", "k")
            .with_storage_option("aws_secret_access_key", "s");
        register_destination(&ctx, "s3://exports/cpu.parquet", &options).unwrap();
        let url = ListingTableUrl::parse("s3://exports/").unwrap().object_store();
        let store = ctx.runtime_env().object_store(url).unwrap();
        assert!(store.to_string().contains("exports"), "{store}");
    }

    #[cfg(feature = "s3")]
    #[test]
    fn s3_urls_without_a_bucket_and_unknown_s3_options_are_refused() {
        assert!(refusal("s3:///cpu.parquet", &ExportOptions::new()).contains("names no bucket"));
        let typo = ExportOptions::new().with_storage_option("aws_endpointt", "http://x");
        assert!(refusal("s3://b/cpu.parquet", &typo).contains("unknown S3 option `aws_endpointt`"));
    }

    #[cfg(not(feature = "s3"))]
    #[test]
    fn without_the_s3_feature_an_s3_destination_is_refused_as_unsupported_by_this_build() {
        let options = ExportOptions::new().with_storage_option("aws_endpoint", "http://127.0.0.1:1");
        let ctx = SessionContext::new();
        let message = match register_destination(&ctx, "s3://exports/cpu.parquet", &options) {
            Err(Error::InvalidArgument(message)) => message,
            other => panic!("expected InvalidArgument, got {other:?}"),
        };
        assert!(message.contains("s3://exports/cpu.parquet"), "names the destination: {message}");
        assert!(message.contains("lacks S3 support") && message.contains("`s3` cargo feature"), "{message}");
        let url = ListingTableUrl::parse("s3://exports/").unwrap().object_store();
        assert!(ctx.runtime_env().object_store(url).is_err(), "no store was registered");
    }
}
