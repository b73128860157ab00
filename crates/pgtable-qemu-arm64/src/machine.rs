//! The test kernel's page tables, built by `pgtable` over the offset
//! backend, and the software MMU that reads the same memory.
//!
//! A [`Machine`] is one `PageTables` (init_mm and its address spaces) over a
//! contiguous block of RAM reached at `KBASE + pa`. arm64 translates the two
//! halves from different roots: TTBR1_EL1 holds the library's kernel root,
//! TTBR0_EL1 the running space's root. The kernel runs in the upper half, so
//! every kernel root this kernel loads maps all of RAM (read-write-execute,
//! 2 MiB blocks) and the PL011 (Device-nGnRE) at `KBASE + pa`, exactly as
//! the boot tables do; switching TTBR0 never affects it.

use crate::cpu;
use crate::frame::{self, kva, RAM_SIZE, RAM_START};
use crate::uart::UART_PA;
use alloc::format;
use alloc::string::String;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};
use pgtable::arch::arm64::Arm64;
use pgtable::PageSize;
use pgtable::{
    AddressSpace, CacheMode, KernelEdit, OffsetMemory, PageTables, PhysAddr, Prot, VirtAddr,
};
use pgtable_mmu::arm64::Arm64Mmu;
use pgtable_mmu::{PhysBus, Roots};

/// An edit of the kernel's tables (the crosscheck's and `high_pa`'s maps).
pub type Edit<'a, 'b> = KernelEdit<'a, 'b, Arm64, OffsetMemory>;

pub type Pt = PageTables<Arm64, OffsetMemory>;

/// The library's mode for this image.
#[cfg(feature = "va39")]
pub const ARCH: Arm64 = Arm64::VA_39;
/// The library's mode for this image.
#[cfg(feature = "va52")]
pub const ARCH: Arm64 = Arm64::VA_52;
/// The library's mode for this image.
#[cfg(not(any(feature = "va39", feature = "va52")))]
pub const ARCH: Arm64 = Arm64::VA_48;

/// The kernel root to come back to (0: the boot tables).
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
        // KBASE + pa by the boot tables and every kernel root loaded; the
        // software MMU reads table entries only, atomically.
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
    fn clear_bits_u64(&self, pa: u64, bits: u64) {
        if let Some(w) = Self::word(pa) {
            w.fetch_and(!bits, Ordering::SeqCst);
        }
    }
}

/// The software MMU configured from the real TCR_EL1, ID_AA64MMFR0_EL1
/// and PSTATE.PAN.
pub fn software_mmu() -> Arm64Mmu {
    let tcr = cpu::tcr();
    let ips = cpu::pa_bits_of(tcr >> 32);
    let parange = cpu::pa_bits_of(cpu::id_aa64mmfr0());
    Arm64Mmu {
        t0sz: (tcr & 0x3f) as u8,
        t1sz: ((tcr >> 16) & 0x3f) as u8,
        ds: tcr & (1 << 59) != 0,
        pa_bits: ips.min(parange),
        ha: tcr & (1 << 39) != 0,
        hd: tcr & (1 << 40) != 0,
        pan: cpu::pan(),
        tbi0: tcr & (1 << 37) != 0,
        tbi1: tcr & (1 << 38) != 0,
    }
}

/// Load `root` in TTBR0_EL1.
pub fn switch_user(root: u64) {
    // SAFETY: the kernel runs in the upper half; TTBR0 roots are the
    // library's spaces or an empty table.
    unsafe { cpu::set_ttbr0(root) };
}

/// Go back to the home kernel root (the main machine's, or the boot
/// tables before it exists).
pub fn go_home() {
    let root = match HOME.load(Ordering::SeqCst) {
        0 => crate::boot::boot_root(),
        r => r,
    };
    // SAFETY: the boot tables and a home root (see `Machine::new`) both map
    // the kernel, its RAM and the PL011 at KBASE + pa.
    unsafe { cpu::set_ttbr1(root) };
}

/// One init_mm with its address spaces.
pub struct Machine {
    pub pt: Pt,
    pub mmu: Arm64Mmu,
    /// An empty root: TTBR0 of init_mm (Linux's `reserved_pg_dir`).
    pub reserved: u64,
}

impl Machine {
    /// Page tables over `table_pages` fresh frames whose kernel root maps
    /// the kernel as the boot tables do.
    pub fn new(table_pages: u64) -> Result<Machine, String> {
        let pa = frame::alloc_aligned(table_pages, frame::PAGE_SIZE)
            .ok_or("no RAM for the table block")?;
        let base = NonNull::new(kva(pa) as *mut u8).ok_or("table block at 0")?;
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
                VirtAddr(kva(UART_PA)),
                PhysAddr(UART_PA),
                frame::PAGE_SIZE,
                Prot::KERNEL.with_cache(CacheMode::Uncached),
                PageSize::Base,
            )
        });
        r.map_err(|e| format!("kernel map: {e:?}"))?;
        let reserved = frame::alloc_zeroed(1).ok_or("no RAM for the reserved root")?;
        Ok(Machine {
            pt,
            mmu: software_mmu(),
            reserved,
        })
    }

    /// Load this machine's kernel root in TTBR1_EL1.
    pub fn load_kernel(&self) {
        // SAFETY: `new` mapped all RAM (image, stack, heap, frames) and the
        // PL011 at KBASE + pa, as the boot tables do.
        unsafe { cpu::set_ttbr1(self.pt.kernel_root().0) };
    }

    /// Make this machine's kernel root the one to come back to, and load it.
    pub fn set_home(&self) {
        HOME.store(self.pt.kernel_root().0, Ordering::SeqCst);
        self.load_kernel();
    }

    /// The roots the MMU uses while `space` runs (`None`: init_mm, whose
    /// TTBR0 is the empty reserved table).
    pub fn roots(&self, space: Option<&AddressSpace>) -> Roots {
        Roots {
            user: space.map_or(self.reserved, |s| s.root().0),
            kernel: Some(self.pt.kernel_root().0),
        }
    }

    /// Run on `space` (TTBR0) with this machine's kernel root (TTBR1).
    /// A space's TTBR0 value is the library's [`pgtable::Activation`]
    /// (table address and ASID 1, 8-bit ASIDs; every switch flushes the
    /// TLB), so the real MMU checks its encoding on every access.
    pub fn enter(&self, space: Option<&AddressSpace>) {
        if cpu::ttbr1() != self.pt.kernel_root().0 {
            self.load_kernel();
        }
        let ttbr0 = match space.map(|s| self.pt.activation(s, 1)) {
            Some(Ok(pgtable::Activation::Arm64 { ttbr0, ttbr1 })) => {
                assert_eq!(ttbr1, self.pt.kernel_root().0, "TTBR1 is the kernel root");
                ttbr0
            }
            Some(other) => panic!("not an arm64 activation: {other:?}"),
            None => self.reserved,
        };
        switch_user(ttbr0);
    }
}

/// The library's largest-leaf size for a leaf shift (shared by the kernels).
pub use pgtable_qemu_common::leaf;
