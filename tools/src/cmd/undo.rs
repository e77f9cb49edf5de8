//! `ufs undo` (in progress).

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Operands.
    pub rest: Vec<String>,
}

/// Runs the command.
pub fn run(_a: Args) -> i32 {
    eprintln!("ufs undo: not implemented yet");
    crate::EXIT_FAILURE
}
