//! The kernel check's failure path: a guest kernel that cannot boot must
//! fail the check (never skip it, never pass it), and the failure must carry
//! the guest console's last lines, kept beyond the temporary directory.
#![allow(clippy::panic)] // a failing test panics

use std::path::PathBuf;
use ufskit_testkit::kernel;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ufskit-testkit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// The panic message of `f`, which must panic.
fn panic_text(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let e = std::panic::catch_unwind(f).expect_err("the kernel check must fail");
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// One test function, because it changes the process's environment.
#[test]
fn a_guest_that_cannot_boot_fails_with_its_console() {
    if !kernel::available() {
        return;
    }
    let d = scratch("noboot");
    let img = d.join("any.img");
    std::fs::write(&img, vec![0u8; 1 << 20]).expect("image");

    // QEMU: Debian's kernel with an empty initramfs cannot mount a root
    // and panics; the check must say so with the console's words.
    if ufskit_testkit::have("qemu-system-x86_64") && ufskit_testkit::have("busybox") {
        let empty = d.join("empty.cpio");
        std::fs::write(&empty, b"").expect("empty initramfs");
        std::env::set_var("UFS_KERNEL_BACKEND", "qemu-tcg");
        std::env::set_var("UFS_QEMU_INITRD", &empty);
        let img2 = img.clone();
        let d2 = d.clone();
        let msg = panic_text(move || {
            kernel::manifest(&img2, "ufs2", &d2, false);
        });
        std::env::remove_var("UFS_QEMU_INITRD");
        assert!(msg.contains("qemu-tcg"), "names the backend: {msg}");
        assert!(msg.contains("console: "), "carries console lines: {msg}");
        assert!(msg.contains("Kernel panic"), "the console's panic: {msg}");
        assert!(msg.contains("guest console kept in"), "{msg}");
    } else {
        ufskit_testkit::skip("QEMU (qemu-system-x86_64, busybox) not installed: its no-boot case");
    }

    // user-mode-linux: a guest without the memory to start its first
    // process panics the same way.
    if ufskit_testkit::have("linux.uml") {
        std::env::set_var("UFS_KERNEL_BACKEND", "uml");
        std::env::set_var("UFS_KERNEL_MEM", "8M");
        let msg = panic_text(move || {
            kernel::manifest(&img, "ufs2", &d, false);
        });
        std::env::remove_var("UFS_KERNEL_MEM");
        assert!(msg.contains("uml"), "names the backend: {msg}");
        assert!(msg.contains("console: "), "carries console lines: {msg}");
    }
    std::env::remove_var("UFS_KERNEL_BACKEND");
}
