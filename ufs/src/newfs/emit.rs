//! Writing a fresh file system: the I/O half of newfs.
//!
//! This module owns [`newfs`] and [`newfs_with`], which take a [`Layout`]
//! computed by [`super::layout::compute`] and put it on a [`Device`]: every
//! cylinder-group block, the initialized inode tables, the root directory and
//! `/.snap`, the cylinder-group summary area, the primary superblock and one
//! backup per group, the UFS2 `fsrecovery` record, and for `-j` the
//! soft-updates journal that FreeBSD's newfs has `tunefs -j enable` create.
//!
//! The bytes follow FreeBSD 12.1's `mkfs.c` (`mkfs`, `initcg`, `fsinit`,
//! `makedir`, `iput`) and tunefs's `journal_alloc`, checked byte for byte
//! against FreeBSD's images in `ufs/tests/newfs_emit.rs`. Where FreeBSD
//! writes something that is not a property of the file system, ufskit
//! writes zeros instead:
//!
//! * the tail of each directory fragment past its 512 bytes (FreeBSD leaks
//!   whatever its I/O buffer last held, inode images of the last group);
//! * the one `0x80` byte newfs's size check leaves in the device's last
//!   sector;
//! * the in-core pointers of `struct fs` (sb+728..855);
//! * outside `--reproducible`, the `di_gen` of unused inodes: FreeBSD fills
//!   them with random numbers; the kernel gives an inode a random generation
//!   anyway when it allocates one whose `di_gen` is 0, and zeros are what a
//!   sparse image reads without writing anything.
//!
//! Zero regions are written only when they need to be: [`Zeroing`] says
//! whether the device is known to read as zeros (a new sparse file, or one
//! just erased) or must be checked. Every write is split at 4 KiB boundaries
//! and a piece that is all zeros is skipped, so a fresh sparse image gets
//! exactly the blocks that hold something.

use super::layout::{CgPlan, JournalPlan, Layout};
use super::options::NewfsOptions;
use crate::checkhash;
use crate::dir::encode_entry;
use crate::error::{Error, Result};
use crate::io::{self, Device};
use crate::ondisk::consts::{
    ckhash, dt, fsflags, mode, CG_MAGIC, DIRBLKSIZ, DIRBLKSIZ_U16, FS_BAD_MAGIC, FS_UFS1_MAGIC,
    FS_UFS2_MAGIC, SBLOCKSEARCH, SBLOCKSIZE, SBLOCK_UFS2,
};
use crate::ondisk::{
    wire, CgHeader, Dinode1, Dinode2, DirectHdr, Fs, FsRecovery, CG_CKHASH_OFFSET,
    DI_CKHASH_OFFSET, FS_MAGIC_OFFSET,
};
use crate::units::Ino;
use crate::Endian;

/// Granularity of the "is this piece all zeros" test: the page and block
/// size of the usual host file systems, so a skipped piece is a hole.
const ZERO_CHUNK: u64 = 4096;
/// Largest buffer used to check or clear a zero region.
const ZERO_BUF: usize = 1 << 20;
/// The gid of group `operator` on FreeBSD, owner of `/.snap`.
pub const OPERATOR_GID: u32 = 5;
/// `SF_IMMUTABLE | SF_NOUNLINK | UF_NODUMP`: tunefs's flags on `.sujournal`.
pub(crate) const SUJ_FLAGS: u32 = 0x0002_0000 | 0x0010_0000 | 0x0000_0001;
/// Where the in-core pointers of `struct fs` live on LP64 (`fs_ocsp` through
/// `fs_active`): undefined on disk, always written as zeros.
const SB_POINTER_AREA: std::ops::Range<usize> = 728..856;

/// How the regions that must read as zeros are handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zeroing {
    /// The device already reads as zeros everywhere (a sparse file just
    /// created, or one just erased with `-E`): zero regions are left alone.
    AssumeZeroed,
    /// The device may hold old data: every region that must be zero is read
    /// and overwritten with zeros where it is not. Free data blocks are left
    /// as they are, as FreeBSD's newfs leaves them.
    Verify,
}

/// What goes into `di_gen` of the inodes newfs initializes but does not use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generations {
    /// Zeros: the kernel picks a random generation when it allocates an
    /// inode whose `di_gen` is 0, and the inode tables stay holes.
    Zero,
    /// FreeBSD's `-R` numbering: 2, 3, ... in the order newfs initializes
    /// the inodes (its counter's 1 went to `fs_id[1]`).
    Sequential,
}

