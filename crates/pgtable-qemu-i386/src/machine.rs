//! The test kernel's page tables, built by `pgtable` over [`KernelMemory`],
//! and the software MMU that reads the same memory.
//!
//! A [`Machine`] is one `PageTables` (init_mm and its address spaces) over
//! a block of low memory (and, under HIGHPTE, a block of high memory).
//! x86-32 translates the whole address space from the one root in CR3, so
//! the kernel (running at `KBASE + pa`) must be mapped in every root:
//! `Machine::new` maps all low memory there (4 MiB or 2 MiB leaves,
//! read-write-exec) through `edit` before any process exists, and
//! `pgd_alloc()`'s copy of the kernel part gives it to every process
//! (under PAE with the shared kernel PMD, PDPT entry 3 points at the
//! kernel's one PMD table).

use crate::boot::{KBASE, LOWMEM_END};
use crate::bus::{kernel_va, pdptes_as_written, PhysMem};
use crate::frame::{self, kva, HIGH_WINDOW};
use crate::memory::KernelMemory;
pub use crate::mode::{high_window_va, ARCH, LEAF_SHIFT, LEAF_SIZE};
use alloc::format;
use alloc::string::String;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use pgtable::arch::x86_32::X86_32;
use pgtable::PageSize;
use pgtable::{AddressSpace, OffsetMemory, PageTables, PhysAddr, Prot, VirtAddr};
use pgtable_mmu::x86_32::X86_32Mmu;
use pgtable_mmu::PhysBus;

pub type Pt = PageTables<X86_32, KernelMemory>;

/// High-memory table frames per machine (HIGHPTE).
const HIGH_PAGES: u64 = 32;

/// The root to come back to (0: the boot table).
static HOME: AtomicU64 = AtomicU64::new(0);
/// IA32_EFER.NXE as set at boot (PAE).
static NXE: AtomicU32 = AtomicU32::new(0);

/// Set up the CPU for the library's mode: IA32_EFER.NXE under PAE (the
/// library sets XD on every non-executable PAE leaf, a reserved bit without
/// NXE). Returns a description or why it cannot run.
pub fn init_cpu() -> Result<String, String> {
    if cfg!(feature = "pae") {
        if !crate::cpu::enable_nx() {
            return Err("PAE image on a CPU without NX (CPUID.80000001H:EDX[20])".into());
        }
        NXE.store(1, Ordering::SeqCst);
    }
    Ok(format!(
        "cr0={:#x} cr4={:#x} nxe={} pse36={} maxphyaddr={}",
        crate::cpu::cr0(),
        crate::cpu::cr4(),
        NXE.load(Ordering::SeqCst),
        crate::cpu::has_pse36() as u8,
        crate::cpu::maxphyaddr()
    ))
}

/// The software MMU with this CPU's paging state: CR4.PAE/PSE, NXE,
/// CR0.WP = 1, CR4.PGE = 0 (so a CR3 load flushes everything; G is not
/// compared), no SMEP/SMAP, PSE-36 and MAXPHYADDR from CPUID.
pub fn software_mmu() -> X86_32Mmu {
    let cr4 = crate::cpu::cr4();
    X86_32Mmu {
        pae: cr4 & crate::cpu::CR4_PAE != 0,
        pse: cr4 & crate::cpu::CR4_PSE != 0,
        pse36: crate::cpu::has_pse36(),
        nxe: NXE.load(Ordering::SeqCst) != 0,
        wp: crate::cpu::cr0() & crate::cpu::CR0_WP != 0,
        pge: cr4 & crate::cpu::CR4_PGE != 0,
        smep: cr4 & crate::cpu::CR4_SMEP != 0,
        smap: cr4 & crate::cpu::CR4_SMAP != 0,
        maxphyaddr: crate::cpu::maxphyaddr(),
    }
}

/// Load `cr3`.
fn load_cr3(cr3: u64) {
    // SAFETY: every root this kernel loads maps the kernel image, stack,
    // heap and table memory at KBASE + pa: the boot table, or a root built
    // by `Machine::new`, or a space of such a machine.
    unsafe { crate::cpu::write_cr3(cr3 as u32) };
}

/// Reload CR3 (flush the TLB after table edits).
pub fn flush() {
    load_cr3(u64::from(crate::cpu::cr3()));
}

/// Go back to the home root (the main machine's kernel root, or the boot
/// table before it exists).
pub fn go_home() {
    match HOME.load(Ordering::SeqCst) {
        0 => load_cr3(crate::boot::boot_cr3()),
        r => load_cr3(r),
    }
}

/// One init_mm with its address spaces.
pub struct Machine {
    pub pt: Pt,
}

