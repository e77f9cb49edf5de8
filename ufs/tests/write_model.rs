//! Model-based property test of the write path: random sequences of tree
//! operations are applied both to an image and to an in-memory model of the
//! tree. Every operation must succeed or fail in both the same way; after a
//! sequence the reader must see exactly the model (names, types, sizes,
//! contents, link counts, symlink targets, modes, owners, file mtimes,
//! extended attributes, which names share an inode), the rest of the image
//! must be untouched, and fsck (forced) must find the image clean.
//!
//! All operations happen below a fresh directory `/t` of a populated image.
//! The default number of cases per base image is 32; set PROPTEST_CASES for
//! more (e.g. `PROPTEST_CASES=500 cargo test --test write_model`).
#![allow(clippy::panic)] // a failing test panics

mod common;
use common::load_zst;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;
use ufskit::fsck::{check, CollectingReporter, FsckOptions, Verdict};
use ufskit::inode::Timespec;
use ufskit::xattr::{Namespace, Xattr};
use ufskit::{Error, FileType, Ino, NewNode, OpenOptions, Session, SetAttr, Ufs, UfsVersion};

const FIXED: Timespec = Timespec {
    sec: 1_600_000_000,
    nsec: 7,
};

/// Names operations pick from: collisions are the point.
fn name(i: u8) -> Vec<u8> {
    match i % 8 {
        0 => b"a".to_vec(),
        1 => b"b".to_vec(),
        2 => b"c".to_vec(),
        3 => b"d".to_vec(),
        4 => b"e".to_vec(),
        5 => b"name-with-more-characters-0123456789".to_vec(),
        6 => vec![b'm'; 100],
        _ => vec![b'L'; 255],
    }
}

fn xname(i: u8) -> (Namespace, Vec<u8>) {
    let ns = if i & 4 == 0 {
        Namespace::User
    } else {
        Namespace::System
    };
    let n = match i % 4 {
        0 => b"a".to_vec(),
        1 => b"colour".to_vec(),
        2 => b"x.y.z".to_vec(),
        _ => vec![b'n'; 60],
    };
    (ns, n)
}

fn bytes_from(seed: u32, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(12345) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

#[derive(Clone, Debug)]
enum Op {
    Create {
        d: u8,
        n: u8,
        size: usize,
        seed: u32,
    },
    Write {
        f: u8,
        off: u64,
        len: usize,
        seed: u32,
    },
    Truncate {
        f: u8,
        size: u64,
    },
    Mkdir {
        d: u8,
        n: u8,
        perm: u16,
    },
    Symlink {
        d: u8,
        n: u8,
        len: usize,
    },
    Link {
        t: u8,
        d: u8,
        n: u8,
    },
    Unlink {
        d: u8,
        n: u8,
    },
    Rmdir {
        d: u8,
        n: u8,
    },
    Rename {
        sd: u8,
        sn: u8,
        dd: u8,
        dn: u8,
    },
    Chmod {
        s: u8,
        perm: u16,
    },
    Chown {
        s: u8,
        uid: u32,
        gid: u32,
    },
    Utimes {
        s: u8,
        atime: i64,
        mtime: i64,
    },
    SetXattr {
        s: u8,
        x: u8,
        len: usize,
        seed: u32,
    },
    RemoveXattr {
        s: u8,
        x: u8,
    },
}

fn size_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..600,
        3 => 600usize..20_000,
        1 => 20_000usize..160_000,
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let sel = any::<u8>;
    prop_oneof![
        4 => (sel(), sel(), size_strategy(), any::<u32>()).prop_map(|(d, n, size, seed)| Op::Create { d, n, size, seed }),
        3 => (sel(), prop_oneof![3 => 0u64..70_000, 1 => 0u64..3_000_000], size_strategy(), any::<u32>())
            .prop_map(|(f, off, len, seed)| Op::Write { f, off, len: len.min(40_000), seed }),
        2 => (sel(), prop_oneof![3 => 0u64..70_000, 1 => 0u64..2_500_000]).prop_map(|(f, size)| Op::Truncate { f, size }),
        3 => (sel(), sel(), 0u16..0o10000).prop_map(|(d, n, perm)| Op::Mkdir { d, n, perm }),
        2 => (sel(), sel(), prop_oneof![1usize..50, 50usize..1024]).prop_map(|(d, n, len)| Op::Symlink { d, n, len }),
        2 => (sel(), sel(), sel()).prop_map(|(t, d, n)| Op::Link { t, d, n }),
        3 => (sel(), sel()).prop_map(|(d, n)| Op::Unlink { d, n }),
        2 => (sel(), sel()).prop_map(|(d, n)| Op::Rmdir { d, n }),
        3 => (sel(), sel(), sel(), sel()).prop_map(|(sd, sn, dd, dn)| Op::Rename { sd, sn, dd, dn }),
        1 => (sel(), 0u16..0o10000).prop_map(|(s, perm)| Op::Chmod { s, perm }),
        1 => (sel(), 0u32..70_000, 0u32..70_000).prop_map(|(s, uid, gid)| Op::Chown { s, uid, gid }),
        1 => (sel(), -2_000_000_000i64..4_000_000_000, -2_000_000_000i64..4_000_000_000)
            .prop_map(|(s, atime, mtime)| Op::Utimes { s, atime, mtime }),
        2 => (sel(), sel(), prop_oneof![0usize..100, 100usize..5000], any::<u32>())
            .prop_map(|(s, x, len, seed)| Op::SetXattr { s, x, len, seed }),
        1 => (sel(), sel()).prop_map(|(s, x)| Op::RemoveXattr { s, x }),
    ]
}

