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

mod attrs;
mod put;
mod touch;
mod tree;
mod xattrs;

pub use attrs::{chmod, chown, ChmodArgs, ChownArgs};
pub use put::{put, PutArgs};
pub use touch::{touch, TouchArgs};
pub use tree::{ln, mkdir, mv, rm, LnArgs, MkdirArgs, MvArgs, RmArgs};
pub use xattrs::{getfattr, setfattr, GetfattrArgs, SetfattrArgs};

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

#[cfg(test)]
mod tests {
    use super::attrs::parse_mode;
    use super::touch::{parse_date, parse_stamp};
    use super::xattrs::{parse_attr_name, parse_value, show_value};
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