/// Knobs of the writer that do not change the layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmitOptions {
    /// Handling of the regions that must be zero.
    pub zeroing: Zeroing,
    /// Generation numbers of unused inodes.
    pub generations: Generations,
}

impl EmitOptions {
    /// The safe default for `opts`: check zero regions, and number the
    /// generations as FreeBSD's `-R` does when `opts.regression` is set.
    pub fn for_options(opts: &NewfsOptions) -> Self {
        EmitOptions {
            zeroing: Zeroing::Verify,
            generations: if opts.regression {
                Generations::Sequential
            } else {
                Generations::Zero
            },
        }
    }
}

/// Writes the file system `layout` describes onto `dev`, checking that
/// regions which must be zero are (see [`Zeroing::Verify`]).
///
/// `opts` must be the options `layout` was computed from.
pub fn newfs(dev: &mut dyn Device, layout: &Layout, opts: &NewfsOptions) -> Result<()> {
    newfs_with(dev, layout, opts, &EmitOptions::for_options(opts))
}

/// [`newfs`] with explicit writer options.
///
/// The order of the writes makes an interrupted run harmless: old
/// superblock magics are cleared first, the primary superblock is written
/// with `FS_BAD_MAGIC` before anything else (as newfs does), and the real
/// magic goes in last, after a flush.
pub fn newfs_with(
    dev: &mut dyn Device,
    layout: &Layout,
    opts: &NewfsOptions,
    eo: &EmitOptions,
) -> Result<()> {
    let mut w = Writer {
        dev,
        zeroing: eo.zeroing,
        scratch: Vec::new(),
    };
    let p = Params::new(layout, opts)?;
    let need = p.fs_bytes;
    if w.dev.len() < need {
        return Err(Error::InvalidInput(format!(
            "device holds {} bytes, the file system needs {need}",
            w.dev.len()
        )));
    }

    wipe_old_superblocks(&mut w)?;

    // Like newfs: an unusable primary first, so a crash midway leaves no
    // file system that looks valid.
    let mut bad = p.primary_fs(layout);
    bad.fs_magic = FS_BAD_MAGIC;
    w.put(p.sblockloc, &p.sb_bytes(bad, p.sblockloc))?;

    let mut gen_next: u32 = 2;
    for plan in &layout.cgs {
        write_cg(&mut w, &p, layout, plan, eo.generations, &mut gen_next)?;
    }
    write_directories(&mut w, &p, layout)?;
    if let Some(j) = &layout.journal {
        write_journal(&mut w, &p, layout, j)?;
    }
    // The summary area: one `struct csum` per group, final counts.
    let mut cs = vec![0u8; p.cssize];
    for (i, plan) in layout.cgs.iter().enumerate() {
        plan.cs.encode_into(&mut cs[i * 16..], p.endian);
    }
    w.put(p.frag_off(p.csaddr), &cs)?;

    if p.ufs2 {
        let fsr = FsRecovery {
            fsr_magic: FS_UFS2_MAGIC,
            fsr_fsbtodb: layout.sb.fs_fsbtodb,
            fsr_sblkno: layout.sb.fs_sblkno,
            fsr_fpg: layout.sb.fs_fpg,
            fsr_ncg: layout.sb.fs_ncg,
        };
        w.put(SBLOCK_UFS2 - FsRecovery::SIZE as u64, &fsr.encode(p.endian))?;
    }
    // mkfs.c: with 64 KiB UFS1 blocks the first backup sits where the UFS2
    // superblock is searched first, so it gets the final counts too.
    if !p.ufs2 && p.bsize == 65536 {
        if let Some(cg0) = layout.cgs.first() {
            let loc = p.frag_off(cg0.sblock_frag);
            let mut fs = p.primary_fs(layout);
            fs.fs_sblockactualloc = i64::try_from(loc).unwrap_or(i64::MAX);
            w.put(loc, &p.sb_bytes(fs, loc))?;
        }
    }
    flush(w.dev)?;
    let fs = p.primary_fs(layout);
    w.put(p.sblockloc, &p.sb_bytes(fs, p.sblockloc))?;
    flush(w.dev)
}

fn flush(dev: &mut dyn Device) -> Result<()> {
    dev.flush().map_err(|source| Error::Io {
        op: "flushing",
        offset: 0,
        len: 0,
        source,
    })
}

/// The numbers every step needs, checked once.
struct Params {
    ufs2: bool,
    endian: Endian,
    bsize: u64,
    fsize: u64,
    frag: u32,
    ipg: u32,
    inopb: u32,
    isize: u64,
    sblockloc: u64,
    sbsize: usize,
    cgsize: usize,
    cssize: usize,
    csaddr: u64,
    fs_bytes: u64,
    time: i64,
    ckhash: u32,
}

