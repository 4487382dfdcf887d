//! The date functions (`year`, `month`, `day_of_month`, `day_of_week`,
//! `day_of_year`, `days_in_month`, `hour`, `minute`) of a Unix time in
//! seconds, in UTC, on the proleptic Gregorian calendar.

/// Seconds in a day.
const DAY: i64 = 86_400;

/// The component `name` of the time `seconds` (truncated to whole seconds).
pub(crate) fn component(name: &str, seconds: f64) -> f64 {
    // `as` saturates and maps NaN to 0, where Go's conversion is undefined.
    let secs = seconds as i64;
    let days = secs.div_euclid(DAY);
    let of_day = secs.rem_euclid(DAY);
    let (year, month, day) = civil_from_days(days);
    let value = match name {
        "year" => year,
        "month" => month,
        "day_of_month" => day,
        // 1970-01-01 was a Thursday (4); Sunday is 0.
        "day_of_week" => (days + 4).rem_euclid(7),
        "day_of_year" => days - days_from_civil(year, 1, 1) + 1,
        "days_in_month" => days_in_month(year, month),
        "hour" => of_day / 3600,
        "minute" => of_day % 3600 / 60,
        _ => return f64::NAN,
    };
    value as f64
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// (year, month 1-12, day 1-31) of a day number (days since 1970-01-01).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The day number of a civil date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_match_a_calendar() {
        // 2024-02-29T13:45:00Z, a Thursday, the 60th day of a leap year.
        let t = 1_709_214_300.0;
        let got: Vec<f64> =
            ["year", "month", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute"]
                .iter()
                .map(|n| component(n, t))
                .collect();
        assert_eq!(got, [2024.0, 2.0, 29.0, 4.0, 60.0, 29.0, 13.0, 45.0]);
        // Before the epoch: 1969-12-31T23:59:59Z, a Wednesday.
        assert_eq!(component("day_of_week", -1.0), 3.0);
        assert_eq!(component("year", -1.0), 1969.0);
        assert_eq!(component("hour", -1.0), 23.0);
    }
}
