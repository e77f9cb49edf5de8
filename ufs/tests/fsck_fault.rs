//! Crash safety of repairs: for reference corruptions, the repair is cut
//! off after its Nth write, for every N the repair makes; a fresh `-y`
//! must then leave the image clean, and every regular file that the
//! uninterrupted repair keeps must read the same as after it.

mod common;

use common::fsck_is_clean;
use ufskit::fsck::{repair, AnswerMode, CollectingReporter, FsckOptions};
use ufskit::io::FaultyDevice;

fn opts() -> FsckOptions {
    FsckOptions {
        name: "img".into(),
        force: true,
        answer: AnswerMode::Yes,
        now: Some(1_588_334_400),
        ..Default::default()
    }
}

fn fix(img: &mut Vec<u8>) -> bool {
    let mut rep = CollectingReporter::default();
    repair(img, &opts(), &mut rep)
        .map(|o| o.repaired)
        .unwrap_or(false)
}

#[test]
fn every_interrupted_repair_is_finished_by_a_rerun() {
    let cases = [
        "pop-ufs1-8m/unref_file",
        "pop-ufs2-8m/dir_zero",
        "pop-ufs1-8m/root_clear",
        "pop-ufs2-8m/dup_block",
        "pop-ufs2-16m-b4096/unalloc_entry",
    ];
    let mut runs = 0;
    for c in cases {
        let orig = common::load_zst(&format!("fsck-ref/{c}.img.zst"));
        let mut counter = FaultyDevice::new(orig.clone(), u64::MAX);
        let mut rep = CollectingReporter::default();
        repair(&mut counter, &opts(), &mut rep).expect("repair");
        let total = counter.writes();
        let mut good = counter.into_inner();
        assert!(fsck_is_clean(&good), "{c}: not clean after one run");
        let good_fs = ufskit::Ufs::open(
            Box::new(std::mem::take(&mut good)),
            &ufskit::OpenOptions::read_only(),
        )
        .expect("open");
        for n in 0..total {
            let mut dev = FaultyDevice::new(orig.clone(), n);
            let mut rep = CollectingReporter::default();
            let r = repair(&mut dev, &opts(), &mut rep);
            assert!(
                r.is_err(),
                "{c}: write {n} of {total} failed but the repair said ok"
            );
            let mut img = dev.into_inner();
            assert!(
                fix(&mut img) || fsck_is_clean(&img),
                "{c}: rerun after fault at {n} did not finish"
            );
            assert!(
                fsck_is_clean(&img),
                "{c}: not clean after the rerun (fault at {n})"
            );
            // Files the uninterrupted repair kept read the same.
            let fs =
                ufskit::Ufs::open(Box::new(img), &ufskit::OpenOptions::read_only()).expect("open");
            for path in ["/etc/rc.conf", "/data/small.txt", "/docs/readme.txt"] {
                if let Ok(ino) = good_fs.lookup(path, ufskit::Follow::All) {
                    let want = good_fs.read_all(ino).expect("read");
                    let got = fs
                        .lookup(path, ufskit::Follow::All)
                        .and_then(|i| fs.read_all(i));
                    assert_eq!(
                        got.ok().as_deref(),
                        Some(&want[..]),
                        "{c}: {path} after fault at {n}"
                    );
                }
            }
            runs += 1;
        }
    }
    eprintln!("{runs} fault-injection runs");
    assert!(runs > 0);
}
