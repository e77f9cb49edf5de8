//! The repairs themselves: the fsck_ffs helpers every pass calls once a
//! question was answered yes (inode.c `freeino()`, `allocino()`,
//! `freeblk()`/`allocblk()`; dir.c `allocdir()`, `makeentry()`,
//! `mkentry()`, `changeino()`, `expanddir()`, `linkup()`,
//! `lftempname()`).
//!
//! Everything is written into the overlay ([`crate::io::overlay`]), never to
//! the image; the allocation state lives in the check's own tables (the
//! block-used map and the inode states), which pass 5 turns into the
//! cylinder groups it writes. That is how a lost+found created in phase 3
//! is in the cylinder group when phase 5 rebuilds it (FreeBSD 12.1 lost it
//! on UFS1 and needed a second run).
//!
//! Link-count bookkeeping: `ino.link(i)` is always "di_nlink minus the
//! references found"; every helper that adds or moves a reference or
//! changes a di_nlink keeps that true, so phase 4 sees only real errors.

use super::dirwalk::{DirWalk, OnBad};
use super::problem::Problem;
use super::report::Finding;
use super::state::*;
use crate::bmap::Walk;
use crate::inode::{Inode, Timespec};
use crate::io::overlay::WriteClass;
use crate::ondisk::consts::dt::DT_DIR;
use crate::ondisk::consts::{mode, DIRBLKSIZ, DIRBLKSIZ_U16, NDADDR};
use crate::ondisk::DirectHdr;
use crate::superblock::UfsVersion;
use crate::units::{CgIdx, Frag, Ino};

