//! In-place editing commands: `put`, `mkdir`, `rm`, `mv`, `ln`, `chmod`,
//! `chown`, `touch`, `setfattr` and `getfattr`.
//!
//! Every command but `getfattr` opens the image read-write through
//! [`Editing`], a library write [`Session`] whose clean-flag protocol (see
//! docs/editing.md) is:
//!
//! * an image whose superblock says it is not clean (`fs_clean == 0`,
//!   `FS_UNCLEAN` or `FS_NEEDSFSCK`: mounted, crashed, or interrupted while
//!   being edited) is refused unless `--force`;
//! * the first change clears `fs_clean` on disk, and the final `sync`
//!   writes the allocation state and sets it again, so an interrupted edit
//!   leaves an image that says it needs fsck;
//! * with `--force` on an unclean image the flag is left cleared afterwards:
//!   the tree was not checked, so the image keeps saying so;
//! * an exclusive `flock` on the image keeps two `ufs` editors apart.
//!
//! Times the commands stamp (ctime, new nodes, changed directories, the
//! superblock's `fs_time`) come from `SOURCE_DATE_EPOCH` when set, from
//! 1000000000 with `--reproducible`, else from the clock.
//!
//! Several operands are processed in turn; a failing one is reported (one
//! line naming the image and the path) and the rest are still done; the
//! exit status is then 1. Usage errors exit with 2 before the image is
//! opened.

use crate::output::{escape_name, open_ro};
use std::ffi::OsString;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use ufskit::build::{CopyError, CopyEvent, CopyOptions, HostCopy};
use ufskit::inode::Timespec;
use ufskit::xattr::Namespace;
use ufskit::{Error, FileType, Follow, Ino, Inode, NewNode, OpenOptions, Session, SetAttr, Ufs};

/// The time `--reproducible` stamps without `SOURCE_DATE_EPOCH` (FreeBSD's
/// regression-test time, as `newfs -R` uses).
const REPRODUCIBLE_TIME: i64 = 1_000_000_000;

/// Options every editing command takes.
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// Edit even if the superblock says the file system is not clean (it
    /// stays marked unclean afterwards).
    #[arg(long)]
    pub force: bool,
    /// Stamp times from SOURCE_DATE_EPOCH, or 1000000000 when it is unset,
    /// instead of the clock (SOURCE_DATE_EPOCH alone has the same effect).
    #[arg(long)]
    pub reproducible: bool,
}

// ---- the editing session ----------------------------------------------------

/// A failure of one operand: the message after `ufs: IMAGE: PATH: `.
#[derive(Debug)]
struct Fail(String);

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail(describe(&e))
    }
}

/// The error without the path the library puts in front (the caller names
/// the whole path already).
fn describe(e: &Error) -> String {
    match e {
        Error::NotFound { .. } => "no such file or directory".into(),
        Error::Exists { .. } => "file exists".into(),
        Error::NotEmpty { .. } => "directory not empty".into(),
        Error::IsADirectory { .. } => "is a directory".into(),
        Error::NotADirectory { .. } => "not a directory".into(),
        other => other.to_string(),
    }
}

fn usage(cmd: &str, msg: &str) -> i32 {
    eprintln!("ufs {cmd}: {msg}");
    crate::EXIT_USAGE
}

/// The fixed time for this run, if any: `SOURCE_DATE_EPOCH`, else the
/// reproducible default when asked for.
fn fixed_time(reproducible: bool) -> Result<Option<Timespec>, String> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => {
            let sec = v
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds"))?;
            Ok(Some(Timespec { sec, nsec: 0 }))
        }
        Err(_) if reproducible => Ok(Some(Timespec {
            sec: REPRODUCIBLE_TIME,
            nsec: 0,
        })),
        Err(_) => Ok(None),
    }
}

/// An image opened for editing.
struct Editing {
    fs: Session,
    image: String,
    /// Holds the exclusive lock until the session ends.
    _lock: File,
    failed: bool,
    /// Times are fixed (reproducible run).
    fixed: bool,
}

impl Editing {
    fn open(image: &Path, common: &Common) -> Result<Editing, i32> {
        let shown = image.display().to_string();
        let err = |msg: &dyn std::fmt::Display| crate::output::fail(&shown, msg);
        let fixed = fixed_time(common.reproducible).map_err(|m| err(&m))?;
        let lock =
            File::open(crate::image::target(image).path).map_err(|e| err(&Error::Open(e)))?;
        // Other errors (locks not supported, as on some network file
        // systems) are no reason not to go on.
        if let Err(rustix::io::Errno::WOULDBLOCK) =
            rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        {
            return Err(err(&"the image is being edited by another process"));
        }
        let fs = crate::image::open_ufs(image, OpenOptions::read_write()).map_err(|e| err(&e))?;
        let started = if common.force {
            Session::new_forced(fs)
        } else {
            Session::new(fs)
        };
        let mut fs = started.map_err(|e| match e {
            Error::Unclean => err(&format!(
                "{e}; run `ufs fsck -y {shown}` first, or use --force"
            )),
            e => err(&e),
        })?;
        fs.set_fixed_time(fixed);
        Ok(Editing {
            fs,
            image: shown,
            _lock: lock,
            failed: false,
            fixed: fixed.is_some(),
        })
    }

    /// Reports a failed operand and remembers that the command failed.
    fn report(&mut self, path: &[u8], f: &Fail) {
        eprintln!("ufs: {}: {}: {}", self.image, escape_name(path), f.0);
        self.failed = true;
    }

    /// Runs `op`, reporting its failure for `path`.
    fn each(&mut self, path: &[u8], op: impl FnOnce(&mut Session) -> Result<(), Fail>) {
        if let Err(f) = op(&mut self.fs) {
            self.report(path, &f);
        }
    }

