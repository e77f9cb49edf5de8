//! # ufskit-tools
//!
//! The `ufs` command and its personalities. One binary; what it does depends
//! on the name it was called by (argv[0]):
//!
//! | name | behaves as |
//! |---|---|
//! | `ufs` | `ufs <subcommand> ...` |
//! | `newfs.ufs`, `mkfs.ufs`, `newfs_ufs` | `ufs newfs ...` (newfs(8) flags) |
//! | `fsck.ufs`, `fsck_ufs`, `fsck_ffs` | `ufs fsck ...` (fsck_ffs(8) flags) |
//! | `mdmfs` | `ufs mount ...` (mdmfs(8) flags) |
//! | `mount_md`, `mount.md` | `ufs mount ...` with the 2006 fsck patch's `-t`/`-T` |
//!
//! clap's own multicall support is not used because it strips everything
//! after the first dot of argv[0], turning `fsck.ufs` into `fsck`.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::panic))]
// The library's cast rule (docs/design.md, Casts): every cast that could
// lose bits is a real conversion or a local allow saying why it fits.
#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

pub mod cmd;
#[cfg(unix)]
pub mod hostxattr;
pub mod image;
pub mod output;
pub mod progress;

use clap::{Parser, Subcommand};
use std::ffi::OsString;

/// The names the binary answers to besides `ufs` (see the table above);
/// `ufs install-links` makes one link for each.
pub const PERSONALITIES: &[&str] = &[
    "fsck.ufs",
    "fsck_ufs",
    "fsck_ffs",
    "newfs.ufs",
    "mkfs.ufs",
    "newfs_ufs",
    "mdmfs",
    "mount_md",
    "mount.md",
    "mount.fuse.ufskit",
];

/// Exit status for a failed command (bad image, I/O error).
pub const EXIT_FAILURE: i32 = 1;
/// Exit status for a usage error (clap's convention).
pub const EXIT_USAGE: i32 = 2;

/// Read, check, repair and create FreeBSD UFS1/UFS2 images, offline.
#[derive(Parser, Debug)]
#[command(name = "ufs", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Options every subcommand takes.
    #[command(flatten)]
    pub global: Global,
    /// The subcommand.
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// Options every subcommand takes.
#[derive(clap::Args, Debug)]
pub struct Global {
    /// Work in partition N of a disk image (GPT/MBR index as in ada0p2 or
    /// ada0s2, BSD label entry as in 1a or a); also spelled IMAGE@N.
    #[arg(long, global = true, value_name = "N")]
    pub partition: Option<String>,
}

/// `ufs fsck ...` alone: [`Cli`] with only the fsck subcommand, so that a
/// check does not build (and fault in the code of) the argument
/// definitions of thirty other subcommands it will not use. Its help,
/// version and errors are the full tree's for `ufs fsck` (clap prints only
/// the subcommand's own definitions there); a test holds them equal.
#[derive(Parser, Debug)]
#[command(name = "ufs", version, about, long_about = None, propagate_version = true)]
struct FsckCli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    cmd: FsckOnly,
}

/// The one subcommand of [`FsckCli`].
#[derive(Subcommand, Debug)]
enum FsckOnly {
    /// Check (and with -y or -p, repair) a file system.
    Fsck(cmd::fsck::Args),
}