impl Params {
    fn new(layout: &Layout, opts: &NewfsOptions) -> Result<Params> {
        let sb = &layout.sb;
        let bad = |what: &str| Error::InvalidInput(format!("layout has an invalid {what}"));
        let ufs2 = match sb.fs_magic {
            FS_UFS2_MAGIC => true,
            FS_UFS1_MAGIC => false,
            _ => return Err(bad("magic")),
        };
        let pos = |v: i64, what: &str| u64::try_from(v).ok().filter(|&x| x > 0).ok_or(bad(what));
        let bsize = pos(i64::from(sb.fs_bsize), "block size")?;
        let fsize = pos(i64::from(sb.fs_fsize), "fragment size")?;
        let frag = u32::try_from(sb.fs_frag)
            .ok()
            .filter(|&f| f > 0)
            .ok_or(bad("frag"))?;
        let isize = if ufs2 { 256 } else { 128 };
        let sbsize = usize::try_from(sb.fs_sbsize)
            .ok()
            .filter(|s| (Fs::SIZE..=SBLOCKSIZE).contains(s))
            .ok_or(bad("superblock size"))?;
        let cgsize = usize::try_from(sb.fs_cgsize)
            .ok()
            .filter(|&s| s >= CgHeader::SIZE && s as u64 <= bsize)
            .ok_or(bad("cg size"))?;
        let cssize = usize::try_from(sb.fs_cssize)
            .ok()
            .filter(|&s| s >= layout.cgs.len() * 16)
            .ok_or(bad("summary size"))?;
        let fs_bytes = pos(sb.fs_size, "size")?
            .checked_mul(fsize)
            .ok_or(bad("size"))?;
        let version_matches = (opts.version == crate::UfsVersion::Ufs2) == ufs2;
        if !version_matches || layout.cgs.len() != sb.fs_ncg as usize {
            return Err(bad("version or group count (options and layout disagree)"));
        }
        Ok(Params {
            ufs2,
            endian: Endian::Little,
            bsize,
            fsize,
            frag,
            ipg: sb.fs_ipg,
            inopb: sb.fs_inopb,
            isize,
            sblockloc: pos(sb.fs_sblockloc, "superblock location")?,
            sbsize,
            cgsize,
            cssize,
            csaddr: pos(sb.fs_csaddr, "summary address")?,
            fs_bytes,
            time: sb.fs_time,
            ckhash: if ufs2 { sb.fs_metackhash } else { 0 },
        })
    }

    fn frag_off(&self, f: u64) -> u64 {
        f * self.fsize
    }

    /// The primary superblock's fields: the layout's, pointer area clear.
    fn primary_fs(&self, layout: &Layout) -> Fs {
        let mut fs = layout.sb.clone();
        // fs_ckhash is computed from the bytes in sb_bytes.
        fs.fs_ckhash = 0;
        fs
    }

    /// A backup copy as newfs leaves it: written by `initcg`, before
    /// `fsinit` and tunefs, so with mkfs's first totals, without `FS_SUJ`,
    /// and naming its own location.
    fn backup_fs(&self, layout: &Layout, loc: u64) -> Fs {
        let mut fs = self.primary_fs(layout);
        let sb = &layout.sb;
        let frag = i64::from(sb.fs_frag.max(1));
        let fsize = i64::from(sb.fs_fsize.max(1));
        let csfrags = (i64::from(sb.fs_cssize) + fsize - 1) / fsize;
        let dsize = sb.fs_dsize + csfrags;
        let nbfree = (dsize >> sb.fs_fragshift) - (csfrags + frag - 1) / frag;
        let part = csfrags % frag;
        let nffree = sb.fs_size % frag + if part > 0 { frag - part } else { 0 };
        let nifree = i64::from(sb.fs_ncg) * i64::from(sb.fs_ipg) - 2;
        crate::superblock::Totals::from_array([0, nbfree, nifree, nffree]).store(&mut fs);
        fs.fs_flags &= !fsflags::FS_SUJ;
        fs.fs_sblockactualloc = i64::try_from(loc).unwrap_or(i64::MAX);
        fs
    }

    /// `fs_sbsize` bytes of a superblock, with its check hash if enabled.
    fn sb_bytes(&self, fs: Fs, loc: u64) -> Vec<u8> {
        let sb = crate::Superblock {
            fs,
            tail: vec![0; self.sbsize - Fs::SIZE],
            endian: self.endian,
            location: loc,
        };
        let mut out = sb.encode();
        out[SB_POINTER_AREA].fill(0);
        if self.ckhash & ckhash::CK_SUPERBLOCK != 0 {
            let h = checkhash::compute(&out, crate::ondisk::FS_CKHASH_OFFSET);
            wire::put_u32(&mut out[crate::ondisk::FS_CKHASH_OFFSET..], self.endian, h);
        }
        out
    }
}

