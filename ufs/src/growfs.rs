//! growfs(8): grow a file system into the space after its end, laying out
//! the new cylinder groups as FreeBSD's growfs does.
//!
//! [`plan`] decides everything from the superblock and the target size
//! without writing: the new superblock and [`Geometry`], whether the last
//! group is dropped (too small for one data block) and whether the
//! cylinder-group summary must move. [`apply`] writes it in two phases:
//! first everything that lies past the old end (new groups, their backup
//! superblocks and inode blocks, the moved summary) on `fresh`, invisible to
//! the old file system; then what the old file system can see (the former
//! last group, the group that held the summary, the summary in place, the
//! old groups' backups) on `old` — the device the caller protects with an
//! undo file — and, after a flush, the primary superblock, the commit
//! point. A crash before that write leaves the old file system (whose last
//! group `ufs fsck -y` may trim back); after it, the new one.
//!
//! Rules taken from FreeBSD's sbin/growfs/growfs.c (see docs/growfs.md):
//! the size is rounded down to a fragment; the last group is kept only if
//! the size goes past its `cgdmin`; the summary grows in place when its
//! fragment count is unchanged, else it moves to the first data fragment
//! of the first new group, which needs at least two new groups (FreeBSD
//! 12.1 fails there with "panic: not enough space" after touching the last
//! group; this code refuses before writing anything). Counts in the groups
//! it changes are derived from their maps (`crate::alloc::recount`).

use crate::alloc::recount;
use crate::cg::{fresh_header, ufs1_old_ncyl, CylGroup};
use crate::error::{Error, Result};
use crate::io::{self, Device};
use crate::ondisk::Csum;
use crate::superblock::{Geometry, Superblock, UfsVersion};
use crate::units::CgIdx;
use std::collections::BTreeMap;

/// Why a grow cannot be done. Each maps to growfs's message and exit status.
#[derive(Debug, thiserror::Error)]
pub enum GrowError {
    /// The file system was not cleanly unmounted (`FS_UNCLEAN`, `FS_NEEDSFSCK`
    /// or the clean flag clear).
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
    /// The requested size is not larger than the file system (FreeBSD
    /// 12.1's words and exit status 1; later growfs tells equal from
    /// smaller).
    #[error("requested size {new} is not larger than the current filesystem size {old}")]
    NotLarger {
        /// Requested size, humanized.
        new: String,
        /// Current size, humanized.
        old: String,
    },
    /// Dropping a too-small last group leaves nothing new.
    #[error("not enough new space")]
    NotEnoughNewSpace,
    /// The summary area must grow but fewer than two groups are added.
    #[error(
        "the cylinder-group summary must grow from {old_frags} to {new_frags} fragments, which \
         needs at least two new cylinder groups (this grow adds {added}); grow by more \
         (FreeBSD's growfs fails here with \"panic: not enough space\")"
    )]
    SummaryNeedsTwoGroups {
        /// Summary fragments before.
        old_frags: u64,
        /// Summary fragments after.
        new_frags: u64,
        /// Groups this grow adds.
        added: u32,
    },
    /// A UFS1 file system cannot address that many fragments.
    #[error("UFS1 cannot hold {frags} fragments (the limit is 2^31 - 1)")]
    TooLargeForUfs1 {
        /// Fragments asked for.
        frags: u64,
    },
    /// Snapshots would be invalidated.
    #[error(
        "active snapshot found in file system; please remove all snapshots before using growfs"
    )]
    ActiveSnapshot,
    /// Reading, validating or writing failed.
    #[error(transparent)]
    Ufs(#[from] Error),
}

/// `humanize_number(..., HN_AUTOSCALE, HN_B | HN_NOSPACE | HN_DECIMAL)` with
/// growfs's 6-byte buffer: at most three digits, one decimal below 10, then
/// a 1024-based prefix and `B` ("64MB", "1.0GB", "512B").
pub fn humanize(bytes: u64) -> String {
    const PREFIX: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    // Divide by 1024 while more than three digits remain; keep the
    // remainder of the last division for rounding.
    let (mut q, mut rem, mut scale) = (bytes, 0u64, 0usize);
    while q >= 1000 && scale + 1 < PREFIX.len() {
        rem = q % 1024;
        q /= 1024;
        scale += 1;
    }
    // One decimal below 9.5 (0.95 * 1024 = 973 is humanize_number's cut).
    if scale > 0 && (q < 9 || (q == 9 && rem < 973)) {
        let tenths = (rem * 10 + 512) / 1024;
        return format!("{}.{}{}B", q + tenths / 10, tenths % 10, PREFIX[scale]);
    }
    let v = if scale > 0 { q + (rem + 512) / 1024 } else { q };
    format!("{v}{}B", PREFIX[scale])
}

