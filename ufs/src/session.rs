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
//! rename, data, attributes, extended attributes) and `populate.rs` (a
//! whole tree at once); this module adds the tree-level `mkdir -p` and
//! `rm -r`.
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
use crate::fs::{Follow, OpenOptions, Space, Ufs};
use crate::inode::{Inode, Timespec};
use crate::io::{self, Device};
use crate::superblock::UfsVersion;
use crate::units::Ino;
use crate::write::NewNode;
use std::collections::HashMap;
use std::path::Path;

/// Deepest tree [`Session::remove_tree`] descends into.
const MAX_DEPTH: u32 = 4096;

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
    /// Inodes kept alive by open files (see [`Session::hold`]): how many holds.
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

    fn start(fs: Ufs, force: bool) -> Result<Session> {
        if fs.dev.is_read_only() {
            return Err(Error::ReadOnly);
        }
        let unclean = fs.sb.needs_fsck();
        if unclean && !force {
            return Err(Error::Unclean);
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

    fn flush_device(&mut self) -> Result<()> {
        self.fs.dev.flush().map_err(|source| Error::Io {
            op: "syncing",
            offset: 0,
            len: 0,
            source,
        })
    }

    fn write_primary_superblock(&mut self) -> Result<()> {
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
            self.fs.sb.fs.fs_old_time = now.sec as i32;
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

    // ---- open files ------------------------------------------------------------

    /// Keeps `ino` alive while something (an open file) uses it: removing
    /// its last name then leaves it allocated with a link count of 0, and
    /// reads and writes go on working, as POSIX wants of an open file that
    /// was unlinked. Every hold needs an [`unhold`](Self::unhold).
    pub fn hold(&mut self, ino: Ino) {
        *self.holds.entry(ino).or_insert(0) += 1;
    }

    /// Drops a hold; with the last one, an inode whose names are all gone
    /// is freed with its blocks.
    pub fn unhold(&mut self, ino: Ino) -> Result<()> {
        match self.holds.get_mut(&ino) {
            Some(n) if *n > 1 => {
                *n -= 1;
                return Ok(());
            }
            Some(_) => {
                self.holds.remove(&ino);
            }
            None => return Ok(()),
        }
        let mut inode = self.inode(ino)?;
        if inode.is_allocated() && inode.nlink() <= 0 {
            self.free_orphan(&mut inode)?;
        }
        Ok(())
    }

    /// Drops every hold (freeing the orphans), before a clean close.
    pub fn unhold_all(&mut self) -> Result<()> {
        let held: Vec<Ino> = self.holds.keys().copied().collect();
        for ino in held {
            self.holds.insert(ino, 1);
            self.unhold(ino)?;
        }
        Ok(())
    }

    // ---- whole paths -------------------------------------------------------------

    /// Makes directory `path` and every missing directory above it (`mkdir
    /// -p`); existing directories are kept, a symlink to one is followed.
    /// `attr` gives each new directory's attributes from its parent's inode
    /// and whether it is the last component. Returns the last directory's
    /// inode. A component that exists and is not a directory is
    /// [`Error::NotADirectory`] naming the path up to it.
    pub fn mkdir_p(
        &mut self,
        path: &[u8],
        mut attr: impl FnMut(&Inode, bool) -> NewNode,
    ) -> Result<Ino> {
        let comps: Vec<&[u8]> = path
            .split(|&c| c == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .collect();
        let mut cur = Ino::ROOT;
        let mut so_far: Vec<u8> = Vec::new();
        for (i, comp) in comps.iter().enumerate() {
            let last = i + 1 == comps.len();
            so_far.push(b'/');
            so_far.extend_from_slice(comp);
            let found = match self.lookup_bytes(&so_far, Follow::All) {
                Ok(ino) => Some(ino),
                Err(Error::NotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            match found {
                Some(ino) => {
                    if !self.allocated_inode(ino)?.is_dir() {
                        return Err(Error::NotADirectory {
                            path: String::from_utf8_lossy(&so_far).into_owned(),
                        });
                    }
                    cur = ino;
                }
                None => {
                    let a = attr(&self.allocated_inode(cur)?, last);
                    cur = self.mkdir(cur, comp, &a)?;
                }
            }
        }
        Ok(cur)
    }

    /// Removes `name` in directory `parent` with everything below it (`rm
    /// -r`); a non-directory is unlinked, a missing name is no error.
    /// Symlinks are removed, never followed.
    pub fn remove_tree(&mut self, parent: Ino, name: &[u8]) -> Result<()> {
        self.remove_tree_at(parent, name, 0)
    }

    fn remove_tree_at(&mut self, parent: Ino, name: &[u8], depth: u32) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::InvalidInput(format!(
                "tree deeper than {MAX_DEPTH} levels"
            )));
        }
        let Some(ino) = self.dir_lookup(parent, name)? else {
            return Ok(());
        };
        if !self.allocated_inode(ino)?.is_dir() {
            return self.unlink(parent, name);
        }
        for e in self.read_dir(ino)? {
            if e.name == b"." || e.name == b".." {
                continue;
            }
            self.remove_tree_at(ino, &e.name, depth + 1)?;
        }
        self.rmdir(parent, name)
    }
}