/// Positioned writes that skip what already reads as zeros.
struct Writer<'a> {
    dev: &'a mut dyn Device,
    zeroing: Zeroing,
    scratch: Vec<u8>,
}

impl Writer<'_> {
    /// Writes `buf` at `off`, except 4 KiB pieces that are all zeros, which
    /// are only checked (and cleared if needed) under [`Zeroing::Verify`].
    fn put(&mut self, off: u64, buf: &[u8]) -> Result<()> {
        let mut pos = 0usize;
        let mut run: Option<usize> = None;
        while pos < buf.len() {
            let abs = off + pos as u64;
            // At most pos + ZERO_CHUNK.
            #[allow(clippy::cast_possible_truncation)]
            let piece_end = ((abs / ZERO_CHUNK + 1) * ZERO_CHUNK - off) as usize;
            let end = piece_end.min(buf.len());
            let zero = buf[pos..end].iter().all(|&b| b == 0);
            if zero {
                if let Some(s) = run.take() {
                    io::write_all(self.dev, off + s as u64, &buf[s..pos])?;
                }
                self.zero(abs, (end - pos) as u64)?;
            } else if run.is_none() {
                run = Some(pos);
            }
            pos = end;
        }
        if let Some(s) = run {
            io::write_all(self.dev, off + s as u64, &buf[s..])?;
        }
        Ok(())
    }

    /// Makes `len` bytes at `off` read as zeros: nothing to do on a zeroed
    /// device; otherwise read, and write zeros over what is not zero.
    fn zero(&mut self, off: u64, len: u64) -> Result<()> {
        if self.zeroing == Zeroing::AssumeZeroed || len == 0 {
            return Ok(());
        }
        let mut done = 0u64;
        while done < len {
            // At most ZERO_BUF.
            #[allow(clippy::cast_possible_truncation)]
            let n = (len - done).min(ZERO_BUF as u64) as usize;
            self.scratch.resize(n, 0);
            let at = off + done;
            io::read_exact(self.dev, at, &mut self.scratch[..n])?;
            if self.scratch[..n].iter().any(|&b| b != 0) {
                self.scratch[..n].fill(0);
                io::write_all(self.dev, at, &self.scratch[..n])?;
            }
            done += n as u64;
        }
        Ok(())
    }
}

/// Clears the magic of any superblock at the standard search locations and
/// of the backups such an old file system names, so neither the kernel nor
/// `fsck -b` can find the file system this one replaces. Runs before any
/// other write, so the new structures land on top.
fn wipe_old_superblocks(w: &mut Writer<'_>) -> Result<()> {
    let mut buf = vec![0u8; SBLOCKSIZE];
    for &loc in &SBLOCKSEARCH {
        if loc + SBLOCKSIZE as u64 > w.dev.len() {
            continue;
        }
        io::read_exact(w.dev, loc, &mut buf)?;
        let Some(old) = magic_at(&buf) else { continue };
        clear_magic(w, loc)?;
        // An old file system that decodes names its backups; clear them.
        let Some(fs) = Fs::decode(&buf, old) else {
            continue;
        };
        let (Ok(fpg), Ok(fsize), Ok(sblkno)) = (
            u64::try_from(fs.fs_fpg),
            u64::try_from(fs.fs_fsize),
            u64::try_from(fs.fs_sblkno),
        ) else {
            continue;
        };
        if fpg == 0 || fsize == 0 || fs.fs_ncg == 0 {
            continue;
        }
        for c in 0..u64::from(fs.fs_ncg) {
            let Some(b) = c
                .checked_mul(fpg)
                .and_then(|f| f.checked_add(sblkno))
                .and_then(|f| f.checked_mul(fsize))
            else {
                break;
            };
            if b + SBLOCKSIZE as u64 > w.dev.len() {
                break;
            }
            let mut m = [0u8; 4];
            io::read_exact(w.dev, b + FS_MAGIC_OFFSET as u64, &mut m)?;
            if wire::fs_magic(m).is_some() {
                clear_magic(w, b)?;
            }
        }
    }
    Ok(())
}

