//! `ufs extract`: copy a tree out of an image into a host directory.
//!
//! Safety model: nothing may be created outside DESTDIR, whatever the image
//! holds. Names come from validated directory entries (no `/`, no NUL; `.`
//! and `..` are never extracted). Every file and directory is created new
//! (`O_CREAT|O_EXCL`, `mkdir`), so an entry can never write through
//! something already there, and symbolic links are created only after all
//! files and directories exist, so no path the extractor writes through can
//! contain a link from the image. Directory modes and times are applied last,
//! deepest first.
//!
//! Owners are applied when running as root (unless `--no-same-owner`);
//! setuid and setgid bits are kept only when owners are, so a file never
//! becomes setuid to the wrong user. Device nodes need root too; without it
//! they are skipped with a warning.
//!
//! An item that cannot be extracted (a name already taken, a host limit
//! such as `File too large`, a file whose block tree is damaged) is named
//! on standard error with the reason, and the extraction goes on; the exit
//! status is 1 at the end, as tar and cp do.

use crate::output::{escape_name, fail, open_ro_search, resolve};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use ufskit::inode::Timespec;
use ufskit::xattr::Namespace;
use ufskit::{FileType, Follow, Ino, Inode, Ufs};

/// Arguments of `ufs extract`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Image file.
    pub image: PathBuf,
    /// Host directory to create the tree in (created if missing; must be empty).
    pub destdir: PathBuf,
    /// Directory or file in the image to extract (default: the whole tree).
    #[arg(default_value = "/")]
    pub path: String,
    /// Do not set owners even when running as root.
    #[arg(long)]
    pub no_same_owner: bool,
    /// Extract into a DESTDIR that is not empty (existing names still make
    /// the extraction fail rather than be overwritten).
    #[arg(long)]
    pub merge: bool,
    /// Print each path as it is extracted.
    #[arg(short, long)]
    pub verbose: bool,
    /// Do not restore extended attributes (by default UFS2 user-namespace
    /// attributes become Linux `user.NAME`; see docs/editing.md).
    #[arg(long)]
    pub no_xattrs: bool,
    /// Where to look for the superblock (`--search-sb`).
    #[command(flatten)]
    pub sb: crate::output::SearchSb,
}

/// Runs `ufs extract`.
pub fn run(a: Args) -> i32 {
    let fs = match open_ro_search(&a.image, None, a.sb) {
        Ok(fs) => fs,
        Err(c) => return c,
    };
    let mut x = Extractor::new(&fs, &a, crate::hostxattr::SUPPORTED);
    let r = x.run(&a);
    x.meter.clear();
    if let Some(w) =
        crate::hostxattr::extract_warning(x.host_xattrs, !a.no_xattrs, x.xattrs_dropped)
    {
        eprintln!("{w}");
    }
    match r {
        Ok(()) => {
            if x.warnings > 0 {
                eprintln!(
                    "ufs extract: {} item(s) skipped (see warnings above)",
                    x.warnings
                );
            }
            if x.failures > 0 {
                eprintln!(
                    "ufs extract: {} item(s) could not be extracted (see errors above)",
                    x.failures
                );
                return crate::EXIT_FAILURE;
            }
            0
        }
        Err(e) => fail(&format!("{}: extract", a.image.display()), &e),
    }
}

fn euid_is_root() -> bool {
    rustix::process::geteuid().is_root()
}

struct Extractor<'a> {
    fs: &'a Ufs,
    dest: PathBuf,
    owners: bool,
    root: bool,
    verbose: bool,
    /// Inodes with more than one link already extracted, and where.
    links: HashMap<Ino, PathBuf>,
    /// Symlinks to create at the end: (path, target, inode).
    symlinks: Vec<(PathBuf, Vec<u8>, Inode)>,
    /// Directories whose metadata is applied at the end.
    dirs: Vec<(PathBuf, Inode)>,
    warnings: u32,
    /// Items that could not be extracted (each named on stderr); the
    /// extraction goes on past them, as tar and cp do.
    failures: u32,
    buf: Vec<u8>,
    /// Entries extracted so far, on a terminal.
    meter: crate::progress::Meter,
    /// Restore extended attributes (off with --no-xattrs, and after the
    /// destination said it has none).
    xattrs: bool,
    /// Whether the host build can write extended attributes at all.
    host_xattrs: bool,
    /// Files whose user-namespace attributes were dropped because the host
    /// build has none (said once, at the end).
    xattrs_dropped: u64,
    done: u64,
}

