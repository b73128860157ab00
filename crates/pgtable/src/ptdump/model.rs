//! Each architecture's markers and `note_page()`: which runs of entries
//! make one line, and where the marker headers go.

use super::sweep::{self, Sink};
use super::{DumpError, Format, Item, Options, RangeLine};
use crate::addr::PhysAddr;
use crate::arch::{Arch, Decoded, Level, RegionKind};
use crate::memory::TableMemory;
use crate::space::PageTables;
use alloc::vec::Vec;
use core::fmt;
use lock_api::RawMutex;

/// One `struct addr_marker`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Marker {
    pub addr: u64,
    pub name: &'static str,
    /// x86's `max_lines` (0: no limit).
    pub max_lines: u64,
}

/// x86 entry bits.
pub(super) mod x86 {
    pub const PRESENT: u64 = 1 << 0;
    pub const RW: u64 = 1 << 1;
    pub const USER: u64 = 1 << 2;
    pub const PWT: u64 = 1 << 3;
    pub const PCD: u64 = 1 << 4;
    pub const PSE: u64 = 1 << 7;
    pub const PAT: u64 = 1 << 7;
    pub const GLOBAL: u64 = 1 << 8;
    pub const PAT_LARGE: u64 = 1 << 12;
    pub const NX: u64 = 1 << 63;
}

/// arm64 descriptor bits `pte_bits[]` tests.
pub(super) mod arm64 {
    pub const VALID: u64 = 1 << 0;
    pub const TYPE_MASK: u64 = 3;
    pub const TYPE_SECT: u64 = 1;
    pub const ATTRINDX: u64 = 7 << 2;
    pub const USER: u64 = 1 << 6;
    pub const RDONLY: u64 = 1 << 7;
    pub const SHARED: u64 = 3 << 8;
    pub const AF: u64 = 1 << 10;
    pub const NG: u64 = 1 << 11;
    pub const GP: u64 = 1 << 50;
    pub const CONT: u64 = 1 << 52;
    pub const PXN: u64 = 1 << 53;
    pub const UXN: u64 = 1 << 54;
    pub const MASK: u64 =
        VALID | TYPE_MASK | ATTRINDX | USER | RDONLY | SHARED | AF | NG | GP | CONT | PXN | UXN;
}

/// riscv PTE bits `pte_bits[]` tests (64-bit).
pub(super) mod riscv {
    pub const NAPOT: u64 = 1 << 63;
    pub const MT_MASK: u64 = 3 << 61;
    pub const MT_NC: u64 = 1 << 61;
    pub const MT_IO: u64 = 1 << 62;
    pub const SOFT: u64 = 3 << 8;
    pub const MASK: u64 = NAPOT | MT_MASK | SOFT | 0xff;
    /// `PFN_PHYS(pte_pfn(val))`.
    pub const fn pa(val: u64) -> u64 {
        ((val >> 10) & ((1 << 44) - 1)) << 12
    }
}

/// arm: section bits (hardware) and Linux's software PTE bits.
pub(super) mod arm {
    pub const SECT_XN: u64 = 1 << 4;
    pub const SECT_AP_WRITE: u64 = 1 << 10;
    pub const SECT_AP_READ: u64 = 1 << 11;
    pub const SECT_APX: u64 = 1 << 15;
    pub const SECT_S: u64 = 1 << 16;
    pub const SECT_AP: u64 = SECT_APX | SECT_AP_READ | SECT_AP_WRITE;
    pub const SECT_MASK: u64 = SECT_AP | SECT_XN | SECT_S;
    pub const L_PTE_RDONLY: u64 = 1 << 7;
    pub const L_PTE_USER: u64 = 1 << 8;
    pub const L_PTE_XN: u64 = 1 << 9;
    pub const L_PTE_SHARED: u64 = 1 << 10;
    pub const MT_MASK: u64 = 0xf << 2;
    pub const MT_UNCACHED: u64 = 0x00 << 2;
    pub const MT_BUFFERABLE: u64 = 0x01 << 2;
    pub const MT_WRITETHROUGH: u64 = 0x02 << 2;
    pub const MT_WRITEBACK: u64 = 0x03 << 2;
    pub const MT_MINICACHE: u64 = 0x06 << 2;
    pub const MT_WRITEALLOC: u64 = 0x07 << 2;
    pub const MT_DEV_SHARED: u64 = 0x04 << 2;
    pub const MT_DEV_NONSHARED: u64 = 0x0c << 2;
    pub const MT_DEV_WC: u64 = 0x09 << 2;
    pub const MT_DEV_CACHED: u64 = 0x0b << 2;
    /// No type `pte_bits[]` names.
    pub const MT_VECTORS: u64 = 0x0f << 2;
    pub const PTE_MASK: u64 = L_PTE_USER | L_PTE_RDONLY | L_PTE_XN | L_PTE_SHARED | MT_MASK;

