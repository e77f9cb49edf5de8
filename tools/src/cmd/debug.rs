//! `ufs debug IMAGE COMMAND...`: print and set raw fields of an image, for
//! scripts and for making fsck regression cases (fsdb(8)-like).
//!
//! Commands (each argument is one command; `;` also separates commands;
//! `-f FILE` reads commands from a file, one per line, `#` comments):
//!
//! - `print sb` | `print cg N` | `print inode N` | `print dirent DIR INDEX`
//! - `set sb FIELD VALUE`, `set cg N FIELD VALUE`, `set inode N FIELD VALUE`
//! - `set dirent DIR INDEX FIELD VALUE` (`d_ino`, `d_reclen`, `d_type`, `d_namlen`)
//! - `clri N` (zero inode N)
//! - `zero dirblock DIR N` (zero logical block N of a directory)
//! - `ckhash off` / `ckhash on` (stop / resume recomputing check hashes)
//!
//! FIELD is the C name (`fs_cstotal[1]`, `cs_nbfree` for `cg_cs[1]`,
//! `di_db[0]`); DIR is a path or `#INO`. Check hashes of what was changed
//! are recomputed unless `--no-ckhash` is given. The image is written once,
//! after every command succeeded.

use ufskit::bmap::{self, BlockKind, Walk};
use ufskit::edit::{self, FieldDesc};
use ufskit::ondisk::consts::{ckhash, SBLOCKSEARCH};
use ufskit::superblock::{Geometry, Superblock, UfsVersion};
use ufskit::{CgIdx, Endian, Frag, Ino};

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Do not recompute check hashes after a change.
    #[arg(long)]
    pub no_ckhash: bool,
    /// Read commands from this file.
    #[arg(short = 'f', value_name = "FILE")]
    pub script: Option<std::path::PathBuf>,
    /// Image file.
    pub image: std::path::PathBuf,
    /// Commands.
    pub commands: Vec<String>,
}

/// Runs the command.
pub fn run(a: Args) -> i32 {
    let mut cmds: Vec<String> = Vec::new();
    if let Some(f) = &a.script {
        match std::fs::read_to_string(f) {
            Ok(s) => cmds.extend(
                s.lines()
                    .map(|l| l.split('#').next().unwrap_or("").trim().to_string()),
            ),
            Err(e) => return crate::output::fail(&f.display().to_string(), &e),
        }
    }
    for c in &a.commands {
        cmds.extend(c.split(';').map(|x| x.trim().to_string()));
    }
    cmds.retain(|c| !c.is_empty());
    // The whole image is edited in memory (commands address any byte of
    // it); refuse sizes that would not fit comfortably.
    match std::fs::metadata(&a.image) {
        Ok(m) if m.len() > MAX_IMAGE => {
            let e = format!(
                "{} bytes is more than ufs debug edits in memory ({MAX_IMAGE})",
                m.len()
            );
            return crate::output::fail(&a.image.display().to_string(), &e);
        }
        Ok(_) => {}
        Err(e) => return crate::output::fail(&a.image.display().to_string(), &e),
    }
    let mut img = match std::fs::read(&a.image) {
        Ok(b) => b,
        Err(e) => return crate::output::fail(&a.image.display().to_string(), &e),
    };
    let orig = img.clone();
    let mut hash = !a.no_ckhash;
    for c in &cmds {
        match c.as_str() {
            "ckhash off" => {
                hash = false;
                continue;
            }
            "ckhash on" => {
                hash = true;
                continue;
            }
            _ => {}
        }
        if let Err(e) = exec(&mut img, c, hash) {
            eprintln!("ufs debug: {c}: {e}");
            return crate::EXIT_FAILURE;
        }
    }
    if let Err(e) = write_changes(&a.image, &orig, &img) {
        return crate::output::fail(&a.image.display().to_string(), &e);
    }
    0
}

/// Largest image `ufs debug` loads.
const MAX_IMAGE: u64 = 2 << 30;

/// Writes back only the 4 KiB pieces that changed, in place (no
/// truncation), so a sparse image stays sparse and a small edit of a large
/// image is a small write.
fn write_changes(path: &std::path::Path, orig: &[u8], new: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    const PIECE: usize = 4096;
    let mut file: Option<std::fs::File> = None;
    for (k, (a, b)) in orig.chunks(PIECE).zip(new.chunks(PIECE)).enumerate() {
        if a != b {
            let f = match &file {
                Some(f) => f,
                None => file.insert(std::fs::OpenOptions::new().write(true).open(path)?),
            };
            f.write_all_at(b, (k * PIECE) as u64)?;
        }
    }
    if let Some(f) = file {
        f.sync_all()?;
    }
    Ok(())
}