    /// Writes everything out and marks the image clean again (or, after a
    /// forced edit of an unclean image, leaves it marked unclean).
    fn finish(mut self) -> i32 {
        if let Err(e) = self.fs.sync() {
            return crate::output::fail(&self.image, &e);
        }
        if self.failed {
            crate::EXIT_FAILURE
        } else {
            0
        }
    }
}

/// Opens `image` for editing, lets `body` do the command's work on the
/// session (reporting each failed operand) and finishes it: the command's
/// exit code.
fn edit(image: &Path, common: &Common, body: impl FnOnce(&mut Editing)) -> i32 {
    let mut s = match Editing::open(image, common) {
        Ok(s) => s,
        Err(c) => return c,
    };
    body(&mut s);
    s.finish()
}

// ---- paths in the image -------------------------------------------------------

/// A path operand as bytes (UFS names are bytes).
fn bytes(p: &OsString) -> &[u8] {
    p.as_bytes()
}

/// Splits a path into its parent (looked up following symlinks) and last
/// name. The root has no name and is refused.
fn split(fs: &Ufs, path: &[u8]) -> Result<(Ino, Vec<u8>), Fail> {
    let trimmed = trim_slashes(path);
    let (dir, name) = match trimmed.iter().rposition(|&c| c == b'/') {
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => (&b""[..], trimmed),
    };
    if name.is_empty() {
        return Err(Fail("the root directory cannot be the operand".into()));
    }
    if name == b"." || name == b".." {
        return Err(Fail(
            "a path ending in '.' or '..' cannot be the operand".into(),
        ));
    }
    let parent = fs.lookup_bytes(dir, Follow::All)?;
    if !fs.allocated_inode(parent)?.is_dir() {
        return Err(Fail("not a directory".into()));
    }
    Ok((parent, name.to_vec()))
}

fn trim_slashes(path: &[u8]) -> &[u8] {
    let mut p = path;
    while p.len() > 1 && p.ends_with(b"/") {
        p = &p[..p.len() - 1];
    }
    if p == b"/" {
        &p[..0]
    } else {
        p
    }
}

/// The last component of a path (of the image or the host).
fn basename(path: &[u8]) -> Vec<u8> {
    let t = trim_slashes(path);
    t.rsplit(|&c| c == b'/').next().unwrap_or(t).to_vec()
}

