//! Finding a superblock copy by reading the image itself, for when the
//! standard locations ([`Superblock::find`]) and the alternates fsck_ffs
//! computes have nothing usable.
//!
//! fsck_ffs computes where newfs would have put the backups (from a
//! disklabel-style guess or newfs's `fsrecovery` record). An image made by
//! another tool (NetBSD makefs, FreeBSD makefs) or with non-default block
//! and fragment sizes keeps its copies elsewhere, so that guess misses.
//! Here the image is scanned instead, in two bounded passes:
//!
//! 1. **Head scan**: every 512-byte boundary of the first
//!    [`HEAD_SCAN_BYTES`] (or the whole image, if smaller) is looked at for
//!    a superblock magic (UFS1 or UFS2, either byte order, through the one
//!    sniffer `magic_kind`) and for a cylinder-group header. This covers
//!    group 0's superblock copy for every block size, and the first few
//!    groups of a small image.
//! 2. **Group starts**: each cylinder-group header met in the head (its
//!    index `cg_cgx` and its size `cg_ndblk` in fragments) predicts, for
//!    each possible fragment size, a group size `G` and the length `W` of
//!    the part of a group before its header, where the superblock copy
//!    lives. The windows `[j*G, j*G + W)` are then scanned group by group,
//!    for at most [`MAX_GROUP_WINDOWS`] groups per prediction, so the bytes
//!    read scale with the size of a group's metadata, never with the image.
//!
//! A magic is only a candidate. It is accepted when it decodes, its
//! [`Geometry`] validates, it sits where the geometry says a copy belongs
//! (`cgsblock` of its group), and the cylinder-group headers it predicts
//! are there (magic and index at `cgtod`) for a strict majority of the
//! groups checked. The first candidate every checked group agrees with
//! ends the search; otherwise the one the most groups agree with wins.

use super::{magic_kind, Geometry, Superblock, UfsVersion};
use crate::error::{CorruptKind, Error, Location, Result};
use crate::io::{self, Device};
use crate::ondisk::consts::{CG_MAGIC, SBLOCKSIZE, SBLOCK_UFS1};
use crate::ondisk::{CgHeader, FS_MAGIC_OFFSET};
use crate::units::CgIdx;
use crate::Endian;

/// Bytes of the image scanned sector by sector before predicting group
/// starts: group 0's copy starts at most 128 KiB in (`fs_sblkno` is the
/// primary's end rounded up to a block, mkfs.c), and a small image has
/// several groups here.
pub const HEAD_SCAN_BYTES: u64 = 4 << 20;
/// Groups, counting group 0 (which the head covers), whose metadata window
/// is scanned for each predicted group size.
pub const MAX_GROUP_WINDOWS: u64 = 64;
/// Predicted group sizes tried (distinct `(G, W)` pairs).
pub const MAX_PREDICTIONS: usize = 16;
/// Magic numbers examined as candidates: random data almost never holds
/// one, so this only bounds a deliberately hostile image.
pub const MAX_CANDIDATES: usize = 64;
/// Cylinder-group headers read to confirm one candidate (spread evenly over
/// the groups when there are more).
pub const MAX_CONFIRM_GROUPS: u32 = 4096;

const SECTOR: u64 = 512;
/// Scan buffer: bounded memory whatever the image size.
const CHUNK: u64 = 1 << 20;

/// A superblock copy the search accepted.
#[derive(Debug)]
pub struct Found {
    /// The copy (its `location` is where it was found).
    pub sb: Superblock,
    /// Its validated geometry.
    pub geo: Geometry,
    /// How it was found.
    pub report: Report,
}

/// What the search did, for the user (kept by an opened image).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    /// Byte offset of the copy used.
    pub location: u64,
    /// Cylinder groups whose header was read to confirm it.
    pub groups_checked: u32,
    /// Of those, how many had the magic and index it predicts.
    pub groups_agreeing: u32,
    /// Bytes of the image the search read.
    pub bytes_read: u64,
}

impl Report {
    /// The 512-byte sector of the copy (what `fsck -b` takes).
    pub fn sector(&self) -> u64 {
        self.location / SECTOR
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "superblock copy at sector {} (found by search; {} of {} cylinder groups agree)",
            self.sector(),
            self.groups_agreeing,
            self.groups_checked
        )
    }
}

/// A cylinder-group header met in the head scan.
struct CgHit {
    at: u64,
    cgx: u64,
    ndblk: u64,
}

