//! `ufs undo FILE IMAGE`: puts back the bytes a repair (`ufs fsck
//! --undo FILE`) overwrote, byte for byte. Refuses when the undo file is
//! damaged, when the image is not the one the repair left (its saved
//! ranges changed since), or when the repair did not finish, unless
//! `--force`.

use std::path::PathBuf;

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Restore even if the image changed since the repair or the undo
    /// file has no trailer (the repair was interrupted).
    #[arg(long)]
    pub force: bool,
    /// The undo file written by `ufs fsck --undo`.
    pub undo_file: PathBuf,
    /// The image to restore.
    pub image: PathBuf,
}

/// Runs the command.
pub fn run(a: Args) -> i32 {
    let mut dev = match crate::image::open_device(&a.image, true) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("ufs undo: {}: {e}", a.image.display());
            return crate::EXIT_FAILURE;
        }
    };
    match ufskit::io::undo_restore(&a.undo_file, &mut dev, a.force) {
        Ok(s) if s.already_applied => {
            println!(
                "{}: already undone: the image holds the bytes {} saved; nothing to do",
                a.image.display(),
                a.undo_file.display()
            );
            0
        }
        Ok(s) => {
            println!(
                "{}: restored {} bytes in {} ranges{}",
                a.image.display(),
                s.bytes,
                s.records,
                if s.complete {
                    ""
                } else {
                    " (undo file incomplete)"
                }
            );
            0
        }
        Err(e) => {
            eprintln!("ufs undo: {}: {e}", a.undo_file.display());
            crate::EXIT_FAILURE
        }
    }
}
