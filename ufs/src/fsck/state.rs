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

/// Per-inode tables, one vector per cylinder group: four bytes per inode,
/// as fsck.h's `struct inostat` (state, type, 16-bit link count).
///
/// A group's vector holds its first inodes only, as far as the last one
/// written with anything but a free inode's values; the tracked inodes
/// past it read as free. It is reserved for the group's count when the
/// group is added and filled as phase 1 reads the group, so the pages past
/// the last inode in use are never touched (fsck_ffs trims its `inostat`
/// arrays the same way, pass1.c). The rare later write past the end (a
/// new lost+found) extends it.
///
/// One vector per group instead of one for the whole table: a phase 1
/// worker ([`super::parallel`]) fills a group's vector and the check
/// takes it over as it is, so the groups in flight are not held twice.
///
/// The link count starts at `di_nlink` (16 bits) and moves by one per
/// reference passes 2-4 find, so a damaged image (more entries naming an
/// inode than its count says) can carry it past 16 bits. fsck_ffs's
/// unsigned short would wrap there; this table keeps the exact count of
/// such rare inodes in `wide`, so the reports stay what a 32-bit count
/// gives.
#[derive(Default, Debug)]
pub struct InoTable {
    groups: Vec<CgSlots>,
    /// Link counts that do not fit in 16 bits, by inode; their slot's
    /// `link` holds [`WIDE`].
    wide: HashMap<u32, i32>,
    ipg: u32,
}

/// What the table holds per inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    state: u8,
    dtype: u8,
    link: i16,
}

/// A free inode's slot: what a tracked inode past its group's vector
/// reads as.
const FREE: Slot = Slot {
    state: USTATE,
    dtype: 0,
    link: 0,
};

/// The `link` entry of a slot whose count lives in `InoTable::wide`.
const WIDE: i16 = i16::MIN;

/// One group's slots.
#[derive(Debug, Default)]
struct CgSlots {
    slots: Vec<Slot>,
    /// Inodes tracked (initialized on disk): the slots may be fewer.
    count: u32,
}

/// One group of an [`InoTable`], handed from a worker's table to the
/// check's (`super::parallel`).
#[derive(Debug, Default)]
pub(crate) struct CgTables {
    cg: CgSlots,
    /// `InoTable::wide` entries of the group, by offset in the group.
    wide: Vec<(u32, i32)>,
}

/// The slot of offset `i` of group `g` to write, the vector extended to it
/// with free slots (never past the group's count).
#[cold]
#[inline(never)]
fn grow(g: &mut CgSlots, i: usize) -> Option<&mut Slot> {
    if i >= g.count as usize {
        return None;
    }
    g.slots.resize(i + 1, FREE);
    g.slots.get_mut(i)
}

/// Applies `f` to the slot of `ino` when it is tracked. A slot past its
/// group's vector is extended to only when `f` leaves it other than free.
/// Returns whether `ino` is tracked.
#[inline]
fn update(groups: &mut [CgSlots], ipg: u32, ino: u32, f: impl FnOnce(&mut Slot)) -> bool {
    if ipg == 0 {
        return false;
    }
    let Some(g) = groups.get_mut((ino / ipg) as usize) else {
        return false;
    };
    let i = (ino % ipg) as usize;
    if let Some(s) = g.slots.get_mut(i) {
        f(s);
        return true;
    }
    if i >= g.count as usize {
        return false;
    }
    let mut s = FREE;
    f(&mut s);
    if s != FREE {
        if let Some(at) = grow(g, i) {
            *at = s;
        }
    }
    true
}

/// The link count of `ino` whose slot holds `link`.
#[inline]
fn link_of(wide: &HashMap<u32, i32>, ino: u32, link: i16) -> i32 {
    match link {
        WIDE => wide.get(&ino).copied().unwrap_or(i32::from(WIDE)),
        n => i32::from(n),
    }
}

/// Stores link count `n` of `ino` in its slot `s` (and `wide`).
#[inline]
fn put_link(wide: &mut HashMap<u32, i32>, ino: u32, s: &mut Slot, n: i32) {
    match i16::try_from(n) {
        Ok(v) if v != WIDE => {
            if s.link == WIDE {
                wide.remove(&ino);
            }
            s.link = v;
        }
        _ => {
            s.link = WIDE;
            wide.insert(ino, n);
        }
    }
}

