//! `ufs fuse`: the image as a read-write Linux file system. Checked by
//! what others see afterwards: ufskit's fsck and FreeBSD's fsck_ffs must
//! find the image clean, and the tree copied in through the mount must
//! come back out exactly (manifests of the host source and of
//! `ufs extract`). A writer killed with SIGKILL at random moments must
//! leave an image that one `fsck -y` makes clean with every fsync'd file
//! intact. pjdfstest, FreeBSD's POSIX file-system suite, runs against the
//! mount when it is built (`UFS_PJDFSTEST`, see docs/fuse.md).
//!
//! Needs root, /dev/fuse and fusermount3 (Debian fuse3); skipped without
//! them unless UFS_REQUIRE_INTEROP=1.
#![cfg(target_os = "linux")]
#![allow(clippy::panic)] // a failing test panics

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn fuse_available() -> bool {
    if !is_root() {
        return ufskit_testkit::skip("ufs fuse tests mount file systems: run as root");
    }
    if !Path::new("/dev/fuse").exists() {
        return ufskit_testkit::skip("no /dev/fuse (modprobe fuse)");
    }
    require("fusermount3", "apt-get install fuse3")
}

/// A running `ufs fuse`; unmounted (and the process reaped) on drop.
struct Mount {
    child: Option<Child>,
    dir: PathBuf,
}

fn mounted(dir: &Path) -> bool {
    let want = dir.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mounts")
        .map(|m| {
            m.lines()
                .any(|l| l.split(' ').nth(1) == Some(want.as_str()))
        })
        .unwrap_or(false)
}

