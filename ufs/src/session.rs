//! The write session: the one way to change an image.
//!
//! A [`Session`] owns an opened [`Ufs`] (whose read API it lends through
//! `Deref`), the allocation state, the holds of open files, the time stamps
//! it makes, and the clean-flag policy:
//!
//! * starting a session on an image whose superblock asks for a check
//!   ([`Superblock::needs_fsck`](crate::Superblock::needs_fsck): mounted,
//!   crashed, or an interrupted edit) is refused unless forced
//!   ([`Session::new_forced`]);
//! * the first change clears `fs_clean` on disk (and flushes) before
//!   anything else is written, so an interrupted session leaves an image
//!   that says it needs fsck, FreeBSD's contract without soft updates;
//! * [`Session::sync`] and [`Session::close`] write the cylinder groups,
//!   the summary area and the superblock with the flag set again, except
//!   after a forced start on an unclean image: the tree was not checked,
//!   so the image keeps saying so; [`Session::sync_unclean`] writes the
//!   same but keeps the flag clear (a `fsync` in the middle of a session).
//!
//! The operations themselves are in `write.rs` (create, link, remove,
//! rename, data, attributes, extended attributes, holds of open files,
//! `mkdir -p` and `rm -r`) and `populate.rs` (a whole tree at once); they
//! build on this module, which knows nothing of them.
//!
//! A [`Ufs`] has no write methods, so a handle opened read-only cannot
//! write by construction:
//!
//! ```compile_fail
//! # use ufskit::{Ufs, OpenOptions, Ino, NewNode};
//! let fs = Ufs::open_path("img".as_ref(), OpenOptions::read_only())?;
//! fs.mkdir(Ino::ROOT, b"x", &NewNode::default())?; // no such method on Ufs
//! # Ok::<(), ufskit::Error>(())
//! ```

use crate::alloc::Allocator;
use crate::error::{Error, Result};
use crate::fs::{OpenOptions, Space, Ufs};
use crate::inode::{Inode, Timespec};
use crate::io::{self, Device};
use crate::superblock::UfsVersion;
use crate::units::Ino;
use std::collections::HashMap;
use std::path::Path;

/// Allocation state of a session, created by its first change.
#[derive(Debug)]
pub(crate) struct WriteState {
    pub(crate) alloc: Allocator,
    /// Directories' first chunk known to have room, to make appends cheap.
    pub(crate) room_hint: HashMap<Ino, u64>,
}

/// An image opened for changing; reads go to the [`Ufs`] it owns.
pub struct Session {
    pub(crate) fs: Ufs,
    /// Allocation state, created by the first change.
    pub(crate) w: Option<WriteState>,
    /// Fixed time for every stamp the write path makes (reproducible images).
    pub(crate) fixed_time: Option<Timespec>,
    /// Zeros owed right after the next data write (see `write.rs`).
    pub(crate) deferred_zeros: Option<(u64, u64)>,
    /// Inodes kept alive by open files (see `Session::hold`): how many holds.
    pub(crate) holds: HashMap<Ino, u32>,
    /// Started (forced) on an image that needed a check: a sync leaves it
    /// marked so.
    was_unclean: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("fs", &self.fs)
            .field("was_unclean", &self.was_unclean)
            .finish()
    }
}

impl std::ops::Deref for Session {
    type Target = Ufs;
    fn deref(&self) -> &Ufs {
        &self.fs
    }
}

impl Session {
    /// Starts a session on a handle opened writable. Refuses a read-only
    /// handle or device ([`Error::ReadOnly`]) and an image whose superblock
    /// asks for a check ([`Error::Unclean`]).
    pub fn new(fs: Ufs) -> Result<Session> {
        Self::start(fs, false)
    }

    /// [`Session::new`] that accepts an image asking for a check (an edit
    /// with `--force`); such an image stays marked unclean when the session
    /// syncs, since only a check may declare it clean.
    pub fn new_forced(fs: Ufs) -> Result<Session> {
        Self::start(fs, true)
    }

    fn start(mut fs: Ufs, force: bool) -> Result<Session> {
        if fs.dev.is_read_only() {
            return Err(Error::ReadOnly);
        }
        let unclean = fs.sb.needs_fsck();
        if unclean && !force {
            return Err(Error::Unclean);
        }
        if !unclean {
            // A shrink's move record on a clean image is stale (a tool
            // finished since): it goes with the first superblock written.
            crate::intent::MoveIntent::clear(&mut fs.sb.fs);
        }
        Ok(Session {
            fs,
            w: None,
            fixed_time: None,
            deferred_zeros: None,
            holds: HashMap::new(),
            was_unclean: unclean,
        })
    }

    /// Opens an image on `dev` for writing ([`Ufs::open`] with `writable`
    /// set) and starts a session on it ([`Session::new`]).
    pub fn open(dev: Box<dyn Device>, opts: &OpenOptions) -> Result<Session> {
        let opts = OpenOptions {
            writable: true,
            ..opts.clone()
        };
        Session::new(Ufs::open(dev, &opts)?)
    }

    /// Opens an image file read-write and starts a session on it.
    pub fn open_path(path: &Path, opts: OpenOptions) -> Result<Session> {
        Session::new(Ufs::open_path(
            path,
            OpenOptions {
                writable: true,
                ..opts
            },
        )?)
    }

