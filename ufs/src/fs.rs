//! The [`Ufs`] handle: an opened image and its read API.
//!
//! Opening finds and validates the superblock (or takes an alternate one),
//! after which every read goes through the validated [`Geometry`]. Path
//! lookup has an explicit symlink policy ([`Follow`]); directory and tree
//! walks are bounded and detect cycles; file data is read by extents, holes
//! coming back as zeros without touching the disk.

use crate::bmap::{self, Extent};
use crate::cg::CylGroup;
use crate::dir::{self, RawEntry};
use crate::error::{CorruptKind, Error, Location, Result};
use crate::inode::{FileType, Inode};
use crate::io::{self, Device, FileDevice, MmapDevice};
use crate::ondisk::consts::NXADDR;
use crate::superblock::{Geometry, Superblock};
use crate::units::{CgIdx, Frag, Ino};
use crate::xattr::{self, Xattr};
use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

/// Longest symlink target accepted (`MAXPATHLEN` is 1024 on FreeBSD; a
/// block is the most a slow symlink can sensibly use).
const MAX_SYMLINK: u64 = 4096;
/// Symlinks followed in one lookup before giving up (`MAXSYMLINKS`).
const MAX_SYMLINK_HOPS: u32 = 32;
/// `read_all` refuses files larger than this; stream them instead.
pub const READ_ALL_LIMIT: u64 = 1 << 30;

/// How to open an image.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// Open for writing: the device must accept writes, and only then can
    /// a write [`Session`](crate::Session) be started on the handle. A
    /// handle opened without it never writes a byte, whatever the device.
    pub writable: bool,
    /// Use this superblock copy (byte offset) instead of searching.
    pub superblock_at: Option<u64>,
    /// Map the file into memory instead of positioned reads (read-only;
    /// [`Ufs::open_path`] only, refused together with `writable`).
    pub mmap: bool,
    /// Whether to search the image for a superblock copy (ignored with
    /// `superblock_at`).
    pub search: crate::superblock::SearchWhen,
}

impl OpenOptions {
    /// Read-only, standard superblock search.
    pub fn read_only() -> Self {
        OpenOptions::default()
    }
    /// Read-write.
    pub fn read_write() -> Self {
        OpenOptions {
            writable: true,
            ..Default::default()
        }
    }
}

/// Space and inode counts as a statfs(2) caller sees them, in fragments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Space {
    /// Fragments that can hold data (`fs_dsize`).
    pub data_frags: u64,
    /// Free fragments, whole free blocks included.
    pub free_frags: u64,
    /// Free fragments an unprivileged writer may use: the free ones less
    /// the `fs_minfree` percent reserve (what df shows as available).
    pub avail_frags: u64,
    /// Inodes in all cylinder groups.
    pub inodes: u64,
    /// Free inodes.
    pub free_inodes: u64,
}

impl Space {
    /// The counts from one summary per cylinder group (on disk, or a write
    /// session's own).
    pub(crate) fn from_summaries(fs: &Ufs, sums: &[crate::ondisk::Csum]) -> Space {
        let frag = u64::from(fs.geo.frag);
        let nonneg = |v: i32| u64::try_from(v).unwrap_or(0);
        let free_frags: u64 = sums
            .iter()
            .map(|s| nonneg(s.cs_nbfree) * frag + nonneg(s.cs_nffree))
            .sum();
        let free_inodes = sums.iter().map(|s| nonneg(s.cs_nifree)).sum();
        let minfree = u64::try_from(fs.sb.fs.fs_minfree.clamp(0, 99)).unwrap_or(0);
        let reserve = fs.geo.dsize * minfree / 100;
        Space {
            data_frags: fs.geo.dsize,
            free_frags,
            avail_frags: free_frags.saturating_sub(reserve),
            inodes: fs.geo.ninodes,
            free_inodes,
        }
    }
}

/// How path lookup treats symbolic links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    /// Follow every symlink, the last component's too (like `stat`).
    All,
    /// Follow symlinks in leading components, not the last (like `lstat`).
    NotLast,
    /// Follow none; a symlink in a leading component is an error.
    Never,
}

