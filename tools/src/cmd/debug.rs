//! `ufs debug` (in progress).

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Image file.
    pub image: std::path::PathBuf,
    /// Commands.
    pub commands: Vec<String>,
}

/// Runs the command.
pub fn run(_a: Args) -> i32 {
    eprintln!("ufs debug: not implemented yet");
    crate::EXIT_FAILURE
}
