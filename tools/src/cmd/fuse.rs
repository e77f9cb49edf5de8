//! `ufs fuse IMAGE DIR`: the image as a read-write file system on Linux,
//! through FUSE, backed by the library's write path.
//!
//! The `Ufs` handle is not shared between threads (it is not `Send`): it lives on one worker
//! thread, and every FUSE request becomes a job queued to it (the reply
//! travels with the job); reads can also go to reader threads, each with
//! its own read-only handle, behind a readers-writer gate (see
//! [`UfsFuse::run_read`]). So the library's write session, with its
//! crash-ordered writes and clean-flag policy, is used exactly as the
//! editing commands use it: the first change marks the image not clean, an
//! `fsync` writes everything out but leaves it so (a crash after it is
//! repaired by `fsck -y` with the synced files intact), and a clean unmount
//! marks it clean.
//!
//! FUSE's root is inode 1; UFS's is 2 (1 is reserved and never named by a
//! directory), so the two swap nothing else: FUSE inode 1 is UFS inode 2 and
//! every other number is the same.

use super::fuse_lookups::Lookups;
use crate::EXIT_FAILURE;
use clap::Parser;
use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType as FType, Filesystem, FopenFlags, Generation,
    INodeNo, InitFlags, KernelConfig, MountOption, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate,
    ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs,
    ReplyWrite, ReplyXattr, Request, SessionACL, TimeOrNow, WriteFlags,
};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use ufskit::inode::{dev_split, Timespec};
use ufskit::write::{NewNode, SetAttr};
use ufskit::xattr::Namespace;
use ufskit::{Error, FileType, Ino, Inode, OpenOptions, Session, Ufs};

/// Arguments of `ufs fuse`.
#[derive(Parser, Debug)]
pub struct Args {
    /// The image file.
    pub image: PathBuf,
    /// The directory to mount it on.
    pub dir: PathBuf,
    /// Mount options, comma-separated: `ro`, `rw` (the default),
    /// `allow_other`, `allow_root`, `default_permissions` (always on),
    /// `fsname=NAME`; others are handed to the kernel as they are.
    #[arg(short = 'o', value_name = "OPTIONS")]
    pub options: Vec<String>,
    /// Stay in the foreground (the only mode: the command returns when the
    /// file system is unmounted, so run it in the background or under a
    /// service manager).
    #[arg(short = 'f', long)]
    pub foreground: bool,
}

/// Runs `ufs fuse`.
pub fn run(a: Args) -> i32 {
    match mount(&a) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ufs fuse: {}: {e}", a.image.display());
            EXIT_FAILURE
        }
    }
}

/// How long the kernel may cache names and attributes. Every change goes
/// through this process, so the kernel's cache can only go stale by our own
/// replies, which carry the new attributes.
const TTL: Duration = Duration::from_secs(1);

/// A job for the image's thread, which owns the image.
type Job = Box<dyn FnOnce(&mut Image) + Send>;

/// A job that only reads: a reader thread serves it when there are reader
/// threads and no change is queued, else the image's thread (see
/// [`UfsFuse::run_read`]).
type ReadJob = Box<dyn FnOnce(&Ufs, &Kept) + Send>;

/// What the threads serving reads keep between requests, shared by all of
/// them: the directory listing and the block map last made. It lives
/// behind the gate (`RwLock<Kept>`): every read holds the gate shared, every
/// change holds it exclusive and drops what the change may make stale, so
/// no read overlaps a change or sees a listing or map from before it.
#[derive(Default)]
struct Kept {
    listing: Mutex<Option<Arc<Listing>>>,
    /// The inode and block map of the file last read, kept until the next
    /// change, so a file read in many requests (the kernel asks for at
    /// most its read-ahead at a time) maps its blocks once.
    mapped: Mutex<Option<Arc<Mapped>>>,
}

impl Kept {
    fn listing(&self) -> Option<Arc<Listing>> {
        lock(&self.listing).clone()
    }

    fn mapped(&self) -> Option<Arc<Mapped>> {
        lock(&self.mapped).clone()
    }

    /// Drops what a change makes stale: the block map always, the listing
    /// when the change may have touched a name.
    fn drop_for(&mut self, names: bool) {
        *self
            .mapped
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = None;
        if names {
            *self
                .listing
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner) = None;
        }
    }
}

/// A lock that a panicked holder left is still good here: what it guards
/// is a cache that is replaced whole, never left half made.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A regular file's inode and extents (see [`Kept::mapped`]).
struct Mapped {
    inode: Inode,
    extents: Vec<ufskit::bmap::Extent>,
}

/// The entries of the directory last listed by `readdir`, kept until the
/// next change of any kind, so that a listing read in several `readdir`
/// calls (about a hundred entries each) and the `lookup` of each of its
/// names (what `tar`, `find` or `ls -l` do next) parse the directory once
/// instead of once per call. One directory at a time: the memory is what
/// listing that directory takes anyway. Every job that can change a name
/// drops it (`run_mut`); opening and releasing files do not, as they
/// change no directory (an orphan freed at its last release has no name).
struct Listing {
    dir: Ino,
    entries: Vec<ufskit::fs::DirEntry>,
    by_name: HashMap<Vec<u8>, Ino>,
}

impl Listing {
    fn new(dir: Ino, entries: Vec<ufskit::fs::DirEntry>) -> Listing {
        let by_name = entries.iter().map(|e| (e.name.clone(), e.ino)).collect();
        Listing {
            dir,
            entries,
            by_name,
        }
    }
}

/// The image as its thread holds it: a reader for `-o ro`, else a write
/// session. There is one for the life of the mount, so its size is no
/// concern.
#[allow(clippy::large_enum_variant)]
enum Image {
    Reader(Ufs),
    Writer(Session),
}

