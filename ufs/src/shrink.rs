//! Shrinking a file system (no FreeBSD tool does this): the cylinder
//! groups past the new size are dropped and the last kept group trimmed,
//! when everything there is free. The layout is growfs's for the smaller
//! size (`growfs::fit_groups`, `growfs::resized`): the result is what
//! FreeBSD's growfs makes when it grows the same file system from its
//! creation size to the smaller one.
//!
//! When allocated inodes or blocks lie in the removed region, [`plan`]
//! says what must move ([`Moves`]) if it fits in the free space kept, and
//! otherwise refuses before anything is written, naming the smallest size
//! it fits in ([`ShrinkError::NoRoom`]); [`evacuate`] moves it (the write
//! session's `Session::evacuate`, which keeps allocation out of the
//! removed part), leaving a clean file system of the old size with
//! nothing past the new end, and the shrink proper follows.
//!
//! A summary area a grow moved goes back to where newfs put it (group 0's
//! `cgdmin`) when that place is kept and clear of it (data there is
//! moved first), as FreeBSD's growfs lays it out for the smaller size.
//!
//! [`apply`] writes only inside the kept part, through one device (wrap it
//! in an undo device): the summary area, the trimmed last group and the
//! groups whose summary fragments are freed or taken, the backup superblocks, a
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
    /// A shrink was interrupted while renumbering an inode (its record
    /// is in the superblock, [`crate::intent::MoveIntent`]): only fsck
    /// may finish it.
    #[error(
        "a shrink was interrupted while moving inode {old} to {new} - run `ufs fsck -y` first"
    )]
    InterruptedShrink {
        /// The inode being moved.
        old: u32,
        /// Its new number.
        new: u32,
    },
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
    /// The data past the new end does not fit in what is kept.
    #[error(
        "the last {removed} to be removed hold {inodes} allocated inode(s) and {bytes} of \
         allocated blocks, which do not fit in the free space kept; the smallest size they fit \
         in is {smallest} ({smallest_bytes} bytes)"
    )]
    NoRoom {
        /// Bytes the shrink would remove, humanized.
        removed: String,
        /// Allocated inodes in the removed groups.
        inodes: u64,
        /// Allocated block bytes past the new end, humanized.
        bytes: String,
        /// The smallest size that fits (or needs no moving), humanized.
        smallest: String,
        /// The same in bytes.
        smallest_bytes: u64,
    },
    /// Journaled soft updates: the journal's blocks must not move.
    #[error(
        "journaled soft updates are enabled and data must move; disable the journal first \
         (ufs tunefs -j disable)"
    )]
    Journaled,
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
    /// Data to move out of the way first ([`evacuate`]), when any.
    pub moves: Option<Moves>,
}

/// What has to move before the groups can go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moves {
    /// Allocated inodes in the removed groups (they get new numbers).
    pub inodes: u64,
    /// Bytes of allocated fragments past the new end.
    pub bytes: u64,
    /// Groups kept.
    pub keep_groups: u32,
    /// The new end, in fragments.
    pub end: u64,
    /// Where the summary area goes back to (first fragment, length), when
    /// data lies there.
    pub hole: Option<(u64, u64)>,
}