/// The byte order of the superblock in `sb` if its magic is any of
/// FreeBSD's, a half-made one included.
fn magic_at(sb: &[u8]) -> Option<Endian> {
    let m = sb.get(FS_MAGIC_OFFSET..FS_MAGIC_OFFSET + 4)?;
    wire::fs_magic([m[0], m[1], m[2], m[3]]).map(|(endian, _)| endian)
}

fn clear_magic(w: &mut Writer<'_>, loc: u64) -> Result<()> {
    io::write_all(w.dev, loc + FS_MAGIC_OFFSET as u64, &[0u8; 4])
}

/// Sets bits `r` of a bitmap.
fn set_bits(map: &mut [u8], r: std::ops::Range<u64>) {
    let (mut i, end) = (r.start, r.end);
    while i < end && i % 8 != 0 {
        map[(i / 8) as usize] |= 1 << (i % 8);
        i += 1;
    }
    let full = (end - i) / 8;
    if full > 0 {
        let s = (i / 8) as usize;
        map[s..s + full as usize].fill(0xff);
        i += full * 8;
    }
    while i < end {
        map[(i / 8) as usize] |= 1 << (i % 8);
        i += 1;
    }
}

/// The `fs_cgsize` bytes of one group's block, final state.
fn cg_block(p: &Params, layout: &Layout, plan: &CgPlan) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; p.cgsize];
    let mut h = CgHeader::zeroed();
    h.cg_magic = CG_MAGIC;
    if p.ufs2 {
        h.cg_time = p.time;
    } else {
        // UFS1's 32-bit field keeps the low bits, as FreeBSD's does.
        #[allow(clippy::cast_possible_truncation)]
        let old = p.time as i32;
        h.cg_old_time = old;
    }
    h.cg_cgx = plan.cgx;
    h.cg_old_ncyl = plan.old_ncyl;
    h.cg_old_niblk = plan.old_niblk;
    h.cg_ndblk = plan.ndblk;
    h.cg_cs = [
        plan.cs.cs_ndir,
        plan.cs.cs_nbfree,
        plan.cs.cs_nifree,
        plan.cs.cs_nffree,
    ];
    // tunefs's inode allocation leaves the rotor at the journal's inode.
    if let Some(j) = layout.journal.as_ref().filter(|j| j.cg == plan.cgx) {
        h.cg_irotor = j.inode % p.ipg.max(1);
    }
    for (d, s) in h.cg_frsum.iter_mut().zip(plan.frsum.iter()) {
        // The on-disk field is unsigned; the bits are the count's.
        *d = u32::from_ne_bytes(s.to_ne_bytes());
    }
    h.cg_old_btotoff = plan.old_btotoff;
    h.cg_old_boff = plan.old_boff;
    h.cg_iusedoff = plan.iusedoff;
    h.cg_freeoff = plan.freeoff;
    h.cg_nextfreeoff = plan.nextfreeoff;
    h.cg_clustersumoff = plan.clustersumoff;
    h.cg_clusteroff = plan.clusteroff;
    h.cg_nclusterblks = plan.nclusterblks;
    h.cg_niblk = plan.niblk;
    h.cg_initediblk = plan.initediblk;
    if plan.nextfreeoff as usize > p.cgsize {
        return Err(Error::InvalidInput(format!(
            "cylinder group {} maps end at {}, past the {}-byte block",
            plan.cgx, plan.nextfreeoff, p.cgsize
        )));
    }
    h.encode_into(&mut buf, p.endian);

    let ipg_bytes = (p.ipg as usize).div_ceil(8);
    let iused = &mut buf[plan.iusedoff as usize..plan.iusedoff as usize + ipg_bytes];
    for &i in &plan.inodes_used {
        if i < p.ipg {
            iused[(i / 8) as usize] |= 1 << (i % 8);
        }
    }
    let ranges = plan.free_ranges(p.frag);
    let nfree_bytes = (plan.ndblk as usize).div_ceil(8);
    let free = &mut buf[plan.freeoff as usize..plan.freeoff as usize + nfree_bytes];
    for r in &ranges {
        set_bits(free, u64::from(r.start)..u64::from(r.end));
    }
    if plan.clusteroff != 0 && plan.clustersumoff != 0 {
        let frag = p.frag;
        let nblk = plan.nclusterblks;
        let cmap_len = (nblk as usize).div_ceil(8);
        let cmap = &mut buf[plan.clusteroff as usize..plan.clusteroff as usize + cmap_len];
        // A block is in the cluster map when all its fragments are free.
        for r in &ranges {
            let first = r.start.div_ceil(frag);
            let last = (r.end / frag).min(nblk);
            if first < last {
                set_bits(cmap, u64::from(first)..u64::from(last));
            }
        }
        // cg_clustersum[0] is never used, and mkfs places the array so that
        // this slot overlaps the end of the fragment map (clustersumoff is
        // roundup(nextfreeoff, 4) - 4): leave those bytes to the map.
        for (i, &v) in plan.clustersum.iter().enumerate().skip(1) {
            let off = plan.clustersumoff as usize + i * 4;
            if let Some(slot) = buf.get_mut(off..off + 4) {
                wire::put_u32(slot, p.endian, u32::from_ne_bytes(v.to_ne_bytes()));
            }
        }
    }
    if p.ckhash & ckhash::CK_CYLGRP != 0 {
        let hsum = checkhash::compute(&buf, CG_CKHASH_OFFSET);
        wire::put_u32(&mut buf[CG_CKHASH_OFFSET..], p.endian, hsum);
    }
    Ok(buf)
}

