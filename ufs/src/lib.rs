//! # ufskit
//!
//! Read and write FreeBSD UFS1 and UFS2 file system images offline, on any OS,
//! in either byte order, with the CRC-32C metadata check hashes FreeBSD uses.
//!
//! ## Open an image and read a file
//!
//! Changing an image goes through a write [`Session`], which owns the
//! handle, the allocator and the clean-flag protocol; reading goes through
//! the [`Ufs`] handle. Here a fresh 8 MiB UFS2 image is made in memory,
//! a file written into it, and the image reopened read-only to read the
//! file back (an image file opens the same way with
//! [`Ufs::open_path`]):
//!
//! ```
//! use ufskit::{newfs, FileType, Follow, Ino, NewNode, NewfsOptions, OpenOptions, Session, Ufs};
//!
//! let img = newfs::in_memory(8 << 20, &NewfsOptions::default())?;
//! let mut s = Session::open(Box::new(img), &OpenOptions::read_write())?;
//! let attr = NewNode { perm: 0o644, ..Default::default() };
//! let f = s.create(Ino::ROOT, b"hello.txt", FileType::Regular, &attr)?;
//! s.write_file(f, 0, b"hello\n")?;
//! s.sync()?; // writes the counts and marks the image clean again
//!
//! let fs = Ufs::open(s.into_device(), &OpenOptions::read_only())?;
//! let ino = fs.lookup("/hello.txt", Follow::All)?;
//! assert_eq!(ino, f);
//! assert_eq!(fs.read_all(ino)?, b"hello\n");
//! # Ok::<(), ufskit::Error>(())
//! ```
//!
//! ## Check and repair
//!
//! [`check`] never writes; [`repair`] answers fsck_ffs's questions as
//! [`FsckOptions::answer`] says. Here the root directory's link count is
//! damaged (with its inode check hash recomputed, so the only problem is
//! the count), found, and repaired:
//!
//! ```
//! use ufskit::fsck::{AnswerMode, CollectingReporter};
//! use ufskit::{check, edit, newfs, repair, FsckOptions, Ino, NewfsOptions, OpenOptions, Ufs, Verdict};
//!
//! let mut img = newfs::in_memory(8 << 20, &NewfsOptions::default())?;
//! let geo = Ufs::open(Box::new(img.clone()), &OpenOptions::read_only())?.geometry().clone();
//! let at = geo.inode_offset(Ino::ROOT) as usize;
//! let dinode = &mut img[at..at + 256];
//! let (nlink, i) = edit::lookup(edit::DINODE2_FIELDS, "di_nlink")?;
//! edit::set(dinode, &nlink, i, 7, geo.endian)?;
//! edit::rehash_inode(dinode, geo.endian);
//!
//! let opts = FsckOptions { force: true, ..Default::default() };
//! let found = check(&img, &opts, &mut CollectingReporter::default())?;
//! assert_eq!(found.verdict, Verdict::Problems);
//!
//! let mut report = CollectingReporter::default();
//! let fixed = repair(&mut img, &FsckOptions { answer: AnswerMode::Yes, ..opts.clone() }, &mut report)?;
//! assert!(fixed.repaired);
//! assert!(report.text.contains("LINK COUNT DIR"), "{}", report.text);
//! assert_eq!(check(&img, &opts, &mut CollectingReporter::default())?.verdict, Verdict::Clean);
//! # Ok::<(), ufskit::Error>(())
//! ```
//!
//! ## Layers
//! Each module uses only its own layer and lower ones, and modules form no
//! cycle (`ufs/tests/layers.rs` checks both from the source):
//! 1. Raw on-disk structures: [`ondisk`] (C structures with their names
//!    and offsets, the only place byte order exists), [`units`],
//!    [`checkhash`], [`error`], [`timefmt`], [`edit`] (raw fields by C
//!    name).
//! 2. I/O: [`io`] (the [`Device`] trait, files, mmap, memory, the sector
//!    [`Overlay`](io::Overlay), fault injection, undo log).
//! 3. Validated model: [`geometry`] (the validated numbers all address
//!    arithmetic goes through), [`superblock`], [`cg`], [`inode`],
//!    [`bmap`], [`dir`], [`xattr`], [`disk`] (partition tables),
//!    [`signature`], and [`fs`]: the [`Ufs`] read handle.
//! 4. Allocation and the write session: `alloc`, [`session`]
//!    ([`Session`]), [`write`](mod@write) (its operations), [`populate`] (a whole tree
//!    at once).
//! 5. Whole-file-system tools: [`newfs`](mod@newfs), [`fsck`], [`growfs`], [`tunefs`].
//!
//! The command-line crate (`ufskit-tools`) sits above all of them.
//!
//! ## What is stable
//! The surface meant for other programs is what the crate root re-exports
//! ([`Ufs`], [`Session`], [`check`]/[`repair`], [`newfs()`], [`TreeBuilder`],
//! the typed numbers and [`Error`]) and the modules behind it: [`fs`],
//! [`session`], [`write`](mod@write), [`populate`], [`fsck`] (options,
//! outcome, reporters), [`newfs`](mod@newfs) (options, layout, writer),
//! [`growfs`], [`tunefs`], [`io`], [`inode`], [`dir`], [`xattr`],
//! [`superblock`], [`disk`], [`units`], [`error`].
//!
//! Other public modules are there for the toolkit's own tools, tests and
//! fuzzers and may change with them: [`ondisk`] and [`edit`] (raw
//! structures and fields, for `ufs debug`, fsck and the fuzzers), [`bmap`],
//! [`cg`], [`counts`], [`geometry`], [`checkhash`] (for `ufs stat`/`mtree`,
//! `ufs debug` and the reference tests), [`signature`] and [`timefmt`]
//! (the CLI's checks and output), `fsck::predict` (`ufs mount`'s
//! check). Internals no caller needs are crate-private: the allocator, the
//! fsck passes and their state, the byte-order helpers of `ondisk::wire`
//! and newfs's writer internals.
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

