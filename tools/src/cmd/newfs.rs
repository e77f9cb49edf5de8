//! `ufs newfs` (in progress).

use std::ffi::OsString;

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Image files.
    pub images: Vec<std::path::PathBuf>,
}

/// Runs the command.
pub fn run(_a: Args) -> i32 {
    eprintln!("ufs newfs: not implemented yet");
    crate::EXIT_FAILURE
}

/// Runs under a personality name (argv[0]).
pub fn run_personality(_argv0: &str, _argv: Vec<OsString>) -> i32 {
    eprintln!("newfs: not implemented yet");
    crate::EXIT_FAILURE
}
