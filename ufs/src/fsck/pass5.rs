//! Phase 5 - Check Cyl groups (fsck_ffs pass5.c `pass5()`).
//!
//! Rebuilds every cylinder group from what phases 1-4 found (inode
//! states, the block-used map) and compares: the magic and check hash;
//! the per-group counts against the superblock's summary area (`FREE BLK
//! COUNT(S) WRONG IN SUPERBLK`); the header (counts, map offsets, rotors,
//! fragment summary: `SUMMARY INFORMATION BAD`); the inode, fragment and
//! cluster maps and the cluster summary (`BLK(S) MISSING IN BIT MAPS`);
//! and the superblock totals (`SUMMARY BLK COUNT(S) WRONG IN SUPERBLK`).
//! As in fsck_ffs, each of these is said once per run, and the last one is
//! not said once the per-group summary was refused.

use super::problem::Problem;
use super::report::Finding;
use super::setup::cstotal;
use super::state::*;
use crate::cg::CylGroup;
use crate::checkhash;
use crate::counts;
use crate::io;
use crate::io::overlay::WriteClass;
use crate::ondisk::consts::{ckhash, CG_MAGIC};
use crate::ondisk::{wire, CgHeader, Csum, CG_CKHASH_OFFSET};
use crate::superblock::UfsVersion;
use crate::units::CgIdx;

fn hex(v: u32) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

