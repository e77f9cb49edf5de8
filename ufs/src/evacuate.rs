//! Moving data out of the part of a file system a shrink removes: every
//! block past a fragment (`Fence::end`) and every inode of the groups from
//! `Fence::ncg` on goes to the kept part, through the write session (its
//! allocator, fenced so that it never hands out anything past the cut).
//!
//! Blocks of a kept inode are copied to new places and repointed where
//! the pointer lives (the inode's direct pointers or `di_extb`, or the
//! indirect block holding it). An inode of a removed group gets a new
//! number in a kept group: its whole tree is copied (so that the old and
//! the new inode never share a block, which fsck would treat as damage),
//! every directory entry naming it is pointed at the new number (hard
//! links are several entries; a directory's subdirectories name it in
//! their `..`), and the old inode is cleared.
//!
//! Write order, so that a crash at any write leaves, after `fsck -y`, every
//! file readable at its path: the session first marks the file system
//! unclean; a copy is written to blocks the bitmaps on disk still call
//! free (and the old block is never reused: it lies past the fence, or
//! belongs to an inode cleared before its blocks are freed); a flush; then
//! the one write that switches a pointer, after which the old block is
//! merely unreferenced. A renumbered inode's move is announced first: an
//! intent record "OLD is moving to NEW" ([`MoveIntent`]) is written into
//! the superblock and flushed before the new inode is; the new inode is
//! written (a file's with link count 0), the old one's count set to 0, the
//! entries switched one write each, the new inode given the real count,
//! the old one cleared; the next move's record (or the final sync)
//! replaces the record after a flush. No write order makes the halves of
//! a move acceptable to fsck's generic rules (a hard link split in two, a
//! directory copy in `lost+found`); with the record, fsck finishes the
//! move first ([`finish_move`]): back to the old inode when the new one
//! was not written yet, else forward. See docs/growfs.md.

use crate::alloc::{Allocator, Fence};
use crate::bmap::{self, PtrFormat};
use crate::cg::CylGroup;
use crate::dir;
use crate::error::{Error, Result};
use crate::inode::{FileType, Inode};
use crate::intent::MoveIntent;
use crate::io::{self, Device};
use crate::ondisk::consts::DIRBLKSIZ;
use crate::session::Session;
use crate::superblock::UfsVersion;
use crate::units::{CgIdx, Frag, Ino};
use std::collections::{HashMap, HashSet};

/// What [`Session::evacuate`] moved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MoveStats {
    /// Inodes given a new number.
    pub inodes: u64,
    /// Fragments copied to a new place (data, indirect and xattr blocks).
    pub frags: u64,
    /// Directory entries rewritten.
    pub entries: u64,
}

/// One block tree being copied: which runs move, where to put the next
/// one, and the old runs to free once the new pointers are on disk.
struct Mover {
    /// Copy every run (an inode getting a new number), not only those
    /// reaching past the fence or into the hole.
    all: bool,
    keep: Keep,
    pref: Frag,
    freed: Vec<(Frag, u32)>,
}

impl Mover {
    fn moves(&self, addr: u64, nfrags: u32) -> bool {
        addr != 0 && (self.all || self.keep.must_leave(addr, nfrags))
    }
}

/// What must be left: everything from fragment `end` on, and the `hole`
/// (start, length), where the summary area is to go.
#[derive(Clone, Copy, Debug)]
struct Keep {
    end: u64,
    hole: Option<(u64, u64)>,
}

impl Keep {
    fn must_leave(self, addr: u64, nfrags: u32) -> bool {
        let stop = addr + u64::from(nfrags);
        stop > self.end || self.hole.is_some_and(|(h, n)| addr < h + n && h < stop)
    }
}

/// Whether the inode's pointer area holds block pointers (not a device
/// number or a short symlink's target).
pub(crate) fn has_tree(geo: &crate::Geometry, ip: &Inode) -> bool {
    match ip.file_type() {
        FileType::Regular | FileType::Directory => true,
        FileType::Symlink => !ip.is_fast_symlink(geo),
        _ => false,
    }
}

