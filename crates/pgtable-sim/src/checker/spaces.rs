//! The registered spaces as the checker last read them, and the pages of
//! each space's own tables, so that a step's write log tells which spaces
//! it wrote.

use super::Checker;
use crate::machine::Machine;
use hashbrown::{HashMap, HashSet};
use pgtable::{KernelPolicy, PagingGeometry};
use pgtable::{Level, PhysAddr};

/// A space: its root and its PTI user-mode root.
type Space = (PhysAddr, Option<PhysAddr>);

#[derive(Debug, Default)]
pub(super) struct Spaces {
    /// As `roots_with_user()` last returned them.
    pub list: Vec<Space>,
    /// Root → (its PTI user-mode root, the pages of its own tables).
    known: HashMap<u64, (Option<PhysAddr>, Vec<u64>)>,
    /// Page → the roots of the spaces with tables in it (small roots, such
    /// as PAE's 32-byte ones, share pages).
    owner: HashMap<u64, Vec<u64>>,
}

impl Spaces {
    /// The roots of the spaces whose own tables lie in `page`.
    pub fn owners_of(&self, page: u64) -> &[u64] {
        self.owner.get(&page).map_or(&[], Vec::as_slice)
    }

    /// The pages of `space`'s own tables: its root table, its PTI
    /// user-mode root and, where it copies the kernel's tables below the
    /// top, those copies. The kernel's own are left out: its changes are
    /// found by comparing its entries with the last step's.
    fn pages_of(m: &Machine, (root, user): Space) -> Vec<u64> {
        // The root is indexed by the PGD's bits (see `trace::span`).
        let top = m.arch.table_bytes(Level::Pgd).max(1);
        let span = |t: u64, bytes: u64| (t & !0xfff..t + bytes).step_by(0x1000);
        let mut pages: Vec<u64> = user.iter().flat_map(|u| span(u.0, top)).collect();
        if root == m.pt.kernel_root() {
            return pages;
        }
        pages.extend(span(root.0, top));
        if let Some(child) = Checker::copied_level(m) {
            let bytes = m.arch.table_bytes(child).max(1);
            for slot in m.arch.kernel_top_slots() {
                if let Some(t) = Checker::child(m, root, slot) {
                    pages.extend(span(t.0, bytes));
                }
            }
        }
        pages
    }

    fn learn(&mut self, m: &Machine, space: Space) {
        let pages = Self::pages_of(m, space);
        for &p in &pages {
            self.owner.entry(p).or_default().push(space.0 .0);
        }
        self.known.insert(space.0 .0, (space.1, pages));
    }

    fn forget(&mut self, root: u64) {
        if let Some((_, pages)) = self.known.remove(&root) {
            for p in pages {
                if let Some(roots) = self.owner.get_mut(&p) {
                    roots.retain(|&r| r != root);
                    if roots.is_empty() {
                        self.owner.remove(&p);
                    }
                }
            }
        }
    }

    /// Read the registry afresh.
    pub fn read_all(&mut self, m: &Machine) {
        self.known.clear();
        self.owner.clear();
        self.list = m.pt.roots_with_user();
        for i in 0..self.list.len() {
            self.learn(m, self.list[i]);
        }
    }

    /// Read the registry again; the spaces that are new since the last
    /// read. Only the positions where the list differs are looked at (the
    /// registry adds at the end and moves its last entry into a removed
    /// one's place, so few do).
    pub fn update(&mut self, m: &Machine) -> Vec<Space> {
        let new = m.pt.roots_with_user();
        let (mut gone, mut came) = (Vec::new(), Vec::new());
        for i in 0..self.list.len().max(new.len()) {
            let (o, n) = (self.list.get(i), new.get(i));
            if o != n {
                gone.extend(o.copied());
                came.extend(n.copied());
            }
        }
        let (gone_set, came_set): (HashSet<Space>, HashSet<Space>) = (
            gone.iter().copied().collect(),
            came.iter().copied().collect(),
        );
        for g in gone.iter().filter(|&g| !came_set.contains(g)) {
            self.forget(g.0 .0);
        }
        let added: Vec<Space> = came.into_iter().filter(|c| !gone_set.contains(c)).collect();
        for &a in &added {
            self.learn(m, a);
        }
        self.list = new;
        added
    }

    /// Read again the pages of the space of `root` (its tables were
    /// written: a copy below the top may have moved); its PTI user-mode
    /// root if it is still registered.
    pub fn relearn(&mut self, m: &Machine, root: u64) -> Option<Option<PhysAddr>> {
        let (user, pages) = self.known.get(&root)?;
        let user = *user;
        if *pages != Self::pages_of(m, (PhysAddr(root), user)) {
            self.forget(root);
            self.learn(m, (PhysAddr(root), user));
        }
        Some(user)
    }
}
