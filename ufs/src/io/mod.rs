//! The device layer: positioned reads and writes on an image.
//!
//! One small trait, [`Device`], so the rest of the crate does not care whether
//! the image is a file, an mmap, a buffer in memory, or a test double that
//! fails on purpose ([`FaultyDevice`]). Errors carry the offset and length.

mod mmap;
pub mod overlay;
mod undo;
mod writeback;
pub use undo::{restore as undo_restore, UndoDevice, UndoSummary};

pub use mmap::MmapDevice;
pub use overlay::{Overlay, WriteClass};
pub use writeback::WriteBack;

use crate::error::{Error, Result};
use std::fs::File;
use std::path::Path;

/// Positioned I/O on an image.
pub trait Device {
    /// Fills `buf` from byte `offset`. Reading past the end is an error.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()>;
    /// Writes `buf` at byte `offset`.
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> std::io::Result<()>;
    /// Size of the image in bytes.
    fn len(&self) -> u64;
    /// Makes written data durable.
    fn flush(&mut self) -> std::io::Result<()>;
    /// Whether writes are refused.
    fn is_read_only(&self) -> bool {
        false
    }
    /// Whether the image is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads with the offset and length in the error.
pub fn read_exact(dev: &dyn Device, offset: u64, buf: &mut [u8]) -> Result<()> {
    let len = buf.len() as u64;
    if offset.checked_add(len).is_none_or(|end| end > dev.len()) {
        return Err(Error::Io {
            op: "reading",
            offset,
            len,
            source: std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "past the end of the image",
            ),
        });
    }
    dev.read_at(offset, buf).map_err(|source| Error::Io {
        op: "reading",
        offset,
        len,
        source,
    })
}

/// Writes with the offset and length in the error.
pub fn write_all(dev: &mut dyn Device, offset: u64, buf: &[u8]) -> Result<()> {
    if dev.is_read_only() {
        return Err(Error::ReadOnly);
    }
    let len = buf.len() as u64;
    dev.write_at(offset, buf).map_err(|source| Error::Io {
        op: "writing",
        offset,
        len,
        source,
    })
}

impl Device for Vec<u8> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| eof())?;
        let end = start.checked_add(buf.len()).ok_or_else(eof)?;
        buf.copy_from_slice(self.get(start..end).ok_or_else(eof)?);
        Ok(())
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| eof())?;
        let end = start.checked_add(buf.len()).ok_or_else(eof)?;
        if end > self.len() {
            self.resize(end, 0);
        }
        self.get_mut(start..end)
            .ok_or_else(eof)?
            .copy_from_slice(buf);
        Ok(())
    }
    fn len(&self) -> u64 {
        Vec::len(self) as u64
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn eof() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "past the end of the image",
    )
}

/// Any device with writes refused: what a handle opened without
/// `writable` reads through, so nothing it does (or is given back as)
/// can change the image.
pub struct ReadOnly<D>(pub D);

impl<D: Device> Device for ReadOnly<D> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.0.read_at(offset, buf)
    }
    fn write_at(&mut self, _: u64, _: &[u8]) -> std::io::Result<()> {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "image opened read-only",
        ))
    }
    fn len(&self) -> u64 {
        self.0.len()
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn is_read_only(&self) -> bool {
        true
    }
}

/// A read-only view of a byte slice (e.g. fuzz input).
pub struct SliceDevice<'a>(pub &'a [u8]);

impl Device for SliceDevice<'_> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| eof())?;
        let end = start.checked_add(buf.len()).ok_or_else(eof)?;
        buf.copy_from_slice(self.0.get(start..end).ok_or_else(eof)?);
        Ok(())
    }
    fn write_at(&mut self, _: u64, _: &[u8]) -> std::io::Result<()> {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "read-only",
        ))
    }
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn is_read_only(&self) -> bool {
        true
    }
}

/// An image file, accessed with positioned reads and writes (never truncated).
pub struct FileDevice {
    file: File,
    len: u64,
    writable: bool,
    /// Where the device starts in the file: non-zero for a partition.
    base: u64,
    /// A partition has a fixed length; a whole file may grow.
    fixed: bool,
}

impl FileDevice {
    /// Opens an existing image read-only.
    pub fn open_read_only(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(Error::Open)?;
        Self::from_file(file, false)
    }

    fn refuse_directory(file: &File) -> Result<()> {
        if file.metadata().map_err(Error::Open)?.is_dir() {
            return Err(Error::Open(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "is a directory, not an image file",
            )));
        }
        Ok(())
    }

    /// Opens an existing image for reading and writing, without truncating it.
    pub fn open_read_write(path: &Path) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(Error::Open)?;
        Self::from_file(file, true)
    }

    /// Wraps an open file.
    pub fn from_file(file: File, writable: bool) -> Result<Self> {
        Self::refuse_directory(&file)?;
        let len = file.metadata().map_err(Error::Open)?.len();
        Ok(FileDevice {
            file,
            len,
            writable,
            base: 0,
            fixed: false,
        })
    }

    /// Narrows the device to `len` bytes from byte `offset` of the file (a
    /// partition of a disk image): offsets count from there, and nothing
    /// before or after it can be read or written.
    pub fn window(self, offset: u64, len: u64) -> Result<Self> {
        if offset.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(Error::InvalidInput(format!(
                "{len} bytes from byte {offset} are not all inside the {}-byte image",
                self.len
            )));
        }
        Ok(FileDevice {
            base: self.base + offset,
            len,
            fixed: true,
            ..self
        })
    }

    /// Where the device starts in the file (0 unless it is a window).
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Checks a transfer against a window's end and gives its file offset.
    fn file_offset(&self, offset: u64, len: usize) -> std::io::Result<u64> {
        let end = offset.checked_add(len as u64).ok_or_else(eof)?;
        if self.fixed && end > self.len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "past the end of the partition",
            ));
        }
        self.base.checked_add(offset).ok_or_else(eof)
    }

    /// The underlying file.
    pub fn file(&self) -> &File {
        &self.file
    }
}

