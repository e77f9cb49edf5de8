//! Phase 1b - Rescan For More DUPS (fsck_ffs pass1b.c `pass1b()`,
//! `pass1bcheck()`).
//!
//! Checks: rescans the inodes in use, in order, and reports each
//! duplicate block once more for the first inode that holds it (the
//! original owner, which phase 1 could not know was sharing it), until
//! every duplicate has been attributed. Leaves: those owners marked to be
//! cleared (`FCLEAR`/`DCLEAR`), which phase 2 reports as `DUP/BAD`.

use super::problem::{Phase, Problem};
use super::report::Finding;
use super::state::*;
use crate::bmap::Walk;
use crate::units::Frag;
use std::collections::BTreeSet;

pub(super) fn pass1b(ctx: &mut Ctx<'_>) {
    ctx.rerun = true;
    let mut left: BTreeSet<u64> = ctx.duplist.iter().copied().collect();
    let ninodes = u32::try_from(ctx.geo.ninodes).unwrap_or(u32::MAX);
    for ino in ROOTINO..ninodes {
        if left.is_empty() {
            return;
        }
        if ctx.ino.state(ino) == USTATE {
            continue;
        }
        let Some(ip) = ctx.inode(ino) else { continue };
        let mut visit = |ctx: &mut Ctx<'_>, addr: u64, nfrags: u32| {
            let mut res = Walk::Continue;
            for k in 0..u64::from(nfrags) {
                let b = addr.saturating_add(k);
                if !ctx.geo.frags_in_range(Frag(b), 1) {
                    res = Walk::Skip;
                }
                if left.remove(&b) {
                    let text = format!("{} DUP I={ino}{}\n", b as i64, ctx.fatal_sfx());
                    ctx.ask(
                        Finding::new(Problem::DupBlockOwner, text)
                            .ino(ino)
                            .block(b)
                            .in_phase(Phase::Pass1b),
                    );
                    match ctx.ino.state(ino) {
                        FSTATE | FZLINK => ctx.ino.set_state(ino, FCLEAR),
                        DSTATE | DZLINK => ctx.ino.set_state(ino, DCLEAR),
                        _ => {}
                    }
                }
                if left.is_empty() {
                    return Walk::Stop;
                }
            }
            res
        };
        if ctx.ckinode_addr(&ip, &mut visit, None) == Walk::Stop {
            return;
        }
    }
}
