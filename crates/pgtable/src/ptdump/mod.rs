//! ptdump: page tables printed the way Linux's debugfs `page_tables` files
//! print them, for every paging mode.
//!
//! [`dump`] writes to any [`core::fmt::Write`] what Linux 6.17 shows in
//! `/sys/kernel/debug/page_tables/kernel` (x86, and `kernel_page_tables` on
//! arm64, riscv and arm) for the tables under one root: on x86 also
//! `current_kernel` and, given a PTI user-mode root, `current_user`. A kernel
//! built on this crate can print its own tables with it; the simulator's
//! `pgtable ptdump` does the same for its machines.
//!
//! The dump is made in three steps, each the counterpart of Linux code:
//!
//! - **sweep** (`sweep.rs`): the walk of `mm/pagewalk.c` as `mm/ptdump.c`
//!   drives it (`walk_page_range_novma()` with the `ptdump_*_entry` and
//!   `ptdump_hole` callbacks), or arm's own `walk_pgd()` of
//!   `arch/arm/mm/dump.c`. It calls `note_page(addr, level, val)` for every
//!   leaf, every empty entry and every PTE, in address order, and passes
//!   each entry it meets to the x86 `effective_prot()` callback.
//! - **model** (`model.rs`): each architecture's marker list
//!   (`address_markers[]`) and its `note_page()`, which coalesces runs of
//!   entries of one level with equal printed attributes into one line and
//!   prints a marker header when a run reaches the next marker. The
//!   coalescing is Linux's, quirks included: markers are noticed only when
//!   an entry is noted at or past them, x86 advances one marker per entry,
//!   arm64 two, riscv all of them; riscv and arm print mapped lines only.
//! - **render** (`render.rs`): the line formats (`printk_prot()`,
//!   `dump_prot()`, `dump_addr()`), byte for byte.
//!
//! Tables are only read, through [`TableMemory`] reads of the entries the
//! walk reaches; nothing is ever written, and no table content can make the
//! dump panic (a garbage entry is shown as whatever it decodes to).
//!
//! # Where the dump differs from Linux, and why
//!
//! - Markers are placed from the library's memory map
//!   ([`KernelPolicy::layout`](crate::KernelPolicy::layout)), not Linux's, where the two
//!   differ (the x86-64 fixmap starts at the library's
//!   [`RegionKind::Fixmap`] start, arm's fixmap at 0xffc8_0000, ...);
//!   [`Options::region_starts`] moves the regions KASLR places
//!   (`page_offset_base`, `vmalloc_base`, `vmemmap_base`). Markers Linux
//!   derives from a region the library does not list are derived the way
//!   Linux derives them: arm64's PCI I/O window (`VMEMMAP_END + 8 MiB`,
//!   16 MiB), riscv's (the 16 MiB below `VMEMMAP_START`), x86-32's LDT remap
//!   (the PMD below the CPU entry area), arm's FDT area (0xff80_0000) and
//!   vector page (0xffff_0000).
//! - An upper-level entry that is not zero but decodes as not present is
//!   shown as empty (Linux's walk skips it without a `note_page()`, which
//!   merges it into the line before).
//! - arm: the library models the hardware tables only, so the PTE columns
//!   Linux takes from its software ("Linux view") PTEs are taken from the
//!   hardware entry: `USR` from AP\[1\], `ro` from AP\[2\], `NX` from XN,
//!   `SHD` from S, and the memory type from TEX/C/B (TEX remap off). Linux
//!   walks first-level entries in pairs (its 2 MiB `pgd_t`); so does this
//!   dump, and where the two halves of a pair are not of the shapes Linux
//!   builds (the odd half a table while the even one is not) the odd half is
//!   walked too, where Linux would not see it.
//! - Marking the top-level kernel entries of a space that differ from the
//!   kernel's ([`Options::out_of_sync`]) is this crate's addition; its lines
//!   start with `#`, which no Linux ptdump line does.
//!
//! [`TableMemory`]: crate::TableMemory
//! [`RegionKind::Fixmap`]: crate::arch::RegionKind::Fixmap

mod model;
mod render;
mod sweep;

use crate::addr::PhysAddr;
use crate::arch::{Arch, Level, RegionKind, SyncMethod};
use crate::memory::TableMemory;
use crate::space::PageTables;
use crate::walk::tables::EntryPtr;
use alloc::vec::Vec;
use core::fmt;
use lock_api::RawMutex;

/// Which Linux dumper's format a paging mode is printed in
/// ([`KernelPolicy::ptdump_format`](crate::KernelPolicy::ptdump_format)).
pub use crate::arch::PtdumpFormat as Format;

