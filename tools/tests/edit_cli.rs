//! The editing commands (`put`, `mkdir`, `rm`, `mv`, `ln`, `chmod`, `chown`,
//! `touch`, `setfattr`, `getfattr`) against copies of small images: after
//! each, `ufs fsck -n -f` exits 0 with no findings, and `ls`, `cat`, `stat`,
//! `getfattr` and `extract` show the expected result.
#![allow(clippy::panic)] // a failing test panics

use std::ffi::OsStr;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

const UFS2: &str = "populated/pop-ufs2-8m.img.zst";
const UFS1: &str = "populated/pop-ufs1-8m.img.zst";
const BIG_ENDIAN: &str = "real/ufs-big.img.zst";

fn images_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/images")
}

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop")
}

/// A decompressed copy of a test image in its own temporary directory.
struct Img {
    dir: TempDir,
    path: PathBuf,
}

fn unpack(rel: &str) -> Img {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = images_dir().join(rel);
    let f = std::fs::File::open(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let mut dec =
        ruzstd::decoding::StreamingDecoder::new(std::io::BufReader::new(f)).expect("zstd");
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut dec, &mut out).expect("decompress");
    let path = dir.path().join("image.img");
    std::fs::write(&path, out).expect("write image");
    Img { dir, path }
}

fn ufs<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_ufs"))
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .expect("run ufs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `ufs ARGS` and expects success; returns stdout.
fn ok(args: &[&dyn AsRef<OsStr>]) -> String {
    let o = ufs(args.iter().map(|a| a.as_ref()));
    assert!(
        o.status.success(),
        "ufs {:?} failed ({:?}): {}",
        args.iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect::<Vec<_>>(),
        o.status.code(),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// Runs `ufs ARGS` and expects exit status `code`; returns stderr, which
/// must be one line per failure.
fn fails(code: i32, args: &[&dyn AsRef<OsStr>]) -> String {
    let o = ufs(args.iter().map(|a| a.as_ref()));
    let shown: Vec<_> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        o.status.code(),
        Some(code),
        "ufs {shown:?}: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let err = text(&o.stderr);
    assert!(!err.contains("panicked"), "ufs {shown:?} panicked: {err}");
    err
}

/// `ufs fsck -n -f` exits 0 and reports nothing but its phases and summary.
fn fsck_clean(img: &Path) {
    let o = ufs([
        OsStr::new("fsck"),
        OsStr::new("-n"),
        OsStr::new("-f"),
        img.as_os_str(),
    ]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "fsck: {out}{}", text(&o.stderr));
    for line in out.lines() {
        assert!(
            line.starts_with("** ") || line.contains(" files, "),
            "fsck finding: {line}\n{out}"
        );
    }
}

fn stat_json(img: &Path, path: &str) -> serde_json::Value {
    serde_json::from_str(&ok(&[&"stat", &"--json", &img, &path])).expect("stat json")
}

fn cat(img: &Path, path: &str) -> Vec<u8> {
    let o = ufs([OsStr::new("cat"), img.as_os_str(), OsStr::new(path)]);
    assert!(o.status.success(), "cat {path}: {}", text(&o.stderr));
    o.stdout
}

fn ls(img: &Path, path: &str) -> Vec<String> {
    ok(&[&"ls", &img, &path])
        .lines()
        .map(str::to_string)
        .collect()
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| {
            (i as u8)
                .wrapping_mul(31)
                .wrapping_add(seed)
                .wrapping_add((i >> 9) as u8)
        })
        .collect()
}

/// A host tree with most things `put` must keep.
fn host_tree(root: &Path) {
    let t = root;
    std::fs::create_dir_all(t.join("sub/deeper")).expect("mkdir");
    std::fs::write(t.join("empty"), b"").expect("w");
    std::fs::write(t.join("one"), b"1").expect("w");
    std::fs::write(t.join("frag5000"), pattern(5000, 1)).expect("w");
    std::fs::write(t.join("sub/direct100k"), pattern(100_000, 2)).expect("w");
    std::fs::write(t.join("sub/deeper/indirect400k"), pattern(400_000, 3)).expect("w");
    std::fs::write(t.join("zeros70k"), vec![0u8; 70_000]).expect("w");
    // Sparse: data at 1 MiB, hole before and after.
    let f = std::fs::File::create(t.join("sparse")).expect("create");
    f.set_len(3 << 20).expect("set_len");
    std::os::unix::fs::FileExt::write_all_at(&f, b"MIDDLE", 1 << 20).expect("w");
    drop(f);
    std::fs::hard_link(t.join("frag5000"), t.join("sub/hardlink")).expect("link");
    symlink("frag5000", t.join("short-link")).expect("symlink");
    symlink("x".repeat(300), t.join("long-link")).expect("symlink");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        t.join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o640),
        0,
    )
    .expect("mkfifo");
    std::fs::set_permissions(t.join("one"), std::fs::Permissions::from_mode(0o4755))
        .expect("chmod");
    std::fs::set_permissions(t.join("sub"), std::fs::Permissions::from_mode(0o750)).expect("chmod");
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::lchown(t.join("sub/direct100k"), Some(1001), Some(1002)).expect("chown");
    }
    // Times last, deepest first, so the directories keep theirs.
    let set = |p: &str, secs: i64| {
        let ts = rustix::fs::Timestamps {
            last_access: rustix::fs::Timespec {
                tv_sec: secs,
                tv_nsec: 0,
            },
            last_modification: rustix::fs::Timespec {
                tv_sec: secs,
                tv_nsec: 0,
            },
        };
        rustix::fs::utimensat(
            rustix::fs::CWD,
            t.join(p),
            &ts,
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .expect("utimensat");
    };
    for (p, s) in [
        ("empty", 1_000_000_000),
        ("one", 1_100_000_000),
        ("short-link", 1_200_000_000),
        ("sub/deeper", 1_300_000_000),
        ("sub", 1_400_000_000),
        (".", 1_500_000_000),
    ] {
        set(p, s);
    }
}