struct Search<'a> {
    dev: &'a dyn Device,
    bytes_read: u64,
    candidates: usize,
    best: Option<Found>,
    /// Why the most promising rejected candidate was rejected.
    rejected: Option<String>,
    /// Candidate locations already judged (windows can overlap the head).
    seen: std::collections::HashSet<u64>,
}

/// Searches the image for a superblock copy (see the module comment for
/// the passes and their bounds). Reads only; never panics on any input.
pub fn search(dev: &dyn Device) -> Result<Found> {
    let mut s = Search {
        dev,
        bytes_read: 0,
        candidates: 0,
        best: None,
        rejected: None,
        seen: Default::default(),
    };
    let head_end = dev.len().min(HEAD_SCAN_BYTES);
    let mut cg_hits = Vec::new();
    if s.scan(0, head_end, Some(&mut cg_hits))? {
        return s.finish();
    }
    for (g, w) in predictions(&cg_hits, dev.len()) {
        // Group 0's window lies in the head, already scanned.
        for j in 1..MAX_GROUP_WINDOWS {
            let Some(start) = j.checked_mul(g).filter(|&x| x < dev.len()) else {
                break;
            };
            let end = start.saturating_add(w).min(dev.len());
            if end <= head_end {
                continue;
            }
            if s.scan(start.max(head_end), end, None)? {
                return s.finish();
            }
        }
    }
    s.finish()
}

/// Group sizes and header offsets the cylinder-group headers of the head
/// predict: a header of group `k` with `n` fragments at byte `x` means,
/// for a fragment size `f`, groups of `G = n*f` bytes whose header sits
/// `W = x - k*G` bytes in (and the superblock copy before it).
fn predictions(hits: &[CgHit], len: u64) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for h in hits {
        for fshift in 9..=16u32 {
            let Some(g) = h.ndblk.checked_shl(fshift).filter(|&g| g < len) else {
                continue;
            };
            let Some(w) = h.cgx.checked_mul(g).and_then(|b| h.at.checked_sub(b)) else {
                continue;
            };
            if w == 0 || w >= g || out.contains(&(g, w)) {
                continue;
            }
            out.push((g, w));
            if out.len() == MAX_PREDICTIONS {
                return out;
            }
        }
    }
    out
}

