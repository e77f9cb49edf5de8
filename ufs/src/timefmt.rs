//! Time stamps as the FreeBSD tools print them, always in UTC, for any
//! 64-bit time (before 1970 and after 2038 included).

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31), proleptic
/// Gregorian (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // civil_from_days keeps the day in 1..=31 and the month in 1..=12.
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Hinnant).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the epoch of a UTC date and time, or `None` when a field
/// is out of range (a leap second, `:60`, is accepted, as touch(1) does).
pub fn civil(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d == 0
        || d > mdays[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || s > 60
    {
        return None;
    }
    Some(
        days_from_civil(y, mo, d) * 86_400
            + i64::from(h) * 3600
            + i64::from(mi) * 60
            + i64::from(s),
    )
}

fn split(secs: i64) -> (i64, i64, i64, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    (days, rem, y, m, d)
}

/// `YYYY-MM-DD HH:MM:SS`.
pub fn iso(secs: i64) -> String {
    let (_, rem, y, m, d) = split(secs);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `ctime(3)` without the newline, as dumpfs prints it: `Sun Nov 29 14:30:27 2026`.
pub fn ctime(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let (days, rem, y, m, d) = split(secs);
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {y}",
        DAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)],
        MONTHS[(m - 1) as usize % 12],
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// fsck_ffs's `MTIME=` form: `May  1 12:00 2020`.
pub fn ctime_short(secs: i64) -> String {
    let (_, rem, y, m, d) = split(secs);
    format!(
        "{} {:>2} {:02}:{:02} {y}",
        MONTHS[(m - 1) as usize % 12],
        d,
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(iso(0), "1970-01-01 00:00:00");
        assert_eq!(iso(-14_182_940), "1969-07-20 20:17:40");
        assert_eq!(iso(2_147_483_647), "2038-01-19 03:14:07");
        assert_eq!(ctime(1_795_962_627), "Sun Nov 29 14:30:27 2026");
        assert_eq!(ctime(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(ctime_short(1_588_334_400), "May  1 12:00 2020");
    }
}
