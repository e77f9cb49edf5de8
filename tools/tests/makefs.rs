//! `ufs makefs` end to end: fixture tree and tar archives in, an image out
//! that fsck finds clean, that extracts back to the same tree (checked with
//! the host manifest and NetBSD mtree), that is byte-identical when built
//! reproducibly, and that the Linux kernel mounts and reads as the source.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

fn fsck_clean(img: &Path) {
    let out = ufs(["fsck", "-n", "-f"]
        .map(Into::into)
        .into_iter()
        .chain([img.as_os_str().to_owned()]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "fsck of {}:\n{text}",
        img.display()
    );
    assert!(!text.contains("?"), "fsck asked something:\n{text}");
}

/// `ufs makefs -O VERSION IMG TREE`, which must succeed.
fn makefs_version(img: &Path, tree: &Path, version: &str) {
    ufs_ok([
        "makefs".as_ref(),
        "-O".as_ref(),
        version.as_ref(),
        img.as_os_str(),
        tree.as_os_str(),
    ]);
}

fn check_round_trip(tmp: &Path, tree: &Path, img: &Path, want: &str) {
    fsck_clean(img);
    let x = tmp.join(format!(
        "x-{}",
        img.file_name().and_then(|n| n.to_str()).unwrap_or("img")
    ));
    ufs_ok(["extract".as_ref(), img.as_os_str(), x.as_os_str()]);
    let got = host_manifest(&x, &tmp.join("got.manifest"));
    assert_same(&format!("extract of {}", img.display()), want, &got);
    if require("mtree", "NetBSD mtree verifies the extracted tree") {
        let spec = tmp.join("tree.spec");
        let c = Command::new("mtree")
            .args([
                "-c",
                "-K",
                "sha256digest,mode,uid,gid,nlink,size,link,time",
                "-p",
            ])
            .arg(tree)
            .output()
            .expect("mtree -c");
        std::fs::write(&spec, &c.stdout).expect("spec");
        let v = Command::new("mtree")
            .arg("-f")
            .arg(&spec)
            .arg("-p")
            .arg(&x)
            .output()
            .expect("mtree -f");
        assert!(
            v.status.success(),
            "mtree -f: {}{}",
            String::from_utf8_lossy(&v.stdout),
            String::from_utf8_lossy(&v.stderr)
        );
    }
}

#[test]
fn fixture_tree_round_trips_through_ufs1_and_ufs2() {
    let tmp = tempfile::tempdir().expect("tmp");
    let tree = fixture_tree(tmp.path());
    let want = host_manifest(&tree, &tmp.path().join("want.manifest"));
    for v in ["1", "2"] {
        let img = tmp.path().join(format!("ufs{v}.img"));
        makefs_version(&img, &tree, v);
        check_round_trip(tmp.path(), &tree, &img, &want);
    }
    // 4K blocks with 512-byte fragments: indirect blocks early, fragment tails.
    let img = tmp.path().join("small-blocks.img");
    ufs_ok([
        "makefs".as_ref(),
        "-o".as_ref(),
        "bsize=4096,fsize=512".as_ref(),
        img.as_os_str(),
        tree.as_os_str(),
    ]);
    check_round_trip(tmp.path(), &tree, &img, &want);
}

#[test]
fn tar_archives_in_every_compression_give_the_same_tree() {
    let tmp = tempfile::tempdir().expect("tmp");
    let tree = fixture_tree(tmp.path());
    let want = host_manifest(&tree, &tmp.path().join("want.manifest"));
    let tar = tmp.path().join("tree.tar");
    if !require("tar", "GNU tar makes the archives") {
        return;
    }
    let st = Command::new("tar")
        .arg("--format=pax")
        .arg("-C")
        .arg(&tree)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status();
    assert!(st.is_ok_and(|s| s.success()), "tar --format=pax failed");
    let data = std::fs::read(&tar).expect("tar");
    let mut archives = vec![tar.clone()];
    let gz = tmp.path().join("tree.tar.gz");
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).expect("gz"),
        flate2::Compression::fast(),
    );
    std::io::Write::write_all(&mut e, &data).expect("gz");
    e.finish().expect("gz");
    archives.push(gz);
    let xz = tmp.path().join("tree.tar.xz");
    let mut e = xz2::write::XzEncoder::new(std::fs::File::create(&xz).expect("xz"), 1);
    std::io::Write::write_all(&mut e, &data).expect("xz");
    e.finish().expect("xz");
    archives.push(xz);
    let zst = tmp.path().join("tree.tar.zst");
    std::fs::write(&zst, zstd::encode_all(&data[..], 1).expect("zstd")).expect("zst");
    archives.push(zst);
    for (k, a) in archives.iter().enumerate() {
        let img = tmp.path().join(format!("tar{k}.img"));
        ufs_ok(["makefs".as_ref(), img.as_os_str(), a.as_os_str()]);
        check_round_trip(tmp.path(), &tree, &img, &want);
    }
}