/// What a grow will do.
#[derive(Clone, Debug)]
pub struct GrowPlan {
    /// The superblock as found.
    pub old: Superblock,
    /// Its geometry.
    pub old_geo: Geometry,
    /// The superblock to write (times set by [`apply`]).
    pub new: Superblock,
    /// Its geometry.
    pub new_geo: Geometry,
    /// Bytes left unused at the end when the last group was dropped.
    pub dropped_bytes: Option<u64>,
    /// Whether the summary area moves to the first new group.
    pub moves_summary: bool,
    /// Device length the plan was made for (bytes).
    pub media_bytes: u64,
}

impl GrowPlan {
    /// growfs's list of the new groups' backup superblocks, in 512-byte
    /// sectors, wrapped at `width` columns (growfs uses the terminal width,
    /// else 80): the lines after "super-block backups (for fsck_ffs -b #) at:".
    pub fn backups_text(&self, width: usize) -> String {
        let g = &self.new_geo;
        let sectors: Vec<u64> = (self.old_geo.ncg..g.ncg)
            .map(|c| g.frag_offset(g.cgsblock(CgIdx(c))) / 512)
            .collect();
        crate::newfs::layout::backup_list(&sectors, width)
    }
}

pub(crate) fn fragroundup(v: u64, fsize: u64) -> u64 {
    v.div_ceil(fsize) * fsize
}

/// The first data fragment (`cgdmin`) of group `c`, also for groups past
/// the file system's end (what a grow or shrink to that group count gives).
pub(crate) fn cg_data_start(g: &Geometry, c: u64) -> u64 {
    let start = c * g.fpg
        + match g.version {
            UfsVersion::Ufs2 => 0,
            UfsVersion::Ufs1 => g.old_cgoffset * (c & !g.old_cgmask),
        };
    start + g.dblkno
}

/// growfs's rule for `frags` fragments: the group count, and the last
/// group dropped (the size cut to whole groups) when it would end at or
/// before its `cgdmin`. Returns the fragments kept, the group count and
/// the bytes left unused by a dropped group.
pub(crate) fn fit_groups(g: &Geometry, frags: u64) -> (u64, u64, Option<u64>) {
    let fpg = g.fpg;
    let mut ncg = frags.div_ceil(fpg);
    if !frags.is_multiple_of(fpg) && frags <= cg_data_start(g, ncg - 1) {
        let dropped = (frags % fpg) * u64::from(g.fsize);
        ncg -= 1;
        return (ncg * fpg, ncg, Some(dropped));
    }
    (frags, ncg, None)
}

/// `old` resized to `frags` fragments in `ncg` groups: `fs_size`,
/// `fs_ncg`, `fs_cssize`, `fs_providersize` and UFS1's `fs_old_size` and
/// `fs_old_ncyl` (whole groups when the last one was dropped, else the
/// cylinders the fragments cover).
pub(crate) fn resized(
    old: &Superblock,
    g: &Geometry,
    frags: u64,
    ncg: u32,
    dropped: bool,
    media_bytes: u64,
) -> Superblock {
    let fsize = u64::from(g.fsize);
    let mut new = old.clone();
    let (fs, n) = (&old.fs, &mut new.fs);
    n.fs_providersize = i64::try_from(media_bytes / fsize).unwrap_or(i64::MAX);
    n.fs_size = i64::try_from(frags).unwrap_or(i64::MAX);
    if g.version == UfsVersion::Ufs1 {
        n.fs_old_size = i32::try_from(frags).unwrap_or(i32::MAX);
        n.fs_old_ncyl = if dropped {
            i32::try_from(u64::from(ncg) * u64::try_from(fs.fs_old_cpg).unwrap_or(0))
                .unwrap_or(i32::MAX)
        } else {
            let nspf = i64::from(fs.fs_old_nspf.max(1));
            let spc = i64::from(fs.fs_old_spc.max(1));
            let f = i64::try_from(frags).unwrap_or(i64::MAX);
            let c = f * nspf / spc;
            i32::try_from(if f * nspf > c * spc { c + 1 } else { c }).unwrap_or(i32::MAX)
        };
    }
    n.fs_ncg = ncg;
    n.fs_cssize =
        i32::try_from(fragroundup(u64::from(ncg) * Csum::SIZE as u64, fsize)).unwrap_or(i32::MAX);
    new
}

