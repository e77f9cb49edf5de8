//! fsck: checking a file system offline, in FreeBSD fsck_ffs's phases and
//! with its messages.
//!
//! [`check`] works on the raw layer (it must look at values the validated
//! reader rejects): it finds a usable superblock itself ([`setup`]), then
//! runs the passes:
//!
//! | phase | module | fsck_ffs |
//! |---|---|---|
//! | setup | `setup` | setup.c `setup()`, `readsb()` |
//! | 1 | `pass1` | pass1.c `pass1()`, `checkinode()`, `pass1check()` |
//! | 1b | `pass1b` | pass1b.c |
//! | 2 | `pass2` | pass2.c, dir.c `dirscan()`, `fsck_readdir()` |
//! | 3 | `pass3` | pass3.c, dir.c `linkup()` (no reconnection) |
//! | 4 | `pass4` | pass4.c, dir.c `adjust()`, inode.c `clri()` |
//! | 5 | `pass5` | pass5.c |
//!
//! Every problem is a row of [`Problem`]; every finding goes through one
//! `ask()` ([`state::Ctx::ask`]) that decides the answer. Repairs are not
//! implemented yet, so every question is answered "no", exactly as
//! `fsck_ffs -n` prints it, and the image is never written.

pub mod problem;
pub mod report;
pub mod state;

mod pass1;
mod pass1b;
mod pass2;
mod pass3;
mod pass4;
mod pass5;
mod setup;

pub use problem::{Phase, Preen, Problem};
pub use report::{Answer, CollectingReporter, Finding, Reporter, TextReporter};

use crate::error::Result;
use crate::io::Device;
use crate::ondisk::consts::fsflags;
use crate::superblock::UfsVersion;
use state::{BlockMap, Ctx, InoTable};
use std::collections::HashMap;

/// How to check.
#[derive(Clone, Debug, Default)]
pub struct FsckOptions {
    /// The name printed in the header (`** NAME (NO WRITE)`).
    pub name: String,
    /// Check even when the superblock says the file system is clean (`-f`).
    pub force: bool,
    /// Use the superblock at this 512-byte sector (`-b`).
    pub alt_sector: Option<u64>,
    /// Preen mode (`-p`): only the clean short cut differs today.
    pub preen: bool,
}

/// The overall result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Checked, nothing found.
    Clean,
    /// Not checked: the superblock says clean (no `-f`).
    SkippedClean,
    /// Problems found (and left as they are).
    Problems,
    /// The check had to stop (e.g. no root directory).
    Stopped,
    /// No usable superblock.
    NoSuperblock,
}

/// The summary line's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Summary {
    /// Inodes in use.
    pub files: u64,
    /// Fragments held by inodes.
    pub used: u64,
    /// Free fragments per the superblock totals.
    pub free: u64,
    /// Free fragments not in whole free blocks.
    pub frags: u64,
    /// Free whole blocks.
    pub blocks: u64,
    /// Data fragments (`fs_dsize`), the fragmentation denominator.
    pub dsize: u64,
}

impl Summary {
    /// Fragmentation in percent.
    pub fn fragmentation(&self) -> f64 {
        if self.dsize == 0 {
            0.0
        } else {
            self.frags as f64 * 100.0 / self.dsize as f64
        }
    }
}

/// What a check found.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Overall verdict.
    pub verdict: Verdict,
    /// Problems reported (informational SU+J lines not counted).
    pub problems: u64,
    /// Questions answered no.
    pub unresolved: u64,
    /// fsck asks for another run (`PLEASE RERUN FSCK`).
    pub rerun: bool,
    /// Summary numbers, when the check ran to the end.
    pub summary: Option<Summary>,
    /// Alternate superblocks found (512-byte sectors), when the primary
    /// was unusable.
    pub alternates: Vec<u64>,
    /// Whether the file system uses an SU+J journal.
    pub journal: bool,
}

impl Outcome {
    fn new(verdict: Verdict) -> Outcome {
        Outcome {
            verdict,
            problems: 0,
            unresolved: 0,
            rerun: false,
            summary: None,
            alternates: Vec::new(),
            journal: false,
        }
    }
}