/// What to dump and how.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options<'a> {
    /// Mark each kernel entry of the dumped root (at the level the kernel
    /// copies into every space) that differs from the kernel root's, with a
    /// `#` line before the line holding its first address. Nothing is
    /// marked when the root is the kernel's, or where kernel and user halves
    /// have separate roots.
    pub out_of_sync: bool,
    /// On arm64 and riscv, whose Linux dumpers show the kernel half only,
    /// also dump the user half of the root, first, under a `User Space`
    /// marker (x86's name for it). x86 and arm always dump the whole
    /// address space, as Linux does.
    pub user: bool,
    /// Region starts that replace the memory map's for the markers: the
    /// bases KASLR chose (`page_offset_base` for [`RegionKind::DirectMap`],
    /// `vmalloc_base`, `vmemmap_base`).
    pub region_starts: &'a [(RegionKind, u64)],
}

/// One entry of the dumped root that differs from the kernel's.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SlotDiff {
    /// The level of the entry (the one the kernel copies into every space).
    pub level: Level,
    /// First virtual address the entry maps.
    pub start: u64,
    /// Bytes it maps.
    pub size: u64,
    /// Index of the entry in its table (the root slot for a top-level
    /// entry).
    pub index: u64,
    /// The kernel's entry.
    pub kernel: u64,
    /// The dumped root's entry.
    pub this: u64,
}

impl fmt::Debug for SlotDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlotDiff")
            .field("level", &self.level)
            .field("start", &format_args!("{:#x}", self.start))
            .field("size", &format_args!("{:#x}", self.size))
            .field("index", &self.index)
            .field("kernel", &format_args!("{:#x}", self.kernel))
            .field("this", &format_args!("{:#x}", self.this))
            .finish()
    }
}

/// One printed run of entries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RangeLine {
    /// The format it is printed in.
    pub format: Format,
    /// First address.
    pub start: u64,
    /// End (exclusive), as Linux prints it: 0 for the top of a 64-bit
    /// address space.
    pub end: u64,
    /// The logical level of the entries.
    pub level: Level,
    /// The level's name as this format prints it (`pmd`, `PGD`, ...).
    pub level_name: &'static str,
    /// The entry bits the format compares and prints (Linux's `prot`; on
    /// arm, a PTE's attributes recoded as Linux's software PTE bits). 0 for
    /// an empty range.
    pub prot: u64,
    /// Physical address of the first entry (printed by riscv only).
    pub pa: u64,
    /// The arm domain of the first-level entry, as printed (`KERNEL `, ...).
    pub domain: Option<&'static str>,
    /// Whether the PAE/64-bit NX bit exists (x86: 2-level paging has none).
    pub(crate) nx: bool,
}

impl fmt::Debug for RangeLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RangeLine")
            .field("format", &self.format)
            .field("start", &format_args!("{:#x}", self.start))
            .field("end", &format_args!("{:#x}", self.end))
            .field("level", &self.level)
            .field("level_name", &self.level_name)
            .field("prot", &format_args!("{:#x}", self.prot))
            .field("pa", &format_args!("{:#x}", self.pa))
            .field("domain", &self.domain)
            .finish()
    }
}

impl RangeLine {
    /// Size in bytes, as the address width wraps it.
    #[must_use]
    pub fn size(&self) -> u64 {
        let d = self.end.wrapping_sub(self.start);
        if self.word_bits() == 32 {
            d & 0xffff_ffff
        } else {
            d
        }
    }

    /// Whether the range maps anything (its `prot` is not zero).
    #[must_use]
    pub fn is_mapped(&self) -> bool {
        self.prot != 0
    }

    pub(crate) fn word_bits(&self) -> u32 {
        match self.format {
            Format::X86_32 | Format::Arm32 => 32,
            _ => 64,
        }
    }
}

/// One line of a dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// A marker header: `---[ name ]---`.
    Marker(&'static str),
    /// A run of entries.
    Range(RangeLine),
    /// x86's `... N entries skipped ... ` after a marker with a line limit
    /// (the ESPfix area's 16).
    Skipped(u64),
    /// Not Linux: an entry of the dumped root that differs from the
    /// kernel's ([`Options::out_of_sync`]).
    OutOfSync(SlotDiff),
}

impl fmt::Display for Item {
    /// The line as Linux prints it, without the newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Marker(name) => write!(f, "---[ {name} ]---"),
            Item::Range(r) => render::range(r, f),
            Item::Skipped(n) => {
                write!(
                    f,
                    "... {n} entr{} skipped ... ",
                    if *n == 1 { "y" } else { "ies" }
                )
            }
            Item::OutOfSync(d) => {
                let w = if d.start > 0xffff_ffff { 16 } else { 8 };
                let end = d.start.wrapping_add(d.size);
                let end = if w == 8 { end & 0xffff_ffff } else { end };
                write!(
                    f,
                    "# {} entry {} at 0x{:0w$x}-0x{:0w$x} differs from the kernel's: kernel has {:#x}, this root has {:#x}",
                    d.level,
                    d.index,
                    d.start,
                    end,
                    d.kernel,
                    d.this,
                    w = w
                )
            }
        }
    }
}

