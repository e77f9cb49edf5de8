//! The write path: the operations of a [`Session`] (creating, changing and
//! removing files), built on the session's state and clean-flag protocol.
//!
//! Every operation allocates what it needs before it links anything in, so
//! an allocation failure (no space, no inodes) leaves the tree as it was;
//! blocks taken for an operation that then fails are given back. The first
//! change of a session clears the superblock's clean flag on disk, and
//! [`Session::sync`] (or [`Session::close`]) writes the cylinder groups, the summary
//! area and the superblock with the flag set again: an interrupted session
//! leaves an image that says it needs fsck, as FreeBSD's kernel does without
//! soft updates. All counts are derived in `alloc.rs`.
//!
//! Directory entries are placed as FreeBSD's `ufs_direnter` does: in the
//! first 512-byte chunk with enough slack, splitting the record that has
//! it; removal merges the record into its predecessor within the chunk
//! (`ufs_dirremove`). Data blocks follow the fragment rules of fs.h
//! (`blksize`): only the last block of a file that fits in the direct
//! pointers may be a run of fragments, and it grows in place when it can.

use crate::alloc::Allocator;
use crate::bmap;
use crate::dir::{self, direct_size};
use crate::error::{CorruptKind, Error, Location, Result};
use crate::fs::Follow;
use crate::inode::{dev_join, FileType, Inode, Timespec};
use crate::io;
use crate::ondisk::consts::{dt, DIRBLKSIZ, DIRBLKSIZ_U16, NDADDR, NXADDR};
use crate::session::Session;
use crate::superblock::UfsVersion;
use crate::units::{Frag, Ino};
use crate::xattr::{self, Namespace, Xattr};
use std::collections::HashMap;

/// Attributes of a new node.
#[derive(Clone, Debug, Default)]
pub struct NewNode {
    /// Permission bits (including setuid, setgid, sticky).
    pub perm: u16,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Device major and minor, for device nodes.
    pub rdev: Option<(u32, u32)>,
    /// Times: access, modification, status change, birth (default: now).
    pub atime: Option<Timespec>,
    /// Modification time.
    pub mtime: Option<Timespec>,
    /// Status-change time.
    pub ctime: Option<Timespec>,
    /// Creation time (UFS2).
    pub birthtime: Option<Timespec>,
    /// File flags (`chflags`).
    pub flags: u32,
}

/// Attribute changes; `None` leaves a field alone.
#[derive(Clone, Debug, Default)]
pub struct SetAttr {
    /// New permission bits.
    pub perm: Option<u16>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
    /// New access time.
    pub atime: Option<Timespec>,
    /// New modification time.
    pub mtime: Option<Timespec>,
    /// New creation time (UFS2).
    pub birthtime: Option<Timespec>,
    /// New file flags.
    pub flags: Option<u32>,
}

/// Deepest tree [`Session::remove_tree`] and the host copy
/// (`build::HostCopy`) descend into.
pub(crate) const MAX_DEPTH: u32 = 4096;

fn check_name(name: &[u8]) -> Result<()> {
    if !crate::dir::valid_entry_name(name) || name == b"." || name == b".." {
        return Err(Error::InvalidInput(format!(
            "invalid file name {:?} (1 to 255 bytes, no '/' or NUL, not . or ..)",
            String::from_utf8_lossy(name)
        )));
    }
    Ok(())
}

impl Session {
    /// Runs `f` with the allocator, the device and the geometry.
    fn with_alloc<T>(
        &mut self,
        f: impl FnOnce(
            &mut Allocator,
            &mut dyn crate::io::Device,
            &crate::superblock::Geometry,
        ) -> Result<T>,
    ) -> Result<T> {
        self.begin()?;
        let w = self.w.as_mut().ok_or(Error::ReadOnly)?;
        f(&mut w.alloc, self.fs.dev.as_mut(), &self.fs.geo)
    }

    // ---- nodes -------------------------------------------------------------

    pub(crate) fn new_inode(
        &mut self,
        parent: Ino,
        kind: FileType,
        attr: &NewNode,
    ) -> Result<Inode> {
        let ino = self.alloc_ino(parent, kind)?;
        self.init_inode(ino, kind, attr)
    }

    /// Allocates an inode number for a new `kind` under `parent` (directories
    /// are spread over the groups, other files stay near their parent).
    pub(crate) fn alloc_ino(&mut self, parent: Ino, kind: FileType) -> Result<Ino> {
        let is_dir = kind == FileType::Directory;
        self.with_alloc(|a, dev, geo| {
            let pref = if is_dir {
                a.dir_cg(geo, parent)
            } else {
                geo.ino_to_cg(parent).0
            };
            a.alloc_inode(dev, geo, pref, is_dir)
        })
    }

    /// The in-memory form of a freshly allocated inode: type, attributes,
    /// times and a new generation number (nothing is written).
    pub(crate) fn init_inode(&mut self, ino: Ino, kind: FileType, attr: &NewNode) -> Result<Inode> {
        let old = Inode::read(self.fs.dev.as_ref(), &self.fs.geo, ino)
            .unwrap_or_else(|_| Inode::empty(ino, &self.fs.geo));
        self.init_inode_gen(ino, kind, attr, old.gen())
    }

    /// [`Session::init_inode`] for a caller that already knows the generation
    /// number on disk (`gen`; 0 for an unreadable inode), read in bulk.
    pub(crate) fn init_inode_gen(
        &mut self,
        ino: Ino,
        kind: FileType,
        attr: &NewNode,
        gen: u32,
    ) -> Result<Inode> {
        let mut inode = Inode::empty(ino, &self.fs.geo);
        let gen = if gen == 0 {
            self.with_alloc(|a, _, _| Ok(a.next_gen()))?
        } else {
            gen.wrapping_add(1).max(1)
        };
        inode.set_gen(gen);
        inode.set_mode(kind.mode_bits() | (attr.perm & 0o7777));
        inode.set_uid(attr.uid);
        inode.set_gid(attr.gid);
        inode.set_flags(attr.flags);
        let now = self.now();
        inode.set_atime(attr.atime.unwrap_or(now));
        inode.set_mtime(attr.mtime.unwrap_or(now));
        inode.set_ctime(attr.ctime.unwrap_or(now));
        inode.set_birthtime(attr.birthtime.or(attr.mtime).unwrap_or(now));
        if let Some((ma, mi)) = attr.rdev {
            inode.set_rdev(dev_join(ma, mi));
        }
        Ok(inode)
    }

    /// Empties a directory's data so it can be written anew (the root of a
    /// fresh file system, rebuilt by the tree builder).
    pub(crate) fn truncate_dir_for_rebuild(&mut self, inode: &mut Inode) -> Result<()> {
        self.truncate_inode(inode, 0)
    }

