//! Partitioned disk images: GPT, MBR (with extended partitions) and BSD
//! disklabels (bare, or inside an MBR slice).
//!
//! FreeBSD's release images, bhyve disks and `dd` copies of real disks hold a
//! partition table, not a bare file system. [`probe`] reads the table (never
//! writing), and [`locate`] turns a user's choice (or the lack of one) into
//! the byte range of one partition, so the rest of the crate can work inside
//! it through a windowed device ([`crate::io::FileDevice::window`]).
//!
//! Partitions are named as FreeBSD names the devices: GPT and MBR entries by
//! their index (`ada0p2` → `2`, `ada0s5` → `5` for the first logical
//! partition), BSD label entries by their letter, after the slice when the
//! label is inside one (`ada0s1a` → `1a`, a bare label's `a` → `a`).
//!
//! Nothing read here is trusted: every count is bounded, every range is
//! checked against the image, and the EBR chain has a hop limit.

use crate::io::Device;
use crate::ondisk::disk::{
    BsdPartition, Disklabel, DosPartition, GptEnt, GptHdr, BSD_MAGIC, BSD_NPARTS_MAX, BSD_PART_RAW,
    DOSMAGICOFFSET, DOSPARTOFF, DOSPTYP_386BSD, DOSPTYP_EXTENDED, DOSPTYP_PMBR, FS_BSDFFS,
    GPT_HDR_SIG,
};
use crate::ondisk::wire;
use crate::Endian;

pub use crate::error::DiskError;
pub use crate::ondisk::disk::Scheme;

/// Bytes per sector of MBRs, EBRs and (unless the label says otherwise) BSD
/// labels; GPT is also tried with 4096-byte sectors.
const SECTOR: u64 = 512;
/// At most this many GPT entries are read (the usual table has 128; the
/// bound keeps a damaged header from asking for gigabytes).
const GPT_MAX_ENTRIES: u32 = 4096;
/// At most this many logical partitions are followed in an EBR chain, so a
/// chain that loops ends.
const EBR_MAX_HOPS: usize = 128;
/// CRC-32 as GPT uses it (the zlib/IEEE polynomial).
const GPT_CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// One partition of a disk image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Name as FreeBSD's device suffix: `2`, `5`, `1a`, `a`.
    pub name: String,
    /// The table it comes from.
    pub scheme: Scheme,
    /// Its type in words (`freebsd-ufs`, `0xa5`, `4.2BSD`, or the GUID).
    pub kind: String,
    /// First byte, from the start of the image.
    pub offset: u64,
    /// Length in bytes.
    pub size: u64,
    /// The table's type says UFS (GPT freebsd-ufs/netbsd-ffs/apple-ufs, BSD
    /// label 4.2BSD).
    pub ufs_type: bool,
    /// It holds further partitions (an MBR slice with a BSD label, an
    /// extended partition), so it is listed but not chosen by itself.
    pub container: bool,
}

/// A partition table found on an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    /// The outermost table.
    pub scheme: Scheme,
    /// Things a user should know (a damaged primary GPT header, ...).
    pub notes: Vec<String>,
    /// Every partition, nested ones after their container.
    pub partitions: Vec<Partition>,
}

/// Reads `len` bytes at `offset`, or `None` when they are not all there.
fn read(dev: &dyn Device, offset: u64, len: u64) -> Option<Vec<u8>> {
    if offset.checked_add(len)? > dev.len() {
        return None;
    }
    let mut buf = vec![0u8; usize::try_from(len).ok()?];
    dev.read_at(offset, &mut buf).ok()?;
    Some(buf)
}

/// Finds the partition table of an image, if it has one. GPT is looked for
/// first (its protective MBR would otherwise read as an MBR), then an MBR,
/// then a bare BSD label.
pub fn probe(dev: &dyn Device) -> Option<Disk> {
    probe_gpt(dev).or_else(|| probe_mbr(dev)).or_else(|| {
        let partitions = bsd_label(dev, 0, dev.len(), "")?;
        Some(Disk {
            scheme: Scheme::BsdLabel,
            notes: Vec::new(),
            partitions,
        })
    })
}

/// The partition table of an image, unless the image is a bare file system
/// (a superblock where one belongs wins: a UFS image has zeros where a
/// table would be, but its boot area is not ours to interpret).
pub fn disk_of(dev: &dyn Device) -> Option<Disk> {
    if crate::Superblock::probe(dev).is_some() {
        return None;
    }
    probe(dev)
}

