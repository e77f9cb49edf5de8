//! tunefs(8): change the tunable fields of an existing file system's
//! superblock, with FreeBSD 12.1 tunefs's rules and words.
//!
//! [`plan`] is pure: it takes a superblock and [`TunefsOptions`] and returns
//! the new superblock plus the lines tunefs prints (each without the
//! `tunefs: ` prefix). [`apply`] reads the image, plans, and writes the
//! primary superblock (every backup too with `all_backups`, tunefs's `-A`).
//! [`print_lines`] is `tunefs -p`.
//!
//! Facts (checked against FreeBSD 12.1 tunefs, the oracle in
//! `../shared/oracles/freebsd-12.1`; see docs/tunefs.md):
//! - options are applied in this order whatever the command line order:
//!   `-L`, `-a`, `-e`, `-f`, `-j`, `-J`, `-k`, `-l`, `-m`, `-N`, `-n`, `-o`,
//!   `-s`, `-t`; each prints "changes from", "remains unchanged as", "set" or
//!   "cleared" (`-L` prints nothing);
//! - only `-n enable` and `-j enable` look at the clean flag: on an unclean
//!   file system they print "cannot be enabled until fsck is run" and leave
//!   the flag alone; every other change is still written, exit status 0;
//! - `-k` rounds down to a block (`blknum`) and is capped at half a group;
//!   the "remains unchanged" test compares the value as given;
//! - the superblock is written with `fs_time` set to now; UFS1's `fs_old_*`
//!   copies are not touched (12.1 has no `ffs_oldfscompat_write` in userland);
//! - `-j disable` clears the flags of `/.sujournal`'s inode, `FS_SUJ` and
//!   `fs_sujfree`, and leaves the file;
//! - `-j enable` creates `/.sujournal` as tunefs's `journal_alloc` does:
//!   `-S` bytes rounded up to whole blocks, else the default size
//!   ([`crate::newfs::layout::journal_size`]), the lowest free
//!   inode of the first group with one (libufs `cgialloc`), blocks taken
//!   lowest first from that group on (libufs `cgballoc`), moving on only to
//!   groups with more than 256K free blocks until none is left ("Journal
//!   file fragmented."), zeroed; direct blocks, then each indirect block
//!   followed by what it points to; the root directory's last partial block
//!   moved into a new full block with a `.sujournal` entry at its end; then
//!   `FS_DOSOFTDEP | FS_SUJ` and `fs_sujfree` 0.

use crate::error::{Error, Result};
use crate::inode::Inode;
use crate::io::{self, Device};
use crate::newfs::options::Optim;
use crate::ondisk::consts::{fsflags, MAXVOLLEN};
use crate::superblock::Superblock;
use crate::units::{CgIdx, Ino};

/// `MINFREE` (fs.h): below it tunefs advises optimizing for space.
pub const MINFREE: i32 = 8;
/// Smallest SU+J journal tunefs accepts for `-S` (`SUJ_MIN`, fs.h).
pub use crate::newfs::layout::SUJ_MIN;

/// `enable` or `disable`, tunefs's argument to its switch options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    /// `enable`.
    Enable,
    /// `disable`.
    Disable,
}

/// A rejected option value, with tunefs's message (tunefs exits 10).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadOption(pub String);

/// What to change. `None` leaves a field as it is. Numbers are taken as
/// tunefs takes them (`atoi`: leading digits, else 0); use the `parse_*`
/// helpers to get tunefs's checks and messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TunefsOptions {
    /// `-A`: write every backup superblock as well.
    pub all_backups: bool,
    /// `-a`: POSIX.1e ACLs (`FS_ACLS`).
    pub acls: Option<Switch>,
    /// `-e`: `fs_maxbpg`.
    pub maxbpg: Option<i32>,
    /// `-f`: `fs_avgfilesize`.
    pub avgfilesize: Option<i32>,
    /// `-j`: soft-updates journaling: `enable` creates `/.sujournal`,
    /// `disable` clears its inode's flags and `FS_SUJ`.
    pub sujournal: Option<Switch>,
    /// `-J`: gjournal (`FS_GJOURNAL`).
    pub gjournal: Option<Switch>,
    /// `-k`: `fs_metaspace`, in fragments.
    pub metaspace: Option<i64>,
    /// `-L`: volume label.
    pub label: Option<String>,
    /// `-l`: MAC multilabel (`FS_MULTILABEL`).
    pub multilabel: Option<Switch>,
    /// `-m`: `fs_minfree`, percent.
    pub minfree: Option<i32>,
    /// `-N`: NFSv4 ACLs (`FS_NFS4ACLS`).
    pub nfs4acls: Option<Switch>,
    /// `-n`: soft updates (`FS_DOSOFTDEP`).
    pub softdep: Option<Switch>,
    /// `-o`: `fs_optim`.
    pub optim: Option<Optim>,
    /// `-s`: `fs_avgfpdir`.
    pub avgfpdir: Option<i32>,
    /// `-t`: TRIM (`FS_TRIM`).
    pub trim: Option<Switch>,
    /// `-S`: the size in bytes of the journal `-j enable` creates (rounded
    /// up to whole blocks); without `-j enable` it changes nothing.
    pub journal_size: Option<i64>,
}

