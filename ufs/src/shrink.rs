//! Shrinking a file system (no FreeBSD tool does this): the cylinder
//! groups past the new size are dropped and the last kept group trimmed,
//! when everything there is free. The layout is growfs's for the smaller
//! size (`growfs::fit_groups`, `growfs::resized`): the result is what
//! FreeBSD's growfs makes when it grows the same file system from its
//! creation size to the smaller one.
//!
//! Nothing is moved: when allocated inodes or blocks lie in the removed
//! region, [`plan`] refuses and says how much is in the way and the
//! smallest size that needs no moving ([`ShrinkError::InTheWay`]).
//!
//! [`apply`] writes only inside the kept part, through one device (wrap it
//! in an undo device): the summary area, the trimmed last group and the
//! group whose summary fragments are freed, the backup superblocks, a
//! flush, then the primary superblock, the commit point. A crash before it
//! leaves the old file system, which `ufs fsck -y` repairs (the groups
//! written are consistent with the old one except for free space past the
//! new end); after it the new one. The caller truncates the file after.

use crate::alloc::recount;
use crate::cg::{ufs1_old_ncyl, CylGroup};
use crate::error::{Error, Result};
use crate::growfs::{
    cg_data_start, commit_superblocks, csum_of, finish_superblock, fit_groups, group_frags32,
    humanize, put, release_summary, resized, summary_area, summary_len,
};
use crate::io::{self, Device};
use crate::ondisk::Csum;
use crate::superblock::{Geometry, Superblock, UfsVersion};
use crate::units::CgIdx;
use crate::Frag;
use std::collections::BTreeMap;

/// Why a shrink cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    /// The file system was not cleanly unmounted.
    #[error("file system is not clean - run fsck")]
    NotClean,
    /// The requested size is not smaller than the file system.
    #[error("requested size {new} is not smaller than the current filesystem size {old}")]
    NotSmaller {
        /// Requested size, humanized.
        new: String,
        /// Current size, humanized.
        old: String,
    },
    /// The size leaves no room for the first group's first data fragment.
    #[error("the first cylinder group alone needs more than the requested size: at least {min_bytes} bytes")]
    TooSmall {
        /// The smallest size one group fits in.
        min_bytes: u64,
    },
    /// Snapshots would be invalidated.
    #[error("active snapshot found in file system; please remove all snapshots before shrinking")]
    ActiveSnapshot,
    /// Allocated inodes or blocks lie past the new end; moving them is not
    /// implemented.
    #[error(
        "the last {removed} to be removed hold data: {inodes} allocated inode(s) and {bytes} of \
         allocated blocks; the smallest size that needs no moving is {smallest} ({smallest_bytes} \
         bytes); moving data out of the way is not implemented"
    )]
    InTheWay {
        /// Bytes the shrink would remove, humanized.
        removed: String,
        /// Allocated inodes in the removed groups.
        inodes: u64,
        /// Allocated block bytes past the new end, humanized.
        bytes: String,
        /// The smallest size that needs no moving, humanized.
        smallest: String,
        /// The same in bytes.
        smallest_bytes: u64,
    },
    /// The cylinder-group summary lies past the new end.
    #[error(
        "the cylinder-group summary lies at {at} bytes, past the new end; the smallest size \
         that keeps it is {smallest_bytes} bytes (moving it is not implemented)"
    )]
    SummaryInTheWay {
        /// Byte offset of the summary area.
        at: u64,
        /// The smallest size that keeps it.
        smallest_bytes: u64,
    },
    /// Reading, validating or writing failed.
    #[error(transparent)]
    Ufs(#[from] Error),
}

/// What a shrink will do.
#[derive(Clone, Debug)]
pub struct ShrinkPlan {
    /// The superblock as found.
    pub old: Superblock,
    /// Its geometry.
    pub old_geo: Geometry,
    /// The superblock to write (times and totals set by [`apply`]).
    pub new: Superblock,
    /// Its geometry.
    pub new_geo: Geometry,
    /// Bytes at the end not used because the last group would have been
    /// too small (growfs's rule).
    pub dropped_bytes: Option<u64>,
    /// The size the file is to be truncated to (the requested size rounded
    /// down to a fragment).
    pub file_bytes: u64,
}