/// The superblock fields every resize sets last: `fs_dsize`, the totals
/// (`total`: ndir, nbfree, nifree, nffree), UFS1's old copies, the time,
/// and the clean, unmounted state.
pub(crate) fn finish_superblock(sb: &mut Superblock, dsize: i64, total: [i64; 4], now: i64) {
    sb.set_totals(crate::superblock::Totals::from_array(total));
    let ufs1 = sb.fs.fs_magic == crate::ondisk::consts::FS_UFS1_MAGIC;
    let f = &mut sb.fs;
    f.fs_dsize = dsize;
    f.fs_time = now;
    if ufs1 {
        f.fs_old_dsize = i32::try_from(dsize).unwrap_or(i32::MAX);
        f.fs_old_time = i32::try_from(now).unwrap_or(i32::MAX);
    }
    f.fs_fmod = 0;
    f.fs_clean = 1;
    f.fs_ronly = 0;
    f.fs_cgrotor = 0;
    f.fs_state = 0;
    f.fs_fsmnt = [0u8; 468];
    f.fs_ocsp = [0u8; 128];
}

/// The bytes of the superblock copy written at `loc`, which records its
/// own offset in `fs_sblockactualloc`.
pub(crate) fn sb_copy(sb: &mut Superblock, loc: u64) -> Vec<u8> {
    sb.fs.fs_sblockactualloc = i64::try_from(loc).unwrap_or(0);
    sb.encode()
}

/// Plans growing the file system on `dev` to `size_bytes` (rounded down to
/// a fragment) on a device of `media_bytes`.
pub fn plan(
    dev: &dyn Device,
    size_bytes: u64,
    media_bytes: u64,
    allow_snapshots: bool,
) -> std::result::Result<GrowPlan, GrowError> {
    let (old, old_geo) = Superblock::find(dev)?;
    let fs = &old.fs;
    if let Some(r) = crate::intent::MoveIntent::pending(&old.fs) {
        return Err(GrowError::InterruptedShrink {
            old: r.old.0,
            new: r.new.0,
        });
    }
    if !old.is_clean() {
        return Err(GrowError::NotClean);
    }
    let fsize = u64::from(old_geo.fsize);
    let size = size_bytes - size_bytes % fsize;
    let old_bytes = old_geo.size * fsize;
    if size <= old_bytes {
        return Err(GrowError::NotLarger {
            new: humanize(size),
            old: humanize(old_bytes),
        });
    }
    if !allow_snapshots && fs.fs_snapinum[0] != 0 {
        return Err(GrowError::ActiveSnapshot);
    }
    let ufs1 = old_geo.version == UfsVersion::Ufs1;
    if ufs1 && size / fsize > i32::MAX as u64 {
        return Err(GrowError::TooLargeForUfs1 {
            frags: size / fsize,
        });
    }
    let (frags, ncg, dropped) = fit_groups(&old_geo, size / fsize);
    if frags <= old_geo.size {
        return Err(GrowError::NotEnoughNewSpace);
    }
    let ncg32 = u32::try_from(ncg)
        .map_err(|_| GrowError::Ufs(Error::InvalidInput(format!("{ncg} cylinder groups"))))?;
    let cssize = fragroundup(ncg * Csum::SIZE as u64, fsize);
    let old_csfrags = old_geo.cssize.div_ceil(fsize);
    let new_csfrags = cssize / fsize;
    let moves_summary = new_csfrags != old_csfrags;
    if moves_summary && ncg32 - old_geo.ncg < 2 {
        return Err(GrowError::SummaryNeedsTwoGroups {
            old_frags: old_csfrags,
            new_frags: new_csfrags,
            added: ncg32 - old_geo.ncg,
        });
    }
    let mut new = resized(&old, &old_geo, frags, ncg32, dropped.is_some(), media_bytes);
    if moves_summary {
        let csaddr = cg_data_start(&old_geo, u64::from(old_geo.ncg));
        new.fs.fs_csaddr = i64::try_from(csaddr).unwrap_or(i64::MAX);
        if ufs1 {
            new.fs.fs_old_csaddr = i32::try_from(csaddr).unwrap_or(i32::MAX);
        }
    }
    let new_geo = Geometry::from_superblock(&new, media_bytes.max(frags * fsize))?;
    Ok(GrowPlan {
        old,
        old_geo,
        new,
        new_geo,
        dropped_bytes: dropped,
        moves_summary,
        media_bytes,
    })
}

