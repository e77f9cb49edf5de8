//! Finding, validating and writing the superblock.
//!
//! [`Superblock::find`] searches the locations FreeBSD searches (`SBLOCKSEARCH`
//! in fs.h: 65536, 8192, 0, 262144), reads the magic in both byte orders to
//! decide the image's [`Endian`], verifies the superblock check hash when
//! `CK_SUPERBLOCK` is enabled, and turns the fields into a [`Geometry`]: the
//! checked numbers every address calculation goes through. An image whose
//! superblock fails validation is never used for normal reads.

use crate::checkhash;
use crate::error::{CorruptKind, Error, Location, Result};
use crate::io::{self, Device};
use crate::ondisk::consts::{self, ckhash, FS_UFS1_MAGIC, FS_UFS2_MAGIC, SBLOCKSEARCH, SBLOCKSIZE};
use crate::ondisk::{Fs, FS_CKHASH_OFFSET, FS_MAGIC_OFFSET};
use crate::units::{CgIdx, Frag, Ino};
use crate::Endian;

pub mod search;
pub use search::search;

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

/// A superblock as read from (or to be written to) the image: every field,
/// plus the bytes between the end of `struct fs` and `fs_sbsize`, so writing
/// it back changes nothing that was not changed on purpose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Superblock {
    /// All fields of `struct fs`.
    pub fs: Fs,
    /// Bytes after `struct fs` up to `fs_sbsize` (normally zero).
    pub tail: Vec<u8>,
    /// The image's byte order.
    pub endian: Endian,
    /// Byte offset this copy was read from.
    pub location: u64,
}

/// When opening an image searches it for a superblock copy
/// ([`Superblock::find_with`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SearchWhen {
    /// Only the standard locations (the library's default: a program that
    /// writes must not quietly work from a stale backup).
    #[default]
    Never,
    /// When the standard locations hold nothing usable.
    IfMissing,
    /// Always, ignoring the primary (`--search-sb`: the primary is
    /// suspect even though it validates).
    Always,
}

/// Outcome of checking one candidate location.
#[derive(Debug)]
pub struct Candidate {
    /// Byte offset tried.
    pub location: u64,
    /// What was found there.
    pub result: Result<Superblock>,
}

/// The byte order and version whose magic number the four bytes at
/// `fs_magic` hold, if any: how an image's byte order is decided.
fn magic_kind(m: [u8; 4]) -> Option<(Endian, UfsVersion)> {
    [
        (Endian::Little, i32::from_le_bytes(m)),
        (Endian::Big, i32::from_be_bytes(m)),
    ]
    .into_iter()
    .find_map(|(endian, v)| match v {
        FS_UFS2_MAGIC => Some((endian, UfsVersion::Ufs2)),
        FS_UFS1_MAGIC => Some((endian, UfsVersion::Ufs1)),
        _ => None,
    })
}

impl Superblock {
    /// Decodes a superblock from `SBLOCKSIZE` (or fewer) raw bytes read at
    /// `location`, deciding the byte order from the magic. Does not validate
    /// the geometry.
    pub fn decode(bytes: &[u8], location: u64) -> Result<Superblock> {
        let at = Location::Superblock { offset: location };
        let magic = bytes
            .get(FS_MAGIC_OFFSET..FS_MAGIC_OFFSET + 4)
            .ok_or_else(|| {
                Error::corrupt(
                    CorruptKind::Truncated,
                    at,
                    "image ends inside the superblock",
                )
            })?;
        let m = [magic[0], magic[1], magic[2], magic[3]];
        let (endian, _) = magic_kind(m).ok_or_else(|| {
            Error::corrupt(
                CorruptKind::NoSuperblock,
                at,
                format!("no UFS magic (found bytes {m:02x?})"),
            )
        })?;
        let fs = Fs::decode(bytes, endian).ok_or_else(|| {
            Error::corrupt(
                CorruptKind::Truncated,
                at,
                "image ends inside the superblock",
            )
        })?;
        let sbsize = usize::try_from(fs.fs_sbsize).unwrap_or(0);
        if !(Fs::SIZE..=SBLOCKSIZE).contains(&sbsize) {
            return Err(Error::corrupt(
                CorruptKind::BadGeometry,
                at,
                format!(
                    "fs_sbsize {} is outside {}..={}",
                    fs.fs_sbsize,
                    Fs::SIZE,
                    SBLOCKSIZE
                ),
            ));
        }
        let tail = bytes
            .get(Fs::SIZE..sbsize)
            .ok_or_else(|| {
                Error::corrupt(
                    CorruptKind::Truncated,
                    at,
                    "image ends inside the superblock",
                )
            })?
            .to_vec();
        Ok(Superblock {
            fs,
            tail,
            endian,
            location,
        })
    }

