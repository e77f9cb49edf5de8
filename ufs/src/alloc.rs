//! Allocation of inodes, blocks and fragments, and the one owner of every
//! free-space count.
//!
//! UFS keeps the same facts in several places: each cylinder group's bitmaps
//! (`cg_inosused`, `cg_blksfree`, `cg_clustersfree`), its counts (`cg_cs`,
//! `cg_frsum`, the cluster summary), the summary area (`fs_cs(cg)`) and the
//! superblock totals (`fs_cstotal`, and `fs_old_cstotal` for UFS1). Getting
//! any of them out of step is an fsck finding. Here the bitmaps are the
//! truth: allocation changes bits and keeps running per-group counts for
//! its own decisions, and [`Allocator::flush`] derives every persisted count
//! (frsum, cluster map and sums, `cg_cs`, the summary area, the superblock
//! totals) from the bitmaps in one function, [`recount`], the same way
//! fsck's pass 5 does (`ffs_fragacct`, `ffs_clusteracct` in ffs_subr.c).
//!
//! Policies, simplified from ffs_alloc.c: a new directory goes to the group
//! with the fewest directories among those with at least the average number
//! of free inodes and blocks (`ffs_dirpref`); other inodes go in their
//! parent's group; data blocks follow the previous block of the file
//! (contiguity), falling back to the inode's group and then the others in
//! turn (`ffs_hashalloc`); small tails get fragments taken from partly used
//! blocks first.

use crate::cg::CylGroup;
use crate::counts::{self, BlockState};
use crate::error::{Error, Location, Result};
use crate::io::{self, Device};
use crate::ondisk::Csum;
use crate::superblock::{Geometry, Superblock, Totals, UfsVersion};
use crate::units::{CgIdx, Frag, Ino};
use std::collections::{BTreeSet, HashMap};

/// In-memory allocation state of a writable file system.
#[derive(Debug)]
pub struct Allocator {
    cgs: HashMap<u32, CylGroup>,
    dirty: BTreeSet<u32>,
    /// Per-group counts, kept current for allocation decisions.
    sums: Vec<Csum>,
    /// Per group, search start -> hint: no wholly free block lies between
    /// the start and the hint. Searches start at a few places (the metadata
    /// and data zones, a failed contiguity preference), so this stays
    /// small, and it keeps a search from rescanning the full part of a
    /// group every time.
    block_hints: Vec<HashMap<u64, u64>>,
    /// Per group and run length n: no block below has a free run of n.
    frag_hint: Vec<[u64; 8]>,
    /// Per loaded group: free runs of each length in partly used blocks
    /// (`cg_frsum`, kept current), so a fragment search can tell at once
    /// that no run is long enough instead of scanning the group.
    frsum: HashMap<u32, [i64; 8]>,
    rng: u64,
    /// Leave `cg_time` alone on flush (libufs's `cgwrite`, which tunefs
    /// uses, does not set it; the kernel does).
    keep_cg_times: bool,
    /// Where allocation must stay below (a shrink moving data out of the
    /// groups it removes): nothing is taken from group `ncg` on, nor from
    /// a block reaching past fragment `end`.
    fence: Option<Fence>,
}

/// The part of the file system allocation may use: groups below `ncg`,
/// blocks wholly below fragment `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fence {
    /// Groups allocation may use.
    pub ncg: u32,
    /// First fragment allocation may not use.
    pub end: u64,
}

impl Allocator {
    /// Loads the summary area. Groups are read on first use.
    pub fn new(dev: &dyn Device, geo: &Geometry, seed: u64) -> Result<Allocator> {
        let len = geo.ncg as usize * Csum::SIZE;
        let mut buf = vec![0u8; len];
        io::read_exact(dev, geo.frag_offset(Frag(geo.csaddr)), &mut buf)?;
        let sums = buf
            .chunks_exact(Csum::SIZE)
            .filter_map(|c| Csum::decode(c, geo.endian))
            .collect();
        let n = geo.ncg as usize;
        Ok(Allocator {
            cgs: HashMap::new(),
            dirty: BTreeSet::new(),
            sums,
            block_hints: vec![HashMap::new(); n],
            frag_hint: vec![[0; 8]; n],
            frsum: HashMap::new(),
            rng: seed | 1,
            keep_cg_times: false,
            fence: None,
        })
    }

    /// Keeps every later allocation inside `fence` (the groups a shrink
    /// keeps); the blocks and inodes past it are never handed out again.
    pub fn set_fence(&mut self, fence: Fence) {
        self.fence = Some(fence);
    }

