//! Host directories: the scanner that reads a tree's metadata into the
//! build's tree, the SEEK_DATA/SEEK_HOLE walk that finds a host file's
//! data, and a host file's extended attributes.

use super::tree::{ts, Content, SNode, Tree, HAS_KIDS, LINK, LINKED, SPARSE};
use crate::{FileType, NewNode};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Directories deeper than this are opened by full path (as files of any
/// depth were before), so the scan never holds more descriptors.
const MAX_OPEN_DEPTH: usize = 128;

fn host_file_type(mode: u32) -> FileType {
    use rustix::fs::FileType as T;
    match T::from_raw_mode(mode as rustix::fs::RawMode) {
        T::Directory => FileType::Directory,
        T::RegularFile => FileType::Regular,
        T::Symlink => FileType::Symlink,
        T::Fifo => FileType::Fifo,
        T::CharacterDevice => FileType::CharDevice,
        T::BlockDevice => FileType::BlockDevice,
        _ => FileType::Socket,
    }
}

/// Attributes of a host file from its `lstat`.
fn host_attr(st: &rustix::fs::Stat, kind: FileType) -> NewNode {
    let rdev = matches!(kind, FileType::CharDevice | FileType::BlockDevice)
        .then(|| (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev)));
    // The field types differ between architectures.
    fn int<T: TryInto<i64>>(v: T) -> i64 {
        v.try_into().unwrap_or(0)
    }
    NewNode {
        perm: (st.st_mode & 0o7777) as u16,
        uid: st.st_uid,
        gid: st.st_gid,
        rdev,
        atime: Some(ts(int(st.st_atime), int(st.st_atime_nsec))),
        mtime: Some(ts(int(st.st_mtime), int(st.st_mtime_nsec))),
        ctime: Some(ts(int(st.st_ctime), int(st.st_ctime_nsec))),
        birthtime: None,
        flags: 0,
    }
}

/// Scans host directory `dir` (open as `fd`; `None` when it is deep and
/// is used by path) into node `at`: entries sorted by name, each stat'ed
/// relative to the directory, subdirectories scanned as they come (so a
/// single source gives its nodes in the order the image lists them).
fn scan_dir(
    tree: &mut Tree,
    cx: &mut ScanCtx<'_>,
    fd: Option<rustix::fd::OwnedFd>,
    dir: &mut PathBuf,
    at: u32,
    depth: usize,
) -> Result<(), String> {
    use rustix::fs::{Mode, OFlags};
    use std::os::unix::ffi::OsStrExt;
    let ctx =
        |p: &Path, e: rustix::io::Errno| format!("{}: {}", p.display(), std::io::Error::from(e));
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let by_path = fd.is_none();
    let fd = match fd {
        Some(fd) => fd,
        None => {
            rustix::fs::open(dir.as_path(), dir_flags, Mode::empty()).map_err(|e| ctx(dir, e))?
        }
    };
    // The names, in one buffer, sorted.
    let mut listing = rustix::fs::Dir::new(fd).map_err(|e| ctx(dir, e))?;
    let mut buf: Vec<u8> = Vec::new();
    let mut spans: Vec<(u32, u8)> = Vec::new();
    while let Some(e) = listing.read() {
        let e = e.map_err(|e| ctx(dir, e))?;
        let name = e.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let len = u8::try_from(name.len()).map_err(|_| {
            format!(
                "{}: name longer than 255 bytes",
                dir.join(std::ffi::OsStr::from_bytes(name)).display()
            )
        })?;
        let off =
            u32::try_from(buf.len()).map_err(|_| format!("{}: too many entries", dir.display()))?;
        spans.push((off, len));
        buf.extend_from_slice(name);
    }
    let name_of = |&(off, len): &(u32, u8)| &buf[off as usize..off as usize + usize::from(len)];
    spans.sort_unstable_by(|a, b| name_of(a).cmp(name_of(b)));
    // Into a directory no earlier source filled, the (unique) names go
    // without looking for one they would replace.
    let fresh = tree.nodes[at as usize].bits & HAS_KIDS == 0;
    // A deep directory is not held open while its subdirectories are
    // scanned: its entries are used by path.
    let listing = (!by_path).then_some(listing);
    let rel = match &listing {
        Some(d) => Some(d.fd().map_err(|e| ctx(dir, e))?),
        None => None,
    };
    for chunk in spans.chunks(STAT_CHUNK) {
        let found = stat_entries(cx.helper, rel, dir, &buf, chunk)?;
        for (span, found) in chunk.iter().zip(found) {
            let name = name_of(span);
            dir.push(std::ffi::OsStr::from_bytes(name));
            let entry = Entry {
                at,
                name,
                found: found?,
                fresh,
                depth,
                rel,
            };
            add_entry(tree, cx, dir, entry)?;
            dir.pop();
        }
    }
    Ok(())
}