// ---- the model ------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Kind {
    File(Vec<u8>),
    Dir(BTreeMap<Vec<u8>, usize>),
    Symlink(Vec<u8>),
}

#[derive(Clone, Debug)]
struct Node {
    kind: Kind,
    ino: Ino,
    perm: u16,
    uid: u32,
    gid: u32,
    /// Known modification time (files and symlinks).
    mtime: Option<i64>,
    xattrs: BTreeMap<(Namespace, Vec<u8>), Vec<u8>>,
    /// Parent directory (directories only).
    parent: usize,
}

struct Model {
    nodes: HashMap<usize, Node>,
    next: usize,
}

/// What an operation came to, for comparing image and model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    NotFound,
    Exists,
    NotEmpty,
    IsDir,
    NotDir,
    Invalid,
    Unsupported,
    NoSpace,
    Other,
}

fn outcome<T>(r: &Result<T, Error>) -> Outcome {
    match r {
        Ok(_) => Outcome::Ok,
        Err(Error::NotFound { .. }) => Outcome::NotFound,
        Err(Error::Exists { .. }) => Outcome::Exists,
        Err(Error::NotEmpty { .. }) => Outcome::NotEmpty,
        Err(Error::IsADirectory { .. }) => Outcome::IsDir,
        Err(Error::NotADirectory { .. }) => Outcome::NotDir,
        Err(Error::InvalidInput(_)) => Outcome::Invalid,
        Err(Error::Unsupported(_)) => Outcome::Unsupported,
        Err(Error::NoSpace(_)) => Outcome::NoSpace,
        Err(_) => Outcome::Other,
    }
}

impl Model {
    fn node(&self, id: usize) -> &Node {
        &self.nodes[&id]
    }

    fn entries(&self, dir: usize) -> &BTreeMap<Vec<u8>, usize> {
        match &self.node(dir).kind {
            Kind::Dir(e) => e,
            _ => unreachable!("not a directory"),
        }
    }

    fn entries_mut(&mut self, dir: usize) -> &mut BTreeMap<Vec<u8>, usize> {
        match &mut self.nodes.get_mut(&dir).expect("node").kind {
            Kind::Dir(e) => e,
            _ => unreachable!("not a directory"),
        }
    }

    fn is_dir(&self, id: usize) -> bool {
        matches!(self.node(id).kind, Kind::Dir(_))
    }

    /// Every node once, depth first in name order, root (`/t`) first.
    fn all(&self) -> Vec<usize> {
        let mut out = vec![0];
        let mut i = 0;
        while i < out.len() {
            let id = out[i];
            i += 1;
            if let Kind::Dir(e) = &self.node(id).kind {
                for &c in e.values() {
                    if !out.contains(&c) {
                        out.push(c);
                    }
                }
            }
        }
        out
    }

    fn dirs(&self) -> Vec<usize> {
        self.all().into_iter().filter(|&i| self.is_dir(i)).collect()
    }

    fn files(&self) -> Vec<usize> {
        self.all()
            .into_iter()
            .filter(|&i| matches!(self.node(i).kind, Kind::File(_)))
            .collect()
    }

