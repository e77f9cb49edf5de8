//! `ufs info`: what the superblock says, as a summary, as FreeBSD dumpfs(8)
//! prints it (`--dumpfs`), or as JSON; `--cg N` shows one cylinder group.

use crate::output::{ctime, fail, open_ro_search};
use std::fmt::Write as _;
use std::path::PathBuf;
use ufskit::cg::CylGroup;
use ufskit::ondisk::consts::{ckhash, fsflags};
use ufskit::{CgIdx, Ufs, UfsVersion};

/// Arguments of `ufs info`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Image file.
    pub image: PathBuf,
    /// Show cylinder group N (its header, summary and maps).
    #[arg(long = "cg", value_name = "N")]
    pub cg: Option<u32>,
    /// Print exactly what FreeBSD 12.1's dumpfs prints (all groups).
    #[arg(long, conflicts_with = "json")]
    pub dumpfs: bool,
    /// Print JSON for machines.
    #[arg(long)]
    pub json: bool,
    /// Use the superblock copy at this byte offset.
    #[arg(long, value_name = "BYTES", conflicts_with = "search_sb")]
    pub superblock: Option<u64>,
    /// Where to look for the superblock (`--search-sb`).
    #[command(flatten)]
    pub sb: crate::output::SearchSb,
}

/// The partition table of IMAGE, if it is a disk image.
fn disk(image: &std::path::Path) -> Option<ufskit::disk::Disk> {
    let dev = ufskit::io::FileDevice::open_read_only(&crate::image::target(image).path).ok()?;
    ufskit::disk::disk_of(&dev)
}

/// The partition list `ufs info` prints before the file system of a disk.
fn disk_text(d: &ufskit::disk::Disk) -> String {
    let mut s = format!("disk:               {} partition table\n", d.scheme);
    for n in &d.notes {
        let _ = writeln!(s, "note:               {n}");
    }
    let _ = writeln!(
        s,
        "  {:<6} {:<6} {:<22} {:>14} {:>14}",
        "part", "scheme", "type", "offset", "size"
    );
    for p in &d.partitions {
        let _ = writeln!(
            s,
            "  {:<6} {:<6} {:<22} {:>14} {:>14}",
            p.name, p.scheme, p.kind, p.offset, p.size
        );
    }
    s
}

fn disk_json(d: &ufskit::disk::Disk) -> serde_json::Value {
    serde_json::json!({
        "scheme": d.scheme.to_string(),
        "notes": d.notes,
        "partitions": d.partitions.iter().map(|p| serde_json::json!({
            "name": p.name,
            "scheme": p.scheme.to_string(),
            "type": p.kind,
            "offset": p.offset,
            "size": p.size,
            "ufs_type": p.ufs_type,
            "container": p.container,
        })).collect::<Vec<_>>(),
    })
}

/// Runs `ufs info`.
pub fn run(a: Args) -> i32 {
    let disk = if a.dumpfs { None } else { disk(&a.image) };
    if let Some(d) = &disk {
        if !a.json {
            print!("{}", disk_text(d));
        }
    }
    let fs = match open_ro_search(&a.image, a.superblock, a.sb) {
        Ok(fs) => fs,
        // A disk with no single UFS partition is still worth listing.
        Err(code) => {
            if let (Some(d), true) = (&disk, a.json) {
                let v = serde_json::json!({ "disk": disk_json(d) });
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            return code;
        }
    };
    if disk.is_some() && !a.json {
        println!();
    }
    let out = if a.dumpfs {
        dumpfs(&fs, a.cg)
    } else if a.json {
        json(&fs, a.cg)
            .map(|mut v| {
                if let (Some(d), Some(o)) = (&disk, v.as_object_mut()) {
                    o.insert("disk".into(), disk_json(d));
                }
                v
            })
            .map(|v| format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default()))
    } else if let Some(c) = a.cg {
        fs.cg(CgIdx(c))
            .map_err(|e| e.to_string())
            .map(|cg| dump_cg(&fs, &cg))
    } else {
        summary(&fs, &a.image)
    };
    match out {
        Ok(s) => {
            print!("{s}");
            0
        }
        Err(e) => fail(&a.image.display().to_string(), &e),
    }
}