/// One group: backup superblock, cg block, inode table.
// The casts size and index one chunk of the inode table: at most a block
// (bsize / isize inodes of isize bytes).
#[allow(clippy::cast_possible_truncation)]
fn write_cg(
    w: &mut Writer<'_>,
    p: &Params,
    layout: &Layout,
    plan: &CgPlan,
    gens: Generations,
    gen_next: &mut u32,
) -> Result<()> {
    let sloc = p.frag_off(plan.sblock_frag);
    w.put(sloc, &p.sb_bytes(p.backup_fs(layout, sloc), sloc))?;
    w.put(p.frag_off(plan.cg_frag), &cg_block(p, layout, plan)?)?;

    // The inodes newfs initializes: UFS2 only cg_initediblk of them (the
    // kernel does the rest lazily), UFS1 all. UFS1's first two blocks keep
    // di_gen 0 (its cg_initediblk is 0); the generations after that count
    // on across groups, as newfs's counter does.
    let (count, gen_from) = if p.ufs2 {
        (plan.initediblk, 0)
    } else {
        (p.ipg, p.ipg.min(2 * p.inopb))
    };
    let table = p.frag_off(plan.inode_frag);
    let special = special_inodes(p, layout, plan)?;
    let per_chunk = (p.bsize / p.isize) as u32;
    let mut i = 0u32;
    while i < count {
        let n = per_chunk.min(count - i);
        let off = table + u64::from(i) * p.isize;
        let numbered = gens == Generations::Sequential && i + n > gen_from;
        let here: Vec<&(u32, Vec<u8>)> = special
            .iter()
            .filter(|(rel, _)| (i..i + n).contains(rel))
            .collect();
        if !numbered && here.is_empty() {
            w.zero(off, u64::from(n) * p.isize)?;
            i += n;
            continue;
        }
        let mut buf = vec![0u8; (u64::from(n) * p.isize) as usize];
        if numbered {
            let gen_off = if p.ufs2 { 80 } else { 108 };
            for k in i.max(gen_from)..i + n {
                let at = ((k - i) as u64 * p.isize) as usize + gen_off;
                wire::put_u32(&mut buf[at..], p.endian, *gen_next);
                *gen_next = gen_next.wrapping_add(1);
            }
        }
        for (rel, bytes) in here {
            let at = ((rel - i) as u64 * p.isize) as usize;
            buf[at..at + bytes.len()].copy_from_slice(bytes);
        }
        w.put(off, &buf)?;
        i += n;
    }
    Ok(())
}

/// The allocated inodes of group `plan` (relative number, bytes): root and
/// `.snap` in cg 0, the journal where tunefs put it.
fn special_inodes(p: &Params, layout: &Layout, plan: &CgPlan) -> Result<Vec<(u32, Vec<u8>)>> {
    let mut out = Vec::new();
    let ipg = p.ipg.max(1);
    let first = u64::from(plan.cgx) * u64::from(ipg);
    let rel = |ino: u32| -> Option<u32> {
        let ino = u64::from(ino);
        u32::try_from(ino.checked_sub(first)?)
            .ok()
            .filter(|&r| r < ipg)
    };
    let dirs = u64::from(u32::try_from(layout.sb.fs_fsize).unwrap_or(0) / 512);
    let nlink_root = if layout.snap_dir_frag.is_some() { 3 } else { 2 };
    if let Some(r) = rel(2) {
        let (size, blocks, db0) = match &layout.journal {
            Some(j) => (p.bsize, p.bsize / 512, j.new_root_block),
            None => (DIRBLKSIZ as u64, dirs, layout.root_dir_frag),
        };
        let ino = InodeSpec {
            mode: mode::IFDIR | 0o755,
            nlink: nlink_root,
            gid: 0,
            size,
            blocks,
            db: vec![db0],
            ib: vec![],
            flags: 0,
        };
        out.push((r, encode_inode(p, &ino)));
    }
    if let (Some(f), Some(r)) = (layout.snap_dir_frag, rel(3)) {
        let ino = InodeSpec {
            mode: mode::IFDIR | 0o775,
            nlink: 2,
            gid: OPERATOR_GID,
            size: DIRBLKSIZ as u64,
            blocks: dirs,
            db: vec![f],
            ib: vec![],
            flags: 0,
        };
        out.push((r, encode_inode(p, &ino)));
    }
    if let Some(j) = &layout.journal {
        if let Some(r) = rel(j.inode) {
            let tree = journal_tree(p, j)?;
            let ino = InodeSpec {
                mode: mode::IFREG | 0o400,
                nlink: 1,
                gid: 0,
                size: j.size,
                blocks: j.blocks.len() as u64 * (p.bsize / 512),
                db: tree.direct,
                ib: tree.top,
                flags: SUJ_FLAGS,
            };
            out.push((r, encode_inode(p, &ino)));
        }
    }
    Ok(out)
}

