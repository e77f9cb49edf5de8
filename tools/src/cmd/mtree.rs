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
    /// Hash at most SIZE bytes of holes in all (k, m, g, t suffixes;
    /// default 1g, about a second): a sparse file whose holes would pass
    /// what is left gets no digest. Each omission is a warning and makes
    /// the exit status 1.
    #[arg(long, value_name = "SIZE", default_value = "1g", value_parser = super::fsck::parse_mem)]
    pub max_hash_bytes: u64,
}

/// How a tree is described, and what could not be.
struct Spec<'a> {
    fs: &'a Ufs,
    /// Digests wanted.
    digest: bool,
    /// Hole bytes the digests may still hash (`--max-hash-bytes`, spent
    /// as files are hashed).
    max_holes: u64,
    /// The image, for warnings.
    image: String,
    /// Digests omitted or files that could not be read.
    failed: u64,
    /// Entries written so far, on a terminal.
    meter: crate::progress::Meter,
    done: u64,
}

/// Runs `ufs mtree`. Exit 1 when a digest had to be left out (a file too
/// sparse to hash, or damaged so its data cannot be read): the
/// specification is complete otherwise, and each omission is named on
/// standard error.
pub fn run(a: Args) -> i32 {
    let fs = match open_ro(&a.image, None) {
        Ok(fs) => fs,
        Err(c) => return c,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut sp = Spec {
        fs: &fs,
        digest: !a.no_digest,
        max_holes: a.max_hash_bytes,
        image: a.image.display().to_string(),
        failed: 0,
        meter: crate::progress::Meter::counter(
            "entries",
            std::io::IsTerminal::is_terminal(&std::io::stdout()),
        ),
        done: 0,
    };
    let r = resolve(&fs, &a.path, Follow::All).and_then(|ino| sp.spec(ino, &mut out));
    sp.meter.clear();
    let r = r.and_then(|()| {
        out.flush().map_err(|source| ufskit::Error::Io {
            op: "writing output",
            offset: 0,
            len: 0,
            source,
        })
    });
    match r {
        Ok(()) if sp.failed > 0 => {
            eprintln!(
                "ufs mtree: {}: {} digest(s) left out (see above)",
                sp.image, sp.failed
            );
            crate::EXIT_FAILURE
        }
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

/// A file's digest, or why there is none.
enum FileDigest {
    Hex(String),
    Omitted(String),
}

/// SHA-256 of a regular file's contents: its extents read from the image,
/// its holes fed as zeros by extent (never looked up block by block).
/// Files with more than `max_holes` bytes of holes are not hashed; the
/// holes hashed are taken off `max_holes`.
fn digest(fs: &Ufs, inode: &Inode, max_holes: &mut u64) -> Result<FileDigest, ufskit::Error> {
    static ZEROS: [u8; 1 << 16] = [0; 1 << 16];
    let size = inode.size();
    let extents = fs.extents(inode)?;
    let bsize = fs.geometry().bsize64();
    let span = |e: &ufskit::bmap::Extent| {
        let start = (e.lbn * bsize).min(size);
        (start, (start + e.len).min(size))
    };
    let data: u64 = extents
        .iter()
        .map(|e| {
            let (a, b) = span(e);
            b - a
        })
        .sum();
    let holes = size.saturating_sub(data);
    if holes > *max_holes {
        return Ok(FileDigest::Omitted(format!(
            "{holes} bytes of holes, more than the {max_holes} left of --max-hash-bytes"
        )));
    }
    *max_holes -= holes;
    let mut h = Sha256::new();
    let zeros = |h: &mut Sha256, mut n: u64| {
        while n > 0 {
            let k = usize::try_from(n).unwrap_or(usize::MAX).min(ZEROS.len());
            h.update(&ZEROS[..k]);
            n -= k as u64;
        }
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0u64;
    for e in &extents {
        let (start, end) = span(e);
        zeros(&mut h, start.saturating_sub(off));
        let mut at = start.max(off);
        while at < end {
            let n = usize::try_from(end - at)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            let got = fs.read_at(inode, &extents, at, &mut buf[..n])?;
            if got == 0 {
                break;
            }
            h.update(&buf[..got]);
            at += got as u64;
        }
        off = off.max(at);
    }
    zeros(&mut h, size.saturating_sub(off));
    Ok(FileDigest::Hex(
        h.finalize().iter().map(|b| format!("{b:02x}")).collect(),
    ))
}

impl Spec<'_> {
    fn keywords(&mut self, path: &str, inode: &Inode) -> Result<String, ufskit::Error> {
        self.done += 1;
        self.meter.set(self.done);
        let fs = self.fs;
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
                if self.digest {
                    let why = match digest(fs, inode, &mut self.max_holes) {
                        Ok(FileDigest::Hex(d)) => {
                            s.push_str(&format!(" sha256digest={d}"));
                            return Ok(s);
                        }
                        Ok(FileDigest::Omitted(why)) => why,
                        Err(e) => e.to_string(),
                    };
                    eprintln!("ufs mtree: {}: {path}: no sha256digest: {why}", self.image);
                    self.failed += 1;
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

    /// Writes the specification of the tree below directory `start`.
    fn spec(&mut self, start: Ino, out: &mut dyn Write) -> Result<(), ufskit::Error> {
        let root = self.fs.allocated_inode(start)?;
        if !root.is_dir() {
            return Err(ufskit::Error::NotADirectory {
                path: format!("inode {start}"),
            });
        }
        writeln!(out, "#\t   ufs mtree specification\n").map_err(io)?;
        writeln!(out, ".\t{}", self.keywords(".", &root)?).map_err(io)?;
        let mut seen = std::collections::HashSet::from([start]);
        self.dir(start, ".", 1, &mut seen, out)?;
        writeln!(out, "..").map_err(io)?;
        Ok(())
    }

    fn dir(
        &mut self,
        ino: Ino,
        path: &str,
        depth: usize,
        seen: &mut std::collections::HashSet<Ino>,
        out: &mut dyn Write,
    ) -> Result<(), ufskit::Error> {
        if depth > 4096 {
            return Err(ufskit::Error::corrupt(
                ufskit::CorruptKind::Loop,
                ufskit::Location::Inode(ino),
                "directory tree deeper than 4096",
            ));
        }
        let fs = self.fs;
        let mut entries = fs.read_dir(ino)?;
        entries.retain(|e| e.name != b"." && e.name != b"..");
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let pad = "    ".repeat(depth.min(16));
        let mut subdirs = Vec::new();
        for e in &entries {
            let inode = fs.inode(e.ino)?;
            let name = vis(&e.name);
            let child = format!("{path}/{name}");
            if inode.is_dir() {
                subdirs.push((e, inode, name, child));
                continue;
            }
            let kw = self.keywords(&child, &inode)?;
            writeln!(out, "{pad}{name}\t{kw}").map_err(io)?;
        }
        for (e, inode, name, child) in subdirs {
            let kw = self.keywords(&child, &inode)?;
            writeln!(out, "\n{pad}{name}\t{kw}").map_err(io)?;
            if seen.insert(e.ino) {
                self.dir(e.ino, &child, depth + 1, seen, out)?;
            }
            writeln!(out, "{pad}..").map_err(io)?;
        }
        Ok(())
    }
}

fn io(source: std::io::Error) -> ufskit::Error {
    ufskit::Error::Io {
        op: "writing output",
        offset: 0,
        len: 0,
        source,
    }
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
