//! Block trees: from a file's logical blocks to fragment addresses — the one
//! owner of block-tree arithmetic.
//!
//! An inode has 12 direct pointers and single, double and triple indirect
//! pointers (32-bit in UFS1, 64-bit in UFS2); a zero pointer is a hole. The
//! last block of a small file may be a run of fragments (`sblksize` in fs.h).
//! This module owns:
//! - [`Spans`]: pointers per indirect block, where each level starts and how
//!   many logical blocks it covers, the [`BlockPath`] to a logical block, the
//!   largest file, and the indirect blocks a file of N blocks needs
//!   ([`indirect_blocks`], for size estimates);
//! - [`PtrFormat`]: reading and writing pointers in indirect blocks in either
//!   width and byte order, with the one rule for negative pointers
//!   (`crate::ondisk::wire::daddr`);
//! - [`walk`]: every pointer of an inode's tree in logical order, data and
//!   indirect blocks alike, shared by readers, fsck and the write path. It is
//!   bounded: the tree has fixed depth, and the number of blocks visited can
//!   never exceed the blocks the file system has, so indirect blocks that
//!   point at each other over and over cannot make it run for long;
//! - [`cut_tree`]: the walk that cuts a tree at a logical block (truncation,
//!   fsck's partially truncated inodes), giving blocks back through a
//!   caller's [`TreeEdit`].

use crate::error::{CorruptKind, Error, Location, Result};
use crate::inode::{Inode, InodeFields};
use crate::io::{self, Device};
use crate::ondisk::consts::{NDADDR, NIADDR};
use crate::ondisk::wire;
use crate::superblock::{Geometry, UfsVersion};
use crate::units::{Frag, Ino, Lbn};
use crate::Endian;

/// What a pointer in the tree refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// A data block at logical block `lbn`.
    Data {
        /// Logical block number.
        lbn: u64,
    },
    /// An indirect block at `level` (1 single, 2 double, 3 triple) whose
    /// first mapped logical block is `first_lbn`.
    Indirect {
        /// 1, 2 or 3.
        level: u8,
        /// First logical block it maps.
        first_lbn: u64,
    },
}

/// One non-zero pointer found in the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockRef {
    /// What it is.
    pub kind: BlockKind,
    /// Where it points.
    pub addr: Frag,
    /// How many fragments it covers (a full block, or the tail fragments).
    pub nfrags: u32,
    /// Whether `addr..addr+nfrags` lies inside the file system.
    pub in_range: bool,
}

/// What the visitor wants next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Walk {
    /// Go on (and descend into an indirect block).
    Continue,
    /// Go on, but do not descend into this indirect block.
    Skip,
    /// Stop the walk.
    Stop,
}

/// Number of logical blocks the file's size covers.
#[inline]
pub fn size_blocks(geo: &Geometry, size: u64) -> u64 {
    // `bsize` is a power of two: a shift, not a division (this runs for
    // every file fsck checks).
    (size >> geo.bshift) + u64::from(size & (geo.bsize64() - 1) != 0)
}

/// Visits every non-zero pointer of `inode`'s data tree in logical order.
///
/// Data blocks at or beyond `limit_lbn` are still reported (fsck wants to
/// see them) unless `stop_at_limit` is set. Out-of-range pointers are
/// reported with `in_range == false` and never followed.
pub fn walk<I: InodeFields + ?Sized>(
    dev: &dyn Device,
    geo: &Geometry,
    inode: &I,
    limit_lbn: Option<u64>,
    visit: &mut dyn FnMut(BlockRef) -> Result<Walk>,
) -> Result<()> {
    let mut budget = Budget::new(geo, inode.ino());
    for r in direct_refs(geo, inode) {
        let BlockKind::Data { lbn } = r.kind else {
            continue;
        };
        if limit_lbn.is_some_and(|l| lbn >= l) {
            break;
        }
        budget.data(&r)?;
        if visit(r)? == Walk::Stop {
            return Ok(());
        }
    }
    for (lvl, Lbn(first), _) in Spans::of(geo).levels() {
        let addr = inode.ib(usize::from(lvl - 1));
        if addr == 0 {
            continue;
        }
        if limit_lbn.is_some_and(|l| first >= l) {
            break;
        }
        if walk_indirect(
            dev,
            geo,
            inode.ino(),
            lvl,
            first,
            addr,
            limit_lbn,
            &mut budget,
            visit,
        )? == Walk::Stop
        {
            return Ok(());
        }
    }
    Ok(())
}

/// The non-zero direct pointers of `inode` in logical order, each with the
/// fragments its block holds (the tail block of a small file may be a run
/// of fragments): the first part of [`walk`], which a file with no
/// indirect pointers needs alone.
pub fn direct_refs<'a, I: InodeFields + ?Sized>(
    geo: &'a Geometry,
    inode: &'a I,
) -> impl Iterator<Item = BlockRef> + 'a {
    let size = inode.size();
    (0..NDADDR).filter_map(move |i| direct_ref(geo, size, i, inode.db(i)))
}

/// The block direct pointer `i` of a file of `size` bytes maps, holding
/// `addr` (`None` for a hole): what [`direct_refs`] gives for it, for a
/// loop that is to be compiled into its caller (fsck's phase 1 runs one
/// for every file).
#[inline]
pub fn direct_ref(geo: &Geometry, size: u64, i: usize, addr: u64) -> Option<BlockRef> {
    if addr == 0 {
        return None;
    }
    let lbn = i as u64;
    // At most one block: frag (<= 8) fragments.
    #[allow(clippy::cast_possible_truncation)]
    let nfrags = (geo.blksize(size, lbn) >> geo.fshift) as u32;
    Some(make_ref(geo, BlockKind::Data { lbn }, addr, nfrags.max(1)))
}

