//! The one place where on-disk byte order is turned into native values.
//!
//! Every on-disk structure is declared once with [`wire_struct!`], using the C
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
