//! Check (b): kernel addresses translate, through the software MMU, to
//! the kernel's frame and rights from every root and in every CPU's TLB.

use super::trace::{self, RootReads};
use super::{Check, CheckFailure, Checker};
use crate::machine::Machine;
use hashbrown::HashMap;
use pgtable::KernelPolicy;
use pgtable::PhysAddr;
use pgtable_mmu::{Fault, Mmu, Roots, Xlat};

/// The kernel's translations of some addresses, grouped by what their
/// walks read of the kernel's root tables ([`trace`](super::trace)).
pub(super) struct Wanted {
    want: Vec<Result<Xlat, Fault>>,
    /// Each walk's first read past the root tables (address, value).
    next: Vec<Option<(u64, u64)>>,
    /// (what the walks read of the root tables, the addresses' indices).
    groups: Vec<(RootReads, Vec<usize>)>,
}

impl Checker {
    /// The roots a CPU would load for `root` (with the kernel's upper half
    /// on split-root architectures).
    pub(super) fn roots(m: &Machine, root: u64) -> Roots {
        m.roots_for(root)
    }

    /// Addresses to probe: the first, middle and last page of each range.
    pub(super) fn probes(m: &Machine) -> Vec<u64> {
        let mut v = Vec::new();
        for (s, e, _) in m.mapped_ranges() {
            v.extend([s, s + (((e - s) / 2) & !0xfff), e - 4096]);
        }
        v
    }

    pub(super) fn same(a: &Xlat, b: &Xlat) -> bool {
        (a.pa, a.writable, a.user, a.executable) == (b.pa, b.writable, b.user, b.executable)
    }

