//! The geometry of a file system: the validated numbers every address
//! calculation goes through, and where a cylinder group's tables and maps
//! sit. It lies below both the superblock, which validates its fields into
//! a [`Geometry`] (`Geometry::from_superblock` in `superblock.rs`), and the
//! cylinder group, which reads its maps at the [`CgLayout`] offsets; so
//! neither of those needs the other.

use crate::ondisk::consts;
use crate::ondisk::CgHeader;
use crate::units::{CgIdx, Frag, Ino};
use crate::Endian;

/// UFS1 (4.4BSD FFS, 32-bit block pointers) or UFS2 (64-bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UfsVersion {
    /// UFS1: 128-byte inodes, 32-bit pointers, 32-bit times.
    Ufs1,
    /// UFS2: 256-byte inodes, 64-bit pointers and times, extended attributes.
    Ufs2,
}

impl UfsVersion {
    /// On-disk inode size.
    pub fn inode_size(self) -> u32 {
        match self {
            UfsVersion::Ufs1 => 128,
            UfsVersion::Ufs2 => 256,
        }
    }
    /// Size of a block pointer in indirect blocks.
    pub fn pointer_size(self) -> u32 {
        match self {
            UfsVersion::Ufs1 => 4,
            UfsVersion::Ufs2 => 8,
        }
    }
}

impl std::fmt::Display for UfsVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UfsVersion::Ufs1 => "UFS1",
            UfsVersion::Ufs2 => "UFS2",
        })
    }
}

/// The validated numbers of a file system. All address arithmetic of the
/// crate goes through its methods, which never overflow on a validated
/// geometry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Format version.
    pub version: UfsVersion,
    /// Byte order.
    pub endian: Endian,
    /// Where the primary superblock lives (bytes).
    pub sblockloc: u64,
    /// Block size in bytes.
    pub bsize: u32,
    /// Fragment size in bytes.
    pub fsize: u32,
    /// Fragments per block.
    pub frag: u32,
    /// log2(frag).
    pub fragshift: u32,
    /// log2(bsize).
    pub bshift: u32,
    /// log2(fsize).
    pub fshift: u32,
    /// log2(fsize / 512).
    pub fsbtodb: u32,
    /// Number of cylinder groups.
    pub ncg: u32,
    /// Fragments per cylinder group.
    pub fpg: u64,
    /// Inodes per cylinder group.
    pub ipg: u32,
    /// Inodes per block.
    pub inopb: u32,
    /// Block pointers per indirect block.
    pub nindir: u64,
    /// Superblock copy offset within a cg (fragments).
    pub sblkno: u64,
    /// Cylinder-group block offset within a cg (fragments).
    pub cblkno: u64,
    /// Inode table offset within a cg (fragments).
    pub iblkno: u64,
    /// First data fragment offset within a cg.
    pub dblkno: u64,
    /// Bytes of the cylinder-group block.
    pub cgsize: u32,
    /// UFS1 cylinder-group rotation (`fs_old_cgoffset`).
    pub old_cgoffset: u64,
    /// UFS1 rotation mask (`fs_old_cgmask`).
    pub old_cgmask: u64,
    /// Total fragments in the file system.
    pub size: u64,
    /// Data fragments.
    pub dsize: u64,
    /// Fragment address of the cg summary area.
    pub csaddr: u64,
    /// Bytes of the cg summary area.
    pub cssize: u64,
    /// Longest symlink stored in the inode.
    pub maxsymlinklen: u32,
    /// Enabled check hashes (`fs_metackhash`).
    pub metackhash: u32,
    /// Largest representable file size.
    pub maxfilesize: u64,
    /// Number of inodes (`ncg * ipg`).
    pub ninodes: u64,
    /// Where every group's tables and maps sit (they fit in `cgsize`).
    pub cg_layout: CgLayout,
    /// `fs_contigsumsize`: cluster sizes counted in each group's summary.
    pub contigsumsize: u32,
}

impl Geometry {
    /// Whether a check hash kind (`CK_*`) is enabled.
    pub fn has_ckhash(&self, ck: u32) -> bool {
        self.metackhash & ck != 0
    }