/// Looks a path up; "no such file" is `None`.
fn lookup_opt(fs: &Ufs, path: &[u8], follow: Follow) -> Result<Option<Ino>, Error> {
    match fs.lookup_bytes(path, follow) {
        Ok(i) => Ok(Some(i)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether `path` names an existing directory (following symlinks).
fn existing_dir(fs: &Ufs, path: &[u8]) -> Result<Option<Ino>, Error> {
    match lookup_opt(fs, path, Follow::All) {
        Ok(Some(i)) if fs.allocated_inode(i)?.is_dir() => Ok(Some(i)),
        Ok(_) | Err(Error::NotADirectory { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Attributes of a node the commands create from nothing: owned by root,
/// in the parent directory's group (BSD semantics), times "now".
fn new_node(fs: &Ufs, parent: Ino, perm: u16) -> Result<NewNode, Error> {
    let gid = fs.allocated_inode(parent)?.gid();
    Ok(NewNode {
        perm,
        uid: 0,
        gid,
        ..Default::default()
    })
}

/// Removes a non-directory in the way of a new node; a directory there is
/// an error.
fn clear_way(fs: &mut Session, parent: Ino, name: &[u8]) -> Result<(), Fail> {
    Ok(ufskit::build::clear_way(fs, parent, name)?)
}

// ---- put ----------------------------------------------------------------------

/// Arguments of `ufs put`.
#[derive(clap::Args, Debug)]
// clap would print the operands as `<HOSTPATH... IMGPATH> <HOSTPATH... IMGPATH>...`.
#[command(override_usage = "ufs put [OPTIONS] IMAGE HOSTPATH... IMGPATH")]
pub struct PutArgs {
    /// Copy directories recursively.
    #[arg(short = 'r', short_alias = 'R')]
    pub recursive: bool,
    /// Print each path as it is copied.
    #[arg(short, long)]
    pub verbose: bool,
    /// Do not copy extended attributes (by default a host file's `user.*`
    /// attributes go to the UFS2 user namespace).
    #[arg(long)]
    pub no_xattrs: bool,
    /// Image file.
    pub image: PathBuf,
    /// Host files (and with -r directories) to copy, then the destination
    /// in the image: an existing directory to copy into, or the new name.
    #[arg(required = true, num_args = 2.., value_name = "PATH")]
    pub operands: Vec<OsString>,
    /// Common editing options.
    #[command(flatten)]
    pub common: Common,
}

/// Runs `ufs put`.
pub fn put(a: PutArgs) -> i32 {
    let Some((dest, sources)) = a.operands.split_last() else {
        return usage("put", "need HOSTPATH... IMGPATH");
    };
    edit(&a.image, &a.common, |s| {
        let dest = bytes(dest).to_vec();
        let into = match existing_dir(&s.fs, &dest) {
            Ok(d) => d,
            Err(e) => {
                s.report(&dest, &Fail::from(e));
                return;
            }
        };
        if into.is_none() && sources.len() > 1 {
            s.report(
                &dest,
                &Fail(
                    "copying several files needs an existing directory as the destination".into(),
                ),
            );
            return;
        }
        let mut p = HostCopy::new(CopyOptions {
            recursive: a.recursive,
            keep_owners: rustix::process::geteuid().is_root(),
            reproducible: s.fixed,
            xattrs: !a.no_xattrs,
        });
        let mut skipped = std::collections::BTreeSet::new();
        let verbose = a.verbose;
        let mut on = |e: CopyEvent<'_>| match e {
            CopyEvent::Copying(shown) if verbose => println!("{}", escape_name(shown)),
            CopyEvent::XattrNotCarried(name) => {
                skipped.insert(name.to_string());
            }
            CopyEvent::XattrNoRoom(name) => {
                skipped.insert(format!("user.{} (UFS1 has none)", escape_name(name)));
            }
            _ => {}
        };
        for src in sources {
            let src = Path::new(src);
            let (parent, name, shown) = match into {
                Some(d) => {
                    let name = basename(src.as_os_str().as_bytes());
                    let mut shown = trim_slashes(&dest).to_vec();
                    shown.push(b'/');
                    shown.extend_from_slice(&name);
                    (d, name, shown)
                }
                None => match split(&s.fs, &dest) {
                    Ok((d, n)) => (d, n, dest.clone()),
                    Err(f) => {
                        s.report(&dest, &f);
                        continue;
                    }
                },
            };
            if name.is_empty() || name == b"." || name == b".." {
                s.report(
                    src.as_os_str().as_bytes(),
                    &Fail("cannot tell what name to give it in the image".into()),
                );
                continue;
            }
            for (path, e) in p.copy(&mut s.fs, src, parent, &name, &shown, &mut on) {
                s.report(&path, &copy_fail(e));
            }
        }
        if !skipped.is_empty() {
            let names: Vec<_> = skipped.into_iter().collect();
            eprintln!(
                "ufs put: extended attributes not copied (only user.* has a UFS2 counterpart): {}",
                names.join(", ")
            );
        }
        // Directory attributes last (children were added after they were
        // set), deepest first.
        for (path, e) in p.finish(&mut s.fs) {
            s.report(&path, &copy_fail(e));
        }
    })
}

/// A failed copy in the words `put` reports it.
fn copy_fail(e: CopyError) -> Fail {
    Fail(match e {
        CopyError::Host(e) => e.to_string(),
        CopyError::Image(e) => describe(&e),
        CopyError::HostXattrs(e) => format!("extended attributes: {e}"),
        CopyError::Xattr(name, e) => format!("user.{}: {}", escape_name(&name), describe(&e)),
        CopyError::NotRecursive => "is a directory (use -r)".into(),
        CopyError::NotADirectory => "exists and is not a directory".into(),
        CopyError::Unsupported => "unsupported file type".into(),
        CopyError::TooDeep(n) => format!("tree deeper than {n} levels"),
    })
}

// ---- mkdir --------------------------------------------------------------------

/// Arguments of `ufs mkdir`.
#[derive(clap::Args, Debug)]
pub struct MkdirArgs {
    /// Create missing parents too; an existing directory is not an error.
    #[arg(short = 'p')]
    pub parents: bool,
    /// Permission bits of the new directories (octal or symbolic, from
    /// 0755; parents made by -p get 0755).
    #[arg(short = 'm', value_name = "MODE")]
    pub mode: Option<String>,
    /// Image file.
    pub image: PathBuf,
    /// Directories to create.
    #[arg(required = true)]
    pub paths: Vec<OsString>,
    /// Common editing options.
    #[command(flatten)]
    pub common: Common,
}

/// Runs `ufs mkdir`.
pub fn mkdir(a: MkdirArgs) -> i32 {
    let perm = match &a.mode {
        Some(m) => match parse_mode(m) {
            Ok(f) => f(0o755, true),
            Err(e) => return usage("mkdir", &e),
        },
        None => 0o755,
    };
    edit(&a.image, &a.common, |s| {
        for p in &a.paths {
            let path = bytes(p);
            s.each(path, |fs| {
                if a.parents {
                    mkdir_parents(fs, path, perm)
                } else {
                    let (parent, name) = split(fs, path)?;
                    fs.mkdir(parent, &name, &new_node(fs, parent, perm)?)?;
                    Ok(())
                }
            });
        }
    })
}

fn mkdir_parents(fs: &mut Session, path: &[u8], perm: u16) -> Result<(), Fail> {
    // New directories as `new_node` makes them: parents made on the way
    // get 0755.
    let attr = |parent: &Inode, last: bool| NewNode {
        perm: if last { perm } else { 0o755 },
        uid: 0,
        gid: parent.gid(),
        ..Default::default()
    };
    match fs.mkdir_p(path, attr) {
        Ok(_) => Ok(()),
        Err(Error::NotADirectory { path }) => Err(Fail(format!(
            "{}: exists and is not a directory",
            escape_name(path.as_bytes())
        ))),
        Err(e) => Err(e.into()),
    }
}

// ---- rm -----------------------------------------------------------------------

/// Arguments of `ufs rm`.
#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Remove directories and everything in them.
    #[arg(short = 'r', short_alias = 'R')]
    pub recursive: bool,
    /// Ignore paths that do not exist.
    #[arg(short = 'f')]
    pub force_missing: bool,
    /// Image file.
    pub image: PathBuf,
    /// Paths to remove (a final symlink is removed, not followed).
    #[arg(required = true)]
    pub paths: Vec<OsString>,
    /// Common editing options.
    #[command(flatten)]
    pub common: Common,
}

/// Runs `ufs rm`.
pub fn rm(a: RmArgs) -> i32 {
    edit(&a.image, &a.common, |s| {
        for p in &a.paths {
            let path = bytes(p);
            s.each(path, |fs| {
                let (parent, name) = match split(fs, path) {
                    Ok(x) => x,
                    Err(_)
                        if a.force_missing
                            && lookup_opt(fs, path, Follow::NotLast).ok() == Some(None) =>
                    {
                        return Ok(());
                    }
                    Err(f) => return Err(f),
                };
                let Some(ino) = fs.dir_lookup(parent, &name)? else {
                    return if a.force_missing {
                        Ok(())
                    } else {
                        Err(Fail("no such file or directory".into()))
                    };
                };
                if fs.allocated_inode(ino)?.is_dir() {
                    if !a.recursive {
                        return Err(Fail("is a directory (use -r)".into()));
                    }
                    Ok(fs.remove_tree(parent, &name)?)
                } else {
                    Ok(fs.unlink(parent, &name)?)
                }
            });
        }
    })
}

// ---- mv -----------------------------------------------------------------------

/// Arguments of `ufs mv`.
#[derive(clap::Args, Debug)]
pub struct MvArgs {
    /// Image file.
    pub image: PathBuf,
    /// What to move (a final symlink is moved, not followed).
    pub src: OsString,
    /// The new name, or an existing directory to move into.
    pub dst: OsString,
    /// Common editing options.
    #[command(flatten)]
    pub common: Common,
}

/// Runs `ufs mv`.
pub fn mv(a: MvArgs) -> i32 {
    edit(&a.image, &a.common, |s| {
        let (src, dst) = (bytes(&a.src), bytes(&a.dst));
        let mut blame = src.to_vec();
        let r = (|| {
            let fs = &mut s.fs;
            let (sp, sname) = split(fs, src)?;
            let sino = fs
                .dir_lookup(sp, &sname)?
                .ok_or_else(|| Fail("no such file or directory".into()))?;
            blame = dst.to_vec();
            let (dp, dname) = match existing_dir(fs, dst)? {
                Some(d) if d != sino => (d, sname.clone()),
                _ => split(fs, dst)?,
            };
            fs.rename(sp, &sname, dp, &dname)?;
            Ok(())
        })();
        if let Err(f) = r {
            s.report(&blame, &f);
        }
    })
}

// ---- ln -----------------------------------------------------------------------

/// Arguments of `ufs ln`.
#[derive(clap::Args, Debug)]
pub struct LnArgs {
    /// Make a symbolic link (TARGET is stored as given).
    #[arg(short = 's')]
    pub symbolic: bool,
    /// Replace an existing non-directory at LINKPATH.
    #[arg(short = 'f')]
    pub replace: bool,
    /// Image file.
    pub image: PathBuf,
    /// What the link points to (for a hard link, an existing
    /// non-directory; a final symlink is linked, not followed).
    pub target: OsString,
    /// The new link, or an existing directory to make it in.
    pub linkpath: OsString,
    /// Common editing options.
    #[command(flatten)]
    pub common: Common,
}

/// Runs `ufs ln`.
pub fn ln(a: LnArgs) -> i32 {
    edit(&a.image, &a.common, |s| {
        let (target, linkpath) = (bytes(&a.target), bytes(&a.linkpath));
        let mut blame = linkpath.to_vec();
        let r = (|| {
            let fs = &mut s.fs;
            let (parent, name) = match existing_dir(fs, linkpath)? {
                Some(d) => (d, basename(target)),
                None => split(fs, linkpath)?,
            };
            if name.is_empty() || name == b"." || name == b".." {
                return Err(Fail("cannot tell what name to give the link".into()));
            }
            if a.symbolic {
                if a.replace {
                    clear_way(fs, parent, &name)?;
                }
                // 0777 like the image's other links (FreeBSD's umask does not
                // apply to an offline edit); the mode of a link is not used.
                let attr = new_node(fs, parent, 0o777)?;
                fs.symlink(parent, &name, target, &attr)?;
            } else {
                blame = target.to_vec();
                let t = fs.lookup_bytes(target, Follow::NotLast)?;
                if fs.allocated_inode(t)?.is_dir() {
                    return Err(Fail(
                        "is a directory (hard links to directories are not allowed)".into(),
                    ));
                }
                blame = linkpath.to_vec();
                if a.replace && fs.dir_lookup(parent, &name)? != Some(t) {
                    clear_way(fs, parent, &name)?;
                }
                fs.link(parent, &name, t)?;
            }
            Ok(())
        })();
        if let Err(f) = r {
            s.report(&blame, &f);
        }
    })
}

// ---- chmod --------------------------------------------------------------------

/// Arguments of `ufs chmod`.
#[derive(clap::Args, Debug)]
pub struct ChmodArgs {
    /// Change a symbolic link itself, not what it points to.
    #[arg(long = "no-dereference")]
    pub no_follow: bool,
    /// Image file.
    pub image: PathBuf,
    /// Octal (`0644`, `4755`) or symbolic (`u+x`, `go-w`, `a=rX,u+s`) mode.
    pub mode: String,
    /// Paths to change.
    #[arg(required = true)]
    pub paths: Vec<OsString>,
    /// Common editing options.
    #[command(flatten)]
    pub common: Common,
}

/// Computes a new permission set from the old one and "is a directory".
type ModeFn = Box<dyn Fn(u16, bool) -> u16>;

/// Parses an octal or symbolic mode (chmod(1) syntax, without the umask:
/// a missing "who" means all).
fn parse_mode(s: &str) -> Result<ModeFn, String> {
    let bad = || format!("invalid mode '{s}' (octal like 0644, or symbolic like u+x,go-w)");
    if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) {
        let v = u16::from_str_radix(s, 8).map_err(|_| bad())?;
        if v > 0o7777 {
            return Err(bad());
        }
        return Ok(Box::new(move |_, _| v));
    }
    // [ugoa]*([-+=]([rwxXst]*|[ugo]))+ , ...
    type Clause = (u16, Vec<(u8, Perm)>);
    enum Perm {
        Bits(u16, bool),
        Copy(u8),
    }
    let mut clauses: Vec<Clause> = Vec::new();
    for clause in s.split(',') {
        let b = clause.as_bytes();
        let mut i = 0;
        let mut who = 0u16;
        while i < b.len() && b"ugoa".contains(&b[i]) {
            who |= match b[i] {
                b'u' => 0o4700,
                b'g' => 0o2070,
                b'o' => 0o1007,
                _ => 0o7777,
            };
            i += 1;
        }
        if who == 0 {
            who = 0o7777;
        }
        let mut ops = Vec::new();
        if i >= b.len() {
            return Err(bad());
        }
        while i < b.len() {
            let op = b[i];
            if !b"+-=".contains(&op) {
                return Err(bad());
            }
            i += 1;
            if i < b.len() && b"ugo".contains(&b[i]) {
                ops.push((op, Perm::Copy(b[i])));
                i += 1;
                continue;
            }
            let mut bits = 0u16;
            let mut cap_x = false;
            while i < b.len() && b"rwxXst".contains(&b[i]) {
                match b[i] {
                    b'r' => bits |= 0o444,
                    b'w' => bits |= 0o222,
                    b'x' => bits |= 0o111,
                    b'X' => cap_x = true,
                    b's' => bits |= 0o6000,
                    _ => bits |= 0o1000,
                }
                i += 1;
            }
            ops.push((op, Perm::Bits(bits, cap_x)));
        }
        clauses.push((who, ops));
    }
    Ok(Box::new(move |old, is_dir| {
        let mut m = old & 0o7777;
        for (who, ops) in &clauses {
            for (op, p) in ops {
                let bits = match p {
                    Perm::Bits(bits, cap_x) => {
                        let x = if *cap_x && (is_dir || m & 0o111 != 0) {
                            0o111
                        } else {
                            0
                        };
                        (bits | x) & who
                    }
                    Perm::Copy(c) => {
                        let v = match c {
                            b'u' => (m >> 6) & 7,
                            b'g' => (m >> 3) & 7,
                            _ => m & 7,
                        };
                        (v << 6 | v << 3 | v) & who & 0o777
                    }
                };
                match op {
                    b'+' => m |= bits,
                    b'-' => m &= !bits,
                    _ => {
                        // `=` clears what "who" covers (set-id bits only for u/g).
                        m &= !(who & 0o777 | who & 0o7000);
                        m |= bits;
                    }
                }
            }
        }
        m
    }))
}

/// Runs `ufs chmod`.
pub fn chmod(a: ChmodArgs) -> i32 {
    let f = match parse_mode(&a.mode) {
        Ok(f) => f,
        Err(e) => return usage("chmod", &e),
    };
    let follow = if a.no_follow {
        Follow::NotLast
    } else {
        Follow::All
    };
    edit(&a.image, &a.common, |s| {
        for p in &a.paths {
            s.each(bytes(p), |fs| {
                let ino = fs.lookup_bytes(bytes(p), follow)?;
                let i = fs.allocated_inode(ino)?;
                let perm = f(i.perm(), i.is_dir());
                fs.set_attr(
                    ino,
                    &SetAttr {
                        perm: Some(perm),
                        ..Default::default()
                    },
                )?;
                Ok(())
            });
        }
    })
}

// ---- chown --------------------------------------------------------------------

/// Arguments of `ufs chown`.
#[derive(clap::Args, Debug)]
pub struct ChownArgs {
    /// Change a symbolic link itself, not what it points to.
    #[arg(long = "no-dereference")]
    pub no_follow: bool,
    /// Image file.
    pub image: PathBuf,
    /// `USER`, `USER:GROUP` or `:GROUP`: numbers, or names from the
    /// image's /etc/passwd and /etc/group.
    pub owner: String,
    /// Paths to change.
    #[arg(required = true)]
    pub paths: Vec<OsString>,
    /// Common editing options.
    #[command(flatten)]
    pub common: Common,
}

/// Looks a user or group name up in one of the image's colon-separated
/// databases (/etc/passwd, /etc/group): the id in field 3.
fn id_from_image(fs: &Ufs, db: &str, name: &str) -> Option<u32> {
    let ino = fs.lookup(db, Follow::All).ok()?;
    let data = fs.read_all(ino).ok()?;
    String::from_utf8_lossy(&data).lines().find_map(|l| {
        let mut f = l.split(':');
        if f.next()? != name {
            return None;
        }
        f.nth(1)?.parse().ok()
    })
}

fn resolve_id(fs: &Ufs, db: &str, s: &str) -> Result<u32, Fail> {
    if let Ok(n) = s.parse::<u32>() {
        return Ok(n);
    }
    if let Some(n) = id_from_image(fs, db, s) {
        return Ok(n);
    }
    match (db, s) {
        (_, "root") | ("/etc/group", "wheel") => Ok(0),
        _ => Err(Fail(format!(
            "unknown {} '{s}' (not a number, and not in the image's {db})",
            if db == "/etc/group" { "group" } else { "user" }
        ))),
    }
}

/// Runs `ufs chown`.
pub fn chown(a: ChownArgs) -> i32 {
    let (user, group) = match a.owner.split_once(':') {
        Some((u, g)) => (u.to_string(), Some(g.to_string())),
        None => (a.owner.clone(), None),
    };
    if user.is_empty() && group.as_deref().unwrap_or("").is_empty() {
        return usage(
            "chown",
            &format!("invalid owner '{}' (USER, USER:GROUP or :GROUP)", a.owner),
        );
    }
    let follow = if a.no_follow {
        Follow::NotLast
    } else {
        Follow::All
    };
    // Not `edit`: a name that does not resolve is a usage error, and the
    // image, not written to yet, is left as it was.
    let mut s = match Editing::open(&a.image, &a.common) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let ids = (|| -> Result<(Option<u32>, Option<u32>), Fail> {
        let uid = if user.is_empty() {
            None
        } else {
            Some(resolve_id(&s.fs, "/etc/passwd", &user)?)
        };
        let gid = match group.as_deref() {
            None | Some("") => None,
            Some(g) => Some(resolve_id(&s.fs, "/etc/group", g)?),
        };
        Ok((uid, gid))
    })();
    let (uid, gid) = match ids {
        Ok(x) => x,
        Err(f) => {
            eprintln!("ufs chown: {}", f.0);
            drop(s);
            return crate::EXIT_USAGE;
        }
    };
    for p in &a.paths {
        s.each(bytes(p), |fs| {
            let ino = fs.lookup_bytes(bytes(p), follow)?;
            fs.set_attr(
                ino,
                &SetAttr {
                    uid,
                    gid,
                    ..Default::default()
                },
            )?;
            Ok(())
        });
    }
    s.finish()
}

// ---- touch --------------------------------------------------------------------

/// Arguments of `ufs touch`.
#[derive(clap::Args, Debug)]
pub struct TouchArgs {
    /// Use this time (UTC): `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.frac]][Z]`
    /// (a space may replace the T), or `@SECONDS`.
    #[arg(short = 'd', value_name = "TIME", conflicts_with_all = ["stamp", "epoch"])]
    pub date: Option<String>,
    /// Use this time (UTC), touch(1) style: `[[CC]YY]MMDDhhmm[.SS]`.
    #[arg(short = 't', value_name = "STAMP", conflicts_with = "epoch")]
    pub stamp: Option<String>,
    /// Use this time: seconds since the epoch (may be negative, may have a
    /// fraction).
    #[arg(long, value_name = "SECS", allow_hyphen_values = true)]
    pub epoch: Option<String>,
    /// Change only the access time.
    #[arg(short = 'a')]
    pub access: bool,
    /// Change only the modification time.
    #[arg(short = 'm')]
    pub modification: bool,
    /// Do not create missing files.
    #[arg(short = 'c')]
    pub no_create: bool,
    /// Image file.
    pub image: PathBuf,
    /// Files to touch (created empty, mode 0644, when missing).
    #[arg(required = true)]
    pub paths: Vec<OsString>,
    /// Common editing options.
    #[command(flatten)]
    pub common: Common,
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Hinnant).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d == 0
        || d > mdays[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || s > 60
    {
        return None;
    }
    Some(
        days_from_civil(y, mo, d) * 86_400
            + i64::from(h) * 3600
            + i64::from(mi) * 60
            + i64::from(s),
    )
}

/// Seconds with an optional fraction: `-12.5` → (-13, 500000000).
fn parse_seconds(s: &str) -> Option<Timespec> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    let sec: i64 = int.parse().ok()?;
    if frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut nsec: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    let mut sec = sec;
    if int.starts_with('-') && nsec > 0 {
        sec -= 1;
        nsec = 1_000_000_000 - nsec;
    }
    Some(Timespec { sec, nsec })
}

/// `-d`: ISO 8601-ish date and time in UTC, or `@SECONDS`.
fn parse_date(s: &str) -> Option<Timespec> {
    if let Some(rest) = s.strip_prefix('@') {
        return parse_seconds(rest);
    }
    let s = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix("+00:00"))
        .unwrap_or(s);
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut dp = date.splitn(3, '-');
    let y: i64 = dp.next()?.parse().ok()?;
    let mo: u32 = dp.next()?.parse().ok()?;
    let d: u32 = dp.next()?.parse().ok()?;
    let (mut h, mut mi, mut sec, mut nsec) = (0, 0, 0, 0);
    if let Some(t) = time {
        let mut tp = t.splitn(3, ':');
        h = tp.next()?.parse().ok()?;
        mi = tp.next()?.parse().ok()?;
        if let Some(sp) = tp.next() {
            let ts = parse_seconds(sp)?;
            sec = u32::try_from(ts.sec).ok()?;
            nsec = ts.nsec;
        }
    }
    Some(Timespec {
        sec: civil(y, mo, d, h, mi, sec)?,
        nsec,
    })
}

/// `-t`: `[[CC]YY]MMDDhhmm[.SS]` in UTC; `now_year` fills a missing year.
fn parse_stamp(s: &str, now_year: i64) -> Option<Timespec> {
    let (main, ss) = match s.split_once('.') {
        Some((m, x)) if x.len() == 2 => (m, x.parse::<u32>().ok()?),
        Some(_) => return None,
        None => (s, 0),
    };
    if !main.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| main.get(r).and_then(|x| x.parse::<u32>().ok());
    let (y, rest) = match main.len() {
        8 => (now_year, 0),
        10 => {
            let yy = i64::from(num(0..2)?);
            // POSIX: 69-99 are 19xx, 00-68 are 20xx.
            (if yy >= 69 { 1900 + yy } else { 2000 + yy }, 2)
        }
        12 => (i64::from(num(0..4)?), 4),
        _ => return None,
    };
    let mo = num(rest..rest + 2)?;
    let d = num(rest + 2..rest + 4)?;
    let h = num(rest + 4..rest + 6)?;
    let mi = num(rest + 6..rest + 8)?;
    Some(Timespec {
        sec: civil(y, mo, d, h, mi, ss)?,
        nsec: 0,
    })
}

/// Runs `ufs touch`.
pub fn touch(a: TouchArgs) -> i32 {
    let now_year = {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        crate::output::format_time(secs)[..4]
            .parse::<i64>()
            .unwrap_or(1970)
    };
    let given = match (&a.date, &a.stamp, &a.epoch) {
        (Some(d), _, _) => match parse_date(d) {
            Some(t) => Some(t),
            None => {
                return usage(
                    "touch",
                    &format!("invalid time '{d}' (YYYY-MM-DD[THH:MM[:SS[.frac]]][Z] or @SECONDS)"),
                )
            }
        },
        (_, Some(t), _) => match parse_stamp(t, now_year) {
            Some(t) => Some(t),
            None => {
                return usage(
                    "touch",
                    &format!("invalid time stamp '{t}' ([[CC]YY]MMDDhhmm[.SS])"),
                )
            }
        },
        (_, _, Some(e)) => match parse_seconds(e) {
            Some(t) => Some(t),
            None => return usage("touch", &format!("invalid number of seconds '{e}'")),
        },
        _ => None,
    };
    let (set_a, set_m) = match (a.access, a.modification) {
        (false, false) => (true, true),
        x => x,
    };
    edit(&a.image, &a.common, |s| {
        for p in &a.paths {
            let path = bytes(p);
            s.each(path, |fs| {
                let t = given.unwrap_or_else(|| fs.now());
                let ino = match lookup_opt(fs, path, Follow::All)? {
                    Some(i) => i,
                    None if a.no_create => return Ok(()),
                    None => {
                        let (parent, name) = split(fs, path)?;
                        let mut attr = new_node(fs, parent, 0o644)?;
                        attr.atime = Some(t);
                        attr.mtime = Some(t);
                        fs.create(parent, &name, FileType::Regular, &attr)?;
                        return Ok(());
                    }
                };
                let attr = SetAttr {
                    atime: set_a.then_some(t),
                    mtime: set_m.then_some(t),
                    ..Default::default()
                };
                fs.set_attr(ino, &attr)?;
                Ok(())
            });
        }
    })
}

// ---- setfattr / getfattr ------------------------------------------------------

/// Arguments of `ufs setfattr`.
#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["name", "remove"]))]
pub struct SetfattrArgs {
    /// Attribute to set: `user.NAME` or `system.NAME`.
    #[arg(short = 'n', value_name = "NAME")]
    pub name: Option<String>,
    /// Value: text (surrounding double quotes are removed), `0x` + hex, or
    /// `0s` + base64. Default: empty.
    #[arg(
        short = 'v',
        value_name = "VALUE",
        requires = "name",
        allow_hyphen_values = true
    )]
    pub value: Option<OsString>,
    /// Attribute to remove.
    #[arg(short = 'x', value_name = "NAME", conflicts_with = "name")]
    pub remove: Option<String>,
    /// Change a symbolic link itself, not what it points to.
    #[arg(long = "no-dereference")]
    pub no_follow: bool,
    /// Image file.
    pub image: PathBuf,
    /// Path in the image.
    pub path: OsString,
    /// Common editing options.
    #[command(flatten)]
    pub common: Common,
}

