//! Phase 2 - Check Pathnames (fsck_ffs pass2.c `pass2()`, `pass2check()`;
//! dir.c `dirscan()`, `fsck_readdir()`, `dircheck()`, `propagate()`).
//!
//! Checks: the root inode (unallocated, not a directory, bad blocks);
//! directory sizes (too short, not a multiple of 512, holes); every
//! directory block, in disk order: record lengths, name lengths, NULs and
//! `/` in names, entries running across a 512-byte chunk (`DIRECTORY
//! CORRUPTED`: the rest of the chunk is then taken as empty); `.` and `..`
//! (missing, wrong inode, wrong type, extra copies); entries naming
//! out-of-range, free, to-be-cleared or zero-length inodes, extra hard
//! links to directories, bad whiteouts and wrong `d_type`s; then `..`
//! against the parent found by the scan.
//!
//! Leaves: each directory's parent and `..`, link counts decremented once
//! per entry found (as if the offered fixes had been made, as fsck_ffs
//! does), and the directories reached from the root marked `DFOUND`.

use super::problem::Problem;
use super::report::Finding;
use super::state::*;
use crate::io;
use crate::io::overlay::WriteClass;
use crate::ondisk::consts::DIRBLKSIZ;
use crate::units::Frag;

use crate::ondisk::consts::dt::{DT_DIR, DT_WHT};

struct Scan {
    entryno: u32,
    filesize: i64,
    fix: FixState,
    /// The entry the look-ahead of [`readdir`] found well formed, so that
    /// its header is decoded once (None at each block's start).
    ahead: Option<Found>,
}

impl Scan {
    /// A scan of a directory of `isize` bytes, before its first entry.
    fn new(isize: u64) -> Scan {
        Scan {
            entryno: 0,
            // Signed like fsck_ffs's `id_filesize` (an off_t), bit for bit.
            filesize: i64::from_ne_bytes(isize.to_ne_bytes()),
            fix: FixState::DontKnow,
            ahead: None,
        }
    }
}