fn manifest(dir: &Path, out: &Path) -> String {
    let st = Command::new(interop_dir().join("host-manifest.sh"))
        .arg(dir)
        .arg(out)
        .status()
        .expect("manifest");
    assert!(st.success(), "host-manifest.sh {}", dir.display());
    std::fs::read_to_string(out).expect("manifest text")
}

#[test]
fn put_copies_a_tree_exactly() {
    let host = tempfile::tempdir().expect("tempdir");
    let src = host.path().join("tree");
    host_tree(&src);
    let want = manifest(&src, &host.path().join("want.manifest"));
    for base in [UFS2, UFS1, BIG_ENDIAN] {
        let img = unpack(base);
        ok(&[&"put", &"-r", &img.path, &src, &"/"]);
        fsck_clean(&img.path);
        // What `ufs extract` gives back is the host tree, every column.
        let ex = img.dir.path().join("extracted");
        ok(&[&"extract", &img.path, &ex, &"/tree"]);
        let got = manifest(&ex, &img.dir.path().join("got.manifest"));
        assert_eq!(got, want, "{base}: the tree read back differs");
        // Holes stay holes: the sparse file has its data block and the last
        // one (plus indirect blocks), not 3 MiB.
        let sp = stat_json(&img.path, "/tree/sparse");
        assert!(
            sp["blocks"].as_u64().expect("blocks") * 512 < 300_000,
            "{base}: {sp}"
        );
        let z = stat_json(&img.path, "/tree/zeros70k");
        assert!(
            z["blocks"].as_u64().expect("blocks") * 512 < 70_000,
            "{base}: {z}"
        );
        let a = stat_json(&img.path, "/tree/frag5000");
        let b = stat_json(&img.path, "/tree/sub/hardlink");
        assert_eq!(a["ino"], b["ino"], "{base}: hard link kept");
        assert_eq!(a["nlink"], 2);
        assert_eq!(
            cat(&img.path, "/tree/sub/deeper/indirect400k"),
            pattern(400_000, 3)
        );
        // The image is marked clean again.
        assert!(
            ok(&[&"info", &img.path]).contains("state:              clean"),
            "{base}"
        );
    }
}