/// What the scan of one host source carries along.
pub(super) struct ScanCtx<'a> {
    pub(super) source: u16,
    /// (device, inode) of each multiply linked file seen: the node that
    /// holds its data.
    pub(super) links: HashMap<(u64, u64), u32>,
    /// The thread that stats entries alongside this one.
    pub(super) helper: Option<&'a StatHelper>,
    /// Read directories' extended attributes (files' are read with their
    /// data).
    pub(super) xattrs: bool,
}

/// Entries stat'ed at once (and, in a large directory, by two threads).
const STAT_CHUNK: usize = 1024;
/// Fewest entries worth a second thread.
const PARALLEL_STAT: usize = 64;

/// What `lstat` (and, for a symlink, `readlink`) says about an entry.
struct Found {
    st: rustix::fs::Stat,
    target: Vec<u8>,
}

/// An entry's `Found`, or why it could not be had.
type Stated = Result<Found, String>;

/// Stats entry `name` of directory `dir` (open as `rel`, or by path).
fn stat_one(
    rel: Option<rustix::fd::BorrowedFd<'_>>,
    dir: &Path,
    name: &[u8],
) -> Result<Found, String> {
    use rustix::fs::AtFlags;
    use std::os::unix::ffi::OsStrExt;
    let path = || dir.join(std::ffi::OsStr::from_bytes(name));
    let ctx = |e: rustix::io::Errno| format!("{}: {}", path().display(), std::io::Error::from(e));
    let st = match rel {
        Some(fd) => rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW),
        None => rustix::fs::lstat(path().as_path()),
    }
    .map_err(ctx)?;
    let target = if host_file_type(st.st_mode) == FileType::Symlink {
        match rel {
            Some(fd) => rustix::fs::readlinkat(fd, name, Vec::new()),
            None => rustix::fs::readlink(path().as_path(), Vec::new()),
        }
        .map_err(ctx)?
        .into_bytes()
    } else {
        Vec::new()
    };
    Ok(Found { st, target })
}

/// A thread that stats directory entries alongside the scanning thread:
/// the scan of a large tree is mostly `lstat` calls.
pub(super) struct StatHelper {
    jobs: std::sync::mpsc::SyncSender<std::sync::Arc<StatJob>>,
}

impl StatHelper {
    /// Starts the thread (`None` on a single processor). It ends when the
    /// helper is dropped.
    pub(super) fn start() -> Option<StatHelper> {
        if std::thread::available_parallelism().map_or(true, |n| n.get() < 2) {
            return None;
        }
        // One job queued at most: a job the helper has not got to when
        // its directory is done is finished by then, and a starved helper
        // must not pile up jobs (each holds a descriptor).
        let (jobs, rx) = std::sync::mpsc::sync_channel::<std::sync::Arc<StatJob>>(1);
        std::thread::Builder::new()
            .name("stat".into())
            .spawn(move || {
                for job in rx {
                    job.work();
                }
            })
            .ok()?;
        Some(StatHelper { jobs })
    }
}

