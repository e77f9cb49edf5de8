//! The layout computation of FreeBSD's newfs: device size and options in,
//! every superblock field and a plan for every cylinder group out. No I/O.
//!
//! This module owns [`compute`], [`Layout`], [`CgPlan`], [`JournalPlan`] and
//! the text newfs prints ([`summary_text`], [`journal_text`]). It follows
//! sbin/newfs/newfs.c (option defaults, sector scaling), sbin/newfs/mkfs.c
//! (`mkfs`: block/fragment checks, the three loops that size a cylinder group,
//! the superblock fields; `initcg`: each group's maps and counts; `fsinit` and
//! `alloc`: the root and `.snap` directories) and, for `-j`, sbin/tunefs's
//! `journal_alloc`, which newfs runs as `tunefs -j enable`.
//!
//! Free counts: `fs_cstotal` is what newfs writes, not a sum over the groups.
//! mkfs derives it from `fs_dsize` and the summary-area size before any group
//! exists, then `alloc`/`iput` adjust it for each directory they create. Each
//! directory takes the lowest free *full* block of cg 0 (the first block after
//! the summary area `csaddr .. csaddr + cssize`, which sits at cg 0's
//! `dblkno`), keeps one fragment and gives the other `frag - 1` back as free
//! fragments. So with `.snap` the totals move by ndir +2, nbfree -2,
//! nffree +2*(frag-1), nifree -2; with `-n` by half that. The summary area's
//! own partial block contributes `frag - csfrags % frag` free fragments.

use super::options::{LayoutError, NewfsOptions, Optim, MAXBLKSPERCG, MINFREE};
use crate::ondisk::consts::{
    self, fsflags, FS_44INODEFMT, FS_UFS1_MAGIC, FS_UFS2_MAGIC, ROOTINO, SBLOCK_UFS1, SBLOCK_UFS2,
};
use crate::ondisk::{Csum, Fs};
use crate::{Endian, UfsVersion};
use std::fmt::Write as _;

// The format's constants in the signed arithmetic mkfs.c does; the values
// come from `ondisk` (all small: `signed` checks that at compile time).
/// A small constant as an `i64`; a value that did not fit would fail the
/// build (the assertion runs in const evaluation).
#[allow(clippy::cast_possible_wrap)]
const fn signed(v: u64) -> i64 {
    assert!(v <= 1 << 62);
    v as i64
}
/// `sizeof(struct fs)`.
const SIZEOF_FS: i64 = signed(Fs::SIZE as u64);
/// `sizeof(struct cg)` as `CGSIZE` counts it: the one-byte `cg_space[1]`
/// placeholder padded to the struct's 8-byte alignment makes it 176, so the
/// size estimate is 8 bytes above what the maps really need. That slack
/// decides where the group-growing loop stops (fpg 160280, not 160336, at
/// 32 KiB blocks).
const SIZEOF_CG: i64 = 176;
/// `sizeof(struct csum)`.
const SIZEOF_CSUM: i64 = signed(Csum::SIZE as u64);
/// `SBLOCKSIZE`.
const SBLOCKSIZE: i64 = signed(consts::SBLOCKSIZE as u64);
/// `MAXBSIZE`.
const MAXBSIZE: i64 = signed(consts::MAXBSIZE as u64);
/// `MAXFRAG`.
const MAXFRAG: i64 = signed(consts::MAXFRAG as u64);
/// `FS_MAXCONTIG`: cluster summary entries.
const FS_MAXCONTIG: i64 = signed(consts::FS_MAXCONTIG as u64);
/// `MINCYLGRPS`: newfs stops growing a group below this many groups.
const MINCYLGRPS: i64 = 4;
/// `NFPI`: default fragments per inode.
const NFPI: i64 = 2;
/// Direct and indirect block pointers of an inode.
const NDADDR: i64 = signed(consts::NDADDR as u64);
// 3.
#[allow(clippy::cast_possible_truncation)]
const NIADDR: u32 = consts::NIADDR as u32;
/// `SUJ_MIN` / `SUJ_MAX` (fs.h): journal size bounds used by tunefs
/// (`SUJ_MIN` is also the smallest `tunefs -S` takes).
pub const SUJ_MIN: i64 = 4 * 1024 * 1024;
const SUJ_MAX: i64 = 32 * 1024 * 1024;
/// tunefs first looks for a group with more free blocks than this.
const SUJ_CONTIG_BLOCKS: i64 = 256 * 1024;
/// The time `-R` uses.
const REGRESSION_TIME: i64 = 1_000_000_000;
/// Terminal width newfs assumes when stdout is not a terminal.
pub const DEFAULT_COLUMNS: usize = 80;

/// Everything newfs decides, ready to be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The superblock as newfs (and, with `-j`, tunefs) leaves it, magic set.
    /// `fs_ckhash` is left 0: the writer computes it if `CK_SUPERBLOCK` is on.
    pub sb: Fs,
    /// One plan per cylinder group.
    pub cgs: Vec<CgPlan>,
    /// Superblock backup locations in 512-byte sectors
    /// (`fsbtodb(cgsblock(cg))`), as newfs prints them.
    pub backups: Vec<u64>,
    /// Fragment holding the root directory's 512 bytes.
    pub root_dir_frag: u64,
    /// Fragment holding `/.snap` (`None` with `-n`).
    pub snap_dir_frag: Option<u64>,
    /// The `-j` journal tunefs creates.
    pub journal: Option<JournalPlan>,
    /// Lines newfs prints on stdout before its summary (no newline).
    pub notes: Vec<String>,
    /// Lines newfs (and tunefs) print on stderr (no newline).
    pub warnings: Vec<String>,
    /// The device's sector size in bytes (`-S`); newfs's size check writes
    /// the last sector of this size.
    pub sector_size: u32,
}

/// What newfs writes into one cylinder group.
///
/// Fragment numbers named `*_rel` count from the group's first fragment
/// (`cgbase`); the others are absolute file system fragments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgPlan {
    /// `cg_cgx`.
    pub cgx: u32,
    /// First fragment of the group (`cgbase`).
    pub cgbase: u64,
    /// Backup superblock (`cgsblock`).
    pub sblock_frag: u64,
    /// The cg block (`cgtod`).
    pub cg_frag: u64,
    /// First inode block (`cgimin`).
    pub inode_frag: u64,
    /// First data fragment (`cgdmin`); in cg 0 the summary area starts here.
    pub data_frag: u64,
    /// `cg_ndblk`: fragments in the group (the last one may be short).
    pub ndblk: u32,
    /// `cg_niblk` (0 on UFS1, which uses `cg_old_niblk`).
    pub niblk: u32,
    /// `cg_initediblk`: UFS2 initializes only `min(ipg, 2 * INOPB)` inodes;
    /// 0 on UFS1, where newfs writes every inode block.
    pub initediblk: u32,
    /// `cg_old_ncyl` (UFS1: 1).
    pub old_ncyl: i16,
    /// `cg_old_niblk` (UFS1: ipg).
    pub old_niblk: i16,
    /// `cg_old_btotoff` (UFS1 only).
    pub old_btotoff: i32,
    /// `cg_old_boff` (UFS1 only).
    pub old_boff: i32,
    /// `cg_iusedoff`.
    pub iusedoff: u32,
    /// `cg_freeoff`.
    pub freeoff: u32,
    /// `cg_nextfreeoff`.
    pub nextfreeoff: u32,
    /// `cg_clustersumoff` (0 without clustering).
    pub clustersumoff: u32,
    /// `cg_clusteroff` (0 without clustering).
    pub clusteroff: u32,
    /// `cg_nclusterblks` (0 without clustering).
    pub nclusterblks: u32,
    /// Free fragments start here (relative): in cg 0 after the summary
    /// area, elsewhere at `dblkno`. Before `dlower_rel` (cg > 0 only) the
    /// whole blocks in front of the backup superblock are free too.
    pub dupper_rel: u32,
    /// End of the free area in front of the backup superblock (`sblkno`);
    /// 0 for cg 0, where that space holds the boot area.
    pub dlower_rel: u32,
    /// Counts as `initcg` writes them, before any file exists.
    pub initial: Csum,
    /// Counts in the finished file system (root, `.snap`, journal).
    pub cs: Csum,
    /// `cg_frsum[0..8]` in the finished file system.
    pub frsum: [i32; 8],
    /// `cg_clustersum[0..=contigsumsize]` in the finished file system.
    pub clustersum: Vec<i32>,
    /// Inodes marked used (relative to the group's first inode).
    pub inodes_used: Vec<u32>,
    /// Single fragments in use after `initcg` (relative): the directories.
    /// The rest of each such block is free.
    pub used_frags_rel: Vec<u32>,
    /// Whole blocks in use after `initcg` (relative fragment of each block).
    pub used_blocks_rel: Vec<u32>,
}