    /// Groups allocation may take from.
    fn usable_groups(&self, geo: &Geometry) -> u32 {
        self.fence.map_or(geo.ncg, |f| f.ncg.min(geo.ncg))
    }

    /// Makes [`Allocator::flush`] keep each group's `cg_time`, as libufs
    /// (tunefs) does.
    pub fn keep_cg_times(&mut self) {
        self.keep_cg_times = true;
    }

    /// A pseudo-random generation number (xorshift; seeded for reproducible
    /// images).
    pub fn next_gen(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x >> 32) as u32 | 1
    }

    fn cg_mut(&mut self, dev: &dyn Device, geo: &Geometry, c: u32) -> Result<&mut CylGroup> {
        match self.cgs.entry(c) {
            std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(v) => {
                let cg = CylGroup::read(dev, geo, CgIdx(c))?;
                let counts = counts::group_counts(|n| cg.frag_free(n), cg.nfrags(), geo.frag, 0);
                self.frsum.insert(c, counts.frsum.map(i64::from));
                Ok(v.insert(cg))
            }
        }
    }

    /// Per-group counts as currently known.
    pub fn summary(&self, c: u32) -> Option<&Csum> {
        self.sums.get(c as usize)
    }

    // ---- inodes ----------------------------------------------------------

    /// Picks a group for a new directory (`ffs_dirpref`, simplified).
    pub fn dir_cg(&self, geo: &Geometry, parent: Ino) -> u32 {
        let n = i64::try_from(self.sums.len().max(1)).unwrap_or(i64::MAX);
        let avg_i = self
            .sums
            .iter()
            .map(|s| i64::from(s.cs_nifree))
            .sum::<i64>()
            / n;
        let avg_b = self
            .sums
            .iter()
            .map(|s| i64::from(s.cs_nbfree))
            .sum::<i64>()
            / n;
        let start = geo.ino_to_cg(parent).0;
        let order = (0..geo.ncg).map(|i| (start + i) % geo.ncg);
        order
            .filter(|&c| {
                let s = &self.sums[c as usize];
                s.cs_nifree > 0
                    && i64::from(s.cs_nifree) >= avg_i
                    && i64::from(s.cs_nbfree) >= avg_b
            })
            .min_by_key(|&c| self.sums[c as usize].cs_ndir)
            .unwrap_or(start)
    }

    /// Allocates an inode, preferring group `pref`. Initializes UFS2 inode
    /// blocks lazily, as FreeBSD does (`cg_initediblk`).
    pub fn alloc_inode(
        &mut self,
        dev: &mut dyn Device,
        geo: &Geometry,
        pref: u32,
        is_dir: bool,
    ) -> Result<Ino> {
        let usable = self.usable_groups(geo);
        for i in 0..geo.ncg {
            let c = (pref + i) % geo.ncg;
            if c >= usable || self.sums[c as usize].cs_nifree <= 0 {
                continue;
            }
            if let Some(ino) = self.alloc_inode_in(dev, geo, c, is_dir)? {
                return Ok(ino);
            }
        }
        Err(Error::NoSpace("out of inodes".into()))
    }

    fn alloc_inode_in(
        &mut self,
        dev: &mut dyn Device,
        geo: &Geometry,
        c: u32,
        is_dir: bool,
    ) -> Result<Option<Ino>> {
        let version = geo.version;
        let ipg = geo.ipg;
        let cg = self.cg_mut(dev, geo, c)?;
        let start = cg.hdr.cg_irotor % ipg;
        // Inode 0 and 1 of group 0 are reserved (UFS_WINO and the unused 0).
        let first_free = (0..ipg)
            .map(|k| (start + k) % ipg)
            .find(|&n| !cg.inode_used(n) && (c != 0 || n >= crate::ondisk::consts::ROOTINO));
        let Some(n) = first_free else { return Ok(None) };
        cg.set_inode_used(n, true);
        cg.hdr.cg_irotor = n;
        let need_init = version == UfsVersion::Ufs2 && n >= cg.hdr.cg_initediblk;
        if is_dir {
            cg.hdr.cg_cs[0] += 1;
        }
        cg.hdr.cg_cs[2] -= 1;
        let ino = Ino(c * ipg + n);
        if need_init {
            self.init_inode_blocks(dev, geo, c, n)?;
        }
        let s = &mut self.sums[c as usize];
        s.cs_nifree -= 1;
        if is_dir {
            s.cs_ndir += 1;
        }
        self.dirty.insert(c);
        Ok(Some(ino))
    }

    /// Allocates the lowest free inode of group `c`, as libufs's `cgialloc`
    /// (tunefs's journal) does: the scan starts at the group's first inode
    /// whatever the rotor says, and leaves the rotor at the inode taken.
    pub fn alloc_lowest_inode_in(
        &mut self,
        dev: &mut dyn Device,
        geo: &Geometry,
        c: u32,
    ) -> Result<Option<Ino>> {
        self.cg_mut(dev, geo, c)?.hdr.cg_irotor = 0;
        self.alloc_inode_in(dev, geo, c, false)
    }

    /// Takes the lowest wholly free block of group `c`, as libufs's
    /// `cgballoc` (tunefs's journal) does; `None` when the group has none.
    pub fn take_lowest_block_in(
        &mut self,
        dev: &dyn Device,
        geo: &Geometry,
        c: u32,
    ) -> Result<Option<Frag>> {
        let frag = geo.frag;
        let cg = self.cg_mut(dev, geo, c)?;
        let nblocks = cg.nfrags() / u64::from(frag);
        let Some(b) = (0..nblocks).find(|&b| cg.block_free(b)) else {
            return Ok(None);
        };
        let addr = Frag(geo.cgbase(CgIdx(c)).0 + b * u64::from(frag));
        self.set_frags(dev, geo, addr, frag, false)?;
        Ok(Some(addr))
    }

    /// Zeroes UFS2 inode blocks up to and including the one holding inode
    /// `n` of group `c`, giving each inode a generation number.
    fn init_inode_blocks(
        &mut self,
        dev: &mut dyn Device,
        geo: &Geometry,
        c: u32,
        n: u32,
    ) -> Result<()> {
        let inopb = geo.inopb;
        let mut done = self.cg_mut(dev, geo, c)?.hdr.cg_initediblk;
        while done <= n && done < geo.ipg {
            let mut block = vec![0u8; geo.bsize as usize];
            for k in 0..inopb {
                let gen = self.next_gen();
                let off = (k * geo.version.inode_size() + 80) as usize;
                crate::ondisk::wire::put_u32(&mut block[off..], geo.endian, gen);
            }
            let first = Ino(c * geo.ipg + done);
            io::write_all(dev, geo.inode_offset(first), &block)?;
            done += inopb;
        }
        self.cg_mut(dev, geo, c)?.hdr.cg_initediblk = done.min(geo.ipg);
        Ok(())
    }

    /// Frees an inode.
    pub fn free_inode(
        &mut self,
        dev: &dyn Device,
        geo: &Geometry,
        ino: Ino,
        was_dir: bool,
    ) -> Result<()> {
        let c = geo.ino_to_cg(ino).0;
        let n = ino.0 % geo.ipg;
        let cg = self.cg_mut(dev, geo, c)?;
        if !cg.inode_used(n) {
            return Err(Error::corrupt(
                crate::CorruptKind::BadInode,
                Location::Inode(ino),
                "freeing an inode that is already free",
            ));
        }
        cg.set_inode_used(n, false);
        cg.hdr.cg_cs[2] += 1;
        if was_dir {
            cg.hdr.cg_cs[0] -= 1;
        }
        let s = &mut self.sums[c as usize];
        s.cs_nifree += 1;
        if was_dir {
            s.cs_ndir -= 1;
        }
        self.dirty.insert(c);
        Ok(())
    }

    // ---- blocks and fragments -------------------------------------------

    /// State of block `b` of a group.
    fn block_state(cg: &CylGroup, frag: u32, b: u64) -> BlockState {
        counts::block_state(|n| cg.frag_free(n), cg.nfrags(), frag, b)
    }

    /// Adds `sign` times block `b`'s free runs to `sum` (`ffs_fragacct`).
    fn add_runs(sum: &mut [i64; 8], cg: &CylGroup, frag: u32, b: u64, sign: i64) {
        counts::fragacct(sum, |n| cg.frag_free(n), cg.nfrags(), frag, b, sign);
    }

    /// Applies the count change of one block going from `before` to
    /// `after` (the only place the running nbfree/nffree move).
    // Free fragments of one block: at most frag (8), so the casts fit.
    #[allow(clippy::cast_possible_wrap)]
    fn account(&mut self, c: u32, before: BlockState, after: BlockState) {
        let s = &mut self.sums[c as usize];
        if before.whole {
            s.cs_nbfree -= 1;
        } else {
            s.cs_nffree -= before.free as i32;
        }
        if after.whole {
            s.cs_nbfree += 1;
        } else {
            s.cs_nffree += after.free as i32;
        }
        self.dirty.insert(c);
    }

    /// Marks `n` fragments from `addr` used (`free == false`) or free.
    fn set_frags(
        &mut self,
        dev: &dyn Device,
        geo: &Geometry,
        addr: Frag,
        n: u32,
        free: bool,
    ) -> Result<()> {
        let c = geo.dtog(addr).0;
        let rel = geo.dtogd(addr);
        let frag = geo.frag;
        let b = rel / u64::from(frag);
        let cg = self.cg_mut(dev, geo, c)?;
        let before = Self::block_state(cg, frag, b);
        let mut delta = [0i64; 8];
        Self::add_runs(&mut delta, cg, frag, b, -1);
        for i in 0..u64::from(n) {
            if cg.frag_free(rel + i) == free {
                return Err(Error::corrupt(
                    crate::CorruptKind::BadBlockPointer,
                    Location::CylGroup(CgIdx(c)),
                    format!(
                        "fragment {} is already {}",
                        addr.0 + i,
                        if free { "free" } else { "in use" }
                    ),
                ));
            }
            cg.set_frag_free(rel + i, free);
        }
        let after = Self::block_state(cg, frag, b);
        cg.set_cluster_free(b, after.whole);
        Self::add_runs(&mut delta, cg, frag, b, 1);
        if let Some(sum) = self.frsum.get_mut(&c) {
            for (v, d) in sum.iter_mut().zip(delta) {
                *v += d;
            }
        }
        // Keep the search hints' promises: no wholly free block below
        // block_hint, no partly free one below frag_hint.
        if after.whole {
            for (&start, h) in self.block_hints[c as usize].iter_mut() {
                if start <= b && b < *h {
                    *h = b;
                }
            }
        } else if after.free > 0 {
            for h in &mut self.frag_hint[c as usize] {
                *h = (*h).min(b);
            }
        }
        self.account(c, before, after);
        Ok(())
    }

    /// Frees `n` fragments at `addr` (a whole block when `n == frag`).
    pub fn free(&mut self, dev: &dyn Device, geo: &Geometry, addr: Frag, n: u32) -> Result<()> {
        if !geo.frags_in_range(addr, u64::from(n)) {
            return Err(Error::InvalidInput(format!(
                "freeing fragments {}+{n} outside the file system",
                addr.0
            )));
        }
        self.set_frags(dev, geo, addr, n, true)
    }

    /// Marks `n` free fragments at `addr` (inside one block) used without
    /// searching: a place kept for something else (a shrink keeps where
    /// the summary area goes free of moved data).
    pub fn take(&mut self, dev: &dyn Device, geo: &Geometry, addr: Frag, n: u32) -> Result<()> {
        if !geo.frags_in_range(addr, u64::from(n)) {
            return Err(Error::InvalidInput(format!(
                "taking fragments {}+{n} outside the file system",
                addr.0
            )));
        }
        self.set_frags(dev, geo, addr, n, false)
    }

    /// Whether fragment `addr` is free as the allocator knows it now.
    pub fn is_free(&mut self, dev: &dyn Device, geo: &Geometry, addr: Frag) -> Result<bool> {
        let c = geo.dtog(addr).0;
        let rel = geo.dtogd(addr);
        Ok(self.cg_mut(dev, geo, c)?.frag_free(rel))
    }

    /// First fragment of the data area of group `c`; `meta` picks the
    /// metadata zone (directories, indirect blocks) over the data zone.
    pub fn zone_start(geo: &Geometry, metaspace: u64, c: u32, meta: bool) -> Frag {
        let dmin = geo.cgdmin(CgIdx(c)).0;
        if meta || metaspace == 0 {
            Frag(dmin)
        } else {
            Frag(dmin + metaspace)
        }
    }

    /// Allocates `n` fragments (`n == frag` for a whole block) near `pref`.
    pub fn alloc(&mut self, dev: &dyn Device, geo: &Geometry, pref: Frag, n: u32) -> Result<Frag> {
        let n = n.clamp(1, geo.frag);
        let pref = if geo.frags_in_range(pref, 1) {
            pref
        } else {
            Frag(0)
        };
        let pc = geo.dtog(pref).0;
        let usable = self.usable_groups(geo);
        for i in 0..geo.ncg {
            let c = (pc + i) % geo.ncg;
            if c >= usable {
                continue;
            }
            let s = &self.sums[c as usize];
            let have_block = s.cs_nbfree > 0;
            let have_frags = n < geo.frag && i64::from(s.cs_nffree) >= i64::from(n);
            if !have_block && !have_frags {
                continue;
            }
            let start = if c == pc { geo.dtogd(pref) } else { 0 };
            if let Some(addr) = self.find_in(dev, geo, c, start, n)? {
                self.set_frags(dev, geo, addr, n, false)?;
                return Ok(addr);
            }
        }
        Err(Error::NoSpace(format!("no room for {n} fragment(s)")))
    }

    fn find_in(
        &mut self,
        dev: &dyn Device,
        geo: &Geometry,
        c: u32,
        start: u64,
        n: u32,
    ) -> Result<Option<Frag>> {
        let frag = geo.frag;
        let f = u64::from(frag);
        let base = geo.cgbase(CgIdx(c)).0;
        let fh = self.frag_hint[c as usize][n.min(7) as usize];
        let mut nblocks = self.cg_mut(dev, geo, c)?.nfrags() / f;
        // Behind a fence only the blocks wholly below its end count.
        let fenced = self.fence.map(|fc| fc.end.saturating_sub(base) / f);
        if let Some(limit) = fenced {
            nblocks = nblocks.min(limit);
        }
        let cg = self.cgs.get(&c).ok_or_else(|| {
            Error::InvalidInput(format!("cylinder group {c} vanished from the cache"))
        })?;
        let first_b = (start / f).min(nblocks);
        let runs_exist = self
            .frsum
            .get(&c)
            .is_none_or(|sum| sum[n.min(7) as usize..].iter().any(|&k| k > 0));
        if n < frag && runs_exist {
            // The group's last block may be short; it can hold runs too.
            let all_blocks =
                fenced.map_or(cg.nfrags().div_ceil(f), |l| l.min(cg.nfrags().div_ceil(f)));
            let hit = Self::find_frag_run(cg, frag, fh, all_blocks, n);
            self.frag_hint[c as usize][n.min(7) as usize] = hit.map_or(all_blocks, |a| a / f);
            if let Some(a) = hit {
                return Ok(Some(Frag(base + a)));
            }
        }
        if self.sums[c as usize].cs_nbfree <= 0 {
            return Ok(None);
        }
        let hints = &mut self.block_hints[c as usize];
        Ok(Self::find_whole(cg, frag, first_b, hints, nblocks).map(|b| Frag(base + b * f)))
    }

    /// The lowest run of `n` free fragments inside a partly used block,
    /// searching from block `from` (a fragment offset within the group).
    fn find_frag_run(cg: &CylGroup, frag: u32, from: u64, nblocks: u64, n: u32) -> Option<u64> {
        let f = u64::from(frag);
        for b in from..nblocks {
            let st = Self::block_state(cg, frag, b);
            if st.whole || st.free < n {
                continue;
            }
            let mut run = 0;
            for i in 0..f {
                if cg.frag_free(b * f + i) {
                    run += 1;
                    if run == u64::from(n) {
                        return Some(b * f + i + 1 - u64::from(n));
                    }
                } else {
                    run = 0;
                }
            }
        }
        None
    }

    /// A wholly free block: `first_b` itself if free (contiguity with the
    /// caller's preference), else the first after it, else the first before
    /// it; `hints` remembers how far each search start is known to be full.
    fn find_whole(
        cg: &CylGroup,
        frag: u32,
        first_b: u64,
        hints: &mut HashMap<u64, u64>,
        nblocks: u64,
    ) -> Option<u64> {
        let whole = |b: u64| Self::block_state(cg, frag, b).whole;
        if first_b < nblocks && whole(first_b) {
            return Some(first_b);
        }
        if hints.len() > 4096 {
            // Many distinct starts: forget them rather than grow without bound.
            hints.clear();
        }
        let from = hints.get(&first_b).copied().unwrap_or(first_b).max(first_b);
        if let Some(b) = (from..nblocks).find(|&b| whole(b)) {
            hints.insert(first_b, b);
            return Some(b);
        }
        hints.insert(first_b, nblocks);
        let from0 = hints.get(&0).copied().unwrap_or(0);
        match (from0..first_b).find(|&b| whole(b)) {
            Some(b) => {
                hints.insert(0, b);
                Some(b)
            }
            None => {
                hints.insert(0, nblocks);
                None
            }
        }
    }

    /// Tries to grow the fragment run at `addr` from `old` to `new`
    /// fragments in place (the following fragments of the same block must be
    /// free). Returns whether it did.
    pub fn extend_in_place(
        &mut self,
        dev: &dyn Device,
        geo: &Geometry,
        addr: Frag,
        old: u32,
        new: u32,
    ) -> Result<bool> {
        let f = u64::from(geo.frag);
        if new <= old || (geo.dtogd(addr) % f) + u64::from(new) > f {
            return Ok(false);
        }
        if self
            .fence
            .is_some_and(|fc| addr.0 + u64::from(new) > fc.end || geo.dtog(addr).0 >= fc.ncg)
        {
            return Ok(false);
        }
        let c = geo.dtog(addr).0;
        let rel = geo.dtogd(addr);
        let cg = self.cg_mut(dev, geo, c)?;
        if !(u64::from(old)..u64::from(new)).all(|i| cg.frag_free(rel + i)) {
            return Ok(false);
        }
        self.set_frags(dev, geo, Frag(addr.0 + u64::from(old)), new - old, false)?;
        Ok(true)
    }

    // ---- writing back ----------------------------------------------------

    /// Recomputes and writes every changed group, the summary area and the
    /// superblock totals (into `sb`; the caller writes the superblock).
    pub fn flush(
        &mut self,
        dev: &mut dyn Device,
        geo: &Geometry,
        sb: &mut Superblock,
        now: i64,
    ) -> Result<()> {
        let dirty: Vec<u32> = std::mem::take(&mut self.dirty).into_iter().collect();
        for c in &dirty {
            let Some(cg) = self.cgs.get_mut(c) else {
                continue;
            };
            recount(cg, geo);
            match geo.version {
                _ if self.keep_cg_times => {}
                UfsVersion::Ufs2 => cg.hdr.cg_time = now,
                // UFS1's 32-bit field keeps the low bits, as in FreeBSD.
                #[allow(clippy::cast_possible_truncation)]
                UfsVersion::Ufs1 => cg.hdr.cg_old_time = now as i32,
            }
            let cs = cg.hdr.cg_cs;
            self.sums[*c as usize] = Csum {
                cs_ndir: cs[0],
                cs_nbfree: cs[1],
                cs_nifree: cs[2],
                cs_nffree: cs[3],
            };
            cg.write(dev, geo)?;
        }
        if !dirty.is_empty() {
            let mut buf = Vec::with_capacity(self.sums.len() * Csum::SIZE);
            for s in &self.sums {
                buf.extend_from_slice(&s.encode(geo.endian));
            }
            io::write_all(dev, geo.frag_offset(Frag(geo.csaddr)), &buf)?;
        }
        let mut t = [0i64; 4];
        for s in &self.sums {
            t[0] += i64::from(s.cs_ndir);
            t[1] += i64::from(s.cs_nbfree);
            t[2] += i64::from(s.cs_nifree);
            t[3] += i64::from(s.cs_nffree);
        }
        sb.set_totals(Totals::from_array(t));
        // Cluster totals live in the superblock too (cs_numclusters).
        Ok(())
    }
}