/// A directory-entry editor: gets the block, the entry's offset and the
/// entry; returns (block changed, stop).
type EntryEdit<'e, 'a> = dyn FnMut(&mut Ctx<'a>, &mut Vec<u8>, usize, &DirEnt) -> (bool, bool) + 'e;

impl<'a> Ctx<'a> {
    /// Stages a write (nothing happens in a read-only run).
    pub fn put(&mut self, off: u64, data: &[u8], class: WriteClass) {
        if !self.writing() {
            return;
        }
        if self.ov.put(off, data, class).is_err() {
            self.write_failed = true;
        }
    }

    /// Writes an inode back (its check hash recomputed).
    pub fn write_inode(&mut self, ip: &mut Inode) {
        let bytes = ip.encode(&self.geo);
        let off = self.geo.inode_offset(ip.ino);
        self.put(off, &bytes, WriteClass::Inode);
    }

    /// fsck_ffs `clearinode()`: the whole inode zeroed.
    pub fn zero_inode(&mut self, ino: u32) {
        if !self.ino_ok(ino) {
            return;
        }
        let n = self.geo.version.inode_size() as usize;
        let off = self.geo.inode_offset(Ino(ino));
        self.put(off, &vec![0u8; n], WriteClass::Inode);
        // Whatever cleared it, this number is not handed out again in this
        // run: references to the old inode may still be counted (a cleared
        // directory's children name it in `..`), and reusing it for
        // lost+found mixed those counts with the new directory's.
        self.freed_ino.insert(ino);
    }

    /// fsck_ffs `freeblock()`: gives back the fragments of one pointer.
    /// A fragment that another inode also claims stays in use (one
    /// duplicate claim is dropped instead); one outside the file system or
    /// in a group's metadata (a bad pointer's) is left alone.
    pub fn release(&mut self, addr: u64, nfrags: u32) {
        for k in 0..u64::from(nfrags) {
            let b = addr.saturating_add(k);
            if !self.geo.run_in_range(Frag(b), 1) {
                continue;
            }
            if self.duplist.take_one(b) {
                continue;
            }
            if self.bmap.test(b) {
                self.bmap.clear(b);
                self.freed.set(b);
                self.n_blks = self.n_blks.saturating_sub(1);
            }
        }
    }

    /// The extended-attribute blocks of a UFS2 inode as (slot in
    /// `di_extb`, address, frags).
    pub fn ext_blocks(&self, ip: &Inode) -> Vec<(usize, u64, u32)> {
        crate::bmap::ext_runs(&self.geo, ip)
    }

    /// fsck_ffs `freeino()`: releases every block and clears the inode.
    pub fn freeino(&mut self, ino: u32) {
        if let Some(ip) = self.inode(ino) {
            if ip.mode() != 0 {
                // Phase 1 may have counted only a prefix of the blocks.
                let budget = self.partial.get(&ino).copied();
                let mut left = budget.unwrap_or(u64::MAX);
                let mut visit = |ctx: &mut Ctx<'a>, addr: u64, n: u32| {
                    let m = u64::from(n).min(left);
                    // At most n.
                    #[allow(clippy::cast_possible_truncation)]
                    let m32 = m as u32;
                    ctx.release(addr, m32);
                    left -= m;
                    if left == 0 {
                        Walk::Stop
                    } else {
                        Walk::Continue
                    }
                };
                self.ckinode_addr(&ip, &mut visit, None);
                if budget.is_none() {
                    for (_, a, n) in self.ext_blocks(&ip) {
                        self.release(a, n);
                    }
                }
            }
        }
        self.zero_inode(ino);
        if self.ino.state(ino) != USTATE {
            self.n_files = self.n_files.saturating_sub(1);
        }
        self.ino.set_state(ino, USTATE);
        self.ino.set_link(ino, 0);
        self.freed_ino.insert(ino);
    }

    /// fsck_ffs `allocblk()`: `n` free fragments inside one block, first
    /// fit starting in group `pref`. Fragments freed by this run are not
    /// reused (see `freed`).
    pub fn alloc_frags(&mut self, pref: u32, n: u32) -> Option<u64> {
        let frag = u64::from(self.geo.frag);
        let n = u64::from(n.clamp(1, self.geo.frag));
        let ncg = self.geo.ncg.max(1);
        let size = self.geo.size;
        for i in 0..ncg {
            let c = CgIdx((pref % ncg + i) % ncg);
            let base = self.geo.cgbase(c).0;
            let end = (base + self.geo.fpg).min(size);
            let mut blk = base;
            while blk + frag <= end || (n < frag && blk < end) {
                let mut j = 0;
                while j + n <= frag {
                    let ok = (0..n).all(|k| {
                        let f = blk + j + k;
                        f < size && !self.bmap.test(f) && !self.freed.test(f)
                    });
                    if ok {
                        for k in 0..n {
                            self.bmap.set(blk + j + k);
                        }
                        self.n_blks += n;
                        self.new_frags.push((blk + j, n));
                        return Some(blk + j);
                    }
                    j += 1;
                }
                blk += frag;
            }
        }
        None
    }

    /// fsck_ffs `allocino()` for a directory: `request` (0: the lowest
    /// free inode). Only inodes initialized on disk are used, none this
    /// run cleared, and none a directory's `..` still names (a parent
    /// whose inode was lost: reusing it for lost+found makes the orphan's
    /// `..` count twice, and the next run adjusts lost+found's link count).
    fn alloc_ino(&mut self, request: u32) -> Option<u32> {
        let n = u32::try_from(self.geo.ninodes).unwrap_or(u32::MAX);
        if request != 0 {
            return (self.ino.tracked(request) && self.ino.state(request) == USTATE)
                .then_some(request);
        }
        let parents: std::collections::HashSet<u32> = self.dirs.iter().map(|d| d.dotdot).collect();
        (ROOTINO..n).find(|&i| {
            self.ino.tracked(i)
                && self.ino.state(i) == USTATE
                && !self.freed_ino.contains(&i)
                && !parents.contains(&i)
        })
    }

    /// fsck_ffs `allocdir()`: a new directory with `.` and `..` in one
    /// fragment. Returns its number.
    pub fn allocdir(&mut self, parent: u32, request: u32, perm: u16) -> Option<u32> {
        let ino = self.alloc_ino(request)?;
        let cg = self.geo.ino_to_cg(Ino(ino)).0;
        let blk = self.alloc_frags(cg, 1)?;
        let fsize = self.geo.fsize as usize;
        let endian = self.geo.endian;
        let mut buf = vec![0u8; fsize];
        crate::dir::encode_entry(&mut buf[0..], Ino(ino), 12, DT_DIR, b".", endian);
        crate::dir::encode_entry(
            &mut buf[12..],
            Ino(parent),
            DIRBLKSIZ_U16 - 12,
            DT_DIR,
            b"..",
            endian,
        );
        for chunk in (DIRBLKSIZ..fsize).step_by(DIRBLKSIZ) {
            empty_chunk(&mut buf[chunk..], endian);
        }
        self.put(self.geo.frag_offset(Frag(blk)), &buf, WriteClass::Data);
        let old_gen = self.inode(ino).map_or(0, |i| i.gen());
        let mut ip = Inode::empty(Ino(ino), &self.geo);
        ip.set_mode(mode::IFDIR | (perm & 0o7777));
        ip.set_nlink(2);
        ip.set_size(fsize as u64);
        ip.set_blocks(fsize as u64 / 512);
        ip.set_db(0, blk);
        ip.set_gen(old_gen.wrapping_add(1).max(1));
        let t = Timespec {
            sec: self.now,
            nsec: 0,
        };
        ip.set_atime(t);
        ip.set_mtime(t);
        ip.set_ctime(t);
        if self.geo.version == UfsVersion::Ufs2 {
            ip.set_birthtime(t);
        }
        self.write_inode(&mut ip);
        self.n_files += 1;
        self.countdirs += 1;
        self.ino.set_dtype(ino, DT_DIR);
        let di = DirInfo {
            ino,
            parent,
            dotdot: parent,
            isize: fsize as u64,
            blk0: blk,
        };
        match self.dir_index.get(&ino) {
            Some(&i) => self.dirs[i] = di,
            None => {
                self.dir_index.insert(ino, self.dirs.len());
                self.dirs.push(di);
            }
        }
        self.new_dirs.insert(ino);
        if ino == ROOTINO {
            // Phase 2 scans the new block and finds `.` and `..`.
            self.ino.set_state(ino, DSTATE);
            self.ino.set_link(ino, 2);
            return Some(ino);
        }
        let pstate = self.ino.state(parent);
        self.ino
            .set_state(ino, if dvalid(pstate) { pstate } else { DFOUND });
        // `.` is found; the entry in the parent is made by makeentry.
        self.ino.set_link(ino, 1);
        if let Some(mut pip) = self.inode(parent) {
            pip.set_nlink(pip.nlink().saturating_add(1));
            self.write_inode(&mut pip);
        }
        Some(ino)
    }

    /// Visits the well-formed entries of `dir` with their block and
    /// offset; `f` may change the block and returns (changed, stop).
    fn edit_dir(&mut self, dir: u32, f: &mut EntryEdit<'_, 'a>) -> bool {
        let mut walk = DirWalk::new(self, dir, OnBad::RestOfChunk);
        while let Some((loc, e)) = walk.next(self) {
            let (changed, stop) = f(self, walk.block(), loc, &e);
            if changed {
                let off = self.geo.frag_offset(Frag(walk.addr()));
                self.put(off, walk.block(), WriteClass::Dir);
            }
            if stop {
                return true;
            }
        }
        false
    }

    /// dir.c `mkentry()` over a directory: puts `name` -> `ino` in the
    /// first entry with room. Returns whether it was made.
    fn try_mkentry(&mut self, parent: u32, ino: u32, name: &[u8]) -> bool {
        let newlen = DirEnt {
            namlen: u8::try_from(name.len()).unwrap_or(u8::MAX),
            ..Default::default()
        }
        .dirsiz();
        let dtype = self.ino.dtype(ino);
        let endian = self.geo.endian;
        let mut made = false;
        self.edit_dir(parent, &mut |ctx, buf, loc, e| {
            let oldlen = if e.ino != 0 { e.dirsiz() } else { 0 };
            if e.reclen < oldlen + newlen {
                return (false, false);
            }
            let rest = e.reclen - oldlen;
            if oldlen > 0 {
                set_reclen(buf, loc, oldlen, endian);
            }
            crate::dir::encode_entry(
                &mut buf[loc + usize::from(oldlen)..],
                Ino(ino),
                rest,
                dtype,
                name,
                endian,
            );
            ctx.ino.add_link(ino, -1);
            made = true;
            (true, true)
        });
        made
    }

    /// dir.c `makeentry()`: an entry `name` -> `ino` in `parent`, growing
    /// the directory when it is full.
    pub fn makeentry(&mut self, parent: u32, ino: u32, name: &[u8]) -> bool {
        if parent < ROOTINO || !self.ino_ok(parent) || ino < ROOTINO || !self.ino_ok(ino) {
            return false;
        }
        let Some(mut ip) = self.inode(parent) else {
            return false;
        };
        if ip.size() % DIRBLKSIZ as u64 != 0 {
            ip.set_size(ip.size().div_ceil(DIRBLKSIZ as u64) * DIRBLKSIZ as u64);
            self.write_inode(&mut ip);
        }
        if self.try_mkentry(parent, ino, name) {
            return true;
        }
        let path = self.pathname(parent, parent);
        if !self.expanddir(parent, &path) {
            return false;
        }
        self.try_mkentry(parent, ino, name)
    }

    /// dir.c `changeino()`: points the entry `name` of `dir` at `newino`.
    pub fn changeino(&mut self, dir: u32, name: &[u8], newino: u32) -> bool {
        let dtype = self.ino.dtype(newino);
        let endian = self.geo.endian;
        self.edit_dir(dir, &mut |_, buf, loc, e| {
            if !e.is(name) {
                return (false, false);
            }
            let h = DirectHdr {
                d_ino: newino,
                d_reclen: e.reclen,
                d_type: dtype,
                d_namlen: e.namlen,
            };
            h.encode_into(&mut buf[loc..], endian);
            (true, true)
        })
    }

    /// Clears the entry of `dir` that names `ino` (not `.`/`..`).
    pub fn clearentry(&mut self, dir: u32, ino: u32) -> bool {
        let endian = self.geo.endian;
        self.edit_dir(dir, &mut |_, buf, loc, e| {
            if e.ino != ino || e.is(b".") || e.is(b"..") {
                return (false, false);
            }
            let h = DirectHdr {
                d_ino: 0,
                d_reclen: e.reclen,
                d_type: e.dtype,
                d_namlen: e.namlen,
            };
            h.encode_into(&mut buf[loc..], endian);
            (true, true)
        })
    }

    /// dir.c `expanddir()`: one more block for a full directory (direct
    /// blocks only, as lost+found needs).
    pub fn expanddir(&mut self, ino: u32, path: &str) -> bool {
        let text = format!("NO SPACE LEFT IN {path}");
        if !self.ask(Finding::new(Problem::NoSpaceInDir, text).ino(ino)) {
            return false;
        }
        let failed = |ctx: &mut Ctx<'a>| {
            ctx.note(" (EXPANSION FAILED)\n");
            false
        };
        let Some(mut ip) = self.inode(ino) else {
            return failed(self);
        };
        let bsize = self.geo.bsize64();
        let size = ip.size();
        let lastlbn = size / bsize;
        if !ip.is_dir() || size == 0 || lastlbn >= NDADDR as u64 {
            return failed(self);
        }
        let cg = self.geo.ino_to_cg(Ino(ino)).0;
        let endian = self.geo.endian;
        let lastsize = self.geo.blksize(size, lastlbn);
        let lastsize = if size >= (lastlbn + 1) * bsize {
            0
        } else {
            lastsize
        };
        let Some(newblk) = self.alloc_frags(cg, self.geo.frag) else {
            return failed(self);
        };
        let mut buf = vec![0u8; self.geo.bsize as usize];
        let mut from = 0usize;
        // Checked above: lastlbn < NDADDR, and a block is at most frag
        // fragments.
        #[allow(clippy::cast_possible_truncation)]
        let (lastlbn, nf) = (lastlbn as usize, (lastsize >> self.geo.fshift) as u32);
        if lastsize > 0 {
            let old = ip.db(lastlbn);
            let Some(oldbuf) = self.dir_block(old, nf) else {
                self.release(newblk, self.geo.frag);
                return failed(self);
            };
            buf[..oldbuf.len()].copy_from_slice(&oldbuf);
            from = oldbuf.len();
            self.release(old, nf);
            ip.set_size(size + bsize - lastsize);
            ip.set_blocks(ip.blocks() + (bsize - lastsize) / 512);
        } else {
            ip.set_size(size + bsize);
            ip.set_blocks(ip.blocks() + bsize / 512);
        }
        for chunk in (from..buf.len()).step_by(DIRBLKSIZ) {
            empty_chunk(&mut buf[chunk..], endian);
        }
        self.put(self.geo.frag_offset(Frag(newblk)), &buf, WriteClass::Data);
        ip.set_db(lastlbn, newblk);
        self.write_inode(&mut ip);
        let nsize = ip.size();
        if let Some(d) = self.dir_mut(ino) {
            d.isize = nsize;
        }
        true
    }

    /// dir.c `lftempname()`: `#` and the inode number, zero-padded to the
    /// width of the largest inode number.
    pub fn lftempname(&self, ino: u32) -> String {
        let width = self.geo.ninodes.max(1).to_string().len();
        format!("#{ino:0width$}")
    }

    /// The part of dir.c `linkup()` after `RECONNECT` was answered yes:
    /// finds or creates lost+found and enters the orphan there as
    /// `#INODE`; a directory's `..` is pointed at lost+found.
    pub fn reconnect(&mut self, orphan: u32, parentdir: u32) -> bool {
        if self.lfdir == 0 {
            match self.find_ino(ROOTINO, b"lost+found") {
                Some(l) => self.lfdir = l,
                None => {
                    let f = Finding::new(Problem::NoLostFound, "NO lost+found DIRECTORY");
                    if self.ask(f) {
                        if let Some(l) = self.allocdir(ROOTINO, 0, 0o700) {
                            if self.makeentry(ROOTINO, l, b"lost+found") {
                                self.lfdir = l;
                            } else {
                                // freedirino()
                                if let Some(mut rip) = self.inode(ROOTINO) {
                                    rip.set_nlink(rip.nlink().saturating_sub(1));
                                    self.write_inode(&mut rip);
                                }
                                self.freeino(l);
                            }
                        }
                    }
                }
            }
            if self.lfdir == 0 {
                let t = "SORRY. CANNOT CREATE lost+found DIRECTORY\n\n";
                self.ask(Finding::new(Problem::LostFoundFailed, t).ino(orphan));
                self.unresolved += 1;
                return false;
            }
        }
        if !self.inode(self.lfdir).is_some_and(|i| i.is_dir()) {
            let t = format!("lost+found IS NOT A DIRECTORY{}", self.fatal_sfx());
            if !self.ask(Finding::new(Problem::LostFoundNotDir, t).ino(self.lfdir)) {
                return false;
            }
            let old = self.lfdir;
            let Some(l) = self.allocdir(ROOTINO, 0, 0o700) else {
                self.lfdir = 0;
                return self.sorry(orphan, "SORRY. CANNOT CREATE lost+found DIRECTORY\n\n");
            };
            if !self.changeino(ROOTINO, b"lost+found", l) {
                self.lfdir = 0;
                return self.sorry(orphan, "SORRY. CANNOT CREATE lost+found DIRECTORY\n\n");
            }
            // The old one lost its name; phase 4 deals with it. The new
            // one gained the name that was changed to it.
            self.ino.add_link(old, 1);
            self.ino.add_link(l, -1);
            self.lfdir = l;
        }
        if self.ino.state(self.lfdir) != DFOUND {
            return self.sorry(orphan, "SORRY. NO lost+found DIRECTORY\n\n");
        }
        let lf = self.lfdir;
        let name = self.lftempname(orphan);
        if !self.makeentry(lf, orphan, name.as_bytes()) {
            return self.sorry(orphan, "SORRY. NO SPACE IN lost+found DIRECTORY\n\n");
        }
        let isdir = self.inode(orphan).is_some_and(|i| i.is_dir());
        if isdir {
            // lost+found gains the orphan's `..`: one more link, and one
            // more reference (counted by makeentry, or here for changeino).
            if self.changeino(orphan, b"..", lf) {
                self.ino.add_link(lf, -1);
                if parentdir != 0 && parentdir != u32::MAX {
                    // The old parent lost the reference phase 2 counted.
                    self.ino.add_link(parentdir, 1);
                }
            } else if parentdir != u32::MAX {
                self.makeentry(orphan, lf, b"..");
            } else {
                self.ino.add_link(lf, -1);
            }
            if let Some(mut lip) = self.inode(lf) {
                lip.set_nlink(lip.nlink().saturating_add(1));
                self.write_inode(&mut lip);
            }
            self.ino.add_link(lf, 1);
            if let Some(d) = self.dir_mut(orphan) {
                d.parent = lf;
                d.dotdot = lf;
            }
            // pwarn(): the image name first when preening.
            let mut s = if self.mode == super::AnswerMode::Preen {
                format!("{}: DIR I={orphan} CONNECTED. ", self.opts.name)
            } else {
                format!("DIR I={orphan} CONNECTED. ")
            };
            if parentdir != u32::MAX && self.dir(parentdir).is_some() {
                s.push_str(&format!("PARENT WAS I={parentdir}\n"));
            }
            if self.mode != super::AnswerMode::Preen {
                s.push('\n');
            }
            self.note(&s);
        }
        true
    }

    fn sorry(&mut self, orphan: u32, text: &str) -> bool {
        self.ask(Finding::new(Problem::LostFoundFailed, text).ino(orphan));
        self.unresolved += 1;
        false
    }

    /// The `PARTIALLY TRUNCATED INODE` salvages phase 1 agreed to, for the
    /// inodes that are staying (a file still marked for clearing keeps
    /// its blocks as they are: they may be another file's).
    pub fn zap_pending(&mut self) {
        for ino in std::mem::take(&mut self.pending_zap) {
            if matches!(self.ino.state(ino), USTATE | FCLEAR | DCLEAR) {
                continue;
            }
            if let Some(ip) = self.inode(ino) {
                self.zap_beyond_eof(&ip);
            }
        }
    }

    /// Zeroes the pointers an inode holds past the end of the file inside
    /// its indirect blocks (fsck_ffs `iblock()` on `PARTIALLY TRUNCATED
    /// INODE`). The blocks they named were never marked in use, so pass 5
    /// frees them.
    pub fn zap_beyond_eof(&mut self, ip: &Inode) {
        let ndb = ip.size().div_ceil(self.geo.bsize64());
        // Nothing is released: the blocks were never counted.
        let cut = self.tree_cut(ndb, 0);
        for (level, first, _) in cut.spans.levels() {
            let top = ip.ib(usize::from(level) - 1);
            if top != 0 {
                let mut edit = FsckTree {
                    ctx: self,
                    freed: 0,
                };
                let _ = bmap::cut_block(&cut, top, level, first, &mut edit);
            }
        }
    }

    /// A cut of this file system's trees at `keep` that releases what lies
    /// below `counted`, keeping indirect blocks that map kept blocks.
    fn tree_cut(&self, keep: u64, counted: u64) -> bmap::Cut {
        bmap::Cut {
            spans: bmap::Spans::of(&self.geo),
            fmt: bmap::PtrFormat::of(&self.geo),
            keep: Lbn(keep),
            counted: Lbn(counted),
            prune: bmap::Prune::Past,
        }
    }
}

