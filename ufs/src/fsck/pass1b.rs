//! Phase 1b - Rescan For More DUPS (fsck_ffs pass1b.c `pass1b()`,
//! `pass1bcheck()`).
//!
//! Checks: rescans the inodes in use, in order, and reports each
//! duplicate block once more for the first inode that holds it (the
//! original owner, which phase 1 could not know was sharing it), until
//! every duplicate has been attributed. Leaves: those owners marked to be
//! cleared (`FCLEAR`/`DCLEAR`), which phase 2 reports as `DUP/BAD`.
//!
//! Repairing, [`clone_shared`] then goes further than fsck_ffs, which
//! clears every file that shares a block (so a file whose neighbour's
//! damaged size or pointer reaches into its blocks is lost with it): each
//! sharer but the last gets its own copy of the shared pointers, so every
//! sharer stays a readable file and the intact one keeps its contents.

use super::problem::{Phase, Problem};
use super::report::Finding;
use super::state::*;
use crate::bmap::{BlockRef, Walk};
use crate::io::overlay::WriteClass;
use crate::units::Frag;
use std::collections::BTreeSet;

pub(super) fn pass1b(ctx: &mut Ctx<'_>) {
    ctx.rerun = true;
    let mut left: BTreeSet<u64> = ctx.duplist.frags().collect();
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
                if !ctx.geo.run_in_range(Frag(b), 1) {
                    res = Walk::Skip;
                }
                if left.remove(&b) {
                    // Printed signed, as fsck_ffs prints a daddr.
                    let signed = i64::from_ne_bytes(b.to_ne_bytes());
                    let text = format!("{signed} DUP I={ino}{}\n", ctx.fatal_sfx());
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

/// Gives every file that shares fragments (but the last one, which keeps
/// the originals) copies of its shared pointers, and takes it off the
/// clearing list. Files marked for other reasons (bad pointers, unknown
/// type, too many duplicates to have been counted) are left to be
/// cleared, and so is any file for which there is no room left.
pub(super) fn clone_shared(ctx: &mut Ctx<'_>) {
    let dups: BTreeSet<u64> = ctx.duplist.frags().collect();
    let ninodes = u32::try_from(ctx.geo.ninodes).unwrap_or(u32::MAX);
    // Every marked inode is looked at, also once no claim is left: the
    // last sharer of a fragment goes back to ordinary too.
    for ino in ROOTINO..ninodes {
        let state = ctx.ino.state(ino);
        if !matches!(state, FCLEAR | DCLEAR) || ctx.no_clone.contains(&ino) {
            continue;
        }
        let Some(mut ip) = ctx.inode(ino) else {
            continue;
        };
        if state == DCLEAR && ip.size() == 0 {
            continue;
        }
        let touches =
            |r: &BlockRef| (0..u64::from(r.nfrags)).any(|k| dups.contains(&(r.addr.0 + k)));
        let mut refs: Vec<Ptr> = Vec::new();
        ctx.ckinode_refs(
            &ip,
            &mut |_, r| {
                if touches(r) {
                    refs.push(Ptr::Tree(*r));
                }
                Walk::Continue
            },
            None,
        );
        for (k, a, nf) in ctx.ext_blocks(&ip) {
            if (0..u64::from(nf)).any(|j| dups.contains(&(a + j))) {
                refs.push(Ptr::Ext(k, a, nf));
            }
        }
        if refs.is_empty() {
            // Marked for something else.
            continue;
        }
        let shared: Vec<Ptr> = refs
            .into_iter()
            .filter(|p| {
                let (a, nf) = p.run();
                (0..u64::from(nf)).any(|k| ctx.duplist.contains(a + k))
            })
            .collect();
        if !shared.is_empty() {
            let nfr: u64 = shared.iter().map(|p| u64::from(p.run().1)).sum();
            let text = format!(
                "I={ino} SHARES {nfr} FRAGMENTS WITH OTHER FILES{}",
                ctx.fatal_sfx()
            );
            if !ctx.ask(
                Finding::new(Problem::DupClone, text)
                    .ino(ino)
                    .in_phase(Phase::Pass1b),
            ) {
                continue;
            }
            let pref = ctx.geo.ino_to_cg(crate::units::Ino(ino)).0;
            let mut copied_all = true;
            for p in &shared {
                let (old, nf) = p.run();
                let Some(new) = ctx.alloc_frags(pref, nf) else {
                    copied_all = false;
                    break;
                };
                // At most one block.
                #[allow(clippy::cast_possible_truncation)]
                let len = (u64::from(nf) << ctx.geo.fshift) as usize;
                let mut data = vec![0u8; len];
                if crate::io::read_exact(ctx.dev, ctx.geo.frag_offset(Frag(old)), &mut data)
                    .is_err()
                {
                    copied_all = false;
                    break;
                }
                ctx.put(ctx.geo.frag_offset(Frag(new)), &data, WriteClass::Data);
                match p {
                    Ptr::Tree(r) => ctx.repoint(&mut ip, r, new),
                    Ptr::Ext(k, _, _) => {
                        let mut b = [ip.extb(0), ip.extb(1)];
                        b[*k] = new;
                        ip.set_ext(ip.extsize(), b);
                    }
                }
                ctx.release(old, nf);
            }
            ctx.write_inode(&mut ip);
            if !copied_all {
                continue;
            }
        }
        // No longer shares anything: back to an ordinary file.
        let zlink = ip.nlink() == 0;
        let back = match (state, zlink) {
            (DCLEAR, true) => DZLINK,
            (DCLEAR, false) => DSTATE,
            (_, true) => FZLINK,
            (_, false) => FSTATE,
        };
        ctx.ino.set_state(ino, back);
    }
}

/// A pointer that may be copied: one of the block tree's, or an
/// extended-attribute block (index, address, fragments).
enum Ptr {
    Tree(BlockRef),
    Ext(usize, u64, u32),
}

impl Ptr {
    fn run(&self) -> (u64, u32) {
        match self {
            Ptr::Tree(r) => (r.addr.0, r.nfrags),
            Ptr::Ext(_, a, n) => (*a, *n),
        }
    }
}