impl CgPlan {
    /// Free fragment ranges (relative, half-open) of the finished group,
    /// in ascending order: what `cg_blksfree` has set.
    pub fn free_ranges(&self, frag: u32) -> Vec<std::ops::Range<u32>> {
        let mut used: Vec<(u32, u32)> = self
            .used_frags_rel
            .iter()
            .map(|&f| (f, f.saturating_add(1)))
            .chain(
                self.used_blocks_rel
                    .iter()
                    .map(|&b| (b, b.saturating_add(frag))),
            )
            .collect();
        used.sort_unstable();
        let mut out = Vec::new();
        let mut push = |r: std::ops::Range<u32>| {
            let mut start = r.start;
            for &(us, ue) in &used {
                if ue <= start || us >= r.end {
                    continue;
                }
                if us > start {
                    out.push(start..us);
                }
                start = start.max(ue);
            }
            if start < r.end {
                out.push(start..r.end);
            }
        };
        if self.dlower_rel > 0 {
            push(0..self.dlower_rel);
        }
        if self.dupper_rel < self.ndblk {
            push(self.dupper_rel..self.ndblk);
        }
        out
    }
}

/// The `.sujournal` file `tunefs -j enable` creates after newfs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalPlan {
    /// Its inode (4, or 3 with `-n`).
    pub inode: u32,
    /// Group the inode came from.
    pub cg: u32,
    /// Size in bytes (a whole number of blocks).
    pub size: u64,
    /// Every block tunefs allocates for it, in its order: 12 direct data
    /// blocks, then each indirect block followed by what it points to.
    pub blocks: Vec<u64>,
    /// Of `blocks`, those that are indirect blocks.
    pub indirect: Vec<u64>,
    /// The full block the root directory is moved into (tunefs rewrites the
    /// root as one block and frees its old fragment).
    pub new_root_block: u64,
    /// tunefs found no group with more than 256K free blocks.
    pub fragmented: bool,
}

fn ovf(what: &'static str) -> LayoutError {
    LayoutError::Overflow(what)
}

fn howmany(x: i64, y: i64) -> Result<i64, LayoutError> {
    if y <= 0 {
        return Err(ovf("a division"));
    }
    x.checked_add(y - 1).map(|v| v / y).ok_or(ovf("a rounding"))
}

fn roundup(x: i64, y: i64) -> Result<i64, LayoutError> {
    howmany(x, y)?.checked_mul(y).ok_or(ovf("a rounding"))
}

fn ilog2(v: i64) -> i64 {
    i64::from(v.max(1).trailing_zeros())
}

fn is_pow2(v: i64) -> bool {
    v > 0 && (v & (v - 1)) == 0
}

/// The block-size-dependent values the sizing loops need.
#[derive(Clone, Copy)]
struct Geo {
    bsize: i64,
    fsize: i64,
    frag: i64,
    fshift: i64,
    fragshift: i64,
    inopb: i64,
    iblkno: i64,
    old_cpg: i64,
    contigsumsize: i64,
}

impl Geo {
    fn inopf(&self) -> i64 {
        self.inopb >> self.fragshift
    }

    /// `CGSIZE(fs)`: bytes of a cg block with its maps.
    fn cgsize(&self, fpg: i64, ipg: i64) -> Result<i64, LayoutError> {
        let mut n = SIZEOF_CG + 4 + self.old_cpg * 4 + self.old_cpg * 2;
        n += howmany(ipg, 8)?;
        n += howmany(fpg, 8)?;
        if self.contigsumsize > 0 {
            n += self.contigsumsize * 4 + howmany(fpg >> self.fragshift, 8)?;
        }
        Ok(n)
    }

    /// Inodes for `fpg` fragments at one inode per `fpi` fragments.
    fn ipg_for(&self, fpg: i64, fpi: i64) -> Result<i64, LayoutError> {
        roundup(howmany(fpg, fpi)?, self.inopb)
    }

    /// The smallest group that holds its metadata and `ipg` inodes.
    fn min_fpg(&self, ipg: i64) -> Result<i64, LayoutError> {
        let inopf = self.inopf();
        if inopf <= 0 {
            return Err(ovf("inodes per fragment"));
        }
        roundup(self.iblkno + ipg / inopf, self.frag)
    }
}

fn check_u32(v: Option<u32>, lo: u32, err: fn(u32) -> LayoutError) -> Result<(), LayoutError> {
    match v {
        Some(x) if x < lo || x > i32::MAX as u32 => Err(err(x)),
        _ => Ok(()),
    }
}

/// Rejects what newfs.c's option parser rejects, plus block and fragment
/// sizes outside their ranges (mkfs would quietly adjust an explicit value;
/// we refuse it so the caller sees the problem).
fn validate(opts: &NewfsOptions) -> Result<(), LayoutError> {
    if let Some(s) = opts.sector_size {
        if !s.is_power_of_two() || !(512..=65536).contains(&s) {
            return Err(LayoutError::BadSectorSize(s));
        }
    }
    if let Some(b) = opts.bsize {
        if !b.is_power_of_two() {
            return Err(LayoutError::BlockSizeNotPowerOf2(b));
        }
        if b < 4096 {
            return Err(LayoutError::BlockSizeTooSmall(b));
        }
        if b > 65536 {
            return Err(LayoutError::BlockSizeTooLarge(b));
        }
    }
    if let Some(f) = opts.fsize {
        if !f.is_power_of_two() {
            return Err(LayoutError::FragSizeNotPowerOf2(f));
        }
        if f < 512 {
            return Err(LayoutError::FragSizeTooSmall(f));
        }
        if f > 65536 {
            return Err(LayoutError::FragSizeLargerThanBlock {
                bsize: opts.bsize.unwrap_or(65536),
                fsize: f,
            });
        }
    }
    if let (Some(b), Some(f)) = (opts.bsize, opts.fsize) {
        if f > b {
            return Err(LayoutError::FragSizeLargerThanBlock { bsize: b, fsize: f });
        }
        if f.saturating_mul(8) < b {
            return Err(LayoutError::FragSizeTooSmallForBlock {
                fsize: f,
                bsize: b,
                min: b / 8,
            });
        }
    }
    check_u32(opts.density, 1, LayoutError::BadDensity)?;
    if let Some(m) = opts.minfree {
        if m > 99 {
            return Err(LayoutError::BadMinfree(m));
        }
    }
    check_u32(opts.avgfilesize, 1, LayoutError::BadAvgFileSize)?;
    check_u32(opts.avgfpdir, 1, LayoutError::BadAvgFpdir)?;
    check_u32(opts.maxcontig, 1, LayoutError::BadMaxcontig)?;
    check_u32(opts.maxbpg, 1, LayoutError::BadMaxbpg)?;
    check_u32(opts.maxfpg, 1, LayoutError::BadMaxfpg)?;
    check_u32(opts.maxbsize, 4096, LayoutError::BadMaxbsize)?;
    check_u32(opts.metaspace, 0, LayoutError::BadMetaspace)?;
    if opts.maxphys == 0 || opts.maxphys > i32::MAX as u32 {
        return Err(LayoutError::BadMaxcontig(opts.maxphys));
    }
    if let Some(l) = &opts.label {
        if !l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
            return Err(LayoutError::BadLabelChars);
        }
        if l.len() >= 32 {
            return Err(LayoutError::LabelTooLong);
        }
    }
    Ok(())
}

