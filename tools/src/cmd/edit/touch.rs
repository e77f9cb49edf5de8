//! `ufs touch`: times from `-d`, `-t`, `-r` or the clock, as touch(1).

use super::*;
use ufskit::timefmt::civil;

// ---- touch --------------------------------------------------------------------

/// Arguments of `ufs touch`.
#[derive(clap::Args, Debug)]
pub struct TouchArgs {
    /// Use this time (UTC): `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.frac]][Z]`
    /// (a space may replace the T), or `@SECONDS`.
    #[arg(short = 'd', value_name = "TIME", conflicts_with_all = ["stamp", "epoch"])]
    pub date: Option<String>,
    /// Use this time (UTC), touch(1) style: `[[CC]YY]MMDDhhmm[.SS]`.
    #[arg(short = 't', value_name = "STAMP", conflicts_with = "epoch")]
    pub stamp: Option<String>,
    /// Use this time: seconds since the epoch (may be negative, may have a
    /// fraction).
    #[arg(long, value_name = "SECS", allow_hyphen_values = true)]
    pub epoch: Option<String>,
    /// Change only the access time.
    #[arg(short = 'a')]
    pub access: bool,
    /// Change only the modification time.
    #[arg(short = 'm')]
    pub modification: bool,
    /// Do not create missing files.
    #[arg(short = 'c')]
    pub no_create: bool,
    /// Image file.
    pub image: PathBuf,
    /// Files to touch (created empty, mode 0644, when missing).
    #[arg(required = true)]
    pub paths: Vec<OsString>,
    /// Common editing options.
    #[command(flatten)]
    pub common: Common,
}

/// Seconds with an optional fraction: `-12.5` → (-13, 500000000).
fn parse_seconds(s: &str) -> Option<Timespec> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    let sec: i64 = int.parse().ok()?;
    if frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut nsec: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    let mut sec = sec;
    if int.starts_with('-') && nsec > 0 {
        sec -= 1;
        nsec = 1_000_000_000 - nsec;
    }
    Some(Timespec { sec, nsec })
}

/// `-d`: ISO 8601-ish date and time in UTC, or `@SECONDS`.
pub(super) fn parse_date(s: &str) -> Option<Timespec> {
    if let Some(rest) = s.strip_prefix('@') {
        return parse_seconds(rest);
    }
    let s = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix("+00:00"))
        .unwrap_or(s);
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut dp = date.splitn(3, '-');
    let y: i64 = dp.next()?.parse().ok()?;
    let mo: u32 = dp.next()?.parse().ok()?;
    let d: u32 = dp.next()?.parse().ok()?;
    let (mut h, mut mi, mut sec, mut nsec) = (0, 0, 0, 0);
    if let Some(t) = time {
        let mut tp = t.splitn(3, ':');
        h = tp.next()?.parse().ok()?;
        mi = tp.next()?.parse().ok()?;
        if let Some(sp) = tp.next() {
            let ts = parse_seconds(sp)?;
            sec = u32::try_from(ts.sec).ok()?;
            nsec = ts.nsec;
        }
    }
    Some(Timespec {
        sec: civil(y, mo, d, h, mi, sec)?,
        nsec,
    })
}

/// `-t`: `[[CC]YY]MMDDhhmm[.SS]` in UTC; `now_year` fills a missing year.
pub(super) fn parse_stamp(s: &str, now_year: i64) -> Option<Timespec> {
    let (main, ss) = match s.split_once('.') {
        Some((m, x)) if x.len() == 2 => (m, x.parse::<u32>().ok()?),
        Some(_) => return None,
        None => (s, 0),
    };
    if !main.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| main.get(r).and_then(|x| x.parse::<u32>().ok());
    let (y, rest) = match main.len() {
        8 => (now_year, 0),
        10 => {
            let yy = i64::from(num(0..2)?);
            // POSIX: 69-99 are 19xx, 00-68 are 20xx.
            (if yy >= 69 { 1900 + yy } else { 2000 + yy }, 2)
        }
        12 => (i64::from(num(0..4)?), 4),
        _ => return None,
    };
    let mo = num(rest..rest + 2)?;
    let d = num(rest + 2..rest + 4)?;
    let h = num(rest + 4..rest + 6)?;
    let mi = num(rest + 6..rest + 8)?;
    Some(Timespec {
        sec: civil(y, mo, d, h, mi, ss)?,
        nsec: 0,
    })
}

/// Runs `ufs touch`.
pub fn touch(a: TouchArgs) -> i32 {
    let now_year = {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok())
            .unwrap_or(0);
        crate::output::format_time(secs)[..4]
            .parse::<i64>()
            .unwrap_or(1970)
    };
    let given = match (&a.date, &a.stamp, &a.epoch) {
        (Some(d), _, _) => match parse_date(d) {
            Some(t) => Some(t),
            None => {
                return usage(
                    "touch",
                    &format!("invalid time '{d}' (YYYY-MM-DD[THH:MM[:SS[.frac]]][Z] or @SECONDS)"),
                )
            }
        },
        (_, Some(t), _) => match parse_stamp(t, now_year) {
            Some(t) => Some(t),
            None => {
                return usage(
                    "touch",
                    &format!("invalid time stamp '{t}' ([[CC]YY]MMDDhhmm[.SS])"),
                )
            }
        },
        (_, _, Some(e)) => match parse_seconds(e) {
            Some(t) => Some(t),
            None => return usage("touch", &format!("invalid number of seconds '{e}'")),
        },
        _ => None,
    };
    let (set_a, set_m) = match (a.access, a.modification) {
        (false, false) => (true, true),
        x => x,
    };
    edit(&a.image, &a.common, |s| {
        for p in &a.paths {
            let path = bytes(p);
            s.each(path, |fs| {
                let t = given.unwrap_or_else(|| fs.now());
                let ino = match lookup_opt(fs, path, Follow::All)? {
                    Some(i) => i,
                    None if a.no_create => return Ok(()),
                    None => {
                        let (parent, name) = split(fs, path)?;
                        let mut attr = new_node(fs, parent, 0o644)?;
                        attr.atime = Some(t);
                        attr.mtime = Some(t);
                        fs.create(parent, &name, FileType::Regular, &attr)?;
                        return Ok(());
                    }
                };
                let attr = SetAttr {
                    atime: set_a.then_some(t),
                    mtime: set_m.then_some(t),
                    ..Default::default()
                };
                fs.set_attr(ino, &attr)?;
                Ok(())
            });
        }
    })
}