    fn free_inode(&mut self, ino: Ino, was_dir: bool) -> Result<()> {
        self.with_alloc(|a, dev, geo| a.free_inode(dev, geo, ino, was_dir))?;
        // A freed inode is zeroed but keeps its generation, as FreeBSD does.
        let mut cleared = Inode::empty(ino, &self.fs.geo);
        if let Ok(old) = Inode::read(self.fs.dev.as_ref(), &self.fs.geo, ino) {
            cleared.set_gen(old.gen());
        }
        cleared.write(self.fs.dev.as_mut(), &self.fs.geo)
    }

    fn parent_dir(&self, parent: Ino) -> Result<Inode> {
        let d = self.allocated_inode(parent)?;
        if !d.is_dir() {
            return Err(Error::NotADirectory {
                path: format!("inode {parent}"),
            });
        }
        Ok(d)
    }

    /// Creates a regular file, device node, fifo or socket.
    pub fn create(
        &mut self,
        parent: Ino,
        name: &[u8],
        kind: FileType,
        attr: &NewNode,
    ) -> Result<Ino> {
        check_name(name)?;
        if matches!(
            kind,
            FileType::Directory | FileType::Symlink | FileType::Unknown | FileType::Whiteout
        ) {
            return Err(Error::InvalidInput(format!(
                "create cannot make a {kind:?}; use mkdir or symlink"
            )));
        }
        self.parent_dir(parent)?;
        if self.dir_lookup(parent, name)?.is_some() {
            return Err(Error::Exists {
                path: String::from_utf8_lossy(name).into_owned(),
            });
        }
        let mut inode = self.new_inode(parent, kind, attr)?;
        inode.set_nlink(1);
        inode.write(self.fs.dev.as_mut(), &self.fs.geo)?;
        if let Err(e) = self.dir_add(parent, name, inode.ino, kind.dt()) {
            self.free_inode(inode.ino, false)?;
            return Err(e);
        }
        Ok(inode.ino)
    }

    /// Creates a directory with `.` and `..`.
    pub fn mkdir(&mut self, parent: Ino, name: &[u8], attr: &NewNode) -> Result<Ino> {
        check_name(name)?;
        let mut pdir = self.parent_dir(parent)?;
        if self.dir_lookup(parent, name)?.is_some() {
            return Err(Error::Exists {
                path: String::from_utf8_lossy(name).into_owned(),
            });
        }
        if pdir.nlink() >= i16::MAX - 1 {
            return Err(Error::InvalidInput(format!(
                "directory inode {parent} has too many links"
            )));
        }
        let mut inode = self.new_inode(parent, FileType::Directory, attr)?;
        inode.set_nlink(2);
        let mut chunk = vec![0u8; DIRBLKSIZ];
        let e = self.fs.geo.endian;
        let dot = direct_size(1);
        // 12 and 500: both inside one 512-byte chunk.
        #[allow(clippy::cast_possible_truncation)]
        let (dot_len, dotdot_len) = (dot as u16, (DIRBLKSIZ - dot) as u16);
        dir::encode_entry(&mut chunk, inode.ino, dot_len, dt::DT_DIR, b".", e);
        dir::encode_entry(&mut chunk[dot..], parent, dotdot_len, dt::DT_DIR, b"..", e);
        let ino = inode.ino;
        let r = self.write_inode_data(&mut inode, 0, &chunk, true);
        if let Err(err) = r {
            let _ = self.truncate_inode(&mut inode, 0);
            self.free_inode(ino, true)?;
            return Err(err);
        }
        inode.write(self.fs.dev.as_mut(), &self.fs.geo)?;
        if let Err(err) = self.dir_add(parent, name, ino, dt::DT_DIR) {
            self.truncate_inode(&mut inode, 0)?;
            self.free_inode(ino, true)?;
            return Err(err);
        }
        pdir = self.parent_dir(parent)?;
        pdir.set_nlink(pdir.nlink() + 1);
        pdir.write(self.fs.dev.as_mut(), &self.fs.geo)?;
        Ok(ino)
    }

    /// Creates a symbolic link; short targets are stored in the inode.
    pub fn symlink(
        &mut self,
        parent: Ino,
        name: &[u8],
        target: &[u8],
        attr: &NewNode,
    ) -> Result<Ino> {
        check_name(name)?;
        if target.is_empty() || target.len() >= 1024 {
            return Err(Error::InvalidInput(format!(
                "symlink target of {} bytes (1 to 1023)",
                target.len()
            )));
        }
        self.parent_dir(parent)?;
        if self.dir_lookup(parent, name)?.is_some() {
            return Err(Error::Exists {
                path: String::from_utf8_lossy(name).into_owned(),
            });
        }
        let mut inode = self.new_inode(parent, FileType::Symlink, attr)?;
        inode.set_nlink(1);
        if target.len() < self.fs.geo.maxsymlinklen as usize {
            inode.set_inline(&self.fs.geo, target)?;
            inode.set_size(target.len() as u64);
        } else if let Err(e) = self.write_inode_data(&mut inode, 0, target, false) {
            let _ = self.truncate_inode(&mut inode, 0);
            self.free_inode(inode.ino, false)?;
            return Err(e);
        }
        inode.write(self.fs.dev.as_mut(), &self.fs.geo)?;
        if let Err(e) = self.dir_add(parent, name, inode.ino, dt::DT_LNK) {
            self.truncate_inode(&mut inode, 0)?;
            self.free_inode(inode.ino, false)?;
            return Err(e);
        }
        Ok(inode.ino)
    }

    /// Adds a hard link `name` in `parent` to existing non-directory `target`.
    pub fn link(&mut self, parent: Ino, name: &[u8], target: Ino) -> Result<()> {
        check_name(name)?;
        self.parent_dir(parent)?;
        let mut t = self.allocated_inode(target)?;
        if t.is_dir() {
            return Err(Error::IsADirectory {
                path: format!("inode {target}"),
            });
        }
        if t.nlink() == i16::MAX {
            return Err(Error::InvalidInput(format!(
                "inode {target} has too many links"
            )));
        }
        if self.dir_lookup(parent, name)?.is_some() {
            return Err(Error::Exists {
                path: String::from_utf8_lossy(name).into_owned(),
            });
        }
        self.dir_add(parent, name, target, t.file_type().dt())?;
        t.set_nlink(t.nlink() + 1);
        t.set_ctime(self.now());
        t.write(self.fs.dev.as_mut(), &self.fs.geo)
    }

    /// Removes a non-directory name; the inode is freed with its last link.
    pub fn unlink(&mut self, parent: Ino, name: &[u8]) -> Result<()> {
        check_name(name)?;
        self.parent_dir(parent)?;
        let ino = self
            .dir_lookup(parent, name)?
            .ok_or_else(|| Error::NotFound {
                path: String::from_utf8_lossy(name).into_owned(),
            })?;
        let mut inode = self.allocated_inode(ino)?;
        if inode.is_dir() {
            return Err(Error::IsADirectory {
                path: String::from_utf8_lossy(name).into_owned(),
            });
        }
        self.dir_remove(parent, name)?;
        self.drop_link(&mut inode)
    }