    fn refs(&self, id: usize) -> usize {
        self.nodes
            .values()
            .filter_map(|n| {
                if let Kind::Dir(e) = &n.kind {
                    Some(e)
                } else {
                    None
                }
            })
            .map(|e| e.values().filter(|&&c| c == id).count())
            .sum()
    }

    fn nlink(&self, id: usize) -> usize {
        match &self.node(id).kind {
            Kind::Dir(e) => 2 + e.values().filter(|&&c| self.is_dir(c)).count(),
            _ => self.refs(id),
        }
    }

    fn add(&mut self, kind: Kind, ino: Ino, perm: u16, parent: usize, mtime: Option<i64>) -> usize {
        let id = self.next;
        self.next += 1;
        self.nodes.insert(
            id,
            Node {
                kind,
                ino,
                perm,
                uid: 0,
                gid: 0,
                mtime,
                xattrs: BTreeMap::new(),
                parent,
            },
        );
        id
    }

    /// Removes the entry; frees the node with its last name.
    fn remove_entry(&mut self, dir: usize, name: &[u8]) {
        if let Some(id) = self.entries_mut(dir).remove(name) {
            if self.refs(id) == 0 {
                self.nodes.remove(&id);
            }
        }
    }

    fn is_ancestor(&self, anc: usize, mut d: usize) -> bool {
        loop {
            if d == anc {
                return true;
            }
            if d == 0 {
                return false;
            }
            d = self.node(d).parent;
        }
    }
}

fn pick(list: &[usize], s: u8) -> Option<usize> {
    if list.is_empty() {
        None
    } else {
        Some(list[s as usize % list.len()])
    }
}

/// Result of one step: keep going, or stop (the image ran out of space,
/// which the model cannot predict).
enum Step {
    Go,
    Full,
}

fn agree(op: &Op, got: Outcome, want: Outcome) -> Result<(), TestCaseError> {
    prop_assert_eq!(got, want, "{:?}", op);
    Ok(())
}