impl ShrinkPlan {
    /// Byte ranges of the removed groups' metadata (backup superblock,
    /// group header, initialized inodes): what an undo file must keep so
    /// that the old file system can be put back after the truncation.
    pub fn removed_metadata(&self) -> Vec<(u64, u64)> {
        let g = &self.old_geo;
        let isize = u64::from(g.version.inode_size());
        (self.new_geo.ncg..g.ncg)
            .map(|c| {
                let idx = CgIdx(c);
                let start = g.frag_offset(g.cgsblock(idx));
                let inodes = match g.version {
                    UfsVersion::Ufs2 => u64::from(g.inopb) * 2,
                    UfsVersion::Ufs1 => u64::from(g.ipg),
                };
                let end = g.frag_offset(g.cgimin(idx)) + inodes.min(u64::from(g.ipg)) * isize;
                (start, end - start)
            })
            .collect()
    }
}

/// Fragments of group `c` outside its metadata (before the backup
/// superblock, from `cgdmin` to the group's end), relative to the group.
fn data_frags(g: &Geometry, c: u32) -> impl Iterator<Item = u64> {
    let idx = CgIdx(c);
    let base = g.cgbase(idx).0;
    let dlower = g.cgsblock(idx).0 - base;
    let dupper = g.cgdmin(idx).0 - base;
    (0..dlower).chain(dupper..g.cg_frags(idx))
}

/// Plans shrinking the file system on `dev` to `size_bytes` (rounded down
/// to a fragment). Reads the groups from the new last one to the end;
/// writes nothing.
pub fn plan(
    dev: &dyn Device,
    size_bytes: u64,
    allow_snapshots: bool,
) -> std::result::Result<ShrinkPlan, ShrinkError> {
    let (old, og) = Superblock::find(dev)?;
    if !old.is_clean() {
        return Err(ShrinkError::NotClean);
    }
    let fsize = u64::from(og.fsize);
    let size = size_bytes - size_bytes % fsize;
    let old_bytes = og.size * fsize;
    if size >= old_bytes || size == 0 {
        return Err(ShrinkError::NotSmaller {
            new: humanize(size),
            old: humanize(old_bytes),
        });
    }
    if !allow_snapshots && old.fs.fs_snapinum[0] != 0 {
        return Err(ShrinkError::ActiveSnapshot);
    }
    let (frags, ncg, dropped) = fit_groups(&og, size / fsize);
    if ncg == 0 {
        return Err(ShrinkError::TooSmall {
            min_bytes: (cg_data_start(&og, 0) + 1) * fsize,
        });
    }
    // The summary area stays where it is.
    let cs_end = og.csaddr + og.cssize.div_ceil(fsize);
    let (cs_lo, cs_hi) = (og.csaddr, cs_end);
    if cs_end > frags {
        let (need, _, _) = fit_groups(&og, cs_end);
        return Err(ShrinkError::SummaryInTheWay {
            at: og.frag_offset(Frag(og.csaddr)),
            smallest_bytes: need.max(cs_end) * fsize,
        });
    }
    // Scan the groups from the new last one on: count what lies past the
    // new end, and the smallest size keeping every allocated inode and
    // block there (a group in use keeps at least one fragment past its
    // cgdmin, growfs's rule). Only asked for when something is in the
    // way, so the groups below need no reading.
    let (mut inodes, mut used_frags, mut need) = (0u64, 0u64, cs_end);
    let first = u32::try_from(ncg - 1).unwrap_or(u32::MAX);
    for c in (first..og.ncg).rev() {
        let cg = CylGroup::read(dev, &og, CgIdx(c))?;
        let base = og.cgbase(CgIdx(c)).0;
        let in_use = (0..og.ipg).filter(|&i| cg.inode_used(i)).count() as u64;
        let mut top = None;
        for f in data_frags(&og, c) {
            let abs = base + f;
            if !cg.frag_free(f) && !(cs_lo..cs_hi).contains(&abs) {
                top = Some(top.map_or(abs, |t: u64| t.max(abs)));
                if abs >= frags {
                    used_frags += 1;
                }
            }
        }
        if u64::from(c) >= ncg {
            inodes += in_use;
        }
        if in_use > 0 || top.is_some() {
            let keep = cg_data_start(&og, u64::from(c)) + 1;
            need = need.max(keep).max(top.map_or(0, |t| t + 1));
        }
    }
    if inodes > 0 || used_frags > 0 {
        return Err(ShrinkError::InTheWay {
            removed: humanize(old_bytes - frags * fsize),
            inodes,
            bytes: humanize(used_frags * fsize),
            smallest: humanize(need * fsize),
            smallest_bytes: need * fsize,
        });
    }
    let ncg32 = u32::try_from(ncg)
        .map_err(|_| ShrinkError::Ufs(Error::InvalidInput(format!("{ncg} cylinder groups"))))?;
    let mut new = resized(&old, &og, frags, ncg32, dropped.is_some(), size);
    // fs_dsize loses the removed groups' data fragments and the trimmed
    // tail of the last group, and gains the summary fragments given back.
    let last = CgIdx(ncg32 - 1);
    let mut lost: u64 = (ncg32..og.ncg)
        .map(|c| data_frags(&og, c).count() as u64)
        .sum();
    lost += og.cg_frags(last) - (frags - og.cgbase(last).0);
    let freed = og.cssize.div_ceil(fsize) - u64::try_from(new.fs.fs_cssize).unwrap_or(0) / fsize;
    let dsize = (og.dsize + freed).saturating_sub(lost);
    new.fs.fs_dsize = i64::try_from(dsize).unwrap_or(i64::MAX);
    if og.version == UfsVersion::Ufs1 {
        new.fs.fs_old_dsize = i32::try_from(dsize).unwrap_or(i32::MAX);
    }
    let new_geo = Geometry::from_superblock(&new, old_bytes)?;
    Ok(ShrinkPlan {
        old,
        old_geo: og,
        new,
        new_geo,
        dropped_bytes: dropped,
        file_bytes: size,
    })
}