#[inline]
fn make_ref(geo: &Geometry, kind: BlockKind, addr: u64, nfrags: u32) -> BlockRef {
    BlockRef {
        kind,
        addr: Frag(addr),
        nfrags,
        in_range: geo.frags_in_range(Frag(addr), u64::from(nfrags)),
    }
}

struct Budget {
    ino: Ino,
    blocks_left: u64,
}

impl Budget {
    fn new(geo: &Geometry, ino: Ino) -> Self {
        // A file cannot hold more blocks than the file system has; visiting
        // more means pointers are shared in a cycle-like fan-out.
        Budget {
            ino,
            blocks_left: geo.size / u64::from(geo.frag) + NDADDR as u64 + 4,
        }
    }
    fn data(&mut self, r: &BlockRef) -> Result<()> {
        if self.blocks_left == 0 {
            return Err(Error::corrupt(
                CorruptKind::Loop,
                Location::Block {
                    ino: self.ino,
                    frag: r.addr,
                },
                "the block tree maps more blocks than the file system holds",
            ));
        }
        self.blocks_left -= 1;
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
fn walk_indirect(
    dev: &dyn Device,
    geo: &Geometry,
    ino: Ino,
    level: u8,
    first_lbn: u64,
    addr: u64,
    limit_lbn: Option<u64>,
    budget: &mut Budget,
    visit: &mut dyn FnMut(BlockRef) -> Result<Walk>,
) -> Result<Walk> {
    let r = make_ref(
        geo,
        BlockKind::Indirect { level, first_lbn },
        addr,
        geo.frag,
    );
    budget.data(&r)?;
    match visit(r)? {
        Walk::Stop => return Ok(Walk::Stop),
        Walk::Skip => return Ok(Walk::Continue),
        Walk::Continue if !r.in_range => return Ok(Walk::Continue),
        Walk::Continue => {}
    }
    let ptrs = read_indirect(dev, geo, ino, Frag(addr))?;
    // Blocks mapped by each entry of this indirect block.
    let per_entry = Spans::of(geo).per_pointer(level);
    for (i, &p) in ptrs.iter().enumerate() {
        if p == 0 {
            continue;
        }
        let lbn = first_lbn.saturating_add((i as u64).saturating_mul(per_entry));
        if limit_lbn.is_some_and(|l| lbn >= l) {
            break;
        }
        if level == 1 {
            let dr = make_ref(geo, BlockKind::Data { lbn }, p, geo.frag);
            budget.data(&dr)?;
            if visit(dr)? == Walk::Stop {
                return Ok(Walk::Stop);
            }
        } else if walk_indirect(dev, geo, ino, level - 1, lbn, p, limit_lbn, budget, visit)?
            == Walk::Stop
        {
            return Ok(Walk::Stop);
        }
    }
    Ok(Walk::Continue)
}

/// Reads an indirect block and returns its pointers as fragment addresses
/// (negative values become `wire::BAD_DADDR`, which no range check
/// accepts).
pub fn read_indirect(dev: &dyn Device, geo: &Geometry, ino: Ino, addr: Frag) -> Result<Vec<u64>> {
    Ok(decode_pointers(
        geo,
        &read_indirect_block(dev, geo, ino, addr)?,
    ))
}

/// Reads the raw bytes of an indirect block, refusing one outside the file
/// system (`ino` names the file for the error).
pub fn read_indirect_block(
    dev: &dyn Device,
    geo: &Geometry,
    ino: Ino,
    addr: Frag,
) -> Result<Vec<u8>> {
    if !geo.frags_in_range(addr, u64::from(geo.frag)) {
        return Err(Error::corrupt(
            CorruptKind::BadBlockPointer,
            Location::Block { ino, frag: addr },
            "indirect block outside the file system",
        ));
    }
    let mut buf = vec![0u8; geo.bsize as usize];
    io::read_exact(dev, geo.frag_offset(addr), &mut buf)?;
    Ok(buf)
}

/// Decodes a block of pointers in the image's width and byte order.
pub fn decode_pointers(geo: &Geometry, buf: &[u8]) -> Vec<u64> {
    PtrFormat::of(geo).decode(buf)
}

/// Encodes pointers into a fresh indirect block (`bsize` bytes; pointers
/// past those given are holes).
pub fn encode_pointers(geo: &Geometry, ptrs: &[u64]) -> Vec<u8> {
    PtrFormat::of(geo).encode(ptrs, geo.bsize as usize)
}

/// A run of logically and physically contiguous data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    /// First logical block.
    pub lbn: u64,
    /// First fragment.
    pub addr: Frag,
    /// Length in bytes (whole blocks, except a fragment tail at the end).
    pub len: u64,
}

/// The data extents of a file up to its size, in logical order, with
/// contiguous blocks merged. Holes are simply absent. Fails on a pointer
/// outside the file system, and on a size beyond what the block tree can
/// address ([`Geometry::addressable_bytes`]): such a file is damage, not
/// a sparse file to be read as zeros.
pub fn extents(dev: &dyn Device, geo: &Geometry, inode: &Inode) -> Result<Vec<Extent>> {
    let size = inode.size();
    let ino = inode.ino;
    let cap = geo.addressable_bytes();
    if size > cap {
        return Err(Error::corrupt(
            CorruptKind::BadInode,
            Location::Inode(ino),
            format!("size {size} is more than its block tree can address ({cap} bytes)"),
        ));
    }
    let limit = size_blocks(geo, size);
    let mut out: Vec<Extent> = Vec::new();
    // A file cannot hold more data than the file system: pointers that
    // say so (repeated or garbage addresses) are damage, found before the
    // list grows past the image's own size.
    // (One block of slack: a snapshot file as large as the file system
    // rounds its last block up.)
    let fs_bytes = geo
        .size
        .saturating_mul(u64::from(geo.fsize))
        .saturating_add(geo.bsize64());
    let mut data = 0u64;
    walk(dev, geo, inode, Some(limit), &mut |r| {
        if !r.in_range {
            return Err(Error::corrupt(
                CorruptKind::BadBlockPointer,
                Location::Block { ino, frag: r.addr },
                format!(
                    "{:?} points outside the file system ({} fragments)",
                    r.kind, geo.size
                ),
            ));
        }
        if let BlockKind::Data { lbn } = r.kind {
            let len = geo
                .blksize(size, lbn)
                .min(u64::from(r.nfrags) << geo.fshift);
            data = data.saturating_add(len);
            if data > fs_bytes {
                return Err(Error::corrupt(
                    CorruptKind::BadInode,
                    Location::Inode(ino),
                    format!(
                        "its block pointers claim more data than the file system holds \
                         ({fs_bytes} bytes)"
                    ),
                ));
            }
            if let Some(last) = out.last_mut() {
                let next_lbn = last.lbn + last.len.div_ceil(geo.bsize64());
                let next_addr = last.addr.0 + (last.len >> geo.fshift);
                if next_lbn == lbn && next_addr == r.addr.0 && last.len % geo.bsize64() == 0 {
                    last.len += len;
                    return Ok(Walk::Continue);
                }
            }
            out.push(Extent {
                lbn,
                addr: r.addr,
                len,
            });
        }
        Ok(Walk::Continue)
    })?;
    Ok(out)
}

// ---- span arithmetic ----------------------------------------------------

/// The shape of a block tree: how many pointers an indirect block holds
/// (`NINDIR`, fs.h) and, from that, which logical blocks each level maps.
/// Everything saturates: a level whose span does not fit in `u64` simply
/// cannot be full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spans {
    nindir: u64,
}