/// `user.NAME` / `system.NAME` into the namespace and name bytes.
fn parse_attr_name(s: &str) -> Result<(Namespace, Vec<u8>), String> {
    let (ns, name) = match s.split_once('.') {
        Some(("user", n)) => (Namespace::User, n),
        Some(("system", n)) => (Namespace::System, n),
        _ => {
            return Err(format!(
                "invalid attribute name '{s}' (user.NAME or system.NAME)"
            ))
        }
    };
    if name.is_empty() || name.len() > 255 || name.contains('\0') {
        return Err(format!(
            "invalid attribute name '{s}' (1 to 255 bytes after the namespace)"
        ));
    }
    Ok((ns, name.as_bytes().to_vec()))
}

fn parse_value(v: &[u8]) -> Result<Vec<u8>, String> {
    if let Some(hex) = v.strip_prefix(b"0x").or_else(|| v.strip_prefix(b"0X")) {
        if hex.len() % 2 != 0 {
            return Err("hex value has an odd number of digits".into());
        }
        return hex
            .chunks(2)
            .map(|p| {
                std::str::from_utf8(p)
                    .ok()
                    .and_then(|s| u8::from_str_radix(s, 16).ok())
                    .ok_or_else(|| "invalid hex value".to_string())
            })
            .collect();
    }
    if let Some(b64) = v.strip_prefix(b"0s").or_else(|| v.strip_prefix(b"0S")) {
        return ufskit::xattr::base64_decode(b64).ok_or_else(|| "invalid base64 value".to_string());
    }
    if v.len() >= 2 && v.starts_with(b"\"") && v.ends_with(b"\"") {
        return Ok(v[1..v.len() - 1].to_vec());
    }
    Ok(v.to_vec())
}