/// Checks the file system on `dev`, telling `report` everything. Never
/// writes. Errors are returned only for failures outside the image's
/// content; corruption is reported, not returned.
pub fn check(dev: &dyn Device, opts: &FsckOptions, report: &mut dyn Reporter) -> Result<Outcome> {
    if let Some(s) = opts.alt_sector {
        report.note(&format!("Alternate super block location: {s}\n"));
    }
    report.note(&format!("** {} (NO WRITE)\n", opts.name));
    let (sb, geo, mut early) = match setup::setup(dev, opts, report) {
        setup::Setup::Ready { sb, geo, problems } => (*sb, *geo, problems),
        setup::Setup::Failed(o) => return Ok(o),
    };
    let flags = sb.fs.fs_flags;
    let softdep = flags & fsflags::FS_DOSOFTDEP != 0;
    let totals = setup::cstotal(&sb);
    let dsize = geo.dsize;
    let gfrag = u64::from(geo.frag);
    let summary_from_sb = |files: u64, used: u64| Summary {
        files,
        used,
        free: totals.nffree + gfrag * totals.nbfree,
        frags: totals.nffree,
        blocks: totals.nbfree,
        dsize,
    };
    if !opts.force
        && early == 0
        && sb.fs.fs_clean != 0
        && flags & (fsflags::FS_UNCLEAN | fsflags::FS_NEEDSFSCK) == 0
    {
        let s = summary_from_sb(0, 0);
        report.note("FILE SYSTEM CLEAN; SKIPPING CHECKS\n");
        report.note(&format!(
            "clean, {} free ({} frags, {} blocks, {:.1}% fragmentation)\n",
            s.free,
            s.frags,
            s.blocks,
            s.fragmentation()
        ));
        let mut o = Outcome::new(Verdict::SkippedClean);
        o.journal = flags & fsflags::FS_SUJ != 0;
        o.summary = Some(s);
        return Ok(o);
    }
    let journal = flags & fsflags::FS_SUJ != 0;
    if journal {
        let f = Finding::new(
            Problem::JournalPresent,
            format!("** SU+J Recovering {}\n", opts.name),
        );
        report.finding(&f, Some(Answer::No));
        report.note("** Skipping journal, falling through to full fsck\n\n");
        let sfx = if softdep {
            "\nUNEXPECTED SOFT UPDATE INCONSISTENCY\n"
        } else {
            ""
        };
        let f = Finding::new(
            Problem::DirtyReadOnly,
            format!("SETTING DIRTY FLAG IN READ_ONLY MODE\n{sfx}"),
        );
        report.finding(&f, None);
    }
    report.note(&format!("** Last Mounted on {}\n", sb.fsmnt()));
    let mut ctx = Ctx {
        dev,
        bmap: BlockMap::new(geo.size.div_ceil(u64::from(geo.frag)) * u64::from(geo.frag)),
        ino: InoTable::new(geo.ipg),
        geo,
        sb,
        opts,
        rep: report,
        softdep,
        dirs: Vec::new(),
        dir_index: HashMap::new(),
        duplist: Vec::new(),
        n_files: 0,
        n_blks: 0,
        countdirs: 0,
        rerun: false,
        nproblems: early,
        unresolved: early,
    };
    early = 0;
    let _ = early;
    ctx.phase(Phase::Pass1);
    pass1::pass1(&mut ctx);
    if !ctx.duplist.is_empty() {
        ctx.phase(Phase::Pass1b);
        pass1b::pass1b(&mut ctx);
    }
    ctx.phase(Phase::Pass2);
    if !pass2::pass2(&mut ctx) {
        let mut o = Outcome::new(Verdict::Stopped);
        o.problems = ctx.nproblems;
        o.unresolved = ctx.unresolved;
        o.journal = journal;
        return Ok(o);
    }
    ctx.phase(Phase::Pass3);
    pass3::pass3(&mut ctx);
    ctx.phase(Phase::Pass4);
    pass4::pass4(&mut ctx);
    ctx.phase(Phase::Pass5);
    pass5::pass5(&mut ctx);
    let s = summary_from_sb(ctx.n_files, ctx.n_blks);
    ctx.note(&format!(
        "{} files, {} used, {} free ({} frags, {} blocks, {:.1}% fragmentation)\n",
        s.files,
        s.used,
        s.free,
        s.frags,
        s.blocks,
        s.fragmentation()
    ));
    if ctx.rerun {
        ctx.note("\n***** PLEASE RERUN FSCK *****\n");
    }
    let mut o = Outcome::new(if ctx.nproblems == 0 {
        Verdict::Clean
    } else {
        Verdict::Problems
    });
    o.problems = ctx.nproblems;
    o.unresolved = ctx.unresolved;
    o.rerun = ctx.rerun;
    o.summary = Some(s);
    o.journal = journal;
    let _ = UfsVersion::Ufs1;
    Ok(o)
}