use crate::bmap;
use crate::units::Lbn;

/// fsck's side of a cut: blocks are read and written through the overlay,
/// and a released block goes back to the block map (fragments counted for
/// `di_blocks`).
struct FsckTree<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    freed: u64,
}

impl bmap::TreeEdit for FsckTree<'_, '_> {
    fn read(&mut self, addr: u64) -> crate::Result<Option<Vec<u8>>> {
        Ok(self.ctx.dir_block(addr, self.ctx.geo.frag))
    }
    fn write(&mut self, addr: u64, block: &[u8]) -> crate::Result<()> {
        let off = self.ctx.geo.frag_offset(Frag(addr));
        self.ctx.put(off, block, WriteClass::Data);
        Ok(())
    }
    fn release(&mut self, addr: u64, _level: u8, _first: Lbn) -> crate::Result<()> {
        let frag = self.ctx.geo.frag;
        self.ctx.release(addr, frag);
        self.freed += u64::from(frag);
        Ok(())
    }
}

impl<'a> Ctx<'a> {
    /// Cuts a file to its first `keep` logical blocks: the blocks past
    /// them that pass 1 counted (those below the old end of file) are
    /// given back, indirect blocks that map nothing kept are given back
    /// too, and every pointer past `keep` is zeroed. The caller sets the
    /// new size and writes the inode; the fragments released are returned
    /// so it can fix `di_blocks`.
    pub fn cut_blocks(&mut self, ip: &mut Inode, keep: u64) -> u64 {
        let old_size = ip.size();
        let ndb = old_size.div_ceil(self.geo.bsize64());
        let mut freed = 0u64;
        for j in 0..NDADDR {
            let a = ip.db(j);
            if (j as u64) < keep || a == 0 {
                continue;
            }
            if (j as u64) < ndb {
                // A block's size in fragments: at most frag.
                #[allow(clippy::cast_possible_truncation)]
                let nf = (self.geo.blksize(old_size, j as u64) >> self.geo.fshift) as u32;
                self.release(a, nf.max(1));
                freed += u64::from(nf.max(1));
            }
            ip.set_db(j, 0);
        }
        let cut = self.tree_cut(keep, ndb);
        for (level, _, _) in cut.spans.levels() {
            let top = ip.ib(usize::from(level) - 1);
            if top == 0 {
                continue;
            }
            let mut edit = FsckTree {
                ctx: self,
                freed: 0,
            };
            let released = bmap::cut_tree(&cut, top, level, &mut edit).unwrap_or(false);
            freed += edit.freed;
            if released {
                ip.set_ib(usize::from(level) - 1, 0);
            }
        }
        freed
    }