/// Subcommands of `ufs`.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Summarize the superblock (dumpfs-style), or one cylinder group.
    Info(cmd::info::Args),
    /// List a directory.
    Ls(cmd::ls::Args),
    /// Show every field of an inode.
    Stat(cmd::stat::Args),
    /// Write a file's contents to standard output.
    Cat(cmd::cat::Args),
    /// Print a symbolic link's target.
    Readlink(cmd::readlink::Args),
    /// Copy a tree out of the image into a host directory.
    Extract(cmd::extract::Args),
    /// Print an mtree(5) specification of the tree.
    Mtree(cmd::mtree::Args),
    /// Check (and with -y or -p, repair) a file system.
    Fsck(cmd::fsck::Args),
    /// Create a new file system.
    Newfs(cmd::newfs::Args),
    /// Print and set raw fields of an image (fsdb-like, for scripts).
    Debug(cmd::debug::Args),
    /// Build an image from directories and tar archives.
    Makefs(cmd::makefs::Args),
    /// Copy host files into the image.
    Put(cmd::edit::PutArgs),
    /// Create directories in the image.
    Mkdir(cmd::edit::MkdirArgs),
    /// Remove files (and with -r, trees) from the image.
    Rm(cmd::edit::RmArgs),
    /// Rename or move within the image.
    Mv(cmd::edit::MvArgs),
    /// Make hard or (with -s) symbolic links in the image.
    Ln(cmd::edit::LnArgs),
    /// Change permission bits.
    Chmod(cmd::edit::ChmodArgs),
    /// Change owner and group.
    Chown(cmd::edit::ChownArgs),
    /// Set times (creating empty files that do not exist).
    Touch(cmd::edit::TouchArgs),
    /// Set or remove an extended attribute (UFS2).
    Setfattr(cmd::edit::SetfattrArgs),
    /// Print extended attributes.
    Getfattr(cmd::edit::GetfattrArgs),
    /// Restore an image from an undo file written by fsck --undo.
    Undo(cmd::undo::Args),
    /// Check a UFS container, then attach and mount it (mdmfs, mount_md).
    Mount(cmd::mount::Args),
    /// Unmount a mounted container and detach its md or loop device.
    Umount(cmd::mount::UmountArgs),
    /// Check every md container the jail definitions attach (before a boot);
    /// a needed repair is tried in memory and what it would remove is said.
    Preflight(cmd::preflight::Args),
    /// Mount the image read-write through FUSE (Linux).
    #[cfg(target_os = "linux")]
    Fuse(cmd::fuse::Args),
    /// Link fsck.ufs, mount.md, ... where fsck(8) and mount(8) find them.
    InstallLinks(cmd::install::Args),
    /// Write manual pages (section 8) for ufs, its subcommands and helpers.
    Man(cmd::man::ManArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(cmd::man::CompletionArgs),
    /// Grow a file system into a larger image (FreeBSD growfs(8)).
    Growfs(cmd::growfs::Args),
    /// Change tunable superblock fields (FreeBSD tunefs(8)).
    Tunefs(cmd::tunefs::Args),
}