#![deny(missing_docs)]
// No panics on data: every unwrap and panic in library code is a lint error
// (tests may use them).
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::panic))]
// Casts that could lose bits are lint errors in the whole library (tests
// included): each one left is allowed where it stands, with why the value
// fits or why the bits are cut as FreeBSD cuts them.
#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

pub(crate) mod alloc;
pub mod bmap;
#[cfg(unix)]
pub mod build;
pub mod cg;
pub mod checkhash;
pub mod counts;
pub mod dir;
pub mod disk;
pub mod edit;
pub mod error;
pub mod evacuate;
pub mod fs;
pub mod fsck;
pub mod geometry;
pub mod growfs;
pub mod inode;
pub mod intent;
pub mod io;
pub mod newfs;
pub mod ondisk;
pub mod populate;
pub mod session;
pub mod shrink;
pub mod signature;
pub mod superblock;
pub mod timefmt;
pub mod tunefs;
pub mod units;
pub mod write;
pub mod xattr;

// The curated surface: what a program reading, writing, checking or
// making images names most; everything else through its module.
pub use error::{Corrupt, CorruptKind, Error, Location, Result};
pub use fs::{DirEntry, Follow, OpenOptions, Space, Ufs};
pub use fsck::{check, repair, FsckOptions, Outcome, Verdict};
pub use inode::{FileType, Inode, Timespec};
pub use io::{Device, FileDevice};
pub use newfs::{newfs, NewfsOptions};
pub use populate::{Node, Nodes, TreeBuilder};
pub use session::Session;
pub use superblock::{Geometry, Superblock, UfsVersion};
pub use units::{CgIdx, Frag, Ino, Lbn};
pub use write::{NewNode, SetAttr};
pub use xattr::{Namespace, Xattr};

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