#[derive(Debug)]
enum XError {
    Ufs(ufskit::Error),
    Host(PathBuf, io::Error),
}

impl std::fmt::Display for XError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            XError::Ufs(e) => write!(f, "{e}"),
            XError::Host(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

impl std::error::Error for XError {}

impl From<ufskit::Error> for XError {
    fn from(e: ufskit::Error) -> Self {
        XError::Ufs(e)
    }
}

fn host<T>(p: &Path, r: io::Result<T>) -> Result<T, XError> {
    r.map_err(|e| XError::Host(p.to_path_buf(), e))
}

impl<'a> Extractor<'a> {
    /// An extractor for `a` out of `fs`; `host_xattrs`: whether this host
    /// can write extended attributes.
    fn new(fs: &'a Ufs, a: &Args, host_xattrs: bool) -> Extractor<'a> {
        let root = euid_is_root();
        Extractor {
            fs,
            dest: a.destdir.clone(),
            owners: root && !a.no_same_owner,
            root,
            verbose: a.verbose,
            links: HashMap::new(),
            symlinks: Vec::new(),
            dirs: Vec::new(),
            warnings: 0,
            failures: 0,
            buf: vec![0u8; 1 << 20],
            meter: crate::progress::Meter::counter("entries", a.verbose),
            xattrs: !a.no_xattrs,
            host_xattrs,
            xattrs_dropped: 0,
            done: 0,
        }
    }

    fn run(&mut self, a: &Args) -> Result<(), XError> {
        let start = resolve(self.fs, &a.path, Follow::All)?;
        let inode = self.fs.allocated_inode(start)?;
        match fs::create_dir(&self.dest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let meta = host(&self.dest, fs::symlink_metadata(&self.dest))?;
                if !meta.is_dir() {
                    return Err(XError::Host(
                        self.dest.clone(),
                        io::Error::other("exists and is not a directory"),
                    ));
                }
                if !a.merge && host(&self.dest, fs::read_dir(&self.dest))?.next().is_some() {
                    return Err(XError::Host(
                        self.dest.clone(),
                        io::Error::other(
                            "directory is not empty (use --merge to extract into it anyway)",
                        ),
                    ));
                }
            }
            Err(e) => return Err(XError::Host(self.dest.clone(), e)),
        }
        if inode.is_dir() {
            let dest = self.dest.clone();
            let mut unreadable = Vec::new();
            self.fs.walk_past_damage(
                start,
                &mut |rel, _e, child| {
                    let path = dest.join(OsStr::from_bytes(rel));
                    let r = self.one(&path, rel, child);
                    self.failed(&path, r);
                    Ok(())
                },
                &mut |rel, e| unreadable.push((dest.join(OsStr::from_bytes(rel)), e)),
            )?;
            for (path, e) in unreadable {
                self.failed(&path, Err(XError::Ufs(e)));
            }
            let dest = self.dest.clone();
            self.check_dots(&dest, &inode)?;
            self.dirs.push((dest, inode));
        } else {
            let name = a
                .path
                .rsplit('/')
                .find(|c| !c.is_empty())
                .unwrap_or("file")
                .to_string();
            let path = self.dest.join(&name);
            let r = self.one(&path, name.as_bytes(), &inode);
            self.failed(&path, r);
        }
        self.finish();
        Ok(())
    }

    /// Reports a failed item (path and reason) and counts it.
    fn failed(&mut self, path: &Path, r: Result<(), XError>) {
        if let Err(e) = r {
            match e {
                // The host error already names its path.
                XError::Host(..) => eprintln!("ufs extract: {e}"),
                XError::Ufs(_) => eprintln!("ufs extract: {}: {e}", path.display()),
            }
            self.failures += 1;
        }
    }

    fn one(&mut self, path: &Path, rel: &[u8], inode: &Inode) -> Result<(), XError> {
        self.done += 1;
        self.meter.set(self.done);
        if self.verbose {
            println!("{}", escape_name(rel));
        }
        let t = inode.file_type();
        if t != FileType::Directory && inode.nlink() > 1 {
            if let Some(first) = self.links.get(&inode.ino) {
                return host(path, fs::hard_link(first, path));
            }
            self.links.insert(inode.ino, path.to_path_buf());
        }
        match t {
            FileType::Directory => {
                host(path, fs::create_dir(path))?;
                self.dirs.push((path.to_path_buf(), inode.clone()));
                self.check_dots(path, inode)
            }
            FileType::Regular => self.file(path, inode),
            FileType::Symlink => {
                let target = self.fs.readlink_inode(inode)?;
                self.symlinks
                    .push((path.to_path_buf(), target, inode.clone()));
                Ok(())
            }
            FileType::Fifo | FileType::CharDevice | FileType::BlockDevice | FileType::Socket => {
                self.special(path, inode)
            }
            FileType::Whiteout | FileType::Unknown => {
                self.warn(
                    path,
                    &format!(
                        "inode {} has no file type (mode {:o}); skipped",
                        inode.ino,
                        inode.mode()
                    ),
                );
                Ok(())
            }
        }
    }

    /// The walk never extracts entries named `.` or `..`; say so when a
    /// directory has such entries beyond its own two (a corrupt or hostile
    /// image hiding a file under those names), rather than drop it silently.
    fn check_dots(&mut self, path: &Path, inode: &Inode) -> Result<(), XError> {
        // A directory that cannot be read is reported by the walk.
        let Ok(entries) = self.fs.read_dir_inode(inode) else {
            return Ok(());
        };
        let dots = entries.iter().filter(|e| e.name == b".").count();
        let dotdots = entries.iter().filter(|e| e.name == b"..").count();
        let self_ok = entries.iter().any(|e| e.name == b"." && e.ino == inode.ino);
        if dots != 1 || dotdots != 1 || !self_ok {
            self.warn(
                path,
                &format!(
                    "directory inode {} has {dots} entries named '.' and {dotdots} named '..' \
                     (expected one each); those entries were not extracted",
                    inode.ino
                ),
            );
        }
        Ok(())
    }

    fn warn(&mut self, path: &Path, msg: &str) {
        eprintln!("ufs extract: {}: {msg}", path.display());
        self.warnings += 1;
    }

    fn perm(&self, inode: &Inode) -> u32 {
        let p = u32::from(inode.perm());
        if self.owners {
            p
        } else {
            p & !0o6000
        }
    }

    fn file(&mut self, path: &Path, inode: &Inode) -> Result<(), XError> {
        // A damaged block tree is named before anything is created.
        let extents = self.fs.extents(inode)?;
        let f = host(
            path,
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path),
        )?;
        let bsize = self.fs.geometry().bsize64();
        let size = inode.size();
        // Write only the extents: holes in the image stay holes on the host.
        for e in &extents {
            let start = e.lbn * bsize;
            let end = (start + e.len).min(size);
            let mut off = start;
            while off < end {
                let n = usize::try_from(end - off)
                    .unwrap_or(usize::MAX)
                    .min(self.buf.len());
                let got = self.fs.read_at(inode, &extents, off, &mut self.buf[..n])?;
                if got == 0 {
                    break;
                }
                host(path, f.write_all_at(&self.buf[..got], off))?;
                off += got as u64;
            }
        }
        // Only a file ending in a hole needs its size set: the writes above
        // already reached it otherwise (one syscall less per file).
        let written = extents
            .last()
            .map_or(0, |e| (e.lbn * bsize + e.len).min(size));
        if written != size {
            host(path, f.set_len(size))?;
        }
        self.apply_meta(path, Some(&f), inode)
    }

    fn special(&mut self, path: &Path, inode: &Inode) -> Result<(), XError> {
        use rustix::fs::{FileType as RT, Mode, CWD};
        let (kind, dev) = match inode.file_type() {
            FileType::Fifo => (RT::Fifo, 0),
            FileType::Socket => (RT::Socket, 0),
            FileType::CharDevice | FileType::BlockDevice => {
                if !self.root {
                    self.warn(path, "device node needs root; skipped");
                    return Ok(());
                }
                let (ma, mi) = ufskit::inode::dev_split(inode.rdev());
                let kind = if inode.file_type() == FileType::CharDevice {
                    RT::CharacterDevice
                } else {
                    RT::BlockDevice
                };
                (kind, rustix::fs::makedev(ma, mi))
            }
            _ => return Ok(()),
        };
        host(
            path,
            rustix::fs::mknodat(CWD, path, kind, Mode::from_raw_mode(0o600), dev)
                .map_err(io::Error::from),
        )?;
        self.apply_meta(path, None, inode)
    }

    /// Owner, mode and times; `file` when an open handle exists (avoids
    /// following anything by name).
    fn apply_meta(
        &mut self,
        path: &Path,
        file: Option<&File>,
        inode: &Inode,
    ) -> Result<(), XError> {
        // Before the mode: setting a user attribute needs write access.
        self.restore_xattrs(path, file, inode)?;
        if self.owners {
            let (u, g) = (Some(inode.uid()), Some(inode.gid()));
            match file {
                Some(f) => host(path, std::os::unix::fs::fchown(f, u, g))?,
                None => host(path, std::os::unix::fs::lchown(path, u, g))?,
            }
        }
        let mode = fs::Permissions::from_mode(self.perm(inode));
        match file {
            Some(f) => host(path, f.set_permissions(mode))?,
            None => host(path, fs::set_permissions(path, mode))?,
        }
        match file {
            Some(f) => host(
                path,
                rustix::fs::futimens(f, &timestamps(inode.atime(), inode.mtime()))
                    .map_err(io::Error::from),
            ),
            None => set_times(path, inode.atime(), inode.mtime()),
        }
    }

    /// Restores the inode's extended attributes on the host file: the UFS2
    /// user namespace's NAME as `user.NAME`. Other namespaces (FreeBSD's
    /// system namespace holds ACLs and MAC labels, whose Linux counterparts
    /// have other formats) are named in a warning, never written under
    /// another meaning. An attribute the host refuses is a warning: the
    /// file itself is extracted.
    fn restore_xattrs(
        &mut self,
        path: &Path,
        file: Option<&File>,
        inode: &Inode,
    ) -> Result<(), XError> {
        if !self.xattrs || inode.extsize() == 0 {
            return Ok(());
        }
        let mut dropped = false;
        for x in self.fs.xattrs(inode)? {
            let shown = format!("{}.{}", x.namespace.prefix(), escape_name(&x.name));
            if x.namespace != Namespace::User {
                self.warn(
                    path,
                    &format!(
                        "extended attribute {shown} not restored (only the user namespace is)"
                    ),
                );
                continue;
            }
            if !self.host_xattrs {
                // Counted, and said once at the end.
                dropped = true;
                continue;
            }
            let name = [b"user.".as_slice(), &x.name].concat();
            match crate::hostxattr::write(path, file, &name, &x.value) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOTSUP.raw_os_error()) => {
                    self.warn(
                        path,
                        &format!(
                            "extended attribute {shown} not restored: the destination has no \
                             extended attributes ({e}); no more are tried"
                        ),
                    );
                    self.xattrs = false;
                    return Ok(());
                }
                Err(e) => self.warn(
                    path,
                    &format!("extended attribute {shown} not restored: {e}"),
                ),
            }
        }
        self.xattrs_dropped += u64::from(dropped);
        Ok(())
    }

    /// Symbolic links, then directory metadata; each failure is reported
    /// and counted, and the rest still done.
    fn finish(&mut self) {
        for (path, target, inode) in std::mem::take(&mut self.symlinks) {
            let r = host(
                &path,
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &path),
            )
            .and_then(|()| {
                self.restore_xattrs(&path, None, &inode)?;
                if self.owners {
                    host(
                        &path,
                        std::os::unix::fs::lchown(&path, Some(inode.uid()), Some(inode.gid())),
                    )?;
                }
                set_times(&path, inode.atime(), inode.mtime())
            });
            self.failed(&path, r);
        }
        // Deepest first, so setting a parent's time is not undone by a child.
        let mut dirs = std::mem::take(&mut self.dirs);
        dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        for (path, inode) in dirs {
            let r = (|| {
                self.restore_xattrs(&path, None, &inode)?;
                if self.owners {
                    host(
                        &path,
                        std::os::unix::fs::lchown(&path, Some(inode.uid()), Some(inode.gid())),
                    )?;
                }
                host(
                    &path,
                    fs::set_permissions(&path, fs::Permissions::from_mode(self.perm(&inode))),
                )?;
                set_times(&path, inode.atime(), inode.mtime())
            })();
            self.failed(&path, r);
        }
    }
}

