//! Where an architecture puts each kernel region (its memory map).

use core::ops::Range;

/// The kernel regions the library and the simulator know by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionKind {
    /// Direct mapping of all physical memory (`PAGE_OFFSET`).
    DirectMap,
    /// vmalloc and ioremap space.
    Vmalloc,
    /// The `struct page` array (`VMEMMAP_START`).
    Vmemmap,
    /// KASAN shadow memory.
    KasanShadow,
    /// Per-CPU entry area (and first-chunk percpu on some setups).
    CpuEntryArea,
    /// Kernel text mapping.
    KernelText,
    /// Loadable modules.
    Modules,
    /// Fixed mappings.
    Fixmap,
    /// Persistent kernel mappings of high memory (`PKMAP_BASE`, 32-bit
    /// `CONFIG_HIGHMEM`).
    Pkmap,
    /// x86-64: the per-process LDT remap of page-table isolation
    /// (`LDT_BASE_ADDR`).
    LdtRemap,
    /// x86-64: the `%esp` fixup stacks (`ESPFIX_BASE_ADDR`).
    Espfix,
    /// x86-64: the EFI runtime services mapping (`EFI_VA_END` up to
    /// `EFI_VA_START`).
    EfiRuntime,
}

/// One region of the kernel memory map.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// What the region holds.
    pub kind: RegionKind,
    /// A descriptive name, from the memory-map documentation (ptdump prints
    /// Linux's marker names instead, see [`crate::ptdump`]).
    pub name: &'static str,
    /// First address.
    pub start: u64,
    /// Last address (inclusive, so a region can end at the top of memory).
    pub last: u64,
}

impl core::fmt::Debug for Region {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Region")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("start", &format_args!("{:#x}", self.start))
            .field("last", &format_args!("{:#x}", self.last))
            .finish()
    }
}

impl Region {
    /// The region as a half-open range; `end` is 0 when it reaches the top.
    #[must_use]
    pub const fn range(&self) -> Range<u64> {
        self.start..self.last.wrapping_add(1)
    }

    /// Size in bytes.
    #[must_use]
    pub const fn size(&self) -> u64 {
        self.last - self.start + 1
    }

    /// Whether `va` falls inside.
    #[must_use]
    pub const fn contains(&self, va: u64) -> bool {
        va >= self.start && va <= self.last
    }
}

/// An architecture's kernel memory map, in address order.
#[derive(Clone, Copy, Debug)]
pub struct KernelLayout {
    /// The regions, sorted by start address.
    pub regions: &'static [Region],
}

impl KernelLayout {
    /// The region of a kind, if this layout has one.
    #[must_use]
    pub fn get(&self, kind: RegionKind) -> Option<&'static Region> {
        self.regions.iter().find(|r| r.kind == kind)
    }

    /// The region holding `va`, if any.
    #[must_use]
    pub fn region_of(&self, va: u64) -> Option<&'static Region> {
        self.regions.iter().find(|r| r.contains(va))
    }
}

/// A [`Region`] in a `const` or `static` memory-map table.
#[must_use]
pub(crate) const fn region(kind: RegionKind, name: &'static str, start: u64, last: u64) -> Region {
    Region {
        kind,
        name,
        start,
        last,
    }
}
