//! A write overlay: changed sectors kept in memory over an image that is
//! never written through it. fsck's repair runs on one; `ufs debug` edits
//! through one.
//!
//! Every fix writes into this overlay, never straight to the image; every
//! read of the check (through the [`Device`] impl) sees the image with the
//! fixes made so far laid over it, so later passes work on the repaired
//! state exactly as fsck_ffs's buffer cache lets them. Nothing reaches the
//! image until [`Overlay::runs`] hands the changed sectors to the commit,
//! which writes them in a crash-safe order (see `docs/fsck.md`): new data
//! and indirect blocks first, then inodes, then existing directory blocks,
//! then cylinder groups and the summary area, and the superblock last.
//! A read-only check uses the same overlay and simply never commits.

use crate::io::Device;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Sector size of the overlay: every change is kept as whole 512-byte
/// sectors (DEV_BSIZE), so writes of any size and alignment compose.
pub const PAGE: u64 = 512;

/// What a write is, which decides when the commit writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WriteClass {
    /// Newly allocated blocks and indirect blocks: nothing points at them
    /// until the inode that owns them is written.
    Data = 0,
    /// Inodes: written after the blocks they point to.
    Inode = 1,
    /// Existing directory blocks: entries are written after the inodes
    /// they name exist.
    Dir = 2,
    /// Cylinder groups and the summary area: derived from everything
    /// above, so a crash before them only leaves counts a rerun recomputes.
    Cg = 3,
    /// The superblock (totals, clean flag): last.
    Super = 4,
}

/// Sectors changed by a repair, over a read-only image.
pub struct Overlay<'a> {
    base: Base<'a>,
    pages: RefCell<BTreeMap<u64, (WriteClass, Vec<u8>)>>,
}

/// The image under an overlay: borrowed (a check, a repair before its
/// commit), owned (a prediction that outlives the code that opened the
/// image, e.g. to open the repaired state with [`crate::Ufs::open`]), or
/// shared (an editor that also hands out snapshots of its state).
enum Base<'a> {
    Borrowed(&'a dyn Device),
    Owned(Box<dyn Device>),
    Shared(Rc<dyn Device>),
}

impl<'a> Overlay<'a> {
    /// An empty overlay over `base`.
    pub fn new(base: &'a dyn Device) -> Self {
        Overlay {
            base: Base::Borrowed(base),
            pages: RefCell::new(BTreeMap::new()),
        }
    }

    /// An empty overlay that owns its image: writes (a whole
    /// [`crate::fsck::repair`] through it) stay in memory, so what a
    /// repair would do can be tried and looked at with the file untouched.
    pub fn owning(base: Box<dyn Device>) -> Overlay<'static> {
        Overlay {
            base: Base::Owned(base),
            pages: RefCell::new(BTreeMap::new()),
        }
    }

    /// An empty overlay over an image shared with others: its
    /// [`snapshot`](Self::snapshot)s read the same image.
    pub fn shared(base: Rc<dyn Device>) -> Overlay<'static> {
        Overlay {
            base: Base::Shared(base),
            pages: RefCell::new(BTreeMap::new()),
        }
    }

    /// The image as changed so far, as a device of its own that later
    /// changes do not reach and that refuses writes (to open a whole file
    /// system on the state of an edit). `None` unless the overlay was made
    /// with [`shared`](Self::shared).
    pub fn snapshot(&self) -> Option<Box<dyn Device>> {
        let Base::Shared(base) = &self.base else {
            return None;
        };
        let copy = Overlay {
            base: Base::Shared(Rc::clone(base)),
            pages: RefCell::new(self.pages.borrow().clone()),
        };
        Some(Box::new(super::ReadOnly(copy)))
    }

    fn base(&self) -> &dyn Device {
        match &self.base {
            Base::Borrowed(d) => *d,
            Base::Owned(d) => d.as_ref(),
            Base::Shared(d) => d.as_ref(),
        }
    }

    /// Whether nothing was written.
    pub fn is_clean(&self) -> bool {
        self.pages.borrow().is_empty()
    }

    /// Number of changed sectors.
    pub fn pages(&self) -> usize {
        self.pages.borrow().len()
    }

    /// Current contents of sector `p` (image bytes past the end read as 0).
    // Both usize casts are of at most PAGE (512).
    #[allow(clippy::cast_possible_truncation)]
    fn page(&self, p: u64) -> Vec<u8> {
        if let Some((_, v)) = self.pages.borrow().get(&p) {
            return v.clone();
        }
        let mut v = vec![0u8; PAGE as usize];
        let off = p * PAGE;
        let avail = self.base().len().saturating_sub(off).min(PAGE) as usize;
        if avail > 0 && self.base().read_at(off, &mut v[..avail]).is_err() {
            v.fill(0);
        }
        v
    }

    /// Lays `data` over the image at `off`. A sector keeps the class of
    /// its first write. Writes past the end of the image are refused.
    // Each usize cast is of a value below PAGE or below `data.len()`.
    #[allow(clippy::cast_possible_truncation)]
    pub fn put(&self, off: u64, data: &[u8], class: WriteClass) -> std::io::Result<()> {
        let end = off
            .checked_add(data.len() as u64)
            .filter(|&e| e <= self.base().len())
            .ok_or_else(|| std::io::Error::other("write past the end of the image"))?;
        let mut pos = off;
        while pos < end {
            let p = pos / PAGE;
            let in_page = (pos % PAGE) as usize;
            let n = ((PAGE as usize - in_page) as u64).min(end - pos) as usize;
            let mut v = self.page(p);
            let src = (pos - off) as usize;
            v[in_page..in_page + n].copy_from_slice(&data[src..src + n]);
            let mut pages = self.pages.borrow_mut();
            let cls = pages.get(&p).map_or(class, |(c, _)| *c);
            pages.insert(p, (cls, v));
            pos += n as u64;
        }
        Ok(())
    }

    /// The changes as (class, offset, bytes) runs: contiguous sectors of
    /// one class merged, ordered by class and then by offset. The last
    /// run is clipped to the image length.
    pub fn runs(&self) -> Vec<(WriteClass, u64, Vec<u8>)> {
        let pages = self.pages.borrow();
        let mut by_class: Vec<(WriteClass, u64, Vec<u8>)> = Vec::new();
        let mut sorted: Vec<(WriteClass, u64, &Vec<u8>)> =
            pages.iter().map(|(p, (c, v))| (*c, *p, v)).collect();
        sorted.sort_by_key(|&(c, p, _)| (c, p));
        for (c, p, v) in sorted {
            if let Some((lc, loff, buf)) = by_class.last_mut() {
                if *lc == c && *loff + buf.len() as u64 == p * PAGE {
                    buf.extend_from_slice(v);
                    continue;
                }
            }
            by_class.push((c, p * PAGE, v.clone()));
        }
        let len = self.base().len();
        for (_, off, buf) in &mut by_class {
            // At most buf.len().
            #[allow(clippy::cast_possible_truncation)]
            let keep = len.saturating_sub(*off).min(buf.len() as u64) as usize;
            buf.truncate(keep);
        }
        by_class.retain(|(_, _, b)| !b.is_empty());
        by_class
    }
}

