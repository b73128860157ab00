//! The checker: (a) the kernel half of every registered root equals the
//! kernel's; (b) every kernel address the kernel users mapped translates,
//! through the software MMU, to the same frame and rights in every context
//! and from every CPU (its TLB included).
//!
//! It reads the tables only through raw memory and the independent MMU,
//! never through the library's walk.

use crate::bus::Bus;
use crate::machine::{Machine, Strategy};
use pgtable::{Arch, Decoded, PhysAddr, TableMemory};
use pgtable_mmu::{Access, Mode};
use pgtable_mmu::{Fault, Mmu, Roots, Xlat};
use std::collections::HashSet;

/// The first difference found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckFailure {
    /// The root that differs.
    pub root: u64,
    /// Its top-level slot, for (a).
    pub slot: Option<usize>,
    /// The address, for (b).
    pub addr: Option<u64>,
    /// What differs.
    pub detail: String,
}

impl std::fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "root {:#x}", self.root)?;
        if let Some(s) = self.slot {
            write!(f, " slot {s}")?;
        }
        if let Some(a) = self.addr {
            write!(f, " address {a:#x}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// Checker state: what the kernel's top level looked like last time, and
/// which roots were already checked in full.
#[derive(Debug, Default)]
pub struct Checker {
    snapshot: Vec<u64>,
    seen: HashSet<u64>,
    rotate: usize,
    /// Translations compared so far.
    pub compared: u64,
}

type Check = Result<(), CheckFailure>;

impl Checker {
    /// A checker that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The roots a CPU would load for `root` (with the kernel's upper half
    /// on split-root architectures).
    fn roots(m: &Machine, root: u64) -> Roots {
        if m.arch.split_roots() {
            Roots::split(root, m.pt.kernel_root().0)
        } else {
            Roots::single(root)
        }
    }

    fn translate(m: &Machine, mmu: &dyn Mmu, root: u64, va: u64) -> Result<Xlat, Fault> {
        mmu.translate_any(
            &Bus(m.pt.mem()),
            &Self::roots(m, root),
            va,
            Access::Read,
            Mode::Supervisor,
        )
    }

    fn slot_entry(m: &Machine, root: PhysAddr, slot: usize) -> u64 {
        let size = m.arch.entry_size();
        let pa = PhysAddr(root.0 + slot as u64 * size);
        if size == 8 {
            m.pt.mem().read_u64(pa)
        } else {
            u64::from(m.pt.mem().read_u32(pa))
        }
    }

    /// (a) for `slots` of `root`. Under the lazy strategy a root may lack an
    /// entry the kernel has (it is copied on the first fault), but never
    /// hold a different one.
    /// A PTI user-mode root must hold the kernel's entry in the shared
    /// (entry-area) slots and nothing in any other kernel slot.
    fn check_slots(
        m: &Machine,
        root: PhysAddr,
        user: bool,
        slots: impl Iterator<Item = usize>,
    ) -> Check {
        let kroot = m.pt.kernel_root();
        let shared = m.pt.pti_slots().unwrap_or(0..0);
        for slot in slots {
            let kernel = Self::slot_entry(m, kroot, slot);
            let want = if user && !shared.contains(&slot) {
                0
            } else {
                kernel
            };
            let have = Self::slot_entry(m, root, slot);
            let lazily_missing = m.strategy == Strategy::Lazy && have == 0;
            if !lazily_missing && !Self::same_entry(m, want, have) {
                return Err(CheckFailure {
                    root: root.0,
                    slot: Some(slot),
                    addr: None,
                    detail: format!("top-level entry {have:#x}, kernel has {want:#x}"),
                });
            }
        }
        Ok(())
    }

    /// Whether a root's top-level kernel entry `have` matches the kernel's
    /// `want`. Where each process has its own copy of the table below the
    /// top (x86-32 PAE with per-process kernel PMDs), the two point at
    /// different tables whose entries must be equal instead.
    fn same_entry(m: &Machine, want: u64, have: u64) -> bool {
        use pgtable::arch::SyncMethod;
        if want == have {
            return true;
        }
        let top = m.arch.top_level();
        let copies = matches!(m.arch.sync_method(), SyncMethod::CopyEntries(l) if l > top);
        let (Decoded::Table(k), Decoded::Table(h), true) =
            (m.arch.decode(top, want), m.arch.decode(top, have), copies)
        else {
            return false;
        };
        let Some(child) = top.next() else {
            return false;
        };
        let size = m.arch.entry_size();
        (0..1u64 << m.arch.level_bits(child)).all(|i| {
            let have = Self::slot_entry(m, PhysAddr(h.0 + i * size), 0);
            // Under the lazy strategy an entry is copied on first fault.
            have == Self::slot_entry(m, PhysAddr(k.0 + i * size), 0)
                || (m.strategy == Strategy::Lazy && have == 0)
        })
    }

    /// Addresses to probe: the first, middle and last page of each range.
    fn probes(m: &Machine) -> Vec<u64> {
        let mut v = Vec::new();
        for (s, e, _) in m.mapped_ranges() {
            v.extend([s, s + (((e - s) / 2) & !0xfff), e - 4096]);
        }
        v
    }

    fn same(a: &Xlat, b: &Xlat) -> bool {
        (a.pa, a.writable, a.user, a.executable) == (b.pa, b.writable, b.user, b.executable)
    }

    /// (b) for `addrs` through `root`.
    fn check_root(&mut self, m: &Machine, root: PhysAddr, addrs: &[u64]) -> Check {
        let (mmu, kroot) = (m.arch.mmu(), m.pt.kernel_root().0);
        for &va in addrs {
            self.compared += 1;
            let want = Self::translate(m, &*mmu, kroot, va);
            let have = Self::translate(m, &*mmu, root.0, va);
            let ok = match (&want, &have) {
                (Ok(w), Ok(h)) => Self::same(w, h),
                (Err(_), Err(_)) => true,
                (Ok(_), Err(_)) => m.strategy == Strategy::Lazy,
                (Err(_), Ok(_)) => false,
            };
            if !ok {
                return Err(CheckFailure {
                    root: root.0,
                    slot: None,
                    addr: Some(va),
                    detail: format!("kernel: {}, this root: {}", show(&want), show(&have)),
                });
            }
        }
        Ok(())
    }

    /// No CPU's TLB holds a translation the kernel's tables no longer give.
    fn check_tlbs(&mut self, m: &Machine, addrs: &[u64]) -> Check {
        let (mmu, kroot) = (m.arch.mmu(), m.pt.kernel_root().0);
        for (i, c) in m.cpus.borrow().iter().enumerate() {
            for &va in addrs {
                let Some(cached) = c.cpu.tlb_peek(va) else {
                    continue;
                };
                let want = Self::translate(m, &*mmu, kroot, va);
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

    /// Check everything: every root, every probe address, every TLB.
    pub fn full(&mut self, m: &Machine) -> Check {
        let slots = m.arch.kernel_top_slots();
        self.snapshot = slots
            .clone()
            .map(|s| Self::slot_entry(m, m.pt.kernel_root(), s))
            .collect();
        let probes = Self::probes(m);
        let roots = m.pt.roots_with_user();
        self.seen = roots.iter().map(|r| r.0 .0).collect();
        for &(root, user) in &roots {
            Self::check_slots(m, root, false, slots.clone())?;
            self.check_root(m, root, &probes)?;
            if let Some(u) = user {
                Self::check_slots(m, u, true, slots.clone())?;
            }
        }
        self.check_tlbs(m, &probes)
    }

    /// Check after one step that touched `touched`: (a) for the kernel slots
    /// that changed since the last check in every root and in full for
    /// roots not seen before; (b) for `touched` through every CPU's root and
    /// a rotating sample of eight other roots.
    pub fn step(&mut self, m: &Machine, touched: &[u64]) -> Check {
        let slots = m.arch.kernel_top_slots();
        let first = slots.start;
        let now: Vec<u64> = slots
            .clone()
            .map(|s| Self::slot_entry(m, m.pt.kernel_root(), s))
            .collect();
        let changed: Vec<usize> = if self.snapshot.len() == now.len() {
            now.iter()
                .zip(&self.snapshot)
                .enumerate()
                .filter(|(_, (a, b))| a != b)
                .map(|(i, _)| first + i)
                .collect()
        } else {
            slots.clone().collect()
        };
        self.snapshot = now;
        let with_user = m.pt.roots_with_user();
        for &(root, user) in &with_user {
            let check: Vec<usize> = if self.seen.insert(root.0) {
                slots.clone().collect()
            } else {
                changed.clone()
            };
            Self::check_slots(m, root, false, check.iter().copied())?;
            if let Some(u) = user {
                Self::check_slots(m, u, true, check.iter().copied())?;
            }
        }
        let roots: Vec<PhysAddr> = with_user.iter().map(|r| r.0).collect();
        let cpu_roots: Vec<PhysAddr> = m
            .cpus
            .borrow()
            .iter()
            .map(|c| PhysAddr(c.cpu.roots().user))
            .collect();
        for root in cpu_roots {
            self.check_root(m, root, touched)?;
        }
        if !roots.is_empty() {
            for k in 0..8.min(roots.len()) {
                let root = roots[(self.rotate + k) % roots.len()];
                self.check_root(m, root, touched)?;
            }
            self.rotate = (self.rotate + 8) % roots.len();
        }
        self.check_tlbs(m, touched)
    }
}

fn show(r: &Result<Xlat, Fault>) -> String {
    match r {
        Ok(t) => format!("pa {:#x}{}", t.pa, if t.writable { " rw" } else { " ro" }),
        Err(f) => format!("{} fault at level {}", f.kind.name(), f.level),
    }
}