/// C `atoi` as FreeBSD's and glibc's (`(int)strtol(s, NULL, 10)` on a
/// 64-bit `long`): optional blanks and sign, then leading digits (0 if
/// none), saturated to the `long` range, then cut to the low 32 bits. So
/// 3000000000 is negative and 4294967297 is 1, as FreeBSD 12.1 tunefs
/// reads them (checked with the oracle).
pub fn atoi(s: &str) -> i32 {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    // Accumulated negative when `neg`, so `long`'s minimum is reachable.
    let mut v: i64 = 0;
    for c in digits.bytes().take_while(u8::is_ascii_digit) {
        let d = i64::from(c - b'0');
        v = if neg {
            v.saturating_mul(10).saturating_sub(d)
        } else {
            v.saturating_mul(10).saturating_add(d)
        };
    }
    let low = v.to_le_bytes();
    i32::from_le_bytes([low[0], low[1], low[2], low[3]])
}

/// Parses `enable`/`disable` for the option called `name` in tunefs's
/// messages ("POSIX.1e ACLs", "trim", ...).
pub fn parse_switch(name: &str, v: &str) -> std::result::Result<Switch, BadOption> {
    match v {
        "enable" => Ok(Switch::Enable),
        "disable" => Ok(Switch::Disable),
        _ => Err(BadOption(format!(
            "bad {name} (options are `enable' or `disable')"
        ))),
    }
}

/// Names tunefs uses when it rejects an option's argument.
pub mod names {
    /// `-a`.
    pub const ACLS: &str = "POSIX.1e ACLs";
    /// `-J`.
    pub const GJOURNAL: &str = "gjournaled file system";
    /// `-j`.
    pub const SUJ: &str = "softdep journaled file system";
    /// `-l`.
    pub const MULTILABEL: &str = "multilabel MAC file system";
    /// `-N`.
    pub const NFS4ACLS: &str = "NFSv4 ACLs";
    /// `-n`.
    pub const SOFTDEP: &str = "soft updates";
    /// `-t`.
    pub const TRIM: &str = "trim";
}

/// Parses a count that must be at least 1 (`-e`, `-f`, `-s`).
pub fn parse_positive(name: &str, v: &str) -> std::result::Result<i32, BadOption> {
    let n = atoi(v);
    if n < 1 {
        return Err(BadOption(format!("{name} must be >= 1 (was {v})")));
    }
    Ok(n)
}

/// `-e`'s name.
pub const MAXBPG_NAME: &str = "maximum blocks per file in a cylinder group";
/// `-f`'s name.
pub const AVGFILESIZE_NAME: &str = "average file size";
/// `-s`'s name.
pub const AVGFPDIR_NAME: &str = "expected number of files per directory";
const MINFREE_NAME: &str = "minimum percentage of free space";
const METASPACE_NAME: &str = "space to hold for metadata blocks";
const OPTIM_NAME: &str = "optimization preference";

/// Parses `-m` (0..=99).
pub fn parse_minfree(v: &str) -> std::result::Result<i32, BadOption> {
    let n = atoi(v);
    if !(0..=99).contains(&n) {
        return Err(BadOption(format!("bad {MINFREE_NAME} ({v})")));
    }
    Ok(n)
}

/// Parses `-k` (not negative).
pub fn parse_metaspace(v: &str) -> std::result::Result<i64, BadOption> {
    let n = atoi(v);
    if n < 0 {
        return Err(BadOption(format!("bad {METASPACE_NAME} ({v})")));
    }
    Ok(i64::from(n))
}

/// `-S`'s name.
const JOURNAL_SIZE_NAME: &str = "Softdep Journal Size";

/// Parses `-S`: bytes, at least [`SUJ_MIN`]; no upper bound (tunefs takes
/// an `int`).
pub fn parse_journal_size(v: &str) -> std::result::Result<i64, BadOption> {
    let n = i64::from(atoi(v));
    if n < SUJ_MIN {
        return Err(BadOption(format!(
            "{JOURNAL_SIZE_NAME} must be >= {SUJ_MIN} (was {v})"
        )));
    }
    Ok(n)
}

/// Parses `-o`.
pub fn parse_optim(v: &str) -> std::result::Result<Optim, BadOption> {
    match v {
        "space" => Ok(Optim::Space),
        "time" => Ok(Optim::Time),
        _ => Err(BadOption(format!(
            "bad {OPTIM_NAME} (options are `space' or `time')"
        ))),
    }
}