/// Derives a group's counts from its bitmaps: `cg_cs` (but `cs_ndir`, which
/// needs the inodes), `cg_frsum`, the cluster map and cluster summary, with
/// [`counts::group_counts`] (what fsck's pass 5 uses too).
pub fn recount(cg: &mut CylGroup, geo: &Geometry) {
    let got = counts::group_counts(
        |n| cg.frag_free(n),
        cg.nfrags(),
        geo.frag,
        geo.contigsumsize,
    );
    for b in 0..cg.nfrags() / u64::from(geo.frag) {
        cg.set_cluster_free(b, got.block_free(b));
    }
    let nifree = counts::free_inodes(|n| cg.inode_used(n), geo.ipg);
    cg.hdr.cg_cs[1] = counts::cs_count(got.nbfree);
    cg.hdr.cg_cs[2] = counts::cs_count(u64::from(nifree));
    cg.hdr.cg_cs[3] = counts::cs_count(got.nffree);
    cg.hdr.cg_frsum = got.frsum;
    if cg.has_clusters() {
        for (i, v) in got.clustersum.iter().enumerate().skip(1) {
            // i <= contigsumsize (at most FS_MAXCONTIG, 16).
            #[allow(clippy::cast_possible_truncation)]
            cg.set_cluster_sum(i as u32, geo.endian, *v);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::newfs::options::NewfsOptions;

    /// Group 1 of a fresh file system with its fragment map replaced by a
    /// hand-made one, recounted: every count `recount` writes is checked.
    fn recounted(version: UfsVersion) {
        let mut o = NewfsOptions::freebsd_12_1();
        o.version = version;
        let img = crate::newfs::in_memory(16 << 20, &o).unwrap();
        let (_, geo) = Superblock::find(&img).unwrap();
        assert_eq!(geo.frag, 8);
        assert!(geo.contigsumsize >= 2, "{}", geo.contigsumsize);
        let mut cg = CylGroup::read(&img, &geo, CgIdx(1)).unwrap();
        assert!(cg.has_clusters());
        for n in 0..cg.nfrags() {
            cg.set_frag_free(n, false);
        }
        // Blocks 10, 11 and 14 wholly free; block 12 has runs of 3 and 1.
        for n in (80..96).chain(112..120).chain([96, 97, 98, 100]) {
            cg.set_frag_free(n, true);
        }
        for n in 0..5 {
            cg.set_inode_used(n, true);
        }
        for n in 5..geo.ipg {
            cg.set_inode_used(n, false);
        }
        recount(&mut cg, &geo);
        assert_eq!(cg.hdr.cg_cs[1], 3, "nbfree");
        assert_eq!(
            cg.hdr.cg_cs[2],
            i32::try_from(geo.ipg).unwrap() - 5,
            "nifree"
        );
        assert_eq!(cg.hdr.cg_cs[3], 4, "nffree");
        assert_eq!(cg.hdr.cg_frsum, [0, 1, 0, 1, 0, 0, 0, 0]);
        let blocks = cg.nfrags() / 8;
        let free: Vec<u64> = (0..blocks).filter(|&b| cg.cluster_free(b)).collect();
        assert_eq!(free, vec![10, 11, 14]);
        let sums: Vec<u32> = (1..=geo.contigsumsize)
            .map(|i| cg.cluster_sum(i, geo.endian).unwrap())
            .collect();
        let mut want = vec![0u32; geo.contigsumsize as usize];
        want[0] = 1; // the run of one (block 14)
        want[1] = 1; // the run of two (blocks 10 and 11)
        assert_eq!(sums, want);
    }

    #[test]
    fn recount_ufs1() {
        recounted(UfsVersion::Ufs1);
    }

    #[test]
    fn recount_ufs2() {
        recounted(UfsVersion::Ufs2);
    }

    /// A fresh 16 MiB UFS2 file system (4 KiB fragments, 8 to a block)
    /// and an allocator on it.
    fn fresh() -> (Vec<u8>, Geometry, Allocator) {
        let img = crate::newfs::in_memory(16 << 20, &NewfsOptions::freebsd_12_1()).unwrap();
        let (_, geo) = Superblock::find(&img).unwrap();
        assert_eq!(geo.frag, 8);
        assert!(geo.ncg >= 2, "{}", geo.ncg);
        let a = Allocator::new(&img, &geo, 1).unwrap();
        (img, geo, a)
    }

    fn nbfree_nffree(a: &Allocator, c: u32) -> (i32, i32) {
        let s = a.summary(c).unwrap();
        (s.cs_nbfree, s.cs_nffree)
    }

    #[test]
    fn blocks_follow_the_preference_and_stay_contiguous() {
        let (img, geo, mut a) = fresh();
        let (nb, nf) = nbfree_nffree(&a, 1);
        let pref = Allocator::zone_start(&geo, 0, 1, false);
        assert_eq!(pref, geo.cgdmin(CgIdx(1)));
        let b0 = a.alloc(&img, &geo, pref, geo.frag).unwrap();
        assert_eq!(b0, pref, "the preferred block is free, so it is taken");
        let b1 = a.alloc(&img, &geo, b0, geo.frag).unwrap();
        assert_eq!(
            b1.0,
            b0.0 + 8,
            "the next whole block after a used preference"
        );
        let b2 = a.alloc(&img, &geo, Frag(b1.0 + 8), geo.frag).unwrap();
        assert_eq!(b2.0, b1.0 + 8);
        assert_eq!(nbfree_nffree(&a, 1), (nb - 3, nf));
        // A preference outside the file system falls back to group 0.
        let far = a.alloc(&img, &geo, Frag(u64::MAX / 2), geo.frag).unwrap();
        assert_eq!(geo.dtog(far), CgIdx(0));
        a.free(&img, &geo, b1, geo.frag).unwrap();
        assert_eq!(nbfree_nffree(&a, 1), (nb - 2, nf));
        // The freed block is found again from the same preference.
        assert_eq!(a.alloc(&img, &geo, b0, geo.frag).unwrap(), b1);
        assert!(a.free(&img, &geo, Frag(geo.size), 1).is_err(), "outside");
    }

    #[test]
    fn small_tails_share_a_partly_used_block() {
        let (img, geo, mut a) = fresh();
        let (nb, nf) = nbfree_nffree(&a, 1);
        let pref = Allocator::zone_start(&geo, 0, 1, false);
        // No partly used block in group 1 yet: two fragments break a block.
        let t1 = a.alloc(&img, &geo, pref, 2).unwrap();
        assert_eq!(t1, pref);
        assert_eq!(nbfree_nffree(&a, 1), (nb - 1, nf + 6));
        // Three more come from the same block, not a new one.
        let t2 = a.alloc(&img, &geo, pref, 3).unwrap();
        assert_eq!(t2.0, t1.0 + 2);
        assert_eq!(nbfree_nffree(&a, 1), (nb - 1, nf + 3));
        // Growing in place works while the following fragments are free...
        assert!(a.extend_in_place(&img, &geo, t2, 3, 6).unwrap());
        assert_eq!(nbfree_nffree(&a, 1), (nb - 1, nf));
        // ...and never past the end of the block.
        assert!(!a.extend_in_place(&img, &geo, t2, 6, 7).unwrap());
        // Freeing every fragment makes the block whole again.
        a.free(&img, &geo, t1, 2).unwrap();
        a.free(&img, &geo, t2, 6).unwrap();
        assert_eq!(nbfree_nffree(&a, 1), (nb, nf));
    }

    #[test]
    fn a_fence_keeps_every_allocation_below_it() {
        let (mut img, geo, mut a) = fresh();
        // Keep groups 0 and 1, and of group 1 only its first 20 blocks
        // past cgdmin, less 3 fragments (a block the end cuts is not used).
        let end = geo.cgdmin(CgIdx(1)).0 + 20 * 8 - 3;
        a.set_fence(Fence { ncg: 2, end });
        let mut got = Vec::new();
        // Whole blocks and tails, preferring the last group: all below.
        while let Ok(f) = a.alloc(&img, &geo, Frag(geo.size - 1), 8) {
            got.push((f, 8u32));
        }
        while let Ok(f) = a.alloc(&img, &geo, Frag(geo.size - 1), 3) {
            got.push((f, 3));
        }
        assert!(!got.is_empty());
        for (f, n) in &got {
            assert!(f.0 + u64::from(*n) <= end, "{f:?}+{n} past {end}");
        }
        // Inodes: never from group 2 on, whatever the preference.
        let ino = a.alloc_inode(&mut img, &geo, geo.ncg - 1, false).unwrap();
        assert!(geo.ino_to_cg(ino).0 < 2, "{ino}");
        // A place held back: taken without a search, and known as used.
        let mut b = Allocator::new(&img, &geo, 1).unwrap();
        let spot = Frag(geo.cgdmin(CgIdx(2)).0 + 5);
        assert!(b.is_free(&img, &geo, spot).unwrap());
        b.take(&img, &geo, spot, 1).unwrap();
        assert!(!b.is_free(&img, &geo, spot).unwrap());
        assert!(b.take(&img, &geo, spot, 1).is_err(), "taken twice");
    }

    #[test]
    fn inodes_go_to_the_preferred_group_and_directories_spread() {
        let (mut img, geo, mut a) = fresh();
        let before = a.summary(1).unwrap().clone();
        let f = a.alloc_inode(&mut img, &geo, 1, false).unwrap();
        assert_eq!(f, Ino(geo.ipg), "group 1's first inode");
        let d = a.alloc_inode(&mut img, &geo, 1, true).unwrap();
        assert_eq!(d, Ino(geo.ipg + 1));
        let s = a.summary(1).unwrap();
        assert_eq!(s.cs_nifree, before.cs_nifree - 2);
        assert_eq!(s.cs_ndir, before.cs_ndir + 1);
        // Group 0 holds the reserved inodes 0 and 1, the root and newfs's
        // /.snap: the next one is 4.
        let fs = crate::Ufs::open(Box::new(img.clone()), &crate::OpenOptions::read_only()).unwrap();
        assert_eq!(fs.lookup("/.snap", crate::Follow::All).unwrap(), Ino(3));
        let g0 = a.alloc_inode(&mut img, &geo, 0, false).unwrap();
        assert_eq!(g0, Ino(4));
        // A new directory under the root avoids the groups that already
        // have one: group 0 (the root) and now group 1.
        let c = a.dir_cg(&geo, Ino::ROOT);
        assert!(geo.ncg > 2, "{}", geo.ncg);
        assert!(c >= 2, "dir_cg chose {c}");
        a.free_inode(&img, &geo, d, true).unwrap();
        assert_eq!(a.summary(1).unwrap().cs_ndir, before.cs_ndir);
        let again = a.free_inode(&img, &geo, d, true);
        assert!(again.is_err(), "freeing a free inode is refused");
    }
}