#[test]
fn put_files_names_replacement_and_errors() {
    let img = unpack(UFS2);
    let host = tempfile::tempdir().expect("tempdir");
    let a = host.path().join("a.txt");
    let b = host.path().join("b.bin");
    std::fs::write(&a, b"first version\n").expect("w");
    std::fs::write(&b, pattern(40_000, 9)).expect("w");
    // Into an existing directory, keeping the name.
    ok(&[&"put", &img.path, &a, &b, &"/docs"]);
    assert_eq!(cat(&img.path, "/docs/a.txt"), b"first version\n");
    assert_eq!(cat(&img.path, "/docs/b.bin"), pattern(40_000, 9));
    // To a new name.
    ok(&[&"put", &img.path, &a, &"/docs/renamed"]);
    assert_eq!(cat(&img.path, "/docs/renamed"), b"first version\n");
    // Replacing a file.
    std::fs::write(&a, b"second\n").expect("w");
    ok(&[&"put", &img.path, &a, &"/docs/renamed"]);
    assert_eq!(cat(&img.path, "/docs/renamed"), b"second\n");
    fsck_clean(&img.path);
    // A directory needs -r; several sources need a directory; the parent
    // must exist; a directory is not replaced by a file.
    let e = fails(1, &[&"put", &img.path, &host.path(), &"/x"]);
    assert!(
        e.contains("use -r") && e.contains("ufs: ") && e.lines().count() == 1,
        "{e}"
    );
    let e = fails(1, &[&"put", &img.path, &a, &b, &"/nonexistent"]);
    assert!(
        e.contains("/nonexistent") && e.contains("existing directory"),
        "{e}"
    );
    let e = fails(1, &[&"put", &img.path, &a, &"/no/such/dir/x"]);
    assert!(
        e.contains("/no/such/dir/x: no such file or directory"),
        "{e}"
    );
    let sub = host.path().join("sub");
    std::fs::write(&sub, b"file named like a directory").expect("w");
    let e = fails(1, &[&"put", &img.path, &sub, &"/docs"]);
    assert!(e.contains("/docs/sub: is a directory"), "{e}");
    let e = fails(1, &[&"put", &img.path, &host.path().join("missing"), &"/"]);
    assert!(e.contains("missing") && e.contains("No such file"), "{e}");
    let e = fails(2, &[&"put", &img.path, &a]);
    assert!(!e.is_empty());
    fsck_clean(&img.path);
}

