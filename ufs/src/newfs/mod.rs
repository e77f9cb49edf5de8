//! newfs: computing and writing a fresh UFS1/UFS2 file system.
//!
//! [`options`] holds newfs(8)'s options and their defaults, [`layout`] the
//! pure computation of every superblock field and cylinder-group plan, and
//! `emit` the writer that puts a layout on a device.

pub(crate) mod emit;
pub mod layout;
pub mod options;

pub use emit::{newfs, newfs_with, EmitOptions, Generations, Zeroing};
pub use layout::{compute, journal_text, summary_text, CgPlan, JournalPlan, Layout};
pub use options::{parse_size, LayoutError, NewfsOptions, Optim};

/// A fresh file system of `size` bytes built in memory: the layout newfs
/// chooses for `opts`, written into a zeroed buffer. For tests, fuzzing
/// and callers that fill an image before it goes anywhere; open it with
/// [`Ufs::open`](crate::Ufs::open) on the returned bytes.
pub fn in_memory(size: u64, opts: &NewfsOptions) -> crate::Result<Vec<u8>> {
    let layout = compute(size, opts).map_err(|e| crate::Error::InvalidInput(e.to_string()))?;
    let len = usize::try_from(size).map_err(|_| {
        crate::Error::InvalidInput(format!("{size} bytes do not fit in memory here"))
    })?;
    let mut img = vec![0u8; len];
    newfs(&mut img, &layout, opts)?;
    Ok(img)
}