/// Entries of one directory to stat: the scanning thread and the helper
/// each take the next entry nobody has taken, so the scan never waits for
/// a helper that the system has not run yet, only (rarely) for the one
/// entry it is in the middle of.
struct StatJob {
    /// The directory (a duplicate descriptor), or `None` to use paths.
    fd: Option<rustix::fd::OwnedFd>,
    dir: PathBuf,
    names: Vec<u8>,
    spans: Vec<(u32, u8)>,
    next: std::sync::atomic::AtomicUsize,
    /// Each entry's result, and how many there are.
    done: std::sync::Mutex<(Vec<Option<Stated>>, usize)>,
    finished: std::sync::Condvar,
}

impl StatJob {
    fn work(&self) {
        use rustix::fd::AsFd;
        let n = self.spans.len();
        loop {
            let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if i >= n {
                return;
            }
            let (off, len) = self.spans[i];
            let name = &self.names[off as usize..off as usize + usize::from(len)];
            let r = stat_one(self.fd.as_ref().map(|f| f.as_fd()), &self.dir, name);
            let mut done = self
                .done
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            done.0[i] = Some(r);
            done.1 += 1;
            if done.1 == n {
                self.finished.notify_all();
            }
        }
    }

    /// Every entry's result, once all are in.
    fn wait(&self) -> Vec<Stated> {
        let n = self.spans.len();
        let mut done = self
            .done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while done.1 < n {
            done = self
                .finished
                .wait(done)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        std::mem::take(&mut done.0)
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err("an entry was not stat'ed".into())))
            .collect()
    }
}

/// Stats the entries `spans` (names in `buf`) of directory `dir` (open as
/// `rel`, or by path), sharing them with the helper when there are many.
fn stat_entries(
    helper: Option<&StatHelper>,
    rel: Option<rustix::fd::BorrowedFd<'_>>,
    dir: &Path,
    buf: &[u8],
    spans: &[(u32, u8)],
) -> Result<Vec<Stated>, String> {
    let name = |&(off, len): &(u32, u8)| &buf[off as usize..off as usize + usize::from(len)];
    let Some(helper) = helper.filter(|_| spans.len() >= PARALLEL_STAT) else {
        return Ok(spans.iter().map(|s| stat_one(rel, dir, name(s))).collect());
    };
    let fd = match rel {
        Some(fd) => Some(
            fd.try_clone_to_owned()
                .map_err(|e| format!("{}: {e}", dir.display()))?,
        ),
        None => None,
    };
    // The job owns copies of the names: the helper may get to it late.
    let mut names = Vec::new();
    // The offsets are u32 like the scan's (`scan_dir` refuses a listing
    // whose names start past that); repacked they stay below, but the
    // bound is checked rather than assumed.
    let spans: Vec<(u32, u8)> = spans
        .iter()
        .map(|s| {
            let at = u32::try_from(names.len())
                .map_err(|_| format!("{}: too many entries", dir.display()))?;
            names.extend_from_slice(name(s));
            Ok((at, s.1))
        })
        .collect::<Result<_, String>>()?;
    let n = spans.len();
    let job = std::sync::Arc::new(StatJob {
        fd,
        dir: dir.to_path_buf(),
        names,
        spans,
        next: std::sync::atomic::AtomicUsize::new(0),
        done: std::sync::Mutex::new(((0..n).map(|_| None).collect(), 0)),
        finished: std::sync::Condvar::new(),
    });
    // If the helper is still busy with an earlier job (or has stopped),
    // this thread does it all.
    let _ = helper.jobs.try_send(std::sync::Arc::clone(&job));
    job.work();
    Ok(job.wait())
}

/// One directory entry to add to the tree.
struct Entry<'n, 'f> {
    /// The directory's node.
    at: u32,
    name: &'n [u8],
    found: Found,
    /// The directory had no children before this scan.
    fresh: bool,
    depth: usize,
    /// The directory, open (or `None` when it is used by path).
    rel: Option<rustix::fd::BorrowedFd<'f>>,
}

