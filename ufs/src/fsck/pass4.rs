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
        for i in 0..ctx.ino.count(cg) {
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
