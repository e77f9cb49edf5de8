//! Read-only memory maps of image files: the only `unsafe` in the crate.
//!
//! Two kinds: [`MmapDevice`], a map of a whole image, and [`Mapped`], a
//! map of just the bytes one read wants ([`super::Device::mapped`]), which
//! lends them in place instead of copying them into a buffer and is
//! unmapped when dropped, so that its pages leave the process's resident
//! set again (a check's peak memory stays the size of one such window,
//! not of the metadata it looked at).

use super::Device;
use crate::error::{Error, Result};
use std::fs::File;
use std::path::Path;

/// A read-only memory map of an image file.
pub struct MmapDevice {
    map: memmap2::Mmap,
}

impl MmapDevice {
    /// Maps `path` read-only.
    pub fn open(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(Error::Open)?;
        // SAFETY: the map is read-only and private to this process. If another
        // process truncates or rewrites the file while it is mapped, reads may
        // see changed bytes or fault; every byte read is validated as
        // untrusted input anyway, and callers who cannot rule out concurrent
        // writers should use `FileDevice` instead.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(Error::Open)?;
        Ok(MmapDevice { map })
    }
}

impl Device for MmapDevice {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let eof = || {
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "past the end of the image",
            )
        };
        let start = usize::try_from(offset).map_err(|_| eof())?;
        let end = start.checked_add(buf.len()).ok_or_else(eof)?;
        buf.copy_from_slice(self.map.get(start..end).ok_or_else(eof)?);
        Ok(())
    }
    fn write_at(&mut self, _: u64, _: &[u8]) -> std::io::Result<()> {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "memory map is read-only",
        ))
    }
    fn len(&self) -> u64 {
        self.map.len() as u64
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn is_read_only(&self) -> bool {
        true
    }
}

/// Bytes of an image file looked at in place: a read-only map of just
/// them, unmapped when this is dropped.
pub struct Mapped {
    /// `None` for no bytes (a map cannot be empty).
    map: Option<memmap2::Mmap>,
}

impl std::fmt::Debug for Mapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mapped({} bytes)", self.len())
    }
}

impl std::ops::Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

/// Maps `len` bytes of `file` from byte `offset` read-only (the kernel
/// maps whole pages; the map starts at the page holding `offset` and the
/// bytes before it are not shown). The range must lie inside the file as
/// it is now: a map past its end would fault (SIGBUS) where a read would
/// have failed, so that is an `UnexpectedEof` error instead.
// Used by `FileDevice` on Unix only (see its `mapped`).
#[cfg_attr(not(unix), allow(dead_code))]
pub(super) fn map_range(file: &File, offset: u64, len: usize) -> std::io::Result<Mapped> {
    let size = file.metadata()?.len();
    if offset.checked_add(len as u64).is_none_or(|end| end > size) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "past the end of the image file",
        ));
    }
    if len == 0 {
        return Ok(Mapped { map: None });
    }
    // SAFETY: the map is read-only (PROT_READ) and shared, so nothing in
    // this process can change the bytes through it, and the range was just
    // checked to lie inside the file. What remains is what any map of a
    // file risks: another writer changing the bytes while they are looked
    // at (they are untrusted input, validated as such, so that is a wrong
    // answer at worst, as with a read racing a write) or truncating the
    // file under the map (a fault, as for `MmapDevice`). A write through
    // this process's own descriptor (`FileDevice::write_at`, e.g. fsck -y
    // committing) is seen by the map: Linux, FreeBSD and macOS keep one
    // page cache for both (a unified buffer cache).
    #[allow(unsafe_code)]
    // Not MAP_POPULATE: setting up every page's entry at once cost more
    // than the faults do (the kernel maps 16 cached pages per fault).
    let map = unsafe {
        memmap2::MmapOptions::new()
            .offset(offset)
            .len(len)
            .map(file)
    }?;
    // The pages are looked at in order, once: the kernel then reads ahead
    // of the faults as it does for sequential reads, where by default a
    // fault reads only around itself (a cold check ran twice as long).
    // Only a hint: a refusal changes nothing.
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(Mapped { map: Some(map) })
}
