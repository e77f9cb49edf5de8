//! Shared front-end plumbing: opening images, one-line errors, exit codes.

use std::path::Path;
use ufskit::{OpenOptions, Ufs};

/// Prints `ufs: <context>: <error>` on stderr and returns the failure status.
pub fn fail(context: &str, err: &dyn std::fmt::Display) -> i32 {
    eprintln!("ufs: {context}: {err}");
    crate::EXIT_FAILURE
}

/// Opens an image read-only, with an alternate superblock if given.
pub fn open_ro(image: &Path, superblock_at: Option<u64>) -> Result<Ufs, i32> {
    let opts = OpenOptions {
        superblock_at,
        ..OpenOptions::read_only()
    };
    Ufs::open_path(image, opts).map_err(|e| fail(&image.display().to_string(), &e))
}

/// Formats a time as `YYYY-MM-DD HH:MM:SS` UTC (proleptic Gregorian, works
/// before 1970 and after 2038).
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `ls -l` style permission string for a mode.
pub fn mode_string(mode: u16) -> String {
    let ft = ufskit::FileType::from_mode(mode);
    let mut s = String::with_capacity(10);
    s.push(ft.ls_char());
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ];
    for (i, (bit, c)) in bits.iter().enumerate() {
        let set = mode & bit != 0;
        let special = match i {
            2 => Some((0o4000, 's', 'S')),
            5 => Some((0o2000, 's', 'S')),
            8 => Some((0o1000, 't', 'T')),
            _ => None,
        };
        match special {
            Some((sb, lower, upper)) if mode & sb != 0 => s.push(if set { lower } else { upper }),
            _ => s.push(if set { *c } else { '-' }),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_before_1970_and_after_2038() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(-14_182_940), "1969-07-20 20:17:40");
        assert_eq!(format_time(2_147_483_647), "2038-01-19 03:14:07");
        assert_eq!(format_time(1_000_000_000), "2001-09-09 01:46:40");
    }

    #[test]
    fn modes() {
        assert_eq!(mode_string(0o104755), "-rwsr-xr-x");
        assert_eq!(mode_string(0o041777), "drwxrwxrwt");
        assert_eq!(mode_string(0o120755), "lrwxr-xr-x");
        assert_eq!(mode_string(0o100644 | 0o2000), "-rw-r-Sr--");
    }
}

/// `ctime(3)`-style time in UTC, as dumpfs prints it: `Sun Nov 29 14:30:27 2026`.
pub fn ctime(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {y}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod ctime_tests {
    #[test]
    fn ctime_matches_dumpfs() {
        assert_eq!(super::ctime(1_795_962_627), "Sun Nov 29 14:30:27 2026");
        assert_eq!(super::ctime(0), "Thu Jan  1 00:00:00 1970");
    }
}

/// Resolves a path in the image, or `#N` for inode N.
pub fn resolve(fs: &Ufs, spec: &str, follow: ufskit::Follow) -> Result<ufskit::Ino, ufskit::Error> {
    if let Some(n) = spec.strip_prefix('#') {
        let n: u32 = n
            .parse()
            .map_err(|_| ufskit::Error::InvalidInput(format!("{spec}: not an inode number")))?;
        if !fs.geometry().ino_valid(ufskit::Ino(n)) {
            return Err(ufskit::Error::InvalidInput(format!(
                "{spec}: no such inode (the file system has {})",
                fs.geometry().ninodes
            )));
        }
        return Ok(ufskit::Ino(n));
    }
    fs.lookup(spec, follow)
}

/// Escapes bytes for one-line display: printable ASCII as is, the rest as
/// `\ooo` (like `ls -b`).
pub fn escape_name(name: &[u8]) -> String {
    match std::str::from_utf8(name) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_string(),
        _ => name
            .iter()
            .map(|&b| {
                if (0x20..0x7f).contains(&b) && b != b'\\' {
                    (b as char).to_string()
                } else {
                    format!("\\{b:03o}")
                }
            })
            .collect(),
    }
}