    /// Byte offset of a fragment address.
    pub fn frag_offset(&self, f: Frag) -> u64 {
        f.0 << self.fshift
    }

    /// First fragment of cylinder group `cg` (`cgbase`).
    pub fn cgbase(&self, cg: CgIdx) -> Frag {
        Frag(self.fpg * u64::from(cg.0))
    }

    /// Start of the metadata of cylinder group `cg` (`cgstart`); UFS1 rotates
    /// it within the group.
    pub fn cgstart(&self, cg: CgIdx) -> Frag {
        let base = self.cgbase(cg).0;
        match self.version {
            UfsVersion::Ufs2 => Frag(base),
            UfsVersion::Ufs1 => {
                Frag(base + self.old_cgoffset * (u64::from(cg.0) & !self.old_cgmask))
            }
        }
    }

    /// Superblock copy of `cg` (`cgsblock`).
    pub fn cgsblock(&self, cg: CgIdx) -> Frag {
        Frag(self.cgstart(cg).0 + self.sblkno)
    }

    /// Cylinder-group block of `cg` (`cgtod`).
    pub fn cgtod(&self, cg: CgIdx) -> Frag {
        Frag(self.cgstart(cg).0 + self.cblkno)
    }

    /// First inode block of `cg` (`cgimin`).
    pub fn cgimin(&self, cg: CgIdx) -> Frag {
        Frag(self.cgstart(cg).0 + self.iblkno)
    }

    /// First data fragment of `cg` (`cgdmin`).
    pub fn cgdmin(&self, cg: CgIdx) -> Frag {
        Frag(self.cgstart(cg).0 + self.dblkno)
    }

    /// Number of fragments in `cg` (the last one may be short).
    pub fn cg_frags(&self, cg: CgIdx) -> u64 {
        let base = self.cgbase(cg).0;
        self.size.saturating_sub(base).min(self.fpg)
    }

    /// Cylinder group holding a fragment (`dtog`).
    pub fn dtog(&self, f: Frag) -> CgIdx {
        CgIdx(u32::try_from(f.0 / self.fpg).unwrap_or(u32::MAX))
    }

    /// Offset of a fragment within its group (`dtogd`).
    pub fn dtogd(&self, f: Frag) -> u64 {
        f.0 % self.fpg
    }

    /// Whether `ino` names an inode of this file system.
    pub fn ino_valid(&self, ino: Ino) -> bool {
        u64::from(ino.0) < self.ninodes
    }

    /// Cylinder group of an inode (`ino_to_cg`).
    pub fn ino_to_cg(&self, ino: Ino) -> CgIdx {
        CgIdx(ino.0 / self.ipg)
    }

    /// Byte offset of an inode in the image. `ino` must be valid.
    pub fn inode_offset(&self, ino: Ino) -> u64 {
        let cg = self.ino_to_cg(ino);
        let in_cg = u64::from(ino.0 % self.ipg);
        let block = in_cg / u64::from(self.inopb);
        let fsba = self.cgimin(cg).0 + (block << self.fragshift);
        self.frag_offset(Frag(fsba))
            + (in_cg % u64::from(self.inopb)) * u64::from(self.version.inode_size())
    }

    /// Whether a run of `n` fragments from `f` lies inside the file system.
    pub fn frags_in_range(&self, f: Frag, n: u64) -> bool {
        f.0.checked_add(n).is_some_and(|end| end <= self.size)
    }

    /// fsck_ffs's test of a block pointer (fsutil.c/inode.c `chkrange()`):
    /// a run of `n` fragments from `f` is well formed when it is not
    /// empty, starts past fragment 0, ends inside the file system, stays
    /// inside one block (at most `fs_frag` fragments, not crossing a block
    /// boundary) and does not reach into its group's superblock copy,
    /// header and inode blocks (a run starting before `cgdmin` must end by
    /// `cgsblock`; one starting at or after it, by the next group's
    /// start). Applied to single fragments too, it tells which fragments of
    /// a bad run a checker may mark or give back: never metadata.
    pub fn run_in_range(&self, f: Frag, n: u64) -> bool {
        self.run_shape_ok(f, n) && GroupBounds::of(self, self.dtog(f)).holds(f.0, n)
    }