    /// Points the pointer that `r` came from at `new` instead: a field of
    /// `ip` (written by the caller) or a slot of an indirect block, found
    /// by walking down from the inode through the overlay (so a parent
    /// indirect block moved earlier is followed to its new place).
    pub fn repoint(&mut self, ip: &mut Inode, r: &bmap::BlockRef, new: u64) {
        let spans = bmap::Spans::of(&self.geo);
        // What is pointed at: a logical block and its level (0: a data
        // block; k: an indirect block of level k).
        let (lbn, target) = match r.kind {
            bmap::BlockKind::Data { lbn } => (lbn, 0u8),
            bmap::BlockKind::Indirect { level, first_lbn } => {
                if spans.first(level) == Lbn(first_lbn) {
                    ip.set_ib(usize::from(level) - 1, new);
                    return;
                }
                (first_lbn, level)
            }
        };
        let path = match spans.path(Lbn(lbn)) {
            Some(bmap::BlockPath::Direct(i)) if target == 0 => {
                ip.set_db(i, new);
                return;
            }
            Some(p @ bmap::BlockPath::Indirect { .. }) => p,
            _ => return,
        };
        let bmap::BlockPath::Indirect { level: top, .. } = path else {
            return;
        };
        let idx = path.indices();
        // The pointer to a block of level `target` lives in the block of
        // level `target + 1`, that many steps below the inode's pointer.
        let Some(depth) = usize::from(top).checked_sub(usize::from(target) + 1) else {
            return;
        };
        let fmt = bmap::PtrFormat::of(&self.geo);
        let frag = self.geo.frag;
        let mut blk = ip.ib(usize::from(top) - 1);
        for &i in &idx[..depth] {
            let Some(next) = self.dir_block(blk, frag).and_then(|b| fmt.get(&b, i)) else {
                return;
            };
            blk = next;
        }
        let Some(mut buf) = self.dir_block(blk, frag) else {
            return;
        };
        if !fmt.set(&mut buf, idx[depth], new) {
            return;
        }
        // An existing indirect block now names a copy: it goes out with
        // the inodes, after the copy itself (a copied parent stays in the
        // class of its first write, new data).
        self.put(self.geo.frag_offset(Frag(blk)), &buf, WriteClass::Inode);
    }

