//! The test kernel's page tables, built by `pgtable` over the offset backend,
//! and the software MMU that reads the same memory.
//!
//! A [`Machine`] is one `PageTables` (an init_mm and its address spaces) over
//! a contiguous block of RAM reached through the identity map (virtual ==
//! physical below 4 GiB). The kernel image, its stacks, heap and frames live
//! at low identity addresses, which the library counts as the user half, so
//! every address space gets an identity map of `[0, 4 GiB)` through the user
//! API. Those pages have U/S = 1; supervisor code may run from them and
//! access them because this kernel leaves SMEP and SMAP off (checked by the
//! software MMU, which reads CR4). Switching CR3 among the spaces therefore
//! keeps the kernel running.

use crate::{cpu, frame};
use alloc::format;
use alloc::string::String;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};
use pgtable::{
    Access, AddressSpace, CacheMode, OffsetMemory, PageTables, PhysAddr, Prot, VirtAddr, X86_64,
};
use pgtable_mmu::x86_64::X86Mmu;
use pgtable_mmu::PhysBus;

/// Page tables of one test machine.
pub type Pt = PageTables<X86_64, OffsetMemory>;

/// End of the identity map every space carries.
pub const IDENTITY_END: u64 = 4 << 30;

/// The root the kernel returns to between scenarios (0: the boot tables).
static HOME: AtomicU64 = AtomicU64::new(0);

/// Physical memory for the software MMU: every address below 4 GiB through
/// the identity map; above it nothing (reads 0, writes dropped).
pub struct PhysMem;

impl PhysMem {
    fn word(pa: u64) -> Option<&'static AtomicU64> {
        if pa >= IDENTITY_END || !pa.is_multiple_of(8) {
            return None;
        }
        // SAFETY: `pa` is 8-byte aligned and below 4 GiB, which the boot
        // tables and every space of this module map identically (virtual ==
        // physical); the software MMU reads only table entries (RAM in a
        // Machine's table block), and all accesses are atomic.
        Some(unsafe { AtomicU64::from_ptr(frame::phys_to_virt(pa).cast::<u64>()) })
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

/// The software MMU configured from the real control registers and CPUID.
pub fn software_mmu() -> X86Mmu {
    let (cr0, cr4, efer) = (cpu::read_cr0(), cpu::read_cr4(), cpu::read_efer());
    let max_ext = cpu::cpuid(0x8000_0000).0;
    let gbpages = max_ext >= 0x8000_0001 && cpu::cpuid(0x8000_0001).3 & (1 << 26) != 0;
    let maxphyaddr = if max_ext >= 0x8000_0008 {
        (cpu::cpuid(0x8000_0008).0 & 0xff) as u8
    } else {
        36
    };
    X86Mmu {
        la57: cr4 & cpu::CR4_LA57 != 0,
        nxe: efer & cpu::EFER_NXE != 0,
        wp: cr0 & cpu::CR0_WP != 0,
        pge: cr4 & cpu::CR4_PGE != 0,
        smep: cr4 & cpu::CR4_SMEP != 0,
        smap: cr4 & cpu::CR4_SMAP != 0,
        maxphyaddr,
        gbpages,
    }
}

/// Load `root` into CR3 (flushing the TLB: PGE and PCID are off).
pub fn switch_to(root: PhysAddr) {
    // SAFETY: every root handed out here (a space made by `Machine::process`
    // or a kernel root made loadable by `Machine::new`) maps [0, 4 GiB)
    // identically, which holds the kernel image, stacks, GDT/IDT/TSS, heap
    // and frames; callers go home before destroying a loaded root.
    unsafe { cpu::write_cr3(root.0) };
}

/// Go back to the home root (the main machine's first space, or the boot
/// tables before it exists).
pub fn go_home() {
    match HOME.load(Ordering::SeqCst) {
        // SAFETY: the boot tables are static and map everything in use.
        0 => unsafe { cpu::write_cr3(crate::boot::boot_top_table(cpu::la57_active())) },
        root => switch_to(PhysAddr(root)),
    }
}

/// The root [`go_home`] loads.
pub fn home_root() -> PhysAddr {
    match HOME.load(Ordering::SeqCst) {
        0 => PhysAddr(crate::boot::boot_top_table(cpu::la57_active())),
        root => PhysAddr(root),
    }
}

/// One init_mm with its address spaces.
pub struct Machine {
    pub pt: Pt,
    pub mmu: X86Mmu,
    /// Largest leaf shift the CPU supports (30 with 1 GiB pages, else 21).
    pub max_shift: u32,
    /// The first space, whose identity map the kernel root borrows.
    pub home: AddressSpace,
}

impl Machine {
    /// Page tables over `table_pages` fresh frames, with one space (`home`)
    /// and a kernel root the CPU can run on.
    pub fn new(table_pages: u64) -> Result<Machine, String> {
        let la57 = cpu::la57_active();
        let pa = frame::alloc_contiguous(table_pages).ok_or("no RAM for the table block")?;
        let base = NonNull::new(frame::phys_to_virt(pa)).ok_or("table block at 0")?;
        // SAFETY: `pa..pa+len` was just taken from the frame allocator for
        // good (contiguous blocks are never handed out again), lies below
        // 4 GiB where the boot tables and every space built here map it at
        // virtual == physical, is 4 KiB aligned, and only this OffsetMemory
        // touches it from now on.
        let mem = unsafe { OffsetMemory::new(base, PhysAddr(pa), table_pages * frame::PAGE_SIZE) }
            .map_err(|e| format!("{e}"))?;
        let pt = PageTables::new(X86_64 { la57 }, mem).map_err(|e| format!("{e:?}"))?;
        let mmu = software_mmu();
        let max_shift = if mmu.gbpages { 30 } else { 21 };
        let home = pt.create_space().map_err(|e| format!("{e:?}"))?;
        let mut m = Machine {
            pt,
            mmu,
            max_shift,
            home,
        };
        m.map_identity_home()?;
        Ok(m)
    }