impl Device for Overlay<'_> {
    // Each usize cast is of an offset inside `buf` or inside one page.
    #[allow(clippy::cast_possible_truncation)]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let pages = self.pages.borrow();
        if pages.is_empty() {
            return self.base().read_at(offset, buf);
        }
        let end = offset
            .checked_add(buf.len() as u64)
            .ok_or_else(|| std::io::Error::other("offset overflow"))?;
        // Unchanged ranges come from the image in one read.
        self.base().read_at(offset, buf)?;
        let first = offset / PAGE;
        let last = end.div_ceil(PAGE);
        for (&p, (_, v)) in pages.range(first..last) {
            let ps = p * PAGE;
            let from = ps.max(offset);
            let to = (ps + PAGE).min(end);
            if from < to {
                buf[(from - offset) as usize..(to - offset) as usize]
                    .copy_from_slice(&v[(from - ps) as usize..(to - ps) as usize]);
            }
        }
        Ok(())
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        self.put(offset, buf, WriteClass::Data)
    }
    fn len(&self) -> u64 {
        self.base().len()
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    /// The image's bytes in place when no change lies over them; a range
    /// with a change is read (and merged) by `read_at`.
    fn mapped(&self, offset: u64, len: usize) -> Option<std::io::Result<super::Mapped>> {
        let end = offset.checked_add(len as u64)?;
        let changed = self
            .pages
            .borrow()
            .range(offset / PAGE..end.div_ceil(PAGE))
            .next()
            .is_some();
        if changed {
            return None;
        }
        self.base().mapped(offset, len)
    }
    fn will_need(&self, offset: u64, len: u64) {
        self.base().will_need(offset, len);
    }
    fn cached(&self, offset: u64) -> Option<bool> {
        self.base().cached(offset)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_see_writes_and_runs_are_ordered() {
        let img = vec![7u8; 4096];
        let ov = Overlay::new(&img);
        ov.put(1000, &[1, 2, 3], WriteClass::Super).unwrap();
        ov.put(10, &[9; 600], WriteClass::Data).unwrap();
        let mut b = [0u8; 4];
        ov.read_at(999, &mut b).unwrap();
        assert_eq!(b, [7, 1, 2, 3]);
        let runs = ov.runs();
        assert_eq!(runs[0].0, WriteClass::Data);
        assert_eq!(runs[0].1, 0);
        assert_eq!(runs[0].2.len(), 512);
        assert_eq!(runs[1].0, WriteClass::Super);
        assert!(ov.put(4095, &[1, 2], WriteClass::Data).is_err());
    }

    #[test]
    fn a_snapshot_keeps_the_state_it_was_taken_in() {
        let ov = Overlay::shared(Rc::new(vec![7u8; 2048]));
        ov.put(100, &[1, 2], WriteClass::Data).unwrap();
        let mut snap = ov.snapshot().unwrap();
        ov.put(101, &[9], WriteClass::Data).unwrap();
        let mut b = [0u8; 3];
        snap.read_at(99, &mut b).unwrap();
        assert_eq!(b, [7, 1, 2]);
        assert!(snap.is_read_only());
        assert!(snap.write_at(0, &[0]).is_err());
        assert_eq!(snap.len(), 2048);
        assert!(Overlay::new(&vec![0u8; 8]).snapshot().is_none());
    }
}
