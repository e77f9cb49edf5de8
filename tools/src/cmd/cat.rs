//! `ufs cat`: write a file of the image to standard output.

use crate::output::{fail, open_ro, resolve};
use std::path::PathBuf;
use ufskit::Follow;

/// Arguments of `ufs cat`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Image file.
    pub image: PathBuf,
    /// File in the image (symlinks are followed inside the image), or `#INO`.
    pub path: String,
}

/// Runs `ufs cat`.
pub fn run(a: Args) -> i32 {
    let fs = match open_ro(&a.image, None) {
        Ok(fs) => fs,
        Err(c) => return c,
    };
    let ctx = format!("{}: {}", a.image.display(), a.path);
    let result = resolve(&fs, &a.path, Follow::All)
        .and_then(|ino| fs.allocated_inode(ino))
        .and_then(|inode| {
            if inode.is_dir() {
                return Err(ufskit::Error::IsADirectory {
                    path: a.path.clone(),
                });
            }
            let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            fs.copy_to(&inode, &mut out)?;
            std::io::Write::flush(&mut out).map_err(|source| ufskit::Error::Io {
                op: "writing output",
                offset: 0,
                len: 0,
                source,
            })
        });
    match result {
        Ok(_) => 0,
        Err(e) => fail(&ctx, &e),
    }
}
