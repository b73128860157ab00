//! The read-only walk that finds the leaves of a kernel range, and the
//! removal built on it (x86's `remove_pagetable()`).

use super::KernelEditor;
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Arch, Decoded, Level};
use crate::error::{Error, Result};
use crate::memory::TableMemory;
use crate::tlb::FlushTlb;
use alloc::vec::Vec;

/// What covers an address in the kernel tables.
pub(crate) enum Found {
    /// A leaf mapping `va..va+size` to `pa`.
    Leaf { va: u64, pa: PhysAddr, size: u64 },
    /// Nothing: the entry of this level is none.
    Hole(Level),
    /// A shared table (the KASAN early shadow's), which no walk that
    /// writes or unmaps may enter.
    Shared,
}

/// Walk the kernel tables down to what covers `va`.
pub(crate) fn find<'a, A, M, E>(e: &E, va: u64) -> Found
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
{
    let (mut level, mut entry) = (Level::Pgd, e.pgd_offset(VirtAddr(va)));
    loop {
        match e.entry(level, entry) {
            Decoded::None => return Found::Hole(level),
            Decoded::Leaf(pa, _) => {
                let size = e.arch().level_size(level);
                return Found::Leaf {
                    va: va & !(size - 1),
                    pa,
                    size,
                };
            }
            Decoded::Table(t) if e.is_shared(t) => return Found::Shared,
            Decoded::Table(_) => {
                let below = level
                    .next()
                    .and_then(|child| Some((child, e.offset(child, entry, VirtAddr(va))?)));
                match below {
                    Some((child, next)) => (level, entry) = (child, next),
                    None => return Found::Hole(level),
                }
            }
        }
    }
}

/// The most leaves a removal keeps waiting before it unmaps them.
const RUN_LEAVES: usize = 512;

/// What a removal did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    /// Bytes unmapped: the leaves wholly inside the range.
    pub unmapped: u64,
    /// Huge leaves the range covers only in part, left mapped: a removal
    /// never splits a leaf (Linux's `remove_pmd_table()` and
    /// `remove_pud_table()` clear a leaf only when the range spans it).
    pub partial_leaves_kept: usize,
}

/// Unmap every leaf wholly inside `start..=last`, skipping holes and
/// leaving leaves that reach outside, refusing to enter a shared table
/// ([`Error::SharedTable`]); the emptied tables below the top
/// level are freed by the unmap (`free_pte_table()`, `free_pmd_table()`,
/// `free_pud_table()`). `freed` gets each unmapped leaf's frame and size
/// once the leaf is gone and `tlb` has flushed it; a frame mapped by
/// several consecutive leaves (a compound page's shared tail) is handed
/// over once.
pub(crate) fn remove_leaves<'a, A, M, E>(
    e: &mut E,
    start: u64,
    last: u64,
    freed: &mut dyn FnMut(PhysAddr, u64),
    tlb: &mut dyn FlushTlb,
) -> Result<Removed>
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
{
    let mut done = Removed::default();
    // The run of contiguous leaves waiting to be unmapped in one call.
    let mut run: Option<(u64, u64)> = None;
    let mut leaves: Vec<(PhysAddr, u64)> = Vec::new();
    let mut va = start;
    loop {
        let next = match find(e, va) {
            Found::Leaf { va: lva, pa, size } => {
                let llast = lva + (size - 1);
                if lva >= start && llast <= last {
                    run = match run {
                        Some((s, l)) if l.wrapping_add(1) == lva => Some((s, llast)),
                        other => {
                            flush(e, other, &mut leaves, &mut done, freed, tlb)?;
                            Some((lva, llast))
                        }
                    };
                    leaves.push((pa, size));
                } else {
                    done.partial_leaves_kept += 1;
                    flush(e, run.take(), &mut leaves, &mut done, freed, tlb)?;
                }
                llast.checked_add(1)
            }
            Found::Hole(level) => {
                flush(e, run.take(), &mut leaves, &mut done, freed, tlb)?;
                let size = e.arch().level_size(level);
                (va & !(size - 1)).checked_add(size)
            }
            Found::Shared => {
                flush(e, run.take(), &mut leaves, &mut done, freed, tlb)?;
                return Err(Error::SharedTable(VirtAddr(va)));
            }
        };
        // A long run is unmapped in parts, so the frames waiting to be
        // given back stay few.
        if leaves.len() >= RUN_LEAVES {
            flush(e, run.take(), &mut leaves, &mut done, freed, tlb)?;
        }
        match next {
            Some(n) if n <= last && n > va => va = n,
            _ => break,
        }
    }
    flush(e, run, &mut leaves, &mut done, freed, tlb)?;
    Ok(done)
}

fn flush<'a, A, M, E>(
    e: &mut E,
    run: Option<(u64, u64)>,
    leaves: &mut Vec<(PhysAddr, u64)>,
    done: &mut Removed,
    freed: &mut dyn FnMut(PhysAddr, u64),
    tlb: &mut dyn FlushTlb,
) -> Result<()>
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
{
    let Some((s, l)) = run else {
        return Ok(());
    };
    let size = l - s + 1;
    // The TLBs forget the run before its frames go back
    // (`flush_tlb_kernel_range()` before `free_pagetable()`).
    e.vunmap_range(VirtAddr(s), size)?.flush(tlb);
    done.unmapped += size;
    let mut previous = None;
    for leaf in leaves.drain(..) {
        if previous != Some(leaf) {
            freed(leaf.0, leaf.1);
        }
        previous = Some(leaf);
    }
    Ok(())
}