fn apply(fs: &mut Session, m: &mut Model, op: &Op, ufs2: bool) -> Result<Step, TestCaseError> {
    let bsize = fs.geometry().bsize as usize;
    match *op {
        Op::Create { d, n, size, seed } => {
            let Some(dir) = pick(&m.dirs(), d) else {
                return Ok(Step::Go);
            };
            let nm = name(n);
            let want = if m.entries(dir).contains_key(&nm) {
                Outcome::Exists
            } else {
                Outcome::Ok
            };
            let attr = NewNode {
                perm: 0o644,
                ..Default::default()
            };
            let r = fs.create(m.node(dir).ino, &nm, FileType::Regular, &attr);
            if outcome(&r) == Outcome::NoSpace {
                return Ok(Step::Full);
            }
            agree(op, outcome(&r), want)?;
            if let Ok(ino) = r {
                let id = m.add(Kind::File(Vec::new()), ino, 0o644, 0, Some(FIXED.sec));
                m.entries_mut(dir).insert(nm, id);
                if size > 0 {
                    let data = bytes_from(seed, size);
                    let w = fs.write_file(ino, 0, &data);
                    if outcome(&w) == Outcome::NoSpace {
                        return Ok(Step::Full);
                    }
                    agree(op, outcome(&w), Outcome::Ok)?;
                    m.nodes.get_mut(&id).expect("node").kind = Kind::File(data);
                }
            }
        }
        Op::Write { f, off, len, seed } => {
            let Some(id) = pick(&m.files(), f) else {
                return Ok(Step::Go);
            };
            let data = bytes_from(seed, len);
            let r = fs.write_file(m.node(id).ino, off, &data);
            if outcome(&r) == Outcome::NoSpace {
                return Ok(Step::Full);
            }
            agree(op, outcome(&r), Outcome::Ok)?;
            let node = m.nodes.get_mut(&id).expect("node");
            if let Kind::File(content) = &mut node.kind {
                if !data.is_empty() {
                    let end = off as usize + data.len();
                    if content.len() < end {
                        content.resize(end, 0);
                    }
                    content[off as usize..end].copy_from_slice(&data);
                }
            }
            node.mtime = Some(FIXED.sec);
        }
        Op::Truncate { f, size } => {
            let Some(id) = pick(&m.files(), f) else {
                return Ok(Step::Go);
            };
            let r = fs.truncate(m.node(id).ino, size);
            if outcome(&r) == Outcome::NoSpace {
                return Ok(Step::Full);
            }
            agree(op, outcome(&r), Outcome::Ok)?;
            let node = m.nodes.get_mut(&id).expect("node");
            if let Kind::File(content) = &mut node.kind {
                content.resize(size as usize, 0);
            }
            node.mtime = Some(FIXED.sec);
        }
        Op::Mkdir { d, n, perm } => {
            let Some(dir) = pick(&m.dirs(), d) else {
                return Ok(Step::Go);
            };
            let nm = name(n);
            let want = if m.entries(dir).contains_key(&nm) {
                Outcome::Exists
            } else {
                Outcome::Ok
            };
            let r = fs.mkdir(
                m.node(dir).ino,
                &nm,
                &NewNode {
                    perm,
                    ..Default::default()
                },
            );
            if outcome(&r) == Outcome::NoSpace {
                return Ok(Step::Full);
            }
            agree(op, outcome(&r), want)?;
            if let Ok(ino) = r {
                let id = m.add(Kind::Dir(BTreeMap::new()), ino, perm & 0o7777, dir, None);
                m.entries_mut(dir).insert(nm, id);
            }
        }
        Op::Symlink { d, n, len } => {
            let Some(dir) = pick(&m.dirs(), d) else {
                return Ok(Step::Go);
            };
            let nm = name(n);
            let target: Vec<u8> = (0..len).map(|i| b"abcdefghij/"[i % 11]).collect();
            let want = if m.entries(dir).contains_key(&nm) {
                Outcome::Exists
            } else {
                Outcome::Ok
            };
            let r = fs.symlink(
                m.node(dir).ino,
                &nm,
                &target,
                &NewNode {
                    perm: 0o755,
                    ..Default::default()
                },
            );
            if outcome(&r) == Outcome::NoSpace {
                return Ok(Step::Full);
            }
            agree(op, outcome(&r), want)?;
            if let Ok(ino) = r {
                let id = m.add(Kind::Symlink(target), ino, 0o755, 0, Some(FIXED.sec));
                m.entries_mut(dir).insert(nm, id);
            }
        }
        Op::Link { t, d, n } => {
            let all = m.all();
            let (Some(target), Some(dir)) = (pick(&all, t), pick(&m.dirs(), d)) else {
                return Ok(Step::Go);
            };
            let nm = name(n);
            let want = if m.is_dir(target) {
                Outcome::IsDir
            } else if m.entries(dir).contains_key(&nm) {
                Outcome::Exists
            } else {
                Outcome::Ok
            };
            let r = fs.link(m.node(dir).ino, &nm, m.node(target).ino);
            if outcome(&r) == Outcome::NoSpace {
                return Ok(Step::Full);
            }
            agree(op, outcome(&r), want)?;
            if r.is_ok() {
                m.entries_mut(dir).insert(nm, target);
            }
        }
        Op::Unlink { d, n } => {
            let Some(dir) = pick(&m.dirs(), d) else {
                return Ok(Step::Go);
            };
            let nm = name(n);
            let want = match m.entries(dir).get(&nm) {
                None => Outcome::NotFound,
                Some(&c) if m.is_dir(c) => Outcome::IsDir,
                Some(_) => Outcome::Ok,
            };
            let r = fs.unlink(m.node(dir).ino, &nm);
            agree(op, outcome(&r), want)?;
            if r.is_ok() {
                m.remove_entry(dir, &nm);
            }
        }
        Op::Rmdir { d, n } => {
            let Some(dir) = pick(&m.dirs(), d) else {
                return Ok(Step::Go);
            };
            let nm = name(n);
            let want = match m.entries(dir).get(&nm) {
                None => Outcome::NotFound,
                Some(&c) if !m.is_dir(c) => Outcome::NotDir,
                Some(&c) if !m.entries(c).is_empty() => Outcome::NotEmpty,
                Some(_) => Outcome::Ok,
            };
            let r = fs.rmdir(m.node(dir).ino, &nm);
            agree(op, outcome(&r), want)?;
            if r.is_ok() {
                m.remove_entry(dir, &nm);
            }
        }
        Op::Rename { sd, sn, dd, dn } => {
            let dirs = m.dirs();
            let (Some(sp), Some(dp)) = (pick(&dirs, sd), pick(&dirs, dd)) else {
                return Ok(Step::Go);
            };
            let (sname, dname) = (name(sn), name(dn));
            // The model's verdict, in the order the library checks.
            let want = match m.entries(sp).get(&sname).copied() {
                None => Outcome::NotFound,
                Some(src) => {
                    let is_dir = m.is_dir(src);
                    if is_dir && sp != dp && m.is_ancestor(src, dp) {
                        Outcome::Invalid
                    } else {
                        match m.entries(dp).get(&dname).copied() {
                            None => Outcome::Ok,
                            Some(ex) if ex == src => Outcome::Ok,
                            Some(ex) => match (is_dir, m.is_dir(ex)) {
                                (true, true) if !m.entries(ex).is_empty() => Outcome::NotEmpty,
                                (true, true) | (false, false) => Outcome::Ok,
                                (true, false) => Outcome::NotDir,
                                (false, true) => Outcome::IsDir,
                            },
                        }
                    }
                }
            };
            let r = fs.rename(m.node(sp).ino, &sname, m.node(dp).ino, &dname);
            if outcome(&r) == Outcome::NoSpace {
                return Ok(Step::Full);
            }
            agree(op, outcome(&r), want)?;
            if r.is_ok() {
                let src = m.entries(sp)[&sname];
                if m.entries(dp).get(&dname) != Some(&src) {
                    if m.entries(dp).contains_key(&dname) {
                        m.remove_entry(dp, &dname);
                    }
                    m.entries_mut(dp).insert(dname, src);
                    m.entries_mut(sp).remove(&sname);
                    if m.is_dir(src) {
                        m.nodes.get_mut(&src).expect("node").parent = dp;
                    }
                }
            }
        }
        Op::Chmod { s, perm } => {
            let Some(id) = pick(&m.all(), s) else {
                return Ok(Step::Go);
            };
            let r = fs.set_attr(
                m.node(id).ino,
                &SetAttr {
                    perm: Some(perm),
                    ..Default::default()
                },
            );
            agree(op, outcome(&r), Outcome::Ok)?;
            m.nodes.get_mut(&id).expect("node").perm = perm & 0o7777;
        }
        Op::Chown { s, uid, gid } => {
            let Some(id) = pick(&m.all(), s) else {
                return Ok(Step::Go);
            };
            let r = fs.set_attr(
                m.node(id).ino,
                &SetAttr {
                    uid: Some(uid),
                    gid: Some(gid),
                    ..Default::default()
                },
            );
            agree(op, outcome(&r), Outcome::Ok)?;
            let node = m.nodes.get_mut(&id).expect("node");
            node.uid = uid;
            node.gid = gid;
        }
        Op::Utimes { s, atime, mtime } => {
            let Some(id) = pick(&m.all(), s) else {
                return Ok(Step::Go);
            };
            // UFS1 keeps 32-bit seconds.
            let (atime, mtime) = if ufs2 {
                (atime, mtime)
            } else {
                (
                    atime.clamp(i32::MIN.into(), i32::MAX.into()),
                    mtime.clamp(i32::MIN.into(), i32::MAX.into()),
                )
            };
            let a = SetAttr {
                atime: Some(Timespec {
                    sec: atime,
                    nsec: 0,
                }),
                mtime: Some(Timespec {
                    sec: mtime,
                    nsec: 1,
                }),
                ..Default::default()
            };
            let r = fs.set_attr(m.node(id).ino, &a);
            agree(op, outcome(&r), Outcome::Ok)?;
            let node = m.nodes.get_mut(&id).expect("node");
            if node.mtime.is_some() {
                node.mtime = Some(mtime);
            }
        }
        Op::SetXattr { s, x, len, seed } => {
            let Some(id) = pick(&m.all(), s) else {
                return Ok(Step::Go);
            };
            let (ns, xn) = xname(x);
            let value = bytes_from(seed, len);
            let mut after = m.node(id).xattrs.clone();
            after.insert((ns, xn.clone()), value.clone());
            let list: Vec<Xattr> = after
                .iter()
                .map(|((ns, n), v)| Xattr {
                    namespace: *ns,
                    name: n.clone(),
                    value: v.clone(),
                })
                .collect();
            let area = ufskit::xattr::encode(&list, fs.geometry().endian).expect("encodes");
            let want = if !ufs2 {
                Outcome::Unsupported
            } else if area.len() > 2 * bsize {
                Outcome::NoSpace
            } else {
                Outcome::Ok
            };
            let r = fs.set_xattr(m.node(id).ino, ns, &xn, &value);
            if want != Outcome::NoSpace && outcome(&r) == Outcome::NoSpace {
                return Ok(Step::Full);
            }
            agree(op, outcome(&r), want)?;
            if r.is_ok() {
                m.nodes.get_mut(&id).expect("node").xattrs = after;
            }
        }
        Op::RemoveXattr { s, x } => {
            let Some(id) = pick(&m.all(), s) else {
                return Ok(Step::Go);
            };
            let (ns, xn) = xname(x);
            let want = if m.node(id).xattrs.contains_key(&(ns, xn.clone())) {
                Outcome::Ok
            } else {
                Outcome::NotFound
            };
            let r = fs.remove_xattr(m.node(id).ino, ns, &xn);
            if outcome(&r) == Outcome::NoSpace {
                return Ok(Step::Full);
            }
            agree(op, outcome(&r), want)?;
            if r.is_ok() {
                m.nodes.get_mut(&id).expect("node").xattrs.remove(&(ns, xn));
            }
        }
    }
    Ok(Step::Go)
}