fn flag_names(flags: i32) -> Vec<&'static str> {
    let table = [
        (fsflags::FS_UNCLEAN, "unclean"),
        (fsflags::FS_DOSOFTDEP, "soft-updates"),
        (fsflags::FS_NEEDSFSCK, "needs-fsck"),
        (fsflags::FS_SUJ, "journal"),
        (fsflags::FS_ACLS, "acls"),
        (fsflags::FS_MULTILABEL, "multilabel"),
        (fsflags::FS_GJOURNAL, "gjournal"),
        (fsflags::FS_NFS4ACLS, "nfsv4acls"),
        (fsflags::FS_METACKHASH, "check-hashes"),
        (fsflags::FS_TRIM, "trim"),
    ];
    table
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, n)| *n)
        .collect()
}

fn ckhash_names(m: u32) -> Vec<&'static str> {
    let table = [
        (ckhash::CK_SUPERBLOCK, "superblock"),
        (ckhash::CK_CYLGRP, "cylinder-groups"),
        (ckhash::CK_INODE, "inodes"),
        (ckhash::CK_INDIR, "indirect-blocks"),
        (ckhash::CK_DIR, "directories"),
    ];
    table
        .iter()
        .filter(|(b, _)| m & b != 0)
        .map(|(_, n)| *n)
        .collect()
}

fn summary(fs: &Ufs, image: &std::path::Path) -> Result<String, String> {
    let sb = fs.superblock();
    let g = fs.geometry();
    let f = &sb.fs;
    let mut s = String::new();
    let totals = totals(fs);
    let _ = writeln!(s, "image:              {}", image.display());
    let _ = writeln!(s, "format:             {} ({})", g.version, g.endian);
    let _ = writeln!(s, "superblock at:      byte {}", sb.location);
    let _ = writeln!(s, "volume label:       {}", sb.volname());
    let _ = writeln!(s, "last mounted on:    {}", sb.fsmnt());
    let _ = writeln!(
        s,
        "id:                 {:08x}{:08x}",
        bits_u32(f.fs_id[0]),
        bits_u32(f.fs_id[1])
    );
    let _ = writeln!(
        s,
        "state:              {}",
        if sb.clean_flag() {
            "clean"
        } else {
            "NOT clean"
        }
    );
    let fl = flag_names(f.fs_flags);
    let _ = writeln!(
        s,
        "flags:              {}",
        if fl.is_empty() {
            "none".into()
        } else {
            fl.join(" ")
        }
    );
    let ck = ckhash_names(g.metackhash);
    let _ = writeln!(
        s,
        "check hashes:       {}",
        if ck.is_empty() {
            "none".into()
        } else {
            ck.join(" ")
        }
    );
    let _ = writeln!(s, "block size:         {}", g.bsize);
    let _ = writeln!(s, "fragment size:      {}", g.fsize);
    let _ = writeln!(
        s,
        "size:               {} fragments ({} bytes)",
        g.size,
        g.size << g.fshift
    );
    let _ = writeln!(s, "data fragments:     {}", g.dsize);
    let _ = writeln!(
        s,
        "cylinder groups:    {} of {} fragments, {} inodes each",
        g.ncg, g.fpg, g.ipg
    );
    let _ = writeln!(
        s,
        "inodes:             {} ({} bytes each)",
        g.ninodes,
        g.version.inode_size()
    );
    let _ = writeln!(s, "minfree:            {}%", f.fs_minfree);
    let _ = writeln!(
        s,
        "optimization:       {}",
        if f.fs_optim == 1 { "space" } else { "time" }
    );
    let _ = writeln!(
        s,
        "last written:       {} UTC",
        crate::output::format_time(written_time(fs))
    );
    let _ = writeln!(
        s,
        "free:               {} blocks, {} fragments, {} inodes; {} directories",
        totals[1], totals[3], totals[2], totals[0]
    );
    let backups: Vec<String> = (0..g.ncg)
        .map(|c| (g.cgsblock(CgIdx(c)).0 << g.fsbtodb).to_string())
        .collect();
    let _ = writeln!(
        s,
        "superblock backups (512-byte sectors, for fsck -b): {}",
        backups.join(", ")
    );
    Ok(s)
}

fn written_time(fs: &Ufs) -> i64 {
    let f = &fs.superblock().fs;
    match fs.geometry().version {
        UfsVersion::Ufs2 => f.fs_time,
        UfsVersion::Ufs1 => i64::from(f.fs_old_time),
    }
}

/// ndir, nbfree, nifree, nffree as FreeBSD reads them.
fn totals(fs: &Ufs) -> [i64; 4] {
    fs.superblock().totals().as_array()
}

