//! Phase 1's inode tables read ahead on a cold cache, by a thread of its
//! own.
//!
//! Phase 1 looks at the inode tables in order, through maps of 1 MiB runs.
//! With the tables not yet in memory, the kernel's read-ahead then works
//! from the faults of the checking thread: that thread stops at each
//! missing page, spends its own time starting the reads, and the disk idles
//! while it checks what came in. Hinting each group's whole table as the
//! group began (one request of up to 31 MiB) kept the disk busy but out of
//! order: a 1,000,000-file UFS2 check waited 130 ms for group 0 while the
//! disk read all sixteen tables at once.
//!
//! This thread instead asks for the tables in the order phase 1 reads them,
//! in requests of [`CHUNK`] with at most [`DEPTH`] of them in flight, so
//! the disk reads ahead at its own pace, in order, while the checking
//! threads check. Only the tables: each directory's blocks were hinted
//! one request each as phase 1 met them, and at 1,000 directories those
//! small requests (each one a wake-up of the disk, a VM exit under a
//! hypervisor) cost more than phase 2 then waited for its reads (phase 2
//! hints its own directories, a batch at a time).
//!
//! Nothing here changes what the check reads or finds: the thread only
//! hints ([`Device::will_need`]) and reads a byte to wait, through a
//! handle of its own ([`super::FsckOptions::reader`]); the check reads the
//! same bytes with or without it.

use crate::cg::CylGroup;
use crate::io::Device;
use crate::superblock::Geometry;
use crate::units::{CgIdx, Ino};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Bytes asked for at once: the largest request this machine's disk takes
/// whole (virtio's `max_sectors_kb` is 4 MiB here).
const CHUNK: u64 = 4 << 20;

/// Requests in flight at most: 32 MiB ahead of the disk's progress keeps it
/// busy, and its reads near phase 1's order (docs/performance.md has the
/// figures).
const DEPTH: usize = 8;

/// Bytes of group blocks asked for ahead of the group whose table is next.
const CG_AHEAD: u64 = 8 << 20;

/// The thread reading ahead; dropping it stops the thread (after the
/// request it is making) and waits for it.
pub(super) struct ReadAhead {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // The thread only hints and reads: a panic there lost nothing.
            let _ = t.join();
        }
    }
}

/// What [`start`] decided.
pub(super) enum Start {
    /// The tables are in memory already: nothing to read ahead, and phase 1
    /// need not hint either.
    Warm,
    /// A thread reads the tables ahead; phase 1 need not hint them.
    Running(ReadAhead),
    /// No thread (no handle to give it, the device cannot say what is in
    /// memory, or the thread could not start): phase 1 hints as it goes.
    Off,
}

impl Start {
    /// Whether phase 1 is to hint its own reads: only with no thread doing
    /// it and a cache not known to be warm.
    pub(super) fn phase1_hints(&self) -> bool {
        matches!(self, Start::Off)
    }

    /// Whether a thread reads ahead.
    pub(super) fn running(&self) -> bool {
        matches!(self, Start::Running(_))
    }

    /// Stops the thread, if one runs, once phase 1 is over: by then it has
    /// asked for everything, or the check stopped early and what it still
    /// wanted is not needed.
    pub(super) fn finish(self) {
        if let Start::Running(r) = self {
            drop(r);
        }
    }
}

/// Groups whose first inode block [`start`] asks about at most.
const PROBES: u32 = 64;