/// A little-endian integer of `b.len()` bytes (partition tables are
/// little-endian by definition).
fn le(b: &[u8]) -> u64 {
    wire::get_uint(b, Endian::Little).unwrap_or(0)
}

/// Formats a GUID from its on-disk form (first three fields little-endian).
fn guid_string(g: &[u8; 16]) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        le(&g[0..4]),
        le(&g[4..6]),
        le(&g[6..8]),
        g[8],
        g[9],
        g[10],
        g[11],
        g[12],
        g[13],
        g[14],
        g[15]
    )
}

/// GPT type GUIDs worth a name (gpart(8)'s aliases), and whether they mean UFS.
const GPT_TYPES: &[(&str, &str, bool)] = &[
    ("516e7cb6-6ecf-11d6-8ff8-00022d09712b", "freebsd-ufs", true),
    (
        "83bd6b9d-7f41-11dc-be0b-001560b84f0f",
        "freebsd-boot",
        false,
    ),
    (
        "516e7cb5-6ecf-11d6-8ff8-00022d09712b",
        "freebsd-swap",
        false,
    ),
    ("516e7cba-6ecf-11d6-8ff8-00022d09712b", "freebsd-zfs", false),
    ("516e7cb4-6ecf-11d6-8ff8-00022d09712b", "freebsd", false),
    ("c12a7328-f81f-11d2-ba4b-00a0c93ec93b", "efi", false),
    ("21686148-6449-6e6f-744e-656564454649", "bios-boot", false),
    ("49f48d5a-b10e-11dc-b99b-0019d1879648", "netbsd-ffs", true),
    ("55465300-0000-11aa-aa11-00306543ecac", "apple-ufs", true),
    ("0fc63daf-8483-4772-8e79-3d69d8477de4", "linux-data", false),
    ("0657fd6d-a4ab-43c4-84e5-0933c84b4f4f", "linux-swap", false),
    (
        "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7",
        "ms-basic-data",
        false,
    ),
];

fn probe_gpt(dev: &dyn Device) -> Option<Disk> {
    for sector in [SECTOR, 4096] {
        if let Some(p) = gpt_at(dev, sector, 1) {
            return Some(Disk {
                scheme: Scheme::Gpt,
                notes: Vec::new(),
                partitions: p,
            });
        }
        // The backup header is in the last LBA; its table lies before it.
        let last = (dev.len() / sector).checked_sub(1)?;
        if last > 1 {
            if let Some(p) = gpt_at(dev, sector, last) {
                return Some(Disk {
                    scheme: Scheme::Gpt,
                    notes: vec![format!(
                        "the primary GPT header (LBA 1) is damaged; using the backup at LBA {last}"
                    )],
                    partitions: p,
                });
            }
        }
    }
    None
}

/// Reads and checks the GPT header at `lba` and its entry table.
fn gpt_at(dev: &dyn Device, sector: u64, lba: u64) -> Option<Vec<Partition>> {
    let raw = read(dev, lba.checked_mul(sector)?, sector)?;
    let h = GptHdr::decode(&raw, Endian::Little)?;
    if &h.hdr_sig != GPT_HDR_SIG || h.hdr_lba_self != lba {
        return None;
    }
    let hsize = usize::try_from(h.hdr_size).ok()?;
    if hsize < GptHdr::SIZE || hsize as u64 > sector {
        return None;
    }
    let mut covered = raw.get(..hsize)?.to_vec();
    covered.get_mut(16..20)?.fill(0);
    if GPT_CRC.checksum(&covered) != h.hdr_crc_self {
        return None;
    }
    let entsz = u64::from(h.hdr_entsz);
    if h.hdr_entries > GPT_MAX_ENTRIES
        || entsz < GptEnt::SIZE as u64
        || entsz % 8 != 0
        || entsz > 4096
    {
        return None;
    }
    let table = read(
        dev,
        h.hdr_lba_table.checked_mul(sector)?,
        u64::from(h.hdr_entries) * entsz,
    )?;
    if GPT_CRC.checksum(&table) != h.hdr_crc_table {
        return None;
    }
    let mut parts = Vec::new();
    for (i, e) in table.chunks_exact(usize::try_from(entsz).ok()?).enumerate() {
        let e = GptEnt::decode(e, Endian::Little)?;
        if e.ent_type == [0u8; 16] || e.ent_lba_end < e.ent_lba_start {
            continue;
        }
        let guid = guid_string(&e.ent_type);
        let (kind, ufs) = GPT_TYPES
            .iter()
            .find(|(g, _, _)| *g == guid)
            .map_or((guid.clone(), false), |(_, n, u)| (n.to_string(), *u));
        parts.push(Partition {
            name: (i + 1).to_string(),
            scheme: Scheme::Gpt,
            kind,
            offset: e.ent_lba_start.checked_mul(sector)?,
            size: (e.ent_lba_end - e.ent_lba_start + 1).checked_mul(sector)?,
            ufs_type: ufs,
            container: false,
        });
    }
    Some(parts)
}