/// The fields of an inode newfs or tunefs creates; everything else is 0.
struct InodeSpec {
    mode: u16,
    nlink: i16,
    gid: u32,
    size: u64,
    /// 512-byte sectors.
    blocks: u64,
    db: Vec<u64>,
    ib: Vec<u64>,
    flags: u32,
}

// The on-disk fields are signed (and 32-bit in UFS1): the values take
// those bits as FreeBSD's C assignments give them.
#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
fn encode_inode(p: &Params, s: &InodeSpec) -> Vec<u8> {
    if p.ufs2 {
        let mut d = Dinode2::zeroed();
        d.di_mode = s.mode;
        d.di_nlink = s.nlink;
        d.di_gid = s.gid;
        d.di_size = s.size;
        d.di_blocks = s.blocks;
        d.di_atime = p.time;
        d.di_mtime = p.time;
        d.di_ctime = p.time;
        d.di_birthtime = p.time;
        d.di_flags = s.flags;
        for (slot, &b) in d.di_db.iter_mut().zip(&s.db) {
            *slot = b as i64;
        }
        for (slot, &b) in d.di_ib.iter_mut().zip(&s.ib) {
            *slot = b as i64;
        }
        let mut bytes = d.encode(p.endian);
        if p.ckhash & ckhash::CK_INODE != 0 {
            let h = checkhash::compute(&bytes, DI_CKHASH_OFFSET);
            wire::put_u32(&mut bytes[DI_CKHASH_OFFSET..], p.endian, h);
        }
        bytes
    } else {
        let mut d = Dinode1::zeroed();
        d.di_mode = s.mode;
        d.di_nlink = s.nlink;
        d.di_gid = s.gid;
        d.di_size = s.size;
        d.di_blocks = s.blocks as u32;
        d.di_atime = p.time as i32;
        d.di_mtime = p.time as i32;
        d.di_ctime = p.time as i32;
        d.di_flags = s.flags;
        for (slot, &b) in d.di_db.iter_mut().zip(&s.db) {
            *slot = b as i32;
        }
        for (slot, &b) in d.di_ib.iter_mut().zip(&s.ib) {
            *slot = b as i32;
        }
        d.encode(p.endian)
    }
}

/// The journal's block tree rebuilt from tunefs's allocation order.
struct JournalTree {
    direct: Vec<u64>,
    top: Vec<u64>,
    /// Each indirect block and the pointers it holds.
    indirect: Vec<(u64, Vec<u64>)>,
}

fn journal_tree(p: &Params, j: &JournalPlan) -> Result<JournalTree> {
    let bad = || Error::InvalidInput("journal block list does not match its size".into());
    let nindir = p.bsize / if p.ufs2 { 8 } else { 4 };
    let mut resid = j.blocks.len().saturating_sub(j.indirect.len()) as u64;
    let mut it = j.blocks.iter().copied();
    let mut t = JournalTree {
        direct: Vec::new(),
        top: Vec::new(),
        indirect: Vec::new(),
    };
    while t.direct.len() < 12 && resid > 0 {
        t.direct.push(it.next().ok_or_else(bad)?);
        resid -= 1;
    }
    fn fill(
        level: u32,
        blk: u64,
        nindir: u64,
        resid: &mut u64,
        it: &mut dyn Iterator<Item = u64>,
        out: &mut Vec<(u64, Vec<u64>)>,
    ) -> Option<()> {
        let idx = out.len();
        out.push((blk, Vec::new()));
        let mut i = 0;
        while i < nindir && *resid > 0 {
            let c = it.next()?;
            out[idx].1.push(c);
            if level > 0 {
                fill(level - 1, c, nindir, resid, it, out)?;
            } else {
                *resid -= 1;
            }
            i += 1;
        }
        Some(())
    }
    for level in 0..3u32 {
        if resid == 0 {
            break;
        }
        let b = it.next().ok_or_else(bad)?;
        t.top.push(b);
        fill(level, b, nindir, &mut resid, &mut it, &mut t.indirect).ok_or_else(bad)?;
    }
    if it.next().is_some() || resid != 0 {
        return Err(bad());
    }
    Ok(t)
}

