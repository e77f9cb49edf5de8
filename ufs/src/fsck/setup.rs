//! Setup: finding a superblock to trust (fsck_ffs setup.c `setup()`,
//! `readsb()`, `cmpsblks()`).
//!
//! Checks: the superblock magic at FreeBSD's search locations (or the
//! sector given with `-b`), the geometry (through
//! [`Geometry::from_superblock`], which rejects anything address
//! arithmetic could not survive), the superblock check hash when
//! `CK_SUPERBLOCK` is on, and agreement with the last alternate
//! superblock. When no superblock is usable it lists the alternates that
//! exist, found through newfs's `fsrecovery` record (65536 - 20) or from
//! the damaged primary's own fields. Leaves: the superblock and geometry
//! every later pass uses.

use super::problem::Problem;
use super::report::{Answer, Finding, Reporter};
use super::{AnswerMode, FsckOptions, Outcome, Verdict};
use crate::evacuate::Finished;
use crate::intent::MoveIntent;
use crate::io::overlay::{Overlay, WriteClass};
use crate::io::{self, Device};
use crate::ondisk::consts::{ckhash, FS_UFS1_MAGIC, FS_UFS2_MAGIC, SBLOCKSEARCH, SBLOCK_UFS2};
use crate::ondisk::{Fs, FsRecovery};
use crate::superblock::{Geometry, Superblock, UfsVersion};
use crate::Endian;

/// What setup decided.
pub(super) enum Setup {
    /// Go on with this superblock; `problems` were already reported.
    Ready {
        sb: Box<Superblock>,
        geo: Box<Geometry>,
        problems: u64,
        /// The superblock came from an alternate (`-b`, or found after a
        /// bad primary): the primary is rewritten at the end.
        from_alternate: bool,
        /// The superblock check hash is to be rewritten.
        fix_hash: bool,
        /// The alternates disagreed with the primary and the answer was to
        /// ignore them: the end of the run rewrites them from the primary.
        fix_alternates: bool,
    },
    /// Stop here.
    Failed(Outcome),
}

/// The superblock totals fsck uses (`fs_cstotal`, or `fs_old_cstotal` for
/// a UFS1 file system not yet converted, as `ffs_oldfscompat_read` does).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Totals {
    pub ndir: u64,
    pub nbfree: u64,
    pub nifree: u64,
    pub nffree: u64,
    pub rest: [i64; 4],
}

pub(super) fn cstotal(sb: &Superblock) -> Totals {
    let u = |v: i64| u64::try_from(v).unwrap_or(0);
    let t = sb.totals();
    let c = sb.fs.fs_cstotal;
    Totals {
        ndir: u(t.ndir),
        nbfree: u(t.nbfree),
        nifree: u(t.nifree),
        nffree: u(t.nffree),
        rest: if crate::superblock::Totals::in_old_fields(&sb.fs) {
            [0; 4]
        } else {
            [c[4], c[5], c[6], c[7]]
        },
    }
}

/// Reads and decodes a superblock copy without checking its hash.
pub(super) fn read_raw(dev: &dyn Device, loc: u64) -> crate::Result<Superblock> {
    Superblock::read_unverified(dev, loc)
}

fn hash_mismatch(sb: &Superblock) -> Option<(u32, u32)> {
    if sb.fs.fs_metackhash & ckhash::CK_SUPERBLOCK == 0 {
        return None;
    }
    let c = sb.compute_ckhash();
    (c != sb.fs.fs_ckhash).then_some((sb.fs.fs_ckhash, c))
}

/// The answer to a setup question (setup runs before the check state
/// exists, so it decides here the way `Ctx::ask` does).
fn decide(mode: AnswerMode, rep: &mut dyn Reporter, f: &Finding) -> Answer {
    match mode {
        AnswerMode::Yes => Answer::Yes,
        AnswerMode::Preen => {
            if f.problem.preen() == super::Preen::Fix {
                Answer::Yes
            } else {
                Answer::No
            }
        }
        AnswerMode::Ask => rep.prompt(f).unwrap_or(Answer::No),
        AnswerMode::No => Answer::No,
    }
}

