//! Building an image from host directories, tar archives and an mtree(5)
//! specification, as makefs(8) does: the engine of `ufs makefs`, and the
//! host copy of `ufs put` ([`HostCopy`]).
//!
//! A [`Builder`] scans its sources into one tree first (metadata only),
//! so the image can be sized to fit; the tree is then written with the
//! bulk builder ([`crate::populate`]): inodes allocated up front, file
//! contents streamed in (tar archives are read a second time for their
//! data, in archive order), each directory written once. Holes in host
//! files are kept (SEEK_DATA/SEEK_HOLE, [`host::next_data`]); in tar
//! members (GNU sparse, PAX sparse 0.0/0.1/1.0, or plain) every 4 KiB piece
//! of zeros is left as a hole. Hard links, devices, fifos and symlinks are
//! kept; sources are merged in the order they are added, a later one's
//! attributes winning for a directory both have.
//!
//! Output is deterministic: entries are sorted by name, and with
//! [`BuildOptions::fixed_time`] every time stamp the build makes, the
//! file-system id and the inode generations are fixed, so the same input
//! gives the same bytes.
//!
//! Memory and time, for trees of many small files: the scanned tree is an
//! arena of 80-byte nodes with names in one shared buffer (no per-node
//! allocation, no paths); directories are read and their entries stat'ed
//! and opened relative to the directory's descriptor, a helper thread
//! sharing the `lstat` calls; host files are read by two threads into a
//! few recycled batches while the calling thread writes the image through
//! the write-combining layer, which is not fsync'ed unless
//! [`BuildOptions::sync`] asks.
//!
//! Tar support (gzip, xz and zstd included) is the cargo feature `tar`,
//! on by default: xz and zstd compile C libraries, which a user who only
//! reads images, or builds from directories, can leave out.
//!
//! # Example
//!
//! Build an image from a directory, then read a file back:
//!
//! ```
//! use ufskit::build::{BuildOptions, Builder};
//! use ufskit::{Follow, OpenOptions, Ufs};
//!
//! let tmp = tempfile::tempdir()?;
//! let tree = tmp.path().join("tree");
//! std::fs::create_dir_all(tree.join("etc"))?;
//! std::fs::write(tree.join("etc/motd"), b"hello from UFS\n")?;
//!
//! let image = tmp.path().join("disk.img");
//! let report = Builder::new(BuildOptions::reproducible())
//!     .add_dir(&tree)?
//!     .write(&image)?;
//! assert_eq!(report.files, 1);
//!
//! let fs = Ufs::open_path(&image, OpenOptions::read_only())?;
//! let ino = fs.lookup("/etc/motd", Follow::All)?;
//! assert_eq!(fs.read_all(ino)?, b"hello from UFS\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod copy;
pub mod host;
mod reader;
mod size;
mod spec;
#[cfg(feature = "tar")]
mod tar;
#[cfg(feature = "tar")]
mod tarsparse;
mod tree;

pub use copy::{clear_way, CopyError, CopyEvent, CopyFailure, CopyOptions, HostCopy};

use crate::newfs::{self, NewfsOptions};
use crate::populate::TreeBuilder;
use crate::{OpenOptions, Session, UfsVersion};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tree::{ts, Flat, Index, Tree};

/// How much free room to leave: a percentage of what the tree needs, or a
/// count (blocks of the block size for space, inodes for inodes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Amount {
    /// This percentage of what the tree itself needs.
    Percent(u64),
    /// This many blocks (free space) or inodes (free inodes).
    Count(u64),
}