/// What [`apply`] wrote.
#[derive(Clone, Debug, Default)]
pub struct ShrinkStats {
    /// Bytes written.
    pub bytes: u64,
}

/// Carries out `plan` on `dev` (the whole old image; wrap it in an undo
/// device). Truncating the file afterwards is the caller's. `now` goes
/// into `fs_time` and the touched groups' times.
pub fn apply(plan: &ShrinkPlan, dev: &mut dyn Device, now: i64) -> Result<ShrinkStats> {
    let (og, ng) = (&plan.old_geo, &plan.new_geo);
    let mut st = ShrinkStats::default();
    let fsize = u64::from(og.fsize);
    let dsize = plan.new.fs.fs_dsize;

    let mut raw = vec![0u8; summary_len(og)];
    io::read_exact(dev, og.frag_offset(Frag(og.csaddr)), &mut raw)?;
    let mut cs: Vec<Csum> = (0..ng.ncg as usize)
        .map(|i| Csum::decode(&raw[i * 16..], og.endian).unwrap_or_else(Csum::zeroed))
        .collect();

    let mut changed: BTreeMap<u32, CylGroup> = BTreeMap::new();
    // The last kept group, trimmed to the new end when it becomes short.
    let last = ng.ncg - 1;
    let mut cg = CylGroup::read(dev, og, CgIdx(last))?;
    let old_ndblk = og.cg_frags(CgIdx(last));
    let new_ndblk = ng.cg_frags(CgIdx(last));
    if new_ndblk != old_ndblk {
        let frag = u64::from(og.frag);
        for f in new_ndblk..old_ndblk {
            cg.set_frag_free(f, false);
        }
        for b in new_ndblk / frag..old_ndblk / frag {
            cg.set_cluster_free(b, false);
        }
        let h = &mut cg.hdr;
        h.cg_time = now;
        h.cg_ndblk = group_frags32(new_ndblk);
        if ng.contigsumsize > 0 {
            h.cg_nclusterblks = group_frags32(new_ndblk / frag);
        }
        if ng.version == UfsVersion::Ufs1 {
            h.cg_old_ncyl = ufs1_old_ncyl(ng, plan.new.fs.fs_old_cpg, CgIdx(last), new_ndblk);
        }
        let mut cg = CylGroup::from_bytes(cg.encode(og).to_vec(), ng, CgIdx(last));
        recount(&mut cg, ng);
        changed.insert(last, cg);
    }

    // A smaller summary gives its trailing fragments back to its group.
    let old_csfrags = og.cssize.div_ceil(fsize);
    let new_csfrags = ng.cssize / fsize;
    if new_csfrags < old_csfrags {
        release_summary(dev, og, ng, &mut changed, new_csfrags, now)?;
    }
    for (&c, cg) in &changed {
        cs[c as usize] = csum_of(cg);
    }

    let (area, total) = summary_area(&cs, ng);
    let mut sb = plan.new.clone();
    finish_superblock(&mut sb, dsize, total, now);

    // Everything but the primary superblock, then the primary.
    put(dev, ng.frag_offset(Frag(ng.csaddr)), &area, &mut st.bytes)?;
    for (&c, cg) in changed.iter_mut() {
        let bytes = cg.encode(ng).to_vec();
        put(
            dev,
            ng.frag_offset(ng.cgtod(CgIdx(c))),
            &bytes,
            &mut st.bytes,
        )?;
    }
    commit_superblocks(dev, ng, &mut sb, ng.ncg, &mut st.bytes)?;
    Ok(st)
}