impl Image {
    fn ufs(&self) -> &Ufs {
        match self {
            Image::Reader(fs) => fs,
            Image::Writer(s) => s,
        }
    }
}

/// The FUSE side: a queue to the thread that owns the image, and one to
/// the reader threads, if any.
struct UfsFuse {
    jobs: Mutex<mpsc::Sender<Job>>,
    readers: Option<Mutex<mpsc::Sender<ReadJob>>>,
    /// Jobs queued to the image's thread and not yet done.
    queued: Arc<AtomicUsize>,
    /// Changes among them. While there are any, reads queue behind them
    /// on that thread, so a read the kernel sends after a change is served
    /// after it, on the session.
    changes: Arc<AtomicUsize>,
    gate: Arc<RwLock<Kept>>,
    /// The kernel's lookup counts: an inode it still knows by number is
    /// kept when its last name goes (see [`Lookups`]).
    lookups: Arc<Lookups>,
    read_only: bool,
}

fn mount(a: &Args) -> Result<(), String> {
    let mut read_only = false;
    let mut opts = vec![
        MountOption::FSName(a.image.display().to_string()),
        MountOption::Subtype("ufskit".into()),
        // The kernel checks permissions against the attributes we return,
        // as for a local file system.
        MountOption::DefaultPermissions,
    ];
    let mut acl = SessionACL::Owner;
    let mut shown = (None, None);
    let mut readers = READERS;
    for o in a.options.iter().flat_map(|s| s.split(',')) {
        match o {
            "" | "rw" | "default_permissions" | "dev" | "suid" => {}
            "ro" => read_only = true,
            o if o.starts_with("readers=") => {
                readers = o["readers=".len()..]
                    .parse()
                    .ok()
                    .filter(|n| *n <= MAX_READERS)
                    .ok_or_else(|| {
                        format!("{o}: the number of reader threads is 0 to {MAX_READERS}")
                    })?
            }
            "allow_other" => acl = SessionACL::All,
            "allow_root" => acl = SessionACL::RootAndOwner,
            o if o.starts_with("fsname=") => {
                opts[0] = MountOption::FSName(o["fsname=".len()..].to_string())
            }
            o => match super::fuse_helper::owner_option(o) {
                Some(Ok(('u', n))) => shown.0 = Some(n),
                Some(Ok((_, n))) => shown.1 = Some(n),
                Some(Err(e)) => return Err(e),
                None => opts.push(generic_flag(o)),
            },
        }
    }
    super::fuse_helper::set_shown_owner(shown.0, shown.1);
    opts.push(if read_only {
        MountOption::RO
    } else {
        MountOption::RW
    });
    // The file itself, also when IMAGE@N names a partition of it.
    let file = crate::image::target(&a.image).path;
    // Lock before anything is written: a second writer (another `ufs fuse`,
    // an editing command) or an attached loop device would see its blocks
    // change underneath.
    let lock = if read_only {
        None
    } else {
        Some(lock_image(&file)?)
    };
    if !read_only {
        if let Some(dev) = loop_device_of(&file) {
            return Err(format!(
                "the image is attached to {dev}: detach it (losetup -d) before mounting it read-write"
            ));
        }
    }
    let (jobs, ready) = spawn_owner(a.image.clone(), read_only)?;
    ready?;
    let gate = Arc::new(RwLock::new(Kept::default()));
    let fs = UfsFuse {
        jobs: Mutex::new(jobs),
        readers: spawn_readers(&a.image, readers, &gate)?,
        queued: Arc::new(AtomicUsize::new(0)),
        changes: Arc::new(AtomicUsize::new(0)),
        gate,
        lookups: Arc::new(Lookups::new(read_only)),
        read_only,
    };
    let mut cfg = Config::default();
    cfg.mount_options = opts;
    cfg.acl = acl;
    let r =
        fuser::mount(fs, &a.dir, &cfg).map_err(|e| format!("mount on {}: {e}", a.dir.display()));
    drop(lock);
    r
}

/// mount(8)'s generic flags (as an fstab line gives them) as mount flags;
/// anything else goes to the kernel's FUSE options as it is.
fn generic_flag(o: &str) -> MountOption {
    match o {
        "nodev" => MountOption::NoDev,
        "nosuid" => MountOption::NoSuid,
        "exec" => MountOption::Exec,
        "noexec" => MountOption::NoExec,
        "atime" => MountOption::Atime,
        "noatime" => MountOption::NoAtime,
        "sync" => MountOption::Sync,
        "async" => MountOption::Async,
        "dirsync" => MountOption::DirSync,
        other => MountOption::CUSTOM(other.to_string()),
    }
}

/// Takes an exclusive advisory lock on the image, the one the editing
/// commands take too, so two writers never share it.
fn lock_image(image: &Path) -> Result<std::fs::File, String> {
    let f = std::fs::File::open(image).map_err(|e| e.to_string())?;
    match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Err(rustix::io::Errno::WOULDBLOCK) => {
            Err("the image is in use by another process (ufs fuse or an editing command)".into())
        }
        // A file system without locks is no reason to refuse.
        _ => Ok(f),
    }
}

/// The loop device whose backing file is `image`, if any
/// (/sys/block/loop*/loop/backing_file).
fn loop_device_of(image: &Path) -> Option<String> {
    let want = std::fs::canonicalize(image).ok()?;
    for e in std::fs::read_dir("/sys/block").ok()?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("loop") {
            continue;
        }
        if let Ok(b) = std::fs::read_to_string(e.path().join("loop/backing_file")) {
            if Path::new(b.trim_end_matches('\n')) == want {
                return Some(format!("/dev/{name}"));
            }
        }
    }
    None
}