    /// A short-descriptor small page (or large page) as Linux's software
    /// PTE bits: AP\[1\] is user access, AP\[2\] read-only, TEX/C/B (TEX
    /// remap off) the memory type. 0 for an invalid descriptor.
    pub fn linux_pte(raw: u64) -> u64 {
        let (xn, tex) = match raw & 3 {
            0 => return 0,
            0b01 => (raw & (1 << 15) != 0, (raw >> 12) & 7),
            _ => (raw & 1 != 0, (raw >> 6) & 7),
        };
        let (c, b) = (raw & (1 << 3) != 0, raw & (1 << 2) != 0);
        let mt = match (tex, c, b) {
            (0, false, false) => MT_UNCACHED,
            (0, false, true) => MT_DEV_SHARED,
            (0, true, false) => MT_WRITETHROUGH,
            (0, true, true) => MT_WRITEBACK,
            (1, false, false) => MT_BUFFERABLE,
            (1, true, true) => MT_WRITEALLOC,
            (2, false, false) => MT_DEV_NONSHARED,
            _ => MT_VECTORS,
        };
        let mut v = mt;
        if raw & (1 << 5) != 0 {
            v |= L_PTE_USER;
        }
        if raw & (1 << 9) != 0 {
            v |= L_PTE_RDONLY;
        }
        if xn {
            v |= L_PTE_XN;
        }
        if raw & (1 << 10) != 0 {
            v |= L_PTE_SHARED;
        }
        v
    }
}

/// Linux's `PTE_FLAGS_MASK` for x86 (all but the frame bits).
fn x86_flags_mask(two_level: bool) -> u64 {
    if two_level {
        0xfff
    } else {
        !0x000f_ffff_ffff_f000
    }
}

