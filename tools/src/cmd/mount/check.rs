//! Checking a container offline: the fast read-only look (superblock,
//! check hashes, clean flag), a full `fsck -n`, what preen and -y would
//! do (tried on a copy-on-write view, the file is not touched), and the
//! real repair before an attach.

use std::path::{Path, PathBuf};
use ufskit::cg::CylGroup;
use ufskit::fsck::{
    check, repair, AnswerMode, CollectingReporter, Convention, FsckOptions, Outcome, Verdict,
};
use ufskit::io::{Device, FileDevice, UndoDevice};
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
}

/// Writes kept in memory over a read-only device.
struct Cow<'a> {
    base: &'a dyn Device,
    writes: Vec<(u64, Vec<u8>)>,
}

impl Device for Cow<'_> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.base.read_at(offset, buf)?;
        let end = offset + buf.len() as u64;
        for (o, d) in &self.writes {
            let de = o + d.len() as u64;
            if *o < end && de > offset {
                let s = (*o).max(offset);
                let e = de.min(end);
                buf[(s - offset) as usize..(e - offset) as usize]
                    .copy_from_slice(&d[(s - o) as usize..(e - o) as usize]);
            }
        }
        Ok(())
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        self.writes.push((offset, buf.to_vec()));
        Ok(())
    }
    fn len(&self) -> u64 {
        self.base.len()
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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
/// clean, a hash failed or `full`; then what preen and -y would do.
pub fn look(path: &Path, full: bool) -> Look {
    let dev = match FileDevice::open_read_only(path) {
        Ok(d) => d,
        Err(e) => {
            return Look {
                version: None,
                health: Health::Broken(e.to_string()),
            }
        }
    };
    let (sb, geo) = match Superblock::find(&dev) {
        Ok(x) => x,
        Err(e) => {
            return Look {
                version: None,
                health: Health::Broken(format!("no usable superblock: {e}")),
            }
        }
    };
    let version = Some(sb.version());
    let mut why = Vec::new();
    if sb.needs_fsck() {
        why.push(
            if sb.is_clean() {
                "marked as needing fsck"
            } else {
                "clean flag not set"
            }
            .to_string(),
        );
    }
    for i in 0..geo.ncg {
        if let Err(e) = CylGroup::read(&dev, &geo, CgIdx(i)) {
            why.push(format!("cylinder group {i}: {e}"));
            break;
        }
    }
    if why.is_empty() && !full {
        return Look {
            version,
            health: Health::Clean,
        };
    }
    let name = path.display().to_string();
    let mut rep = CollectingReporter::default();
    let o = match check(&dev, &opts(&name, AnswerMode::No, true), &mut rep) {
        Ok(o) => o,
        Err(e) => {
            return Look {
                version,
                health: Health::Broken(e.to_string()),
            }
        }
    };
    if o.verdict == Verdict::Clean && why.is_empty() {
        return Look {
            version,
            health: Health::Clean,
        };
    }
    if o.problems > 0 {
        why.push(format!("{} problem(s)", o.problems));
    }
    let why = why.join("; ");
    let try_mode = |mode| {
        let mut cow = Cow {
            base: &dev,
            writes: Vec::new(),
        };
        let mut r = CollectingReporter::default();
        repair(&mut cow, &opts(&name, mode, true), &mut r)
            .map(|o| fixed(&o))
            .unwrap_or(false)
    };
    let health = if try_mode(AnswerMode::Preen) {
        Health::PreenFixes(why)
    } else if try_mode(AnswerMode::Yes) {
        Health::NeedsYes(why)
    } else {
        Health::Broken(format!("{why}; fsck -y cannot repair it"))
    };
    Look { version, health }
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
    let dev = FileDevice::open_read_write(path).map_err(|e| format!("{name}: {e}"))?;
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
