//! `ufs readlink`: print a symbolic link's target.

use crate::output::{fail, open_ro, resolve};
use std::io::Write;
use std::path::PathBuf;
use ufskit::Follow;

/// Arguments of `ufs readlink`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Image file.
    pub image: PathBuf,
    /// Symbolic link in the image, or `#INO`.
    pub path: String,
}

/// Runs `ufs readlink`.
pub fn run(a: Args) -> i32 {
    let fs = match open_ro(&a.image, None) {
        Ok(fs) => fs,
        Err(c) => return c,
    };
    match resolve(&fs, &a.path, Follow::NotLast).and_then(|ino| fs.readlink(ino)) {
        Ok(t) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&t);
            let _ = out.write_all(b"\n");
            0
        }
        Err(e) => fail(&format!("{}: {}", a.image.display(), a.path), &e),
    }
}