/// Computes the file system newfs would make on a device of `size_bytes`
/// bytes with `opts`, exactly as FreeBSD's newfs/mkfs (and tunefs for `-j`)
/// do it.
pub fn compute(size_bytes: u64, opts: &NewfsOptions) -> Result<Layout, LayoutError> {
    validate(opts)?;
    let ufs1 = opts.version == UfsVersion::Ufs1;
    let mut notes = Vec::new();
    let mut warnings = Vec::new();

    // --- newfs.c: device size, defaults, sector scaling ---
    let realsectorsize = opts.sector_size.unwrap_or(512);
    let disksize = size_bytes / u64::from(realsectorsize);
    let available = disksize
        .checked_sub(opts.reserved_sectors)
        .filter(|&a| a > 0)
        .ok_or(LayoutError::ReservedTooLarge(disksize))?;
    let fssize_sectors = match opts.fs_size_sectors {
        None | Some(0) => available,
        Some(s) if s > available => return Err(LayoutError::SizeTooLarge(available)),
        Some(s) => s,
    };
    let real = i64::from(realsectorsize);
    // Requested sizes: newfs's globals, which mkfs doubles on a restart.
    let mut fsize_req = i64::from(opts.fsize.unwrap_or(4096u32.max(realsectorsize)));
    let mut bsize_req = i64::from(opts.bsize.unwrap_or_else(|| {
        let f = opts.fsize.unwrap_or(4096u32.max(realsectorsize));
        32768u32.min(f.saturating_mul(8))
    }));
    let minfree = i64::from(opts.minfree.unwrap_or(MINFREE));
    let mut optim = opts.optim.unwrap_or(Optim::Time);
    if minfree < i64::from(MINFREE) && optim != Optim::Space {
        warnings.push(format!(
            "Warning: changing optimization to space because minfree is less than {MINFREE}%"
        ));
        optim = Optim::Space;
    }
    // newfs.c's "XXX": everything below counts 512-byte sectors.
    let fssize = i64::try_from(fssize_sectors)
        .ok()
        .and_then(|s| s.checked_mul(real / 512))
        .ok_or(ovf("the size in sectors"))?;
    if fssize <= 0 {
        return Err(LayoutError::PreposterousSize(0));
    }
    let avgfilesize = opts.avgfilesize.unwrap_or(super::options::AVFILESIZ);
    let avgfpdir = opts.avgfpdir.unwrap_or(super::options::AFPDIR);
    let maxblkspercg = i64::from(opts.maxfpg.unwrap_or(MAXBLKSPERCG));

    // --- mkfs.c ---
    let (sblockloc, inode_size, ptr_size) = if ufs1 {
        (signed(SBLOCK_UFS1), 128i64, 4i64)
    } else {
        (signed(SBLOCK_UFS2), 256i64, 8i64)
    };
    let mut density: i64 = opts.density.map(i64::from).unwrap_or(0);
    let mut maxcontig: i64 = opts.maxcontig.map(i64::from).unwrap_or(0);
    let mut fs_maxbsize: i64 = 0;
    let mut contigsumsize: i64 = 0;
    let mut restarts = 0;
    // The `restart:` loop of mkfs: a too-small block size for the file
    // system's inode count doubles both sizes and starts over.
    let (g, fs_size, fpg, ipg, fsbtodb, fragsperinode) = 'restart: loop {
        restarts += 1;
        if restarts > 8 {
            return Err(LayoutError::NoBlockSize);
        }
        let mut bsize = bsize_req;
        let mut fsize = fsize_req;
        if bsize > MAXBSIZE {
            return Err(LayoutError::NoBlockSize);
        }
        // Adjustments newfs makes to *defaulted* sizes (explicit ones were
        // validated above).
        if bsize < fsize {
            notes.push(format!(
                "increasing block size from {bsize} to fragment size ({fsize})"
            ));
            bsize = fsize;
        }
        if fsize * MAXFRAG < bsize {
            notes.push(format!(
                "increasing fragment size from {fsize} to block size / {MAXFRAG} ({})",
                bsize / MAXFRAG
            ));
            fsize = bsize / MAXFRAG;
        }
        // -d: the extent size. mkfs compares against the previous pass's
        // fs_maxbsize (0 on the first), which we keep doing.
        let maxbsize = opts.maxbsize.map(i64::from).unwrap_or(bsize_req);
        if maxbsize < bsize_req || !is_pow2(maxbsize) {
            fs_maxbsize = bsize;
            notes.push(format!("Extent size set to {fs_maxbsize}"));
        } else if fs_maxbsize > FS_MAXCONTIG * bsize {
            fs_maxbsize = FS_MAXCONTIG * bsize;
            notes.push(format!("Extent size reduced to {fs_maxbsize}"));
        } else {
            fs_maxbsize = maxbsize;
        }
        if maxcontig == 0 {
            maxcontig = (i64::from(opts.maxphys) / bsize_req).max(1);
        }
        let mut fs_maxcontig = maxcontig;
        if fs_maxcontig < fs_maxbsize / bsize {
            fs_maxcontig = fs_maxbsize / bsize;
            // mkfs prints fs_maxbsize here, not the new maxcontig.
            notes.push(format!("Maxcontig raised to {fs_maxbsize}"));
        }
        if fs_maxcontig > 1 {
            contigsumsize = fs_maxcontig.min(FS_MAXCONTIG);
        }
        maxcontig = fs_maxcontig;
        let fshift = ilog2(fsize);
        let frag = bsize / fsize;
        let fragshift = ilog2(frag);
        let fsbtodb = ilog2(fsize / 512);
        let fs_size = fssize >> fsbtodb;
        let frag_i = frag;
        let sblkno = roundup(howmany(sblockloc + SBLOCKSIZE, fsize)?, frag_i)?;
        let cblkno = sblkno + roundup(howmany(SBLOCKSIZE, fsize)?, frag_i)?;
        let iblkno = cblkno + frag_i;
        let g = Geo {
            bsize,
            fsize,
            frag,
            fshift,
            fragshift,
            inopb: bsize / inode_size,
            iblkno,
            old_cpg: i64::from(ufs1),
            contigsumsize,
        };
        let maxfilesize = maxfilesize(bsize, bsize / ptr_size);
        if maxfilesize.is_some_and(|m| u64::try_from(fs_size).is_ok_and(|s| m < s)) {
            warnings.push(
                "newfs: WARNING: You will be unable to create snapshots on this file system.  \
                 Correct by using a larger blocksize."
                    .to_string(),
            );
        }

        // Goal 1: enough data blocks per group for the inode density.
        let maxinum = (1i64 << 32) - g.inopb;
        let minfragsperinode = 1 + fs_size / maxinum;
        if density == 0 {
            density = NFPI.max(minfragsperinode) * fsize_req;
        } else if density < minfragsperinode * fsize_req {
            let orig = density;
            density = minfragsperinode * fsize_req;
            warnings.push(format!("density increased from {orig} to {density}"));
        }
        let origdensity = density;
        let (mut fpg, mut ipg, fpi) = loop {
            let fpi = (density >> fshift).max(1);
            if fpi < minfragsperinode {
                bsize_req <<= 1;
                fsize_req <<= 1;
                notes.push(format!(
                    "Block size too small for a file system of this size. \
                     Increasing blocksize to {bsize_req}"
                ));
                continue 'restart;
            }
            let minfpg = (fpi * g.inopb).min(fs_size);
            let mut ipg = g.inopb;
            let mut fpg = g.min_fpg(ipg)?.max(minfpg);
            ipg = g.ipg_for(fpg, fpi)?;
            fpg = g.min_fpg(ipg)?.max(minfpg);
            ipg = g.ipg_for(fpg, fpi)?;
            if g.cgsize(fpg, ipg)? < bsize {
                break (fpg, ipg, fpi);
            }
            if fpi == 1 {
                // Further density cuts cannot shrink the map any more.
                return Err(LayoutError::CgMapTooBig(
                    u32::try_from(bsize).unwrap_or(u32::MAX),
                ));
            }
            density -= fsize;
        };
        if density != origdensity {
            notes.push(format!("density reduced from {origdensity} to {density}"));
        }

        // Goal 2 and 3: grow the group while at least MINCYLGRPS remain and
        // its map still fits one block. UFS1 keeps ipg within an int16.
        while fpg < maxblkspercg {
            ipg = g.ipg_for(fpg, fpi)?;
            if !ufs1 || ipg <= 0x7fff {
                if fs_size / fpg < MINCYLGRPS {
                    break;
                }
                let cgs = g.cgsize(fpg, ipg)?;
                if cgs < bsize {
                    fpg += frag;
                    continue;
                }
                if cgs == bsize {
                    break;
                }
            }
            fpg -= frag;
            ipg = g.ipg_for(fpg, fpi)?;
            break;
        }
        break (g, fs_size, fpg, ipg, fsbtodb, fpi);
    };
    let frag = g.frag;
    let fsize = g.fsize;
    let bsize = g.bsize;
    let mut fpg = fpg;
    let mut ipg = ipg;

    // Make sure the last group can hold its own metadata; shrink all groups
    // until it can (this moves fragments into the last group).
    let optimalfpg = fpg;
    let ncg = loop {
        if fpg <= 0 {
            return Err(LayoutError::TooSmall {
                size: u64::try_from(fs_size).unwrap_or(0),
                min: 0,
            });
        }
        let ncg = howmany(fs_size, fpg)?;
        let lastminfpg = g.min_fpg(ipg)?;
        if fs_size < lastminfpg {
            return Err(LayoutError::TooSmall {
                size: u64::try_from(fs_size).unwrap_or(0),
                min: u64::try_from(lastminfpg).unwrap_or(0),
            });
        }
        if fs_size % fpg >= lastminfpg || fs_size % fpg == 0 {
            break ncg;
        }
        fpg -= frag;
        ipg = g.ipg_for(fpg, fragsperinode)?;
    };
    if optimalfpg != fpg {
        notes.push(format!(
            "Reduced frags per cylinder group from {optimalfpg} to {fpg} to enlarge last cyl group"
        ));
    }
    let cgsize = roundup(g.cgsize(fpg, ipg)?, fsize)?;
    let sblkno = roundup(howmany(sblockloc + SBLOCKSIZE, fsize)?, frag)?;
    let cblkno = sblkno + roundup(howmany(SBLOCKSIZE, fsize)?, frag)?;
    let iblkno = g.iblkno;
    let dblkno = iblkno + ipg / g.inopf();
    let csaddr = dblkno;
    let cssize = roundup(
        ncg.checked_mul(SIZEOF_CSUM)
            .ok_or(ovf("the summary size"))?,
        fsize,
    )?;
    let sbsize = roundup(SIZEOF_FS, fsize)?.min(SBLOCKSIZE).max(real);
    let metaspace = match opts.metaspace {
        Some(0) => 0,
        Some(m) if i64::from(m) < fpg / 2 => i64::from(m) / frag * frag,
        _ => fpg * minfree / 200 / frag * frag,
    };
    let maxbpg = opts
        .maxbpg
        .map(i64::from)
        .unwrap_or(bsize / signed(std::mem::size_of::<u64>() as u64));
    let csfrags = howmany(cssize, fsize)?;
    let mut dsize = fs_size
        .checked_sub(sblkno)
        .and_then(|v| v.checked_sub(ncg.checked_mul(dblkno - sblkno)?))
        .ok_or(ovf("fs_dsize"))?;
    let mut total = Totals {
        ndir: 0,
        nbfree: (dsize >> g.fragshift) - howmany(csfrags, frag)?,
        nifree: ncg
            .checked_mul(ipg)
            .map(|v| v - i64::from(ROOTINO))
            .ok_or(ovf("the inode count"))?,
        nffree: (fs_size % frag)
            + if csfrags % frag > 0 {
                frag - csfrags % frag
            } else {
                0
            },
    };
    dsize -= csfrags;

    let utime = if opts.regression {
        REGRESSION_TIME
    } else {
        opts.time.unwrap_or_else(now)
    };
    let id1 = if opts.regression {
        1
    } else {
        opts.random_id.unwrap_or_else(|| pseudo_random(utime))
    };

    // --- the cylinder groups (initcg) ---
    let ncg_u32 = u32::try_from(ncg).map_err(|_| LayoutError::TooLarge("fs_ncg"))?;
    let mut cgs = Vec::with_capacity(ncg_u32 as usize);
    for c in 0..ncg {
        cgs.push(init_cg(
            &g, c, fpg, ipg, fs_size, sblkno, cblkno, dblkno, cssize, ufs1,
        )?);
    }

    // --- fsinit: root and .snap in cg 0 ---
    let ndirs = if opts.no_snap { 1 } else { 2 };
    let mut alloc = Allocator::new(&cgs, frag);
    let mut dir_frags = Vec::new();
    for i in 0..ndirs {
        let cg0 = &mut cgs[0];
        if cg0.cs.cs_nbfree == 0 {
            return Err(LayoutError::FirstCgFull);
        }
        let rel = alloc.take(0).ok_or(LayoutError::FirstCgFull)?;
        cg0.cs.cs_nbfree -= 1;
        cg0.cs.cs_ndir += 1;
        cg0.cs.cs_nifree -= 1;
        total.nbfree -= 1;
        total.ndir += 1;
        total.nifree -= 1;
        if frag > 1 {
            // frag is at most MAXFRAG (8).
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let (spare, idx) = ((frag - 1) as i32, (frag - 1) as usize);
            cg0.cs.cs_nffree += spare;
            total.nffree += frag - 1;
            cg0.frsum[idx] += 1;
        }
        cg0.used_frags_rel.push(rel);
        cg0.inodes_used.push(ROOTINO + i);
        dir_frags.push(u64::from(rel));
    }
    let root_dir_frag = dir_frags.first().copied().ok_or(LayoutError::FirstCgFull)?;
    let snap_dir_frag = dir_frags.get(1).copied();

    let soft_updates = opts.soft_updates || opts.journal;
    let mut flags = 0i32;
    if soft_updates {
        flags |= fsflags::FS_DOSOFTDEP;
    }
    if opts.gjournal {
        flags |= fsflags::FS_GJOURNAL;
    }
    if opts.multilabel {
        flags |= fsflags::FS_MULTILABEL;
    }
    if opts.trim {
        flags |= fsflags::FS_TRIM;
    }
    let metackhash = if ufs1 {
        0
    } else {
        flags |= fsflags::FS_METACKHASH;
        opts.check_hashes
    };

    // --- tunefs -j enable ---
    let journal = if opts.journal {
        flags |= fsflags::FS_SUJ;
        let j = make_journal(
            &g,
            &mut cgs,
            &mut alloc,
            &mut total,
            fs_size,
            fpg,
            ipg,
            root_dir_frag,
            contigsumsize,
        )?;
        warnings.push("newfs: soft updates journaling set".to_string());
        if j.fragmented {
            warnings.insert(
                warnings.len() - 1,
                "newfs: Journal file fragmented.".to_string(),
            );
        }
        Some(j)
    } else {
        None
    };

    // --- the superblock ---
    let mut sb = Fs::decode(&[0u8; Fs::SIZE], Endian::Little).ok_or(ovf("superblock"))?;
    let i32f =
        |v: i64, what: &'static str| i32::try_from(v).map_err(|_| LayoutError::TooLarge(what));
    sb.fs_sblkno = i32f(sblkno, "fs_sblkno")?;
    sb.fs_cblkno = i32f(cblkno, "fs_cblkno")?;
    sb.fs_iblkno = i32f(iblkno, "fs_iblkno")?;
    sb.fs_dblkno = i32f(dblkno, "fs_dblkno")?;
    sb.fs_ncg = ncg_u32;
    sb.fs_bsize = i32f(bsize, "fs_bsize")?;
    sb.fs_fsize = i32f(fsize, "fs_fsize")?;
    sb.fs_frag = i32f(frag, "fs_frag")?;
    sb.fs_minfree = i32f(minfree, "fs_minfree")?;
    sb.fs_bmask = !(sb.fs_bsize - 1);
    sb.fs_fmask = !(sb.fs_fsize - 1);
    sb.fs_qbmask = bsize - 1;
    sb.fs_qfmask = fsize - 1;
    sb.fs_bshift = i32f(ilog2(bsize), "fs_bshift")?;
    sb.fs_fshift = i32f(g.fshift, "fs_fshift")?;
    sb.fs_fragshift = i32f(g.fragshift, "fs_fragshift")?;
    sb.fs_fsbtodb = i32f(fsbtodb, "fs_fsbtodb")?;
    sb.fs_maxcontig = i32f(maxcontig, "fs_maxcontig")?;
    sb.fs_contigsumsize = i32f(contigsumsize, "fs_contigsumsize")?;
    sb.fs_maxbsize = i32f(fs_maxbsize, "fs_maxbsize")?;
    sb.fs_maxbpg = i32f(maxbpg, "fs_maxbpg")?;
    sb.fs_sbsize = i32f(sbsize, "fs_sbsize")?;
    sb.fs_nindir = i32f(bsize / ptr_size, "fs_nindir")?;
    sb.fs_inopb = u32::try_from(g.inopb).map_err(|_| LayoutError::TooLarge("fs_inopb"))?;
    sb.fs_optim = optim.raw();
    // The low bits, as mkfs.c's assignments to the 32-bit fields keep.
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    let fs_id = [utime as i32, id1 as i32];
    sb.fs_id = fs_id;
    sb.fs_cssize = i32f(cssize, "fs_cssize")?;
    sb.fs_cgsize = i32f(cgsize, "fs_cgsize")?;
    sb.fs_ipg = u32::try_from(ipg).map_err(|_| LayoutError::TooLarge("fs_ipg"))?;
    sb.fs_fpg = i32f(fpg, "fs_fpg")?;
    sb.fs_clean = 1;
    sb.fs_old_flags = crate::ondisk::consts::FS_FLAGS_UPDATED;
    if let Some(l) = &opts.label {
        sb.fs_volname[..l.len()].copy_from_slice(l.as_bytes());
    }
    sb.fs_maxsymlinklen = i32f((NDADDR + i64::from(NIADDR)) * ptr_size, "fs_maxsymlinklen")?;
    sb.fs_maxfilesize = maxfilesize(bsize, bsize / ptr_size).ok_or(ovf("fs_maxfilesize"))?;
    sb.fs_providersize = i64::try_from(size_bytes / 512)
        .map(|v| v >> fsbtodb)
        .map_err(|_| ovf("fs_providersize"))?;
    sb.fs_metaspace = metaspace;
    sb.fs_sblockloc = sblockloc;
    sb.fs_sblockactualloc = sblockloc;
    sb.fs_cstotal = [
        total.ndir,
        total.nbfree,
        total.nifree,
        total.nffree,
        0,
        0,
        0,
        0,
    ];
    sb.fs_time = utime;
    sb.fs_size = fs_size;
    sb.fs_dsize = dsize;
    sb.fs_csaddr = csaddr;
    sb.fs_avgfilesize = avgfilesize;
    sb.fs_avgfpdir = avgfpdir;
    sb.fs_metackhash = metackhash;
    sb.fs_flags = flags;
    sb.fs_magic = if ufs1 { FS_UFS1_MAGIC } else { FS_UFS2_MAGIC };
    if ufs1 {
        let nspf = fsize / 512;
        sb.fs_old_inodefmt = FS_44INODEFMT;
        sb.fs_old_cgmask = -1;
        sb.fs_old_size = i32f(fs_size, "fs_old_size (UFS1)")?;
        sb.fs_old_rps = 60;
        sb.fs_old_nspf = i32f(nspf, "fs_old_nspf")?;
        sb.fs_old_cpg = 1;
        sb.fs_old_interleave = 1;
        sb.fs_old_postblformat = 1;
        sb.fs_old_nrpos = 1;
        let spc = i32f(
            fpg.checked_mul(nspf).ok_or(ovf("fs_old_spc"))?,
            "fs_old_spc",
        )?;
        sb.fs_old_spc = spc;
        sb.fs_old_nsect = spc;
        sb.fs_old_npsect = spc;
        sb.fs_old_ncyl = i32f(ncg, "fs_old_ncyl")?;
        // UFS1's 32-bit time keeps the low bits, as in mkfs.c.
        #[allow(clippy::cast_possible_truncation)]
        let old_time = utime as i32;
        sb.fs_old_time = old_time;
        sb.fs_old_dsize = i32f(dsize, "fs_old_dsize (UFS1)")?;
        sb.fs_old_csaddr = i32f(csaddr, "fs_old_csaddr")?;
        sb.fs_old_cstotal = [
            i32f(total.ndir, "cs_ndir")?,
            i32f(total.nbfree, "cs_nbfree (UFS1)")?,
            i32f(total.nifree, "cs_nifree (UFS1)")?,
            i32f(total.nffree, "cs_nffree (UFS1)")?,
        ];
    }

    let backups = cgs.iter().map(|cg| cg.sblock_frag << fsbtodb).collect();
    Ok(Layout {
        sb,
        cgs,
        backups,
        root_dir_frag,
        snap_dir_frag,
        journal,
        notes,
        warnings,
        sector_size: realsectorsize,
    })
}

