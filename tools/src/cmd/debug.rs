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
//!
//! The image is never loaded whole: it is opened read-only and the commands
//! read and write through a sector overlay ([`Overlay`]), so memory follows
//! what they touch and images of any size work. At the end the changed
//! sectors that differ from the file are written in place.

use ufskit::bmap::{self, BlockKind, Walk};
use ufskit::edit::{self, FieldDesc};
use ufskit::io::overlay::{Overlay, WriteClass, PAGE};
use ufskit::io::Device;
use ufskit::ondisk::consts::{ckhash, SBLOCKSEARCH};
use ufskit::superblock::{Geometry, Superblock, UfsVersion};
use ufskit::{CgIdx, Endian, Frag, Ino};

use std::rc::Rc;

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
    // The image is read where the commands look and their changes are
    // kept as sectors over it, so memory follows what the commands touch,
    // not the image size.
    let base: Rc<dyn Device> = match crate::image::open_device(&a.image, false) {
        Ok(d) => Rc::new(d),
        Err(e) => return crate::output::fail(&a.image.display().to_string(), &e),
    };
    let img = Image {
        ov: Overlay::shared(Rc::clone(&base)),
        base,
    };
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
        if let Err(e) = exec(&img, c, hash) {
            eprintln!("ufs debug: {c}: {e}");
            return crate::EXIT_FAILURE;
        }
    }
    if let Err(e) = write_changes(&a.image, &img) {
        return crate::output::fail(&a.image.display().to_string(), &e);
    }
    0
}

/// The image being edited: the file, opened read-only, under the changes
/// the commands made so far (nothing reaches the file before the end).
struct Image<'a> {
    /// The changes, as 512-byte sectors over `base`; reads go through them.
    ov: Overlay<'a>,
    /// The file (the overlay's base), to compare the changes with.
    base: Rc<dyn Device>,
}

impl Image<'_> {
    /// The edited image as a device.
    fn dev(&self) -> &dyn Device {
        &self.ov
    }

    /// Image length in bytes.
    fn len(&self) -> u64 {
        self.ov.len()
    }

    /// `len` bytes at `off` of the edited image, or `what` when they are
    /// not all inside it.
    fn read(&self, off: u64, len: usize, what: &str) -> Result<Vec<u8>, String> {
        self.check(off, len, what)?;
        let mut buf = vec![0u8; len];
        self.ov.read_at(off, &mut buf).map_err(|e| e.to_string())?;
        Ok(buf)
    }

    /// `what` unless `len` bytes at `off` are all inside the image.
    fn check(&self, off: u64, len: usize, what: &str) -> Result<(), String> {
        match off.checked_add(len as u64) {
            Some(end) if end <= self.len() => Ok(()),
            _ => Err(what.into()),
        }
    }

    /// Lays `data` over the image at `off` (inside the image).
    fn write(&self, off: u64, data: &[u8]) -> Result<(), String> {
        self.ov
            .put(off, data, WriteClass::Data)
            .map_err(|e| e.to_string())
    }

    /// An owned read-only device showing the image as edited so far, for
    /// what needs a whole file system (path lookup).
    fn snapshot(&self) -> Result<Box<dyn Device>, String> {
        self.ov
            .snapshot()
            .ok_or_else(|| "the edit overlay cannot be snapshot".to_string())
    }
}

/// Writes back only the sectors that differ from the file, in place (no
/// truncation), so a sparse image stays sparse and a small edit of a large
/// image is a small write. The file is not opened for writing when
/// nothing changed.
fn write_changes(path: &std::path::Path, img: &Image<'_>) -> ufskit::Result<()> {
    // 512: the overlay's page.
    let sector = usize::try_from(PAGE).unwrap_or(512);
    // Opened like the image was (the same partition), so offsets match.
    let mut file: Option<ufskit::io::FileDevice> = None;
    for (_, off, new) in img.ov.runs() {
        let mut old = vec![0u8; new.len()];
        ufskit::io::read_exact(&*img.base, off, &mut old)?;
        // Maximal stretches of differing sectors.
        let mut k = 0;
        while k < new.len() {
            let differs = |k: usize| {
                let e = (k + sector).min(new.len());
                new[k..e] != old[k..e]
            };
            if !differs(k) {
                k += sector;
                continue;
            }
            let s = k;
            while k < new.len() && differs(k) {
                k += sector;
            }
            let e = k.min(new.len());
            let f = match &mut file {
                Some(f) => f,
                None => file.insert(crate::image::open_device(path, true)?),
            };
            ufskit::io::write_all(f, off + s as u64, &new[s..e])?;
        }
    }
    if let Some(mut f) = file {
        f.flush().map_err(|source| ufskit::Error::Io {
            op: "syncing",
            offset: 0,
            len: 0,
            source,
        })?;
    }
    Ok(())
}

