//! Sizing: what the scanned tree needs (data fragments and inodes), and the
//! image size and newfs layout that hold it with the free room asked for.

use super::tree::Tree;
use super::Amount;
use crate::newfs::{self, NewfsOptions};
use crate::ondisk::consts::NDADDR;
use crate::{FileType, UfsVersion};
use std::collections::HashMap;

/// What the tree needs, counted once from the scanned nodes.
pub(super) struct Estimate {
    /// Data fragments: file blocks (with indirect blocks), long symlink
    /// targets, directory blocks.
    pub(super) data: u64,
    /// Inodes (hard links share one).
    pub(super) inodes: u64,
    pub(super) nfiles: u64,
    pub(super) ndirs: u64,
    /// File bytes to copy.
    pub(super) total: u64,
    pub(super) bsize: u64,
    pub(super) fsize: u64,
}

/// Counts what `tree` needs with the block and fragment sizes `opts` gives.
pub(super) fn estimate(tree: &Tree, opts: &NewfsOptions) -> Estimate {
    let bsize32 = opts.bsize.unwrap_or(32768);
    let bsize = u64::from(bsize32);
    let fsize = u64::from(
        opts.fsize
            .unwrap_or((bsize32 / 8).clamp(4096.min(bsize32), bsize32)),
    );
    let mut data = 0u64;
    let mut inodes = 0u64;
    let mut nfiles = 0u64;
    let mut ndirs = 0u64;
    let mut total = 0u64;
    let mut dir_bytes: HashMap<u32, u64> = HashMap::new();
    for (i, n) in tree.nodes.iter().enumerate() {
        if i > 0 {
            *dir_bytes.entry(n.parent).or_insert(24) +=
                crate::dir::direct_size(usize::from(n.name_len)) as u64;
        }
        if n.kind == FileType::Directory {
            ndirs += 1;
        }
        if n.is_link() {
            continue;
        }
        inodes += 1;
        match n.kind {
            FileType::Symlink => {
                let len = n.data & 0xf_ffff;
                if len >= 60 {
                    data += len / fsize + 1;
                }
            }
            FileType::Regular => {
                nfiles += 1;
                total += n.data;
                data += file_frags(n.data, bsize, fsize, opts.version);
            }
            _ => {}
        }
    }
    for b in dir_bytes.values() {
        data += b.div_ceil(512) * 512 / fsize + 1;
    }
    drop(dir_bytes);
    Estimate {
        data,
        inodes,
        nfiles,
        ndirs,
        total,
        bsize,
        fsize,
    }
}

impl Amount {
    /// The amount out of `whole` (a percentage of it, or the count).
    fn of(self, whole: u64) -> u64 {
        match self {
            Amount::Percent(p) => whole * p / 100,
            Amount::Count(n) => n,
        }
    }
}

/// The image size and layout for the tree: `size` when given (the inode
/// density then following the tree), else the smallest that leaves
/// `free_space` (blocks, or a percentage of the data) and `free_inodes`.
pub(super) fn choose(
    est: &Estimate,
    size: Option<u64>,
    free_space: Amount,
    free_inodes: Amount,
    opts: &mut NewfsOptions,
) -> Result<(u64, newfs::Layout), String> {
    let (data, inodes, bsize, fsize) = (est.data, est.inodes, est.bsize, est.fsize);
    let free_frags = free_space.of(data);
    let free_frags = if matches!(free_space, Amount::Percent(_)) {
        free_frags
    } else {
        free_frags * (bsize / fsize)
    };
    let free_inodes = free_inodes.of(inodes);
    let need_frags = data + free_frags;
    let need_inodes = inodes + free_inodes + 3;
    match size {
        Some(size) => {
            let layout = sized(size, opts, data, inodes + 3, need_inodes, fsize)?;
            Ok((size, layout))
        }
        None => fit(opts, need_frags, need_inodes, fsize),
    }
}