// Geometry checked that a group's maps fit its cg block (at most MAXBSIZE):
// ipg, ndblk, the map offsets and sizes are far below 2^31, so the usize and
// i32 casts are exact; UFS1's 16-bit fields keep the low bits, as fsck_ffs's
// assignments do.
#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
pub(super) fn pass5(ctx: &mut Ctx<'_>) {
    ctx.ino.set_state(WINO, USTATE);
    let geo = ctx.geo.clone();
    let fs = ctx.sb.fs.clone();
    let endian = geo.endian;
    let contig = geo.contigsumsize;
    let ufs1 = geo.version == UfsVersion::Ufs1;
    // Offsets of the rebuilt group: validated with the superblock to fit
    // in the group's block.
    let crate::cg::CgLayout {
        iusedoff,
        freeoff,
        nextfreeoff,
        clustersumoff,
        clusteroff,
        ..
    } = geo.cg_layout;
    let mapsize = nextfreeoff.saturating_sub(iusedoff) as usize;
    // The summary area.
    let mut csbuf = vec![0u8; geo.cssize as usize];
    let cs_ok = io::read_exact(
        ctx.dev,
        geo.frag_offset(crate::units::Frag(geo.csaddr)),
        &mut csbuf,
    )
    .is_ok();
    let mut asked_counts = FixState::DontKnow;
    let mut asked_maps = FixState::DontKnow;
    let mut asked_summary = FixState::DontKnow;
    let mut tot = [0u64; 4]; // ndir, nbfree, nifree, nffree
    let mut cs_dirty = false;
    for c in 0..geo.ncg {
        ctx.progress(5, u64::from(c), u64::from(geo.ncg));
        let rebuild = ctx.rebuild_cg.contains(&c);
        // A group rebuilt in phase 1 is compared as fsck_ffs holds it by
        // now: the header its rebuild made, with empty maps. So the
        // findings (check hash, summary, maps) are fsck_ffs's for it.
        let cg = if rebuild {
            let inited = ctx.cg_inited.get(&c).copied();
            rebuilt(&geo, fs.fs_old_cpg, CgIdx(c), inited)
        } else {
            let Ok(cg) = CylGroup::read_unchecked(ctx.dev, &geo, CgIdx(c)) else {
                continue;
            };
            cg
        };
        let h = &cg.hdr.clone();
        if h.cg_magic != CG_MAGIC {
            let text = format!("CG {c}: BAD MAGIC NUMBER\n{}", ctx.fatal_sfx());
            ctx.ask(Finding::new(Problem::CgBadMagic5, text).cg(c));
        }
        let mut bad_hash = false;
        if geo.has_ckhash(ckhash::CK_CYLGRP) {
            let this = checkhash::compute(cg.bytes(), CG_CKHASH_OFFSET);
            if this != h.cg_ckhash {
                bad_hash = true;
                let text = format!(
                    "CG {c}: BAD CHECK-HASH {} vs {}\n",
                    hex(h.cg_ckhash),
                    hex(this)
                );
                ctx.ask(Finding::new(Problem::CgCheckHash, text).cg(c));
            }
        }
        let dbase = geo.cgbase(CgIdx(c)).0;
        // pass5.c's `newcg`: a fresh header keeping the old one's times,
        // unreferenced count, check hash and the rotors still in range.
        let fresh = crate::cg::fresh_header(&geo, CgIdx(c), fs.fs_old_cpg);
        let ndblk = fresh.cg_ndblk;
        let mut new = CgHeader {
            cg_old_time: h.cg_old_time,
            cg_cs: [0, 0, geo.ipg as i32, 0],
            cg_rotor: if i32::try_from(h.cg_rotor).is_ok() && h.cg_rotor < ndblk {
                h.cg_rotor
            } else {
                0
            },
            cg_frotor: if i32::try_from(h.cg_frotor).is_ok() && h.cg_frotor < ndblk {
                h.cg_frotor
            } else {
                0
            },
            cg_irotor: if i32::try_from(h.cg_irotor).is_ok() && h.cg_irotor < geo.ipg {
                h.cg_irotor
            } else {
                0
            },
            cg_initediblk: if ufs1 {
                0
            } else if let Some(&n) = ctx.cg_inited.get(&c) {
                n
            } else {
                h.cg_initediblk.min(geo.ipg)
            },
            cg_unrefs: h.cg_unrefs,
            cg_ckhash: h.cg_ckhash,
            cg_time: h.cg_time,
            ..fresh
        };
        let mut map = vec![0u8; mapsize];
        let (ndir, nused) = inode_map(ctx, c, &mut map);
        new.cg_cs[0] += ndir;
        new.cg_cs[2] -= nused;
        if c == 0 {
            for i in 0..ROOTINO as usize {
                if let Some(b) = map.get_mut(i / 8) {
                    *b |= 1 << (i % 8);
                }
                new.cg_cs[2] -= 1;
            }
        }
        // The fragment map from the block-used map, a word at a time, then
        // every count from the fragment map.
        let free_at = (freeoff - iusedoff) as usize;
        for i in (0..u64::from(ndblk)).step_by(64) {
            let n = (u64::from(ndblk) - i).min(64);
            let mut free = !ctx.bmap.word_at(dbase + i);
            if n < 64 {
                free &= (1u64 << n) - 1;
            }
            let at = free_at + (i / 8) as usize;
            or_bytes(&mut map, at, &free.to_le_bytes()[..n.div_ceil(8) as usize]);
        }
        let got = counts::group_counts_map(
            map.get(free_at..).unwrap_or(&[]),
            u64::from(ndblk),
            geo.frag,
            contig,
        );
        new.cg_cs[1] = counts::cs_count(got.nbfree);
        new.cg_cs[3] = counts::cs_count(got.nffree);
        new.cg_frsum = got.frsum;
        if contig > 0 {
            // The wholly free blocks' map, cut to the group's cluster
            // blocks.
            let ncb = new.cg_nclusterblks as usize;
            let mut clusters = got.clusters;
            clusters.resize(ncb.div_ceil(8), 0);
            if let (Some(last), r @ 1..) = (clusters.last_mut(), ncb % 8) {
                *last &= (1u8 << r) - 1;
            }
            or_bytes(&mut map, (clusteroff - iusedoff) as usize, &clusters);
            // Entry 0 is never counted and overlaps the end of the free map.
            for (k, v) in got.clustersum.iter().enumerate().skip(1) {
                let off = (clustersumoff - iusedoff) as usize + k * 4;
                if let Some(b) = map.get_mut(off..) {
                    wire::put_u32(b, endian, *v);
                }
            }
        }
        for (t, v) in tot.iter_mut().zip(new.cg_cs.iter()) {
            *t = t.saturating_add(u64::try_from(*v).unwrap_or(0));
        }
        // The summary area entry.
        let cs = if cs_ok {
            csbuf
                .get(c as usize * Csum::SIZE..)
                .and_then(|b| Csum::decode(b, endian))
        } else {
            None
        };
        let cs_same = cs
            .as_ref()
            .is_some_and(|s| [s.cs_ndir, s.cs_nbfree, s.cs_nifree, s.cs_nffree] == new.cg_cs);
        if !cs_same && asked_counts == FixState::DontKnow {
            let f = Finding::new(
                Problem::FreeBlkCountWrong,
                "FREE BLK COUNT(S) WRONG IN SUPERBLK",
            )
            .cg(c);
            asked_counts = yes_no(ctx.ask(f));
        }
        if !cs_same && asked_counts == FixState::Fix {
            let e = Csum {
                cs_ndir: new.cg_cs[0],
                cs_nbfree: new.cg_cs[1],
                cs_nifree: new.cg_cs[2],
                cs_nffree: new.cg_cs[3],
            };
            if let Some(b) = csbuf.get_mut(c as usize * Csum::SIZE..(c as usize + 1) * Csum::SIZE) {
                b.copy_from_slice(&e.encode(endian));
                cs_dirty = true;
            }
        }
        if new != *h && asked_summary == FixState::DontKnow {
            let f = Finding::new(Problem::SummaryInfoBad, "SUMMARY INFORMATION BAD").cg(c);
            asked_summary = yes_no(ctx.ask(f));
        }
        if ctx.softdep {
            let old_ndir = if new != *h && asked_summary == FixState::Fix {
                new.cg_cs[0]
            } else {
                h.cg_cs[0]
            };
            update_maps(ctx, &cg, h, &map, old_ndir - new.cg_cs[0]);
        }
        let start = h.cg_iusedoff as usize;
        let same_maps = cg
            .bytes()
            .get(start..start + mapsize)
            .is_some_and(|b| b == map.as_slice());
        if !same_maps && asked_maps == FixState::DontKnow {
            let f = Finding::new(Problem::BitMapsWrong, "BLK(S) MISSING IN BIT MAPS").cg(c);
            asked_maps = yes_no(ctx.ask(f));
        }
        if !ctx.writing() {
            continue;
        }
        // Write the group back when anything in it is to be fixed (a bad
        // check hash alone included: rewriting recomputes it).
        let fix_hdr = rebuild || (new != *h && asked_summary == FixState::Fix);
        let fix_maps = rebuild || (!same_maps && asked_maps == FixState::Fix);
        if fix_hdr || fix_maps || bad_hash {
            let mut bytes = cg.bytes().to_vec();
            bytes.resize(geo.cgsize as usize, 0);
            if fix_hdr {
                new.encode_into(&mut bytes, endian);
            }
            let moff = if fix_hdr {
                new.cg_iusedoff
            } else {
                h.cg_iusedoff
            } as usize;
            if fix_maps {
                if let Some(dst) = bytes.get_mut(moff..moff + mapsize) {
                    dst.copy_from_slice(&map);
                }
            }
            let mut out = CylGroup::from_bytes(bytes, &geo, CgIdx(c));
            let enc = out.encode(&geo).to_vec();
            let off = geo.frag_offset(geo.cgtod(CgIdx(c)));
            ctx.put(off, &enc, WriteClass::Cg);
        }
    }
    if cs_dirty {
        let off = geo.frag_offset(crate::units::Frag(geo.csaddr));
        ctx.put(off, &csbuf, WriteClass::Cg);
    }
    let t = cstotal(&ctx.sb);
    let same = [t.ndir, t.nbfree, t.nifree, t.nffree] == tot && t.rest == [0; 4];
    if !same && asked_counts == FixState::DontKnow {
        let f = Finding::new(
            Problem::SummaryBlkCountWrong,
            "SUMMARY BLK COUNT(S) WRONG IN SUPERBLK",
        );
        asked_counts = yes_no(ctx.ask(f));
    }
    if !same && asked_counts == FixState::Fix && ctx.writing() {
        let v = tot.map(|x| i64::try_from(x).unwrap_or(i64::MAX));
        // pass5.c copies its whole rebuilt `csum_total`, whose cluster
        // count and spares are zero.
        ctx.sb.fs.fs_cstotal[4..].fill(0);
        ctx.sb.set_totals(crate::superblock::Totals::from_array(v));
        ctx.sb_dirty = true;
    }
}

