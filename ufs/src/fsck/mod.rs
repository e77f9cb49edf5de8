//! fsck: checking a file system offline, in FreeBSD fsck_ffs's phases and
//! with its messages.
//!
//! [`check`] works on the raw layer (it must look at values the validated
//! reader rejects): it finds a usable superblock itself (`setup`), then
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
//! `ask()` (`state::Ctx::ask`) that decides the answer from
//! [`AnswerMode`]. [`check`] answers no (`fsck_ffs -n`) and never writes;
//! [`repair`] answers as asked and fixes what was answered yes: the fixes
//! go into a write overlay ([`crate::io::Overlay`]) that later passes read through,
//! and are written to the image only at the end, in a crash-safe order
//! (`fix` holds the fsck_ffs helpers: freeino, allocdir, makeentry,
//! linkup, ...). Before the image is marked clean, the repaired state is
//! checked once more, read-only; only a clean result marks it clean.

pub mod predict;
pub mod problem;
pub mod report;
pub(crate) mod state;

mod dirwalk;
mod fix;

mod parallel;
mod pass1;
mod pass1b;
mod pass2;
mod pass3;
mod pass4;
mod pass5;
mod readahead;
mod setup;

pub use parallel::SharedDevice;
pub use problem::{Phase, Preen, Problem};
pub use report::{render, Answer, CollectingReporter, Finding, Reporter, TextReporter};

use crate::error::Result;
use crate::io::overlay::{self, Overlay};
use crate::io::Device;
use crate::ondisk::consts::fsflags;
use crate::superblock::UfsVersion;
use state::{BlockMap, Ctx, DupClaims, InoTable};
use std::collections::HashMap;

/// How to check.
#[derive(Clone, Debug, Default)]
pub struct FsckOptions {
    /// The name printed in the header (`** NAME (NO WRITE)`).
    pub name: String,
    /// Check even when the superblock says the file system is clean (`-f`,
    /// or the front end's convention: see [`FsckOptions::for_front_end`]).
    pub force: bool,
    /// Use the superblock at this 512-byte sector (`-b`).
    pub alt_sector: Option<u64>,
    /// Preen mode (`-p`): fsck_ffs -p's wording and policy.
    pub preen: bool,
    /// How [`repair`] answers questions ([`check`] always answers no).
    pub answer: AnswerMode,
    /// Time stamp for inodes a repair creates (default: now).
    pub now: Option<i64>,
    /// Refuse to go on once the check's own tables (fragment maps, inode
    /// tables, directory list, duplicate list) would pass this many bytes
    /// (`--max-memory`): on a huge image the run stops with
    /// [`crate::Error::MemoryLimit`] instead of exhausting the host.
    pub max_memory: Option<u64>,
    /// Told how far the check is, pass by pass (see [`ProgressStep`]);
    /// the front end decides how to show it.
    pub progress: Option<ProgressFn>,
    /// Threads checking phase 1's cylinder groups (`--jobs`): 1 checks
    /// them on the calling thread, one after the other; N > 1 has N
    /// workers check groups into per-group results that are merged in
    /// group order, with the same output (see `parallel`); 0 chooses
    /// ([`auto_jobs`], one fewer when a thread reads ahead on a cold
    /// cache). More than one needs [`FsckOptions::reader`].
    pub jobs: usize,
    /// A second, thread-safe handle on the image checked (the same bytes
    /// as the device given to [`check`] or [`repair`]), which phase 1's
    /// workers read and, with a cold cache, a thread reading the inode
    /// tables ahead of phase 1; without it the check runs on one thread
    /// and hints its reads as it goes (slower on a cold cache).
    pub reader: Option<SharedDevice>,
}

/// How far a check is: in pass `pass`, `current` of `max` units are done.
/// Passes are numbered as e2fsck numbers them for `-C fd` (1 inodes, one
/// unit per cylinder group; 2 directories, one unit per directory; 3
/// connectivity; 4 link counts; 5 cylinder-group maps, one unit per group),
/// so fsck(8) front ends can show UFS checks as they show ext4's. Within a
/// pass `current` only grows and never passes `max`; phase 1b is counted
/// in pass 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgressStep {
    /// 1 to 5.
    pub pass: u8,
    /// Units done.
    pub current: u64,
    /// Units in the pass.
    pub max: u64,
}