/// Blocks (a run of tail fragments counts one) of `ip`'s tree below
/// fragment `end`: what copying the inode whole needs on top of its runs
/// past the end, until its old blocks are freed.
pub(crate) fn blocks_below(
    dev: &dyn Device,
    geo: &crate::Geometry,
    ip: &Inode,
    end: u64,
) -> Result<u64> {
    let mut n = bmap::ext_runs(geo, ip)
        .iter()
        .filter(|&&(_, a, _)| a < end)
        .count() as u64;
    if has_tree(geo, ip) {
        bmap::walk(dev, geo, ip, None, &mut |r| {
            if r.addr.0 < end {
                n += 1;
            }
            Ok(bmap::Walk::Continue)
        })?;
    }
    Ok(n)
}

impl Session {
    /// Moves every block past `fence.end` and every inode of the groups
    /// from `fence.ncg` on into the kept part (see the module comment for
    /// the write order), then syncs. The caller has checked that it fits.
    ///
    /// `hole` (first fragment, length) is emptied too and left free: the
    /// fragments there are held back from the allocator while moving.
    pub fn evacuate(
        &mut self,
        fence_ncg: u32,
        fence_end: u64,
        hole: Option<(u64, u64)>,
    ) -> Result<MoveStats> {
        let fence = Fence {
            ncg: fence_ncg,
            end: fence_end,
        };
        let keep = Keep {
            end: fence_end,
            hole,
        };
        self.begin()?.alloc.set_fence(fence);
        let mut st = MoveStats::default();
        let geo = self.fs.geo.clone();
        let hole_frags = hole.map_or(0..0, |(h, n)| h..h + n);
        for f in hole_frags.clone() {
            let (a, dev) = self.parts()?;
            if a.is_free(dev.as_ref(), &geo, Frag(f))? {
                a.take(dev.as_ref(), &geo, Frag(f), 1)?;
            }
        }

        // Every allocated inode: those in removed groups move, kept ones
        // with a run past the end get their blocks moved, and every
        // directory is scanned for entries naming a moving inode.
        let mut moving: Vec<Ino> = Vec::new();
        let mut dirs: Vec<Ino> = Vec::new();
        let mut repoint: Vec<Ino> = Vec::new();
        for c in 0..geo.ncg {
            let cg = CylGroup::read(self.fs.dev.as_ref(), &geo, CgIdx(c))?;
            for i in 0..geo.ipg {
                let ino = Ino(c * geo.ipg + i);
                if ino.0 < crate::ondisk::consts::ROOTINO || !cg.inode_used(i) {
                    continue;
                }
                let ip = self.fs.inode(ino)?;
                if !ip.is_allocated() {
                    continue;
                }
                if ip.is_dir() {
                    dirs.push(ino);
                }
                if c >= fence.ncg {
                    moving.push(ino);
                } else if self.must_leave(&ip, keep)? {
                    repoint.push(ino);
                }
            }
        }

        for ino in repoint {
            let ip = self.fs.inode(ino)?;
            let pref = self.group_start(ino, fence);
            let mut m = Mover {
                all: false,
                keep,
                pref,
                freed: Vec::new(),
            };
            let mut new = self.copy_tree(&ip, &mut m)?;
            if new != ip {
                self.flush_device()?;
                self.write_inode(&mut new)?;
            }
            self.free_runs(&m.freed, keep, &mut st)?;
        }

        // Where each moving inode is named: (directory, offset of the
        // entry), `..` entries last so that a directory's parent entry is
        // switched before its children's.
        let set: HashSet<Ino> = moving.iter().copied().collect();
        let mut refs = refs_to(self.fs.dev.as_ref(), &geo, &dirs, &set, true)?;

        let mut renamed: HashMap<Ino, Ino> = HashMap::new();
        for old in moving {
            let ip = self.fs.inode(old)?;
            let is_dir = ip.is_dir();
            let pref_cg = geo.ino_to_cg(old).0 % fence.ncg.max(1);
            let new_ino = {
                let (a, dev) = self.parts()?;
                a.alloc_inode(dev.as_mut(), &geo, pref_cg, is_dir)?
            };
            self.cover_initialized(new_ino)?;
            let mut m = Mover {
                all: true,
                keep,
                pref: self.group_start(new_ino, fence),
                freed: Vec::new(),
            };
            let mut new = self.copy_tree(&ip, &mut m)?;
            new.ino = new_ino;
            if is_dir {
                // The copy's `.` names the new number (it is not yet
                // referenced, so this write is invisible).
                self.set_entry(&new, 0, old, new_ino)?;
            }
            let links = ip.nlink();
            // The copy, and the previous move's last writes, are on disk
            // before the record (which replaces the previous one) says
            // this move has begun, and the record before the new inode.
            self.flush_device()?;
            let rec = MoveIntent::new(
                &self.fs.sb.fs,
                old,
                new_ino,
                ip.gen(),
                ip.mode(),
                u16::try_from(links).unwrap_or(0),
            );
            rec.store(&mut self.fs.sb.fs);
            self.write_primary_superblock()?;
            self.flush_device()?;
            if !is_dir {
                new.set_nlink(0);
            }
            self.write_inode(&mut new)?;
            if !is_dir {
                let mut o = ip.clone();
                o.set_nlink(0);
                self.write_inode(&mut o)?;
            }
            let mut cleared = Inode::empty(old, &geo);
            cleared.set_gen(ip.gen());
            let mut done = false;
            for (dotdot, d, off) in refs.remove(&old).unwrap_or_default() {
                if dotdot && !done {
                    // The parent names the new directory: clear the old
                    // one now, so that a crash leaves no unreferenced copy
                    // (fsck points a `..` naming a free inode at the
                    // directory holding it).
                    self.write_inode(&mut cleared)?;
                    done = true;
                }
                let d = renamed.get(&d).copied().unwrap_or(d);
                let dip = self.fs.inode(d)?;
                self.set_entry(&dip, off, old, new_ino)?;
                st.entries += 1;
            }
            if !is_dir {
                new.set_nlink(links);
                self.write_inode(&mut new)?;
            }
            if !done {
                self.write_inode(&mut cleared)?;
            }
            {
                let (a, dev) = self.parts()?;
                a.free_inode(dev.as_ref(), &geo, old, is_dir)?;
            }
            self.free_runs(&m.freed, keep, &mut st)?;
            renamed.insert(old, new_ino);
            st.inodes += 1;
        }
        // The hole, held back while moving (its old occupants included),
        // is given back empty.
        for f in hole_frags {
            let (a, dev) = self.parts()?;
            if !a.is_free(dev.as_ref(), &geo, Frag(f))? {
                a.free(dev.as_ref(), &geo, Frag(f), 1)?;
            }
        }
        // The last move is on disk before its record goes (with the
        // superblock the sync writes).
        self.flush_device()?;
        MoveIntent::clear(&mut self.fs.sb.fs);
        self.sync()?;
        Ok(st)
    }