/// Parses `-L`: letters, digits, `-` and `_`, at most 31 bytes.
pub fn parse_label(v: &str) -> std::result::Result<String, BadOption> {
    if !v
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        return Err(BadOption(
            "bad volume label. Valid characters are alphanumerics, dashes, and underscores.".into(),
        ));
    }
    if v.len() >= MAXVOLLEN {
        return Err(BadOption(format!(
            "bad volume label. Length is longer than {}.",
            MAXVOLLEN - 1
        )));
    }
    Ok(v.to_string())
}

/// What [`plan`] decided.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The superblock to write (`fs_time` not yet set).
    pub sb: Superblock,
    /// tunefs's messages, in its order, without the `tunefs: ` prefix.
    pub messages: Vec<String>,
    /// The `.sujournal` inode whose flags `-j disable` clears.
    pub clear_journal_flags: Option<Ino>,
    /// `-j enable` must create the journal: its message goes at this index
    /// of `messages` ("set", or "cannot be enabled" after the reason).
    pub create_journal: Option<usize>,
}

fn optim_word(v: i32) -> &'static str {
    if v == Optim::Space.raw() {
        "space"
    } else {
        "time"
    }
}

fn optim_warning(minfree: i32, optim: i32) -> Option<String> {
    if minfree >= MINFREE && optim == Optim::Space.raw() {
        Some(format!(
            "should optimize for time with minfree >= {MINFREE}%"
        ))
    } else if minfree < MINFREE && optim == Optim::Time.raw() {
        Some(format!(
            "should optimize for space with minfree < {MINFREE}%"
        ))
    } else {
        None
    }
}

/// One `fs_flags` switch: tunefs's message and the new flags. `conflict`
/// is the flag that may not be on at the same time (the other ACL kind)
/// with its name; `needs_clean` refuses to enable on an unclean fs.
struct FlagRule<'a> {
    name: &'a str,
    flag: i32,
    conflict: Option<(i32, &'a str)>,
    needs_clean: bool,
}

fn apply_flag(sb: &mut Superblock, rule: &FlagRule<'_>, sw: Switch, out: &mut Vec<String>) {
    let name = rule.name;
    let on = sb.fs.fs_flags & rule.flag != 0;
    match sw {
        Switch::Enable if on => out.push(format!("{name} remains unchanged as enabled")),
        Switch::Enable => {
            if let Some((other, other_name)) = rule.conflict {
                if sb.fs.fs_flags & other != 0 {
                    out.push(format!("{name} and {other_name} are mutually exclusive"));
                    return;
                }
            }
            if rule.needs_clean && sb.fs.fs_clean == 0 {
                out.push(format!("{name} cannot be enabled until fsck is run"));
                return;
            }
            sb.fs.fs_flags |= rule.flag;
            out.push(format!("{name} set"));
        }
        Switch::Disable if !on => out.push(format!("{name} remains unchanged as disabled")),
        Switch::Disable => {
            sb.fs.fs_flags &= !rule.flag;
            out.push(format!("{name} cleared"));
        }
    }
}

fn apply_count(field: &mut i32, name: &str, v: i32, suffix: &str, out: &mut Vec<String>) {
    if *field == v {
        out.push(format!("{name} remains unchanged as {v}{suffix}"));
    } else {
        out.push(format!(
            "{name} changes from {field}{suffix} to {v}{suffix}"
        ));
        *field = v;
    }
}

/// The name of the SU+J journal in the root directory (`SUJ_FILE`, fs.h).
pub const SUJ_FILE: &[u8] = b".sujournal";

