//! The kernel's lookup counts of `ufs fuse`'s node ids, which are inode
//! numbers.
//!
//! The kernel keeps a node id it was given by a reply that hands out an
//! entry (lookup, create, mkdir, mknod, symlink, link, each READDIRPLUS
//! entry but `.` and `..`) and uses it (to open, stat, list) until it
//! sends FORGET with as many lookups as it was given. While it does, the
//! number must go on meaning the same file: an inode whose last name goes
//! in that time is kept allocated (a hold of the write session) and freed
//! when the count comes to zero, as libfuse's servers keep their nodes. The
//! table has an entry per node id the kernel holds, dropped at zero, so its
//! size is bounded by the kernel's inode cache, not by the image.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use ufskit::Ino;

/// One node id's count, and whether a removal made it a session hold.
#[derive(Clone, Copy, Default)]
struct Count {
    /// Saturating: a count stuck at the top only keeps an orphan to the
    /// unmount, never frees one the kernel still knows.
    lookups: u32,
    pinned: bool,
}

/// The lookup counts (see the module's comment).
#[derive(Default)]
pub struct Lookups {
    counts: Mutex<HashMap<Ino, Count>>,
    /// Nothing is counted on a read-only mount, where no name goes.
    off: bool,
}

impl Lookups {
    /// A table that counts, or (`off`) one that does not.
    pub fn new(off: bool) -> Lookups {
        Lookups {
            counts: Mutex::default(),
            off,
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<Ino, Count>> {
        // Each update is one map operation: a panicked holder left no half
        // change behind.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One more reference handed to the kernel. Called before the reply
    /// goes, so a FORGET can never arrive for a count not yet made.
    pub fn add(&self, ino: Ino) {
        if self.off {
            return;
        }
        let mut c = self.counts();
        let e = c.entry(ino).or_default();
        e.lookups = e.lookups.saturating_add(1);
    }

    /// Before one of `ino`'s names is removed: whether the caller must
    /// hold it in the session (the kernel knows it and nothing has held it
    /// for the kernel yet). The hold is then this table's, dropped by
    /// [`Lookups::forget`].
    pub fn pin(&self, ino: Ino) -> bool {
        match self.counts().get_mut(&ino) {
            Some(e) if e.lookups > 0 && !e.pinned => {
                e.pinned = true;
                true
            }
            _ => false,
        }
    }

    /// The kernel forgot `n` lookups of `ino`: whether its count came to
    /// zero with a session hold to drop (the caller drops it).
    pub fn forget(&self, ino: Ino, n: u64) -> bool {
        let mut c = self.counts();
        let Some(e) = c.get_mut(&ino) else {
            return false;
        };
        if e.lookups == u32::MAX {
            return false;
        }
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        e.lookups = e.lookups.saturating_sub(n);
        if e.lookups > 0 {
            return false;
        }
        c.remove(&ino).is_some_and(|e| e.pinned)
    }

    /// How many node ids the kernel holds (for tests and figures).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.counts().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_is_dropped_when_the_kernel_forgets_the_last_lookup() {
        let l = Lookups::default();
        assert!(!l.pin(Ino(5)), "an unknown node needs no hold");
        l.add(Ino(5));
        l.add(Ino(5));
        assert!(l.pin(Ino(5)));
        assert!(!l.pin(Ino(5)), "one hold per node id");
        assert!(!l.forget(Ino(5), 1));
        assert!(l.forget(Ino(5), 1), "the last forget drops the hold");
        assert_eq!(l.len(), 0, "entries go at zero");
        l.add(Ino(7));
        assert!(!l.forget(Ino(7), 3), "no hold was taken");
        assert!(
            !l.forget(Ino(7), 1),
            "a forget of an unknown node is ignored"
        );
        assert_eq!(l.len(), 0);
    }

    #[test]
    fn a_saturated_count_never_drops_its_hold() {
        let l = Lookups::default();
        l.add(Ino(9));
        if let Some(e) = l.counts().get_mut(&Ino(9)) {
            e.lookups = u32::MAX;
        }
        assert!(l.pin(Ino(9)));
        assert!(!l.forget(Ino(9), u64::MAX));
        assert!(!l.pin(Ino(9)));
        assert_eq!(l.len(), 1, "kept to the unmount");
    }
}