    /// The part of [`Geometry::run_in_range`] that needs no group: not
    /// empty, past fragment 0, inside the file system, within one block.
    #[inline(always)]
    fn run_shape_ok(&self, f: Frag, n: u64) -> bool {
        let frag = u64::from(self.frag);
        // `frag` is a power of two (`from_superblock` checks it).
        n != 0
            && f.0 != 0
            && self.frags_in_range(f, n)
            && n <= frag
            && (f.0 & (frag - 1)) + n <= frag
    }

    /// Bytes of data in logical block `lbn` of a file of `size` bytes
    /// (`sblksize`): a full block, or the fragments of the tail.
    #[inline]
    pub fn blksize(&self, size: u64, lbn: u64) -> u64 {
        let bsize = u64::from(self.bsize);
        if lbn >= consts::NDADDR as u64 || size >= (lbn + 1).saturating_mul(bsize) {
            bsize
        } else {
            let rem = size & (bsize - 1);
            // Rounded up to whole fragments; `fsize` is a power of two.
            let mask = u64::from(self.fsize) - 1;
            (rem + mask) & !mask
        }
    }

    /// The most bytes a file's block tree can address: the direct blocks
    /// and three levels of indirection (`NDADDR + NINDIR + NINDIR² +
    /// NINDIR³` blocks), saturating. A size beyond it is damage, whatever
    /// `fs_maxfilesize` says.
    pub fn addressable_bytes(&self) -> u64 {
        let n = self.nindir;
        let blocks = (consts::NDADDR as u64)
            .saturating_add(n)
            .saturating_add(n.saturating_mul(n))
            .saturating_add(n.saturating_mul(n).saturating_mul(n));
        blocks.saturating_mul(self.bsize64())
    }

    /// Block size in bytes as `u64`.
    pub fn bsize64(&self) -> u64 {
        u64::from(self.bsize)
    }

    /// Byte offsets of every superblock backup (one per cylinder group).
    pub fn backup_offsets(&self) -> Vec<u64> {
        (0..self.ncg)
            .map(|c| self.frag_offset(self.cgsblock(CgIdx(c))))
            .collect()
    }
}

/// What [`Geometry::run_in_range`] checks a run against in one group: the
/// group's first fragment, its superblock copy, its first data fragment
/// and its end.
#[derive(Clone, Copy, Debug)]
struct GroupBounds {
    base: u64,
    sblock: u64,
    dmin: u64,
    end: u64,
}

impl GroupBounds {
    fn of(geo: &Geometry, cg: CgIdx) -> GroupBounds {
        let base = geo.cgbase(cg).0;
        let start = geo.cgstart(cg).0;
        GroupBounds {
            base,
            sblock: start + geo.sblkno,
            dmin: start + geo.dblkno,
            end: base.saturating_add(geo.fpg),
        }
    }

    /// Whether fragment `f` is in this group.
    #[inline(always)]
    fn contains(&self, f: u64) -> bool {
        self.base <= f && f < self.end
    }

    /// Whether a run of `n` fragments from `f`, a fragment of this group,
    /// stays clear of its metadata and inside it.
    #[inline(always)]
    fn holds(&self, f: u64, n: u64) -> bool {
        let end = f + n;
        if f < self.dmin {
            end <= self.sblock
        } else {
            end <= self.end
        }
    }
}

/// [`Geometry::run_in_range`] for a stream of runs that mostly stay in one
/// group (a file's blocks, the files of one directory, which the allocator
/// keeps together): the last group's bounds are kept, so a run in that
/// group costs a few compares instead of a division and the group's
/// addresses (fsck's phase 1 checks every block pointer of the file system).
#[derive(Debug)]
pub struct RunRanges<'g> {
    geo: &'g Geometry,
    last: GroupBounds,
}