#[test]
fn mkdir_rm_mv_ln() {
    for base in [UFS2, UFS1, BIG_ENDIAN] {
        let img = unpack(base);
        let p = &img.path;
        ok(&[&"mkdir", p, &"/new"]);
        ok(&[
            &"mkdir",
            &"-p",
            &"-m",
            &"700",
            p,
            &"/new/a/b/c",
            &"/new/a/x",
        ]);
        ok(&[&"mkdir", &"-p", p, &"/new/a"]);
        let e = fails(1, &[&"mkdir", p, &"/new", &"/new2"]);
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.contains("/new: file exists"), "{e}");
        assert!(
            ls(p, "/").contains(&"new2".to_string()),
            "later operands still done"
        );
        let c = stat_json(p, "/new/a/b/c");
        assert_eq!(c["mode"].as_u64().expect("mode") & 0o7777, 0o700);
        assert_eq!(
            stat_json(p, "/new/a/b")["mode"].as_u64().expect("mode") & 0o7777,
            0o755
        );
        assert_eq!(stat_json(p, "/new/a")["nlink"], 4);
        fsck_clean(p);

        ok(&[&"touch", p, &"/new/a/f"]);
        ok(&[&"ln", p, &"/new/a/f", &"/new/hard"]);
        ok(&[&"ln", &"-s", p, &"a/f", &"/new/soft"]);
        ok(&[&"ln", &"-s", p, &"../y", &"/new/a"]);
        assert_eq!(ok(&[&"readlink", p, &"/new/soft"]).trim(), "a/f");
        assert_eq!(ok(&[&"readlink", p, &"/new/a/y"]).trim(), "../y");
        assert_eq!(stat_json(p, "/new/hard")["nlink"], 2);
        let e = fails(1, &[&"ln", p, &"/new/a", &"/new/dirlink"]);
        assert!(e.contains("is a directory"), "{e}");
        let e = fails(1, &[&"ln", &"-s", p, &"y", &"/new/soft"]);
        assert!(e.contains("/new/soft: file exists"), "{e}");
        ok(&[&"ln", &"-s", &"-f", p, &"y", &"/new/soft"]);
        assert_eq!(ok(&[&"readlink", p, &"/new/soft"]).trim(), "y");
        fsck_clean(p);

        // mv: rename, into a directory, replacing a file, directories.
        ok(&[&"mv", p, &"/new/hard", &"/new/hard2"]);
        ok(&[&"mv", p, &"/new/hard2", &"/new/a/b"]);
        assert!(ls(p, "/new/a/b").contains(&"hard2".to_string()));
        ok(&[&"touch", p, &"/new/victim"]);
        ok(&[&"mv", p, &"/new/a/b/hard2", &"/new/victim"]);
        assert_eq!(
            stat_json(p, "/new/victim")["ino"],
            stat_json(p, "/new/a/f")["ino"]
        );
        ok(&[&"mv", p, &"/new/a/b", &"/new2"]);
        assert_eq!(
            stat_json(p, "/new2/b/..")["ino"],
            stat_json(p, "/new2")["ino"]
        );
        assert_eq!(stat_json(p, "/new2")["nlink"], 3);
        let e = fails(1, &[&"mv", p, &"/new", &"/new/a/deeper"]);
        assert!(e.contains("into itself"), "{e}");
        let e = fails(1, &[&"mv", p, &"/nothing", &"/x"]);
        assert!(e.contains("/nothing: no such file or directory"), "{e}");
        fsck_clean(p);

        // rm: files, -r, -f, directories need -r, the root is refused.
        let e = fails(1, &[&"rm", p, &"/new"]);
        assert!(e.contains("/new: is a directory"), "{e}");
        ok(&[&"rm", p, &"/new/soft", &"/new/victim"]);
        assert_eq!(stat_json(p, "/new/a/f")["nlink"], 1);
        ok(&[&"rm", &"-f", p, &"/missing", &"/no/such/path"]);
        let e = fails(1, &[&"rm", p, &"/missing"]);
        assert!(e.contains("/missing: no such file or directory"), "{e}");
        let e = fails(1, &[&"rm", &"-r", p, &"/"]);
        assert!(e.contains("root"), "{e}");
        // A tree the image came with, too.
        let victim = if ls(p, "/").iter().any(|n| n == "docs") {
            "docs"
        } else {
            "dir1"
        };
        ok(&[&"rm", &"-r", p, &"/new", &"/new2", &format!("/{victim}")]);
        let root = ls(p, "/");
        assert!(
            !root
                .iter()
                .any(|n| n == "new" || n == "new2" || n == victim),
            "{root:?}"
        );
        fsck_clean(p);
    }
}

