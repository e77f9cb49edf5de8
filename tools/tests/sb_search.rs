//! Issue 15, part 1: an image whose primary superblock is gone and whose
//! copies are not where fsck_ffs computes them (NetBSD makefs; FreeBSD
//! newfs with 1 KiB fragments) is repaired by one `ufs fsck -y -f`
//! without `-b`; read-only commands use the copy found by search; an image
//! with no file system makes the search give up with a clear error, fast.

#[allow(clippy::panic)]
mod common;
use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use ufskit_testkit::freebsd;

/// Byte of the UFS1 primary's `fs_magic` (8192 + 1372).
const UFS1_PRIMARY_MAGIC: u64 = 8192 + 1372;

/// A few files of known contents (sizes spanning fragments, blocks and an
/// indirect block) in `dir`.
fn make_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    let files: Vec<(String, Vec<u8>)> = [
        ("small", 100usize),
        ("frag", 3000),
        ("block", 20_000),
        ("sub/big", 200_000),
    ]
    .iter()
    .map(|&(name, len)| {
        let data = (0..len)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_right(13) as u8)
            .collect();
        (name.to_string(), data)
    })
    .collect();
    for (name, data) in &files {
        std::fs::write(dir.join(name), data).expect("write");
    }
    files
}

fn zero_magic(img: &Path, at: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(img)
        .expect("open");
    f.write_all_at(&[0; 4], at).expect("zero the magic");
}

