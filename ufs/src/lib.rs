//! # ufskit
//!
//! Read and write FreeBSD UFS1 and UFS2 file system images offline, on any OS,
//! in either byte order, with the CRC-32C metadata check hashes FreeBSD uses.
//!
//! ```no_run
//! use ufskit::{Ufs, OpenOptions};
//! let fs = Ufs::open_path("rootfs.volume".as_ref(), OpenOptions::read_only())?;
//! let ino = fs.lookup("/etc/rc.conf", ufskit::Follow::All)?;
//! let data = fs.read_all(ino)?;
//! println!("{} bytes", data.len());
//! # Ok::<(), ufskit::Error>(())
//! ```
//!
//! ## Layers
//! - [`ondisk`]: raw structures with C names and offsets, decoded once.
//! - [`superblock`]: finding and validating the superblock into a
//!   [`Geometry`], the only way to do address arithmetic.
//! - [`cg`], [`inode`], [`bmap`], [`dir`], [`xattr`]: one module per
//!   structure.
//! - [`fs`]: the [`Ufs`] handle and its read API.
//!
//! ## Errors
//! Every failure is an [`Error`]; corruption carries a [`CorruptKind`] and a
//! [`Location`] (superblock offset, cylinder group, inode, directory entry,
//! block).
//!
//! ## Byte order
//! Decided once when the superblock is found (the magic is read both ways)
//! and carried in [`Geometry::endian`]; no code above [`ondisk`] sees raw
//! byte-order-typed fields.
//!
//! ## Safety
//! No `unsafe` outside the read-only mmap device (`io/mmap.rs`). Nothing read
//! from an image is trusted: sizes are bounded by the image's real extent,
//! loops over on-disk links are bounded by the geometry.

// No panics on data: every unwrap and panic in library code is a lint error
// (tests may use them).
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::panic))]

pub mod alloc;
pub mod bmap;
#[cfg(unix)]
pub mod build;
pub mod cg;
pub mod checkhash;
pub mod dir;
pub mod disk;
pub mod edit;
pub mod error;
pub mod fs;
pub mod fsck;
pub mod growfs;
pub mod inode;
pub mod io;
pub mod newfs;
pub mod ondisk;
pub mod populate;
pub mod signature;
pub mod superblock;
pub mod timefmt;
pub mod tunefs;
pub mod units;
pub mod write;
pub mod xattr;

pub use error::{Corrupt, CorruptKind, Error, Location, Result};
pub use fs::{DirEntry, Follow, OpenOptions, Ufs};
pub use inode::{FileType, Inode};
pub use superblock::{Geometry, Superblock, UfsVersion};
pub use units::{CgIdx, Frag, Ino, Lbn};
pub use write::{NewNode, SetAttr};

/// Byte order of an image, decided when its superblock is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endian {
    /// Little-endian (amd64, arm64, ...).
    Little,
    /// Big-endian (powerpc64, sparc64, ...).
    Big,
}

impl std::fmt::Display for Endian {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Endian::Little => "little-endian",
            Endian::Big => "big-endian",
        })
    }
}