    /// Makes sure the group on disk counts `ino` among its initialized
    /// inodes (UFS2's `cg_initediblk`, which the allocator raised): fsck
    /// does not read inodes past it, so an entry naming one would be
    /// dropped. Writes the allocator's groups and summary when needed (they
    /// agree with the disk between two moves).
    fn cover_initialized(&mut self, ino: Ino) -> Result<()> {
        let geo = self.fs.geo.clone();
        if geo.version != UfsVersion::Ufs2 {
            return Ok(());
        }
        let c = geo.ino_to_cg(ino);
        let on_disk = CylGroup::read(self.fs.dev.as_ref(), &geo, c)?
            .hdr
            .cg_initediblk;
        if ino.0 % geo.ipg < on_disk {
            return Ok(());
        }
        let now = self.now().sec;
        self.begin()?;
        let w = self.w.as_mut().ok_or(Error::ReadOnly)?;
        w.alloc
            .flush(self.fs.dev.as_mut(), &geo, &mut self.fs.sb, now)?;
        self.flush_device()
    }

    /// Whether any run of `ip`'s tree (data, indirect, xattr) lies where
    /// `keep` says nothing may stay.
    fn must_leave(&self, ip: &Inode, keep: Keep) -> Result<bool> {
        let geo = &self.fs.geo;
        if bmap::ext_runs(geo, ip)
            .iter()
            .any(|&(_, a, n)| keep.must_leave(a, n))
        {
            return Ok(true);
        }
        if !has_tree(&self.fs.geo, ip) {
            return Ok(false);
        }
        let mut past = false;
        bmap::walk(self.fs.dev.as_ref(), geo, ip, None, &mut |r| {
            if keep.must_leave(r.addr.0, r.nfrags) {
                past = true;
                return Ok(bmap::Walk::Stop);
            }
            Ok(bmap::Walk::Continue)
        })?;
        Ok(past)
    }