/// The four entries of the MBR or EBR at `at`, if it has the boot signature
/// and every entry's boot flag is 0x00 or 0x80 (a FAT boot sector has the
/// signature too, but code where the flags are).
fn dos_entries(dev: &dyn Device, at: u64) -> Option<[DosPartition; 4]> {
    let s = read(dev, at, SECTOR)?;
    if s.get(DOSMAGICOFFSET..DOSMAGICOFFSET + 2)? != [0x55, 0xaa] {
        return None;
    }
    let e = |i: usize| DosPartition::decode(s.get(DOSPARTOFF + 16 * i..)?, Endian::Little);
    let entries = [e(0)?, e(1)?, e(2)?, e(3)?];
    entries
        .iter()
        .all(|p| p.dp_flag == 0 || p.dp_flag == 0x80)
        .then_some(entries)
}

fn mbr_kind(typ: u8) -> String {
    let name = match typ {
        DOSPTYP_386BSD => " (freebsd)",
        0xa6 => " (openbsd)",
        0xa9 => " (netbsd)",
        0x83 => " (linux)",
        0x82 => " (linux-swap)",
        0x05 | 0x0f | 0x85 => " (extended)",
        0xef => " (efi)",
        DOSPTYP_PMBR => " (gpt protective)",
        0x07 => " (ntfs)",
        0x0b | 0x0c => " (fat32)",
        0x06 | 0x0e => " (fat16)",
        _ => "",
    };
    format!("0x{typ:02x}{name}")
}

fn probe_mbr(dev: &dyn Device) -> Option<Disk> {
    let entries = dos_entries(dev, 0)?;
    if !entries.iter().any(|p| p.dp_typ != 0 && p.dp_size != 0) {
        return None;
    }
    let mut disk = Disk {
        scheme: Scheme::Mbr,
        notes: Vec::new(),
        partitions: Vec::new(),
    };
    let mut next_logical = 5;
    for (i, p) in entries.iter().enumerate() {
        if p.dp_typ == 0 || p.dp_size == 0 {
            continue;
        }
        if p.dp_typ == DOSPTYP_PMBR {
            disk.notes
                .push("protective MBR, but neither GPT header is valid".into());
        }
        let extended = DOSPTYP_EXTENDED.contains(&p.dp_typ);
        slice(dev, (i + 1).to_string(), p, 0, extended, &mut disk);
        if extended {
            logicals(dev, u64::from(p.dp_start), &mut next_logical, &mut disk);
        }
    }
    Some(disk)
}

/// Adds the MBR or EBR entry `p` (whose start counts from sector `base`),
/// and the partitions of the BSD label inside it: FreeBSD, OpenBSD and
/// NetBSD slices carry one in their second sector.
fn slice(
    dev: &dyn Device,
    name: String,
    p: &DosPartition,
    base: u64,
    extended: bool,
    disk: &mut Disk,
) {
    let offset = (base + u64::from(p.dp_start)) * SECTOR;
    let size = u64::from(p.dp_size) * SECTOR;
    let label = if matches!(p.dp_typ, DOSPTYP_386BSD | 0xa6 | 0xa9) {
        bsd_label(dev, offset, size, &name)
    } else {
        None
    };
    disk.partitions.push(Partition {
        name,
        scheme: Scheme::Mbr,
        kind: mbr_kind(p.dp_typ),
        offset,
        size,
        ufs_type: false,
        container: extended || label.is_some(),
    });
    disk.partitions.extend(label.unwrap_or_default());
}

