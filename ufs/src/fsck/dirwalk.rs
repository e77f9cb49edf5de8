//! fsck's one walk over a directory's entries: the reading half of
//! fsck_ffs dir.c `fsck_readdir()`, used by the lookups (`findino()`,
//! `findname()`) and by the entry editors (`mkentry()`, `changeino()`, the
//! clearing of an entry). Blocks come in logical order, bounded by the
//! directory's size (at most MAXDIRSIZE), each read through the overlay; a
//! block out of range or unreadable counts against the size and is
//! skipped. Only well-formed entries ([`dircheck`]) are given out; what is
//! skipped at a malformed one is the caller's choice ([`OnBad`]).

use super::state::{dircheck, parse_ent, Ctx, DirEnt, MAXDIRSIZE};
use crate::ondisk::consts::DIRBLKSIZ;
use crate::units::Frag;

/// What the walk skips at a malformed entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OnBad {
    /// The rest of the block, the size left unchanged: fsck looking
    /// without fixing (`id_fix == IGNORE`).
    RestOfBlock,
    /// The rest of the DIRBLKSIZ chunk, counted against the size, as
    /// `fsck_readdir()` skips it.
    RestOfChunk,
}

/// A walk in progress; [`DirWalk::next`] gives the next entry.
pub(super) struct DirWalk {
    blocks: std::vec::IntoIter<(u64, u64, u32)>,
    /// Bytes of the directory not yet walked (fsck_ffs's signed
    /// `id_filesize`).
    filesize: i64,
    on_bad: OnBad,
    /// The block being walked: its address and bytes, and where the next
    /// entry starts in it.
    addr: u64,
    buf: Vec<u8>,
    loc: usize,
}

impl DirWalk {
    /// A walk over directory `dir`; empty when `dir` is not a directory.
    pub(super) fn new(ctx: &Ctx<'_>, dir: u32, on_bad: OnBad) -> DirWalk {
        let (blocks, size) = match ctx.inode(dir) {
            Some(ip) if ip.is_dir() => {
                let size = ip.size().min(MAXDIRSIZE);
                (ctx.dir_blocks(&ip, size), size)
            }
            _ => (Vec::new(), 0),
        };
        DirWalk {
            blocks: blocks.into_iter(),
            // At most MAXDIRSIZE.
            filesize: i64::try_from(size).unwrap_or(i64::MAX),
            on_bad,
            addr: 0,
            buf: Vec::new(),
            loc: 0,
        }
    }

    /// The next well-formed entry and its offset in [`DirWalk::block`];
    /// None at the end of the directory.
    pub(super) fn next(&mut self, ctx: &Ctx<'_>) -> Option<(usize, DirEnt)> {
        loop {
            if self.filesize > 0 && self.loc < self.buf.len() {
                let loc = self.loc;
                let Some(e) = parse_ent(&self.buf, loc, ctx.geo.endian) else {
                    self.loc = self.buf.len();
                    continue;
                };
                if !dircheck(&e, loc, self.filesize) {
                    match self.on_bad {
                        OnBad::RestOfBlock => self.loc = self.buf.len(),
                        OnBad::RestOfChunk => {
                            let skip = DIRBLKSIZ - loc % DIRBLKSIZ;
                            self.loc += skip;
                            // At most DIRBLKSIZ (512).
                            self.filesize -= i64::try_from(skip).unwrap_or(i64::MAX);
                        }
                    }
                    continue;
                }
                self.loc += usize::from(e.reclen);
                self.filesize -= i64::from(e.reclen);
                return Some((loc, e));
            }
            let (_lbn, addr, nf) = self.blocks.next()?;
            self.addr = addr;
            self.loc = 0;
            match ctx.dir_block(addr, nf) {
                Some(buf) => self.buf = buf,
                None => {
                    self.buf.clear();
                    self.filesize -= i64::from(nf) << ctx.geo.fshift;
                }
            }
        }
    }

    /// The block holding the entry [`DirWalk::next`] gave last.
    pub(super) fn block(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// That block's first fragment.
    pub(super) fn addr(&self) -> u64 {
        self.addr
    }
}

impl Ctx<'_> {
    /// Asks the device to start reading (a cold cache) the first block of
    /// the directories `dirs` of the scan list, in disk order: runs of
    /// adjacent directories as one request each, so that the disk works
    /// ahead of phase 2 (which reads one block at a time) for a few
    /// syscalls.
    pub(super) fn read_ahead_dirs(&self, dirs: std::ops::Range<usize>) {
        let end = dirs.end.min(self.dirs.len());
        let bsize = self.geo.bsize64();
        let mut hints = crate::io::Hints::default();
        for d in self.dirs.get(dirs.start..end).unwrap_or(&[]) {
            if d.isize != 0 && self.geo.run_in_range(Frag(d.blk0), 1) {
                hints.add(
                    self.dev,
                    self.geo.frag_offset(Frag(d.blk0)),
                    d.isize.min(bsize),
                );
            }
        }
        hints.finish(self.dev);
    }

    /// Reads `nf` fragments of a directory at `addr` through the overlay;
    /// None when the run is out of range (fsck_ffs's chkrange) or
    /// unreadable.
    pub(super) fn dir_block(&self, addr: u64, nf: u32) -> Option<Vec<u8>> {
        if !self.geo.run_in_range(Frag(addr), u64::from(nf)) {
            return None;
        }
        // In range on the device, and at most a block (nf <= frag).
        #[allow(clippy::cast_possible_truncation)]
        let mut buf = vec![0u8; (u64::from(nf) << self.geo.fshift) as usize];
        crate::io::read_exact(self.dev, self.geo.frag_offset(Frag(addr)), &mut buf).ok()?;
        Some(buf)
    }
}