fn find_sb(img: &Image<'_>) -> Result<(Superblock, Option<Geometry>), String> {
    let len = img.len();
    let mut first: Option<Superblock> = None;
    for &loc in SBLOCKSEARCH.iter() {
        if loc > len {
            continue;
        }
        let Ok(bytes) = img.read(loc, (len - loc).min(8192) as usize, "") else {
            continue;
        };
        let Ok(sb) = Superblock::decode(&bytes, loc) else {
            continue;
        };
        if sb.fs.fs_magic == ufskit::ondisk::consts::FS_UFS2_MAGIC
            && u64::try_from(sb.fs.fs_sblockloc).ok() != Some(loc)
        {
            continue;
        }
        if let Ok(g) = Geometry::from_superblock(&sb, len) {
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

fn exec(img: &Image<'_>, cmd: &str, hash: bool) -> Result<(), String> {
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
            let mut buf = set_in(img, r, edit::FS_FIELDS, f, num(v)?, e)?;
            if hash
                && u32::try_from(read_field(&buf, edit::FS_FIELDS, "fs_metackhash", e)?)
                    .unwrap_or(0)
                    & ckhash::CK_SUPERBLOCK
                    != 0
            {
                edit::rehash_superblock(&mut buf, e);
            }
            img.write(r.0, &buf)
        }
        ["set", "cg", n, f, v] => {
            let r = region_cg(&cx, num(n)?)?;
            let mut buf = set_in(img, r, edit::CGHEADER_FIELDS, &alias(f), num(v)?, e)?;
            if hash && cx.geo()?.has_ckhash(ckhash::CK_CYLGRP) {
                edit::rehash_cg(&mut buf, e);
            }
            img.write(r.0, &buf)
        }
        ["set", "inode", n, f, v] => {
            let (r, t) = region_inode(&cx, num(n)?)?;
            let mut buf = set_in(img, r, t, f, num(v)?, e)?;
            rehash_inode(&mut buf, &cx, hash)?;
            img.write(r.0, &buf)
        }
        ["clri", n] => {
            let (r, _) = region_inode(&cx, num(n)?)?;
            img.check(r.0, r.1, OUTSIDE)?;
            img.write(r.0, &vec![0u8; r.1])
        }
        ["set", "dirent", d, i, f, v] => {
            let off = dirent_offset(img, &cx, d, num(i)?)?;
            let buf = set_in(img, (off, 8), edit::DIRECTHDR_FIELDS, f, num(v)?, e)?;
            img.write(off, &buf)
        }
        ["zero", "dirblock", d, n] => {
            let ino = resolve(img, &cx, d)?;
            let lbn = u64::try_from(num(n)?).map_err(|_| "bad block number")?;
            let geo = cx.geo()?;
            let ip = ufskit::Inode::read(img.dev(), geo, Ino(ino)).map_err(|e| e.to_string())?;
            let (addr, nfrags) = data_block(img.dev(), geo, &ip, lbn)?;
            let start = geo.frag_offset(Frag(addr));
            let len = block_len(geo, nfrags)?;
            img.check(start, len, BLOCK_OUTSIDE)?;
            img.write(start, &vec![0u8; len])
        }
        _ => Err("unknown command".into()),
    }
}

/// The error for a field region that is not inside the image.
const OUTSIDE: &str = "outside the image";
/// The error for a directory block that is not inside the image.
const BLOCK_OUTSIDE: &str = "block outside the image";

/// A region of the image: byte offset and length.
type Region = (u64, usize);

fn region_sb(cx: &Ctx) -> Region {
    (
        cx.sb.location,
        usize::try_from(cx.sb.fs.fs_sbsize)
            .unwrap_or(8192)
            .clamp(1376, 8192),
    )
}

fn region_cg(cx: &Ctx, n: i128) -> Result<Region, String> {
    let g = cx.geo()?;
    let c = u32::try_from(n)
        .ok()
        .filter(|&c| c < g.ncg)
        .ok_or("no such cylinder group")?;
    Ok((g.frag_offset(g.cgtod(CgIdx(c))), g.cgsize as usize))
}

fn region_inode(cx: &Ctx, n: i128) -> Result<(Region, &'static [FieldDesc]), String> {
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
        (g.inode_offset(Ino(ino)), g.version.inode_size() as usize),
        t,
    ))
}

