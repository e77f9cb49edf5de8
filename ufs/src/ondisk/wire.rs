//! The one place where on-disk byte order is turned into native values.
//!
//! Every on-disk structure is declared once with `wire_struct!`, using the C
//! field names of FreeBSD's headers. The macro produces a little-endian and a
//! big-endian zerocopy layout (so `size_of` and `offset_of!` can be pinned
//! against the C layout at compile time) and a native struct with plain
//! integers, plus the two conversions. Nothing outside `ondisk/` sees the
//! byte-order-typed fields.

use crate::Endian;

macro_rules! wire_scalar {
    ($modname:ident, $order:ty) => {
        /// Byte-order-typed wire layouts for one endianness.
        pub mod $modname {
            use zerocopy::byteorder::{I16, I32, I64, U16, U32, U64};

            /// Maps a native integer (or array of them) to its wire representation.
            pub trait Wire: Sized {
                /// The zerocopy type holding this value on disk.
                type Raw: zerocopy::FromBytes
                    + zerocopy::IntoBytes
                    + zerocopy::KnownLayout
                    + zerocopy::Immutable
                    + zerocopy::Unaligned
                    + Copy;
                /// Decodes from the wire form.
                fn get(raw: &Self::Raw) -> Self;
                /// Encodes into the wire form.
                fn put(&self) -> Self::Raw;
            }
            macro_rules! prim {
                ($t:ty, $raw:ty) => {
                    impl Wire for $t {
                        type Raw = $raw;
                        #[inline]
                        fn get(raw: &Self::Raw) -> Self {
                            raw.get()
                        }
                        fn put(&self) -> Self::Raw {
                            <$raw>::new(*self)
                        }
                    }
                };
            }
            prim!(u16, U16<$order>);
            prim!(i16, I16<$order>);
            prim!(u32, U32<$order>);
            prim!(i32, I32<$order>);
            prim!(u64, U64<$order>);
            prim!(i64, I64<$order>);
            impl Wire for u8 {
                type Raw = u8;
                fn get(raw: &u8) -> u8 {
                    *raw
                }
                fn put(&self) -> u8 {
                    *self
                }
            }
            impl Wire for i8 {
                type Raw = i8;
                fn get(raw: &i8) -> i8 {
                    *raw
                }
                fn put(&self) -> i8 {
                    *self
                }
            }
            impl<T: Wire + Copy, const N: usize> Wire for [T; N] {
                type Raw = [T::Raw; N];
                fn get(raw: &Self::Raw) -> Self {
                    core::array::from_fn(|i| T::get(&raw[i]))
                }
                fn put(&self) -> Self::Raw {
                    core::array::from_fn(|i| self[i].put())
                }
            }
        }
    };
}
wire_scalar!(le, zerocopy::byteorder::LittleEndian);
wire_scalar!(be, zerocopy::byteorder::BigEndian);