impl Search<'_> {
    /// Scans the sector boundaries of `[from, to)`; `true` when a fully
    /// confirmed copy was found. Collects cylinder-group headers into
    /// `cg_hits` when asked.
    fn scan(&mut self, from: u64, to: u64, mut cg_hits: Option<&mut Vec<CgHit>>) -> Result<bool> {
        let len = self.dev.len();
        let mut at = from.next_multiple_of(SECTOR);
        let mut buf = Vec::new();
        while at < to {
            let chunk_end = at.saturating_add(CHUNK).min(to);
            // Read past the chunk so the magic of its last sectors is in
            // the buffer too.
            let read_end = chunk_end
                .saturating_add(FS_MAGIC_OFFSET as u64 + 4)
                .min(len);
            // At most CHUNK plus a sector: fits in memory by construction.
            #[allow(clippy::cast_possible_truncation)]
            let want = (read_end - at) as usize;
            buf.resize(want, 0);
            io::read_exact(self.dev, at, &mut buf)?;
            self.bytes_read += buf.len() as u64;
            let mut off = 0usize;
            while at + (off as u64) < chunk_end {
                let sector = &buf[off..];
                if let Some(m) = sector.get(FS_MAGIC_OFFSET..FS_MAGIC_OFFSET + 4) {
                    if magic_kind([m[0], m[1], m[2], m[3]]).is_some() && self.judge(at + off as u64)
                    {
                        return Ok(true);
                    }
                }
                if let Some(hits) = cg_hits.as_deref_mut() {
                    if let Some(h) = cg_header(sector, at + off as u64) {
                        hits.push(h);
                    }
                }
                if self.candidates >= MAX_CANDIDATES {
                    return Ok(false);
                }
                off += 512; // SECTOR
            }
            at = chunk_end;
        }
        Ok(false)
    }

    /// Judges the magic at `loc`; `true` when every checked group agrees.
    fn judge(&mut self, loc: u64) -> bool {
        if !self.seen.insert(loc) {
            return false;
        }
        self.candidates += 1;
        match self.confirm(loc) {
            Ok(found) => {
                let full = found.report.groups_agreeing == found.report.groups_checked;
                if self
                    .best
                    .as_ref()
                    .is_none_or(|b| found.report.groups_agreeing > b.report.groups_agreeing)
                {
                    self.best = Some(found);
                }
                full
            }
            Err(e) => {
                self.rejected.get_or_insert(e);
                false
            }
        }
    }

    /// Decodes, validates and confirms the candidate at `loc`.
    fn confirm(&mut self, loc: u64) -> std::result::Result<Found, String> {
        let sb = Superblock::read_unverified(self.dev, loc).map_err(|e| e.to_string())?;
        self.bytes_read += SBLOCKSIZE as u64;
        let geo = sb.validate(self.dev.len()).map_err(|e| e.to_string())?;
        // The primary is Superblock::find's business: the search is for
        // copies, and a primary that failed there is not better here.
        let primary = match geo.version {
            UfsVersion::Ufs1 => SBLOCK_UFS1,
            UfsVersion::Ufs2 => u64::try_from(sb.fs.fs_sblockloc).unwrap_or(u64::MAX),
        };
        if loc == primary {
            return Err(format!("byte {loc}: the primary superblock"));
        }
        let cg = geo.dtog(crate::Frag(loc >> geo.fshift));
        if cg.0 >= geo.ncg || geo.frag_offset(geo.cgsblock(cg)) != loc {
            return Err(format!(
                "byte {loc}: a superblock, but not where its own geometry puts a copy"
            ));
        }
        let (checked, agreeing) = self.count_groups(&geo);
        if agreeing * 2 <= checked {
            return Err(format!(
                "byte {loc}: a superblock, but only {agreeing} of {checked} cylinder groups are where it says"
            ));
        }
        Ok(Found {
            sb,
            geo,
            report: Report {
                location: loc,
                groups_checked: checked,
                groups_agreeing: agreeing,
                bytes_read: 0,
            },
        })
    }

    /// Reads the headers of (up to [`MAX_CONFIRM_GROUPS`] evenly spread)
    /// groups and counts those with the magic and index `geo` predicts.
    fn count_groups(&mut self, geo: &Geometry) -> (u32, u32) {
        let n = geo.ncg.min(MAX_CONFIRM_GROUPS);
        let mut agreeing = 0;
        let mut buf = [0u8; CgHeader::SIZE];
        for i in 0..n {
            // Spread: i * (ncg - 1) / (n - 1) covers the first and last group.
            let c = if n > 1 {
                // i <= n - 1, so the quotient is at most ncg - 1.
                u32::try_from(u64::from(i) * u64::from(geo.ncg - 1) / u64::from(n - 1))
                    .unwrap_or(geo.ncg - 1)
            } else {
                0
            };
            let at = geo.frag_offset(geo.cgtod(CgIdx(c)));
            if io::read_exact(self.dev, at, &mut buf).is_err() {
                continue;
            }
            self.bytes_read += buf.len() as u64;
            if CgHeader::decode(&buf, geo.endian)
                .is_some_and(|h| h.cg_magic == CG_MAGIC && h.cg_cgx == c)
            {
                agreeing += 1;
            }
        }
        (n, agreeing)
    }

    fn finish(self) -> Result<Found> {
        let bytes_read = self.bytes_read;
        match self.best {
            Some(mut f) => {
                f.report.bytes_read = bytes_read;
                Ok(f)
            }
            None => Err(Error::corrupt(
                CorruptKind::NoSuperblock,
                Location::Image,
                match self.rejected {
                    Some(why) => format!(
                        "no usable superblock copy found by searching {bytes_read} bytes \
                         ({} candidate(s); first rejected: {why})",
                        self.candidates
                    ),
                    None => format!(
                        "no superblock copy found by searching {bytes_read} bytes of the image"
                    ),
                },
            )),
        }
    }
}

/// A cylinder-group header at the start of `sector` (read at byte `at`),
/// in either byte order.
fn cg_header(sector: &[u8], at: u64) -> Option<CgHit> {
    [Endian::Little, Endian::Big].into_iter().find_map(|e| {
        let h = CgHeader::decode(sector, e)?;
        (h.cg_magic == CG_MAGIC && h.cg_ndblk > 0).then_some(CgHit {
            at,
            cgx: u64::from(h.cg_cgx),
            ndblk: u64::from(h.cg_ndblk),
        })
    })
}
