//! `ufs makefs`: build an image from host directories and tar archives.
//!
//! Sources are scanned into one tree first (metadata only), so the image
//! can be sized to fit, as makefs(8) does without `-s`. The tree is then
//! written with the library's bulk builder (`ufskit::populate`): inodes
//! allocated up front, file contents streamed in (tar archives are read a
//! second time for their data, in archive order), each directory written
//! once. Holes in host files are kept (SEEK_DATA/SEEK_HOLE); in tar members
//! (GNU sparse, PAX sparse 0.0/0.1/1.0, or plain) every 4 KiB piece of
//! zeros is left as a hole (`tarsparse.rs`). Output is deterministic:
//! entries are sorted by name, and with `--reproducible` or
//! `SOURCE_DATE_EPOCH` every time stamp the build makes, the file-system id
//! and the inode generations are fixed, so the same input gives the same
//! bytes.
//!
//! Memory and time, for trees of many small files: the scanned tree is an
//! arena of 80-byte nodes with names in one shared buffer (no per-node
//! allocation, no paths); directories are read and their entries stat'ed
//! and opened relative to the directory's descriptor, a helper thread
//! sharing the `lstat` calls; host files are read by two threads into a
//! few recycled batches while this thread writes the image through the
//! write-combining layer, which is not fsync'ed unless `--sync` asks.

use crate::output::fail;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use ufskit::inode::Timespec;
use ufskit::newfs::{self, NewfsOptions};
use ufskit::populate::{Nodes, TreeBuilder};
use ufskit::{FileType, NewNode, OpenOptions, Session, UfsVersion};

/// Arguments of `ufs makefs`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Image size (k/m/g/t suffixes); default: what the tree needs plus -b/-f.
    #[arg(short = 's', value_name = "SIZE")]
    pub size: Option<String>,
    /// Free space to leave: blocks of the block size, or a percentage ("10%").
    #[arg(short = 'b', value_name = "FREE", default_value = "10%")]
    pub free_blocks: String,
    /// Free inodes to leave: a count, or a percentage ("10%").
    #[arg(short = 'f', value_name = "FREE", default_value = "10%")]
    pub free_inodes: String,
    /// mtree(5) specification giving owners, modes, flags and times (as
    /// makefs -F), so an unprivileged build can make a root-owned tree.
    #[arg(short = 'F', value_name = "SPEC")]
    pub spec: Option<PathBuf>,
    /// UFS version (1 or 2).
    #[arg(short = 'O', id = "ufs_version", default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub ufs_version: u8,
    /// newfs options as makefs -o takes them: bsize=N,fsize=N,density=N,
    /// minfree=N,optimization=space|time,label=L,avgfilesize=N,avgfpdir=N.
    #[arg(short = 'o', value_name = "OPTS")]
    pub options: Vec<String>,
    /// Volume label.
    #[arg(short = 'L')]
    pub label: Option<String>,
    /// Set the soft-updates flag.
    #[arg(short = 'U')]
    pub soft_updates: bool,
    /// Byte-identical output for the same input (also SOURCE_DATE_EPOCH).
    #[arg(long)]
    pub reproducible: bool,
    /// Show progress on a terminal.
    #[arg(long)]
    pub progress: bool,
    /// Print how long each phase took (to standard error).
    #[arg(long)]
    pub timings: bool,
    /// Make the image durable (fsync) before exiting. Without it the image
    /// is left to the page cache, as cp and NetBSD makefs leave theirs.
    #[arg(long)]
    pub sync: bool,
    /// Replace an image that holds another file system or a partition table
    /// (an existing UFS image is replaced without it, as makefs does).
    #[arg(long)]
    pub force: bool,
    /// Image file to write (replaced).
    pub image: PathBuf,
    /// Directories and tar archives (plain, gzip, xz, zstd), merged in order.
    #[arg(required = true)]
    pub sources: Vec<PathBuf>,
}

/// "No node" in the tree's `u32` links.
const NONE: u32 = u32::MAX;

/// Where a regular file's bytes come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Content {
    None,
    /// A file under host source directory number `.0`; its path is
    /// rebuilt from the tree when it is copied (a path per file would
    /// double the memory a large tree needs).
    Host(u16),
    /// A member of tar archive number `.0` (its ordinal in the archive is
    /// the node's `aux`).
    Tar(u16),
}

// `SNode::bits`.
/// The host file may have holes (fewer blocks than its size needs); only
/// such files are searched for holes while copying.
const SPARSE: u8 = 1;
/// The access, modification, change time is known (`ATIME << k` for time
/// `k` of `SNode::secs`); an unknown time is the build's.
const ATIME: u8 = 2;
/// A hard link: `aux` is the node holding the data.
const LINK: u8 = 16;
/// Other nodes are hard links to this one.
const LINKED: u8 = 32;
/// A directory that has had children.
const HAS_KIDS: u8 = 64;

/// One scanned node, about 80 bytes: names and symlink targets live in
/// the tree's shared buffers, links are `u32` indices, and no path is kept
/// (it is rebuilt from the parent links when needed).
#[derive(Clone, Copy, Debug)]
struct SNode {
    /// Access, modification and status-change seconds.
    secs: [i64; 3],
    /// Regular file: its size. Symlink: where its target is in
    /// `Tree::targets` (offset << 20 | length). Device: major << 32 | minor.
    data: u64,
    nsecs: [u32; 3],
    parent: u32,
    /// With `LINK`: the node holding the data. With tar content: the
    /// member's ordinal in its archive.
    aux: u32,
    name_off: u32,
    uid: u32,
    gid: u32,
    fflags: u32,
    perm: u16,
    content: Content,
    name_len: u8,
    kind: FileType,
    bits: u8,
}

// The arena's size is most of the memory a large tree needs.
const _: () = assert!(std::mem::size_of::<SNode>() <= 80);

fn ts(sec: i64, nsec: i64) -> Timespec {
    Timespec {
        sec,
        nsec: u32::try_from(nsec).unwrap_or(0),
    }
}

impl SNode {
    /// A node of type `kind` with the owner, mode, flags, times and device
    /// number of `attr` (its birth time is not kept: none is read).
    fn new(kind: FileType, attr: &NewNode) -> SNode {
        let mut n = SNode {
            secs: [0; 3],
            data: 0,
            nsecs: [0; 3],
            parent: 0,
            aux: NONE,
            name_off: 0,
            uid: 0,
            gid: 0,
            fflags: 0,
            perm: 0,
            content: Content::None,
            name_len: 0,
            kind,
            bits: 0,
        };
        n.set_attr(attr);
        if let (Some((ma, mi)), FileType::CharDevice | FileType::BlockDevice) = (attr.rdev, kind) {
            n.data = (u64::from(ma) << 32) | u64::from(mi);
        }
        n
    }

    /// A directory no source describes (the root, a parent an archive
    /// skipped, one a spec names): mode 0755, owned by 0:0.
    fn implied_dir(mtime: Option<Timespec>) -> SNode {
        SNode::new(
            FileType::Directory,
            &NewNode {
                perm: 0o755,
                mtime,
                ..Default::default()
            },
        )
    }

    /// Takes owner, mode, flags and times from `a`.
    fn set_attr(&mut self, a: &NewNode) {
        self.perm = a.perm;
        self.uid = a.uid;
        self.gid = a.gid;
        self.fflags = a.flags;
        self.bits &= !(ATIME | ATIME << 1 | ATIME << 2);
        for (k, t) in [a.atime, a.mtime, a.ctime].into_iter().enumerate() {
            if let Some(t) = t {
                self.secs[k] = t.sec;
                self.nsecs[k] = t.nsec;
                self.bits |= ATIME << k;
            } else {
                self.secs[k] = 0;
                self.nsecs[k] = 0;
            }
        }
    }

    fn time(&self, k: usize) -> Option<Timespec> {
        (self.bits & (ATIME << k) != 0).then(|| Timespec {
            sec: self.secs[k],
            nsec: self.nsecs[k],
        })
    }