fn json(fs: &Ufs, cg: Option<u32>) -> Result<serde_json::Value, String> {
    use serde_json::json;
    let sb = fs.superblock();
    let g = fs.geometry();
    let f = &sb.fs;
    if let Some(c) = cg {
        let cgrp = fs.cg(CgIdx(c)).map_err(|e| e.to_string())?;
        let h = &cgrp.hdr;
        // UFS1 keeps the inode count in the old 16-bit field (as dumpfs shows).
        let niblk = match g.version {
            UfsVersion::Ufs2 => i64::from(h.cg_niblk),
            UfsVersion::Ufs1 => i64::from(h.cg_old_niblk),
        };
        return Ok(json!({
            "cg": c,
            "magic": h.cg_magic,
            "ndblk": h.cg_ndblk,
            "niblk": niblk,
            "initediblk": h.cg_initediblk,
            "ndir": h.cg_cs[0], "nbfree": h.cg_cs[1], "nifree": h.cg_cs[2], "nffree": h.cg_cs[3],
            "frsum": h.cg_frsum,
            "inodes_used": ranges((0..g.ipg).map(|i| cgrp.inode_used(i))),
            "frags_free": ranges((0..g.fpg).map(|i| cgrp.frag_free(i))),
        }));
    }
    let t = totals(fs);
    Ok(json!({
        "format": g.version.to_string(),
        "endian": match g.endian { ufskit::Endian::Little => "little", ufskit::Endian::Big => "big" },
        "superblock_location": sb.location,
        "volname": sb.volname(),
        "fsmnt": sb.fsmnt(),
        "id": [bits_u32(f.fs_id[0]), bits_u32(f.fs_id[1])],
        "clean": sb.clean_flag(),
        "flags": flag_names(f.fs_flags),
        "check_hashes": ckhash_names(g.metackhash),
        "bsize": g.bsize, "fsize": g.fsize, "frag": g.frag,
        "size_frags": g.size, "dsize_frags": g.dsize, "size_bytes": g.size << g.fshift,
        "ncg": g.ncg, "fpg": g.fpg, "ipg": g.ipg, "inodes": g.ninodes,
        "minfree": f.fs_minfree,
        "optim": if f.fs_optim == 1 { "space" } else { "time" },
        "time": written_time(fs),
        "free": { "ndir": t[0], "nbfree": t[1], "nifree": t[2], "nffree": t[3] },
        "backups_sectors": (0..g.ncg).map(|c| g.cgsblock(CgIdx(c)).0 << g.fsbtodb).collect::<Vec<_>>(),
        "backups_bytes": g.backup_offsets(),
        "soft_updates": f.fs_flags & fsflags::FS_DOSOFTDEP != 0,
        "journal": f.fs_flags & fsflags::FS_SUJ != 0,
    }))
}

/// A signed superblock field's bits read unsigned, as dumpfs prints them
/// (`%08x` of an `int32_t`) and the JSON output gives them.
fn bits_u32(v: i32) -> u32 {
    u32::from_ne_bytes(v.to_ne_bytes())
}

/// Set bits as `a-b, c` ranges, dumpfs's `pbits` without the line wrapping.
fn ranges(bits: impl Iterator<Item = bool>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut start: Option<u64> = None;
    let mut last = 0;
    for (i, b) in bits.enumerate() {
        let i = i as u64;
        match (b, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(if s == i - 1 {
                    s.to_string()
                } else {
                    format!("{s}-{}", i - 1)
                });
                start = None;
            }
            _ => {}
        }
        last = i;
    }
    if let Some(s) = start {
        out.push(if s == last {
            s.to_string()
        } else {
            format!("{s}-{last}")
        });
    }
    out.join(", ")
}

/// dumpfs's `pbits`: ranges, six to a line, continuation lines indented.
fn pbits(s: &mut String, bits: impl Iterator<Item = bool>) {
    let v: Vec<bool> = bits.collect();
    let mut count = 0;
    let mut i = 0;
    while i < v.len() {
        if v[i] {
            if count > 0 {
                s.push(',');
                s.push_str(if count % 6 != 0 { " " } else { "\n\t" });
            }
            count += 1;
            let j = i;
            while i + 1 < v.len() && v[i + 1] {
                i += 1;
            }
            if i != j {
                let _ = write!(s, "{j}-{i}");
            } else {
                let _ = write!(s, "{j}");
            }
        }
        i += 1;
    }
    s.push('\n');
}

