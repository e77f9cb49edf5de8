//! fsck: checking (and later repairing) a file system offline.
