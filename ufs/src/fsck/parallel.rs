//! Phase 1 on several threads ([`super::FsckOptions::jobs`]).
//!
//! Phase 1 checks each cylinder group's inodes independently of the other
//! groups except in three ways: a block claimed twice (the first claimant
//! in inode order keeps it; fsck_ffs reports the later ones `DUP`),
//! repairs (written to the overlay that later groups read through) and
//! the memory limit. So workers check whole groups with the unchanged
//! per-group code (`pass1::pass1_groups`) in a scratch context of their
//! own (own block map, own inode tables, a reporter that only notes that
//! something was said), reading a second, thread-safe handle on the image
//! ([`SharedDevice`]); the calling thread takes the groups in order and
//!
//! - merges a group that said nothing, wrote nothing and claims no
//!   fragment already claimed (by metadata or an earlier group): its
//!   inode tables, directories, counts and fragments go into the check's
//!   state as the sequential code would have left them;
//! - checks any other group again on the calling thread with the same
//!   code, in the check's own context: findings, questions, repairs and
//!   `DUP`s come out exactly as in a run on one thread.
//!
//! A worker's reads see the image as it was before phase 1; once a repair
//! has staged a write, every later group is checked again on the calling
//! thread, which reads through the repairs. Workers run at most one group
//! more than their number ahead of the merge. A merged group's inode
//! table is the vector its worker filled, taken over, not copied: a group
//! in flight costs only what it will cost in the check's tables anyway.

use super::report::{Answer, Finding, Reporter};
use super::state::{BlockMap, CgTables, Ctx, DirInfo};
use super::{pass1, AnswerMode, FsckOptions, Phase};
use crate::io::{Device, Overlay};
use crate::superblock::Geometry;
use std::collections::BTreeMap;
use std::sync::{mpsc, Arc, Condvar, Mutex, PoisonError};

/// A thread-safe handle on an image, for phase 1's workers (shared, so
/// options stay cheap to clone).
#[derive(Clone)]
pub struct SharedDevice(pub Arc<dyn Device + Send + Sync>);

impl std::fmt::Debug for SharedDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedDevice(..)")
    }
}

/// The number of threads `jobs: 0` means: the available cores, at most
/// four (phase 1 of a 1,000,000-file image is a few hundred milliseconds
/// of CPU; past four workers the merge on the calling thread is the
/// limit), and one for a file system of fewer than 65,536 inodes or a
/// single group, where starting threads costs more than it saves.
pub fn auto_jobs(geo: &Geometry) -> usize {
    let inodes = u64::from(geo.ncg) * u64::from(geo.ipg);
    if geo.ncg < 2 || inodes < 65_536 {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Whether phase 1 runs on several threads, reading what, with how many.
/// `reader`: the check's second handle on the same image, if any.
/// `reading_ahead`: a thread reads the inode tables ahead (a cold cache).
/// It holds a core of its own, and phase 1 then waits for the disk more
/// than for the CPU: `jobs: 0` leaves that core to it (on two cores, one
/// checking thread: cold, one was as fast as two or faster in every
/// bench run, docs/performance.md).
pub(super) fn plan<'a>(
    ctx: &Ctx<'a>,
    reader: Option<&'a SharedDevice>,
    reading_ahead: bool,
) -> Option<(&'a (dyn Device + Send + Sync), usize)> {
    let reader = reader?;
    let jobs = match ctx.opts.jobs {
        0 if reading_ahead => auto_jobs(&ctx.geo).saturating_sub(1).max(1),
        0 => auto_jobs(&ctx.geo),
        n => n,
    };
    (jobs > 1 && ctx.geo.ncg > 1).then_some((&*reader.0, jobs))
}

/// A worker's reporter: remembers only that something was said.
#[derive(Default)]
struct Quiet {
    spoke: bool,
}

impl Reporter for Quiet {
    fn phase(&mut self, _: Phase) {}
    fn finding(&mut self, _: &Finding, _: Option<Answer>) {
        self.spoke = true;
    }
    fn note(&mut self, _: &str) {
        self.spoke = true;
    }
}

/// What checking one group alone left, when it said and wrote nothing.
struct Quiet1 {
    tables: CgTables,
    /// The fragments its inodes claim, as nonzero block-map words.
    words: Vec<(usize, u64)>,
    dirs: Vec<DirInfo>,
    n_files: u64,
    n_blks: u64,
    countdirs: u64,
    mem_used: u64,
    cg_inited: Option<u32>,
}

/// Which groups workers may take: the next one, and how far the merge is.
struct Gate {
    next: u32,
    merged: u32,
    stop: bool,
}

/// What a worker shares with the others.
struct Shared<'a> {
    reader: &'a (dyn Device + Send + Sync),
    geo: Geometry,
    sb: crate::Superblock,
    opts: FsckOptions,
    mode: AnswerMode,
    now: i64,
    hint_reads: bool,
    window: u32,
    gate: Mutex<Gate>,
    turn: Condvar,
}