pub(super) fn setup(
    dev: &dyn Device,
    opts: &FsckOptions,
    mode: AnswerMode,
    rep: &mut dyn Reporter,
) -> Setup {
    let mut problems = 0;
    let mut fix_hash = false;
    let chosen = match opts.alt_sector {
        Some(s) => {
            let loc = s.saturating_mul(512);
            match read_raw(dev, loc)
                .and_then(|sb| Geometry::from_superblock(&sb, dev.len()).map(|g| (sb, g)))
            {
                Ok(x) => Ok(x),
                Err(e) => Err(Box::new((
                    format!("{s} is not a usable file system superblock ({e})"),
                    None,
                ))),
            }
        }
        None => search(dev),
    };
    let (sb, geo) = match chosen {
        Ok(x) => x,
        Err(b) => {
            let (why, damaged) = *b;
            if opts.alt_sector.is_none() {
                if let Some(text) = damaged.as_deref().and_then(|sb| truncated(dev, sb)) {
                    // Every alternate describes the same size: looking for
                    // them would only repeat the failure.
                    rep.note(&text);
                    let mut o = Outcome::new(Verdict::NoSuperblock);
                    o.problems = 1;
                    o.unresolved = 1;
                    return Setup::Failed(o);
                }
            }
            return fail(
                dev,
                opts,
                mode,
                rep,
                &why,
                damaged.as_deref(),
                Problem::BadSuperblock,
            );
        }
    };
    let softdep = sb.fs.fs_flags & crate::ondisk::consts::fsflags::FS_DOSOFTDEP != 0;
    let sfx = if softdep {
        "\nUNEXPECTED SOFT UPDATE INCONSISTENCY\n"
    } else {
        ""
    };
    if let Some((rec, comp)) = hash_mismatch(&sb) {
        let f = Finding::new(
            Problem::SuperblockCheckHash,
            format!("Superblock check-hash failed: recorded check-hash {rec:#x} != computed check-hash {comp:#x}"),
        );
        let a = decide(mode, rep, &f);
        rep.finding(&f, Some(a));
        fix_hash = a == Answer::Yes;
        problems += 1;
    }
    let _ = sfx;
    let mut fix_alternates = false;
    if opts.alt_sector.is_none() {
        let last = geo.frag_offset(geo.cgsblock(crate::CgIdx(geo.ncg - 1)));
        if !agrees_at(dev, &sb, last) {
            // fsck_ffs 12.1 readsb(): the primary is kept when the answer
            // is to ignore the alternate (an image cut short and extended
            // again has lost the last groups, alternates included); -n
            // goes on to look for alternates and gives up.
            let pfx = if mode == AnswerMode::Preen {
                format!("{}: ", opts.name)
            } else {
                String::new()
            };
            let text = format!(
                "{pfx}VALUES IN SUPER BLOCK LSB={} DISAGREE WITH THOSE IN\nLAST ALTERNATE LSB={}\n",
                sb.location / 512,
                last / 512
            );
            let f = Finding::new(Problem::SuperblockDisagrees, text);
            let a = decide(mode, rep, &f);
            rep.finding(&f, Some(a));
            problems += 1;
            if a != Answer::Yes {
                return fail(
                    dev,
                    opts,
                    mode,
                    rep,
                    "",
                    Some(&sb),
                    Problem::SuperblockDisagrees,
                );
            }
            fix_alternates = true;
        }
    }
    Setup::Ready {
        sb: Box::new(sb),
        geo: Box::new(geo),
        problems,
        from_alternate: opts.alt_sector.is_some(),
        fix_hash,
        fix_alternates,
    }
}