/// What [`apply`] did.
#[derive(Clone, Debug, Default)]
pub struct GrowStats {
    /// Bytes written through `fresh` (past the old end).
    pub fresh_bytes: u64,
    /// Bytes written through `old` (inside the old file system).
    pub old_bytes: u64,
}

pub(crate) fn flush(dev: &mut dyn Device) -> Result<()> {
    dev.flush().map_err(|source| Error::Io {
        op: "syncing",
        offset: 0,
        len: 0,
        source,
    })
}

/// Writes `len` zero bytes at `off` where the device does not read as
/// zeros already (a sparse extension stays sparse).
fn zero_range(dev: &mut dyn Device, off: u64, len: u64, written: &mut u64) -> Result<()> {
    const CHUNK: u64 = 1 << 20;
    let mut pos = off;
    let end = off + len;
    let mut buf = Vec::new();
    while pos < end {
        let n = (end - pos).min(CHUNK) as usize;
        buf.resize(n, 0);
        io::read_exact(dev, pos, &mut buf)?;
        if buf.iter().any(|&b| b != 0) {
            buf.fill(0);
            io::write_all(dev, pos, &buf)?;
            *written += n as u64;
        }
        pos += n as u64;
    }
    Ok(())
}

pub(crate) fn put(dev: &mut dyn Device, off: u64, bytes: &[u8], written: &mut u64) -> Result<()> {
    io::write_all(dev, off, bytes)?;
    *written += bytes.len() as u64;
    Ok(())
}

/// A count of fragments (or blocks) of one group as its 32-bit header
/// field: a group holds at most `fs_fpg` fragments, itself a 32-bit
/// superblock field, so the value always fits.
#[allow(clippy::cast_possible_truncation)]
pub(crate) fn group_frags32(n: u64) -> u32 {
    n as u32
}

/// The summary area's length in memory: from the 32-bit `fs_cssize`, so
/// it fits `usize` on every host ufskit builds for.
#[allow(clippy::cast_possible_truncation)]
pub(crate) fn summary_len(g: &Geometry) -> usize {
    g.cssize as usize
}

/// A brand-new group `c` as growfs's `initcg` lays it out, counts derived
/// from its maps.
fn new_group(g: &Geometry, c: u32, now: i64, summary_frags: u64, old_cpg: i32) -> CylGroup {
    let idx = CgIdx(c);
    let mut cg = CylGroup::with_header(g, idx, &fresh_header(g, idx, old_cpg));
    let ndblk = cg.nfrags();
    match g.version {
        UfsVersion::Ufs2 => cg.hdr.cg_time = now,
        // UFS1's 32-bit time keeps the low bits, as growfs's `initcg`
        // stores it.
        #[allow(clippy::cast_possible_truncation)]
        UfsVersion::Ufs1 => cg.hdr.cg_old_time = now as i32,
    }
    let base = g.cgbase(idx).0;
    let dlower = g.cgsblock(idx).0 - base;
    let dupper = g.cgdmin(idx).0 - base + summary_frags;
    for f in (0..dlower).chain(dupper..ndblk) {
        cg.set_frag_free(f, true);
    }
    recount(&mut cg, g);
    cg
}

pub(crate) fn csum_of(cg: &CylGroup) -> Csum {
    let c = cg.hdr.cg_cs;
    Csum {
        cs_ndir: c[0],
        cs_nbfree: c[1],
        cs_nifree: c[2],
        cs_nffree: c[3],
    }
}

