//! Typed errors with the location of what went wrong.
//!
//! Three families are kept apart: I/O failures of the device, a file system
//! that is corrupt (with the structure and its number or offset), and one that
//! is valid but uses something this crate does not support. Callers match on
//! [`CorruptKind`]; each kind has a stable [`CorruptKind::code`].

use crate::ondisk::disk::Scheme;
use crate::units::{CgIdx, Frag, Ino};
use std::fmt;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The device failed.
    #[error("I/O error while {op} {len} bytes at byte offset {offset}: {source}")]
    Io {
        /// What was being done ("reading", "writing", "syncing").
        op: &'static str,
        /// Byte offset in the image.
        offset: u64,
        /// Length of the transfer.
        len: u64,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The image file could not be opened or inspected.
    #[error("cannot open image: {0}")]
    Open(#[source] std::io::Error),
    /// The file system is damaged.
    #[error("{0}")]
    Corrupt(#[from] Corrupt),
    /// Valid, but not supported by this crate.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A caller's argument is unusable.
    #[error("{0}")]
    InvalidInput(String),
    /// A path does not exist.
    #[error("{path}: no such file or directory")]
    NotFound {
        /// The path as given.
        path: String,
    },
    /// A path component is not a directory.
    #[error("{path}: not a directory")]
    NotADirectory {
        /// The path as given.
        path: String,
    },
    /// The operation needs a directory.
    #[error("{path}: is a directory")]
    IsADirectory {
        /// The path as given.
        path: String,
    },
    /// The image was opened read-only.
    #[error("image is open read-only")]
    ReadOnly,
    /// The superblock asks for a check (not clean, or `FS_UNCLEAN` /
    /// `FS_NEEDSFSCK`): a write session refuses the image unless forced.
    #[error(
        "file system is not clean (mounted, or not checked since a crash or an interrupted edit)"
    )]
    Unclean,
    /// Out of blocks or inodes.
    #[error("no space left on file system: {0}")]
    NoSpace(String),
    /// The path already exists.
    #[error("{path}: file exists")]
    Exists {
        /// The path as given.
        path: String,
    },
    /// The directory is not empty.
    #[error("{path}: directory not empty")]
    NotEmpty {
        /// The path as given.
        path: String,
    },
    /// No partition of a disk image could be chosen.
    #[error("{0}")]
    Disk(#[from] DiskError),
    /// A run would need more memory than it was allowed (`--max-memory`).
    #[error("memory limit: {0}")]
    MemoryLimit(String),
}

impl Error {
    /// Shorthand for a corruption error.
    pub fn corrupt(kind: CorruptKind, at: Location, detail: impl Into<String>) -> Self {
        Error::Corrupt(Corrupt {
            kind,
            at,
            detail: detail.into(),
        })
    }

    /// The corruption kind, if this is a corruption error.
    pub fn corrupt_kind(&self) -> Option<CorruptKind> {
        match self {
            Error::Corrupt(c) => Some(c.kind),
            _ => None,
        }
    }
}

/// Why a partition could not be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiskError {
    /// A partition was asked for, but the image has no partition table.
    #[error("partition {0} asked for, but the image holds no GPT, MBR or BSD label")]
    NotADisk(String),
    /// No partition has that name.
    #[error("{scheme} disk has no partition {want} (it has: {have})")]
    NoSuchPartition {
        /// The outermost table.
        scheme: Scheme,
        /// The name asked for.
        want: String,
        /// The partitions there are.
        have: String,
    },
    /// The partition holds others; one of those must be chosen.
    #[error("partition {0} holds other partitions; choose one of them")]
    Container(String),
    /// More than one partition holds UFS.
    #[error("{scheme} disk with several UFS file systems ({names}); choose one with --partition N or IMAGE@N")]
    Ambiguous {
        /// The outermost table.
        scheme: Scheme,
        /// The candidates.
        names: String,
    },
    /// No partition holds UFS.
    #[error("{scheme} disk with no UFS file system (partitions: {have})")]
    NoUfs {
        /// The outermost table.
        scheme: Scheme,
        /// The partitions there are.
        have: String,
    },
    /// The table places the partition beyond the end of the image.
    #[error(
        "partition {name} ends at byte {end}, past the end of the {len}-byte image (truncated?)"
    )]
    OutsideImage {
        /// The partition.
        name: String,
        /// Its end, in bytes.
        end: u64,
        /// The image's length.
        len: u64,
    },
}