/// Adds directory entry `e` (host path `dir`), and scans it if it is a
/// directory.
fn add_entry(
    tree: &mut Tree,
    cx: &mut ScanCtx<'_>,
    dir: &mut PathBuf,
    e: Entry<'_, '_>,
) -> Result<(), String> {
    use rustix::fs::{Mode, OFlags};
    let Entry {
        at,
        name,
        found,
        fresh,
        depth,
        rel,
    } = e;
    let ctx =
        |p: &Path, e: rustix::io::Errno| format!("{}: {}", p.display(), std::io::Error::from(e));
    let st = found.st;
    let kind = host_file_type(st.st_mode);
    let mut node = SNode::new(kind, &host_attr(&st, kind));
    match kind {
        FileType::Symlink => {
            node.data = tree.store_target(&found.target)?;
        }
        FileType::Regular => {
            let size = u64::try_from(st.st_size).unwrap_or(0);
            node.data = size;
            node.content = Content::Host(cx.source);
            if u64::try_from(st.st_blocks).unwrap_or(0).saturating_mul(512) < size {
                node.bits |= SPARSE;
            }
        }
        _ => {}
    }
    let key = (st.st_dev, st.st_ino);
    let shared = kind != FileType::Directory && st.st_nlink > 1;
    if shared {
        if let Some(&first) = cx.links.get(&key) {
            node.bits |= LINK;
            node.aux = first;
            node.content = Content::None;
        }
    }
    let i = if fresh {
        tree.add(at, name, node)?
    } else {
        tree.put_child(at, name, node, &|| dir.display().to_string())?
    };
    if shared {
        let first = *cx.links.entry(key).or_insert(i);
        if first != i {
            tree.nodes[first as usize].bits |= LINKED;
        }
    }
    if kind == FileType::Directory {
        if cx.xattrs {
            scan_xattrs(tree, i, dir)?;
        }
        let sub = match rel {
            Some(fd) if depth < MAX_OPEN_DEPTH => Some(
                rustix::fs::openat(
                    fd,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                    Mode::empty(),
                )
                .map_err(|e| ctx(dir, e))?,
            ),
            _ => None,
        };
        scan_dir(tree, cx, sub, dir, i, depth + 1)?;
    }
    Ok(())
}

/// Scans host directory `src` into the tree's root: the root takes the
/// directory's own owner, mode and times, its entries are merged in.
pub(super) fn scan_source(tree: &mut Tree, cx: &mut ScanCtx<'_>, src: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let root_md = std::fs::symlink_metadata(src).map_err(|e| format!("{}: {e}", src.display()))?;
    tree.nodes[0].set_attr(&NewNode {
        perm: (root_md.mode() & 0o7777) as u16,
        uid: root_md.uid(),
        gid: root_md.gid(),
        atime: Some(ts(root_md.atime(), root_md.atime_nsec())),
        mtime: Some(ts(root_md.mtime(), root_md.mtime_nsec())),
        ctime: Some(ts(root_md.ctime(), root_md.ctime_nsec())),
        ..Default::default()
    });
    let fd = rustix::fs::open(
        src,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| format!("{}: {}", src.display(), std::io::Error::from(e)))?;
    if cx.xattrs {
        scan_xattrs(tree, 0, src)?;
    }
    scan_dir(tree, cx, Some(fd), &mut src.to_path_buf(), 0, 0)
}

/// The next stretch of data in host file `file` at or after `pos`, as
/// (start, end) with `end <= size`; `None` when no data is left before
/// `size`. Where the host cannot tell (no SEEK_DATA), the whole rest is
/// data. This is the one hole walk `ufs makefs` and `ufs put` share.
pub fn next_data<F: rustix::fd::AsFd>(file: F, pos: u64, size: u64) -> Option<(u64, u64)> {
    use rustix::fs::{seek, SeekFrom};
    let start = match seek(&file, SeekFrom::Data(pos)) {
        Ok(s) => s,
        Err(rustix::io::Errno::NXIO) => return None,
        Err(_) => pos,
    };
    if start >= size {
        return None;
    }
    let end = match seek(&file, SeekFrom::Hole(start)) {
        Ok(e) => e.min(size),
        Err(_) => size,
    };
    if end <= start {
        return Some((start, size));
    }
    Some((start, end))
}

