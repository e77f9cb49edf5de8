//! Phase 2 on several threads ([`super::FsckOptions::jobs`]).
//!
//! Walking a directory's blocks (reading them, checking each entry's
//! record length, name and type, `fsck_readdir()`'s salvage, the shape of
//! `.` and `..`) needs nothing from the check's state: only what the
//! entries name does (states, types and link counts in the inode tables,
//! which the checking thread changes entry by entry, and the parents of
//! directories). So workers walk batches of directories ahead, in scan
//! order, with the unchanged walk (`pass2::readdir`) on their own handle
//! on the image, and hand back per directory either its entries (inode,
//! type, name: [`pass2::Clean`]) or nothing: the walk would have said
//! something, or the directory is out of the ordinary (a hole, a block
//! out of range, `.` or `..` to be moved or asked about, very large).
//! The calling thread takes the directories in order, as one thread
//! would, and checks what each entry names with the normal code
//! (`pass2::chk2`, through `pass2::check_dir`), walking with the normal
//! code (`pass2::scan_dir`) every directory the walk handed nothing for:
//! findings, questions, link counts and repairs come out as in a run on
//! one thread. Workers read no
//! inode table, so the tables are neither copied nor shared.
//!
//! A worker's reads see the image as it was before phase 2; once a repair
//! has staged a write, the workers stop and every later directory is
//! walked on the calling thread by `scan_dir`, which reads through the
//! repairs. When the batch it needs next is not yet taken, the calling
//! thread walks it itself, the same way; when it is taken but not
//! finished, it walks a later one ahead meanwhile, so that neither thread
//! waits while the other works. At most a few batches of a few tens of
//! KiB of directories each are in flight.

use super::pass2::{self, Clean};
use super::state::Ctx;
use crate::io::Device;
use crate::superblock::Geometry;
use std::collections::BTreeMap;
use std::sync::{mpsc, Condvar, Mutex, PoisonError};

/// Directory bytes per batch: large enough that taking a batch costs
/// nothing next to walking it, small enough that a few in flight stay
/// far below the memory goal (what is handed back is about the size of
/// the directories walked).
const BATCH_BYTES: u64 = 32 * 1024;

/// Which batches are taken, and how far the calling thread is.
struct Gate {
    next: usize,
    merged: usize,
    stop: bool,
}

/// What the workers share.
struct Shared<'a> {
    reader: &'a (dyn Device + Send + Sync),
    geo: Geometry,
    /// Every directory of the scan list: number and size.
    dirs: Vec<(u32, u64)>,
    /// Batch `b` is `dirs[bounds[b]..bounds[b + 1]]`.
    bounds: Vec<usize>,
    /// Batches that may be taken past the calling thread's.
    window: usize,
    gate: Mutex<Gate>,
    turn: Condvar,
}

impl Shared<'_> {
    fn batches(&self) -> usize {
        self.bounds.len().saturating_sub(1)
    }

    /// Takes the next batch if it is within the window (waiting for room
    /// when `wait`); None when there is none to take.
    fn take(&self, wait: bool) -> Option<usize> {
        let mut gate = self.gate.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if gate.stop || gate.next >= self.batches() {
                return None;
            }
            if gate.next < gate.merged.saturating_add(self.window) {
                break;
            }
            if !wait {
                return None;
            }
            gate = self.turn.wait(gate).unwrap_or_else(PoisonError::into_inner);
        }
        gate.next += 1;
        Some(gate.next - 1)
    }

    /// Walks batch `b`: per directory, what [`pass2::prescan`] found.
    fn walk(&self, b: usize, buf: &mut Vec<u8>) -> Vec<Option<Clean>> {
        let range = self.bounds[b]..self.bounds[b + 1];
        // A panic leaves the batch to the calling thread, which then fails
        // as one thread would.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.dirs[range]
                .iter()
                .map(|&(ino, isize)| pass2::prescan(self.reader, &self.geo, ino, isize, buf))
                .collect()
        }))
        .unwrap_or_default()
    }

    /// Tells the workers the calling thread is done with batch `b`, and
    /// whether they should stop.
    fn merged(&self, b: usize, stop: bool) {
        let mut gate = self.gate.lock().unwrap_or_else(PoisonError::into_inner);
        gate.merged = b + 1;
        gate.stop |= stop;
        drop(gate);
        self.turn.notify_all();
    }
}

