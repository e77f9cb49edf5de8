//! The `edit_ops` target's input and machinery (shared with the
//! `edit_ops_replay` example, which replays and shrinks an input):
//! write-path operations on a base image, optionally corrupted.

use crate::{apply_edits, bases, findings, fsck_n_report, T};
use arbitrary::{Arbitrary, Unstructured};
use std::sync::OnceLock;
use ufskit::fsck::Verdict;
use ufskit::inode::Timespec;
use ufskit::xattr::Namespace;
use ufskit::{FileType, Ino, NewNode, OpenOptions, Session, SetAttr, Ufs};

/// A name: mostly from a small set (so operations meet each other), or
/// a long or invalid one (empty, `.`, `..`, `/`, NUL, > 255 bytes).
#[derive(Debug, Arbitrary)]
pub enum Name {
    Pick(u8),
    Long(u8),
    Odd(u8),
}

impl Name {
    pub fn bytes(&self) -> Vec<u8> {
        const ODD: [&[u8]; 7] = [b"", b".", b"..", b"a/b", b"a\0b", b"\xff\xfe", b"lost+found"];
        match self {
            Name::Pick(k) => format!("n{}", k % 24).into_bytes(),
            Name::Long(k) => vec![b'a' + k % 3; 230 + usize::from(*k % 30)],
            Name::Odd(k) => ODD[usize::from(*k) % ODD.len()].to_vec(),
        }
    }
}

/// A file offset or size: small, a block multiple (direct and single
/// indirect blocks), or far (double and triple indirect, past the limit).
#[derive(Debug, Arbitrary)]
pub enum Off {
    Small(u16),
    Blocks(u16, u16),
    Far(u32),
}

impl Off {
    pub fn get(&self, bsize: u64) -> u64 {
        match self {
            Off::Small(v) => u64::from(*v),
            Off::Blocks(b, r) => u64::from(*b % 2048) * bsize + u64::from(*r) % bsize,
            Off::Far(v) => u64::from(*v) << 12,
        }
    }
}

#[derive(Debug, Arbitrary)]
pub struct Data {
    pub len: u16,
    pub seed: u8,
}

impl Data {
    pub fn bytes(&self) -> Vec<u8> {
        (0..usize::from(self.len)).map(|i| (i as u8).wrapping_mul(13) ^ self.seed).collect()
    }
}

#[derive(Debug, Arbitrary)]
pub enum Op {
    Create { dir: u8, name: Name, kind: u8, perm: u16, data: Data },
    Write { node: u8, off: Off, data: Data },
    Append { node: u8, data: Data },
    Truncate { node: u8, size: Off },
    Mkdir { dir: u8, name: Name, perm: u16 },
    Symlink { dir: u8, name: Name, target: Data },
    Link { dir: u8, name: Name, node: u8 },
    Unlink { entry: u8 },
    Rmdir { entry: u8 },
    Rename { entry: u8, dir: u8, name: Name },
    Chmod { node: u8, perm: u16 },
    Chown { node: u8, uid: Option<u32>, gid: Option<u32> },
    Utimes { node: u8, atime: Option<(i64, u32)>, mtime: Option<(i64, u32)>, birthtime: Option<(i64, u32)> },
    Chflags { node: u8, flags: u32 },
    SetXattr { node: u8, system: bool, name: Name, value: Data },
    RemoveXattr { node: u8, system: bool, name: Name },
    Sync,
}

/// Byte 0: the base; byte 1: with the top bit set, `(b & 7) + 1` byte
/// edits of its metadata follow (`(u32, u8)` each), else none; then
/// operations until the input ends (at most 32 are applied). No
/// per-element continuation flags, so random bytes make long lists.
#[derive(Debug)]
pub struct Input {
    pub base: u8,
    pub edits: Vec<(u32, u8)>,
    pub ops: Vec<Op>,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let base = u.arbitrary()?;
        let n = u.arbitrary::<u8>()?;
        let nedits = if n & 0x80 != 0 { usize::from(n & 7) + 1 } else { 0 };
        let mut edits = Vec::with_capacity(nedits);
        for _ in 0..nedits {
            edits.push(u.arbitrary()?);
        }
        let mut ops = Vec::new();
        while !u.is_empty() && ops.len() < 32 {
            ops.push(u.arbitrary()?);
        }
        Ok(Input { base, edits, ops })
    }

    fn arbitrary_take_rest(mut u: Unstructured<'a>) -> arbitrary::Result<Self> {
        Self::arbitrary(&mut u)
    }
}