#[test]
fn chmod_chown_touch() {
    for base in [UFS2, UFS1, BIG_ENDIAN] {
        let img = unpack(base);
        let p = &img.path;
        ok(&[&"touch", p, &"/f"]);
        ok(&[&"mkdir", &"-p", p, &"/emptydir"]);
        let f = stat_json(p, "/f");
        assert_eq!(f["mode"].as_u64().expect("mode"), 0o100644);
        assert_eq!(f["size"], 0);
        ok(&[&"chmod", p, &"4750", &"/f"]);
        assert_eq!(stat_json(p, "/f")["mode"].as_u64().expect("mode"), 0o104750);
        ok(&[&"chmod", p, &"u-s,g+w,o=u", &"/f"]);
        assert_eq!(stat_json(p, "/f")["mode"].as_u64().expect("mode"), 0o100777);
        ok(&[&"chmod", p, &"a=rX", &"/f", &"/emptydir"]);
        assert_eq!(
            stat_json(p, "/f")["mode"].as_u64().expect("mode") & 0o7777,
            0o555
        );
        assert_eq!(
            stat_json(p, "/emptydir")["mode"].as_u64().expect("mode") & 0o7777,
            0o555
        );
        let e = fails(2, &[&"chmod", p, &"u+q", &"/f"]);
        assert!(e.contains("invalid mode"), "{e}");

        ok(&[&"chown", p, &"1234:5678", &"/f"]);
        let f = stat_json(p, "/f");
        assert_eq!(
            (f["uid"].as_u64(), f["gid"].as_u64()),
            (Some(1234), Some(5678))
        );
        ok(&[&"chown", p, &":42", &"/f"]);
        ok(&[&"chown", p, &"root", &"/f"]);
        let f = stat_json(p, "/f");
        assert_eq!((f["uid"].as_u64(), f["gid"].as_u64()), (Some(0), Some(42)));
        let e = fails(2, &[&"chown", p, &"nosuchuser", &"/f"]);
        assert!(e.contains("nosuchuser"), "{e}");
        // Names come from the image's own /etc/passwd and /etc/group.
        let host = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            host.path().join("passwd"),
            "root:*:0:0::/root:/bin/sh\nwww:*:80:80::/:/sbin/nologin\n",
        )
        .expect("w");
        std::fs::write(
            host.path().join("group"),
            "wheel:*:0:root\nwww:*:80:\nstaff:*:20:\n",
        )
        .expect("w");
        ok(&[&"mkdir", p, &"/etc"]);
        ok(&[
            &"put",
            p,
            &host.path().join("passwd"),
            &host.path().join("group"),
            &"/etc",
        ]);
        ok(&[&"chown", p, &"www:staff", &"/f"]);
        let f = stat_json(p, "/f");
        assert_eq!((f["uid"].as_u64(), f["gid"].as_u64()), (Some(80), Some(20)));

        // touch: explicit times in three spellings, -a / -m, -c.
        ok(&[&"touch", &"-d", &"2001-09-09T01:46:40Z", p, &"/f", &"/t1"]);
        for path in ["/f", "/t1"] {
            let s = stat_json(p, path);
            assert_eq!(s["mtime"]["sec"], 1_000_000_000, "{path}");
            assert_eq!(s["atime"]["sec"], 1_000_000_000, "{path}");
        }
        ok(&[&"touch", &"-m", &"-t", &"197001010001.30", p, &"/f"]);
        let s = stat_json(p, "/f");
        assert_eq!(
            (s["mtime"]["sec"].as_i64(), s["atime"]["sec"].as_i64()),
            (Some(90), Some(1_000_000_000))
        );
        ok(&[&"touch", &"-a", &"--epoch", &"-86400", p, &"/f"]);
        assert_eq!(stat_json(p, "/f")["atime"]["sec"], -86400);
        ok(&[&"touch", &"-c", p, &"/not-created"]);
        assert!(!ls(p, "/").contains(&"not-created".to_string()));
        let e = fails(2, &[&"touch", &"-d", &"yesterday", p, &"/f"]);
        assert!(e.contains("invalid time"), "{e}");
        fsck_clean(p);
    }
}

