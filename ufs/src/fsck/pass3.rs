//! Phase 3 - Check Connectivity (fsck_ffs pass3.c `pass3()`; dir.c
//! `linkup()`).
//!
//! Checks: every directory not reached from the root in phase 2. It
//! climbs the chain of parents found by the scan to the topmost
//! unreached directory and offers to reconnect that one (`UNREF DIR`), or
//! reports an orphaned loop when the chain is longer than the number of
//! directories. Answered no, the directory is then treated as reached so
//! that its subtree is not reported again.
//!
//! Leaves: every directory `DFOUND` (or reported), for phase 4.

use super::pass2::propagate;
use super::problem::Problem;
use super::report::Finding;
use super::state::*;

pub(super) fn pass3(ctx: &mut Ctx<'_>) {
    for idx in (0..ctx.dirs.len()).rev() {
        let d = ctx.dirs[idx].clone();
        let state = ctx.ino.state(d.ino);
        if d.ino == ROOTINO || (d.parent != 0 && !dunfound(state)) {
            continue;
        }
        if state == DCLEAR {
            continue;
        }
        if ctx.preen_tosses_orphans() && dunfound(state) {
            // Left unreached: phase 4 clears it (`UNREF DIR`); the
            // reference its `..` made is handed back.
            if d.dotdot >= ROOTINO && ctx.ino_ok(d.dotdot) {
                ctx.ino.add_link(d.dotdot, 1);
            }
            continue;
        }
        let mut inp = d.clone();
        let mut orphan;
        let mut loopcnt = 0u64;
        loop {
            orphan = inp.ino;
            if inp.parent == 0 || !dunfound(ctx.ino.state(inp.parent)) || loopcnt > ctx.countdirs {
                break;
            }
            match ctx.dir(inp.parent) {
                Some(p) => inp = p.clone(),
                None => break,
            }
            loopcnt += 1;
        }
        if loopcnt <= ctx.countdirs {
            let dotdot = ctx.dir(orphan).map_or(0, |d| d.dotdot);
            linkup(ctx, orphan, dotdot);
            ctx.ino.set_state(orphan, DFOUND);
            propagate(ctx);
            continue;
        }
        let text = format!(
            "ORPHANED DIRECTORY LOOP DETECTED I={orphan}{}",
            ctx.fatal_sfx()
        );
        if !ctx.ask(Finding::new(Problem::OrphanLoop, text).ino(orphan)) {
            continue;
        }
        // Break the loop: the orphan leaves its parent for lost+found.
        let parent = ctx.dir(orphan).map_or(0, |d| d.parent);
        if ctx.reconnect(orphan, parent) && parent != 0 && ctx.clearentry(parent, orphan) {
            ctx.ino.add_link(orphan, 1);
        }
        ctx.ino.set_state(orphan, DFOUND);
        propagate(ctx);
    }
}

/// dir.c `linkup()`: reports the unreferenced inode, asks to reconnect
/// it and does so (into lost+found, as `#INODE`). `parentdir` is the
/// directory its `..` named (0: none). Returns whether it was
/// reconnected. Preen does not reconnect empty files (they are cleared).
pub(super) fn linkup(ctx: &mut Ctx<'_>, orphan: u32, parentdir: u32) -> bool {
    let ip = ctx.inode(orphan);
    let isdir = ip.as_ref().is_some_and(|i| i.is_dir());
    if ctx.mode == super::AnswerMode::Preen && ip.as_ref().is_some_and(|i| i.size() == 0) {
        return false;
    }
    let (p, what) = if isdir {
        (Problem::UnrefDir, "DIR")
    } else {
        (Problem::UnrefFile, "FILE")
    };
    let text = format!("UNREF {what} {}", ctx.pinode(orphan));
    if !ctx.ask(Finding::new(p, text).ino(orphan)) {
        return false;
    }
    ctx.reconnect(orphan, parentdir)
}