    fn drop_link(&mut self, inode: &mut Inode) -> Result<()> {
        let n = inode.nlink() - 1;
        if n <= 0 && self.holds.contains_key(&inode.ino) {
            // Still open somewhere: an orphan with no name and a link count
            // of 0 until its last hold goes (a crash before that leaves it
            // to fsck, which clears unreferenced inodes of count 0).
            inode.set_nlink(0);
            inode.set_ctime(self.now());
            inode.write(self.fs.dev.as_mut(), &self.fs.geo)
        } else if n <= 0 {
            self.free_orphan(inode)
        } else {
            inode.set_nlink(n);
            inode.set_ctime(self.now());
            inode.write(self.fs.dev.as_mut(), &self.fs.geo)
        }
    }

    pub(crate) fn free_orphan(&mut self, inode: &mut Inode) -> Result<()> {
        self.truncate_inode(inode, 0)?;
        self.clear_xattrs(inode)?;
        // A held directory is an orphan too (see `rmdir`).
        self.free_inode(inode.ino, inode.is_dir())
    }

    // ---- open files ------------------------------------------------------------

    /// Keeps `ino` alive while something (an open file, a FUSE kernel's
    /// reference to its number) uses it: removing its last name (or, for
    /// a directory, `rmdir`) then leaves it allocated with a link count of 0, and
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

    /// Removes an empty directory.
    pub fn rmdir(&mut self, parent: Ino, name: &[u8]) -> Result<()> {
        check_name(name)?;
        let ino = self
            .dir_lookup(parent, name)?
            .ok_or_else(|| Error::NotFound {
                path: String::from_utf8_lossy(name).into_owned(),
            })?;
        let mut inode = self.allocated_inode(ino)?;
        if !inode.is_dir() {
            return Err(Error::NotADirectory {
                path: String::from_utf8_lossy(name).into_owned(),
            });
        }
        if self
            .read_dir(ino)?
            .iter()
            .any(|e| e.name != b"." && e.name != b"..")
        {
            return Err(Error::NotEmpty {
                path: String::from_utf8_lossy(name).into_owned(),
            });
        }
        self.dir_remove(parent, name)?;
        self.truncate_inode(&mut inode, 0)?;
        self.clear_xattrs(&mut inode)?;
        if self.holds.contains_key(&ino) {
            // Still in use (a FUSE kernel knows its number, or a process
            // has it as its working directory): an empty orphan of link
            // count 0 until its last hold goes, as `drop_link` leaves a
            // file; a crash before that leaves it to fsck, which clears an
            // unreferenced directory.
            inode.set_nlink(0);
            inode.set_ctime(self.now());
            inode.write(self.fs.dev.as_mut(), &self.fs.geo)?;
        } else {
            self.free_inode(ino, true)?;
        }
        let mut p = self.parent_dir(parent)?;
        p.set_nlink(p.nlink() - 1);
        let now = self.now();
        p.set_mtime(now);
        p.set_ctime(now);
        p.write(self.fs.dev.as_mut(), &self.fs.geo)
    }

    /// Whether directory `anc` is `ino` or one of its ancestors.
    fn is_ancestor(&self, anc: Ino, mut ino: Ino) -> Result<bool> {
        for _ in 0..self.fs.geo.ninodes.min(1 << 20) {
            if ino == anc {
                return Ok(true);
            }
            if ino == Ino::ROOT {
                return Ok(false);
            }
            ino = self.dir_lookup(ino, b"..")?.ok_or_else(|| {
                Error::corrupt(
                    CorruptKind::BadDirEntry,
                    Location::Inode(ino),
                    "directory has no '..' entry",
                )
            })?;
        }
        Err(Error::corrupt(
            CorruptKind::Loop,
            Location::Inode(ino),
            "'..' chain does not reach the root",
        ))
    }

    /// Renames `sname` in `sp` to `dname` in `dp`, replacing a target of the
    /// same kind (an empty directory for a directory), keeping `..` and
    /// link counts right.
    pub fn rename(&mut self, sp: Ino, sname: &[u8], dp: Ino, dname: &[u8]) -> Result<()> {
        check_name(sname)?;
        check_name(dname)?;
        self.parent_dir(sp)?;
        self.parent_dir(dp)?;
        let ino = self.dir_lookup(sp, sname)?.ok_or_else(|| Error::NotFound {
            path: String::from_utf8_lossy(sname).into_owned(),
        })?;
        let inode = self.allocated_inode(ino)?;
        let is_dir = inode.is_dir();
        if is_dir && sp != dp && self.is_ancestor(ino, dp)? {
            return Err(Error::InvalidInput(
                "cannot move a directory into itself".into(),
            ));
        }
        if let Some(existing) = self.dir_lookup(dp, dname)? {
            if existing == ino {
                return Ok(());
            }
            let ex = self.allocated_inode(existing)?;
            match (is_dir, ex.is_dir()) {
                (true, true) => self.rmdir(dp, dname)?,
                (false, false) => self.unlink(dp, dname)?,
                (true, false) => {
                    return Err(Error::NotADirectory {
                        path: String::from_utf8_lossy(dname).into_owned(),
                    })
                }
                (false, true) => {
                    return Err(Error::IsADirectory {
                        path: String::from_utf8_lossy(dname).into_owned(),
                    })
                }
            }
        }
        self.dir_add(dp, dname, ino, inode.file_type().dt())?;
        self.dir_remove(sp, sname)?;
        if is_dir && sp != dp {
            self.dir_set(ino, b"..", dp)?;
            let mut s = self.parent_dir(sp)?;
            s.set_nlink(s.nlink() - 1);
            s.write(self.fs.dev.as_mut(), &self.fs.geo)?;
            let mut d = self.parent_dir(dp)?;
            d.set_nlink(d.nlink() + 1);
            d.write(self.fs.dev.as_mut(), &self.fs.geo)?;
        }
        let mut i = self.allocated_inode(ino)?;
        i.set_ctime(self.now());
        i.write(self.fs.dev.as_mut(), &self.fs.geo)
    }

    /// Changes attributes.
    pub fn set_attr(&mut self, ino: Ino, a: &SetAttr) -> Result<()> {
        self.begin()?;
        let mut i = self.allocated_inode(ino)?;
        if let Some(p) = a.perm {
            i.set_mode((i.mode() & !0o7777) | (p & 0o7777));
        }
        if let Some(u) = a.uid {
            i.set_uid(u);
        }
        if let Some(g) = a.gid {
            i.set_gid(g);
        }
        if let Some(t) = a.atime {
            i.set_atime(t);
        }
        if let Some(t) = a.mtime {
            i.set_mtime(t);
        }
        if let Some(t) = a.birthtime {
            i.set_birthtime(t);
        }
        if let Some(f) = a.flags {
            i.set_flags(f);
        }
        i.set_ctime(self.now());
        i.write(self.fs.dev.as_mut(), &self.fs.geo)
    }