/// The markers of `format` from the memory map of `arch`.
pub(super) fn markers<A: Arch>(arch: &A, opts: &Options<'_>) -> Vec<Marker> {
    let layout = arch.layout();
    let start = |k: RegionKind| {
        opts.region_starts
            .iter()
            .find(|(kind, _)| *kind == k)
            .map(|(_, a)| *a)
            .or_else(|| layout.get(k).map(|r| r.start))
    };
    let end = |k: RegionKind| layout.get(k).map(|r| r.last.wrapping_add(1));
    let mut v: Vec<Marker> = Vec::new();
    let mut push = |addr: Option<u64>, name: &'static str, max_lines: u64| {
        if let Some(addr) = addr {
            v.push(Marker {
                addr,
                name,
                max_lines,
            });
        }
    };
    match arch.ptdump_format() {
        Format::X86_64 => {
            push(Some(0), "User Space", 0);
            push(Some(1 << 63), "Kernel Space", 0);
            push(start(RegionKind::LdtRemap), "LDT remap", 0);
            push(start(RegionKind::DirectMap), "Low Kernel Mapping", 0);
            push(start(RegionKind::Vmalloc), "vmalloc() Area", 0);
            push(start(RegionKind::Vmemmap), "Vmemmap", 0);
            if layout.get(RegionKind::KasanShadow).is_some() {
                push(start(RegionKind::KasanShadow), "KASAN shadow", 0);
                push(end(RegionKind::KasanShadow), "KASAN shadow end", 0);
            }
            push(start(RegionKind::CpuEntryArea), "CPU entry Area", 0);
            push(start(RegionKind::Espfix), "ESPfix Area", 16);
            push(start(RegionKind::EfiRuntime), "EFI Runtime Services", 0);
            push(start(RegionKind::KernelText), "High Kernel Mapping", 0);
            push(start(RegionKind::Modules), "Modules", 0);
            push(end(RegionKind::Modules), "End Modules", 0);
            push(start(RegionKind::Fixmap), "Fixmap Area", 0);
        }
        Format::X86_32 => {
            push(Some(0), "User Space", 0);
            push(start(RegionKind::DirectMap), "Kernel Mapping", 0);
            push(start(RegionKind::Vmalloc), "vmalloc() Area", 0);
            push(end(RegionKind::Vmalloc), "vmalloc() End", 0);
            push(start(RegionKind::Pkmap), "Persistent kmap() Area", 0);
            // LDT_BASE_ADDR: the PMD below the CPU entry area.
            let pmd = arch.level_size(Level::Pmd);
            let ldt = start(RegionKind::CpuEntryArea).map(|c| (c - 4096) & !(pmd - 1));
            push(ldt, "LDT remap", 0);
            push(start(RegionKind::CpuEntryArea), "CPU entry area", 0);
            push(start(RegionKind::Fixmap), "Fixmap area", 0);
        }
        Format::Arm64 => {
            if opts.user {
                push(Some(0), "User Space", 0);
            }
            push(start(RegionKind::DirectMap), "Linear Mapping start", 0);
            push(end(RegionKind::DirectMap), "Linear Mapping end", 0);
            if layout.get(RegionKind::KasanShadow).is_some() {
                push(start(RegionKind::KasanShadow), "Kasan shadow start", 0);
                push(end(RegionKind::KasanShadow), "Kasan shadow end", 0);
            }
            push(start(RegionKind::Modules), "Modules start", 0);
            push(end(RegionKind::Modules), "Modules end", 0);
            push(start(RegionKind::Vmalloc), "vmalloc() area", 0);
            push(end(RegionKind::Vmalloc), "vmalloc() end", 0);
            push(start(RegionKind::Vmemmap), "vmemmap start", 0);
            push(end(RegionKind::Vmemmap), "vmemmap end", 0);
            // PCI_IO_START = VMEMMAP_END + SZ_8M, PCI_IO_SIZE = SZ_16M.
            let pci = end(RegionKind::Vmemmap).map(|e| e.wrapping_add(8 << 20));
            push(pci, "PCI I/O start", 0);
            push(pci.map(|p| p.wrapping_add(16 << 20)), "PCI I/O end", 0);
            push(start(RegionKind::Fixmap), "Fixmap start", 0);
            push(end(RegionKind::Fixmap), "Fixmap end", 0);
        }
        Format::Riscv64 => {
            if opts.user {
                push(Some(0), "User Space", 0);
            }
            let fix = start(RegionKind::Fixmap).map(|f| {
                if opts.user {
                    // The header Linux prints first, at KERN_VIRT_START.
                    f.min(arch.kernel_start())
                } else {
                    f
                }
            });
            push(fix, "Fixmap start", 0);
            push(end(RegionKind::Fixmap), "Fixmap end", 0);
            // PCI_IO_END = VMEMMAP_START, PCI_IO_SIZE = SZ_16M.
            let vmemmap = start(RegionKind::Vmemmap);
            push(
                vmemmap.map(|v| v.wrapping_sub(16 << 20)),
                "PCI I/O start",
                0,
            );
            push(vmemmap, "PCI I/O end", 0);
            push(vmemmap, "vmemmap start", 0);
            push(end(RegionKind::Vmemmap), "vmemmap end", 0);
            push(start(RegionKind::Vmalloc), "vmalloc() area", 0);
            push(end(RegionKind::Vmalloc), "vmalloc() end", 0);
            push(start(RegionKind::DirectMap), "Linear mapping", 0);
            if layout.get(RegionKind::KasanShadow).is_some() {
                push(start(RegionKind::KasanShadow), "Kasan shadow start", 0);
                push(end(RegionKind::KasanShadow), "Kasan shadow end", 0);
            }
            push(start(RegionKind::Modules), "Modules/BPF mapping", 0);
            push(start(RegionKind::KernelText), "Kernel mapping", 0);
        }
        Format::Arm32 => {
            if layout.get(RegionKind::KasanShadow).is_some() {
                push(start(RegionKind::KasanShadow), "Kasan shadow start", 0);
                push(end(RegionKind::KasanShadow), "Kasan shadow end", 0);
            }
            push(start(RegionKind::Modules), "Modules", 0);
            push(start(RegionKind::DirectMap), "Kernel Mapping", 0);
            push(start(RegionKind::Vmalloc), "vmalloc() Area", 0);
            // FDT_FIXED_BASE, FIXADDR_START, VECTORS_BASE (arm's memory.h,
            // fixmap.h): the library's memory map has no FDT or vector
            // region.
            push(Some(0xff80_0000), "FDT Area", 0);
            push(start(RegionKind::Fixmap), "Fixmap Area", 0);
            push(Some(0xffff_0000), "Vectors", 0);
            push(Some(0xffff_0000 + 2 * 4096), "Vectors End", 0);
        }
    }
    v
}

/// The level name a format prints.
fn level_name<A: Arch>(arch: &A, level: Level) -> &'static str {
    match arch.ptdump_format() {
        Format::X86_64 | Format::X86_32 => level.name(),
        Format::Arm32 => {
            if level == Level::Pte {
                "PTE"
            } else {
                "PGD"
            }
        }
        // Levels folded into the top one, at build or at run time, are
        // shown as PGD.
        Format::Arm64 | Format::Riscv64 => {
            if level == arch.top_level() {
                "PGD"
            } else {
                match level {
                    Level::Pgd => "PGD",
                    Level::P4d => "P4D",
                    Level::Pud => "PUD",
                    Level::Pmd => "PMD",
                    Level::Pte => "PTE",
                }
            }
        }
    }
}

