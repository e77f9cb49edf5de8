//! The state a check carries from pass to pass, and the helpers every pass
//! shares: the inode state table (fsck.h `struct inostat`), the directory
//! table (`struct inoinfo`), the block-used bitmap (`blockmap`), the
//! duplicate list, fsck_ffs's message pieces (`pinode()`, `fileerror()`,
//! `getpathname()` from utilities.c, inode.c and dir.c) and `ask()`.
//!
//! Memory: one byte of state, one byte of type and two bytes of link
//! count per initialized inode, as fsck_ffs (UFS2 groups count only
//! `cg_initediblk`), one bit per fragment of `fs_size` (which the
//! geometry bounds by the image length), and one small record per
//! directory.

use super::problem::Phase;
use super::report::{Answer, Finding, Reporter};
use super::FsckOptions;
use crate::bmap::{self, BlockKind, BlockRef, Walk};
use crate::inode::{Inode, InodeFields};
use crate::io::Device;
use crate::ondisk::consts::{mode, DIRBLKSIZ, NDADDR, NIADDR};
use crate::superblock::{Geometry, Superblock, UfsVersion};
use crate::units::Ino;
use std::collections::HashMap;

/// Inode not allocated.
pub const USTATE: u8 = 1;
/// Regular (non-directory) inode.
pub const FSTATE: u8 = 2;
/// Non-directory with link count zero.
pub const FZLINK: u8 = 3;
/// Directory not yet reached from the root.
pub const DSTATE: u8 = 4;
/// Directory with link count zero.
pub const DZLINK: u8 = 5;
/// Directory reached from the root.
pub const DFOUND: u8 = 6;
/// Directory to be cleared (zero length, bad or duplicate blocks).
pub const DCLEAR: u8 = 8;
/// File to be cleared.
pub const FCLEAR: u8 = 9;

pub use crate::ondisk::consts::{ROOTINO, WINO};
/// Limit on bad and duplicate blocks reported per inode (MAXBAD, MAXDUP).
pub const MAXBAD: u32 = 10;
/// Largest directory size accepted (fsck.h MAXDIRSIZE).
pub const MAXDIRSIZE: u64 = 0x7fff_ffff;
/// `SF_SNAPSHOT` flag.
pub const SF_SNAPSHOT: u32 = 0x0020_0000;

/// Whether a state is an unreached directory (`DSTATE` or `DZLINK`).
pub fn dunfound(s: u8) -> bool {
    s == DSTATE || s == DZLINK
}

/// Whether a state is a valid directory (`DSTATE`, `DZLINK`, `DFOUND`).
pub fn dvalid(s: u8) -> bool {
    dunfound(s) || s == DFOUND
}

/// Per-inode tables, one slice per cylinder group: four bytes per inode,
/// as fsck.h's `struct inostat` (state, type, 16-bit link count).
///
/// A group's slice ends, once phase 1 has read the group, at its last
/// inode in use, as fsck_ffs trims its `inostat` arrays (pass1.c): the
/// inodes past it are free, and reading one gives what a free inode's
/// slot would hold. They are still tracked (initialized on disk); the
/// rare later write to one (a new lost+found) is kept in `past`.
///
/// The link count starts at `di_nlink` (16 bits) and moves by one per
/// reference passes 2-4 find, so a damaged image (more entries naming an
/// inode than its count says) can carry it past 16 bits. fsck_ffs's
/// unsigned short would wrap there; this table keeps the exact count of
/// such rare inodes in `wide`, so the reports stay what a 32-bit count
/// gives.
#[derive(Default, Debug)]
pub struct InoTable {
    base: Vec<usize>,
    /// Inodes tracked (initialized on disk) per group.
    count: Vec<u32>,
    /// Slots held per group: `count`, or fewer once trimmed.
    held: Vec<u32>,
    state: Vec<u8>,
    dtype: Vec<u8>,
    link: Vec<i16>,
    /// Link counts that do not fit in 16 bits, by slot; their `link`
    /// entry holds [`WIDE`].
    wide: HashMap<usize, i32>,
    /// Tracked inodes past their group's held slots that were written
    /// after the trim, by inode number.
    past: HashMap<u32, PastSlot>,
    ipg: u32,
}

/// What a slot holds, for an inode past its group's held slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PastSlot {
    state: u8,
    dtype: u8,
    link: i32,
}

impl PastSlot {
    /// A free inode's slot, as [`InoTable::push_cg`] fills it.
    const FREE: PastSlot = PastSlot {
        state: USTATE,
        dtype: 0,
        link: 0,
    };
}

/// The `link` entry of a slot whose count lives in `InoTable::wide`.
const WIDE: i16 = i16::MIN;

/// One group's slices of an [`InoTable`], handed from a worker's table to
/// the check's (`super::parallel`).
#[derive(Debug, Default)]
pub(crate) struct CgTables {
    state: Vec<u8>,
    dtype: Vec<u8>,
    link: Vec<i16>,
    /// `InoTable::wide` entries of the group, by offset in the group.
    wide: Vec<(usize, i32)>,
    /// Inodes tracked in the group (its slices may hold fewer).
    count: u32,
    /// `InoTable::past` entries of the group, by offset in the group.
    past: Vec<(u32, PastSlot)>,
}

