//! The `ufs` binary; see the `ufskit_tools` library for the commands.

#![warn(clippy::unwrap_used, clippy::panic)]
// The library's cast rule (docs/design.md, Casts): every cast that could
// lose bits is a real conversion or a local allow saying why it fits.
#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

fn main() {
    ufskit_tools::output::quiet_on_broken_pipe();
    std::process::exit(ufskit_tools::run(std::env::args_os().collect()));
}
