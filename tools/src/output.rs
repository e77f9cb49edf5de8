//! Shared front-end plumbing: opening images, one-line errors, exit codes.

use std::path::Path;
use ufskit::superblock::SearchWhen;
use ufskit::{OpenOptions, Ufs};

/// Prints `ufs: <context>: <error>` on stderr and returns the failure status.
/// A reader that went away (`ufs ls img | head`) is no failure: the command
/// ends quietly, as Unix tools do.
pub fn fail(context: &str, err: &dyn std::fmt::Display) -> i32 {
    let text = err.to_string();
    if is_broken_pipe(&text) {
        return EXIT_BROKEN_PIPE;
    }
    eprintln!("ufs: {context}: {text}");
    crate::EXIT_FAILURE
}

/// `--search-sb`, shared by the commands that read an image.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct SearchSb {
    /// Ignore the primary superblock and search the image for a copy (a
    /// search happens anyway when the standard locations hold none).
    #[arg(long = "search-sb")]
    pub search_sb: bool,
}

impl SearchSb {
    /// When the open searches.
    pub fn when(self) -> SearchWhen {
        if self.search_sb {
            SearchWhen::Always
        } else {
            SearchWhen::IfMissing
        }
    }
}

/// The status a shell reports for a command ended by SIGPIPE (128 + 13),
/// which is what `ls | head` gives; `set -o pipefail` scripts see the same.
pub const EXIT_BROKEN_PIPE: i32 = 141;

/// Whether an error's text ends with the OS's message for EPIPE. Errors
/// reach here as text (ufskit errors wrap the io::Error with context), and
/// the OS message is the one part every wrapper keeps.
fn is_broken_pipe(text: &str) -> bool {
    #[cfg(unix)]
    {
        let epipe = std::io::Error::from(rustix::io::Errno::PIPE).to_string();
        text.ends_with(&epipe)
    }
    #[cfg(not(unix))]
    {
        let _ = text;
        false
    }
}

/// Makes `print!` on a closed pipe end the program quietly: std panics
/// with "failed printing to stdout" there, and only that panic is turned
/// into [`EXIT_BROKEN_PIPE`]; every other panic keeps the default report.
pub fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && is_broken_pipe(msg) {
            std::process::exit(EXIT_BROKEN_PIPE);
        }
        default(info);
    }));
}

/// Opens an image read-only, with an alternate superblock if given; when
/// the standard locations hold none, with a copy found by searching.
pub fn open_ro(image: &Path, superblock_at: Option<u64>) -> Result<Ufs, i32> {
    open_ro_search(image, superblock_at, SearchSb::default())
}

/// [`open_ro`] with the `--search-sb` choice. Says on stderr when the
/// superblock came from a search: the output describes a copy, which may
/// be older than the lost primary.
pub fn open_ro_search(
    image: &Path,
    superblock_at: Option<u64>,
    search: SearchSb,
) -> Result<Ufs, i32> {
    let opts = OpenOptions {
        superblock_at,
        search: search.when(),
        ..OpenOptions::read_only()
    };
    let fs =
        crate::image::open_ufs(image, opts).map_err(|e| fail(&image.display().to_string(), &e))?;
    if let Some(r) = fs.found_by_search() {
        eprintln!("ufs: {}: using the {r}", image.display());
    }
    Ok(fs)
}

/// Formats a time as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn format_time(secs: i64) -> String {
    ufskit::timefmt::iso(secs)
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

/// `ctime(3)`-style time in UTC, as dumpfs prints it.
pub fn ctime(secs: i64) -> String {
    ufskit::timefmt::ctime(secs)
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

/// Seconds since the epoch now: the time stamp growfs and tunefs write.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
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