    /// The node holding this one's data: a hard link's target, or itself.
    fn link(&self, me: u32) -> u32 {
        if self.bits & LINK != 0 {
            self.aux
        } else {
            me
        }
    }

    fn is_link(&self) -> bool {
        self.bits & LINK != 0
    }

    fn size(&self) -> u64 {
        if self.kind == FileType::Regular {
            self.data
        } else {
            0
        }
    }
}

/// The scanned tree: a node arena (index 0 is the root) with every name in
/// one byte buffer, and a hash index from (parent, name) to node that is
/// dropped once the tree is complete.
struct Tree {
    nodes: Vec<SNode>,
    names: Vec<u8>,
    targets: Vec<u8>,
    index: Index,
    /// Times the image records are the modification time (a reproducible
    /// build: access and change times record when it ran).
    reproducible: bool,
}

/// Open addressing over node numbers, keyed by (parent, name) through the
/// tree (a `HashMap` with owned path keys cost over 100 bytes a node);
/// built lazily, by the first lookup that needs it.
#[derive(Default)]
struct Index {
    slots: Vec<u32>,
    used: usize,
    /// Nodes below this number are in `slots`.
    upto: u32,
}

fn name_hash(parent: u32, name: &[u8]) -> u64 {
    // FNV-1a over the parent number and the name, then a final mix.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in parent.to_le_bytes().iter().chain(name) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ (h >> 29)
}

impl Tree {
    fn new() -> Tree {
        let root = SNode::implied_dir(None);
        Tree {
            nodes: vec![root],
            names: Vec::new(),
            targets: Vec::new(),
            index: Index::default(),
            reproducible: false,
        }
    }

    fn name(&self, i: u32) -> &[u8] {
        let n = &self.nodes[i as usize];
        &self.names[n.name_off as usize..n.name_off as usize + usize::from(n.name_len)]
    }

    fn target(&self, i: u32) -> &[u8] {
        let n = &self.nodes[i as usize];
        if n.kind != FileType::Symlink {
            return &[];
        }
        let off = (n.data >> 20) as usize;
        &self.targets[off..off + (n.data & 0xf_ffff) as usize]
    }

    /// Stores a symlink target; the value for `SNode::data`.
    fn store_target(&mut self, t: &[u8]) -> Result<u64, String> {
        if t.len() > 0xf_ffff {
            return Err(format!("symlink target of {} bytes is too long", t.len()));
        }
        let off = self.targets.len() as u64;
        self.targets.extend_from_slice(t);
        Ok(off << 20 | t.len() as u64)
    }

    /// What the image gets for node `i`'s owner, mode, flags and times.
    fn attr(&self, i: u32) -> NewNode {
        let n = &self.nodes[i as usize];
        let rdev = matches!(n.kind, FileType::CharDevice | FileType::BlockDevice)
            .then_some(((n.data >> 32) as u32, n.data as u32));
        let mtime = n.time(1);
        let (atime, ctime, birthtime) = if self.reproducible {
            (mtime, mtime, mtime)
        } else {
            (n.time(0), n.time(2), None)
        };
        NewNode {
            perm: n.perm,
            uid: n.uid,
            gid: n.gid,
            rdev,
            atime,
            mtime,
            ctime,
            birthtime,
            flags: n.fflags,
        }
    }

    /// The child of `parent` called `name`.
    fn lookup(&mut self, parent: u32, name: &[u8]) -> Option<u32> {
        // Nodes are indexed when a lookup first needs them: a single host
        // directory never needs any.
        while (self.index.upto as usize) < self.nodes.len() {
            let i = self.index.upto;
            if i > 0 {
                self.index_insert(i);
            }
            self.index.upto += 1;
        }
        let slots = &self.index.slots;
        if slots.is_empty() {
            return None;
        }
        let mask = slots.len() - 1;
        let mut k = name_hash(parent, name) as usize & mask;
        loop {
            let s = slots[k];
            if s == NONE {
                return None;
            }
            if self.nodes[s as usize].parent == parent && self.name(s) == name {
                return Some(s);
            }
            k = (k + 1) & mask;
        }
    }

    fn index_insert(&mut self, i: u32) {
        if (self.index.used + 1) * 2 > self.index.slots.len() {
            let len = (self.index.slots.len() * 2).max(1024);
            let old = std::mem::replace(&mut self.index.slots, vec![NONE; len]);
            self.index.used = 0;
            for s in old.into_iter().filter(|&s| s != NONE) {
                self.index_insert(s);
            }
        }
        let mask = self.index.slots.len() - 1;
        let n = &self.nodes[i as usize];
        let mut k = name_hash(n.parent, self.name(i)) as usize & mask;
        while self.index.slots[k] != NONE {
            k = (k + 1) & mask;
        }
        self.index.slots[k] = i;
        self.index.used += 1;
    }

    /// The node at `path` (components), if the tree has it.
    fn lookup_path<C: AsRef<[u8]>>(&mut self, path: &[C]) -> Option<u32> {
        path.iter()
            .try_fold(0u32, |at, c| self.lookup(at, c.as_ref()))
    }

    /// Adds `node` as `parent`'s child `name` (which it does not have yet).
    fn add(&mut self, parent: u32, name: &[u8], mut node: SNode) -> Result<u32, String> {
        let i = u32::try_from(self.nodes.len())
            .ok()
            .filter(|&i| i < NONE)
            .ok_or("too many files")?;
        node.parent = parent;
        node.name_off = u32::try_from(self.names.len()).map_err(|_| "names too long")?;
        node.name_len = u8::try_from(name.len()).map_err(|_| {
            format!(
                "{}: name longer than 255 bytes",
                String::from_utf8_lossy(name)
            )
        })?;
        node.bits &= !HAS_KIDS;
        self.names.extend_from_slice(name);
        self.nodes.push(node);
        self.nodes[parent as usize].bits |= HAS_KIDS;
        Ok(i)
    }

    /// Adds or replaces `parent`'s child `name`. `what` names it in errors.
    fn put_child(
        &mut self,
        parent: u32,
        name: &[u8],
        node: SNode,
        what: &dyn Fn() -> String,
    ) -> Result<u32, String> {
        let Some(i) = self.lookup(parent, name) else {
            return self.add(parent, name, node);
        };
        let old = self.nodes[i as usize];
        if old.kind == FileType::Directory && node.kind == FileType::Directory {
            // Merging directories: the later source's attributes win.
            let a = self.attr_of(&node);
            self.nodes[i as usize].set_attr(&a);
            return Ok(i);
        }
        if old.bits & HAS_KIDS != 0 && node.kind != FileType::Directory {
            return Err(format!(
                "{}: a directory would be replaced by a file",
                what()
            ));
        }
        self.nodes[i as usize] = SNode {
            parent: old.parent,
            name_off: old.name_off,
            name_len: old.name_len,
            bits: (node.bits & !HAS_KIDS) | (old.bits & (HAS_KIDS | LINKED)),
            ..node
        };
        Ok(i)
    }

    /// `n`'s attributes as given (not as a reproducible image stores them).
    fn attr_of(&self, n: &SNode) -> NewNode {
        NewNode {
            perm: n.perm,
            uid: n.uid,
            gid: n.gid,
            atime: n.time(0),
            mtime: n.time(1),
            ctime: n.time(2),
            flags: n.fflags,
            ..Default::default()
        }
    }