    /// Reads and decodes the superblock copy at byte `location` without
    /// checking its hash or geometry (fsck and the search judge a copy by
    /// other means: backups are not always rehashed).
    pub fn read_unverified(dev: &dyn Device, location: u64) -> Result<Superblock> {
        let avail = dev.len().saturating_sub(location).min(SBLOCKSIZE as u64);
        let mut buf = vec![0u8; avail as usize];
        io::read_exact(dev, location, &mut buf)?;
        Superblock::decode(&buf, location)
    }

    /// [`find`](Self::find), and when the standard locations hold nothing
    /// usable (or `when` is [`SearchWhen::Always`]), a [`search`] of the
    /// image for a copy. Returns how the copy was found when searched; on
    /// failure, the error of the standard locations with the search's
    /// outcome appended.
    pub fn find_with(
        dev: &dyn Device,
        when: SearchWhen,
    ) -> Result<(Superblock, Geometry, Option<search::Report>)> {
        let primary = match when {
            SearchWhen::Always => None,
            _ => match Self::find(dev) {
                Ok((sb, geo)) => return Ok((sb, geo, None)),
                // An I/O error is not a missing superblock: report it as is.
                Err(e @ Error::Io { .. }) => return Err(e),
                Err(e) if when == SearchWhen::Never => return Err(e),
                Err(e) => Some(e),
            },
        };
        match search(dev) {
            Ok(f) => Ok((f.sb, f.geo, Some(f.report))),
            Err(s) => Err(match primary {
                None => s,
                Some(Error::Corrupt(mut c)) => {
                    let how = match &s {
                        Error::Corrupt(sc) => sc.detail.clone(),
                        other => other.to_string(),
                    };
                    c.detail = format!("{}; and {how}", c.detail);
                    Error::Corrupt(c)
                }
                Some(e) => e,
            }),
        }
    }

    /// Reads and decodes the superblock copy at byte `location`, and checks
    /// its check hash when enabled. Does not validate the geometry.
    pub fn read_at(dev: &dyn Device, location: u64) -> Result<Superblock> {
        let at = Location::Superblock { offset: location };
        let avail = dev.len().saturating_sub(location);
        if avail < Fs::SIZE as u64 {
            // Not corruption: there is simply no room for a superblock here.
            return Err(Error::corrupt(
                CorruptKind::NoSuperblock,
                at,
                format!("the image ends before byte {}", location + Fs::SIZE as u64),
            ));
        }
        let n = usize::try_from(avail.min(SBLOCKSIZE as u64)).unwrap_or(SBLOCKSIZE);
        let mut buf = vec![0u8; n];
        io::read_exact(dev, location, &mut buf)?;
        let sb = Superblock::decode(&buf, location)?;
        if sb.fs.fs_metackhash & ckhash::CK_SUPERBLOCK != 0 {
            let stored = sb.fs.fs_ckhash;
            let computed = sb.compute_ckhash();
            if stored != computed {
                return Err(Error::corrupt(
                    CorruptKind::CheckHash,
                    at,
                    format!("superblock check-hash failed: recorded {stored:#010x}, computed {computed:#010x}"),
                ));
            }
        }
        Ok(sb)
    }

