//! `ufs ls`: list a directory of the image.

use crate::output::{escape_name, fail, format_time, mode_string, open_ro_search, resolve};
use std::path::PathBuf;
use ufskit::{DirEntry, FileType, Follow, Ino, Ufs};

/// Arguments of `ufs ls`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Long format: mode, links, owner, group, size, time, name.
    #[arg(short = 'l')]
    pub long: bool,
    /// Recurse into subdirectories.
    #[arg(short = 'R')]
    pub recursive: bool,
    /// Include `.` and `..`.
    #[arg(short = 'a')]
    pub all: bool,
    /// Show inode numbers.
    #[arg(short = 'i')]
    pub inodes: bool,
    /// Image file.
    pub image: PathBuf,
    /// Directory (or file) in the image, or `#INO`.
    #[arg(default_value = "/")]
    pub path: String,
    /// Where to look for the superblock (`--search-sb`).
    #[command(flatten)]
    pub sb: crate::output::SearchSb,
}

/// Runs `ufs ls`.
pub fn run(a: Args) -> i32 {
    let fs = match open_ro_search(&a.image, None, a.sb) {
        Ok(fs) => fs,
        Err(c) => return c,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match list(&fs, &a, &mut out) {
        Ok(()) => 0,
        Err(e) => fail(&format!("{}: {}", a.image.display(), a.path), &e),
    }
}

fn list(fs: &Ufs, a: &Args, out: &mut dyn std::io::Write) -> Result<(), ufskit::Error> {
    let io = |e: std::io::Error| ufskit::Error::Io {
        op: "writing output",
        offset: 0,
        len: 0,
        source: e,
    };
    let ino = resolve(fs, &a.path, Follow::All)?;
    let inode = fs.allocated_inode(ino)?;
    if !inode.is_dir() {
        let e = DirEntry {
            name: a.path.as_bytes().to_vec(),
            ino,
            dtype: inode.file_type().dt(),
        };
        return print_entry(fs, a, &e, out).map_err(io);
    }
    let mut stack: Vec<(String, Ino)> = vec![(a.path.clone(), ino)];
    let mut seen = std::collections::HashSet::new();
    let mut first = true;
    while let Some((path, dir)) = stack.pop() {
        if !seen.insert(dir) {
            continue;
        }
        if a.recursive {
            if !first {
                writeln!(out).map_err(io)?;
            }
            writeln!(out, "{path}:").map_err(io)?;
        }
        first = false;
        let mut entries = fs.read_dir(dir)?;
        entries.sort_by(|x, y| x.name.cmp(&y.name));
        let mut subdirs = Vec::new();
        for e in &entries {
            let dot = e.name == b"." || e.name == b"..";
            if dot && !a.all {
                continue;
            }
            print_entry(fs, a, e, out).map_err(io)?;
            if a.recursive && !dot && fs.inode(e.ino)?.is_dir() {
                let child = if path.ends_with('/') {
                    format!("{path}{}", escape_name(&e.name))
                } else {
                    format!("{path}/{}", escape_name(&e.name))
                };
                subdirs.push((child, e.ino));
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(())
}

fn print_entry(
    fs: &Ufs,
    a: &Args,
    e: &DirEntry,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let name = escape_name(&e.name);
    let prefix = if a.inodes {
        format!("{:>8} ", e.ino.0)
    } else {
        String::new()
    };
    if !a.long {
        return writeln!(out, "{prefix}{name}");
    }
    let inode = match fs.inode(e.ino) {
        Ok(i) => i,
        Err(err) => return writeln!(out, "{prefix}?????????? {name} ({err})"),
    };
    let size = match inode.file_type() {
        FileType::CharDevice | FileType::BlockDevice => {
            let (ma, mi) = ufskit::inode::dev_split(inode.rdev());
            format!("{ma}, {mi}")
        }
        _ => inode.size().to_string(),
    };
    let link = if inode.file_type() == FileType::Symlink {
        fs.readlink_inode(&inode)
            .map(|t| format!(" -> {}", escape_name(&t)))
            .unwrap_or_else(|e| format!(" -> ({e})"))
    } else {
        String::new()
    };
    writeln!(
        out,
        "{prefix}{} {:>3} {:>5} {:>5} {:>10} {} {name}{link}",
        mode_string(inode.mode()),
        inode.nlink(),
        inode.uid(),
        inode.gid(),
        size,
        format_time(inode.mtime().sec)
    )
}