    /// Adds or replaces the node at `path` (components, no `.`/`..`),
    /// creating missing parent directories. Returns its index.
    fn put<C: AsRef<[u8]>>(&mut self, path: &[C], node: SNode) -> Result<u32, String> {
        let shown = |k: usize| {
            String::from_utf8_lossy(
                &path[..=k]
                    .iter()
                    .map(|c| c.as_ref())
                    .collect::<Vec<_>>()
                    .join(&b'/'),
            )
            .into_owned()
        };
        let mut parent = 0u32;
        for (k, comp) in path.iter().enumerate() {
            let comp = comp.as_ref();
            if k + 1 == path.len() {
                return self.put_child(parent, comp, node, &|| shown(k));
            }
            parent = match self.lookup(parent, comp) {
                Some(i) if self.nodes[i as usize].kind != FileType::Directory => {
                    return Err(format!("{}: not a directory", shown(k)));
                }
                Some(i) => i,
                None => self.add(parent, comp, SNode::implied_dir(node.time(1)))?,
            };
        }
        // An empty path is the root itself.
        if node.kind == FileType::Directory {
            let a = self.attr_of(&node);
            self.nodes[0].set_attr(&a);
        }
        Ok(0)
    }

    /// The host path of node `i` under source directory `root`.
    fn host_path(&self, root: &Path, i: u32) -> PathBuf {
        use std::os::unix::ffi::OsStrExt;
        let mut comps = Vec::new();
        let mut i = i;
        while i != 0 {
            comps.push(i);
            i = self.nodes[i as usize].parent;
        }
        let mut p = root.to_path_buf();
        for &c in comps.iter().rev() {
            p.push(std::ffi::OsStr::from_bytes(self.name(c)));
        }
        p
    }
}

/// Splits a path from an archive or spec into safe components: no empty,
/// `.` or `..` components (an archive cannot climb out of the tree).
fn components(p: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for c in p.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                return Err(format!(
                    "{}: '..' in an archive path",
                    String::from_utf8_lossy(p)
                ))
            }
            c if c.len() > 255 => {
                return Err(format!(
                    "{}: name longer than 255 bytes",
                    String::from_utf8_lossy(p)
                ))
            }
            c => out.push(c.to_vec()),
        }
    }
    Ok(out)
}

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
struct ScanCtx<'a> {
    source: u16,
    /// (device, inode) of each multiply linked file seen: the node that
    /// holds its data.
    links: HashMap<(u64, u64), u32>,
    /// The thread that stats entries alongside this one.
    helper: Option<&'a StatHelper>,
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
struct StatHelper {
    jobs: std::sync::mpsc::SyncSender<std::sync::Arc<StatJob>>,
}

impl StatHelper {
    /// Starts the thread (`None` on a single processor). It ends when the
    /// helper is dropped.
    fn start() -> Option<StatHelper> {
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
    let spans: Vec<(u32, u8)> = spans
        .iter()
        .map(|s| {
            let at = names.len() as u32;
            names.extend_from_slice(name(s));
            (at, s.1)
        })
        .collect();
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

/// Opens a tar archive, decompressing by magic number.
fn open_tar(path: &Path) -> Result<Box<dyn Read>, String> {
    let mut f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut magic = [0u8; 6];
    let n = f
        .read(&mut magic)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let r = std::io::BufReader::with_capacity(1 << 20, f);
    Ok(match &magic[..n.min(6)] {
        [0x1f, 0x8b, ..] => Box::new(flate2::read::MultiGzDecoder::new(r)),
        [0xfd, b'7', b'z', b'X', b'Z', 0] => Box::new(xz2::read::XzDecoder::new_multi_decoder(r)),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Box::new(
            zstd::stream::read::Decoder::new(f_reopen(path)?)
                .map_err(|e| format!("{}: {e}", path.display()))?,
        ),
        _ => Box::new(r),
    })
}

fn f_reopen(path: &Path) -> Result<File, String> {
    File::open(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A pax time: decimal seconds, optionally negative, with a fraction.
fn pax_time(v: &str) -> Option<Timespec> {
    let (neg, v) = match v.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, v),
    };
    let (s, f) = v.split_once('.').unwrap_or((v, ""));
    let sec: i64 = s.parse().ok()?;
    let digits: String = f.chars().take(9).collect();
    let nsec: i64 = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    Some(if neg {
        if nsec == 0 {
            ts(-sec, 0)
        } else {
            ts(-sec - 1, 1_000_000_000 - nsec)
        }
    } else {
        ts(sec, nsec)
    })
}

/// FreeBSD file flags by the names tar's SCHILY.fflags and mtree use.
fn fflags(names: &str) -> u32 {
    names
        .split(',')
        .map(|n| match n.trim() {
            "nodump" => 0x1,
            "uchg" | "uimmutable" | "uchange" => 0x2,
            "uappnd" | "uappend" => 0x4,
            "opaque" => 0x8,
            "uunlnk" | "uunlink" => 0x10,
            "arch" | "archived" => 0x1_0000,
            "schg" | "simmutable" | "schange" => 0x2_0000,
            "sappnd" | "sappend" => 0x4_0000,
            "sunlnk" | "sunlink" => 0x10_0000,
            _ => 0,
        })
        .fold(0, |a, b| a | b)
}

/// The PAX sparse records of a member (none for most).
fn member_sparse<R: Read>(
    entry: &mut tar::Entry<'_, R>,
) -> Result<super::tarsparse::PaxSparse, String> {
    let Ok(Some(exts)) = entry.pax_extensions() else {
        return Ok(Default::default());
    };
    let records: Vec<(String, Vec<u8>)> = exts
        .flatten()
        .filter_map(|e| Some((e.key().ok()?.to_string(), e.value_bytes().to_vec())))
        .filter(|(k, _)| k.starts_with("GNU.sparse."))
        .collect();
    super::tarsparse::from_pax(records.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
}

/// Scans tar archive number `archive` into the tree (metadata only; the
/// data is read in a second pass, matched by each member's ordinal).
fn scan_tar(tree: &mut Tree, path: &Path, archive: u16) -> Result<(), String> {
    let ctx = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut ar = tar::Archive::new(open_tar(path)?);
    for (ordinal, entry) in ar.entries().map_err(ctx)?.enumerate() {
        let mut entry = entry.map_err(ctx)?;
        let ordinal = u32::try_from(ordinal)
            .ok()
            .filter(|&o| o < NONE)
            .ok_or_else(|| format!("{}: too many members", path.display()))?;
        let h = entry.header().clone();
        let mut flags = 0;
        let mut mtime = ts(h.mtime().map_or(0, |t| i64::try_from(t).unwrap_or(0)), 0);
        let mut atime = None;
        if let Ok(Some(exts)) = entry.pax_extensions() {
            for ext in exts.flatten() {
                match (ext.key(), ext.value()) {
                    (Ok("SCHILY.fflags"), Ok(v)) => flags = fflags(v),
                    // pax times carry sign and nanoseconds the ustar field cannot.
                    (Ok("mtime"), Ok(v)) => mtime = pax_time(v).unwrap_or(mtime),
                    (Ok("atime"), Ok(v)) => atime = pax_time(v),
                    _ => {}
                }
            }
        }
        // A PAX sparse member is stored under a made-up name, with only its
        // data chunks: its real name and size are in the records.
        let sparse = member_sparse(&mut entry).map_err(|e| format!("{}: {e}", path.display()))?;
        let raw_path = sparse
            .name
            .clone()
            .unwrap_or_else(|| entry.path_bytes().into_owned());
        let comps = components(&raw_path)?;
        let et = h.entry_type();
        let kind = match et {
            tar::EntryType::Directory => FileType::Directory,
            tar::EntryType::Symlink => FileType::Symlink,
            tar::EntryType::Fifo => FileType::Fifo,
            tar::EntryType::Char => FileType::CharDevice,
            tar::EntryType::Block => FileType::BlockDevice,
            tar::EntryType::Link => FileType::Regular,
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                FileType::Regular
            }
            _ => continue, // pax headers and the like carry no file
        };
        let rdev = matches!(kind, FileType::CharDevice | FileType::BlockDevice).then(|| {
            (
                h.device_major().ok().flatten().unwrap_or(0),
                h.device_minor().ok().flatten().unwrap_or(0),
            )
        });
        let attr = NewNode {
            perm: (h.mode().unwrap_or(0o644) & 0o7777) as u16,
            uid: h.uid().unwrap_or(0) as u32,
            gid: h.gid().unwrap_or(0) as u32,
            rdev,
            atime: Some(atime.unwrap_or(mtime)),
            mtime: Some(mtime),
            ctime: Some(mtime),
            birthtime: None,
            flags,
        };
        let target = entry
            .link_name_bytes()
            .map(|c| c.into_owned())
            .unwrap_or_default();
        let mut node = SNode::new(kind, &attr);
        match kind {
            FileType::Symlink => node.data = tree.store_target(&target)?,
            FileType::Regular if et != tar::EntryType::Link => {
                node.data = match sparse.size {
                    Some(s) if sparse.is_sparse() => s,
                    _ => entry.size(),
                };
                node.content = Content::Tar(archive);
                node.aux = ordinal;
            }
            _ => {}
        }
        if et == tar::EntryType::Link {
            let t = tree.lookup_path(&components(&target)?).ok_or_else(|| {
                format!(
                    "{}: hard link to {} which is not in the archive before it",
                    path.display(),
                    String::from_utf8_lossy(&target)
                )
            })?;
            // A link to a link is a link to what that one links to.
            let t = tree.nodes[t as usize].link(t);
            node.bits |= LINK;
            node.aux = t;
            node.data = 0;
            tree.nodes[t as usize].bits |= LINKED;
        }
        tree.put(&comps, node)?;
        // Skip the data now; it is read again in the second pass.
        std::io::copy(&mut entry, &mut std::io::sink()).map_err(ctx)?;
    }
    Ok(())
}

/// The scanned tree in the order the image gets it: parents first,
/// children sorted by name. A hard-linked file's data goes with whichever
/// of its names comes first; the others link to it. Positions map to
/// scanned nodes through `order` (`None` when they are the same, as for a
/// single host directory, which is scanned in this order).
struct Flat<'t> {
    tree: &'t Tree,
    order: Option<Vec<u32>>,
    /// Position of each scanned node (`None` with `order`).
    pos: Option<Vec<u32>>,
    /// For each scanned node other names link to: the position holding
    /// the data.
    holder: HashMap<u32, u32>,
}

impl Flat<'_> {
    fn new(tree: &Tree) -> Flat<'_> {
        let n = tree.nodes.len();
        // Children of each node (`kids[start[d]..start[d + 1]]`), sorted.
        let mut start = vec![0u32; n + 1];
        for node in &tree.nodes[1..] {
            start[node.parent as usize + 1] += 1;
        }
        for d in 0..n {
            start[d + 1] += start[d];
        }
        let mut kids = vec![0u32; n.saturating_sub(1)];
        {
            let mut fill = start[..n].to_vec();
            for (i, node) in tree.nodes.iter().enumerate().skip(1) {
                let p = node.parent as usize;
                kids[fill[p] as usize] = i as u32;
                fill[p] += 1;
            }
        }
        for d in 0..n {
            kids[start[d] as usize..start[d + 1] as usize]
                .sort_by(|&a, &b| tree.name(a).cmp(tree.name(b)));
        }
        let mut order = Vec::with_capacity(n);
        let mut stack = vec![0u32];
        while let Some(i) = stack.pop() {
            order.push(i);
            let (a, b) = (start[i as usize] as usize, start[i as usize + 1] as usize);
            stack.extend(kids[a..b].iter().rev());
        }
        drop((kids, start));
        let identity = order.iter().enumerate().all(|(p, &i)| p == i as usize);
        let (order, pos) = if identity {
            (None, None)
        } else {
            let mut pos = vec![0u32; n];
            for (p, &i) in order.iter().enumerate() {
                pos[i as usize] = p as u32;
            }
            (Some(order), Some(pos))
        };
        let mut flat = Flat {
            tree,
            order,
            pos,
            holder: HashMap::new(),
        };
        for p in 0..n as u32 {
            let i = flat.node(p);
            let g = tree.nodes[i as usize].link(i);
            if tree.nodes[g as usize].bits & LINKED != 0 {
                flat.holder.entry(g).or_insert(p);
            }
        }
        flat
    }

    /// The scanned node at position `p`.
    fn node(&self, p: u32) -> u32 {
        self.order.as_ref().map_or(p, |o| o[p as usize])
    }

    /// The position of scanned node `i`.
    fn pos(&self, i: u32) -> u32 {
        self.pos.as_ref().map_or(i, |o| o[i as usize])
    }

    /// The position that holds scanned node `i`'s data.
    fn data_pos(&self, i: u32) -> u32 {
        let g = self.tree.nodes[i as usize].link(i);
        if self.tree.nodes[g as usize].bits & LINKED == 0 {
            return self.pos(g);
        }
        self.holder.get(&g).copied().unwrap_or_else(|| self.pos(g))
    }
}