    /// Searches the standard locations and returns the first superblock that
    /// decodes, has a good check hash and a valid geometry. On failure the
    /// error describes the most informative candidate.
    pub fn find(dev: &dyn Device) -> Result<(Superblock, Geometry)> {
        let mut informative: Option<Error> = None;
        for cand in Self::candidates(dev) {
            match cand
                .result
                .and_then(|sb| sb.validate(dev.len()).map(|g| (sb, g)))
            {
                Ok(found) => return Ok(found),
                // A magic that was found but failed later says more than
                // "no magic here" or "the image ends before this place".
                Err(e) if e.corrupt_kind() != Some(CorruptKind::NoSuperblock) => {
                    informative.get_or_insert(e);
                }
                Err(_) => {}
            }
        }
        Err(informative.unwrap_or_else(|| {
            Error::corrupt(
                CorruptKind::NoSuperblock,
                Location::Image,
                format!(
                    "none at byte 65536, 8192, 0 or 262144 (the image is {} bytes)",
                    dev.len()
                ),
            )
        }))
    }

    /// The version whose magic number sits at one of the standard
    /// locations, in either byte order, nothing else checked: the quick
    /// "does this already hold a file system?" test (newfs refusing to
    /// overwrite one, mount choosing the driver's type), which must answer
    /// even for a damaged superblock that [`find`](Self::find) rejects.
    pub fn probe(dev: &dyn Device) -> Option<UfsVersion> {
        let mut m = [0u8; 4];
        SBLOCKSEARCH.iter().find_map(|&loc| {
            dev.read_at(loc + FS_MAGIC_OFFSET as u64, &mut m).ok()?;
            magic_kind(m).map(|(_, version)| version)
        })
    }

    /// What each standard location holds, in search order (used by `find`,
    /// and by fsck to say which copies exist).
    pub fn candidates(dev: &dyn Device) -> Vec<Candidate> {
        SBLOCKSEARCH
            .iter()
            .map(|&location| {
                let result = Self::read_at(dev, location).and_then(|sb| {
                    let at = Location::Superblock { offset: location };
                    // Like FreeBSD: a UFS2 superblock must say it lives where it
                    // was found (this rejects backup copies and stale data), and a
                    // UFS1 superblock is never taken from the UFS2 location.
                    match sb.fs.fs_magic {
                        FS_UFS2_MAGIC
                            if u64::try_from(sb.fs.fs_sblockloc).ok() != Some(location) =>
                        {
                            Err(Error::corrupt(
                                CorruptKind::NoSuperblock,
                                at,
                                format!(
                                    "UFS2 superblock says it belongs at {}",
                                    sb.fs.fs_sblockloc
                                ),
                            ))
                        }
                        FS_UFS1_MAGIC if location == consts::SBLOCK_UFS2 => Err(Error::corrupt(
                            CorruptKind::NoSuperblock,
                            at,
                            "UFS1 magic at the UFS2 location is not a primary superblock",
                        )),
                        _ => Ok(sb),
                    }
                });
                Candidate { location, result }
            })
            .collect()
    }

    /// The format version.
    pub fn version(&self) -> UfsVersion {
        if self.fs.fs_magic == FS_UFS2_MAGIC {
            UfsVersion::Ufs2
        } else {
            UfsVersion::Ufs1
        }
    }

    /// Encodes the superblock (`fs_sbsize` bytes) with its check hash
    /// recomputed when `CK_SUPERBLOCK` is enabled.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.fs.encode(self.endian);
        out.extend_from_slice(&self.tail);
        if self.fs.fs_metackhash & ckhash::CK_SUPERBLOCK != 0 {
            let h = checkhash::compute(&out, FS_CKHASH_OFFSET);
            crate::ondisk::wire::put_u32(&mut out[FS_CKHASH_OFFSET..], self.endian, h);
        }
        out
    }

    /// The check hash FreeBSD would store for these contents.
    pub fn compute_ckhash(&self) -> u32 {
        let mut out = self.fs.encode(self.endian);
        out.extend_from_slice(&self.tail);
        checkhash::compute(&out, FS_CKHASH_OFFSET)
    }

    /// Volume label (`fs_volname`), up to the first NUL.
    pub fn volname(&self) -> String {
        c_string(&self.fs.fs_volname)
    }

    /// Last mount point (`fs_fsmnt`), up to the first NUL.
    pub fn fsmnt(&self) -> String {
        c_string(&self.fs.fs_fsmnt)
    }

    /// Whether the clean flag is set.
    pub fn is_clean(&self) -> bool {
        self.fs.fs_clean != 0
    }

    /// Whether the superblock asks for a check: the clean flag is not set,
    /// or `FS_UNCLEAN` / `FS_NEEDSFSCK` is (mounted, crashed, or an edit
    /// or a check was interrupted). The one reading of "unclean" that
    /// fsck's skip rule, the editors and preflight share.
    pub fn needs_fsck(&self) -> bool {
        use crate::ondisk::consts::fsflags;
        !self.is_clean() || self.fs.fs_flags & (fsflags::FS_UNCLEAN | fsflags::FS_NEEDSFSCK) != 0
    }

    /// Checks every field the rest of the crate relies on and returns the
    /// derived [`Geometry`]. `image_len` is the device size in bytes.
    pub fn validate(&self, image_len: u64) -> Result<Geometry> {
        Geometry::from_superblock(self, image_len)
    }
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
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
    pub cg_layout: crate::cg::CgLayout,
    /// `fs_contigsumsize`: cluster sizes counted in each group's summary.
    pub contigsumsize: u32,
}