impl Machine {
    /// Page tables over `table_pages` fresh frames whose kernel root maps
    /// low memory as the boot table does (and the high window, HIGHPTE).
    pub fn new(table_pages: u64) -> Result<Machine, String> {
        let pa = frame::alloc_aligned(table_pages, frame::PAGE_SIZE)
            .ok_or("no RAM for the table block")?;
        let base = NonNull::new(kva(pa) as usize as *mut u8).ok_or("table block at 0")?;
        // SAFETY: `pa..pa + len` was just taken from the frame allocator for
        // good (nothing is freed), lies in low memory mapped read-write at
        // KBASE + pa by every root, is page aligned, and only this
        // OffsetMemory (and the MMUs reading tables) touch it from now on.
        let low = unsafe { OffsetMemory::new(base, PhysAddr(pa), table_pages * frame::PAGE_SIZE) }
            .map_err(|e| format!("{e}"))?;
        let high = if cfg!(feature = "highpte") {
            let hpa = frame::alloc_high(HIGH_PAGES).ok_or("no high memory for tables")?;
            let va = kernel_va(hpa).ok_or("high tables outside the window")?;
            let hbase = NonNull::new(va as usize as *mut u8).ok_or("window at 0")?;
            // SAFETY: `hpa..hpa + len` was just taken from the high
            // allocator for good and lies in the window, which every root
            // of every machine maps read-write at `va` (below) once the
            // main machine's root is loaded; the library touches a high
            // frame only when it allocates a user PTE table, which happens
            // on that root.
            let m =
                unsafe { OffsetMemory::new(hbase, PhysAddr(hpa), HIGH_PAGES * frame::PAGE_SIZE) }
                    .map_err(|e| format!("{e}"))?;
            Some((hpa..hpa + HIGH_PAGES * frame::PAGE_SIZE, m))
        } else {
            None
        };
        let pt =
            PageTables::new(ARCH, KernelMemory::new(low, high)).map_err(|e| format!("{e:?}"))?;
        let (r, _) = pt.kernel().edit(|e| {
            e.allow_write_exec();
            e.vmap_range(
                VirtAddr(KBASE),
                PhysAddr(0),
                LOWMEM_END,
                Prot::KERNEL_EXEC,
                leaf(LEAF_SHIFT),
            )?;
            if cfg!(feature = "highpte") {
                e.vmap_range(
                    VirtAddr(high_window_va()),
                    PhysAddr(LOWMEM_END),
                    HIGH_WINDOW,
                    Prot::KERNEL,
                    PageSize::Base,
                )?;
            }
            Ok::<(), pgtable::Error>(())
        });
        r.map_err(|e| format!("kernel map: {e:?}"))?;
        pdptes_as_written(pt.kernel_root().0)?;
        Ok(Machine { pt })
    }

    /// Make this machine's kernel root the one to come back to, and load it.
    pub fn set_home(&self) {
        HOME.store(self.pt.kernel_root().0, Ordering::SeqCst);
        load_cr3(self.pt.kernel_root().0);
    }

    /// The root CR3 holds while `space` runs (`None`: init_mm, whose root
    /// is the kernel root, `swapper_pg_dir`).
    pub fn root(&self, space: Option<&AddressSpace>) -> u64 {
        space.map_or(self.pt.kernel_root().0, |s| s.root().0)
    }

    /// Run on `space`: CR3 as the library's `activation()` gives it.
    pub fn enter(&self, space: Option<&AddressSpace>) -> Result<(), String> {
        let cr3 = match space {
            None => self.pt.kernel_root().0,
            Some(s) => match self.pt.activation(s, 0).map_err(|e| format!("{e:?}"))? {
                pgtable::Activation::X86 { cr3 } => cr3,
                other => return Err(format!("activation {other:?}")),
            },
        };
        load_cr3(cr3);
        Ok(())
    }
}

/// The library's largest-leaf size for a leaf shift (shared by the kernels).
pub use pgtable_qemu_common::leaf;

/// The QEMU behaviour `bus::WalkBus` hides, shown: the kernel root's PDPTE 3
/// held P and the address only when the library wrote it
/// (`pdptes_as_written` in `Machine::new`); after the kernel has run on
/// that root, QEMU has set bit 5 in it. Fails if QEMU stops doing so (then
/// `WalkBus` should stop hiding it).
pub fn qemu_sets_pdpte_a(m: &Machine) -> Result<String, String> {
    let root = m.pt.kernel_root().0;
    if u64::from(crate::cpu::cr3()) != root {
        return Err(format!(
            "CR3 is {:#x}, not the kernel root",
            crate::cpu::cr3()
        ));
    }
    let e = PhysMem.read_u64(root + 24);
    if e & (1 << 5) == 0 {
        return Err(format!("PDPTE 3 of the loaded root is {e:#x}: bit 5 clear"));
    }
    Ok(format!(
        "PDPTE 3 of the loaded root {root:#x} is {e:#x}: QEMU set bit 5 (A), which the SDM reserves in a PDPTE"
    ))
}