/// Running free counts of the whole file system (`fs_cstotal`).
struct Totals {
    ndir: i64,
    nbfree: i64,
    nifree: i64,
    nffree: i64,
}

/// `fs_maxfilesize`: one less than the bytes the block tree (12 direct
/// blocks plus three levels of indirection) addresses. `None` when that
/// does not fit in 64 bits.
fn maxfilesize(bsize: i64, nindir: i64) -> Option<u64> {
    let bsize = u64::try_from(bsize).ok()?;
    let nindir = u64::try_from(nindir).ok()?;
    // `Spans` saturates; the count of blocks is exact while nindir³ fits.
    nindir.checked_pow(3)?;
    let blocks = crate::bmap::Spans::new(nindir).end().0;
    blocks.checked_mul(bsize)?.checked_sub(1)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A non-cryptographic stand-in for arc4random: fs_id[1] only has to make
/// two file systems made at the same second differ.
fn pseudo_random(seed: i64) -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut x =
        u64::from_ne_bytes(seed.to_ne_bytes()) ^ (u64::from(nanos) << 17) ^ 0x9e37_79b9_7f4a_7c15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    // A hash: any 32 of its bits will do.
    #[allow(clippy::cast_possible_truncation)]
    let low = x as u32;
    low
}

/// One group as `initcg` builds it.
#[allow(clippy::too_many_arguments)]
// The usize casts index cg_frsum (below frag, at most 8) and the cluster
// summary (at most contigsumsize + 1, at most 17); the i32 casts are cg
// offsets inside a cg block (at most MAXBSIZE).
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]
fn init_cg(
    g: &Geo,
    c: i64,
    fpg: i64,
    ipg: i64,
    fs_size: i64,
    sblkno: i64,
    cblkno: i64,
    dblkno: i64,
    cssize: i64,
    ufs1: bool,
) -> Result<CgPlan, LayoutError> {
    let frag = g.frag;
    let cbase = c.checked_mul(fpg).ok_or(ovf("cgbase"))?;
    let dmax = (cbase + fpg).min(fs_size);
    let ndblk = dmax - cbase;
    let dlower = sblkno;
    let mut dupper = dblkno;
    if c == 0 {
        dupper += howmany(cssize, g.fsize)?;
    }
    let u32c =
        |v: i64, what: &'static str| u32::try_from(v).map_err(|_| LayoutError::TooLarge(what));
    let nclusterblks = if g.contigsumsize > 0 { ndblk / frag } else { 0 };
    let version = if ufs1 {
        UfsVersion::Ufs1
    } else {
        UfsVersion::Ufs2
    };
    let u = |v: i64| u64::try_from(v).map_err(|_| ovf("cg layout"));
    // One rotational position, as every FFS since rotational layout was
    // dropped records (fs_old_nrpos).
    let maps = crate::cg::CgLayout::compute(
        version,
        u(g.old_cpg)?,
        1,
        u(ipg)?,
        u(fpg)?,
        u32::try_from(g.fragshift).map_err(|_| ovf("fragshift"))?,
        u(g.contigsumsize)?,
    )
    .ok_or(LayoutError::TooLarge("cg_nextfreeoff"))?;

    let mut nbfree = 0i64;
    let mut nffree = 0i64;
    let mut frsum = [0i32; 8];
    let mut runs = Vec::new();
    if c > 0 {
        let n = howmany(dlower, frag)?;
        nbfree += n;
        runs.push(n);
    }
    let dupper_rel = dupper;
    if dupper > ndblk {
        return Err(LayoutError::FirstCgFull);
    }
    let rem = dupper % frag;
    if rem != 0 {
        frsum[(frag - rem) as usize] += 1;
        nffree += frag - rem;
        dupper += frag - rem;
    }
    let full = if ndblk >= dupper {
        (ndblk - dupper) / frag
    } else {
        0
    };
    nbfree += full;
    runs.push(full);
    let tail = dupper + full * frag;
    if tail < ndblk {
        frsum[(ndblk - tail) as usize] += 1;
        nffree += ndblk - tail;
    }
    let mut clustersum = Vec::new();
    if g.contigsumsize > 0 {
        clustersum = vec![0i32; (g.contigsumsize + 1) as usize];
        for r in runs.into_iter().filter(|&r| r > 0) {
            clustersum[r.min(g.contigsumsize) as usize] += 1;
        }
    }
    let mut nifree = ipg;
    let mut inodes_used = Vec::new();
    if c == 0 {
        nifree -= i64::from(ROOTINO);
        inodes_used.extend(0..ROOTINO);
    }
    let initial = Csum {
        cs_ndir: 0,
        cs_nbfree: i32::try_from(nbfree).map_err(|_| LayoutError::TooLarge("cs_nbfree"))?,
        cs_nifree: i32::try_from(nifree).map_err(|_| LayoutError::TooLarge("cs_nifree"))?,
        cs_nffree: i32::try_from(nffree).map_err(|_| LayoutError::TooLarge("cs_nffree"))?,
    };
    let abs = |v: i64| u64::try_from(v).map_err(|_| ovf("a cg address"));
    let (niblk, initediblk, old_niblk, old_ncyl) = if ufs1 {
        let n = i16::try_from(ipg).map_err(|_| LayoutError::TooLarge("cg_old_niblk"))?;
        (0, 0, n, 1)
    } else {
        let n = u32c(ipg, "cg_niblk")?;
        let per_block = u32c(g.inopb, "inopb")?;
        (n, crate::cg::initial_inodes(n, per_block), 0, 0)
    };
    Ok(CgPlan {
        cgx: u32c(c, "cg_cgx")?,
        cgbase: abs(cbase)?,
        sblock_frag: abs(cbase + sblkno)?,
        cg_frag: abs(cbase + cblkno)?,
        inode_frag: abs(cbase + g.iblkno)?,
        data_frag: abs(cbase + dblkno)?,
        ndblk: u32c(ndblk, "cg_ndblk")?,
        niblk,
        initediblk,
        old_ncyl,
        old_niblk,
        old_btotoff: maps.old_btotoff as i32,
        old_boff: maps.old_boff as i32,
        iusedoff: maps.iusedoff,
        freeoff: maps.freeoff,
        nextfreeoff: maps.nextfreeoff,
        clustersumoff: maps.clustersumoff,
        clusteroff: maps.clusteroff,
        nclusterblks: u32c(nclusterblks, "cg_nclusterblks")?,
        dupper_rel: u32c(dupper_rel, "dupper")?,
        dlower_rel: if c > 0 { u32c(dlower, "dlower")? } else { 0 },
        cs: initial.clone(),
        initial,
        frsum,
        clustersum,
        inodes_used,
        used_frags_rel: Vec::new(),
        used_blocks_rel: Vec::new(),
    })
}