    fn map_identity_home(&mut self) -> Result<(), String> {
        identity(&self.pt, &mut self.home, self.max_shift)?;
        // init_mm has no user half, but the CPU needs the kernel image
        // mapped to run on the kernel root: give it home's identity top-level
        // entry (slot 0). The library reads only the kernel slots of the
        // kernel root, and home outlives every use of the kernel root.
        let mem = self.pt.mem();
        mem.write_u64(self.pt.kernel_root(), mem.read_u64(self.home.root()));
        Ok(())
    }

    /// A new process (`pgd_alloc`) with the identity map.
    pub fn process(&self) -> Result<AddressSpace, String> {
        let mut s = self.pt.create_space().map_err(|e| format!("{e:?}"))?;
        identity(&self.pt, &mut s, self.max_shift)?;
        Ok(s)
    }

    /// Make this machine's home the root to come back to.
    pub fn set_home(&self) {
        HOME.store(self.home.root().0, Ordering::SeqCst);
        go_home();
    }

    /// Go home and free `spaces` and this machine's home (a scenario's end).
    pub fn retire(self, spaces: impl IntoIterator<Item = AddressSpace>) {
        go_home();
        // go_home() reloaded CR3: the spaces' non-global translations are
        // gone from this CPU's TLB.
        for s in spaces {
            self.pt.destroy_space(s).expect("own space").ignore();
        }
        self.pt
            .destroy_space(self.home)
            .expect("own space")
            .ignore();
    }
}

/// Map `[0, 4 GiB)` at virtual == physical in `space` (user pages, RWX).
fn identity(pt: &Pt, space: &mut AddressSpace, shift: u32) -> Result<(), String> {
    let prot = Prot::new(
        Access::WRITE | Access::EXEC | Access::USER,
        CacheMode::WriteBack,
    );
    pt.user(space)
        .map_err(|e| format!("own space: {e:?}"))?
        .map_range(VirtAddr(0), PhysAddr(0), IDENTITY_END, prot, leaf(shift))
        .map_err(|e| format!("identity map: {e:?}"))
}

/// The library's largest-leaf size for a leaf shift (shared by the kernels).
pub use pgtable_qemu_common::leaf;
