//! The one place where a command turns its IMAGE argument into a device:
//! the `IMAGE@N` spelling, the global `--partition N`, and the choice of the
//! only UFS partition of a disk image (see docs/disk-images.md).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use ufskit::io::FileDevice;
use ufskit::{OpenOptions, Ufs};

/// `--partition N`, given once before or after the subcommand.
static PARTITION: OnceLock<String> = OnceLock::new();

/// Records the global `--partition` (called once, by `run`).
pub fn set_partition(p: Option<String>) {
    if let Some(p) = p {
        let _ = PARTITION.set(p);
    }
}

/// What an IMAGE argument names: a file, and maybe a partition in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The file.
    pub path: PathBuf,
    /// The partition asked for (`@N` or `--partition N`), if any.
    pub partition: Option<String>,
}

/// Splits `IMAGE@N`. A file that exists under the whole name wins, so an
/// image called `backup@2024` is still that file; `@` followed by nothing
/// is not a partition either.
pub fn target(arg: &Path) -> Target {
    let whole = || Target {
        path: arg.to_path_buf(),
        partition: PARTITION.get().cloned(),
    };
    if arg.exists() {
        return whole();
    }
    let Some(s) = arg.to_str() else {
        return whole();
    };
    match s.rsplit_once('@') {
        Some((file, part)) if !file.is_empty() && !part.is_empty() && !part.contains('/') => {
            Target {
                path: PathBuf::from(file),
                partition: Some(part.to_string()),
            }
        }
        _ => whole(),
    }
}

/// Opens IMAGE (read-only or for writing) as a device covering just the
/// chosen partition, or the whole file when it is not a partitioned disk.
pub fn open_device(arg: &Path, writable: bool) -> ufskit::Result<FileDevice> {
    let t = target(arg);
    let dev = if writable {
        FileDevice::open_read_write(&t.path)?
    } else {
        FileDevice::open_read_only(&t.path)?
    };
    match ufskit::disk::locate(&dev, t.partition.as_deref())? {
        Some(p) => dev.window(p.offset, p.size),
        None => Ok(dev),
    }
}

/// Opens the UFS file system in IMAGE (see [`open_device`]).
pub fn open_ufs(arg: &Path, opts: OpenOptions) -> ufskit::Result<Ufs> {
    let dev = open_device(arg, opts.writable)?;
    Ufs::open(Box::new(dev), &opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_file_with_at_in_its_name_is_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("jail@2");
        std::fs::write(&f, b"").unwrap();
        assert_eq!(target(&f).path, f);
        assert_eq!(target(&f).partition, None);
        let g = dir.path().join("disk.img@3");
        assert_eq!(target(&g).path, dir.path().join("disk.img"));
        assert_eq!(target(&g).partition.as_deref(), Some("3"));
        let h = dir.path().join("odd@");
        assert_eq!(target(&h).path, h);
    }
}