/// One `DIRBLKSIZ` chunk holding `entries` (inode, name); the last entry's
/// record takes the rest of the chunk, as `makedir` does.
fn dir_chunk(p: &Params, entries: &[(u32, &[u8], u8)]) -> Result<Vec<u8>> {
    let mut c = vec![0u8; DIRBLKSIZ];
    let mut pos = 0usize;
    for (k, (ino, name, ty)) in entries.iter().enumerate() {
        let need = crate::dir::direct_size(name.len());
        let reclen = if k + 1 == entries.len() {
            DIRBLKSIZ - pos
        } else {
            need
        };
        // Inside one 512-byte chunk.
        #[allow(clippy::cast_possible_truncation)]
        let reclen16 = reclen as u16;
        if !encode_entry(&mut c[pos..], Ino(*ino), reclen16, *ty, name, p.endian) {
            return Err(Error::InvalidInput("directory entry does not fit".into()));
        }
        pos += reclen;
    }
    Ok(c)
}

/// The root and `.snap` directory fragments (the 512 bytes newfs uses;
/// the rest of the fragment is zero).
// fsize and bsize: at most 64 KiB.
#[allow(clippy::cast_possible_truncation)]
fn write_directories(w: &mut Writer<'_>, p: &Params, layout: &Layout) -> Result<()> {
    let mut root: Vec<(u32, &[u8], u8)> = vec![(2, b".", dt::DT_DIR), (2, b"..", dt::DT_DIR)];
    if layout.snap_dir_frag.is_some() {
        root.push((3, b".snap", dt::DT_DIR));
    }
    let mut frag = dir_chunk(p, &root)?;
    frag.resize(p.fsize as usize, 0);
    w.put(p.frag_off(layout.root_dir_frag), &frag)?;
    if let Some(j) = &layout.journal {
        // tunefs moves the root into a full block: the old chunk, then one
        // chunk for `.sujournal`, then empty chunks.
        let mut blk = frag[..DIRBLKSIZ].to_vec();
        blk.extend(dir_chunk(p, &[(j.inode, b".sujournal", dt::DT_REG)])?);
        // An empty chunk is one unused entry spanning it.
        let mut empty = vec![0u8; DIRBLKSIZ];
        DirectHdr {
            d_ino: 0,
            d_reclen: DIRBLKSIZ_U16,
            d_type: 0,
            d_namlen: 0,
        }
        .encode_into(&mut empty, p.endian);
        while blk.len() < p.bsize as usize {
            blk.extend_from_slice(&empty);
        }
        w.put(p.frag_off(j.new_root_block), &blk)?;
    }
    if let Some(f) = layout.snap_dir_frag {
        let mut s = dir_chunk(p, &[(3, b".", dt::DT_DIR), (2, b"..", dt::DT_DIR)])?;
        s.resize(p.fsize as usize, 0);
        w.put(p.frag_off(f), &s)?;
    }
    Ok(())
}

/// The journal's indirect blocks (its data blocks must read as zeros).
// bsize: at most 64 KiB.
#[allow(clippy::cast_possible_truncation)]
fn write_journal(w: &mut Writer<'_>, p: &Params, _layout: &Layout, j: &JournalPlan) -> Result<()> {
    let tree = journal_tree(p, j)?;
    let ptr = if p.ufs2 { 8 } else { 4 };
    let indirect: std::collections::HashSet<u64> = tree.indirect.iter().map(|(b, _)| *b).collect();
    for &b in j.blocks.iter().filter(|b| !indirect.contains(b)) {
        w.zero(p.frag_off(b), p.bsize)?;
    }
    for (b, ptrs) in &tree.indirect {
        let mut buf = vec![0u8; p.bsize as usize];
        for (k, &v) in ptrs.iter().enumerate() {
            wire::put_daddr(&mut buf[k * ptr..], p.ufs2, p.endian, v);
        }
        w.put(p.frag_off(*b), &buf)?;
    }
    Ok(())
}
