//! (in progress)
/// UFS version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UfsVersion { /// UFS1
 Ufs1, /// UFS2
 Ufs2 }
/// Superblock.
pub struct Superblock;
/// Geometry.
pub struct Geometry;