/// Follows the EBR chain of the extended partition starting at sector
/// `ext`: each EBR's first entry is a logical partition (relative to that
/// EBR), its second the next EBR (relative to the extended partition).
fn logicals(dev: &dyn Device, ext: u64, next: &mut usize, disk: &mut Disk) {
    let mut ebr = ext;
    for _ in 0..EBR_MAX_HOPS {
        let Some([p, link, ..]) = dos_entries(dev, ebr * SECTOR) else {
            return;
        };
        if p.dp_typ != 0 && p.dp_size != 0 {
            slice(dev, next.to_string(), &p, ebr, false, disk);
            *next += 1;
        }
        if link.dp_size == 0 || !DOSPTYP_EXTENDED.contains(&link.dp_typ) {
            return;
        }
        let following = ext + u64::from(link.dp_start);
        if following == ebr {
            return;
        }
        ebr = following;
    }
}

/// The partitions of a BSD label in the second sector of the area at
/// `base` (a slice, or the whole image), `len` bytes long. Offsets in a
/// label count from the start of the disk; like FreeBSD's g_part_bsd, the
/// raw partition's offset is taken as the area's start, entries before it
/// are ignored, and the raw partition itself is not listed.
fn bsd_label(dev: &dyn Device, base: u64, len: u64, prefix: &str) -> Option<Vec<Partition>> {
    let raw = read(dev, base.checked_add(SECTOR)?, SECTOR)?;
    let l = Disklabel::decode(&raw, Endian::Little)?;
    if l.d_magic != BSD_MAGIC || l.d_magic2 != BSD_MAGIC || l.d_npartitions > BSD_NPARTS_MAX {
        return None;
    }
    let n = usize::from(l.d_npartitions);
    let end = Disklabel::SIZE + n * BsdPartition::SIZE;
    let sum = raw
        .get(..end)?
        .chunks_exact(2)
        // Two-byte chunks: `le` of two bytes fits in 16 bits.
        .fold(0u16, |s, w| s ^ u16::try_from(le(w)).unwrap_or(0));
    if sum != 0 {
        return None;
    }
    let secsize = match u64::from(l.d_secsize) {
        s @ (512 | 1024 | 2048 | 4096) => s,
        _ => SECTOR,
    };
    let entry = |i: usize| {
        BsdPartition::decode(
            raw.get(Disklabel::SIZE + i * BsdPartition::SIZE..)?,
            Endian::Little,
        )
    };
    let rebase = if n > BSD_PART_RAW {
        entry(BSD_PART_RAW)?.p_offset
    } else {
        0
    };
    let mut parts = Vec::new();
    for i in 0..n {
        let p = entry(i)?;
        if i == BSD_PART_RAW || p.p_size == 0 || p.p_offset < rebase {
            continue;
        }
        let offset = u64::from(p.p_offset - rebase) * secsize;
        let size = u64::from(p.p_size) * secsize;
        if offset >= len {
            continue;
        }
        let letter = char::from(b'a' + u8::try_from(i).ok()?);
        parts.push(Partition {
            name: format!("{prefix}{letter}"),
            scheme: Scheme::BsdLabel,
            kind: match p.p_fstype {
                FS_BSDFFS => "4.2BSD".into(),
                1 => "swap".into(),
                0 => "unused".into(),
                t => format!("fstype {t}"),
            },
            offset: base + offset,
            size,
            ufs_type: p.p_fstype == FS_BSDFFS,
            container: false,
        });
    }
    Some(parts)
}

/// A read-only view of part of a device, to look for a superblock inside a
/// partition without opening it.
struct View<'a> {
    dev: &'a dyn Device,
    base: u64,
    len: u64,
}

impl Device for View<'_> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > self.len) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "past the end of the partition",
            ));
        }
        self.dev.read_at(self.base + offset, buf)
    }
    fn write_at(&mut self, _: u64, _: &[u8]) -> std::io::Result<()> {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "read-only view",
        ))
    }
    fn len(&self) -> u64 {
        self.len
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn is_read_only(&self) -> bool {
        true
    }
}

impl Partition {
    /// Whether a UFS superblock magic is where one belongs in it.
    pub fn holds_ufs(&self, dev: &dyn Device) -> bool {
        let len = self.size.min(dev.len().saturating_sub(self.offset));
        crate::Superblock::probe(&View {
            dev,
            base: self.offset,
            len,
        })
        .is_some()
    }
}