    /// A fresh directory fragment of empty 512-byte chunks for a
    /// directory whose first block is a hole. Returns its address.
    pub fn empty_dir_frag(&mut self, ino: u32) -> Option<u64> {
        let cg = self.geo.ino_to_cg(Ino(ino)).0;
        let blk = self.alloc_frags(cg, 1)?;
        let fsize = self.geo.fsize as usize;
        let endian = self.geo.endian;
        let mut buf = vec![0u8; fsize];
        for chunk in (0..fsize).step_by(DIRBLKSIZ) {
            empty_chunk(&mut buf[chunk..], endian);
        }
        self.put(self.geo.frag_offset(Frag(blk)), &buf, WriteClass::Data);
        Some(blk)
    }
}

/// Sets the record length of the entry at `loc`.
pub fn set_reclen(buf: &mut [u8], loc: usize, reclen: u16, endian: crate::Endian) {
    if let Some(h) = buf.get(loc..).and_then(|b| DirectHdr::decode(b, endian)) {
        let h = DirectHdr {
            d_reclen: reclen,
            ..h
        };
        h.encode_into(&mut buf[loc..], endian);
    }
}

/// dir.c `emptydir`: an unused entry covering a whole 512-byte chunk.
pub fn empty_chunk(buf: &mut [u8], endian: crate::Endian) {
    let n = buf.len().min(DIRBLKSIZ);
    buf[..n].fill(0);
    let h = DirectHdr {
        d_ino: 0,
        d_reclen: DIRBLKSIZ_U16,
        d_type: 0,
        d_namlen: 0,
    };
    if n >= DirectHdr::SIZE {
        h.encode_into(buf, endian);
    }
}