/// A corruption found in the image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {kind}: {detail}")]
pub struct Corrupt {
    /// What is wrong.
    pub kind: CorruptKind,
    /// Where.
    pub at: Location,
    /// Values involved, in words.
    pub detail: String,
}

/// Where in the image a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// The image as a whole.
    Image,
    /// The superblock at this byte offset.
    Superblock {
        /// Byte offset of the copy.
        offset: u64,
    },
    /// A cylinder group.
    CylGroup(CgIdx),
    /// The cylinder-group summary area.
    Summary,
    /// An inode.
    Inode(Ino),
    /// A directory entry.
    DirEntry {
        /// The directory.
        dir: Ino,
        /// Byte offset in the directory.
        offset: u64,
    },
    /// A block pointer or indirect block of an inode.
    Block {
        /// The owning inode.
        ino: Ino,
        /// The fragment address involved.
        frag: Frag,
    },
    /// The extended attribute area of an inode.
    Xattr {
        /// The owning inode.
        ino: Ino,
        /// Byte offset in the area.
        offset: u64,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Image => write!(f, "image"),
            Location::Superblock { offset } => write!(f, "superblock at byte {offset}"),
            Location::CylGroup(cg) => write!(f, "cylinder group {}", cg.0),
            Location::Summary => write!(f, "cylinder-group summary area"),
            Location::Inode(ino) => write!(f, "inode {}", ino.0),
            Location::DirEntry { dir, offset } => {
                write!(f, "directory inode {}, entry at byte {offset}", dir.0)
            }
            Location::Block { ino, frag } => write!(f, "inode {}, block {}", ino.0, frag.0),
            Location::Xattr { ino, offset } => {
                write!(f, "inode {}, extended attribute at byte {offset}", ino.0)
            }
        }
    }
}

macro_rules! corrupt_kinds {
    ($( $(#[$m:meta])* $name:ident = $code:literal, $text:literal; )*) => {
        /// The kinds of corruption the reader detects.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum CorruptKind {
            $( $(#[$m])* $name, )*
        }
        impl CorruptKind {
            /// A stable short code, for tests and `--json` output.
            pub fn code(self) -> &'static str {
                match self { $( CorruptKind::$name => $code, )* }
            }
            fn text(self) -> &'static str {
                match self { $( CorruptKind::$name => $text, )* }
            }
        }
    };
}

corrupt_kinds! {
    /// No superblock magic at any searched location.
    NoSuperblock = "no-superblock", "no UFS superblock found";
    /// Superblock fields contradict each other or are out of range.
    BadGeometry = "bad-geometry", "superblock geometry is invalid";
    /// A stored check hash does not match the data.
    CheckHash = "check-hash", "check-hash mismatch";
    /// A structure extends past the end of the image.
    Truncated = "truncated", "structure extends past the end of the image";
    /// A cylinder group's magic or header is wrong.
    BadCylGroup = "bad-cg", "cylinder group header is invalid";
    /// A block pointer is outside the file system.
    BadBlockPointer = "bad-block-pointer", "block pointer out of range";
    /// An inode number is outside the file system.
    BadInodeNumber = "bad-inode-number", "inode number out of range";
    /// An inode's fields are impossible.
    BadInode = "bad-inode", "inode is invalid";
    /// A directory entry is malformed.
    BadDirEntry = "bad-dir-entry", "directory entry is invalid";
    /// A path walk or `..` chain loops.
    Loop = "loop", "loop detected";
    /// An extended attribute record is malformed.
    BadXattr = "bad-xattr", "extended attribute record is invalid";
    /// A symbolic link is malformed.
    BadSymlink = "bad-symlink", "symbolic link is invalid";
}

impl fmt::Display for CorruptKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}