/// Phase 1 with `jobs` workers reading `reader` (see the module comment).
pub(super) fn pass1(ctx: &mut Ctx<'_>, reader: &(dyn Device + Send + Sync), jobs: usize) {
    pass1::mark_metadata(ctx);
    let ncg = ctx.geo.ncg;
    let sh = Shared {
        reader,
        geo: (*ctx.geo).clone(),
        sb: ctx.sb.clone(),
        // Workers tell no one about progress and never stop for memory
        // (the merge charges what they used, in order).
        opts: FsckOptions {
            progress: None,
            max_memory: None,
            reader: None,
            jobs: 1,
            ..ctx.opts.clone()
        },
        mode: ctx.mode,
        now: ctx.now,
        hint_reads: ctx.hint_reads,
        // One group past the workers': enough to keep them busy while the
        // merge takes the next, and each group held costs its tables.
        window: u32::try_from(jobs.saturating_add(1)).unwrap_or(u32::MAX),
        gate: Mutex::new(Gate {
            next: 0,
            merged: 0,
            stop: false,
        }),
        turn: Condvar::new(),
    };
    let (tx, rx) = mpsc::channel::<(u32, Option<Quiet1>)>();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let sh = &sh;
            s.spawn(move || worker(sh, ncg, &tx));
        }
        drop(tx);
        let mut early: BTreeMap<u32, Option<Quiet1>> = BTreeMap::new();
        let mut workers_gone = false;
        for c in 0..ncg {
            let got = loop {
                if let Some(g) = early.remove(&c) {
                    break g;
                }
                if workers_gone {
                    break None;
                }
                match rx.recv() {
                    Ok((k, g)) => {
                        early.insert(k, g);
                    }
                    Err(_) => workers_gone = true,
                }
            };
            let merged = got.is_some_and(|g| merge(ctx, c, g));
            if !merged {
                pass1::pass1_groups(ctx, c..c + 1);
            }
            let mut gate = sh.gate.lock().unwrap_or_else(PoisonError::into_inner);
            gate.merged = c + 1;
            gate.stop = ctx.over_limit.is_some();
            drop(gate);
            sh.turn.notify_all();
            if ctx.over_limit.is_some() {
                break;
            }
        }
        sh.gate.lock().unwrap_or_else(PoisonError::into_inner).stop = true;
        sh.turn.notify_all();
    });
}

/// Takes groups in order, at most `window` ahead of the merge, and sends
/// what checking each alone found.
fn worker(sh: &Shared<'_>, ncg: u32, tx: &mpsc::Sender<(u32, Option<Quiet1>)>) {
    let geo = std::rc::Rc::new(sh.geo.clone());
    // The block maps, reused from group to group: sparse, they hold only
    // the pages of the group being checked (a whole-file-system pair per
    // worker ended up resident: each worker's groups claim fragments all
    // over the image over a run).
    let mut maps = None;
    loop {
        let c = {
            let mut gate = sh.gate.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if gate.stop || gate.next >= ncg {
                    return;
                }
                if gate.next < gate.merged.saturating_add(sh.window) {
                    break;
                }
                gate = sh.turn.wait(gate).unwrap_or_else(PoisonError::into_inner);
            }
            gate.next += 1;
            gate.next - 1
        };
        // A panic must not leave the merge waiting for this group: it is
        // then checked on the calling thread, which fails as one thread
        // would.
        let alone = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check_alone(sh, &geo, c, &mut maps)
        }));
        if tx.send((c, alone.unwrap_or(None))).is_err() {
            return;
        }
    }
}