/// Why a dump stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpError {
    /// The root is neither the kernel's nor a registered space's (or its
    /// PTI user-mode root): nothing was read.
    UnknownRoot,
    /// The writer failed.
    Write,
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DumpError::UnknownRoot => "not a root of these page tables",
            DumpError::Write => "the writer failed",
        })
    }
}

impl core::error::Error for DumpError {}

impl From<fmt::Error> for DumpError {
    fn from(_: fmt::Error) -> Self {
        DumpError::Write
    }
}

/// Write the dump of the tables under `root` to `out`, one line per
/// [`Item`], each ended by `\n`: the text of Linux's debugfs file.
///
/// `root` must be the kernel root, a registered space's root or its PTI
/// user-mode root. Where kernel and user halves have separate roots
/// (arm64), the kernel half is read from the kernel root whatever `root`
/// is, as the MMU does.
pub fn dump<A: Arch, M: TableMemory, L: RawMutex, W: fmt::Write + ?Sized>(
    pt: &PageTables<A, M, L>,
    root: PhysAddr,
    out: &mut W,
    opts: &Options<'_>,
) -> Result<(), DumpError> {
    items(pt, root, opts, &mut |item| writeln!(out, "{item}"))
}

/// The dump of [`dump`] as [`Item`]s, handed to `f` in order; an error from
/// `f` stops the walk and is returned as [`DumpError::Write`].
pub fn items<A: Arch, M: TableMemory, L: RawMutex>(
    pt: &PageTables<A, M, L>,
    root: PhysAddr,
    opts: &Options<'_>,
    f: &mut dyn FnMut(&Item) -> fmt::Result,
) -> Result<(), DumpError> {
    if !is_root(pt, root) {
        return Err(DumpError::UnknownRoot);
    }
    let diffs = if opts.out_of_sync {
        out_of_sync(pt, root)?
    } else {
        Vec::new()
    };
    let mut out = Annotated {
        diffs: &diffs,
        next: 0,
        f,
    };
    model::run(pt, root, opts, &mut |item| out.emit(item))?;
    out.finish()?;
    Ok(())
}

/// The entries of `root` at the level the kernel copies into every space
/// (the top level, or PAE's PMD with per-process kernel PMDs) that differ
/// from the kernel root's, over the kernel half. Empty for the kernel root
/// itself and where kernel and user halves have separate roots.
pub fn out_of_sync<A: Arch, M: TableMemory, L: RawMutex>(
    pt: &PageTables<A, M, L>,
    root: PhysAddr,
) -> Result<Vec<SlotDiff>, DumpError> {
    if !is_root(pt, root) {
        return Err(DumpError::UnknownRoot);
    }
    let arch = pt.arch();
    let mut v = Vec::new();
    let kroot = pt.kernel_root();
    if root == kroot || arch.split_roots() || arch.kernel_top_slots().is_empty() {
        return Ok(v);
    }
    let level = match arch.sync_method() {
        SyncMethod::CopyEntries(l) => l,
        SyncMethod::None => arch.top_level(),
    };
    let t = pt.tables();
    let size = arch.level_size(level);
    let read = |r: PhysAddr, va: u64| t.entry_at(r, level, va).map_or(0, |e: EntryPtr| t.read(e));
    let end = arch.kernel_end();
    let mut va = arch.kernel_start();
    loop {
        let (kernel, this) = (read(kroot, va), read(root, va));
        if kernel != this {
            v.push(SlotDiff {
                level,
                start: va,
                size,
                // A top-level entry's index is its root slot.
                index: if level == arch.top_level() {
                    arch.index(Level::Pgd, va)
                } else {
                    arch.index(level, va)
                },
                kernel,
                this,
            });
        }
        let next = t.addr_end(level, va, end);
        if next == end || next <= va {
            return Ok(v);
        }
        va = next;
    }
}

fn is_root<A: Arch, M: TableMemory, L: RawMutex>(pt: &PageTables<A, M, L>, root: PhysAddr) -> bool {
    root == pt.kernel_root()
        || pt
            .roots_with_user()
            .iter()
            .any(|(r, u)| *r == root || *u == Some(root))
}

/// Puts each out-of-sync annotation before the first line that reaches
/// past its start.
struct Annotated<'a, 'f> {
    diffs: &'a [SlotDiff],
    next: usize,
    f: &'f mut dyn FnMut(&Item) -> fmt::Result,
}

impl Annotated<'_, '_> {
    fn emit(&mut self, item: &Item) -> fmt::Result {
        if let Item::Range(r) = item {
            // A line's end: 0, or below its start, is the top.
            let top = r.end == 0 || r.end < r.start;
            while let Some(d) = self.diffs.get(self.next) {
                if top || d.start < r.end {
                    (self.f)(&Item::OutOfSync(*d))?;
                    self.next += 1;
                } else {
                    break;
                }
            }
        }
        (self.f)(item)
    }

    fn finish(&mut self) -> fmt::Result {
        while let Some(d) = self.diffs.get(self.next) {
            (self.f)(&Item::OutOfSync(*d))?;
            self.next += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
