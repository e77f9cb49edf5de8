//! newfs(8) options, their defaults, and the errors the layout computation
//! can report.
//!
//! This module owns [`NewfsOptions`] (one field per newfs flag that changes
//! the file system), [`parse_size`] (size strings as newfs/mdmfs accept them)
//! and [`LayoutError`]. The defaults are those of current FreeBSD (13 and
//! later, amd64); [`NewfsOptions::freebsd_12_1`] gives the FreeBSD 12.1
//! defaults the reference data in `tests/images/newfs/` was made with. The two
//! differ in exactly two places: the set of metadata check hashes and the
//! kernel's `MAXPHYS`, which is the default for `-a maxcontig`.

use crate::ondisk::consts::ckhash;
use crate::UfsVersion;

/// `DFL_FRAGSIZE` (sbin/newfs/newfs.h).
pub const DFL_FRAGSIZE: u32 = 4096;
/// `DFL_BLKSIZE` (sbin/newfs/newfs.h).
pub const DFL_BLKSIZE: u32 = 32768;
/// `MINFREE` (sys/ufs/ffs/fs.h): default `-m`.
pub const MINFREE: u32 = 8;
/// `AVFILESIZ` (fs.h): default `-g`.
pub const AVFILESIZ: u32 = 16384;
/// `AFPDIR` (fs.h): default `-h`.
pub const AFPDIR: u32 = 64;
/// `MAXBLKSPERCG` (newfs.h): default `-c`, meaning "no limit".
pub const MAXBLKSPERCG: u32 = 0x7fff_ffff;
/// `MAXPHYS` of a 64-bit FreeBSD 13+ kernel (sys/sys/param.h).
pub const MAXPHYS_CURRENT: u32 = 1024 * 1024;
/// `MAXPHYS` of FreeBSD 12 and of 32-bit platforms.
pub const MAXPHYS_12: u32 = 128 * 1024;
/// Check hashes newfs enables on FreeBSD 13+ (`CK_SUPERBLOCK|CK_CYLGRP|CK_INODE`).
pub const CKHASH_CURRENT: u32 = ckhash::CK_SUPERBLOCK | ckhash::CK_CYLGRP | ckhash::CK_INODE;
/// Check hashes newfs 12.1 enables (`CK_CYLGRP` only).
pub const CKHASH_12_1: u32 = ckhash::CK_CYLGRP;

/// `-o`: what the block allocator optimizes for (`fs_optim`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Optim {
    /// `FS_OPTTIME` (0).
    Time,
    /// `FS_OPTSPACE` (1).
    Space,
}

impl Optim {
    /// The value stored in `fs_optim`.
    pub fn raw(self) -> i32 {
        match self {
            Optim::Time => 0,
            Optim::Space => 1,
        }
    }
}

/// The options of newfs(8) that change what is written.
///
/// `None` means "newfs's default", which often depends on other options
/// (the fragment size on the sector size, maxcontig on the block size, ...);
/// [`crate::newfs::layout::compute`] resolves them the way newfs.c and mkfs.c
/// do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewfsOptions {
    /// `-O`: UFS1 or UFS2. Default UFS2.
    pub version: UfsVersion,
    /// `-b`: block size in bytes. Default `min(32768, 8 * fsize)`.
    pub bsize: Option<u32>,
    /// `-f`: fragment size in bytes. Default `max(4096, sector size)`.
    pub fsize: Option<u32>,
    /// `-i`: bytes of data space per inode. Default `2 * fsize` (NFPI).
    pub density: Option<u32>,
    /// `-m`: percentage held back from ordinary users (0..=99). Default 8.
    pub minfree: Option<u32>,
    /// `-o`. Default `time`, but newfs forces `space` when minfree < 8.
    pub optim: Option<Optim>,
    /// `-a`: maximum contiguous blocks. Default `max(1, maxphys / bsize)`.
    pub maxcontig: Option<u32>,
    /// `-d`: largest extent (`fs_maxbsize`). Default the block size.
    pub maxbsize: Option<u32>,
    /// `-e`: blocks one file may take from a cg. Default `bsize / 8`.
    pub maxbpg: Option<u32>,
    /// `-g`: expected average file size. Default 16384.
    pub avgfilesize: Option<u32>,
    /// `-h`: expected files per directory. Default 64.
    pub avgfpdir: Option<u32>,
    /// `-k`: fragments held for metadata after the inode blocks. `None` is
    /// newfs's default (half of minfree); `Some(0)` forces 0; a value of at
    /// least half a cylinder group falls back to the default.
    pub metaspace: Option<u32>,
    /// `-c`: upper limit on fragments (not blocks) per cylinder group.
    /// Values below the smallest workable group are raised to it.
    pub maxfpg: Option<u32>,
    /// `-L`: volume label (alphanumerics and `_`, fewer than 32 bytes).
    pub label: Option<String>,
    /// `-n`: do not create `/.snap`.
    pub no_snap: bool,
    /// `-S`: sector size in bytes. Default 512 (an md(4) device).
    pub sector_size: Option<u32>,
    /// `-s`: file system size in sectors of `sector_size`. Default: the
    /// device size less `reserved`.
    pub fs_size_sectors: Option<u64>,
    /// `-r`: sectors left unused at the end of the device.
    pub reserved_sectors: u64,
    /// `-U`: soft updates. Off by default in newfs itself (FreeBSD 12.1 and
    /// the stored 13.x newfs.c both declare `Uflag` zero; bsdinstall is what
    /// passes `-U`).
    pub soft_updates: bool,
    /// `-j`: soft updates journaling (implies `-U`); newfs runs
    /// `tunefs -j enable`, which creates `/.sujournal`.
    pub journal: bool,
    /// `-J`: gjournal flag.
    pub gjournal: bool,
    /// `-l`: MAC multilabel flag.
    pub multilabel: bool,
    /// `-t`: TRIM flag.
    pub trim: bool,
    /// `fs_metackhash` for UFS2 (UFS1 never has check hashes). Default
    /// [`CKHASH_CURRENT`]; FreeBSD 12.1 used [`CKHASH_12_1`].
    pub check_hashes: u32,
    /// `MAXPHYS` of the system newfs runs on, the base of the default
    /// maxcontig. Default [`MAXPHYS_CURRENT`]; FreeBSD 12 used [`MAXPHYS_12`].
    pub maxphys: u32,
    /// `-R`: regression mode. Time 1000000000 and `fs_id[1] = 1`.
    pub regression: bool,
    /// Creation time (`fs_time`, `fs_id[0]`, cg times). Ignored with
    /// `regression`; `None` reads the clock.
    pub time: Option<i64>,
    /// `fs_id[1]`. Ignored with `regression`; `None` derives a value from
    /// the clock (newfs uses arc4random).
    pub random_id: Option<u32>,
}