fn names(parts: &[&Partition]) -> String {
    if parts.is_empty() {
        return "none".into();
    }
    parts
        .iter()
        .map(|p| format!("{} {}", p.name, p.kind))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Chooses the partition to work in: the one named `want` (with or without
/// FreeBSD's `p`/`s` prefix), or, with no name, the only partition that
/// holds a UFS file system. `Ok(None)` means the whole image: it has a
/// superblock where a bare file system has one, or no partition table.
pub fn locate(dev: &dyn Device, want: Option<&str>) -> Result<Option<Partition>, DiskError> {
    let Some(want) = want else {
        let Some(disk) = disk_of(dev) else {
            return Ok(None);
        };
        let leaves: Vec<&Partition> = disk.partitions.iter().filter(|p| !p.container).collect();
        let ufs: Vec<&Partition> = leaves
            .iter()
            .copied()
            .filter(|p| p.holds_ufs(dev))
            .collect();
        return match ufs.as_slice() {
            [one] => checked(dev, (*one).clone()),
            [] => Err(DiskError::NoUfs {
                scheme: disk.scheme,
                have: names(&leaves),
            }),
            _ => Err(DiskError::Ambiguous {
                scheme: disk.scheme,
                names: names(&ufs),
            }),
        };
    };
    let Some(disk) = probe(dev) else {
        return Err(DiskError::NotADisk(want.into()));
    };
    let bare = want
        .strip_prefix(['p', 's'])
        .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(want);
    let Some(p) = disk.partitions.iter().find(|p| p.name == bare) else {
        return Err(DiskError::NoSuchPartition {
            scheme: disk.scheme,
            want: want.into(),
            have: names(&disk.partitions.iter().collect::<Vec<_>>()),
        });
    };
    if p.container {
        return Err(DiskError::Container(p.name.clone()));
    }
    checked(dev, p.clone())
}

fn checked(dev: &dyn Device, p: Partition) -> Result<Option<Partition>, DiskError> {
    let end = p.offset.saturating_add(p.size);
    if end > dev.len() {
        return Err(DiskError::OutsideImage {
            name: p.name,
            end,
            len: dev.len(),
        });
    }
    Ok(Some(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mbr(entries: &[(u8, u32, u32)], len: usize) -> Vec<u8> {
        let mut d = vec![0u8; len];
        for (i, &(t, s, n)) in entries.iter().enumerate() {
            let p = DosPartition {
                dp_typ: t,
                dp_start: s,
                dp_size: n,
                ..DosPartition::zeroed()
            };
            p.encode_into(&mut d[DOSPARTOFF + 16 * i..], Endian::Little);
        }
        d[510] = 0x55;
        d[511] = 0xaa;
        d
    }

    #[test]
    fn mbr_with_a_looping_ebr_chain_ends() {
        let mut d = mbr(&[(0x83, 1, 10), (0x05, 20, 100)], 200 * 512);
        // The EBR at sector 20 points at itself as the next EBR.
        let ebr = mbr(&[(0x83, 1, 5), (0x05, 0, 10)], 512);
        d[20 * 512..21 * 512].copy_from_slice(&ebr);
        let disk = probe(&d).unwrap();
        let names: Vec<_> = disk.partitions.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["1", "2", "5"]);
        assert_eq!(disk.partitions[2].offset, 21 * 512);
    }

    #[test]
    fn fat_boot_sector_is_not_an_mbr() {
        let mut d = mbr(&[(0x83, 1, 10)], 4096);
        d[DOSPARTOFF] = 0x3c; // code, not a boot flag
        assert!(probe(&d).is_none());
    }

    #[test]
    fn naming_a_partition_on_a_bare_image_is_an_error() {
        let d = vec![0u8; 8192];
        assert_eq!(locate(&d, None), Ok(None));
        assert!(matches!(locate(&d, Some("1")), Err(DiskError::NotADisk(_))));
    }

    #[test]
    fn partition_past_the_end_is_refused() {
        let d = mbr(&[(0x83, 1, 1000)], 4096);
        assert!(matches!(
            locate(&d, Some("s1")),
            Err(DiskError::OutsideImage { .. })
        ));
    }
}
