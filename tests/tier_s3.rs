//! The cold tier on a real S3 API (moto on loopback): tiering to `s3://`
//! changes no answer; an upload to a bucket that does not exist, or to a
//! server that went down, is a clear error that records nothing; a query
//! of a tiered partition while the server is down is an error, not a panic
//! and not a partial answer, while untiered partitions still answer.
//! Built only with the `s3` cargo feature.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use chronicle::{Config, Db, Error, TierConfig};
use common::TempDir;
use common::moto::{Moto, options};
use common::tiered_cpu::{HOUR, Model, T0, answer, assert_same_answers, initial, rows, select_all};
use futures::TryStreamExt;

fn open(dir: &TempDir, name: &str, tier: Option<TierConfig>) -> Db {
    let config = match tier {
        Some(tier) => Config::default().with_tier(tier),
        None => Config::default(),
    };
    let db = Db::open(dir.path(name), config).unwrap();
    db.write_rows(&rows(&initial())).unwrap();
    db.flush().unwrap();
    db
}

#[tokio::test]
async fn tiering_to_s3_changes_no_answer_and_a_dead_store_is_a_clear_error() {
    let dir = TempDir::new("tier-s3");
    let mut moto = Moto::start(dir.as_path());
    moto.create_bucket("cold");
    let local = open(&dir, "local", None);
    let tier = TierConfig::new("s3://cold/chronicle").with_options(options(&moto));
    let tiered = open(&dir, "tiered", Some(tier));
    let mut model = Model::default();
    model.apply(&initial());

    for partition in [T0, T0 + HOUR] {
        let files = tiered.tier_partition(partition).await.unwrap();
        assert_eq!(files.len(), 1);
        assert!(files[0].url.starts_with("s3://cold/chronicle/cpu/"), "{}", files[0].url);
    }
    assert_eq!(select_all(&tiered).await, model.select_all());
    assert_same_answers(&local, &tiered).await;

    // A bucket that does not exist: refused, nothing recorded, all still local.
    let missing = TierConfig::new("s3://no-such-bucket/x").with_options(options(&moto));
    let elsewhere = open(&dir, "elsewhere", Some(missing));
    let refused = elsewhere.tier_partition(T0).await.unwrap_err();
    match &refused {
        Error::Tier { op: "upload", url, detail } => {
            assert!(url.starts_with("s3://no-such-bucket/x/cpu/"), "{url}");
            assert!(detail.contains("NoSuchBucket") || detail.contains("bucket"), "{detail}");
        }
        other => panic!("expected a failed upload, got {other:?}"),
    }
    assert!(elsewhere.tiered_files().unwrap().is_empty());
    assert_same_answers(&local, &elsewhere).await;
    elsewhere.close().unwrap();

    // The server goes down.
    moto.kill();
    let late = tiered.tier_partition(T0 + 2 * HOUR).await.unwrap_err();
    assert!(matches!(&late, Error::Tier { op: "upload", .. }), "{late:?}");
    assert_eq!(tiered.tiered_files().unwrap().len(), 2, "the failed upload recorded nothing");
    let untiered = "SELECT count(*), sum(usage_user) FROM cpu WHERE time >= '2026-01-01T02:00:00Z'";
    assert_eq!(answer(&tiered, untiered).await, answer(&local, untiered).await, "the local partition still answers");
    let whole = match tiered.query_sql("SELECT count(*) FROM cpu").await {
        Ok(stream) => stream.try_collect::<Vec<_>>().await.map_err(Error::from),
        Err(e) => Err(e),
    };
    let message = whole.expect_err("a tiered partition cannot be read while the store is down").to_string();
    assert!(message.contains("127.0.0.1") || message.contains("cold"), "names what failed: {message}");
    tiered.close().unwrap();
    local.close().unwrap();
}