impl Geometry {
    /// Validates `sb` and derives the geometry.
    pub fn from_superblock(sb: &Superblock, image_len: u64) -> Result<Geometry> {
        let fs = &sb.fs;
        let at = Location::Superblock {
            offset: sb.location,
        };
        let bad = |msg: String| Err(Error::corrupt(CorruptKind::BadGeometry, at, msg));
        let version = sb.version();
        if version == UfsVersion::Ufs1 && fs.fs_old_inodefmt < consts::FS_44INODEFMT {
            return Err(Error::Unsupported(format!(
                "{at}: 4.2BSD inode format (fs_old_inodefmt {}) is not supported",
                fs.fs_old_inodefmt
            )));
        }
        let bsize = u32::try_from(fs.fs_bsize).unwrap_or(0);
        let fsize = u32::try_from(fs.fs_fsize).unwrap_or(0);
        if !bsize.is_power_of_two() || !(consts::MINBSIZE..=consts::MAXBSIZE).contains(&bsize) {
            return bad(format!(
                "fs_bsize {} is not a power of two in 4096..=65536",
                fs.fs_bsize
            ));
        }
        if !fsize.is_power_of_two()
            || fsize < 512
            || fsize > bsize
            || bsize / fsize > consts::MAXFRAG
        {
            return bad(format!(
                "fs_fsize {} does not fit fs_bsize {}",
                fs.fs_fsize, fs.fs_bsize
            ));
        }
        let frag = bsize / fsize;
        if u32::try_from(fs.fs_frag).ok() != Some(frag) {
            return bad(format!(
                "fs_frag {} is not fs_bsize/fs_fsize = {frag}",
                fs.fs_frag
            ));
        }
        let (bshift, fshift, fragshift) = (
            bsize.trailing_zeros(),
            fsize.trailing_zeros(),
            frag.trailing_zeros(),
        );
        if fs.fs_bshift != bshift as i32
            || fs.fs_fshift != fshift as i32
            || fs.fs_fragshift != fragshift as i32
        {
            return bad(format!(
                "shifts (bshift {}, fshift {}, fragshift {}) do not match the sizes",
                fs.fs_bshift, fs.fs_fshift, fs.fs_fragshift
            ));
        }
        let fsbtodb = fshift - 9;
        if fs.fs_fsbtodb != fsbtodb as i32 {
            return bad(format!("fs_fsbtodb {} is not {fsbtodb}", fs.fs_fsbtodb));
        }
        let isize = version.inode_size();
        let inopb = bsize / isize;
        if fs.fs_inopb != inopb {
            return bad(format!("fs_inopb {} is not {inopb}", fs.fs_inopb));
        }
        let nindir = u64::from(bsize / version.pointer_size());
        if u64::try_from(fs.fs_nindir).ok() != Some(nindir) {
            return bad(format!("fs_nindir {} is not {nindir}", fs.fs_nindir));
        }
        let ncg = fs.fs_ncg;
        let ipg = fs.fs_ipg;
        let fpg = u64::try_from(fs.fs_fpg).unwrap_or(0);
        if ncg == 0 {
            return bad("fs_ncg is 0".into());
        }
        if ipg == 0 || ipg % inopb != 0 {
            return bad(format!(
                "fs_ipg {ipg} is not a positive multiple of {inopb} inodes per block"
            ));
        }
        if fpg < u64::from(frag) || fpg % u64::from(frag) != 0 {
            return bad(format!(
                "fs_fpg {} is not a positive multiple of fs_frag",
                fs.fs_fpg
            ));
        }
        let (size, dsize) = match version {
            UfsVersion::Ufs2 => (fs.fs_size, fs.fs_dsize),
            UfsVersion::Ufs1 => (i64::from(fs.fs_old_size), i64::from(fs.fs_old_dsize)),
        };
        let size = u64::try_from(size).unwrap_or(0);
        let dsize = u64::try_from(dsize).unwrap_or(0);
        let span = u64::from(ncg).checked_mul(fpg);
        let Some(span) = span else {
            return bad("fs_ncg * fs_fpg overflows".into());
        };
        if size == 0 || size > span || size <= span - fpg {
            return bad(format!(
                "fs_size {size} does not fit {ncg} groups of {fpg} fragments"
            ));
        }
        if dsize > size {
            return bad(format!("fs_dsize {dsize} exceeds fs_size {size}"));
        }
        let ninodes = u64::from(ncg) * u64::from(ipg);
        if ninodes > u64::from(u32::MAX) {
            return bad(format!(
                "{ncg} groups of {ipg} inodes exceed 32-bit inode numbers"
            ));
        }
        let field = |v: i32| u64::try_from(v).unwrap_or(u64::MAX);
        let (sblkno, cblkno, iblkno, dblkno) = (
            field(fs.fs_sblkno),
            field(fs.fs_cblkno),
            field(fs.fs_iblkno),
            field(fs.fs_dblkno),
        );
        let inode_frags = u64::from(ipg) / u64::from(inopb) * u64::from(frag);
        if !(sblkno < cblkno && cblkno < iblkno && iblkno < dblkno && dblkno <= fpg) {
            return bad(format!(
                "cg layout out of order: sblkno {sblkno}, cblkno {cblkno}, iblkno {iblkno}, dblkno {dblkno}, fpg {fpg}"
            ));
        }
        if iblkno + inode_frags > dblkno {
            return bad(format!(
                "inode table ({inode_frags} frags from {iblkno}) overruns dblkno {dblkno}"
            ));
        }
        let cgsize = u32::try_from(fs.fs_cgsize).unwrap_or(0);
        if cgsize < crate::ondisk::CgHeader::SIZE as u32
            || u64::from(cgsize) > (iblkno - cblkno) * u64::from(fsize)
        {
            return bad(format!(
                "fs_cgsize {} does not fit between cblkno and iblkno",
                fs.fs_cgsize
            ));
        }
        let (old_cgoffset, old_cgmask) = match version {
            UfsVersion::Ufs2 => (0, 0),
            UfsVersion::Ufs1 => (
                u64::try_from(fs.fs_old_cgoffset).unwrap_or(u64::MAX),
                u64::from(fs.fs_old_cgmask as u32),
            ),
        };
        if old_cgoffset
            .checked_mul(u64::from(ncg))
            .is_none_or(|o| o.saturating_add(dblkno) > fpg.saturating_mul(2))
        {
            return bad(format!("fs_old_cgoffset {} is absurd", fs.fs_old_cgoffset));
        }
        let csaddr = match version {
            UfsVersion::Ufs2 => u64::try_from(fs.fs_csaddr).unwrap_or(u64::MAX),
            UfsVersion::Ufs1 => u64::try_from(fs.fs_old_csaddr).unwrap_or(u64::MAX),
        };
        let cssize = u64::try_from(fs.fs_cssize).unwrap_or(0);
        let need = u64::from(ncg) * crate::ondisk::Csum::SIZE as u64;
        if cssize < need || csaddr.saturating_add(cssize.div_ceil(u64::from(fsize))) > size {
            return bad(format!(
                "summary area (fs_csaddr {csaddr}, fs_cssize {cssize}) is invalid for {ncg} groups"
            ));
        }
        // A shift would drop the high bits of an absurd fs_size (2^48
        // fragments of 64 KiB is exactly 2^64 bytes, i.e. 0).
        let bytes = size.saturating_mul(u64::from(fsize));
        if bytes > image_len {
            return Err(Error::corrupt(
                CorruptKind::Truncated,
                at,
                format!(
                    "the superblock describes {bytes} bytes but the image has only {image_len}"
                ),
            ));
        }
        if !(0..=consts::FS_MAXCONTIG).contains(&fs.fs_contigsumsize) {
            return bad(format!(
                "fs_contigsumsize {} is outside 0..={}",
                fs.fs_contigsumsize,
                consts::FS_MAXCONTIG
            ));
        }
        let contigsumsize = u32::try_from(fs.fs_contigsumsize).unwrap_or(0);
        let (old_cpg, old_nrpos) = match version {
            UfsVersion::Ufs1 => (
                u64::try_from(fs.fs_old_cpg).unwrap_or(u64::MAX),
                u64::try_from(fs.fs_old_nrpos).unwrap_or(u64::MAX),
            ),
            UfsVersion::Ufs2 => (0, 0),
        };
        // A group whose maps run past its block cannot be read or rebuilt
        // (fsck would write headers pointing outside it); newfs sizes
        // fs_cgsize from this same layout (CGSIZE), so no real file system
        // fails this.
        let cg_layout = crate::cg::CgLayout::compute(
            version,
            old_cpg,
            old_nrpos,
            u64::from(ipg),
            fpg,
            fragshift,
            u64::from(contigsumsize),
        )
        .filter(|l| l.nextfreeoff <= cgsize);
        let Some(cg_layout) = cg_layout else {
            return bad(format!(
                "the maps of a group (fs_old_cpg {}, fs_old_nrpos {}, fs_ipg {ipg}, fs_fpg {fpg}, \
                 fs_contigsumsize {contigsumsize}) do not fit in fs_cgsize {cgsize}",
                fs.fs_old_cpg, fs.fs_old_nrpos
            ));
        };
        let maxsymlinklen = u32::try_from(fs.fs_maxsymlinklen).unwrap_or(0);
        let max_inline = match version {
            UfsVersion::Ufs1 => 60,
            UfsVersion::Ufs2 => 120,
        };
        if maxsymlinklen > max_inline {
            return bad(format!(
                "fs_maxsymlinklen {maxsymlinklen} exceeds {max_inline}"
            ));
        }
        Ok(Geometry {
            version,
            endian: sb.endian,
            sblockloc: sb.location,
            bsize,
            fsize,
            frag,
            fragshift,
            bshift,
            fshift,
            fsbtodb,
            ncg,
            fpg,
            ipg,
            inopb,
            nindir,
            sblkno,
            cblkno,
            iblkno,
            dblkno,
            cgsize,
            old_cgoffset,
            old_cgmask,
            size,
            dsize,
            csaddr,
            cssize,
            maxsymlinklen,
            metackhash: fs.fs_metackhash,
            maxfilesize: fs.fs_maxfilesize,
            ninodes,
            cg_layout,
            contigsumsize,
        })
    }

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
        let frag = u64::from(self.frag);
        if n == 0 || f.0 == 0 || !self.frags_in_range(f, n) {
            return false;
        }
        if n > frag || f.0 % frag + n > frag {
            return false;
        }
        let end = f.0 + n;
        let cg = self.dtog(f);
        if f.0 < self.cgdmin(cg).0 {
            end <= self.cgsblock(cg).0
        } else {
            end <= self.cgbase(cg).0.saturating_add(self.fpg)
        }
    }

    /// Bytes of data in logical block `lbn` of a file of `size` bytes
    /// (`sblksize`): a full block, or the fragments of the tail.
    pub fn blksize(&self, size: u64, lbn: u64) -> u64 {
        let bsize = u64::from(self.bsize);
        if lbn >= consts::NDADDR as u64 || size >= (lbn + 1).saturating_mul(bsize) {
            bsize
        } else {
            let rem = size & (bsize - 1);
            rem.div_ceil(u64::from(self.fsize)) * u64::from(self.fsize)
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