/// Returns false when the check cannot go on (no usable root).
pub(super) fn pass2(ctx: &mut Ctx<'_>) -> bool {
    let sfx = ctx.fatal_sfx();
    match ctx.ino.state(ROOTINO) {
        USTATE => {
            let f = Finding::new(
                Problem::RootUnallocated,
                format!("ROOT INODE UNALLOCATED{sfx}"),
            )
            .ino(ROOTINO);
            if !ctx.ask(f) {
                return false;
            }
            if ctx.allocdir(ROOTINO, ROOTINO, 0o755).is_none() {
                ctx.note("CANNOT ALLOCATE ROOT INODE\n");
                return false;
            }
        }
        DCLEAR => {
            let f = Finding::new(Problem::RootDupBad, format!("DUPS/BAD IN ROOT INODE{sfx}"))
                .ino(ROOTINO);
            if ctx.ask(f) {
                reallocate_root(ctx);
            } else {
                ctx.ask(
                    Finding::new(Problem::RootDupBad, "")
                        .ino(ROOTINO)
                        .question(Some("CONTINUE")),
                );
            }
        }
        FSTATE | FCLEAR | FZLINK => {
            let f = Finding::new(
                Problem::RootNotDirectory,
                format!("ROOT INODE NOT DIRECTORY{sfx}"),
            )
            .ino(ROOTINO);
            if ctx.ask(f) {
                if !reallocate_root(ctx) {
                    return false;
                }
            } else if !ctx.ask(
                Finding::new(Problem::RootNotDirectory, "")
                    .ino(ROOTINO)
                    .question(Some("FIX")),
            ) {
                return false;
            } else if let Some(mut ip) = ctx.inode(ROOTINO) {
                ip.set_mode(
                    (ip.mode() & !crate::ondisk::consts::mode::IFMT)
                        | crate::ondisk::consts::mode::IFDIR,
                );
                ctx.write_inode(&mut ip);
            }
        }
        _ => {}
    }
    ctx.ino.set_state(ROOTINO, DFOUND);
    ctx.ino.set_state(WINO, FSTATE);
    ctx.ino.set_dtype(WINO, DT_WHT);
    // Disk-block order, as fsck_ffs sorts its directory list.
    ctx.dirs.sort_by_key(|d| (d.blk0, d.ino));
    ctx.dir_index = ctx
        .dirs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.ino, i))
        .collect();
    let ndirs = ctx.dirs.len() as u64;
    for i in 0..ctx.dirs.len() {
        if i % 64 == 0 {
            ctx.progress(2, i as u64, ndirs);
            ctx.read_ahead_dirs(if i == 0 { 0..128 } else { i + 64..i + 128 });
        }
        let ino = ctx.dirs[i].ino;
        let mut isize = ctx.dirs[i].isize;
        if isize == 0 || skip_cleared(ctx, ino) {
            continue;
        }
        if isize < crate::dir::MINDIRSIZE as u64 {
            let text = ctx.direrror(ino, "DIRECTORY TOO SHORT");
            isize = 512;
            ctx.dirs[i].isize = isize;
            if ctx.ask(Finding::new(Problem::DirTooShort, text).ino(ino)) {
                set_size(ctx, ino, isize);
            }
        } else if !isize.is_multiple_of(512) {
            let path = ctx.pathname(ino, ino);
            let sfx = ctx.fatal_sfx();
            let text = format!("DIRECTORY {path}: LENGTH {isize} NOT MULTIPLE OF 512{sfx}");
            isize = isize.div_ceil(512) * 512;
            ctx.dirs[i].isize = isize;
            if ctx.ask(Finding::new(Problem::DirLength, text).ino(ino)) {
                set_size(ctx, ino, isize);
            }
        }
        scan_dir(ctx, ino, isize);
        if ctx.stopped {
            return true;
        }
    }
    for i in 0..ctx.dirs.len() {
        let d = ctx.dirs[i].clone();
        if d.parent == 0 || d.isize == 0 || skip_cleared(ctx, d.ino) {
            continue;
        }
        if ctx.ino.state(d.parent) == DFOUND && dunfound(ctx.ino.state(d.ino)) {
            ctx.ino.set_state(d.ino, DFOUND);
        }
        if d.dotdot == d.parent || d.dotdot == u32::MAX {
            continue;
        }
        if d.dotdot == 0 {
            ctx.dirs[i].dotdot = d.parent;
            let text = ctx.fileerror(d.parent, d.ino, "MISSING '..'");
            if ctx.ask(Finding::new(Problem::MissingDotDot, text).ino(d.ino)) {
                // makeentry() counts the new reference to the parent.
                ctx.makeentry(d.ino, d.parent, b"..");
            }
            continue;
        }
        // 12.1 prints this one plainly (no inode summary): the directory,
        // where its `..` points and where it should.
        let text = format!(
            "BAD INODE NUMBER FOR '..' in DIR I={} ({})\nCURRENTLY POINTS TO I={} ({}), SHOULD POINT TO I={} ({})",
            d.ino,
            ctx.pathname(d.parent, d.ino),
            d.dotdot,
            ctx.pathname(d.dotdot, d.dotdot),
            d.parent,
            ctx.pathname(d.parent, d.parent)
        );
        if ctx.ask(Finding::new(Problem::BadDotDotIno, text).ino(d.ino)) {
            ctx.ino.add_link(d.dotdot, 1);
            ctx.ino.add_link(d.parent, -1);
            if let Some(x) = ctx.dir_mut(d.ino) {
                x.dotdot = d.parent;
            }
            ctx.changeino(d.ino, b"..", d.parent);
        }
    }
    propagate(ctx);
    true
}

/// Root REALLOCATE: the old root is freed and a new one made in its
/// place; everything that was in it is reconnected in phase 3.
fn reallocate_root(ctx: &mut Ctx<'_>) -> bool {
    ctx.freeino(ROOTINO);
    if ctx.allocdir(ROOTINO, ROOTINO, 0o755).is_none() {
        ctx.note("CANNOT ALLOCATE ROOT INODE\n");
        return false;
    }
    true
}

/// A repair does not read directories that are going to be cleared (bad
/// or duplicate blocks): their entries would be counted as references
/// that vanish with them. What they held is reconnected instead.
fn skip_cleared(ctx: &Ctx<'_>, ino: u32) -> bool {
    ctx.writing() && ctx.ino.state(ino) == DCLEAR && ino != ROOTINO
}

fn set_size(ctx: &mut Ctx<'_>, ino: u32, size: u64) {
    if let Some(mut ip) = ctx.inode(ino) {
        ip.set_size(size);
        ctx.write_inode(&mut ip);
    }
}