// ---- comparing --------------------------------------------------------------------

/// One line per object below `start` (and the object itself), as the reader
/// sees it.
fn observed(fs: &Ufs, start: Ino, outside_t: bool) -> BTreeMap<Vec<u8>, String> {
    let mut out = BTreeMap::new();
    let describe = |inode: &ufskit::Inode| -> String {
        let ft = inode.file_type();
        let content = match ft {
            // Outside /t, where a file may be huge and sparse,
            // where its blocks are stands for what is in them.
            FileType::Regular if outside_t && inode.size() > 1 << 20 => {
                format!(
                    "{:?}",
                    sha(format!("{:?}", fs.extents(inode).expect("extents")).as_bytes())
                )
            }
            FileType::Regular => format!("{:?}", sha(&fs.read_all(inode.ino).expect("read"))),
            FileType::Symlink => {
                String::from_utf8_lossy(&fs.readlink(inode.ino).expect("readlink")).into_owned()
            }
            _ => "-".into(),
        };
        let size = if ft == FileType::Directory {
            0
        } else {
            inode.size()
        };
        let mtime = if ft == FileType::Directory {
            0
        } else {
            inode.mtime().sec
        };
        let mut x: Vec<String> = fs
            .xattrs(inode)
            .expect("xattrs")
            .iter()
            .map(|x| {
                format!(
                    "{:?}.{}={:?}",
                    x.namespace,
                    String::from_utf8_lossy(&x.name),
                    sha(&x.value)
                )
            })
            .collect();
        x.sort();
        format!(
            "#{} {:?} {:o} {}:{} n{} s{} m{} {} [{}]",
            inode.ino,
            ft,
            inode.perm(),
            inode.uid(),
            inode.gid(),
            inode.nlink(),
            size,
            mtime,
            content,
            x.join(",")
        )
    };
    out.insert(Vec::new(), describe(&fs.inode(start).expect("inode")));
    fs.walk(start, &mut |path, _e, inode| {
        out.insert(path.to_vec(), describe(inode));
        Ok(())
    })
    .expect("walk");
    out
}