/// A host file's extended attributes: those carried (UFS2 user namespace
/// name, value) and the full names of those that are not.
///
/// Linux names attributes `NAMESPACE.NAME`; UFS2 has a user and a system
/// namespace (extattr(9)). Only `user.NAME` has a counterpart with the same
/// meaning (`user` namespace, NAME); `security.*`, `trusted.*` and
/// `system.*` (SELinux labels, ACLs, capabilities) mean nothing to FreeBSD
/// and are reported as not carried, never written under another meaning.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HostXattrs {
    /// `user.NAME` attributes as (NAME, value).
    pub user: Vec<(Vec<u8>, Vec<u8>)>,
    /// Other attributes' full names.
    pub skipped: Vec<String>,
}

/// Whether this build reads and writes host extended attributes: the
/// Linux calls below. Elsewhere (FreeBSD needs extattr(2), which has no
/// safe binding here) none are read or written, and the commands say so.
pub const XATTRS_SUPPORTED: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Reads the extended attributes of `path` itself (a symbolic link is not
/// followed). A file system without extended attributes has none.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn read_xattrs(path: &Path) -> std::io::Result<HostXattrs> {
    collect_xattrs(
        |names| rustix::fs::llistxattr(path, names),
        |name, value| rustix::fs::lgetxattr(path, name, value),
    )
}

/// Reads the extended attributes of open file `fd`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn read_xattrs_fd<F: rustix::fd::AsFd>(fd: F) -> std::io::Result<HostXattrs> {
    collect_xattrs(
        |names| rustix::fs::flistxattr(&fd, names),
        |name, value| rustix::fs::fgetxattr(&fd, name, value),
    )
}

/// The attributes `list` names, with the values `get` reads for the
/// `user.*` ones.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn collect_xattrs(
    list: impl Fn(&mut [u8]) -> rustix::io::Result<usize>,
    get: impl Fn(&[u8], &mut [u8]) -> rustix::io::Result<usize>,
) -> std::io::Result<HostXattrs> {
    use rustix::io::Errno;
    let mut out = HostXattrs::default();
    // Most files have none: a small buffer on the stack first, so they
    // cost one call and no allocation.
    let mut first = [0u8; 512];
    let names: Vec<u8> = match list(&mut first) {
        Ok(0) | Err(Errno::NOTSUP) => return Ok(out),
        Ok(n) => first[..n].to_vec(),
        Err(Errno::RANGE) => {
            let mut names = vec![0u8; 4096];
            loop {
                match list(&mut names[..]) {
                    Ok(n) => {
                        names.truncate(n);
                        break names;
                    }
                    Err(Errno::RANGE) if names.len() < 1 << 20 => names.resize(names.len() * 4, 0),
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Err(e) => return Err(e.into()),
    };
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let Some(short) = name.strip_prefix(b"user.") else {
            out.skipped.push(String::from_utf8_lossy(name).into_owned());
            continue;
        };
        // Values are small (a UFS2 extattr area is at most a few blocks).
        let mut value = vec![0u8; 4096];
        let len = loop {
            match get(name, &mut value[..]) {
                Ok(len) => break len,
                Err(Errno::RANGE) if value.len() < 1 << 20 => value.resize(value.len() * 4, 0),
                Err(e) => return Err(e.into()),
            }
        };
        value.truncate(len);
        out.user.push((short.to_vec(), value));
    }
    Ok(out)
}

/// Elsewhere (FreeBSD has extattr(2), not yet read here): none.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn read_xattrs(_: &Path) -> std::io::Result<HostXattrs> {
    Ok(HostXattrs::default())
}

/// Elsewhere: none.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn read_xattrs_fd<F: rustix::fd::AsFd>(_: F) -> std::io::Result<HostXattrs> {
    Ok(HostXattrs::default())
}