/// What to build: the file system's parameters and the room to leave.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// newfs parameters (version, block and fragment size, density, label,
    /// soft updates, ...). Unset sizes take makefs's defaults.
    pub newfs: NewfsOptions,
    /// Image size in bytes; `None` sizes the image to the tree plus the
    /// free room below. With a size, the inode density follows the tree
    /// unless `newfs.density` is given.
    pub size: Option<u64>,
    /// Free space to leave when sizing (makefs -b); default 10%.
    pub free_space: Amount,
    /// Free inodes to leave when sizing (makefs -f); default 10%.
    pub free_inodes: Amount,
    /// Seconds since the epoch every time stamp the build makes is fixed
    /// to (`SOURCE_DATE_EPOCH`), with a fixed file-system id and inode
    /// generations: the same input gives the same image bytes. Access and
    /// change times then follow the modification times.
    pub fixed_time: Option<i64>,
    /// Make the image durable (fsync) before returning.
    pub sync: bool,
    /// Carry extended attributes: a host file's `user.*` attributes, and
    /// a tar member's `SCHILY.xattr.user.*` / `LIBARCHIVE.xattr.user.*`
    /// records, go to the UFS2 user namespace. Others are reported (a
    /// [`Progress::Warning`]), as are all of them on UFS1, which has none.
    pub xattrs: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            newfs: NewfsOptions {
                no_snap: true,
                ..Default::default()
            },
            size: None,
            free_space: Amount::Percent(10),
            free_inodes: Amount::Percent(10),
            fixed_time: None,
            sync: false,
            xattrs: true,
        }
    }
}

impl BuildOptions {
    /// The defaults, with times fixed at 0 (a reproducible image).
    pub fn reproducible() -> Self {
        BuildOptions {
            fixed_time: Some(0),
            ..Default::default()
        }
    }
}

/// What a build reports as it goes.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// A phase ended: `scan`, `newfs`, `inodes`, `data`, `directories` or
    /// `sync`, in that order.
    Phase(&'static str),
    /// Copying file data begins: this many bytes in all.
    Start {
        /// File bytes the sources hold.
        total: u64,
    },
    /// This many more bytes were copied.
    Copied(u64),
    /// Something was skipped (a spec entry naming a path the tree lacks).
    Warning(&'a str),
}

/// What kind of failure a [`BuildError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildErrorKind {
    /// A source directory or archive could not be read, or holds something
    /// an image cannot (a name over 255 bytes, `..` in an archive path).
    Source,
    /// The mtree specification is unreadable or has a bad value.
    Spec,
    /// The tree does not fit the size given, or no layout fits it.
    Size,
    /// Copying file data into the image failed (reading the source or
    /// writing the image).
    Copy,
    /// Creating, laying out or finishing the image failed.
    Image,
}

/// A failed build: what kind of failure, and a message naming the file
/// (and line, for a spec) it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BuildError {
    kind: BuildErrorKind,
    message: String,
}

impl BuildError {
    fn new(kind: BuildErrorKind) -> impl Fn(String) -> BuildError {
        move |message| BuildError { kind, message }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> BuildErrorKind {
        self.kind
    }
}

/// Result of building.
pub type BuildResult<T> = std::result::Result<T, BuildError>;

/// What a finished build made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Regular files (hard links counted once).
    pub files: u64,
    /// Directories, the root included.
    pub directories: u64,
    /// File bytes copied (holes included).
    pub bytes: u64,
    /// Image size in bytes.
    pub size: u64,
    /// UFS version.
    pub version: UfsVersion,
    /// Block size.
    pub bsize: u32,
    /// Fragment size.
    pub fsize: u32,
    /// Inodes the file system has.
    pub inodes: u64,
}

/// Builds an image from sources; see the [module documentation](self).
pub struct Builder<'p> {
    opts: BuildOptions,
    tree: Tree,
    hosts: Vec<PathBuf>,
    archives: Vec<PathBuf>,
    specs: Vec<(PathBuf, String)>,
    /// Started by the first host directory, kept for the next.
    helper: Option<host::StatHelper>,
    helper_tried: bool,
    progress: Box<dyn FnMut(Progress<'_>) + 'p>,
}

