//! JSON points -> [`Row`]s: Chronicle's own simple write format.
//!
//! ```json
//! {"points": [{"metric": "temperature", "tags": {"room": "kitchen"}, "value": 21.5,
//!              "timestamp": 1767225600000000000}]}
//! ```
//!
//! Each point becomes a row of measurement `metric` with the single field
//! `value`. `metric` and `value` (a number) are required; `tags` (an object
//! of strings) is optional; `timestamp` (integer nanoseconds since the Unix
//! epoch) is optional and defaults to the caller's time. An unknown key is
//! refused rather than ignored, so a misspelt `timestamp` cannot silently
//! become "now". Errors name the point and key, e.g. `points[3].value`;
//! a body that is not JSON at all names its line and column.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Error, Result};
use crate::Row;
use crate::model::{VALUE_FIELD, validate_measurement, validate_tag};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    points: Vec<Map<String, Value>>,
}

/// Parses a JSON points body; points without a timestamp get
/// `default_timestamp` (nanoseconds).
pub fn parse(body: &[u8], default_timestamp: i64) -> Result<Vec<Row>> {
    let body: Body =
        serde_json::from_slice(body).map_err(|e| Error::Syntax { format: "JSON points", message: e.to_string() })?;
    body.points.into_iter().enumerate().map(|(i, point)| row(i, point, default_timestamp)).collect()
}

fn row(i: usize, point: Map<String, Value>, default_timestamp: i64) -> Result<Row> {
    let at = |key: &str| format!("points[{i}].{key}");
    let (mut measurement, mut tags, mut value, mut timestamp) = (None, Vec::new(), None, default_timestamp);
    for (key, v) in point {
        match (key.as_str(), v) {
            ("metric", Value::String(name)) => {
                validate_measurement(&name).map_err(|e| Error::item(at("metric"), e.to_string()))?;
                measurement = Some(name);
            }
            ("tags", Value::Object(map)) => {
                for (k, v) in map {
                    let Value::String(v) = v else {
                        return Err(Error::item(at(&format!("tags.{k}")), "a tag value must be a string"));
                    };
                    validate_tag(&k, &v, false).map_err(|e| Error::item(at("tags"), e.to_string()))?;
                    tags.push((k, v));
                }
            }
            ("value", Value::Number(n)) => value = n.as_f64(),
            ("timestamp", Value::Number(n)) => {
                timestamp = n.as_i64().ok_or_else(|| {
                    Error::item(at("timestamp"), format!("{n} is not a 64-bit integer of nanoseconds"))
                })?;
            }
            ("metric", _) => return Err(Error::item(at("metric"), "must be a string")),
            ("tags", _) => return Err(Error::item(at("tags"), "must be an object of strings")),
            ("value", _) => return Err(Error::item(at("value"), "must be a number")),
            ("timestamp", _) => return Err(Error::item(at("timestamp"), "must be an integer of nanoseconds")),
            (other, _) => {
                return Err(Error::item(at(other), "unknown key (a point has metric, tags, value and timestamp)"));
            }
        }
    }
    let measurement = measurement.ok_or_else(|| Error::item(at("metric"), "missing"))?;
    let value = value.ok_or_else(|| Error::item(at("value"), "missing"))?;
    Ok(Row { measurement, tags, fields: vec![(VALUE_FIELD.to_owned(), value)], timestamp })
}