impl Mount {
    fn new(img: &Path, dir: &Path, opts: &[&str]) -> Mount {
        std::fs::create_dir_all(dir).expect("mount point");
        let mut c = Command::new(ufs_bin());
        c.arg("fuse");
        for o in opts {
            c.args(["-o", o]);
        }
        let child = c
            .arg(img)
            .arg(dir)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn ufs fuse");
        let mut m = Mount {
            child: Some(child),
            dir: dir.to_path_buf(),
        };
        let t = Instant::now();
        while !mounted(dir) {
            if let Some(st) = m.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("ufs fuse exited before mounting: {st}");
            }
            assert!(t.elapsed() < Duration::from_secs(20), "no mount after 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        m
    }

    /// Unmounts and waits for `ufs fuse` to finish writing the image.
    fn unmount(mut self) -> std::process::ExitStatus {
        let o = Command::new("umount")
            .arg(&self.dir)
            .output()
            .expect("umount");
        assert!(
            o.status.success(),
            "umount: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        self.child.take().expect("child").wait().expect("wait")
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn newfs(img: &Path, extra: &[&str]) {
    let mut args: Vec<std::ffi::OsString> = vec!["newfs".into(), "-s".into(), "64m".into()];
    args.extend(extra.iter().map(Into::into));
    args.push(img.into());
    ufs_ok(args);
}

fn fsck_n_clean(img: &Path) -> String {
    let o = ufs([
        "fsck".as_ref(),
        "-n".as_ref(),
        "-f".as_ref(),
        img.as_os_str(),
    ]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "ufs fsck -n -f:\n{text}");
    assert!(!text.contains('?'), "fsck asked something:\n{text}");
    text
}

fn freebsd_clean(img: &Path) {
    if let Some(Err(t)) = ufskit_testkit::freebsd::fsck_clean(img) {
        panic!("FreeBSD fsck_ffs finds {} not clean:\n{t}", img.display());
    }
}

/// The manifest without the lines for `.snap` (newfs makes it; the source
/// tree has none) and for the root itself (cp sets its times but the
/// mount point's own mode and owner remain newfs's).
fn without_snap_and_root(m: &str) -> String {
    m.lines()
        .filter(|l| {
            let p = l.split('\t').next().unwrap_or("");
            p != "." && p != ".snap" && !p.starts_with(".snap/")
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `cp -a` of the fixture tree (hard links, symlinks, device nodes, fifos,
/// owners, set-id bits, old and far-future times) into a mounted fresh
/// image; after the unmount the image is clean for both checkers and
/// `ufs extract` gives back exactly the source.
#[test]
fn a_tree_copied_in_comes_back_out_exactly() {
    if !fuse_available() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let tree = fixture_tree(tmp.path());
    let want = without_snap_and_root(&host_manifest(&tree, &tmp.path().join("want.manifest")));
    for (v, flags) in [("2", &[][..]), ("1", &["-O1"][..])] {
        let img = tmp.path().join(format!("u{v}.img"));
        newfs(&img, flags);
        let mnt = tmp.path().join(format!("mnt{v}"));
        let m = Mount::new(&img, &mnt, &[]);
        let o = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", tree.display()))
            .arg(&mnt)
            .output()
            .expect("cp");
        assert!(
            o.status.success(),
            "cp -a: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        // What the mount shows before unmounting...
        let seen = without_snap_and_root(&host_manifest(&mnt, &tmp.path().join("seen.manifest")));
        assert_same(&format!("UFS{v}: the mount vs the source"), &want, &seen);
        let st = m.unmount();
        assert!(st.success(), "ufs fuse exit {st}");
        // ...is what the image holds afterwards.
        fsck_n_clean(&img);
        freebsd_clean(&img);
        let ex = tmp.path().join(format!("ex{v}"));
        ufs_ok(["extract".as_ref(), img.as_os_str(), ex.as_os_str()]);
        let got = without_snap_and_root(&host_manifest(&ex, &tmp.path().join("got.manifest")));
        assert_same(
            &format!("UFS{v}: extracted after unmount vs the source"),
            &want,
            &got,
        );
        let fs = ufskit::Ufs::open_path(&img, ufskit::OpenOptions::read_only()).expect("open");
        assert!(
            fs.superblock().is_clean(),
            "UFS{v}: not marked clean after the unmount"
        );
    }
}

/// Two writers never share an image: a second `ufs fuse` and an editing
/// command are refused while it is mounted read-write; an unclean image
/// is refused outright.
#[test]
fn a_second_writer_is_refused() {
    if !fuse_available() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let img = tmp.path().join("a.img");
    newfs(&img, &[]);
    let m = Mount::new(&img, &tmp.path().join("m1"), &[]);
    std::fs::write(tmp.path().join("m1/x"), b"x").expect("write through the mount");
    let o = ufs([
        "fuse".as_ref(),
        img.as_os_str(),
        tmp.path().join("m2").as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("in use by another process"), "{err}");
    let o = ufs(["mkdir".as_ref(), img.as_os_str(), "/y".as_ref()]);
    assert_ne!(
        o.status.code(),
        Some(0),
        "an editing command wrote beside the mount"
    );
    assert!(m.unmount().success());
    fsck_n_clean(&img);

    // Marked unclean (as after a crash): refused until checked.
    ufs_ok([
        "debug".as_ref(),
        img.as_os_str(),
        "set sb fs_clean 0".as_ref(),
    ]);
    let o = ufs([
        "fuse".as_ref(),
        img.as_os_str(),
        tmp.path().join("m3").as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not clean"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `-o uid=N,gid=M` shows every node as owned by N:M (libfuse's meaning)
/// while the image keeps the owners it stores; a bad value is refused.
#[test]
fn uid_and_gid_options_show_every_node_with_those_ids() {
    use std::os::unix::fs::MetadataExt;
    if !fuse_available() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let img = tmp.path().join("o.img");
    newfs(&img, &[]);
    ufs_ok(["mkdir".as_ref(), img.as_os_str(), "/d".as_ref()]);
    ufs_ok([
        "chown".as_ref(),
        img.as_os_str(),
        "7:9".as_ref(),
        "/d".as_ref(),
    ]);
    let mnt = tmp.path().join("mnt");
    let m = Mount::new(&img, &mnt, &["uid=4321,gid=8765"]);
    std::fs::write(mnt.join("new"), b"x").expect("create");
    for p in ["", "d", "new"] {
        let md = std::fs::symlink_metadata(mnt.join(p)).expect("stat");
        assert_eq!((md.uid(), md.gid()), (4321, 8765), "/{p}");
    }
    assert!(m.unmount().success());
    let owner = |p: &str| {
        let out = ufs_ok(["stat".as_ref(), img.as_os_str(), p.as_ref()]);
        out.lines()
            .find(|l| l.starts_with("uid/gid:"))
            .map(|l| l["uid/gid:".len()..].trim().to_string())
            .expect("uid/gid line")
    };
    assert_eq!(owner("/d"), "7 / 9");
    assert_eq!(owner("/new"), "0 / 0", "the creator (root) is stored");
    fsck_n_clean(&img);
    let o = ufs([
        "fuse".as_ref(),
        "-o".as_ref(),
        "uid=me".as_ref(),
        img.as_os_str(),
        mnt.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("uid=me"));
}

/// The contents of file `i` in the test below: its name's line, repeated.
fn numbered(i: usize) -> Vec<u8> {
    format!("f{i}\n")
        .bytes()
        .cycle()
        .take(i * 997 % 40_000)
        .collect()
}

/// With reader threads (`-o readers=2`), programs listing and reading a
/// directory while another writes files in it and renames them into place
/// never see a change half done: every listing succeeds and every listed
/// file reads back exactly what was written before its rename. The
/// readers must have served requests (their threads woke), and the image
/// is clean afterwards. The writer also removes names and renames over
/// them, so inode numbers are freed and taken again while the readers
/// look names up and open them: a file opened is always the one its name
/// named (the kernel's lookups keep a number, see docs/fuse.md).
#[test]
fn readers_never_see_a_change_half_done() {
    if !fuse_available() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let img = tmp.path().join("r.img");
    newfs(&img, &[]);
    let mnt = tmp.path().join("mnt");
    let m = Mount::new(&img, &mnt, &["readers=2"]);
    let d = mnt.join("d");
    std::fs::create_dir(&d).expect("mkdir");
    let done = std::sync::atomic::AtomicBool::new(false);
    let checked = std::thread::scope(|sc| {
        let readers: Vec<_> = (0..3)
            .map(|_| {
                sc.spawn(|| {
                    let mut checked = 0;
                    while !done.load(std::sync::atomic::Ordering::SeqCst) {
                        let names: Vec<String> = std::fs::read_dir(&d)
                            .expect("a listing fails")
                            .map(|e| e.expect("entry").file_name().to_string_lossy().into())
                            .collect();
                        for n in names.iter().filter(|n| n.starts_with('f')) {
                            let i: usize = n[1..].parse().expect("index");
                            // A name removed since the listing is gone;
                            // once opened, a file is the one it named.
                            let b = match std::fs::read(d.join(n)) {
                                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                                r => r.expect("a read fails"),
                            };
                            assert!(b == numbered(i), "{n} read back differs");
                            checked += 1;
                        }
                    }
                    checked
                })
            })
            .collect();
        for i in 0..600 {
            let t = d.join(format!(".t{i}"));
            std::fs::write(&t, numbered(i)).expect("write");
            std::fs::rename(&t, d.join(format!("f{i}"))).expect("rename");
            // Names go too, and files are replaced by a rename over them
            // (with the same contents), so freed inode numbers are taken
            // again while readers may still hold the old ones.
            if i >= 5 {
                std::fs::remove_file(d.join(format!("f{}", i - 5))).expect("unlink");
            }
            if i % 3 == 0 && i >= 1 {
                let u = d.join(format!(".u{i}"));
                std::fs::write(&u, numbered(i - 1)).expect("write");
                std::fs::rename(&u, d.join(format!("f{}", i - 1))).expect("rename over");
            }
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        readers
            .into_iter()
            .map(|r| r.join().expect("reader"))
            .sum::<usize>()
    });
    assert!(checked > 0, "the readers read no file");
    // Each job a reader thread takes wakes it: more than the few wake-ups
    // of its start means it served requests.
    let woke: u64 = std::fs::read_dir(format!("/proc/{}/task", m.pid()))
        .expect("tasks")
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.starts_with("ufs-reader"))
        })
        .map(|t| {
            let st = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
            st.lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum();
    assert!(
        woke > 20,
        "the reader threads served nothing ({woke} wake-ups)"
    );
    assert!(m.unmount().success());
    fsck_n_clean(&img);
    freebsd_clean(&img);
}

/// An inode whose last name goes while the kernel still knows its number
/// keeps it until the kernel forgets it: a program between its lookup and
/// its open (here an `O_PATH` descriptor, which holds the kernel's inode
/// and sends no OPEN), or with an open file, reopens the file it named,
/// never a new file that took the number. The image has 128 inodes, so
/// every free one is taken and none of the held numbers may be among them.
/// Twice: killed with SIGKILL while they are held (one `ufs fsck -y` frees
/// the orphans and both checkers find the image clean), then closed so the
/// kernel forgets them (they are freed: a create succeeds again with one
/// of their numbers) and unmounted clean.
#[test]
fn a_removed_inode_the_kernel_still_knows_keeps_its_number() {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    if !fuse_available() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let img = tmp.path().join("k.img");
    ufs_ok([
        "newfs".as_ref(),
        "-s".as_ref(),
        "8m".as_ref(),
        "-i".as_ref(),
        "65536".as_ref(),
        img.as_os_str(),
    ]);
    for round in ["crash", "forget"] {
        let mnt = tmp.path().join(format!("mnt-{round}"));
        let m = Mount::new(&img, &mnt, &[]);
        for e in std::fs::read_dir(&mnt).expect("list").flatten() {
            if e.file_name() != ".snap" {
                std::fs::remove_file(e.path()).expect("remove what the last round left");
            }
        }
        for (k, n) in ["open", "path", "over", "new"].iter().enumerate() {
            std::fs::write(mnt.join(n), numbered(101 + k)).expect("write");
        }
        std::fs::create_dir(mnt.join("dir")).expect("mkdir");
        let by_number = |n: &str| -> std::fs::File {
            let flags = rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC;
            rustix::fs::open(mnt.join(n), flags, rustix::fs::Mode::empty())
                .map(std::fs::File::from)
                .expect("O_PATH open")
        };
        let open = std::fs::File::open(mnt.join("open")).expect("open");
        let (path, over, dir) = (by_number("path"), by_number("over"), by_number("dir"));
        let held: Vec<u64> = [&open, &path, &over, &dir]
            .iter()
            .map(|f| f.metadata().expect("fstat").ino())
            .collect();
        std::fs::remove_file(mnt.join("open")).expect("unlink");
        std::fs::remove_file(mnt.join("path")).expect("unlink");
        std::fs::rename(mnt.join("new"), mnt.join("over")).expect("rename over");
        std::fs::remove_dir(mnt.join("dir")).expect("rmdir");
        let mut made = Vec::new();
        loop {
            match std::fs::File::create(mnt.join(format!("fill{}", made.len()))) {
                Ok(f) => made.push(f.metadata().expect("fstat").ino()),
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOSPC.raw_os_error()) => {
                    break
                }
                Err(e) => panic!("{round}: create: {e}"),
            }
            assert!(made.len() < 1000, "{round}: the inodes never ran out");
        }
        assert!(made.len() > 100, "{round}: only {} files made", made.len());
        for h in &held {
            assert!(!made.contains(h), "{round}: held inode {h} was reused");
        }
        let proc_fd = |f: &std::fs::File| format!("/proc/self/fd/{}", f.as_raw_fd());
        let mut b = Vec::new();
        (&open).read_to_end(&mut b).expect("read the open file");
        assert!(b == numbered(101), "{round}: the open file changed");
        for (f, k) in [(&open, 101), (&path, 102), (&over, 103)] {
            let b = std::fs::read(proc_fd(f)).expect("reopen by /proc/self/fd");
            assert!(
                b == numbered(k),
                "{round}: reopened, file {k} is not itself"
            );
            assert_eq!(f.metadata().expect("fstat").nlink(), 0, "{round}: {k}");
        }
        if round == "crash" {
            let _ = Command::new("kill")
                .args(["-9", &m.pid().to_string()])
                .status();
            drop((open, path, over, dir));
            drop(m);
            // FreeBSD's fsck_ffs sees the same orphans left by the crash.
            let copy = tmp.path().join("crashed.img");
            std::fs::copy(&img, &copy).expect("copy");
            if let Some(r) = ufskit_testkit::freebsd::fsck_clean(&copy) {
                let text = r.expect_err("FreeBSD fsck_ffs calls the crashed image clean");
                for h in &held {
                    assert!(
                        text.contains(&format!("I={h} ")),
                        "FreeBSD: no {h}:\n{text}"
                    );
                }
            }
            let o = ufs(["fsck".as_ref(), "-y".as_ref(), img.as_os_str()]);
            let text = String::from_utf8_lossy(&o.stdout);
            eprintln!("fsck -y after the kill:\n{text}");
            assert!(
                matches!(o.status.code(), Some(0 | 1)),
                "fsck -y exit {:?}:\n{text}",
                o.status.code()
            );
            for h in &held {
                assert!(
                    text.contains(&format!("I={h} ")),
                    "inode {h} not repaired:\n{text}"
                );
            }
        } else {
            drop((open, path, over, dir));
            // FORGET (and RELEASE) come when the kernel drops its inodes.
            let t = Instant::now();
            let ino = loop {
                match std::fs::File::create(mnt.join("after")) {
                    Ok(f) => break f.metadata().expect("fstat").ino(),
                    Err(e) if t.elapsed() < Duration::from_secs(10) => {
                        let _ = e;
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    Err(e) => panic!("no inode freed 10 s after the last close: {e}"),
                }
            };
            assert!(held.contains(&ino), "{ino} is not one that was held");
            assert!(m.unmount().success());
        }
        fsck_n_clean(&img);
        freebsd_clean(&img);
    }
}

/// util-linux mount(8) with type `fuse.ufskit` runs the
/// `mount.fuse.ufskit` helper (made visible as /sbin's in a private mount
/// namespace), which returns once the image is mounted; a file written
/// there is in the image after `umount`, and the image is clean.
#[test]
fn mount_dash_t_fuse_ufskit_runs_the_helper() {
    if !fuse_available()
        || !require("unshare", "util-linux unshare")
        || !require("flock", "util-linux flock")
    {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let img = tmp.path().join("h.img");
    newfs(&img, &[]);
    let sbin = tmp.path().join("sbin");
    std::fs::create_dir(&sbin).expect("sbin");
    std::os::unix::fs::symlink(ufs_bin(), sbin.join("mount.fuse.ufskit")).expect("link");
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).expect("mnt");
    // flock waits for `ufs fuse` to let go of the image: it has written
    // everything out and exited.
    let script = format!(
        "mount --bind '{sbin}' /sbin && mount -t fuse.ufskit -o rw,noauto,nodev '{img}' '{mnt}' \
         && grep -q ' {mnt} fuse' /proc/self/mounts && echo hello > '{mnt}/x' \
         && umount '{mnt}' && flock '{img}' true",
        sbin = sbin.display(),
        img = img.display(),
        mnt = mnt.display()
    );
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .output()
        .expect("unshare");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    if text.contains("unshare failed") || text.contains("Operation not permitted") {
        ufskit_testkit::skip(&format!("no private mount namespace here: {text}"));
        return;
    }
    assert!(o.status.success(), "{text}");
    assert_eq!(
        ufs_ok(["cat".as_ref(), img.as_os_str(), "/x".as_ref()]),
        "hello\n"
    );
    fsck_n_clean(&img);
    freebsd_clean(&img);
}

/// `ufs fuse DISK@2` mounts partition 2 of a GPT disk image: what is
/// written through the mount lands in the partition, no byte outside it
/// changes, and FreeBSD's fsck_ffs finds the partition's bytes clean.
#[test]
fn a_partition_of_a_disk_image_mounts_alone() {
    if !fuse_available() || !require("sgdisk", "GPT disks; apt-get install gdisk") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let disk = tmp.path().join("disk.img");
    std::fs::File::create(&disk)
        .and_then(|f| f.set_len(96 << 20))
        .expect("disk");
    output_ok(
        Command::new("sgdisk")
            .args(["-n1:2048:+1M", "-t1:ef00", "-n2:4096:+64M", "-t2:a503"])
            .args(["-n3:0:+8M", "-t3:a502"])
            .arg(&disk),
        "sgdisk",
    );
    let (off, len) = (2usize << 20, 64usize << 20);
    let at = tmp.path().join("disk.img@2");
    ufs_ok(["newfs".as_ref(), at.as_os_str()]);
    let outside = |d: &[u8]| [&d[..off], &d[off + len..]].concat();
    let before = outside(&std::fs::read(&disk).expect("read"));
    let mnt = tmp.path().join("mnt");
    let m = Mount::new(&at, &mnt, &[]);
    std::fs::write(mnt.join("hello"), b"hello partition\n").expect("write");
    std::fs::create_dir(mnt.join("etc")).expect("mkdir");
    assert!(m.unmount().success());
    let after = std::fs::read(&disk).expect("read");
    assert!(
        outside(&after) == before,
        "bytes outside partition 2 changed"
    );
    let part = tmp.path().join("part.img");
    std::fs::write(&part, &after[off..off + len]).expect("write");
    fsck_n_clean(&part);
    freebsd_clean(&part);
    assert_eq!(
        ufs_ok(["cat".as_ref(), at.as_os_str(), "/hello".as_ref()]),
        "hello partition\n"
    );
}

/// A writer copying files in, each written and fsync'd, while `ufs fuse`
/// is killed with SIGKILL at a random moment; each time one `fsck -y`
/// makes the image clean (for FreeBSD's fsck_ffs too) and every file
/// whose fsync returned reads back byte for byte. `UFS_FUSE_CRASH_RUNS`
/// sets the number of runs (default 10).
#[test]
fn sigkill_at_random_moments_loses_no_fsynced_file() {
    if !fuse_available() {
        return;
    }
    let runs: u64 = std::env::var("UFS_FUSE_CRASH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let tmp = tempfile::tempdir().expect("tmp");
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut kept_total = 0;
    for run in 0..runs {
        let img = tmp.path().join(format!("c{run}.img"));
        newfs(&img, &[]);
        let mnt = tmp.path().join(format!("cm{run}"));
        let m = Mount::new(&img, &mnt, &[]);
        // The writer: files of varied sizes (fragments, indirect blocks)
        // with contents known from their name, each fsync'd by dd before
        // its name is reported on stdout.
        let script = format!(
            r#"set -e
cd {mnt}
mkdir -p d
i=0
while :; do
  i=$((i+1))
  yes "f$i" | head -c $(( (i * 7919) % 300000 )) | dd of=d/f$i bs=64k iflag=fullblock conv=fsync status=none
  echo f$i
done"#,
            mnt = mnt.display()
        );
        let w = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("writer");
        // Kill ufs fuse after 50-1500 ms.
        std::thread::sleep(Duration::from_millis(50 + next() % 1450));
        let pid = m.pid();
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        let out = w.wait_with_output().expect("writer output");
        drop(m);
        let synced: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        let o = ufs([
            "fsck".as_ref(),
            "-y".as_ref(),
            "-f".as_ref(),
            img.as_os_str(),
        ]);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "run {run}: fsck -y exit {:?}:\n{}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout)
        );
        fsck_n_clean(&img);
        freebsd_clean(&img);
        for name in &synced {
            let i: usize = name[1..].parse().expect("index");
            let line = format!("{name}\n");
            let want: Vec<u8> = line.bytes().cycle().take((i * 7919) % 300_000).collect();
            let o = ufs([
                "cat".as_ref(),
                img.as_os_str(),
                format!("/d/{name}").as_ref(),
            ]);
            assert!(
                o.status.success(),
                "run {run}: fsync'd /d/{name} is gone: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(
                o.stdout == want,
                "run {run}: /d/{name} differs after the repair"
            );
        }
        kept_total += synced.len();
    }
    eprintln!("{runs} runs, {kept_total} fsync'd files all intact");
}

/// The pjdfstest files known to fail on `ufs fuse`, each with the UFS
/// reason (docs/fuse.md has the list and the figures).
const PJDFSTEST_KNOWN: &[(&str, &str)] = &[(
    "symlink/03.t",
    "a symlink target of PATH_MAX-1 (4095) bytes: FreeBSD cannot create or follow targets \
     over MAXPATHLEN-1 (1023) bytes, so ufs fuse refuses them with ENAMETOOLONG",
)];

/// The test files `prove` reports as failed in `out` (relative to tests/).
fn prove_failures(out: &str) -> Vec<String> {
    let Some(report) = out.split("Test Summary Report").nth(1) else {
        return Vec::new();
    };
    report
        .lines()
        .filter_map(|l| {
            let (path, rest) = l.split_once(" (Wstat: ")?;
            let wstat: i64 = rest.split_whitespace().next()?.parse().ok()?;
            let failed: i64 = rest
                .split("Failed: ")
                .nth(1)?
                .trim_end_matches(')')
                .trim()
                .parse()
                .ok()?;
            let name = path.trim().rsplit("/tests/").next()?.to_string();
            (wstat != 0 || failed != 0).then_some(name)
        })
        .collect()
}

/// pjdfstest, the POSIX suite FreeBSD runs against UFS, against a fresh
/// UFS2 image mounted with `ufs fuse -o allow_other` (the suite switches
/// users). Every failing test file must be one UFS explains
/// (PJDFSTEST_KNOWN); afterwards the image is clean for both checkers and
/// the Linux kernel sees the tree the mount showed. `UFS_PJDFSTEST` names
/// the built suite (.ci/run builds it from ../shared/vendor); set
/// `UFS_PJDFSTEST_UFS1=1` to run it on UFS1 as well.
#[test]
fn pjdfstest_passes_but_for_what_ufs_explains() {
    if !fuse_available() {
        return;
    }
    let Some(suite) = std::env::var_os("UFS_PJDFSTEST").map(PathBuf::from) else {
        ufskit_testkit::skip("UFS_PJDFSTEST is not set (docs/fuse.md: how to build pjdfstest)");
        return;
    };
    assert!(
        suite.join("pjdfstest").is_file(),
        "UFS_PJDFSTEST={} holds no built pjdfstest",
        suite.display()
    );
    if !require("prove", "perl's TAP harness runs pjdfstest") {
        return;
    }
    let mut versions = vec![("2", &[][..])];
    if std::env::var("UFS_PJDFSTEST_UFS1").as_deref() == Ok("1") {
        versions.push(("1", &["-O1"][..]));
    }
    let tmp = tempfile::tempdir().expect("tmp");
    for (v, flags) in versions {
        let img = tmp.path().join(format!("pjd{v}.img"));
        let mut args: Vec<std::ffi::OsString> = vec!["newfs".into(), "-s".into(), "256m".into()];
        args.extend(flags.iter().map(Into::into));
        args.push(img.clone().into());
        ufs_ok(args);
        let mnt = tmp.path().join(format!("pm{v}"));
        let m = Mount::new(&img, &mnt, &["allow_other"]);
        let t = Instant::now();
        let o = Command::new("prove")
            .arg("-r")
            .arg(suite.join("tests"))
            .current_dir(&mnt)
            .output()
            .expect("prove");
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let summary: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("Files=") || l.starts_with("Result:"))
            .collect();
        let failed = prove_failures(&out);
        eprintln!(
            "pjdfstest on UFS{v} ({:.0} s): {} failed files: {failed:?}; {}",
            t.elapsed().as_secs_f64(),
            failed.len(),
            summary.join("; ")
        );
        assert!(
            out.contains("Files=238"),
            "prove did not run the whole suite:\n{out}"
        );
        let unexplained: Vec<&String> = failed
            .iter()
            .filter(|f| !PJDFSTEST_KNOWN.iter().any(|(k, _)| k == f))
            .collect();
        assert!(
            unexplained.is_empty(),
            "UFS{v}: pjdfstest files failing for no UFS reason: {unexplained:?}\n{out}"
        );
        let seen = host_manifest(&mnt, &tmp.path().join("seen.manifest"));
        assert!(m.unmount().success());
        fsck_n_clean(&img);
        freebsd_clean(&img);
        if ufskit_testkit::kernel::available() {
            let kernel = kernel_manifest(
                &img,
                if v == "2" { "ufs2" } else { "44bsd" },
                &tmp.path().join("kernel.manifest"),
            );
            assert_same(&format!("UFS{v}: the kernel vs the mount"), &seen, &kernel);
        }
    }
}

#[test]
fn prove_summary_is_parsed() {
    let out = "x\nTest Summary Report\n-------------------\n\
        /s/tests/chown/00.t          (Wstat: 0 Tests: 1280 Failed: 0)\n  TODO passed:   1054\n\
        /s/tests/symlink/03.t        (Wstat: 0 Tests: 6 Failed: 2)\n  Failed tests:  1-2\n\
        /s/tests/x/1.t (Wstat: 256 Tests: 3 Failed: 0)\nFiles=238, Tests=8798\n";
    assert_eq!(prove_failures(out), vec!["symlink/03.t", "x/1.t"]);
}