    /// The first data fragment of the kept group an inode lives in (or
    /// will): where its moved blocks are preferred.
    fn group_start(&self, ino: Ino, fence: Fence) -> Frag {
        let c = self.fs.geo.ino_to_cg(ino).0 % fence.ncg.max(1);
        self.fs.geo.cgdmin(CgIdx(c))
    }

    /// Copies the runs `m` selects of `ip`'s tree to new places and returns
    /// the inode with its pointers switched (not written). Indirect blocks
    /// are done bottom-up: a kept one whose children moved is rewritten in
    /// place (after a flush), a moving one is written to its new place.
    fn copy_tree(&mut self, ip: &Inode, m: &mut Mover) -> Result<Inode> {
        let geo = self.fs.geo.clone();
        let mut new = ip.clone();
        if has_tree(&self.fs.geo, ip) {
            let size = ip.size();
            for i in 0..crate::ondisk::consts::NDADDR {
                let a = ip.db(i);
                // At most one block: frag (<= 8) fragments.
                #[allow(clippy::cast_possible_truncation)]
                let n = ((geo.blksize(size, i as u64) >> geo.fshift) as u32).max(1);
                if m.moves(a, n) {
                    new.set_db(i, self.copy_run(m, a, n)?);
                }
            }
            for lvl in 0..crate::ondisk::consts::NIADDR {
                let a = ip.ib(lvl);
                if a != 0 {
                    // NIADDR is 3: the level fits.
                    #[allow(clippy::cast_possible_truncation)]
                    let level = lvl as u8 + 1;
                    new.set_ib(lvl, self.copy_indirect(m, ip.ino, level, a)?);
                }
            }
        }
        let runs = bmap::ext_runs(&geo, ip);
        if !runs.is_empty() {
            let mut ext = [ip.extb(0), ip.extb(1)];
            for (k, a, n) in runs {
                if m.moves(a, n) {
                    ext[k] = self.copy_run(m, a, n)?;
                }
            }
            new.set_ext(ip.extsize(), ext);
        }
        Ok(new)
    }

    /// Copies `n` fragments at `addr` to a new run near `m.pref` (a tail
    /// stays a run inside one block: the allocator's rule).
    fn copy_run(&mut self, m: &mut Mover, addr: u64, n: u32) -> Result<u64> {
        let geo = self.fs.geo.clone();
        let to = {
            let (a, dev) = self.parts()?;
            a.alloc(dev.as_ref(), &geo, m.pref, n)?
        };
        let mut buf = vec![0u8; n as usize * geo.fsize as usize];
        io::read_exact(self.fs.dev.as_ref(), geo.frag_offset(Frag(addr)), &mut buf)?;
        io::write_all(self.fs.dev.as_mut(), geo.frag_offset(to), &buf)?;
        m.pref = Frag(to.0 + u64::from(n));
        m.freed.push((Frag(addr), n));
        Ok(to.0)
    }