impl<'p> Builder<'p> {
    /// A builder with no sources yet.
    pub fn new(opts: BuildOptions) -> Builder<'p> {
        Builder {
            opts,
            tree: Tree::new(),
            hosts: Vec::new(),
            archives: Vec::new(),
            specs: Vec::new(),
            helper: None,
            helper_tried: false,
            progress: Box::new(|_| {}),
        }
    }

    /// Calls `f` with the build's progress (phases, bytes copied) and
    /// warnings.
    pub fn on_progress(mut self, f: impl FnMut(Progress<'_>) + 'p) -> Self {
        self.progress = Box::new(f);
        self
    }

    /// Adds a source: a directory, or else a tar archive.
    pub fn add_source(self, path: &Path) -> BuildResult<Self> {
        let md = std::fs::metadata(path)
            .map_err(|e| format!("{}: {e}", path.display()))
            .map_err(BuildError::new(BuildErrorKind::Source))?;
        if md.is_dir() {
            self.add_dir(path)
        } else {
            self.add_tar(path)
        }
    }

    /// Adds host directory `path`: its contents become the image's root
    /// (merged with earlier sources), the root taking its owner, mode and
    /// times.
    pub fn add_dir(mut self, path: &Path) -> BuildResult<Self> {
        let fail = BuildError::new(BuildErrorKind::Source);
        let source = u16::try_from(self.hosts.len())
            .map_err(|_| fail("too many source directories".to_string()))?;
        self.hosts.push(path.to_path_buf());
        if !self.helper_tried {
            self.helper = host::StatHelper::start();
            self.helper_tried = true;
        }
        let mut cx = host::ScanCtx {
            source,
            links: HashMap::new(),
            helper: self.helper.as_ref(),
            xattrs: self.opts.xattrs,
        };
        host::scan_source(&mut self.tree, &mut cx, path).map_err(fail)?;
        Ok(self)
    }

    /// Adds tar archive `path` (plain, gzip, xz or zstd, told by its
    /// magic number), merged into the tree in archive order.
    pub fn add_tar(mut self, path: &Path) -> BuildResult<Self> {
        let fail = BuildError::new(BuildErrorKind::Source);
        let archive = u16::try_from(self.archives.len())
            .map_err(|_| fail("too many source archives".to_string()))?;
        self.archives.push(path.to_path_buf());
        #[cfg(feature = "tar")]
        tar::scan_tar(&mut self.tree, path, archive, self.opts.xattrs).map_err(fail)?;
        #[cfg(not(feature = "tar"))]
        return Err(fail(format!(
            "{}: ufskit was built without tar support (feature `tar`) (archive {archive})",
            path.display()
        )));
        #[cfg(feature = "tar")]
        Ok(self)
    }

    /// Applies mtree(5) specification `path` (as makefs -F) once every
    /// source is in: owners, modes, flags and times of the entries it
    /// names; directories it names that no source has are made.
    pub fn spec(mut self, path: &Path) -> BuildResult<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: {e}", path.display()))
            .map_err(BuildError::new(BuildErrorKind::Spec))?;
        self.specs.push((path.to_path_buf(), text));
        Ok(self)
    }

    /// Builds the image into `dev`, an existing device such as a partition
    /// of a disk image (`io::FileDevice::window`), which the file system
    /// fills unless [`BuildOptions::size`] asks for less. The image is built
    /// in full in a sparse scratch file in `scratch` first, so a failed
    /// build leaves `dev` as it was; then its data is copied in and every
    /// byte of `dev` the image leaves zero is made zero (only where it is
    /// not already), so nothing of what `dev` held before shows through
    /// within the file system.
    pub fn write_into(
        mut self,
        dev: &mut dyn crate::io::Device,
        scratch: &Path,
    ) -> BuildResult<Report> {
        let fail = BuildError::new(BuildErrorKind::Image);
        let room = dev.len();
        match self.opts.size {
            Some(s) if s > room => {
                return Err(BuildError::new(BuildErrorKind::Size)(format!(
                    "-s {s} is larger than the {room} bytes the target holds"
                )))
            }
            Some(_) => {}
            None => self.opts.size = Some(room),
        }
        let staged = tempfile::Builder::new()
            .prefix(".ufs-makefs-")
            .tempfile_in(scratch)
            .map_err(|e| fail(format!("{}: {e}", scratch.display())))?;
        let report = self.write_at(staged.path(), staged.path())?;
        copy_image(staged.as_file(), report.size, dev)
            .map_err(|e| fail(format!("copying the built image in: {e}")))?;
        dev.flush()
            .map_err(|e| fail(format!("copying the built image in: {e}")))?;
        Ok(report)
    }

    /// Builds the image at `image`: into a temporary file beside it,
    /// renamed over it only when the build succeeded, so a failed build
    /// (out of space, an unreadable source) leaves the old image, or
    /// nothing, never a half-built one. A target that is not a regular
    /// file (a device) is written in place.
    pub fn write(self, image: &Path) -> BuildResult<Report> {
        let fail = BuildError::new(BuildErrorKind::Image);
        let staged = Staged::beside(image).map_err(&fail)?;
        let report = self.write_at(staged.path(), image)?;
        staged.commit(image).map_err(fail)?;
        Ok(report)
    }

    /// Builds into `out`, naming it `image` in errors.
    fn write_at(mut self, out: &Path, image: &Path) -> BuildResult<Report> {
        let epoch = self.opts.fixed_time;
        let mut opts = self.opts.newfs.clone();
        if let Some(t) = epoch {
            opts.time = Some(t);
            opts.random_id = Some(0x5eed_0001);
        }
        drop(self.helper.take());
        let mut tree = std::mem::replace(&mut self.tree, Tree::new());
        let progress = &mut self.progress;
        for (path, text) in &self.specs {
            spec::apply_spec(&mut tree, path, text, &mut |w| {
                progress(Progress::Warning(w))
            })
            .map_err(BuildError::new(BuildErrorKind::Spec))?;
        }
        // The tree is complete: the name index is not needed any more.
        tree.index = Index::default();
        tree.nodes.shrink_to_fit();
        tree.names.shrink_to_fit();
        // Access and change times record when the build ran, not what was
        // built: a reproducible image takes them from the modification time.
        tree.reproducible = epoch.is_some();
        progress(Progress::Phase("scan"));
        // Size.
        let est = size::estimate(&tree, &opts);
        let (size, layout) = size::choose(
            &est,
            self.opts.size,
            self.opts.free_space,
            self.opts.free_inodes,
            &mut opts,
        )
        .map_err(BuildError::new(BuildErrorKind::Size))?;
        // newfs.
        let fail = BuildError::new(BuildErrorKind::Image);
        let named = |e: std::io::Error| fail(format!("{}: {e}", image.display()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(out)
            .map_err(named)?;
        file.set_len(size).map_err(named)?;
        // Many small sequential writes: combine them before they reach the
        // file. A new image needs no fsync at each step (a crash leaves no
        // image worth keeping); `sync` makes it durable once, at the end.
        let mut dev = crate::io::WriteBack::new(
            crate::io::FileDevice::from_file(file, true).map_err(|e| fail(e.to_string()))?,
        )
        .not_durable();
        let eo = newfs::EmitOptions {
            zeroing: newfs::Zeroing::AssumeZeroed,
            ..newfs::EmitOptions::for_options(&opts)
        };
        newfs::newfs_with(&mut dev, &layout, &opts, &eo).map_err(|e| fail(e.to_string()))?;
        progress(Progress::Phase("newfs"));
        // Populate.
        let mut fs = Session::open(Box::new(dev), &OpenOptions::read_write())
            .map_err(|e| fail(e.to_string()))?;
        if let Some(t) = epoch {
            fs.set_fixed_time(Some(ts(t, 0)));
        }
        progress(Progress::Start { total: est.total });
        let flat = Flat::new(&tree);
        let mut b = TreeBuilder::new(&mut fs, &flat).map_err(|e| fail(e.to_string()))?;
        progress(Progress::Phase("inodes"));
        let copy_fail = BuildError::new(BuildErrorKind::Copy);
        let mut copied = |n: u64| progress(Progress::Copied(n));
        let found = reader::FoundXattrs::default();
        if !self.hosts.is_empty() {
            let found = self.opts.xattrs.then_some(&found);
            reader::copy_host_files(&tree, &flat, &self.hosts, &mut b, &mut copied, found)
                .map_err(&copy_fail)?;
        }
        #[cfg(feature = "tar")]
        tar::copy_members(&tree, &flat, &self.archives, &mut b, &mut copied).map_err(&copy_fail)?;
        progress(Progress::Phase("data"));
        let (xattrs, skipped) = gather_xattrs(&tree, &flat, &b, found);
        b.finish().map_err(|e| fail(e.to_string()))?;
        if !skipped.is_empty() {
            let names: Vec<_> = skipped.into_iter().collect();
            progress(Progress::Warning(&format!(
                "extended attributes not copied (only user.* has a UFS2 counterpart): {}",
                names.join(", ")
            )));
        }
        if opts.version == UfsVersion::Ufs1 && !xattrs.is_empty() {
            progress(Progress::Warning(&format!(
                "extended attributes of {} files not copied: UFS1 has none",
                xattrs.len()
            )));
        } else {
            for (ino, node, list) in &xattrs {
                for (name, value) in list {
                    fs.set_xattr(*ino, crate::xattr::Namespace::User, name, value)
                        .map_err(|e| {
                            copy_fail(format!(
                                "{}: user.{}: {e}",
                                tree.host_path(Path::new("/"), *node).display(),
                                String::from_utf8_lossy(name)
                            ))
                        })?;
                }
            }
        }
        fs.close().map_err(|e| fail(e.to_string()))?;
        progress(Progress::Phase("directories"));
        if self.opts.sync {
            std::fs::File::open(out)
                .and_then(|f| f.sync_all())
                .map_err(named)?;
            progress(Progress::Phase("sync"));
        }
        Ok(Report {
            files: est.nfiles,
            directories: est.ndirs,
            bytes: est.total,
            size,
            version: opts.version,
            bsize: u32::try_from(layout.sb.fs_bsize).unwrap_or(0),
            fsize: u32::try_from(layout.sb.fs_fsize).unwrap_or(0),
            inodes: u64::from(layout.sb.fs_ipg) * u64::from(layout.sb.fs_ncg),
        })
    }
}

/// The extended attributes to set once the tree is written, as (inode,
/// scanned node, attributes) in image order, and the full names of those
/// that have no UFS2 counterpart. Attributes of hard-linked files go with
/// the inode.
#[allow(clippy::type_complexity)]
fn gather_xattrs(
    tree: &Tree,
    flat: &Flat<'_>,
    b: &TreeBuilder<'_, &Flat<'_>>,
    found: reader::FoundXattrs,
) -> (
    Vec<(crate::Ino, u32, tree::Xattrs)>,
    std::collections::BTreeSet<String>,
) {
    let mut skipped = tree.skipped_xattrs.clone();
    let mut by_pos: Vec<(u32, u32, tree::Xattrs)> = tree
        .xattrs
        .iter()
        .map(|(&i, x)| (flat.data_pos(i), i, x.clone()))
        .collect();
    let found = found
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (pos, x) in found {
        skipped.extend(x.skipped);
        if !x.user.is_empty() {
            by_pos.push((pos, flat.node(pos), x.user));
        }
    }
    by_pos.sort_by_key(|&(pos, _, _)| pos);
    let list = by_pos
        .into_iter()
        .filter_map(|(pos, i, x)| Some((b.ino(pos as usize)?, i, x)))
        .collect();
    (list, skipped)
}

/// Where the image is built: a temporary file beside the target, renamed
/// over it only when the build succeeded. A target that is not a regular
/// file (a device) is written in place.
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

/// Copies the first `len` bytes of the built image `src` into `dev`: its
/// data by extent (holes found with SEEK_DATA), and zeros where the image
/// has a hole but `dev` does not read as zeros already.
fn copy_image(
    src: &std::fs::File,
    len: u64,
    dev: &mut dyn crate::io::Device,
) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    const CHUNK: usize = 1 << 20;
    let mut buf = vec![0u8; CHUNK];
    let mut have = vec![0u8; CHUNK];
    let mut pos = 0u64;
    while pos < len {
        let (data_start, data_end) = host::next_data(src, pos, len).unwrap_or((len, len));
        // The hole before the data: make `dev` zero there.
        let mut at = pos;
        while at < data_start {
            let n = usize::try_from((data_start - at).min(CHUNK as u64)).unwrap_or(CHUNK);
            dev.read_at(at, &mut have[..n])?;
            if have[..n].iter().any(|&b| b != 0) {
                buf[..n].fill(0);
                dev.write_at(at, &buf[..n])?;
            }
            at += n as u64;
        }
        // The data.
        let mut at = data_start;
        while at < data_end {
            let n = usize::try_from((data_end - at).min(CHUNK as u64)).unwrap_or(CHUNK);
            src.read_exact_at(&mut buf[..n], at)?;
            dev.write_at(at, &buf[..n])?;
            at += n as u64;
        }
        pos = data_end.max(data_start);
        if data_start >= len {
            break;
        }
    }
    Ok(())
}