/// A progress callback (shared, so options stay cheap to clone).
#[derive(Clone)]
pub struct ProgressFn(pub std::sync::Arc<dyn Fn(ProgressStep) + Send + Sync>);

impl std::fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressFn(..)")
    }
}

impl Ctx<'_> {
    /// Tells the front end's callback, if any, where the check is.
    fn progress(&self, pass: u8, current: u64, max: u64) {
        if let Some(p) = &self.opts.progress {
            (p.0)(ProgressStep {
                pass,
                current: current.min(max),
                max,
            });
        }
    }
}

impl FsckOptions {
    /// Options for a front end (a command, a personality, mount's check):
    /// `force` is `-f` as given; the clean-flag policy ([`skips_clean`])
    /// decides from `convention` and `answer` whether a file system whose
    /// superblock says clean is checked anyway.
    pub fn for_front_end(
        name: &str,
        convention: Convention,
        answer: AnswerMode,
        force: bool,
    ) -> FsckOptions {
        FsckOptions {
            name: name.to_string(),
            force: !skips_clean(convention, answer, force),
            preen: answer == AnswerMode::Preen,
            answer,
            ..Default::default()
        }
    }
}

/// Whose rules a front end follows for a file system whose superblock
/// says clean.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Convention {
    /// FreeBSD fsck_ffs (12.1 setup.c: `skipclean && ckclean &&
    /// fs_clean`): only preen (`-p`) skips a clean file system; `-y`, `-n`
    /// and interactive runs check it fully.
    #[default]
    FreeBsd,
    /// Linux fsck(8) helpers as e2fsck: every mode skips a clean file
    /// system unless `-f` is given.
    Linux,
}

/// The clean-flag policy, decided here only: whether a check in `mode`
/// under `convention` skips a file system whose superblock says clean
/// (and does not ask for a check, see
/// [`crate::Superblock::needs_fsck`]). `force` is `-f`, which never skips.
pub fn skips_clean(convention: Convention, mode: AnswerMode, force: bool) -> bool {
    !force
        && match convention {
            Convention::FreeBsd => mode == AnswerMode::Preen,
            Convention::Linux => true,
        }
}

/// How questions are answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AnswerMode {
    /// `-n`: no to everything, never write.
    #[default]
    No,
    /// `-y`: yes to everything.
    Yes,
    /// `-p`: fix what the problem table lets preen fix, stop otherwise.
    Preen,
    /// Interactive: ask the reporter ([`Reporter::prompt`]).
    Ask,
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
    /// A repair changed the image (`FILE SYSTEM WAS MODIFIED`).
    pub modified: bool,
    /// A repair left the file system clean (verified and marked clean).
    pub repaired: bool,
    /// Sectors written by the repair.
    pub pages_written: usize,
    /// Threads that checked phase 1's cylinder groups (1: the calling
    /// thread alone; see [`FsckOptions::jobs`]).
    pub jobs: usize,
    /// A thread of its own read phase 1's inode tables ahead: the cache
    /// was cold and [`FsckOptions::reader`] was given.
    pub read_ahead: bool,
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
            modified: false,
            repaired: false,
            pages_written: 0,
            jobs: 1,
            read_ahead: false,
        }
    }
}

/// Checks the file system on `dev`, telling `report` everything. Never
/// writes; every question is answered no. Errors are returned only for
/// failures outside the image's content; corruption is reported, not
/// returned.
pub fn check(dev: &dyn Device, opts: &FsckOptions, report: &mut dyn Reporter) -> Result<Outcome> {
    let ov = Overlay::new(dev);
    let r = run(&ov, opts, AnswerMode::No, report)?;
    for t in &r.trailer {
        report.note(t);
    }
    Ok(r.outcome)
}