/// Computes tunefs's result for `opts` on `sb` without any I/O. `journal`
/// is the inode of `/.sujournal`, if the caller found one (only `-j
/// disable` on a file system with `FS_SUJ` needs it).
pub fn plan(sb: &Superblock, opts: &TunefsOptions, journal: Option<Ino>) -> Result<Plan> {
    let mut sb = sb.clone();
    let mut out = Vec::new();
    let mut clear_journal_flags = None;
    let mut create_journal = None;
    if let Some(label) = &opts.label {
        let mut v = [0u8; MAXVOLLEN];
        let n = label.len().min(MAXVOLLEN - 1);
        v[..n].copy_from_slice(&label.as_bytes()[..n]);
        sb.fs.fs_volname = v;
    }
    if let Some(sw) = opts.acls {
        let rule = FlagRule {
            name: names::ACLS,
            flag: fsflags::FS_ACLS,
            conflict: Some((fsflags::FS_NFS4ACLS, names::NFS4ACLS)),
            needs_clean: false,
        };
        apply_flag(&mut sb, &rule, sw, &mut out);
    }
    if let Some(v) = opts.maxbpg {
        apply_count(&mut sb.fs.fs_maxbpg, MAXBPG_NAME, v, "", &mut out);
    }
    if let Some(v) = opts.avgfilesize {
        let mut f = i32::try_from(sb.fs.fs_avgfilesize).unwrap_or(i32::MAX);
        apply_count(&mut f, AVGFILESIZE_NAME, v, "", &mut out);
        sb.fs.fs_avgfilesize = u32::try_from(f).unwrap_or(0);
    }
    if opts.sujournal == Some(Switch::Enable) {
        let both = fsflags::FS_DOSOFTDEP | fsflags::FS_SUJ;
        if sb.fs.fs_flags & both == both {
            out.push(format!("{SUJ_NAME} remains unchanged as enabled"));
        } else if sb.fs.fs_clean == 0 {
            out.push(format!("{SUJ_NAME} cannot be enabled until fsck is run"));
        } else {
            create_journal = Some(out.len());
        }
    }
    if opts.sujournal == Some(Switch::Disable) {
        const NAME: &str = SUJ_NAME;
        if sb.fs.fs_flags & fsflags::FS_SUJ == 0 {
            out.push(format!("{NAME} remains unchanged as disabled"));
        } else {
            match journal {
                Some(ino) => clear_journal_flags = Some(ino),
                None => out.push("Journal file does not exist".into()),
            }
            sb.fs.fs_flags &= !fsflags::FS_SUJ;
            sb.fs.fs_sujfree = 0;
            out.push(format!("{NAME} cleared but soft updates still set."));
            out.push("remove .sujournal to reclaim space".into());
        }
    }
    if let Some(sw) = opts.gjournal {
        let rule = FlagRule {
            name: "gjournal",
            flag: fsflags::FS_GJOURNAL,
            conflict: None,
            needs_clean: false,
        };
        apply_flag(&mut sb, &rule, sw, &mut out);
    }
    if let Some(k) = opts.metaspace {
        if sb.fs.fs_metaspace == k {
            out.push(format!("{METASPACE_NAME} remains unchanged as {k}"));
        } else {
            let frag = i64::from(sb.fs.fs_frag.max(1));
            let blknum = |v: i64| v - v % frag;
            let mut k = blknum(k);
            let half = i64::from(sb.fs.fs_fpg) / 2;
            if k > half {
                k = blknum(half);
                out.push(format!(
                    "{METASPACE_NAME} cannot exceed half the file system space"
                ));
            }
            out.push(format!(
                "{METASPACE_NAME} changes from {} to {k}",
                sb.fs.fs_metaspace
            ));
            sb.fs.fs_metaspace = k;
        }
    }
    if let Some(sw) = opts.multilabel {
        let rule = FlagRule {
            name: "multilabel",
            flag: fsflags::FS_MULTILABEL,
            conflict: None,
            needs_clean: false,
        };
        apply_flag(&mut sb, &rule, sw, &mut out);
    }
    if let Some(m) = opts.minfree {
        let before = sb.fs.fs_minfree;
        apply_count(&mut sb.fs.fs_minfree, MINFREE_NAME, m, "%", &mut out);
        if before != m {
            out.extend(optim_warning(m, sb.fs.fs_optim));
        }
    }
    if let Some(sw) = opts.nfs4acls {
        let rule = FlagRule {
            name: names::NFS4ACLS,
            flag: fsflags::FS_NFS4ACLS,
            conflict: Some((fsflags::FS_ACLS, names::ACLS)),
            needs_clean: false,
        };
        apply_flag(&mut sb, &rule, sw, &mut out);
    }
    if let Some(sw) = opts.softdep {
        let rule = FlagRule {
            name: names::SOFTDEP,
            flag: fsflags::FS_DOSOFTDEP,
            conflict: None,
            needs_clean: true,
        };
        apply_flag(&mut sb, &rule, sw, &mut out);
    }
    if let Some(o) = opts.optim {
        let v = o.raw();
        if sb.fs.fs_optim == v {
            out.push(format!(
                "{OPTIM_NAME} remains unchanged as {}",
                optim_word(v)
            ));
        } else {
            out.push(format!(
                "{OPTIM_NAME} changes from {} to {}",
                optim_word(sb.fs.fs_optim),
                optim_word(v)
            ));
            sb.fs.fs_optim = v;
            out.extend(optim_warning(sb.fs.fs_minfree, v));
        }
    }
    if let Some(v) = opts.avgfpdir {
        let mut f = i32::try_from(sb.fs.fs_avgfpdir).unwrap_or(i32::MAX);
        apply_count(&mut f, AVGFPDIR_NAME, v, "", &mut out);
        sb.fs.fs_avgfpdir = u32::try_from(f).unwrap_or(0);
    }
    if let Some(sw) = opts.trim {
        let rule = FlagRule {
            name: "issue TRIM to the disk",
            flag: fsflags::FS_TRIM,
            conflict: None,
            needs_clean: false,
        };
        apply_flag(&mut sb, &rule, sw, &mut out);
    }
    Ok(Plan {
        sb,
        messages: out,
        clear_journal_flags,
        create_journal,
    })
}