/// What the operations can name: directories, (parent, name) entries,
/// and inodes. Stale items stay until an operation removes them; using
/// one is just an operation that fails.
#[derive(Clone, Default)]
pub struct Known {
    dirs: Vec<Ino>,
    entries: Vec<(Ino, Vec<u8>)>,
    nodes: Vec<Ino>,
}

/// A name as Rust source: `b"..."`, or `[b'a'; N]` for a long run.
fn nm(b: &[u8]) -> String {
    match b.first() {
        Some(&c) if b.len() > 24 && b.iter().all(|&x| x == c) => format!("[b'{}'; {}]", c.escape_ascii(), b.len()),
        _ if b.len() > 40 => format!("b\"{}\"... ({} bytes)", b[..40].escape_ascii(), b.len()),
        _ => format!("b\"{}\"", b.escape_ascii()),
    }
}

fn pick<T: Clone>(v: &[T], k: u8) -> Option<T> {
    (!v.is_empty()).then(|| v[usize::from(k) % v.len()].clone())
}

/// The tree of each base image, listed once.
pub fn known(i: usize) -> &'static Known {
    static K: OnceLock<Vec<Known>> = OnceLock::new();
    &K.get_or_init(|| {
        bases()
            .iter()
            .map(|b| {
                let fs = Ufs::open(Box::new(b.image.clone()), &OpenOptions::read_only()).expect("base opens");
                let mut k = Known { dirs: vec![Ino::ROOT], nodes: vec![Ino::ROOT], ..Default::default() };
                let mut todo = vec![Ino::ROOT];
                while let Some(d) = todo.pop() {
                    for e in fs.read_dir(d).expect("base dir") {
                        if e.name == b"." || e.name == b".." {
                            continue;
                        }
                        k.entries.push((d, e.name.clone()));
                        if !k.nodes.contains(&e.ino) {
                            k.nodes.push(e.ino);
                            if fs.inode(e.ino).expect("base inode").is_dir() {
                                k.dirs.push(e.ino);
                                todo.push(e.ino);
                            }
                        }
                    }
                }
                k
            })
            .collect()
    })[i]
}

/// `UFS_FUZZ_VERBOSE=1`: print each operation and its result (to read a
/// reproducer or see what a corpus does).
pub fn verbose() -> bool {
    static V: OnceLock<bool> = OnceLock::new();
    *V.get_or_init(|| std::env::var_os("UFS_FUZZ_VERBOSE").is_some())
}

fn attr(perm: u16) -> NewNode {
    NewNode { perm: perm & 0o7777, uid: 1001, gid: 1001, ..Default::default() }
}

fn ts(t: &Option<(i64, u32)>) -> Option<Timespec> {
    t.map(|(sec, nsec)| Timespec { sec, nsec: nsec % 1_000_000_000 })
}

const KINDS: [FileType; 5] =
    [FileType::Regular, FileType::Fifo, FileType::Socket, FileType::CharDevice, FileType::BlockDevice];