impl ShrinkPlan {
    /// Byte ranges of what the truncation deletes and the old file system
    /// needs: the removed groups' metadata (backup superblock, group
    /// header, initialized inodes) and every allocated fragment past the
    /// new end. An undo file must keep them so that the old file system
    /// can be put back after the truncation.
    pub fn removed_ranges(&self, dev: &dyn Device) -> Result<Vec<(u64, u64)>> {
        let g = &self.old_geo;
        let isize = u64::from(g.version.inode_size());
        let end = self.new_geo.size;
        let mut out = Vec::new();
        for c in self.new_geo.ncg.saturating_sub(1)..g.ncg {
            let idx = CgIdx(c);
            let cg = CylGroup::read(dev, g, idx)?;
            if c >= self.new_geo.ncg {
                let start = g.frag_offset(g.cgsblock(idx));
                let inodes = match g.version {
                    UfsVersion::Ufs2 => cg.hdr.cg_initediblk,
                    UfsVersion::Ufs1 => g.ipg,
                };
                let stop = g.frag_offset(g.cgimin(idx)) + u64::from(inodes.min(g.ipg)) * isize;
                out.push((start, stop - start));
            }
            // Allocated fragments past the end, merged into runs.
            let base = g.cgbase(idx).0;
            let mut run: Option<(u64, u64)> = None;
            for f in data_frags(g, c).filter(|&f| base + f >= end) {
                if cg.frag_free(f) {
                    continue;
                }
                let abs = base + f;
                run = match run {
                    Some((s0, n)) if s0 + n == abs => Some((s0, n + 1)),
                    other => {
                        if let Some((s0, n)) = other {
                            out.push((g.frag_offset(Frag(s0)), n * u64::from(g.fsize)));
                        }
                        Some((abs, 1))
                    }
                };
            }
            if let Some((s0, n)) = run {
                out.push((g.frag_offset(Frag(s0)), n * u64::from(g.fsize)));
            }
        }
        Ok(out)
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
    if let Some(r) = crate::intent::MoveIntent::pending(&old.fs) {
        return Err(ShrinkError::InterruptedShrink {
            old: r.old.0,
            new: r.new.0,
        });
    }
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
    // The summary area goes back to where newfs put it, the start of
    // group 0's data (where FreeBSD's growfs keeps it when it need not
    // grow), when a grow moved it and the place is in the kept part and
    // clear of the old area; otherwise it stays where it is.
    let cs_end = og.csaddr + og.cssize.div_ceil(fsize);
    let (cs_lo, cs_hi) = (og.csaddr, cs_end);
    let new_csfrags = (ncg * Csum::SIZE as u64).div_ceil(fsize);
    let home = og.cgdmin(CgIdx(0)).0;
    let home_end = home + new_csfrags;
    let cs_home = og.csaddr != home
        && home_end <= frags
        && home_end <= og.cgbase(CgIdx(0)).0 + og.cg_frags(CgIdx(0))
        && (home_end <= cs_lo || cs_hi <= home);
    if cs_end > frags && !cs_home {
        let (need, _, _) = fit_groups(&og, cs_end);
        return Err(ShrinkError::SummaryInTheWay {
            at: og.frag_offset(Frag(og.csaddr)),
            smallest_bytes: need.max(cs_end) * fsize,
        });
    }
    // Scan the groups from the new last one on: what lies past the new
    // end (inodes of removed groups, blocks holding a fragment past it),
    // the smallest size keeping every allocated inode and block where it
    // is (a group in use keeps at least one fragment past its cgdmin,
    // growfs's rule), and what each group holds, to tell whether moving
    // fits.
    let (mut inodes, mut used_frags, mut need) = (0u64, 0u64, cs_end);
    let first = u32::try_from(ncg - 1).unwrap_or(u32::MAX);
    let frag = u64::from(og.frag);
    let mut groups: BTreeMap<u32, GroupUse> = BTreeMap::new();
    let (mut slack, mut slack_any) = (0u64, 0u64);
    for c in (first..og.ncg).rev() {
        let cg = CylGroup::read(dev, &og, CgIdx(c))?;
        let base = og.cgbase(CgIdx(c)).0;
        let used_inodes: Vec<u32> = (0..og.ipg).filter(|&i| cg.inode_used(i)).collect();
        let in_use = used_inodes.len() as u64;
        let mut top = None;
        let mut u = GroupUse {
            inodes: in_use,
            ..GroupUse::default()
        };
        let mut last_block = None;
        let mut last_past = None;
        for f in data_frags(&og, c) {
            let abs = base + f;
            let blk = f / frag;
            if !cg.frag_free(f) && !(cs_lo..cs_hi).contains(&abs) {
                top = Some(top.map_or(abs, |t: u64| t.max(abs)));
                if last_block != Some(blk) {
                    u.blocks += 1;
                    last_block = Some(blk);
                }
                if abs >= frags {
                    used_frags += 1;
                    if last_past != Some(blk) {
                        u.blocks_past += 1;
                        last_past = Some(blk);
                    }
                }
            }
        }
        // Wholly free blocks below the new end (what moving may use in
        // the last kept group).
        let nblocks = og.cg_frags(CgIdx(c)) / frag;
        u.free_below = (0..nblocks)
            .filter(|&b| {
                base + (b + 1) * frag <= frags && (0..frag).all(|k| cg.frag_free(b * frag + k))
            })
            .count() as u64;
        if u64::from(c) >= ncg {
            inodes += in_use;
            // An inode that moves is copied whole before its old blocks
            // are freed: room on top for the largest part of one that lies
            // in the kept part (its runs past the end are counted below).
            for &i in &used_inodes {
                let ip = crate::inode::Inode::read(dev, &og, crate::Ino(c * og.ipg + i))?;
                slack = slack.max(crate::evacuate::blocks_below(dev, &og, &ip, frags)?);
                // For a larger size, more of it may lie in the kept part.
                slack_any = slack_any.max((ip.blocks() * 512).div_ceil(og.bsize64()) + 1);
            }
        }
        if in_use > 0 || top.is_some() {
            let keep = cg_data_start(&og, u64::from(c)) + 1;
            need = need.max(keep).max(top.map_or(0, |t| t + 1));
        }
        groups.insert(c, u);
    }
    // What occupies the summary's home (only when it is to go there).
    let (mut hole_frags, mut hole_blocks) = (0u64, 0u64);
    if cs_home {
        let cg = CylGroup::read(dev, &og, CgIdx(0))?;
        let base = og.cgbase(CgIdx(0)).0;
        let used: Vec<u64> = (home..home_end)
            .filter(|&f| !cg.frag_free(f - base))
            .collect();
        hole_frags = used.len() as u64;
        let mut blocks: Vec<u64> = used.iter().map(|f| (f - base) / frag).collect();
        blocks.dedup();
        hole_blocks = blocks.len() as u64;
    }
    let mut moves = None;
    if inodes > 0 || used_frags > 0 || hole_frags > 0 {
        if old.fs.fs_snapinum[0] != 0 {
            return Err(ShrinkError::ActiveSnapshot);
        }
        if old.fs.fs_flags & crate::ondisk::consts::fsflags::FS_SUJ != 0 {
            return Err(ShrinkError::Journaled);
        }
        let sums = read_summary(dev, &og)?;
        let fits = |k: u32, partial: bool| -> bool {
            // Keeping groups below k (the last one cut at the new end when
            // `partial`): free room there against what lies beyond.
            let kept_last = if partial { k - 1 } else { k };
            let mut have: u64 = (0..kept_last)
                .map(|c| u64::try_from(sums[c as usize].cs_nbfree).unwrap_or(0))
                .sum();
            let have_i: u64 = (0..k)
                .map(|c| u64::try_from(sums[c as usize].cs_nifree).unwrap_or(0))
                .sum();
            // The summary's home is held back while moving.
            if cs_home {
                have = have.saturating_sub(new_csfrags.div_ceil(frag));
            }
            let mut want = if partial { slack } else { slack_any } + hole_blocks;
            let mut want_i = 0;
            if partial {
                let u = &groups[&(k - 1)];
                have += u.free_below;
                want += u.blocks_past;
            }
            for u in groups.range(k..).map(|(_, u)| u) {
                want += u.blocks;
                want_i += u.inodes;
            }
            want <= have && want_i <= have_i
        };
        let ncg32 = u32::try_from(ncg).unwrap_or(u32::MAX);
        if !fits(ncg32, true) {
            // The smallest size that fits: whole groups, or no moving.
            let k = (ncg32 + 1..og.ncg).find(|&k| fits(k, false));
            let fit_frags = k.map_or(og.size, |k| og.cgbase(CgIdx(k)).0);
            let smallest = fit_frags.min(need);
            return Err(ShrinkError::NoRoom {
                removed: humanize(old_bytes - frags * fsize),
                inodes,
                bytes: humanize(used_frags * fsize),
                smallest: humanize(smallest * fsize),
                smallest_bytes: smallest * fsize,
            });
        }
        moves = Some(Moves {
            inodes,
            bytes: (used_frags + hole_frags) * fsize,
            keep_groups: ncg32,
            end: frags,
            hole: (hole_frags > 0).then_some((home, new_csfrags)),
        });
    }
    let ncg32 = u32::try_from(ncg)
        .map_err(|_| ShrinkError::Ufs(Error::InvalidInput(format!("{ncg} cylinder groups"))))?;
    let mut new = resized(&old, &og, frags, ncg32, dropped.is_some(), size);
    if cs_home {
        new.fs.fs_csaddr = i64::try_from(home).unwrap_or(i64::MAX);
        if og.version == UfsVersion::Ufs1 {
            new.fs.fs_old_csaddr = i32::try_from(home).unwrap_or(i32::MAX);
        }
    }
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
        moves,
    })
}

