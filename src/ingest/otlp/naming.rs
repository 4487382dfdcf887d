//! OTLP metric and attribute names -> Prometheus-style names, as
//! Prometheus's OTLP translator builds them by default (its
//! `UnderscoreEscapingWithSuffixes` strategy).
//!
//! Metric names: the name is split into words at every byte that is not an
//! ASCII letter or digit (so `.`, `-`, `/`, runs of `_` all become one
//! `_`); the unit is appended as words unless the name already holds them
//! (`ms` -> `milliseconds`, `By` -> `bytes`, `By/s` -> `bytes_per_second`;
//! units in braces such as `{request}` are annotations and add nothing);
//! a monotonic sum ends in `_total`, a gauge of unit `1` in `_ratio`; a
//! name starting with a digit gets a leading `_`. Unit suffixes are on
//! because that is Prometheus's default, so the names a dashboard built for
//! Prometheus queries are the names stored here.
//!
//! Attribute keys: every byte that is not an ASCII letter, digit or `_`
//! becomes `_` (so `http.method` -> `http_method`), a key starting with a
//! digit gets `key_` in front and one starting with a single `_` gets
//! `key`. Keys starting with `__` stay as they are, and are refused by
//! Chronicle's tag rules (they are reserved).

/// What the metric is, as far as its name is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A monotonic sum: a Prometheus counter, named `..._total`.
    Counter,
    /// A gauge: unit `1` names it `..._ratio`.
    Gauge,
    /// Anything else (non-monotonic sums, histograms, summaries).
    Other,
}

/// The Prometheus name of a metric with OTLP `name`, `unit` and `kind`.
pub(super) fn metric_name(name: &str, unit: &str, kind: Kind) -> String {
    let mut words: Vec<&str> = name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let (main, per) = unit.split_once('/').map_or((unit, None), |(m, p)| (m, Some(p)));
    let main = unit_words(main, main_unit);
    let per = per.map(|p| unit_words(p, per_unit)).filter(|p| !p.is_empty()).map(|p| format!("per_{p}"));
    let mut suffixes = Vec::new();
    if !main.is_empty() && !words.contains(&main.as_str()) {
        suffixes.push(main);
    }
    if let Some(per) = per
        && !words.contains(&per.as_str())
    {
        suffixes.push(per);
    }
    let last = match kind {
        Kind::Counter => Some("total"),
        Kind::Gauge if unit == "1" => Some("ratio"),
        _ => None,
    };
    if let Some(last) = last {
        words.retain(|w| *w != last);
    }
    let mut out = words.join("_");
    for word in suffixes.iter().map(String::as_str).chain(last) {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(word);
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A unit part as name words: mapped by `table`, annotations (`{...}`)
/// dropped, other bytes that cannot be in a name turned to `_`.
fn unit_words(unit: &str, table: fn(&str) -> Option<&'static str>) -> String {
    let unit = unit.trim();
    if unit.is_empty() || unit.contains(['{', '}']) {
        return String::new();
    }
    let unit = table(unit).unwrap_or(unit);
    let cleaned: Vec<&str> =
        unit.split(|c: char| !(c.is_ascii_alphanumeric() || c == ':')).filter(|w| !w.is_empty()).collect();
    cleaned.join("_")
}

/// The Prometheus word for an OTLP (UCUM) unit.
fn main_unit(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        _ => return None,
    })
}

/// The Prometheus word for the unit after `/`.
fn per_unit(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        _ => return None,
    })
}

/// The tag key of an attribute key (see the module docs); empty stays empty.
pub(super) fn label_name(key: &str) -> String {
    let mut out: String = key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "key_");
    } else if out.starts_with('_') && !out.starts_with("__") {
        out.insert_str(0, "key");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_follow_prometheus() {
        assert_eq!(metric_name("http.server.duration", "ms", Kind::Other), "http_server_duration_milliseconds");
        assert_eq!(metric_name("requests", "{request}", Kind::Counter), "requests_total");
        assert_eq!(metric_name("requests_total", "", Kind::Counter), "requests_total");
        assert_eq!(metric_name("total.requests", "", Kind::Counter), "requests_total");
        assert_eq!(metric_name("net.io", "By/s", Kind::Counter), "net_io_bytes_per_second_total");
        assert_eq!(metric_name("latency_seconds", "s", Kind::Gauge), "latency_seconds");
        assert_eq!(metric_name("cpu.utilization", "1", Kind::Gauge), "cpu_utilization_ratio");
        assert_eq!(metric_name("cpu.utilization", "1", Kind::Counter), "cpu_utilization_total");
        assert_eq!(metric_name("disk__free", "%", Kind::Gauge), "disk_free_percent");
        assert_eq!(metric_name("2xx", "", Kind::Gauge), "_2xx");
        assert_eq!(metric_name("queue", "items/call", Kind::Gauge), "queue_items_per_call");
        assert_eq!(metric_name("...", "", Kind::Gauge), "");
    }

    #[test]
    fn label_names_follow_prometheus() {
        assert_eq!(label_name("http.method"), "http_method");
        assert_eq!(label_name("k8s.pod-name"), "k8s_pod_name");
        assert_eq!(label_name("0day"), "key_0day");
        assert_eq!(label_name("_private"), "key_private");
        assert_eq!(label_name("__tenant__"), "__tenant__");
        assert_eq!(label_name(""), "");
    }
}
