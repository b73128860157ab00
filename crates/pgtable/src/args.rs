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
    if !size.is_multiple_of(PAGE_SIZE) {
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

/// Check an inclusive kernel range `start..=last` given by its ends (any
/// byte addresses): both canonical kernel addresses, `start <= last`.
pub(crate) fn check_kernel_span<A: Arch>(arch: &A, start: VirtAddr, last: VirtAddr) -> Result<()> {
    for va in [start, last] {
        check_range(
            arch,
            Half::Kernel,
            VirtAddr(va.0 & !(PAGE_SIZE - 1)),
            PAGE_SIZE,
        )?;
    }
    if last < start {
        return Err(Error::EmptyRange);
    }
    Ok(())
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

/// [`check_prot`] for a kernel mapping, which is also refused writable and
/// executable at once unless the edit allows it
/// ([`KernelEdit::allow_write_exec`](crate::KernelEdit::allow_write_exec)).
pub(crate) fn check_kernel_prot(prot: Prot, allow_wx: bool) -> Result<()> {
    check_prot(Half::Kernel, prot)?;
    if !allow_wx && prot.access.contains(Access::WRITE | Access::EXEC) {
        return Err(Error::WriteAndExecute);
    }
    Ok(())
}
