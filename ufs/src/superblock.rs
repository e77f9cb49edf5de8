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
use crate::ondisk::wire::{fs_magic, FsMagic};
use crate::ondisk::{Fs, FS_CKHASH_OFFSET, FS_MAGIC_OFFSET};
use crate::Endian;

pub mod search;
pub use crate::geometry::{Geometry, UfsVersion};
pub use search::search;

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

/// A file system's free-space totals: the first four fields of
/// `fs_cstotal` (`struct csum_total`, fs.h).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Directories (`cs_ndir`).
    pub ndir: i64,
    /// Free blocks (`cs_nbfree`).
    pub nbfree: i64,
    /// Free inodes (`cs_nifree`).
    pub nifree: i64,
    /// Free fragments in partly used blocks (`cs_nffree`).
    pub nffree: i64,
}

impl Totals {
    /// Whether `fs` keeps its totals in the 32-bit `fs_old_cstotal`: a UFS1
    /// file system written before the 64-bit fields existed, which FreeBSD
    /// recognizes by `fs_maxbsize != fs_bsize` and converts on reading
    /// (`ffs_oldfscompat_read`, sys/ufs/ffs/ffs_vfsops.c).
    pub fn in_old_fields(fs: &Fs) -> bool {
        fs.fs_magic == FS_UFS1_MAGIC && fs.fs_maxbsize != fs.fs_bsize
    }

    /// The totals as FreeBSD reads them: `fs_old_cstotal` for an
    /// unconverted UFS1 file system ([`Totals::in_old_fields`]),
    /// `fs_cstotal` otherwise.
    pub fn of(fs: &Fs) -> Totals {
        if Self::in_old_fields(fs) {
            Totals::from_array(fs.fs_old_cstotal.map(i64::from))
        } else {
            let c = fs.fs_cstotal;
            Totals::from_array([c[0], c[1], c[2], c[3]])
        }
    }

    /// Writes the totals into `fs_cstotal` and, on UFS1, into
    /// `fs_old_cstotal` too, which FreeBSD keeps in step on every
    /// superblock write (`ffs_oldfscompat_write`) so that older kernels
    /// and tools read the same numbers (saturated to 32 bits).
    pub fn store(self, fs: &mut Fs) {
        let t = self.as_array();
        fs.fs_cstotal[..4].copy_from_slice(&t);
        if fs.fs_magic == FS_UFS1_MAGIC {
            fs.fs_old_cstotal = t.map(|v| i32::try_from(v).unwrap_or(i32::MAX));
        }
    }

    /// `[ndir, nbfree, nifree, nffree]`, the order of `struct csum`.
    pub fn as_array(self) -> [i64; 4] {
        [self.ndir, self.nbfree, self.nifree, self.nffree]
    }

    /// From `[ndir, nbfree, nifree, nffree]`.
    pub fn from_array(a: [i64; 4]) -> Totals {
        Totals {
            ndir: a[0],
            nbfree: a[1],
            nifree: a[2],
            nffree: a[3],
        }
    }
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
/// `fs_magic` hold, if any (a superblock newfs left half-made is none):
/// how an image's byte order is decided.
fn magic_kind(m: [u8; 4]) -> Option<(Endian, UfsVersion)> {
    match fs_magic(m)? {
        (endian, FsMagic::Ufs2) => Some((endian, UfsVersion::Ufs2)),
        (endian, FsMagic::Ufs1) => Some((endian, UfsVersion::Ufs1)),
        (_, FsMagic::Building) => None,
    }
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
        // At most SBLOCKSIZE bytes.
        #[allow(clippy::cast_possible_truncation)]
        let mut buf = vec![0u8; avail as usize];
        io::read_exact(dev, location, &mut buf)?;
        Superblock::decode(&buf, location)
    }

    /// [`find`](Self::find), and when the standard locations hold nothing
    /// usable (or `when` is [`SearchWhen::Always`]), a [`search()`] of the
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

    /// Whether the `fs_clean` byte is set, and nothing more: what dumpfs
    /// and `ufs info` print. Whether the file system may be used without a
    /// check is [`Superblock::is_clean`].
    pub fn clean_flag(&self) -> bool {
        self.fs.fs_clean != 0
    }

    /// Whether the file system is clean in fsck's sense: the clean flag is
    /// set and neither `FS_UNCLEAN` nor `FS_NEEDSFSCK` is (either means it
    /// was mounted, crashed, or an edit or a check was interrupted). The
    /// one reading of "clean" that fsck's skip rule, the editors, growfs,
    /// fuse, mount and preflight share (docs/fsck.md, "Clean-flag rule";
    /// fsck_ffs's setup.c skips on `fs_clean` alone, growfs 12.1 tests the two
    /// flags alone, and each misses a case the other catches).
    pub fn is_clean(&self) -> bool {
        use crate::ondisk::consts::fsflags;
        self.clean_flag() && self.fs.fs_flags & (fsflags::FS_UNCLEAN | fsflags::FS_NEEDSFSCK) == 0
    }