/// Frees fragments `from..` of the old summary area in the group that
/// holds it (taken from `changed` or read from `dev`, then kept there,
/// recounted, its time `now`). Returns the group's index.
pub(crate) fn release_summary(
    dev: &dyn Device,
    og: &Geometry,
    ng: &Geometry,
    changed: &mut BTreeMap<u32, CylGroup>,
    from: u64,
    now: i64,
) -> Result<u32> {
    let old_csfrags = og.cssize.div_ceil(u64::from(og.fsize));
    let ocg = og.dtog(crate::Frag(og.csaddr)).0;
    let mut cg = match changed.remove(&ocg) {
        Some(cg) => cg,
        None => {
            let mut c = CylGroup::read(dev, og, CgIdx(ocg))?;
            CylGroup::from_bytes(c.encode(og).to_vec(), ng, CgIdx(ocg))
        }
    };
    cg.hdr.cg_time = now;
    let rel = og.csaddr - og.cgbase(CgIdx(ocg)).0;
    for f in rel + from..rel + old_csfrags {
        cg.set_frag_free(f, true);
    }
    recount(&mut cg, ng);
    changed.insert(ocg, cg);
    Ok(ocg)
}

/// The summary area's bytes for `cs` (sized for `ng`) and its totals
/// (ndir, nbfree, nifree, nffree).
pub(crate) fn summary_area(cs: &[Csum], ng: &Geometry) -> (Vec<u8>, [i64; 4]) {
    let mut total = [0i64; 4];
    let mut area = vec![0u8; summary_len(ng)];
    for (i, c) in cs.iter().enumerate() {
        c.encode_into(&mut area[i * 16..], ng.endian);
        for (t, v) in total
            .iter_mut()
            .zip([c.cs_ndir, c.cs_nbfree, c.cs_nifree, c.cs_nffree])
        {
            *t += i64::from(v);
        }
    }
    (area, total)
}

/// The last writes of a resize: the backup superblocks of groups
/// `0..groups`, a flush, then the primary (the commit point) and a flush.
pub(crate) fn commit_superblocks(
    dev: &mut dyn Device,
    ng: &Geometry,
    sb: &mut Superblock,
    groups: u32,
    written: &mut u64,
) -> Result<()> {
    for c in 0..groups {
        let loc = ng.frag_offset(ng.cgsblock(CgIdx(c)));
        put(dev, loc, &sb_copy(sb, loc), written)?;
    }
    flush(dev)?;
    let loc = sb.location;
    put(dev, loc, &sb_copy(sb, loc), written)?;
    flush(dev)
}