/// Where a logical block's pointer lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockPath {
    /// In the inode's direct pointer `0..12`.
    Direct(usize),
    /// Below the inode's indirect pointer of `level` (1 single, 2 double,
    /// 3 triple): the index in each indirect block on the way down, top
    /// first ([`BlockPath::indices`]).
    Indirect {
        /// 1, 2 or 3.
        level: u8,
        /// Slot in the block at each depth (only the first `level` count).
        index: [usize; NIADDR],
    },
}

impl BlockPath {
    /// The slots on the way down from the inode's indirect pointer (empty for
    /// a direct block): the last one holds the data block's address.
    pub fn indices(&self) -> &[usize] {
        match self {
            BlockPath::Direct(_) => &[],
            BlockPath::Indirect { level, index } => &index[..usize::from(*level)],
        }
    }
}

impl Spans {
    /// A tree whose indirect blocks hold `nindir` pointers.
    pub fn new(nindir: u64) -> Spans {
        Spans { nindir }
    }

    /// The tree of files in `geo`'s file system.
    pub fn of(geo: &Geometry) -> Spans {
        Spans::new(geo.nindir)
    }

    /// The tree for blocks of `bsize` bytes holding `version`'s pointers.
    pub fn for_block(bsize: u64, version: UfsVersion) -> Spans {
        Spans::new(bsize / u64::from(version.pointer_size()))
    }

    /// Pointers per indirect block.
    pub fn nindir(self) -> u64 {
        self.nindir
    }

    /// Logical blocks an indirect block of `level` maps (`NINDIR^level`; a
    /// data block, level 0, maps one).
    pub fn covers(self, level: u8) -> u64 {
        self.nindir.saturating_pow(u32::from(level))
    }

    /// Logical blocks each pointer inside an indirect block of `level` maps
    /// (`NINDIR^(level-1)`).
    pub fn per_pointer(self, level: u8) -> u64 {
        self.covers(level.saturating_sub(1))
    }

    /// First logical block mapped through the inode's indirect pointer of
    /// `level` (1 to 3); level 0 is the first direct block, and levels past
    /// 3 start where the tree ends.
    pub fn first(self, level: u8) -> Lbn {
        let mut first = if level == 0 { 0 } else { NDADDR as u64 };
        let levels = u8::try_from(NIADDR).unwrap_or(3);
        for l in 1..level.min(levels + 1) {
            first = first.saturating_add(self.covers(l));
        }
        Lbn(first)
    }

    /// The inode's three indirect trees as (level, first logical block,
    /// blocks mapped), single first.
    pub fn levels(self) -> [(u8, Lbn, u64); NIADDR] {
        std::array::from_fn(|i| {
            // i < NIADDR (3).
            #[allow(clippy::cast_possible_truncation)]
            let level = i as u8 + 1;
            (level, self.first(level), self.covers(level))
        })
    }

    /// One past the last logical block the tree can map.
    pub fn end(self) -> Lbn {
        let (_, Lbn(first), covers) = self.levels()[NIADDR - 1];
        Lbn(first.saturating_add(covers))
    }

    /// The most bytes a file with blocks of `bsize` can address (FreeBSD's
    /// `fs_maxfilesize` is one less, as newfs computes it).
    pub fn max_bytes(self, bsize: u64) -> u64 {
        self.end().0.saturating_mul(bsize)
    }

    /// Where the pointer to logical block `lbn` lives; `None` past the end
    /// of the triple indirect range.
    pub fn path(self, lbn: Lbn) -> Option<BlockPath> {
        if lbn.0 < NDADDR as u64 {
            // Below NDADDR (12).
            #[allow(clippy::cast_possible_truncation)]
            return Some(BlockPath::Direct(lbn.0 as usize));
        }
        for (level, Lbn(first), covers) in self.levels() {
            let Some(rel) = lbn.0.checked_sub(first).filter(|&r| r < covers) else {
                continue;
            };
            let mut index = [0usize; NIADDR];
            for (depth, slot) in index.iter_mut().take(usize::from(level)).enumerate() {
                // depth < level <= 3.
                #[allow(clippy::cast_possible_truncation)]
                let per = self.per_pointer(level - depth as u8);
                // Below nindir, a block's pointer count.
                #[allow(clippy::cast_possible_truncation)]
                let at = ((rel / per) % self.nindir) as usize;
                *slot = at;
            }
            return Some(BlockPath::Indirect { level, index });
        }
        None
    }