    // ---- directories ---------------------------------------------------------

    /// Adds an entry (the name must not exist yet).
    // Each cast is of an offset or record length inside one 512-byte
    // directory chunk.
    #[allow(clippy::cast_possible_truncation)]
    fn dir_add(&mut self, dir: Ino, name: &[u8], ino: Ino, dtype: u8) -> Result<()> {
        let mut d = self.parent_dir(dir)?;
        let need = direct_size(name.len());
        let e = self.fs.geo.endian;
        let size = d.size();
        let start = self
            .w
            .as_ref()
            .and_then(|w| w.room_hint.get(&dir).copied())
            .unwrap_or(0)
            .min(size);
        let extents = self.extents(&d)?;
        let mut chunk = vec![0u8; DIRBLKSIZ];
        let mut off = start - start % DIRBLKSIZ as u64;
        while off + DIRBLKSIZ as u64 <= size {
            self.read_at(&d, &extents, off, &mut chunk)?;
            let (entries, bad) = dir::parse_chunk(&chunk, off, e);
            if let Some((at, why)) = bad {
                return Err(Error::corrupt(
                    CorruptKind::BadDirEntry,
                    Location::DirEntry { dir, offset: at },
                    why.to_string(),
                ));
            }
            for ent in &entries {
                let used = if ent.ino.0 == 0 {
                    0
                } else {
                    direct_size(ent.name.len())
                };
                if usize::from(ent.reclen) - used < need {
                    continue;
                }
                let pos = (ent.offset - off) as usize;
                if used == 0 {
                    dir::encode_entry(&mut chunk[pos..], ino, ent.reclen, dtype, name, e);
                } else {
                    dir::encode_entry(
                        &mut chunk[pos..],
                        ent.ino,
                        used as u16,
                        ent.dtype,
                        &ent.name,
                        e,
                    );
                    let rest = ent.reclen - used as u16;
                    dir::encode_entry(&mut chunk[pos + used..], ino, rest, dtype, name, e);
                }
                self.write_inode_data(&mut d, off, &chunk, true)?;
                self.touch_dir(&mut d)?;
                if let Some(w) = self.w.as_mut() {
                    w.room_hint.insert(dir, off);
                }
                return Ok(());
            }
            off += DIRBLKSIZ as u64;
        }
        // No room: a new chunk at the end holding just this entry.
        chunk.fill(0);
        dir::encode_entry(&mut chunk, ino, DIRBLKSIZ_U16, dtype, name, e);
        self.write_inode_data(&mut d, size, &chunk, true)?;
        self.touch_dir(&mut d)?;
        if let Some(w) = self.w.as_mut() {
            w.room_hint.insert(dir, size);
        }
        Ok(())
    }

    fn touch_dir(&mut self, d: &mut Inode) -> Result<()> {
        let now = self.now();
        d.set_mtime(now);
        d.set_ctime(now);
        d.write(self.fs.dev.as_mut(), &self.fs.geo)
    }

    /// Finds the chunk and entry of `name`: (chunk offset, chunk, entries index).
    fn dir_find(
        &self,
        d: &Inode,
        name: &[u8],
    ) -> Result<(u64, Vec<u8>, Vec<dir::RawEntry>, usize)> {
        let extents = self.extents(d)?;
        let mut chunk = vec![0u8; DIRBLKSIZ];
        let mut off = 0;
        while off + DIRBLKSIZ as u64 <= d.size() {
            self.read_at(d, &extents, off, &mut chunk)?;
            let (entries, _) = dir::parse_chunk(&chunk, off, self.fs.geo.endian);
            if let Some(i) = entries.iter().position(|x| x.ino.0 != 0 && x.name == name) {
                return Ok((off, chunk, entries, i));
            }
            off += DIRBLKSIZ as u64;
        }
        Err(Error::NotFound {
            path: String::from_utf8_lossy(name).into_owned(),
        })
    }

    /// Removes the entry `name`, merging its space into the previous entry.
    fn dir_remove(&mut self, dir: Ino, name: &[u8]) -> Result<()> {
        let mut d = self.parent_dir(dir)?;
        let (off, mut chunk, entries, i) = self.dir_find(&d, name)?;
        let e = self.fs.geo.endian;
        let ent = &entries[i];
        if i == 0 {
            // The first entry of a chunk cannot merge backwards: empty it.
            dir::encode_entry(&mut chunk, Ino(0), ent.reclen, 0, b"", e);
        } else {
            let prev = &entries[i - 1];
            // An offset inside the chunk.
            #[allow(clippy::cast_possible_truncation)]
            let pos = (prev.offset - off) as usize;
            let reclen = prev.reclen + ent.reclen;
            dir::encode_entry(
                &mut chunk[pos..],
                prev.ino,
                reclen,
                prev.dtype,
                &prev.name,
                e,
            );
        }
        self.write_inode_data(&mut d, off, &chunk, true)?;
        if let Some(w) = self.w.as_mut() {
            let h = w.room_hint.entry(dir).or_insert(off);
            *h = (*h).min(off);
        }
        self.touch_dir(&mut d)
    }

    /// Points the existing entry `name` at another inode.
    fn dir_set(&mut self, dir: Ino, name: &[u8], ino: Ino) -> Result<()> {
        let mut d = self.parent_dir(dir)?;
        let (off, mut chunk, entries, i) = self.dir_find(&d, name)?;
        let ent = &entries[i];
        // An offset inside the chunk.
        #[allow(clippy::cast_possible_truncation)]
        let pos = (ent.offset - off) as usize;
        dir::encode_entry(
            &mut chunk[pos..],
            ino,
            ent.reclen,
            ent.dtype,
            &ent.name,
            self.fs.geo.endian,
        );
        self.write_inode_data(&mut d, off, &chunk, true)
    }

    // ---- file data -----------------------------------------------------------

    /// Writes `data` at `offset` of a regular file, growing it as needed.
    pub fn write_file(&mut self, ino: Ino, offset: u64, data: &[u8]) -> Result<()> {
        let mut inode = self.allocated_inode(ino)?;
        if inode.file_type() != FileType::Regular {
            return Err(Error::InvalidInput(format!(
                "inode {ino} is not a regular file"
            )));
        }
        let r = self.write_inode_data(&mut inode, offset, data, false);
        let now = self.now();
        inode.set_mtime(now);
        inode.set_ctime(now);
        // Whatever was written (all or part) is recorded in the inode.
        inode.write(self.fs.dev.as_mut(), &self.fs.geo)?;
        r
    }