impl Nodes for Flat<'_> {
    fn count(&self) -> usize {
        self.tree.nodes.len()
    }
    fn parent(&self, p: usize) -> usize {
        let i = self.node(p as u32);
        self.pos(self.tree.nodes[i as usize].parent) as usize
    }
    fn name(&self, p: usize) -> &[u8] {
        self.tree.name(self.node(p as u32))
    }
    fn kind(&self, p: usize) -> FileType {
        let i = self.node(p as u32);
        self.tree.nodes[self.tree.nodes[i as usize].link(i) as usize].kind
    }
    fn link_to(&self, p: usize) -> Option<usize> {
        let h = self.data_pos(self.node(p as u32)) as usize;
        (h != p).then_some(h)
    }
    fn attr(&self, p: usize) -> NewNode {
        let i = self.node(p as u32);
        self.tree.attr(self.tree.nodes[i as usize].link(i))
    }
    fn target(&self, p: usize) -> &[u8] {
        let i = self.node(p as u32);
        self.tree.target(self.tree.nodes[i as usize].link(i))
    }
}

/// Decodes mtree's `vis` escapes (`\ooo`, `\s`, `\\`, `\t`, `\n`).
fn unvis(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            let rest = &b[i + 1..];
            if rest.len() >= 3 && rest[..3].iter().all(|c| (b'0'..=b'7').contains(c)) {
                out.push(((rest[0] - b'0') << 6) | ((rest[1] - b'0') << 3) | (rest[2] - b'0'));
                i += 4;
                continue;
            }
            out.push(match rest[0] {
                b's' => b' ',
                b't' => b'\t',
                b'n' => b'\n',
                c => c,
            });
            i += 2;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn user_id(name: &str) -> Option<u32> {
    // Only the ids every FreeBSD system has; anything else must be numeric
    // (the build host's database says nothing about the target's).
    match name {
        "root" | "wheel" => Some(0),
        "operator" => Some(5),
        "bin" => Some(3),
        "tty" => Some(4),
        "kmem" => Some(2),
        "nobody" | "nogroup" => Some(65534),
        _ => None,
    }
}

/// Applies an mtree(5) specification to the scanned tree: owners, modes,
/// flags and times of the entries it names; missing directories it names
/// are created.
fn apply_spec(tree: &mut Tree, spec: &Path) -> Result<u32, String> {
    let text = std::fs::read_to_string(spec).map_err(|e| format!("{}: {e}", spec.display()))?;
    let mut set: HashMap<String, String> = HashMap::new();
    let mut cwd: Vec<Vec<u8>> = Vec::new();
    let mut applied = 0;
    let mut joined = String::new();
    for (lineno, raw) in text.lines().enumerate() {
        if let Some(stripped) = raw.strip_suffix('\\') {
            joined.push_str(stripped);
            joined.push(' ');
            continue;
        }
        joined.push_str(raw);
        let line = std::mem::take(&mut joined);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        let kv: HashMap<String, String> = words
            .filter_map(|w| {
                w.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        match first {
            "/set" => {
                set.extend(kv);
                continue;
            }
            "/unset" => {
                for w in line.split_whitespace().skip(1) {
                    set.remove(w);
                }
                continue;
            }
            ".." => {
                cwd.pop();
                continue;
            }
            _ => {}
        }
        let name = unvis(first);
        let mut merged = set.clone();
        merged.extend(kv);
        let full = name.contains(&b'/');
        let path: Vec<Vec<u8>> = if full {
            components(&name)?
        } else if name == b"." {
            cwd.clone()
        } else {
            let mut p = cwd.clone();
            p.push(name.clone());
            p
        };
        let is_dir = merged.get("type").map(String::as_str) == Some("dir");
        let key = path.join(&b'/');
        let idx = match tree.lookup_path(&path) {
            Some(i) => Some(i),
            None if is_dir => Some(tree.put(&path, SNode::implied_dir(None))?),
            None => {
                eprintln!(
                    "ufs makefs: {}:{}: {} is not in the tree; ignored",
                    spec.display(),
                    lineno + 1,
                    String::from_utf8_lossy(&key)
                );
                None
            }
        };
        if let Some(i) = idx {
            let target = tree.nodes[i as usize].link(i);
            let mut attr = tree.attr_of(&tree.nodes[target as usize]);
            let a = &mut attr;
            let bad = |k: &str, v: &str| format!("{}:{}: bad {k}={v}", spec.display(), lineno + 1);
            for (k, v) in &merged {
                match k.as_str() {
                    "uid" => a.uid = v.parse().map_err(|_| bad(k, v))?,
                    "gid" => a.gid = v.parse().map_err(|_| bad(k, v))?,
                    "uname" if !merged.contains_key("uid") => {
                        a.uid = user_id(v).ok_or_else(|| bad(k, v))?
                    }
                    "gname" if !merged.contains_key("gid") => {
                        a.gid = user_id(v).ok_or_else(|| bad(k, v))?
                    }
                    "mode" => a.perm = u16::from_str_radix(v, 8).map_err(|_| bad(k, v))? & 0o7777,
                    "flags" => a.flags = if v == "none" { 0 } else { fflags(v) },
                    "time" => {
                        let (s, n) = v.split_once('.').unwrap_or((v, "0"));
                        let t = ts(
                            s.parse().map_err(|_| bad(k, v))?,
                            n.parse().map_err(|_| bad(k, v))?,
                        );
                        a.mtime = Some(t);
                        a.atime = Some(t);
                    }
                    _ => {}
                }
            }
            tree.nodes[target as usize].set_attr(&attr);
            applied += 1;
        }
        if is_dir && !full && name != b"." {
            cwd.push(name);
        }
    }
    Ok(applied)
}

fn parse_amount(s: &str, whole: u64) -> Result<u64, String> {
    match s.strip_suffix('%') {
        Some(p) => {
            let p: u64 = p.parse().map_err(|_| format!("bad percentage {s:?}"))?;
            Ok(whole * p / 100)
        }
        None => s.parse().map_err(|_| format!("bad count {s:?}")),
    }
}

/// Fragments a file of `size` bytes needs, indirect blocks included.
fn file_frags(size: u64, bsize: u64, fsize: u64, nindir: u64) -> u64 {
    if size == 0 {
        return 0;
    }
    let frag = bsize / fsize;
    let nblocks = size.div_ceil(bsize);
    if nblocks <= 12 {
        return (nblocks - 1) * frag + (size - (nblocks - 1) * bsize).div_ceil(fsize);
    }
    let mut ind = 1;
    let rest = nblocks - 12;
    if rest > nindir {
        let r2 = rest - nindir;
        ind += 1 + r2.div_ceil(nindir);
        if r2 > nindir * nindir {
            ind += 1
                + (r2 - nindir * nindir).div_ceil(nindir * nindir)
                + (r2 - nindir * nindir).div_ceil(nindir);
        }
    }
    (nblocks + ind) * frag
}

fn apply_o(opts: &mut NewfsOptions, list: &[String]) -> Result<(), String> {
    for item in list.iter().flat_map(|s| s.split(',')) {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| format!("-o {item}: expected key=value"))?;
        let num = || {
            v.parse::<u32>()
                .map_err(|_| format!("-o {k}={v}: not a number"))
        };
        match k {
            "bsize" => opts.bsize = Some(num()?),
            "fsize" => opts.fsize = Some(num()?),
            "density" => opts.density = Some(num()?),
            "minfree" => opts.minfree = Some(num()?),
            "avgfilesize" => opts.avgfilesize = Some(num()?),
            "avgfpdir" => opts.avgfpdir = Some(num()?),
            "maxbpg" => opts.maxbpg = Some(num()?),
            "label" => opts.label = Some(v.to_string()),
            "version" => {
                opts.version = if v == "1" {
                    UfsVersion::Ufs1
                } else {
                    UfsVersion::Ufs2
                }
            }
            "optimization" => {
                opts.optim = Some(match v {
                    "space" => newfs::Optim::Space,
                    "time" => newfs::Optim::Time,
                    _ => return Err(format!("-o optimization={v}: space or time")),
                })
            }
            _ => return Err(format!("-o {k}: unknown option")),
        }
    }
    Ok(())
}

/// Runs `ufs makefs`.
pub fn run(a: Args) -> i32 {
    let context = format!("makefs {}", a.image.display());
    let r = refuse_foreign(&a).and_then(|()| {
        let staged = Staged::beside(&a.image)?;
        let msg = build(&a, staged.path())?;
        staged.commit(&a.image)?;
        Ok(msg)
    });
    match r {
        Ok(msg) => {
            println!("{msg}");
            0
        }
        Err(e) => fail(&context, &e),
    }
}

/// Refuses (without --force) to replace an image that holds something
/// other than UFS: a file system of another kind or a partition table.
fn refuse_foreign(a: &Args) -> Result<(), String> {
    if a.force {
        return Ok(());
    }
    let Ok(dev) = ufskit::io::FileDevice::open_read_only(&a.image) else {
        return Ok(()); // missing (or unreadable: the build will say why)
    };
    if ufskit::Superblock::probe(&dev).is_some() {
        return Ok(());
    }
    match ufskit::signature::foreign(&dev) {
        Some(f) => Err(super::newfs::overwrite_refusal(
            &a.image.display().to_string(),
            &f,
        )),
        None => Ok(()),
    }
}

/// Where the image is built: a temporary file beside the target, renamed
/// over it only when the build succeeded, so a failed build (out of space,
/// an unreadable source) leaves the old image, or nothing, never a
/// half-built one. A target that is not a regular file (a device) is
/// written in place.
enum Staged {
    Temp(tempfile::NamedTempFile),
    InPlace(PathBuf),
}

impl Staged {
    fn beside(target: &Path) -> Result<Staged, String> {
        let shown = |e: std::io::Error| format!("{}: {e}", target.display());
        match std::fs::metadata(target) {
            Ok(m) if !m.is_file() => return Ok(Staged::InPlace(target.to_path_buf())),
            _ => {}
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut b = tempfile::Builder::new();
        b.prefix(&prefix).suffix(".partial");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // As a file created by open(2) with 0666: the umask applies.
            b.permissions(std::fs::Permissions::from_mode(0o666));
        }
        b.tempfile_in(dir).map(Staged::Temp).map_err(shown)
    }

    fn path(&self) -> &Path {
        match self {
            Staged::Temp(t) => t.path(),
            Staged::InPlace(p) => p,
        }
    }

    fn commit(self, target: &Path) -> Result<(), String> {
        let Staged::Temp(t) = self else {
            return Ok(());
        };
        // A replaced image keeps its permissions.
        if let Ok(m) = std::fs::metadata(target) {
            let _ = std::fs::set_permissions(t.path(), m.permissions());
        }
        t.persist(target)
            .map(drop)
            .map_err(|e| format!("{}: {}", target.display(), e.error))
    }
}

fn build(a: &Args, out: &Path) -> Result<String, String> {
    let epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => Some(
            v.trim()
                .parse::<i64>()
                .map_err(|_| format!("SOURCE_DATE_EPOCH={v:?} is not a number"))?,
        ),
        Err(_) if a.reproducible => Some(0),
        Err(_) => None,
    };
    let mut opts = NewfsOptions {
        version: if a.ufs_version == 1 {
            UfsVersion::Ufs1
        } else {
            UfsVersion::Ufs2
        },
        no_snap: true,
        label: a.label.clone(),
        soft_updates: a.soft_updates,
        ..Default::default()
    };
    apply_o(&mut opts, &a.options)?;
    if let Some(t) = epoch {
        opts.time = Some(t);
        opts.random_id = Some(0x5eed_0001);
    }
    let mut timer = Timings::new(a.timings);
    // 1. Scan.
    let mut tree = Tree::new();
    let mut archives = Vec::new();
    let mut host_sources: Vec<PathBuf> = Vec::new();
    let helper = StatHelper::start();
    for src in &a.sources {
        let md = std::fs::metadata(src).map_err(|e| format!("{}: {e}", src.display()))?;
        if md.is_dir() {
            let root_md =
                std::fs::symlink_metadata(src).map_err(|e| format!("{}: {e}", src.display()))?;
            tree.nodes[0].set_attr(&NewNode {
                perm: (root_md.mode() & 0o7777) as u16,
                uid: root_md.uid(),
                gid: root_md.gid(),
                atime: Some(ts(root_md.atime(), root_md.atime_nsec())),
                mtime: Some(ts(root_md.mtime(), root_md.mtime_nsec())),
                ctime: Some(ts(root_md.ctime(), root_md.ctime_nsec())),
                ..Default::default()
            });
            let source = u16::try_from(host_sources.len())
                .map_err(|_| "too many source directories".to_string())?;
            host_sources.push(src.clone());
            let fd = rustix::fs::open(
                src.as_path(),
                rustix::fs::OFlags::RDONLY
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| format!("{}: {}", src.display(), std::io::Error::from(e)))?;
            let mut cx = ScanCtx {
                source,
                links: HashMap::new(),
                helper: helper.as_ref(),
            };
            scan_dir(&mut tree, &mut cx, Some(fd), &mut src.clone(), 0, 0)?;
        } else {
            let archive = u16::try_from(archives.len())
                .map_err(|_| "too many source archives".to_string())?;
            archives.push(src.clone());
            scan_tar(&mut tree, src, archive)?;
        }
    }
    drop(helper);
    if let Some(spec) = &a.spec {
        apply_spec(&mut tree, spec)?;
    }
    // The tree is complete: the name index is not needed any more.
    tree.index = Index::default();
    tree.nodes.shrink_to_fit();
    tree.names.shrink_to_fit();
    // Access and change times record when the build ran, not what was
    // built: a reproducible image takes them from the modification time.
    tree.reproducible = epoch.is_some();
    timer.mark("scan");
    // 2. Size.
    let bsize = u64::from(opts.bsize.unwrap_or(32768));
    let fsize = u64::from(
        opts.fsize
            .unwrap_or((bsize as u32 / 8).clamp(4096.min(bsize as u32), bsize as u32)),
    );
    let ptr = if opts.version == UfsVersion::Ufs1 {
        4
    } else {
        8
    };
    let mut data = 0u64;
    let mut inodes = 0u64;
    let mut nfiles = 0u64;
    let mut ndirs = 0u64;
    let mut total = 0u64;
    let mut dir_bytes: HashMap<u32, u64> = HashMap::new();
    for (i, n) in tree.nodes.iter().enumerate() {
        if i > 0 {
            *dir_bytes.entry(n.parent).or_insert(24) +=
                ufskit::dir::direct_size(usize::from(n.name_len)) as u64;
        }
        if n.kind == FileType::Directory {
            ndirs += 1;
        }
        if n.is_link() {
            continue;
        }
        inodes += 1;
        match n.kind {
            FileType::Symlink => {
                let len = n.data & 0xf_ffff;
                if len >= 60 {
                    data += len / fsize + 1;
                }
            }
            FileType::Regular => {
                nfiles += 1;
                total += n.data;
                data += file_frags(n.data, bsize, fsize, bsize / ptr);
            }
            _ => {}
        }
    }
    for b in dir_bytes.values() {
        data += b.div_ceil(512) * 512 / fsize + 1;
    }
    drop(dir_bytes);
    let free_frags = parse_amount(&a.free_blocks, data)?;
    let free_frags = if a.free_blocks.ends_with('%') {
        free_frags
    } else {
        free_frags * (bsize / fsize)
    };
    let free_inodes = parse_amount(&a.free_inodes, inodes)?;
    let need_frags = data + free_frags;
    let need_inodes = inodes + free_inodes + 3;
    let (size, layout) = match &a.size {
        Some(s) => {
            let size = newfs::parse_size(s).map_err(|e| e.to_string())?;
            let layout = sized(size, &mut opts, data, inodes + 3, need_inodes, fsize)?;
            (size, layout)
        }
        None => fit(&mut opts, need_frags, need_inodes, fsize)?,
    };
    // 3. newfs.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(out)
        .map_err(|e| format!("{}: {e}", a.image.display()))?;
    file.set_len(size)
        .map_err(|e| format!("{}: {e}", a.image.display()))?;
    // Many small sequential writes: combine them before they reach the
    // file. A new image needs no fsync at each step (a crash leaves no
    // image worth keeping); --sync makes it durable once, at the end.
    let mut dev = ufskit::io::WriteBack::new(
        ufskit::io::FileDevice::from_file(file, true).map_err(|e| e.to_string())?,
    )
    .not_durable();
    let eo = newfs::EmitOptions {
        zeroing: newfs::Zeroing::AssumeZeroed,
        ..newfs::EmitOptions::for_options(&opts)
    };
    newfs::newfs_with(&mut dev, &layout, &opts, &eo).map_err(|e| e.to_string())?;
    timer.mark("newfs");
    // 4. Populate.
    let mut fs =
        Session::open(Box::new(dev), &OpenOptions::read_write()).map_err(|e| e.to_string())?;
    if let Some(t) = epoch {
        fs.set_fixed_time(Some(ts(t, 0)));
    }
    let bar = (a.progress || std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
        indicatif::ProgressBar::new(total).with_style(
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        )
    });
    let flat = Flat::new(&tree);
    let mut b = TreeBuilder::new(&mut fs, &flat).map_err(|e| e.to_string())?;
    timer.mark("inodes");
    // Host files are read by other threads while this one writes the
    // image: reading many small files is mostly system time (open, read,
    // close) that can overlap with the image writes. The files, in scan
    // order, are cut into groups of about a batch; reader k reads groups
    // k, k + n, ... and this thread takes the groups back in order, so the
    // image does not depend on how many readers there are or how fast
    // each is. Bytes come over in a few recycled batches per reader (a
    // bounded queue), not one message per file.
    if !host_sources.is_empty() {
        let readers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_READERS);
        std::thread::scope(|scope| -> Result<(), String> {
            let (tree, flat, roots) = (&tree, &flat, host_sources.as_slice());
            let mut links = Vec::new();
            let mut handles = Vec::new();
            for k in 0..readers {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Batch, String>>(BATCHES);
                let (free_tx, free_rx) = std::sync::mpsc::channel::<Batch>();
                handles.push(scope.spawn(move || {
                    let mut r = HostReader {
                        tree,
                        flat,
                        roots,
                        tx: &tx,
                        free: &free_rx,
                        made: 0,
                        dir: None,
                    };
                    if let Err(e) = r.run(k, readers) {
                        let _ = tx.send(Err(e));
                    }
                }));
                links.push((rx, free_tx));
            }
            let mut group = 0usize;
            // A reader that has hung up has no more groups, so neither has
            // any other: every group has been written.
            while let Ok(batch) = links[group % readers].0.recv() {
                let mut batch = batch?;
                let mut at = 0usize;
                for item in &batch.items {
                    match *item {
                        Item::Data { pos, off, len } => {
                            let bytes = &batch.data[at..at + len as usize];
                            at += len as usize;
                            b.write(pos as usize, off, bytes).map_err(|e| {
                                format!("{}: {e}", host_file_name(tree, flat, roots, pos).display())
                            })?;
                            if let Some(bar) = &bar {
                                bar.inc(u64::from(len));
                            }
                        }
                        Item::End { pos, size } => {
                            b.set_size(pos as usize, size).map_err(|e| e.to_string())?;
                            b.close_file(pos as usize).map_err(|e| e.to_string())?;
                        }
                    }
                }
                let last = batch.last;
                batch.used = 0;
                batch.items.clear();
                batch.last = false;
                // The reader may have finished: nobody takes it back then.
                let _ = links[group % readers].1.send(batch);
                if last {
                    group += 1;
                }
            }
            drop(links);
            for h in handles {
                h.join()
                    .map_err(|_| "a file reader thread failed".to_string())?;
            }
            Ok(())
        })?;
    }
    // Only tar members still need copying; most builds have none.
    let mut buf = if archives.is_empty() {
        Vec::new()
    } else {
        vec![0u8; 1 << 20]
    };
    for (k, path) in archives.iter().enumerate() {
        let ctx = |e: std::io::Error| format!("{}: {e}", path.display());
        // This archive's members that hold data, by ordinal.
        let mut members: Vec<(u32, u32)> = tree
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.content == Content::Tar(k as u16) && !n.is_link())
            .map(|(i, n)| (n.aux, i as u32))
            .collect();
        members.sort_unstable();
        let mut next = members.iter().peekable();
        let mut ar = tar::Archive::new(open_tar(path)?);
        for (ordinal, entry) in ar.entries().map_err(ctx)?.enumerate() {
            let Some(&&(o, i)) = next.peek() else {
                break;
            };
            let mut entry = entry.map_err(ctx)?;
            if o as usize != ordinal {
                continue;
            }
            next.next();
            let p = flat.data_pos(i) as usize;
            let sparse =
                member_sparse(&mut entry).map_err(|e| format!("{}: {e}", path.display()))?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            // Zero pieces are left as holes, so sparse members (GNU or
            // PAX) stay sparse.
            let read = super::tarsparse::copy(&mut entry, &sparse, &mut buf, &mut |off, d| {
                b.write(p, off, d).map_err(|e| e.to_string())
            })
            .map_err(|e| format!("{name}: {e}"))?;
            if let Some(bar) = &bar {
                bar.inc(read);
            }
            b.set_size(p, tree.nodes[i as usize].size())
                .map_err(|e| e.to_string())?;
            b.close_file(p).map_err(|e| e.to_string())?;
        }
    }
    timer.mark("data");
    b.finish().map_err(|e| e.to_string())?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    fs.close().map_err(|e| e.to_string())?;
    timer.mark("directories");
    if a.sync {
        File::open(out)
            .and_then(|f| f.sync_all())
            .map_err(|e| format!("{}: {e}", a.image.display()))?;
        timer.mark("sync");
    }
    timer.print();
    Ok(format!(
        "{}: {} files, {} directories, {} bytes ({}, {}/{} block/fragment, {} inodes)",
        a.image.display(),
        nfiles,
        ndirs,
        size,
        opts.version_name(),
        layout.sb.fs_bsize,
        layout.sb.fs_fsize,
        u64::from(layout.sb.fs_ipg) * u64::from(layout.sb.fs_ncg)
    ))
}

