//! Newtypes for the address spaces UFS mixes up: inode numbers, fragment
//! addresses, logical block numbers within a file, cylinder-group indices.
//!
//! A fragment address (`ufs2_daddr_t` in FreeBSD) counts `fs_fsize` units from
//! the start of the file system; a logical block number counts `fs_bsize`
//! units from the start of a file. Mixing them up is the classic FFS bug, so
//! they are different types.

use std::fmt;

/// An inode number (`ino_t`; 32 bits on disk in directory entries).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ino(pub u32);

impl Ino {
    /// The root directory.
    pub const ROOT: Ino = Ino(crate::ondisk::consts::ROOTINO);
}

impl fmt::Display for Ino {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A fragment address: `fs_fsize` units from the start of the file system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Frag(pub u64);

impl fmt::Display for Frag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A logical block number within a file (`fs_bsize` units).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lbn(pub u64);

/// A cylinder-group index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct CgIdx(pub u32);

impl fmt::Display for CgIdx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