/// Checks and repairs the file system on `dev`, answering as
/// `opts.answer` says (`No` is the same as [`check`]). The fixes are
/// collected first and written at the end, new blocks before the inodes
/// that point to them, inodes before the directory entries that name
/// them, cylinder groups and the superblock last, after a superblock
/// marked not clean: a crash at any write leaves an image a second run
/// repairs. A write error stops the repair with the error (nothing is
/// retried); what was written so far is consistent in that sense.
pub fn repair(
    dev: &mut dyn Device,
    opts: &FsckOptions,
    report: &mut dyn Reporter,
) -> Result<Outcome> {
    if opts.answer == AnswerMode::No {
        return check(&*dev, opts, report);
    }
    let (r, runs) = {
        let ov = Overlay::new(&*dev);
        let r = run(&ov, opts, opts.answer, report)?;
        let runs = if r.commit { ov.runs() } else { Vec::new() };
        (r, runs)
    };
    let mut outcome = r.outcome;
    if !runs.is_empty() {
        if let Some((off, bytes)) = &r.dirty_mark {
            crate::io::write_all(dev, *off, bytes)?;
            dev.flush().map_err(|source| crate::Error::Io {
                op: "flushing",
                offset: *off,
                len: 0,
                source,
            })?;
        }
        for (_, off, bytes) in &runs {
            crate::io::write_all(dev, *off, bytes)?;
            outcome.pages_written += bytes.len().div_ceil(512);
        }
        dev.flush().map_err(|source| crate::Error::Io {
            op: "flushing",
            offset: 0,
            len: 0,
            source,
        })?;
    }
    for t in &r.trailer {
        report.note(t);
    }
    Ok(outcome)
}

struct Run {
    outcome: Outcome,
    trailer: Vec<String>,
    commit: bool,
    dirty_mark: Option<(u64, Vec<u8>)>,
}

fn ended(outcome: Outcome) -> Run {
    Run {
        outcome,
        trailer: Vec::new(),
        commit: false,
        dirty_mark: None,
    }
}

/// Where the primary superblock of this file system lives.
fn primary_location(sb: &crate::Superblock) -> u64 {
    use crate::ondisk::consts::{SBLOCK_UFS1, SBLOCK_UFS2};
    match sb.version() {
        UfsVersion::Ufs1 => SBLOCK_UFS1,
        UfsVersion::Ufs2 => match u64::try_from(sb.fs.fs_sblockloc) {
            Ok(l) if l == SBLOCK_UFS1 || l == SBLOCK_UFS2 => l,
            _ => SBLOCK_UFS2,
        },
    }
}

/// Fragments a check's block maps cover: the file system's, rounded up to
/// a whole block. The memory check and the maps themselves both use it.
fn map_frags(geo: &crate::superblock::Geometry) -> u64 {
    geo.size.div_ceil(u64::from(geo.frag)) * u64::from(geo.frag)
}

/// A check's state before phase 1: nothing found, nothing counted, no
/// memory charged; `ov` is what it reads and stages its fixes in.
// Two callers, each passing what it has in hand: a struct for the eighth
// argument would only rename them.
#[allow(clippy::too_many_arguments)]
fn new_ctx<'a>(
    ov: &'a Overlay<'a>,
    geo: std::rc::Rc<crate::superblock::Geometry>,
    sb: crate::Superblock,
    opts: &'a FsckOptions,
    report: &'a mut dyn Reporter,
    mode: AnswerMode,
    now: i64,
    maps: Option<(BlockMap, BlockMap)>,
) -> Ctx<'a> {
    let nfrags = map_frags(&geo);
    // The block-used and freed maps, empty: given by a phase 1 worker that
    // reuses its own from group to group.
    let (bmap, freed) = maps
        .filter(|(b, f)| b.frags() == nfrags && f.frags() == nfrags)
        .unwrap_or_else(|| (BlockMap::new(nfrags), BlockMap::new(nfrags)));
    Ctx {
        dev: ov,
        bmap,
        ino: InoTable::new(geo.ipg),
        softdep: sb.fs.fs_flags & fsflags::FS_DOSOFTDEP != 0,
        geo,
        sb,
        opts,
        rep: report,
        dirs: Vec::new(),
        dir_index: HashMap::new(),
        duplist: DupClaims::default(),
        n_files: 0,
        n_blks: 0,
        countdirs: 0,
        rerun: false,
        nproblems: 0,
        unresolved: 0,
        ov,
        mode,
        cur_phase: Phase::Setup,
        stopped: false,
        write_failed: false,
        sb_dirty: false,
        freed,
        freed_ino: Default::default(),
        no_clone: Default::default(),
        partial: HashMap::new(),
        pending_zap: Vec::new(),
        mem_used: 0,
        over_limit: None,
        new_dirs: Default::default(),
        new_frags: Vec::new(),
        lfdir: 0,
        rebuild_cg: Default::default(),
        cg_inited: Default::default(),
        now,
        hint_reads: true,
    }
}

