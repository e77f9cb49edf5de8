//! An undo log for repairs: [`UndoDevice`] wraps the image and, before the
//! first write to any byte range, appends that range's old contents to an
//! undo file and syncs it. [`restore`] puts the old bytes back.
//!
//! File format (all integers little-endian; this is ufskit's own file, not
//! an image structure, so its fixed byte order is written out here rather
//! than going through `ondisk`, which owns the image's byte order):
//!
//! ```text
//! header   "UFSUNDO1"  image length u64  reserved u64  crc32c of the 24 bytes before  (28 bytes)
//! record*  offset u64  length u64  old bytes[length]  crc32c of offset,length,bytes
//! trailer  "UFSUNDOE"  records u64  crc32c over all record bytes  crc32c of the
//!          image's current contents of every saved range, in offset order
//! ```
//!
//! Each record is synced before the write it protects is passed on, so at
//! any moment the file covers every byte the image has lost. The trailer
//! is written by [`UndoDevice::finish`] after the repair; its last
//! checksum lets [`restore`] refuse an image that changed since (without
//! a trailer — the repair was killed — restore needs `force`).

use super::Device;
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"UFSUNDO1";
const TRAILER: &[u8; 8] = b"UFSUNDOE";
const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

fn io_err(op: &'static str, offset: u64, source: std::io::Error) -> Error {
    Error::Io {
        op,
        offset,
        len: 0,
        source,
    }
}

fn bad(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

/// A device that saves old contents to an undo file before overwriting.
pub struct UndoDevice<D> {
    inner: D,
    file: File,
    /// Saved ranges, start -> end, disjoint.
    saved: BTreeMap<u64, u64>,
    records: u64,
    digest: crc::Digest<'static, u32>,
}

impl<D: Device> UndoDevice<D> {
    /// Creates (truncates) the undo file at `path` and writes its header.
    pub fn create(inner: D, path: &Path) -> Result<Self> {
        let mut file = File::create(path).map_err(Error::Open)?;
        let mut h = Vec::with_capacity(28);
        h.extend_from_slice(MAGIC);
        h.extend_from_slice(&inner.len().to_le_bytes());
        h.extend_from_slice(&0u64.to_le_bytes());
        let c = CRC.checksum(&h);
        h.extend_from_slice(&c.to_le_bytes());
        file.write_all(&h)
            .and_then(|()| file.sync_all())
            .map_err(|e| io_err("writing the undo file", 0, e))?;
        Ok(UndoDevice {
            inner,
            file,
            saved: BTreeMap::new(),
            records: 0,
            digest: CRC.digest(),
        })
    }

    /// The parts of `[start, end)` not saved yet.
    fn gaps(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut pos = start;
        // A saved range starting before `start` may cover it.
        if let Some((_, &e)) = self.saved.range(..=start).next_back() {
            pos = pos.max(e);
        }
        for (&s, &e) in self.saved.range(start..end) {
            if s > pos {
                out.push((pos, s.min(end)));
            }
            pos = pos.max(e);
        }
        if pos < end {
            out.push((pos, end));
        }
        out
    }

    fn save(&mut self, start: u64, end: u64) -> std::io::Result<()> {
        let end = end.min(self.inner.len());
        if start >= end {
            return Ok(());
        }
        let n = usize::try_from(end - start)
            .map_err(|_| std::io::Error::other("undo range larger than memory"))?;
        let mut old = vec![0u8; n];
        self.inner.read_at(start, &mut old)?;
        let mut rec = Vec::with_capacity(old.len() + 20);
        rec.extend_from_slice(&start.to_le_bytes());
        rec.extend_from_slice(&(end - start).to_le_bytes());
        rec.extend_from_slice(&old);
        let c = CRC.checksum(&rec);
        rec.extend_from_slice(&c.to_le_bytes());
        self.file.write_all(&rec)?;
        self.file.sync_data()?;
        self.digest.update(&rec);
        self.records += 1;
        // Merge with neighbours so the map stays small.
        let mut s = start;
        let mut e = end;
        if let Some((&ps, &pe)) = self.saved.range(..=s).next_back() {
            if pe >= s {
                s = ps;
                e = e.max(pe);
            }
        }
        let inside: Vec<u64> = self.saved.range(s..=e).map(|(&k, _)| k).collect();
        for k in inside {
            if let Some(v) = self.saved.remove(&k) {
                e = e.max(v);
            }
        }
        self.saved.insert(s, e);
        Ok(())
    }

    /// Writes the trailer (record count, record checksum, checksum of the
    /// saved ranges as the image holds them now) and gives the device
    /// back.
    pub fn finish(mut self) -> Result<D> {
        let mut post = CRC.digest();
        for (&s, &e) in &self.saved {
            let n = usize::try_from(e - s).map_err(|_| {
                io_err(
                    "reading",
                    s,
                    std::io::Error::other("range larger than memory"),
                )
            })?;
            let mut buf = vec![0u8; n];
            self.inner
                .read_at(s, &mut buf)
                .map_err(|e| io_err("reading", s, e))?;
            post.update(&buf);
        }
        let mut t = Vec::with_capacity(24);
        t.extend_from_slice(TRAILER);
        t.extend_from_slice(&self.records.to_le_bytes());
        t.extend_from_slice(&self.digest.clone().finalize().to_le_bytes());
        t.extend_from_slice(&post.finalize().to_le_bytes());
        self.file
            .write_all(&t)
            .and_then(|()| self.file.sync_all())
            .map_err(|e| io_err("writing the undo file", 0, e))?;
        Ok(self.inner)
    }

    /// Bytes saved so far.
    pub fn saved_bytes(&self) -> u64 {
        self.saved.iter().map(|(s, e)| e - s).sum()
    }
}

impl<D: Device> Device for UndoDevice<D> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.inner.read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        let end = offset
            .checked_add(buf.len() as u64)
            .ok_or_else(|| bad("offset overflow"))?;
        for (s, e) in self.gaps(offset, end) {
            self.save(s, e)?;
        }
        self.inner.write_at(offset, buf)
    }
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
    fn is_read_only(&self) -> bool {
        self.inner.is_read_only()
    }
    // The undo file only adds to writes; reads are the image's own.
    fn mapped(&self, offset: u64, len: usize) -> Option<std::io::Result<super::Mapped>> {
        self.inner.mapped(offset, len)
    }
    fn will_need(&self, offset: u64, len: u64) {
        self.inner.will_need(offset, len);
    }
    fn cached(&self, offset: u64) -> Option<bool> {
        self.inner.cached(offset)
    }
}