fn sha(d: &[u8]) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(d);
    h.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The model in the same form as [`observed`].
fn expected(m: &Model) -> BTreeMap<Vec<u8>, String> {
    let mut out = BTreeMap::new();
    let describe = |id: usize| -> String {
        let n = m.node(id);
        let (ft, size, content) = match &n.kind {
            Kind::File(d) => (FileType::Regular, d.len() as u64, format!("{:?}", sha(d))),
            Kind::Dir(_) => (FileType::Directory, 0, "-".into()),
            Kind::Symlink(t) => (
                FileType::Symlink,
                t.len() as u64,
                String::from_utf8_lossy(t).into_owned(),
            ),
        };
        let mut x: Vec<String> = n
            .xattrs
            .iter()
            .map(|((ns, name), v)| {
                format!("{:?}.{}={:?}", ns, String::from_utf8_lossy(name), sha(v))
            })
            .collect();
        x.sort();
        format!(
            "#{} {:?} {:o} {}:{} n{} s{} m{} {} [{}]",
            n.ino,
            ft,
            n.perm,
            n.uid,
            n.gid,
            m.nlink(id),
            size,
            n.mtime.unwrap_or(0),
            content,
            x.join(",")
        )
    };
    fn rec(
        m: &Model,
        dir: usize,
        path: Vec<u8>,
        out: &mut BTreeMap<Vec<u8>, String>,
        d: &dyn Fn(usize) -> String,
    ) {
        out.insert(path.clone(), d(dir));
        for (name, &c) in m.entries(dir) {
            let mut p = path.clone();
            if !p.is_empty() {
                p.push(b'/');
            }
            p.extend_from_slice(name);
            if m.is_dir(c) {
                rec(m, c, p, out, d);
            } else {
                out.insert(p, d(c));
            }
        }
    }
    rec(m, 0, Vec::new(), &mut out, &describe);
    out
}

