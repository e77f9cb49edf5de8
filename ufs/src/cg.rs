//! Cylinder groups: the header, the inode and fragment bitmaps, the cluster
//! map and summary, and the cylinder-group check hash.
//!
//! A [`CylGroup`] owns the `fs_cgsize` bytes of one cg block. The header is
//! decoded once; the maps stay in the buffer and are reached through typed
//! bit accessors whose offsets were validated when the group was read, so no
//! accessor can index outside the buffer. Bit conventions follow FreeBSD:
//! `cg_inosused` has a 1 for each inode in use, `cg_blksfree` a 1 for each
//! free fragment, `cg_clustersfree` a 1 for each free whole block
//! (`ffs_isblock`, `ffs_setblock`, `ffs_clrblock` in ffs_subr.c).

use crate::checkhash;
use crate::error::{CorruptKind, Error, Location, Result};
use crate::geometry::{Geometry, UfsVersion};
use crate::io::{self, Device};
use crate::ondisk::consts::{ckhash, CG_MAGIC};
use crate::ondisk::{wire, CgHeader, CG_CKHASH_OFFSET};
use crate::units::CgIdx;

pub use crate::geometry::CgLayout;

/// UFS1's `cg_old_ncyl` for group `c` of `ndblk` fragments: `fs_old_cpg`,
/// except the last group, which counts the cylinders it covers,
/// `howmany(ndblk, fpg / fs_old_cpg)` (fsck_ffs pass 5 rebuilds it so;
/// FreeBSD growfs's `fs_old_ncyl % fs_old_cpg` gives 0 with one cylinder
/// per group, which fsck then reports as "SUMMARY INFORMATION BAD").
pub fn ufs1_old_ncyl(geo: &Geometry, old_cpg: i32, c: CgIdx, ndblk: u64) -> i16 {
    let cpg = old_cpg.max(1);
    if c.0 + 1 == geo.ncg {
        let per = (geo.fpg / u64::try_from(cpg).unwrap_or(1)).max(1);
        // The 16-bit `fs_old_ncyl` and `cg_old_ncyl` keep the low bits, as
        // FreeBSD's assignment does (UFS1 groups have few cylinders).
        #[allow(clippy::cast_possible_truncation)]
        let n = ndblk.div_ceil(per) as i16;
        n
    } else {
        #[allow(clippy::cast_possible_truncation)]
        let n = old_cpg as i16;
        n
    }
}

/// Inodes a new UFS2 group starts with initialized on disk: two blocks of
/// them, or all of a smaller group (newfs and growfs `initcg`; fsck_ffs
/// resets a rebuilt group's `cg_initediblk` to the same).
pub fn initial_inodes(ipg: u32, inopb: u32) -> u32 {
    ipg.min(inopb.saturating_mul(2))
}

/// The header of a group as it is made afresh: magic, index, fragment
/// count, inode count, map offsets and cluster block count, every count,
/// rotor and time zero. UFS2 starts with two blocks of initialized inodes
/// (growfs `initcg`, fsck_ffs `check_cgmagic()`); UFS1's `cg_old_ncyl` is
/// [`ufs1_old_ncyl`]'s. growfs's new groups, fsck's rebuilt groups and
/// the header fsck's phase 5 expects all start here; each caller then sets
/// what its FreeBSD counterpart sets differently.
// Geometry validated the group's layout to fit its cg block (at most
// MAXBSIZE), and a group's fragments fit the 32-bit `fs_fpg`; UFS1's
// 16-bit inode count keeps the low bits, as FreeBSD's assignment does.
#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
pub fn fresh_header(geo: &Geometry, c: CgIdx, old_cpg: i32) -> CgHeader {
    let l = geo.cg_layout;
    let ndblk = geo.cg_frags(c);
    let ufs1 = geo.version == UfsVersion::Ufs1;
    CgHeader {
        cg_magic: CG_MAGIC,
        cg_cgx: c.0,
        cg_ndblk: ndblk as u32,
        cg_niblk: if ufs1 { 0 } else { geo.ipg },
        cg_initediblk: if ufs1 {
            0
        } else {
            initial_inodes(geo.ipg, geo.inopb)
        },
        cg_old_ncyl: if ufs1 {
            ufs1_old_ncyl(geo, old_cpg, c, ndblk)
        } else {
            0
        },
        cg_old_niblk: if ufs1 { geo.ipg as i16 } else { 0 },
        cg_old_btotoff: l.old_btotoff as i32,
        cg_old_boff: l.old_boff as i32,
        cg_iusedoff: l.iusedoff,
        cg_freeoff: l.freeoff,
        cg_nextfreeoff: l.nextfreeoff,
        cg_clustersumoff: l.clustersumoff,
        cg_clusteroff: l.clusteroff,
        cg_nclusterblks: if geo.contigsumsize > 0 {
            (ndblk / u64::from(geo.frag)) as u32
        } else {
            0
        },
        ..CgHeader::zeroed()
    }
}