impl Device for FileDevice {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let offset = self.file_offset(offset, buf.len())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt;
            self.file.read_exact_at(buf, offset)
        }
        #[cfg(windows)]
        {
            use std::os::windows::fs::FileExt;
            let mut done = 0;
            while done < buf.len() {
                let n = self
                    .file
                    .seek_read(&mut buf[done..], offset + done as u64)?;
                if n == 0 {
                    return Err(eof());
                }
                done += n;
            }
            Ok(())
        }
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        if !self.writable {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "image opened read-only",
            ));
        }
        let at = offset;
        let offset = self.file_offset(at, buf.len())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt;
            self.file.write_all_at(buf, offset)?;
        }
        #[cfg(windows)]
        {
            use std::os::windows::fs::FileExt;
            let mut done = 0;
            while done < buf.len() {
                done += self.file.seek_write(&buf[done..], offset + done as u64)?;
            }
        }
        self.len = self.len.max(at.saturating_add(buf.len() as u64));
        Ok(())
    }
    fn len(&self) -> u64 {
        self.len
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.writable {
            self.file.sync_all()
        } else {
            Ok(())
        }
    }
    fn is_read_only(&self) -> bool {
        !self.writable
    }
}

/// A device that forwards to another but fails every write after the first
/// `allowed` ones, and every flush after that point. Used to prove that an
/// interrupted operation leaves the image no worse.
pub struct FaultyDevice<D> {
    inner: D,
    allowed: u64,
    writes: u64,
}

impl<D: Device> FaultyDevice<D> {
    /// Lets `allowed` writes through, then fails.
    pub fn new(inner: D, allowed: u64) -> Self {
        FaultyDevice {
            inner,
            allowed,
            writes: 0,
        }
    }
    /// How many writes were attempted.
    pub fn writes(&self) -> u64 {
        self.writes
    }
    /// Gives back the wrapped device.
    pub fn into_inner(self) -> D {
        self.inner
    }
}

impl<D: Device> Device for FaultyDevice<D> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.inner.read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        self.writes += 1;
        if self.writes > self.allowed {
            return Err(std::io::Error::other("injected write fault"));
        }
        self.inner.write_at(offset, buf)
    }
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.writes > self.allowed {
            return Err(std::io::Error::other("injected flush fault"));
        }
        self.inner.flush()
    }
    fn is_read_only(&self) -> bool {
        self.inner.is_read_only()
    }
}

impl<D: Device + ?Sized> Device for Box<D> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        (**self).read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        (**self).write_at(offset, buf)
    }
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn flush(&mut self) -> std::io::Result<()> {
        (**self).flush()
    }
    fn is_read_only(&self) -> bool {
        (**self).is_read_only()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_the_end_name_the_offset() {
        let v = vec![0u8; 100];
        let mut buf = [0u8; 10];
        let e = read_exact(&v, 95, &mut buf).unwrap_err().to_string();
        assert!(e.contains("byte offset 95"), "{e}");
    }

    #[test]
    fn faulty_device_fails_after_n_writes() {
        let mut d = FaultyDevice::new(vec![0u8; 16], 1);
        assert!(d.write_at(0, &[1]).is_ok());
        assert!(d.write_at(1, &[1]).is_err());
        assert_eq!(d.into_inner()[..2], [1, 0]);
    }

    #[test]
    #[cfg(unix)]
    fn a_window_neither_reads_nor_writes_outside_itself() {
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, &[7u8; 64]).unwrap();
        let mut d = FileDevice::from_file(f, true)
            .unwrap()
            .window(16, 32)
            .unwrap();
        assert_eq!(d.len(), 32);
        write_all(&mut d, 0, &[1; 32]).unwrap();
        assert!(write_all(&mut d, 31, &[1, 1]).is_err());
        assert!(read_exact(&d, 30, &mut [0; 4]).is_err());
        let mut all = [0u8; 64];
        std::os::unix::fs::FileExt::read_exact_at(d.file(), &mut all, 0).unwrap();
        assert_eq!(all[..16], [7; 16]);
        assert_eq!(all[16..48], [1; 32]);
        assert_eq!(all[48..], [7; 16]);
        assert!(FileDevice::open_read_only(Path::new("/dev/null"))
            .unwrap()
            .window(0, 1)
            .is_err());
    }

    #[test]
    fn slice_device_refuses_writes() {
        let data = [0u8; 4];
        let mut d = SliceDevice(&data);
        assert!(write_all(&mut d, 0, &[1]).is_err());
    }
}