/// Phase times for `--timings`.
struct Timings {
    on: bool,
    last: std::time::Instant,
    /// Processor time of the whole process (all threads) at `last`.
    last_cpu: Option<f64>,
    line: String,
}

/// Processor time (user and system, all threads) used so far, in
/// seconds, where the system tells it.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces), from 3 on.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux platform ufskit runs on.
    Some(ticks as f64 / 100.0)
}

impl Timings {
    fn new(on: bool) -> Timings {
        Timings {
            on,
            last: std::time::Instant::now(),
            last_cpu: if on { cpu_seconds() } else { None },
            line: String::from("makefs timings:"),
        }
    }

    /// The phase `name` ended now: its wall and processor time, and the
    /// peak memory so far.
    fn mark(&mut self, name: &str) {
        if self.on {
            let now = std::time::Instant::now();
            let secs = now.duration_since(self.last).as_secs_f64();
            let cpu = cpu_seconds();
            let used = match (cpu, self.last_cpu) {
                (Some(c), Some(l)) => format!(" cpu {:.2}s", c - l),
                _ => String::new(),
            };
            let peak = std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .map(|v| format!(" peak {}", v.trim()))
                })
                .unwrap_or_default();
            self.line.push_str(&format!(
                " {name} {secs:.3}s ({}{peak}),",
                used.trim_start()
            ));
            self.last = now;
            self.last_cpu = cpu;
        }
    }

    fn print(&self) {
        if self.on {
            eprintln!("{}", self.line.trim_end_matches(','));
        }
    }
}

