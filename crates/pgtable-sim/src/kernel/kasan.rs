//! The KASAN shadow (`mm/kasan/init.c`): the early shadow is one zero page
//! mapped through shared zero tables reused at every level
//! (`kasan_early_shadow_p4d`, `_pud`, `_pmd`, `_pte`), so a single top-level
//! entry shadows a whole slot; real shadow is then mapped with fresh pages
//! where it is needed.

use super::Kernel;
use crate::era::{Era, Populate, User};
use crate::machine::SimError;
use pgtable::{Arch, EntryPtr, Level, PhysAddr, Prot, SharedTable};

/// The shared zero tables, built once.
#[derive(Clone, Debug)]
pub(crate) struct ZeroTables {
    /// `kasan_early_shadow_page`.
    pub page: PhysAddr,
    /// The table each level's entries point at: (level of the entries that
    /// point at it, table).
    pub tables: Vec<(Level, SharedTable)>,
}

impl ZeroTables {
    /// The table an entry of `level` points at.
    fn below(&self, level: Level) -> Option<SharedTable> {
        self.tables
            .iter()
            .find(|(l, _)| *l == level)
            .map(|(_, t)| *t)
    }
}

impl Kernel<'_> {
    fn kasan_zero_tables(&mut self, how: Populate) -> Result<ZeroTables, SimError> {
        if let Some(z) = self.m.kasan_zero.borrow().clone() {
            return Ok(z);
        }
        let arch = self.m.arch;
        let page = self.m.frames.borrow_mut().alloc()?;
        let addr = self.m.layout.shadow(self.m.layout.page_offset);
        let z = self.edit(how, |e| -> Result<ZeroTables, SimError> {
            let top = arch.top_level();
            let pte = e.alloc_table(Level::Pte)?;
            for i in 0..1u64 << arch.level_bits(Level::Pte) {
                let entry = pte
                    .entry(i)
                    .ok_or(pgtable::Error::FoldedLevel(Level::Pte))?;
                e.set_leaf(Level::Pte, addr, entry, page, Prot::KERNEL_RO)?;
            }
            let pte = e.share(pte)?;
            let mut tables = vec![(Level::Pmd, pte)];
            let (mut below, mut level) = (pte, Level::Pmd);
            // Each upper zero table, up to the root's: every entry points at
            // the one below.
            while level != top {
                let t = e.alloc_table(level)?;
                for i in 0..1u64 << arch.level_bits(level) {
                    let entry = t.entry(i).ok_or(pgtable::Error::FoldedLevel(level))?;
                    e.populate_shared(level, addr, entry, below)?;
                }
                let t = e.share(t)?;
                let up = Level::ALL[level as usize - 1];
                tables.push((up, t));
                (below, level) = (t, up);
            }
            Ok(ZeroTables { page, tables })
        })?;
        *self.m.kasan_zero.borrow_mut() = Some(z.clone());
        Ok(z)
    }

    /// `kasan_populate_early_shadow()` / `kasan_add_zero_shadow()`: point
    /// every empty top-level slot over the shadow of `start..end` at the
    /// shared zero tables. Returns the slots populated.
    pub fn kasan_zero_shadow(
        &mut self,
        era: impl Into<Era>,
        start: u64,
        end: u64,
    ) -> Result<usize, SimError> {
        let how = self.how(era.into(), User::KasanShadow);
        let z = self.kasan_zero_tables(how)?;
        let arch = self.m.arch;
        let top = arch.top_level();
        let (s, e) = (self.m.layout.shadow(start), self.m.layout.shadow(end - 1));
        let slot = self.m.layout.top_slot;
        let n = self.edit(how, |ed| -> Result<usize, SimError> {
            let mut n = 0;
            let mut va = s & !(slot - 1);
            while va <= e {
                let entry = ed.pgd_offset(va);
                n += zero_fill(ed, &z, arch, top, entry, va.max(s), (va + slot).min(e + 1))?;
                va += slot;
            }
            Ok(n)
        })?;
        self.m.note_mapped(s & !0xfff, 4096, "KASAN zero shadow");
        Ok(n)
    }

    /// Real shadow for `start..end` (`kasan_populate_vmalloc()`,
    /// `kasan_init()`'s shadow of memory): fresh zeroed pages.
    pub fn kasan_populate_shadow(
        &mut self,
        era: impl Into<Era>,
        start: u64,
        end: u64,
    ) -> Result<u64, SimError> {
        let how = self.how(era.into(), User::KasanShadow);
        let s = self.m.layout.shadow(start) & !0xfff;
        let e = (self.m.layout.shadow(end - 1) | 0xfff) + 1;
        let frames = (s..e)
            .step_by(4096)
            .map(|_| self.m.frames.borrow_mut().alloc())
            .collect::<Result<Vec<_>, _>>()?;
        self.edit(how, |ed| ed.vmap_pages(s, &frames, Prot::KERNEL))?;
        self.m.note_mapped(s, e - s, "KASAN shadow");
        self.m.vm_frames.borrow_mut().insert(s, frames);
        Ok(s)
    }
}

/// Point every empty entry of `level` over `start..end` below `e` (the
/// entry for `start`) at the zero table for that level, descending into
/// entries that already hold a table (a slot preallocated at boot, as riscv
/// does): `kasan_populate_early_shadow()`'s walk. Returns the entries
/// populated.
fn zero_fill(
    ed: &mut dyn super::Editor<'_>,
    z: &ZeroTables,
    arch: crate::arch::SimArch,
    level: Level,
    e: EntryPtr,
    start: u64,
    end: u64,
) -> Result<usize, SimError> {
    if ed.is_none(level, e) {
        let table = z
            .below(level)
            .ok_or(SimError::Pgtable(pgtable::Error::FoldedLevel(level)))?;
        ed.populate_shared(level, start, e, table)?;
        return Ok(1);
    }
    let Some(child) = level.next().filter(|_| level < Level::Pmd) else {
        return Ok(0); // a PMD entry with a table: real shadow is there
    };
    let mut n = 0;
    let step = arch.level_size(child);
    let mut va = start;
    while va < end {
        let Some(ce) = ed.offset(child, e, va) else {
            return Ok(n); // a leaf: already shadowed
        };
        let next = ((va & !(step - 1)) + step).min(end);
        n += zero_fill(ed, z, arch, child, ce, va, next)?;
        va = next;
    }
    Ok(n)
}