/// Starts the thread that opens and owns the image; returns its queue and
/// the open's result.
fn spawn_owner(
    image: PathBuf,
    read_only: bool,
) -> Result<(mpsc::Sender<Job>, Result<(), String>), String> {
    let (tx, rx) = mpsc::channel::<Job>();
    let (otx, orx) = mpsc::channel::<Result<(), String>>();
    std::thread::Builder::new()
        .name("ufs-image".into())
        .spawn(move || {
            let opts = if read_only {
                OpenOptions::read_only()
            } else {
                OpenOptions::read_write()
            };
            let opened = crate::image::open_ufs(&image, opts).and_then(|fs| {
                Ok(if read_only {
                    Image::Reader(fs)
                } else {
                    Image::Writer(Session::new(fs)?)
                })
            });
            let img = match opened {
                Ok(img) => img,
                Err(Error::Unclean) => {
                    let _ = otx.send(Err(
                        "the file system is not clean: run `ufs fsck -y` on it first".into(),
                    ));
                    return;
                }
                Err(e) => {
                    let _ = otx.send(Err(e.to_string()));
                    return;
                }
            };
            let _ = otx.send(Ok(()));
            let mut img = img;
            while let Some(job) = next_job(&rx) {
                job(&mut img);
            }
        })
        .map_err(|e| format!("cannot start the image thread: {e}"))?;
    let ready = orx
        .recv()
        .unwrap_or_else(|_| Err("the image thread stopped".into()));
    Ok((tx, ready))
}

/// Reader threads by default (`-o readers=N`); see docs/fuse.md for what
/// they gave on two cores.
const READERS: usize = 2;
/// The most reader threads `-o readers=` takes: each holds an open image
/// file and a thread, nothing that grows with the image.
const MAX_READERS: usize = 64;

