//! The text forms of durations (`30s`, `5m`, `1h30m`, `250ms`), sizes
//! (`10MiB`, `512KiB`, `1GB`, `4096`) and points in time (RFC 3339 or
//! integer nanoseconds) that settings, flags and imported files use.
//!
//! Both refuse what they cannot represent exactly (an overflow, a missing
//! number or unit) with a message showing the accepted forms; neither
//! rounds.

use std::time::Duration;

/// Parses a duration: one or more `<integer><unit>` terms, units `ns`, `us`
/// (or `µs`), `ms`, `s`, `m`, `h`, `d`, summed (`1h30m`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const FORMS: &str = "a duration such as 30s, 5m, 1h or 250ms (units ns, us, ms, s, m, h, d)";
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("empty; expected {FORMS}"));
    }
    let mut total: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("{text:?} is not {FORMS}"));
        }
        let number: u128 = rest[..digits].parse().map_err(|_| format!("{text:?} is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            "" => return Err(format!("{text:?} has no unit; expected {FORMS}")),
            other => return Err(format!("unknown unit {other:?} in {text:?}; expected {FORMS}")),
        };
        rest = &rest[unit_len..];
        total = number.checked_mul(unit).and_then(|n| total.checked_add(n)).ok_or(format!("{text:?} is too large"))?;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| format!("{text:?} is too large"))?;
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

/// Parses a size in bytes: an integer with an optional unit, `B`, decimal
/// `KB` `MB` `GB` `TB` (powers of 1000) or binary `KiB` `MiB` `GiB` `TiB`
/// (powers of 1024), case-insensitive; a bare integer is bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    const FORMS: &str = "a size such as 4096, 512KiB, 10MiB or 1GB";
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    if digits == 0 {
        return Err(format!("{text:?} is not {FORMS}"));
    }
    let number: u64 = text[..digits].parse().map_err(|_| format!("{text:?} is too large"))?;
    let unit: u64 = match text[digits..].trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        other => return Err(format!("unknown unit {other:?} in {text:?}; expected {FORMS}")),
    };
    number.checked_mul(unit).ok_or_else(|| format!("{text:?} is too large"))
}

/// A point in time: integer nanoseconds since the Unix epoch, or RFC 3339
/// (`2026-01-01T00:00:00Z`, `2026-01-01T01:00:00.5+01:00`).
pub fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(ns) = text.trim().parse::<i64>() {
        return Ok(ns);
    }
    datafusion::arrow::compute::kernels::cast_utils::string_to_timestamp_nanos(text.trim())
        .map_err(|_| format!("{text:?} is neither RFC 3339 (2026-01-01T00:00:00Z) nor integer nanoseconds"))
}

/// A duration the way [`parse_duration`] reads it back, in the largest
/// unit that divides it exactly.
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    let units: [(u128, &str); 7] = [
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    match units.iter().find(|(unit, _)| ns > 0 && ns.is_multiple_of(*unit)) {
        Some((unit, name)) => format!("{}{name}", ns / unit),
        None => "0s".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected error")]

    use super::*;

    #[test]
    fn durations_in_every_unit_and_summed() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("7us").unwrap(), Duration::from_micros(7));
        assert_eq!(parse_duration("7µs").unwrap(), Duration::from_micros(7));
        assert_eq!(parse_duration("9ns").unwrap(), Duration::from_nanos(9));
        assert_eq!(parse_duration(" 1h30m ").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
    }

    #[test]
    fn bad_durations_say_why() {
        assert!(parse_duration("").unwrap_err().contains("empty"));
        assert!(parse_duration("30").unwrap_err().contains("no unit"));
        assert!(parse_duration("30 s").unwrap_err().contains("unknown unit \" s\""));
        assert!(parse_duration("5w").unwrap_err().contains("unknown unit \"w\""));
        assert!(parse_duration("s").unwrap_err().contains("not a duration"));
        assert!(parse_duration("-5s").unwrap_err().contains("not a duration"));
        assert!(parse_duration("1.5s").unwrap_err().contains("unknown unit \".\""));
        assert!(parse_duration("99999999999999999999999999d").unwrap_err().contains("too large"));
        assert!(parse_duration("999999999999999999999d").unwrap_err().contains("too large"));
    }

    #[test]
    fn sizes_decimal_and_binary() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("10MiB").unwrap(), 10 * 1024 * 1024);
        assert_eq!(parse_size("10 mib").unwrap(), 10 * 1024 * 1024);
        assert_eq!(parse_size("512KiB").unwrap(), 512 * 1024);
        assert_eq!(parse_size("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_size("3kb").unwrap(), 3_000);
        assert_eq!(parse_size("2TiB").unwrap(), 2 << 40);
        assert_eq!(parse_size("12B").unwrap(), 12);
    }

    #[test]
    fn bad_sizes_say_why() {
        assert!(parse_size("").unwrap_err().contains("not a size"));
        assert!(parse_size("MiB").unwrap_err().contains("not a size"));
        assert!(parse_size("10MB/s").unwrap_err().contains("unknown unit \"mb/s\""));
        assert!(parse_size("1.5GiB").unwrap_err().contains("unknown unit"));
        assert!(parse_size("-1").unwrap_err().contains("not a size"));
        assert!(parse_size("99999999999TiB").unwrap_err().contains("too large"));
        assert!(parse_size("99999999999999999999").unwrap_err().contains("too large"));
    }

    #[test]
    fn times_as_nanoseconds_or_rfc3339() {
        assert_eq!(parse_time("1767225600000000000").unwrap(), 1_767_225_600_000_000_000);
        assert_eq!(parse_time("-5").unwrap(), -5);
        assert_eq!(parse_time("2026-01-01T00:00:00Z").unwrap(), 1_767_225_600_000_000_000);
        assert_eq!(parse_time("2026-01-01T01:00:00.5+01:00").unwrap(), 1_767_225_600_500_000_000);
        assert!(parse_time("yesterday").unwrap_err().contains("neither RFC 3339"));
        assert!(parse_time("").is_err());
    }

    #[test]
    fn formatted_durations_parse_back() {
        for text in ["1h", "90m", "30s", "250ms", "7us", "9ns", "2d"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