    /// Sets a regular file's size, freeing blocks past it or leaving a hole.
    pub fn truncate(&mut self, ino: Ino, size: u64) -> Result<()> {
        let mut inode = self.allocated_inode(ino)?;
        if inode.file_type() != FileType::Regular {
            return Err(Error::InvalidInput(format!(
                "inode {ino} is not a regular file"
            )));
        }
        if size > inode.size() {
            // Extending: allocate the block holding the new last byte, as
            // FreeBSD does, so the file never ends in a hole.
            let old = inode.size();
            if let Err(e) = self.write_inode_data(&mut inode, size - 1, &[0], false) {
                // All or nothing: back to the old size, with what the
                // attempt allocated given back, and the inode written
                // (its tail fragment may have moved).
                let _ = self.truncate_inode(&mut inode, old);
                inode.write(self.fs.dev.as_mut(), &self.fs.geo)?;
                return Err(e);
            }
        } else {
            self.truncate_inode(&mut inode, size)?;
            // Shrinking into a hole: FreeBSD's ffs_truncate allocates the
            // block holding the new last byte (UFS_BALLOC of length - 1),
            // so a file never ends in a hole, and fsck_ffs (12.1 and
            // later) calls a size past the last allocated block damage.
            // The byte is in a hole, so writing a zero there changes no
            // contents.
            if size > 0 && self.in_hole(&inode, size - 1)? {
                self.write_inode_data(&mut inode, size - 1, &[0], false)?;
            }
        }
        let now = self.now();
        inode.set_mtime(now);
        inode.set_ctime(now);
        inode.write(self.fs.dev.as_mut(), &self.fs.geo)
    }

    /// Whether byte `off` of a regular file lies in a hole.
    fn in_hole(&self, inode: &Inode, off: u64) -> Result<bool> {
        let bsize = self.fs.geo.bsize64();
        Ok(!self
            .extents(inode)?
            .iter()
            .any(|e| e.lbn * bsize <= off && off < e.lbn * bsize + e.len))
    }

    /// Fragments the block at `lbn` needs for a file of `size` bytes.
    // A block's size in fragments: at most `frag` (8).
    #[allow(clippy::cast_possible_truncation)]
    fn frags_for(&self, size: u64, lbn: u64) -> u32 {
        (self.fs.geo.blksize(size, lbn) >> self.fs.geo.fshift) as u32
    }

    fn alloc_frags(&mut self, pref: Frag, n: u32) -> Result<Frag> {
        self.with_alloc(|a, dev, geo| a.alloc(dev, geo, pref, n))
    }

    fn free_frags(&mut self, addr: Frag, n: u32) -> Result<()> {
        self.with_alloc(|a, dev, geo| a.free(dev, geo, addr, n))
    }

    fn extend_frags(&mut self, addr: Frag, old: u32, new: u32) -> Result<bool> {
        self.with_alloc(|a, dev, geo| a.extend_in_place(dev, geo, addr, old, new))
    }

    fn add_blocks(&self, inode: &mut Inode, frags: i64) {
        let sectors = frags * (i64::from(self.fs.geo.fsize) / 512);
        // di_blocks is signed in C: take its bits as such, as before.
        let blocks = i64::from_ne_bytes(inode.blocks().to_ne_bytes());
        let v = u64::try_from((blocks + sectors).max(0)).unwrap_or(0);
        inode.set_blocks(v);
    }

    /// Preferred place for a new block of `inode` after `prev`.
    fn pref(&mut self, inode: &Inode, prev: u64, meta: bool) -> Result<Frag> {
        if prev != 0 {
            return Ok(Frag(prev + u64::from(self.fs.geo.frag)));
        }
        let c = self.fs.geo.ino_to_cg(inode.ino).0;
        let metaspace = u64::try_from(self.fs.sb.fs.fs_metaspace).unwrap_or(0);
        Ok(Allocator::zone_start(&self.fs.geo, metaspace, c, meta))
    }