impl Default for NewfsOptions {
    fn default() -> Self {
        NewfsOptions {
            version: UfsVersion::Ufs2,
            bsize: None,
            fsize: None,
            density: None,
            minfree: None,
            optim: None,
            maxcontig: None,
            maxbsize: None,
            maxbpg: None,
            avgfilesize: None,
            avgfpdir: None,
            metaspace: None,
            maxfpg: None,
            label: None,
            no_snap: false,
            sector_size: None,
            fs_size_sectors: None,
            reserved_sectors: 0,
            soft_updates: false,
            journal: false,
            gjournal: false,
            multilabel: false,
            trim: false,
            check_hashes: CKHASH_CURRENT,
            maxphys: MAXPHYS_CURRENT,
            regression: false,
            time: None,
            random_id: None,
        }
    }
}

impl NewfsOptions {
    /// The defaults of FreeBSD 12.1 on amd64: cylinder-group check hashes
    /// only, and a 128 KiB `MAXPHYS` (so maxcontig 4 with 32 KiB blocks).
    pub fn freebsd_12_1() -> Self {
        NewfsOptions {
            check_hashes: CKHASH_12_1,
            maxphys: MAXPHYS_12,
            ..NewfsOptions::default()
        }
    }
}

/// Why a layout could not be computed. The messages follow newfs's own.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// `-b` is not a power of two.
    #[error("block size must be a power of 2, not {0}")]
    BlockSizeNotPowerOf2(u32),
    /// `-f` is not a power of two.
    #[error("fragment size must be a power of 2, not {0}")]
    FragSizeNotPowerOf2(u32),
    /// `-b` below `MINBSIZE`.
    #[error("{0}: block size too small, min is 4096")]
    BlockSizeTooSmall(u32),
    /// `-b` above `MAXBSIZE`.
    #[error("{0}: block size too large, max is 65536")]
    BlockSizeTooLarge(u32),
    /// `-f` below the 512-byte sector.
    #[error("fragment size {0} is too small, minimum is 512")]
    FragSizeTooSmall(u32),
    /// More than 8 fragments per block.
    #[error("fragment size {fsize} is too small, minimum with block size {bsize} is {min}")]
    FragSizeTooSmallForBlock {
        /// Requested fragment size.
        fsize: u32,
        /// Block size.
        bsize: u32,
        /// `bsize / 8`.
        min: u32,
    },
    /// Fragment larger than the block.
    #[error("block size ({bsize}) cannot be smaller than fragment size ({fsize})")]
    FragSizeLargerThanBlock {
        /// Block size.
        bsize: u32,
        /// Fragment size.
        fsize: u32,
    },
    /// `-S` is not a power of two between 512 and 65536.
    #[error("{0}: bad sector size")]
    BadSectorSize(u32),
    /// `-i` is 0 or does not fit newfs's `int`.
    #[error("{0}: bad bytes per inode")]
    BadDensity(u32),
    /// `-m` outside 0..=99.
    #[error("{0}: bad free space %")]
    BadMinfree(u32),
    /// `-g` is 0 or too large.
    #[error("{0}: bad average file size")]
    BadAvgFileSize(u32),
    /// `-h` is 0 or too large.
    #[error("{0}: bad average files per dir")]
    BadAvgFpdir(u32),
    /// `-a` is 0 or too large.
    #[error("{0}: bad maximum contiguous blocks")]
    BadMaxcontig(u32),
    /// `-e` is 0 or too large.
    #[error("{0}: bad blocks per file in a cylinder group")]
    BadMaxbpg(u32),
    /// `-c` is 0 or too large.
    #[error("{0}: bad blocks per cylinder group")]
    BadMaxfpg(u32),
    /// `-d` below 4096 or too large.
    #[error("{0}: bad extent block size")]
    BadMaxbsize(u32),
    /// `-k` too large.
    #[error("{0}: bad metadata space %")]
    BadMetaspace(u32),
    /// `-L` has a character other than alphanumerics and `_`.
    #[error("bad volume label. Valid characters are alphanumerics.")]
    BadLabelChars,
    /// `-L` is 32 bytes or longer.
    #[error("bad volume label. Length is longer than 32.")]
    LabelTooLong,
    /// `-r` is not less than the device.
    #[error("reserved not less than device size {0}")]
    ReservedTooLarge(u64),
    /// `-s` is larger than the device less `-r`.
    #[error("maximum file system size is {0}")]
    SizeTooLarge(u64),
    /// Zero-sized file system.
    #[error("preposterous size {0}")]
    PreposterousSize(u64),
    /// Not even one cylinder group fits.
    #[error("Filesystem size {size} < minimum size of {min}")]
    TooSmall {
        /// File system size in fragments.
        size: u64,
        /// Smallest workable cylinder group, in fragments.
        min: u64,
    },
    /// Cylinder group 0 has no room for the root directory.
    #[error("first cylinder group ran out of space")]
    FirstCgFull,
    /// The journal does not fit (`tunefs -j`).
    #[error("Insufficient free space for the {0} byte journal")]
    NoSpaceForJournal(u64),
    /// No block size can describe a file system this large.
    #[error("There is no block size that can support this disk")]
    NoBlockSize,
    /// A cylinder-group map cannot be made to fit a block at any density.
    #[error("cylinder group map does not fit in a {0}-byte block")]
    CgMapTooBig(u32),
    /// A value does not fit its superblock field (UFS1's 32-bit sizes, a
    /// cylinder-group count above 2^32, ...).
    #[error("file system too large: {0} does not fit its superblock field")]
    TooLarge(&'static str),
    /// Arithmetic overflow on an input far outside any real device.
    #[error("size arithmetic overflowed computing {0}")]
    Overflow(&'static str),
    /// A size string could not be parsed.
    #[error("{0}: bad file system size")]
    BadSize(String),
}

/// Parses a size as newfs/mdmfs accept it, in bytes.
///
/// A `k`, `m`, `g` or `t` suffix (either case, optionally followed by `b`)
/// multiplies by powers of 1024. A plain number counts 512-byte sectors, as
/// newfs `-s` does on a 512-byte-sector device; use [`parse_size_sectors`]
/// for another sector size.
pub fn parse_size(s: &str) -> Result<u64, LayoutError> {
    parse_size_sectors(s, 512)
}

/// Like [`parse_size`], with a plain number counting `sector_size`-byte
/// sectors (newfs.c scales `-s` by the `-S` sector size).
pub fn parse_size_sectors(s: &str, sector_size: u32) -> Result<u64, LayoutError> {
    let bad = || LayoutError::BadSize(s.to_string());
    let t = s.trim();
    let t = t
        .strip_suffix('b')
        .or_else(|| t.strip_suffix('B'))
        .filter(|rest| rest.ends_with(|c: char| c.is_ascii_alphabetic()))
        .unwrap_or(t);
    let (digits, shift) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 10u32),
        Some('m' | 'M') => (&t[..t.len() - 1], 20),
        Some('g' | 'G') => (&t[..t.len() - 1], 30),
        Some('t' | 'T') => (&t[..t.len() - 1], 40),
        Some(c) if c.is_ascii_digit() => (t, 0),
        _ => return Err(bad()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    if shift == 0 {
        n.checked_mul(u64::from(sector_size)).ok_or_else(bad)
    } else {
        n.checked_mul(1u64 << shift).ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_powers_of_1024_and_plain_numbers_are_sectors() {
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("1t"), Ok(1 << 40));
        assert_eq!(parse_size("2gb"), Ok(2 << 30));
        assert_eq!(parse_size("8192"), Ok(8192 * 512));
        assert_eq!(parse_size_sectors("8", 4096), Ok(32768));
        assert!(parse_size("").is_err());
        assert!(parse_size("m").is_err());
        assert!(parse_size("12x").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999999999t").is_err());
    }
}
