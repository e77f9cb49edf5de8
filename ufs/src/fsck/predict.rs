//! Predicting a repair by doing it: the whole repair runs against an
//! in-memory copy-on-write [`Overlay`] of the image (nothing is written),
//! and the tree it leaves is compared with the tree before. What it says
//! is what [`super::repair`] on the image would do, because it is that
//! repair.

use super::{repair, CollectingReporter, FsckOptions, Outcome};
use crate::error::Result;
use crate::fs::{OpenOptions, Ufs};
use crate::io::overlay::Overlay;
use crate::io::Device;
use crate::units::Ino;
use std::collections::{BTreeMap, HashSet};

/// What a repair does to the tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effect {
    /// The repair reads the file system from the alternate superblock at
    /// this 512-byte sector (the primary is unusable) and rewrites the
    /// primary from it.
    pub alternate: Option<u64>,
    /// Paths (`/a/b`) the repair takes out of the tree (entries removed,
    /// their inodes cleared or not reconnected), sorted.
    pub removed: Vec<String>,
    /// Paths whose inode ends up in lost+found (disconnected), sorted.
    pub lost_found: Vec<String>,
    /// Paths whose file shrinks (size after < size before), sorted.
    pub truncated: Vec<String>,
}

impl Effect {
    /// Whether the repair takes any file out of its place in the tree.
    pub fn loses_files(&self) -> bool {
        !self.removed.is_empty() || !self.lost_found.is_empty()
    }
}

/// Every path below the root (`/a/b`) with its inode number and size,
/// reading past damage (an unreadable directory or inode is left out, as
/// `ufs ls -R` cannot show it either).
fn tree(fs: &Ufs) -> BTreeMap<String, (u32, u64)> {
    let mut m = BTreeMap::new();
    let _ = fs.walk_past_damage(
        Ino(crate::ondisk::consts::ROOTINO),
        &mut |rel, e, inode| {
            m.insert(
                format!("/{}", String::from_utf8_lossy(rel)),
                (e.ino.0, inode.size()),
            );
            Ok(())
        },
        &mut |_, _| {},
    );
    m
}

/// Compares the tree before and after a repair.
fn compare(before: &BTreeMap<String, (u32, u64)>, after: &BTreeMap<String, (u32, u64)>) -> Effect {
    let in_lost_found: HashSet<u32> = after
        .iter()
        .filter(|(p, _)| p.starts_with("/lost+found/"))
        .map(|(_, (ino, _))| *ino)
        .collect();
    let mut e = Effect::default();
    for (path, (ino, size)) in before {
        match after.get(path) {
            None if in_lost_found.contains(ino) => e.lost_found.push(path.clone()),
            None => e.removed.push(path.clone()),
            Some((i, s)) if i == ino && s < size => e.truncated.push(path.clone()),
            Some(_) => {}
        }
    }
    e
}

/// Runs [`repair`] with `opts` on an in-memory overlay of the image
/// (`open` gives a read-only device on it; it is called twice: the tree
/// before, and the overlay's base) and says what the repair does to the
/// tree. `alternate`: the sector of the superblock the repair falls back
/// to when the primary is unusable (the tree before is read through it).
/// Returns the repair's outcome (as [`repair`] would) and its effect.
pub fn predict(
    open: &dyn Fn() -> Result<Box<dyn Device>>,
    opts: &FsckOptions,
    alternate: Option<u64>,
) -> Result<(Outcome, Effect)> {
    let before = {
        let o = OpenOptions {
            superblock_at: alternate.map(|s| s.saturating_mul(512)),
            ..OpenOptions::read_only()
        };
        Ufs::open(open()?, &o)
            .map(|fs| tree(&fs))
            .unwrap_or_default()
    };
    let mut ov = Overlay::owning(open()?);
    let mut rep = CollectingReporter::default();
    let outcome = repair(&mut ov, opts, &mut rep)?;
    let after = Ufs::open(Box::new(ov), &OpenOptions::read_only())
        .map(|fs| tree(&fs))
        .unwrap_or_default();
    let mut e = compare(&before, &after);
    e.alternate = alternate;
    Ok((outcome, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_sorts_removed_disconnected_and_truncated() {
        let t = |v: &[(&str, u32, u64)]| -> BTreeMap<String, (u32, u64)> {
            v.iter()
                .map(|(p, i, s)| (p.to_string(), (*i, *s)))
                .collect()
        };
        let before = t(&[
            ("/a", 3, 10),
            ("/d", 4, 512),
            ("/d/f", 5, 7),
            ("/g", 6, 100),
        ]);
        let after = t(&[
            ("/a", 3, 10),
            ("/lost+found", 9, 512),
            ("/lost+found/#5", 5, 7),
            ("/g", 6, 0),
        ]);
        let e = compare(&before, &after);
        assert_eq!(e.removed, ["/d"]);
        assert_eq!(e.lost_found, ["/d/f"]);
        assert_eq!(e.truncated, ["/g"]);
        assert!(e.loses_files());
        assert!(!compare(&before, &before).loses_files());
    }
}