    /// The core of every data write: maps (allocating) each block the range
    /// touches, keeps the fragment rules, writes the bytes, updates size
    /// and block count in `inode` (the caller writes the inode).
    pub(crate) fn write_inode_data(
        &mut self,
        inode: &mut Inode,
        offset: u64,
        data: &[u8],
        meta: bool,
    ) -> Result<()> {
        self.begin()?;
        if data.is_empty() {
            return Ok(());
        }
        let end = offset
            .checked_add(data.len() as u64)
            .filter(|&e| e <= self.fs.geo.maxfilesize)
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "write past the largest file size {}",
                    self.fs.geo.maxfilesize
                ))
            })?;
        let bsize = self.fs.geo.bsize64();
        let old_size = inode.size();
        let new_size = old_size.max(end);
        // A fragment tail that stops being the last block must become whole.
        let old_last = old_size.div_ceil(bsize);
        // What is allocated now, for the fragment arithmetic below.
        let mut alloc_size = old_size;
        if old_size > 0 && old_last <= NDADDR as u64 && new_size > old_last * bsize {
            let lbn = old_last - 1;
            let grow = Fit::Grow {
                meta,
                covered: 0..0,
            };
            self.resize_block(inode, lbn, old_size, self.fs.geo.frag, grow)?;
            alloc_size = old_last * bsize;
        }
        let mut cache = IndirectCache::default();
        let first = offset / bsize;
        let last = (end - 1) / bsize;
        // The end of what was really written; before the first block, no
        // further than the old end: a write past the end that fails
        // before its first block must not move the size to `offset`,
        // which would leave the file ending in a hole.
        let mut written_to = offset.min(old_size);
        let mut result = Ok(());
        for lbn in first..=last {
            let blk_start = lbn * bsize;
            let from = offset.max(blk_start);
            let to = end.min(blk_start + bsize);
            let want = self.frags_for(new_size, lbn);
            let covered = (from - blk_start)..(to - blk_start);
            let req = BlockReq {
                lbn,
                want,
                old_size: alloc_size,
                meta,
                covered,
            };
            let addr = match self.map_alloc(inode, req, &mut cache) {
                Ok(a) => a,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            // Both ends lie inside `data`.
            #[allow(clippy::cast_possible_truncation)]
            let src = &data[(from - offset) as usize..(to - offset) as usize];
            let pos = self.fs.geo.frag_offset(addr) + (from - blk_start);
            // Deferred zeros are the rest of one block: at most bsize.
            #[allow(clippy::cast_possible_truncation)]
            let r = match self.deferred_zeros.take() {
                Some((at, n)) if at == pos + src.len() as u64 => {
                    let mut buf = Vec::with_capacity(src.len() + n as usize);
                    buf.extend_from_slice(src);
                    buf.resize(src.len() + n as usize, 0);
                    io::write_all(self.fs.dev.as_mut(), pos, &buf)
                }
                Some((at, n)) => io::write_all(self.fs.dev.as_mut(), pos, src)
                    .and_then(|()| io::write_all(self.fs.dev.as_mut(), at, &vec![0u8; n as usize])),
                None => io::write_all(self.fs.dev.as_mut(), pos, src),
            };
            if let Err(e) = r {
                result = Err(e);
                break;
            }
            written_to = to;
        }
        if let Some((at, n)) = self.deferred_zeros.take() {
            // The write that was to carry these zeros failed: zero anyway,
            // so the block never shows old contents if the file grows.
            // At most bsize, as above.
            #[allow(clippy::cast_possible_truncation)]
            let zr = io::write_all(self.fs.dev.as_mut(), at, &vec![0u8; n as usize]);
            if result.is_ok() {
                result = zr;
            }
        }
        cache.flush(self)?;
        let recorded = if result.is_ok() {
            new_size
        } else {
            old_size.max(written_to.min(new_size))
        };
        if result.is_err() && last >= NDADDR as u64 {
            // Indirect blocks taken for a block whose own allocation then
            // failed map nothing below the size recorded: give them back,
            // or they stay marked in use with no owner (fsck walks no
            // pointer past the end of a file). Direct blocks need nothing:
            // a failed allocation took none.
            let keep = recorded.div_ceil(bsize);
            let _ = self.free_trees_from(inode, keep, recorded);
        }
        if result.is_err() && recorded == old_size && alloc_size > old_size && old_size > 0 {
            // The fragment tail was made a whole block for a write that
            // then wrote nothing: back to the fragments the size needs.
            let lbn = old_last - 1;
            let need = self.frags_for(old_size, lbn).max(1);
            let _ = self.resize_block(inode, lbn, alloc_size, need, Fit::Shrink);
        }
        if recorded > old_size {
            inode.set_size(recorded);
        }
        result
    }

    /// Grows or shrinks direct block `lbn` of `inode`, which holds the
    /// fragments a file of `size` bytes gives it, to `frags` fragments
    /// (see [`Fit`]). A grown block moves when it cannot grow in place; a
    /// shrunk one gives its fragments past `frags` back to the map, and
    /// the inode's block count follows once they are back.
    fn resize_block(
        &mut self,
        inode: &mut Inode,
        lbn: u64,
        size: u64,
        frags: u32,
        fit: Fit,
    ) -> Result<Frag> {
        // Only a direct block is resized (every caller checks lbn < NDADDR).
        #[allow(clippy::cast_possible_truncation)]
        let i = lbn as usize;
        let cur = inode.db(i);
        let have = self.frags_for(size, lbn).max(1);
        let (meta, covered) = match fit {
            Fit::Grow { meta, covered } => (meta, covered),
            Fit::Shrink => {
                if cur != 0 && frags < have {
                    self.free_frags(Frag(cur + u64::from(frags)), have - frags)?;
                    self.add_blocks(inode, -i64::from(have - frags));
                }
                return Ok(Frag(cur));
            }
        };
        if cur == 0 {
            let prev = if i > 0 { inode.db(i - 1) } else { 0 };
            let pref = self.pref(inode, prev, meta)?;
            let a = self.alloc_frags(pref, frags)?;
            self.zero_except(a, 0, frags, &covered)?;
            inode.set_db(i, a.0);
            self.add_blocks(inode, i64::from(frags));
            return Ok(a);
        }
        if frags <= have {
            return Ok(Frag(cur));
        }
        if self.extend_frags(Frag(cur), have, frags)? {
            self.zero_except(Frag(cur), have, frags, &covered)?;
            self.add_blocks(inode, i64::from(frags - have));
            return Ok(Frag(cur));
        }
        let a = self.alloc_frags(Frag(cur), frags)?;
        let mut buf = vec![0u8; (frags << self.fs.geo.fshift) as usize];
        let old_bytes = (have << self.fs.geo.fshift) as usize;
        io::read_exact(
            self.fs.dev.as_ref(),
            self.fs.geo.frag_offset(Frag(cur)),
            &mut buf[..old_bytes],
        )?;
        io::write_all(self.fs.dev.as_mut(), self.fs.geo.frag_offset(a), &buf)?;
        inode.set_db(i, a.0);
        self.free_frags(Frag(cur), have)?;
        self.add_blocks(inode, i64::from(frags) - i64::from(have));
        Ok(a)
    }

    fn zero_frags(&mut self, a: Frag, n: u32) -> Result<()> {
        self.zero_except(a, 0, n, &(0..0))
    }

    /// Zeroes fragments `from..to` of the run at `a`, except the bytes in
    /// `keep` (relative to `a`), which the caller is about to write: new
    /// blocks must read as zeros, but writing them twice is wasted I/O.
    fn zero_except(
        &mut self,
        a: Frag,
        from: u32,
        to: u32,
        keep: &std::ops::Range<u64>,
    ) -> Result<()> {
        let start = u64::from(from) << self.fs.geo.fshift;
        let end = u64::from(to) << self.fs.geo.fshift;
        let pieces = [
            (start, keep.start.clamp(start, end)),
            (keep.end.clamp(start, end), end),
        ];
        let pieces = if keep.is_empty() {
            [(start, end), (end, end)]
        } else {
            pieces
        };
        for (k, (lo, hi)) in pieces.into_iter().enumerate() {
            if hi <= lo {
                continue;
            }
            let at = self.fs.geo.frag_offset(a) + lo;
            if k == 1 && !keep.is_empty() && lo == keep.end {
                // Zeros right after what the caller writes next: the caller
                // appends them to that write (one system call, not two).
                self.deferred_zeros = Some((at, hi - lo));
                continue;
            }
            // Within one block.
            #[allow(clippy::cast_possible_truncation)]
            let buf = vec![0u8; (hi - lo) as usize];
            io::write_all(self.fs.dev.as_mut(), at, &buf)?;
        }
        Ok(())
    }

    /// The address of logical block `lbn`, allocated with `want` fragments if
    /// missing (indirect blocks too).
    fn map_alloc(
        &mut self,
        inode: &mut Inode,
        req: BlockReq,
        cache: &mut IndirectCache,
    ) -> Result<Frag> {
        let BlockReq {
            lbn,
            want,
            old_size,
            meta,
            covered,
        } = req;
        if lbn < NDADDR as u64 {
            return self.resize_block(inode, lbn, old_size, want, Fit::Grow { meta, covered });
        }
        let path = bmap::Spans::of(&self.fs.geo).path(crate::units::Lbn(lbn));
        let Some(path @ bmap::BlockPath::Indirect { level, .. }) = path else {
            return Err(Error::InvalidInput(format!(
                "block {lbn} is beyond the triple indirect range"
            )));
        };
        let (level, idx) = (usize::from(level), path.indices());
        let mut ptr = inode.ib(level - 1);
        if ptr == 0 {
            let prev = inode.db(NDADDR - 1);
            let pref = self.pref(inode, prev, true)?;
            let a = self.alloc_frags(pref, self.fs.geo.frag)?;
            self.zero_frags(a, self.fs.geo.frag)?;
            self.add_blocks(inode, i64::from(self.fs.geo.frag));
            inode.set_ib(level - 1, a.0);
            ptr = a.0;
        }
        for (depth, &k) in idx.iter().enumerate() {
            let last = depth + 1 == idx.len();
            let entries = cache.get(self, Frag(ptr))?;
            let next = entries.get(k).copied().unwrap_or(0);
            if next != 0 {
                if !self
                    .geo
                    .frags_in_range(Frag(next), u64::from(self.fs.geo.frag))
                {
                    return Err(Error::corrupt(
                        CorruptKind::BadBlockPointer,
                        Location::Block {
                            ino: inode.ino,
                            frag: Frag(next),
                        },
                        "indirect pointer outside the file system",
                    ));
                }
                ptr = next;
                continue;
            }
            let prev = if k > 0 {
                entries.get(k - 1).copied().unwrap_or(0)
            } else {
                ptr
            };
            let pref = self.pref(inode, prev, !last)?;
            let a = self.alloc_frags(pref, self.fs.geo.frag)?;
            if last {
                // A new data block: what the caller does not write must read
                // as zeros.
                self.zero_except(a, 0, self.fs.geo.frag, &covered)?;
            } else {
                self.zero_frags(a, self.fs.geo.frag)?;
            }
            self.add_blocks(inode, i64::from(self.fs.geo.frag));
            cache.set(self, Frag(ptr), k, a.0)?;
            ptr = a.0;
        }
        Ok(Frag(ptr))
    }

    /// Frees everything past `size` and zeroes the tail of the last block.
    fn truncate_inode(&mut self, inode: &mut Inode, size: u64) -> Result<()> {
        self.begin()?;
        if inode.file_type() == FileType::Symlink && inode.is_fast_symlink(&self.fs.geo) {
            inode.set_inline(&self.fs.geo, &[])?;
            inode.set_size(0);
            return Ok(());
        }
        let bsize = self.fs.geo.bsize64();
        let old_size = inode.size();
        if size >= old_size {
            inode.set_size(size);
            return Ok(());
        }
        let keep = size.div_ceil(bsize);
        for i in 0..NDADDR {
            let a = inode.db(i);
            if a == 0 {
                continue;
            }
            let have = self.frags_for(old_size, i as u64).max(1);
            if (i as u64) >= keep {
                self.free_frags(Frag(a), have)?;
                inode.set_db(i, 0);
                self.add_blocks(inode, -i64::from(have));
            } else if i as u64 + 1 == keep {
                let need = self.frags_for(size, i as u64).max(1);
                self.resize_block(inode, i as u64, old_size, need, Fit::Shrink)?;
                let tail = size % bsize;
                if tail != 0 {
                    let zero_len = (u64::from(need) << self.fs.geo.fshift) - tail;
                    // Less than one block.
                    #[allow(clippy::cast_possible_truncation)]
                    let z = vec![0u8; zero_len as usize];
                    io::write_all(
                        self.fs.dev.as_mut(),
                        self.fs.geo.frag_offset(Frag(a)) + tail,
                        &z,
                    )?;
                }
            }
        }
        self.free_trees_from(inode, keep, size)?;
        if keep > 0 && keep > NDADDR as u64 && !size.is_multiple_of(bsize) {
            // Zero the tail of the last (indirect-mapped) block.
            let lbn = keep - 1;
            let ext = self.extents(inode)?;
            if let Some(e) = ext
                .iter()
                .find(|e| e.lbn <= lbn && lbn < e.lbn + e.len.div_ceil(bsize))
            {
                let blk = Frag(e.addr.0 + ((lbn - e.lbn) << self.fs.geo.fragshift));
                let tail = size % bsize;
                // Less than one block.
                #[allow(clippy::cast_possible_truncation)]
                let z = vec![0u8; (bsize - tail) as usize];
                io::write_all(
                    self.fs.dev.as_mut(),
                    self.fs.geo.frag_offset(blk) + tail,
                    &z,
                )?;
            }
        }
        inode.set_size(size);
        Ok(())
    }

    /// Gives back every indirect-mapped block at or past logical block
    /// `keep`, and the indirect blocks left mapping nothing.
    fn free_trees_from(&mut self, inode: &mut Inode, keep: u64, _size: u64) -> Result<()> {
        let cut = bmap::Cut {
            spans: bmap::Spans::of(&self.fs.geo),
            fmt: bmap::PtrFormat::of(&self.fs.geo),
            keep: crate::units::Lbn(keep),
            counted: crate::units::Lbn(u64::MAX),
            prune: bmap::Prune::Empty,
        };
        for (level, _, _) in cut.spans.levels() {
            let top = usize::from(level) - 1;
            let a = inode.ib(top);
            if a == 0 {
                continue;
            }
            let mut freer = TreeFreer { fs: self, freed: 0 };
            let empty = bmap::cut_tree(&cut, a, level, &mut freer)?;
            let freed = freer.freed;
            self.add_blocks(inode, -i64::try_from(freed).unwrap_or(i64::MAX));
            if empty {
                inode.set_ib(top, 0);
            }
        }
        Ok(())
    }

    // ---- extended attributes -----------------------------------------------

    /// Sets (adds or replaces) an extended attribute (UFS2 only).
    pub fn set_xattr(&mut self, ino: Ino, ns: Namespace, name: &[u8], value: &[u8]) -> Result<()> {
        let inode = self.allocated_inode(ino)?;
        let mut attrs = self.xattrs(&inode)?;
        attrs.retain(|a| !(a.namespace == ns && a.name == name));
        attrs.push(Xattr {
            namespace: ns,
            name: name.to_vec(),
            value: value.to_vec(),
        });
        self.store_xattrs(inode, &attrs)
    }

    /// Removes an extended attribute; not finding it is an error.
    pub fn remove_xattr(&mut self, ino: Ino, ns: Namespace, name: &[u8]) -> Result<()> {
        let inode = self.allocated_inode(ino)?;
        let mut attrs = self.xattrs(&inode)?;
        let n = attrs.len();
        attrs.retain(|a| !(a.namespace == ns && a.name == name));
        if attrs.len() == n {
            return Err(Error::NotFound {
                path: format!("{}.{}", ns.prefix(), String::from_utf8_lossy(name)),
            });
        }
        self.store_xattrs(inode, &attrs)
    }

    fn clear_xattrs(&mut self, inode: &mut Inode) -> Result<()> {
        if inode.extsize() == 0 {
            return Ok(());
        }
        self.write_ext_area(inode, &[])
    }

    fn store_xattrs(&mut self, mut inode: Inode, attrs: &[Xattr]) -> Result<()> {
        if self.fs.geo.version != UfsVersion::Ufs2 {
            return Err(Error::Unsupported("extended attributes need UFS2".into()));
        }
        let area = xattr::encode(attrs, self.fs.geo.endian)?;
        if area.len() as u64 > NXADDR as u64 * self.fs.geo.bsize64() {
            return Err(Error::NoSpace(format!(
                "extended attributes need {} bytes; the area holds {}",
                area.len(),
                NXADDR as u64 * self.fs.geo.bsize64()
            )));
        }
        self.write_ext_area(&mut inode, &area)?;
        inode.set_ctime(self.now());
        inode.write(self.fs.dev.as_mut(), &self.fs.geo)
    }

    /// Replaces the extended-attribute area with `area`, reallocating its
    /// blocks with the fragment rules (`sblksize` on `di_extsize`).
    // Every cast is of a length or offset inside the area (at most
    // NXADDR blocks, checked by the caller) or a block's fragment count.
    #[allow(clippy::cast_possible_truncation)]
    fn write_ext_area(&mut self, inode: &mut Inode, area: &[u8]) -> Result<()> {
        self.begin()?;
        let bsize = self.fs.geo.bsize64();
        let old = u64::from(inode.extsize());
        let mut blocks = [inode.extb(0), inode.extb(1)];
        // Allocate the new blocks first so a failure changes nothing.
        let mut new_blocks = [0u64; 2];
        let mut taken: Vec<(Frag, u32)> = Vec::new();
        for (i, nb) in new_blocks.iter_mut().enumerate() {
            let start = i as u64 * bsize;
            if (area.len() as u64) <= start {
                continue;
            }
            let len = (area.len() as u64 - start).min(bsize);
            let frags = len.div_ceil(u64::from(self.fs.geo.fsize)) as u32;
            let pref = self.pref(inode, 0, true)?;
            match self.alloc_frags(pref, frags) {
                Ok(a) => {
                    let mut buf = vec![0u8; (frags << self.fs.geo.fshift) as usize];
                    buf[..len as usize]
                        .copy_from_slice(&area[start as usize..(start + len) as usize]);
                    io::write_all(self.fs.dev.as_mut(), self.fs.geo.frag_offset(a), &buf)?;
                    taken.push((a, frags));
                    *nb = a.0;
                }
                Err(e) => {
                    for (a, n) in taken {
                        self.free_frags(a, n)?;
                    }
                    return Err(e);
                }
            }
        }
        for (i, b) in blocks.iter_mut().enumerate() {
            if *b == 0 {
                continue;
            }
            let start = i as u64 * bsize;
            let len = old.saturating_sub(start).min(bsize);
            let frags = len.div_ceil(u64::from(self.fs.geo.fsize)).max(1) as u32;
            self.free_frags(Frag(*b), frags)?;
            self.add_blocks(inode, -i64::from(frags));
            *b = 0;
        }
        let added: u32 = taken.iter().map(|t| t.1).sum();
        self.add_blocks(inode, i64::from(added));
        inode.set_ext(area.len() as u32, new_blocks);
        Ok(())
    }
}