/// One cylinder-group block.
#[derive(Clone, Debug)]
pub struct CylGroup {
    /// The decoded header.
    pub hdr: CgHeader,
    buf: Vec<u8>,
    idx: CgIdx,
    ipg: u32,
    /// Fragments this group covers (the last group may be short).
    nfrags: u64,
    frag: u32,
}

impl CylGroup {
    /// Reads cylinder group `idx`, checking magic, index, map offsets and
    /// (when enabled) its check hash.
    pub fn read(dev: &dyn Device, geo: &Geometry, idx: CgIdx) -> Result<CylGroup> {
        let cg = Self::read_unchecked(dev, geo, idx)?;
        cg.validate(geo)?;
        Ok(cg)
    }

    /// Reads cylinder group `idx` without any check (for fsck).
    pub fn read_unchecked(dev: &dyn Device, geo: &Geometry, idx: CgIdx) -> Result<CylGroup> {
        let mut buf = vec![0u8; geo.cgsize as usize];
        io::read_exact(dev, geo.frag_offset(geo.cgtod(idx)), &mut buf)?;
        Ok(Self::from_bytes(buf, geo, idx))
    }

    /// Wraps raw bytes (at least the header size; shorter input is padded).
    pub fn from_bytes(mut buf: Vec<u8>, geo: &Geometry, idx: CgIdx) -> CylGroup {
        if buf.len() < CgHeader::SIZE {
            buf.resize(CgHeader::SIZE, 0);
        }
        #[allow(clippy::expect_used)]
        let hdr =
            CgHeader::decode(&buf, geo.endian).expect("OK to expect: buffer padded to header size");
        CylGroup {
            hdr,
            buf,
            idx,
            ipg: geo.ipg,
            nfrags: geo.cg_frags(idx),
            frag: geo.frag,
        }
    }

    /// Group `idx` with header `hdr` (encoded into the buffer) and every
    /// map empty: all inodes and fragments in use, no clusters free.
    pub fn with_header(geo: &Geometry, idx: CgIdx, hdr: &CgHeader) -> CylGroup {
        let mut buf = vec![0u8; (geo.cgsize as usize).max(CgHeader::SIZE)];
        hdr.encode_into(&mut buf, geo.endian);
        Self::from_bytes(buf, geo, idx)
    }

    /// Checks the header against the geometry.
    pub fn validate(&self, geo: &Geometry) -> Result<()> {
        let at = Location::CylGroup(self.idx);
        let bad = |kind, msg: String| Err(Error::corrupt(kind, at, msg));
        if self.hdr.cg_magic != CG_MAGIC {
            return bad(
                CorruptKind::BadCylGroup,
                format!("bad magic {:#x}", self.hdr.cg_magic),
            );
        }
        if self.hdr.cg_cgx != self.idx.0 {
            return bad(
                CorruptKind::BadCylGroup,
                format!("cg_cgx is {}", self.hdr.cg_cgx),
            );
        }
        if let Some(computed) = self.hash_mismatch(geo) {
            return bad(
                CorruptKind::CheckHash,
                format!(
                    "cylinder-group check-hash failed: recorded {:#010x}, computed {computed:#010x}",
                    self.hdr.cg_ckhash
                ),
            );
        }
        self.check_maps()
            .map_err(|msg| Error::corrupt(CorruptKind::BadCylGroup, at, msg))
    }

