//! Read-only memory-mapped images: the only `unsafe` in the crate.

use super::Device;
use crate::error::{Error, Result};
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