/// A shrink interrupted while renumbering an inode (its record in the
/// superblock, [`MoveIntent::pending`]): reported, and under an answer of
/// yes finished ([`crate::evacuate::finish_move`]) through the overlay,
/// before phase 1, so that the passes see the file system as the move
/// left it when whole and only repair counts and maps. Returns whether
/// a record was found and whether the move was finished (the record is
/// then erased from `sb`, which the end of the run writes).
pub(super) fn interrupted_move(
    ov: &Overlay<'_>,
    sb: &mut Superblock,
    geo: &Geometry,
    mode: AnswerMode,
    rep: &mut dyn Reporter,
) -> (bool, bool) {
    let Some(rec) = MoveIntent::pending(&sb.fs) else {
        return (false, false);
    };
    let f = Finding::new(
        Problem::InterruptedShrink,
        format!(
            "INTERRUPTED SHRINK: INODE {} MOVING TO {}\n",
            rec.old, rec.new
        ),
    );
    let a = decide(mode, rep, &f);
    rep.finding(&f, Some(a));
    if a != Answer::Yes {
        return (true, false);
    }
    match crate::evacuate::finish_move(&mut Staged(ov), geo, &rec) {
        Ok(done) => {
            rep.note(&match done {
                Finished::RolledBack => format!(
                    "INODE {} WAS NOT WRITTEN YET: INODE {} STAYS\n",
                    rec.new, rec.old
                ),
                Finished::Completed { entries } => format!(
                    "INODE {} MOVED TO {} ({entries} ENTRIES SWITCHED NOW)\n",
                    rec.old, rec.new
                ),
            });
            MoveIntent::clear(&mut sb.fs);
            (true, true)
        }
        Err(e) => {
            rep.note(&format!("CANNOT FINISH THE MOVE: {e}\n"));
            (true, false)
        }
    }
}

/// The overlay as a device whose writes are staged with the repair's
/// other fixes (committed with the directory blocks: finishing a move
/// again after a crash while committing is harmless).
struct Staged<'a, 'b>(&'a Overlay<'b>);