/// The state of `note_page()` (`struct pg_state`), for every format.
struct State<'e, A> {
    arch: A,
    format: Format,
    markers: Vec<Marker>,
    /// Index of the current marker.
    marker: usize,
    /// Whether the first entry was noted.
    started: bool,
    level: Option<Level>,
    start: u64,
    prot: u64,
    pa: u64,
    domain: Option<&'static str>,
    /// x86: the effective rights of the run, the per-level ones, the lines
    /// since the marker.
    eff: u64,
    prot_levels: [u64; 5],
    lines: u64,
    two_level: bool,
    emit: &'e mut dyn FnMut(&Item) -> fmt::Result,
    err: bool,
}

impl<A: Arch> State<'_, A> {
    fn next_marker(&self) -> u64 {
        self.markers
            .get(self.marker + 1)
            .map_or(u64::MAX, |m| m.addr)
    }

    fn out(&mut self, item: Item) {
        if !self.err && (self.emit)(&item).is_err() {
            self.err = true;
        }
    }

    fn header(&mut self) {
        if let Some(mk) = self.markers.get(self.marker) {
            self.out(Item::Marker(mk.name));
        }
    }

    fn line(&mut self, end: u64) {
        let level = self.level.unwrap_or(Level::Pgd);
        let r = RangeLine {
            format: self.format,
            start: self.start,
            end,
            level,
            level_name: level_name(&self.arch, level),
            prot: self.prot,
            pa: self.pa,
            domain: self.domain,
            nx: !self.two_level,
        };
        self.out(Item::Range(r));
    }

    /// The `prot` a format compares for an entry.
    fn prot_of(&self, level: Option<Level>, val: u64) -> u64 {
        let Some(level) = level else { return 0 };
        match self.format {
            Format::X86_64 | Format::X86_32 => val & x86_flags_mask(self.two_level),
            Format::Arm64 => val & arm64::MASK,
            Format::Riscv64 => val & riscv::MASK,
            Format::Arm32 => {
                if level == Level::Pte {
                    arm::linux_pte(val) & arm::PTE_MASK
                } else {
                    // A table entry never reaches note_page; a section's
                    // bits are tested as they are.
                    match self.arch.decode(Level::Pmd, val) {
                        Decoded::Leaf(..) => val & arm::SECT_MASK,
                        _ => 0,
                    }
                }
            }
        }
    }

    /// x86 `note_page()`.
    fn note_x86(&mut self, addr: u64, level: Option<Level>, val: u64) {
        let new_prot = self.prot_of(level, val);
        let new_eff = match level {
            Some(l) if val != 0 => self.prot_levels[l as usize],
            _ => 0,
        };
        if !self.started {
            self.started = true;
            self.prot = new_prot;
            self.eff = new_eff;
            self.level = level;
            self.marker = 0;
            self.lines = 0;
            self.header();
        } else if new_prot != self.prot
            || new_eff != self.eff
            || level != self.level
            || addr >= self.next_marker()
        {
            let max = self.markers.get(self.marker).map_or(0, |m| m.max_lines);
            if max == 0 || self.lines < max {
                self.line(addr);
            }
            self.lines += 1;
            if addr >= self.next_marker() {
                if max != 0 && self.lines > max {
                    self.out(Item::Skipped(self.lines - max));
                }
                self.marker += 1;
                self.lines = 0;
                self.header();
            }
            self.start = addr;
            self.prot = new_prot;
            self.eff = new_eff;
            self.level = level;
        }
    }

    /// arm64 `note_page()`.
    fn note_arm64(&mut self, addr: u64, level: Option<Level>, val: u64) {
        let prot = self.prot_of(level, val);
        if !self.started {
            self.started = true;
            self.level = level;
            self.prot = prot;
            self.start = addr;
            self.header();
        } else if prot != self.prot || level != self.level || addr >= self.next_marker() {
            self.line(addr);
            if addr >= self.next_marker() {
                self.marker += 1;
                self.header();
            }
            self.start = addr;
            self.prot = prot;
            self.level = level;
        }
        if addr >= self.next_marker() {
            self.marker += 1;
            self.header();
        }
    }

    /// riscv `note_page()`.
    fn note_riscv(&mut self, addr: u64, level: Option<Level>, val: u64) {
        let pa = riscv::pa(val);
        let prot = self.prot_of(level, val);
        if !self.started {
            self.started = true;
            self.level = level;
            self.prot = prot;
            self.start = addr;
            self.pa = pa;
            self.header();
        } else if prot != self.prot || level != self.level || addr >= self.next_marker() {
            if self.prot != 0 {
                self.line(addr);
            }
            while addr >= self.next_marker() {
                self.marker += 1;
                self.header();
            }
            self.start = addr;
            self.pa = pa;
            self.prot = prot;
            self.level = level;
        }
    }

    /// arm `note_page()`.
    fn note_arm32(
        &mut self,
        addr: u64,
        level: Option<Level>,
        val: u64,
        domain: Option<&'static str>,
    ) {
        let prot = self.prot_of(level, val);
        if !self.started {
            self.started = true;
            self.level = level;
            self.prot = prot;
            self.domain = domain;
            self.header();
        } else if prot != self.prot
            || level != self.level
            || domain != self.domain
            || addr >= self.next_marker()
        {
            if self.prot != 0 {
                self.line(addr);
            }
            if addr >= self.next_marker() {
                self.marker += 1;
                self.header();
            }
            self.start = addr;
            self.prot = prot;
            self.domain = domain;
            self.level = level;
        }
    }
}