/// Recomputes the check hash of an inode's bytes when the image keeps
/// inode hashes and `hash` is on.
fn rehash_inode(buf: &mut [u8], cx: &Ctx, hash: bool) -> Result<(), String> {
    let g = cx.geo()?;
    if hash && g.version == UfsVersion::Ufs2 && g.has_ckhash(ckhash::CK_INODE) {
        edit::rehash_inode(buf, cx.endian());
    }
    Ok(())
}

fn read_field(buf: &[u8], t: &'static [FieldDesc], f: &str, e: Endian) -> Result<i128, String> {
    let (d, i) = edit::lookup(t, f).map_err(|e| e.to_string())?;
    edit::get(buf, &d, i, e).map_err(|e| e.to_string())
}

/// The bytes of region `r` with field `f` set to `v` (written by the
/// caller).
fn set_in(
    img: &Image<'_>,
    r: Region,
    t: &'static [FieldDesc],
    f: &str,
    v: i128,
    e: Endian,
) -> Result<Vec<u8>, String> {
    let (d, i) = edit::lookup(t, f).map_err(|e| e.to_string())?;
    let mut buf = img.read(r.0, r.1, OUTSIDE)?;
    edit::set(&mut buf, &d, i, v, e).map_err(|e| e.to_string())?;
    Ok(buf)
}

fn print_region(
    img: &Image<'_>,
    r: Region,
    t: &'static [FieldDesc],
    e: Endian,
) -> Result<(), String> {
    let buf = img.read(r.0, r.1, OUTSIDE)?;
    for l in edit::dump(&buf, t, e) {
        println!("{l}");
    }
    Ok(())
}

fn data_block(
    dev: &dyn Device,
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

fn resolve(img: &Image<'_>, cx: &Ctx, d: &str) -> Result<u32, String> {
    if let Some(n) = d.strip_prefix('#') {
        return u32::try_from(num(n)?).map_err(|_| "bad inode number".into());
    }
    cx.geo()?;
    let fs = ufskit::Ufs::open(img.snapshot()?, &ufskit::OpenOptions::read_only())
        .map_err(|e| e.to_string())?;
    fs.lookup(d, ufskit::Follow::NotLast)
        .map(|i| i.0)
        .map_err(|e| e.to_string())
}

/// The bytes of a run of `nfrags` fragments (at most a block).
fn block_len(geo: &Geometry, nfrags: u32) -> Result<usize, String> {
    usize::try_from(u64::from(nfrags) << geo.fshift)
        .map_err(|_| format!("a run of {nfrags} fragments does not fit in memory"))
}

/// Byte offset in the image of entry `index` (0-based, empty slots
/// included) of a directory.
fn dirent_offset(img: &Image<'_>, cx: &Ctx, d: &str, index: i128) -> Result<u64, String> {
    let ino = resolve(img, cx, d)?;
    let geo = cx.geo()?;
    let ip = ufskit::Inode::read(img.dev(), geo, Ino(ino)).map_err(|e| e.to_string())?;
    let mut want = usize::try_from(index).map_err(|_| "bad index")?;
    let nblk = ip.size().div_ceil(geo.bsize64());
    for lbn in 0..nblk {
        let Ok((addr, nfrags)) = data_block(img.dev(), geo, &ip, lbn) else {
            continue;
        };
        let start = geo.frag_offset(Frag(addr));
        let len = block_len(geo, nfrags)?;
        let block = img.read(start, len, BLOCK_OUTSIDE)?;
        for (ci, chunk) in block.chunks(512).enumerate() {
            let (entries, _) = ufskit::dir::parse_chunk(chunk, 0, geo.endian);
            for en in entries {
                if want == 0 {
                    return Ok(start + (ci * 512) as u64 + en.offset);
                }
                want -= 1;
            }
        }
    }
    Err("no such entry".into())
}