    /// The kernel's translation of each of `addrs`, walked once.
    pub(super) fn wanted(m: &Machine, mmu: &dyn Mmu, addrs: &[u64]) -> Wanted {
        let kroots = Self::roots(m, m.pt.kernel_root().0);
        let mut want = Vec::with_capacity(addrs.len());
        let mut next = Vec::with_capacity(addrs.len());
        let mut index: HashMap<RootReads, usize> = HashMap::new();
        let mut groups: Vec<(RootReads, Vec<usize>)> = Vec::new();
        for (i, &va) in addrs.iter().enumerate() {
            let t = trace::traced(m, mmu, &kroots, va);
            want.push(t.result);
            next.push(t.next);
            let g = *index.entry(t.reads.clone()).or_insert_with(|| {
                groups.push((t.reads, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(i);
        }
        Wanted { want, next, groups }
    }

    /// Whether `have`, `va`'s translation through `root`, is the kernel's
    /// `want` (or, under the lazy strategy, a fault yet to be fixed).
    pub(super) fn judge(
        m: &Machine,
        root: PhysAddr,
        va: u64,
        want: &Result<Xlat, Fault>,
        have: &Result<Xlat, Fault>,
    ) -> Check {
        let ok = match (want, have) {
            (Ok(w), Ok(h)) => Self::same(w, h),
            (Err(_), Err(_)) => true,
            (Ok(_), Err(_)) => m.lazy_fixing(),
            (Err(_), Ok(_)) => false,
        };
        if ok {
            return Ok(());
        }
        Err(CheckFailure {
            root: root.0,
            slot: None,
            addr: Some(va),
            detail: format!("kernel: {}, this root: {}", show(want), show(have)),
        })
    }

    /// (b) for `addrs` through `root`: the same translation as the
    /// kernel's, `w`. An address whose walk through `root` reads what the
    /// kernel's read of the root tables is the same walk ([`trace`](super::trace)); the
    /// others are walked, but where the space copies the table below its
    /// root entry: there the first of a group is walked, which shows where
    /// the copy lies ([`trace::copy_distance`]), and the others' walks are
    /// the kernel's if the copy holds what the kernel's walk read there.
    pub(super) fn check_root(
        &mut self,
        m: &Machine,
        mmu: &dyn Mmu,
        root: PhysAddr,
        addrs: &[u64],
        w: &Wanted,
    ) -> Check {
        let roots = Self::roots(m, root.0);
        let copies = Self::copied_level(m).is_some();
        let lazy = m.lazy_fixing();
        for (reads, group) in &w.groups {
            self.compared += group.len() as u64;
            if trace::reads_same(m, &roots, reads) {
                continue;
            }
            // Under the lazy strategy a missing entry faults until the
            // first fault copies it: allowed ([`Self::judge`]).
            if lazy && trace::first_read_zero(m, &roots, reads) {
                continue;
            }
            let (mut rest, mut moved) = (&group[..], None);
            if let (true, [kernel], Some(&first)) = (copies, &reads[..], group.first()) {
                let t = trace::traced(m, mmu, &roots, addrs[first]);
                Self::judge(m, root, addrs[first], &w.want[first], &t.result)?;
                rest = &group[1..];
                if let [own] = &t.reads[..] {
                    moved = own
                        .same_place(kernel)
                        .then(|| {
                            trace::copy_distance(own.value, kernel.value, t.next, w.next[first])
                        })
                        .flatten();
                }
            }
            for &i in rest {
                if let (Some(d), Some((k, v))) = (moved, w.next[i]) {
                    let own = m.pt.mem().read_u64(PhysAddr(k.wrapping_add(d)));
                    // The same entry, or (lazy) none yet: a fault there.
                    if own == v || (lazy && own == 0) {
                        continue;
                    }
                }
                let have = trace::translate(m, mmu, &roots, addrs[i]);
                Self::judge(m, root, addrs[i], &w.want[i], &have)?;
            }
        }
        Ok(())
    }

    /// No CPU's TLB holds a translation of `addrs` the kernel's tables no
    /// longer give (`w`).
    pub(super) fn check_tlbs(&mut self, m: &Machine, addrs: &[u64], w: &Wanted) -> Check {
        for (i, c) in m.cpus.borrow().iter().enumerate() {
            for (&va, want) in addrs.iter().zip(&w.want) {
                let Some(cached) = c.cpu.tlb_peek(va) else {
                    continue;
                };
                if !want.as_ref().is_ok_and(|w| Self::same(w, &cached)) {
                    return Err(CheckFailure {
                        root: c.cpu.roots().user,
                        slot: None,
                        addr: Some(va),
                        detail: format!(
                            "cpu{i} TLB holds pa {:#x}, tables give {}",
                            cached.pa,
                            show(want)
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// No CPU's TLB holds a translation of a kernel-half page that the
    /// kernel's tables no longer give: a translation goes stale only when
    /// the tables change, so after every step every cached one is looked at.
    pub(super) fn check_cached(&mut self, m: &Machine, mmu: &dyn Mmu) -> Check {
        let kroots = Self::roots(m, m.pt.kernel_root().0);
        let kernel_start = m.arch.kernel_start();
        for (i, c) in m.cpus.borrow().iter().enumerate() {
            for (va, cached) in c.cpu.tlb_entries() {
                if va < kernel_start {
                    continue;
                }
                let want = trace::translate(m, mmu, &kroots, va);
                if !want.as_ref().is_ok_and(|w| Self::same(w, &cached)) {
                    return Err(CheckFailure {
                        root: c.cpu.roots().user,
                        slot: None,
                        addr: Some(va),
                        detail: format!(
                            "cpu{i} TLB holds pa {:#x}, tables give {}",
                            cached.pa,
                            show(&want)
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

fn show(r: &Result<Xlat, Fault>) -> String {
    match r {
        Ok(t) => format!("pa {:#x}{}", t.pa, if t.writable { " rw" } else { " ro" }),
        Err(f) => format!("{} fault at level {}", f.kind.name(), f.level),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::{machine, Config};
    use crate::{Context, SimArch};
    use pgtable::arch::x86_32::X86_32;

    /// Where each process copies the kernel's PMD, the translation check
    /// walks one address of a group and takes the others' walks as the
    /// kernel's only where the copy holds what the kernel's walk read: a
    /// copy entry changed under another address of the group is found.
    #[test]
    fn copied_tables_are_compared_where_the_kernel_walk_read() {
        let m = machine(&Config {
            arch: SimArch::X86_32(X86_32::PAE_UNSHARED_PMD),
            spaces: 2,
            ..Config::default()
        })
        .unwrap();
        let mut k = m.kernel();
        for _ in 0..40 {
            k.vmalloc(crate::Era::V617, 1).unwrap();
        }
        let mmu = m.arch.mmu();
        let probes = Checker::probes(&m);
        let w = Checker::wanted(&m, &*mmu, &probes);
        let root = m.root_of(Context::Process(0)).unwrap();
        let mut checker = Checker::new();
        checker.check_root(&m, &*mmu, root, &probes, &w).unwrap();
        // An address of a group whose kernel PMD entry is not the first
        // one's: only the copy's entry tells its walk from the kernel's.
        let (_, group) = w.groups.iter().find(|g| g.1.len() > 1).unwrap();
        let first = w.next[group[0]].unwrap().0;
        let &i = group
            .iter()
            .find(|&&i| w.next[i].is_some_and(|(a, _)| a & !7 != first & !7))
            .expect("two PMD entries in one group");
        let (kernel_entry, _) = w.next[i].unwrap();
        let slot = m.arch.kernel_top_slots().start;
        let copy = Checker::child(&m, root, slot).unwrap().0 + (kernel_entry & 0xfff);
        m.pt.mem().write_u64(PhysAddr(copy), 0);
        let f = checker
            .check_root(&m, &*mmu, root, &probes, &w)
            .expect_err("a zeroed entry of the copy passed");
        assert_eq!(f.root, root.0);
        let va = f.addr.unwrap();
        assert_eq!(
            w.next[probes.iter().position(|&p| p == va).unwrap()]
                .unwrap()
                .0,
            kernel_entry
        );
    }
}
