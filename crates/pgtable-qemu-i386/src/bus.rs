//! How the kernel and the software MMU reach physical memory: the direct
//! map for low memory, the pkmap window for the HIGHPTE tables
//! ([`PhysMem`]), and the bus the software MMU walks a root through
//! ([`WalkBus`]), which hides one QEMU deviation from the SDM and counts
//! it.

use crate::boot::LOWMEM_END;
use crate::frame::{self, kva, HIGH_WINDOW};
use crate::mode::{high_window_va, ARCH};
use alloc::format;
use alloc::string::String;
use core::sync::atomic::{AtomicU64, Ordering};
use pgtable_mmu::PhysBus;

/// The kernel's virtual address of physical `pa`, if it has one: the
/// direct map for low memory, the window for the high tables.
pub fn kernel_va(pa: u64) -> Option<u64> {
    if frame::is_lowmem(pa) {
        Some(kva(pa))
    } else if cfg!(feature = "highpte") && (LOWMEM_END..LOWMEM_END + HIGH_WINDOW).contains(&pa) {
        Some(high_window_va() + (pa - LOWMEM_END))
    } else {
        None
    }
}

/// Physical memory for the software MMU: what the kernel maps (low memory,
/// the high window); any other address reads 0 and ignores writes.
pub struct PhysMem;

impl PhysMem {
    fn word(pa: u64) -> Option<&'static AtomicU64> {
        if !pa.is_multiple_of(8) {
            return None;
        }
        let va = kernel_va(pa)?;
        // SAFETY: `pa` is 8-byte aligned memory the kernel maps read-write
        // at `va` in every root it loads (low memory, or the high window
        // once the main machine's root is home); the software MMU reads
        // table entries only, and sets A/D atomically.
        Some(unsafe { AtomicU64::from_ptr(va as usize as *mut u64) })
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
    fn set_bits_u32(&self, pa: u64, bits: u32) {
        if let Some(w) = Self::word(pa & !7) {
            w.fetch_or(u64::from(bits) << ((pa & 4) * 8), Ordering::SeqCst);
        }
    }
}

/// Times [`WalkBus`] found bit 5 set in a PDPTE (QEMU's doing).
static QEMU_PDPTE_A: AtomicU64 = AtomicU64::new(0);

/// The bus the software MMU walks `root` through: [`PhysMem`], except that
/// under PAE the four PDPTEs of `root` are read with bit 5 clear.
///
/// QEMU 7.2's TCG sets bit 5 (A) of the PDPTE on every PAE walk it makes
/// (`target/i386/tcg/sysemu/excp_helper.c`, `mmu_translate()`, the
/// non-long-mode level-3 step: `ptw_setl(..., PG_ACCESSED_MASK)`) and does
/// not treat bits 2:1 and 8:5 as reserved there. The SDM (vol. 3A 4.4.1,
/// table 4-8) reserves bits 8:5 of a PDPTE and has the processor load the
/// PDPTEs into registers at MOV CR3, never write them; the software MMU
/// follows the SDM, so without this it sees a reserved bit QEMU put there.
/// The library's own PDPTEs are checked before any walk
/// ([`pdptes_as_written`]), and every bit 5 this bus hides is counted
/// ([`qemu_pdpte_accessed`]).
pub struct WalkBus {
    pdpt: u64,
}

impl WalkBus {
    pub fn new(root: u64) -> Self {
        WalkBus {
            pdpt: if ARCH.pae { root & !31 } else { u64::MAX },
        }
    }
}

impl PhysBus for WalkBus {
    fn read_u64(&self, pa: u64) -> u64 {
        let v = PhysMem.read_u64(pa);
        if (self.pdpt..self.pdpt.saturating_add(32)).contains(&pa) && v & (1 << 5) != 0 {
            QEMU_PDPTE_A.fetch_add(1, Ordering::Relaxed);
            return v & !(1 << 5);
        }
        v
    }
    fn write_u64(&self, pa: u64, value: u64) {
        PhysMem.write_u64(pa, value)
    }
    fn set_bits_u64(&self, pa: u64, bits: u64) {
        PhysMem.set_bits_u64(pa, bits)
    }
    fn set_bits_u32(&self, pa: u64, bits: u32) {
        PhysMem.set_bits_u32(pa, bits)
    }
}

/// PDPTE reads where [`WalkBus`] cleared QEMU's bit 5.
pub fn qemu_pdpte_accessed() -> u64 {
    QEMU_PDPTE_A.load(Ordering::Relaxed)
}

/// Under PAE: the four PDPTEs of `root`, which no CPU has walked yet, hold
/// what the SDM allows and Linux's `pud_populate()` writes: P and the
/// address, nothing else (bits 2:1, 8:5 and 63:MAXPHYADDR clear).
pub fn pdptes_as_written(root: u64) -> Result<(), String> {
    if !ARCH.pae {
        return Ok(());
    }
    let reserved = 0b110 | (0xf << 5) | !((1u64 << crate::cpu::maxphyaddr()) - 1);
    for i in 0..4 {
        let e = PhysMem.read_u64(root + 8 * i);
        if e & reserved != 0 || (e != 0 && e & 1 == 0) || e & 0x18 != 0 {
            return Err(format!("PDPTE {i} of root {root:#x} is {e:#x}"));
        }
    }
    Ok(())
}