/// A used directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// Name bytes (UFS names are bytes, not necessarily UTF-8).
    pub name: Vec<u8>,
    /// Inode number.
    pub ino: Ino,
    /// `d_type` (`DT_*`).
    pub dtype: u8,
}

impl DirEntry {
    /// The name, with invalid UTF-8 replaced.
    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

impl From<RawEntry> for DirEntry {
    fn from(e: RawEntry) -> Self {
        DirEntry {
            name: e.name,
            ino: e.ino,
            dtype: e.dtype,
        }
    }
}

/// What [`Ufs::walk`] calls for every entry: its path, the entry, its inode.
pub type Visitor<'a> = dyn FnMut(&[u8], &DirEntry, &Inode) -> Result<()> + 'a;

/// What [`Ufs::walk_past_damage`] calls for a part of the tree it could
/// not read: the path below the start and the error.
pub type Skipped<'a> = dyn FnMut(&[u8], Error) + 'a;

/// An opened UFS image, for reading. Writing goes through a
/// [`Session`](crate::Session), which owns a `Ufs` and lends its read API.
pub struct Ufs {
    pub(crate) dev: Box<dyn Device>,
    pub(crate) sb: Superblock,
    pub(crate) geo: Geometry,
    /// How the superblock was found, when the image was searched for it.
    pub(crate) found_by_search: Option<crate::superblock::search::Report>,
}

impl std::fmt::Debug for Ufs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ufs").field("geometry", &self.geo).finish()
    }
}

impl Ufs {
    /// Opens an image on any device. Without `opts.writable` the device is
    /// wrapped so that nothing can write through it (not even after
    /// [`into_device`](Self::into_device)); `opts.mmap` is for
    /// [`open_path`](Self::open_path), which chooses the device.
    pub fn open(dev: Box<dyn Device>, opts: &OpenOptions) -> Result<Ufs> {
        let dev: Box<dyn Device> = if opts.writable || dev.is_read_only() {
            dev
        } else {
            Box::new(io::ReadOnly(dev))
        };
        let (sb, geo, found_by_search) = match opts.superblock_at {
            Some(at) => {
                let sb = Superblock::read_at(dev.as_ref(), at)?;
                let geo = sb.validate(dev.len())?;
                (sb, geo, None)
            }
            None => Superblock::find_with(dev.as_ref(), opts.search)?,
        };
        Ok(Ufs {
            dev,
            sb,
            geo,
            found_by_search,
        })
    }

    /// Opens an image file: read-write, or read-only (`O_RDONLY`, by
    /// positioned reads or, with `opts.mmap`, a memory map). A read-only
    /// open never writes to it.
    pub fn open_path(path: &Path, opts: OpenOptions) -> Result<Ufs> {
        if opts.writable && opts.mmap {
            return Err(Error::InvalidInput(
                "a memory-mapped image is read-only; open it for writing without mmap".into(),
            ));
        }
        let dev: Box<dyn Device> = if opts.writable {
            Box::new(FileDevice::open_read_write(path)?)
        } else if opts.mmap {
            Box::new(MmapDevice::open(path)?)
        } else {
            Box::new(FileDevice::open_read_only(path)?)
        };
        Self::open(dev, &opts)
    }

    /// The superblock in use.
    pub fn superblock(&self) -> &Superblock {
        &self.sb
    }

    /// How the superblock in use was found when the image had to be
    /// searched for it (`None`: a standard location, or `superblock_at`).
    pub fn found_by_search(&self) -> Option<&crate::superblock::search::Report> {
        self.found_by_search.as_ref()
    }

