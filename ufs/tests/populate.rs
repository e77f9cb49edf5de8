//! The bulk tree builder (what `ufs makefs` uses) on fresh file systems.

use ufskit::fsck::{check, CollectingReporter, FsckOptions, Verdict};
use ufskit::inode::Timespec;
use ufskit::newfs::NewfsOptions;
use ufskit::populate::{Node, TreeBuilder};
use ufskit::{FileType, Follow, NewNode, OpenOptions, Session, Ufs, UfsVersion};

fn fresh(version: UfsVersion, size: u64, bsize: Option<u32>, fsize: Option<u32>) -> Vec<u8> {
    let opts = NewfsOptions {
        version,
        bsize,
        fsize,
        no_snap: true,
        time: Some(1_000_000_000),
        ..Default::default()
    };
    ufskit::newfs::in_memory(size, &opts).expect("newfs")
}

fn node(parent: usize, name: &str, kind: FileType, perm: u16) -> Node {
    Node {
        parent,
        name: name.as_bytes().to_vec(),
        kind,
        attr: NewNode {
            perm,
            uid: 7,
            gid: 8,
            mtime: Some(Timespec {
                sec: 1_588_334_400,
                nsec: 0,
            }),
            ..Default::default()
        },
        target: Vec::new(),
        link_to: None,
    }
}

#[test]
fn a_built_tree_reads_back_and_checks_clean() {
    for (version, bsize, fsize) in [
        (UfsVersion::Ufs2, None, None),
        (UfsVersion::Ufs1, None, None),
        (UfsVersion::Ufs2, Some(4096), Some(512)),
    ] {
        let img = fresh(version, 32 << 20, bsize, fsize);
        let mut fs = Session::open(Box::new(img), &OpenOptions::read_write()).expect("open");
        fs.set_fixed_time(Some(Timespec {
            sec: 1_600_000_000,
            nsec: 0,
        }));
        let mut nodes = vec![node(0, "", FileType::Directory, 0o755)];
        nodes.push(node(0, "etc", FileType::Directory, 0o755));
        let mut files = Vec::new();
        for i in 0..500 {
            nodes.push(node(1, &format!("file{i:03}"), FileType::Regular, 0o644));
            files.push((nodes.len() - 1, (i * 37 % 9000) as usize));
        }
        let mut l = node(1, "link", FileType::Symlink, 0o755);
        l.target = b"file001".to_vec();
        nodes.push(l);
        let mut h = node(0, "hard", FileType::Regular, 0o644);
        h.link_to = Some(files[3].0);
        nodes.push(h);
        nodes.push(node(0, "fifo", FileType::Fifo, 0o600));
        let mut b = TreeBuilder::new(&mut fs, nodes).expect("builder");
        for &(i, n) in &files {
            let data: Vec<u8> = (0..n).map(|k| (k % 251) as u8 ^ i as u8).collect();
            b.write(i, 0, &data).expect("write");
            b.close_file(i).expect("close");
        }
        b.finish().expect("finish");
        let dev = fs.into_device();
        let mut bytes = vec![0u8; dev.len() as usize];
        dev.read_at(0, &mut bytes).expect("read");
        let mut rep = CollectingReporter::default();
        let out = check(
            &bytes,
            &FsckOptions {
                force: true,
                ..Default::default()
            },
            &mut rep,
        )
        .expect("fsck");
        let texts: Vec<String> = rep.findings.iter().map(|f| f.0.message()).collect();
        assert_eq!(
            out.verdict,
            Verdict::Clean,
            "{version:?} {bsize:?}: {texts:#?}"
        );
        let fs = Ufs::open(Box::new(bytes), &OpenOptions::read_only()).expect("reopen");
        let f = fs.lookup("/etc/file123", Follow::All).expect("lookup");
        let data = fs.read_all(f).expect("read");
        assert_eq!(
            data.len(),
            123 * 37,
            "file123 holds (123 * 37) % 9000 bytes"
        );
        assert_eq!(
            fs.lookup("/hard", Follow::All).expect("hard"),
            fs.lookup("/etc/file003", Follow::All).expect("f3")
        );
        assert_eq!(
            fs.inode(fs.lookup("/hard", Follow::All).expect("h"))
                .expect("i")
                .nlink(),
            2
        );
        assert_eq!(
            fs.read_dir(fs.lookup("/etc", Follow::All).expect("etc"))
                .expect("dir")
                .len(),
            503
        );
    }
}

/// di_nlink is a signed 16-bit count: a file with more names than 32767
/// is refused with the reason, never written with a wrapped count.
#[test]
fn more_links_than_link_max_is_refused_not_wrapped() {
    let img = fresh(UfsVersion::Ufs2, 32 << 20, None, None);
    let mut fs = Session::open(Box::new(img), &OpenOptions::read_write()).expect("open");
    let mut nodes = vec![node(0, "", FileType::Directory, 0o755)];
    nodes.push(node(0, "target", FileType::Regular, 0o644));
    for i in 0..32767 {
        let mut l = node(0, &format!("l{i}"), FileType::Regular, 0o644);
        l.link_to = Some(1);
        nodes.push(l);
    }
    let Err(e) = TreeBuilder::new(&mut fs, nodes) else {
        panic!("32768 names must be refused");
    };
    assert!(e.to_string().contains("32768 links"), "{e}");
}