    /// Indirect blocks a file of `nblocks` logical blocks with no holes
    /// needs (capped at what the tree can map).
    pub fn indirect_blocks(self, nblocks: u64) -> u64 {
        let mut rest = nblocks.min(self.end().0).saturating_sub(NDADDR as u64);
        let mut count = 0u64;
        for (level, _, covers) in self.levels() {
            if rest == 0 {
                break;
            }
            let here = rest.min(covers);
            // The top block, then at each depth below it one block per
            // `covers(depth)` data blocks mapped.
            count += 1;
            for depth in 1..level {
                count += here.div_ceil(self.covers(depth));
            }
            rest -= here;
        }
        count
    }
}

/// The blocks a UFS2 inode's extended-attribute area points at (`di_extb`),
/// as (slot, address, fragments), in slot order, holes left out. The last
/// block of the area counts only the fragments its tail needs (`sblksize`
/// of `di_extsize`); a pointer in a slot past the area counts a full block,
/// as fsck_ffs's phase 1 counts it. Empty on UFS1 and for an empty area.
pub fn ext_runs<I: InodeFields + ?Sized>(geo: &Geometry, ip: &I) -> Vec<(usize, u64, u32)> {
    let mut out = Vec::new();
    if geo.version != UfsVersion::Ufs2 || ip.extsize() == 0 {
        return out;
    }
    let bsize = geo.bsize64();
    let ext = u64::from(ip.extsize());
    let blocks = ext.div_ceil(bsize);
    let tail = ext % bsize;
    for k in 0..crate::ondisk::consts::NXADDR {
        let last = k as u64 + 1 == blocks;
        let nf = if last && tail != 0 {
            // Fewer fragments than a block has (`fs_frag`, a u32).
            u32::try_from(tail.div_ceil(u64::from(geo.fsize))).unwrap_or(geo.frag)
        } else {
            geo.frag
        };
        let a = ip.extb(k);
        if a != 0 {
            out.push((k, a, nf));
        }
    }
    out
}

/// Indirect blocks a file of `size` bytes needs when its blocks are `bsize`
/// bytes and it has no holes: what a size estimate adds to the data.
pub fn indirect_blocks(bsize: u64, version: UfsVersion, size: u64) -> u64 {
    if bsize == 0 {
        return 0;
    }
    Spans::for_block(bsize, version).indirect_blocks(size.div_ceil(bsize))
}

// ---- pointers in indirect blocks ------------------------------------------

/// How an image stores block pointers: their width (by version) and byte
/// order. Decoding follows the one rule of `wire::daddr`: zero is a hole,
/// a negative pointer is `wire::BAD_DADDR`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtrFormat {
    /// UFS1 (32-bit pointers) or UFS2 (64-bit).
    pub version: UfsVersion,
    /// The image's byte order.
    pub endian: Endian,
}

impl PtrFormat {
    /// The format of `geo`'s file system.
    pub fn of(geo: &Geometry) -> PtrFormat {
        PtrFormat {
            version: geo.version,
            endian: geo.endian,
        }
    }

    /// Bytes per pointer.
    pub fn size(self) -> usize {
        self.version.pointer_size() as usize
    }

    /// Pointers `block` holds.
    pub fn count(self, block: &[u8]) -> usize {
        block.len() / self.size()
    }

    fn ufs2(self) -> bool {
        self.version == UfsVersion::Ufs2
    }

    /// Pointer `i` of `block` (`None` past its end).
    pub fn get(self, block: &[u8], i: usize) -> Option<u64> {
        let at = i.checked_mul(self.size())?;
        wire::get_daddr(block.get(at..)?, self.ufs2(), self.endian)
    }

    /// Sets pointer `i` of `block`; `false` past its end.
    pub fn set(self, block: &mut [u8], i: usize, v: u64) -> bool {
        let Some(slot) = i
            .checked_mul(self.size())
            .and_then(|at| block.get_mut(at..))
        else {
            return false;
        };
        wire::put_daddr(slot, self.ufs2(), self.endian, v)
    }

    /// Every pointer of `block`.
    pub fn decode(self, block: &[u8]) -> Vec<u64> {
        block
            .chunks_exact(self.size())
            .map(|c| wire::get_daddr(c, self.ufs2(), self.endian).unwrap_or(0))
            .collect()
    }

    /// A block of `len` bytes holding `ptrs` (the rest holes).
    pub fn encode(self, ptrs: &[u64], len: usize) -> Vec<u8> {
        let mut block = vec![0u8; len];
        for (i, &p) in ptrs.iter().enumerate() {
            self.set(&mut block, i, p);
        }
        block
    }
}

// ---- the walk that cuts ---------------------------------------------------

/// What [`cut_tree`] needs from its caller: the blocks, and what giving one
/// back means (the write path frees it in the bitmaps; fsck releases what
/// pass 1 counted).
pub trait TreeEdit {
    /// The bytes of indirect block `addr`, or `None` to leave it and what it
    /// maps alone (fsck: unreadable or outside the file system).
    fn read(&mut self, addr: u64) -> Result<Option<Vec<u8>>>;
    /// Writes back an indirect block whose pointers the cut zeroed.
    fn write(&mut self, addr: u64, block: &[u8]) -> Result<()>;
    /// Gives back a block the cut removed: a data block (`level` 0) or an
    /// indirect block of `level`, mapping logical blocks from `first`.
    fn release(&mut self, addr: u64, level: u8, first: Lbn) -> Result<()>;
}

/// Which indirect blocks a cut gives back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prune {
    /// Those mapping only blocks past the cut; one that maps kept blocks
    /// stays, even if it now holds no pointer (fsck_ffs).
    Past,
    /// Those left holding no pointer, wherever they are; the inode's top
    /// blocks are looked at even when they map only kept blocks (the write
    /// path: a failed allocation can leave an empty indirect block).
    Empty,
}