trait VersionName {
    fn version_name(&self) -> &'static str;
}

impl VersionName for NewfsOptions {
    fn version_name(&self) -> &'static str {
        match self.version {
            UfsVersion::Ufs1 => "UFS1",
            UfsVersion::Ufs2 => "UFS2",
        }
    }
}

/// The smallest image (in 64 KiB steps of growth) whose fresh file system
/// has `frags` free fragments and `inodes` free inodes.
/// Free fragments and free inodes a layout leaves.
fn room(layout: &newfs::Layout) -> (u64, u64) {
    let f = &layout.sb;
    let free = u64::try_from(f.fs_cstotal[1]).unwrap_or(0) * u64::try_from(f.fs_frag).unwrap_or(8)
        + u64::try_from(f.fs_cstotal[3]).unwrap_or(0);
    (free, u64::try_from(f.fs_cstotal[2]).unwrap_or(0))
}

/// The layout for a size given with -s. Without -o density, the inode
/// count follows the tree, as FreeBSD's and NetBSD's makefs choose it: the
/// default density when that gives `want_inodes`, else a density of about
/// size / `want_inodes`. When the tree cannot fit (`frags` of data,
/// `inodes` inodes), says what size (or density) would.
fn sized(
    size: u64,
    opts: &mut NewfsOptions,
    frags: u64,
    inodes: u64,
    want_inodes: u64,
    fsize: u64,
) -> Result<newfs::Layout, String> {
    let given = opts.density;
    let mut layout = newfs::compute(size, opts).map_err(|e| e.to_string())?;
    if given.is_none() && room(&layout).1 < want_inodes {
        // A fragment per inode is as dense as newfs goes.
        let mut d = (size / want_inodes.max(1) * 9 / 10).max(fsize);
        for _ in 0..12 {
            opts.density = Some(u32::try_from(d).unwrap_or(u32::MAX));
            let l = newfs::compute(size, opts).map_err(|e| e.to_string())?;
            let (free, ifree) = room(&l);
            layout = l;
            if (ifree >= want_inodes && free >= frags) || d <= fsize {
                break;
            }
            d = (d * 4 / 5).max(fsize);
        }
    }
    let (free, ifree) = room(&layout);
    if free >= frags && ifree >= inodes {
        return Ok(layout);
    }
    let mut o = opts.clone();
    o.density = given;
    let need = format!(
        "no space for the tree: it needs {inodes} inodes and {} bytes of blocks; -s {size} gives {ifree} inodes and {} bytes",
        frags * fsize,
        free * fsize
    );
    match (given, fit(&mut o, frags, inodes, fsize)) {
        (Some(d), _) if free >= frags => Err(format!(
            "{need}: -o density={d} is too sparse; density={} or less would fit, or leave it out",
            (size / inodes.max(1) * 9 / 10).max(fsize)
        )),
        (_, Ok((s, _))) => Err(format!(
            "{need}: -s {s} would fit (or leave -s out to size the image to the tree)"
        )),
        (_, Err(e)) => Err(format!("{need}: {e}")),
    }
}

