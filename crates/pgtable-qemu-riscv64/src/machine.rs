//! The test kernel's page tables, built by `pgtable` over the offset
//! backend, and the software MMU that reads the same memory.
//!
//! A [`Machine`] is one `PageTables` (init_mm and its address spaces) over
//! a contiguous block of RAM reached at `KBASE + pa`. riscv translates the
//! whole address space from the one root in satp, so the kernel (running
//! at `KBASE + pa`, top-level slot 510 under Sv39) must be mapped in every
//! root: `Machine::new` maps all RAM there (2 MiB leaves, read-write-exec)
//! through `edit` before any process exists, and `pgd_alloc()`'s copy of
//! the kernel half gives it to every process.

use crate::frame::{self, kva, RAM_SIZE, RAM_START};
use alloc::format;
use alloc::string::String;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};
use pgtable::arch::riscv64::Riscv64;
use pgtable::PageSize;
use pgtable::{AddressSpace, OffsetMemory, PageTables, PhysAddr, Prot, VirtAddr};
use pgtable_mmu::riscv64::{Riscv64Mmu, Scheme};
use pgtable_mmu::PhysBus;
use riscv::register::satp;

pub type Pt = PageTables<Riscv64, OffsetMemory>;

#[cfg(feature = "sv57")]
mod mode {
    use super::*;
    pub const ARCH: Riscv64 = Riscv64::SV57;
    pub const SCHEME: Scheme = Scheme::Sv57;
    pub const SATP: satp::Mode = satp::Mode::Sv57;
}
#[cfg(all(feature = "sv48", not(feature = "sv57")))]
mod mode {
    use super::*;
    pub const ARCH: Riscv64 = Riscv64::SV48;
    pub const SCHEME: Scheme = Scheme::Sv48;
    pub const SATP: satp::Mode = satp::Mode::Sv48;
}
#[cfg(not(any(feature = "sv48", feature = "sv57")))]
mod mode {
    use super::*;
    pub const ARCH: Riscv64 = Riscv64::SV39;
    pub const SCHEME: Scheme = Scheme::Sv39;
    pub const SATP: satp::Mode = satp::Mode::Sv39;
}
pub use mode::{ARCH, SCHEME};

/// VA width of the mode.
pub const VA_BITS: u32 = SCHEME.va_bits();

/// The root to come back to (0: the boot table).
static HOME: AtomicU64 = AtomicU64::new(0);

/// Physical memory for the software MMU: RAM through `KBASE + pa`; any
/// other address reads 0 and ignores writes.
pub struct PhysMem;

impl PhysMem {
    fn word(pa: u64) -> Option<&'static AtomicU64> {
        if !frame::is_ram(pa) || !pa.is_multiple_of(8) {
            return None;
        }
        // SAFETY: `pa` is 8-byte aligned RAM the kernel owns, mapped
        // read-write at KBASE + pa by the boot table and every root loaded;
        // the software MMU reads table entries only, atomically.
        Some(unsafe { AtomicU64::from_ptr(kva(pa) as *mut u64) })
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
    fn set_bits_u64(&self, pa: u64, bits: u64) {
        if let Some(w) = Self::word(pa) {
            w.fetch_or(bits, Ordering::SeqCst);
        }
    }
}

/// The software MMU for this image's mode, SUM as given. QEMU 7.2 sets A
/// and D itself (no Svade fault), but the library sets A on every leaf and
/// D on every writable one, so the walker's Svade default never differs.
pub fn software_mmu(sum: bool) -> Riscv64Mmu {
    let mut m = Riscv64Mmu::new(SCHEME);
    m.sum = sum;
    m
}

/// Load `root` (physical) in satp with this image's mode and flush the TLB.
fn load_satp(root: u64, mode: satp::Mode) {
    // SAFETY: every root this kernel loads maps the kernel image, stack,
    // heap and frames at KBASE + pa (the boot table, or a root built by
    // `Machine::new`, or a space of such a machine).
    unsafe { satp::set(mode, 0, (root >> 12) as usize) };
    riscv::asm::sfence_vma_all();
}

/// Load `root` (a library root of this image's mode).
pub fn switch(root: u64) {
    load_satp(root, mode::SATP);
}

/// Flush the whole TLB (after table edits).
pub fn flush() {
    riscv::asm::sfence_vma_all();
}

/// Go back to the home root (the main machine's kernel root, or the boot
/// table before it exists).
pub fn go_home() {
    match HOME.load(Ordering::SeqCst) {
        0 => load_satp(crate::boot::boot_root(), satp::Mode::Sv39),
        r => switch(r),
    }
}

/// The current satp.
pub fn satp_bits() -> u64 {
    satp::read().bits() as u64
}

/// Set or clear sstatus.SUM.
pub fn set_sum(on: bool) {
    // SAFETY: SUM only widens or narrows S-mode access to U = 1 pages; the
    // kernel's own code and data are U = 0.
    unsafe {
        if on {
            riscv::register::sstatus::set_sum();
        } else {
            riscv::register::sstatus::clear_sum();
        }
    }
}

/// One init_mm with its address spaces.
pub struct Machine {
    pub pt: Pt,
}

impl Machine {
    /// Page tables over `table_pages` fresh frames whose kernel root maps
    /// the kernel as the boot table does.
    pub fn new(table_pages: u64) -> Result<Machine, String> {
        let pa = frame::alloc_aligned(table_pages, frame::PAGE_SIZE)
            .ok_or("no RAM for the table block")?;
        let base = NonNull::new(kva(pa) as *mut u8).ok_or("table block at 0")?;
        // SAFETY: `pa..pa + len` was just taken from the frame allocator for
        // good (nothing is freed), lies in RAM mapped read-write at
        // KBASE + pa by every root, is page aligned, and only this
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
            )
        });
        r.map_err(|e| format!("kernel map: {e:?}"))?;
        Ok(Machine { pt })
    }

    /// Make this machine's kernel root the one to come back to, and load it.
    pub fn set_home(&self) {
        HOME.store(self.pt.kernel_root().0, Ordering::SeqCst);
        switch(self.pt.kernel_root().0);
    }

    /// The root satp holds while `space` runs (`None`: init_mm, whose root
    /// is the kernel root, `swapper_pg_dir`).
    pub fn root(&self, space: Option<&AddressSpace>) -> u64 {
        space.map_or(self.pt.kernel_root().0, |s| s.root().0)
    }

    /// Run on `space`.
    pub fn enter(&self, space: Option<&AddressSpace>) {
        switch(self.root(space));
    }
}

/// The library's largest-leaf size for a leaf shift (shared by the kernels).
pub use pgtable_qemu_common::leaf;