/// Runs the program with the given argv and returns the exit status.
pub fn run(argv: Vec<OsString>) -> i32 {
    let argv0 = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ufs".into());
    match argv0.as_str() {
        "fsck.ufs" | "fsck_ufs" | "fsck_ffs" => return cmd::fsck::run_personality(&argv0, argv),
        "newfs.ufs" | "mkfs.ufs" | "newfs_ufs" => return cmd::newfs::run_personality(&argv0, argv),
        "mdmfs" | "mount_md" | "mount.md" => return cmd::mount::run_personality(&argv0, argv),
        #[cfg(target_os = "linux")]
        "mount.fuse.ufskit" => return cmd::fuse_helper::run_personality(&argv0, argv),
        _ => {}
    }
    let parsed = if argv.get(1).is_some_and(|a| a == "fsck") {
        FsckCli::try_parse_from(argv).map(|c| {
            let FsckOnly::Fsck(a) = c.cmd;
            Cli {
                global: c.global,
                cmd: Cmd::Fsck(a),
            }
        })
    } else {
        Cli::try_parse_from(argv)
    };
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    if cli.global.partition.is_some() {
        // umount takes a mount point; preflight reads many containers from
        // fstab (each may say `IMAGE@N` itself).
        let whole_only = match &cli.cmd {
            Cmd::Umount(_) => Some("umount"),
            Cmd::Preflight(_) => Some("preflight"),
            _ => None,
        };
        if let Some(name) = whole_only {
            eprintln!("ufs {name}: --partition is not supported; it works on whole images");
            return EXIT_USAGE;
        }
    }
    image::set_partition(cli.global.partition);
    match cli.cmd {
        Cmd::Info(a) => cmd::info::run(a),
        Cmd::Ls(a) => cmd::ls::run(a),
        Cmd::Stat(a) => cmd::stat::run(a),
        Cmd::Cat(a) => cmd::cat::run(a),
        Cmd::Readlink(a) => cmd::readlink::run(a),
        Cmd::Extract(a) => cmd::extract::run(a),
        Cmd::Mtree(a) => cmd::mtree::run(a),
        Cmd::Fsck(a) => cmd::fsck::run(a),
        Cmd::Newfs(a) => cmd::newfs::run(a),
        Cmd::Debug(a) => cmd::debug::run(a),
        Cmd::Makefs(a) => cmd::makefs::run(a),
        Cmd::Put(a) => cmd::edit::put(a),
        Cmd::Mkdir(a) => cmd::edit::mkdir(a),
        Cmd::Rm(a) => cmd::edit::rm(a),
        Cmd::Mv(a) => cmd::edit::mv(a),
        Cmd::Ln(a) => cmd::edit::ln(a),
        Cmd::Chmod(a) => cmd::edit::chmod(a),
        Cmd::Chown(a) => cmd::edit::chown(a),
        Cmd::Touch(a) => cmd::edit::touch(a),
        Cmd::Setfattr(a) => cmd::edit::setfattr(a),
        Cmd::Getfattr(a) => cmd::edit::getfattr(a),
        Cmd::Undo(a) => cmd::undo::run(a),
        Cmd::Mount(a) => cmd::mount::run(a),
        Cmd::Umount(a) => cmd::mount::umount(a),
        Cmd::Preflight(a) => cmd::preflight::run(a),
        #[cfg(target_os = "linux")]
        Cmd::Fuse(a) => cmd::fuse::run(a),
        Cmd::InstallLinks(a) => cmd::install::run(a),
        Cmd::Man(a) => cmd::man::man(a),
        Cmd::Completions(a) => cmd::man::completions(a),
        Cmd::Tunefs(a) => cmd::tunefs::run(a),
        Cmd::Growfs(a) => cmd::growfs::run(a),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks argument definitions only when a subcommand is used;
    /// this checks all of them at once.
    #[test]
    fn every_subcommand_definition_is_valid() {
        super::Cli::command().debug_assert();
    }

    /// The fsck-only parser answers `ufs fsck` exactly as the full tree:
    /// help, version, usage errors and what it parses.
    #[test]
    fn fsck_only_parser_matches_full_tree() {
        use clap::Parser;
        let cases: &[&[&str]] = &[
            &["ufs", "fsck", "--help"],
            &["ufs", "fsck", "-h"],
            &["ufs", "fsck", "--version"],
            &["ufs", "fsck"],
            &["ufs", "fsck", "--no-such-flag", "x.img"],
            &["ufs", "fsck", "-n", "-y", "x.img"],
            &["ufs", "fsck", "--jobs", "many", "x.img"],
            &["ufs", "fsck", "--partition"],
            &["ufs", "fsck", "-n", "-f", "--partition", "2", "x.img"],
            &["ufs", "fsck", "-p", "--jobs", "2", "x.img", "extra"],
        ];
        for argv in cases {
            let full = super::Cli::try_parse_from(*argv);
            let one = super::FsckCli::try_parse_from(*argv);
            match (full, one) {
                (Ok(f), Ok(o)) => {
                    let super::FsckOnly::Fsck(a) = o.cmd;
                    assert_eq!(
                        format!("{:?} {:?}", f.global, f.cmd),
                        format!("{:?} {:?}", o.global, super::Cmd::Fsck(a)),
                        "{argv:?}"
                    );
                }
                (Err(f), Err(o)) => {
                    assert_eq!(f.kind(), o.kind(), "{argv:?}");
                    assert_eq!(f.render().to_string(), o.render().to_string(), "{argv:?}");
                }
                (f, o) => panic!("{argv:?}: full {f:?}, fsck-only {o:?}"),
            }
        }
    }
}