#[test]
fn extended_attributes() {
    for base in [UFS2, BIG_ENDIAN] {
        let img = unpack(base);
        let p = &img.path;
        ok(&[&"mkdir", p, &"/xd"]);
        ok(&[&"touch", p, &"/xf"]);
        ok(&[
            &"setfattr",
            &"-n",
            &"user.colour",
            &"-v",
            &"blue",
            p,
            &"/xf",
        ]);
        ok(&[
            &"setfattr",
            &"-n",
            &"system.bin",
            &"-v",
            &"0x00ff10",
            p,
            &"/xf",
        ]);
        ok(&[
            &"setfattr",
            &"-n",
            &"user.b64",
            &"-v",
            &"0saGVsbG8=",
            p,
            &"/xf",
        ]);
        ok(&[&"setfattr", &"-n", &"user.flag", p, &"/xd"]);
        let d = ok(&[&"getfattr", &"-d", p, &"/xf"]);
        assert_eq!(
            d, "# file: /xf\nuser.b64=\"hello\"\nuser.colour=\"blue\"\nsystem.bin=0x00ff10\n\n",
            "{base}"
        );
        assert_eq!(ok(&[&"getfattr", p, &"/xd"]), "# file: /xd\nuser.flag\n\n");
        assert_eq!(
            ok(&[
                &"getfattr",
                &"-n",
                &"user.colour",
                &"--only-values",
                p,
                &"/xf"
            ]),
            "blue"
        );
        ok(&[&"setfattr", &"-x", &"user.colour", p, &"/xf"]);
        let e = fails(1, &[&"setfattr", &"-x", &"user.colour", p, &"/xf"]);
        assert!(e.contains("user.colour: no such attribute"), "{e}");
        let e = fails(1, &[&"getfattr", &"-n", &"user.colour", p, &"/xf"]);
        assert!(e.contains("no such attribute"), "{e}");
        assert!(!ok(&[&"getfattr", p, &"/xf"]).contains("colour"));
        // A value bigger than a block goes in the second extent block.
        ok(&[
            &"setfattr",
            &"-n",
            &"user.big",
            &"-v",
            &"x".repeat(5000),
            p,
            &"/xf",
        ]);
        assert_eq!(
            ok(&[&"getfattr", &"-n", &"user.big", &"--only-values", p, &"/xf"]),
            "x".repeat(5000)
        );
        let e = fails(
            2,
            &[&"setfattr", &"-n", &"trusted.x", &"-v", &"1", p, &"/xd"],
        );
        assert!(e.contains("user.NAME or system.NAME"), "{e}");
        let e = fails(1, &[&"setfattr", &"-n", &"user.x", p, &"/nothing"]);
        assert!(e.contains("/nothing: no such file or directory"), "{e}");
        fsck_clean(p);
    }
    // UFS1 has no extended attributes.
    let img = unpack(UFS1);
    let e = fails(
        1,
        &[
            &"setfattr",
            &"-n",
            &"user.x",
            &"-v",
            &"1",
            &img.path,
            &"/docs",
        ],
    );
    assert!(e.contains("UFS2") && e.lines().count() == 1, "{e}");
    assert_eq!(ok(&[&"getfattr", &"-d", &img.path, &"/docs"]), "");
    fsck_clean(&img.path);
}

