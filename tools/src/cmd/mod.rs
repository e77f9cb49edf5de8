//! One module per subcommand: its clap arguments and its `run`.

pub mod cat;
pub mod debug;
pub mod edit;
pub mod extract;
pub mod fsck;
#[cfg(target_os = "linux")]
pub mod fuse;
#[cfg(target_os = "linux")]
pub mod fuse_helper;
#[cfg(target_os = "linux")]
pub mod fuse_lookups;
pub mod growfs;
pub mod info;
pub mod install;
pub mod ls;
pub mod makefs;
pub mod man;
pub mod mount;
pub mod mtree;
pub mod newfs;
pub mod preflight;
pub mod readlink;
pub mod stat;
pub mod tunefs;
pub mod undo;