/// Checks group `c` in a scratch context; `None` when it said or wrote
/// anything (the merge then checks it again, in order).
/// `maps`: the worker's empty block maps to use, and where they are left
/// empty again for the next group.
fn check_alone(
    sh: &Shared<'_>,
    geo: &std::rc::Rc<Geometry>,
    c: u32,
    maps: &mut Option<(BlockMap, BlockMap)>,
) -> Option<Quiet1> {
    let ov = Overlay::new(sh.reader);
    let mut quiet = Quiet::default();
    let empty = maps.take().unwrap_or_else(|| {
        let n = super::map_frags(geo);
        (BlockMap::sparse(n), BlockMap::sparse(n))
    });
    let mut x = super::new_ctx(
        &ov,
        geo.clone(),
        sh.sb.clone(),
        &sh.opts,
        &mut quiet,
        sh.mode,
        sh.now,
        Some(empty),
    );
    x.cur_phase = Phase::Pass1;
    x.hint_reads = sh.hint_reads;
    for _ in 0..c {
        x.ino.push_cg(0);
    }
    pass1::pass1_groups(&mut x, c..c + 1);
    let silent = !x.stopped
        && !x.rerun
        && x.nproblems == 0
        && x.over_limit.is_none()
        && x.duplist.is_empty()
        && x.no_clone.is_empty()
        && x.partial.is_empty()
        && x.pending_zap.is_empty()
        && x.rebuild_cg.is_empty();
    let words = x.bmap.nonzero_words();
    let freed = x.freed.nonzero_words();
    x.bmap.clear_words(&words);
    x.freed.clear_words(&freed);
    let r = Quiet1 {
        tables: std::mem::take(&mut x.ino).into_last_cg(),
        words,
        dirs: std::mem::take(&mut x.dirs),
        n_files: x.n_files,
        n_blks: x.n_blks,
        countdirs: x.countdirs,
        mem_used: x.mem_used,
        cg_inited: x.cg_inited.get(&c).copied(),
    };
    *maps = Some((
        std::mem::replace(&mut x.bmap, BlockMap::new(0)),
        std::mem::replace(&mut x.freed, BlockMap::new(0)),
    ));
    drop(x);
    (silent && !quiet.spoke && ov.is_clean()).then_some(r)
}

/// Puts group `c`'s results into the check's state, as checking it there
/// would have; false (nothing changed) when that cannot be known: a
/// repair was staged since the workers read the image, the group claims
/// a fragment already claimed, or the memory limit would be passed.
fn merge(ctx: &mut Ctx<'_>, c: u32, g: Quiet1) -> bool {
    if !ctx.ov.is_clean() || ctx.ino.count(c) != 0 || ctx.over_limit.is_some() {
        return false;
    }
    let used = ctx.mem_used.saturating_add(g.mem_used);
    if ctx.opts.max_memory.is_some_and(|l| used > l) || !ctx.bmap.merge_words(&g.words) {
        return false;
    }
    let ncg = u64::from(ctx.geo.ncg);
    ctx.progress(1, u64::from(c), ncg);
    ctx.mem_used = used;
    ctx.ino.push_cg_from(g.tables);
    for d in g.dirs {
        ctx.dir_index.insert(d.ino, ctx.dirs.len());
        ctx.dirs.push(d);
    }
    ctx.n_files += g.n_files;
    ctx.n_blks += g.n_blks;
    ctx.countdirs += g.countdirs;
    if let Some(n) = g.cg_inited {
        ctx.cg_inited.insert(c, n);
    }
    true
}