/// FreeBSD 12.1 dumpfs output: the superblock, the summary of every group,
/// then each group (or only group `only`).
fn dumpfs(fs: &Ufs, only: Option<u32>) -> Result<String, String> {
    let sb = fs.superblock();
    let g = fs.geometry();
    let f = &sb.fs;
    let mut s = String::new();
    let ufs2 = g.version == UfsVersion::Ufs2;
    if ufs2 {
        let _ = writeln!(
            s,
            "magic\t{:x} (UFS2)\ttime\t{}",
            f.fs_magic,
            ctime(f.fs_time)
        );
        let _ = writeln!(
            s,
            "superblock location\t{}\tid\t[ {:08x} {:08x} ]",
            f.fs_sblockloc,
            bits_u32(f.fs_id[0]),
            bits_u32(f.fs_id[1])
        );
        let _ = writeln!(
            s,
            "ncg\t{}\tsize\t{}\tblocks\t{}",
            f.fs_ncg, f.fs_size, f.fs_dsize
        );
    } else {
        let _ = writeln!(
            s,
            "magic\t{:x} (UFS1)\ttime\t{}",
            f.fs_magic,
            ctime(i64::from(f.fs_old_time))
        );
        let _ = writeln!(
            s,
            "id\t[ {:08x} {:08x} ]",
            bits_u32(f.fs_id[0]),
            bits_u32(f.fs_id[1])
        );
        let _ = writeln!(
            s,
            "ncg\t{}\tsize\t{}\tblocks\t{}",
            f.fs_ncg, f.fs_old_size, f.fs_dsize
        );
    }
    let _ = writeln!(
        s,
        "bsize\t{}\tshift\t{}\tmask\t0x{:08x}",
        f.fs_bsize,
        f.fs_bshift,
        bits_u32(f.fs_bmask)
    );
    let _ = writeln!(
        s,
        "fsize\t{}\tshift\t{}\tmask\t0x{:08x}",
        f.fs_fsize,
        f.fs_fshift,
        bits_u32(f.fs_fmask)
    );
    let _ = writeln!(
        s,
        "frag\t{}\tshift\t{}\tfsbtodb\t{}",
        f.fs_frag, f.fs_fragshift, f.fs_fsbtodb
    );
    let _ = writeln!(
        s,
        "minfree\t{}%\toptim\t{}\tsymlinklen {}",
        f.fs_minfree,
        if f.fs_optim == 1 { "space" } else { "time" },
        f.fs_maxsymlinklen
    );
    if ufs2 {
        let _ = writeln!(
            s,
            "maxbsize {}\tmaxbpg\t{}\tmaxcontig {}\tcontigsumsize {}",
            f.fs_maxbsize, f.fs_maxbpg, f.fs_maxcontig, f.fs_contigsumsize
        );
        let t = &f.fs_cstotal;
        let _ = writeln!(
            s,
            "nbfree\t{}\tndir\t{}\tnifree\t{}\tnffree\t{}",
            t[1], t[0], t[2], t[3]
        );
        let _ = writeln!(
            s,
            "bpg\t{}\tfpg\t{}\tipg\t{}\tunrefs\t{}",
            f.fs_fpg / f.fs_frag.max(1),
            f.fs_fpg,
            f.fs_ipg,
            f.fs_unrefs
        );
        let _ = writeln!(
            s,
            "nindir\t{}\tinopb\t{}\tmaxfilesize\t{}",
            f.fs_nindir, f.fs_inopb, f.fs_maxfilesize
        );
        let _ = writeln!(
            s,
            "sbsize\t{}\tcgsize\t{}\tcsaddr\t{}\tcssize\t{}",
            f.fs_sbsize, f.fs_cgsize, f.fs_csaddr, f.fs_cssize
        );
    } else {
        let _ = writeln!(
            s,
            "maxbpg\t{}\tmaxcontig {}\tcontigsumsize {}",
            f.fs_maxbpg, f.fs_maxcontig, f.fs_contigsumsize
        );
        let t = &f.fs_old_cstotal;
        let _ = writeln!(
            s,
            "nbfree\t{}\tndir\t{}\tnifree\t{}\tnffree\t{}",
            t[1], t[0], t[2], t[3]
        );
        let _ = writeln!(
            s,
            "cpg\t{}\tbpg\t{}\tfpg\t{}\tipg\t{}",
            f.fs_old_cpg,
            f.fs_fpg / f.fs_frag.max(1),
            f.fs_fpg,
            f.fs_ipg
        );
        let _ = writeln!(
            s,
            "nindir\t{}\tinopb\t{}\tnspf\t{}\tmaxfilesize\t{}",
            f.fs_nindir, f.fs_inopb, f.fs_old_nspf, f.fs_maxfilesize
        );
        let _ = writeln!(
            s,
            "sbsize\t{}\tcgsize\t{}\tcgoffset {}\tcgmask\t0x{:08x}",
            f.fs_sbsize,
            f.fs_cgsize,
            f.fs_old_cgoffset,
            bits_u32(f.fs_old_cgmask)
        );
        let _ = writeln!(s, "csaddr\t{}\tcssize\t{}", f.fs_old_csaddr, f.fs_cssize);
        let _ = writeln!(
            s,
            "rotdelay {}ms\trps\t{}\ttrackskew {}\tinterleave {}",
            f.fs_old_rotdelay, f.fs_old_rps, f.fs_old_trackskew, f.fs_old_interleave
        );
        let _ = writeln!(
            s,
            "nsect\t{}\tnpsect\t{}\tspc\t{}",
            f.fs_old_nsect, f.fs_old_npsect, f.fs_old_spc
        );
    }
    let _ = writeln!(
        s,
        "sblkno\t{}\tcblkno\t{}\tiblkno\t{}\tdblkno\t{}",
        f.fs_sblkno, f.fs_cblkno, f.fs_iblkno, f.fs_dblkno
    );
    let _ = writeln!(
        s,
        "cgrotor\t{}\tfmod\t{}\tronly\t{}\tclean\t{}",
        f.fs_cgrotor, f.fs_fmod, f.fs_ronly, f.fs_clean
    );
    let _ = writeln!(
        s,
        "metaspace {}\tavgfpdir {}\tavgfilesize {}",
        f.fs_metaspace, f.fs_avgfpdir, f.fs_avgfilesize
    );
    s.push_str("flags\t");
    let fl = if f.fs_old_flags & ufskit::ondisk::consts::FS_FLAGS_UPDATED != 0 {
        f.fs_flags
    } else {
        i32::from(f.fs_old_flags)
    };
    if fl == 0 {
        s.push_str("none");
    }
    let named = [
        (fsflags::FS_UNCLEAN, "unclean "),
        (fsflags::FS_DOSOFTDEP, ""),
        (fsflags::FS_NEEDSFSCK, "needs fsck run "),
        (fsflags::FS_ACLS, "acls "),
        (fsflags::FS_MULTILABEL, "multilabel "),
        (fsflags::FS_GJOURNAL, "gjournal "),
        (fsflags::FS_FLAGS_UPDATED, "fs_flags expanded "),
        (fsflags::FS_NFS4ACLS, "nfsv4acls "),
        (fsflags::FS_TRIM, "trim "),
    ];
    for (bit, name) in named {
        if fl & bit == 0 {
            continue;
        }
        if bit == fsflags::FS_DOSOFTDEP {
            s.push_str(if fl & fsflags::FS_SUJ != 0 {
                "soft-updates+journal "
            } else {
                "soft-updates "
            });
        } else {
            s.push_str(name);
        }
    }
    let known = named
        .iter()
        .fold(fsflags::FS_SUJ | fsflags::FS_METACKHASH, |a, (b, _)| a | b);
    if fl & !known != 0 {
        let _ = write!(s, "unknown flags ({:#x})", fl & !known);
    }
    s.push('\n');
    if fl & fsflags::FS_METACKHASH != 0 {
        s.push_str("check hashes\t");
        for n in ckhash_names(f.fs_metackhash) {
            s.push_str(n);
            s.push(' ');
        }
    }
    // 12.1's dumpfs ends the check-hash line even when it printed none.
    s.push('\n');
    let _ = writeln!(s, "fsmnt\t{}", sb.fsmnt());
    let _ = writeln!(
        s,
        "volname\t{}\tswuid\t{}\tprovidersize\t{}",
        sb.volname(),
        f.fs_swuid,
        f.fs_providersize
    );
    s.push_str("\ncs[].cs_(nbfree,ndir,nifree,nffree):\n\t");
    let sums = fs.cg_summaries().map_err(|e| e.to_string())?;
    for (i, c) in sums.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            s.push_str("\n\t");
        }
        let _ = write!(
            s,
            "({},{},{},{}) ",
            c.cs_nbfree, c.cs_ndir, c.cs_nifree, c.cs_nffree
        );
    }
    s.push('\n');
    let fssize = g.size;
    if !fssize.is_multiple_of(g.fpg) {
        if !ufs2 {
            let per = (i64::from(f.fs_old_spc) / i64::from(f.fs_old_nspf.max(1))).max(1);
            // Less than fs_fpg, a 32-bit field.
            let rem = i64::try_from(fssize % g.fpg).unwrap_or(i64::MAX);
            let _ = writeln!(
                s,
                "cylinders in last group {}",
                rem / per + i64::from(rem % per != 0)
            );
        }
        let _ = writeln!(
            s,
            "blocks in last group {}\n",
            (fssize % g.fpg) / u64::from(g.frag)
        );
    }
    let groups: Vec<u32> = match only {
        Some(c) => vec![c],
        None => (0..g.ncg).collect(),
    };
    for c in groups {
        let cg = fs.cg(CgIdx(c)).map_err(|e| e.to_string())?;
        s.push_str(&dump_cg(fs, &cg));
    }
    Ok(s)
}

