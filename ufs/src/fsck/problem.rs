//! The table of problems fsck can report.
//!
//! Every finding carries one [`Problem`]. Each problem has a stable code (for
//! `--json`, tests and docs/fsck.md), the phase that reports it, the message
//! template FreeBSD's fsck_ffs prints (`%d`, `%s` stand for the values), the
//! question fsck_ffs asks, and what preen mode (`-p`) would do. The style
//! follows e2fsprogs' problem.h: one row per problem, text and policy keyed
//! off the row.

use std::fmt;

/// The phases of a check, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Finding and checking the superblock, before phase 1.
    Setup,
    /// Phase 1: inodes, block maps, sizes.
    Pass1,
    /// Phase 1b: every owner of each duplicate block.
    Pass1b,
    /// Phase 2: directory contents and path names.
    Pass2,
    /// Phase 3: connectivity.
    Pass3,
    /// Phase 4: reference counts.
    Pass4,
    /// Phase 5: cylinder-group maps and summaries.
    Pass5,
}

impl Phase {
    /// Stable short name (`setup`, `1`, `1b`, `2`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Pass1 => "1",
            Phase::Pass1b => "1b",
            Phase::Pass2 => "2",
            Phase::Pass3 => "3",
            Phase::Pass4 => "4",
            Phase::Pass5 => "5",
        }
    }

    /// The banner fsck_ffs prints when the phase starts (`None` for setup).
    pub fn banner(self) -> Option<&'static str> {
        match self {
            Phase::Setup => None,
            Phase::Pass1 => Some("** Phase 1 - Check Blocks and Sizes"),
            Phase::Pass1b => Some("** Phase 1b - Rescan For More DUPS"),
            Phase::Pass2 => Some("** Phase 2 - Check Pathnames"),
            Phase::Pass3 => Some("** Phase 3 - Check Connectivity"),
            Phase::Pass4 => Some("** Phase 4 - Check Reference Counts"),
            Phase::Pass5 => Some("** Phase 5 - Check Cyl groups"),
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What fsck_ffs does with a problem in preen mode (`-p`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preen {
    /// Fixed without asking (fsck_ffs prints e.g. `(ADJUSTED)`).
    Fix,
    /// Preen stops: `UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.`
    Stop,
    /// Only reported.
    Report,
}

macro_rules! problems {
    ($( $(#[$m:meta])* $name:ident = ($code:literal, $phase:ident, $tmpl:literal, $q:expr, $preen:ident); )*) => {
        /// A kind of problem fsck reports.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Problem {
            $( $(#[$m])* $name, )*
        }

        impl Problem {
            /// Every problem, in table order.
            pub const ALL: &'static [Problem] = &[$(Problem::$name,)*];

            /// Stable code (kebab case), used by `--json`, tests and docs.
            pub fn code(self) -> &'static str {
                match self { $(Problem::$name => $code,)* }
            }
            /// The phase that reports it.
            pub fn phase(self) -> Phase {
                match self { $(Problem::$name => Phase::$phase,)* }
            }
            /// fsck_ffs's message template.
            pub fn template(self) -> &'static str {
                match self { $(Problem::$name => $tmpl,)* }
            }
            /// The question fsck_ffs asks, if any.
            pub fn question(self) -> Option<&'static str> {
                match self { $(Problem::$name => $q,)* }
            }
            /// Preen-mode policy.
            pub fn preen(self) -> Preen {
                match self { $(Problem::$name => Preen::$preen,)* }
            }
        }
    };
}

problems! {
    /// The superblock at the chosen location is unusable.
    BadSuperblock = ("bad-superblock", Setup, "BAD SUPER BLOCK: %s", Some("LOOK FOR ALTERNATE SUPERBLOCKS"), Stop);
    /// The superblock check hash does not match (FreeBSD 13+).
    SuperblockCheckHash = ("superblock-ckhash", Setup, "Superblock check-hash failed: recorded check-hash 0x%x != computed check-hash 0x%x", Some("CORRECT CHECK HASH"), Fix);
    /// The primary superblock disagrees with the last alternate.
    SuperblockDisagrees = ("superblock-disagrees", Setup, "VALUES IN SUPER BLOCK LSB=%d DISAGREE WITH THOSE IN\nLAST ALTERNATE LSB=%d", Some("IGNORE ALTERNATE SUPER BLOCK"), Stop);
    /// A `ufs growfs --shrink` was interrupted while renumbering an inode
    /// (its intent record is in the superblock): finished before phase 1
    /// (ufskit; FreeBSD's fsck_ffs ignores the record).
    InterruptedShrink = ("interrupted-shrink", Setup, "INTERRUPTED SHRINK: INODE %d MOVING TO %d", Some("FINISH THE MOVE"), Fix);
    /// An SU+J journal is present; -n does not replay it.
    JournalPresent = ("journal", Setup, "** SU+J Recovering %s", Some("USE JOURNAL"), Report);
    /// Read-only check of a soft-updates file system that is not clean.
    DirtyReadOnly = ("dirty-read-only", Setup, "SETTING DIRTY FLAG IN READ_ONLY MODE", None, Report);
    /// A cylinder group has a bad magic number.
    CgBadMagic = ("cg-bad-magic", Pass1, "CYLINDER GROUP %d: BAD MAGIC NUMBER", Some("REBUILD CYLINDER GROUP"), Stop);
    /// A rebuilt UFS2 group: how many of its inodes were found initialized.
    CgFoundInodes = ("cg-found-inodes", Pass1, "CYLINDER GROUP %d: FOUND %d VALID INODES", None, Report);
    /// A file into its indirect blocks whose size runs past its last
    /// allocated block (FreeBSD 12.1 and later).
    SizeBeyondAllocated = ("size-beyond-allocated", Pass1, "INODE %d: FILE SIZE %d BEYOND END OF ALLOCATED FILE, SIZE SHOULD BE %d", Some("ADJUST"), Fix);
    /// A regular file's size makes its last fragment run cross a block
    /// boundary (ufskit; fsck_ffs reports the run `BAD`): repairs only.
    TailCrossesBlock = ("tail-crosses-block", Pass1, "I=%d: LAST FRAGMENT RUN %d-%d CROSSES A BLOCK BOUNDARY, SIZE %d SHOULD BE %d", Some("ADJUST"), Stop);
    /// A non-zero inode with mode 0.
    PartiallyAllocated = ("partially-allocated", Pass1, "PARTIALLY ALLOCATED INODE I=%d", Some("CLEAR"), Stop);
    /// Bad mode, size or block pointers beyond the size.
    UnknownFileType = ("unknown-file-type", Pass1, "UNKNOWN FILE TYPE I=%d", Some("CLEAR"), Stop);
    /// Inode whose mode type bits are all set (a bad-block holder).
    HoldBadBlock = ("hold-bad-block", Pass1, "HOLD BAD BLOCK", Some("HOLD BAD BLOCK"), Report);
    /// The UFS2 inode check hash does not match (FreeBSD 13+).
    InodeCheckHash = ("inode-ckhash", Pass1, "INODE CHECK-HASH FAILED I=%d", Some("FIX"), Fix);
    /// A block pointer outside the file system.
    BadBlock = ("bad-block", Pass1, "%d BAD I=%d", None, Stop);
    /// A block claimed a second time.
    DupBlock = ("dup-block", Pass1, "%d DUP I=%d", None, Stop);
    /// More than 10 bad blocks in one inode.
    ExcessiveBad = ("excessive-bad", Pass1, "EXCESSIVE BAD BLKS I=%d", Some("CONTINUE"), Stop);
    /// More than 10 duplicate blocks in one inode.
    ExcessiveDup = ("excessive-dup", Pass1, "EXCESSIVE DUP BLKS I=%d", Some("CONTINUE"), Stop);
    /// Non-zero pointers in indirect blocks past the end of the file.
    PartiallyTruncated = ("partially-truncated", Pass1, "PARTIALLY TRUNCATED INODE I=%d", Some("SALVAGE"), Stop);
    /// di_blocks does not match the blocks held.
    IncorrectBlockCount = ("incorrect-block-count", Pass1, "INCORRECT BLOCK COUNT I=%d (%d should be %d)", Some("CORRECT"), Fix);
    /// An owner of a duplicate block, found by the rescan.
    DupBlockOwner = ("dup-block-owner", Pass1b, "%d DUP I=%d", None, Stop);
    /// A file sharing fragments gets its own copies (repair runs only; fsck_ffs clears every sharer).
    DupClone = ("dup-clone", Pass1b, "I=%d SHARES %d FRAGMENTS WITH OTHER FILES", Some("COPY"), Stop);
    /// Inode 2 is not allocated.
    RootUnallocated = ("root-unallocated", Pass2, "ROOT INODE UNALLOCATED", Some("ALLOCATE"), Stop);
    /// Inode 2 is not a directory.
    RootNotDirectory = ("root-not-directory", Pass2, "ROOT INODE NOT DIRECTORY", Some("REALLOCATE"), Stop);
    /// The root directory has bad or duplicate blocks.
    RootDupBad = ("root-dup-bad", Pass2, "DUPS/BAD IN ROOT INODE", Some("REALLOCATE"), Stop);
    /// A directory smaller than `.` and `..` need.
    DirTooShort = ("dir-too-short", Pass2, "DIRECTORY TOO SHORT", Some("FIX"), Stop);
    /// A directory size that is not a multiple of 512.
    DirLength = ("dir-length", Pass2, "DIRECTORY %s: LENGTH %d NOT MULTIPLE OF 512", Some("ADJUST"), Fix);
    /// A hole in a directory.
    DirHole = ("dir-hole", Pass2, "DIRECTORY %s: CONTAINS EMPTY BLOCKS", Some("ADJUST LENGTH"), Stop);
    /// A malformed entry (record length, name length, NUL or `/` in a name, entry across a 512-byte chunk).
    /// Preen stops: fsck_ffs -p names the directory with `direrror()`,
    /// whose `pfatal()` ends a preen run before `(SALVAGED)`.
    DirCorrupted = ("dir-corrupted", Pass2, "DIRECTORY CORRUPTED", Some("SALVAGE"), Stop);
    /// `.` names another inode.
    BadDotIno = ("bad-dot-ino", Pass2, "BAD INODE NUMBER FOR '.'", Some("FIX"), Stop);
    /// `.` has the wrong d_type.
    BadDotType = ("bad-dot-type", Pass2, "BAD TYPE VALUE FOR '.'", Some("FIX"), Stop);
    /// The first entry is not `.`.
    MissingDot = ("missing-dot", Pass2, "MISSING '.'", Some("FIX"), Stop);
    /// `.` cannot be added.
    CannotFixDot = ("cannot-fix-dot", Pass2, "CANNOT FIX, INSUFFICIENT SPACE TO ADD '.'", None, Stop);
    /// The first entry names another file: `.` takes its place.
    DotSlotTaken = ("dot-slot-taken", Pass2, "FIRST ENTRY IN DIRECTORY CONTAINS %s", Some("FIX"), Stop);
    /// The second entry is not `..`.
    MissingDotDot = ("missing-dotdot", Pass2, "MISSING '..'", Some("FIX"), Stop);
    /// `..` cannot be added.
    CannotFixDotDot = ("cannot-fix-dotdot", Pass2, "CANNOT FIX, INSUFFICIENT SPACE TO ADD '..'", None, Stop);
    /// The second entry names another file: `..` takes its place.
    DotDotSlotTaken = ("dotdot-slot-taken", Pass2, "SECOND ENTRY IN DIRECTORY CONTAINS %s", Some("FIX"), Stop);
    /// `..` has the wrong d_type.
    BadDotDotType = ("bad-dotdot-type", Pass2, "BAD TYPE VALUE FOR '..'", Some("FIX"), Stop);
    /// `..` names an inode that is not the parent.
    /// Preen fixes it (`(FIXED)`), as fsck_ffs 12.1 -p does.
    BadDotDotIno = ("bad-dotdot-ino", Pass2, "BAD INODE NUMBER FOR '..' in DIR I=%ju (%s)", Some("FIX"), Fix);
    /// A second `.` entry.
    ExtraDot = ("extra-dot", Pass2, "EXTRA '.' ENTRY", Some("FIX"), Stop);
    /// A second `..` entry.
    ExtraDotDot = ("extra-dotdot", Pass2, "EXTRA '..' ENTRY", Some("FIX"), Stop);
    /// An entry with an inode number beyond the last inode.
    InoOutOfRange = ("ino-out-of-range", Pass2, "I OUT OF RANGE", Some("REMOVE"), Stop);
    /// A whiteout entry with the wrong inode or type.
    BadWhiteout = ("bad-whiteout", Pass2, "BAD WHITEOUT ENTRY", Some("FIX"), Stop);
    /// An entry naming a free inode.
    Unallocated = ("unallocated", Pass2, "UNALLOCATED", Some("REMOVE"), Stop);
    /// An entry naming a file with bad or duplicate blocks.
    DupBadEntry = ("dup-bad-entry", Pass2, "DUP/BAD", Some("REMOVE"), Stop);
    /// An entry naming a zero-length directory.
    ZeroLengthDirEntry = ("zero-length-dir-entry", Pass2, "ZERO LENGTH DIRECTORY", Some("REMOVE"), Stop);
    /// A second name for a directory.
    ExtraneousHardLink = ("extraneous-hard-link", Pass2, "%s IS AN EXTRANEOUS HARD LINK TO DIRECTORY %s", Some("REMOVE"), Fix);
    /// d_type disagrees with the inode's type.
    BadTypeValue = ("bad-type-value", Pass2, "BAD TYPE VALUE", Some("FIX"), Stop);
    /// A directory not reachable from the root.
    UnrefDir = ("unref-dir", Pass3, "UNREF DIR I=%d", Some("RECONNECT"), Fix);
    /// Directories whose parents form a loop.
    OrphanLoop = ("orphan-loop", Pass3, "ORPHANED DIRECTORY LOOP DETECTED I=%d", Some("RECONNECT"), Stop);
    /// A file with a link count but no directory entry.
    UnrefFile = ("unref-file", Pass4, "UNREF FILE I=%d", Some("RECONNECT"), Fix);
    /// An unreferenced inode with link count zero (or one that cannot be reconnected).
    UnrefClear = ("unref-clear", Pass4, "UNREF FILE/DIR I=%d", Some("CLEAR"), Fix);
    /// di_nlink differs from the number of entries.
    LinkCount = ("link-count", Pass4, "LINK COUNT FILE/DIR I=%d COUNT %d SHOULD BE %d", Some("ADJUST"), Fix);
    /// di_nlink lower than the number of entries: raising it is no
    /// preen-safe fix (fsck_ffs `adjust()`: `LINK COUNT INCREASING`, then
    /// `pfatal()` under -p or soft updates).
    LinkCountIncreasing = ("link-count-increasing", Pass4, "LINK COUNT FILE/DIR I=%d COUNT %d SHOULD BE %d\nLINK COUNT INCREASING", Some("ADJUST"), Stop);
    /// An unreferenced zero-length directory.
    ZeroLengthDir = ("zero-length-dir", Pass4, "ZERO LENGTH DIR I=%d", Some("CLEAR"), Fix);
    /// An unreferenced inode with bad or duplicate blocks.
    BadDupClear = ("bad-dup-clear", Pass4, "BAD/DUP FILE/DIR I=%d", Some("CLEAR"), Fix);
    /// There is no lost+found to reconnect into.
    NoLostFound = ("no-lost-found", Pass3, "NO lost+found DIRECTORY", Some("CREATE"), Fix);
    /// `/lost+found` is not a directory.
    LostFoundNotDir = ("lost-found-not-dir", Pass3, "lost+found IS NOT A DIRECTORY", Some("REALLOCATE"), Stop);
    /// A directory fsck must add an entry to is full.
    NoSpaceInDir = ("no-space-in-dir", Pass3, "NO SPACE LEFT IN %s", Some("EXPAND"), Fix);
    /// lost+found could not be created or used (`SORRY. ...`).
    LostFoundFailed = ("lost-found-failed", Pass3, "SORRY. CANNOT CREATE lost+found DIRECTORY", None, Stop);
    /// The superblock was taken from an alternate; the primary is rewritten.
    UpdateStandardSuperblock = ("update-standard-superblock", Pass5, "", Some("UPDATE STANDARD SUPERBLOCK"), Fix);
    /// A cylinder-group check hash that does not match.
    CgCheckHash = ("cg-ckhash", Pass5, "CG %d: BAD CHECK-HASH %x vs %x", None, Fix);
    /// A cylinder group with a bad magic number (phase 5).
    CgBadMagic5 = ("cg-bad-magic-5", Pass5, "CG %d: BAD MAGIC NUMBER", None, Stop);
    /// A cg's counts differ from its entry in the superblock summary area.
    FreeBlkCountWrong = ("free-blk-count-wrong", Pass5, "FREE BLK COUNT(S) WRONG IN SUPERBLK", Some("SALVAGE"), Fix);
    /// A cg header's counts, offsets or fragment summary are wrong.
    SummaryInfoBad = ("summary-information-bad", Pass5, "SUMMARY INFORMATION BAD", Some("SALVAGE"), Fix);
    /// Soft updates: a cg's header counts fewer directories than found.
    LostDirs = ("lost-dirs", Pass5, "LOST %d DIRECTORIES", None, Stop);
    /// Soft updates: inodes or fragments in use that the cg's map calls free.
    MarkedFree = ("allocated-marked-free", Pass5, "ALLOCATED %s %d MARKED FREE", None, Report);
    /// Inode, fragment or cluster maps of a cg are wrong.
    BitMapsWrong = ("blks-missing-in-bit-maps", Pass5, "BLK(S) MISSING IN BIT MAPS", Some("SALVAGE"), Fix);
    /// The superblock's totals are wrong.
    SummaryBlkCountWrong = ("summary-blk-count-wrong", Pass5, "SUMMARY BLK COUNT(S) WRONG IN SUPERBLK", Some("SALVAGE"), Fix);
}

impl Problem {
    /// Whether fsck_ffs -p puts the image name before each line of this
    /// problem's text: its messages go through `pwarn()`/`pfatal()`, all
    /// but the `..` check of pass 2, which prints with plain `printf()`.
    pub fn preen_prefixed(self) -> bool {
        !matches!(self, Problem::BadDotDotIno)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let mut codes: Vec<_> = Problem::ALL.iter().map(|p| p.code()).collect();
        codes.sort_unstable();
        let n = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), n);
    }
}
