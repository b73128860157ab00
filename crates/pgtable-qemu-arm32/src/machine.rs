//! The test kernel's page tables, built by `pgtable` over the offset
//! backend, and the software MMU that reads the same memory.
//!
//! A [`Machine`] is one `PageTables` (init_mm and its address spaces) over a
//! contiguous block of RAM reached at `KBASE + pa`. With TTBCR.N = 0 one
//! root translates everything, as on x86: TTBR0 holds init_mm's root
//! (`swapper_pg_dir`) or a process's, whose kernel half the library copied
//! at `create_space` and keeps in sync. Every kernel root this kernel loads
//! maps all of RAM (1 MiB sections, read-write-execute) at `KBASE + pa` and
//! the PL011 (Device) at `UART_VA`, exactly as the boot table does, so
//! switching TTBR0 between them never disturbs the running kernel.

use crate::cpu;
use crate::frame::{self, kva, RAM_SIZE, RAM_START};
use crate::uart::{UART_PA, UART_VA};
use alloc::format;
use alloc::string::String;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};
use pgtable::arch::arm32::Arm32;
use pgtable::PageSize;
use pgtable::{AddressSpace, CacheMode, OffsetMemory, PageTables, PhysAddr, Prot, VirtAddr};
use pgtable_mmu::arm32::Arm32Mmu;
use pgtable_mmu::PhysBus;

pub type Pt = PageTables<Arm32, OffsetMemory>;

/// The library's mode for this image.
#[cfg(feature = "no-pxn")]
pub const ARCH: Arm32 = Arm32::SHORT;
/// The library's mode for this image.
#[cfg(not(feature = "no-pxn"))]
pub const ARCH: Arm32 = Arm32::SHORT_PXN;

/// The kernel root to come back to (0: the boot table).
static HOME: AtomicU64 = AtomicU64::new(0);

/// Physical memory for the software MMU: RAM through `KBASE + pa`; any
/// other address reads 0 and ignores writes.
pub struct PhysMem;

impl PhysMem {
    fn word(pa: u64) -> Option<&'static AtomicU64> {
        if !frame::is_ram(pa) || !pa.is_multiple_of(8) {
            return None;
        }
        // SAFETY: `pa` is 8-byte aligned RAM, mapped read-write at
        // KBASE + pa by the boot table and every kernel root loaded; the
        // software MMU reads table entries only, atomically (LDREXD).
        Some(unsafe { AtomicU64::from_ptr(kva(pa) as usize as *mut u64) })
    }
}

impl PhysBus for PhysMem {
    fn read_u64(&self, pa: u64) -> u64 {
        Self::word(pa).map_or(0, |w| w.load(Ordering::SeqCst))
    }
    fn write_u64(&self, pa: u64, value: u64) {
        if let Some(w) = Self::word(pa) {
            w.store(value, Ordering::SeqCst);
        }
    }
}

/// The software MMU configured from the real TTBCR, DACR, ID_MMFR0 (PXN)
/// and ID_MMFR3 (supersections).
pub fn software_mmu() -> Arm32Mmu {
    Arm32Mmu {
        ttbcr_n: (cpu::ttbcr() & 7) as u8,
        dacr: cpu::dacr(),
        pxn: cpu::has_pxn(),
        supersections: cpu::has_supersections(),
    }
}

/// Go back to the home kernel root (the main machine's, or the boot table
/// before it exists).
pub fn go_home() {
    let root = match HOME.load(Ordering::SeqCst) {
        0 => crate::boot::boot_root(),
        r => r as u32,
    };
    // SAFETY: the boot table and a home root (see `Machine::new`) both map
    // the kernel, its RAM and the PL011 identically.
    unsafe { cpu::set_ttbr0(root, 0) };
}

/// The translation roots the MMU uses while a root runs: TTBR0 and TTBR1.
#[derive(Clone, Copy, Debug)]
pub struct Roots {
    pub ttbr0: u64,
    pub ttbr1: u64,
}