/// Cuts a directory at its first hole (`ADJUST LENGTH`): the size drops
/// to the hole and every block past it is given back (fsck_ffs only
/// shortens the size and asks for a second run, whose pass 1 then clears
/// the whole directory for its blocks past the end). Entries past the hole
/// are lost with their blocks, so the files they named are unreferenced
/// and go to lost+found. A hole at the very start gets a fresh fragment of
/// empty chunks, where the scan then puts `.` and `..`.
fn cut_at_hole(ctx: &mut Ctx<'_>, ino: u32, lbn: u64) -> bool {
    let Some(mut ip) = ctx.inode(ino) else {
        return false;
    };
    let first = if lbn == 0 {
        let Some(blk) = ctx.empty_dir_frag(ino) else {
            return false;
        };
        Some(blk)
    } else {
        None
    };
    let keep = lbn.max(1);
    let freed = ctx.cut_blocks(&mut ip, keep);
    let per_frag = u64::from(ctx.geo.fsize) / 512;
    let mut blocks = ip.blocks().saturating_sub(freed * per_frag);
    let newsize = match first {
        Some(blk) => {
            ip.set_db(0, blk);
            blocks += per_frag;
            DIRBLKSIZ as u64
        }
        None => lbn * ctx.geo.bsize64(),
    };
    ip.set_size(newsize);
    ip.set_blocks(blocks);
    ctx.write_inode(&mut ip);
    if let Some(d) = ctx.dir_mut(ino) {
        d.isize = newsize;
        if let Some(blk) = first {
            d.blk0 = blk;
        }
    }
    true
}

/// Encodes an entry back at `at` (header, name, NUL padding).
fn write_ent(ctx: &Ctx<'_>, buf: &mut [u8], at: usize, e: &DirEnt) {
    let h = crate::ondisk::DirectHdr {
        d_ino: e.ino,
        d_reclen: e.reclen,
        d_type: e.dtype,
        d_namlen: e.namlen,
    };
    let Some(dst) = buf.get_mut(at..) else { return };
    h.encode_into(dst, ctx.geo.endian);
    let end = (8 + usize::from(e.dirsiz()).saturating_sub(8))
        .min(usize::from(e.reclen))
        .min(dst.len());
    for (k, b) in dst.iter_mut().enumerate().take(end).skip(8) {
        *b = e.name.get(k - 8).copied().unwrap_or(0);
    }
}

/// dir.c `propagate()`: marks every directory whose parent was reached.
pub(super) fn propagate(ctx: &mut Ctx<'_>) {
    loop {
        let mut change = false;
        for i in 0..ctx.dirs.len() {
            let (ino, parent) = (ctx.dirs[i].ino, ctx.dirs[i].parent);
            if parent == 0 {
                continue;
            }
            if ctx.ino.state(parent) == DFOUND && dunfound(ctx.ino.state(ino)) {
                ctx.ino.set_state(ino, DFOUND);
                change = true;
            }
        }
        if !change {
            break;
        }
    }
}

fn scan_dir(ctx: &mut Ctx<'_>, ino: u32, isize: u64) {
    let Some(ip) = ctx.inode(ino) else { return };
    let mut st = Scan::new(isize);
    let mut hole_told = false;
    let mut buf = Vec::new();
    for (lbn, addr, nf) in ctx.dir_blocks(&ip, isize) {
        let blksiz = u64::from(nf) << ctx.geo.fshift;
        if addr == 0 {
            if !hole_told {
                hole_told = true;
                let path = ctx.pathname(ino, ino);
                let text = format!("DIRECTORY {path}: CONTAINS EMPTY BLOCKS{}", ctx.fatal_sfx());
                if ctx.ask(Finding::new(Problem::DirHole, text).ino(ino)) {
                    if cut_at_hole(ctx, ino, lbn) {
                        if lbn == 0 {
                            // Nothing was scanned yet: scan the new block.
                            let size = ctx.dir(ino).map_or(0, |d| d.isize);
                            scan_dir(ctx, ino, size);
                        }
                        return;
                    }
                    ctx.unresolved += 1;
                }
            }
            continue;
        }
        if !ctx.geo.run_in_range(Frag(addr), u64::from(nf)) {
            st.filesize -= i64::from(nf) << ctx.geo.fshift;
            continue;
        }
        // At most one block (64 KiB). One buffer for the directory: the
        // read fills it whole, so it is only resized, never cleared.
        #[allow(clippy::cast_possible_truncation)]
        buf.resize(blksiz as usize, 0);
        if io::read_exact(ctx.dev, ctx.geo.frag_offset(Frag(addr)), &mut buf).is_err() {
            continue;
        }
        let mut loc = 0usize;
        let mut dirty = false;
        st.ahead = None;
        while let Some(f) = readdir(ctx, &mut st, &mut buf, &mut loc, ino, &mut dirty) {
            pass2check(ctx, &mut st, ino, f, &mut buf, &mut dirty);
        }
        if dirty {
            let off = ctx.geo.frag_offset(Frag(addr));
            ctx.put(off, &buf, WriteClass::Dir);
        }
    }
}