#[test]
fn unclean_images_are_refused_unless_forced() {
    let img = unpack(UFS2);
    let p = &img.path;
    ok(&[&"debug", p, &"set sb fs_clean 0"]);
    let before = std::fs::read(p).expect("read");
    let img_s = p.to_str().expect("utf-8 temp path");
    for argv in [
        ["mkdir", img_s, "/x"].as_slice(),
        &["touch", img_s, "/x"],
        &["rm", img_s, "/xf"],
        &["chmod", img_s, "600", "/xf"],
        &["setfattr", "-n", "user.a", img_s, "/xf"],
        &["put", img_s, "/etc/hostname", "/"],
    ] {
        let o = ufs(argv);
        assert_eq!(o.status.code(), Some(1), "{argv:?}");
        let e = text(&o.stderr);
        assert!(
            e.contains("not clean") && e.contains("ufs fsck -y") && e.contains("--force"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
    }
    assert!(
        std::fs::read(p).expect("read") == before,
        "a refused edit changed nothing"
    );
    // getfattr only reads.
    ok(&[&"getfattr", p, &"/docs"]);
    ok(&[&"mkdir", &"--force", p, &"/x"]);
    assert!(ls(p, "/").contains(&"x".to_string()));
    // The tree was not checked, so the image still says so...
    assert!(ok(&[&"info", p]).contains("NOT clean"));
    // ...but the edit itself is consistent.
    fsck_clean(p);
    // A clean image is edited and stays clean.
    let img = unpack(UFS1);
    ok(&[&"mkdir", &img.path, &"/x"]);
    assert!(ok(&[&"info", &img.path]).contains("state:              clean"));
}

#[test]
fn reproducible_edits_are_byte_identical() {
    let host = tempfile::tempdir().expect("tempdir");
    std::fs::write(host.path().join("f"), pattern(12_345, 4)).expect("w");
    let mut images = Vec::new();
    for _ in 0..2 {
        let img = unpack(UFS2);
        for args in [
            vec![
                OsStr::new("mkdir"),
                OsStr::new("--reproducible"),
                img.path.as_os_str(),
                OsStr::new("/r"),
            ],
            vec![
                OsStr::new("put"),
                OsStr::new("--reproducible"),
                img.path.as_os_str(),
                host.path().join("f").as_os_str(),
                OsStr::new("/r/f"),
            ],
            vec![
                OsStr::new("touch"),
                OsStr::new("--reproducible"),
                img.path.as_os_str(),
                OsStr::new("/r/g"),
            ],
        ] {
            let o = ufs(&args);
            assert!(o.status.success(), "{}", text(&o.stderr));
        }
        // SOURCE_DATE_EPOCH alone works too.
        let o = Command::new(env!("CARGO_BIN_EXE_ufs"))
            .args([
                OsStr::new("ln"),
                OsStr::new("-s"),
                img.path.as_os_str(),
                OsStr::new("f"),
                OsStr::new("/r/l"),
            ])
            .env("SOURCE_DATE_EPOCH", "1234567890")
            .output()
            .expect("run");
        assert!(o.status.success(), "{}", text(&o.stderr));
        images.push((std::fs::read(&img.path).expect("read"), img));
    }
    assert!(images[0].0 == images[1].0, "two reproducible runs differ");
    let p = &images[0].1.path;
    assert_eq!(stat_json(p, "/r/g")["ctime"]["sec"], 1_000_000_000);
    assert_eq!(stat_json(p, "/r/l")["ctime"]["sec"], 1_234_567_890);
    fsck_clean(p);
}

#[test]
fn usage_errors_and_help() {
    for cmd in [
        "put", "mkdir", "rm", "mv", "ln", "chmod", "chown", "touch", "setfattr", "getfattr",
    ] {
        let o = ufs([cmd, "--help"]);
        assert!(o.status.success(), "{cmd} --help: {}", text(&o.stderr));
        let o = ufs([cmd]);
        assert_eq!(o.status.code(), Some(2), "{cmd} without operands");
    }
    let o = ufs(["mkdir", "/nonexistent/image.img", "/x"]);
    assert_eq!(o.status.code(), Some(1));
    let e = text(&o.stderr);
    assert!(
        e.starts_with("ufs: /nonexistent/image.img: ") && e.lines().count() == 1,
        "{e}"
    );
    let o = ufs(["setfattr", "-x", "user.a", "-n", "user.b", "i.img", "/"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn host_files_keep_owner_as_root() {
    if !rustix::process::geteuid().is_root()
        && !ufskit_testkit::skip("owners are only kept when running as root")
    {
        return;
    }
    let img = unpack(UFS2);
    let host = tempfile::tempdir().expect("tempdir");
    let f = host.path().join("owned");
    std::fs::write(&f, b"x").expect("w");
    std::os::unix::fs::chown(&f, Some(4321), Some(8765)).expect("chown");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o2755)).expect("chmod");
    ok(&[&"put", &img.path, &f, &"/"]);
    let s = stat_json(&img.path, "/owned");
    assert_eq!(
        (s["uid"].as_u64(), s["gid"].as_u64()),
        (Some(4321), Some(8765))
    );
    assert_eq!(s["mode"].as_u64().expect("mode"), 0o102755);
    let md = std::fs::metadata(&f).expect("md");
    assert_eq!(s["mtime"]["sec"].as_i64(), Some(md.mtime()));
    fsck_clean(&img.path);
}
