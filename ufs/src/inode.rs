//! Inodes: UFS1 (128-byte) and UFS2 (256-byte) on-disk inodes behind one
//! type, their file types and times, and the UFS2 inode check hash.
//!
//! [`Inode`] keeps the decoded on-disk struct of its version, so writing it
//! back is exact; accessors give the version-independent view the rest of
//! the crate uses. Block pointers come out as `u64` fragment addresses, with
//! negative UFS1/UFS2 values mapped to `u64::MAX` so range checks reject them.

use crate::checkhash;
use crate::error::{CorruptKind, Error, Location, Result};
use crate::io::{self, Device};
use crate::ondisk::consts::{ckhash, mode, NDADDR, NIADDR};
use crate::ondisk::{Dinode1, Dinode2, DI_CKHASH_OFFSET};
use crate::superblock::{Geometry, UfsVersion};
use crate::units::Ino;

/// The type of a file, from the `IFMT` bits of its mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileType {
    /// Named pipe.
    Fifo,
    /// Character device.
    CharDevice,
    /// Directory.
    Directory,
    /// Block device.
    BlockDevice,
    /// Regular file.
    Regular,
    /// Symbolic link.
    Symlink,
    /// Socket.
    Socket,
    /// Whiteout (union mounts).
    Whiteout,
    /// No valid type bits.
    Unknown,
}

impl FileType {
    /// From the mode's type bits.
    pub fn from_mode(m: u16) -> FileType {
        match m & mode::IFMT {
            mode::IFIFO => FileType::Fifo,
            mode::IFCHR => FileType::CharDevice,
            mode::IFDIR => FileType::Directory,
            mode::IFBLK => FileType::BlockDevice,
            mode::IFREG => FileType::Regular,
            mode::IFLNK => FileType::Symlink,
            mode::IFSOCK => FileType::Socket,
            mode::IFWHT => FileType::Whiteout,
            _ => FileType::Unknown,
        }
    }

    /// The mode's type bits for this type.
    pub fn mode_bits(self) -> u16 {
        match self {
            FileType::Fifo => mode::IFIFO,
            FileType::CharDevice => mode::IFCHR,
            FileType::Directory => mode::IFDIR,
            FileType::BlockDevice => mode::IFBLK,
            FileType::Regular => mode::IFREG,
            FileType::Symlink => mode::IFLNK,
            FileType::Socket => mode::IFSOCK,
            FileType::Whiteout => mode::IFWHT,
            FileType::Unknown => 0,
        }
    }

    /// The directory-entry type (`DT_*`) for this file type.
    pub fn dt(self) -> u8 {
        use crate::ondisk::consts::dt;
        match self {
            FileType::Fifo => dt::DT_FIFO,
            FileType::CharDevice => dt::DT_CHR,
            FileType::Directory => dt::DT_DIR,
            FileType::BlockDevice => dt::DT_BLK,
            FileType::Regular => dt::DT_REG,
            FileType::Symlink => dt::DT_LNK,
            FileType::Socket => dt::DT_SOCK,
            FileType::Whiteout => dt::DT_WHT,
            FileType::Unknown => dt::DT_UNKNOWN,
        }
    }

    /// A one-letter code as `ls -l` prints it.
    pub fn ls_char(self) -> char {
        match self {
            FileType::Fifo => 'p',
            FileType::CharDevice => 'c',
            FileType::Directory => 'd',
            FileType::BlockDevice => 'b',
            FileType::Regular => '-',
            FileType::Symlink => 'l',
            FileType::Socket => 's',
            FileType::Whiteout => 'w',
            FileType::Unknown => '?',
        }
    }
}

/// A time stamp: seconds since the epoch and nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timespec {
    /// Seconds (UFS1 stores 32 bits, signed).
    pub sec: i64,
    /// Nanoseconds.
    pub nsec: u32,
}

/// The on-disk form, kept whole for exact write-back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawInode {
    /// UFS1.
    V1(Dinode1),
    /// UFS2.
    V2(Dinode2),
}

/// One inode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inode {
    /// Its number.
    pub ino: Ino,
    /// The decoded on-disk structure.
    pub raw: RawInode,
}

/// A block pointer as stored in the inode, by the one rule for pointers.
fn ptr(v: i64) -> u64 {
    crate::ondisk::wire::daddr(v)
}

impl Inode {
    /// Decodes an inode from its on-disk bytes.
    pub fn decode(ino: Ino, bytes: &[u8], geo: &Geometry) -> Result<Inode> {
        let short = || {
            Error::corrupt(
                CorruptKind::Truncated,
                Location::Inode(ino),
                "inode bytes cut short",
            )
        };
        let raw = match geo.version {
            UfsVersion::Ufs1 => RawInode::V1(Dinode1::decode(bytes, geo.endian).ok_or_else(short)?),
            UfsVersion::Ufs2 => RawInode::V2(Dinode2::decode(bytes, geo.endian).ok_or_else(short)?),
        };
        Ok(Inode { ino, raw })
    }