fn find_sb(img: &[u8]) -> Result<(Superblock, Option<Geometry>), String> {
    let dev = img;
    let mut first: Option<Superblock> = None;
    for &loc in SBLOCKSEARCH.iter() {
        let Some(bytes) = img.get(loc as usize..(loc as usize + 8192).min(img.len())) else {
            continue;
        };
        let Ok(sb) = Superblock::decode(bytes, loc) else {
            continue;
        };
        if sb.fs.fs_magic == ufskit::ondisk::consts::FS_UFS2_MAGIC
            && sb.fs.fs_sblockloc != loc as i64
        {
            continue;
        }
        if let Ok(g) = Geometry::from_superblock(&sb, dev.len() as u64) {
            return Ok((sb, Some(g)));
        }
        first.get_or_insert(sb);
    }
    first
        .map(|s| (s, None))
        .ok_or_else(|| "no superblock".into())
}

fn num(s: &str) -> Result<i128, String> {
    let (neg, t) = match s.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, s),
    };
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i128::from_str_radix(h, 16)
    } else if let Some(o) = t.strip_prefix("0o") {
        i128::from_str_radix(o, 8)
    } else {
        t.parse::<i128>()
    }
    .map_err(|_| format!("bad number {s:?}"))?;
    Ok(if neg { -v } else { v })
}

fn alias(name: &str) -> String {
    match name {
        "cs_ndir" => "cg_cs[0]".into(),
        "cs_nbfree" => "cg_cs[1]".into(),
        "cs_nifree" => "cg_cs[2]".into(),
        "cs_nffree" => "cg_cs[3]".into(),
        _ => name.into(),
    }
}

struct Ctx {
    sb: Superblock,
    geo: Option<Geometry>,
}

impl Ctx {
    fn geo(&self) -> Result<&Geometry, String> {
        self.geo
            .as_ref()
            .ok_or_else(|| "the superblock is not usable for this command".to_string())
    }
    fn endian(&self) -> Endian {
        self.sb.endian
    }
}

fn exec(img: &mut [u8], cmd: &str, hash: bool) -> Result<(), String> {
    let w: Vec<&str> = cmd.split_whitespace().collect();
    let (sb, geo) = find_sb(img)?;
    let cx = Ctx { sb, geo };
    let e = cx.endian();
    match w.as_slice() {
        ["print", "sb"] => print_region(img, region_sb(&cx), edit::FS_FIELDS, e),
        ["print", "cg", n] => print_region(img, region_cg(&cx, num(n)?)?, edit::CGHEADER_FIELDS, e),
        ["print", "inode", n] => {
            let (r, t) = region_inode(&cx, num(n)?)?;
            print_region(img, r, t, e)
        }
        ["print", "dirent", d, i] => {
            let off = dirent_offset(img, &cx, d, num(i)?)?;
            print_region(img, (off, 8), edit::DIRECTHDR_FIELDS, e)
        }
        ["set", "sb", f, v] => {
            let r = region_sb(&cx);
            set_in(img, r, edit::FS_FIELDS, f, num(v)?, e)?;
            if hash
                && (read_field(img, r, edit::FS_FIELDS, "fs_metackhash", e)? as u32)
                    & ckhash::CK_SUPERBLOCK
                    != 0
            {
                edit::rehash_superblock(&mut img[r.0..r.0 + r.1], e);
            }
            Ok(())
        }
        ["set", "cg", n, f, v] => {
            let r = region_cg(&cx, num(n)?)?;
            set_in(img, r, edit::CGHEADER_FIELDS, &alias(f), num(v)?, e)?;
            if hash && cx.geo()?.has_ckhash(ckhash::CK_CYLGRP) {
                edit::rehash_cg(&mut img[r.0..r.0 + r.1], e);
            }
            Ok(())
        }
        ["set", "inode", n, f, v] => {
            let (r, t) = region_inode(&cx, num(n)?)?;
            set_in(img, r, t, f, num(v)?, e)?;
            rehash_inode(img, &cx, r, hash)
        }
        ["clri", n] => {
            let (r, _) = region_inode(&cx, num(n)?)?;
            img[r.0..r.0 + r.1].fill(0);
            Ok(())
        }
        ["set", "dirent", d, i, f, v] => {
            let off = dirent_offset(img, &cx, d, num(i)?)?;
            set_in(img, (off, 8), edit::DIRECTHDR_FIELDS, f, num(v)?, e)
        }
        ["zero", "dirblock", d, n] => {
            let ino = resolve(img, &cx, d)?;
            let lbn = u64::try_from(num(n)?).map_err(|_| "bad block number")?;
            let geo = cx.geo()?.clone();
            let dev = img.to_vec();
            let ip = ufskit::Inode::read(&dev, &geo, Ino(ino)).map_err(|e| e.to_string())?;
            let (addr, nfrags) = data_block(&dev, &geo, &ip, lbn)?;
            let start = geo.frag_offset(Frag(addr)) as usize;
            let len = (u64::from(nfrags) << geo.fshift) as usize;
            img.get_mut(start..start + len)
                .ok_or("block outside the image")?
                .fill(0);
            Ok(())
        }
        _ => Err("unknown command".into()),
    }
}

fn region_sb(cx: &Ctx) -> (usize, usize) {
    (
        cx.sb.location as usize,
        usize::try_from(cx.sb.fs.fs_sbsize)
            .unwrap_or(8192)
            .clamp(1376, 8192),
    )
}