impl<'g> RunRanges<'g> {
    /// Checks against `geo`, no group known yet.
    pub fn new(geo: &'g Geometry) -> Self {
        let none = GroupBounds {
            base: u64::MAX,
            sblock: 0,
            dmin: 0,
            end: 0,
        };
        RunRanges { geo, last: none }
    }

    /// The geometry checked against.
    pub fn geometry(&self) -> &'g Geometry {
        self.geo
    }

    /// [`Geometry::run_in_range`].
    #[inline(always)]
    pub fn run_in_range(&mut self, f: Frag, n: u64) -> bool {
        if !self.geo.run_shape_ok(f, n) {
            return false;
        }
        if !self.last.contains(f.0) {
            self.last = GroupBounds::of(self.geo, self.geo.dtog(f));
        }
        self.last.holds(f.0, n)
    }
}

/// Where a cylinder group's tables and maps sit in its block, as the
/// superblock dictates: what newfs writes (`initcg()` in mkfs.c) and what
/// fsck's phase 5 rebuilds a group to (pass5.c). Offsets are bytes from the
/// start of the cg block; the maps end at `nextfreeoff`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CgLayout {
    /// `cg_old_btotoff`: UFS1's per-cylinder block totals (0 on UFS2).
    pub old_btotoff: u32,
    /// `cg_old_boff`: UFS1's rotational-position counts (0 on UFS2).
    pub old_boff: u32,
    /// `cg_iusedoff`: the inode map.
    pub iusedoff: u32,
    /// `cg_freeoff`: the fragment map.
    pub freeoff: u32,
    /// `cg_nextfreeoff`: the end of the maps.
    pub nextfreeoff: u32,
    /// `cg_clustersumoff` (0 without clustering).
    pub clustersumoff: u32,
    /// `cg_clusteroff` (0 without clustering).
    pub clusteroff: u32,
}