fn dofix(ctx: &mut Ctx<'_>, st: &mut Scan, dir: u32, problem: Problem, msg: &str) -> bool {
    if st.fix == FixState::DontKnow {
        let text = ctx.direrror(dir, msg);
        let yes = ctx.ask(Finding::new(problem, text).ino(dir));
        st.fix = if yes { FixState::Fix } else { FixState::NoFix };
    }
    st.fix == FixState::Fix
}

/// An entry as [`readdir`] gives it out: its header, with the record
/// length as the salvage left it, and where it starts in the block. The
/// name stays in the block: most entries are checked without a copy of it.
#[derive(Clone, Copy, Debug, Default)]
struct Found {
    at: usize,
    ino: u32,
    reclen: u16,
    dtype: u8,
    namlen: u8,
}

impl Found {
    /// The header of the entry at `loc` (None if it does not fit).
    fn at(buf: &[u8], loc: usize, endian: crate::Endian) -> Option<Found> {
        let h = crate::ondisk::DirectHdr::decode(buf.get(loc..)?, endian)?;
        Some(Found {
            at: loc,
            ino: h.d_ino,
            reclen: h.d_reclen,
            dtype: h.d_type,
            namlen: h.d_namlen,
        })
    }

    /// The header at `loc` when the entry there is well formed, with
    /// `filesize` bytes of the directory left (fsck_ffs 12.1
    /// `dircheck()`, [`crate::dir::EntryHead::fsck_check`]).
    fn checked(buf: &[u8], loc: usize, endian: crate::Endian, filesize: i64) -> Option<Found> {
        let f = Found::at(buf, loc, endian)?;
        let end = loc + 8 + usize::from(f.namlen);
        let head = crate::dir::EntryHead {
            ino: f.ino,
            reclen: f.reclen,
            dtype: f.dtype,
            namlen: f.namlen,
            name: buf.get(loc + 8..end).unwrap_or_default(),
            terminated: buf.get(end) == Some(&0),
        };
        head.fsck_check(DIRBLKSIZ - (loc % DIRBLKSIZ), filesize)
            .is_ok()
            .then_some(f)
    }

    /// The name bytes present in `buf` (none if the name runs past it).
    fn name<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        let start = self.at + 8;
        buf.get(start..start + usize::from(self.namlen))
            .unwrap_or_default()
    }

    /// The entry with its own copy of the name, for the checks that move
    /// or rewrite it. The salvage in [`readdir`] changes nothing before
    /// the entry's record length, so the name is as it was read.
    fn owned(&self, buf: &[u8]) -> DirEnt {
        DirEnt {
            ino: self.ino,
            reclen: self.reclen,
            dtype: self.dtype,
            namlen: self.namlen,
            name: EntName::new(self.name(buf)),
            nul: buf.get(self.at + 8 + usize::from(self.namlen)) == Some(&0),
        }
    }
}

/// fsck_ffs `fsck_readdir()` (12.1): the next entry, with a bad entry at
/// the start of a chunk replaced by an empty entry covering the chunk, and
/// a bad entry after a good one absorbed into the good one. The block is
/// changed in memory either way (as fsck_ffs does); it is marked for
/// writing only when the salvage was accepted. Each header is decoded
/// once: the check of the entry ahead keeps it in `st.ahead` for the next
/// call.
fn readdir(
    ctx: &mut Ctx<'_>,
    st: &mut Scan,
    buf: &mut [u8],
    loc: &mut usize,
    dir: u32,
    dirty: &mut bool,
) -> Option<Found> {
    let endian = ctx.geo.endian;
    let blksiz = buf.len();
    if loc.is_multiple_of(512) && st.filesize > 0 && *loc < blksiz {
        st.ahead = Found::checked(buf, *loc, endian, st.filesize);
        if st.ahead.is_none() {
            let at = *loc;
            let fix = dofix(ctx, st, dir, Problem::DirCorrupted, "DIRECTORY CORRUPTED");
            *loc += 512;
            st.filesize -= 512;
            if let Some(chunk) = buf.get_mut(at..at + 512) {
                super::fix::empty_chunk(chunk, endian);
                *dirty |= fix;
            }
            return Some(Found {
                at,
                reclen: 512,
                ..Default::default()
            });
        }
    }
    if st.filesize <= 0 || *loc >= blksiz {
        return None;
    }
    let mut e = match st.ahead.take() {
        Some(a) if a.at == *loc => a,
        _ => Found::at(buf, *loc, endian)?,
    };
    if e.reclen == 0 {
        return None;
    }
    let at = *loc;
    *loc += usize::from(e.reclen);
    st.filesize -= i64::from(e.reclen);
    if loc.is_multiple_of(512) {
        return Some(e);
    }
    if *loc < blksiz && st.filesize > 0 {
        st.ahead = Found::checked(buf, *loc, endian, st.filesize);
        if st.ahead.is_none() {
            // At most 512.
            #[allow(clippy::cast_possible_truncation)]
            let size16 = (512 - *loc % 512) as u16;
            let size = usize::from(size16);
            let bad = *loc;
            *loc += size;
            st.filesize -= i64::from(size16);
            let fix = dofix(ctx, st, dir, Problem::DirCorrupted, "DIRECTORY CORRUPTED");
            e.reclen = e.reclen.saturating_add(size16);
            if let Some(b) = buf.get_mut(bad..bad + size) {
                b.fill(0);
            }
            super::fix::set_reclen(buf, at, e.reclen, endian);
            *dirty |= fix;
        }
    }
    Some(e)
}