/// `-j`'s name in tunefs's messages.
const SUJ_NAME: &str = "soft updates journaling";

/// `tunefs -p`: the settings, one line each, without the `tunefs: ` prefix.
pub fn print_lines(sb: &Superblock) -> Vec<String> {
    let fs = &sb.fs;
    let onoff = |f: i32| {
        if fs.fs_flags & f != 0 {
            "enabled"
        } else {
            "disabled"
        }
    };
    let mut v = vec![
        format!(
            "POSIX.1e ACLs: (-a)                                {}",
            onoff(fsflags::FS_ACLS)
        ),
        format!(
            "NFSv4 ACLs: (-N)                                   {}",
            onoff(fsflags::FS_NFS4ACLS)
        ),
        format!(
            "MAC multilabel: (-l)                               {}",
            onoff(fsflags::FS_MULTILABEL)
        ),
        format!(
            "soft updates: (-n)                                 {}",
            onoff(fsflags::FS_DOSOFTDEP)
        ),
        format!(
            "soft update journaling: (-j)                       {}",
            onoff(fsflags::FS_SUJ)
        ),
        format!(
            "gjournal: (-J)                                     {}",
            onoff(fsflags::FS_GJOURNAL)
        ),
        format!(
            "trim: (-t)                                         {}",
            onoff(fsflags::FS_TRIM)
        ),
        format!(
            "maximum blocks per file in a cylinder group: (-e)  {}",
            fs.fs_maxbpg
        ),
        format!(
            "average file size: (-f)                            {}",
            fs.fs_avgfilesize
        ),
        format!(
            "average number of files in a directory: (-s)       {}",
            fs.fs_avgfpdir
        ),
        format!(
            "minimum percentage of free space: (-m)             {}%",
            fs.fs_minfree
        ),
        format!(
            "space to hold for metadata blocks: (-k)            {}",
            fs.fs_metaspace
        ),
        format!(
            "optimization preference: (-o)                      {}",
            optim_word(fs.fs_optim)
        ),
    ];
    v.extend(optim_warning(fs.fs_minfree, fs.fs_optim));
    v.push(format!(
        "volume label: (-L)                                 {}",
        sb.volname()
    ));
    v
}

/// The result of [`apply`].
#[derive(Clone, Debug)]
pub struct Report {
    /// tunefs's messages (see [`Plan::messages`]).
    pub messages: Vec<String>,
    /// What tunefs prints on standard output ("Clearing journal flags
    /// from inode 4").
    pub stdout: Vec<String>,
    /// The superblock as written (or as it would be, in a dry run).
    pub sb: Superblock,
    /// Bytes written to the image (0 in a dry run).
    pub bytes_written: u64,
}

/// Reads the superblock of `dev`, applies `opts` and writes the primary
/// superblock (and every backup with `all_backups`) unless `dry_run`.
/// `now` is the time stored in `fs_time`.
pub fn apply(
    dev: &mut dyn Device,
    opts: &TunefsOptions,
    now: i64,
    dry_run: bool,
) -> Result<Report> {
    let (sb, geo) = Superblock::find(dev)?;
    let journal =
        if opts.sujournal == Some(Switch::Disable) && sb.fs.fs_flags & fsflags::FS_SUJ != 0 {
            find_in_root(dev, &geo, SUJ_FILE)?
        } else {
            None
        };
    let Plan {
        mut sb,
        mut messages,
        clear_journal_flags,
        create_journal,
    } = plan(&sb, opts, journal)?;
    let mut stdout = Vec::new();
    let mut written = 0;
    if let Some(at) = create_journal {
        let mut said = Vec::new();
        let made = if dry_run {
            Ok(0)
        } else {
            let size = opts.journal_size.unwrap_or(0);
            journal::create(dev, &geo, &mut sb, size, now, &mut stdout, &mut said)?
        };
        let ok = made.is_ok();
        match made {
            Ok(bytes) => written += bytes,
            Err(why) => said.push(why),
        }
        said.push(if ok {
            sb.fs.fs_flags |= fsflags::FS_DOSOFTDEP | fsflags::FS_SUJ;
            sb.fs.fs_sujfree = 0;
            format!("{SUJ_NAME} set")
        } else {
            format!("{SUJ_NAME} cannot be enabled")
        });
        messages.splice(at..at, said);
    }
    sb.fs.fs_time = now;
    // The pointer area is undefined on disk (12.1 leaks heap pointers
    // there); write zeros.
    sb.fs.fs_ocsp = [0u8; 128];
    // Each copy records where it was written (`fs_sblockactualloc`), as
    // FreeBSD's superblock writer (`ffs_sbput`) does.
    sb.fs.fs_sblockactualloc = i64::try_from(sb.location).unwrap_or(0);
    if let Some(ino) = clear_journal_flags {
        stdout.push(format!("Clearing journal flags from inode {}", ino.0));
        if !dry_run {
            let mut inode = Inode::read(dev, &geo, ino)?;
            inode.set_flags(0);
            inode.write(dev, &geo)?;
            written += u64::from(geo.version.inode_size());
        }
    }
    if !dry_run {
        let mut put = |dev: &mut dyn Device, at: u64, sb: &mut Superblock| -> Result<()> {
            sb.fs.fs_sblockactualloc = i64::try_from(at).unwrap_or(0);
            let bytes = sb.encode();
            io::write_all(dev, at, &bytes)?;
            written += bytes.len() as u64;
            Ok(())
        };
        let primary = sb.location;
        if opts.all_backups {
            for c in 0..geo.ncg {
                put(dev, geo.frag_offset(geo.cgsblock(CgIdx(c))), &mut sb)?;
            }
        }
        put(dev, primary, &mut sb)?;
        dev.flush().map_err(|source| Error::Io {
            op: "syncing",
            offset: 0,
            len: 0,
            source,
        })?;
    }
    Ok(Report {
        messages,
        stdout,
        sb,
        bytes_written: written,
    })
}

