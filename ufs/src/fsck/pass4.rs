//! Phase 4 - Check Reference Counts (fsck_ffs pass4.c `pass4()`; dir.c
//! `adjust()`; inode.c `clri()`).
//!
//! Checks: for every inode in use, the link count against the entries
//! found in phase 2 (`LINK COUNT ... COUNT n SHOULD BE m`), files with a
//! link count but no entry (`UNREF FILE`, offered for reconnection, then
//! clearing), unreferenced inodes with link count zero, zero-length
//! directories and files marked for clearing because of bad or duplicate
//! blocks. Leaves: nothing new (phase 5 uses the states).

use super::pass3::linkup;
use super::problem::Problem;
use super::report::Finding;
use super::state::*;

pub(super) fn pass4(ctx: &mut Ctx<'_>) {
    let ipg = ctx.geo.ipg;
    for cg in 0..ctx.geo.ncg {
        let first = cg * ipg;
        let mut from = 0;
        while let Some(i) = next_to_check(&ctx.ino, cg, from) {
            from = i + 1;
            let ino = first + i;
            if ino < ROOTINO {
                continue;
            }
            match ctx.ino.state(ino) {
                FZLINK | DZLINK if ctx.ino.link(ino) == 0 => clri(ctx, ino, "UNREF", true),
                FZLINK | DZLINK | FSTATE | DFOUND => {
                    let n = ctx.ino.link(ino);
                    if n != 0 {
                        adjust(ctx, ino, n);
                    }
                }
                DSTATE => clri(ctx, ino, "UNREF", true),
                DCLEAR => {
                    if ctx.inode(ino).is_some_and(|i| i.size() == 0) {
                        clri(ctx, ino, "ZERO LENGTH", true);
                    } else {
                        clri(ctx, ino, "BAD/DUP", true);
                    }
                }
                FCLEAR => clri(ctx, ino, "BAD/DUP", true),
                _ => {}
            }
        }
    }
}

/// Whether phase 4 has nothing to do with an inode of this state and link
/// entry: free, or a file or reached directory whose references all were
/// found.
fn settled(state: u8, links: bool) -> bool {
    !links && matches!(state, USTATE | FSTATE | DFOUND)
        || !matches!(
            state,
            FSTATE | FZLINK | DSTATE | DZLINK | DFOUND | DCLEAR | FCLEAR
        )
}

/// The first inode of group `cg`, from offset `from` on, that phase 4 may
/// have to do something with; runs of sixteen settled inodes (nearly every
/// run of a clean check) are passed over at once. Called again after
/// each inode is dealt with, so it sees the states as the check left
/// them, as a visit of every inode in turn would.
fn next_to_check(ino: &InoTable, cg: u32, from: u32) -> Option<u32> {
    const RUN: usize = 16;
    let slots = ino.group_slots(cg);
    let mut i = from as usize;
    while i < slots.len() {
        if i.is_multiple_of(RUN) && i + RUN <= slots.len() {
            // Folded without branches, so the compiler compares the run
            // as vectors.
            let quiet = slots[i..i + RUN].iter().fold(true, |a, &s| {
                a & !s.has_links() & matches!(s.state(), USTATE | FSTATE | DFOUND)
            });
            if quiet {
                i += RUN;
                continue;
            }
        }
        if !settled(slots[i].state(), slots[i].has_links()) {
            // Below the group's slot count, a u32.
            return u32::try_from(i).ok();
        }
        i += 1;
    }
    // The slots past the stored ones read as free: settled.
    None
}

/// inode.c `clri()`: offers to clear an inode; with `flag` the inode is
/// described first.
fn clri(ctx: &mut Ctx<'_>, ino: u32, kind: &str, flag: bool) {
    let problem = match kind {
        "UNREF" => Problem::UnrefClear,
        "ZERO LENGTH" => Problem::ZeroLengthDir,
        _ => Problem::BadDupClear,
    };
    let text = if flag {
        let isdir = ctx.inode(ino).is_some_and(|i| i.is_dir());
        format!(
            "{kind} {}{}",
            if isdir { "DIR" } else { "FILE" },
            ctx.pinode(ino)
        )
    } else {
        String::new()
    };
    if ctx.ask(Finding::new(problem, text).ino(ino)) {
        ctx.freeino(ino);
    }
}

/// dir.c `adjust()`.
fn adjust(ctx: &mut Ctx<'_>, ino: u32, lcnt: i32) {
    let Some(ip) = ctx.inode(ino) else { return };
    let nlink = i32::from(ip.nlink());
    let mut lcnt = lcnt;
    if nlink == lcnt {
        if ctx.preen_tosses_orphans() {
            clri(ctx, ino, "UNREF", true);
            return;
        }
        if !linkup(ctx, ino, 0) {
            clri(ctx, ino, "UNREF", false);
            return;
        }
        // linkup() made (and counted) one reference.
        lcnt = ctx.ino.link(ino);
        if lcnt == 0 {
            return;
        }
    }
    let what = if ip.is_dir() { "DIR" } else { "FILE" };
    let mut text = format!(
        "LINK COUNT {what}{} COUNT {nlink} SHOULD BE {}",
        ctx.pinode(ino),
        nlink - lcnt
    );
    // fsck_ffs says so (and pfatal()s) under soft updates or -p only.
    let preen = ctx.mode == super::AnswerMode::Preen;
    if (ctx.softdep || preen) && lcnt < 0 {
        text.push_str(&format!("\nLINK COUNT INCREASING{}", ctx.fatal_sfx()));
    }
    let problem = if lcnt < 0 {
        Problem::LinkCountIncreasing
    } else {
        Problem::LinkCount
    };
    if ctx.ask(Finding::new(problem, text).ino(ino)) {
        if let Some(mut ip) = ctx.inode(ino) {
            let n = i32::from(ip.nlink()) - lcnt;
            ip.set_nlink(i16::try_from(n).unwrap_or(i16::MAX));
            ctx.write_inode(&mut ip);
            ctx.ino.set_link(ino, 0);
        }
    }
}