impl InoTable {
    /// An empty table for groups of `ipg` inodes.
    pub fn new(ipg: u32) -> Self {
        InoTable {
            ipg,
            ..Default::default()
        }
    }
    /// Reserves room for `n` inodes in all: address space only, whose
    /// pages are touched as groups are added. Growing by doubling instead
    /// would hold the old and the new copy of each column at once. Too
    /// large a request is left to growth.
    pub fn reserve(&mut self, n: usize) {
        let _ = self.state.try_reserve_exact(n);
        let _ = self.dtype.try_reserve_exact(n);
        let _ = self.link.try_reserve_exact(n);
    }
    /// Adds the next group with `n` tracked inodes.
    pub fn push_cg(&mut self, n: u32) {
        self.base.push(self.state.len());
        self.count.push(n);
        self.held.push(n);
        let new = self.state.len() + n as usize;
        self.state.resize(new, USTATE);
        self.dtype.resize(new, 0);
        self.link.resize(new, 0);
    }
    /// Inodes tracked in group `cg`.
    pub fn count(&self, cg: u32) -> u32 {
        self.count.get(cg as usize).copied().unwrap_or(0)
    }
    /// The slot of `ino`, when its group holds one.
    #[inline]
    fn idx(&self, ino: u32) -> Option<usize> {
        if self.ipg == 0 {
            return None;
        }
        let cg = (ino / self.ipg) as usize;
        let i = ino % self.ipg;
        (i < *self.held.get(cg)?).then(|| self.base[cg] + i as usize)
    }
    /// Whether `ino` is tracked (initialized on disk).
    pub fn tracked(&self, ino: u32) -> bool {
        self.ipg != 0
            && self
                .count
                .get((ino / self.ipg) as usize)
                .is_some_and(|&n| ino % self.ipg < n)
    }
    /// A tracked inode past its group's held slots: what it holds.
    #[cold]
    #[inline(never)]
    fn past(&self, ino: u32) -> PastSlot {
        if self.past.is_empty() {
            return PastSlot::FREE;
        }
        self.past.get(&ino).copied().unwrap_or(PastSlot::FREE)
    }
    /// A tracked inode past its group's held slots, to be written; `None`
    /// for an inode not tracked (writes to it are ignored).
    #[cold]
    #[inline(never)]
    fn past_mut(&mut self, ino: u32) -> Option<&mut PastSlot> {
        self.tracked(ino)
            .then(|| self.past.entry(ino).or_insert(PastSlot::FREE))
    }
    /// State of `ino` (`USTATE` for inodes not tracked).
    #[inline]
    pub fn state(&self, ino: u32) -> u8 {
        self.idx(ino)
            .map_or_else(|| self.past(ino).state, |i| self.state[i])
    }
    /// Sets the state (ignored for untracked inodes).
    #[inline]
    pub fn set_state(&mut self, ino: u32, s: u8) {
        if let Some(i) = self.idx(ino) {
            self.state[i] = s;
        } else if let Some(p) = self.past_mut(ino) {
            p.state = s;
        }
    }
    /// Sets the state, type and link count at once (phase 1, for every
    /// inode in use: one lookup instead of three).
    #[inline]
    pub fn set_found(&mut self, ino: u32, s: u8, t: u8, link: i32) {
        if let Some(i) = self.idx(ino) {
            self.state[i] = s;
            self.dtype[i] = t;
            self.put_link(i, link);
        } else if let Some(p) = self.past_mut(ino) {
            *p = PastSlot {
                state: s,
                dtype: t,
                link,
            };
        }
    }
    /// `DT_*` type recorded in phase 1.
    #[inline]
    pub fn dtype(&self, ino: u32) -> u8 {
        self.idx(ino)
            .map_or_else(|| self.past(ino).dtype, |i| self.dtype[i])
    }
    /// Sets the type.
    pub fn set_dtype(&mut self, ino: u32, t: u8) {
        if let Some(i) = self.idx(ino) {
            self.dtype[i] = t;
        } else if let Some(p) = self.past_mut(ino) {
            p.dtype = t;
        }
    }
    /// Link count still unaccounted for.
    #[inline]
    pub fn link(&self, ino: u32) -> i32 {
        self.idx(ino)
            .map_or_else(|| self.past(ino).link, |i| self.get_link(i))
    }
    /// Sets the link count.
    pub fn set_link(&mut self, ino: u32, n: i32) {
        if let Some(i) = self.idx(ino) {
            self.put_link(i, n);
        } else if let Some(p) = self.past_mut(ino) {
            p.link = n;
        }
    }
    /// Phase 2's commonest entry in one lookup: when `ino` is a file
    /// (`FSTATE` or `FZLINK`) whose recorded type is `t`, its link count
    /// loses the entry's reference and true is returned; anything else
    /// changes nothing (the caller takes the full checks).
    #[inline]
    pub fn ref_file(&mut self, ino: u32, t: u8) -> bool {
        let Some(i) = self.idx(ino) else { return false };
        if !matches!(self.state[i], FSTATE | FZLINK) || self.dtype[i] != t {
            return false;
        }
        match self.link[i] {
            // Stays in 16 bits and off the `WIDE` mark.
            n if n > WIDE + 1 => self.link[i] = n - 1,
            _ => {
                let n = self.get_link(i).saturating_sub(1);
                self.put_link(i, n);
            }
        }
        true
    }
    /// Adds `d` to the link count.
    pub fn add_link(&mut self, ino: u32, d: i32) {
        if let Some(i) = self.idx(ino) {
            let n = self.get_link(i).saturating_add(d);
            self.put_link(i, n);
        } else if let Some(p) = self.past_mut(ino) {
            p.link = p.link.saturating_add(d);
        }
    }
    /// Ends the last group's slices after its first `keep` inodes (phase
    /// 1, once the group is read: `keep` is one past its last inode in
    /// use). A slot past `keep` that holds anything but a free inode's
    /// values moves to `past`, so nothing read later changes.
    pub fn trim_last_cg(&mut self, keep: u32) {
        let (Some(&base), Some(held)) = (self.base.last(), self.held.last_mut()) else {
            return;
        };
        if keep >= *held {
            return;
        }
        *held = keep;
        let cg = u32::try_from(self.base.len() - 1).unwrap_or(u32::MAX);
        let at = base + keep as usize;
        let free = self.state[at..].iter().all(|&s| s == USTATE)
            && self.dtype[at..].iter().all(|&t| t == 0)
            && self.link[at..].iter().all(|&n| n == 0);
        if !free {
            for i in at..self.state.len() {
                let slot = PastSlot {
                    state: self.state[i],
                    dtype: self.dtype[i],
                    link: self.get_link(i),
                };
                if slot != PastSlot::FREE {
                    // The offset is below the group's count, a u32.
                    let off = u32::try_from(i - base).unwrap_or(u32::MAX);
                    let ino = cg.saturating_mul(self.ipg).saturating_add(off);
                    self.past.insert(ino, slot);
                }
            }
            self.wide.retain(|&i, _| i < at);
        }
        self.state.truncate(at);
        self.dtype.truncate(at);
        self.link.truncate(at);
    }
    fn get_link(&self, i: usize) -> i32 {
        match self.link[i] {
            WIDE => self.wide.get(&i).copied().unwrap_or(i32::from(WIDE)),
            n => i32::from(n),
        }
    }
    fn put_link(&mut self, i: usize, n: i32) {
        match i16::try_from(n) {
            Ok(v) if v != WIDE => {
                if self.link[i] == WIDE {
                    self.wide.remove(&i);
                }
                self.link[i] = v;
            }
            _ => {
                self.link[i] = WIDE;
                self.wide.insert(i, n);
            }
        }
    }
}