/// Carries out `plan`. Writes past the old end go to `fresh`, writes the
/// old file system can see go to `old` (wrap it in an undo device); both
/// must be the same image, already at least `plan.new_geo.size` fragments
/// long. `now` goes into `fs_time` and the touched groups' times.
pub fn apply(
    plan: &GrowPlan,
    fresh: &mut dyn Device,
    old: &mut dyn Device,
    now: i64,
) -> Result<GrowStats> {
    let (og, ng) = (&plan.old_geo, &plan.new_geo);
    let mut st = GrowStats::default();
    let ufs1 = ng.version == UfsVersion::Ufs1;
    let mut sb = plan.new.clone();
    let mut dsize = i64::try_from(og.dsize).unwrap_or(0);

    // The summary as it stands, one entry per old group.
    let mut raw = vec![0u8; summary_len(og)];
    io::read_exact(old, og.frag_offset(crate::Frag(og.csaddr)), &mut raw)?;
    let mut cs: Vec<Csum> = (0..og.ncg as usize)
        .map(|i| Csum::decode(&raw[i * 16..], og.endian).unwrap_or_else(Csum::zeroed))
        .collect();

    // Groups of the old file system that change, kept until phase two.
    let mut changed: BTreeMap<u32, CylGroup> = BTreeMap::new();

    // The former last group: its tail grows to the new group size.
    let last = og.ncg - 1;
    let mut jcg = CylGroup::read(old, og, CgIdx(last))?;
    let old_ndblk = i64::from(jcg.hdr.cg_ndblk);
    let mut jcg = CylGroup::from_bytes(jcg.encode(og).to_vec(), ng, CgIdx(last));
    let cpg = ufs1_old_ncyl(ng, sb.fs.fs_old_cpg, CgIdx(last), ng.cg_frags(CgIdx(last)));
    if og.cgbase(CgIdx(last + 1)).0 == og.size {
        if ufs1 {
            jcg.hdr.cg_old_ncyl = cpg;
        }
    } else {
        jcg.hdr.cg_time = now;
        if ufs1 {
            jcg.hdr.cg_old_ncyl = cpg;
        }
        let base = ng.cgbase(CgIdx(last)).0;
        let ndblk = ng.cg_frags(CgIdx(last));
        jcg.hdr.cg_ndblk = group_frags32(ndblk);
        if ng.contigsumsize > 0 {
            jcg.hdr.cg_nclusterblks = group_frags32(ndblk / u64::from(ng.frag));
        }
        for f in (og.size - base)..ndblk {
            jcg.set_frag_free(f, true);
        }
        recount(&mut jcg, ng);
        dsize += i64::from(group_frags32(ndblk)) - old_ndblk;
    }
    cs[last as usize] = csum_of(&jcg);
    changed.insert(last, jcg);

    // Phase one: the new groups, past the old end.
    let new_csfrags = ng.cssize / u64::from(ng.fsize);
    for c in og.ncg..ng.ncg {
        let summary = if plan.moves_summary && c == og.ncg {
            new_csfrags
        } else {
            0
        };
        let mut cg = new_group(ng, c, now, summary, sb.fs.fs_old_cpg);
        let base = ng.cgbase(CgIdx(c)).0;
        let dlower = ng.cgsblock(CgIdx(c)).0 - base;
        let dupper = ng.cgdmin(CgIdx(c)).0 - base;
        dsize += i64::from(group_frags32(dlower + ng.cg_frags(CgIdx(c)) - dupper));
        let inodes = match ng.version {
            UfsVersion::Ufs2 => u64::from(cg.hdr.cg_initediblk),
            UfsVersion::Ufs1 => u64::from(ng.ipg),
        };
        let isize = u64::from(ng.version.inode_size());
        zero_range(
            fresh,
            ng.frag_offset(ng.cgimin(CgIdx(c))),
            inodes * isize,
            &mut st.fresh_bytes,
        )?;
        let bytes = cg.encode(ng).to_vec();
        put(
            fresh,
            ng.frag_offset(ng.cgtod(CgIdx(c))),
            &bytes,
            &mut st.fresh_bytes,
        )?;
        cs.push(csum_of(&cg));
    }

    // The summary area: moved (old fragments freed in their group) or
    // grown in place.
    if plan.moves_summary {
        let old_csfrags = og.cssize.div_ceil(u64::from(og.fsize));
        // Summary sizes come from the 32-bit `fs_cssize`.
        #[allow(clippy::cast_possible_wrap)]
        let grew = new_csfrags as i64 - old_csfrags as i64;
        dsize -= grew;
        let ocg = release_summary(old, og, ng, &mut changed, 0, now)?;
        cs[ocg as usize] = csum_of(&changed[&ocg]);
    }
    let (area, total) = summary_area(&cs, ng);
    let cs_off = ng.frag_offset(crate::Frag(ng.csaddr));

    finish_superblock(&mut sb, dsize, total, now);
    for c in og.ncg..ng.ncg {
        let loc = ng.frag_offset(ng.cgsblock(CgIdx(c)));
        put(fresh, loc, &sb_copy(&mut sb, loc), &mut st.fresh_bytes)?;
    }
    if plan.moves_summary {
        put(fresh, cs_off, &area, &mut st.fresh_bytes)?;
    }
    flush(fresh)?;

    // Phase two: what the old file system sees, the superblock last.
    for (&c, cg) in changed.iter_mut() {
        let bytes = cg.encode(ng).to_vec();
        put(
            old,
            ng.frag_offset(ng.cgtod(CgIdx(c))),
            &bytes,
            &mut st.old_bytes,
        )?;
    }
    if !plan.moves_summary {
        put(old, cs_off, &area, &mut st.old_bytes)?;
    }
    commit_superblocks(old, ng, &mut sb, og.ncg, &mut st.old_bytes)?;
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::humanize;

    /// Values checked against FreeBSD 12.1 growfs's messages (the oracle):
    /// "leaving 2.3MB unused", "64MB", "1.0GB".
    #[test]
    fn humanize_matches_growfs_messages() {
        assert_eq!(humanize(512), "512B");
        assert_eq!(humanize(64 << 20), "64MB");
        assert_eq!(humanize(256 << 20), "256MB");
        assert_eq!(humanize(1 << 30), "1.0GB");
        assert_eq!(humanize(1000 * 1024), "1.0MB");
        assert_eq!(humanize(1 << 40), "1.0TB");
        assert_eq!(humanize(2_411_520), "2.3MB");
    }
}