fn proto(ino: u32, name: &[u8], reclen: u16) -> DirEnt {
    DirEnt {
        ino,
        reclen,
        dtype: DT_DIR,
        // Only "." and "..".
        #[allow(clippy::cast_possible_truncation)]
        namlen: name.len() as u8,
        name: EntName::new(name),
        nul: true,
    }
}

/// fsck_ffs `pass2check()`. `f` is an entry of `buf`; every fix answered
/// yes is put back into `buf` (and `dirty` set).
#[inline]
fn pass2check(
    ctx: &mut Ctx<'_>,
    st: &mut Scan,
    dir: u32,
    f: Found,
    buf: &mut [u8],
    dirty: &mut bool,
) {
    if st.entryno < 2 {
        dots(ctx, st, dir, f, buf, dirty);
        return;
    }
    // Past `.` and `..` (every entry but two of a directory) only what the
    // entry names is checked, and a fix changes its inode number or type
    // in place: the name is read where it lies.
    let (mut ino, mut dtype) = (f.ino, f.dtype);
    if chk2(ctx, st, dir, &mut ino, &mut dtype, f.name(buf)) {
        let e = DirEnt {
            ino,
            dtype,
            ..f.owned(buf)
        };
        finish(ctx, buf, f.at, &e, None, true, dirty);
    }
}