/// Applies one operation; `desc` gets the concrete call made (inode
/// numbers, names, sizes), for writing a regression test from a log.
pub fn apply(fs: &mut Session, k: &mut Known, op: &Op, desc: &mut String) -> ufskit::Result<()> {
    let bsize = u64::from(fs.geometry().bsize);
    let none = || ufskit::Error::InvalidInput("fuzz: nothing to name".into());
    match op {
        Op::Create { dir, name, kind, perm, data } => {
            let d = pick(&k.dirs, *dir).ok_or_else(none)?;
            let name = name.bytes();
            let kind = KINDS[usize::from(*kind) % KINDS.len()];
            let mut a = attr(*perm);
            if matches!(kind, FileType::CharDevice | FileType::BlockDevice) {
                a.rdev = Some((u32::from(data.seed), u32::from(data.len)));
            }
            *desc = format!("create({d}, {}, {kind:?}, perm {:#o}, rdev {:?})", nm(&name), a.perm, a.rdev);
            let ino = fs.create(d, &name, kind, &a)?;
            k.entries.push((d, name));
            k.nodes.push(ino);
            if kind == FileType::Regular && data.len > 0 {
                *desc += &format!(" = {ino}; write_file({ino}, 0, data({}, {}))", data.len, data.seed);
                fs.write_file(ino, 0, &data.bytes())?;
            }
        }
        Op::Write { node, off, data } => {
            let n = pick(&k.nodes, *node).ok_or_else(none)?;
            *desc = format!("write_file({n}, {}, data({}, {}))", off.get(bsize), data.len, data.seed);
            fs.write_file(n, off.get(bsize), &data.bytes())?;
        }
        Op::Append { node, data } => {
            let n = pick(&k.nodes, *node).ok_or_else(none)?;
            *desc = format!("append to {n}");
            let size = fs.inode(n)?.size();
            *desc = format!("write_file({n}, {size}, data({}, {}))", data.len, data.seed);
            fs.write_file(n, size, &data.bytes())?;
        }
        Op::Truncate { node, size } => {
            let n = pick(&k.nodes, *node).ok_or_else(none)?;
            *desc = format!("truncate({n}, {})", size.get(bsize));
            fs.truncate(n, size.get(bsize))?;
        }
        Op::Mkdir { dir, name, perm } => {
            let d = pick(&k.dirs, *dir).ok_or_else(none)?;
            let name = name.bytes();
            *desc = format!("mkdir({d}, {}, perm {:#o})", nm(&name), perm & 0o7777);
            let ino = fs.mkdir(d, &name, &attr(*perm))?;
            k.entries.push((d, name));
            k.nodes.push(ino);
            k.dirs.push(ino);
        }
        Op::Symlink { dir, name, target } => {
            let d = pick(&k.dirs, *dir).ok_or_else(none)?;
            let name = name.bytes();
            // Printable targets of 0..=1100 bytes (1024 and up are refused).
            let t: Vec<u8> =
                target.bytes().iter().map(|c| b'a' + c % 26).take(usize::from(target.len % 1101)).collect();
            *desc = format!("symlink({d}, {}, {} bytes: {})", nm(&name), t.len(), nm(&t));
            let ino = fs.symlink(d, &name, &t, &attr(0o755))?;
            k.entries.push((d, name));
            k.nodes.push(ino);
        }
        Op::Link { dir, name, node } => {
            let d = pick(&k.dirs, *dir).ok_or_else(none)?;
            let n = pick(&k.nodes, *node).ok_or_else(none)?;
            let name = name.bytes();
            *desc = format!("link({d}, {}, {n})", nm(&name));
            fs.link(d, &name, n)?;
            k.entries.push((d, name));
        }
        Op::Unlink { entry } | Op::Rmdir { entry } => {
            let i = usize::from(*entry) % k.entries.len().max(1);
            let (d, name) = k.entries.get(i).cloned().ok_or_else(none)?;
            let call = if matches!(op, Op::Unlink { .. }) { "unlink" } else { "rmdir" };
            *desc = format!("{call}({d}, {})", nm(&name));
            if matches!(op, Op::Unlink { .. }) {
                fs.unlink(d, &name)?;
            } else {
                fs.rmdir(d, &name)?;
            }
            k.entries.swap_remove(i);
        }
        Op::Rename { entry, dir, name } => {
            let i = usize::from(*entry) % k.entries.len().max(1);
            let (sd, sname) = k.entries.get(i).cloned().ok_or_else(none)?;
            let d = pick(&k.dirs, *dir).ok_or_else(none)?;
            let name = name.bytes();
            *desc = format!("rename({sd}, {}, {d}, {})", nm(&sname), nm(&name));
            fs.rename(sd, &sname, d, &name)?;
            if (sd, &sname) != (d, &name) {
                k.entries.swap_remove(i);
                k.entries.push((d, name));
            }
        }
        Op::Chmod { node, perm } => {
            let n = pick(&k.nodes, *node).ok_or_else(none)?;
            *desc = format!("set_attr({n}, perm {perm:#o})");
            fs.set_attr(n, &SetAttr { perm: Some(*perm), ..Default::default() })?;
        }
        Op::Chown { node, uid, gid } => {
            let n = pick(&k.nodes, *node).ok_or_else(none)?;
            *desc = format!("set_attr({n}, uid {uid:?}, gid {gid:?})");
            fs.set_attr(n, &SetAttr { uid: *uid, gid: *gid, ..Default::default() })?;
        }
        Op::Utimes { node, atime, mtime, birthtime } => {
            let n = pick(&k.nodes, *node).ok_or_else(none)?;
            let a = SetAttr { atime: ts(atime), mtime: ts(mtime), birthtime: ts(birthtime), ..Default::default() };
            *desc = format!("set_attr({n}, atime {:?}, mtime {:?}, birthtime {:?})", a.atime, a.mtime, a.birthtime);
            fs.set_attr(n, &a)?;
        }
        Op::Chflags { node, flags } => {
            let n = pick(&k.nodes, *node).ok_or_else(none)?;
            *desc = format!("set_attr({n}, flags {flags:#x})");
            fs.set_attr(n, &SetAttr { flags: Some(*flags), ..Default::default() })?;
        }
        Op::SetXattr { node, system, name, value } => {
            let n = pick(&k.nodes, *node).ok_or_else(none)?;
            let ns = if *system { Namespace::System } else { Namespace::User };
            *desc = format!("set_xattr({n}, {ns:?}, {}, data({}, {}))", nm(&name.bytes()), value.len, value.seed);
            fs.set_xattr(n, ns, &name.bytes(), &value.bytes())?;
        }
        Op::RemoveXattr { node, system, name } => {
            let n = pick(&k.nodes, *node).ok_or_else(none)?;
            let ns = if *system { Namespace::System } else { Namespace::User };
            *desc = format!("remove_xattr({n}, {ns:?}, {})", nm(&name.bytes()));
            fs.remove_xattr(n, ns, &name.bytes())?;
        }
        Op::Sync => {
            *desc = "sync()".into();
            fs.sync()?
        }
    }
    Ok(())
}