    /// Reads inode `ino`, verifying its check hash when `CK_INODE` is enabled.
    pub fn read(dev: &dyn Device, geo: &Geometry, ino: Ino) -> Result<Inode> {
        let bytes = Self::read_bytes(dev, geo, ino)?;
        let inode = Self::decode(ino, &bytes, geo)?;
        if let Some((stored, computed)) = inode.ckhash_mismatch(&bytes, geo) {
            return Err(Error::corrupt(
                CorruptKind::CheckHash,
                Location::Inode(ino),
                format!(
                    "inode check-hash failed: recorded {stored:#010x}, computed {computed:#010x}"
                ),
            ));
        }
        Ok(inode)
    }

    /// Reads the raw bytes of inode `ino`.
    pub fn read_bytes(dev: &dyn Device, geo: &Geometry, ino: Ino) -> Result<Vec<u8>> {
        if !geo.ino_valid(ino) {
            return Err(Error::corrupt(
                CorruptKind::BadInodeNumber,
                Location::Inode(ino),
                format!("inode number outside 0..{}", geo.ninodes),
            ));
        }
        let mut bytes = vec![0u8; geo.version.inode_size() as usize];
        io::read_exact(dev, geo.inode_offset(ino), &mut bytes)?;
        Ok(bytes)
    }

    /// For UFS2 with inode hashes on: `Some((stored, computed))` when the hash
    /// of `bytes` (this inode's on-disk form) does not match. Like FreeBSD's
    /// `ffs_verify_dinode_ckhash`, an unallocated inode (mode 0: never used,
    /// or freshly initialized with only a generation number) is not checked.
    pub fn ckhash_mismatch(&self, bytes: &[u8], geo: &Geometry) -> Option<(u32, u32)> {
        match &self.raw {
            RawInode::V2(d) => ckhash_check(geo, d.di_mode, d.di_ckhash, bytes),
            RawInode::V1(_) => None,
        }
    }

    /// Encodes the inode, updating the UFS2 check hash when enabled.
    pub fn encode(&mut self, geo: &Geometry) -> Vec<u8> {
        match &mut self.raw {
            RawInode::V1(d) => d.encode(geo.endian),
            RawInode::V2(d) => {
                if geo.has_ckhash(ckhash::CK_INODE) {
                    d.di_ckhash = 0;
                    let bytes = d.encode(geo.endian);
                    d.di_ckhash = checkhash::compute(&bytes, DI_CKHASH_OFFSET);
                }
                d.encode(geo.endian)
            }
        }
    }

    /// `di_mode`.
    pub fn mode(&self) -> u16 {
        match &self.raw {
            RawInode::V1(d) => d.di_mode,
            RawInode::V2(d) => d.di_mode,
        }
    }

    /// Permission bits including setuid, setgid and sticky.
    pub fn perm(&self) -> u16 {
        self.mode() & 0o7777
    }

    /// The file type.
    pub fn file_type(&self) -> FileType {
        FileType::from_mode(self.mode())
    }

    /// Whether the inode is allocated (has a mode).
    pub fn is_allocated(&self) -> bool {
        self.mode() != 0
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == FileType::Directory
    }

    /// `di_nlink`.
    pub fn nlink(&self) -> i16 {
        match &self.raw {
            RawInode::V1(d) => d.di_nlink,
            RawInode::V2(d) => d.di_nlink,
        }
    }

    /// `di_uid`.
    pub fn uid(&self) -> u32 {
        match &self.raw {
            RawInode::V1(d) => d.di_uid,
            RawInode::V2(d) => d.di_uid,
        }
    }

    /// `di_gid`.
    pub fn gid(&self) -> u32 {
        match &self.raw {
            RawInode::V1(d) => d.di_gid,
            RawInode::V2(d) => d.di_gid,
        }
    }

    /// `di_size` in bytes.
    pub fn size(&self) -> u64 {
        match &self.raw {
            RawInode::V1(d) => d.di_size,
            RawInode::V2(d) => d.di_size,
        }
    }

    /// `di_blocks`: space held, in 512-byte sectors.
    pub fn blocks(&self) -> u64 {
        match &self.raw {
            RawInode::V1(d) => u64::from(d.di_blocks),
            RawInode::V2(d) => d.di_blocks,
        }
    }

    /// `di_flags` (chflags(2) flags).
    pub fn flags(&self) -> u32 {
        match &self.raw {
            RawInode::V1(d) => d.di_flags,
            RawInode::V2(d) => d.di_flags,
        }
    }

    /// `di_gen`.
    pub fn gen(&self) -> u32 {
        match &self.raw {
            RawInode::V1(d) => d.di_gen,
            RawInode::V2(d) => d.di_gen,
        }
    }