/// Sets the bits of `bytes` in `map` from byte `at` on (those falling past
/// its end are dropped).
fn or_bytes(map: &mut [u8], at: usize, bytes: &[u8]) {
    for (d, b) in map.iter_mut().skip(at).zip(bytes) {
        *d |= b;
    }
}

/// Group `c`'s inode map, from the states phases 1-4 left, into the start
/// of `map`; returns the directories and the inodes in use. Runs of eight
/// inodes all in use as files or all free (nearly every run) skip the
/// per-inode classification (1 ms of phase 5's 2 at 1,000,000 files).
#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
fn inode_map(ctx: &Ctx<'_>, c: u32, map: &mut [u8]) -> (i32, i32) {
    let used = |s: u8| {
        matches!(
            s,
            DSTATE | DCLEAR | DFOUND | DZLINK | FSTATE | FCLEAR | FZLINK
        )
    };
    let dir = |s: u8| matches!(s, DSTATE | DCLEAR | DFOUND | DZLINK);
    // The inodes past the group's stored slots are free.
    let slots = ctx.ino.group_slots(c);
    let (mut ndir, mut nused) = (0u32, 0u32);
    for (byte, eight) in map.iter_mut().zip(slots.chunks(8)) {
        if eight.len() == 8 {
            if eight.iter().all(|s| s.state() == FSTATE) {
                *byte |= 0xff;
                nused += 8;
                continue;
            }
            if eight.iter().all(|s| s.state() == USTATE) {
                continue;
            }
        }
        for (j, s) in eight.iter().enumerate() {
            if used(s.state()) {
                *byte |= 1 << j;
                nused += 1;
                ndir += u32::from(dir(s.state()));
            }
        }
    }
    // At most ipg, an i32 on disk.
    (ndir as i32, nused as i32)
}