/// Which way [`Session::resize_block`] may change a direct block.
enum Fit {
    /// A write maps into the block: a hole is allocated, a smaller block
    /// grows, a block already as large stays. `meta` places a new block in
    /// the metadata zone; `covered` is the byte range of the block the
    /// caller writes next, which need not be zeroed first.
    Grow {
        meta: bool,
        covered: std::ops::Range<u64>,
    },
    /// The file's size now ends in the block: a larger block gives back
    /// the fragments past the ones asked for (truncation, and a tail made
    /// whole for a write that then wrote nothing); a hole stays a hole.
    Shrink,
}

/// One block a write needs mapped (and allocated if missing).
struct BlockReq {
    /// Logical block.
    lbn: u64,
    /// Fragments it must have.
    want: u32,
    /// The size the file's allocation corresponds to now.
    old_size: u64,
    /// Directory or other metadata (placed in the metadata zone).
    meta: bool,
    /// Bytes of the block the caller writes next (need no zeroing).
    covered: std::ops::Range<u64>,
}

use bmap::encode_pointers;

/// Gives back the blocks a truncation cuts from a tree, counting the
/// fragments for `di_blocks`.
struct TreeFreer<'f> {
    fs: &'f mut Session,
    freed: u64,
}

impl bmap::TreeEdit for TreeFreer<'_> {
    fn read(&mut self, addr: u64) -> Result<Option<Vec<u8>>> {
        let (dev, geo) = (self.fs.fs.dev.as_ref(), &self.fs.fs.geo);
        bmap::read_indirect_block(dev, geo, Ino(0), Frag(addr)).map(Some)
    }
    fn write(&mut self, addr: u64, block: &[u8]) -> Result<()> {
        let at = self.fs.fs.geo.frag_offset(Frag(addr));
        io::write_all(self.fs.fs.dev.as_mut(), at, block)
    }
    fn release(&mut self, addr: u64, _level: u8, _first: crate::units::Lbn) -> Result<()> {
        let frag = self.fs.fs.geo.frag;
        self.fs.free_frags(Frag(addr), frag)?;
        self.freed += u64::from(frag);
        Ok(())
    }
}