    /// Whether the image asked for a check when the session started (it
    /// was started with [`Session::new_forced`]).
    pub fn was_unclean(&self) -> bool {
        self.was_unclean
    }

    /// The read handle.
    pub fn ufs(&self) -> &Ufs {
        &self.fs
    }

    /// Gives the device back without syncing: changes not synced are lost.
    pub fn into_device(self) -> Box<dyn Device> {
        self.fs.into_device()
    }

    /// Makes every stamp the write path takes use `t` instead of the clock
    /// (for byte-identical images).
    pub fn set_fixed_time(&mut self, t: Option<Timespec>) {
        self.fixed_time = t;
    }

    /// The time stamp for changes made now.
    pub fn now(&self) -> Timespec {
        if let Some(t) = self.fixed_time {
            return t;
        }
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timespec {
            sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nsec: d.subsec_nanos(),
        }
    }

    /// Makes the session's allocation state on its first change: clears
    /// the clean flag on disk first.
    pub(crate) fn begin(&mut self) -> Result<&mut WriteState> {
        if self.fs.dev.is_read_only() {
            return Err(Error::ReadOnly);
        }
        if self.w.is_none() {
            // Only bits mixed into a seed: the sign does not matter.
            #[allow(clippy::cast_sign_loss)]
            let seed = match self.fixed_time {
                Some(t) => (t.sec as u64) ^ 0x9e37_79b9_7f4a_7c15,
                None => self.now().sec as u64 ^ u64::from(self.now().nsec).rotate_left(32),
            };
            let alloc = Allocator::new(self.fs.dev.as_ref(), &self.fs.geo, seed)?;
            self.fs.sb.fs.fs_clean = 0;
            self.write_primary_superblock()?;
            self.flush_device()?;
            self.w = Some(WriteState {
                alloc,
                room_hint: HashMap::new(),
            });
        }
        self.w.as_mut().ok_or(Error::ReadOnly)
    }

    pub(crate) fn flush_device(&mut self) -> Result<()> {
        self.fs.dev.flush().map_err(|source| Error::Io {
            op: "syncing",
            offset: 0,
            len: 0,
            source,
        })
    }

    pub(crate) fn write_primary_superblock(&mut self) -> Result<()> {
        // The pointer area is undefined on disk; FreeBSD 13+ writes zeros.
        self.fs.sb.fs.fs_ocsp = [0u8; 128];
        let bytes = self.fs.sb.encode();
        io::write_all(self.fs.dev.as_mut(), self.fs.sb.location, &bytes)
    }

    /// Writes everything the session changed and marks the file system
    /// clean (unless the session was forced onto an unclean image). The
    /// image is consistent on disk afterwards.
    pub fn sync(&mut self) -> Result<()> {
        self.sync_marking(!self.was_unclean)
    }

    /// Like [`sync`](Self::sync), but the superblock keeps saying "not
    /// clean": for a sync in the middle of a session (a `fsync`), or an
    /// edit that only a check may declare clean.
    pub fn sync_unclean(&mut self) -> Result<()> {
        self.sync_marking(false)
    }

    fn sync_marking(&mut self, clean: bool) -> Result<()> {
        let now = self.now();
        let Some(mut w) = self.w.take() else {
            return Ok(());
        };
        let r = w
            .alloc
            .flush(self.fs.dev.as_mut(), &self.fs.geo, &mut self.fs.sb, now.sec);
        self.w = Some(w);
        r?;
        self.fs.sb.fs.fs_clean = i8::from(clean);
        self.fs.sb.fs.fs_time = now.sec;
        if self.fs.geo.version == UfsVersion::Ufs1 {
            // UFS1's 32-bit time field keeps the low 32 bits, as
            // FreeBSD stores it.
            #[allow(clippy::cast_possible_truncation)]
            let old = now.sec as i32;
            self.fs.sb.fs.fs_old_time = old;
        }
        self.write_primary_superblock()?;
        self.flush_device()?;
        // A later change starts a new session (and clears the flag again).
        self.w = None;
        Ok(())
    }

    /// Syncs ([`sync`](Self::sync)) and ends the session, reporting any
    /// error.
    pub fn close(mut self) -> Result<()> {
        self.sync()
    }

    /// Syncs with [`sync_unclean`](Self::sync_unclean) and ends the session.
    pub fn close_unclean(mut self) -> Result<()> {
        self.sync_unclean()
    }

    /// Space and inode counts as of now: the session's own counts once it
    /// has changed something (they include changes not yet on disk), else
    /// the cylinder-group summaries on disk.
    pub fn space(&self) -> Result<Space> {
        match &self.w {
            Some(w) => {
                let sums: Vec<crate::ondisk::Csum> = (0..self.fs.geo.ncg)
                    .filter_map(|c| w.alloc.summary(c).cloned())
                    .collect();
                Ok(Space::from_summaries(&self.fs, &sums))
            }
            None => self.fs.space(),
        }
    }

    /// Writes an inode the session changed.
    pub(crate) fn write_inode(&mut self, inode: &mut Inode) -> Result<()> {
        inode.write(self.fs.dev.as_mut(), &self.fs.geo)
    }
}