/// Starts `n` reader threads, each with its own read-only handle on the
/// image (a handle cannot be shared between threads), taking jobs from one
/// queue; returns the queue, or None for none.
fn spawn_readers(
    image: &Path,
    n: usize,
    gate: &Arc<RwLock<Kept>>,
) -> Result<Option<Mutex<mpsc::Sender<ReadJob>>>, String> {
    if n == 0 {
        return Ok(None);
    }
    let (tx, rx) = mpsc::channel::<ReadJob>();
    let rx = Arc::new(Mutex::new(rx));
    for k in 0..n {
        let (image, rx, gate) = (image.to_path_buf(), rx.clone(), gate.clone());
        let (otx, orx) = mpsc::channel::<Result<(), String>>();
        std::thread::Builder::new()
            .name(format!("ufs-reader-{k}"))
            .spawn(move || {
                let fs = match crate::image::open_ufs(&image, OpenOptions::read_only()) {
                    Ok(fs) => fs,
                    Err(e) => {
                        let _ = otx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = otx.send(Ok(()));
                loop {
                    // One reader at a time waits on the queue; the lock is
                    // let go (end of statement) before the job runs.
                    let next = lock(&rx).recv();
                    let Ok(job) = next else { return };
                    job(&fs, &gate.read().unwrap_or_else(PoisonError::into_inner));
                }
            })
            .map_err(|e| format!("cannot start a reader thread: {e}"))?;
        orx.recv()
            .unwrap_or_else(|_| Err("a reader thread stopped".into()))?;
    }
    Ok(Some(Mutex::new(tx)))
}

/// How long the image's thread polls for the next job before it sleeps.
/// A request's round trip (reply to the kernel, the program's next call,
/// the kernel's next request) is often shorter than a sleep and a wake-up
/// of this thread: with one request after another, as `cp -a` makes them,
/// the two thread switches per request cost more than the work itself.
const POLL: Duration = Duration::from_micros(50);

/// The next job, or None once the FUSE side has gone.
fn next_job(rx: &mpsc::Receiver<Job>) -> Option<Job> {
    let start = std::time::Instant::now();
    loop {
        match rx.try_recv() {
            Ok(job) => return Some(job),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) if start.elapsed() < POLL => std::hint::spin_loop(),
            Err(mpsc::TryRecvError::Empty) => return rx.recv().ok(),
        }
    }
}

impl UfsFuse {
    fn send(&self, job: Job) {
        let queued = self.queued.clone();
        queued.fetch_add(1, Ordering::SeqCst);
        let _ = lock(&self.jobs).send(Box::new(move |img| {
            job(img);
            queued.fetch_sub(1, Ordering::SeqCst);
        }));
    }

    /// Serves `f`, which only reads, holding the gate shared: on the
    /// image's thread when it is idle (it polls for work, so that is the
    /// quickest hand-off, and a program making one request after another
    /// is served as without readers) or has a change queued (the read
    /// waits behind it); else, when it is busy with reads, on a reader
    /// thread, so reads in flight at once are served at once.
    fn run_read(&self, f: impl FnOnce(&Ufs, &Kept) + Send + 'static) {
        let mut job: ReadJob = Box::new(f);
        if let Some(readers) = &self.readers {
            if self.changes.load(Ordering::SeqCst) == 0 && self.queued.load(Ordering::SeqCst) > 0 {
                match lock(readers).send(job) {
                    Ok(()) => return,
                    Err(mpsc::SendError(j)) => job = j,
                }
            }
        }
        let gate = self.gate.clone();
        self.send(Box::new(move |img| {
            job(
                img.ufs(),
                &gate.read().unwrap_or_else(PoisonError::into_inner),
            )
        }));
    }

    /// Queues `f`, which writes, to the image's thread. It runs holding
    /// the gate exclusive, after dropping the kept listing and block map,
    /// so no reader overlaps it or keeps what it made stale; reads sent
    /// while it is queued wait behind it (`changes`). Callers refuse
    /// changes to a read-only mount first; were one queued anyway, its
    /// reply would be dropped, which FUSE answers with EIO.
    fn run_mut(&self, f: impl FnOnce(&mut Session) + Send + 'static) {
        let (gate, changes) = (self.gate.clone(), self.changes.clone());
        changes.fetch_add(1, Ordering::SeqCst);
        self.send(Box::new(move |img| {
            let mut kept = gate.write().unwrap_or_else(PoisonError::into_inner);
            kept.drop_for(true);
            if let Image::Writer(s) = img {
                f(s)
            }
            drop(kept);
            changes.fetch_sub(1, Ordering::SeqCst);
        }));
    }

    /// unlink and rmdir: the name loses its inode, which stays held while
    /// the kernel still knows it (`pin_known`).
    fn remove(&self, parent: INodeNo, name: &OsStr, reply: ReplyEmpty, dir: bool) {
        let (p, n, lookups) = (ufs_ino(parent), name_bytes(name), self.lookups.clone());
        if self.read_only {
            return reply.error(Errno::EROFS);
        }
        self.run_mut(move |fs| {
            if dir && n == b"." {
                return reply.error(Errno::EINVAL);
            }
            pin_known(fs, &lookups, p, &n);
            let done = if dir {
                fs.rmdir(p, &n)
            } else {
                fs.unlink(p, &n)
            };
            match done {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    /// The shared prologue of the calls that make a node (mknod, mkdir,
    /// create, symlink): a read-only mount refuses with EROFS, a name over
    /// 255 bytes with ENAMETOOLONG, and the node gets Linux's owner rules
    /// ([`new_node`]) with `perm`; `make` does the rest.
    #[allow(clippy::too_many_arguments)]
    fn run_new<R: ErrorReply + Send + 'static>(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        perm: u16,
        dir: bool,
        reply: R,
        make: impl FnOnce(&mut Session, Ino, &[u8], NewNode, R) + Send + 'static,
    ) {
        let (p, n, uid, gid) = (ufs_ino(parent), name_bytes(name), req.uid(), req.gid());
        if self.read_only {
            return reply.error(Errno::EROFS);
        }
        self.run_mut(move |fs| {
            if too_long(&n) {
                return reply.error(Errno::ENAMETOOLONG);
            }
            let node = new_node(fs, uid, gid, p, perm, dir);
            make(fs, p, &n, node, reply)
        });
    }
}

/// The replies of the calls that make a node, which all can fail.
trait ErrorReply {
    fn error(self, e: Errno);
}

impl ErrorReply for ReplyEntry {
    fn error(self, e: Errno) {
        ReplyEntry::error(self, e)
    }
}

impl ErrorReply for ReplyCreate {
    fn error(self, e: Errno) {
        ReplyCreate::error(self, e)
    }
}

fn ufs_ino(i: INodeNo) -> Ino {
    if i.0 == 1 {
        Ino::ROOT
    } else {
        Ino(u32::try_from(i.0).unwrap_or(u32::MAX))
    }
}

fn fuse_ino(i: Ino) -> INodeNo {
    if i == Ino::ROOT {
        INodeNo::ROOT
    } else {
        INodeNo(u64::from(i.0))
    }
}

/// The errno a library error means to a program.
fn errno(e: &Error) -> Errno {
    match e {
        Error::NotFound { .. } => Errno::ENOENT,
        Error::NotADirectory { .. } => Errno::ENOTDIR,
        Error::IsADirectory { .. } => Errno::EISDIR,
        Error::ReadOnly => Errno::EROFS,
        Error::NoSpace(_) => Errno::ENOSPC,
        Error::Exists { .. } => Errno::EEXIST,
        Error::NotEmpty { .. } => Errno::ENOTEMPTY,
        Error::Unsupported(_) => Errno::EOPNOTSUPP,
        Error::InvalidInput(m) if m.contains("too many links") => Errno::EMLINK,
        Error::InvalidInput(_) => Errno::EINVAL,
        _ => Errno::EIO,
    }
}

// The seconds are cast only once known non-negative.
#[allow(clippy::cast_sign_loss)]
fn system_time(t: Timespec) -> SystemTime {
    if t.sec >= 0 {
        UNIX_EPOCH + Duration::new(t.sec as u64, t.nsec.min(999_999_999))
    } else {
        UNIX_EPOCH - Duration::from_secs(t.sec.unsigned_abs())
            + Duration::from_nanos(u64::from(t.nsec.min(999_999_999)))
    }
}

// Seconds before 1970 come from a SystemTime, whose range fits i64.
#[allow(clippy::cast_possible_wrap)]
fn timespec(t: SystemTime) -> Timespec {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => Timespec {
            sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nsec: d.subsec_nanos(),
        },
        Err(e) => {
            let d = e.duration();
            let (sec, nsec) = if d.subsec_nanos() == 0 {
                (-(d.as_secs() as i64), 0)
            } else {
                (-(d.as_secs() as i64) - 1, 1_000_000_000 - d.subsec_nanos())
            };
            Timespec { sec, nsec }
        }
    }
}

fn kind(t: FileType) -> FType {
    match t {
        FileType::Directory => FType::Directory,
        FileType::Symlink => FType::Symlink,
        FileType::CharDevice => FType::CharDevice,
        FileType::BlockDevice => FType::BlockDevice,
        FileType::Fifo => FType::NamedPipe,
        FileType::Socket => FType::Socket,
        _ => FType::RegularFile,
    }
}

fn kind_dt(d: u8) -> FType {
    use ufskit::ondisk::consts::dt;
    match d {
        dt::DT_DIR => FType::Directory,
        dt::DT_LNK => FType::Symlink,
        dt::DT_CHR => FType::CharDevice,
        dt::DT_BLK => FType::BlockDevice,
        dt::DT_FIFO => FType::NamedPipe,
        dt::DT_SOCK => FType::Socket,
        _ => FType::RegularFile,
    }
}

/// Linux's `dev_t` encoding (glibc's makedev) of a major and minor.
fn linux_dev(major: u32, minor: u32) -> u32 {
    (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12)
}

fn linux_major_minor(rdev: u32) -> (u32, u32) {
    (
        (rdev >> 8) & 0xfff,
        (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
    )
}

fn attr(fs: &Ufs, i: &Inode) -> FileAttr {
    let t = i.file_type();
    let rdev = if matches!(t, FileType::CharDevice | FileType::BlockDevice) {
        let (ma, mi) = dev_split(i.rdev());
        linux_dev(ma, mi)
    } else {
        0
    };
    let (uid, gid) = super::fuse_helper::shown_owner(i.uid(), i.gid());
    FileAttr {
        ino: fuse_ino(i.ino),
        size: i.size(),
        // di_blocks counts DEV_BSIZE (512-byte) units, as st_blocks does.
        blocks: i.blocks(),
        atime: system_time(i.atime()),
        mtime: system_time(i.mtime()),
        ctime: system_time(i.ctime()),
        crtime: system_time(i.birthtime().unwrap_or(i.ctime())),
        kind: kind(t),
        perm: i.perm(),
        nlink: u32::try_from(i.nlink().max(0)).unwrap_or(0),
        uid,
        gid,
        rdev,
        blksize: fs.geometry().bsize,
        flags: i.flags(),
    }
}

fn name_bytes(n: &OsStr) -> Vec<u8> {
    n.as_bytes().to_vec()
}

/// Names over 255 bytes are refused before the library sees them, with
/// the errno programs expect.
fn too_long(n: &[u8]) -> bool {
    n.len() > 255
}

/// The attributes of a node created now by `req` in `parent`: Linux's
/// rules (the caller's ids; the directory's group and, for directories,
/// its setgid bit when the directory has it).
fn new_node(fs: &Ufs, req_uid: u32, req_gid: u32, parent: Ino, perm: u16, dir: bool) -> NewNode {
    let mut n = NewNode {
        perm,
        uid: req_uid,
        gid: req_gid,
        ..NewNode::default()
    };
    if let Ok(p) = fs.inode(parent) {
        if p.perm() & 0o2000 != 0 {
            n.gid = p.gid();
            if dir {
                n.perm |= 0o2000;
            }
        }
    }
    n
}

/// The listing of directory `dir` for a `readdir` from `offset`: the kept
/// one when it continues a listing of that directory, else (a listing
/// starts at offset 0 with the directory as it is now) a new one, kept.
fn listing(fs: &Ufs, kept: &Kept, dir: Ino, offset: u64) -> Result<Arc<Listing>, Error> {
    match kept.listing() {
        Some(l) if l.dir == dir && offset > 0 => Ok(l),
        _ => {
            let l = Arc::new(Listing::new(dir, fs.read_dir(dir)?));
            *lock(&kept.listing) = Some(l.clone());
            Ok(l)
        }
    }
}

/// Serves a `readdir` or `readdirplus` from `offset`: `add` adds an entry
/// with the offset to hand back (the index of the entry after it) and says
/// whether the reply is full.
fn list_from(
    fs: &Ufs,
    kept: &Kept,
    dir: Ino,
    offset: u64,
    mut add: impl FnMut(u64, &ufskit::fs::DirEntry) -> Result<bool, Error>,
) -> Result<(), Error> {
    let l = listing(fs, kept, dir, offset)?;
    // An offset past the listing (none this server hands out) lists nothing.
    let skip = usize::try_from(offset).unwrap_or(usize::MAX);
    for (k, e) in l.entries.iter().enumerate().skip(skip) {
        if add(k as u64 + 1, e)? {
            break;
        }
    }
    Ok(())
}

/// Replies with `ino`'s entry, which the kernel then holds: counted first
/// (see [`Lookups`]).
fn reply_entry(fs: &Ufs, lookups: &Lookups, ino: Ino, reply: ReplyEntry) {
    match fs.inode(ino) {
        Ok(i) => {
            lookups.add(ino);
            reply.entry(&TTL, &attr(fs, &i), Generation(u64::from(i.gen())))
        }
        Err(e) => reply.error(errno(&e)),
    }
}

/// Drops a hold of `i` (an open file's, or the kernel's lookups'). The
/// last one of an inode with no name left frees it with its blocks: a
/// change (to no name), so made holding the gate exclusive. Any other only
/// counts the holds down: no gate, and reads need not wait for it
/// (`changes`).
fn unhold(img: &mut Image, gate: &RwLock<Kept>, i: Ino) -> Result<(), Error> {
    match img {
        Image::Reader(_) => Ok(()),
        Image::Writer(fs) => match fs.inode(i) {
            Ok(n) if n.nlink() <= 0 => {
                let mut kept = gate.write().unwrap_or_else(PoisonError::into_inner);
                kept.drop_for(false);
                fs.unhold(i)
            }
            _ => fs.unhold(i),
        },
    }
}

/// Before a name in `parent` goes: when the kernel knows the inode it
/// names, holds it for the kernel (once; [`Lookups::pin`]), so that its
/// number goes on meaning this file, allocated, until the kernel forgets
/// it, even when this was its last name.
fn pin_known(fs: &mut Session, lookups: &Lookups, parent: Ino, name: &[u8]) {
    if let Ok(Some(ino)) = fs.dir_lookup(parent, name) {
        if lookups.pin(ino) {
            fs.hold(ino);
        }
    }
}

fn reply_attr(fs: &Ufs, ino: Ino, reply: ReplyAttr) {
    match fs.inode(ino) {
        Ok(i) => reply.attr(&TTL, &attr(fs, &i)),
        Err(e) => reply.error(errno(&e)),
    }
}

fn xattr_name(name: &OsStr) -> Option<(Namespace, Vec<u8>)> {
    let b = name.as_bytes();
    b.strip_prefix(b"user.")
        .map(|n| (Namespace::User, n.to_vec()))
        .filter(|(_, n)| !n.is_empty())
}

impl Filesystem for UfsFuse {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // READDIRPLUS: a listing carries each entry's attributes, so `ls -l`
        // or `tar` need no lookup per name afterwards; AUTO lets the kernel
        // use plain readdir where nobody looks at the attributes. A kernel
        // without it is served by plain readdir.
        let _ = config
            .add_capabilities(InitFlags::FUSE_DO_READDIRPLUS | InitFlags::FUSE_READDIRPLUS_AUTO);
        Ok(())
    }

    fn destroy(&mut self) {
        // The clean unmount: write everything out and mark the image clean,
        // then wait until the owner thread has done it.
        let (tx, rx) = mpsc::channel();
        self.send(Box::new(move |img| {
            let r = match img {
                Image::Reader(_) => Ok(()),
                Image::Writer(fs) => fs.unhold_all().and_then(|()| fs.sync()),
            };
            let _ = tx.send(r);
        }));
        match rx.recv() {
            Ok(Err(e)) => eprintln!("ufs fuse: writing the image at unmount failed: {e}"),
            Err(_) => eprintln!("ufs fuse: the image thread stopped before the unmount"),
            Ok(Ok(())) => {}
        }
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let (p, n, lookups) = (ufs_ino(parent), name_bytes(name), self.lookups.clone());
        self.run_read(move |fs, kept| {
            if too_long(&n) {
                return reply.error(Errno::ENAMETOOLONG);
            }
            let found = match kept.listing() {
                Some(l) if l.dir == p => Ok(l.by_name.get(&n).copied()),
                _ => fs.dir_lookup(p, &n),
            };
            match found {
                Ok(Some(ino)) => reply_entry(fs, &lookups, ino, reply),
                Ok(None) => reply.error(Errno::ENOENT),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    /// The kernel drops `nlookup` of a node's lookups (BATCH_FORGET comes
    /// here one node at a time, fuser's default); at zero, a hold taken
    /// for it when its last name went is dropped, which frees the orphan.
    /// FORGET has no reply.
    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        let i = ufs_ino(ino);
        if self.lookups.forget(i, nlookup) {
            let gate = self.gate.clone();
            self.send(Box::new(move |img| {
                if let Err(e) = unhold(img, &gate, i) {
                    eprintln!("ufs fuse: freeing removed inode {i} failed: {e}");
                }
            }));
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let i = ufs_ino(ino);
        self.run_read(move |fs, _| reply_attr(fs, i, reply));
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let i = ufs_ino(ino);
        if self.read_only {
            return reply.error(Errno::EROFS);
        }
        self.run_mut(move |fs| {
            let now = fs.now();
            let when = |t: Option<TimeOrNow>| {
                t.map(|t| match t {
                    TimeOrNow::Now => now,
                    TimeOrNow::SpecificTime(s) => timespec(s),
                })
            };
            let a = SetAttr {
                perm: mode.map(|m| (m & 0o7777) as u16),
                uid,
                gid,
                atime: when(atime),
                mtime: when(mtime),
                birthtime: crtime.map(timespec),
                flags: None,
            };
            let r = (|| -> Result<(), Error> {
                if let Some(s) = size {
                    fs.truncate(i, s)?;
                }
                if a.perm.is_some()
                    || a.uid.is_some()
                    || a.gid.is_some()
                    || a.atime.is_some()
                    || a.mtime.is_some()
                    || a.birthtime.is_some()
                {
                    fs.set_attr(i, &a)?;
                }
                Ok(())
            })();
            match r {
                Ok(()) => reply_attr(fs, i, reply),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let i = ufs_ino(ino);
        self.run_read(move |fs, _| match fs.readlink(i) {
            Ok(t) => reply.data(&t),
            Err(e) => reply.error(errno(&e)),
        });
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let (perm, lookups) = ((mode & !umask & 0o7777) as u16, self.lookups.clone());
        self.run_new(
            req,
            parent,
            name,
            perm,
            false,
            reply,
            move |fs, p, n, mut node, reply| {
                let t = FileType::from_mode((mode & 0o170000) as u16);
                if matches!(t, FileType::CharDevice | FileType::BlockDevice) {
                    node.rdev = Some(linux_major_minor(rdev));
                }
                let t = if t == FileType::Unknown {
                    FileType::Regular
                } else {
                    t
                };
                match fs.create(p, n, t, &node) {
                    Ok(ino) => reply_entry(fs, &lookups, ino, reply),
                    Err(e) => reply.error(errno(&e)),
                }
            },
        );
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let (perm, lookups) = ((mode & !umask & 0o7777) as u16, self.lookups.clone());
        self.run_new(
            req,
            parent,
            name,
            perm,
            true,
            reply,
            move |fs, p, n, node, reply| match fs.mkdir(p, n, &node) {
                Ok(ino) => reply_entry(fs, &lookups, ino, reply),
                Err(e) => reply.error(errno(&e)),
            },
        );
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, reply, false);
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, reply, true);
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let (t, lookups) = (target.as_os_str().as_bytes().to_vec(), self.lookups.clone());
        self.run_new(
            req,
            parent,
            link_name,
            0o777,
            false,
            reply,
            move |fs, p, n, node, reply| {
                if t.len() >= 1024 {
                    // PATH_MAX, counting the NUL.
                    return reply.error(Errno::ENAMETOOLONG);
                }
                match fs.symlink(p, n, &t, &node) {
                    Ok(ino) => reply_entry(fs, &lookups, ino, reply),
                    Err(e) => reply.error(errno(&e)),
                }
            },
        );
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let (sp, sn, dp, dn) = (
            ufs_ino(parent),
            name_bytes(name),
            ufs_ino(newparent),
            name_bytes(newname),
        );
        if self.read_only {
            return reply.error(Errno::EROFS);
        }
        let lookups = self.lookups.clone();
        self.run_mut(move |fs| {
            if too_long(&dn) {
                return reply.error(Errno::ENAMETOOLONG);
            }
            if flags.contains(RenameFlags::RENAME_EXCHANGE) {
                return reply.error(Errno::EINVAL);
            }
            if flags.contains(RenameFlags::RENAME_NOREPLACE) {
                match fs.dir_lookup(dp, &dn) {
                    Ok(Some(_)) => return reply.error(Errno::EEXIST),
                    Ok(None) => {}
                    Err(e) => return reply.error(errno(&e)),
                }
            }
            // A directory over a non-empty one is ENOTEMPTY (the library
            // says so through rmdir). A target replaced may be known to
            // the kernel.
            pin_known(fs, &lookups, dp, &dn);
            match fs.rename(sp, &sn, dp, &dn) {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let (i, p, n) = (ufs_ino(ino), ufs_ino(newparent), name_bytes(newname));
        if self.read_only {
            return reply.error(Errno::EROFS);
        }
        let lookups = self.lookups.clone();
        self.run_mut(move |fs| {
            if too_long(&n) {
                return reply.error(Errno::ENAMETOOLONG);
            }
            match fs.inode(i) {
                Ok(t) if t.is_dir() => return reply.error(Errno::EPERM),
                _ => {}
            }
            match fs.link(p, &n, i) {
                Ok(()) => reply_entry(fs, &lookups, i, reply),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let writing = flags.0 & 0o3 != 0 || flags.0 & 0o1000 != 0;
        if self.read_only && writing {
            return reply.error(Errno::EROFS);
        }
        // An open file outlives its last name (POSIX): the hold keeps the
        // inode until release.
        let i = ufs_ino(ino);
        self.send(Box::new(move |img| {
            if let Image::Writer(fs) = img {
                // The kernel opens by inode number, after a lookup: another
                // program may have removed the last name in between, but
                // then the inode is held for the kernel until it forgets
                // the number (`pin_known`), so it is still this file.
                // Should the kernel open a number it never had, a free
                // inode is refused as a lookup would be.
                match fs.inode(i) {
                    Ok(n) if !n.is_allocated() => return reply.error(Errno::ENOENT),
                    Err(e) => return reply.error(errno(&e)),
                    Ok(_) => fs.hold(i),
                }
            }
            reply.opened(FileHandle(0), FopenFlags::empty());
        }));
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let i = ufs_ino(ino);
        let gate = self.gate.clone();
        self.send(Box::new(move |img| match unhold(img, &gate, i) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }));
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyData,
    ) {
        let i = ufs_ino(ino);
        self.run_read(move |fs, kept| {
            let r = (|| -> Result<Vec<u8>, Error> {
                let m = match kept.mapped() {
                    Some(m) if m.inode.ino == i => m,
                    _ => {
                        let inode = fs.inode(i)?;
                        let extents = fs.extents(&inode)?;
                        let m = Arc::new(Mapped { inode, extents });
                        *lock(&kept.mapped) = Some(m.clone());
                        m
                    }
                };
                // Bounded by the kernel's request (max_read), not by the file.
                let mut buf = vec![0u8; size as usize];
                let n = fs.read_at(&m.inode, &m.extents, offset, &mut buf)?;
                buf.truncate(n);
                Ok(buf)
            })();
            match r {
                Ok(b) => reply.data(&b),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyWrite,
    ) {
        let (i, d) = (ufs_ino(ino), data.to_vec());
        if self.read_only {
            return reply.error(Errno::EROFS);
        }
        self.run_mut(move |fs| {
            if offset.saturating_add(d.len() as u64) > fs.geometry().maxfilesize {
                return reply.error(Errno::EFBIG);
            }
            match fs.write_file(i, offset, &d) {
                Ok(()) => reply.written(u32::try_from(d.len()).unwrap_or(u32::MAX)),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: fuser::LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.sync_reply(reply);
    }

    fn opendir(&self, _req: &Request, _ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        reply.opened(FileHandle(0), FopenFlags::empty());
    }

    // The offset is an index this listing handed out, below its length.
    #[allow(clippy::cast_possible_truncation)]
    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let i = ufs_ino(ino);
        self.run_read(move |fs, kept| {
            let r = list_from(fs, kept, i, offset, |next, e| {
                let t = kind_dt(e.dtype);
                Ok(reply.add(fuse_ino(e.ino), next, t, OsStr::from_bytes(&e.name)))
            });
            match r {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let (i, lookups) = (ufs_ino(ino), self.lookups.clone());
        self.run_read(move |fs, kept| {
            // The kernel takes a lookup of every entry it is sent but `.`
            // and `..`; they are counted once the reply is sure to go.
            let mut handed = Vec::new();
            let r = list_from(fs, kept, i, offset, |next, e| {
                let inode = fs.inode(e.ino)?;
                let (a, g) = (attr(fs, &inode), Generation(u64::from(inode.gen())));
                let name = OsStr::from_bytes(&e.name);
                let full = reply.add(fuse_ino(e.ino), next, name, &TTL, &a, g);
                if !full && e.name != b"." && e.name != b".." {
                    handed.push(e.ino);
                }
                Ok(full)
            });
            match r {
                Ok(()) => {
                    handed.iter().for_each(|&i| lookups.add(i));
                    reply.ok()
                }
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.sync_reply(reply);
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        // A session's own counts include changes not on disk yet.
        self.send(Box::new(move |img| match img {
            Image::Reader(fs) => statfs_reply(fs.space(), fs, reply),
            Image::Writer(fs) => statfs_reply(fs.space(), fs, reply),
        }));
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let i = ufs_ino(ino);
        let Some((ns, n)) = xattr_name(name) else {
            return reply.error(Errno::EOPNOTSUPP);
        };
        let v = value.to_vec();
        if self.read_only {
            return reply.error(Errno::EROFS);
        }
        self.run_mut(move |fs| {
            // XATTR_CREATE = 1, XATTR_REPLACE = 2.
            if flags & 3 != 0 {
                let exists = match fs.inode(i).and_then(|inode| fs.xattrs(&inode)) {
                    Ok(x) => x.iter().any(|x| x.namespace == ns && x.name == n),
                    Err(e) => return reply.error(errno(&e)),
                };
                if flags & 1 != 0 && exists {
                    return reply.error(Errno::EEXIST);
                }
                if flags & 2 != 0 && !exists {
                    return reply.error(Errno::ENODATA);
                }
            }
            match fs.set_xattr(i, ns, &n, &v) {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let i = ufs_ino(ino);
        let Some((ns, n)) = xattr_name(name) else {
            return reply.error(Errno::ENODATA);
        };
        self.run_read(move |fs, _| {
            let found = match fs.inode(i).and_then(|inode| fs.xattrs(&inode)) {
                Ok(x) => x.into_iter().find(|x| x.namespace == ns && x.name == n),
                Err(e) => return reply.error(errno(&e)),
            };
            match found {
                None => reply.error(Errno::ENODATA),
                Some(x) => xattr_reply(&x.value, size, reply),
            }
        });
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        let i = ufs_ino(ino);
        self.run_read(move |fs, _| {
            let list = match fs.inode(i).and_then(|inode| fs.xattrs(&inode)) {
                Ok(x) => x,
                Err(e) => return reply.error(errno(&e)),
            };
            let mut out = Vec::new();
            for x in list.iter().filter(|x| x.namespace == Namespace::User) {
                out.extend_from_slice(b"user.");
                out.extend_from_slice(&x.name);
                out.push(0);
            }
            xattr_reply(&out, size, reply);
        });
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let i = ufs_ino(ino);
        let Some((ns, n)) = xattr_name(name) else {
            return reply.error(Errno::ENODATA);
        };
        if self.read_only {
            return reply.error(Errno::EROFS);
        }
        self.run_mut(move |fs| match fs.remove_xattr(i, ns, &n) {
            Ok(()) => reply.ok(),
            Err(Error::NotFound { .. }) => reply.error(Errno::ENODATA),
            Err(e) => reply.error(errno(&e)),
        });
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let (perm, lookups) = ((mode & !umask & 0o7777) as u16, self.lookups.clone());
        self.run_new(
            req,
            parent,
            name,
            perm,
            false,
            reply,
            move |fs, p, n, node, reply| {
                let r = fs
                    .create(p, n, FileType::Regular, &node)
                    .and_then(|ino| fs.inode(ino));
                match r {
                    Ok(i) => {
                        fs.hold(i.ino);
                        lookups.add(i.ino);
                        reply.created(
                            &TTL,
                            &attr(fs, &i),
                            Generation(u64::from(i.gen())),
                            FileHandle(0),
                            FopenFlags::empty(),
                        )
                    }
                    Err(e) => reply.error(errno(&e)),
                }
            },
        );
    }
}

impl UfsFuse {
    /// fsync and fsyncdir: everything the session changed goes to the image
    /// (and the device is flushed), but the image stays marked not clean
    /// until the unmount.
    fn sync_reply(&self, reply: ReplyEmpty) {
        if self.read_only {
            return reply.ok();
        }
        self.run_mut(move |fs| match fs.sync_unclean() {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        });
    }
}

fn statfs_reply(space: ufskit::Result<ufskit::fs::Space>, fs: &Ufs, reply: ReplyStatfs) {
    match space {
        Ok(s) => {
            let g = fs.geometry();
            reply.statfs(
                s.data_frags,
                s.free_frags,
                s.avail_frags,
                s.inodes,
                s.free_inodes,
                g.bsize,
                255,
                g.fsize,
            )
        }
        Err(e) => reply.error(errno(&e)),
    }
}

fn xattr_reply(data: &[u8], size: u32, reply: ReplyXattr) {
    if size == 0 {
        reply.size(u32::try_from(data.len()).unwrap_or(u32::MAX));
    } else if data.len() > size as usize {
        reply.error(Errno::ERANGE);
    } else {
        reply.data(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_round_trip_through_linux_encoding() {
        for (ma, mi) in [(1, 3), (8, 1), (4095, 255), (259, 65536), (0, 1_048_575)] {
            assert_eq!(linux_major_minor(linux_dev(ma, mi)), (ma, mi));
        }
        // glibc: makedev(8, 1) == 0x801.
        assert_eq!(linux_dev(8, 1), 0x801);
    }

    #[test]
    fn times_before_1970_round_trip() {
        for t in [
            Timespec {
                sec: -14_182_940,
                nsec: 0,
            },
            Timespec { sec: -1, nsec: 500 },
            Timespec {
                sec: 1_700_000_000,
                nsec: 123_456_789,
            },
        ] {
            assert_eq!(timespec(system_time(t)), t);
        }
    }
}
