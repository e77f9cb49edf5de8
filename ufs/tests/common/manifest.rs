//! The manifest format of tests/images/real/*.manifest (what the Linux
//! kernel sees), computed by ufskit's reader.

#![allow(dead_code)] // each test file uses a part

use sha2::{Digest, Sha256};
use ufskit::{FileType, Ino, Inode, Ufs};

const PARTIAL: u64 = 16 << 20;

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Above this size a file's content column is `partial:` (its first and
/// last 16 MiB), as manifest.sh's default.
pub const PARTIAL_ABOVE: u64 = 4 << 30;

fn content(fs: &Ufs, inode: &Inode, above: u64) -> String {
    match inode.file_type() {
        FileType::Regular => {
            let ext = fs.extents(inode).expect("extents");
            let size = inode.size();
            let mut h = Sha256::new();
            let ranges: Vec<(u64, u64)> = if size > above {
                vec![(0, PARTIAL), (size - PARTIAL, size)]
            } else {
                vec![(0, size)]
            };
            let mut buf = vec![0u8; 1 << 20];
            for (mut off, end) in ranges.iter().copied() {
                while off < end {
                    let want = ((end - off) as usize).min(buf.len());
                    let n = fs
                        .read_at(inode, &ext, off, &mut buf[..want])
                        .expect("read");
                    assert!(n > 0);
                    h.update(&buf[..n]);
                    off += n as u64;
                }
            }
            let d = hex(&h.finalize());
            if size > above {
                format!("partial:{d}")
            } else {
                d
            }
        }
        FileType::Symlink => {
            String::from_utf8_lossy(&fs.readlink_inode(inode).expect("readlink")).into_owned()
        }
        FileType::CharDevice | FileType::BlockDevice => {
            let (ma, mi) = ufskit::inode::dev_split(inode.rdev());
            format!("{ma},{mi}")
        }
        _ => "-".into(),
    }
}

fn line(fs: &Ufs, path: &str, inode: &Inode, above: u64) -> String {
    let t = match inode.file_type() {
        FileType::Directory => "dir",
        FileType::Regular => "file",
        FileType::Symlink => "symlink",
        FileType::Fifo => "fifo",
        FileType::CharDevice => "chardev",
        FileType::BlockDevice => "blockdev",
        FileType::Socket => "socket",
        _ => "unknown",
    };
    let size = if inode.is_dir() {
        "-".to_string()
    } else {
        inode.size().to_string()
    };
    format!(
        "{path}\t{t}\t{:04o}\t{}\t{}\t{}\t{size}\t{}\t{}",
        inode.perm(),
        inode.uid(),
        inode.gid(),
        inode.nlink(),
        inode.mtime().sec,
        content(fs, inode, above)
    )
}

/// The manifest of the whole tree, sorted by path as `LC_ALL=C sort` does.
pub fn manifest(fs: &Ufs) -> String {
    manifest_partial(fs, PARTIAL_ABOVE)
}

/// [`manifest`] with files over `above` bytes hashed partially, to compare
/// with a kernel manifest made with the same limit (kernel-batch.sh lowers
/// it under an emulated CPU).
pub fn manifest_partial(fs: &Ufs, above: u64) -> String {
    let root = fs.inode(Ino::ROOT).expect("root");
    let mut lines = vec![line(fs, ".", &root, above)];
    fs.walk(Ino::ROOT, &mut |p, _e, inode| {
        lines.push(line(fs, &String::from_utf8_lossy(p), inode, above));
        Ok(())
    })
    .expect("walk");
    lines.sort_by(|a, b| {
        a.split('\t')
            .next()
            .map(str::as_bytes)
            .cmp(&b.split('\t').next().map(str::as_bytes))
    });
    let mut s = lines.join("\n");
    s.push('\n');
    s
}