/// Where and how a tree is cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    /// The tree's shape.
    pub spans: Spans,
    /// How its pointers are stored.
    pub fmt: PtrFormat,
    /// Logical blocks below this stay.
    pub keep: Lbn,
    /// Blocks at or past this are cut loose (their pointers zeroed) but not
    /// released: fsck gives back only what pass 1 counted, the blocks below
    /// the old end of file. `Lbn(u64::MAX)` releases everything.
    pub counted: Lbn,
    /// Which indirect blocks are given back.
    pub prune: Prune,
}

impl Cut {
    /// The non-zero pointers of indirect block `block` of `level` mapping
    /// from `first`, as (slot, address, first logical block it maps).
    fn entries<'b>(
        &self,
        block: &'b [u8],
        level: u8,
        first: Lbn,
    ) -> impl Iterator<Item = (usize, u64, Lbn)> + 'b {
        let (fmt, per) = (self.fmt, self.spans.per_pointer(level));
        (0..fmt.count(block)).filter_map(move |i| {
            let v = fmt.get(block, i).unwrap_or(0);
            let lbn = first.0.saturating_add((i as u64).saturating_mul(per));
            (v != 0).then_some((i, v, Lbn(lbn)))
        })
    }
}

/// Cuts the inode's indirect tree of `level` (1 to 3) whose top block is
/// `top`: every pointer to a logical block at or past `cut.keep` is zeroed
/// and the blocks it named released. Returns whether `top` itself was
/// released (the caller then clears the inode's pointer). Children are
/// released before their parent, and a block is written back after the
/// blocks below it.
pub fn cut_tree(cut: &Cut, top: u64, level: u8, edit: &mut dyn TreeEdit) -> Result<bool> {
    let first = cut.spans.first(level);
    if cut.prune == Prune::Past && first.0.saturating_add(cut.spans.covers(level)) <= cut.keep.0 {
        return Ok(false);
    }
    cut_node(cut, top, level, first, edit)
}

/// Zeroes every pointer to a logical block at or past `cut.keep` inside the
/// indirect block `addr` of `level` (mapping from `first`) and below it,
/// releasing what `cut` says; the block itself stays unless `cut.prune` is
/// [`Prune::Empty`] and it is left empty (fsck_ffs zeroing pointers past the
/// end of a partially truncated inode). Returns whether `addr` was released.
pub fn cut_block(
    cut: &Cut,
    addr: u64,
    level: u8,
    first: Lbn,
    edit: &mut dyn TreeEdit,
) -> Result<bool> {
    let Some(mut block) = edit.read(addr)? else {
        return Ok(false);
    };
    let per = cut.spans.per_pointer(level);
    let entries: Vec<_> = cut.entries(&block, level, first).collect();
    let mut changed = false;
    for (i, v, lbn) in entries {
        if lbn.0.saturating_add(per) <= cut.keep.0 {
            continue;
        }
        let released = if level <= 1 {
            if lbn < cut.counted {
                edit.release(v, 0, lbn)?;
            }
            true
        } else {
            cut_node(cut, v, level - 1, lbn, edit)?
        };
        if released {
            cut.fmt.set(&mut block, i, 0);
            changed = true;
        }
    }
    if cut.prune == Prune::Empty && cut.entries(&block, level, first).next().is_none() {
        edit.release(addr, level, first)?;
        return Ok(true);
    }
    if changed {
        edit.write(addr, &block)?;
    }
    Ok(false)
}

fn cut_node(cut: &Cut, addr: u64, level: u8, first: Lbn, edit: &mut dyn TreeEdit) -> Result<bool> {
    if cut.prune == Prune::Past && first >= cut.keep {
        release_tree(cut, addr, level, first, edit)?;
        return Ok(true);
    }
    cut_block(cut, addr, level, first, edit)
}