/// Everything outside `/t`, to prove it is untouched.
fn outside(fs: &Ufs) -> Vec<String> {
    let all = observed(fs, Ino::ROOT, true);
    all.into_iter()
        .filter(|(p, _)| !p.is_empty() && p.as_slice() != b"t" && !p.starts_with(b"t/"))
        .map(|(p, d)| format!("{} {d}", String::from_utf8_lossy(&p)))
        .collect()
}

fn fsck_clean(img: &[u8]) -> Result<(), TestCaseError> {
    let mut rep = CollectingReporter::default();
    let opts = FsckOptions {
        name: "model".into(),
        force: true,
        ..Default::default()
    };
    let out = check(&img.to_vec(), &opts, &mut rep).expect("fsck runs");
    let texts: Vec<String> = rep.findings.iter().map(|f| f.0.message()).collect();
    prop_assert_eq!(out.verdict, Verdict::Clean, "fsck findings: {:#?}", texts);
    Ok(())
}

fn run_case(base: &[u8], ops: &[Op]) -> Result<(), TestCaseError> {
    let mut fs = Session::open(Box::new(base.to_vec()), &OpenOptions::read_write()).expect("opens");
    fs.set_fixed_time(Some(FIXED));
    let ufs2 = fs.geometry().version == UfsVersion::Ufs2;
    let before = outside(&fs);
    let t = fs
        .mkdir(
            Ino::ROOT,
            b"t",
            &NewNode {
                perm: 0o755,
                ..Default::default()
            },
        )
        .expect("mkdir /t");
    let mut m = Model {
        nodes: HashMap::new(),
        next: 0,
    };
    m.add(Kind::Dir(BTreeMap::new()), t, 0o755, 0, None);
    let mut full = false;
    for op in ops {
        if let Step::Full = apply(&mut fs, &mut m, op, ufs2)? {
            full = true;
            break;
        }
    }
    fs.sync().expect("sync");
    let dev = fs.into_device();
    let mut img = vec![0u8; dev.len() as usize];
    dev.read_at(0, &mut img).expect("read back");
    fsck_clean(&img)?;
    let fs = Ufs::open(Box::new(img), &OpenOptions::read_only()).expect("reopens");
    prop_assert!(fs.superblock().is_clean());
    if !full {
        let got = observed(&fs, t, false);
        let want = expected(&m);
        if got != want {
            let show = |x: &BTreeMap<Vec<u8>, String>| -> Vec<String> {
                x.iter()
                    .map(|(p, d)| format!("{} {d}", String::from_utf8_lossy(p)))
                    .collect()
            };
            prop_assert_eq!(show(&got), show(&want), "tree differs from the model");
        }
    }
    prop_assert_eq!(outside(&fs), before, "something outside /t changed");
    Ok(())
}

fn base(rel: &'static str) -> &'static [u8] {
    static CACHE: OnceLock<std::sync::Mutex<HashMap<&'static str, &'static [u8]>>> =
        OnceLock::new();
    let mut c = CACHE.get_or_init(Default::default).lock().expect("lock");
    c.entry(rel)
        .or_insert_with(|| Box::leak(load_zst(rel).into_boxed_slice()))
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ufs2_4k_blocks_match_the_model(ops in proptest::collection::vec(op_strategy(), 1..40)) {
        run_case(base("populated/pop-ufs2-16m-b4096.img.zst"), &ops)?;
    }

    #[test]
    fn ufs1_matches_the_model(ops in proptest::collection::vec(op_strategy(), 1..40)) {
        run_case(base("populated/pop-ufs1-8m.img.zst"), &ops)?;
    }

    #[test]
    fn big_endian_ufs2_matches_the_model(ops in proptest::collection::vec(op_strategy(), 1..40)) {
        run_case(base("real/ufs-big.img.zst"), &ops)?;
    }
}
