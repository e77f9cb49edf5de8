//! Checking a container offline: the fast read-only look (superblock,
//! check hashes, clean flag), a full `fsck -n`, what preen and -y would
//! do (tried on a copy-on-write view, the file is not touched), and the
//! real repair before an attach.

use std::path::{Path, PathBuf};
use ufskit::cg::CylGroup;
pub use ufskit::fsck::predict::Effect;
use ufskit::fsck::{
    check, repair, AnswerMode, CollectingReporter, Convention, FsckOptions, Outcome, Verdict,
};
use ufskit::io::{Device, UndoDevice};
use ufskit::superblock::SearchWhen;
use ufskit::{CgIdx, Superblock, UfsVersion};

/// What a look at a container found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Superblock and cylinder groups fine, clean flag set (and, when a
    /// full check ran, nothing found).
    Clean,
    /// Not clean or inconsistent; preen fixes it.
    PreenFixes(String),
    /// Preen stops; fsck -y repairs it.
    NeedsYes(String),
    /// Even -y cannot repair it (or there is no usable superblock).
    Broken(String),
}

impl Health {
    /// Short word for tables.
    pub fn word(&self) -> &'static str {
        match self {
            Health::Clean => "clean",
            Health::PreenFixes(_) => "dirty",
            Health::NeedsYes(_) => "inconsistent",
            Health::Broken(_) => "broken",
        }
    }
    /// The detail text.
    pub fn detail(&self) -> &str {
        match self {
            Health::Clean => "",
            Health::PreenFixes(d) | Health::NeedsYes(d) | Health::Broken(d) => d,
        }
    }
}

/// The result of the fast look.
pub struct Look {
    /// The format, when a superblock was found.
    pub version: Option<UfsVersion>,
    /// Health.
    pub health: Health,
    /// What the repair a boot would run (preen when it fixes everything,
    /// else -y, also when -y does not finish) does to the tree, tried on
    /// an in-memory overlay; `None` when no repair was needed or tried.
    pub effect: Option<Effect>,
}

/// One line: "repair would remove N files (a, b, c, …)", the moves to
/// lost+found and the truncations likewise, each with the first `first`
/// paths; the alternate superblock first. Empty when the repair leaves
/// every path as it was.
pub fn describe(e: &Effect, first: usize) -> String {
    let list = |v: &[String]| {
        let mut s: Vec<String> = v.iter().take(first).cloned().collect();
        if v.len() > first {
            s.push("…".into());
        }
        s.join(", ")
    };
    let mut parts = Vec::new();
    if let Some(a) = e.alternate {
        parts.push(format!("repairs from alternate superblock at {a}"));
    }
    for (v, what) in [
        (&e.removed, "remove"),
        (&e.lost_found, "move to lost+found"),
        (&e.truncated, "truncate"),
    ] {
        if !v.is_empty() {
            parts.push(format!(
                "repair would {what} {} file{} ({})",
                v.len(),
                if v.len() == 1 { "" } else { "s" },
                list(v)
            ));
        }
    }
    parts.join("; ")
}

/// What the repair `mode` would do to `path`, tried on an in-memory
/// overlay (the file is opened read-only and never written).
fn predict(
    path: &Path,
    mode: AnswerMode,
    alternate: Option<u64>,
) -> ufskit::Result<(Outcome, Effect)> {
    let open = || -> ufskit::Result<Box<dyn Device>> {
        Ok(Box::new(crate::image::open_device(path, false)?))
    };
    let name = path.display().to_string();
    ufskit::fsck::predict::predict(&open, &opts(&name, mode, true), alternate)
}

/// Options as mount's check runs fsck: FreeBSD's clean-flag rule (preen
/// skips a clean file system, `-y` and `-n` check it fully).
fn opts(name: &str, mode: AnswerMode, force: bool) -> FsckOptions {
    FsckOptions::for_front_end(name, Convention::FreeBsd, mode, force)
}

/// Whether a repair outcome leaves a file system that may be attached.
pub fn fixed(o: &Outcome) -> bool {
    match o.verdict {
        Verdict::SkippedClean | Verdict::Clean => true,
        Verdict::NoSuperblock | Verdict::Stopped => false,
        Verdict::Problems => o.repaired,
    }
}