/// Runs `ufs setfattr`.
pub fn setfattr(a: SetfattrArgs) -> i32 {
    let op = match (&a.name, &a.remove) {
        (Some(n), _) => match parse_attr_name(n) {
            Ok((ns, name)) => {
                let v = a.value.as_ref().map(|v| v.as_bytes()).unwrap_or(b"");
                match parse_value(v) {
                    Ok(v) => (ns, name, Some(v)),
                    Err(e) => return usage("setfattr", &e),
                }
            }
            Err(e) => return usage("setfattr", &e),
        },
        (None, Some(n)) => match parse_attr_name(n) {
            Ok((ns, name)) => (ns, name, None),
            Err(e) => return usage("setfattr", &e),
        },
        (None, None) => return usage("setfattr", "need -n NAME or -x NAME"),
    };
    let follow = if a.no_follow {
        Follow::NotLast
    } else {
        Follow::All
    };
    edit(&a.image, &a.common, |s| {
        let path = bytes(&a.path);
        s.each(path, |fs| {
            let ino = fs.lookup_bytes(path, follow)?;
            let (ns, name, value) = &op;
            match value {
                Some(v) => fs.set_xattr(ino, *ns, name, v)?,
                None => fs.remove_xattr(ino, *ns, name).map_err(|e| match e {
                    Error::NotFound { .. } => Fail(format!(
                        "{}.{}: no such attribute",
                        ns.prefix(),
                        escape_name(name)
                    )),
                    e => e.into(),
                })?,
            }
            Ok(())
        });
    })
}