/// What [`restore`] did.
#[derive(Clone, Debug, Default)]
pub struct UndoSummary {
    /// Records applied.
    pub records: u64,
    /// Bytes restored.
    pub bytes: u64,
    /// The file had a trailer (the repair finished).
    pub complete: bool,
    /// The image already held every saved byte (the undo had been applied
    /// before), so nothing was written.
    pub already_applied: bool,
}

/// Puts the bytes saved in the undo file at `path` back into `dev`.
/// Refuses when the file is damaged, the image length differs, or (unless
/// `force`) the image changed since the repair or the repair did not
/// finish.
pub fn restore(path: &Path, dev: &mut dyn Device, force: bool) -> Result<UndoSummary> {
    let mut data = Vec::new();
    File::open(path)
        .map_err(Error::Open)?
        .read_to_end(&mut data)
        .map_err(|e| io_err("reading the undo file", 0, e))?;
    // Refusals are about the files, not the device: plain words.
    let fail = |m: &str| Err(Error::InvalidInput(m.to_string()));
    if data.len() < 28 || &data[..8] != MAGIC {
        return fail("not a ufskit undo file");
    }
    let u64_at = |d: &[u8], o: usize| -> Option<u64> {
        d.get(o..o + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let u32_at = |d: &[u8], o: usize| -> Option<u32> {
        d.get(o..o + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    };
    if u32_at(&data, 24) != Some(CRC.checksum(&data[..24])) {
        return fail("undo file header checksum is wrong");
    }
    if u64_at(&data, 8) != Some(dev.len()) {
        return fail("the image is not the size it was when the undo file was written");
    }
    let mut pos = 28usize;
    let mut recs: Vec<(u64, &[u8])> = Vec::new();
    let mut digest = CRC.digest();
    let mut trailer = None;
    while pos < data.len() {
        if data[pos..].starts_with(TRAILER) {
            trailer = Some(pos);
            break;
        }
        let (Some(off), Some(len)) = (u64_at(&data, pos), u64_at(&data, pos + 8)) else {
            return fail("undo file is truncated");
        };
        let Some(end) = usize::try_from(len)
            .ok()
            .and_then(|l| (pos + 16).checked_add(l))
            // A crafted length can put the end next to usize::MAX: the
            // record's checksum must not overflow past it.
            .filter(|&e| e.checked_add(4).is_some_and(|x| x <= data.len()))
        else {
            // A record cut short by a crash: it protected a write that
            // never happened.
            if force {
                break;
            }
            return fail("undo file ends inside a record (the repair was interrupted)");
        };
        if u32_at(&data, end) != Some(CRC.checksum(&data[pos..end])) {
            if force {
                break;
            }
            return fail("undo record checksum is wrong");
        }
        digest.update(&data[pos..end + 4]);
        recs.push((off, &data[pos + 16..end]));
        pos = end + 4;
    }
    let complete = trailer.is_some();
    if let Some(t) = trailer {
        let (Some(n), Some(rc), Some(post)) = (
            u64_at(&data, t + 8),
            u32_at(&data, t + 16),
            u32_at(&data, t + 20),
        ) else {
            return fail("undo file trailer is truncated");
        };
        if n != recs.len() as u64 || rc != digest.finalize() {
            return fail("undo file records do not match its trailer");
        }
        let mut ranges: Vec<(u64, usize)> = recs.iter().map(|(o, b)| (*o, b.len())).collect();
        ranges.sort_unstable();
        let mut now = CRC.digest();
        for (o, l) in ranges {
            let mut buf = vec![0u8; l];
            crate::io::read_exact(dev, o, &mut buf)?;
            now.update(&buf);
        }
        if now.finalize() != post {
            // Saved ranges are disjoint (each byte is saved before its
            // first write only), so the image is the original exactly
            // when every range holds its saved bytes.
            let mut applied = true;
            for (o, b) in &recs {
                let mut buf = vec![0u8; b.len()];
                crate::io::read_exact(dev, *o, &mut buf)?;
                applied &= buf == *b;
            }
            if applied {
                return Ok(UndoSummary {
                    complete,
                    already_applied: true,
                    ..Default::default()
                });
            }
            if !force {
                return fail(
                    "the image changed since the repair (it is neither what the repair \
                     left nor what it started from); nothing was undone (--force restores anyway)",
                );
            }
        }
    } else if !force {
        return fail("undo file has no trailer: the repair did not finish (use --force)");
    }
    let mut sum = UndoSummary {
        complete,
        ..Default::default()
    };
    for (off, bytes) in recs.iter().rev() {
        crate::io::write_all(dev, *off, bytes)?;
        sum.records += 1;
        sum.bytes += bytes.len() as u64;
    }
    dev.flush().map_err(|e| io_err("flushing", 0, e))?;
    Ok(sum)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn undo_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("u");
        let orig: Vec<u8> = (0..4096u32).map(|i| i.to_le_bytes()[0]).collect();
        let mut d = UndoDevice::create(orig.clone(), &p).unwrap();
        d.write_at(100, &[0; 50]).unwrap();
        d.write_at(120, &[1; 100]).unwrap();
        d.write_at(4000, &[2; 96]).unwrap();
        let mut img = d.finish().unwrap();
        assert_ne!(img, orig);
        let s = restore(&p, &mut img, false).unwrap();
        assert!(s.complete);
        assert_eq!(img, orig);
        // Changed since: refused.
        let mut d = UndoDevice::create(orig.clone(), &p).unwrap();
        d.write_at(0, &[9; 8]).unwrap();
        let mut img = d.finish().unwrap();
        img[0] = 1;
        let e = restore(&p, &mut img, false).unwrap_err().to_string();
        assert!(e.starts_with("the image changed since the repair"), "{e}");
        // Twice: the second run finds the original and writes nothing.
        let mut d = UndoDevice::create(orig.clone(), &p).unwrap();
        d.write_at(10, &[9; 8]).unwrap();
        let mut img = d.finish().unwrap();
        assert!(!restore(&p, &mut img, false).unwrap().already_applied);
        let again = restore(&p, &mut img, false).unwrap();
        assert!(again.already_applied && again.records == 0);
        assert_eq!(img, orig);
    }

    /// A record whose length puts its end within 4 bytes of `usize::MAX`
    /// (where the checksum after it used to be looked for with an adding
    /// that overflowed) is a clear refusal, not a panic.
    #[test]
    fn crafted_record_length_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("u");
        let mut img = vec![0u8; 4096];
        let mut h = Vec::new();
        h.extend_from_slice(MAGIC);
        h.extend_from_slice(&(img.len() as u64).to_le_bytes());
        h.extend_from_slice(&0u64.to_le_bytes());
        let c = CRC.checksum(&h);
        h.extend_from_slice(&c.to_le_bytes());
        for back in 1..=4u64 {
            let mut f = h.clone();
            // Records start at 28; the end is 28 + 16 + len.
            let len = u64::MAX - 44 - back + 1;
            f.extend_from_slice(&0u64.to_le_bytes());
            f.extend_from_slice(&len.to_le_bytes());
            f.extend_from_slice(&[0u8; 8]);
            std::fs::write(&p, &f).unwrap();
            let e = restore(&p, &mut img, false).unwrap_err().to_string();
            assert!(e.contains("ends inside a record"), "{e}");
            // With --force the cut record is dropped: nothing to restore.
            let s = restore(&p, &mut img, true).unwrap();
            assert_eq!(s.records, 0);
        }
        assert_eq!(img, vec![0u8; 4096]);
    }
}
