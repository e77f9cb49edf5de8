//! An arbitrary small tree, built with `populate::TreeBuilder` into a fresh
//! file system: it must read back equal and check clean.
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;
use std::sync::OnceLock;
use ufskit::fsck::{check, CollectingReporter, FsckOptions, Verdict};
use ufskit::populate::{Node, TreeBuilder};
use ufskit::{Error, FileType, Follow, NewNode, OpenOptions, Session, Ufs, UfsVersion};

#[derive(Debug, Arbitrary)]
enum Kind {
    Dir,
    File { len: u16, seed: u8, hole: Option<u32> },
    Symlink(Vec<u8>),
    Fifo,
    Char(u8, u16),
    HardLink(u8),
}

#[derive(Debug, Arbitrary)]
struct Spec {
    parent: u8,
    name: Vec<u8>,
    kind: Kind,
    perm: u16,
    uid: u16,
}

#[derive(Debug, Arbitrary)]
struct Input {
    fs: u8,
    nodes: Vec<Spec>,
}

fn fresh(i: usize) -> &'static [u8] {
    static F: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    &F.get_or_init(|| {
        vec![
            ufskit_fuzz::fresh(UfsVersion::Ufs2, 4 << 20, None, None),
            ufskit_fuzz::fresh(UfsVersion::Ufs1, 4 << 20, None, None),
            ufskit_fuzz::fresh(UfsVersion::Ufs2, 2 << 20, Some(4096), Some(512)),
            ufskit_fuzz::fresh(UfsVersion::Ufs1, 2 << 20, Some(4096), Some(512)),
        ]
    })[i % 4]
}

fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|k| (k as u8).wrapping_mul(31) ^ seed).collect()
}

/// What each node should read back as.
enum Want {
    Dir,
    File(u64, Option<u64>, Vec<u8>),
    Symlink(Vec<u8>),
    Other(FileType),
    Link(usize),
}

fuzz_target!(|input: Input| {
    let mut nodes = vec![Node {
        parent: 0,
        name: Vec::new(),
        kind: FileType::Directory,
        attr: NewNode { perm: 0o755, ..Default::default() },
        target: Vec::new(),
        link_to: None,
    }];
    let mut wants = vec![Want::Dir];
    let mut dirs = vec![0usize];
    let mut names: HashSet<(usize, Vec<u8>)> = HashSet::new();
    let mut paths = vec![Vec::new()];
    for s in input.nodes.iter().take(48) {
        let parent = dirs[s.parent as usize % dirs.len()];
        let mut name: Vec<u8> = s.name.iter().copied().filter(|&c| c != 0 && c != b'/').take(255).collect();
        if name.is_empty() || name == b"." || name == b".." || !names.insert((parent, name.clone())) {
            continue;
        }
        let i = nodes.len();
        let mut node = Node {
            parent,
            name: std::mem::take(&mut name),
            kind: FileType::Regular,
            attr: NewNode { perm: s.perm & 0o7777, uid: u32::from(s.uid), gid: 5, ..Default::default() },
            target: Vec::new(),
            link_to: None,
        };
        let want = match &s.kind {
            Kind::Dir => {
                node.kind = FileType::Directory;
                dirs.push(i);
                Want::Dir
            }
            Kind::File { len, seed, hole } => {
                let hole = hole.map(|h| u64::from(h) % (8 << 20));
                Want::File(u64::from(*len), hole, content(*len as usize, *seed))
            }
            Kind::Symlink(t) => {
                let t: Vec<u8> = t.iter().copied().filter(|&c| c != 0).take(1023).collect();
                if t.is_empty() {
                    continue;
                }
                node.kind = FileType::Symlink;
                node.target = t.clone();
                Want::Symlink(t)
            }
            Kind::Fifo => {
                node.kind = FileType::Fifo;
                Want::Other(FileType::Fifo)
            }
            Kind::Char(ma, mi) => {
                node.kind = FileType::CharDevice;
                node.attr.rdev = Some((u32::from(*ma), u32::from(*mi)));
                Want::Other(FileType::CharDevice)
            }
            Kind::HardLink(t) => {
                let cands: Vec<usize> = (1..nodes.len())
                    .filter(|&k| nodes[k].kind != FileType::Directory && nodes[k].link_to.is_none())
                    .collect();
                if cands.is_empty() {
                    continue;
                }
                let t = cands[*t as usize % cands.len()];
                node.kind = nodes[t].kind;
                node.link_to = Some(t);
                Want::Link(t)
            }
        };
        let mut p = paths[parent].clone();
        p.push(b'/');
        p.extend_from_slice(&node.name);
        paths.push(p);
        nodes.push(node);
        wants.push(want);
    }

    let mut fs = Session::open(Box::new(fresh(input.fs as usize).to_vec()), &OpenOptions::read_write()).expect("open");
    fs.set_fixed_time(Some(ufskit_fuzz::T));
    let r = (|| -> ufskit::Result<()> {
        let mut b = TreeBuilder::new(&mut fs, nodes)?;
        for (i, w) in wants.iter().enumerate() {
            if let Want::File(_, hole, data) = w {
                let off = hole.unwrap_or(0);
                b.write(i, off, data)?;
                b.close_file(i)?;
            }
        }
        b.finish()
    })();
    match r {
        Ok(()) => {}
        Err(Error::NoSpace(_)) => return,
        Err(e) => panic!("build failed: {e}"),
    }
    let dev = fs.into_device();
    let mut img = vec![0u8; dev.len() as usize];
    dev.read_at(0, &mut img).expect("read image");

    let mut rep = CollectingReporter::default();
    let out = check(&ufskit::io::SliceDevice(&img), &FsckOptions { force: true, ..Default::default() }, &mut rep)
        .expect("fsck");
    assert_eq!(out.verdict, Verdict::Clean, "fsck:\n{}", rep.text);

    let fs = Ufs::open(Box::new(img), &OpenOptions::read_only()).expect("reopen");
    let mut inos = Vec::new();
    for (i, w) in wants.iter().enumerate() {
        let p = &paths[i];
        let ino = fs.lookup_bytes(if p.is_empty() { b"/" } else { p }, Follow::NotLast).expect("lookup");
        inos.push(ino);
        let inode = fs.inode(ino).expect("inode");
        match w {
            Want::Dir => assert!(inode.is_dir()),
            Want::File(len, hole, data) => {
                assert_eq!(inode.file_type(), FileType::Regular);
                let off = hole.unwrap_or(0);
                let size = off + len;
                let got = fs.read_all(ino).expect("read");
                if *len > 0 {
                    assert_eq!(got.len() as u64, size, "{}", String::from_utf8_lossy(p));
                    assert!(got[..off as usize].iter().all(|&c| c == 0));
                    assert_eq!(&got[off as usize..], &data[..]);
                }
            }
            Want::Symlink(t) => assert_eq!(&fs.readlink(ino).expect("readlink"), t),
            Want::Other(k) => assert_eq!(inode.file_type(), *k),
            Want::Link(t) => assert_eq!(ino, inos[*t]),
        }
    }
    ufskit_fuzz::walk_all(&fs);
});