/// The directories' batches: consecutive directories of about
/// [`BATCH_BYTES`] together, as `bounds` (see [`Shared::bounds`]).
fn batch_bounds(dirs: &[(u32, u64)]) -> Vec<usize> {
    let mut bounds = vec![0];
    let mut bytes = 0u64;
    for (i, &(_, isize)) in dirs.iter().enumerate() {
        bytes = bytes.saturating_add(isize);
        if bytes >= BATCH_BYTES {
            bounds.push(i + 1);
            bytes = 0;
        }
    }
    if bounds.last() != Some(&dirs.len()) {
        bounds.push(dirs.len());
    }
    bounds
}

/// Phase 2's directories with `jobs - 1` workers reading `reader` (see
/// the module comment); returns whether the run stopped. `ahead` counts
/// the directories whose entries came from the walk ahead.
pub(super) fn check_dirs(
    ctx: &mut Ctx<'_>,
    reader: &(dyn Device + Send + Sync),
    jobs: usize,
    ahead: &mut u64,
) -> bool {
    let dirs: Vec<(u32, u64)> = ctx.dirs.iter().map(|d| (d.ino, d.isize)).collect();
    let bounds = batch_bounds(&dirs);
    if bounds.len() < 3 {
        // One batch: nothing to walk ahead.
        return (0..ctx.dirs.len()).any(|i| pass2::check_dir(ctx, i, None, ahead));
    }
    let sh = Shared {
        reader,
        geo: (*ctx.geo).clone(),
        dirs,
        bounds,
        window: jobs.saturating_add(1),
        gate: Mutex::new(Gate {
            next: 0,
            merged: 0,
            stop: false,
        }),
        turn: Condvar::new(),
    };
    let (tx, rx) = mpsc::channel::<(usize, Vec<Option<Clean>>)>();
    let mut stopped = false;
    std::thread::scope(|s| {
        for _ in 1..jobs {
            let tx = tx.clone();
            let sh = &sh;
            s.spawn(move || {
                let mut buf = Vec::new();
                while let Some(b) = sh.take(true) {
                    if tx.send((b, sh.walk(b, &mut buf))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut buf = Vec::new();
        let mut early: BTreeMap<usize, Vec<Option<Clean>>> = BTreeMap::new();
        let mut workers_gone = false;
        'batches: for b in 0..sh.batches() {
            let got = next_batch(&sh, b, &rx, &mut early, &mut workers_gone, &mut buf);
            for (k, i) in (sh.bounds[b]..sh.bounds[b + 1]).enumerate() {
                let pre = got.as_ref().and_then(|g| g.get(k)).and_then(Option::as_ref);
                if pass2::check_dir(ctx, i, pre, ahead) {
                    stopped = true;
                    break 'batches;
                }
            }
            // A staged repair makes what the workers read stale.
            sh.merged(b, !ctx.ov.is_clean());
        }
        sh.merged(sh.batches(), true);
    });
    stopped
}

/// What the walk of batch `b` found (None when a worker that took it is
/// gone). A batch not taken yet the calling thread walks itself, the same
/// way (so that every directory's entries come from the same walk,
/// whichever thread did it); while a worker walks it, the calling thread
/// walks a later batch.
fn next_batch(
    sh: &Shared<'_>,
    b: usize,
    rx: &mpsc::Receiver<(usize, Vec<Option<Clean>>)>,
    early: &mut BTreeMap<usize, Vec<Option<Clean>>>,
    workers_gone: &mut bool,
    buf: &mut Vec<u8>,
) -> Option<Vec<Option<Clean>>> {
    {
        let mut gate = sh.gate.lock().unwrap_or_else(PoisonError::into_inner);
        if gate.next <= b {
            gate.next = b + 1;
            drop(gate);
            return Some(sh.walk(b, buf));
        }
    }
    loop {
        if let Some(g) = early.remove(&b) {
            return Some(g);
        }
        if *workers_gone {
            return None;
        }
        match rx.try_recv() {
            Ok((k, g)) => {
                early.insert(k, g);
                continue;
            }
            Err(mpsc::TryRecvError::Disconnected) => {
                *workers_gone = true;
                continue;
            }
            Err(mpsc::TryRecvError::Empty) => {}
        }
        if let Some(c) = sh.take(false) {
            let g = sh.walk(c, buf);
            early.insert(c, g);
            continue;
        }
        match rx.recv() {
            Ok((k, g)) => {
                early.insert(k, g);
            }
            Err(_) => *workers_gone = true,
        }
    }
}