/// The inode `name` has in the root directory, if any (tunefs's
/// `journal_findfile`).
fn find_in_root(dev: &dyn Device, geo: &crate::Geometry, name: &[u8]) -> Result<Option<Ino>> {
    let root = Inode::read(dev, geo, Ino::ROOT)?;
    let size = usize::try_from(root.size()).unwrap_or(usize::MAX);
    // A directory larger than its group is damage, not a directory.
    if size as u64 > geo.fpg * u64::from(geo.fsize) {
        return Ok(None);
    }
    let mut data = vec![0u8; size];
    for e in crate::bmap::extents(dev, geo, &root)? {
        let start = usize::try_from(e.lbn * geo.bsize64()).unwrap_or(usize::MAX);
        let len = usize::try_from(e.len).unwrap_or(usize::MAX);
        let end = (start.saturating_add(len)).min(size);
        if start < end {
            io::read_exact(dev, geo.frag_offset(e.addr), &mut data[start..end])?;
        }
    }
    let entries = crate::dir::parse_all(Ino::ROOT, &data, geo.endian)?;
    Ok(entries.into_iter().find(|e| e.name == name).map(|e| e.ino))
}

/// `tunefs -j enable`'s journal creation (tunefs's `journal_alloc`,
/// `journal_balloc`, `indir_fill`, `journal_insertfile` and libufs's
/// `cgialloc`/`cgballoc`/`cgbfree`), through the group allocator.
mod journal {
    use super::{find_in_root, SUJ_FILE};
    use crate::alloc::Allocator;
    use crate::error::{Error, Result};
    use crate::inode::{Inode, Timespec};
    use crate::io::{self, Device};
    use crate::ondisk::consts::{dt, mode, DIRBLKSIZ, DIRBLKSIZ_U16};
    use crate::ondisk::{wire, DirectHdr};
    use crate::superblock::{Geometry, Superblock, UfsVersion};
    use crate::units::{Frag, Ino};

    /// Groups with more free blocks than this are used first (tunefs).
    const CONTIG_BLOCKS: i32 = 256 * 1024;
    /// Direct and indirect block pointers in an inode.
    const NDADDR: usize = 12;
    const NIADDR: usize = 3;

    /// tunefs's block walk over the groups.
    struct Walk {
        alloc: Allocator,
        cur: u32,
        next: u32,
        contig: bool,
    }

    impl Walk {
        /// `journal_balloc`: a zeroed block, from the current group while it
        /// has one, then from the next roomy group, then (fragmented) from
        /// any group.
        fn balloc(
            &mut self,
            dev: &mut dyn Device,
            geo: &Geometry,
            said: &mut Vec<String>,
        ) -> Result<std::result::Result<Frag, String>> {
            loop {
                if let Some(b) = self.alloc.take_lowest_block_in(dev, geo, self.cur)? {
                    io::write_all(dev, geo.frag_offset(b), &vec![0u8; geo.bsize as usize])?;
                    return Ok(Ok(b));
                }
                let mut found = false;
                while self.next < geo.ncg {
                    self.cur = self.next;
                    self.next += 1;
                    let nb = self.alloc.summary(self.cur).map_or(0, |s| s.cs_nbfree);
                    if nb > CONTIG_BLOCKS || (!self.contig && nb > 0) {
                        found = true;
                        break;
                    }
                }
                if found {
                    continue;
                }
                if self.contig {
                    self.contig = false;
                    self.next = 0;
                    said.push("Journal file fragmented.".into());
                    continue;
                }
                return Ok(Err(
                    "Failed to find sufficient free blocks for the journal".into()
                ));
            }
        }