/// The duplicate claims phase 1 found (fsck_ffs's `duplist`): for each
/// fragment claimed more than once, how many claims past the first. A map
/// instead of fsck_ffs's list, so that "is this fragment shared?" and
/// "drop one claim" cost a lookup, not a scan of every claim.
#[derive(Debug, Default)]
pub struct DupClaims {
    extra: HashMap<u64, u32>,
}

impl DupClaims {
    /// Records one more claim of fragment `b` past the first.
    pub fn add(&mut self, b: u64) {
        *self.extra.entry(b).or_insert(0) += 1;
    }

    /// Whether `b` still has a claim past the first.
    pub fn contains(&self, b: u64) -> bool {
        self.extra.contains_key(&b)
    }

    /// Drops one extra claim of `b`; false when it had none.
    pub fn take_one(&mut self, b: u64) -> bool {
        let Some(n) = self.extra.get_mut(&b) else {
            return false;
        };
        *n -= 1;
        if *n == 0 {
            self.extra.remove(&b);
        }
        true
    }

    /// No duplicate claim is left.
    pub fn is_empty(&self) -> bool {
        self.extra.is_empty()
    }

    /// The fragments with extra claims, in no particular order.
    pub fn frags(&self) -> impl Iterator<Item = u64> + '_ {
        self.extra.keys().copied()
    }
}

/// One bit per fragment: set when some inode (or the metadata) holds it.
#[derive(Debug)]
pub struct BlockMap {
    bits: Vec<u64>,
    size: u64,
}

impl BlockMap {
    /// A map for `size` fragments.
    pub fn new(size: u64) -> Self {
        // A map too large for this host's address space fails to allocate
        // instead of being cut short (it always fits on 64-bit hosts).
        let words = usize::try_from(size.div_ceil(64)).unwrap_or(usize::MAX);
        BlockMap {
            bits: vec![0; words],
            size,
        }
    }
    /// Whether `f` is in use; fragments past the end count as used.
    pub fn test(&self, f: u64) -> bool {
        f >= self.size || self.bits[(f / 64) as usize] & (1 << (f % 64)) != 0
    }
    /// Marks `f` in use.
    pub fn set(&mut self, f: u64) {
        if f < self.size {
            self.bits[(f / 64) as usize] |= 1 << (f % 64);
        }
    }
    /// Marks the run `f..f + n` in use when none of it is yet and it lies
    /// in one word of the map, and says whether it did; otherwise marks
    /// nothing (the caller goes fragment by fragment). A run inside one
    /// block is always in one word: a block's fragments (at most 8, a
    /// power of two) are aligned to their count.
    pub fn claim_run(&mut self, f: u64, n: u32) -> bool {
        let end = f.saturating_add(u64::from(n));
        if n == 0 || end > self.size || f / 64 != (end - 1) / 64 {
            return false;
        }
        // n <= 64 here (the run is inside one word).
        let ones = u64::MAX >> (64 - n);
        let mask = ones << (f % 64);
        let word = &mut self.bits[(f / 64) as usize];
        if *word & mask != 0 {
            return false;
        }
        *word |= mask;
        true
    }
    /// Marks `f` free.
    pub fn clear(&mut self, f: u64) {
        if f < self.size {
            self.bits[(f / 64) as usize] &= !(1 << (f % 64));
        }
    }
}

/// What fsck_ffs keeps per directory (`struct inoinfo`).
#[derive(Clone, Debug)]
pub struct DirInfo {
    /// The directory.
    pub ino: u32,
    /// Parent found by the directory scan (0: none yet).
    pub parent: u32,
    /// What `..` says (0: not seen, `u32::MAX`: cannot be fixed).
    pub dotdot: u32,
    /// Size from the inode.
    pub isize: u64,
    /// First block, for the disk-order sort.
    pub blk0: u64,
}

/// fsck_ffs's `id_fix` for questions asked once per scan (`dofix`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FixState {
    /// Not asked yet.
    DontKnow,
    /// Answered yes.
    Fix,
    /// Answered no: say nothing more.
    NoFix,
}

/// A directory entry's name, held inline: phase 2 makes one per entry of
/// every directory, and an allocation each was a tenth of the phase.
#[derive(Clone)]
pub struct EntName {
    len: u8,
    bytes: [u8; 255],
}

impl EntName {
    /// The first 255 bytes of `name` (a `d_namlen` cannot say more).
    pub fn new(name: &[u8]) -> EntName {
        let mut n = EntName::default();
        let len = name.len().min(n.bytes.len());
        n.bytes[..len].copy_from_slice(&name[..len]);
        n.len = u8::try_from(len).unwrap_or(u8::MAX);
        n
    }
}

impl Default for EntName {
    fn default() -> Self {
        EntName {
            len: 0,
            bytes: [0; 255],
        }
    }
}