    fn ts(sec: i64, nsec: i32) -> Timespec {
        Timespec {
            sec,
            nsec: u32::try_from(nsec).unwrap_or(0).min(999_999_999),
        }
    }

    /// Last access.
    pub fn atime(&self) -> Timespec {
        match &self.raw {
            RawInode::V1(d) => Self::ts(i64::from(d.di_atime), d.di_atimensec),
            RawInode::V2(d) => Self::ts(d.di_atime, d.di_atimensec),
        }
    }

    /// Last modification.
    pub fn mtime(&self) -> Timespec {
        match &self.raw {
            RawInode::V1(d) => Self::ts(i64::from(d.di_mtime), d.di_mtimensec),
            RawInode::V2(d) => Self::ts(d.di_mtime, d.di_mtimensec),
        }
    }

    /// Last status change.
    pub fn ctime(&self) -> Timespec {
        match &self.raw {
            RawInode::V1(d) => Self::ts(i64::from(d.di_ctime), d.di_ctimensec),
            RawInode::V2(d) => Self::ts(d.di_ctime, d.di_ctimensec),
        }
    }

    /// Creation time (UFS2 only).
    pub fn birthtime(&self) -> Option<Timespec> {
        match &self.raw {
            RawInode::V1(_) => None,
            RawInode::V2(d) => Some(Self::ts(d.di_birthtime, d.di_birthnsec)),
        }
    }

    /// Direct block pointer `i` (< 12) as a fragment address.
    pub fn db(&self, i: usize) -> u64 {
        match &self.raw {
            RawInode::V1(d) => d.di_db.get(i).map_or(0, |&v| ptr(i64::from(v))),
            RawInode::V2(d) => d.di_db.get(i).map_or(0, |&v| ptr(v)),
        }
    }

    /// Indirect block pointer `level` (0 single, 1 double, 2 triple).
    pub fn ib(&self, level: usize) -> u64 {
        match &self.raw {
            RawInode::V1(d) => d.di_ib.get(level).map_or(0, |&v| ptr(i64::from(v))),
            RawInode::V2(d) => d.di_ib.get(level).map_or(0, |&v| ptr(v)),
        }
    }

    /// All 15 block pointers (12 direct, 3 indirect).
    pub fn all_pointers(&self) -> [u64; NDADDR + NIADDR] {
        std::array::from_fn(|i| {
            if i < NDADDR {
                self.db(i)
            } else {
                self.ib(i - NDADDR)
            }
        })
    }

    /// Bytes in the UFS2 extended-attribute area (0 on UFS1).
    pub fn extsize(&self) -> u32 {
        match &self.raw {
            RawInode::V1(_) => 0,
            RawInode::V2(d) => d.di_extsize,
        }
    }

    /// Extended-attribute block pointer `i` (< 2).
    pub fn extb(&self, i: usize) -> u64 {
        match &self.raw {
            RawInode::V1(_) => 0,
            RawInode::V2(d) => d.di_extb.get(i).map_or(0, |&v| ptr(v)),
        }
    }

    /// The block-pointer area as bytes, where fast symlinks keep their target.
    pub fn inline_bytes(&self, geo: &Geometry) -> Vec<u8> {
        let mut me = self.clone();
        let bytes = me.encode(geo);
        let (start, len) = match geo.version {
            UfsVersion::Ufs1 => (40, 60),
            UfsVersion::Ufs2 => (112, 120),
        };
        bytes[start..start + len].to_vec()
    }

    /// Whether a symlink keeps its target in the inode (FreeBSD's
    /// `ufs_readlink` rule: shorter than `fs_maxsymlinklen`, or no blocks).
    pub fn is_fast_symlink(&self, geo: &Geometry) -> bool {
        self.file_type() == FileType::Symlink
            && (self.size() < u64::from(geo.maxsymlinklen) || self.blocks() == 0)
    }

    /// Device number for character and block devices (kept in `di_db[0]`).
    pub fn rdev(&self) -> u32 {
        match &self.raw {
            RawInode::V1(d) => u32::from_ne_bytes(d.di_db[0].to_ne_bytes()),
            // A dev_t is 32 bits: the low half of the 64-bit slot.
            RawInode::V2(d) => u32::try_from(d.di_db[0] & 0xffff_ffff).unwrap_or(0),
        }
    }
}

/// The one rule for a UFS2 inode's check hash: `Some((stored, computed))`
/// when hashes are on, the inode has a mode and the hash of `bytes` is not
/// the one recorded.
fn ckhash_check(geo: &Geometry, mode: u16, stored: u32, bytes: &[u8]) -> Option<(u32, u32)> {
    if !geo.has_ckhash(ckhash::CK_INODE) || mode == 0 {
        return None;
    }
    let computed = checkhash::compute(bytes, DI_CKHASH_OFFSET);
    (computed != stored).then_some((stored, computed))
}

