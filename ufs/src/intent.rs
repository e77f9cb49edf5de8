//! The shrink's intent record: "inode OLD is moving to NEW", kept in the
//! primary superblock's spare words while one inode of a removed cylinder
//! group is renumbered (`evacuate.rs`), so that `fsck` can finish a move a
//! crash interrupted instead of judging its halves by its generic rules
//! (which split hard links and put directory copies in `lost+found`).
//!
//! Where: words 8 to 13 of the 21 of `fs_sparecon32` (FreeBSD 12.1
//! sys/ufs/ffs/fs.h, "reserved for future constants"), bytes 1252..1275.
//! The array once had 26 words; FreeBSD took `fs_mtime` and `fs_sujfree`
//! from its start and `fs_ckhash` and `fs_metackhash` from its end, so
//! the record keeps to the middle. FreeBSD's tools and kernel neither
//! read nor compare these words (docs/format.md, "Shrink intent record").
//! This module is the only place that knows the layout.
//!
//! A record is trusted only while it can still be ours: the file system
//! says it is not clean (every tool that finishes, FreeBSD's fsck
//! included, marks it clean and so makes an old record stale), and
//! `fs_mtime` is the one the shrink saw (FreeBSD's kernel sets it at
//! every read-write mount). A write session started on a clean image
//! drops a stale record (`Session`).

use crate::ondisk::Fs;
use crate::units::Ino;

/// First word of the record: "UFSM" (moving) in ASCII.
const MAGIC: u32 = 0x5546_534d;
/// Index of the first of the record's six words in `fs_sparecon32`.
const AT: usize = 8;

/// One move in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MoveIntent {
    /// The inode being moved (in a removed group).
    pub old: Ino,
    /// Its new number (in a kept group).
    pub new: Ino,
    /// `di_gen` of the inode, which the copy keeps.
    pub gen: u32,
    /// `di_mode` of the inode, which the copy keeps.
    pub mode: u16,
    /// `di_nlink` the moved inode ends with (a file's copy is written with
    /// 0 until its entries are switched).
    pub nlink: u16,
    /// Low 32 bits of `fs_mtime` when the record was written.
    pub mtime: u32,
}

/// Words as stored (the on-disk array is signed; only the bits matter).
fn word(v: i32) -> u32 {
    u32::from_ne_bytes(v.to_ne_bytes())
}

fn signed(v: u32) -> i32 {
    i32::from_ne_bytes(v.to_ne_bytes())
}

/// The low 32 bits of `fs_mtime`.
fn mtime_of(fs: &Fs) -> u32 {
    // Only the low bits are recorded and compared.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let m = fs.fs_mtime as u32;
    m
}

impl MoveIntent {
    /// A record for moving an inode with `gen`, `mode` and final `nlink`
    /// from `old` to `new` on the file system `fs` describes.
    pub fn new(fs: &Fs, old: Ino, new: Ino, gen: u32, mode: u16, nlink: u16) -> MoveIntent {
        MoveIntent {
            old,
            new,
            gen,
            mode,
            nlink,
            mtime: mtime_of(fs),
        }
    }

    /// The record in `fs`, if its words hold one.
    pub fn read(fs: &Fs) -> Option<MoveIntent> {
        let w: Vec<u32> = fs.fs_sparecon32[AT..AT + 6]
            .iter()
            .map(|&v| word(v))
            .collect();
        (w[0] == MAGIC).then(|| MoveIntent {
            old: Ino(w[1]),
            new: Ino(w[2]),
            gen: w[3],
            // The high and low halves of one word.
            #[allow(clippy::cast_possible_truncation)]
            mode: (w[4] >> 16) as u16,
            #[allow(clippy::cast_possible_truncation)]
            nlink: w[4] as u16,
            mtime: w[5],
        })
    }

    /// The record in `fs` when it is to be acted on: the file system is not
    /// marked clean and `fs_mtime` is the one recorded (see the module
    /// comment); otherwise it is stale or absent.
    pub fn pending(fs: &Fs) -> Option<MoveIntent> {
        Self::read(fs).filter(|r| fs.fs_clean == 0 && r.mtime == mtime_of(fs))
    }

    /// Puts the record into `fs` (the caller writes the superblock).
    pub fn store(&self, fs: &mut Fs) {
        let w = [
            MAGIC,
            self.old.0,
            self.new.0,
            self.gen,
            (u32::from(self.mode) << 16) | u32::from(self.nlink),
            self.mtime,
        ];
        for (slot, v) in fs.fs_sparecon32[AT..AT + 6].iter_mut().zip(w) {
            *slot = signed(v);
        }
    }

    /// Erases any record from `fs` (the caller writes the superblock).
    pub fn clear(fs: &mut Fs) {
        fs.fs_sparecon32[AT..AT + 6].fill(0);
    }

    /// Whether an inode with this mode and generation is the one moving
    /// (the original, or its copy once written).
    pub fn is_ours(&self, mode: u16, gen: u32) -> bool {
        mode == self.mode && gen == self.gen
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::newfs::NewfsOptions;
    use crate::superblock::{Superblock, UfsVersion};

    #[test]
    fn a_record_round_trips_and_clears() {
        for v in [UfsVersion::Ufs1, UfsVersion::Ufs2] {
            let mut o = NewfsOptions::freebsd_12_1();
            o.version = v;
            let img = crate::newfs::in_memory(8 << 20, &o).unwrap();
            let (mut sb, _) = Superblock::find(&img).unwrap();
            assert_eq!(MoveIntent::read(&sb.fs), None, "newfs leaves none");
            sb.fs.fs_mtime = 0x1_2345_6789;
            let r = MoveIntent::new(&sb.fs, Ino(70_000), Ino(9), 0xdead_beef, 0o100_644, 3);
            r.store(&mut sb.fs);
            // Through the on-disk encoding.
            let bytes = sb.encode();
            // Byte 1252 (docs/format.md), in the file system's byte order.
            let magic = match sb.endian {
                crate::Endian::Little => MAGIC.to_le_bytes(),
                crate::Endian::Big => MAGIC.to_be_bytes(),
            };
            assert_eq!(bytes[1252..1256], magic, "{v:?}");
            let back = Superblock::decode(&bytes, sb.location).unwrap();
            assert_eq!(MoveIntent::read(&back.fs), Some(r), "{v:?}");
            // Only on a file system not marked clean, with its mtime.
            sb.fs.fs_clean = 1;
            assert_eq!(MoveIntent::pending(&sb.fs), None);
            sb.fs.fs_clean = 0;
            assert_eq!(MoveIntent::pending(&sb.fs), Some(r));
            sb.fs.fs_mtime += 1;
            assert_eq!(MoveIntent::pending(&sb.fs), None, "mounted since");
            MoveIntent::clear(&mut sb.fs);
            assert_eq!(MoveIntent::read(&sb.fs), None);
            assert!(sb.fs.fs_sparecon32.iter().all(|&w| w == 0));
        }
    }
}
