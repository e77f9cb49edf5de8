//! Block maps: from a file's logical blocks to fragment addresses.
//!
//! An inode has 12 direct pointers and single, double and triple indirect
//! pointers (32-bit in UFS1, 64-bit in UFS2); a zero pointer is a hole. The
//! last block of a small file may be a run of fragments (`sblksize` in fs.h).
//! [`walk`] visits every pointer of an inode's tree in logical order, data and
//! indirect blocks alike, so readers, fsck and the allocator share one
//! traversal. The walk is bounded: the tree has fixed depth, and the number
//! of blocks visited can never exceed the blocks the file system has, so
//! indirect blocks that point at each other over and over cannot make it
//! run for long.

use crate::error::{CorruptKind, Error, Location, Result};
use crate::inode::Inode;
use crate::io::{self, Device};
use crate::ondisk::consts::{NDADDR, NIADDR};
use crate::ondisk::wire;
use crate::superblock::{Geometry, UfsVersion};
use crate::units::{Frag, Ino};

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
pub fn size_blocks(geo: &Geometry, size: u64) -> u64 {
    size.div_ceil(geo.bsize64())
}

/// First logical block mapped by each indirect level, and how many blocks
/// each level maps (saturating: levels beyond `u64` simply cannot be full).
fn level_spans(geo: &Geometry) -> [(u64, u64); NIADDR] {
    let n = geo.nindir;
    let one = n;
    let two = n.saturating_mul(n);
    let three = two.saturating_mul(n);
    let s1 = NDADDR as u64;
    let s2 = s1.saturating_add(one);
    let s3 = s2.saturating_add(two);
    [(s1, one), (s2, two), (s3, three)]
}

/// Visits every non-zero pointer of `inode`'s data tree in logical order.
///
/// Data blocks at or beyond `limit_lbn` are still reported (fsck wants to
/// see them) unless `stop_at_limit` is set. Out-of-range pointers are
/// reported with `in_range == false` and never followed.
pub fn walk(
    dev: &dyn Device,
    geo: &Geometry,
    inode: &Inode,
    limit_lbn: Option<u64>,
    visit: &mut dyn FnMut(BlockRef) -> Result<Walk>,
) -> Result<()> {
    let size = inode.size();
    let mut budget = Budget::new(geo, inode.ino);
    for i in 0..NDADDR {
        let addr = inode.db(i);
        if addr == 0 {
            continue;
        }
        let lbn = i as u64;
        if limit_lbn.is_some_and(|l| lbn >= l) {
            break;
        }
        let nfrags = (geo.blksize(size, lbn) >> geo.fshift) as u32;
        let r = make_ref(geo, BlockKind::Data { lbn }, addr, nfrags.max(1));
        budget.data(&r)?;
        if visit(r)? == Walk::Stop {
            return Ok(());
        }
    }
    for (level, &(first, _)) in level_spans(geo).iter().enumerate() {
        let addr = inode.ib(level);
        if addr == 0 {
            continue;
        }
        if limit_lbn.is_some_and(|l| first >= l) {
            break;
        }
        let lvl = (level + 1) as u8;
        if walk_indirect(
            dev,
            geo,
            inode.ino,
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
    let per_entry = geo.nindir.saturating_pow(u32::from(level) - 1);
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
/// (negative values become `u64::MAX`, which no range check accepts).
pub fn read_indirect(dev: &dyn Device, geo: &Geometry, ino: Ino, addr: Frag) -> Result<Vec<u64>> {
    if !geo.frags_in_range(addr, u64::from(geo.frag)) {
        return Err(Error::corrupt(
            CorruptKind::BadBlockPointer,
            Location::Block { ino, frag: addr },
            "indirect block outside the file system",
        ));
    }
    let mut buf = vec![0u8; geo.bsize as usize];
    io::read_exact(dev, geo.frag_offset(addr), &mut buf)?;
    Ok(decode_pointers(geo, &buf))
}

/// Decodes a block of pointers in the image's width and byte order.
pub fn decode_pointers(geo: &Geometry, buf: &[u8]) -> Vec<u64> {
    match geo.version {
        UfsVersion::Ufs1 => buf
            .chunks_exact(4)
            .map(|c| {
                wire::get_u32(c, geo.endian)
                    .map_or(0, |v| u64::try_from(v as i32).unwrap_or(u64::MAX))
            })
            .collect(),
        UfsVersion::Ufs2 => buf
            .chunks_exact(8)
            .map(|c| {
                wire::get_i64(c, geo.endian).map_or(0, |v| u64::try_from(v).unwrap_or(u64::MAX))
            })
            .collect(),
    }
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
