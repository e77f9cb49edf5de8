//! Copying host files into an existing image, one at a time through the
//! write API (`ufs put`), keeping holes, hard links, devices and `user.*`
//! extended attributes.

use super::host::{next_data, read_xattrs};
use crate::inode::Timespec;
use crate::xattr::Namespace;
use crate::{Error, FileType, Ino, NewNode, Session, SetAttr};
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::Path;

use crate::write::MAX_DEPTH;

/// How [`HostCopy`] copies.
#[derive(Clone, Copy, Debug, Default)]
pub struct CopyOptions {
    /// Copy directories and what they hold.
    pub recursive: bool,
    /// Keep the host owners (as root does); otherwise files are owned by
    /// 0:0 and lose their set-id bits, which would apply to the wrong user.
    pub keep_owners: bool,
    /// Take access times from modification times, so the host's reading
    /// of the files does not show (a reproducible copy).
    pub reproducible: bool,
    /// Copy host `user.*` extended attributes to the UFS2 user namespace.
    pub xattrs: bool,
}

/// Why copying one path failed.
#[derive(Debug)]
pub enum CopyError {
    /// Reading the host file failed.
    Host(std::io::Error),
    /// The image refused the change.
    Image(Error),
    /// Reading the host file's extended attributes failed.
    HostXattrs(std::io::Error),
    /// Setting the user-namespace attribute `.0` failed.
    Xattr(Vec<u8>, Error),
    /// The source is a directory and the copy is not recursive.
    NotRecursive,
    /// The destination exists and is not a directory.
    NotADirectory,
    /// The source is a socket or something else UFS cannot hold.
    Unsupported,
    /// The tree is deeper than the copy goes.
    TooDeep(u32),
}