/// Looks at `path` read-only: superblock (with its check hash), every
/// cylinder group's check hash, the clean flag; a full fsck -n when not
/// clean, a hash failed, the primary superblock is unusable, or `full`;
/// then what preen and -y would do, each tried on an in-memory overlay,
/// and what the repair that fixes it does to the tree. The superblock is
/// searched for as `search` says; a primary that is missing makes the
/// container need fsck -y (which restores it from the copy found).
pub fn look(path: &Path, full: bool, search: SearchWhen) -> Look {
    let broken = |version, why: String| Look {
        version,
        health: Health::Broken(why),
        effect: None,
    };
    let dev = match crate::image::open_device(path, false) {
        Ok(d) => d,
        Err(e) => return broken(None, e.to_string()),
    };
    let mut why = Vec::new();
    let mut version = None;
    let mut primary_bad = None;
    match Superblock::find_with(&dev, search) {
        Ok((sb, geo, found)) => {
            version = Some(sb.version());
            if let Some(r) = found {
                if let Err(e) = Superblock::find(&dev) {
                    why.push(format!("no usable primary superblock; {r}"));
                    primary_bad = Some(e);
                }
            }
            if sb.needs_fsck() {
                why.push(
                    if sb.clean_flag() {
                        "marked as needing fsck"
                    } else {
                        "clean flag not set"
                    }
                    .to_string(),
                );
            }
            for i in 0..geo.ncg {
                if let Err(e) = CylGroup::read(&dev, &geo, CgIdx(i)) {
                    // The error names the group itself.
                    why.push(e.to_string());
                    break;
                }
            }
            if why.is_empty() && !full {
                return Look {
                    version,
                    health: Health::Clean,
                    effect: None,
                };
            }
        }
        Err(e) => {
            why.push(format!("primary superblock unusable: {e}"));
            primary_bad = Some(e);
        }
    }
    let name = path.display().to_string();
    let mut rep = CollectingReporter::default();
    let o = match check(&dev, &opts(&name, AnswerMode::No, true), &mut rep) {
        Ok(o) => o,
        Err(e) => return broken(version, e.to_string()),
    };
    if o.verdict == Verdict::Clean && why.is_empty() {
        return Look {
            version,
            health: Health::Clean,
            effect: None,
        };
    }
    if o.problems > 0 {
        why.push(format!("{} problem(s)", o.problems));
    }
    let alternate = if primary_bad.is_some() {
        o.alternates.first().copied()
    } else {
        None
    };
    let why = why.join("; ");
    let attempt = |mode| match predict(path, mode, alternate) {
        Ok((o, e)) => Some((fixed(&o), e)),
        Err(_) => None,
    };
    let (health, effect) = match attempt(AnswerMode::Preen) {
        Some((true, e)) => (Health::PreenFixes(why), Some(e)),
        _ => match (attempt(AnswerMode::Yes), primary_bad) {
            (Some((true, e)), _) => (Health::NeedsYes(why), Some(e)),
            (_, Some(e)) => (Health::Broken(format!("no usable superblock: {e}")), None),
            // What the unfinished repair would still do is worth saying.
            (y, None) => (
                Health::Broken(format!("{why}; fsck -y does not repair it in one run")),
                y.map(|(_, e)| e),
            ),
        },
    };
    if version.is_none() && effect.is_some() {
        version = alternate
            .and_then(|s| Superblock::read_at(&dev, s * 512).ok())
            .map(|sb| sb.version());
    }
    Look {
        version,
        health,
        effect,
    }
}

/// A free undo file name next to the container: `FILE.undo`, else
/// `FILE.undo.1`, ...
pub fn undo_path(file: &Path) -> PathBuf {
    let base = format!("{}.undo", file.display());
    let mut p = PathBuf::from(&base);
    let mut n = 1;
    while p.exists() && n < 1000 {
        p = PathBuf::from(format!("{base}.{n}"));
        n += 1;
    }
    p
}

/// Checks and repairs in place (preen or -y, with an undo file when
/// given; an undo file with nothing in it is removed). Messages go to
/// stderr. Returns the outcome.
pub fn repair_file(path: &Path, mode: AnswerMode, undo: Option<&Path>) -> Result<Outcome, String> {
    let name = path.display().to_string();
    let dev = crate::image::open_device(path, true).map_err(|e| format!("{name}: {e}"))?;
    let mut rep = ufskit::fsck::TextReporter::new(std::io::stderr());
    let o = opts(&name, mode, false);
    match undo {
        None => {
            let mut dev = dev;
            repair(&mut dev, &o, &mut rep).map_err(|e| format!("{name}: {e}"))
        }
        Some(u) => {
            let mut dev =
                UndoDevice::create(dev, u).map_err(|e| format!("{}: {e}", u.display()))?;
            let r = repair(&mut dev, &o, &mut rep);
            let fin = dev.finish();
            let out = r.map_err(|e| format!("{name}: {e}"))?;
            fin.map_err(|e| format!("{}: {e}", u.display()))?;
            if out.pages_written == 0 {
                let _ = std::fs::remove_file(u);
            }
            Ok(out)
        }
    }
}
