//! The `ufs` binary; see the `ufskit_tools` library for the commands.

#![warn(clippy::unwrap_used, clippy::panic)]

fn main() {
    ufskit_tools::output::quiet_on_broken_pipe();
    std::process::exit(ufskit_tools::run(std::env::args_os().collect()));
}