/// One group in dumpfs's format.
fn dump_cg(fs: &Ufs, cg: &CylGroup) -> String {
    let g = fs.geometry();
    let f = &fs.superblock().fs;
    let h = &cg.hdr;
    let mut s = String::new();
    let c = cg.idx();
    let tell = g.frag_offset(g.cgtod(c));
    let _ = writeln!(s, "\ncg {}:", c.0);
    if g.version == UfsVersion::Ufs2 {
        let _ = writeln!(
            s,
            "magic\t{:x}\ttell\t{:x}\ttime\t{}",
            h.cg_magic,
            tell,
            ctime(h.cg_time)
        );
        let _ = writeln!(
            s,
            "cgx\t{}\tndblk\t{}\tniblk\t{}\tinitiblk {}\tunrefs {}",
            h.cg_cgx, h.cg_ndblk, h.cg_niblk, h.cg_initediblk, h.cg_unrefs
        );
    } else {
        let _ = writeln!(
            s,
            "magic\t{:x}\ttell\t{:x}\ttime\t{}",
            h.cg_magic,
            tell,
            ctime(i64::from(h.cg_old_time))
        );
        let _ = writeln!(
            s,
            "cgx\t{}\tncyl\t{}\tniblk\t{}\tndblk\t{}",
            h.cg_cgx, h.cg_old_ncyl, h.cg_old_niblk, h.cg_ndblk
        );
    }
    let _ = writeln!(
        s,
        "nbfree\t{}\tndir\t{}\tnifree\t{}\tnffree\t{}",
        h.cg_cs[1], h.cg_cs[0], h.cg_cs[2], h.cg_cs[3]
    );
    let _ = write!(
        s,
        "rotor\t{}\tirotor\t{}\tfrotor\t{}\nfrsum",
        h.cg_rotor, h.cg_irotor, h.cg_frotor
    );
    let mut sum = 0u64;
    for i in 1..g.frag as usize {
        let v = h.cg_frsum.get(i).copied().unwrap_or(0);
        let _ = write!(s, "\t{v}");
        sum += i as u64 * u64::from(v);
    }
    let _ = write!(s, "\nsum of frsum: {sum}");
    // A negative size means no cluster summary, as 0 does.
    let css = u32::try_from(f.fs_contigsumsize).unwrap_or(0);
    if css > 0 {
        for i in 1..css {
            if (i - 1) % 8 == 0 {
                let _ = write!(s, "\nclusters {}-{}:", i, (css - 1).min(i + 7));
            }
            let _ = write!(s, "\t{}", cg.cluster_sum(i, g.endian).unwrap_or(0));
        }
        let _ = writeln!(
            s,
            "\nclusters size {} and over: {}",
            css,
            cg.cluster_sum(css, g.endian).unwrap_or(0)
        );
        s.push_str("clusters free:\t");
        pbits(
            &mut s,
            (0..u64::from(h.cg_nclusterblks)).map(|b| cg.cluster_free(b)),
        );
    } else {
        s.push('\n');
    }
    s.push_str("inodes used:\t");
    pbits(&mut s, (0..g.ipg).map(|i| cg.inode_used(i)));
    s.push_str("blks free:\t");
    pbits(&mut s, (0..g.fpg).map(|i| cg.frag_free(i)));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_format() {
        let bits = [true, true, false, true, false, false, true, true, true];
        assert_eq!(ranges(bits.into_iter()), "0-1, 3, 6-8");
    }
}