    /// [`copy_run`](Self::copy_run) for an indirect block at `level` and
    /// everything below it; returns where it now is.
    fn copy_indirect(&mut self, m: &mut Mover, ino: Ino, level: u8, addr: u64) -> Result<u64> {
        let geo = self.fs.geo.clone();
        let fmt = PtrFormat::of(&geo);
        let mut block = bmap::read_indirect_block(self.fs.dev.as_ref(), &geo, ino, Frag(addr))?;
        let mut changed = false;
        for i in 0..fmt.count(&block) {
            let p = fmt.get(&block, i).unwrap_or(0);
            if p == 0 {
                continue;
            }
            let np = if level == 1 {
                if m.moves(p, geo.frag) {
                    self.copy_run(m, p, geo.frag)?
                } else {
                    p
                }
            } else {
                self.copy_indirect(m, ino, level - 1, p)?
            };
            if np != p {
                fmt.set(&mut block, i, np);
                changed = true;
            }
        }
        if m.moves(addr, geo.frag) {
            let to = {
                let (a, dev) = self.parts()?;
                a.alloc(dev.as_ref(), &geo, m.pref, geo.frag)?
            };
            self.flush_device()?;
            io::write_all(self.fs.dev.as_mut(), geo.frag_offset(to), &block)?;
            m.pref = Frag(to.0 + u64::from(geo.frag));
            m.freed.push((Frag(addr), geo.frag));
            return Ok(to.0);
        }
        if changed {
            self.flush_device()?;
            io::write_all(self.fs.dev.as_mut(), geo.frag_offset(Frag(addr)), &block)?;
        }
        Ok(addr)
    }

    /// Points the entry at byte `off` of directory `d` (which must name
    /// `old`) at `new` ([`rename_entry`]).
    fn set_entry(&mut self, d: &Inode, off: u64, old: Ino, new: Ino) -> Result<()> {
        rename_entry(self.fs.dev.as_mut(), &self.fs.geo, d, off, old, new)
    }

    /// Gives back runs whose last reference is gone from the disk, except
    /// their fragments in the hole (held until the end).
    fn free_runs(&mut self, runs: &[(Frag, u32)], keep: Keep, st: &mut MoveStats) -> Result<()> {
        let geo = self.fs.geo.clone();
        let (alloc, dev) = self.parts()?;
        for &(a, n) in runs {
            st.frags += u64::from(n);
            match keep.hole {
                Some((h, hn)) if a.0 < h + hn && h < a.0 + u64::from(n) => {
                    for f in (a.0..a.0 + u64::from(n)).filter(|&f| f < h || f >= h + hn) {
                        alloc.free(dev.as_ref(), &geo, Frag(f), 1)?;
                    }
                }
                _ => alloc.free(dev.as_ref(), &geo, a, n)?,
            }
        }
        Ok(())
    }

    /// The allocator and the device, borrowed together.
    fn parts(&mut self) -> Result<(&mut Allocator, &mut Box<dyn Device>)> {
        self.begin()?;
        let w = self.w.as_mut().ok_or(Error::ReadOnly)?;
        Ok((&mut w.alloc, &mut self.fs.dev))
    }
}