    /// The computed check hash when the file system keeps cylinder-group
    /// check hashes and the recorded one differs.
    pub fn hash_mismatch(&self, geo: &Geometry) -> Option<u32> {
        if !geo.has_ckhash(ckhash::CK_CYLGRP) {
            return None;
        }
        let computed = checkhash::compute(&self.buf, CG_CKHASH_OFFSET);
        (computed != self.hdr.cg_ckhash).then_some(computed)
    }

    /// fsck_ffs's test of a header before it believes any count in it
    /// (fsutil.c `check_cgmagic()`): the magic, and the inode count, data
    /// block count and (UFS2) initialized-inode count within what the
    /// superblock allows (UFS1: `cg_old_niblk`, `cg_old_ncyl` against
    /// `fs_old_cpg`, passed as `old_cpg`).
    pub fn header_plausible(&self, geo: &Geometry, old_cpg: i32) -> bool {
        let h = &self.hdr;
        if h.cg_magic != CG_MAGIC || u64::from(h.cg_ndblk) > geo.fpg {
            return false;
        }
        match geo.version {
            UfsVersion::Ufs1 => {
                i64::from(h.cg_old_niblk) == i64::from(geo.ipg)
                    && i32::from(h.cg_old_ncyl) <= old_cpg
            }
            UfsVersion::Ufs2 => h.cg_niblk == geo.ipg && h.cg_initediblk <= geo.ipg,
        }
    }

    /// Checks that every map lies inside the buffer.
    pub fn check_maps(&self) -> std::result::Result<(), String> {
        let len = self.buf.len() as u64;
        let fits = |off: u32, bytes: u64| {
            u64::from(off) + bytes <= len && u64::from(off) >= CgHeader::SIZE as u64
        };
        if !fits(self.hdr.cg_iusedoff, u64::from(self.ipg).div_ceil(8)) {
            return Err(format!(
                "inode map at {} does not fit",
                self.hdr.cg_iusedoff
            ));
        }
        if !fits(self.hdr.cg_freeoff, self.nfrags.div_ceil(8)) {
            return Err(format!(
                "fragment map at {} does not fit",
                self.hdr.cg_freeoff
            ));
        }
        if self.has_clusters() {
            let nblk = self.nfrags / u64::from(self.frag);
            if !fits(self.hdr.cg_clusteroff, nblk.div_ceil(8)) {
                return Err(format!(
                    "cluster map at {} does not fit",
                    self.hdr.cg_clusteroff
                ));
            }
            if !fits(self.hdr.cg_clustersumoff, 4) {
                return Err(format!(
                    "cluster summary at {} does not fit",
                    self.hdr.cg_clustersumoff
                ));
            }
        }
        Ok(())
    }

    /// Whether this group carries a cluster map (`fs_contigsumsize > 0`).
    pub fn has_clusters(&self) -> bool {
        self.hdr.cg_clusteroff != 0 && self.hdr.cg_clustersumoff != 0
    }

    /// Group index.
    pub fn idx(&self) -> CgIdx {
        self.idx
    }

    /// Fragments covered by this group.
    pub fn nfrags(&self) -> u64 {
        self.nfrags
    }

    /// The raw bytes (header as read, maps as maintained).
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    fn bit(&self, off: u32, n: u64) -> bool {
        let byte = u64::from(off) + n / 8;
        self.buf
            .get(usize::try_from(byte).unwrap_or(usize::MAX))
            .is_some_and(|b| b & (1 << (n % 8)) != 0)
    }