/// `pass2check()` for a directory's first two entries, where `.` and `..`
/// belong: they may be moved, split or rewritten, so they are worked on
/// in a copy. Kept out of line: it is most of the code and runs twice per
/// directory.
#[inline(never)]
fn dots(ctx: &mut Ctx<'_>, st: &mut Scan, dir: u32, f: Found, buf: &mut [u8], dirty: &mut bool) {
    let mut e = f.owned(buf);
    let mut at = f.at;
    let sfx = ctx.fatal_sfx();
    let mut altered = false;
    // The `.` entry shortened to make room for `..`: written only if what
    // follows is changed (fsck_ffs edits a copy and writes it on ALTERED).
    let mut pending_dot: Option<(usize, DirEnt)> = None;
    let to_chk2 = !ctx.ino_ok(e.ino);
    let mut to_chk1 = false;
    if !to_chk2 {
        if st.entryno != 0 {
            to_chk1 = true;
        } else if e.ino != 0 && e.is(b".") {
            if e.ino != dir {
                let text = ctx.direrror(dir, "BAD INODE NUMBER FOR '.'");
                e.ino = dir;
                altered |= ctx.ask(Finding::new(Problem::BadDotIno, text).ino(dir));
            }
            if e.dtype != DT_DIR {
                let text = ctx.direrror(dir, "BAD TYPE VALUE FOR '.'");
                e.dtype = DT_DIR;
                altered |= ctx.ask(Finding::new(Problem::BadDotType, text).ino(dir));
            }
            to_chk1 = true;
        } else {
            let head = ctx.direrror(dir, "MISSING '.'");
            if e.ino != 0 && !e.is(b"..") {
                ctx.ask(
                    Finding::new(Problem::MissingDot, head)
                        .ino(dir)
                        .question(None),
                );
                // fsck_ffs gives up here ("CANNOT FIX"), so every later run
                // finds the same. `.` takes the slot instead; the entry
                // moves behind it when its record has room (and is then
                // checked as the second entry), else it is dropped and the
                // file it named is reconnected by phases 3 and 4.
                let t = format!("FIRST ENTRY IN DIRECTORY CONTAINS {}\n{sfx}", e.name_str());
                if ctx.ask(Finding::new(Problem::DotSlotTaken, t).ino(dir)) {
                    altered = true;
                    if e.reclen >= e.dirsiz() + 12 {
                        write_ent(ctx, buf, at, &proto(dir, b".", 12));
                        st.entryno += 1;
                        ctx.ino.add_link(dir, -1);
                        at += 12;
                        e.reclen -= 12;
                    } else {
                        e = proto(dir, b".", e.reclen);
                    }
                }
            } else if e.reclen < 12 {
                ctx.ask(
                    Finding::new(Problem::MissingDot, head)
                        .ino(dir)
                        .question(None),
                );
                let t = format!("CANNOT FIX, INSUFFICIENT SPACE TO ADD '.'\n{sfx}");
                ctx.ask(Finding::new(Problem::CannotFixDot, t).ino(dir));
            } else if e.reclen < 24 {
                e = proto(dir, b".", e.reclen);
                altered |= ctx.ask(Finding::new(Problem::MissingDot, head).ino(dir));
            } else {
                let n = e.reclen - 12;
                st.entryno += 1;
                ctx.ino.add_link(dir, -1);
                let rest = DirEnt {
                    reclen: n,
                    ..Default::default()
                };
                if ctx.ask(Finding::new(Problem::MissingDot, head).ino(dir)) {
                    write_ent(ctx, buf, at, &proto(dir, b".", 12));
                    if let Some(b) = buf.get_mut(at + 12..at + usize::from(e.reclen)) {
                        b.fill(0);
                    }
                    write_ent(ctx, buf, at + 12, &rest);
                    *dirty = true;
                }
                at += 12;
                e = rest;
            }
            to_chk1 = true;
        }
    }
    if to_chk1 && !to_chk2 && st.entryno <= 1 {
        let parent = ctx.dir(dir).map_or(0, |d| d.parent);
        let mut skip = false;
        if st.entryno == 0 {
            let n = e.dirsiz();
            if e.reclen < n + 12 {
                skip = true;
            } else {
                let rest = e.reclen - n;
                st.entryno += 1;
                ctx.ino.add_link(e.ino, -1);
                let mut dot = e.clone();
                dot.reclen = n;
                pending_dot = Some((at, dot));
                at += usize::from(n);
                e = DirEnt {
                    reclen: rest,
                    ..Default::default()
                };
            }
        }
        if !skip {
            if e.ino != 0 && e.is(b"..") {
                if let Some(d) = ctx.dir_mut(dir) {
                    d.dotdot = e.ino;
                }
                if e.dtype != DT_DIR {
                    let text = ctx.direrror(dir, "BAD TYPE VALUE FOR '..'");
                    e.dtype = DT_DIR;
                    altered |= ctx.ask(Finding::new(Problem::BadDotDotType, text).ino(dir));
                }
                altered |= chk2(ctx, st, dir, &mut e.ino, &mut e.dtype, &e.name);
            } else {
                if e.ino != 0 && !e.is(b".") {
                    let head = ctx.fileerror(parent, dir, "MISSING '..'");
                    ctx.ask(
                        Finding::new(Problem::MissingDotDot, head)
                            .ino(dir)
                            .question(None),
                    );
                    // As for `.` above: `..` takes the slot (naming the
                    // parent once it is known; until then the slot is left
                    // empty for the end of phase 2 or phase 3 to fill), and
                    // the entry found there moves behind it or is dropped.
                    let t = format!("SECOND ENTRY IN DIRECTORY CONTAINS {}\n{sfx}", e.name_str());
                    if ctx.ask(Finding::new(Problem::DotDotSlotTaken, t).ino(dir)) {
                        let dd = if parent != 0 {
                            proto(parent, b"..", 12)
                        } else {
                            DirEnt {
                                reclen: 12,
                                ..Default::default()
                            }
                        };
                        if let Some(d) = ctx.dir_mut(dir) {
                            d.dotdot = parent;
                        }
                        st.entryno += 1;
                        if parent != 0 {
                            ctx.ino.add_link(parent, -1);
                        }
                        if e.reclen >= e.dirsiz() + 12 {
                            write_ent(ctx, buf, at, &dd);
                            at += 12;
                            e.reclen -= 12;
                            chk2(ctx, st, dir, &mut e.ino, &mut e.dtype, &e.name);
                        } else {
                            e = DirEnt {
                                reclen: e.reclen,
                                ..dd
                            };
                        }
                        finish(ctx, buf, at, &e, pending_dot, true, dirty);
                        return;
                    }
                    if let Some(d) = ctx.dir_mut(dir) {
                        d.dotdot = u32::MAX;
                    }
                } else if e.reclen < 12 {
                    let head = ctx.fileerror(parent, dir, "MISSING '..'");
                    ctx.ask(
                        Finding::new(Problem::MissingDotDot, head)
                            .ino(dir)
                            .question(None),
                    );
                    let t = format!("CANNOT FIX, INSUFFICIENT SPACE TO ADD '..'\n{sfx}");
                    ctx.ask(Finding::new(Problem::CannotFixDotDot, t).ino(dir));
                    if let Some(d) = ctx.dir_mut(dir) {
                        d.dotdot = u32::MAX;
                    }
                } else if parent != 0 {
                    if let Some(d) = ctx.dir_mut(dir) {
                        d.dotdot = parent;
                    }
                    let head = ctx.fileerror(parent, dir, "MISSING '..'");
                    e = proto(parent, b"..", e.reclen);
                    altered |= ctx.ask(Finding::new(Problem::MissingDotDot, head).ino(dir));
                }
                st.entryno += 1;
                if e.ino != 0 {
                    ctx.ino.add_link(e.ino, -1);
                }
            }
            finish(ctx, buf, at, &e, pending_dot, altered, dirty);
            return;
        }
    }
    let first_dot = to_chk2 && st.entryno == 0 && e.is(b".");
    altered |= chk2(ctx, st, dir, &mut e.ino, &mut e.dtype, &e.name);
    if first_dot && e.ino == 0 {
        // `.` named an inode out of range and was removed; fsck_ffs leaves
        // the slot empty and only the next run puts `.` back.
        let head = ctx.direrror(dir, "MISSING '.'");
        if ctx.ask(Finding::new(Problem::MissingDot, head).ino(dir)) {
            e.ino = dir;
            e.dtype = DT_DIR;
            ctx.ino.add_link(dir, -1);
            altered = true;
        }
    }
    finish(ctx, buf, at, &e, pending_dot, altered, dirty);
}

