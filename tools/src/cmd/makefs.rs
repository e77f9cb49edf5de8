//! `ufs makefs` (in progress).

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Operands.
    pub rest: Vec<String>,
}

/// Runs the command.
pub fn run(_a: Args) -> i32 {
    eprintln!("ufs makefs: not implemented yet");
    crate::EXIT_FAILURE
}
