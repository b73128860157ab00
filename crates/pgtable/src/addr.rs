//! Typed physical and virtual addresses.
//!
//! Separate types keep a physical address from being used where the walk
//! expects a virtual one; both are plain `u64` underneath, as in Linux
//! (`phys_addr_t`, `unsigned long`).

use core::fmt;

/// Size of a base page and of every page-table frame.
pub const PAGE_SIZE: u64 = 4096;
/// `PAGE_SHIFT`.
pub const PAGE_SHIFT: u32 = 12;

/// A physical address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct PhysAddr(pub u64);

/// A virtual address. Whether it is canonical is the architecture's question
/// ([`crate::PagingGeometry::is_canonical`]), so any `u64` can be held.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct VirtAddr(pub u64);

macro_rules! addr_common {
    ($t:ident, $tag:literal) => {
        impl $t {
            /// The raw value.
            #[inline]
            #[must_use]
            pub const fn as_u64(self) -> u64 {
                self.0
            }
            /// Whether the address is a multiple of `align` (a power of two).
            #[inline]
            #[must_use]
            pub const fn is_aligned(self, align: u64) -> bool {
                self.0 & (align - 1) == 0
            }
            /// The address `off` bytes further, wrapping as the hardware does.
            #[inline]
            #[must_use]
            pub const fn wrapping_add(self, off: u64) -> Self {
                Self(self.0.wrapping_add(off))
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($tag, "({:#x})"), self.0)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:#018x}", self.0)
            }
        }
        impl fmt::LowerHex for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::LowerHex::fmt(&self.0, f)
            }
        }
    };
}
addr_common!(PhysAddr, "PhysAddr");
addr_common!(VirtAddr, "VirtAddr");