/// The fields of an inode that its checks read, decoded ([`Inode`]) or in
/// place ([`InodeView`]): rules written once over this trait (the block
/// walk, fsck's phase 1) take either.
pub trait InodeFields {
    /// Its number.
    fn ino(&self) -> Ino;
    /// `di_mode`.
    fn mode(&self) -> u16;
    /// `di_nlink`.
    fn nlink(&self) -> i16;
    /// `di_size`.
    fn size(&self) -> u64;
    /// `di_blocks`.
    fn blocks(&self) -> u64;
    /// `di_flags`.
    fn flags(&self) -> u32;
    /// Direct pointer `i` (< 12) as a fragment address (0 past the end).
    fn db(&self, i: usize) -> u64;
    /// Indirect pointer `level` (< 3).
    fn ib(&self, level: usize) -> u64;
    /// Bytes in the UFS2 extended-attribute area (0 on UFS1).
    fn extsize(&self) -> u32;
    /// Extended-attribute block pointer `i` (< 2).
    fn extb(&self, i: usize) -> u64;
    /// The whole inode, decoded (a copy to change and write back).
    fn to_inode(&self) -> Inode;
}

impl InodeFields for Inode {
    fn ino(&self) -> Ino {
        self.ino
    }
    fn mode(&self) -> u16 {
        Inode::mode(self)
    }
    fn nlink(&self) -> i16 {
        Inode::nlink(self)
    }
    fn size(&self) -> u64 {
        Inode::size(self)
    }
    fn blocks(&self) -> u64 {
        Inode::blocks(self)
    }
    fn flags(&self) -> u32 {
        Inode::flags(self)
    }
    fn db(&self, i: usize) -> u64 {
        Inode::db(self, i)
    }
    fn ib(&self, level: usize) -> u64 {
        Inode::ib(self, level)
    }
    fn extsize(&self) -> u32 {
        Inode::extsize(self)
    }
    fn extb(&self, i: usize) -> u64 {
        Inode::extb(self, i)
    }
    fn to_inode(&self) -> Inode {
        self.clone()
    }
}

/// An on-disk inode in borrowed bytes, with only the fields its checks
/// read decoded (once, when the view is made; the rest stay in the bytes):
/// fsck's phase 1 looks at a few fields of every inode in use, and
/// decoding each in full into an [`Inode`] was a sixth of the check.
/// [`InodeFields::to_inode`] gives the full inode when one is to be changed.
#[derive(Clone, Copy)]
pub struct InodeView<'a> {
    ino: Ino,
    bytes: &'a [u8],
    raw: RawView<'a>,
    mode: u16,
    nlink: i16,
    size: u64,
    blocks: u64,
    flags: u32,
    extsize: u32,
    /// The direct then the indirect pointers, by the one rule for pointers.
    ptrs: [u64; NDADDR + NIADDR],
}

