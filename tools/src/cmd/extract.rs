//! `ufs extract` (in progress).

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Image file.
    pub image: std::path::PathBuf,
}

/// Runs the command.
pub fn run(_a: Args) -> i32 {
    eprintln!("ufs extract: not implemented yet");
    crate::EXIT_FAILURE
}
