//! The largest leaf a mapping call may use, typed (Linux passes
//! `max_page_shift` to `vmap_range()` / `vmap_pages_range_noflush()`).

use crate::arch::{Arch, Level};

/// The largest leaf a mapping may use where alignment allows: Linux's
/// `max_page_shift`, named by level so that one value means the same on
/// every paging mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PageSize {
    /// Base pages only (4 KiB, `PAGE_SHIFT`).
    Base,
    /// Up to the smallest huge leaf of the mode: 2 MiB (x86-64, x86-32
    /// PAE, arm64, riscv), 4 MiB (x86-32 2-level), 1 MiB sections (arm32).
    Pmd,
    /// Up to the next huge leaf: 1 GiB (x86-64, arm64, riscv); where the
    /// mode has only one huge size, the same as [`Pmd`](Self::Pmd).
    Pud,
}

impl PageSize {
    /// The shift of the largest leaf this allows on `arch`.
    pub fn shift<A: Arch>(self, arch: &A) -> u32 {
        let mut huge = [0u32; 4];
        let mut n = 0;
        // The levels the map walk can put a leaf at (as it decides: not a
        // pass-through to a folded child, leaves allowed), each size once.
        for level in [Level::Pmd, Level::Pud, Level::P4d, Level::Pgd] {
            let shift = arch.level_shift(level);
            let usable = !arch.is_passthrough(level) && arch.leaf_allowed(level);
            if usable && n < huge.len() && !huge[..n].contains(&shift) {
                huge[n] = shift;
                n += 1;
            }
        }
        huge[..n].sort_unstable();
        let base = crate::addr::PAGE_SHIFT;
        match self {
            PageSize::Base => base,
            PageSize::Pmd => huge[..n].first().copied().unwrap_or(base),
            PageSize::Pud => huge[..n]
                .get(1)
                .or(huge[..n].first())
                .copied()
                .unwrap_or(base),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::{arm32::Arm32, arm64::Arm64, riscv64::Riscv64, x86_32::X86_32};
    use crate::X86_64;

    #[test]
    fn each_size_is_the_leaf_the_mode_has() {
        let all =
            |a: &dyn Fn(PageSize) -> u32| [a(PageSize::Base), a(PageSize::Pmd), a(PageSize::Pud)];
        assert_eq!(all(&|p| p.shift(&X86_64::FOUR_LEVEL)), [12, 21, 30]);
        assert_eq!(all(&|p| p.shift(&X86_64::FIVE_LEVEL)), [12, 21, 30]);
        assert_eq!(all(&|p| p.shift(&X86_32::TWO_LEVEL)), [12, 22, 22]);
        assert_eq!(all(&|p| p.shift(&X86_32::PAE)), [12, 21, 21]);
        assert_eq!(all(&|p| p.shift(&Arm64::VA_48)), [12, 21, 30]);
        assert_eq!(all(&|p| p.shift(&Arm32::SHORT)), [12, 20, 20]);
        assert_eq!(all(&|p| p.shift(&Riscv64::SV39)), [12, 21, 30]);
    }
}