/// Points the entry at byte `off` of directory `d` (which must name
/// `old`) at `new`: one write of its `DIRBLKSIZ` chunk.
pub(crate) fn rename_entry(
    dev: &mut dyn Device,
    geo: &crate::Geometry,
    d: &Inode,
    off: u64,
    old: Ino,
    new: Ino,
) -> Result<()> {
    let chunk_off = off - off % DIRBLKSIZ as u64;
    let extents = bmap::extents(dev, geo, d)?;
    let bsize = geo.bsize64();
    let Some(e) = extents
        .iter()
        .find(|e| e.lbn * bsize <= chunk_off && chunk_off < e.lbn * bsize + e.len)
    else {
        return Err(Error::InvalidInput(format!(
            "directory {}: no block holds offset {off}",
            d.ino
        )));
    };
    let at = geo.frag_offset(e.addr) + (chunk_off - e.lbn * bsize);
    let mut chunk = vec![0u8; DIRBLKSIZ];
    io::read_exact(dev, at, &mut chunk)?;
    let (entries, _) = dir::parse_chunk(&chunk, chunk_off, geo.endian);
    let Some(ent) = entries.iter().find(|x| x.offset == off && x.ino == old) else {
        return Err(Error::InvalidInput(format!(
            "directory {}: the entry at offset {off} does not name inode {old}",
            d.ino
        )));
    };
    // An offset inside the chunk.
    #[allow(clippy::cast_possible_truncation)]
    let pos = (off - chunk_off) as usize;
    dir::encode_entry(
        &mut chunk[pos..],
        new,
        ent.reclen,
        ent.dtype,
        &ent.name,
        geo.endian,
    );
    io::write_all(dev, at, &chunk)
}

/// Where an inode is named: (whether the entry is a `..`, the directory,
/// the entry's offset in it).
type Refs = HashMap<Ino, Vec<(bool, Ino, u64)>>;

/// Where each inode of `wanted` is named in the directories `dirs`, `.`
/// left out: (whether it is a `..`, directory, offset of the entry), `..`
/// entries last, so that a directory's parent entry is switched before its
/// children's. `strict` makes a malformed directory an error (a move
/// starts from a clean file system); otherwise bad chunks and unreadable
/// directories are skipped (finishing a move on a crashed one, before fsck
/// looks at them).
fn refs_to(
    dev: &dyn Device,
    geo: &crate::Geometry,
    dirs: &[Ino],
    wanted: &HashSet<Ino>,
    strict: bool,
) -> Result<Refs> {
    let mut refs = Refs::new();
    let bsize = geo.bsize64();
    let mut buf = Vec::new();
    for &d in dirs {
        let mut scan = |refs: &mut Refs| -> Result<()> {
            let ip = Inode::read(dev, geo, d)?;
            let size = ip.size();
            for e in bmap::extents(dev, geo, &ip)? {
                // One block at a time (a damaged directory's size bounds
                // nothing here), and nothing past the size: the last
                // fragment may hold more than the directory.
                for at in (0..e.len).step_by(usize::try_from(bsize).unwrap_or(usize::MAX)) {
                    let off = e.lbn * bsize + at;
                    if off >= size {
                        break;
                    }
                    // At most one block.
                    #[allow(clippy::cast_possible_truncation)]
                    buf.resize((e.len - at).min(bsize).min(size - off) as usize, 0);
                    io::read_exact(dev, geo.frag_offset(e.addr) + at, &mut buf)?;
                    scan_block(&buf, d, off, geo, wanted, strict, refs)?;
                }
            }
            Ok(())
        };
        match scan(&mut refs) {
            // A directory fsck will judge: what it names is its business.
            Err(_) if !strict => {}
            r => r?,
        }
    }
    for v in refs.values_mut() {
        v.sort();
    }
    Ok(refs)
}

/// [`refs_to`] for one block of directory `d` at directory offset `base`.
fn scan_block(
    buf: &[u8],
    d: Ino,
    base: u64,
    geo: &crate::Geometry,
    wanted: &HashSet<Ino>,
    strict: bool,
    refs: &mut Refs,
) -> Result<()> {
    for (i, chunk) in buf.chunks(DIRBLKSIZ).enumerate() {
        let base = base + (i * DIRBLKSIZ) as u64;
        let (entries, bad) = dir::parse_chunk(chunk, base, geo.endian);
        if let (true, Some((offset, why))) = (strict, bad) {
            return Err(Error::corrupt(
                crate::error::CorruptKind::BadDirEntry,
                crate::error::Location::DirEntry { dir: d, offset },
                why.to_string(),
            ));
        }
        for e in entries {
            if wanted.contains(&e.ino) && e.name != b"." {
                refs.entry(e.ino)
                    .or_default()
                    .push((e.name == b"..", d, e.offset));
            }
        }
    }
    Ok(())
}