impl std::ops::Deref for EntName {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl std::fmt::Debug for EntName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

/// A directory entry as fsck sees it while scanning.
#[derive(Clone, Debug, Default)]
pub struct DirEnt {
    /// `d_ino`.
    pub ino: u32,
    /// `d_reclen`.
    pub reclen: u16,
    /// `d_type`.
    pub dtype: u8,
    /// `d_namlen`.
    pub namlen: u8,
    /// The name (`d_namlen` bytes).
    pub name: EntName,
    /// Whether a NUL follows the name.
    pub nul: bool,
}

impl DirEnt {
    /// `DIRSIZ` for this entry.
    pub fn dirsiz(&self) -> u16 {
        // DIRSIZ of a name of at most 255 bytes: at most 264.
        #[allow(clippy::cast_possible_truncation)]
        let n = self.head().size() as u16;
        n
    }
    /// The header and name as the directory rules see them.
    pub fn head(&self) -> crate::dir::EntryHead<'_> {
        crate::dir::EntryHead {
            ino: self.ino,
            reclen: self.reclen,
            dtype: self.dtype,
            namlen: self.namlen,
            name: &self.name,
            terminated: self.nul,
        }
    }
    /// Whether the name is exactly `n`.
    pub fn is(&self, n: &[u8]) -> bool {
        *self.name == *n
    }
    /// The name for messages.
    pub fn name_str(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// Everything a check keeps between passes.
pub struct Ctx<'a> {
    /// The image.
    pub dev: &'a dyn Device,
    /// Validated geometry (shared: the per-inode code takes its own handle
    /// while it lends the context out, and a copy per inode was a tenth of
    /// phase 1's memory traffic).
    pub geo: std::rc::Rc<Geometry>,
    /// The superblock in use.
    pub sb: Superblock,
    /// Options.
    pub opts: &'a FsckOptions,
    /// Output.
    pub rep: &'a mut dyn Reporter,
    /// Soft updates in use (`usedsoftdep`).
    pub softdep: bool,
    /// Inode tables.
    pub ino: InoTable,
    /// Block-used map.
    pub bmap: BlockMap,
    /// Directories in disk-block order after pass 1.
    pub dirs: Vec<DirInfo>,
    /// Directory number to index in `dirs`.
    pub dir_index: HashMap<u32, usize>,
    /// Every duplicate claim found in phase 1 (bounded per inode).
    pub duplist: DupClaims,
    /// Files counted in phase 1.
    pub n_files: u64,
    /// Fragments counted in phase 1.
    pub n_blks: u64,
    /// Directories counted in phase 1.
    pub countdirs: u64,
    /// fsck asks for another run.
    pub rerun: bool,
    /// Problems reported.
    pub nproblems: u64,
    /// Questions answered no.
    pub unresolved: u64,
    /// Where repairs go (reads through `dev` see them).
    pub ov: &'a crate::io::overlay::Overlay<'a>,
    /// How questions are answered.
    pub mode: super::AnswerMode,
    /// The phase running (for findings shared by several phases).
    pub cur_phase: Phase,
    /// Preen met a problem it must not fix: stop, write nothing.
    pub stopped: bool,
    /// A write failed to be staged (only past-the-end writes can fail).
    pub write_failed: bool,
    /// Superblock fields were changed in memory and must be written.
    pub sb_dirty: bool,
    /// Fragments freed by this run: not handed out again, so that a crash
    /// between writes cannot leave one block in two files.
    pub freed: BlockMap,
    /// Inodes phase 1 marked for clearing for something other than
    /// sharing blocks (bad pointers, too many duplicates, unknown type):
    /// phase 1b never gives them copies instead.
    pub no_clone: std::collections::HashSet<u32>,
    /// Inodes whose phase-1 walk stopped early (too many bad or duplicate
    /// blocks), with how many fragments it had counted.
    pub partial: HashMap<u32, u64>,
    /// Inodes whose pointers past the end of file are to be zeroed once
    /// phase 1b has settled who owns which block.
    pub pending_zap: Vec<u32>,
    /// Bytes the check's own tables take so far (see
    /// [`super::FsckOptions::max_memory`]).
    pub mem_used: u64,
    /// Set when a table would pass the memory limit: what and how much.
    pub over_limit: Option<String>,
    /// Inodes cleared by this run: not reused for lost+found.
    pub freed_ino: std::collections::HashSet<u32>,
    /// Directories created by this run (fsck_ffs `INFO_NEW`).
    pub new_dirs: std::collections::HashSet<u32>,
    /// Fragment runs allocated by this run (fsck_ffs `allocblk()` marks
    /// them in the group's map at once; pass 5 judges the maps so).
    pub new_frags: Vec<(u64, u64)>,
    /// lost+found once found or created (0: not yet).
    pub lfdir: u32,
    /// Cylinder groups whose magic was bad and that pass 5 rebuilds.
    pub rebuild_cg: std::collections::HashSet<u32>,
    /// UFS2 groups whose header phase 1 did not believe (rebuilt, or a bad
    /// check hash): the `cg_initediblk` pass 5 writes, covering every
    /// inode found in use.
    pub cg_inited: HashMap<u32, u32>,
    /// Time stamp for inodes this run creates.
    pub now: i64,
}

impl<'a> Ctx<'a> {
    /// Starts a phase.
    pub fn phase(&mut self, p: Phase) {
        self.cur_phase = p;
        if self.mode != super::AnswerMode::Preen {
            self.rep.phase(p);
        }
    }

    /// Whether this run may change the image.
    pub fn writing(&self) -> bool {
        self.mode != super::AnswerMode::No
    }

    /// Prints text that is not a finding.
    pub fn note(&mut self, s: &str) {
        self.rep.note(s);
    }

    /// Reports a finding and returns whether its question was answered yes.
    /// The only place an answer is decided: `-n` answers no (but
    /// `CONTINUE`, which fsck_ffs never lets `-n` refuse), `-y` yes,
    /// preen follows the problem table (and stops the run on anything it
    /// must not fix), and interactive runs ask the reporter.
    pub fn ask(&mut self, mut f: Finding) -> bool {
        use super::AnswerMode;
        if self.stopped {
            return false;
        }
        if matches!(
            f.problem,
            super::Problem::NoLostFound
                | super::Problem::LostFoundNotDir
                | super::Problem::NoSpaceInDir
                | super::Problem::LostFoundFailed
        ) {
            f.phase = self.cur_phase;
        }
        if self.mode == AnswerMode::Preen {
            return self.ask_preen(f);
        }
        let answer = f.question.map(|q| {
            if q == "CONTINUE" {
                return Answer::Yes;
            }
            match self.mode {
                AnswerMode::No | AnswerMode::Preen => Answer::No,
                AnswerMode::Yes => Answer::Yes,
                AnswerMode::Ask => self.rep.prompt(&f).unwrap_or(Answer::No),
            }
        });
        self.nproblems += 1;
        if answer == Some(Answer::No) {
            self.unresolved += 1;
        }
        self.rep.finding(&f, answer);
        answer == Some(Answer::Yes)
    }