/// fsck_ffs pass5.c `update_maps()`, which runs on soft-updates file
/// systems between the summary and the map questions: says which inodes
/// (as directories first, when the header counted more directories than
/// were found; `LOST n DIRECTORIES` when fewer) and which fragments are in
/// use although the group's maps call them free. `map` is the rebuilt
/// maps from the inode map on; `excess_dirs` the header's directory count
/// less the one found.
// The map sizes fit a cg block (see `pass5`).
#[allow(clippy::cast_possible_truncation)]
fn update_maps(ctx: &mut Ctx<'_>, cg: &CylGroup, h: &CgHeader, map: &[u8], excess_dirs: i32) {
    let geo = ctx.geo.clone();
    let c = h.cg_cgx;
    let inomap = geo.ipg.div_ceil(8) as usize;
    let frags = geo.fpg.div_ceil(8) as usize;
    let l = geo.cg_layout;
    let old = |off: u32, n: usize| {
        cg.bytes()
            .get(off as usize..off as usize + n)
            .map_or_else(|| vec![0u8; n], <[u8]>::to_vec)
    };
    let new = |off: u32, n: usize| {
        let at = (off - l.iusedoff) as usize;
        map.get(at..at + n)
            .map_or_else(|| vec![0u8; n], <[u8]>::to_vec)
    };
    let (mut old_ino, new_ino) = (old(h.cg_iusedoff, inomap), new(l.iusedoff, inomap));
    let (mut old_free, new_free) = (old(h.cg_freeoff, frags), new(l.freeoff, frags));
    let ino0 = u64::from(c) * u64::from(geo.ipg);
    let frag0 = u64::from(c) * geo.fpg;
    // What this run allocated, fsck_ffs's allocino()/allocblk() mark in
    // the group's maps when they allocate: not news here.
    for &ino in &ctx.new_dirs {
        if let Some(i) = u64::from(ino)
            .checked_sub(ino0)
            .filter(|&i| i < u64::from(geo.ipg))
        {
            if let Some(b) = old_ino.get_mut((i / 8) as usize) {
                *b |= 1 << (i % 8);
            }
        }
    }
    for &(start, n) in &ctx.new_frags {
        for f in start..start + n {
            if let Some(i) = f.checked_sub(frag0).filter(|&i| i < geo.fpg) {
                if let Some(b) = old_free.get_mut((i / 8) as usize) {
                    *b &= !(1 << (i % 8));
                }
            }
        }
    }
    let mut lines = Vec::new();
    if excess_dirs < 0 {
        let text = format!("LOST {} DIRECTORIES\n{}", -excess_dirs, ctx.fatal_sfx());
        ctx.ask(Finding::new(Problem::LostDirs, text).cg(c));
    } else if excess_dirs > 0 {
        lines.extend(marked_free(&new_ino, &old_ino, ino0, "DIR"));
    }
    lines.extend(marked_free(&new_ino, &old_ino, ino0, "FILE"));
    lines.extend(marked_free(&old_free, &new_free, frag0, "FRAG"));
    for text in lines {
        ctx.ask(Finding::new(Problem::MarkedFree, text).cg(c));
    }
}