impl CgLayout {
    /// The layout for groups of `ipg` inodes and `fpg` fragments of
    /// `2^fragshift` per block, with `contigsumsize` cluster sizes counted.
    /// UFS1 groups first hold `old_cpg` 32-bit block totals and
    /// `old_cpg * old_nrpos` 16-bit rotational counts, which nothing uses
    /// any more but whose room the format still reserves. None when an
    /// offset does not fit in 32 bits.
    pub fn compute(
        version: UfsVersion,
        old_cpg: u64,
        old_nrpos: u64,
        ipg: u64,
        fpg: u64,
        fragshift: u32,
        contigsumsize: u64,
    ) -> Option<CgLayout> {
        let base = CgHeader::SIZE as u64;
        let (old_btotoff, old_boff, iusedoff) = match version {
            UfsVersion::Ufs1 => {
                let boff = base.checked_add(old_cpg.checked_mul(4)?)?;
                let rot = old_cpg.checked_mul(old_nrpos)?.checked_mul(2)?;
                (base, boff, boff.checked_add(rot)?)
            }
            UfsVersion::Ufs2 => (0, 0, base),
        };
        let freeoff = iusedoff.checked_add(ipg.div_ceil(8))?;
        let mut nextfreeoff = freeoff.checked_add(fpg.div_ceil(8))?;
        let (mut clustersumoff, mut clusteroff) = (0, 0);
        if contigsumsize > 0 {
            // The summary is 32-bit aligned; its entry 0 is never used, so
            // it starts one word before the first aligned offset.
            clustersumoff = nextfreeoff.checked_next_multiple_of(4)?.checked_sub(4)?;
            clusteroff =
                clustersumoff.checked_add(contigsumsize.checked_add(1)?.checked_mul(4)?)?;
            nextfreeoff = clusteroff.checked_add((fpg >> fragshift).div_ceil(8))?;
        }
        let c = |v: u64| u32::try_from(v).ok();
        Some(CgLayout {
            old_btotoff: c(old_btotoff)?,
            old_boff: c(old_boff)?,
            iusedoff: c(iusedoff)?,
            freeoff: c(freeoff)?,
            nextfreeoff: c(nextfreeoff)?,
            clustersumoff: c(clustersumoff)?,
            clusteroff: c(clusteroff)?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::newfs::NewfsOptions;

    /// A file system of several small groups (4 KiB blocks of 8 fragments).
    fn geometry(version: UfsVersion) -> Geometry {
        let o = NewfsOptions {
            version,
            bsize: Some(4096),
            fsize: Some(512),
            ..NewfsOptions::freebsd_12_1()
        };
        let img = crate::newfs::in_memory(8 << 20, &o).unwrap();
        crate::superblock::Superblock::find(&img).unwrap().1
    }

    /// Every run of 0 to `frag + 1` fragments from every fragment (and a
    /// few past the end), visited out of order so that the kept group
    /// changes often, gets `run_in_range`'s answer.
    fn same_as_run_in_range(geo: &Geometry) {
        let frag = u64::from(geo.frag);
        let total = geo.size + 2 * frag;
        let mut rr = RunRanges::new(geo);
        // A stride prime to `total` visits every fragment once.
        let stride = (1..)
            .map(|k| 7919 * k)
            .find(|s| gcd(*s, total) == 1)
            .unwrap();
        let mut f = 0u64;
        for _ in 0..total {
            for n in 0..=frag + 1 {
                let want = geo.run_in_range(Frag(f), n);
                assert_eq!(rr.run_in_range(Frag(f), n), want, "run {f}+{n}");
            }
            f = (f + stride) % total;
        }
        // Far outside, and wrapping.
        for f in [u64::MAX, u64::MAX - 3, geo.size, geo.size - 1] {
            assert_eq!(rr.run_in_range(Frag(f), 4), geo.run_in_range(Frag(f), 4));
        }
    }

    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }

    #[test]
    fn kept_group_bounds_answer_as_run_in_range() {
        for version in [UfsVersion::Ufs1, UfsVersion::Ufs2] {
            let geo = geometry(version);
            assert!(geo.ncg >= 3, "{version:?}: {} groups", geo.ncg);
            same_as_run_in_range(&geo);
            if version == UfsVersion::Ufs1 {
                // UFS1 groups whose metadata rotates (old file systems).
                let mut rot = geo.clone();
                rot.old_cgoffset = 2 * u64::from(rot.frag);
                rot.old_cgmask = !3;
                assert_ne!(rot.cgstart(CgIdx(2)), rot.cgbase(CgIdx(2)));
                same_as_run_in_range(&rot);
            }
        }
    }

    /// What the rule says, at a group's edges.
    #[test]
    fn runs_at_group_edges() {
        let geo = geometry(UfsVersion::Ufs2);
        let frag = u64::from(geo.frag);
        let mut rr = RunRanges::new(&geo);
        let g1 = CgIdx(1);
        let (base, sblock, dmin) = (geo.cgbase(g1).0, geo.cgsblock(g1).0, geo.cgdmin(g1).0);
        let end = geo.cgbase(CgIdx(2)).0;
        // The last block of group 0 is data; a run from it into group 1's
        // superblock copy is not.
        assert!(rr.run_in_range(Frag(base - frag), frag));
        assert!(!rr.run_in_range(Frag(base - frag / 2), frag));
        // Group 1's metadata (what lies before its superblock copy is
        // not), then its first data block.
        assert_eq!(rr.run_in_range(Frag(base), 1), base < sblock);
        assert!(!rr.run_in_range(Frag(sblock), 1));
        assert!(!rr.run_in_range(Frag(sblock - 1), 2));
        assert!(!rr.run_in_range(Frag(dmin - 1), 1));
        assert!(rr.run_in_range(Frag(dmin), frag));
        // Its last block, and a run crossing into group 2.
        assert!(rr.run_in_range(Frag(end - frag), frag));
        assert!(!rr.run_in_range(Frag(end - 1), 2));
        // Empty runs, fragment 0, longer than a block, past the end.
        assert!(!rr.run_in_range(Frag(dmin), 0));
        assert!(!rr.run_in_range(Frag(0), 1));
        assert!(!rr.run_in_range(Frag(dmin), frag + 1));
        assert!(!rr.run_in_range(Frag(geo.size), 1));
    }
}