/// Hands out the lowest free full block of a group, as newfs's `alloc` and
/// libufs's `cgballoc` both do, without materializing any bitmap: after
/// `initcg` a group's full free blocks are at most two runs, and every
/// allocation takes the lowest one left.
struct Allocator {
    frag: u32,
    /// Per group: the free runs as (first relative fragment, block count).
    runs: Vec<[(u32, u32); 2]>,
    /// Per group: blocks handed out so far.
    taken: Vec<u32>,
}

impl Allocator {
    fn new(cgs: &[CgPlan], frag: i64) -> Self {
        // frag is at most MAXFRAG (8).
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let frag = frag as u32;
        let runs = cgs
            .iter()
            .map(|cg| {
                let lower = if cg.dlower_rel > 0 {
                    (0, cg.dlower_rel / frag)
                } else {
                    (0, 0)
                };
                let start = cg.dupper_rel.div_ceil(frag) * frag;
                let n = cg.ndblk.saturating_sub(start) / frag;
                [lower, (start, n)]
            })
            .collect();
        Allocator {
            frag,
            taken: vec![0; cgs.len()],
            runs,
        }
    }

    /// Takes the next free block of group `c`; its relative fragment.
    fn take(&mut self, c: usize) -> Option<u32> {
        let runs = self.runs.get(c)?;
        let k = *self.taken.get(c)?;
        let rel = if k < runs[0].1 {
            runs[0].0 + k * self.frag
        } else if k - runs[0].1 < runs[1].1 {
            runs[1].0 + (k - runs[0].1) * self.frag
        } else {
            return None;
        };
        self.taken[c] += 1;
        Some(rel)
    }
}