/// Declares an on-disk structure: raw little/big-endian layouts and a native
/// struct with the same field names, with `decode`/`encode` between them.
macro_rules! wire_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident ($rawname:ident, size = $size:expr) {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        ///
        /// Field names and meanings are those of the FreeBSD C headers.
        #[derive(Clone, Debug, PartialEq, Eq)]
        #[allow(missing_docs)]
        $vis struct $name {
            $( $(#[$fmeta])* pub $field: $ty ),*
        }

        #[allow(missing_docs, non_snake_case)]
        pub mod $rawname {
            macro_rules! raw_for {
                ($m:ident) => {
                    /// Wire layout in one byte order (C field names, C offsets).
                    #[derive(zerocopy::FromBytes, zerocopy::IntoBytes, zerocopy::KnownLayout,
                             zerocopy::Immutable, zerocopy::Unaligned, Clone, Copy)]
                    #[repr(C)]
                    pub struct $m {
                        $( pub $field: <$ty as $crate::ondisk::wire::$m::Wire>::Raw ),*
                    }
                };
            }
            // The inner macro names the module whose `Wire` trait applies.
            #[allow(non_camel_case_types)]
            mod inner {
                raw_for!(le);
                raw_for!(be);
            }
            pub use inner::{le as Le, be as Be};
            const _: () = assert!(core::mem::size_of::<Le>() == $size);
            const _: () = assert!(core::mem::size_of::<Be>() == $size);

            /// The structure read in place from borrowed bytes, one field
            /// at a time: for hot loops that look at a few fields of many
            /// records (fsck's inode scan) and would waste time decoding
            /// every field of each.
            #[derive(Clone, Copy)]
            pub enum View<'a> {
                /// Little-endian bytes.
                Le(&'a Le),
                /// Big-endian bytes.
                Be(&'a Be),
            }

            impl<'a> View<'a> {
                /// A view of the first `SIZE` bytes of `bytes` (`None`
                /// when fewer are given).
                pub fn new(bytes: &'a [u8], order: $crate::Endian) -> Option<Self> {
                    use zerocopy::FromBytes;
                    let bytes = bytes.get(..$size)?;
                    Some(match order {
                        $crate::Endian::Little => View::Le(Le::ref_from_bytes(bytes).ok()?),
                        $crate::Endian::Big => View::Be(Be::ref_from_bytes(bytes).ok()?),
                    })
                }

                /// Every field, decoded (what `decode` gives for the
                /// same bytes).
                pub fn to_native(&self) -> super::$name {
                    super::$name { $( $field: self.$field() ),* }
                }

                $(
                    $(#[$fmeta])*
                    #[inline]
                    pub fn $field(&self) -> $ty {
                        match self {
                            View::Le(r) => <$ty as $crate::ondisk::wire::le::Wire>::get(&r.$field),
                            View::Be(r) => <$ty as $crate::ondisk::wire::be::Wire>::get(&r.$field),
                        }
                    }
                )*
            }
        }

        impl $name {
            /// Size of the structure on disk, in bytes.
            pub const SIZE: usize = $size;

            /// Decodes from the first `SIZE` bytes of `bytes`.
            /// Returns `None` when fewer bytes are given.
            pub fn decode(bytes: &[u8], order: $crate::Endian) -> Option<Self> {
                use zerocopy::FromBytes;
                let bytes = bytes.get(..$size)?;
                Some(match order {
                    $crate::Endian::Little => {
                        let r = $rawname::Le::read_from_bytes(bytes).ok()?;
                        Self { $( $field: <$ty as $crate::ondisk::wire::le::Wire>::get(&r.$field) ),* }
                    }
                    $crate::Endian::Big => {
                        let r = $rawname::Be::read_from_bytes(bytes).ok()?;
                        Self { $( $field: <$ty as $crate::ondisk::wire::be::Wire>::get(&r.$field) ),* }
                    }
                })
            }

            /// All fields zero.
            pub fn zeroed() -> Self {
                use zerocopy::FromZeros;
                let r = $rawname::Le::new_zeroed();
                Self { $( $field: <$ty as $crate::ondisk::wire::le::Wire>::get(&r.$field) ),* }
            }

            /// Encodes into the first `SIZE` bytes of `out`, leaving the rest alone.
            /// Returns `false` when `out` is too short.
            pub fn encode_into(&self, out: &mut [u8], order: $crate::Endian) -> bool {
                use zerocopy::IntoBytes;
                let Some(out) = out.get_mut(..$size) else { return false };
                match order {
                    $crate::Endian::Little => {
                        let r = $rawname::Le { $( $field: <$ty as $crate::ondisk::wire::le::Wire>::put(&self.$field) ),* };
                        out.copy_from_slice(r.as_bytes());
                    }
                    $crate::Endian::Big => {
                        let r = $rawname::Be { $( $field: <$ty as $crate::ondisk::wire::be::Wire>::put(&self.$field) ),* };
                        out.copy_from_slice(r.as_bytes());
                    }
                }
                true
            }

            /// Encodes into a fresh buffer of `SIZE` bytes.
            pub fn encode(&self, order: $crate::Endian) -> Vec<u8> {
                let mut v = vec![0u8; $size];
                let _ = self.encode_into(&mut v, order);
                v
            }
        }
    };
}
pub(crate) use wire_struct;

/// Reads a `u32` in the image's byte order (for arrays of pointers and maps
/// that are not worth a struct, such as indirect blocks and cluster sums).
pub fn get_u32(b: &[u8], order: Endian) -> Option<u32> {
    let a: [u8; 4] = b.get(..4)?.try_into().ok()?;
    Some(match order {
        Endian::Little => u32::from_le_bytes(a),
        Endian::Big => u32::from_be_bytes(a),
    })
}

/// Reads an `i64` in the image's byte order.
pub fn get_i64(b: &[u8], order: Endian) -> Option<i64> {
    let a: [u8; 8] = b.get(..8)?.try_into().ok()?;
    Some(match order {
        Endian::Little => i64::from_le_bytes(a),
        Endian::Big => i64::from_be_bytes(a),
    })
}

/// Writes a `u32` in the image's byte order.
pub fn put_u32(b: &mut [u8], order: Endian, v: u32) -> bool {
    let Some(d) = b.get_mut(..4) else {
        return false;
    };
    d.copy_from_slice(&match order {
        Endian::Little => v.to_le_bytes(),
        Endian::Big => v.to_be_bytes(),
    });
    true
}

/// Writes an `i64` in the image's byte order.
pub fn put_i64(b: &mut [u8], order: Endian, v: i64) -> bool {
    let Some(d) = b.get_mut(..8) else {
        return false;
    };
    d.copy_from_slice(&match order {
        Endian::Little => v.to_le_bytes(),
        Endian::Big => v.to_be_bytes(),
    });
    true
}

/// Reads an `i32` in the image's byte order.
pub fn get_i32(b: &[u8], order: Endian) -> Option<i32> {
    get_u32(b, order).map(|v| i32::from_ne_bytes(v.to_ne_bytes()))
}

/// Reads an unsigned integer of `b.len()` bytes (1 to 8) in the image's
/// byte order: raw field access by C name (`ufs debug`), where the width
/// comes from a field table rather than a type. `None` for other widths.
pub fn get_uint(b: &[u8], order: Endian) -> Option<u64> {
    if b.is_empty() || b.len() > 8 {
        return None;
    }
    let mut a = [0u8; 8];
    Some(match order {
        Endian::Little => {
            a[..b.len()].copy_from_slice(b);
            u64::from_le_bytes(a)
        }
        Endian::Big => {
            a[8 - b.len()..].copy_from_slice(b);
            u64::from_be_bytes(a)
        }
    })
}

/// Writes the low `b.len()` bytes (1 to 8) of `v` in the image's byte order
/// (the value is truncated to the field, as a C assignment would). Returns
/// `false` for other widths.
pub fn put_uint(b: &mut [u8], order: Endian, v: u64) -> bool {
    let n = b.len();
    if n == 0 || n > 8 {
        return false;
    }
    match order {
        Endian::Little => b.copy_from_slice(&v.to_le_bytes()[..n]),
        Endian::Big => b.copy_from_slice(&v.to_be_bytes()[8 - n..]),
    }
    true
}

/// What the `fs_magic` word of a superblock says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsMagic {
    /// `FS_UFS1_MAGIC`.
    Ufs1,
    /// `FS_UFS2_MAGIC`.
    Ufs2,
    /// `FS_BAD_MAGIC`: newfs or growfs was interrupted while writing it.
    Building,
}