/// Fragments a file of `size` bytes needs, indirect blocks included.
fn file_frags(size: u64, bsize: u64, fsize: u64, version: UfsVersion) -> u64 {
    if size == 0 {
        return 0;
    }
    let frag = bsize / fsize;
    let nblocks = size.div_ceil(bsize);
    if nblocks <= NDADDR as u64 {
        return (nblocks - 1) * frag + (size - (nblocks - 1) * bsize).div_ceil(fsize);
    }
    (nblocks + crate::bmap::indirect_blocks(bsize, version, size)) * frag
}

/// The smallest image (in 64 KiB steps of growth) whose fresh file system
/// has `frags` free fragments and `inodes` free inodes.
/// Free fragments and free inodes a layout leaves.
fn room(layout: &newfs::Layout) -> (u64, u64) {
    let t = crate::superblock::Totals::of(&layout.sb);
    let frag = u64::try_from(layout.sb.fs_frag).unwrap_or(8);
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    (n(t.nbfree) * frag + n(t.nffree), n(t.nifree))
}

/// The layout for a size given with -s. Without -o density, the inode
/// count follows the tree, as FreeBSD's and NetBSD's makefs choose it: the
/// default density when that gives `want_inodes`, else a density of about
/// size / `want_inodes`. When the tree cannot fit (`frags` of data,
/// `inodes` inodes), says what size (or density) would.
fn sized(
    size: u64,
    opts: &mut NewfsOptions,
    frags: u64,
    inodes: u64,
    want_inodes: u64,
    fsize: u64,
) -> Result<newfs::Layout, String> {
    let given = opts.density;
    let mut layout = newfs::compute(size, opts).map_err(|e| e.to_string())?;
    if given.is_none() && room(&layout).1 < want_inodes {
        // A fragment per inode is as dense as newfs goes.
        let mut d = (size / want_inodes.max(1) * 9 / 10).max(fsize);
        for _ in 0..12 {
            opts.density = Some(u32::try_from(d).unwrap_or(u32::MAX));
            let l = newfs::compute(size, opts).map_err(|e| e.to_string())?;
            let (free, ifree) = room(&l);
            layout = l;
            if (ifree >= want_inodes && free >= frags) || d <= fsize {
                break;
            }
            d = (d * 4 / 5).max(fsize);
        }
    }
    let (free, ifree) = room(&layout);
    if free >= frags && ifree >= inodes {
        return Ok(layout);
    }
    let mut o = opts.clone();
    o.density = given;
    let need = format!(
        "no space for the tree: it needs {inodes} inodes and {} bytes of blocks; -s {size} gives {ifree} inodes and {} bytes",
        frags * fsize,
        free * fsize
    );
    match (given, fit(&mut o, frags, inodes, fsize)) {
        (Some(d), _) if free >= frags => Err(format!(
            "{need}: -o density={d} is too sparse; density={} or less would fit, or leave it out",
            (size / inodes.max(1) * 9 / 10).max(fsize)
        )),
        (_, Ok((s, _))) => Err(format!(
            "{need}: -s {s} would fit (or leave -s out to size the image to the tree)"
        )),
        (_, Err(e)) => Err(format!("{need}: {e}")),
    }
}

fn fit(
    opts: &mut NewfsOptions,
    frags: u64,
    inodes: u64,
    fsize: u64,
) -> Result<(u64, newfs::Layout), String> {
    let mut size = ((frags * fsize) * 11 / 10 + inodes * 256 + (1 << 20)).max(1 << 20);
    for _ in 0..200 {
        size = size.div_ceil(65536) * 65536;
        if opts.density.is_none() || inodes > 0 {
            // Enough inodes without wasting space on tables: one per
            // needed inode, at least one fragment each.
            let d = (size / inodes.max(1) * 9 / 10).clamp(fsize, 4 * fsize);
            // At most 4 fragments; a fragment size newfs accepts keeps
            // that far below u32::MAX, and one it does not is refused here.
            opts.density =
                Some(u32::try_from(d).map_err(|_| format!("fragment size {fsize} is too large"))?);
        }
        let layout = newfs::compute(size, opts).map_err(|e| e.to_string())?;
        let (free, ifree) = room(&layout);
        if free >= frags && ifree >= inodes {
            return Ok((size, layout));
        }
        size = size * 21 / 20 + (1 << 20);
    }
    Err("could not find an image size that fits the tree".into())
}