/// What [`finish_move`] did with an interrupted move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finished {
    /// The new inode was not written yet: the old one is untouched and
    /// stays (the copied blocks are merely unreferenced).
    RolledBack,
    /// Every entry naming the old inode now names the new one, which has
    /// its link count; the old one is cleared. `entries` were switched
    /// here (the rest were before the crash).
    Completed {
        /// Directory entries rewritten.
        entries: u64,
    },
}

/// Finishes the move `rec` describes on a file system a crash left in
/// the middle of [`Session::evacuate`]: fsck's first step when it finds
/// the record ([`MoveIntent::pending`]). The caller erases the record
/// afterwards; cylinder-group maps and counts are left to fsck.
///
/// The move's writes, in order: the copy's blocks; the record; the new
/// inode (a file's with link count 0); the old one's count 0; each entry;
/// the new inode's count; the old inode cleared (for a directory, before
/// its subdirectories' `..` switch). So the new inode, when it is ours
/// (mode and generation of the record), is whole, and going forward is
/// right at every later cut: entries still naming the old number are
/// switched, the count set, the old inode cleared if it is still ours.
/// Before it is written nothing of the old inode has changed. Running it
/// again (a crash while fsck writes) finds less to do and ends the same.
pub fn finish_move(
    dev: &mut dyn Device,
    geo: &crate::Geometry,
    rec: &MoveIntent,
) -> Result<Finished> {
    let mut new = Inode::read(dev, geo, rec.new)?;
    if !rec.is_ours(new.mode(), new.gen()) {
        return Ok(Finished::RolledBack);
    }
    let old = Inode::read(dev, geo, rec.old)?;
    let old_is_ours = rec.is_ours(old.mode(), old.gen());
    // Every directory on disk but the old inode (whose blocks go with
    // it): fsck's view, by mode, up to each group's initialized inodes,
    // since a directory moved earlier in this run may not be in its
    // group's map yet.
    let mut dirs = Vec::new();
    for c in 0..geo.ncg {
        let inited = match geo.version {
            UfsVersion::Ufs2 => CylGroup::read_unchecked(dev, geo, CgIdx(c))?
                .hdr
                .cg_initediblk
                .min(geo.ipg),
            UfsVersion::Ufs1 => geo.ipg,
        };
        for i in 0..inited {
            let ino = Ino(c * geo.ipg + i);
            if ino.0 < crate::ondisk::consts::ROOTINO || (ino == rec.old && old_is_ours) {
                continue;
            }
            // An unreadable inode is fsck's to judge, not a directory here.
            if Inode::read(dev, geo, ino).is_ok_and(|ip| ip.is_dir()) {
                dirs.push(ino);
            }
        }
    }
    let wanted: HashSet<Ino> = [rec.old].into_iter().collect();
    let refs = refs_to(dev, geo, &dirs, &wanted, false)?;
    let mut entries = 0;
    for (_, d, off) in refs.get(&rec.old).map_or(&[][..], Vec::as_slice) {
        let dip = Inode::read(dev, geo, *d)?;
        rename_entry(dev, geo, &dip, *off, rec.old, rec.new)?;
        entries += 1;
    }
    if new.nlink() != i16::try_from(rec.nlink).unwrap_or(i16::MAX) {
        new.set_nlink(i16::try_from(rec.nlink).unwrap_or(i16::MAX));
        new.write(dev, geo)?;
    }
    if old_is_ours {
        let mut cleared = Inode::empty(rec.old, geo);
        cleared.set_gen(old.gen());
        cleared.write(dev, geo)?;
    }
    Ok(Finished::Completed { entries })
}