impl Device for Staged<'_, '_> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.0.read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        self.0.put(offset, buf, WriteClass::Dir)
    }
    fn len(&self) -> u64 {
        self.0.len()
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether the superblock copy at byte `loc` decodes and agrees with `sb`
/// on the fields fsck_ffs compares.
fn agrees_at(dev: &dyn Device, sb: &Superblock, loc: u64) -> bool {
    read_raw(dev, loc)
        .map(|alt| same_geometry(&sb.fs, &alt.fs))
        .unwrap_or(false)
}

/// The byte locations of the alternate superblocks (one per cylinder
/// group) that do not agree with `sb`: those a repair rewrites after the
/// disagreement was ignored.
pub(super) fn stale_alternates(dev: &dyn Device, sb: &Superblock, geo: &Geometry) -> Vec<u64> {
    (0..geo.ncg)
        .map(|c| geo.frag_offset(geo.cgsblock(crate::CgIdx(c))))
        .filter(|&loc| !agrees_at(dev, sb, loc))
        .collect()
}

/// When `sb` is sound but describes more than the image holds (a file cut
/// short, as when the host's disk filled up): what is missing and how to
/// go on, said once. Extending the image with zeros to its size lets the
/// next run keep what is left (the lost groups are rebuilt and the
/// alternates they held rewritten).
fn truncated(dev: &dyn Device, sb: &Superblock) -> Option<String> {
    let geo = Geometry::from_superblock(sb, u64::MAX).ok()?;
    let need = geo.frag_offset(crate::Frag(geo.size));
    let have = dev.len();
    if need <= have {
        return None;
    }
    let first = (have / u64::from(geo.fsize) / geo.fpg).min(u64::from(geo.ncg) - 1);
    Some(format!(
        "IMAGE IS TRUNCATED: THE FILE SYSTEM NEEDS {need} BYTES, THE IMAGE HAS {have} \
         ({} BYTES MISSING, IN CYLINDER GROUPS {first}-{}).\n\
         EXTEND THE IMAGE WITH ZEROS TO {need} BYTES (truncate -s {need}) AND RERUN FSCK\n\
         TO REBUILD WHAT IS MISSING.\n",
        need - have,
        geo.ncg - 1
    ))
}

/// fsck_ffs `cmpsblks()`: fields that must be the same in every copy.
fn same_geometry(a: &Fs, b: &Fs) -> bool {
    a.fs_sblkno == b.fs_sblkno
        && a.fs_cblkno == b.fs_cblkno
        && a.fs_iblkno == b.fs_iblkno
        && a.fs_dblkno == b.fs_dblkno
        && a.fs_ncg == b.fs_ncg
        && a.fs_bsize == b.fs_bsize
        && a.fs_fsize == b.fs_fsize
        && a.fs_frag == b.fs_frag
        && a.fs_bmask == b.fs_bmask
        && a.fs_fmask == b.fs_fmask
        && a.fs_bshift == b.fs_bshift
        && a.fs_fshift == b.fs_fshift
        && a.fs_fragshift == b.fs_fragshift
        && a.fs_fsbtodb == b.fs_fsbtodb
        && a.fs_sbsize == b.fs_sbsize
        && a.fs_nindir == b.fs_nindir
        && a.fs_inopb == b.fs_inopb
        && a.fs_cssize == b.fs_cssize
        && a.fs_ipg == b.fs_ipg
        && a.fs_fpg == b.fs_fpg
        && a.fs_magic == b.fs_magic
}

type SearchErr = (String, Option<Box<Superblock>>);

fn search(dev: &dyn Device) -> Result<(Superblock, Geometry), Box<SearchErr>> {
    let mut why: Option<String> = None;
    let mut damaged: Option<Box<Superblock>> = None;
    for &loc in SBLOCKSEARCH.iter() {
        let Ok(sb) = read_raw(dev, loc) else { continue };
        let placed = match sb.fs.fs_magic {
            FS_UFS2_MAGIC => u64::try_from(sb.fs.fs_sblockloc).ok() == Some(loc),
            FS_UFS1_MAGIC => loc != SBLOCK_UFS2,
            _ => false,
        };
        if !placed {
            continue;
        }
        match Geometry::from_superblock(&sb, dev.len()) {
            Ok(g) => return Ok((sb, g)),
            Err(e) => {
                if why.is_none() {
                    why = Some(e.to_string());
                    damaged = Some(Box::new(sb));
                }
            }
        }
    }
    Err(Box::new((
        why.unwrap_or_else(|| "Cannot find file system superblock".into()),
        damaged,
    )))
}

#[allow(clippy::too_many_arguments)]
fn fail(
    dev: &dyn Device,
    opts: &FsckOptions,
    mode: AnswerMode,
    rep: &mut dyn Reporter,
    why: &str,
    damaged: Option<&Superblock>,
    problem: Problem,
) -> Setup {
    // The disagreement was reported (and refused) already: only the
    // search question follows.
    let (text, problem) = match problem {
        Problem::SuperblockDisagrees => (String::new(), Problem::BadSuperblock),
        _ => (format!("BAD SUPER BLOCK: {why}\n"), problem),
    };
    let q = if opts.alt_sector.is_some() {
        None
    } else {
        problem.question()
    };
    let f = Finding::new(problem, text).question(q);
    let answer = q.map(|_| decide(mode, rep, &f));
    rep.finding(&f, answer);
    let mut alts = alternates(dev, damaged);
    if alts.is_empty() && answer != Some(Answer::Yes) && opts.alt_sector.is_none() {
        // Without leave to use one, still say where a copy is (the search
        // is read-only).
        alts.extend(crate::superblock::search(dev).map(|f| f.report.sector()));
    }
    if answer == Some(Answer::Yes) {
        // fsck_ffs: try each alternate in turn; the first usable one is
        // used, and the primary is rewritten from it at the end.
        for &sector in &alts {
            let Some(loc) = sector.checked_mul(512) else {
                continue;
            };
            let Ok(sb) = read_raw(dev, loc) else { continue };
            let Ok(geo) = Geometry::from_superblock(&sb, dev.len()) else {
                continue;
            };
            rep.note(&format!("USING ALTERNATE SUPERBLOCK AT {sector}\n"));
            return Setup::Ready {
                sb: Box::new(sb),
                geo: Box::new(geo),
                problems: 1,
                from_alternate: true,
                fix_hash: true,
                fix_alternates: false,
            };
        }
        // Beyond fsck_ffs: the copies are not where newfs would put them
        // (another tool made the image), so look for them in the image.
        if let Ok(found) = crate::superblock::search(dev) {
            rep.note(&format!(
                "USING ALTERNATE SUPERBLOCK AT {} (found by search)\n",
                found.report.sector()
            ));
            return Setup::Ready {
                sb: Box::new(found.sb),
                geo: Box::new(found.geo),
                problems: 1,
                from_alternate: true,
                fix_hash: true,
                fix_alternates: false,
            };
        }
        rep.note(
            "SEARCH FOR ALTERNATE SUPER-BLOCK FAILED. YOU MUST USE THE\n-b OPTION TO FSCK TO SPECIFY THE LOCATION OF AN ALTERNATE\nSUPER-BLOCK TO SUPPLY NEEDED INFORMATION; SEE fsck_ffs(8).\n",
        );
    } else if opts.alt_sector.is_none() {
        if alts.is_empty() {
            rep.note(
                "SEARCH FOR ALTERNATE SUPER-BLOCK FAILED. YOU MUST USE THE\n-b OPTION TO FSCK TO SPECIFY THE LOCATION OF AN ALTERNATE\nSUPER-BLOCK TO SUPPLY NEEDED INFORMATION; SEE fsck_ffs(8).\n",
            );
        } else {
            let list: Vec<String> = alts.iter().map(u64::to_string).collect();
            rep.note(&format!(
                "ALTERNATE SUPERBLOCKS FOUND AT SECTORS (use -b): {}\n",
                list.join(", ")
            ));
        }
    }
    let mut o = Outcome::new(Verdict::NoSuperblock);
    o.problems = 1;
    o.unresolved = 1;
    o.alternates = alts;
    Setup::Failed(o)
}

/// The 512-byte sectors of the alternate superblocks that hold a
/// superblock magic, found from newfs's `fsrecovery` record or from the
/// damaged primary's fields. Bounded by the image size.
pub(super) fn alternates(dev: &dyn Device, damaged: Option<&Superblock>) -> Vec<u64> {
    // (fsbtodb, sblkno, fpg, ncg, cg offset, cg mask)
    let mut plan: Option<(u32, u64, u64, u32, u64, u64)> = None;
    let mut rec = [0u8; FsRecovery::SIZE];
    if io::read_exact(dev, SBLOCK_UFS2 - FsRecovery::SIZE as u64, &mut rec).is_ok() {
        for e in [Endian::Little, Endian::Big] {
            if let Some(r) = FsRecovery::decode(&rec, e) {
                if r.fsr_magic == FS_UFS2_MAGIC
                    && (0..=7).contains(&r.fsr_fsbtodb)
                    && r.fsr_sblkno > 0
                    && r.fsr_fpg > 0
                {
                    // All three were just checked to be positive.
                    plan = Some((
                        r.fsr_fsbtodb.unsigned_abs(),
                        u64::from(r.fsr_sblkno.unsigned_abs()),
                        u64::from(r.fsr_fpg.unsigned_abs()),
                        r.fsr_ncg,
                        0,
                        0,
                    ));
                }
            }
        }
    }
    if plan.is_none() {
        if let Some(sb) = damaged {
            let fs = &sb.fs;
            if (0..=7).contains(&fs.fs_fsbtodb) && fs.fs_sblkno > 0 && fs.fs_fpg > 0 {
                let (off, mask) = if sb.version() == UfsVersion::Ufs1 {
                    (
                        u64::try_from(fs.fs_old_cgoffset).unwrap_or(0),
                        // The mask's bits (often all ones, -1 as stored).
                        u64::from(u32::from_ne_bytes(fs.fs_old_cgmask.to_ne_bytes())),
                    )
                } else {
                    (0, 0)
                };
                // All three were just checked to be positive.
                plan = Some((
                    fs.fs_fsbtodb.unsigned_abs(),
                    u64::from(fs.fs_sblkno.unsigned_abs()),
                    u64::from(fs.fs_fpg.unsigned_abs()),
                    fs.fs_ncg,
                    off,
                    mask,
                ));
            }
        }
    }
    let Some((fsbtodb, sblkno, fpg, ncg, off, mask)) = plan else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for cg in 0..u64::from(ncg).min(1 << 20) {
        let frag = cg
            .saturating_mul(fpg)
            .saturating_add(off.saturating_mul(cg & !mask))
            .saturating_add(sblkno);
        let sector = frag << fsbtodb;
        let Some(byte) = sector.checked_mul(512) else {
            break;
        };
        if byte >= dev.len() {
            break;
        }
        if read_raw(dev, byte).is_ok() {
            out.push(sector);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::edit;
    use crate::newfs::NewfsOptions;

    fn fresh(version: UfsVersion) -> (Vec<u8>, Superblock, Geometry) {
        let mut o = NewfsOptions::freebsd_12_1();
        o.version = version;
        let img = crate::newfs::in_memory(16 << 20, &o).unwrap();
        let (sb, geo) = Superblock::find(&img).unwrap();
        (img, sb, geo)
    }

    #[test]
    fn only_disagreeing_alternates_are_stale() {
        for v in [UfsVersion::Ufs1, UfsVersion::Ufs2] {
            let (mut img, sb, geo) = fresh(v);
            assert!(geo.ncg >= 3, "{}", geo.ncg);
            assert!(stale_alternates(&img, &sb, &geo).is_empty(), "{v:?}");
            // A field cmpsblks() compares, changed in group 2's copy...
            let loc = geo.frag_offset(geo.cgsblock(crate::CgIdx(2)));
            let (d, i) = edit::lookup(edit::FS_FIELDS, "fs_ipg").unwrap();
            let l = usize::try_from(loc).unwrap();
            let at = l..l + 8192;
            edit::set(
                &mut img[at.clone()],
                &d,
                i,
                i128::from(geo.ipg) + 8,
                geo.endian,
            )
            .unwrap();
            assert_eq!(stale_alternates(&img, &sb, &geo), vec![loc], "{v:?}");
            // ...while one it does not compare (the clean flag) is no matter.
            edit::set(&mut img[at.clone()], &d, i, i128::from(geo.ipg), geo.endian).unwrap();
            let (d, i) = edit::lookup(edit::FS_FIELDS, "fs_clean").unwrap();
            edit::set(&mut img[at], &d, i, 0, geo.endian).unwrap();
            assert!(stale_alternates(&img, &sb, &geo).is_empty(), "{v:?}");
        }
    }

    #[test]
    fn a_short_image_is_named_with_what_is_missing() {
        let (mut img, sb, geo) = fresh(UfsVersion::Ufs2);
        assert_eq!(truncated(&img, &sb), None);
        let need = img.len() as u64;
        // Cut into the second group: groups 1.. are (partly) missing.
        let keep = geo.fpg * u64::from(geo.fsize) + 4096;
        img.truncate(usize::try_from(keep).unwrap());
        let msg = truncated(&img, &sb).expect("reported");
        assert!(
            msg.contains(&format!("NEEDS {need} BYTES, THE IMAGE HAS {keep}")),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("({} BYTES MISSING", need - keep)),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("IN CYLINDER GROUPS 1-{}", geo.ncg - 1)),
            "{msg}"
        );
        assert!(msg.contains(&format!("truncate -s {need}")), "{msg}");
    }

    #[test]
    fn the_superblock_hash_is_checked_only_when_enabled() {
        let (_, mut sb, _) = fresh(UfsVersion::Ufs2);
        sb.fs.fs_metackhash |= ckhash::CK_SUPERBLOCK;
        sb.fs.fs_ckhash = sb.compute_ckhash();
        assert_eq!(hash_mismatch(&sb), None);
        let good = sb.fs.fs_ckhash;
        sb.fs.fs_ckhash ^= 1;
        assert_eq!(hash_mismatch(&sb), Some((good ^ 1, good)));
        sb.fs.fs_metackhash &= !ckhash::CK_SUPERBLOCK;
        assert_eq!(hash_mismatch(&sb), None);
    }

    #[test]
    fn totals_come_from_the_fields_the_version_uses() {
        for v in [UfsVersion::Ufs1, UfsVersion::Ufs2] {
            let (_, mut sb, _) = fresh(v);
            let t = sb.totals();
            let got = cstotal(&sb);
            assert_eq!(got.ndir, u64::try_from(t.ndir).unwrap());
            assert_eq!(got.nbfree, u64::try_from(t.nbfree).unwrap());
            assert!(got.nbfree > 0 && got.nifree > 0 && got.ndir >= 1);
            // Negative counts (damage) read as zero, never wrap.
            let mut bad = t;
            bad.nffree = -5;
            sb.set_totals(bad);
            assert_eq!(cstotal(&sb).nffree, 0, "{v:?}");
        }
    }
}