fn fit(
    opts: &mut NewfsOptions,
    frags: u64,
    inodes: u64,
    fsize: u64,
) -> Result<(u64, newfs::Layout), String> {
    let mut size = ((frags * fsize) * 11 / 10 + inodes * 256 + (1 << 20)).max(1 << 20);
    for _ in 0..200 {
        size = size.div_ceil(65536) * 65536;
        if opts.density.is_none() || inodes > 0 {
            // Enough inodes without wasting space on tables: one per
            // needed inode, at least one fragment each.
            let d = (size / inodes.max(1) * 9 / 10).clamp(fsize, 4 * fsize);
            opts.density = Some(d as u32);
        }
        let layout = newfs::compute(size, opts).map_err(|e| e.to_string())?;
        let (free, ifree) = room(&layout);
        if free >= frags && ifree >= inodes {
            return Ok((size, layout));
        }
        size = size * 21 / 20 + (1 << 20);
    }
    Err("could not find an image size that fits the tree".into())
}

/// File bytes one batch carries from a reader thread to the writer; also
/// the size of a group of files (in scanned sizes) read by one reader.
const BATCH_BYTES: usize = 64 << 10;
/// Batches each reader has (they are recycled): with the readers, the
/// bound on file data held in memory at once.
const BATCHES: usize = 3;
/// Reader threads at most (one per processor).
const MAX_READERS: usize = 2;