/// Releases an indirect block wholly past the cut and everything below it
/// that starts before `cut.counted` (children first).
fn release_tree(
    cut: &Cut,
    addr: u64,
    level: u8,
    first: Lbn,
    edit: &mut dyn TreeEdit,
) -> Result<()> {
    if first >= cut.counted {
        return Ok(());
    }
    if let Some(block) = edit.read(addr)? {
        for (_, v, lbn) in cut.entries(&block, level, first) {
            if lbn >= cut.counted {
                continue;
            }
            if level <= 1 {
                edit.release(v, 0, lbn)?;
            } else {
                release_tree(cut, v, level - 1, lbn, edit)?;
            }
        }
    }
    edit.release(addr, level, first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    const V1: UfsVersion = UfsVersion::Ufs1;
    const V2: UfsVersion = UfsVersion::Ufs2;

    #[test]
    fn spans_of_a_4k_ufs2_tree() {
        let s = Spans::for_block(4096, V2);
        assert_eq!(s.nindir(), 512);
        assert_eq!(
            [s.covers(0), s.covers(1), s.covers(2), s.covers(3)],
            [1, 512, 512 * 512, 512 * 512 * 512]
        );
        assert_eq!(s.per_pointer(1), 1);
        assert_eq!(s.per_pointer(3), 512 * 512);
        assert_eq!(s.first(0), Lbn(0));
        assert_eq!(s.first(1), Lbn(12));
        assert_eq!(s.first(2), Lbn(12 + 512));
        assert_eq!(s.first(3), Lbn(12 + 512 + 512 * 512));
        assert_eq!(s.end(), Lbn(12 + 512 + 512 * 512 + 512 * 512 * 512));
        assert_eq!(Spans::for_block(4096, V1).nindir(), 1024);
        // A tree too wide for u64 saturates instead of wrapping.
        let wide = Spans::new(1 << 32);
        assert_eq!(wide.covers(3), u64::MAX);
        assert_eq!(wide.end(), Lbn(u64::MAX));
    }

    /// The shift in `size_blocks` counts what a division rounding up does,
    /// at block edges and at the largest sizes.
    #[test]
    fn size_blocks_rounds_up() {
        let mut o = crate::newfs::NewfsOptions::freebsd_12_1();
        o.bsize = Some(8192);
        o.fsize = Some(1024);
        let img = crate::newfs::in_memory(4 << 20, &o).unwrap();
        let geo = crate::superblock::Superblock::find(&img).unwrap().1;
        for size in [
            0,
            1,
            8191,
            8192,
            8193,
            12 * 8192 + 1,
            u64::MAX - 1,
            u64::MAX,
        ] {
            assert_eq!(size_blocks(&geo, size), size.div_ceil(8192), "{size}");
        }
    }

    /// FreeBSD's `fs_maxfilesize` is one less than the bytes the tree can
    /// address. Figures from FreeBSD 12.1 dumpfs of images newfs made
    /// (/work/shared/reference: images/ufs2-4m, ufs1-4m, ufs2-16m and
    /// newfs/ufs2-1g-b16384-f2048, ufs2-1g-b65536-f8192, plus a UFS1 image
    /// with 512-byte fragments), the others worked out by hand from newfs's
    /// loop (`bsize * NDADDR - 1`, plus `bsize * NINDIR^k` for k = 1..3).
    #[test]
    fn max_file_sizes_match_freebsd() {
        for (bsize, version, maxfilesize) in [
            (4096, V2, 550_831_702_015u64),
            (4096, V1, 4_402_345_721_855),
            (8192, V2, 8_804_691_443_711),
            (8192, V1, 70_403_120_791_551),
            (16384, V2, 140_806_241_583_103),
            (32768, V2, 2_252_349_704_110_079),
            (32768, V1, 18_016_597_801_566_207),
            (65536, V2, 36_033_195_603_132_415),
            (65536, V1, 288_247_969_412_284_415),
        ] {
            let s = Spans::for_block(bsize, version);
            assert_eq!(s.max_bytes(bsize) - 1, maxfilesize, "{bsize} {version:?}");
            let last = Lbn(s.end().0 - 1);
            assert!(s.path(last).is_some());
            assert_eq!(s.path(s.end()), None);
        }
    }

    /// Rebuilds the logical block a path names.
    fn lbn_of(s: Spans, p: BlockPath) -> u64 {
        match p {
            BlockPath::Direct(i) => i as u64,
            BlockPath::Indirect { level, .. } => {
                let mut lbn = s.first(level).0;
                for (depth, &i) in p.indices().iter().enumerate() {
                    lbn += i as u64 * s.per_pointer(level - u8::try_from(depth).unwrap());
                }
                lbn
            }
        }
    }

    #[test]
    fn paths_at_every_edge() {
        for bsize in [4096u64, 8192, 32768, 65536] {
            for version in [V1, V2] {
                let s = Spans::for_block(bsize, version);
                let n = usize::try_from(s.nindir()).unwrap();
                let at = |l: u64| s.path(Lbn(l)).expect("in range");
                let ind = |level, idx: &[usize]| {
                    let mut index = [0; NIADDR];
                    index[..idx.len()].copy_from_slice(idx);
                    BlockPath::Indirect { level, index }
                };
                let (s1, s2, s3) = (s.first(1).0, s.first(2).0, s.first(3).0);
                assert_eq!(at(0), BlockPath::Direct(0));
                assert_eq!(at(11), BlockPath::Direct(11), "last direct block");
                assert_eq!(at(12), ind(1, &[0]), "first single-indirect block");
                assert_eq!(at(s2 - 1), ind(1, &[n - 1]));
                assert_eq!(at(s2), ind(2, &[0, 0]), "first double-indirect block");
                assert_eq!(at(s2 + s.nindir()), ind(2, &[1, 0]));
                assert_eq!(at(s3 - 1), ind(2, &[n - 1, n - 1]));
                assert_eq!(at(s3), ind(3, &[0, 0, 0]), "first triple-indirect block");
                assert_eq!(at(s.end().0 - 1), ind(3, &[n - 1, n - 1, n - 1]));
                assert_eq!(s.path(s.end()), None, "past the largest file");
                assert_eq!(s.path(Lbn(u64::MAX)), None);
                for l in [
                    0,
                    11,
                    s1,
                    s1 + 7,
                    s2 - 1,
                    s2 + 12345,
                    s3 + 999_999,
                    s.end().0 - 1,
                ] {
                    assert_eq!(lbn_of(s, at(l)), l);
                }
            }
        }
    }

    #[test]
    fn every_path_of_a_small_tree_is_distinct_and_in_order() {
        let s = Spans::new(3);
        let all: Vec<BlockPath> = (0..s.end().0).map(|l| s.path(Lbn(l)).unwrap()).collect();
        assert_eq!(all.len(), 12 + 3 + 9 + 27);
        for (l, p) in all.iter().enumerate() {
            assert_eq!(lbn_of(s, *p), l as u64);
            assert!(p.indices().iter().all(|&i| i < 3));
        }
    }

    /// The indirect blocks a hole-free file really uses, counted from the
    /// paths of its blocks.
    fn indirect_by_paths(s: Spans, nblocks: u64) -> u64 {
        let mut seen = BTreeSet::new();
        for l in 0..nblocks.min(s.end().0) {
            if let Some(p @ BlockPath::Indirect { level, .. }) = s.path(Lbn(l)) {
                let idx = p.indices();
                // Each indirect block is named by its level and the slots
                // leading to it.
                for depth in 0..idx.len() {
                    seen.insert((level, idx[..depth].to_vec()));
                }
            }
        }
        seen.len() as u64
    }

    #[test]
    fn indirect_block_counts_match_the_tree() {
        for n in [1u64, 2, 3, 4] {
            let s = Spans::new(n);
            for nblocks in 0..=s.end().0 + 2 {
                assert_eq!(
                    s.indirect_blocks(nblocks),
                    indirect_by_paths(s, nblocks),
                    "nindir {n}, {nblocks} blocks"
                );
            }
        }
    }

    /// The estimate `ufs makefs` used before this module (file_frags in
    /// tools/src/cmd/makefs.rs), reduced to its count of indirect blocks.
    fn makefs_estimate(nblocks: u64, nindir: u64) -> u64 {
        if nblocks <= 12 {
            return 0;
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
        ind
    }

    #[test]
    fn indirect_blocks_agree_with_the_makefs_estimate() {
        for bsize in [4096u64, 8192, 16384, 32768, 65536] {
            for version in [V1, V2] {
                let s = Spans::for_block(bsize, version);
                let n = s.nindir();
                let edges = [
                    0,
                    1,
                    11,
                    12,
                    13,
                    12 + n - 1,
                    12 + n,
                    12 + n + 1,
                    12 + n + 5 * n + 3,
                    s.first(3).0 - 1,
                    s.first(3).0,
                    s.first(3).0 + 1,
                    s.first(3).0 + n * n + 17,
                    s.end().0 - 1,
                ];
                for nblocks in edges {
                    for size in [nblocks * bsize, (nblocks * bsize).saturating_sub(bsize / 2)] {
                        let blocks = size.div_ceil(bsize);
                        let ours = indirect_blocks(bsize, version, size);
                        let theirs = makefs_estimate(blocks, n);
                        if blocks <= s.first(3).0 {
                            assert_eq!(ours, theirs, "{bsize} {version:?} {size}");
                        } else {
                            // In the triple range the old estimate counts
                            // the single-indirect blocks below the triple
                            // block twice (once in its double-range term).
                            let r3 = blocks - s.first(3).0;
                            assert_eq!(theirs - ours, r3.div_ceil(n), "{bsize} {size}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn pointers_in_both_widths_and_orders() {
        for endian in [Endian::Little, Endian::Big] {
            for version in [V1, V2] {
                let f = PtrFormat { version, endian };
                let mut b = f.encode(&[5, 0, 1 << 30], 64);
                assert_eq!(f.count(&b), 64 / f.size());
                assert_eq!(&f.decode(&b)[..4], &[5, 0, 1 << 30, 0]);
                assert!(f.set(&mut b, 1, 77));
                assert_eq!(f.get(&b, 1), Some(77));
                assert_eq!(f.get(&b, f.count(&b)), None);
                let n = f.count(&b);
                assert!(!f.set(&mut b, n, 1));
                let first = if endian == Endian::Little { 5 } else { 0 };
                assert_eq!(b[0], first);
            }
        }
    }

    #[test]
    fn negative_ufs1_pointers_are_bad_not_huge() {
        for endian in [Endian::Little, Endian::Big] {
            let f = PtrFormat {
                version: V1,
                endian,
            };
            let mut b = vec![0u8; 16];
            // -2 as a UFS1 pointer, and the largest positive one.
            assert!(wire::put_u32(&mut b[4..], endian, u32::MAX - 1)); // -2
            assert!(f.set(&mut b, 2, 0x7fff_ffff));
            assert_eq!(f.decode(&b), vec![0, wire::BAD_DADDR, 0x7fff_ffff, 0]);
            // The bad value written back is -1, never a valid address.
            assert!(f.set(&mut b, 3, wire::BAD_DADDR));
            assert_eq!(&b[12..16], &[0xff; 4]);
        }
    }

    /// An image of indirect blocks in memory that records what a cut does.
    struct Mem {
        fmt: PtrFormat,
        bsize: usize,
        blocks: BTreeMap<u64, Vec<u8>>,
        next: u64,
        released: Vec<(u64, u8, Lbn)>,
        written: Vec<u64>,
    }

    impl Mem {
        /// The data blocks (level 0) given back.
        fn released_data(&self) -> BTreeSet<u64> {
            self.released
                .iter()
                .filter(|r| r.1 == 0)
                .map(|r| r.0)
                .collect()
        }

        fn new(nindir: usize) -> Mem {
            let fmt = PtrFormat {
                version: V2,
                endian: Endian::Big,
            };
            Mem {
                fmt,
                bsize: nindir * fmt.size(),
                blocks: BTreeMap::new(),
                next: 1000,
                released: Vec::new(),
                written: Vec::new(),
            }
        }
        fn alloc(&mut self) -> u64 {
            self.next += 8;
            self.next
        }
        /// Maps the given logical blocks (all at or past 12); returns the
        /// inode's three indirect pointers.
        fn build(&mut self, s: Spans, lbns: &[u64]) -> [u64; 3] {
            let mut top = [0u64; 3];
            for &l in lbns {
                let Some(p @ BlockPath::Indirect { level, .. }) = s.path(Lbn(l)) else {
                    panic!("{l} is not indirect");
                };
                let t = &mut top[usize::from(level) - 1];
                if *t == 0 {
                    *t = self.alloc();
                    self.blocks.insert(*t, vec![0; self.bsize]);
                }
                let mut blk = *t;
                let idx = p.indices();
                for (depth, &i) in idx.iter().enumerate() {
                    let cur = self.fmt.get(&self.blocks[&blk], i).unwrap();
                    let next = if cur != 0 {
                        cur
                    } else {
                        let a = self.alloc();
                        if depth + 1 < idx.len() {
                            self.blocks.insert(a, vec![0; self.bsize]);
                        }
                        let fmt = self.fmt;
                        fmt.set(self.blocks.get_mut(&blk).unwrap(), i, a);
                        a
                    };
                    blk = next;
                }
            }
            top
        }
        /// Every (lbn, data address) still mapped.
        fn mapped(&self, s: Spans, top: [u64; 3]) -> BTreeMap<u64, u64> {
            fn down(
                m: &Mem,
                s: Spans,
                a: u64,
                level: u8,
                first: u64,
                out: &mut BTreeMap<u64, u64>,
            ) {
                let b = &m.blocks[&a];
                for i in 0..m.fmt.count(b) {
                    let v = m.fmt.get(b, i).unwrap();
                    let l = first + i as u64 * s.per_pointer(level);
                    if v == 0 {
                        continue;
                    }
                    if level == 1 {
                        out.insert(l, v);
                    } else {
                        down(m, s, v, level - 1, l, out);
                    }
                }
            }
            let mut out = BTreeMap::new();
            for (level, first, _) in s.levels() {
                let t = top[usize::from(level) - 1];
                if t != 0 {
                    down(self, s, t, level, first.0, &mut out);
                }
            }
            out
        }
        fn cut(&mut self, s: Spans, top: &mut [u64; 3], keep: u64, counted: u64, prune: Prune) {
            let cut = Cut {
                spans: s,
                fmt: self.fmt,
                keep: Lbn(keep),
                counted: Lbn(counted),
                prune,
            };
            for level in 1..=3u8 {
                let t = top[usize::from(level) - 1];
                if t != 0 && cut_tree(&cut, t, level, self).unwrap() {
                    top[usize::from(level) - 1] = 0;
                }
            }
        }
    }

    impl TreeEdit for Mem {
        fn read(&mut self, addr: u64) -> Result<Option<Vec<u8>>> {
            Ok(self.blocks.get(&addr).cloned())
        }
        fn write(&mut self, addr: u64, block: &[u8]) -> Result<()> {
            self.written.push(addr);
            self.blocks.insert(addr, block.to_vec());
            Ok(())
        }
        fn release(&mut self, addr: u64, level: u8, first: Lbn) -> Result<()> {
            self.released.push((addr, level, first));
            Ok(())
        }
    }

    #[test]
    fn cutting_a_full_tree_gives_back_exactly_what_lies_past_the_cut() {
        let s = Spans::new(3);
        let all: Vec<u64> = (12..s.end().0).collect();
        for keep in [0u64, 12, 13, 15, 16, 20, 24, 25, 40, 51] {
            for prune in [Prune::Past, Prune::Empty] {
                let mut m = Mem::new(3);
                let mut top = m.build(s, &all);
                let before = m.mapped(s, top);
                let indirect: BTreeSet<u64> = m.blocks.keys().copied().collect();
                m.cut(s, &mut top, keep, u64::MAX, prune);
                let after = m.mapped(s, top);
                let want: BTreeMap<u64, u64> = before
                    .iter()
                    .filter(|(&l, _)| l < keep)
                    .map(|(&l, &a)| (l, a))
                    .collect();
                assert_eq!(after, want, "keep {keep}");
                // Data blocks given back: exactly those cut.
                let data = m.released_data();
                let cut: BTreeSet<u64> = before
                    .iter()
                    .filter(|(&l, _)| l >= keep)
                    .map(|(_, &a)| a)
                    .collect();
                assert_eq!(data, cut, "keep {keep}");
                // Indirect blocks given back: those left mapping nothing,
                // each once, and each after everything below it.
                let mut left = BTreeSet::new();
                for t in top.iter().filter(|&&t| t != 0) {
                    left.insert(*t);
                }
                for (a, level, _) in m.released.iter().filter(|r| r.1 > 0) {
                    assert!(indirect.contains(a) && !left.contains(a), "{a} at {level}");
                }
                let released: BTreeSet<u64> = m.released.iter().map(|r| r.0).collect();
                assert_eq!(released.len(), m.released.len(), "released twice");
                // A full tree has no empty blocks, so both policies agree.
                let kept_indirect = indirect.len() - m.released.iter().filter(|r| r.1 > 0).count();
                assert_eq!(kept_indirect as u64, s.indirect_blocks(keep), "keep {keep}");
            }
        }
    }

    #[test]
    fn a_block_emptied_by_a_cut_goes_only_when_pruning_empty_ones() {
        let s = Spans::new(3);
        // The single-indirect block maps lbn 12 (a hole) to 14; only 14 is
        // there. Cutting at 13 empties the block, which maps a kept block.
        for (prune, freed) in [(Prune::Past, false), (Prune::Empty, true)] {
            let mut m = Mem::new(3);
            let mut top = m.build(s, &[14]);
            let single = top[0];
            m.cut(s, &mut top, 13, u64::MAX, prune);
            assert_eq!(m.released.iter().any(|r| r.0 == single), freed);
            assert_eq!(top[0] == 0, freed);
            assert!(m.mapped(s, top).is_empty());
        }
    }

    #[test]
    fn blocks_past_counted_are_cut_loose_but_kept() {
        let s = Spans::new(3);
        let all: Vec<u64> = (12..30).collect();
        let mut m = Mem::new(3);
        let mut top = m.build(s, &all);
        let before = m.mapped(s, top);
        m.cut(s, &mut top, 14, 20, Prune::Past);
        assert!(m.mapped(s, top).keys().all(|&l| l < 14));
        let data = m.released_data();
        let want: BTreeSet<u64> = before
            .iter()
            .filter(|(&l, _)| (14..20).contains(&l))
            .map(|(_, &a)| a)
            .collect();
        assert_eq!(data, want);
        // Releasing nothing (counted 0) only zeroes pointers.
        let mut m = Mem::new(3);
        let mut top = m.build(s, &all);
        let single = top[0];
        let cut = Cut {
            spans: s,
            fmt: m.fmt,
            keep: Lbn(13),
            counted: Lbn(0),
            prune: Prune::Past,
        };
        let n = cut_block(&cut, single, 1, s.first(1), &mut m).unwrap();
        assert!(!n && m.released.is_empty());
        assert_eq!(m.written, vec![single]);
        top[1] = 0;
        top[2] = 0;
        assert_eq!(
            m.mapped(s, top).keys().copied().collect::<Vec<_>>(),
            vec![12]
        );
    }
}