impl InoTable {
    /// An empty table for groups of `ipg` inodes.
    pub fn new(ipg: u32) -> Self {
        InoTable {
            ipg,
            ..Default::default()
        }
    }
    /// Adds the next group with `n` tracked inodes: its vector is
    /// reserved (address space only) and filled as it is written.
    pub fn push_cg(&mut self, n: u32) {
        self.groups.push(CgSlots {
            slots: Vec::with_capacity(n as usize),
            count: n,
        });
    }
    /// Inodes tracked in group `cg`.
    pub fn count(&self, cg: u32) -> u32 {
        self.groups.get(cg as usize).map_or(0, |g| g.count)
    }
    /// What the table holds for `ino` (a free inode's slot for inodes
    /// not tracked or past their group's vector).
    #[inline]
    fn slot(&self, ino: u32) -> Slot {
        if self.ipg == 0 {
            return FREE;
        }
        self.groups
            .get((ino / self.ipg) as usize)
            .and_then(|g| g.slots.get((ino % self.ipg) as usize))
            .copied()
            .unwrap_or(FREE)
    }
    /// Whether `ino` is tracked (initialized on disk).
    pub fn tracked(&self, ino: u32) -> bool {
        self.ipg != 0
            && self
                .groups
                .get((ino / self.ipg) as usize)
                .is_some_and(|g| ino % self.ipg < g.count)
    }
    /// State of `ino` (`USTATE` for inodes not tracked).
    #[inline]
    pub fn state(&self, ino: u32) -> u8 {
        self.slot(ino).state
    }
    /// Sets the state (ignored for untracked inodes).
    #[inline]
    pub fn set_state(&mut self, ino: u32, s: u8) {
        update(&mut self.groups, self.ipg, ino, |x| x.state = s);
    }
    /// Sets the state, type and link count at once (phase 1, for every
    /// inode in use: one lookup instead of three).
    #[inline]
    pub fn set_found(&mut self, ino: u32, s: u8, t: u8, link: i32) {
        let wide = &mut self.wide;
        update(&mut self.groups, self.ipg, ino, |x| {
            x.state = s;
            x.dtype = t;
            put_link(wide, ino, x, link);
        });
    }
    /// `DT_*` type recorded in phase 1.
    #[inline]
    pub fn dtype(&self, ino: u32) -> u8 {
        self.slot(ino).dtype
    }
    /// Sets the type.
    pub fn set_dtype(&mut self, ino: u32, t: u8) {
        update(&mut self.groups, self.ipg, ino, |x| x.dtype = t);
    }
    /// Link count still unaccounted for.
    #[inline]
    pub fn link(&self, ino: u32) -> i32 {
        link_of(&self.wide, ino, self.slot(ino).link)
    }
    /// Sets the link count.
    pub fn set_link(&mut self, ino: u32, n: i32) {
        let wide = &mut self.wide;
        update(&mut self.groups, self.ipg, ino, |x| {
            put_link(wide, ino, x, n)
        });
    }
    /// Phase 2's commonest entry in one lookup: when `ino` is a file
    /// (`FSTATE` or `FZLINK`) whose recorded type is `t`, its link count
    /// loses the entry's reference and true is returned; anything else
    /// changes nothing (the caller takes the full checks).
    #[inline]
    pub fn ref_file(&mut self, ino: u32, t: u8) -> bool {
        if self.ipg == 0 {
            return false;
        }
        let wide = &mut self.wide;
        // A file's slot is stored: phase 1 wrote its state.
        let Some(x) = self
            .groups
            .get_mut((ino / self.ipg) as usize)
            .and_then(|g| g.slots.get_mut((ino % self.ipg) as usize))
        else {
            return false;
        };
        if !matches!(x.state, FSTATE | FZLINK) || x.dtype != t {
            return false;
        }
        match x.link {
            // Stays in 16 bits and off the `WIDE` mark.
            n if n > WIDE + 1 => x.link = n - 1,
            _ => {
                let n = link_of(wide, ino, x.link).saturating_sub(1);
                put_link(wide, ino, x, n);
            }
        }
        true
    }
    /// Adds `d` to the link count.
    pub fn add_link(&mut self, ino: u32, d: i32) {
        let wide = &mut self.wide;
        update(&mut self.groups, self.ipg, ino, |x| {
            let n = link_of(wide, ino, x.link).saturating_add(d);
            put_link(wide, ino, x, n);
        });
    }
    /// Ends the last group's vector after its first `keep` inodes (phase
    /// 1, once the group is read: `keep` is one past its last inode in
    /// use), or after the last slot past `keep` that holds anything but a
    /// free inode's values, so nothing read later changes.
    pub fn trim_last_cg(&mut self, keep: u32) {
        let Some(g) = self.groups.last_mut() else {
            return;
        };
        let keep = (keep as usize).min(g.slots.len());
        let end = g.slots[keep..]
            .iter()
            .rposition(|&s| s != FREE)
            .map_or(keep, |p| keep + p + 1);
        g.slots.truncate(end);
        // The reserved room past the end was never touched; given back,
        // the next group's vector can start right after this one instead
        // of a page further on (each group wasted half a page on average).
        g.slots.shrink_to_fit();
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
    /// Every word of the map, or none in a sparse map.
    bits: Vec<u64>,
    size: u64,
    /// A sparse map's words, in pages allocated as they are written (see
    /// [`BlockMap::sparse`]); empty in a whole map.
    pages: Vec<Option<Box<Page>>>,
}

/// Words per page of a sparse [`BlockMap`]: 4,096 fragments.
const PAGE_WORDS: usize = 64;
type Page = [u64; PAGE_WORDS];

impl BlockMap {
    /// A map for `size` fragments.
    pub fn new(size: u64) -> Self {
        // A map too large for this host's address space fails to allocate
        // instead of being cut short (it always fits on 64-bit hosts).
        let words = usize::try_from(size.div_ceil(64)).unwrap_or(usize::MAX);
        BlockMap {
            bits: vec![0; words],
            size,
            pages: Vec::new(),
        }
    }
    /// The word holding `f` (below `size`).
    #[inline]
    fn word(&self, f: u64) -> u64 {
        let w = (f / 64) as usize;
        match self.bits.get(w) {
            Some(&x) => x,
            None => self
                .pages
                .get(w / PAGE_WORDS)
                .and_then(Option::as_ref)
                .map_or(0, |p| p[w % PAGE_WORDS]),
        }
    }
    /// The word holding `f` (below `size`), to write.
    #[inline]
    fn word_mut(&mut self, f: u64) -> &mut u64 {
        let w = (f / 64) as usize;
        if w < self.bits.len() {
            return &mut self.bits[w];
        }
        page_word_mut(&mut self.pages, w)
    }
    /// Whether `f` is in use; fragments past the end count as used.
    pub fn test(&self, f: u64) -> bool {
        f >= self.size || self.word(f) & (1 << (f % 64)) != 0
    }
    /// Marks `f` in use.
    pub fn set(&mut self, f: u64) {
        if f < self.size {
            *self.word_mut(f) |= 1 << (f % 64);
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
        let word = self.word_mut(f);
        if *word & mask != 0 {
            return false;
        }
        *word |= mask;
        true
    }
    /// Marks `f` free.
    pub fn clear(&mut self, f: u64) {
        if f < self.size {
            *self.word_mut(f) &= !(1 << (f % 64));
        }
    }
}

/// Word `w` of a sparse map, its page allocated when missing (a page
/// past the map's words would be a caller's error: one is added rather
/// than panicking).
#[inline]
fn page_word_mut(pages: &mut Vec<Option<Box<Page>>>, w: usize) -> &mut u64 {
    let at = w / PAGE_WORDS;
    if at >= pages.len() {
        pages.resize_with(at + 1, || None);
    }
    &mut pages[at].get_or_insert_with(|| Box::new([0; PAGE_WORDS]))[w % PAGE_WORDS]
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
    /// Phase 1 asks the device to read ahead where it goes next (on a cold
    /// cache with no read-ahead thread: see readahead.rs).
    pub hint_reads: bool,
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
    /// Generic over `f` so that phase 1's per-block check is inlined into
    /// the loop over a file's direct blocks (it runs for every file).
    pub fn ckinode_refs<I, F>(
        &mut self,
        ip: &I,
        f: &mut F,
        mut truncated: Option<&mut dyn FnMut(&mut Ctx<'a>)>,
    ) -> Walk
    where
        I: InodeFields + ?Sized,
        F: FnMut(&mut Ctx<'a>, &BlockRef) -> Walk + ?Sized,
    {
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
            let size = ip.size();
            for i in 0..NDADDR {
                if let Some(r) = bmap::direct_ref(&geo, size, i, ip.db(i)) {
                    if f(self, &r) == Walk::Stop {
                        return Walk::Stop;
                    }
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
    /// The last group pushed, its vector moved out.
    pub(crate) fn into_last_cg(mut self) -> CgTables {
        let first = u32::try_from(self.groups.len().saturating_sub(1))
            .unwrap_or(u32::MAX)
            .saturating_mul(self.ipg);
        let wide = self
            .wide
            .iter()
            .filter(|&(&ino, _)| ino >= first)
            .map(|(&ino, &n)| (ino - first, n))
            .collect();
        CgTables {
            cg: self.groups.pop().unwrap_or_default(),
            wide,
        }
    }
    /// Adds the next group with the given tables (as [`InoTable::push_cg`]
    /// and the setters would leave them), taking over its vector.
    pub(crate) fn push_cg_from(&mut self, g: CgTables) {
        let first = u32::try_from(self.groups.len())
            .unwrap_or(u32::MAX)
            .saturating_mul(self.ipg);
        self.groups.push(g.cg);
        self.wide
            .extend(g.wide.iter().map(|&(off, n)| (first + off, n)));
    }
}

impl BlockMap {
    /// A map for `size` fragments that allocates its words a page at a
    /// time as they are written: a phase 1 worker's, which sees one
    /// group's files at a time. A whole map per worker would end up
    /// resident (each worker's groups claim fragments all over the file
    /// system over the run); this one holds the pages of one group's
    /// claims, given back between groups ([`BlockMap::clear_words`]).
    pub(crate) fn sparse(size: u64) -> Self {
        let words = usize::try_from(size.div_ceil(64)).unwrap_or(usize::MAX);
        BlockMap {
            bits: Vec::new(),
            size,
            pages: std::iter::repeat_with(|| None)
                .take(words.div_ceil(PAGE_WORDS))
                .collect(),
        }
    }
    /// The words with a fragment set, as (index, word).
    pub(crate) fn nonzero_words(&self) -> Vec<(usize, u64)> {
        let whole = self.bits.iter().copied().enumerate();
        let paged = self.pages.iter().enumerate().flat_map(|(at, p)| {
            p.iter()
                .flat_map(|p| p.iter().copied().enumerate())
                .map(move |(i, w)| (at * PAGE_WORDS + i, w))
        });
        whole.chain(paged).filter(|&(_, w)| w != 0).collect()
    }
    /// Clears the words `nonzero_words` gave: the map is empty again, at
    /// the cost of the words that were set, not of the whole map; a
    /// sparse map gives its pages back.
    pub(crate) fn clear_words(&mut self, words: &[(usize, u64)]) {
        for &(i, _) in words {
            if let Some(b) = self.bits.get_mut(i) {
                *b = 0;
            }
        }
        for p in &mut self.pages {
            *p = None;
        }
    }
    /// Fragments the map covers.
    pub(crate) fn frags(&self) -> u64 {
        self.size
    }
    /// Sets the fragments of `words` (from a map of the same size) unless
    /// one of them is set already: returns false, changing nothing, then.
    pub(crate) fn merge_words(&mut self, words: &[(usize, u64)]) -> bool {
        let nwords = self.size.div_ceil(64);
        let fits =
            |&(i, w): &(usize, u64)| (i as u64) < nwords && self.word(i as u64 * 64) & w == 0;
        if !words.iter().all(fits) {
            return false;
        }
        for &(i, w) in words {
            *self.word_mut(i as u64 * 64) |= w;
        }
        true
    }
}

/// Whole-group scans (phases 4 and 5), which look at every inode of a
/// group and skip runs of them at once.
impl InoTable {
    /// Group `cg`'s stored slots, in inode order; its tracked inodes past
    /// them read as free (a slot is stored once anything is written to it).
    pub(crate) fn group_slots(&self, cg: u32) -> &[Slot] {
        self.groups
            .get(cg as usize)
            .map_or(&[][..], |g| g.slots.as_slice())
    }
}

impl Slot {
    /// The inode's state.
    #[inline]
    pub(crate) fn state(self) -> u8 {
        self.state
    }
    /// Whether its link count is nonzero (a count kept in
    /// `InoTable::wide` is).
    #[inline]
    pub(crate) fn has_links(self) -> bool {
        self.link != 0
    }
}

impl BlockMap {
    /// Fragments `f..f + 64` as one word, bit `i` for fragment `f + i`, set
    /// when in use; fragments past the end count as used, as in
    /// [`BlockMap::test`].
    pub(crate) fn word_at(&self, f: u64) -> u64 {
        // Word `i` of the map, whole or sparse; past the end, all used.
        let at = |i: u64| {
            i.checked_mul(64)
                .filter(|&g| g < self.size)
                .map_or(u64::MAX, |g| self.word(g))
        };
        let i = f / 64;
        let s = f % 64;
        let lo = at(i);
        let mut w = if s == 0 {
            lo
        } else {
            (lo >> s) | (at(i + 1) << (64 - s))
        };
        let inside = self.size.saturating_sub(f);
        if inside < 64 {
            w |= u64::MAX << inside;
        }
        w
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
        u.push_cg_from(w.into_last_cg());
        assert_eq!(u.count(1), 8);
        assert_eq!((u.state(9), u.link(9)), (FSTATE, 1));
        assert_eq!(u.state(14), FZLINK);
        assert!(u.tracked(15) && !u.tracked(16));
        assert_eq!(u.state(15), USTATE);
    }

    /// A sparse map reads, writes and hands over its fragments as a
    /// whole map does, and is empty again once its words are cleared.
    #[test]
    fn sparse_maps_read_and_write_as_whole_maps() {
        let mut w = BlockMap::sparse(9000);
        let mut whole = BlockMap::new(9000);
        for f in [3, 300, 4095, 4096, 7000, 8999] {
            assert!(!w.test(f));
            w.set(f);
            whole.set(f);
        }
        assert!(w.claim_run(640, 8) && whole.claim_run(640, 8));
        assert!(!w.claim_run(644, 2));
        assert!(w.test(9000) && w.test(647) && !w.test(648));
        w.clear(7000);
        whole.clear(7000);
        let words = w.nonzero_words();
        assert_eq!(words, whole.nonzero_words());
        let mut main = BlockMap::new(9000);
        main.set(2);
        assert!(main.merge_words(&words));
        assert!(main.test(3) && main.test(8999) && !main.test(7000));
        assert!(!main.merge_words(&words));
        w.clear_words(&words);
        assert!(w.nonzero_words().is_empty() && !w.test(300));
        assert!(w.pages.iter().all(Option::is_none));
    }

    /// The whole-group scans see what the per-inode lookups see: the held
    /// slots, including slots written after the trim; and a block-map word
    /// is `test` bit by bit, at any alignment and past the end.
    #[test]
    fn group_scans_agree_with_the_lookups() {
        let mut t = InoTable::new(8);
        t.push_cg(8);
        t.set_found(3, FSTATE, 8, 2);
        t.set_state(6, DCLEAR);
        t.trim_last_cg(4);
        t.push_cg(8);
        t.set_state(5, DFOUND);
        let slots = t.group_slots(0);
        assert_eq!(slots.len(), 7);
        assert_eq!((slots[3].state(), slots[3].has_links()), (FSTATE, true));
        assert_eq!((slots[5].state(), slots[6].state()), (DFOUND, DCLEAR));
        assert!(t.group_slots(1).is_empty() && t.group_slots(2).is_empty());
        for mut m in [BlockMap::new(200), BlockMap::sparse(200)] {
            for f in [0, 1, 63, 64, 65, 130, 199] {
                m.set(f);
            }
            for f in [0, 1, 5, 63, 64, 100, 136, 150, 199, 260] {
                let w = m.word_at(f);
                for i in 0..64 {
                    assert_eq!(w & (1 << i) != 0, m.test(f + i), "fragment {f} + {i}");
                }
            }
        }
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
        u.push_cg_from(t.into_last_cg());
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