/// File data read by the reader thread: the bytes of many small files (or
/// a piece of a large one) back to back, and what they are.
struct Batch {
    /// Always `BATCH_BYTES` long; `used` of it holds data.
    data: Vec<u8>,
    used: usize,
    items: Vec<Item>,
    /// The last batch of its group.
    last: bool,
}

/// One step for the writer; `Data` items take their bytes from the batch
/// in order.
enum Item {
    /// `len` bytes at `off` of the file at position `pos`.
    Data { pos: u32, off: u64, len: u32 },
    /// The file at position `pos` is complete at `size` bytes.
    End { pos: u32, size: u64 },
}

/// The host path of the file whose data position `pos` holds.
fn host_file_name(tree: &Tree, flat: &Flat<'_>, roots: &[PathBuf], pos: u32) -> PathBuf {
    let i = flat.node(pos);
    let g = tree.nodes[i as usize].link(i);
    match tree.nodes[g as usize].content {
        Content::Host(s) => tree.host_path(&roots[usize::from(s)], g),
        _ => tree.host_path(Path::new(""), g),
    }
}

/// The reader thread: reads every host file, in scan order, into batches.
struct HostReader<'r, 't> {
    tree: &'r Tree,
    flat: &'r Flat<'t>,
    roots: &'r [PathBuf],
    tx: &'r std::sync::mpsc::SyncSender<Result<Batch, String>>,
    free: &'r std::sync::mpsc::Receiver<Batch>,
    /// Batches made so far (at most `BATCHES`).
    made: usize,
    /// The directory the last file was in: (node, source) and its
    /// descriptor, so files are opened relative to it.
    dir: Option<((u32, u16), rustix::fd::OwnedFd)>,
}

impl HostReader<'_, '_> {
    /// A batch to fill: a new one while fewer than `BATCHES` exist, else
    /// one the writer has finished with (`None`: the writer stopped).
    fn take(&mut self) -> Option<Batch> {
        if self.made < BATCHES {
            self.made += 1;
            return Some(Batch {
                data: vec![0u8; BATCH_BYTES],
                used: 0,
                items: Vec::new(),
                last: false,
            });
        }
        self.free.recv().ok()
    }

    /// Hands `batch` to the writer and puts an empty one in its place;
    /// false when the writer has stopped.
    fn send(&mut self, batch: &mut Batch) -> bool {
        let Some(fresh) = self.take() else {
            return false;
        };
        let full = std::mem::replace(batch, fresh);
        self.tx.send(Ok(full)).is_ok()
    }

    /// Reads the groups of files that are reader `me`'s of `readers`.
    fn run(&mut self, me: usize, readers: usize) -> Result<(), String> {
        let Some(mut batch) = self.take() else {
            return Ok(());
        };
        let mut group = 0usize;
        let mut group_bytes = 0u64;
        let mut group_files = 0usize;
        for (i, node) in self.tree.nodes.iter().enumerate() {
            let Content::Host(source) = node.content else {
                continue;
            };
            if node.is_link() {
                continue;
            }
            // Every reader cuts the same groups, from the scanned sizes.
            if group_files > 0 && group_bytes + node.data > BATCH_BYTES as u64 {
                if group % readers == me {
                    batch.last = true;
                    if !self.send(&mut batch) {
                        return Ok(());
                    }
                }
                group += 1;
                group_bytes = 0;
                group_files = 0;
            }
            group_bytes += node.data;
            group_files += 1;
            if group % readers == me && !self.read_file(i as u32, source, &mut batch)? {
                return Ok(());
            }
        }
        if group_files > 0 && group % readers == me {
            batch.last = true;
            let _ = self.tx.send(Ok(batch));
        }
        Ok(())
    }

    /// Reads node `i`'s file (skipping holes in a file that may have
    /// them) into `batch`; false when the writer has stopped.
    fn read_file(&mut self, i: u32, source: u16, batch: &mut Batch) -> Result<bool, String> {
        use rustix::fs::{Mode, OFlags};
        let (tree, roots) = (self.tree, self.roots);
        let node = &tree.nodes[i as usize];
        let err = |e: rustix::io::Errno| {
            format!(
                "{}: {}",
                tree.host_path(&roots[usize::from(source)], i).display(),
                std::io::Error::from(e)
            )
        };
        let key = (node.parent, source);
        if self.dir.as_ref().map(|d| d.0) != Some(key) {
            self.dir = None;
            let path = tree.host_path(&self.roots[usize::from(source)], node.parent);
            let fd = rustix::fs::open(
                &path,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| format!("{}: {}", path.display(), std::io::Error::from(e)))?;
            self.dir = Some((key, fd));
        }
        let Some((_, dir)) = &self.dir else {
            return Err("the source directory is not open".into());
        };
        let f = rustix::fs::openat(
            dir,
            tree.name(i),
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
        )
        .map_err(err)?;
        let pos = self.flat.data_pos(i);
        let size = node.data;
        let mut off = 0u64;
        while off < size {
            // Files without holes (most) skip the two extra system calls.
            let (data, hole) = if node.bits & SPARSE != 0 {
                let data = match rustix::fs::seek(&f, rustix::fs::SeekFrom::Data(off)) {
                    Ok(d) => d,
                    Err(rustix::io::Errno::NXIO) => break,
                    Err(_) => off,
                };
                let hole = match rustix::fs::seek(&f, rustix::fs::SeekFrom::Hole(data)) {
                    Ok(h) => h.min(size),
                    Err(_) => size,
                };
                (data, hole)
            } else {
                (off, size)
            };
            let mut at = data;
            while at < hole {
                if batch.used == BATCH_BYTES && !self.send(batch) {
                    return Ok(false);
                }
                let room = BATCH_BYTES - batch.used;
                let want = usize::try_from(hole - at).unwrap_or(usize::MAX).min(room);
                let n = rustix::io::pread(&f, &mut batch.data[batch.used..batch.used + want], at)
                    .map_err(err)?;
                if n == 0 {
                    break;
                }
                batch.items.push(Item::Data {
                    pos,
                    off: at,
                    len: n as u32,
                });
                batch.used += n;
                at += n as u64;
            }
            off = hole.max(at);
        }
        batch.items.push(Item::End { pos, size });
        Ok(true)
    }
}