/// One init_mm with its address spaces.
pub struct Machine {
    pub pt: Pt,
    pub mmu: Arm32Mmu,
}

impl Machine {
    /// Page tables over `table_pages` fresh frames whose kernel root maps
    /// the kernel as the boot table does.
    pub fn new(table_pages: u64) -> Result<Machine, String> {
        let pa = frame::alloc_aligned(table_pages, 16 << 10).ok_or("no RAM for the table block")?;
        let base = NonNull::new(kva(pa) as usize as *mut u8).ok_or("table block at 0")?;
        // SAFETY: `pa..pa + len` was just taken from the frame allocator for
        // good (nothing is freed), lies in RAM mapped read-write at
        // KBASE + pa by every kernel root, is page aligned, and only this
        // OffsetMemory (and the MMUs reading tables) touch it from now on.
        let mem = unsafe { OffsetMemory::new(base, PhysAddr(pa), table_pages * frame::PAGE_SIZE) }
            .map_err(|e| format!("{e}"))?;
        let pt = PageTables::new(ARCH, mem).map_err(|e| format!("{e:?}"))?;
        let (r, _) = pt.kernel().edit(|e| {
            e.allow_write_exec();
            e.vmap_range(
                VirtAddr(kva(RAM_START)),
                PhysAddr(RAM_START),
                RAM_SIZE,
                Prot::KERNEL_EXEC,
                PageSize::Pmd,
            )?;
            e.vmap_range(
                VirtAddr(u64::from(UART_VA)),
                PhysAddr(u64::from(UART_PA)),
                frame::PAGE_SIZE,
                Prot::KERNEL.with_cache(CacheMode::Uncached),
                PageSize::Base,
            )
        });
        r.map_err(|e| format!("kernel map: {e:?}"))?;
        Ok(Machine {
            pt,
            mmu: software_mmu(),
        })
    }

    /// Load this machine's kernel root (init_mm, ASID 0) in TTBR0.
    pub fn load_kernel(&self) {
        // SAFETY: `new` mapped all RAM (image, stack, heap, frames) and the
        // PL011 as the boot table does.
        unsafe { cpu::set_ttbr0(self.pt.kernel_root().0 as u32, 0) };
    }

    /// Make this machine's kernel root the one to come back to, load it,
    /// and put it in TTBR1 as Linux does.
    pub fn set_home(&self) {
        HOME.store(self.pt.kernel_root().0, Ordering::SeqCst);
        cpu::set_ttbr1(self.pt.kernel_root().0 as u32);
        self.load_kernel();
    }

    /// The roots the MMU uses while `space` runs (`None`: init_mm).
    pub fn roots(&self, space: Option<&AddressSpace>) -> Roots {
        Roots {
            ttbr0: space.map_or(self.pt.kernel_root().0, |s| s.root().0),
            ttbr1: u64::from(cpu::ttbr1()),
        }
    }

    /// Run on `space` (`None`: init_mm). A space's TTBR0 and CONTEXTIDR
    /// are the library's [`pgtable::Activation`] (ASID 1; every switch
    /// flushes the TLB), so the real MMU checks its encoding on every
    /// access.
    pub fn enter(&self, space: Option<&AddressSpace>) {
        let Some(s) = space else {
            self.load_kernel();
            return;
        };
        match self.pt.activation(s, 1) {
            Ok(pgtable::Activation::Arm32 { ttbr0, contextidr }) => {
                // SAFETY: the space's kernel half is the kernel root's (the
                // library copied it at create_space and syncs it), which
                // maps the running kernel as the boot table does.
                unsafe { cpu::set_ttbr0(ttbr0, contextidr) }
            }
            other => panic!("not an arm32 activation: {other:?}"),
        }
    }
}

/// The library's largest-leaf size for a leaf shift (shared by the kernels).
pub use pgtable_qemu_common::leaf;