        /// `indir_fill`: an indirect block of `level` and what it points
        /// to; returns the blocks taken below it.
        fn indir_fill(
            &mut self,
            dev: &mut dyn Device,
            geo: &Geometry,
            at: Frag,
            level: u32,
            resid: &mut u64,
            said: &mut Vec<String>,
        ) -> Result<std::result::Result<u64, String>> {
            let ufs2 = geo.version == UfsVersion::Ufs2;
            let width = if ufs2 { 8 } else { 4 };
            let nindir = geo.bsize as usize / width;
            let mut buf = vec![0u8; geo.bsize as usize];
            let mut cnt = 0;
            let mut i = 0;
            while i < nindir && *resid != 0 {
                let b = match self.balloc(dev, geo, said)? {
                    Ok(b) => b,
                    Err(e) => return Ok(Err(e)),
                };
                cnt += 1;
                wire::put_daddr(&mut buf[i * width..], ufs2, geo.endian, b.0);
                if level > 0 {
                    match self.indir_fill(dev, geo, b, level - 1, resid, said)? {
                        Ok(n) => cnt += n,
                        Err(e) => return Ok(Err(e)),
                    }
                } else {
                    *resid -= 1;
                }
                i += 1;
            }
            io::write_all(dev, geo.frag_offset(at), &buf)?;
            Ok(Ok(cnt))
        }
    }