fn timestamps(atime: Timespec, mtime: Timespec) -> rustix::fs::Timestamps {
    let conv = |t: Timespec| rustix::fs::Timespec {
        tv_sec: t.sec,
        tv_nsec: i64::from(t.nsec) as _,
    };
    rustix::fs::Timestamps {
        last_access: conv(atime),
        last_modification: conv(mtime),
    }
}

fn set_times(path: &Path, atime: Timespec, mtime: Timespec) -> Result<(), XError> {
    use rustix::fs::{AtFlags, CWD};
    let ts = timestamps(atime, mtime);
    host(
        path,
        rustix::fs::utimensat(CWD, path, &ts, AtFlags::SYMLINK_NOFOLLOW).map_err(io::Error::from),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ufskit::{NewNode, OpenOptions, Session};

    /// On a host whose build has no extended attributes (FreeBSD today),
    /// the files holding user attributes are counted for the one warning
    /// at the end, and none is named per file; `--no-xattrs` counts none.
    #[test]
    fn a_host_without_xattrs_counts_the_files_that_lose_them() {
        let t = tempfile::tempdir().unwrap();
        let img = t.path().join("x.img");
        let bytes = ufskit::newfs::in_memory(8 << 20, &ufskit::NewfsOptions::default()).unwrap();
        std::fs::write(&img, bytes).unwrap();
        let mut s = Session::open_path(&img, OpenOptions::read_write()).unwrap();
        let node = NewNode {
            perm: 0o644,
            ..NewNode::default()
        };
        let plain = NewNode {
            perm: 0o755,
            ..NewNode::default()
        };
        let a = s.create(Ino::ROOT, b"a", FileType::Regular, &node).unwrap();
        let b = s.create(Ino::ROOT, b"b", FileType::Regular, &node).unwrap();
        s.create(Ino::ROOT, b"none", FileType::Regular, &node)
            .unwrap();
        let d = s.mkdir(Ino::ROOT, b"d", &plain).unwrap();
        for ino in [a, b, d] {
            s.set_xattr(ino, Namespace::User, b"k", b"v").unwrap();
        }
        s.set_xattr(a, Namespace::User, b"k2", b"v2").unwrap();
        s.close().unwrap();
        let fs = Ufs::open_path(&img, OpenOptions::read_only()).unwrap();
        for (no_xattrs, want) in [(false, 3), (true, 0)] {
            let dest = t.path().join(format!("out{no_xattrs}"));
            let args = Args {
                image: img.clone(),
                destdir: dest.clone(),
                path: "/".into(),
                no_same_owner: true,
                merge: false,
                verbose: false,
                no_xattrs,
                sb: crate::output::SearchSb::default(),
            };
            let mut x = Extractor::new(&fs, &args, false);
            x.run(&args).unwrap();
            assert_eq!(x.xattrs_dropped, want, "--no-xattrs {no_xattrs}");
            assert_eq!((x.warnings, x.failures), (0, 0));
            assert!(dest.join("a").is_file() && dest.join("d").is_dir());
            assert!(crate::hostxattr::read(&dest.join("a"))
                .unwrap()
                .user
                .is_empty());
        }
    }
}