    /// Preen: fix silently what fsck_ffs -p fixes, saying what was done,
    /// and stop on anything else. The words are fsck_ffs -p's: every line
    /// its `pwarn()`, `pinode()` or `pfatal()` printed carries the image
    /// name (`NAME: `), a fix ends the last line with what was done
    /// (`(ADJUSTED)`), and a stop is `pfatal()`'s: the message, a newline
    /// (plus the blank line of a message that ends in one, as
    /// `fileerror()`'s `DIR=...` does), then `NAME: UNEXPECTED
    /// [SOFT UPDATE ]INCONSISTENCY; RUN fsck MANUALLY.` and nothing more.
    fn ask_preen(&mut self, mut f: Finding) -> bool {
        use super::problem::Preen;
        self.nproblems += 1;
        let name = self.opts.name.clone();
        // pfatal()'s soft-updates line belongs to -n and -y only.
        let body = f
            .text
            .replacen("\nUNEXPECTED SOFT UPDATE INCONSISTENCY\n", "", 1);
        let q = f.question;
        // A question follows the text after a newline of its own, so a
        // text that still ends in one had it from fsck_ffs's format.
        let own_newline = q.is_some() && body.ends_with('\n');
        let lines: Vec<&str> = body.trim_end_matches('\n').split('\n').collect();
        let prefixed = |lines: &[&str]| -> String {
            let pfx = if f.problem.preen_prefixed() {
                format!("{name}: ")
            } else {
                String::new()
            };
            lines
                .iter()
                .map(|l| {
                    if l.is_empty() {
                        (*l).to_string()
                    } else {
                        format!("{pfx}{l}")
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let policy = match (f.problem, f.problem.preen()) {
            // fsck_ffs -p clears unreferenced zero-length files silently.
            (super::Problem::UnrefClear, _) => Preen::Fix,
            (_, p) => p,
        };
        match policy {
            Preen::Fix | Preen::Report if q.is_none() || policy == Preen::Fix => {
                let past = q.map(past_tense).unwrap_or("");
                f.text = if body.trim_end_matches('\n').is_empty() {
                    String::new()
                } else if past.is_empty() {
                    format!("{}\n", prefixed(&lines))
                } else {
                    format!("{} ({past})\n", prefixed(&lines))
                };
                f.question = None;
                let yes = q.is_some();
                self.rep
                    .finding(&f, if yes { Some(Answer::Yes) } else { None });
                yes
            }
            _ => {
                let sfx = if self.softdep { " SOFT UPDATE " } else { " " };
                let blank = if own_newline { "\n" } else { "" };
                f.text = format!(
                    "{}\n{blank}{name}: UNEXPECTED{sfx}INCONSISTENCY; RUN fsck MANUALLY.\n",
                    prefixed(&lines)
                );
                f.question = None;
                self.unresolved += 1;
                self.stopped = true;
                self.rep.finding(&f, Some(Answer::No));
                false
            }
        }
    }

    /// Preen on soft updates, with nothing left unresolved, clears
    /// unreferenced files and directories instead of reconnecting them
    /// (fsck_ffs pass3.c and dir.c `adjust()`: soft updates leave such
    /// inodes only as allocations a crash kept from being named).
    pub fn preen_tosses_orphans(&self) -> bool {
        self.mode == super::AnswerMode::Preen && self.softdep && self.unresolved == 0
    }

    /// What pfatal() adds on a soft-updates file system.
    pub fn fatal_sfx(&self) -> &'static str {
        if self.softdep {
            "\nUNEXPECTED SOFT UPDATE INCONSISTENCY\n"
        } else {
            ""
        }
    }

    /// Reads an inode without any check (None if its number is invalid or
    /// unreadable).
    pub fn inode(&self, ino: u32) -> Option<Inode> {
        let bytes = Inode::read_bytes(self.dev, &self.geo, Ino(ino)).ok()?;
        Inode::decode(Ino(ino), &bytes, &self.geo).ok()
    }

    /// Whether an inode number is inside the file system (`<= maxino`).
    pub fn ino_ok(&self, ino: u32) -> bool {
        u64::from(ino) < self.geo.ninodes
    }

    /// fsck_ffs `pinode()`.
    pub fn pinode(&self, ino: u32) -> String {
        let mut s = format!(" I={ino} ");
        if ino < ROOTINO || !self.ino_ok(ino) {
            return s;
        }
        let Some(ip) = self.inode(ino) else { return s };
        s.push_str(&format!(
            " OWNER={} MODE={:o}\n",
            owner(ip.uid()),
            ip.mode()
        ));
        s.push_str(&format!(
            "SIZE={} MTIME={} ",
            ip.size(),
            ctime_short(ip.mtime().sec)
        ));
        s
    }

    /// fsck_ffs `fileerror()`: the message, the inode and its path.
    pub fn fileerror(&self, cwd: u32, ino: u32, msg: &str) -> String {
        let mut s = format!("{msg} ");
        s.push_str(&self.pinode(ino));
        s.push('\n');
        let path = self.pathname(cwd, ino);
        if ino < ROOTINO || !self.ino_ok(ino) {
            s.push_str(&format!("NAME={path}\n{}", self.fatal_sfx()));
            return s;
        }
        let typ = self.inode(ino).map_or(0, |i| i.mode() & mode::IFMT);
        if ftypeok(typ) {
            let what = if typ == mode::IFDIR { "DIR" } else { "FILE" };
            s.push_str(&format!("{what}={path}\n{}", self.fatal_sfx()));
        } else {
            s.push_str(&format!("NAME={path}\n{}", self.fatal_sfx()));
        }
        s
    }

    /// fsck_ffs `direrror()`.
    pub fn direrror(&self, ino: u32, msg: &str) -> String {
        self.fileerror(ino, ino, msg)
    }

    /// Directory info of `ino`.
    pub fn dir(&self, ino: u32) -> Option<&DirInfo> {
        self.dir_index.get(&ino).map(|&i| &self.dirs[i])
    }

    /// Mutable directory info of `ino`.
    pub fn dir_mut(&mut self, ino: u32) -> Option<&mut DirInfo> {
        self.dir_index.get(&ino).map(|&i| &mut self.dirs[i])
    }

    /// fsck_ffs `getpathname()`: the path of `ino`, found through `..`
    /// entries and names in parents as they are on disk; `?` where the
    /// chain breaks. Bounded by the path length, so loops end.
    pub fn pathname(&self, curdir: u32, ino: u32) -> String {
        if curdir == ino && ino == ROOTINO {
            return "/".into();
        }
        if !dvalid(self.ino.state(curdir)) {
            return "?".into();
        }
        let mut comps: Vec<Vec<u8>> = Vec::new();
        let mut len = 0usize;
        let mut ino = ino;
        let mut parent = curdir;
        let mut lookup_first = curdir != ino;
        loop {
            if !lookup_first {
                if ino == ROOTINO {
                    break;
                }
                match self.find_ino(ino, b"..") {
                    Some(p) => parent = p,
                    None => break,
                }
            }
            lookup_first = false;
            let Some(name) = self.find_name(parent, ino) else {
                break;
            };
            len += name.len() + 1;
            comps.push(name);
            ino = parent;
            if len > 1024 - 256 {
                break;
            }
        }
        let mut s = String::new();
        if ino != ROOTINO {
            s.push('?');
        }
        for c in comps.iter().rev() {
            s.push('/');
            s.push_str(&String::from_utf8_lossy(c));
        }
        s
    }

    /// The inode a name in `dir` refers to (fsck `findino`).
    pub fn find_ino(&self, dir: u32, name: &[u8]) -> Option<u32> {
        let mut found = None;
        self.scan_dir_lenient(dir, &mut |e| {
            if e.ino != 0 && e.is(name) && e.ino >= ROOTINO && self.ino_ok(e.ino) {
                found = Some(e.ino);
                return false;
            }
            true
        });
        found
    }

    /// The name under which `dir` holds `target`, skipping the first two
    /// entries (fsck `findname`).
    pub fn find_name(&self, dir: u32, target: u32) -> Option<Vec<u8>> {
        let mut n = 0;
        let mut found = None;
        self.scan_dir_lenient(dir, &mut |e| {
            if e.ino != target || n < 2 {
                n += 1;
                return true;
            }
            found = Some(e.name.to_vec());
            false
        });
        found
    }

    /// Visits the entries of a directory as fsck does when it only looks
    /// (`id_fix == IGNORE`): the rest of a block is skipped at the first
    /// bad entry. `f` returns false to stop.
    pub fn scan_dir_lenient(&self, dir: u32, f: &mut dyn FnMut(&DirEnt) -> bool) {
        let mut walk = super::dirwalk::DirWalk::new(self, dir, super::dirwalk::OnBad::RestOfBlock);
        while let Some((_, e)) = walk.next(self) {
            if !f(&e) {
                return;
            }
        }
    }

    /// The data blocks of a directory of `size` bytes in logical order, as
    /// (lbn, address or 0 for a hole, fragments), bounded by the size.
    pub fn dir_blocks(&self, ip: &Inode, size: u64) -> Vec<(u64, u64, u32)> {
        let ndb = size.div_ceil(self.geo.bsize64());
        let mut found: Vec<(u64, u64, u32)> = Vec::new();
        let _ = bmap::walk(self.dev, &self.geo, ip, Some(ndb), &mut |r: BlockRef| {
            if let BlockKind::Data { lbn } = r.kind {
                found.push((lbn, r.addr.0, r.nfrags));
            }
            Ok(Walk::Continue)
        });
        // Only a hint: a count too large for usize just starts empty.
        let mut out = Vec::with_capacity(usize::try_from(ndb).unwrap_or(0));
        let mut it = found.into_iter().peekable();
        for lbn in 0..ndb {
            // At most one block's fragments (8).
            #[allow(clippy::cast_possible_truncation)]
            let nf = (self.geo.blksize(size, lbn) >> self.geo.fshift) as u32;
            match it.peek() {
                Some(&(l, a, _)) if l == lbn => {
                    out.push((lbn, a, nf.max(1)));
                    it.next();
                }
                _ => out.push((lbn, 0, nf.max(1))),
            }
        }
        out
    }

    /// fsck_ffs `ckinode()` for block addresses: calls `f(addr, nfrags)`
    /// for every block of the inode (indirect blocks included, before the
    /// blocks they map), stopping when `f` returns [`Walk::Stop`] and not
    /// descending into an indirect block for [`Walk::Skip`]. Pointers in
    /// indirect blocks past the end of the file are not visited; when
    /// `truncated` is given it is called once for them (`PARTIALLY
    /// TRUNCATED INODE`). Device and special files and short symlinks have
    /// no blocks.
    pub fn ckinode_addr<I: InodeFields + ?Sized>(
        &mut self,
        ip: &I,
        f: &mut dyn FnMut(&mut Ctx<'a>, u64, u32) -> Walk,
        truncated: Option<&mut dyn FnMut(&mut Ctx<'a>)>,
    ) -> Walk {
        self.ckinode_refs(ip, &mut |ctx, r| f(ctx, r.addr.0, r.nfrags), truncated)
    }

    /// [`Ctx::ckinode_addr`] with the whole [`BlockRef`] (what the pointer
    /// maps, so a caller can find where the pointer itself lives).
    pub fn ckinode_refs<I: InodeFields + ?Sized>(
        &mut self,
        ip: &I,
        f: &mut dyn FnMut(&mut Ctx<'a>, &BlockRef) -> Walk,
        mut truncated: Option<&mut dyn FnMut(&mut Ctx<'a>)>,
    ) -> Walk {
        let typ = ip.mode() & mode::IFMT;
        if typ == mode::IFBLK
            || typ == mode::IFCHR
            || (typ == mode::IFLNK
                && (ip.size() < u64::from(self.geo.maxsymlinklen)
                    || (self.geo.maxsymlinklen == 0 && ip.blocks() == 0)))
        {
            return Walk::Continue;
        }
        if (0..NIADDR).all(|k| ip.ib(k) == 0) {
            // Direct blocks only (most files): the first part of
            // `bmap::walk` alone, without its spans, budget and second
            // closure. None of them lies past the direct area, so none is
            // "beyond" the size.
            let geo = self.geo.clone();
            for r in bmap::direct_refs(&geo, ip) {
                if f(self, &r) == Walk::Stop {
                    return Walk::Stop;
                }
            }
            return Walk::Continue;
        }
        let ndb = ip.size().div_ceil(self.geo.bsize64());
        let spans = bmap::Spans::of(&self.geo);
        let mut told = false;
        let mut stopped = false;
        let geo = self.geo.clone();
        let dev = self.dev;
        let _ = bmap::walk(dev, &geo, ip, None, &mut |r: BlockRef| {
            let beyond = match r.kind {
                BlockKind::Data { lbn } => lbn >= NDADDR as u64 && lbn >= ndb,
                BlockKind::Indirect { level, first_lbn } => {
                    let top = spans.first(level).0 == first_lbn;
                    !top && first_lbn >= ndb
                }
            };
            if beyond {
                if !told {
                    told = true;
                    if let Some(t) = truncated.as_mut() {
                        t(self);
                    }
                }
                return Ok(match r.kind {
                    BlockKind::Data { .. } => Walk::Continue,
                    BlockKind::Indirect { .. } => Walk::Skip,
                });
            }
            let mut w = f(self, &r);
            if let (BlockKind::Indirect { .. }, Walk::Continue) = (r.kind, w) {
                // fsck_ffs `iblock()`: an indirect block that fails the
                // range rule is never read for pointers.
                if !geo.run_in_range(r.addr, u64::from(r.nfrags)) {
                    w = Walk::Skip;
                }
            }
            if w == Walk::Stop {
                stopped = true;
            }
            Ok(w)
        });
        if stopped {
            Walk::Stop
        } else {
            Walk::Continue
        }
    }
}

impl Ctx<'_> {
    /// Accounts `bytes` more for `what`; past the memory limit the run
    /// stops (and the caller must not allocate). Returns whether the
    /// allocation may go ahead.
    pub fn charge(&mut self, what: &str, bytes: u64) -> bool {
        if self.over_limit.is_some() {
            return false;
        }
        let used = self.mem_used.saturating_add(bytes);
        if let Some(limit) = self.opts.max_memory.filter(|&l| used > l) {
            self.over_limit = Some(format!(
                "{what} would bring the check's tables to {used} bytes, over the limit of {limit}"
            ));
            self.stopped = true;
            return false;
        }
        self.mem_used = used;
        true
    }
}

/// Handing one group's results from a worker's tables to the check's
/// (`super::parallel`).
impl InoTable {
    /// The state, type and link-count tables of the last group pushed
    /// (moved out, not copied, when it is the only group with inodes).
    pub(crate) fn into_last_cg(mut self) -> CgTables {
        let at = self.base.last().copied().unwrap_or(0);
        let count = self.count.last().copied().unwrap_or(0);
        let first = u32::try_from(self.base.len().saturating_sub(1))
            .unwrap_or(u32::MAX)
            .saturating_mul(self.ipg);
        let mut past: Vec<(u32, PastSlot)> = self
            .past
            .iter()
            .filter(|&(&ino, _)| ino >= first)
            .map(|(&ino, &p)| (ino - first, p))
            .collect();
        past.sort_unstable_by_key(|&(off, _)| off);
        let mut wide: Vec<(usize, i32)> = self
            .wide
            .iter()
            .filter(|&(&i, _)| i >= at)
            .map(|(&i, &n)| (i - at, n))
            .collect();
        wide.sort_unstable();
        match at {
            0 => CgTables {
                state: self.state,
                dtype: self.dtype,
                link: self.link,
                wide,
                count,
                past,
            },
            at => CgTables {
                state: self.state.split_off(at),
                dtype: self.dtype.split_off(at),
                link: self.link.split_off(at),
                wide,
                count,
                past,
            },
        }
    }
    /// Adds the next group with the given tables (as [`InoTable::push_cg`]
    /// and the setters would leave them).
    pub(crate) fn push_cg_from(&mut self, g: &CgTables) {
        let at = self.state.len();
        let first = u32::try_from(self.base.len())
            .unwrap_or(u32::MAX)
            .saturating_mul(self.ipg);
        self.base.push(at);
        self.count.push(g.count);
        // A group's slots are at most its count, a u32.
        self.held
            .push(u32::try_from(g.state.len()).unwrap_or(u32::MAX));
        self.past
            .extend(g.past.iter().map(|&(off, p)| (first + off, p)));
        self.state.extend_from_slice(&g.state);
        self.dtype.extend_from_slice(&g.dtype);
        self.link.extend_from_slice(&g.link);
        self.wide.extend(g.wide.iter().map(|&(i, n)| (at + i, n)));
    }
}

impl BlockMap {
    /// The words with a fragment set, as (index, word).
    pub(crate) fn nonzero_words(&self) -> Vec<(usize, u64)> {
        self.bits
            .iter()
            .enumerate()
            .filter(|(_, &w)| w != 0)
            .map(|(i, &w)| (i, w))
            .collect()
    }
    /// Clears the words `nonzero_words` gave: the map is empty again, at
    /// the cost of the words that were set, not of the whole map.
    pub(crate) fn clear_words(&mut self, words: &[(usize, u64)]) {
        for &(i, _) in words {
            if let Some(b) = self.bits.get_mut(i) {
                *b = 0;
            }
        }
    }
    /// Fragments the map covers.
    pub(crate) fn frags(&self) -> u64 {
        self.size
    }
    /// Sets the fragments of `words` (from a map of the same size) unless
    /// one of them is set already: returns false, changing nothing, then.
    pub(crate) fn merge_words(&mut self, words: &[(usize, u64)]) -> bool {
        let fits = |&(i, w): &(usize, u64)| self.bits.get(i).is_some_and(|b| b & w == 0);
        if !words.iter().all(fits) {
            return false;
        }
        for &(i, w) in words {
            self.bits[i] |= w;
        }
        true
    }
}

/// The word fsck_ffs -p prints after a fix it made (`(ADJUSTED)`).
pub fn past_tense(q: &str) -> &'static str {
    match q {
        "SALVAGE" => "SALVAGED",
        "ADJUST" | "ADJUST LENGTH" => "ADJUSTED",
        "CLEAR" => "CLEARED",
        "RECONNECT" => "RECONNECTED",
        "CREATE" => "CREATED",
        "CORRECT" | "CORRECT CHECK HASH" => "CORRECTED",
        "REMOVE" => "REMOVED",
        "EXPAND" => "EXPANDED",
        "ALLOCATE" | "REALLOCATE" => "REALLOCATED",
        "UPDATE STANDARD SUPERBLOCK" => "UPDATED",
        _ => "FIXED",
    }
}

/// Decodes the entry header at `loc` of a directory block (None if it does
/// not fit).
pub fn parse_ent(buf: &[u8], loc: usize, endian: crate::Endian) -> Option<DirEnt> {
    let h = crate::ondisk::DirectHdr::decode(buf.get(loc..)?, endian)?;
    let name = buf
        .get(loc + 8..loc + 8 + usize::from(h.d_namlen))
        .map(EntName::new)
        .unwrap_or_default();
    let nul = buf.get(loc + 8 + usize::from(h.d_namlen)) == Some(&0);
    Some(DirEnt {
        ino: h.d_ino,
        reclen: h.d_reclen,
        dtype: h.d_type,
        namlen: h.d_namlen,
        name,
        nul,
    })
}

/// fsck_ffs 12.1 `dircheck()`: whether the entry at `loc` (with `filesize`
/// bytes of the directory left) is well formed ([`crate::dir::EntryHead::fsck_check`]).
pub fn dircheck(e: &DirEnt, loc: usize, filesize: i64) -> bool {
    e.head()
        .fsck_check(DIRBLKSIZ - (loc % DIRBLKSIZ), filesize)
        .is_ok()
}

/// fsck_ffs `ftypeok()`.
pub fn ftypeok(typ: u16) -> bool {
    matches!(
        typ,
        mode::IFDIR
            | mode::IFREG
            | mode::IFBLK
            | mode::IFCHR
            | mode::IFLNK
            | mode::IFSOCK
            | mode::IFIFO
    )
}

/// The owner as fsck_ffs prints it. Only uid 0 has a name: user names come
/// from the checking host's passwd, which an image checker must not
/// depend on (the reference outputs print `root` and numbers).
pub fn owner(uid: u32) -> String {
    if uid == 0 {
        "root".into()
    } else {
        uid.to_string()
    }
}

pub use crate::timefmt::ctime_short;

/// Version-independent helpers on raw inodes used by the passes.
pub fn ptr_size(v: UfsVersion) -> u64 {
    u64::from(v.pointer_size())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_format() {
        assert_eq!(ctime_short(0), "Jan  1 00:00 1970");
        assert_eq!(ctime_short(1_588_334_400), "May  1 12:00 2020");
    }

    #[test]
    fn table_defaults_to_unallocated() {
        let mut t = InoTable::new(8);
        t.push_cg(4);
        t.set_state(3, FSTATE);
        assert_eq!(t.state(3), FSTATE);
        assert_eq!(t.state(5), USTATE);
        assert_eq!(t.state(100), USTATE);
    }

    /// A group trimmed after its last inode in use reads as before, keeps
    /// later writes to its trimmed inodes, and hands them over with the
    /// group.
    #[test]
    fn trimmed_groups_read_and_write_as_before() {
        let mut t = InoTable::new(8);
        t.push_cg(8);
        t.set_found(3, FSTATE, 8, 2);
        // Past the last inode in use but not a free inode's values.
        t.set_state(6, DCLEAR);
        t.trim_last_cg(4);
        assert!(t.tracked(5) && t.tracked(7) && !t.tracked(8));
        assert_eq!((t.state(3), t.dtype(3), t.link(3)), (FSTATE, 8, 2));
        assert_eq!((t.state(5), t.dtype(5), t.link(5)), (USTATE, 0, 0));
        assert_eq!(t.state(6), DCLEAR);
        t.push_cg(8);
        // A new directory in a trimmed slot, and the groups after it.
        t.set_found(5, DSTATE, 4, 2);
        t.add_link(5, -1);
        assert_eq!((t.state(5), t.dtype(5), t.link(5)), (DSTATE, 4, 1));
        t.set_state(12, FSTATE);
        assert_eq!(t.state(12), FSTATE);
        t.set_state(20, FSTATE);
        assert_eq!(t.state(20), USTATE);
        let mut w = InoTable::new(8);
        w.push_cg(0);
        w.push_cg(8);
        w.set_found(9, FSTATE, 8, 1);
        w.set_state(14, FZLINK);
        w.trim_last_cg(2);
        let mut u = InoTable::new(8);
        u.push_cg(8);
        u.push_cg_from(&w.into_last_cg());
        assert_eq!(u.count(1), 8);
        assert_eq!((u.state(9), u.link(9)), (FSTATE, 1));
        assert_eq!(u.state(14), FZLINK);
        assert!(u.tracked(15) && !u.tracked(16));
        assert_eq!(u.state(15), USTATE);
    }

    /// Counts past 16 bits (more entries than `di_nlink` says) are kept
    /// exactly, down and back up, and survive a group handoff.
    #[test]
    fn link_counts_past_16_bits_stay_exact() {
        let mut t = InoTable::new(8);
        t.push_cg(8);
        t.push_cg(8);
        t.set_found(9, FSTATE, 8, i32::from(i16::MIN));
        assert_eq!(t.link(9), -32768);
        t.set_link(10, 1);
        for _ in 0..40_000 {
            t.add_link(10, -1);
        }
        assert_eq!(t.link(10), -39_999);
        t.add_link(9, 1);
        assert_eq!(t.link(9), -32767);
        let mut u = InoTable::new(8);
        u.push_cg(8);
        u.push_cg_from(&t.into_last_cg());
        assert_eq!(u.link(10), -39_999);
        assert_eq!(u.link(9), -32767);
        for _ in 0..39_999 {
            u.add_link(10, 1);
        }
        assert_eq!(u.link(10), 0);
        assert!(u.wide.is_empty());
        // Phase 2's one-lookup reference takes the same path past 16 bits,
        // and only from files of the type named.
        u.set_found(11, FSTATE, 8, -32_766);
        for _ in 0..3 {
            assert!(u.ref_file(11, 8));
        }
        assert_eq!(u.link(11), -32_769);
        assert!(!u.ref_file(11, 4) && !u.ref_file(12, 0));
        u.set_state(11, DSTATE);
        assert!(!u.ref_file(11, 8));
        assert_eq!(u.link(11), -32_769);
    }
}
