//! The `ufs` binary; see the `ufskit_tools` library for the commands.

fn main() {
    std::process::exit(ufskit_tools::run(std::env::args_os().collect()));
}