#[derive(Clone, Copy)]
enum RawView<'a> {
    V1(crate::ondisk::raw_dinode1::View<'a>),
    V2(crate::ondisk::raw_dinode2::View<'a>),
}

impl<'a> InodeView<'a> {
    /// A view of inode `ino` in `bytes`, its on-disk form (`None` when
    /// the bytes are shorter than an inode).
    pub fn new(ino: Ino, bytes: &'a [u8], geo: &Geometry) -> Option<InodeView<'a>> {
        use crate::ondisk::{raw_dinode1, raw_dinode2};
        let mut ptrs = [0u64; NDADDR + NIADDR];
        Some(match geo.version {
            UfsVersion::Ufs1 => {
                let d = raw_dinode1::View::new(bytes, geo.endian)?;
                let (db, ib) = (d.di_db(), d.di_ib());
                for (p, &v) in ptrs.iter_mut().zip(db.iter().chain(ib.iter())) {
                    *p = ptr(i64::from(v));
                }
                InodeView {
                    ino,
                    bytes,
                    raw: RawView::V1(d),
                    mode: d.di_mode(),
                    nlink: d.di_nlink(),
                    size: d.di_size(),
                    blocks: u64::from(d.di_blocks()),
                    flags: d.di_flags(),
                    extsize: 0,
                    ptrs,
                }
            }
            UfsVersion::Ufs2 => {
                let d = raw_dinode2::View::new(bytes, geo.endian)?;
                let (db, ib) = (d.di_db(), d.di_ib());
                for (p, &v) in ptrs.iter_mut().zip(db.iter().chain(ib.iter())) {
                    *p = ptr(v);
                }
                InodeView {
                    ino,
                    bytes,
                    raw: RawView::V2(d),
                    mode: d.di_mode(),
                    nlink: d.di_nlink(),
                    size: d.di_size(),
                    blocks: d.di_blocks(),
                    flags: d.di_flags(),
                    extsize: d.di_extsize(),
                    ptrs,
                }
            }
        })
    }

    /// The on-disk bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// [`Inode::ckhash_mismatch`] of these bytes.
    pub fn ckhash_mismatch(&self, geo: &Geometry) -> Option<(u32, u32)> {
        match &self.raw {
            RawView::V2(d) => ckhash_check(geo, self.mode, d.di_ckhash(), self.bytes),
            RawView::V1(_) => None,
        }
    }
}

impl InodeFields for InodeView<'_> {
    #[inline]
    fn ino(&self) -> Ino {
        self.ino
    }
    #[inline]
    fn mode(&self) -> u16 {
        self.mode
    }
    #[inline]
    fn nlink(&self) -> i16 {
        self.nlink
    }
    #[inline]
    fn size(&self) -> u64 {
        self.size
    }
    #[inline]
    fn blocks(&self) -> u64 {
        self.blocks
    }
    #[inline]
    fn flags(&self) -> u32 {
        self.flags
    }
    #[inline]
    fn db(&self, i: usize) -> u64 {
        self.ptrs[..NDADDR].get(i).copied().unwrap_or(0)
    }
    #[inline]
    fn ib(&self, level: usize) -> u64 {
        self.ptrs[NDADDR..].get(level).copied().unwrap_or(0)
    }
    #[inline]
    fn extsize(&self) -> u32 {
        self.extsize
    }
    fn extb(&self, i: usize) -> u64 {
        match &self.raw {
            RawView::V1(_) => 0,
            RawView::V2(d) => d.di_extb().get(i).map_or(0, |&v| ptr(v)),
        }
    }
    fn to_inode(&self) -> Inode {
        let raw = match &self.raw {
            RawView::V1(d) => RawInode::V1(d.to_native()),
            RawView::V2(d) => RawInode::V2(d.to_native()),
        };
        Inode { ino: self.ino, raw }
    }
}

/// Splits a FreeBSD `dev_t` stored in an inode into (major, minor), using the
/// encoding FreeBSD's `major()`/`minor()` use for 32-bit values.
pub fn dev_split(rdev: u32) -> (u32, u32) {
    ((rdev >> 8) & 0xff, (rdev & 0xffff_00ff))
}

/// The inverse of [`dev_split`].
pub fn dev_join(major: u32, minor: u32) -> u32 {
    ((major & 0xff) << 8) | (minor & 0xffff_00ff)
}

/// Field setters, used by the write path and `ufs debug`. They change only
/// the in-memory copy; [`Inode::write`] puts it back with its check hash.
impl Inode {
    /// A zeroed inode of the image's version.
    pub fn empty(ino: Ino, geo: &Geometry) -> Inode {
        let raw = match geo.version {
            UfsVersion::Ufs1 => RawInode::V1(Dinode1::zeroed()),
            UfsVersion::Ufs2 => RawInode::V2(Dinode2::zeroed()),
        };
        Inode { ino, raw }
    }

    /// Writes the inode to its place in the image.
    pub fn write(&mut self, dev: &mut dyn Device, geo: &Geometry) -> Result<()> {
        if !geo.ino_valid(self.ino) {
            return Err(Error::corrupt(
                CorruptKind::BadInodeNumber,
                Location::Inode(self.ino),
                "no such inode",
            ));
        }
        let bytes = self.encode(geo);
        io::write_all(dev, geo.inode_offset(self.ino), &bytes)
    }

    /// Sets `di_mode`.
    pub fn set_mode(&mut self, v: u16) {
        match &mut self.raw {
            RawInode::V1(d) => d.di_mode = v,
            RawInode::V2(d) => d.di_mode = v,
        }
    }
    /// Sets `di_nlink`.
    pub fn set_nlink(&mut self, v: i16) {
        match &mut self.raw {
            RawInode::V1(d) => d.di_nlink = v,
            RawInode::V2(d) => d.di_nlink = v,
        }
    }
    /// Sets `di_uid`.
    pub fn set_uid(&mut self, v: u32) {
        match &mut self.raw {
            RawInode::V1(d) => d.di_uid = v,
            RawInode::V2(d) => d.di_uid = v,
        }
    }
    /// Sets `di_gid`.
    pub fn set_gid(&mut self, v: u32) {
        match &mut self.raw {
            RawInode::V1(d) => d.di_gid = v,
            RawInode::V2(d) => d.di_gid = v,
        }
    }
    /// Sets `di_size`.
    pub fn set_size(&mut self, v: u64) {
        match &mut self.raw {
            RawInode::V1(d) => d.di_size = v,
            RawInode::V2(d) => d.di_size = v,
        }
    }
    /// Sets `di_blocks` (512-byte sectors).
    pub fn set_blocks(&mut self, v: u64) {
        match &mut self.raw {
            RawInode::V1(d) => d.di_blocks = u32::try_from(v).unwrap_or(u32::MAX),
            RawInode::V2(d) => d.di_blocks = v,
        }
    }
    /// Sets `di_flags`.
    pub fn set_flags(&mut self, v: u32) {
        match &mut self.raw {
            RawInode::V1(d) => d.di_flags = v,
            RawInode::V2(d) => d.di_flags = v,
        }
    }
    /// Sets `di_gen`.
    pub fn set_gen(&mut self, v: u32) {
        match &mut self.raw {
            RawInode::V1(d) => d.di_gen = v,
            RawInode::V2(d) => d.di_gen = v,
        }
    }
    /// Sets direct pointer `i`.
    pub fn set_db(&mut self, i: usize, v: u64) {
        match &mut self.raw {
            RawInode::V1(d) => {
                if let Some(p) = d.di_db.get_mut(i) {
                    *p = crate::ondisk::wire::ufs1_daddr(v);
                }
            }
            RawInode::V2(d) => {
                if let Some(p) = d.di_db.get_mut(i) {
                    *p = crate::ondisk::wire::ufs2_daddr(v);
                }
            }
        }
    }
    /// Sets indirect pointer `level` (0..3).
    pub fn set_ib(&mut self, level: usize, v: u64) {
        match &mut self.raw {
            RawInode::V1(d) => {
                if let Some(p) = d.di_ib.get_mut(level) {
                    *p = crate::ondisk::wire::ufs1_daddr(v);
                }
            }
            RawInode::V2(d) => {
                if let Some(p) = d.di_ib.get_mut(level) {
                    *p = crate::ondisk::wire::ufs2_daddr(v);
                }
            }
        }
    }
    /// Sets the device number of a device node.
    pub fn set_rdev(&mut self, v: u32) {
        match &mut self.raw {
            RawInode::V1(d) => d.di_db[0] = i32::from_ne_bytes(v.to_ne_bytes()),
            RawInode::V2(d) => d.di_db[0] = i64::from(v),
        }
    }
    /// Sets access time.
    pub fn set_atime(&mut self, t: Timespec) {
        match &mut self.raw {
            RawInode::V1(d) => (d.di_atime, d.di_atimensec) = (clamp32(t.sec), nsec32(t.nsec)),
            RawInode::V2(d) => (d.di_atime, d.di_atimensec) = (t.sec, nsec32(t.nsec)),
        }
    }
    /// Sets modification time.
    pub fn set_mtime(&mut self, t: Timespec) {
        match &mut self.raw {
            RawInode::V1(d) => (d.di_mtime, d.di_mtimensec) = (clamp32(t.sec), nsec32(t.nsec)),
            RawInode::V2(d) => (d.di_mtime, d.di_mtimensec) = (t.sec, nsec32(t.nsec)),
        }
    }
    /// Sets status-change time.
    pub fn set_ctime(&mut self, t: Timespec) {
        match &mut self.raw {
            RawInode::V1(d) => (d.di_ctime, d.di_ctimensec) = (clamp32(t.sec), nsec32(t.nsec)),
            RawInode::V2(d) => (d.di_ctime, d.di_ctimensec) = (t.sec, nsec32(t.nsec)),
        }
    }
    /// Sets creation time (UFS2; ignored on UFS1).
    pub fn set_birthtime(&mut self, t: Timespec) {
        if let RawInode::V2(d) = &mut self.raw {
            (d.di_birthtime, d.di_birthnsec) = (t.sec, nsec32(t.nsec));
        }
    }
    /// Sets the extended-attribute area size and pointers (UFS2 only).
    pub fn set_ext(&mut self, size: u32, blocks: [u64; 2]) {
        if let RawInode::V2(d) = &mut self.raw {
            d.di_extsize = size;
            d.di_extb = blocks.map(|b| i64::try_from(b).unwrap_or(-1));
        }
    }
    /// Stores a fast symlink's target in the block-pointer area.
    pub fn set_inline(&mut self, geo: &Geometry, data: &[u8]) -> Result<()> {
        let mut bytes = self.encode(geo);
        let (start, len) = match geo.version {
            UfsVersion::Ufs1 => (40, 60),
            UfsVersion::Ufs2 => (112, 120),
        };
        if data.len() > len {
            return Err(Error::InvalidInput(format!(
                "{} bytes do not fit in the inode",
                data.len()
            )));
        }
        bytes[start..start + len].fill(0);
        bytes[start..start + data.len()].copy_from_slice(data);
        *self = Inode::decode(self.ino, &bytes, geo)?;
        Ok(())
    }
}

/// Nanoseconds as the on-disk `int32_t` (below 10⁹, so they fit; any
/// larger value keeps its bits, as a C cast would).
fn nsec32(n: u32) -> i32 {
    i32::from_ne_bytes(n.to_ne_bytes())
}

fn clamp32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::newfs::NewfsOptions;
    use crate::superblock::Superblock;
    use crate::Endian;

    fn geometry(version: UfsVersion) -> Geometry {
        let mut o = NewfsOptions::freebsd_12_1();
        o.version = version;
        let img = crate::newfs::in_memory(4 << 20, &o).unwrap();
        Superblock::find(&img).unwrap().1
    }

    /// An inode with every field the setters reach given a distinct value.
    fn sample(geo: &Geometry) -> Inode {
        let mut ip = Inode::empty(Ino(17), geo);
        ip.set_mode(FileType::Regular.mode_bits() | 0o640);
        ip.set_nlink(3);
        ip.set_uid(1001);
        ip.set_gid(0x8000_0001);
        ip.set_size(0x1_2345_6789);
        ip.set_blocks(4242);
        ip.set_flags(0x20);
        ip.set_gen(0xdead_beef);
        for i in 0..NDADDR {
            ip.set_db(i, 1000 + i as u64 * 8);
        }
        ip.set_ib(0, 5000);
        ip.set_ib(2, 7000);
        ip.set_atime(Timespec {
            sec: 1_600_000_000,
            nsec: 1,
        });
        ip.set_mtime(Timespec {
            sec: -86_400,
            nsec: 999_999_999,
        });
        ip.set_ctime(Timespec { sec: 0, nsec: 500 });
        ip.set_birthtime(Timespec {
            sec: 1_000_000_000,
            nsec: 7,
        });
        ip
    }

    fn round_trip(version: UfsVersion, endian: Endian) {
        let mut geo = geometry(version);
        geo.endian = endian;
        let mut ip = sample(&geo);
        let bytes = ip.encode(&geo);
        assert_eq!(bytes.len(), version.inode_size() as usize);
        let back = Inode::decode(Ino(17), &bytes, &geo).unwrap();
        assert_eq!(back, ip, "{version:?} {endian}");
        assert_eq!(back.file_type(), FileType::Regular);
        assert_eq!(back.perm(), 0o640);
        assert_eq!(back.nlink(), 3);
        assert_eq!((back.uid(), back.gid()), (1001, 0x8000_0001));
        assert_eq!(back.size(), 0x1_2345_6789);
        assert_eq!(back.blocks(), 4242);
        assert_eq!(back.gen(), 0xdead_beef);
        assert_eq!(back.db(11), 1088);
        assert_eq!((back.ib(0), back.ib(1), back.ib(2)), (5000, 0, 7000));
        assert_eq!(
            back.mtime(),
            Timespec {
                sec: -86_400,
                nsec: 999_999_999
            }
        );
        let birth = back.birthtime();
        match version {
            UfsVersion::Ufs1 => assert_eq!(birth, None),
            UfsVersion::Ufs2 => assert_eq!(
                birth,
                Some(Timespec {
                    sec: 1_000_000_000,
                    nsec: 7
                })
            ),
        }
        // The byte order is really the one asked for: di_mode is the first
        // field of both versions.
        let mode = FileType::Regular.mode_bits() | 0o640;
        let want = match endian {
            Endian::Little => mode.to_le_bytes(),
            Endian::Big => mode.to_be_bytes(),
        };
        assert_eq!(bytes[..2], want);
    }

    #[test]
    fn encode_then_decode_gives_the_same_inode() {
        for v in [UfsVersion::Ufs1, UfsVersion::Ufs2] {
            for e in [Endian::Little, Endian::Big] {
                round_trip(v, e);
            }
        }
    }

    #[test]
    fn a_view_reads_what_a_decode_gives() {
        // Bytes with every field set (a negative pointer too: the one rule
        // for pointers), in both versions and byte orders: the view's
        // fields, its full decode and its hash check agree with `decode`.
        for version in [UfsVersion::Ufs1, UfsVersion::Ufs2] {
            for endian in [Endian::Little, Endian::Big] {
                let mut geo = geometry(version);
                geo.endian = endian;
                let mut ip = sample(&geo);
                ip.set_db(3, u64::MAX);
                let mut bytes = ip.encode(&geo);
                if version == UfsVersion::Ufs2 {
                    // di_extsize and di_extb[1], which no setter reaches.
                    bytes[92..96].copy_from_slice(&match endian {
                        Endian::Little => 9000u32.to_le_bytes(),
                        Endian::Big => 9000u32.to_be_bytes(),
                    });
                    bytes[104..112].copy_from_slice(&match endian {
                        Endian::Little => 77i64.to_le_bytes(),
                        Endian::Big => 77i64.to_be_bytes(),
                    });
                }
                let full = Inode::decode(Ino(17), &bytes, &geo).unwrap();
                let v = InodeView::new(Ino(17), &bytes, &geo).unwrap();
                let what = format!("{version:?} {endian}");
                assert_eq!(InodeFields::ino(&v), full.ino, "{what}");
                assert_eq!(InodeFields::mode(&v), full.mode(), "{what}");
                assert_eq!(InodeFields::nlink(&v), full.nlink(), "{what}");
                assert_eq!(InodeFields::size(&v), full.size(), "{what}");
                assert_eq!(InodeFields::blocks(&v), full.blocks(), "{what}");
                assert_eq!(InodeFields::flags(&v), full.flags(), "{what}");
                assert_eq!(InodeFields::extsize(&v), full.extsize(), "{what}");
                for i in 0..NDADDR + 2 {
                    assert_eq!(InodeFields::db(&v, i), full.db(i), "{what} db {i}");
                }
                for k in 0..NIADDR + 1 {
                    assert_eq!(InodeFields::ib(&v, k), full.ib(k), "{what} ib {k}");
                }
                for k in 0..3 {
                    assert_eq!(InodeFields::extb(&v, k), full.extb(k), "{what} extb {k}");
                }
                assert_eq!(InodeFields::db(&v, 3), u64::MAX, "{what}");
                assert_eq!(v.to_inode(), full, "{what}");
                assert_eq!(v.ckhash_mismatch(&geo), full.ckhash_mismatch(&bytes, &geo));
                bytes[40] ^= 1;
                let v = InodeView::new(Ino(17), &bytes, &geo).unwrap();
                let full = Inode::decode(Ino(17), &bytes, &geo).unwrap();
                assert_eq!(v.ckhash_mismatch(&geo), full.ckhash_mismatch(&bytes, &geo));
                assert!(InodeView::new(Ino(17), &bytes[..bytes.len() - 1], &geo).is_none());
            }
        }
    }

    #[test]
    fn ufs1_times_are_clamped_to_32_bits() {
        let geo = geometry(UfsVersion::Ufs1);
        let mut ip = sample(&geo);
        ip.set_mtime(Timespec {
            sec: 1 << 40,
            nsec: 0,
        });
        ip.set_atime(Timespec {
            sec: -(1 << 40),
            nsec: 0,
        });
        let back = Inode::decode(ip.ino, &ip.encode(&geo), &geo).unwrap();
        assert_eq!(back.mtime().sec, i64::from(i32::MAX));
        assert_eq!(back.atime().sec, i64::from(i32::MIN));
    }

    #[test]
    fn the_ufs2_check_hash_covers_every_byte() {
        let mut geo = geometry(UfsVersion::Ufs2);
        // 12.1's newfs leaves inode hashes off; later ones turn them on.
        geo.metackhash |= ckhash::CK_INODE;
        let mut ip = sample(&geo);
        let bytes = ip.encode(&geo);
        assert_eq!(ip.ckhash_mismatch(&bytes, &geo), None);
        let stored = match &ip.raw {
            RawInode::V2(d) => d.di_ckhash,
            RawInode::V1(_) => unreachable!(),
        };
        assert_eq!(stored, checkhash::compute(&bytes, DI_CKHASH_OFFSET));
        assert_ne!(stored, 0);
        for at in [0, 40, 200, 255] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            let seen = Inode::decode(ip.ino, &bad, &geo).unwrap();
            let (rec, comp) = seen.ckhash_mismatch(&bad, &geo).expect("mismatch found");
            assert_ne!(rec, comp, "byte {at}");
        }
        // With hashes off nothing is checked.
        let mut off = geo.clone();
        off.metackhash &= !ckhash::CK_INODE;
        let mut bad = bytes.clone();
        bad[40] ^= 1;
        let seen = Inode::decode(ip.ino, &bad, &off).unwrap();
        assert_eq!(seen.ckhash_mismatch(&bad, &off), None);
        // An unallocated inode (mode 0) is not checked, as in FreeBSD.
        let mut free = Inode::empty(Ino(18), &geo);
        free.set_gen(5);
        let mut bytes = free.encode(&geo);
        bytes[100] ^= 1;
        let seen = Inode::decode(Ino(18), &bytes, &geo).unwrap();
        assert_eq!(seen.ckhash_mismatch(&bytes, &geo), None);
        // UFS1 has no inode hash.
        let g1 = geometry(UfsVersion::Ufs1);
        let mut ip1 = sample(&g1);
        let mut b1 = ip1.encode(&g1);
        b1[40] ^= 1;
        assert_eq!(
            Inode::decode(ip1.ino, &b1, &g1)
                .unwrap()
                .ckhash_mismatch(&b1, &g1),
            None
        );
    }

    #[test]
    fn device_numbers_split_and_join() {
        for (major, minor) in [(0, 0), (0xff, 0xffff_00ff), (13, 0x0001_0002)] {
            assert_eq!(dev_split(dev_join(major, minor)), (major, minor));
        }
        assert_eq!(dev_split(0x1234), (0x12, 0x34));
    }
}
