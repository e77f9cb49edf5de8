//! newfs: computing and writing a fresh UFS1/UFS2 file system.
//!
//! [`options`] holds newfs(8)'s options and their defaults, [`layout`] the
//! pure computation of every superblock field and cylinder-group plan, and
//! [`emit`] the writer that puts a layout on a device.

pub mod emit;
pub mod layout;
pub mod options;

pub use emit::{newfs, newfs_with, EmitOptions, Generations, Zeroing};
pub use layout::{compute, journal_text, summary_text, CgPlan, JournalPlan, Layout};
pub use options::{parse_size, LayoutError, NewfsOptions, Optim};
