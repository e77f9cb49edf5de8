//! Disk images with partition tables (docs/disk-images.md): GPT written by
//! `sgdisk`, MBR with logical partitions written by `sfdisk`, BSD labels
//! written here from the layout in FreeBSD's sys/sys/disk/bsd.h, holding
//! `ufs makefs` and NetBSD makefs file systems. Every command must work
//! inside the chosen partition and never change a byte outside it.

// A test reports failure by panicking.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{output_ok, require};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ufs");
const MIB: u64 = 1 << 20;

fn ufs(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run ufs")
}

fn ufs_ok(dir: &Path, args: &[&str]) -> String {
    let o = output_ok(
        Command::new(BIN).current_dir(dir).args(args),
        &format!("ufs {args:?}"),
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// An 8 MiB file system with /hello.txt made by `ufs makefs`.
fn ufskit_fs(dir: &Path, name: &str) -> Vec<u8> {
    sized_fs(dir, name, "8m")
}

/// A file system of `size` with /hello.txt made by `ufs makefs`.
fn sized_fs(dir: &Path, name: &str, size: &str) -> Vec<u8> {
    let tree = dir.join(format!("{name}.tree"));
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("hello.txt"), format!("hello from {name}\n")).unwrap();
    let img = dir.join(format!("{name}.fs"));
    ufs_ok(
        dir,
        &[
            "makefs",
            "-s",
            size,
            img.to_str().unwrap(),
            tree.to_str().unwrap(),
        ],
    );
    std::fs::read(img).unwrap()
}

/// An 8 MiB UFS2 file system with /netbsd.txt made by NetBSD's makefs.
fn netbsd_fs(dir: &Path) -> Option<Vec<u8>> {
    if !require("makefs", "NetBSD makefs; apt-get install makefs") {
        return None;
    }
    let tree = dir.join("nb.tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("netbsd.txt"), "made by NetBSD makefs\n").unwrap();
    let img = dir.join("nb.fs");
    output_ok(
        Command::new("makefs")
            .args(["-t", "ffs", "-o", "version=2", "-s", "8m"])
            .arg(&img)
            .arg(&tree),
        "NetBSD makefs",
    );
    Some(std::fs::read(img).unwrap())
}

fn put_at(disk: &Path, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(disk).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

/// SHA-256 of everything in the file except `len` bytes from `offset`.
fn outside(disk: &Path, offset: u64, len: u64) -> String {
    let d = std::fs::read(disk).unwrap();
    let (o, e) = (offset as usize, (offset + len) as usize);
    let mut h = Sha256::new();
    h.update(&d[..o]);
    h.update(&d[e..]);
    format!("{:x}", h.finalize())
}

/// A new sparse file of `len` bytes.
fn blank(dir: &Path, name: &str, len: u64) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().set_len(len).unwrap();
    p
}

/// A 24 MiB GPT disk (sgdisk): 1 efi, 2 freebsd-ufs (8 MiB at 2 MiB), 3
/// freebsd-swap.
fn gpt_disk(dir: &Path, fs: &[u8]) -> Option<PathBuf> {
    if !require("sgdisk", "GPT disks for the tests; apt-get install gdisk") {
        return None;
    }
    let disk = blank(dir, "gpt.img", 24 * MIB);
    output_ok(
        Command::new("sgdisk")
            .args(["-n1:2048:+1M", "-t1:ef00", "-n2:4096:+8M", "-t2:a503"])
            .args(["-n3:0:+2M", "-t3:a502"])
            .arg(&disk),
        "sgdisk",
    );
    put_at(&disk, 2 * MIB, fs);
    Some(disk)
}

/// A temporary directory with a GPT disk whose partition 2 holds a
/// `ufs makefs` file system with "hello from NAME" in /hello.txt.
fn gpt_with_fs(name: &str) -> Option<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::tempdir().unwrap();
    let fs = ufskit_fs(dir.path(), name);
    let disk = gpt_disk(dir.path(), &fs)?;
    Some((dir, disk))
}

/// A 30 MiB MBR disk (sfdisk): 1 Linux, 2 extended holding 5 (NetBSD, 3
/// MiB) and 6 (FreeBSD, 12 MiB), each 8 MiB.
fn mbr_disk(dir: &Path) -> Option<PathBuf> {
    if !require("sfdisk", "MBR disks for the tests; apt-get install fdisk") {
        return None;
    }
    let disk = blank(dir, "mbr.img", 30 * MIB);
    common::sfdisk(
        &disk,
        "label: dos\nstart=2048, size=2048, type=83\nstart=4096, size=40960, type=5\n\
         start=6144, size=16384, type=a9\nstart=24576, size=16384, type=a5\n",
    );
    Some(disk)
}

/// Writes a BSD disklabel (sys/sys/disk/bsd.h) in the second sector of the
/// area at `base`: `a` a 4.2BSD partition of `a_len` bytes at `a_off`, `b`
/// swap after it, `c` the raw partition covering `area_len` bytes. Offsets
/// are absolute sectors, as FreeBSD writes them (`c` starts at `base`).
fn write_label(disk: &Path, base: u64, area_len: u64, a_off: u64, a_len: u64) {
    let s = |b: u64| u32::try_from(b / 512).unwrap();
    let mut l = vec![0u8; 512];
    let put32 =
        |l: &mut Vec<u8>, at: usize, v: u32| l[at..at + 4].copy_from_slice(&v.to_le_bytes());
    put32(&mut l, 0, 0x8256_4557); // d_magic
    put32(&mut l, 40, 512); // d_secsize
    put32(&mut l, 44, 63); // d_nsectors
    put32(&mut l, 48, 255); // d_ntracks
    put32(&mut l, 60, s(area_len)); // d_secperunit
    put32(&mut l, 132, 0x8256_4557); // d_magic2
    l[138..140].copy_from_slice(&8u16.to_le_bytes()); // d_npartitions
    put32(&mut l, 140, 8192); // d_bbsize
    let part = |l: &mut Vec<u8>, i: usize, off: u64, len: u64, fstype: u8| {
        let p = 148 + 16 * i;
        l[p..p + 4].copy_from_slice(&s(len).to_le_bytes());
        l[p + 4..p + 8].copy_from_slice(&s(base + off).to_le_bytes());
        l[p + 12] = fstype;
    };
    part(&mut l, 0, a_off, a_len, 7); // FS_BSDFFS
    part(&mut l, 1, a_off + a_len, MIB, 1); // FS_SWAP
    part(&mut l, 2, 0, area_len, 0); // raw
                                     // d_checksum: the XOR of every 16-bit word up to the last partition is 0.
    let sum = l[..148 + 8 * 16]
        .chunks(2)
        .fold(0u16, |x, w| x ^ u16::from_le_bytes([w[0], w[1]]));
    l[136..138].copy_from_slice(&sum.to_le_bytes());
    put_at(disk, base + 512, &l);
}

/// Asserts FreeBSD's fsck_ffs (when present) finds the partition clean.
fn freebsd_clean(disk: &Path, offset: u64, len: u64) {
    let d = std::fs::read(disk).unwrap();
    let part = disk.with_extension("part");
    std::fs::write(&part, &d[offset as usize..(offset + len) as usize]).unwrap();
    if let Some(r) = ufskit_testkit::freebsd::fsck_clean(&part) {
        r.unwrap_or_else(|e| panic!("FreeBSD fsck_ffs on the partition: {e}"));
    }
}

#[test]
fn gpt_disk_is_listed_and_its_only_ufs_partition_chosen() {
    let Some((dir, disk)) = gpt_with_fs("gpt") else {
        return;
    };
    let d = disk.to_str().unwrap();
    let info = ufs_ok(dir.path(), &["info", d]);
    assert!(info.contains("GPT partition table"), "{info}");
    for want in [
        "efi",
        "freebsd-ufs",
        "freebsd-swap",
        "2097152",
        "8388608",
        "UFS2",
    ] {
        assert!(info.contains(want), "{want} missing:\n{info}");
    }
    assert_eq!(
        ufs_ok(dir.path(), &["cat", d, "/hello.txt"]),
        "hello from gpt\n"
    );
    let at = format!("{d}@2");
    assert_eq!(
        ufs_ok(dir.path(), &["cat", &at, "/hello.txt"]),
        "hello from gpt\n"
    );
    let flag = ufs_ok(dir.path(), &["ls", "--partition", "p2", d, "/"]);
    assert_eq!(flag, "hello.txt\n");
    // The wrong partition, or one that is not there, says so.
    let o = ufs(dir.path(), &["ls", "--partition", "1", d, "/"]);
    assert_eq!(o.status.code(), Some(1));
    let o = ufs(dir.path(), &["ls", &format!("{d}@9"), "/"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no partition 9") && err.contains("freebsd-ufs"),
        "{err}"
    );
}

#[test]
fn edits_fsck_and_undo_stay_inside_the_partition() {
    let Some((dir, disk)) = gpt_with_fs("edit") else {
        return;
    };
    let d = disk.to_str().unwrap();
    let (off, len) = (2 * MIB, 8 * MIB);
    let before = outside(&disk, off, len);
    ufs_ok(dir.path(), &["mkdir", d, "/etc"]);
    ufs_ok(dir.path(), &["put", d, "/etc/hosts", "/etc/hosts"]);
    // Damage the root directory's link count so fsck has work to do.
    ufs_ok(
        dir.path(),
        &["debug", &format!("{d}@2"), "set inode 2 di_nlink 9"],
    );
    let undo = dir.path().join("fsck.undo");
    let o = ufs(
        dir.path(),
        &["fsck", "-fy", "--undo", undo.to_str().unwrap(), d],
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("COUNT 9 SHOULD BE 3"), "{text}");
    assert_eq!(
        outside(&disk, off, len),
        before,
        "bytes outside the partition changed"
    );
    assert!(ufs_ok(dir.path(), &["ls", d, "/etc"]).contains("hosts"));
    freebsd_clean(&disk, off, len);
    // Undo puts back the damaged count, again only inside the partition.
    ufs_ok(dir.path(), &["undo", undo.to_str().unwrap(), d]);
    assert_eq!(outside(&disk, off, len), before);
    let o = ufs(dir.path(), &["fsck", "-fn", d]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("COUNT 9 SHOULD BE 3"));
}

#[test]
fn damaged_primary_gpt_header_falls_back_to_the_backup() {
    let Some((dir, disk)) = gpt_with_fs("backup") else {
        return;
    };
    // Overwrite the primary header's CRC field (LBA 1, byte 16).
    put_at(&disk, 512 + 16, &[0xde, 0xad, 0xbe, 0xef]);
    let d = disk.to_str().unwrap();
    let info = ufs_ok(dir.path(), &["info", d]);
    assert!(
        info.contains("primary GPT header (LBA 1) is damaged"),
        "{info}"
    );
    assert_eq!(
        ufs_ok(dir.path(), &["cat", &format!("{d}@2"), "/hello.txt"]),
        "hello from backup\n"
    );
    // sgdisk agrees that the table is still there.
    let o = output_ok(Command::new("sgdisk").arg("-p").arg(&disk), "sgdisk -p");
    assert!(String::from_utf8_lossy(&o.stdout).contains("A503"));
}

#[test]
fn mbr_logical_partitions_with_ufskit_and_netbsd_file_systems() {
    let dir = tempfile::tempdir().unwrap();
    let Some(nb) = netbsd_fs(dir.path()) else {
        return;
    };
    let ours = ufskit_fs(dir.path(), "mbr");
    let Some(disk) = mbr_disk(dir.path()) else {
        return;
    };
    put_at(&disk, 3 * MIB, &nb);
    put_at(&disk, 12 * MIB, &ours);
    let d = disk.to_str().unwrap();
    let info = ufs(dir.path(), &["info", d]);
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(
        text.contains("MBR partition table") && text.contains("extended"),
        "{text}"
    );
    // Two UFS partitions: no guessing.
    let err = String::from_utf8_lossy(&info.stderr);
    assert!(err.contains("several UFS file systems"), "{err}");
    assert_eq!(info.status.code(), Some(1));
    assert_eq!(
        ufs_ok(dir.path(), &["cat", &format!("{d}@5"), "/netbsd.txt"]),
        "made by NetBSD makefs\n"
    );
    assert_eq!(
        ufs_ok(dir.path(), &["cat", &format!("{d}@s6"), "/hello.txt"]),
        "hello from mbr\n"
    );
    let before = outside(&disk, 3 * MIB, 8 * MIB);
    ufs_ok(dir.path(), &["touch", &format!("{d}@5"), "/new"]);
    let o = ufs(dir.path(), &["fsck", "-fy", &format!("{d}@5")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(outside(&disk, 3 * MIB, 8 * MIB), before);
    freebsd_clean(&disk, 3 * MIB, 8 * MIB);
}

#[test]
fn bsd_label_bare_and_inside_an_mbr_slice() {
    let dir = tempfile::tempdir().unwrap();
    let fs = ufskit_fs(dir.path(), "label");
    // Bare: the label in sector 1, `a` at 64 KiB (after the boot area).
    let bare = blank(dir.path(), "bare.img", 12 * MIB);
    write_label(&bare, 0, 12 * MIB, 64 << 10, 8 * MIB);
    put_at(&bare, 64 << 10, &fs);
    let b = bare.to_str().unwrap();
    let info = ufs_ok(dir.path(), &["info", b]);
    assert!(
        info.contains("BSD partition table") && info.contains("4.2BSD"),
        "{info}"
    );
    assert_eq!(
        ufs_ok(dir.path(), &["cat", b, "/hello.txt"]),
        "hello from label\n"
    );
    assert_eq!(
        ufs_ok(dir.path(), &["cat", &format!("{b}@a"), "/hello.txt"]),
        "hello from label\n"
    );
    // In slice 1 of an MBR: offsets in the label are absolute, `1a` is
    // the partition's name as in ada0s1a.
    let Some(disk) = mbr_disk(dir.path()) else {
        return;
    };
    let slice = 12 * MIB;
    write_label(&disk, slice, 8 * MIB, 16 * 512, 6 * MIB);
    put_at(
        &disk,
        slice + 16 * 512,
        &sized_fs(dir.path(), "slice", "6m"),
    );
    let d = disk.to_str().unwrap();
    let info = ufs_ok(dir.path(), &["info", "--partition", "6a", d]);
    assert!(info.contains("6a") && info.contains("4.2BSD"), "{info}");
    assert_eq!(
        ufs_ok(dir.path(), &["cat", &format!("{d}@6a"), "/hello.txt"]),
        "hello from slice\n"
    );
    // The slice holds the label's partitions: it cannot be chosen itself.
    let o = ufs(dir.path(), &["ls", &format!("{d}@6"), "/"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds other partitions"));
}

#[test]
fn a_file_whose_name_has_an_at_sign_is_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let fs = ufskit_fs(dir.path(), "at");
    let img = dir.path().join("jail@2");
    std::fs::write(&img, fs).unwrap();
    assert_eq!(
        ufs_ok(dir.path(), &["cat", "jail@2", "/hello.txt"]),
        "hello from at\n"
    );
    // Naming a partition of a bare image is an error, not a silent fallback.
    let o = ufs(dir.path(), &["ls", "--partition", "1", "jail@2", "/"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no GPT, MBR or BSD label"));
}

/// A GPT disk (see [`gpt_disk`]) with partition 2 empty and 0xaa in the
/// MiB before it and the two MiB after it, so a write that spills over
/// either edge changes the hash of what lies outside.
fn gpt_with_neighbours(dir: &Path) -> Option<PathBuf> {
    let disk = gpt_disk(dir, &[])?;
    put_at(&disk, MIB, &vec![0xaa; MIB as usize]);
    put_at(&disk, 10 * MIB, &vec![0xaa; 2 * MIB as usize]);
    Some(disk)
}

/// Partition 2 of the disk [`gpt_with_neighbours`] makes, as (offset, length).
const P2: (u64, u64) = (2 * MIB, 8 * MIB);

/// A temporary directory with a [`gpt_with_neighbours`] disk, and the hash
/// of everything outside its partition 2.
fn empty_partition_disk() -> Option<(tempfile::TempDir, PathBuf, String)> {
    let dir = tempfile::tempdir().unwrap();
    let disk = gpt_with_neighbours(dir.path())?;
    let before = outside(&disk, P2.0, P2.1);
    Some((dir, disk, before))
}

#[test]
fn newfs_in_a_partition_writes_only_the_partition() {
    let Some((dir, disk, before)) = empty_partition_disk() else {
        return;
    };
    let d = disk.to_str().unwrap();
    let (off, len) = P2;
    // Without a partition named, the table is what newfs would destroy.
    let o = ufs(dir.path(), &["newfs", d]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("GPT"));
    let at = format!("{d}@2");
    let out = ufs_ok(dir.path(), &["newfs", &at]);
    assert!(out.contains("8.0MB"), "{out}");
    assert_eq!(outside(&disk, off, len), before, "newfs wrote outside");
    assert!(ufs_ok(dir.path(), &["info", d]).contains("UFS2"));
    freebsd_clean(&disk, off, len);
    // A second newfs needs --force; -E erases just the partition.
    let o = ufs(dir.path(), &["newfs", "-O1", &at]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already holds a UFS2"));
    ufs_ok(
        dir.path(),
        &["--partition", "p2", "newfs", "-E", "--force", "-O1", d],
    );
    assert_eq!(outside(&disk, off, len), before, "newfs -E wrote outside");
    assert!(ufs_ok(dir.path(), &["info", &at]).contains("UFS1"));
    freebsd_clean(&disk, off, len);
    // The partition's content is usable: an edit and a clean check.
    ufs_ok(dir.path(), &["mkdir", &at, "/etc"]);
    ufs_ok(dir.path(), &["fsck", "-fn", &at]);
    // A partition that is not there is refused, with the list.
    let o = ufs(dir.path(), &["newfs", &format!("{d}@7")]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no partition 7"));
    assert_eq!(outside(&disk, off, len), before);
}

/// `ufs makefs DISK@2 TREE` fills partition 2 with the tree and writes
/// nothing outside it; old bytes inside the partition do not show through;
/// a failed build (a tree too big) leaves the partition as it was.
#[test]
fn makefs_into_a_partition_writes_only_the_partition() {
    let Some((dir, disk, before)) = empty_partition_disk() else {
        return;
    };
    let d = disk.to_str().unwrap();
    let (off, len) = P2;
    // Old contents of the partition: whatever makefs leaves zero must read
    // as zero afterwards.
    put_at(&disk, off, &vec![0x5a; len as usize]);
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("etc")).unwrap();
    std::fs::write(tree.join("etc/rc.conf"), "sshd_enable=\"YES\"\n").unwrap();
    std::fs::write(tree.join("big"), vec![7u8; 300_000]).unwrap();
    let at = format!("{d}@2");
    let out = ufs_ok(dir.path(), &["makefs", &at, tree.to_str().unwrap()]);
    assert!(out.contains("files"), "{out}");
    assert_eq!(outside(&disk, off, len), before, "makefs wrote outside");
    assert_eq!(
        ufs_ok(dir.path(), &["cat", &at, "/etc/rc.conf"]),
        "sshd_enable=\"YES\"\n"
    );
    // The file system fills the partition.
    assert!(
        ufs_ok(dir.path(), &["info", &at]).contains("(8388608 bytes)"),
        "{}",
        ufs_ok(dir.path(), &["info", &at])
    );
    ufs_ok(dir.path(), &["fsck", "-fn", &at]);
    freebsd_clean(&disk, off, len);
    // No 0x5a byte of the old contents is left inside the partition.
    let bytes = std::fs::read(&disk).unwrap();
    let part = &bytes[off as usize..(off + len) as usize];
    assert!(
        !part.windows(64).any(|w| w.iter().all(|&b| b == 0x5a)),
        "old partition contents show through"
    );
    // A tree that cannot fit: refused, and the partition is unchanged.
    let whole = outside(&disk, 0, 0);
    std::fs::write(tree.join("huge"), vec![1u8; 9 << 20]).unwrap();
    let o = ufs(dir.path(), &["makefs", &at, tree.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert_eq!(
        outside(&disk, 0, 0),
        whole,
        "a failed build changed the disk"
    );
    // A partition holding another file system needs --force.
    let mut fat = vec![0u8; 512];
    fat[54..62].copy_from_slice(b"FAT16   ");
    fat[510] = 0x55;
    fat[511] = 0xaa;
    put_at(&disk, off, &fat);
    put_at(&disk, off + 65536, &[0u8; 8192]);
    std::fs::remove_file(tree.join("huge")).unwrap();
    let o = ufs(dir.path(), &["makefs", &at, tree.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert_eq!(outside(&disk, off, len), before);
}

/// A directory of stand-ins for losetup, mdconfig and mount that log
/// their argv to `log` and print what the real ones would.
fn fake_tools(dir: &Path) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("tools.log");
    for (name, out) in [
        ("losetup", "/dev/loop7"),
        ("mdconfig", "md3"),
        ("mount", ""),
    ] {
        let p = bin.join(name);
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\necho \"{name} $*\" >> '{}'\n[ -n '{out}' ] && echo '{out}'\nexit 0\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (bin, log)
}

#[test]
fn mount_checks_and_attaches_just_the_partition() {
    let Some((dir, disk)) = gpt_with_fs("mnt") else {
        return;
    };
    let d = disk.to_str().unwrap();
    let (off, len) = (2 * MIB, 8 * MIB);
    let before = outside(&disk, off, len);
    let (bin, log) = fake_tools(dir.path());
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    std::fs::create_dir(dir.path().join("j1")).unwrap();
    // Damage the partition so the check (fsck -y) has something to repair.
    ufs_ok(
        dir.path(),
        &["debug", &format!("{d}@2"), "set inode 2 di_nlink 9"],
    );
    let run = |host: &str, spec: &str| {
        let o = Command::new(BIN)
            .current_dir(dir.path())
            .env("PATH", &path)
            .args(["mount", "--host", host, "-P", "--fsck=yes", "--no-undo"])
            .args(["-F", spec, "-o", "ro", "md", "j1"])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "ufs mount {host} {spec}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run("linux", &format!("{d}@2"));
    assert_eq!(outside(&disk, off, len), before, "the check wrote outside");
    freebsd_clean(&disk, off, len);
    // The only UFS partition is found by itself, and FreeBSD mounts the
    // provider GEOM makes for it.
    run("freebsd", d);
    let got = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        got,
        format!(
            "losetup --find --show --read-only --offset 2097152 --sizelimit 8388608 {d}\n\
             mount -t ufs -o ro,ufstype=ufs2 /dev/loop7 j1\n\
             mdconfig -a -t vnode -f {d} -o readonly\n\
             mount -t ufs -o ro /dev/md3p2 j1\n"
        )
    );
}

#[test]
fn preflight_checks_a_partition_named_in_fstab() {
    let Some((dir, disk)) = gpt_with_fs("pre") else {
        return;
    };
    let d = disk.to_str().unwrap();
    let fstab = dir.path().join("fstab.j");
    let root = dir.path().join("root");
    std::fs::write(
        &fstab,
        format!(
            "md {r}1 md rw,-P,-F{d},-Tufs\nmd {r}2 md rw,-P,-F{d}@2,-Tufs\n\
             md {r}3 md rw,-P,-F{d}@3,-Tufs\n",
            r = root.display()
        ),
    )
    .unwrap();
    let o = ufs(
        dir.path(),
        &["preflight", "--json", "--fstab", fstab.to_str().unwrap()],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
    let rows = v["containers"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{v}");
    assert_eq!(rows[0]["ok"], true, "{v}");
    assert_eq!(rows[1]["ok"], true, "{v}");
    // Partition 3 is swap: the attach would be refused.
    assert_eq!(rows[2]["ok"], false, "{v}");
    assert_eq!(o.status.code(), Some(1), "{v}");
}

#[test]
fn mount_without_dash_p_makes_the_file_system_in_the_partition() {
    let Some((dir, disk, before)) = empty_partition_disk() else {
        return;
    };
    let d = disk.to_str().unwrap();
    let (off, len) = P2;
    let (bin, log) = fake_tools(dir.path());
    std::fs::create_dir(dir.path().join("j1")).unwrap();
    let o = Command::new(BIN)
        .current_dir(dir.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .args(["--partition", "2", "mount", "--host", "linux", "-F", d])
        .args(["-o", "ro", "md", "j1"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        outside(&disk, off, len),
        before,
        "mount's newfs wrote outside"
    );
    freebsd_clean(&disk, off, len);
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .starts_with("losetup --find --show --read-only --offset 2097152 --sizelimit 8388608"));
    // Now it holds UFS: without -P or --force, mount refuses to newfs it.
    let o = ufs(
        dir.path(),
        &[
            "mount",
            "--host",
            "linux",
            "-X",
            "-F",
            &format!("{d}@2"),
            "md",
            "j1",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already holds a UFS2"));
}