    /// The opposite of [`Superblock::is_clean`].
    pub fn needs_fsck(&self) -> bool {
        !self.is_clean()
    }

    /// The free-space totals the file system records ([`Totals::of`]).
    pub fn totals(&self) -> Totals {
        Totals::of(&self.fs)
    }

    /// Records new free-space totals ([`Totals::store`]).
    pub fn set_totals(&mut self, t: Totals) {
        t.store(&mut self.fs);
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
        if i64::from(fs.fs_bshift) != i64::from(bshift)
            || i64::from(fs.fs_fshift) != i64::from(fshift)
            || i64::from(fs.fs_fragshift) != i64::from(fragshift)
        {
            return bad(format!(
                "shifts (bshift {}, fshift {}, fragshift {}) do not match the sizes",
                fs.fs_bshift, fs.fs_fshift, fs.fs_fragshift
            ));
        }
        let fsbtodb = fshift - 9;
        if i64::from(fs.fs_fsbtodb) != i64::from(fsbtodb) {
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
        if ipg == 0 || !ipg.is_multiple_of(inopb) {
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
        if (cgsize as usize) < crate::ondisk::CgHeader::SIZE
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
                u64::from(u32::from_ne_bytes(fs.fs_old_cgmask.to_ne_bytes())),
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
        let cg_layout = crate::geometry::CgLayout::compute(
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
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod totals_tests {
    use super::*;
    use crate::newfs::options::NewfsOptions;
    use crate::ondisk::consts::fsflags;

    fn fresh(version: UfsVersion) -> Superblock {
        let mut o = NewfsOptions::freebsd_12_1();
        o.version = version;
        let img = crate::newfs::in_memory(4 << 20, &o).unwrap();
        Superblock::find(&img).unwrap().0
    }

    #[test]
    fn ufs2_totals_are_the_64_bit_fields() {
        let mut sb = fresh(UfsVersion::Ufs2);
        let t = sb.totals();
        assert_eq!(t.as_array(), sb.fs.fs_cstotal[..4]);
        assert!(t.nbfree > 0 && t.nifree > 0);
        let old = sb.fs.fs_old_cstotal;
        let new = Totals::from_array([7, 6, 5, 4]);
        sb.set_totals(new);
        assert_eq!(sb.totals(), new);
        assert_eq!(sb.fs.fs_cstotal[..4], [7, 6, 5, 4]);
        // UFS2 has no 32-bit copy to keep.
        assert_eq!(sb.fs.fs_old_cstotal, old);
    }

    #[test]
    fn ufs1_keeps_the_32_bit_copy_in_step() {
        let mut sb = fresh(UfsVersion::Ufs1);
        // newfs writes both, equal.
        assert_eq!(sb.fs.fs_old_cstotal.map(i64::from), sb.totals().as_array());
        sb.set_totals(Totals::from_array([1, 2, 3, i64::from(i32::MAX) + 5]));
        assert_eq!(sb.fs.fs_cstotal[..4], [1, 2, 3, i64::from(i32::MAX) + 5]);
        assert_eq!(sb.fs.fs_old_cstotal, [1, 2, 3, i32::MAX]);
        // A converted UFS1 file system is read from the 64-bit fields...
        assert_eq!(sb.totals().nffree, i64::from(i32::MAX) + 5);
        // ...one not yet converted (fs_maxbsize != fs_bsize) from the old.
        sb.fs.fs_maxbsize = 0;
        sb.fs.fs_cstotal[1] = 99;
        assert!(Totals::in_old_fields(&sb.fs));
        assert_eq!(sb.totals().as_array(), [1, 2, 3, i64::from(i32::MAX)]);
    }

    #[test]
    fn clean_means_the_flag_and_neither_unclean_bit() {
        let mut sb = fresh(UfsVersion::Ufs2);
        assert!(sb.clean_flag() && sb.is_clean() && !sb.needs_fsck());
        for bit in [fsflags::FS_UNCLEAN, fsflags::FS_NEEDSFSCK] {
            sb.fs.fs_flags |= bit;
            assert!(sb.clean_flag() && !sb.is_clean() && sb.needs_fsck());
            sb.fs.fs_flags &= !bit;
        }
        // Other flags do not matter.
        sb.fs.fs_flags |= fsflags::FS_DOSOFTDEP;
        assert!(sb.is_clean());
        sb.fs.fs_clean = 0;
        assert!(!sb.clean_flag() && !sb.is_clean());
    }
}