/// Starts reading the inode tables of `geo` ahead through `dev`, unless
/// they are in memory already: the first inode block of every group (of
/// [`PROBES`] groups spread over a larger file system) is, as after a
/// check run again or an image just written. Not one group alone: the
/// check's setup may have read group 0's first block (the root inode),
/// and a block never written (a hole in a sparse image) reads without the
/// disk, so either says little about the rest.
pub(super) fn start(dev: Option<Arc<dyn Device + Send + Sync>>, geo: &Geometry) -> Start {
    let Some(dev) = dev else {
        return Start::Off;
    };
    let step = geo.ncg.div_ceil(PROBES).max(1);
    let mut warm = true;
    // The last group too, when the steps pass it by.
    let last = (!(geo.ncg - 1).is_multiple_of(step)).then_some(geo.ncg - 1);
    for c in (0..geo.ncg).step_by(step as usize).chain(last) {
        match dev.cached(geo.inode_offset(Ino(c * geo.ipg))) {
            Some(true) => {}
            Some(false) => {
                warm = false;
                break;
            }
            None => return Start::Off,
        }
    }
    if warm {
        return Start::Warm;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let geo = geo.clone();
    match std::thread::Builder::new()
        .name("ufs-fsck-ahead".into())
        .spawn(move || read_tables(&*dev, &geo, &flag))
    {
        Ok(t) => Start::Running(ReadAhead {
            stop,
            thread: Some(t),
        }),
        Err(_) => Start::Off,
    }
}

/// Hints every group's inode table as far as phase 1 reads it, in order,
/// [`DEPTH`] requests of [`CHUNK`] ahead of the disk, and each group's
/// block [`CG_AHEAD`] bytes of group blocks before its table.
fn read_tables(dev: &dyn Device, geo: &Geometry, stop: &AtomicBool) {
    read_tables_in(dev, geo, stop, CHUNK, DEPTH);
}

/// [`read_tables`] in requests of `chunk` bytes, `depth` of them in flight.
fn read_tables_in(dev: &dyn Device, geo: &Geometry, stop: &AtomicBool, chunk: u64, depth: usize) {
    // A group's block tells how much of its table is worth reading, and
    // this thread waits for it: asked for [`CG_AHEAD`] bytes of them
    // ahead (every group of the bench images: asking only a few groups
    // ahead left the 59-group one 15% slower cold), not all at once (a
    // 1.5 TiB file system has 98,000 of them, 3 GiB of group blocks).
    let cg_ahead = u32::try_from(CG_AHEAD / u64::from(geo.cgsize.max(1)))
        .unwrap_or(u32::MAX)
        .max(1);
    let hint_cg = |c: u32| {
        if c < geo.ncg {
            dev.will_need(geo.frag_offset(geo.cgtod(CgIdx(c))), u64::from(geo.cgsize));
        }
    };
    (0..cg_ahead).for_each(hint_cg);
    let isize = u64::from(geo.version.inode_size());
    // The last byte of each request in flight, oldest first.
    let mut flight = std::collections::VecDeque::with_capacity(depth);
    for c in 0..geo.ncg {
        hint_cg(c.saturating_add(cg_ahead));
        // As phase 1 does: a UFS2 group's table as far as its header says
        // inodes were initialized, every UFS1 inode. A header that cannot
        // be read or believed costs at most a table read for nothing.
        let n = CylGroup::read_unchecked(dev, geo, CgIdx(c))
            .ok()
            .map_or(geo.ipg, |g| g.initialized_inodes(geo.version));
        let mut at = geo.inode_offset(Ino(c * geo.ipg));
        let end = at + u64::from(n) * isize;
        while at < end {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            if flight.len() >= depth {
                // Waits for the oldest request: a read of its last byte
                // waits for the read the hint started.
                let last = flight.pop_front().unwrap_or(at);
                let _ = dev.read_at(last, &mut [0u8; 1]);
            }
            let len = chunk.min(end - at);
            dev.will_need(at, len);
            flight.push_back(at + len - 1);
            at += len;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::newfs::NewfsOptions;
    use crate::UfsVersion;
    use std::sync::Mutex;

    /// An image in memory that records what is asked of it and says
    /// whether its pages are in memory as told.
    struct Recorder {
        img: Vec<u8>,
        cached: Option<bool>,
        // (offset, length, hint rather than read)
        log: Mutex<Vec<(u64, u64, bool)>>,
    }

    impl Device for Recorder {
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
            self.log
                .lock()
                .unwrap()
                .push((offset, buf.len() as u64, false));
            self.img.read_at(offset, buf)
        }
        fn write_at(&mut self, _: u64, _: &[u8]) -> std::io::Result<()> {
            unreachable!("read-ahead never writes")
        }
        fn len(&self) -> u64 {
            self.img.len() as u64
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
        fn will_need(&self, offset: u64, len: u64) {
            self.log.lock().unwrap().push((offset, len, true));
        }
        fn cached(&self, _: u64) -> Option<bool> {
            self.cached
        }
    }

    fn image(version: UfsVersion, cached: Option<bool>) -> (Arc<Recorder>, Geometry) {
        let o = NewfsOptions {
            version,
            bsize: Some(4096),
            fsize: Some(512),
            ..NewfsOptions::freebsd_12_1()
        };
        let img = crate::newfs::in_memory(16 << 20, &o).unwrap();
        let geo = crate::superblock::Superblock::find(&img).unwrap().1;
        let rec = Recorder {
            img,
            cached,
            log: Mutex::default(),
        };
        (Arc::new(rec), geo)
    }

    /// The byte ranges of the inode tables phase 1 reads, in its order.
    fn tables(dev: &Recorder, geo: &Geometry) -> Vec<(u64, u64)> {
        let isize = u64::from(geo.version.inode_size());
        (0..geo.ncg)
            .map(|c| {
                let g = CylGroup::read_unchecked(&dev.img, geo, CgIdx(c)).unwrap();
                let n = u64::from(g.initialized_inodes(geo.version));
                (geo.inode_offset(Ino(c * geo.ipg)), n * isize)
            })
            .collect()
    }

    /// Every group block is hinted first; then the tables, in phase 1's
    /// order, in requests of at most `chunk` that together are exactly the
    /// tables; before each request past the first `depth`, a one-byte read
    /// of the last byte of the oldest request in flight.
    #[test]
    fn tables_asked_for_in_order_a_few_requests_ahead() {
        for version in [UfsVersion::Ufs1, UfsVersion::Ufs2] {
            let (dev, geo) = image(version, Some(false));
            assert!(geo.ncg >= 3, "several groups");
            let (chunk, depth) = (16 << 10, 3);
            read_tables_in(&*dev, &geo, &AtomicBool::new(false), chunk, depth);
            let log = dev.log.lock().unwrap().clone();
            // Group blocks: each hinted, in order, before it is read.
            let cgsize = u64::from(geo.cgsize);
            let cg_at = |c: u32| geo.frag_offset(geo.cgtod(CgIdx(c)));
            let hinted: Vec<usize> = (0..geo.ncg)
                .map(|c| {
                    let at = cg_at(c);
                    let pos = |h: bool| log.iter().position(|e| *e == (at, cgsize, h));
                    let (h, r) = (pos(true).unwrap(), pos(false).unwrap());
                    assert!(h < r, "group {c}'s block hinted before it is read");
                    h
                })
                .collect();
            assert!(hinted.windows(2).all(|w| w[0] < w[1]), "in order");
            let mut flight = std::collections::VecDeque::new();
            let mut asked: Vec<(u64, u64)> = Vec::new();
            let cgs: Vec<u64> = (0..geo.ncg).map(cg_at).collect();
            for &(off, len, hint) in &log {
                if len == cgsize && cgs.contains(&off) {
                    continue;
                }
                match (hint, len) {
                    (true, _) => {
                        assert!(len <= chunk && len > 0, "request of {len}");
                        assert!(flight.len() < depth, "{depth} requests in flight already");
                        flight.push_back(off + len - 1);
                        match asked.last_mut() {
                            Some((s, l)) if *s + *l == off => *l += len,
                            _ => asked.push((off, len)),
                        }
                    }
                    (false, 1) => assert_eq!(Some(off), flight.pop_front(), "waits for the oldest"),
                    other => panic!("unexpected request {other:?} at {off}"),
                }
            }
            // Tables that touch on disk join into one range: compare
            // byte ranges, not requests.
            let mut want: Vec<(u64, u64)> = Vec::new();
            for (s, l) in tables(&dev, &geo) {
                match want.last_mut() {
                    Some((ws, wl)) if *ws + *wl == s => *wl += l,
                    _ => want.push((s, l)),
                }
            }
            assert_eq!(asked, want, "{version:?}");
        }
    }

    /// A stopped thread asks for no table.
    #[test]
    fn a_stopped_thread_asks_for_nothing_more() {
        let (dev, geo) = image(UfsVersion::Ufs2, Some(false));
        read_tables_in(&*dev, &geo, &AtomicBool::new(true), CHUNK, DEPTH);
        let log = dev.log.lock().unwrap();
        // The first groups' blocks (all of them, in so small a file
        // system), no table.
        let cgs = geo.ncg as usize;
        assert!(log.iter().all(|e| e.1 == u64::from(geo.cgsize)));
        assert_eq!(log.iter().filter(|e| e.2).count(), cgs);
    }

    /// A thread starts only when the tables are known not to be in memory,
    /// and then reads ahead; dropping it waits for it.
    #[test]
    fn starts_only_on_a_cold_cache() {
        let (dev, geo) = image(UfsVersion::Ufs2, Some(true));
        assert!(matches!(start(Some(dev.clone()), &geo), Start::Warm));
        assert!(dev.log.lock().unwrap().is_empty());
        let (dev, geo) = image(UfsVersion::Ufs2, None);
        assert!(start(Some(dev.clone()), &geo).phase1_hints());
        assert!(start(None, &geo).phase1_hints());
        let (dev, geo) = image(UfsVersion::Ufs2, Some(false));
        let s = start(Some(dev.clone()), &geo);
        assert!(s.running() && !s.phase1_hints());
        let want: u64 = tables(&dev, &geo).iter().map(|t| t.1).sum::<u64>()
            + u64::from(geo.ncg) * u64::from(geo.cgsize);
        let asked = || -> u64 {
            let log = dev.log.lock().unwrap();
            log.iter().filter(|e| e.2).map(|e| e.1).sum()
        };
        // Not stopped before it is done (finish() would stop it).
        let t0 = std::time::Instant::now();
        while asked() < want && t0.elapsed().as_secs() < 20 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        s.finish();
        assert_eq!(asked(), want);
    }
}