/// What running an input gave.
pub struct Run {
    /// Which base.
    pub base: usize,
    /// No edits: the base was a valid image.
    pub clean: bool,
    /// Each operation and its result.
    pub log: Vec<String>,
    /// The final `sync`.
    pub synced: ufskit::Result<()>,
    /// The image afterwards.
    pub image: Vec<u8>,
}

/// Applies `input`'s edits and operations; `None` when the edited base
/// does not open (a base that is not edited always opens).
pub fn run(input: &Input) -> Option<Run> {
    let all = bases();
    let bi = usize::from(input.base) % all.len();
    let clean = input.edits.is_empty();
    let img = apply_edits(&all[bi], &input.edits, true);
    // Forced: an edit may have left the image asking for a check, and the
    // operations must run on it all the same.
    let opened = Ufs::open(Box::new(img), &OpenOptions::read_write()).and_then(Session::new_forced);
    let mut fs = match opened {
        Ok(fs) => fs,
        Err(e) => {
            assert!(!clean, "a base image does not open: {e}");
            return None;
        }
    };
    fs.set_fixed_time(Some(T));
    let mut k = known(bi).clone();
    let mut log = Vec::new();
    for op in &input.ops {
        let mut desc = String::new();
        let r = apply(&mut fs, &mut k, op, &mut desc);
        log.push(format!("{desc} -> {r:?}"));
    }
    let synced = fs.sync();
    let dev = fs.into_device();
    let mut image = vec![0u8; dev.len() as usize];
    dev.read_at(0, &mut image).expect("read image");
    Some(Run { base: bi, clean, log, synced, image })
}

/// The oracle for a clean base: `sync` worked and `fsck -n -f` finds the
/// result clean. `Err` describes the failure.
pub fn oracle(r: &Run) -> Result<(), String> {
    if let Err(e) = &r.synced {
        return Err(format!("sync failed: {e}\noperations:\n{:#?}", r.log));
    }
    let (out, rep) = fsck_n_report(&r.image).ok_or("fsck -n fails to run")?;
    if out.verdict != Verdict::Clean {
        return Err(format!(
            "after the operations fsck -n says {:?}:\n{:#?}\noperations:\n{:#?}",
            out.verdict,
            findings(&rep),
            r.log
        ));
    }
    Ok(())
}