    /// The validated geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geo
    }

    /// The underlying device.
    pub fn device(&self) -> &dyn Device {
        self.dev.as_ref()
    }

    /// Gives the device back.
    pub fn into_device(self) -> Box<dyn Device> {
        self.dev
    }

    /// Reads cylinder group `cg` (validated, check hash verified).
    pub fn cg(&self, cg: CgIdx) -> Result<CylGroup> {
        if cg.0 >= self.geo.ncg {
            return Err(Error::InvalidInput(format!(
                "cylinder group {} does not exist (0..{})",
                cg.0, self.geo.ncg
            )));
        }
        CylGroup::read(self.dev.as_ref(), &self.geo, cg)
    }

    /// Reads the cylinder-group summary area (`fs_csaddr`): one
    /// [`crate::ondisk::Csum`] per group.
    pub fn cg_summaries(&self) -> Result<Vec<crate::ondisk::Csum>> {
        let len = self.geo.ncg as usize * crate::ondisk::Csum::SIZE;
        let mut buf = vec![0u8; len];
        io::read_exact(
            self.dev.as_ref(),
            self.geo.frag_offset(Frag(self.geo.csaddr)),
            &mut buf,
        )?;
        Ok(buf
            .chunks_exact(crate::ondisk::Csum::SIZE)
            .filter_map(|c| crate::ondisk::Csum::decode(c, self.geo.endian))
            .collect())
    }

    /// Reads inode `ino` (check hash verified when enabled).
    pub fn inode(&self, ino: Ino) -> Result<Inode> {
        Inode::read(self.dev.as_ref(), &self.geo, ino)
    }

    /// Reads inode `ino` and fails unless it is allocated.
    pub fn allocated_inode(&self, ino: Ino) -> Result<Inode> {
        let i = self.inode(ino)?;
        if !i.is_allocated() {
            return Err(Error::corrupt(
                CorruptKind::BadInode,
                Location::Inode(ino),
                "inode is not allocated",
            ));
        }
        Ok(i)
    }

    /// The data extents of a file, up to its size.
    pub fn extents(&self, inode: &Inode) -> Result<Vec<Extent>> {
        bmap::extents(self.dev.as_ref(), &self.geo, inode)
    }

    /// Reads a directory's entries (empty slots left out).
    pub fn read_dir(&self, ino: Ino) -> Result<Vec<DirEntry>> {
        let inode = self.allocated_inode(ino)?;
        self.read_dir_inode(&inode)
    }

    /// Reads the entries of a directory inode already in hand.
    pub fn read_dir_inode(&self, inode: &Inode) -> Result<Vec<DirEntry>> {
        if !inode.is_dir() {
            return Err(Error::NotADirectory {
                path: format!("inode {}", inode.ino),
            });
        }
        let data = self.read_dense(inode, "directory")?;
        Ok(dir::parse_all(inode.ino, &data, self.geo.endian)?
            .into_iter()
            .map(DirEntry::from)
            .collect())
    }

    /// Finds `name` in directory `dir`: its inode number, if there.
    pub fn dir_lookup(&self, dir: Ino, name: &[u8]) -> Result<Option<Ino>> {
        Ok(self
            .read_dir(dir)?
            .into_iter()
            .find(|e| e.name == name)
            .map(|e| e.ino))
    }

    /// Space and inode counts from the cylinder-group summaries on disk.
    pub fn space(&self) -> Result<Space> {
        Ok(Space::from_summaries(self, &self.cg_summaries()?))
    }

    /// Reads all data of a file that must have no holes (directories, slow
    /// symlinks). Memory is bounded by the blocks the file really has.
    fn read_dense(&self, inode: &Inode, what: &str) -> Result<Vec<u8>> {
        let size = inode.size();
        let extents = self.extents(inode)?;
        let mut data = Vec::new();
        for e in &extents {
            if e.lbn * self.geo.bsize64() != data.len() as u64 {
                break;
            }
            let start = data.len();
            data.resize(start + mem_len(e.len)?, 0);
            io::read_exact(
                self.dev.as_ref(),
                self.geo.frag_offset(e.addr),
                &mut data[start..],
            )?;
        }
        if (data.len() as u64) < size {
            return Err(Error::corrupt(
                CorruptKind::BadInode,
                Location::Inode(inode.ino),
                format!(
                    "{what} of {size} bytes has a hole or missing block at byte {}",
                    data.len()
                ),
            ));
        }
        data.truncate(mem_len(size)?);
        Ok(data)
    }

    /// Looks up `path` (absolute, or relative to the root) from the root.
    pub fn lookup(&self, path: &str, follow: Follow) -> Result<Ino> {
        self.lookup_bytes(path.as_bytes(), follow)
    }

    /// Looks up a path given as bytes.
    pub fn lookup_bytes(&self, path: &[u8], follow: Follow) -> Result<Ino> {
        let mut hops = 0;
        self.resolve(Ino::ROOT, path, follow, &mut hops, path)
    }

    fn resolve(
        &self,
        start: Ino,
        path: &[u8],
        follow: Follow,
        hops: &mut u32,
        orig: &[u8],
    ) -> Result<Ino> {
        let shown = || String::from_utf8_lossy(orig).into_owned();
        let mut cur = if path.first() == Some(&b'/') {
            Ino::ROOT
        } else {
            start
        };
        let comps: Vec<&[u8]> = path
            .split(|&c| c == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .collect();
        for (i, comp) in comps.iter().enumerate() {
            let last = i + 1 == comps.len();
            let dir = self.allocated_inode(cur)?;
            if !dir.is_dir() {
                return Err(Error::NotADirectory { path: shown() });
            }
            let entry = self
                .read_dir_inode(&dir)?
                .into_iter()
                .find(|e| e.name == *comp)
                .ok_or_else(|| Error::NotFound { path: shown() })?;
            let inode = self.allocated_inode(entry.ino)?;
            let is_link = inode.file_type() == FileType::Symlink;
            let follow_this = is_link && (!last || follow == Follow::All);
            if is_link && !last && follow == Follow::Never {
                return Err(Error::InvalidInput(format!(
                    "{}: symbolic link in path and links are not followed",
                    shown()
                )));
            }
            if follow_this {
                *hops += 1;
                if *hops > MAX_SYMLINK_HOPS {
                    return Err(Error::corrupt(
                        CorruptKind::Loop,
                        Location::Inode(entry.ino),
                        format!("{}: more than {MAX_SYMLINK_HOPS} symbolic links", shown()),
                    ));
                }
                let target = self.readlink_inode(&inode)?;
                // Symlinks resolve inside the image: an absolute target is
                // taken from the image's root, never the host's.
                cur = self.resolve(cur, &target, Follow::All, hops, orig)?;
            } else {
                cur = entry.ino;
            }
        }
        Ok(cur)
    }

    /// The target of a symbolic link.
    pub fn readlink(&self, ino: Ino) -> Result<Vec<u8>> {
        let inode = self.allocated_inode(ino)?;
        self.readlink_inode(&inode)
    }

    /// The target of a symbolic link inode already in hand.
    pub fn readlink_inode(&self, inode: &Inode) -> Result<Vec<u8>> {
        let at = Location::Inode(inode.ino);
        if inode.file_type() != FileType::Symlink {
            return Err(Error::InvalidInput(format!(
                "inode {} is not a symbolic link",
                inode.ino
            )));
        }
        let size = inode.size();
        if size > MAX_SYMLINK {
            return Err(Error::corrupt(
                CorruptKind::BadSymlink,
                at,
                format!("target length {size} is too long"),
            ));
        }
        if inode.is_fast_symlink(&self.geo) {
            let bytes = inode.inline_bytes(&self.geo);
            let n = usize::try_from(size).unwrap_or(usize::MAX);
            return bytes.get(..n).map(<[u8]>::to_vec).ok_or_else(|| {
                Error::corrupt(
                    CorruptKind::BadSymlink,
                    at,
                    format!("inline target of {size} bytes does not fit"),
                )
            });
        }
        self.read_dense(inode, "symbolic link")
    }

    /// Reads up to `buf.len()` bytes of a file from `offset`; returns how
    /// many (0 at or past the end). Holes read as zeros.
    pub fn read_at(
        &self,
        inode: &Inode,
        extents: &[Extent],
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize> {
        let size = inode.size();
        if offset >= size {
            return Ok(0);
        }
        // At most buf.len(), so it fits.
        #[allow(clippy::cast_possible_truncation)]
        let n = (size - offset).min(buf.len() as u64) as usize;
        let buf = &mut buf[..n];
        buf.fill(0);
        let bsize = self.geo.bsize64();
        let end = offset + n as u64;
        // Extents are sorted by logical block; find the first that may overlap.
        let first = extents.partition_point(|e| e.lbn * bsize + e.len <= offset);
        for e in &extents[first..] {
            let e_start = e.lbn * bsize;
            if e_start >= end {
                break;
            }
            let from = offset.max(e_start);
            let to = end.min(e_start + e.len);
            if from >= to {
                continue;
            }
            // Both ends lie within the n bytes asked for.
            #[allow(clippy::cast_possible_truncation)]
            let dst = &mut buf[(from - offset) as usize..(to - offset) as usize];
            io::read_exact(
                self.dev.as_ref(),
                self.geo.frag_offset(e.addr) + (from - e_start),
                dst,
            )?;
        }
        Ok(n)
    }

    /// Streams a whole file to `out`, holes as zeros. Returns bytes written.
    pub fn copy_to(&self, inode: &Inode, out: &mut dyn Write) -> Result<u64> {
        let extents = self.extents(inode)?;
        let mut buf = vec![0u8; 1 << 20];
        let mut off = 0u64;
        loop {
            let n = self.read_at(inode, &extents, off, &mut buf)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).map_err(|source| Error::Io {
                op: "writing output",
                offset: off,
                len: n as u64,
                source,
            })?;
            off += n as u64;
        }
        Ok(off)
    }

    /// Reads a whole file into memory (refused above [`READ_ALL_LIMIT`]).
    pub fn read_all(&self, ino: Ino) -> Result<Vec<u8>> {
        let inode = self.allocated_inode(ino)?;
        if inode.size() > READ_ALL_LIMIT {
            return Err(Error::InvalidInput(format!(
                "inode {ino}: {} bytes is too large to read into memory; stream it",
                inode.size()
            )));
        }
        let mut v = Vec::new();
        self.copy_to(&inode, &mut v)?;
        Ok(v)
    }

    /// The raw extended-attribute area of a UFS2 inode.
    pub fn xattr_area(&self, inode: &Inode) -> Result<Vec<u8>> {
        let size = u64::from(inode.extsize());
        let at = Location::Xattr {
            ino: inode.ino,
            offset: 0,
        };
        if size > NXADDR as u64 * self.geo.bsize64() {
            return Err(Error::corrupt(
                CorruptKind::BadXattr,
                at,
                format!("area size {size} exceeds two blocks"),
            ));
        }
        let mut area = vec![0u8; mem_len(size)?];
        for (i, chunk) in area.chunks_mut(self.geo.bsize as usize).enumerate() {
            let addr = Frag(inode.extb(i));
            let nfrags = (chunk.len() as u64).div_ceil(u64::from(self.geo.fsize));
            if addr.0 == 0 || !self.geo.frags_in_range(addr, nfrags) {
                return Err(Error::corrupt(
                    CorruptKind::BadBlockPointer,
                    Location::Block {
                        ino: inode.ino,
                        frag: addr,
                    },
                    format!("extended attribute block {i} is missing or outside the file system"),
                ));
            }
            io::read_exact(self.dev.as_ref(), self.geo.frag_offset(addr), chunk)?;
        }
        Ok(area)
    }

    /// The extended attributes of an inode (always empty on UFS1).
    pub fn xattrs(&self, inode: &Inode) -> Result<Vec<Xattr>> {
        if inode.extsize() == 0 {
            return Ok(Vec::new());
        }
        let area = self.xattr_area(inode)?;
        xattr::parse(inode.ino, &area, self.geo.endian)
    }

    /// Walks the tree below directory `start` depth-first, in directory
    /// order, calling `visit` with the path (relative to `start`, `/`
    /// separated), the entry and its inode. `.` and `..` are not visited.
    /// A directory reached twice (hard-linked directories, corrupt `..`) is
    /// visited but not descended into again; depth is bounded.
    pub fn walk(&self, start: Ino, visit: &mut Visitor<'_>) -> Result<()> {
        self.walk_with(start, visit, None)
    }

    /// [`Ufs::walk`] that goes on past damage: a directory whose entries
    /// cannot be read, or an entry whose inode cannot, is given to
    /// `skipped` (the path below `start`, empty for `start` itself, and
    /// the error) and the walk continues with the next entry. Errors
    /// `visit` returns still end the walk.
    pub fn walk_past_damage(
        &self,
        start: Ino,
        visit: &mut Visitor<'_>,
        skipped: &mut Skipped<'_>,
    ) -> Result<()> {
        self.walk_with(start, visit, Some(skipped))
    }

    fn walk_with(
        &self,
        start: Ino,
        visit: &mut Visitor<'_>,
        mut skipped: Option<&mut Skipped<'_>>,
    ) -> Result<()> {
        let mut seen = HashSet::new();
        seen.insert(start);
        let mut path = Vec::new();
        self.walk_dir(start, &mut path, &mut seen, 0, visit, &mut skipped)
    }

    fn walk_dir(
        &self,
        dir: Ino,
        path: &mut Vec<u8>,
        seen: &mut HashSet<Ino>,
        depth: u32,
        visit: &mut Visitor<'_>,
        skipped: &mut Option<&mut Skipped<'_>>,
    ) -> Result<()> {
        // Deeper than any real tree: a FreeBSD path is at most 1024 bytes.
        if depth > 4096 {
            return Err(Error::corrupt(
                CorruptKind::Loop,
                Location::Inode(dir),
                "directory tree deeper than 4096",
            ));
        }
        let entries = match (self.read_dir(dir), skipped.as_mut()) {
            (Ok(v), _) => v,
            (Err(e), Some(skip)) => {
                skip(path, e);
                return Ok(());
            }
            (Err(e), None) => return Err(e),
        };
        for e in entries {
            if e.name == b"." || e.name == b".." {
                continue;
            }
            let len = path.len();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(&e.name);
            let inode = match (self.inode(e.ino), skipped.as_mut()) {
                (Ok(i), _) => i,
                (Err(err), Some(skip)) => {
                    skip(path, err);
                    path.truncate(len);
                    continue;
                }
                (Err(err), None) => return Err(err),
            };
            visit(path, &e, &inode)?;
            if inode.is_dir() && seen.insert(e.ino) {
                self.walk_dir(e.ino, path, seen, depth + 1, visit, skipped)?;
            }
            path.truncate(len);
        }
        Ok(())
    }
}