fn finish(
    ctx: &Ctx<'_>,
    buf: &mut [u8],
    at: usize,
    e: &DirEnt,
    pending_dot: Option<(usize, DirEnt)>,
    altered: bool,
    dirty: &mut bool,
) {
    if !altered || !ctx.writing() {
        return;
    }
    if let Some((dat, dot)) = pending_dot {
        write_ent(ctx, buf, dat, &dot);
        if let Some(b) = buf.get_mut(at..at + usize::from(e.reclen)) {
            b.fill(0);
        }
    }
    write_ent(ctx, buf, at, e);
    *dirty = true;
}

/// The second half of `pass2check()`: what the entry named `name` (inode
/// `ino`, type `dtype`) names. Returns whether the entry was changed
/// (answered yes).
fn chk2(
    ctx: &mut Ctx<'_>,
    st: &mut Scan,
    dir: u32,
    ino: &mut u32,
    dtype: &mut u8,
    name: &[u8],
) -> bool {
    if *ino == 0 {
        return false;
    }
    if name.len() <= 2 && name.first() == Some(&b'.') && st.entryno >= 2 {
        if name.len() == 1 {
            let text = ctx.direrror(dir, "EXTRA '.' ENTRY");
            *ino = 0;
            return ctx.ask(Finding::new(Problem::ExtraDot, text).ino(dir));
        }
        if name.get(1) == Some(&b'.') {
            let text = ctx.direrror(dir, "EXTRA '..' ENTRY");
            *ino = 0;
            return ctx.ask(Finding::new(Problem::ExtraDotDot, text).ino(dir));
        }
    }
    st.entryno += 1;
    if !ctx.ino_ok(*ino) {
        let yes = ask_file(ctx, dir, *ino, Problem::InoOutOfRange, "I OUT OF RANGE");
        if yes {
            *ino = 0;
        }
        return yes;
    }
    if (*ino == WINO && *dtype != DT_WHT) || (*ino != WINO && *dtype == DT_WHT) {
        let yes = ask_file(ctx, dir, *ino, Problem::BadWhiteout, "BAD WHITEOUT ENTRY");
        if yes {
            *ino = WINO;
            *dtype = DT_WHT;
        }
        return yes;
    }
    // Most entries: a file of the type the entry says.
    if ctx.ino.ref_file(*ino, *dtype) {
        return false;
    }
    // At most two rounds: a "no" to REMOVE turns a cleared inode back into
    // an ordinary one.
    for _ in 0..2 {
        let s = ctx.ino.state(*ino);
        match s {
            USTATE => {
                if st.entryno <= 2 {
                    return false;
                }
                let yes = ask_file(ctx, dir, *ino, Problem::Unallocated, "UNALLOCATED");
                if yes {
                    *ino = 0;
                }
                return yes;
            }
            DCLEAR | FCLEAR => {
                if st.entryno <= 2 {
                    return false;
                }
                let (p, msg) = if s == FCLEAR {
                    (Problem::DupBadEntry, "DUP/BAD")
                } else if !ctx.opts.preen && !ctx.softdep {
                    (Problem::ZeroLengthDirEntry, "ZERO LENGTH DIRECTORY")
                } else {
                    // fsck_ffs drops the entry without a word here: with
                    // soft updates (or preening) a cleared zero-length
                    // directory is an expected leftover, and keeping the
                    // entry would leave it naming an inode pass 4 frees.
                    *ino = 0;
                    return true;
                };
                if ask_file(ctx, dir, *ino, p, msg) {
                    *ino = 0;
                    return true;
                }
                let Some(ip) = ctx.inode(*ino) else {
                    return false;
                };
                ctx.ino
                    .set_state(*ino, if ip.is_dir() { DSTATE } else { FSTATE });
                ctx.ino.set_link(*ino, i32::from(ip.nlink()));
                continue;
            }
            DSTATE | DZLINK | DFOUND => {
                if s != DFOUND && ctx.ino.state(dir) == DFOUND {
                    ctx.ino.set_state(*ino, DFOUND);
                }
                if st.entryno > 2 {
                    let parent = ctx.dir(*ino).map_or(0, |d| d.parent);
                    if parent == 0 {
                        if let Some(d) = ctx.dir_mut(*ino) {
                            d.parent = dir;
                        }
                    } else if fix_extraneous(ctx, dir, *ino, parent, name) {
                        *ino = 0;
                        return true;
                    }
                }
                return file_entry(ctx, dir, *ino, dtype);
            }
            FSTATE | FZLINK => {
                return file_entry(ctx, dir, *ino, dtype);
            }
            _ => return false,
        }
    }
    false
}