/// `ufs fsck ARGS ./NAME` run in `dir`: (exit status, stdout).
fn fsck(dir: &Path, args: &[&str], name: &str) -> (i32, String) {
    let o = Command::new(ufs_bin())
        .arg("fsck")
        .args(args)
        .arg(format!("./{name}"))
        .current_dir(dir)
        .output()
        .expect("run ufs fsck");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// The whole check of the issue: the primary's magic is zeroed, read-only
/// commands still work (saying which copy they use), one `fsck -y -f`
/// restores it, then ufskit and FreeBSD's fsck_ffs find it clean and every
/// file reads back as it was written.
fn repairs_without_b(dir: &Path, name: &str, files: &[(String, Vec<u8>)]) {
    let img = dir.join(name);
    let img_s = img.to_str().expect("utf-8 path");
    zero_magic(&img, UFS1_PRIMARY_MAGIC);

    let ls = ufs(["ls", img_s, "/"]);
    let err = String::from_utf8_lossy(&ls.stderr);
    assert!(
        ls.status.success() && err.contains("found by search"),
        "ls on the damaged image: {err}"
    );

    let (code, out) = fsck(dir, &["-y", "-f"], name);
    assert!(code == 0 || code == 1, "fsck -y -f exit {code}:\n{out}");
    assert!(
        out.contains("USING ALTERNATE SUPERBLOCK AT ")
            && out.contains(" (found by search)\n")
            && out.contains("UPDATE STANDARD SUPERBLOCK? yes"),
        "fsck -y -f did not use a copy found by search:\n{out}"
    );
    let (code, out) = fsck(dir, &["-n", "-f"], name);
    assert_eq!(code, 0, "not clean after the repair:\n{out}");
    assert!(!out.contains("? no"), "not clean after the repair:\n{out}");
    if let Some(r) = freebsd::fsck_clean(&img) {
        r.unwrap_or_else(|e| panic!("FreeBSD's fsck_ffs after the repair:\n{e}"));
    }
    // The primary is back: no search any more.
    let info = ufs(["info", img_s]);
    assert!(info.status.success() && info.stderr.is_empty());
    for (path, data) in files {
        let got = ufs(["cat", img_s, &format!("/{path}")]);
        assert!(got.status.success(), "cat /{path}");
        assert!(got.stdout == *data, "/{path} changed by the repair");
    }
}

#[test]
fn netbsd_makefs_ufs1_with_zeroed_primary_is_repaired_without_b() {
    if !require(
        "makefs",
        "NetBSD makefs makes the UFS1 image (Debian package makefs)",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let files = make_files(&tmp.path().join("tree"));
    output_ok(
        Command::new("makefs")
            .args([
                "-t",
                "ffs",
                "-o",
                "version=1",
                "-s",
                "64m",
                "nb.img",
                "tree",
            ])
            .current_dir(tmp.path()),
        "makefs",
    );
    repairs_without_b(tmp.path(), "nb.img", &files);
}

#[test]
fn freebsd_ufs1_with_1k_fragments_and_zeroed_primary_is_repaired_without_b() {
    let Some(newfs) = freebsd::tool("newfs") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let img = tmp.path().join("f1k.img");
    std::fs::File::create(&img)
        .and_then(|f| f.set_len(64 << 20))
        .expect("create image");
    output_ok(
        freebsd::command(&newfs)
            .args(["-O1", "-f", "1024", "-b", "8192", "./f1k.img"])
            .current_dir(tmp.path()),
        "FreeBSD newfs",
    );
    let files = make_files(&tmp.path().join("tree"));
    let img_s = img.to_str().expect("utf-8 path");
    for (path, _) in &files {
        let dest = format!("/{path}");
        if let Some(parent) = Path::new(&dest).parent().filter(|p| *p != Path::new("/")) {
            ufs(["mkdir", "-p", img_s, parent.to_str().expect("utf-8")]);
        }
        let src = tmp.path().join("tree").join(path);
        ufs_ok(["put", img_s, src.to_str().expect("utf-8"), &dest]);
    }
    if let Some(r) = freebsd::fsck_clean(&img) {
        r.unwrap_or_else(|e| panic!("FreeBSD's fsck_ffs before the damage:\n{e}"));
    }
    repairs_without_b(tmp.path(), "f1k.img", &files);
}

/// `ufs info` and `ufs fsck -y` on an image without a file system: a
/// clear error, a failure status, quickly.
fn cli_gives_up(dir: &Path, name: &str) {
    let img = dir.join(name);
    let img_s = img.to_str().expect("utf-8 path");
    let t = Instant::now();
    let info = ufs(["info", img_s]);
    let took = t.elapsed();
    let err = String::from_utf8_lossy(&info.stderr);
    assert_eq!(info.status.code(), Some(1), "{name}: info: {err}");
    assert!(
        err.contains("no superblock copy found by searching"),
        "{name}: unclear error: {err}"
    );
    assert!(took < Duration::from_secs(2), "{name}: info took {took:?}");

    let t = Instant::now();
    let (code, out) = fsck(dir, &["-y", "-f"], name);
    let took = t.elapsed();
    assert_eq!(code, 8, "{name}: fsck -y:\n{out}");
    assert!(
        out.contains("SEARCH FOR ALTERNATE SUPER-BLOCK FAILED"),
        "{name}: fsck -y:\n{out}"
    );
    assert!(
        took < Duration::from_secs(2),
        "{name}: fsck -y took {took:?}"
    );
    let (code, _) = fsck(dir, &["-n", "-f"], name);
    assert_eq!(code, 8, "{name}: fsck -n");
}

#[test]
fn search_gives_up_fast_on_zeros_noise_and_ext4() {
    const LEN: u64 = 64 << 20;
    let tmp = tempfile::tempdir().expect("tempdir");
    let zeros = tmp.path().join("zeros.img");
    std::fs::File::create(&zeros)
        .and_then(|f| f.set_len(LEN))
        .expect("zeros");
    cli_gives_up(tmp.path(), "zeros.img");

    let noise = ufskit_testkit::noise(LEN as usize, 0x2545_f491_4f6c_dd1d);
    std::fs::write(tmp.path().join("noise.img"), noise).expect("noise");
    cli_gives_up(tmp.path(), "noise.img");

    if require(
        "mkfs.ext4",
        "an ext4 image for the search to reject (e2fsprogs)",
    ) {
        let ext4 = tmp.path().join("ext4.img");
        std::fs::File::create(&ext4)
            .and_then(|f| f.set_len(LEN))
            .expect("ext4");
        output_ok(
            Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&ext4),
            "mkfs.ext4",
        );
        cli_gives_up(tmp.path(), "ext4.img");
    }
}

/// A big sparse image (groups of 625 MiB, far past the 4 MiB head scan)
/// with the primary and group 0's copy zeroed: the search predicts the
/// group starts from group 0's header and finds group 1's copy, fast;
/// fsck -y (its `fsrecovery` record gone too) then restores the primary.
#[test]
fn big_image_copy_is_found_at_a_predicted_group_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let img = tmp.path().join("big.img");
    let img_s = img.to_str().expect("utf-8 path");
    ufs_ok(["newfs", "-s", "4g", img_s]);
    let info = ufs_ok(["info", img_s]);
    let backups: Vec<u64> = info
        .lines()
        .find_map(|l| l.strip_prefix("superblock backups (512-byte sectors, for fsck -b): "))
        .expect("backups line")
        .split(", ")
        .map(|s| s.parse().expect("sector"))
        .collect();
    assert!(backups.len() > 2 && backups[1] * 512 > 64 << 20, "{info}");
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&img)
            .expect("open");
        // The primary, and newfs's fsrecovery record just before it
        // (from which fsck_ffs would compute the alternates itself).
        f.write_all_at(&[0; 8192 + 512], 65536 - 512)
            .expect("zero the primary");
        f.write_all_at(&[0; 8192], backups[0] * 512)
            .expect("zero group 0's copy");
    }
    let t = Instant::now();
    let o = ufs(["info", img_s]);
    let took = t.elapsed();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "superblock copy at sector {} (found by search",
            backups[1]
        )),
        "{err}"
    );
    assert!(took < Duration::from_secs(2), "the search took {took:?}");
    let (code, out) = fsck(tmp.path(), &["-y", "-f"], "big.img");
    assert!(code == 0 || code == 1, "fsck -y exit {code}:\n{out}");
    assert!(
        out.contains(&format!(
            "USING ALTERNATE SUPERBLOCK AT {} (found by search)",
            backups[1]
        )),
        "{out}"
    );
    let (code, out) = fsck(tmp.path(), &["-n", "-f"], "big.img");
    assert_eq!(code, 0, "not clean after the repair:\n{out}");
}

/// `ufs mount` without a repair refuses a container whose primary is gone
/// (the kernel reads only the primary), names the copy the search found
/// and the repair to run, and attaches nothing or writes nothing.
#[test]
fn mount_without_fsck_names_the_copy_and_refuses() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let img = tmp.path().join("c.img");
    let img_s = img.to_str().expect("utf-8 path");
    ufs_ok(["newfs", "-s", "8m", img_s]);
    zero_magic(&img, 65536 + 1372);
    let before = std::fs::read(&img).expect("read");
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).expect("mkdir");
    let o = ufs([
        "mount",
        "--host",
        "freebsd",
        "--fsck=no",
        "-P",
        "-F",
        img_s,
        "md",
        mnt.to_str().expect("utf-8"),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(
        err.contains("no usable primary superblock, but a superblock copy at sector 192")
            && err.contains("ufs fsck -y"),
        "{err}"
    );
    assert!(std::fs::read(&img).expect("read") == before, "mount wrote");
}