impl<A: Arch> Sink for State<'_, A> {
    /// x86 `effective_prot()`.
    fn entry(&mut self, level: Level, val: u64) {
        if !matches!(self.format, Format::X86_64 | Format::X86_32) {
            return;
        }
        let prot = val & x86_flags_mask(self.two_level);
        let nx = if self.two_level { 0 } else { x86::NX };
        let i = level as usize;
        self.prot_levels[i] = if i > 0 {
            let higher = self.prot_levels[i - 1];
            (higher & prot & (x86::USER | x86::RW)) | ((higher | prot) & nx)
        } else {
            prot
        };
    }

    fn note(&mut self, addr: u64, level: Option<Level>, val: u64, domain: Option<&'static str>) {
        if self.err {
            return;
        }
        match self.format {
            Format::X86_64 | Format::X86_32 => self.note_x86(addr, level, val),
            Format::Arm64 => self.note_arm64(addr, level, val),
            Format::Riscv64 => self.note_riscv(addr, level, val),
            Format::Arm32 => self.note_arm32(addr, level, val, domain),
        }
    }

    fn failed(&self) -> bool {
        self.err
    }
}

/// Walk what Linux walks for `root` and hand each line to `emit`.
pub(super) fn run<A: Arch, M: TableMemory, L: RawMutex>(
    pt: &PageTables<A, M, L>,
    root: PhysAddr,
    opts: &Options<'_>,
    emit: &mut dyn FnMut(&Item) -> fmt::Result,
) -> Result<(), DumpError> {
    let arch = *pt.arch();
    let format = arch.ptdump_format();
    let mut st = State {
        arch,
        format,
        markers: markers(&arch, opts),
        marker: 0,
        started: false,
        level: None,
        start: 0,
        prot: 0,
        pa: 0,
        domain: None,
        eff: 0,
        prot_levels: [0; 5],
        lines: 0,
        two_level: format == Format::X86_32 && arch.entry_size() == 4,
        emit,
        err: false,
    };
    let t = pt.tables();
    let kasan = arch.layout().get(RegionKind::KasanShadow).is_some();
    let kernel = arch.kernel_start();
    match format {
        Format::X86_64 => {
            // The user half, then the kernel half from the end of the guard
            // hole (16 top-level entries from the bottom of the kernel half).
            let guard_end = kernel.wrapping_add(16 * arch.level_size(Level::Pgd));
            sweep::walk(t, root, 0, arch.user_end(), kasan, &mut st);
            sweep::walk(t, root, guard_end, 0, kasan, &mut st);
            st.note(0, None, 0, None);
        }
        Format::X86_32 => {
            sweep::walk(t, root, 0, 1 << 32, kasan, &mut st);
            st.note(0, None, 0, None);
        }
        Format::Arm64 | Format::Riscv64 => {
            if opts.user {
                sweep::walk(t, root, 0, arch.user_end(), kasan, &mut st);
            }
            let kroot = if arch.split_roots() {
                pt.kernel_root()
            } else {
                root
            };
            sweep::walk(t, kroot, kernel, arch.kernel_end(), kasan, &mut st);
            st.note(0, None, 0, None);
        }
        Format::Arm32 => sweep::walk_arm32(t, root, &mut st),
    }
    if st.err {
        Err(DumpError::Write)
    } else {
        Ok(())
    }
}