/// Blocks tunefs allocates under one indirect block at `level` (0 = single),
/// while `resid` data blocks remain; pushes them onto `out`.
fn indir_fill(
    level: u32,
    nindir: i64,
    resid: &mut i64,
    balloc: &mut dyn FnMut() -> Result<u64, LayoutError>,
    out: &mut Vec<u64>,
    indirect: &mut Vec<u64>,
) -> Result<(), LayoutError> {
    let mut i = 0;
    while i < nindir && *resid != 0 {
        let b = balloc()?;
        out.push(b);
        if level > 0 {
            indirect.push(b);
            indir_fill(level - 1, nindir, resid, balloc, out, indirect)?;
        } else {
            *resid -= 1;
        }
        i += 1;
    }
    Ok(())
}

/// The size in bytes of the SU+J journal `tunefs -j enable` creates
/// (`journal_alloc`): `requested` (`-S`, bytes; 0 without it, as tunefs
/// passes it) taken as it is, else 1/1024 of the file system (`fs_size`
/// fragments counted as blocks, as tunefs computes it), at most `SUJ_MAX`
/// and one group (`fpg` fragments), at least `SUJ_MIN`; either way rounded
/// up to whole blocks (fsck_ffs takes no fragments in a journal). No upper
/// bound applies to `-S`: the free-block check decides. `None` on overflow.
pub fn journal_size(requested: i64, fs_size: i64, bsize: i64, fsize: i64, fpg: i64) -> Option<i64> {
    if requested != 0 {
        return roundup(requested, bsize).ok();
    }
    let mut size = fs_size.checked_mul(bsize)? / 1024;
    size = size.min(SUJ_MAX);
    if size / fsize.max(1) > fpg {
        size = fpg.checked_mul(fsize)?;
    }
    roundup(size.max(SUJ_MIN), bsize).ok()
}