/// A directory met under a second name (fsck_ffs 12.1 `fix_extraneous()`):
/// the name in the directory the subdirectory's own `..` names is kept.
/// `old` is the parent that claimed it first, `dir` the one being scanned.
/// Returns whether the entry being scanned goes; when instead the old name
/// goes, `dir` becomes the parent and the old name's link is handed back.
#[cold]
#[inline(never)]
fn fix_extraneous(ctx: &mut Ctx<'_>, dir: u32, ino: u32, old: u32, name: &[u8]) -> bool {
    let mut dotdot = ctx.dir(ino).map_or(0, |d| d.dotdot);
    if dotdot == 0 {
        // Not scanned yet: ask the directory itself which parent it names.
        if let Some(p) = ctx.find_ino(ino, b"..") {
            dotdot = p;
            if let Some(d) = ctx.dir_mut(ino) {
                d.dotdot = p;
            }
        }
    }
    // The old name stays unless `..` names the new directory only (and the
    // two names are not in the same directory).
    let keep_old = dotdot == 0 || dir == old || dotdot != dir || dotdot == old;
    let text = if keep_old {
        let path = ctx.pathname(dir, dir);
        let sep = if path == "/" { "" } else { "/" };
        format!(
            "{path}{sep}{} IS AN EXTRANEOUS HARD LINK TO DIRECTORY {}",
            String::from_utf8_lossy(name),
            ctx.pathname(ino, ino)
        )
    } else {
        format!(
            "{} IS AN EXTRANEOUS HARD LINK TO DIRECTORY {}",
            ctx.pathname(old, ino),
            ctx.pathname(ino, ino)
        )
    };
    let yes = ctx.ask(Finding::new(Problem::ExtraneousHardLink, text).ino(ino));
    if keep_old || !yes {
        return keep_old && yes;
    }
    ctx.clearentry(old, ino);
    if let Some(d) = ctx.dir_mut(ino) {
        d.parent = dir;
    }
    // The removed name was already counted as a reference in its scan.
    ctx.ino.add_link(ino, 1);
    false
}

#[inline]
fn file_entry(ctx: &mut Ctx<'_>, dir: u32, ino: u32, dtype: &mut u8) -> bool {
    let mut yes = false;
    if *dtype != ctx.ino.dtype(ino) {
        yes = ask_file(ctx, dir, ino, Problem::BadTypeValue, "BAD TYPE VALUE");
        if yes {
            *dtype = ctx.ino.dtype(ino);
        }
    }
    ctx.ino.add_link(ino, -1);
    yes
}

/// Asks about the entry of `dir` naming `ino` (fsck_ffs `fileerror()` and
/// the question). Out of line: a clean directory never asks, and the
/// message building kept the per-entry checks from staying small.
#[cold]
#[inline(never)]
fn ask_file(ctx: &mut Ctx<'_>, dir: u32, ino: u32, problem: Problem, msg: &str) -> bool {
    let text = ctx.fileerror(dir, ino, msg);
    ctx.ask(Finding::new(problem, text).ino(ino))
}