fn run(
    ov: &Overlay<'_>,
    opts: &FsckOptions,
    mode: AnswerMode,
    report: &mut dyn Reporter,
) -> Result<Run> {
    let dev: &dyn Device = ov;
    let preen = mode == AnswerMode::Preen;
    if let Some(s) = opts.alt_sector {
        report.note(&format!("Alternate super block location: {s}\n"));
    }
    match mode {
        AnswerMode::No => report.note(&format!("** {} (NO WRITE)\n", opts.name)),
        AnswerMode::Preen => {}
        _ => report.note(&format!("** {}\n", opts.name)),
    }
    let (mut sb, geo, mut early, from_alt, sb_fix, fix_alts) =
        match setup::setup(dev, opts, mode, report) {
            setup::Setup::Ready {
                sb,
                geo,
                problems,
                from_alternate,
                fix_hash,
                fix_alternates,
            } => (
                *sb,
                *geo,
                problems,
                from_alternate,
                fix_hash,
                fix_alternates,
            ),
            setup::Setup::Failed(o) => return Ok(ended(o)),
        };
    let (shrink_found, shrink_done) = setup::interrupted_move(ov, &mut sb, &geo, mode, report);
    early += u64::from(shrink_found);
    let flags = sb.fs.fs_flags;
    let softdep = flags & fsflags::FS_DOSOFTDEP != 0;
    let totals = setup::cstotal(&sb);
    let dsize = geo.dsize;
    let gfrag = u64::from(geo.frag);
    let summary_from = |t: &setup::Totals, files: u64, used: u64| Summary {
        files,
        used,
        // Totals come from the superblock unchecked: saturate, never overflow.
        free: t.nffree.saturating_add(gfrag.saturating_mul(t.nbfree)),
        frags: t.nffree,
        blocks: t.nbfree,
        dsize,
    };
    if !opts.force && early == 0 && !from_alt && !sb.needs_fsck() {
        let s = summary_from(&totals, 0, 0);
        let pfx = if preen {
            format!("{}: ", opts.name)
        } else {
            String::new()
        };
        report.note(&format!("{pfx}FILE SYSTEM CLEAN; SKIPPING CHECKS\n"));
        report.note(&format!(
            "{pfx}clean, {} free ({} frags, {} blocks, {:.1}% fragmentation)\n",
            s.free,
            s.frags,
            s.blocks,
            s.fragmentation()
        ));
        let mut o = Outcome::new(Verdict::SkippedClean);
        o.journal = flags & fsflags::FS_SUJ != 0;
        o.summary = Some(s);
        return Ok(ended(o));
    }
    let journal = flags & fsflags::FS_SUJ != 0;
    if journal {
        let f = Finding::new(
            Problem::JournalPresent,
            format!("** SU+J Recovering {}\n", opts.name),
        );
        report.finding(&f, Some(Answer::No));
        report.note("** Skipping journal, falling through to full fsck\n\n");
        if mode == AnswerMode::No {
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
    }
    if !preen {
        report.note(&format!("** Last Mounted on {}\n", sb.fsmnt()));
    }
    let orig_clean = sb.fs.fs_clean;
    let now = opts.now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    });
    let nfrags = map_frags(&geo);
    // Two fragment maps (in use, freed by this run), one bit per fragment.
    let maps = nfrags.div_ceil(8).saturating_mul(2);
    if let Some(limit) = opts.max_memory.filter(|&l| maps > l) {
        return Err(crate::Error::MemoryLimit(format!(
            "the fragment maps of {nfrags} fragments need {maps} bytes, over the limit of {limit}"
        )));
    }
    let mut ctx = new_ctx(ov, std::rc::Rc::new(geo), sb, opts, report, mode, now, None);
    ctx.sb_dirty = sb_fix || shrink_done;
    ctx.nproblems = early;
    ctx.mem_used = maps;
    // Setup problems answered no are unresolved (only the hash, the
    // disagreeing alternates and an interrupted shrink can be answered yes
    // and go on).
    ctx.unresolved =
        early.saturating_sub(u64::from(sb_fix) + u64::from(fix_alts) + u64::from(shrink_done));
    if mode == AnswerMode::No {
        ctx.unresolved = early;
    }
    early = 0;
    let _ = early;
    let stopped = |ctx: &Ctx<'_>| ctx.stopped;
    ctx.phase(Phase::Pass1);
    // The second handle, for phase 1's workers and the read-ahead: a
    // handle on some other image would check or read that one, refused.
    let reader = opts.reader.as_ref().filter(|r| r.0.len() == dev.len());
    // Read ahead on a cold cache; hinted by phase 1 itself only when no
    // thread can (readahead.rs says why).
    let ahead = readahead::start(reader.map(|r| r.0.clone()), &ctx.geo);
    ctx.hint_reads = ahead.phase1_hints();
    let read_ahead = ahead.running();
    let jobs = match parallel::plan(&ctx, reader, read_ahead) {
        Some((reader, jobs)) => {
            parallel::pass1(&mut ctx, reader, jobs);
            jobs
        }
        None => {
            pass1::pass1(&mut ctx);
            1
        }
    };
    ahead.finish();
    let ncg = u64::from(ctx.geo.ncg);
    ctx.progress(1, ncg, ncg);
    if let Some(msg) = ctx.over_limit.take() {
        return Err(crate::Error::MemoryLimit(msg));
    }
    if !ctx.duplist.is_empty() && !stopped(&ctx) {
        ctx.phase(Phase::Pass1b);
        pass1b::pass1b(&mut ctx);
        if ctx.writing() && !stopped(&ctx) {
            pass1b::clone_shared(&mut ctx);
        }
    }
    ctx.zap_pending();
    let mut ok = !stopped(&ctx);
    if ok {
        ctx.phase(Phase::Pass2);
        ok = pass2::pass2(&mut ctx);
        let n = ctx.dirs.len() as u64;
        ctx.progress(2, n, n);
    }
    if !ok && !ctx.stopped {
        let mut o = Outcome::new(Verdict::Stopped);
        o.jobs = jobs;
        o.read_ahead = read_ahead;
        o.problems = ctx.nproblems;
        o.unresolved = ctx.unresolved.max(1);
        o.journal = journal;
        return Ok(ended(o));
    }
    if !ctx.stopped {
        ctx.phase(Phase::Pass3);
        ctx.progress(3, 0, 1);
        pass3::pass3(&mut ctx);
        ctx.progress(3, 1, 1);
    }
    if !ctx.stopped {
        ctx.phase(Phase::Pass4);
        ctx.progress(4, 0, 1);
        pass4::pass4(&mut ctx);
        ctx.progress(4, 1, 1);
    }
    if !ctx.stopped {
        ctx.phase(Phase::Pass5);
        pass5::pass5(&mut ctx);
        ctx.progress(5, ncg, ncg);
    }
    if ctx.stopped {
        // Preen found something it must not fix: nothing is written.
        let mut o = Outcome::new(Verdict::Stopped);
        o.jobs = jobs;
        o.read_ahead = read_ahead;
        o.problems = ctx.nproblems;
        o.unresolved = ctx.unresolved.max(1);
        o.journal = journal;
        return Ok(ended(o));
    }
    let t = setup::cstotal(&ctx.sb);
    let s = summary_from(&t, ctx.n_files, ctx.n_blks);
    let pfx = if preen {
        format!("{}: ", opts.name)
    } else {
        String::new()
    };
    ctx.note(&format!(
        "{pfx}{} files, {} used, {} free ({} frags, {} blocks, {:.1}% fragmentation)\n",
        s.files,
        s.used,
        s.free,
        s.frags,
        s.blocks,
        s.fragmentation()
    ));
    let mut trailer = Vec::new();
    let mut o = Outcome::new(if ctx.nproblems == 0 {
        Verdict::Clean
    } else {
        Verdict::Problems
    });
    o.summary = Some(s);
    o.journal = journal;
    o.jobs = jobs;
    o.read_ahead = read_ahead;
    if mode == AnswerMode::No {
        if ctx.rerun {
            trailer.push("\n***** PLEASE RERUN FSCK *****\n".to_string());
        }
        o.problems = ctx.nproblems;
        o.unresolved = ctx.unresolved;
        o.rerun = ctx.rerun;
        return Ok(Run {
            outcome: o,
            trailer,
            commit: false,
            dirty_mark: None,
        });
    }
    // ckfini(): the standard superblock, the clean flag, the trailer.
    let primary = primary_location(&ctx.sb);
    if from_alt || ctx.sb.location != primary {
        let f = Finding::new(Problem::UpdateStandardSuperblock, "");
        if ctx.ask(f) {
            ctx.sb.location = primary;
            ctx.sb.fs.fs_sblockactualloc = i64::try_from(primary).unwrap_or(i64::MAX);
            ctx.sb_dirty = true;
        }
    }
    if fix_alts && ctx.writing() {
        // The alternates were ignored as stale (setup): copies of the
        // superblock go where they disagree, or every later run would
        // stop at the same question.
        for loc in setup::stale_alternates(ctx.dev, &ctx.sb, &ctx.geo) {
            let mut alt = ctx.sb.clone();
            alt.location = loc;
            alt.fs.fs_sblockactualloc = i64::try_from(loc).unwrap_or(i64::MAX);
            ctx.put(loc, &alt.encode(), overlay::WriteClass::Super);
        }
    }
    let modified = !ctx.ov.is_clean() || ctx.sb_dirty;
    let mut markclean = ctx.unresolved == 0 && !ctx.write_failed;
    let write_sb = |ctx: &mut Ctx<'_>, clean: bool| {
        let mut sb = ctx.sb.clone();
        sb.fs.fs_clean = i8::from(clean);
        if clean {
            sb.fs.fs_flags &= !(fsflags::FS_UNCLEAN | fsflags::FS_NEEDSFSCK);
            sb.fs.fs_pendingblocks = 0;
            sb.fs.fs_pendinginodes = 0;
        }
        let bytes = sb.encode();
        let loc = sb.location;
        ctx.put(loc, &bytes, overlay::WriteClass::Super);
    };
    let clean_changes = (orig_clean != 0) != markclean;
    // A repair of a clean-marked image first writes it dirty (see
    // `dirty_mark`), so the final superblock must follow whenever anything
    // is written, not only when its own fields changed.
    if ctx.sb_dirty || clean_changes || (modified && orig_clean != 0) {
        write_sb(&mut ctx, markclean);
    }
    if markclean && modified {
        // Prove it: the repaired state, checked read-only, must be clean.
        let vopts = FsckOptions {
            name: opts.name.clone(),
            force: true,
            ..Default::default()
        };
        let mut quiet = CollectingReporter::default();
        let verified = check(ctx.ov, &vopts, &mut quiet)
            .map(|v| v.verdict == Verdict::Clean)
            .unwrap_or(false);
        if !verified {
            markclean = false;
            write_sb(&mut ctx, false);
        }
    }
    let mut rerun = false;
    if (orig_clean != 0) != markclean {
        if !preen {
            trailer.push(format!(
                "\n***** FILE SYSTEM MARKED {} *****\n",
                if markclean { "CLEAN" } else { "DIRTY" }
            ));
        }
        rerun = !markclean;
    } else if markclean {
        if !preen {
            trailer.push("\n***** FILE SYSTEM IS CLEAN *****\n".into());
        }
    } else {
        if !preen {
            trailer.push("\n***** FILE SYSTEM STILL DIRTY *****\n".into());
        }
        rerun = true;
    }
    if modified && !preen {
        trailer.push("\n***** FILE SYSTEM WAS MODIFIED *****\n".into());
    }
    // fsck_ffs prints this one when preening too (main.c).
    if rerun {
        trailer.push("\n***** PLEASE RERUN FSCK *****\n".into());
    }
    // Marking dirty first: the superblock as read, with fs_clean = 0,
    // written before anything else when it sits where it was read.
    let dirty_mark = (orig_clean != 0 && ctx.sb.location == primary && !from_alt).then(|| {
        let mut sb = ctx.sb.clone();
        sb.fs.fs_clean = 0;
        (primary, sb.encode())
    });
    o.problems = ctx.nproblems;
    o.unresolved = ctx.unresolved;
    o.rerun = rerun;
    o.modified = modified;
    o.repaired = markclean;
    Ok(Run {
        outcome: o,
        trailer,
        commit: true,
        dirty_mark,
    })
}