/// Something to tell the user while copying.
#[derive(Debug)]
pub enum CopyEvent<'a> {
    /// The path (in the image) about to be copied.
    Copying(&'a [u8]),
    /// A host attribute with no UFS2 counterpart was not copied (its full
    /// name).
    XattrNotCarried(&'a str),
    /// The image is UFS1, which has no extended attributes: this `user.*`
    /// attribute (its name after `user.`) was not copied.
    XattrNoRoom(&'a [u8]),
}

/// A failure: the path it concerns (the host path for host errors, the
/// image path otherwise) and what went wrong.
pub type CopyFailure = (Vec<u8>, CopyError);

/// Copies host files and trees into an image. Failures inside a tree do
/// not stop the rest; [`HostCopy::copy`] returns them all.
pub struct HostCopy {
    opts: CopyOptions,
    /// Host (device, inode) of multiply linked files already copied.
    links: HashMap<(u64, u64), Ino>,
    /// Directories whose attributes are applied at the end.
    dirs: Vec<(Ino, SetAttr, Vec<u8>)>,
    buf: Vec<u8>,
    errors: Vec<CopyFailure>,
}

fn ts(sec: i64, nsec: i64) -> Timespec {
    Timespec {
        sec,
        nsec: u32::try_from(nsec).unwrap_or(0).min(999_999_999),
    }
}

/// Removes a non-directory in the way of a new node called `name` in
/// `parent`; a directory there is an error.
pub fn clear_way(fs: &mut Session, parent: Ino, name: &[u8]) -> crate::Result<()> {
    if let Some(ino) = fs.dir_lookup(parent, name)? {
        if fs.allocated_inode(ino)?.is_dir() {
            return Err(Error::IsADirectory {
                path: String::from_utf8_lossy(name).into_owned(),
            });
        }
        fs.unlink(parent, name)?;
    }
    Ok(())
}

/// Where one host path goes: the directory, the name in it, the path
/// shown in events and failures, and how deep below the copy's top.
struct Dest<'a> {
    parent: Ino,
    name: &'a [u8],
    shown: &'a [u8],
    depth: u32,
}

impl HostCopy {
    /// A copier with no files copied yet.
    pub fn new(opts: CopyOptions) -> HostCopy {
        HostCopy {
            opts,
            links: HashMap::new(),
            dirs: Vec::new(),
            buf: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Copies host path `src` into directory `parent` as `name` (`shown`
    /// is its path in the image, for events and failures). A directory's
    /// own attributes are set by [`HostCopy::finish`], after its children.
    pub fn copy(
        &mut self,
        fs: &mut Session,
        src: &Path,
        parent: Ino,
        name: &[u8],
        shown: &[u8],
        on: &mut dyn FnMut(CopyEvent<'_>),
    ) -> Vec<CopyFailure> {
        let top = Dest {
            parent,
            name,
            shown,
            depth: 0,
        };
        if let Err(e) = self.put(fs, src, top, on) {
            self.errors.push(e);
        }
        std::mem::take(&mut self.errors)
    }

    /// Sets the copied directories' attributes (deepest first: children
    /// changed them): the failures, by image path.
    pub fn finish(self, fs: &mut Session) -> Vec<CopyFailure> {
        self.dirs
            .into_iter()
            .filter_map(|(ino, attr, shown)| {
                fs.set_attr(ino, &attr)
                    .err()
                    .map(|e| (shown, CopyError::Image(e)))
            })
            .collect()
    }

    fn attrs(&self, md: &Metadata) -> NewNode {
        let mut perm = (md.mode() & 0o7777) as u16;
        let (uid, gid) = if self.opts.keep_owners {
            (md.uid(), md.gid())
        } else {
            perm &= !0o6000;
            (0, 0)
        };
        NewNode {
            perm,
            uid,
            gid,
            atime: Some(if self.opts.reproducible {
                ts(md.mtime(), md.mtime_nsec())
            } else {
                ts(md.atime(), md.atime_nsec())
            }),
            mtime: Some(ts(md.mtime(), md.mtime_nsec())),
            ..Default::default()
        }
    }

    fn set_times(attr: &NewNode) -> SetAttr {
        SetAttr {
            perm: Some(attr.perm),
            uid: Some(attr.uid),
            gid: Some(attr.gid),
            atime: attr.atime,
            mtime: attr.mtime,
            ..Default::default()
        }
    }

    fn put(
        &mut self,
        fs: &mut Session,
        src: &Path,
        dest: Dest<'_>,
        on: &mut dyn FnMut(CopyEvent<'_>),
    ) -> Result<(), CopyFailure> {
        let Dest {
            parent,
            name,
            shown,
            depth,
        } = dest;
        let at = |e: CopyError| (shown.to_vec(), e);
        let img = |e: Error| (shown.to_vec(), CopyError::Image(e));
        let hosterr = |e: std::io::Error| (src.as_os_str().as_bytes().to_vec(), CopyError::Host(e));
        if depth > MAX_DEPTH {
            return Err(at(CopyError::TooDeep(MAX_DEPTH)));
        }
        let md = std::fs::symlink_metadata(src).map_err(hosterr)?;
        let attr = self.attrs(&md);
        let ft = md.file_type();
        on(CopyEvent::Copying(shown));
        if ft.is_dir() {
            if !self.opts.recursive {
                return Err((src.as_os_str().as_bytes().to_vec(), CopyError::NotRecursive));
            }
            let ino = match fs.dir_lookup(parent, name).map_err(img)? {
                Some(i) if fs.allocated_inode(i).map_err(img)?.is_dir() => i,
                Some(_) => return Err(at(CopyError::NotADirectory)),
                None => fs.mkdir(parent, name, &attr).map_err(img)?,
            };
            let mut entries: Vec<_> = std::fs::read_dir(src)
                .map_err(hosterr)?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<Result<_, _>>()
                .map_err(hosterr)?;
            entries.sort();
            for e in entries {
                let mut child_shown = shown.to_vec();
                child_shown.push(b'/');
                child_shown.extend_from_slice(e.as_bytes());
                // One failing entry does not stop the rest of the tree.
                let child = Dest {
                    parent: ino,
                    name: e.as_bytes(),
                    shown: &child_shown,
                    depth: depth + 1,
                };
                if let Err(e) = self.put(fs, &src.join(&e), child, on) {
                    self.errors.push(e);
                }
            }
            self.copy_xattrs(fs, src, ino, on).map_err(at)?;
            self.dirs
                .push((ino, Self::set_times(&attr), shown.to_vec()));
            return Ok(());
        }
        let key = (md.dev(), md.ino());
        if md.nlink() > 1 {
            if let Some(&target) = self.links.get(&key) {
                clear_way(fs, parent, name).map_err(img)?;
                fs.link(parent, name, target).map_err(img)?;
                return Ok(());
            }
        }
        clear_way(fs, parent, name).map_err(img)?;
        let ino = if ft.is_symlink() {
            let target = std::fs::read_link(src).map_err(hosterr)?;
            fs.symlink(parent, name, target.as_os_str().as_bytes(), &attr)
                .map_err(img)?
        } else if ft.is_file() {
            let file = File::open(src).map_err(hosterr)?;
            let ino = fs
                .create(parent, name, FileType::Regular, &attr)
                .map_err(img)?;
            self.copy_data(fs, ino, &file, md.len())
                .map_err(|e| match e {
                    CopyError::Host(e) => hosterr(e),
                    e => at(e),
                })?;
            ino
        } else {
            let kind = if ft.is_fifo() {
                FileType::Fifo
            } else if ft.is_char_device() {
                FileType::CharDevice
            } else if ft.is_block_device() {
                FileType::BlockDevice
            } else if ft.is_socket() {
                FileType::Socket
            } else {
                return Err(at(CopyError::Unsupported));
            };
            let mut a = attr.clone();
            if matches!(kind, FileType::CharDevice | FileType::BlockDevice) {
                a.rdev = Some((rustix::fs::major(md.rdev()), rustix::fs::minor(md.rdev())));
            }
            fs.create(parent, name, kind, &a).map_err(img)?
        };
        self.copy_xattrs(fs, src, ino, on).map_err(at)?;
        // Writing the data moved the times; put the host's back.
        fs.set_attr(ino, &Self::set_times(&attr)).map_err(img)?;
        if md.nlink() > 1 {
            self.links.insert(key, ino);
        }
        Ok(())
    }

    /// Copies the host file's `user.*` attributes to the UFS2 user
    /// namespace; reports the others.
    fn copy_xattrs(
        &mut self,
        fs: &mut Session,
        src: &Path,
        ino: Ino,
        on: &mut dyn FnMut(CopyEvent<'_>),
    ) -> Result<(), CopyError> {
        if !self.opts.xattrs {
            return Ok(());
        }
        let x = read_xattrs(src).map_err(CopyError::HostXattrs)?;
        for name in &x.skipped {
            on(CopyEvent::XattrNotCarried(name));
        }
        for (name, value) in &x.user {
            match fs.set_xattr(ino, Namespace::User, name, value) {
                Ok(()) => {}
                // UFS1 has no extended attributes: the file is still copied.
                Err(Error::Unsupported(_)) => on(CopyEvent::XattrNoRoom(name)),
                Err(e) => return Err(CopyError::Xattr(name.clone(), e)),
            }
        }
        Ok(())
    }

    /// Copies a host file's data, leaving holes where the host file has
    /// them (SEEK_DATA/SEEK_HOLE) and where whole blocks are zero.
    // The usize casts are of lengths within one chunk (at most 1 MiB or a
    // block) and of bsize.
    #[allow(clippy::cast_possible_truncation)]
    fn copy_data(
        &mut self,
        fs: &mut Session,
        ino: Ino,
        file: &File,
        size: u64,
    ) -> Result<(), CopyError> {
        let bsize = u64::from(fs.geometry().bsize);
        let chunk = (1u64 << 20).max(bsize);
        self.buf.resize(chunk as usize, 0);
        let mut pos = 0u64;
        // The next data region, or the whole rest where the host cannot
        // tell.
        while let Some((start, end)) = next_data(file, pos, size) {
            // Whole image blocks, so a skipped zero block is a whole hole.
            let mut off = start - start % bsize;
            let end = end.div_ceil(bsize).saturating_mul(bsize).min(size);
            while off < end {
                let n = (end - off).min(chunk) as usize;
                let buf = &mut self.buf[..n];
                file.read_exact_at(buf, off).map_err(|e| {
                    CopyError::Host(if e.kind() == std::io::ErrorKind::UnexpectedEof {
                        std::io::Error::other("file shrank while it was being copied")
                    } else {
                        e
                    })
                })?;
                let mut i = 0usize;
                while i < n {
                    let blk = |i: usize| &buf[i..(i + bsize as usize).min(n)];
                    if blk(i).iter().all(|&b| b == 0) {
                        i += bsize as usize;
                        continue;
                    }
                    let run_start = i;
                    while i < n && !blk(i).iter().all(|&b| b == 0) {
                        i += bsize as usize;
                    }
                    let run_end = i.min(n);
                    fs.write_file(ino, off + run_start as u64, &buf[run_start..run_end])
                        .map_err(CopyError::Image)?;
                }
                off += n as u64;
            }
            pos = end;
            if pos >= size {
                break;
            }
        }
        // A file ending in a hole (or all zeros) still gets its size; the
        // last block is allocated as FreeBSD does.
        if fs.allocated_inode(ino).map_err(CopyError::Image)?.size() < size {
            fs.truncate(ino, size).map_err(CopyError::Image)?;
        }
        Ok(())
    }
}
