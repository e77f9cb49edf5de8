//! `ufs stat`: every field of an inode, its block list and its extended
//! attributes.

use crate::output::{escape_name, fail, format_time, mode_string, open_ro, resolve};
use serde_json::json;
use std::fmt::Write as _;
use std::path::PathBuf;
use ufskit::bmap::{self, BlockKind, Walk};
use ufskit::inode::{RawInode, Timespec};
use ufskit::{Follow, Inode, Ufs};

/// Arguments of `ufs stat`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Image file.
    pub image: PathBuf,
    /// Path in the image (a final symlink is not followed), or `#INO`.
    pub path: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `ufs stat`.
pub fn run(a: Args) -> i32 {
    let fs = match open_ro(&a.image, None) {
        Ok(fs) => fs,
        Err(c) => return c,
    };
    let ctx = format!("{}: {}", a.image.display(), a.path);
    let inode = match resolve(&fs, &a.path, Follow::NotLast).and_then(|ino| fs.inode(ino)) {
        Ok(i) => i,
        Err(e) => return fail(&ctx, &e),
    };
    let blocks = match block_list(&fs, &inode) {
        Ok(b) => b,
        Err(e) => return fail(&ctx, &e),
    };
    let xattrs = fs.xattrs(&inode);
    if a.json {
        let x: Vec<_> = match &xattrs {
            Ok(v) => v
                .iter()
                .map(|x| json!({"namespace": x.namespace.prefix(), "name": escape_name(&x.name), "size": x.value.len(),
                                 "value": String::from_utf8_lossy(&x.value)}))
                .collect(),
            Err(_) => vec![],
        };
        let v = json!({
            "ino": inode.ino.0,
            "type": format!("{:?}", inode.file_type()),
            "mode": inode.mode(),
            "nlink": inode.nlink(),
            "uid": inode.uid(), "gid": inode.gid(),
            "size": inode.size(), "blocks": inode.blocks(),
            "flags": inode.flags(), "gen": inode.gen(),
            "atime": ts(inode.atime()), "mtime": ts(inode.mtime()), "ctime": ts(inode.ctime()),
            "birthtime": inode.birthtime().map(ts),
            "db": (0..12).map(|i| inode.db(i)).collect::<Vec<_>>(),
            "ib": (0..3).map(|i| inode.ib(i)).collect::<Vec<_>>(),
            "blocks_list": blocks,
            "xattrs": x,
            "raw": format!("{:?}", inode.raw),
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return 0;
    }
    print!("{}", text(&fs, &inode, &blocks));
    match xattrs {
        Ok(v) => {
            for x in v {
                let val = match std::str::from_utf8(&x.value) {
                    Ok(s) if s.len() <= 64 && !s.chars().any(char::is_control) => {
                        format!("\"{s}\"")
                    }
                    _ => format!("<{} bytes>", x.value.len()),
                };
                println!(
                    "xattr:       {}.{} = {val}",
                    x.namespace.prefix(),
                    escape_name(&x.name)
                );
            }
            0
        }
        Err(e) => fail(&ctx, &e),
    }
}

fn ts(t: Timespec) -> serde_json::Value {
    json!({"sec": t.sec, "nsec": t.nsec})
}

fn tstr(t: Timespec) -> String {
    format!("{}.{:09} UTC ({})", format_time(t.sec), t.nsec, t.sec)
}

/// Data extents and indirect blocks, as text lines.
fn block_list(fs: &Ufs, inode: &Inode) -> Result<Vec<String>, ufskit::Error> {
    let mut lines = Vec::new();
    let t = inode.file_type();
    let has_blocks = matches!(t, ufskit::FileType::Regular | ufskit::FileType::Directory)
        || (t == ufskit::FileType::Symlink && !inode.is_fast_symlink(fs.geometry()));
    if !has_blocks {
        return Ok(lines);
    }
    let limit = bmap::size_blocks(fs.geometry(), inode.size());
    bmap::walk(fs.device(), fs.geometry(), inode, Some(limit), &mut |r| {
        if let BlockKind::Indirect { level, first_lbn } = r.kind {
            lines.push(format!(
                "indirect level {level} (from lbn {first_lbn}) at frag {}",
                r.addr.0
            ));
        }
        Ok(Walk::Continue)
    })?;
    for e in fs.extents(inode)? {
        let nblk = e.len.div_ceil(fs.geometry().bsize64());
        let nfrag = e.len.div_ceil(u64::from(fs.geometry().fsize));
        lines.push(format!(
            "lbn {}..{} -> frags {}..{} ({} bytes)",
            e.lbn,
            e.lbn + nblk - 1,
            e.addr.0,
            e.addr.0 + nfrag - 1,
            e.len
        ));
    }
    Ok(lines)
}

fn text(fs: &Ufs, inode: &Inode, blocks: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "inode:       {}", inode.ino);
    let _ = writeln!(s, "type:        {:?}", inode.file_type());
    let _ = writeln!(
        s,
        "mode:        {:07o} ({})",
        inode.mode(),
        mode_string(inode.mode())
    );
    let _ = writeln!(s, "nlink:       {}", inode.nlink());
    let _ = writeln!(s, "uid/gid:     {} / {}", inode.uid(), inode.gid());
    let _ = writeln!(s, "size:        {}", inode.size());
    let _ = writeln!(s, "blocks:      {} (512-byte sectors)", inode.blocks());
    let _ = writeln!(s, "flags:       {:#x}", inode.flags());
    let _ = writeln!(s, "generation:  {}", inode.gen());
    let _ = writeln!(s, "atime:       {}", tstr(inode.atime()));
    let _ = writeln!(s, "mtime:       {}", tstr(inode.mtime()));
    let _ = writeln!(s, "ctime:       {}", tstr(inode.ctime()));
    if let Some(b) = inode.birthtime() {
        let _ = writeln!(s, "birthtime:   {}", tstr(b));
    }
    match &inode.raw {
        RawInode::V1(d) => {
            let _ = writeln!(
                s,
                "di_freelink: {}  di_modrev: {}",
                d.di_freelink, d.di_modrev
            );
        }
        RawInode::V2(d) => {
            let _ = writeln!(
                s,
                "di_kernflags: {:#x}  di_extsize: {}  di_extb: {:?}  di_modrev: {}  di_ckhash: {:#010x}",
                d.di_kernflags, d.di_extsize, d.di_extb, d.di_modrev, d.di_ckhash
            );
        }
    }
    match inode.file_type() {
        ufskit::FileType::CharDevice | ufskit::FileType::BlockDevice => {
            let (ma, mi) = ufskit::inode::dev_split(inode.rdev());
            let _ = writeln!(s, "device:      {ma}, {mi} (raw {:#x})", inode.rdev());
        }
        ufskit::FileType::Symlink => {
            let kind = if inode.is_fast_symlink(fs.geometry()) {
                "in inode"
            } else {
                "in block"
            };
            match fs.readlink_inode(inode) {
                Ok(t) => {
                    let _ = writeln!(s, "target:      {} ({kind})", escape_name(&t));
                }
                Err(e) => {
                    let _ = writeln!(s, "target:      unreadable: {e}");
                }
            }
        }
        _ => {
            let db: Vec<String> = (0..12).map(|i| inode.db(i).to_string()).collect();
            let ib: Vec<String> = (0..3).map(|i| inode.ib(i).to_string()).collect();
            let _ = writeln!(s, "di_db:       {}", db.join(" "));
            let _ = writeln!(s, "di_ib:       {}", ib.join(" "));
        }
    }
    for b in blocks {
        let _ = writeln!(s, "block:       {b}");
    }
    s
}