fn region_cg(cx: &Ctx, n: i128) -> Result<(usize, usize), String> {
    let g = cx.geo()?;
    let c = u32::try_from(n)
        .ok()
        .filter(|&c| c < g.ncg)
        .ok_or("no such cylinder group")?;
    Ok((g.frag_offset(g.cgtod(CgIdx(c))) as usize, g.cgsize as usize))
}

fn region_inode(cx: &Ctx, n: i128) -> Result<((usize, usize), &'static [FieldDesc]), String> {
    let g = cx.geo()?;
    let ino = u32::try_from(n)
        .ok()
        .filter(|&i| g.ino_valid(Ino(i)))
        .ok_or("no such inode")?;
    let t = match g.version {
        UfsVersion::Ufs1 => edit::DINODE1_FIELDS,
        UfsVersion::Ufs2 => edit::DINODE2_FIELDS,
    };
    Ok((
        (
            g.inode_offset(Ino(ino)) as usize,
            g.version.inode_size() as usize,
        ),
        t,
    ))
}

fn rehash_inode(img: &mut [u8], cx: &Ctx, r: (usize, usize), hash: bool) -> Result<(), String> {
    let g = cx.geo()?;
    if hash && g.version == UfsVersion::Ufs2 && g.has_ckhash(ckhash::CK_INODE) {
        edit::rehash_inode(&mut img[r.0..r.0 + r.1], cx.endian());
    }
    Ok(())
}

fn read_field(
    img: &[u8],
    r: (usize, usize),
    t: &'static [FieldDesc],
    f: &str,
    e: Endian,
) -> Result<i128, String> {
    let (d, i) = edit::lookup(t, f).map_err(|e| e.to_string())?;
    let buf = img.get(r.0..r.0 + r.1).ok_or("outside the image")?;
    edit::get(buf, &d, i, e).map_err(|e| e.to_string())
}

fn set_in(
    img: &mut [u8],
    r: (usize, usize),
    t: &'static [FieldDesc],
    f: &str,
    v: i128,
    e: Endian,
) -> Result<(), String> {
    let (d, i) = edit::lookup(t, f).map_err(|e| e.to_string())?;
    let buf = img.get_mut(r.0..r.0 + r.1).ok_or("outside the image")?;
    edit::set(buf, &d, i, v, e).map_err(|e| e.to_string())
}

fn print_region(
    img: &[u8],
    r: (usize, usize),
    t: &'static [FieldDesc],
    e: Endian,
) -> Result<(), String> {
    let buf = img.get(r.0..r.0 + r.1).ok_or("outside the image")?;
    for l in edit::dump(buf, t, e) {
        println!("{l}");
    }
    Ok(())
}

fn data_block(
    dev: &Vec<u8>,
    geo: &Geometry,
    ip: &ufskit::Inode,
    lbn: u64,
) -> Result<(u64, u32), String> {
    let mut found = None;
    let _ = bmap::walk(dev, geo, ip, Some(lbn + 1), &mut |r| {
        if r.kind == (BlockKind::Data { lbn }) {
            found = Some((r.addr.0, r.nfrags));
            return Ok(Walk::Stop);
        }
        Ok(Walk::Continue)
    });
    found.ok_or_else(|| format!("block {lbn} is a hole"))
}

fn resolve(img: &[u8], cx: &Ctx, d: &str) -> Result<u32, String> {
    if let Some(n) = d.strip_prefix('#') {
        return u32::try_from(num(n)?).map_err(|_| "bad inode number".into());
    }
    let geo = cx.geo()?.clone();
    let dev = img.to_vec();
    let fs = ufskit::Ufs::open(Box::new(dev), &ufskit::OpenOptions::read_only())
        .map_err(|e| e.to_string())?;
    let _ = geo;
    fs.lookup(d, ufskit::Follow::NotLast)
        .map(|i| i.0)
        .map_err(|e| e.to_string())
}

/// Byte offset in the image of entry `index` (0-based, empty slots
/// included) of a directory.
fn dirent_offset(img: &[u8], cx: &Ctx, d: &str, index: i128) -> Result<usize, String> {
    let ino = resolve(img, cx, d)?;
    let geo = cx.geo()?.clone();
    let dev = img.to_vec();
    let ip = ufskit::Inode::read(&dev, &geo, Ino(ino)).map_err(|e| e.to_string())?;
    let mut want = usize::try_from(index).map_err(|_| "bad index")?;
    let nblk = ip.size().div_ceil(geo.bsize64());
    for lbn in 0..nblk {
        let Ok((addr, nfrags)) = data_block(&dev, &geo, &ip, lbn) else {
            continue;
        };
        let start = geo.frag_offset(Frag(addr)) as usize;
        let len = (u64::from(nfrags) << geo.fshift) as usize;
        let block = img
            .get(start..start + len)
            .ok_or("block outside the image")?;
        for (ci, chunk) in block.chunks(512).enumerate() {
            let (entries, _) = ufskit::dir::parse_chunk(chunk, 0, geo.endian);
            for en in entries {
                if want == 0 {
                    return Ok(start + ci * 512 + en.offset as usize);
                }
                want -= 1;
            }
        }
    }
    Err("no such entry".into())
}
