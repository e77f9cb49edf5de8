//! (in progress)
/// Ufs.
pub struct Ufs;
/// OpenOptions.
pub struct OpenOptions;
/// Follow.
pub enum Follow { /// all
All }
/// DirEntry.
pub struct DirEntry;