    fn set_bit(&mut self, off: u32, n: u64, v: bool) {
        let byte = usize::try_from(u64::from(off) + n / 8).unwrap_or(usize::MAX);
        if let Some(b) = self.buf.get_mut(byte) {
            if v {
                *b |= 1 << (n % 8);
            } else {
                *b &= !(1 << (n % 8));
            }
        }
    }

    /// Whether inode `n` of this group (0-based) is marked in use.
    pub fn inode_used(&self, n: u32) -> bool {
        n < self.ipg && self.bit(self.hdr.cg_iusedoff, u64::from(n))
    }

    /// Marks inode `n` of this group used or free.
    pub fn set_inode_used(&mut self, n: u32, used: bool) {
        if n < self.ipg {
            self.set_bit(self.hdr.cg_iusedoff, u64::from(n), used);
        }
    }

    /// Whether fragment `n` of this group (0-based) is free.
    pub fn frag_free(&self, n: u64) -> bool {
        n < self.nfrags && self.bit(self.hdr.cg_freeoff, n)
    }

    /// Marks fragment `n` free or in use.
    pub fn set_frag_free(&mut self, n: u64, free: bool) {
        if n < self.nfrags {
            self.set_bit(self.hdr.cg_freeoff, n, free);
        }
    }

    /// Whether all fragments of block `b` (block index within the group) are
    /// free (`ffs_isblock`).
    pub fn block_free(&self, b: u64) -> bool {
        let f = u64::from(self.frag);
        (0..f).all(|i| self.frag_free(b * f + i))
    }

    /// Whether block `b` is marked free in the cluster map.
    pub fn cluster_free(&self, b: u64) -> bool {
        self.has_clusters() && self.bit(self.hdr.cg_clusteroff, b)
    }

    /// Marks block `b` in the cluster map.
    pub fn set_cluster_free(&mut self, b: u64, free: bool) {
        if self.has_clusters() && b < self.nfrags / u64::from(self.frag) {
            self.set_bit(self.hdr.cg_clusteroff, b, free);
        }
    }

    /// Entry `i` of the cluster summary (`cg_clustersum[i]`), if present.
    pub fn cluster_sum(&self, i: u32, endian: crate::Endian) -> Option<u32> {
        let off = usize::try_from(u64::from(self.hdr.cg_clustersumoff) + u64::from(i) * 4)
            .unwrap_or(usize::MAX);
        self.buf.get(off..).and_then(|b| wire::get_u32(b, endian))
    }

    /// Sets entry `i` of the cluster summary.
    pub fn set_cluster_sum(&mut self, i: u32, endian: crate::Endian, v: u32) {
        let off = usize::try_from(u64::from(self.hdr.cg_clustersumoff) + u64::from(i) * 4)
            .unwrap_or(usize::MAX);
        if let Some(b) = self.buf.get_mut(off..) {
            wire::put_u32(b, endian, v);
        }
    }

    /// Re-encodes the header into the buffer and recomputes the check hash
    /// when enabled; returns the bytes to write.
    pub fn encode(&mut self, geo: &Geometry) -> &[u8] {
        if geo.has_ckhash(ckhash::CK_CYLGRP) {
            self.hdr.encode_into(&mut self.buf, geo.endian);
            self.hdr.cg_ckhash = checkhash::compute(&self.buf, CG_CKHASH_OFFSET);
        }
        self.hdr.encode_into(&mut self.buf, geo.endian);
        &self.buf
    }

    /// Writes the group back at its place.
    pub fn write(&mut self, dev: &mut dyn Device, geo: &Geometry) -> Result<()> {
        let off = geo.frag_offset(geo.cgtod(self.idx));
        let bytes = self.encode(geo).to_vec();
        io::write_all(dev, off, &bytes)
    }

    /// Inodes of this group that have been initialized on disk: all of them
    /// for UFS1, `cg_initediblk` for UFS2 (the rest read as zero).
    pub fn initialized_inodes(&self, version: UfsVersion) -> u32 {
        match version {
            UfsVersion::Ufs1 => self.ipg,
            UfsVersion::Ufs2 => self.hdr.cg_initediblk.min(self.ipg),
        }
    }
}