/// What one group scanned by [`plan`] holds.
#[derive(Clone, Debug, Default)]
struct GroupUse {
    /// Allocated inodes.
    inodes: u64,
    /// Data blocks with an allocated fragment.
    blocks: u64,
    /// The same, counting only fragments past the new end.
    blocks_past: u64,
    /// Wholly free blocks below the new end.
    free_below: u64,
}

/// The per-group counts of the summary area.
fn read_summary(dev: &dyn Device, g: &Geometry) -> Result<Vec<Csum>> {
    let mut raw = vec![0u8; summary_len(g)];
    io::read_exact(dev, g.frag_offset(Frag(g.csaddr)), &mut raw)?;
    Ok((0..g.ncg as usize)
        .map(|i| Csum::decode(&raw[i * Csum::SIZE..], g.endian).unwrap_or_else(Csum::zeroed))
        .collect())
}

/// Moves what `plan` says lies in the way ([`Moves`]) into the kept part,
/// through a write session on `dev` (the whole old image; the same device
/// [`apply`] writes through, so an undo device sees both), and leaves a
/// clean file system of the old size with nothing past the new end. Plan
/// again afterwards and [`apply`]. `now` stamps what the session changes.
pub fn evacuate(
    plan: &ShrinkPlan,
    dev: Box<dyn Device>,
    now: i64,
) -> Result<crate::evacuate::MoveStats> {
    let Some(m) = plan.moves else {
        return Ok(crate::evacuate::MoveStats::default());
    };
    let mut s = crate::Session::open(dev, &crate::OpenOptions::read_write())?;
    s.set_fixed_time(Some(crate::Timespec { sec: now, nsec: 0 }));
    s.evacuate(m.keep_groups, m.end, m.hole)
}