/// pass5.c `check_maps()` as fsck_ffs prints it without `-d`: each run of
/// entries set in `claimed` and clear in `found`, numbered from `first`.
fn marked_free(claimed: &[u8], found: &[u8], first: u64, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut run: Option<(u64, u64)> = None;
    let mut say = |(a, b): (u64, u64)| {
        out.push(if a == b {
            format!("ALLOCATED {name} {a} MARKED FREE\n")
        } else {
            format!("ALLOCATED {name}S {a}-{b} MARKED FREE\n")
        });
    };
    for (i, (&j, &k)) in claimed.iter().zip(found).enumerate() {
        for m in 0..8 {
            if j & (1 << m) == 0 || k & (1 << m) != 0 {
                continue;
            }
            let n = first + i as u64 * 8 + m;
            run = match run {
                Some((a, b)) if b + 1 == n => Some((a, n)),
                Some(r) => {
                    say(r);
                    Some((n, n))
                }
                None => Some((n, n)),
            };
        }
    }
    if let Some(r) = run {
        say(r);
    }
    out
}

/// The group as fsck_ffs's rebuild leaves it after `REBUILD CYLINDER
/// GROUP` (fsutil.c `check_cgmagic()`): a fresh header with empty maps,
/// except that UFS1's `cg_old_ncyl` is `fs_old_cpg` for every group, the
/// last one included, and UFS2's initialized inodes are those phase 1
/// settled on when it found more.
fn rebuilt(
    geo: &crate::superblock::Geometry,
    old_cpg: i32,
    c: CgIdx,
    inited: Option<u32>,
) -> CylGroup {
    let mut h = crate::cg::fresh_header(geo, c, old_cpg);
    if geo.version == UfsVersion::Ufs1 {
        // UFS1's 16-bit field keeps the low bits, as check_cgmagic's
        // assignment does.
        #[allow(clippy::cast_possible_truncation)]
        let ncyl = old_cpg as i16;
        h.cg_old_ncyl = ncyl;
    } else if let Some(n) = inited {
        h.cg_initediblk = n;
    }
    CylGroup::with_header(geo, c, &h)
}

fn yes_no(yes: bool) -> FixState {
    if yes {
        FixState::Fix
    } else {
        FixState::NoFix
    }
}
