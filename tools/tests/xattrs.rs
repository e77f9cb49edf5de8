//! `ufs put` carries host extended attributes into UFS2 images: Linux
//! `user.NAME` (set with setfattr) becomes the UFS2 user namespace's NAME,
//! read back with `ufs getfattr` and by FreeBSD's fsck as a clean image;
//! other namespaces are named as not copied; `--no-xattrs` copies none.

// A test reports failure by panicking.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{output_ok, require, ufs_bin as bin};
use std::process::Command;

#[test]
fn put_carries_user_xattrs() {
    let dir = tempfile::tempdir().unwrap();
    let (d, tree) = (dir.path(), dir.path().join("t"));
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("f"), "data").unwrap();
    if !require("setfattr", "apt-get install attr") {
        return;
    }
    let set = |name: &str, value: &str, path: &std::path::Path| {
        Command::new("setfattr")
            .args(["-n", name, "-v", value])
            .arg(path)
            .output()
            .unwrap()
    };
    let o = set("user.mime_type", "text/plain", &tree.join("f"));
    if !o.status.success() {
        ufskit_testkit::skip(&format!(
            "the temporary directory's file system refuses user xattrs: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
        return;
    }
    assert!(set("user.dir", "yes", &tree).status.success());
    let trusted = set("trusted.note", "x", &tree.join("f")).status.success();
    let img = d.join("x.img");
    output_ok(
        Command::new(bin()).args(["newfs", "-s", "8m"]).arg(&img),
        "newfs",
    );
    let o = output_ok(
        Command::new(bin())
            .args(["put", "-r"])
            .arg(&img)
            .arg(&tree)
            .arg("/t"),
        "put",
    );
    if trusted {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("not copied") && err.contains("trusted.note"),
            "{err}"
        );
    }
    let get = |path: &str| {
        let o = output_ok(
            Command::new(bin())
                .args(["getfattr", "-d"])
                .arg(&img)
                .arg(path),
            "getfattr",
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(
        get("/t/f").contains("user.mime_type=\"text/plain\""),
        "{}",
        get("/t/f")
    );
    assert!(get("/t").contains("user.dir=\"yes\""), "{}", get("/t"));
    if let Some(r) = ufskit_testkit::freebsd::fsck_clean(&img) {
        r.unwrap_or_else(|e| panic!("FreeBSD fsck_ffs: {e}"));
    }
    output_ok(
        Command::new(bin())
            .args(["put", "--no-xattrs"])
            .arg(&img)
            .arg(tree.join("f"))
            .arg("/g"),
        "put --no-xattrs",
    );
    assert!(!get("/g").contains("user."), "{}", get("/g"));
}