/// Sets attribute `name` (a full Linux name, `user.NAME`) on a host file,
/// as `ufs extract` restores an image's attributes: through `file` when it
/// is open (no name is followed), else on `path` itself (a symbolic link is
/// not followed).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn write_xattr(
    path: &Path,
    file: Option<&std::fs::File>,
    name: &[u8],
    value: &[u8],
) -> std::io::Result<()> {
    let name = std::ffi::CString::new(name).map_err(std::io::Error::other)?;
    let flags = rustix::fs::XattrFlags::empty();
    match file {
        Some(f) => rustix::fs::fsetxattr(f, name.as_c_str(), value, flags)?,
        None => rustix::fs::lsetxattr(path, name.as_c_str(), value, flags)?,
    }
    Ok(())
}

/// Elsewhere: not written (the caller reports it).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn write_xattr(_: &Path, _: Option<&std::fs::File>, _: &[u8], _: &[u8]) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// Reads host directory `path`'s attributes into node `i` of the tree.
fn scan_xattrs(tree: &mut Tree, i: u32, path: &Path) -> Result<(), String> {
    let x =
        read_xattrs(path).map_err(|e| format!("{}: extended attributes: {e}", path.display()))?;
    tree.skipped_xattrs.extend(x.skipped);
    if !x.user.is_empty() {
        tree.xattrs.insert(i, x.user);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::next_data;
    use std::os::unix::fs::FileExt;

    #[test]
    fn next_data_walks_data_and_skips_holes() {
        let f = tempfile::tempfile().unwrap();
        let mib = 1u64 << 20;
        f.write_all_at(b"head", 0).unwrap();
        f.write_all_at(b"tail", 3 * mib).unwrap();
        let size = 3 * mib + 4;
        let (s0, e0) = next_data(&f, 0, size).unwrap();
        assert_eq!(s0, 0);
        assert!(e0 >= 4 && e0 <= size);
        // Every byte written is inside a region the walk gives.
        let mut regions = vec![(s0, e0)];
        let mut pos = e0;
        while let Some((s, e)) = next_data(&f, pos, size) {
            assert!(s >= pos && e > s && e <= size);
            regions.push((s, e));
            pos = e;
        }
        assert!(regions.iter().any(|&(s, e)| s <= 3 * mib && e == size));
        // Past the end, or in an empty file: no data.
        assert_eq!(next_data(&f, size, size), None);
        assert_eq!(next_data(tempfile::tempfile().unwrap(), 0, 0), None);
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn xattrs_are_read_by_path_and_by_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let f = std::fs::File::create(&path).unwrap();
        let none = super::read_xattrs_fd(&f).unwrap();
        assert!(none.user.is_empty() && none.skipped.is_empty());
        let flags = rustix::fs::XattrFlags::empty();
        if let Err(e) = rustix::fs::fsetxattr(&f, "user.a", b"1", flags) {
            ufskit_testkit::skip(&format!("no user xattrs in the temporary directory: {e}"));
            return;
        }
        // A name list longer than the first buffer (ext4 holds about 4 KiB of
        // attributes a file, so no value over 4 KiB).
        let long: Vec<String> = (0..4)
            .map(|k| format!("user.{k}{}", "n".repeat(200)))
            .collect();
        for name in &long {
            rustix::fs::fsetxattr(&f, name.as_str(), &[7u8; 300], flags).unwrap();
        }
        for x in [
            super::read_xattrs(&path).unwrap(),
            super::read_xattrs_fd(&f).unwrap(),
        ] {
            let mut user = x.user.clone();
            user.sort();
            let mut want = vec![(long[0].as_bytes()[5..].to_vec(), vec![7u8; 300])];
            want.extend(
                long[1..]
                    .iter()
                    .map(|n| (n.as_bytes()[5..].to_vec(), vec![7u8; 300])),
            );
            want.push((b"a".to_vec(), b"1".to_vec()));
            want.sort();
            assert_eq!(user, want);
        }
    }
}