/// Arguments of `ufs getfattr`.
#[derive(clap::Args, Debug)]
pub struct GetfattrArgs {
    /// Print values too, not just names.
    #[arg(short = 'd')]
    pub dump: bool,
    /// Print only this attribute (`user.NAME`), with its value.
    #[arg(short = 'n', value_name = "NAME")]
    pub name: Option<String>,
    /// Print values only, raw, without names or quoting (with -n).
    #[arg(long, requires = "name")]
    pub only_values: bool,
    /// Look at a symbolic link itself, not what it points to.
    #[arg(long = "no-dereference")]
    pub no_follow: bool,
    /// Image file.
    pub image: PathBuf,
    /// Path in the image.
    pub path: OsString,
}

/// A value the way getfattr prints it: quoted text when it is printable,
/// else `0x` and hex.
fn show_value(v: &[u8]) -> String {
    match std::str::from_utf8(v) {
        Ok(s) if !s.chars().any(char::is_control) => {
            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
        }
        _ => {
            let mut out = String::from("0x");
            for b in v {
                out.push_str(&format!("{b:02x}"));
            }
            out
        }
    }
}

/// Runs `ufs getfattr`.
pub fn getfattr(a: GetfattrArgs) -> i32 {
    let want = match a.name.as_deref().map(parse_attr_name).transpose() {
        Ok(w) => w,
        Err(e) => return usage("getfattr", &e),
    };
    let fs = match open_ro(&a.image, None) {
        Ok(fs) => fs,
        Err(c) => return c,
    };
    let path = bytes(&a.path);
    let follow = if a.no_follow {
        Follow::NotLast
    } else {
        Follow::All
    };
    let r = (|| -> Result<Vec<ufskit::xattr::Xattr>, Fail> {
        let ino = fs.lookup_bytes(path, follow)?;
        let inode = fs.allocated_inode(ino)?;
        Ok(fs.xattrs(&inode)?)
    })();
    let attrs = match r {
        Ok(x) => x,
        Err(f) => {
            eprintln!("ufs: {}: {}: {}", a.image.display(), escape_name(path), f.0);
            return crate::EXIT_FAILURE;
        }
    };
    let mut out = String::new();
    if let Some((ns, name)) = &want {
        let Some(x) = attrs.iter().find(|x| x.namespace == *ns && x.name == *name) else {
            eprintln!(
                "ufs: {}: {}: {}.{}: no such attribute",
                a.image.display(),
                escape_name(path),
                ns.prefix(),
                escape_name(name)
            );
            return crate::EXIT_FAILURE;
        };
        if a.only_values {
            use std::io::Write;
            let mut o = std::io::stdout().lock();
            return match o.write_all(&x.value).and_then(|()| o.flush()) {
                Ok(()) => 0,
                Err(e) => crate::output::fail("writing output", &e),
            };
        }
        out.push_str(&format!("# file: {}\n", escape_name(path)));
        out.push_str(&format!(
            "{}.{}={}\n\n",
            ns.prefix(),
            escape_name(name),
            show_value(&x.value)
        ));
    } else if !attrs.is_empty() {
        out.push_str(&format!("# file: {}\n", escape_name(path)));
        let mut sorted: Vec<_> = attrs.iter().collect();
        sorted.sort_by(|x, y| (x.namespace, &x.name).cmp(&(y.namespace, &y.name)));
        for x in sorted {
            out.push_str(&format!(
                "{}.{}",
                x.namespace.prefix(),
                escape_name(&x.name)
            ));
            if a.dump {
                out.push('=');
                out.push_str(&show_value(&x.value));
            }
            out.push('\n');
        }
        out.push('\n');
    }
    print!("{out}");
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        let m = |s: &str, old: u16, dir: bool| parse_mode(s).map(|f| f(old, dir)).unwrap_or(0xffff);
        assert_eq!(m("644", 0o777, false), 0o644);
        assert_eq!(m("4755", 0, false), 0o4755);
        assert_eq!(m("u+x", 0o644, false), 0o744);
        assert_eq!(m("go-w", 0o666, false), 0o644);
        assert_eq!(m("a=rX", 0o700, true), 0o555);
        assert_eq!(m("a=rX", 0o600, false), 0o444);
        assert_eq!(m("u+s,+t", 0o755, false), 0o5755);
        assert_eq!(m("o=u", 0o750, false), 0o757);
        assert_eq!(m("=", 0o4755, false), 0);
        assert!(parse_mode("u+q").is_err());
        assert!(parse_mode("8").is_err());
        assert!(parse_mode("17777").is_err());
        assert!(parse_mode("").is_err());
    }

    #[test]
    fn times() {
        assert_eq!(parse_date("1970-01-01").map(|t| t.sec), Some(0));
        assert_eq!(
            parse_date("2001-09-09T01:46:40Z").map(|t| t.sec),
            Some(1_000_000_000)
        );
        assert_eq!(
            parse_date("2001-09-09 01:46:40.5").map(|t| (t.sec, t.nsec)),
            Some((1_000_000_000, 500_000_000))
        );
        assert_eq!(
            parse_date("1969-07-20T20:17:40").map(|t| t.sec),
            Some(-14_182_940)
        );
        assert_eq!(
            parse_date("@-1.25").map(|t| (t.sec, t.nsec)),
            Some((-2, 750_000_000))
        );
        assert!(parse_date("2001-02-29").is_none());
        assert_eq!(
            parse_stamp("200109090146.40", 0).map(|t| t.sec),
            Some(1_000_000_000)
        );
        assert_eq!(
            parse_stamp("0109090146.40", 0).map(|t| t.sec),
            Some(1_000_000_000)
        );
        assert_eq!(
            parse_stamp("09090146.40", 2001).map(|t| t.sec),
            Some(1_000_000_000)
        );
        assert!(parse_stamp("0909014", 2001).is_none());
    }

    #[test]
    fn values_and_names() {
        assert_eq!(parse_value(b"0x00ff"), Ok(vec![0, 255]));
        assert_eq!(parse_value(b"\"a b\""), Ok(b"a b".to_vec()));
        assert_eq!(parse_value(b"0saGVsbG8="), Ok(b"hello".to_vec()));
        assert!(parse_value(b"0x0").is_err());
        assert_eq!(
            parse_attr_name("user.a.b"),
            Ok((Namespace::User, b"a.b".to_vec()))
        );
        assert!(parse_attr_name("trusted.x").is_err());
        assert_eq!(show_value(b"blue"), "\"blue\"");
        assert_eq!(show_value(&[0, 1]), "0x0001");
    }

    #[test]
    fn paths() {
        assert_eq!(trim_slashes(b"/a/b//"), b"/a/b");
        assert_eq!(trim_slashes(b"/"), b"");
        assert_eq!(basename(b"/a/b/"), b"b");
        assert_eq!(basename(b"c"), b"c");
    }
}