/// What [`apply`] wrote.
#[derive(Clone, Debug, Default)]
pub struct ShrinkStats {
    /// Bytes written.
    pub bytes: u64,
}

/// Carries out `plan` on `dev` (the whole old image; wrap it in an undo
/// device); refused while the plan has data to move ([`evacuate`] it and
/// plan again). Truncating the file afterwards is the caller's. `now` goes
/// into `fs_time` and the touched groups' times.
pub fn apply(plan: &ShrinkPlan, dev: &mut dyn Device, now: i64) -> Result<ShrinkStats> {
    if let Some(m) = plan.moves {
        // Dropping groups that hold data would lose it: evacuate first.
        return Err(Error::InvalidInput(format!(
            "{} inode(s) and {} bytes of blocks lie past the new end; move them first",
            m.inodes, m.bytes
        )));
    }
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

    let old_csfrags = og.cssize.div_ceil(fsize);
    let new_csfrags = ng.cssize / fsize;
    if ng.csaddr == og.csaddr {
        // A smaller summary gives its trailing fragments back to its group.
        if new_csfrags < old_csfrags {
            release_summary(dev, og, ng, &mut changed, new_csfrags, now)?;
        }
    } else {
        // Back home: the old area is given back when it is in a kept group
        // (a removed one goes with it), the new one taken in group 0.
        if og.dtog(Frag(og.csaddr)).0 < ng.ncg {
            release_summary(dev, og, ng, &mut changed, 0, now)?;
        }
        let mut cg = match changed.remove(&0) {
            Some(cg) => cg,
            None => {
                let mut c = CylGroup::read(dev, og, CgIdx(0))?;
                CylGroup::from_bytes(c.encode(og).to_vec(), ng, CgIdx(0))
            }
        };
        cg.hdr.cg_time = now;
        let base = ng.cgbase(CgIdx(0)).0;
        for f in ng.csaddr..ng.csaddr + new_csfrags {
            if !cg.frag_free(f - base) {
                return Err(Error::InvalidInput(format!(
                    "fragment {f}, where the summary area goes, is in use; move it first"
                )));
            }
            cg.set_frag_free(f - base, false);
        }
        recount(&mut cg, ng);
        changed.insert(0, cg);
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