/// Indirect blocks read during one write, written back once at its end.
#[derive(Default)]
struct IndirectCache {
    blocks: HashMap<Frag, (Vec<u64>, bool)>,
}

impl IndirectCache {
    fn get(&mut self, fs: &Session, addr: Frag) -> Result<&Vec<u64>> {
        match self.blocks.entry(addr) {
            std::collections::hash_map::Entry::Occupied(e) => Ok(&e.into_mut().0),
            std::collections::hash_map::Entry::Vacant(v) => {
                let p = bmap::read_indirect(fs.fs.dev.as_ref(), &fs.fs.geo, Ino(0), addr)?;
                Ok(&v.insert((p, false)).0)
            }
        }
    }
    fn set(&mut self, fs: &Session, addr: Frag, k: usize, v: u64) -> Result<()> {
        self.get(fs, addr)?;
        if let Some(e) = self.blocks.get_mut(&addr) {
            if let Some(p) = e.0.get_mut(k) {
                *p = v;
                e.1 = true;
            }
        }
        Ok(())
    }
    fn flush(self, fs: &mut Session) -> Result<()> {
        for (addr, (ptrs, dirty)) in self.blocks {
            if dirty {
                let buf = encode_pointers(&fs.fs.geo, &ptrs);
                io::write_all(fs.fs.dev.as_mut(), fs.fs.geo.frag_offset(addr), &buf)?;
            }
        }
        Ok(())
    }
}