/// A length read from the image as an in-memory size (always possible on
/// 64-bit hosts; an error rather than a cut on smaller ones).
fn mem_len(v: u64) -> Result<usize> {
    usize::try_from(v).map_err(|_| Error::InvalidInput(format!("{v} bytes do not fit in memory")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::newfs::NewfsOptions;
    use crate::write::NewNode;
    use crate::Session;

    struct Tree {
        fs: Ufs,
        file: Ino,
        rel: Ino,
        abs: Ino,
    }

    /// /a/b/file, /a/rel -> b/file, /abs -> /a/b, /a/up -> ../a/b/file,
    /// /loop1 <-> /loop2, /long -> a 300-byte path to /a/b/file (kept in a
    /// block, not in the inode).
    fn tree(version: crate::UfsVersion) -> Tree {
        let mut o = NewfsOptions::freebsd_12_1();
        o.version = version;
        let img = crate::newfs::in_memory(4 << 20, &o).unwrap();
        let mut s = Session::open(Box::new(img), &OpenOptions::read_write()).unwrap();
        let at = NewNode {
            perm: 0o755,
            ..Default::default()
        };
        let a = s.mkdir(Ino::ROOT, b"a", &at).unwrap();
        let b = s.mkdir(a, b"b", &at).unwrap();
        let file = s.create(b, b"file", FileType::Regular, &at).unwrap();
        s.write_file(file, 0, b"contents").unwrap();
        let rel = s.symlink(a, b"rel", b"b/file", &at).unwrap();
        let abs = s.symlink(Ino::ROOT, b"abs", b"/a/b", &at).unwrap();
        s.symlink(a, b"up", b"../a/b/file", &at).unwrap();
        s.symlink(Ino::ROOT, b"loop1", b"loop2", &at).unwrap();
        s.symlink(Ino::ROOT, b"loop2", b"/loop1", &at).unwrap();
        let long = format!("/a/{}b/file", "./".repeat(150));
        s.symlink(Ino::ROOT, b"long", long.as_bytes(), &at).unwrap();
        s.sync().unwrap();
        let fs = Ufs::open(s.into_device(), &OpenOptions::read_only()).unwrap();
        Tree { fs, file, rel, abs }
    }

    #[test]
    fn paths_resolve_by_the_follow_policy() {
        for v in [crate::UfsVersion::Ufs1, crate::UfsVersion::Ufs2] {
            let t = tree(v);
            let fs = &t.fs;
            for p in [
                "/a/b/file",
                "a/b/file",
                "/a/./b//file/",
                "/../a/b/../b/file",
            ] {
                assert_eq!(fs.lookup(p, Follow::Never).unwrap(), t.file, "{p}");
            }
            // The last component: followed only with Follow::All.
            assert_eq!(fs.lookup("/a/rel", Follow::All).unwrap(), t.file);
            assert_eq!(fs.lookup("/a/rel", Follow::NotLast).unwrap(), t.rel);
            assert_eq!(fs.lookup("/a/rel", Follow::Never).unwrap(), t.rel);
            // Leading components: followed unless Follow::Never.
            assert_eq!(fs.lookup("/abs/file", Follow::NotLast).unwrap(), t.file);
            assert_eq!(fs.lookup("/abs", Follow::NotLast).unwrap(), t.abs);
            let never = fs.lookup("/abs/file", Follow::Never);
            assert!(matches!(never, Err(Error::InvalidInput(_))), "{never:?}");
            // Relative targets start at the link's directory; `..` works.
            assert_eq!(fs.lookup("/a/up", Follow::All).unwrap(), t.file);
            assert_eq!(
                fs.read_all(fs.lookup("/a/up", Follow::All).unwrap())
                    .unwrap(),
                b"contents"
            );
        }
    }

    #[test]
    fn symlink_targets_inline_and_in_a_block() {
        for v in [crate::UfsVersion::Ufs1, crate::UfsVersion::Ufs2] {
            let t = tree(v);
            let fs = &t.fs;
            let rel = fs.inode(t.rel).unwrap();
            assert!(rel.is_fast_symlink(fs.geometry()));
            assert_eq!(fs.readlink(t.rel).unwrap(), b"b/file");
            let long = fs.lookup("/long", Follow::NotLast).unwrap();
            let li = fs.inode(long).unwrap();
            assert!(!li.is_fast_symlink(fs.geometry()), "{} bytes", li.size());
            assert_eq!(fs.readlink(long).unwrap().len(), 3 + 300 + 6);
            assert_eq!(fs.lookup("/long", Follow::All).unwrap(), t.file);
            assert!(fs.readlink(t.file).is_err(), "not a symlink");
        }
    }

    #[test]
    fn bad_paths_are_errors_naming_the_path() {
        let t = tree(crate::UfsVersion::Ufs2);
        let fs = &t.fs;
        match fs.lookup("/a/nothere", Follow::All) {
            Err(Error::NotFound { path }) => assert_eq!(path, "/a/nothere"),
            other => panic!("{other:?}"),
        }
        match fs.lookup("/a/b/file/x", Follow::All) {
            Err(Error::NotADirectory { path }) => assert_eq!(path, "/a/b/file/x"),
            other => panic!("{other:?}"),
        }
        match fs.lookup("/loop1", Follow::All) {
            Err(Error::Corrupt(c)) => assert_eq!(c.kind, CorruptKind::Loop),
            other => panic!("{other:?}"),
        }
        // Not following the last link, a loop is just a link.
        assert!(fs.lookup("/loop1", Follow::NotLast).is_ok());
    }
}