/// `tunefs -j enable` on the fresh file system: inode, blocks, and the move
/// of the root directory into a full block.
#[allow(clippy::too_many_arguments)]
fn make_journal(
    g: &Geo,
    cgs: &mut [CgPlan],
    alloc: &mut Allocator,
    total: &mut Totals,
    fs_size: i64,
    fpg: i64,
    ipg: i64,
    root_dir_frag: u64,
    contigsumsize: i64,
) -> Result<JournalPlan, LayoutError> {
    let bsize = g.bsize;
    let frag = g.frag;
    let size = journal_size(0, fs_size, bsize, g.fsize, fpg).ok_or(ovf("the journal size"))?;
    let size_bytes = u64::try_from(size).map_err(|_| ovf("the journal size"))?;
    let frag32 = u32::try_from(frag).map_err(|_| ovf("fs_frag"))?;
    let blocks = size / bsize;
    if total.nbfree < blocks {
        return Err(LayoutError::NoSpaceForJournal(size_bytes));
    }
    // cgialloc: the first group with a free inode, its lowest free inode.
    let (jcg, rel_ino) = cgs
        .iter()
        .enumerate()
        .find(|(_, cg)| cg.cs.cs_nifree > 0)
        .map(|(i, cg)| {
            let next = cg.inodes_used.iter().max().map_or(0, |m| m + 1);
            (i, next)
        })
        .ok_or(LayoutError::NoSpaceForJournal(size_bytes))?;
    cgs[jcg].cs.cs_nifree -= 1;
    cgs[jcg].inodes_used.push(rel_ino);
    total.nifree -= 1;
    let inode = i64::try_from(jcg)
        .ok()
        .and_then(|j| u32::try_from(j * ipg + i64::from(rel_ino)).ok())
        .ok_or(LayoutError::TooLarge("the journal inode"))?;

    // journal_balloc's walk over the groups: stay in the current one until
    // it is out of blocks, then look for a roomy group, then (fragmented)
    // for any group, starting over at cg 0 but first finishing the last
    // group read.
    let ncg = cgs.len();
    let mut cur = jcg;
    let mut next_read = jcg + 1;
    let mut contig = true;
    let mut fragmented = false;
    let mut balloc = || -> Result<u64, LayoutError> {
        loop {
            if let Some(rel) = alloc.take(cur) {
                let cg = &mut cgs[cur];
                if contigsumsize > 0 {
                    cluster_acct(cg, rel / frag32, frag32, contigsumsize, -1);
                }
                cg.cs.cs_nbfree -= 1;
                cg.used_blocks_rel.push(rel);
                return Ok(cg.cgbase + u64::from(rel));
            }
            let mut valid = false;
            while next_read < ncg {
                cur = next_read;
                next_read += 1;
                let nb = i64::from(cgs[cur].cs.cs_nbfree);
                if nb > SUJ_CONTIG_BLOCKS || (!contig && nb > 0) {
                    valid = true;
                    break;
                }
            }
            if valid {
                continue;
            }
            if contig {
                contig = false;
                fragmented = true;
                next_read = 0;
                continue;
            }
            return Err(LayoutError::NoSpaceForJournal(size_bytes));
        }
    };
    let nindir = bsize / if g.old_cpg == 1 { 4 } else { 8 };
    let mut order = Vec::new();
    let mut indirect = Vec::new();
    let mut resid = blocks;
    let mut i = 0;
    while i < NDADDR && resid > 0 {
        order.push(balloc()?);
        resid -= 1;
        i += 1;
    }
    for level in 0..NIADDR {
        if resid == 0 {
            break;
        }
        let b = balloc()?;
        order.push(b);
        indirect.push(b);
        indir_fill(
            level,
            nindir,
            &mut resid,
            &mut balloc,
            &mut order,
            &mut indirect,
        )?;
    }
    // journal_insertfile: a new full block for the root directory...
    let new_root_block = balloc()?;
    let used = i64::try_from(order.len()).map_err(|_| ovf("the journal blocks"))? + 1;
    total.nbfree -= used;

    // ...and the old root fragment is freed, which makes its block whole.
    let fpg_u = u64::try_from(fpg).map_err(|_| ovf("fs_fpg"))?;
    let rc = usize::try_from(root_dir_frag / fpg_u).map_err(|_| ovf("the root's group"))?;
    let cg = &mut cgs[rc];
    let rel = u32::try_from(root_dir_frag % fpg_u).map_err(|_| ovf("the root's fragment"))?;
    cg.used_frags_rel.retain(|&f| f != rel);
    cg.cs.cs_nbfree += 1;
    total.nbfree += 1;
    if frag > 1 {
        // frag is at most MAXFRAG (8).
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let (spare, idx) = ((frag - 1) as i32, (frag - 1) as usize);
        cg.cs.cs_nffree -= spare;
        total.nffree -= frag - 1;
        cg.frsum[idx] -= 1;
    }
    if contigsumsize > 0 {
        cluster_acct(cg, rel / frag32, frag32, contigsumsize, 1);
    }
    Ok(JournalPlan {
        inode,
        cg: u32::try_from(jcg).map_err(|_| ovf("the journal's group"))?,
        size: size_bytes,
        blocks: order,
        indirect,
        new_root_block,
        fragmented,
    })
}