/// The byte order in which the four bytes at `fs_magic` read as one of the
/// superblock magics, and which one: how an image's byte order is decided.
/// Little-endian is tried first (a word cannot be a magic both ways).
pub fn fs_magic(m: [u8; 4]) -> Option<(Endian, FsMagic)> {
    use super::consts::{FS_BAD_MAGIC, FS_UFS1_MAGIC, FS_UFS2_MAGIC};
    [
        (Endian::Little, i32::from_le_bytes(m)),
        (Endian::Big, i32::from_be_bytes(m)),
    ]
    .into_iter()
    .find_map(|(endian, v)| match v {
        FS_UFS2_MAGIC => Some((endian, FsMagic::Ufs2)),
        FS_UFS1_MAGIC => Some((endian, FsMagic::Ufs1)),
        FS_BAD_MAGIC => Some((endian, FsMagic::Building)),
        _ => None,
    })
}

/// The one rule for a block pointer read from disk (`ufs1_daddr_t` is
/// `int32_t`, `ufs2_daddr_t` is `int64_t`, dinode.h; a UFS1 pointer is
/// sign-extended, as fsck_ffs's `IBLK` does). Zero is a hole; a negative
/// value is never a valid address (fsck_ffs `chkrange` rejects `blk <= 0`),
/// so it becomes [`BAD_DADDR`], which no range check accepts.
pub fn daddr(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(BAD_DADDR)
}

