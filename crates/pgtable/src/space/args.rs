//! Argument checks shared by the kernel and user entry points: every bad
//! input is refused with a typed error before any entry is written.

use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::prot::{Access, Prot};

/// Which half a range must lie in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Half {
    Kernel,
    User,
}

/// Check `va..va+size` and return its end (0 when it reaches the top).
pub(crate) fn check_range<A: Arch>(arch: &A, half: Half, va: VirtAddr, size: u64) -> Result<u64> {
    if size == 0 {
        return Err(Error::EmptyRange);
    }
    if !va.is_aligned(PAGE_SIZE) {
        return Err(Error::Misaligned(va.0));
    }
    if size % PAGE_SIZE != 0 {
        return Err(Error::Misaligned(size));
    }
    let last = va.0.checked_add(size - 1).ok_or(Error::Wraps)?;
    for a in [va, VirtAddr(last)] {
        if !arch.is_canonical(a) {
            return Err(Error::NonCanonical(a));
        }
    }
    match half {
        Half::Kernel if va.0 < arch.kernel_start() => Err(Error::NotKernelAddress(va)),
        Half::Kernel => Ok(last.wrapping_add(1)),
        Half::User if last >= arch.user_end() => {
            let bad = if va.0 >= arch.user_end() {
                va
            } else {
                VirtAddr(last)
            };
            Err(Error::NotUserAddress(bad))
        }
        Half::User => Ok(last + 1),
    }
}

/// Check a physical range.
pub(crate) fn check_phys<A: Arch>(arch: &A, pa: PhysAddr, size: u64) -> Result<()> {
    if !pa.is_aligned(PAGE_SIZE) {
        return Err(Error::Misaligned(pa.0));
    }
    match pa.0.checked_add(size) {
        Some(end) if end <= arch.phys_limit() => Ok(()),
        _ => Err(Error::PhysTooLarge(pa)),
    }
}

/// Kernel mappings are never user-accessible; user mappings are never
/// global (a global user page would survive the switch to another process).
pub(crate) fn check_prot(half: Half, prot: Prot) -> Result<()> {
    let bad = match half {
        Half::Kernel => Access::USER,
        Half::User => Access::GLOBAL,
    };
    if prot.access.intersects(bad) {
        Err(Error::BadProtection)
    } else {
        Ok(())
    }
}

/// Refuse an unmap of `start..end` unless leaves cover it all and none of
/// them reaches outside it.
pub(crate) fn check_mapped<A: Arch, M: crate::TableMemory + ?Sized>(
    t: crate::tables::Tables<'_, A, M>,
    root: PhysAddr,
    start: u64,
    end: u64,
) -> Result<()> {
    use crate::walk::Visit;
    use core::ops::ControlFlow;
    let mut expect = start;
    let mut err = None;
    let _ = t.visit(root, start, end, &mut |v| {
        let Visit::Leaf(m) = v else {
            return ControlFlow::Continue(());
        };
        let leaf_end = m.va.0.wrapping_add(m.size);
        err = if m.va.0 < start || leaf_end.wrapping_sub(1) > end.wrapping_sub(1) {
            Some(Error::SplitsLeaf(m.va))
        } else if m.va.0 != expect {
            Some(Error::NotMapped(VirtAddr(expect)))
        } else {
            None
        };
        expect = leaf_end;
        if err.is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    match err {
        Some(e) => Err(e),
        None if expect != end => Err(Error::NotMapped(VirtAddr(expect))),
        None => Ok(()),
    }
}