#[test]
fn reproducible_builds_are_byte_identical() {
    let tmp = tempfile::tempdir().expect("tmp");
    let tree = fixture_tree(tmp.path());
    let a = tmp.path().join("a.img");
    let b = tmp.path().join("b.img");
    for img in [&a, &b] {
        let out = Command::new(ufs_bin())
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .arg("makefs")
            .arg(img)
            .arg(&tree)
            .output()
            .expect("makefs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Reading the sources changes their access times; the image must not care.
        let _ = host_manifest(&tree, &tmp.path().join("touch.manifest"));
    }
    assert!(
        std::fs::read(&a).expect("a") == std::fs::read(&b).expect("b"),
        "two reproducible builds differ"
    );
    let plain = tmp.path().join("plain.img");
    ufs_ok(["makefs".as_ref(), plain.as_os_str(), tree.as_os_str()]);
    assert!(
        std::fs::read(&a).expect("a") != std::fs::read(&plain).expect("plain"),
        "time and id must vary otherwise"
    );
}

#[test]
fn spec_file_sets_owners_and_modes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let tree = tmp.path().join("t");
    std::fs::create_dir_all(tree.join("etc")).expect("mkdir");
    std::fs::write(tree.join("etc/rc.conf"), "hostname=jail\n").expect("write");
    let spec = tmp.path().join("spec");
    std::fs::write(
        &spec,
        "/set type=file uid=0 gid=0\n.\ttype=dir mode=0755\netc\ttype=dir mode=0755 uid=0 gid=0\n    rc.conf\tmode=0600 uid=0 gid=5 flags=schg time=1000000000.5\n..\nvar\ttype=dir mode=0700 uid=80 gid=80\n..\n",
    )
    .expect("spec");
    let img = tmp.path().join("s.img");
    ufs_ok([
        "makefs".as_ref(),
        "-F".as_ref(),
        spec.as_os_str(),
        img.as_os_str(),
        tree.as_os_str(),
    ]);
    fsck_clean(&img);
    let st = ufs_ok([
        "stat".as_ref(),
        "--json".as_ref(),
        img.as_os_str(),
        "/etc/rc.conf".as_ref(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&st).expect("json");
    assert_eq!(v["mode"], 0o100600);
    assert_eq!((v["uid"].as_u64(), v["gid"].as_u64()), (Some(0), Some(5)));
    assert_eq!(v["flags"], 0x2_0000);
    assert_eq!(v["mtime"]["sec"], 1_000_000_000);
    let var = ufs_ok([
        "stat".as_ref(),
        "--json".as_ref(),
        img.as_os_str(),
        "/var".as_ref(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&var).expect("json");
    assert_eq!(
        (v["mode"].as_u64(), v["uid"].as_u64()),
        (Some(0o40700), Some(80)),
        "spec creates missing directories"
    );
}

/// Runs `ufs makefs -s SIZE IMG TREE`.
fn makefs_sized(size: &str, img: &Path, tree: &Path) -> std::process::Output {
    ufs([
        "makefs".as_ref(),
        "-s".as_ref(),
        size.as_ref(),
        img.as_os_str(),
        tree.as_os_str(),
    ])
}

#[test]
fn a_size_too_small_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    let tree = tmp.path().join("t");
    std::fs::create_dir_all(&tree).expect("mkdir");
    std::fs::write(tree.join("big"), vec![1u8; 3 << 20]).expect("write");
    let img = tmp.path().join("small.img");
    let out = makefs_sized("2m", &img, &tree);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no space") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn archive_paths_cannot_climb_out() {
    let tmp = tempfile::tempdir().expect("tmp");
    let tar = tmp.path().join("evil.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&tar).expect("tar"));
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    // Written raw: the tar crate refuses to build such a path itself.
    let name = b"../../escape";
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_cksum();
    b.append(&h, &b"evil"[..]).expect("append");
    b.finish().expect("finish");
    drop(b);
    let img = tmp.path().join("e.img");
    let out = ufs(["makefs".as_ref(), img.as_os_str(), tar.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("'..'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_linux_kernel_reads_makefs_images_as_the_source_tree() {
    if !kernel_available() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let tree = fixture_tree(tmp.path());
    let want = host_manifest(&tree, &tmp.path().join("want.manifest"));
    for (v, ty) in [("2", "ufs2"), ("1", "44bsd")] {
        let img = tmp.path().join(format!("k{v}.img"));
        makefs_version(&img, &tree, v);
        let got = kernel_manifest(&img, ty, &tmp.path().join(format!("k{v}.manifest")));
        assert_same(
            &format!("kernel view of the UFS{v} makefs image"),
            &want,
            &got,
        );
    }
}

/// The Sleuth Kit, another reader, lists exactly the source tree's paths in
/// a makefs image.
#[test]
fn the_sleuth_kit_lists_the_source_tree() {
    if !require("fls", "The Sleuth Kit reads the image independently") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let tree = fixture_tree(tmp.path());
    let img = tmp.path().join("tsk.img");
    ufs_ok(["makefs".as_ref(), img.as_os_str(), tree.as_os_str()]);
    assert_eq!(
        tsk_paths(&img, "ufs2"),
        tree_listing(&tree),
        "fls paths differ from the source tree"
    );
}

/// The debootstrap minbase tree .ci/run builds (tests/interop/minbase.sh),
/// named by UFS_MINBASE_TREE; None (a skip) when there is none, unless
/// UFS_REQUIRE_INTEROP=1 asks for every checker.
fn minbase_tree() -> Option<std::path::PathBuf> {
    let t = std::env::var_os("UFS_MINBASE_TREE").map(std::path::PathBuf::from);
    match t {
        Some(t) if t.is_dir() => Some(t),
        _ => {
            ufskit_testkit::skip(
                "no debootstrap minbase tree (set UFS_MINBASE_TREE; \
                 tests/interop/minbase.sh builds one)",
            );
            None
        }
    }
}

/// A real userland (Debian minbase: about 6,800 entries, device nodes,
/// absolute and relative symlinks, setuid binaries, files owned by other
/// groups) built with `ufs makefs` and read back by every independent
/// reader: the Linux kernel sees exactly the source tree, NetBSD mtree
/// verifies the extracted copy, The Sleuth Kit lists the same paths, and
/// fsck finds nothing to say; UFS2 and UFS1 alike.
#[test]
fn a_debootstrap_minbase_tree_reads_back_everywhere() {
    let Some(tree) = minbase_tree() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let want = host_manifest(&tree, &tmp.path().join("want.manifest"));
    let paths = tree_listing(&tree);
    for (v, tsk, kernel) in [("2", "ufs2", "ufs2"), ("1", "ufs1", "44bsd")] {
        let img = tmp.path().join(format!("minbase{v}.img"));
        makefs_version(&img, &tree, v);
        // fsck -n -f clean, extract == source, NetBSD mtree -f passes.
        check_round_trip(tmp.path(), &tree, &img, &want);
        if require("fls", "The Sleuth Kit reads the image independently") {
            assert_eq!(
                tsk_paths(&img, tsk),
                paths,
                "fls paths of the UFS{v} minbase image differ from the tree"
            );
        }
        if kernel_available() {
            let got = kernel_manifest(&img, kernel, &tmp.path().join(format!("m{v}.manifest")));
            assert_same(
                &format!("kernel view of the UFS{v} minbase image"),
                &want,
                &got,
            );
        }
        std::fs::remove_file(&img).expect("rm image");
    }
}

/// With -s and no density, the inode count follows the tree (as FreeBSD's
/// and NetBSD's makefs choose it); when the size cannot hold the tree,
/// the error says what size would.
#[test]
fn a_given_size_gets_the_inodes_the_tree_needs() {
    let tmp = tempfile::tempdir().expect("tmp");
    let tree = tmp.path().join("t");
    std::fs::create_dir_all(&tree).expect("mkdir");
    for i in 0..20_000 {
        std::fs::write(tree.join(format!("f{i:05}")), "").expect("write");
    }
    let img = tmp.path().join("a.img");
    let out = makefs_sized("100m", &img, &tree);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fsck_clean(&img);
    let small = tmp.path().join("b.img");
    let out = makefs_sized("16m", &small, &tree);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("20004 inodes") && err.contains("would fit"),
        "{err}"
    );
    assert!(!small.exists());
}