/// The address every negative on-disk pointer decodes to.
pub const BAD_DADDR: u64 = u64::MAX;

/// A fragment address as a `ufs1_daddr_t`: one that does not fit (only
/// [`BAD_DADDR`] in practice, since a UFS1 file system has fewer than 2³¹
/// fragments) is stored as -1.
pub fn ufs1_daddr(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(-1)
}

/// A fragment address as a `ufs2_daddr_t` (-1 for [`BAD_DADDR`]).
pub fn ufs2_daddr(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(-1)
}

/// Reads the block pointer at the start of `b`: 4 bytes in UFS1, 8 in UFS2.
pub fn get_daddr(b: &[u8], ufs2: bool, order: Endian) -> Option<u64> {
    if ufs2 {
        get_i64(b, order).map(daddr)
    } else {
        get_i32(b, order).map(|v| daddr(i64::from(v)))
    }
}

/// Writes a block pointer at the start of `b` (4 bytes in UFS1, 8 in UFS2).
pub fn put_daddr(b: &mut [u8], ufs2: bool, order: Endian, v: u64) -> bool {
    if ufs2 {
        put_i64(b, order, ufs2_daddr(v))
    } else {
        put_u32(b, order, u32::from_ne_bytes(ufs1_daddr(v).to_ne_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint_of_any_width_round_trips_in_both_orders() {
        for order in [Endian::Little, Endian::Big] {
            for n in 1..=8usize {
                let mut b = vec![0u8; n];
                let v = 0x0102_0304_0506_0708u64;
                assert!(put_uint(&mut b, order, v));
                let mask = if n == 8 {
                    u64::MAX
                } else {
                    (1u64 << (8 * n)) - 1
                };
                assert_eq!(get_uint(&b, order), Some(v & mask));
                let first = if order == Endian::Big { 8 - n + 1 } else { 8 };
                assert_eq!(u64::from(b[0]), first as u64, "{order:?} {n}");
            }
        }
        assert_eq!(get_uint(&[], Endian::Little), None);
        assert_eq!(get_uint(&[0; 9], Endian::Little), None);
    }

    #[test]
    fn magics_decide_the_byte_order() {
        use crate::ondisk::consts::{FS_BAD_MAGIC, FS_UFS1_MAGIC, FS_UFS2_MAGIC};
        assert_eq!(
            fs_magic(FS_UFS2_MAGIC.to_le_bytes()),
            Some((Endian::Little, FsMagic::Ufs2))
        );
        assert_eq!(
            fs_magic(FS_UFS1_MAGIC.to_be_bytes()),
            Some((Endian::Big, FsMagic::Ufs1))
        );
        assert_eq!(
            fs_magic(FS_BAD_MAGIC.to_be_bytes()),
            Some((Endian::Big, FsMagic::Building))
        );
        assert_eq!(fs_magic([0, 0, 0, 0]), None);
    }

    #[test]
    fn negative_pointers_are_bad_in_both_versions() {
        for order in [Endian::Little, Endian::Big] {
            let mut b = [0u8; 8];
            assert!(put_u32(&mut b, order, u32::MAX - 6)); // -7
            assert_eq!(get_daddr(&b, false, order), Some(BAD_DADDR));
            assert!(put_u32(&mut b, order, 0x8000_0000));
            assert_eq!(get_daddr(&b, false, order), Some(BAD_DADDR));
            assert!(put_u32(&mut b, order, 0x7fff_ffff));
            assert_eq!(get_daddr(&b, false, order), Some(0x7fff_ffff));
            assert!(put_i64(&mut b, order, -1));
            assert_eq!(get_daddr(&b, true, order), Some(BAD_DADDR));
            assert!(put_daddr(&mut b, false, order, BAD_DADDR));
            assert_eq!(get_i32(&b, order), Some(-1));
            assert!(put_daddr(&mut b, true, order, 1 << 40));
            assert_eq!(get_daddr(&b, true, order), Some(1 << 40));
        }
    }
}