    /// Creates `/.sujournal` and updates the groups, the summary area and
    /// `sb`'s totals; `requested` is `-S` in bytes (0: the default size).
    /// `Ok(Err(why))`: tunefs refuses (its message); lines
    /// it prints on standard output go to `stdout`, warnings to `said`.
    /// Returns the bytes of blocks written (journal, indirect and directory
    /// blocks; groups and inodes not counted).
    pub(super) fn create(
        dev: &mut dyn Device,
        geo: &Geometry,
        sb: &mut Superblock,
        requested: i64,
        now: i64,
        stdout: &mut Vec<String>,
        said: &mut Vec<String>,
    ) -> Result<std::result::Result<u64, String>> {
        let root = Inode::read(dev, geo, Ino::ROOT)?;
        if root.size() >= NDADDR as u64 * geo.bsize64() {
            return Ok(Err("ROOTINO extends beyond direct blocks.".into()));
        }
        if find_in_root(dev, geo, SUJ_FILE)?.is_some() {
            return Ok(Err(
                "Journal file .sujournal already exists, please remove.".into(),
            ));
        }
        let fs = &sb.fs;
        let size = crate::newfs::layout::journal_size(
            requested,
            fs.fs_size,
            i64::from(fs.fs_bsize),
            i64::from(fs.fs_fsize),
            i64::from(fs.fs_fpg),
        )
        .and_then(|v| u64::try_from(v).ok())
        .ok_or_else(|| Error::InvalidInput("journal size overflows".into()))?;
        let blocks = size / geo.bsize64();
        if u64::try_from(sb.totals().nbfree).unwrap_or(0) < blocks {
            return Ok(Err(format!(
                "Insufficient free space for {size} byte journal"
            )));
        }
        // The seed takes the time's bits; the sign does not matter.
        let seed = u64::from_ne_bytes(now.to_ne_bytes());
        let mut alloc = Allocator::new(dev, geo, seed)?;
        alloc.keep_cg_times();
        let mut found = None;
        for c in 0..geo.ncg {
            if alloc.summary(c).map_or(0, |s| s.cs_nifree) == 0 {
                continue;
            }
            found = alloc.alloc_lowest_inode_in(dev, geo, c)?.map(|i| (c, i));
            break;
        }
        let Some((jcg, ino)) = found else {
            return Ok(Err("Insufficient free space for the journal.".into()));
        };
        stdout.push(format!(
            "Using inode {} in cg {jcg} for {size} byte journal",
            ino.0
        ));
        let mut w = Walk {
            alloc,
            cur: jcg,
            next: jcg + 1,
            contig: true,
        };
        let t = Timespec { sec: now, nsec: 0 };
        let mut j = Inode::empty(ino, geo);
        j.set_size(size);
        j.set_mode(mode::IFREG | 0o400);
        j.set_nlink(1);
        j.set_flags(crate::newfs::emit::SUJ_FLAGS);
        j.set_atime(t);
        j.set_mtime(t);
        j.set_ctime(t);
        if geo.version == UfsVersion::Ufs2 {
            j.set_birthtime(t);
        }
        let mut resid = blocks;
        let mut taken = 0u64;
        let mut i = 0;
        while i < NDADDR && resid > 0 {
            match w.balloc(dev, geo, said)? {
                Ok(b) => j.set_db(i, b.0),
                Err(e) => return Ok(Err(e)),
            }
            taken += 1;
            resid -= 1;
            i += 1;
        }
        for level in 0..NIADDR {
            if resid == 0 {
                break;
            }
            let b = match w.balloc(dev, geo, said)? {
                Ok(b) => b,
                Err(e) => return Ok(Err(e)),
            };
            // level < NIADDR (3).
            #[allow(clippy::cast_possible_truncation)]
            let depth = level as u32;
            match w.indir_fill(dev, geo, b, depth, &mut resid, said)? {
                Ok(n) => taken += n + 1,
                Err(e) => return Ok(Err(e)),
            }
            j.set_ib(level, b.0);
        }
        j.set_blocks(taken * (geo.bsize64() / 512));
        j.write(dev, geo)?;

        // journal_insertfile: the root's last partial block (or a new one)
        // becomes a full block ending in the `.sujournal` entry.
        let nblk = match w.balloc(dev, geo, said)? {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        let mut root = Inode::read(dev, geo, Ino::ROOT)?;
        let bsize = geo.bsize64();
        // `create` refused a root reaching past the direct blocks, so lbn <
        // NDADDR and off < bsize (at most 64 KiB).
        #[allow(clippy::cast_possible_truncation)]
        let (lbn, off) = (
            (root.size() / bsize) as usize,
            (root.size() % bsize) as usize,
        );
        let old = root.db(lbn);
        // sblksize: the bytes the last block holds (0 past the end).
        let fsize = u64::from(geo.fsize);
        let held = (off as u64).div_ceil(fsize) * fsize;
        let mut block = vec![0u8; geo.bsize as usize];
        if off != 0 {
            io::read_exact(dev, geo.frag_offset(Frag(old)), &mut block[..off])?;
        }
        if !crate::dir::encode_entry(
            &mut block[off..],
            Ino(ino.0),
            DIRBLKSIZ_U16,
            dt::DT_REG,
            SUJ_FILE,
            geo.endian,
        ) {
            return Err(Error::InvalidInput(
                "root directory is not block aligned".into(),
            ));
        }
        let mut at = off + DIRBLKSIZ;
        while at < block.len() {
            DirectHdr {
                d_ino: 0,
                d_reclen: DIRBLKSIZ_U16,
                d_type: 0,
                d_namlen: 0,
            }
            .encode_into(&mut block[at..], geo.endian);
            at += DIRBLKSIZ;
        }
        io::write_all(dev, geo.frag_offset(nblk), &block)?;
        root.set_blocks(root.blocks() + (bsize - held) / 512);
        root.set_db(lbn, nblk.0);
        root.set_size((lbn as u64 + 1) * bsize);
        root.write(dev, geo)?;
        if off != 0 {
            w.alloc.free(
                dev,
                geo,
                Frag(old),
                u32::try_from(held / fsize).unwrap_or(0),
            )?;
        }
        // 12.1's tunefs writes the 64-bit totals only: a UFS1 file system's
        // `fs_old_cstotal` stays as it was (unless it is where the totals
        // live), which makes the superblock equal to FreeBSD's.
        let old_totals = sb.fs.fs_old_cstotal;
        w.alloc.flush(dev, geo, sb, now)?;
        if !crate::superblock::Totals::in_old_fields(&sb.fs) {
            sb.fs.fs_old_cstotal = old_totals;
        }
        Ok(Ok((taken + 1) * bsize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_freebsds_atoi_reads_them() {
        assert_eq!(atoi("  42abc"), 42);
        assert_eq!(atoi("-7"), -7);
        assert_eq!(atoi("8m"), 8);
        assert_eq!(atoi("x"), 0);
        // (int) of a 64-bit strtol: the low 32 bits.
        assert_eq!(atoi("3000000000"), -1_294_967_296);
        assert_eq!(atoi("4294967297"), 1);
        assert_eq!(atoi("99999999999999999999"), -1);
        assert_eq!(atoi("-99999999999999999999"), 0);
    }

    #[test]
    fn dash_capital_s_takes_bytes_from_suj_min_up() {
        assert_eq!(parse_journal_size("4194304"), Ok(SUJ_MIN));
        assert_eq!(parse_journal_size("2147483647"), Ok(2_147_483_647));
        for bad in ["4194303", "8m", "x", "3000000000", "4294967296"] {
            assert_eq!(
                parse_journal_size(bad),
                Err(BadOption(format!(
                    "Softdep Journal Size must be >= 4194304 (was {bad})"
                )))
            );
        }
        // Rounded up to whole blocks, past the default's caps.
        let j = crate::newfs::layout::journal_size;
        assert_eq!(j(10_000_000, 16384, 32768, 4096, 32768), Some(10_027_008));
        assert_eq!(j(100 << 20, 16384, 32768, 4096, 32768), Some(100 << 20));
        assert_eq!(j(0, 16384, 32768, 4096, 32768), Some(SUJ_MIN));
    }
}
