//! `ufs mtree`: print an mtree(5) specification of a tree in the image.
//!
//! The output is what `mtree -c` would write for the same tree on a host,
//! in the form NetBSD's `mtree -f SPEC -p DIR` checks: one line per entry,
//! a directory line entering that directory and `..` leaving it, names
//! encoded with `vis`-style octal escapes. Keywords: type, mode, uid, gid,
//! nlink, size, time (with nanoseconds), link, device and sha256digest.

use crate::output::{fail, open_ro, resolve};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::PathBuf;
use ufskit::{FileType, Follow, Ino, Inode, Ufs};

/// Arguments of `ufs mtree`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Image file.
    pub image: PathBuf,
    /// Directory in the image to describe (default: the whole tree).
    #[arg(default_value = "/")]
    pub path: String,
    /// Leave out file digests (faster; no file data is read).
    #[arg(long)]
    pub no_digest: bool,
}

/// Runs `ufs mtree`.
pub fn run(a: Args) -> i32 {
    let fs = match open_ro(&a.image, None) {
        Ok(fs) => fs,
        Err(c) => return c,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let r =
        resolve(&fs, &a.path, Follow::All).and_then(|ino| spec(&fs, ino, !a.no_digest, &mut out));
    let r = r.and_then(|()| {
        out.flush().map_err(|source| ufskit::Error::Io {
            op: "writing output",
            offset: 0,
            len: 0,
            source,
        })
    });
    match r {
        Ok(()) => 0,
        Err(e) => fail(&format!("{}: {}", a.image.display(), a.path), &e),
    }
}

/// Encodes a name or link target as mtree(5) expects: printable ASCII
/// other than space, `\`, `#` and glob characters as is, the rest `\ooo`.
pub fn vis(name: &[u8]) -> String {
    name.iter()
        .map(|&b| {
            if b.is_ascii_graphic() && !matches!(b, b'\\' | b'#' | b'*' | b'?' | b'[' | b']') {
                (b as char).to_string()
            } else {
                format!("\\{b:03o}")
            }
        })
        .collect()
}

fn keywords(fs: &Ufs, inode: &Inode, digest: bool) -> Result<String, ufskit::Error> {
    let t = inode.file_type();
    let ty = match t {
        FileType::Directory => "dir",
        FileType::Regular => "file",
        FileType::Symlink => "link",
        FileType::Fifo => "fifo",
        FileType::CharDevice => "char",
        FileType::BlockDevice => "block",
        FileType::Socket => "socket",
        _ => "file",
    };
    let mt = inode.mtime();
    let mut s = format!(
        "type={ty} uid={} gid={} mode={:04o} nlink={} time={}.{:09}",
        inode.uid(),
        inode.gid(),
        inode.perm(),
        inode.nlink(),
        mt.sec,
        mt.nsec
    );
    match t {
        FileType::Regular => {
            s.push_str(&format!(" size={}", inode.size()));
            if digest {
                let mut h = Sha256::new();
                fs.copy_to(inode, &mut HashWriter(&mut h))?;
                let d: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
                s.push_str(&format!(" sha256digest={d}"));
            }
        }
        FileType::Symlink => s.push_str(&format!(" link={}", vis(&fs.readlink_inode(inode)?))),
        FileType::CharDevice | FileType::BlockDevice => {
            let (ma, mi) = ufskit::inode::dev_split(inode.rdev());
            s.push_str(&format!(" device=native,{ma},{mi}"));
        }
        _ => {}
    }
    Ok(s)
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.update(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes the specification of the tree below directory `start`.
pub fn spec(fs: &Ufs, start: Ino, digest: bool, out: &mut dyn Write) -> Result<(), ufskit::Error> {
    let io = |source| ufskit::Error::Io {
        op: "writing output",
        offset: 0,
        len: 0,
        source,
    };
    let root = fs.allocated_inode(start)?;
    if !root.is_dir() {
        return Err(ufskit::Error::NotADirectory {
            path: format!("inode {start}"),
        });
    }
    writeln!(out, "#\t   ufs mtree specification\n").map_err(io)?;
    writeln!(out, ".\t{}", keywords(fs, &root, digest)?).map_err(io)?;
    let mut seen = std::collections::HashSet::from([start]);
    dir(fs, start, 1, digest, &mut seen, out)?;
    writeln!(out, "..").map_err(io)?;
    Ok(())
}

fn dir(
    fs: &Ufs,
    ino: Ino,
    depth: usize,
    digest: bool,
    seen: &mut std::collections::HashSet<Ino>,
    out: &mut dyn Write,
) -> Result<(), ufskit::Error> {
    let io = |source| ufskit::Error::Io {
        op: "writing output",
        offset: 0,
        len: 0,
        source,
    };
    if depth > 4096 {
        return Err(ufskit::Error::corrupt(
            ufskit::CorruptKind::Loop,
            ufskit::Location::Inode(ino),
            "directory tree deeper than 4096",
        ));
    }
    let mut entries = fs.read_dir(ino)?;
    entries.retain(|e| e.name != b"." && e.name != b"..");
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let pad = "    ".repeat(depth.min(16));
    let mut subdirs = Vec::new();
    for e in &entries {
        let inode = fs.inode(e.ino)?;
        if inode.is_dir() {
            subdirs.push((e, inode));
            continue;
        }
        writeln!(
            out,
            "{pad}{}\t{}",
            vis(&e.name),
            keywords(fs, &inode, digest)?
        )
        .map_err(io)?;
    }
    for (e, inode) in subdirs {
        writeln!(
            out,
            "\n{pad}{}\t{}",
            vis(&e.name),
            keywords(fs, &inode, digest)?
        )
        .map_err(io)?;
        if seen.insert(e.ino) {
            dir(fs, e.ino, depth + 1, digest, seen, out)?;
        }
        writeln!(out, "{pad}..").map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn vis_escapes_what_mtree_would_misread() {
        assert_eq!(super::vis(b"with space.txt"), "with\\040space.txt");
        assert_eq!(super::vis("é".as_bytes()), "\\303\\251");
        assert_eq!(super::vis(b"#a*"), "\\043a\\052");
    }
}