/// Cluster-summary bookkeeping for block `blk` of `cg` changing state, the
/// way the kernel's `ffs_clusteracct` (and libufs, which tunefs uses) does
/// it: the run of free blocks around `blk` counts once as a whole and its two
/// sides count separately. `delta` is +1 for a block just freed (already out
/// of the used lists), -1 for a block about to be taken (still free). newfs's
/// own `alloc` skips this, so cg 0's summary stays as `initcg` wrote it until
/// tunefs touches the group.
fn cluster_acct(cg: &mut CgPlan, blk: u32, frag: u32, css: i64, delta: i32) {
    let ranges = cg.free_ranges(frag);
    let (back, fwd) = ranges
        .iter()
        .find(|r| r.start <= blk * frag && r.end >= (blk + 1) * frag)
        .map_or((0, 0), |r| {
            (
                blk - r.start.div_ceil(frag),
                (r.end / frag).saturating_sub(blk + 1),
            )
        });
    // Between 0 and css (contigsumsize, at most FS_MAXCONTIG).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let cap = |n: u32| (i64::from(n)).min(css) as usize;
    let mut bump = |n: u32, d: i32| {
        if let Some(slot) = cg.clustersum.get_mut(cap(n)) {
            *slot += d;
        }
    };
    bump(back + fwd + 1, delta);
    if back > 0 {
        bump(back, -delta);
    }
    if fwd > 0 {
        bump(fwd, -delta);
    }
}

/// Formats `num / 2^20` with `decimals` digits, rounding half to even like
/// printf, exactly (no binary float formatting involved).
fn fmt_mib(num: u128, decimals: u32) -> String {
    let scale = 10u128.pow(decimals);
    let scaled = num * scale;
    let q = scaled >> 20;
    let r = scaled & ((1 << 20) - 1);
    let half = 1u128 << 19;
    let q = if r > half || (r == half && q % 2 == 1) {
        q + 1
    } else {
        q
    };
    if decimals == 0 {
        return q.to_string();
    }
    format!(
        "{}.{:0width$}",
        q / scale,
        q % scale,
        width = decimals as usize
    )
}

/// newfs computes its MB figures as `(float)a * b`, i.e. in single
/// precision; this returns that product exactly.
fn f32_product(a: i64, b: i64) -> u128 {
    let p = (a as f32) * (b as f32);
    if p.is_finite() && p > 0.0 {
        // Finite and positive; a product of two i64 (below 2^127) fits.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let whole = p as u128;
        whole
    } else {
        0
    }
}

/// newfs's stdout for this layout, `path` being the device name it was
/// given: its notes, the two summary lines, the soft-updates line and the
/// backup list wrapped at 80 columns (newfs's width when stdout is not a
/// terminal and COLUMNS is unset). With `-j`, newfs's last newline is
/// followed by tunefs's line ([`journal_text`]).
pub fn summary_text(path: &str, layout: &Layout) -> String {
    summary_text_width(path, layout, DEFAULT_COLUMNS)
}

/// [`summary_text`] for a terminal `width` columns wide.
pub fn summary_text_width(path: &str, layout: &Layout, width: usize) -> String {
    let sb = &layout.sb;
    let mut out = String::new();
    for n in &layout.notes {
        out.push_str(n);
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{path}: {}MB ({} sectors) block size {}, fragment size {}",
        fmt_mib(f32_product(sb.fs_size, i64::from(sb.fs_fsize)), 1),
        sb.fs_size << sb.fs_fsbtodb,
        sb.fs_bsize,
        sb.fs_fsize
    );
    let _ = writeln!(
        out,
        "\tusing {} cylinder groups of {}MB, {} blks, {} inodes.",
        sb.fs_ncg,
        fmt_mib(f32_product(i64::from(sb.fs_fpg), i64::from(sb.fs_fsize)), 2),
        sb.fs_fpg / sb.fs_frag.max(1),
        sb.fs_ipg
    );
    if sb.fs_flags & fsflags::FS_DOSOFTDEP != 0 {
        out.push_str("\twith soft updates\n");
    }
    out.push_str("super-block backups (for fsck_ffs -b #) at:\n");
    out.push_str(&backup_list(&layout.backups, width));
    out
}

/// The list of backup superblock sectors as newfs and growfs print it:
/// ` N,` items, a line broken before one would reach `width` columns, and
/// a final newline.
pub fn backup_list(sectors: &[u64], width: usize) -> String {
    let mut out = String::new();
    let mut col = 0usize;
    let last = sectors.len().saturating_sub(1);
    for (i, b) in sectors.iter().enumerate() {
        let item = format!(" {b}{}", if i < last { "," } else { "" });
        if col + item.len() >= width {
            out.push('\n');
            col = 0;
        }
        col += item.len();
        out.push_str(&item);
    }
    out.push('\n');
    out
}

/// The line `tunefs -j enable` prints, or `None` without `-j`.
pub fn journal_text(layout: &Layout) -> Option<String> {
    layout.journal.as_ref().map(|j| {
        format!(
            "Using inode {} in cg {} for {} byte journal\n",
            j.inode, j.cg, j.size
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mib_formatting_rounds_half_to_even() {
        assert_eq!(fmt_mib(4 << 20, 1), "4.0");
        assert_eq!(fmt_mib(264 * 4096, 2), "1.03");
        // 0.125 MiB: exactly halfway at two decimals rounds to even.
        assert_eq!(fmt_mib(1 << 17, 2), "0.12");
        assert_eq!(fmt_mib(3 << 17, 2), "0.38");
    }

    /// newfs's own sum (mkfs.c): bsize * NDADDR - 1, plus bsize * nindir^k
    /// for each level of indirection.
    fn maxfilesize_as_newfs_sums(bsize: i64, nindir: i64) -> Option<u64> {
        let mut total = u64::try_from(bsize.checked_mul(NDADDR)? - 1).ok()?;
        let mut sizepb = u64::try_from(bsize).ok()?;
        let nindir = u64::try_from(nindir).ok()?;
        for _ in 0..NIADDR {
            sizepb = sizepb.checked_mul(nindir)?;
            total = total.checked_add(sizepb)?;
        }
        Some(total)
    }

    #[test]
    fn maxfilesize_from_the_block_tree_equals_newfs_sum() {
        for shift in 12..=16 {
            let bsize = 1i64 << shift;
            for ptr in [4, 8] {
                let n = bsize / ptr;
                let want = maxfilesize_as_newfs_sums(bsize, n);
                assert!(want.is_some(), "{bsize}/{ptr}");
                assert_eq!(maxfilesize(bsize, n), want, "{bsize}/{ptr}");
            }
        }
        // UFS2 with 32 KiB blocks, as FreeBSD's dumpfs shows it.
        assert_eq!(maxfilesize(32768, 4096), Some(2_252_349_704_110_079));
        // Too large for 64 bits: both say so.
        assert_eq!(maxfilesize_as_newfs_sums(1 << 30, 1 << 22), None);
        assert_eq!(maxfilesize(1 << 30, 1 << 22), None);
        assert_eq!(maxfilesize(-1, 8), None);
    }
}
