//! Check (a): the kernel half of every registered root equals the
//! kernel's, slot by slot, and entry by entry in per-space copies of the
//! kernel's tables.

use super::{Audit, Check, CheckFailure, Checker};
use crate::machine::Machine;
use pgtable::{Decoded, Level, PhysAddr};
use pgtable::{EntryFormat, KernelPolicy, PagingGeometry};

/// An entry every space must agree with the kernel on.
#[derive(Clone, Copy, Debug)]
pub(super) enum Shared {
    /// Kernel slot `s` of the root.
    Slot(usize),
    /// Entry `i` of the table under kernel slot `s`, where each space has
    /// its own copy of that table and the sync copies its entries (x86-32
    /// PAE with per-process kernel PMDs).
    Below(usize, usize),
}

impl Checker {
    pub(super) fn slot_entry(m: &Machine, root: PhysAddr, slot: usize) -> u64 {
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
    pub(super) fn check_slots(
        m: &Machine,
        root: PhysAddr,
        user: bool,
        slots: std::ops::Range<usize>,
    ) -> Check {
        let kroot = m.pt.kernel_root();
        let shared = m.pt.pti_slots().unwrap_or(0..0);
        let (esize, first) = (m.arch.entry_size(), slots.start as u64);
        let (mut kernel, mut own) = (Vec::new(), Vec::new());
        Audit::read_entries(m, kroot.0 + first * esize, slots.len(), &mut kernel);
        Audit::read_entries(m, root.0 + first * esize, slots.len(), &mut own);
        for ((slot, &kernel), &have) in slots.zip(&kernel).zip(&own) {
            let want = if user && !shared.contains(&slot) {
                0
            } else {
                kernel
            };
            let lazily_missing = m.lazy_fixing() && have == 0;
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

    /// The level of the tables each space copies entry by entry just below
    /// its root, if the sync works there (x86-32 PAE with per-process
    /// kernel PMDs).
    pub(super) fn copied_level(m: &Machine) -> Option<Level> {
        use pgtable::arch::SyncMethod;
        let top = m.arch.top_level();
        match m.arch.sync_method() {
            SyncMethod::CopyEntries(l) if l > top => top.next(),
            _ => None,
        }
    }

    /// The table `root`'s top-level entry `slot` points at, if any.
    pub(super) fn child(m: &Machine, root: PhysAddr, slot: usize) -> Option<PhysAddr> {
        match m
            .arch
            .decode(m.arch.top_level(), Self::slot_entry(m, root, slot))
        {
            Decoded::Table(t) => Some(t),
            _ => None,
        }
    }

    /// Whether a root's top-level kernel entry `have` matches the kernel's
    /// `want`. Where each process has its own copy of the table below the
    /// top (x86-32 PAE with per-process kernel PMDs), the two point at
    /// different tables whose entries must be equal instead.
    pub(super) fn same_entry(m: &Machine, want: u64, have: u64) -> bool {
        if want == have {
            return true;
        }
        let top = m.arch.top_level();
        let (Decoded::Table(k), Decoded::Table(h), Some(child)) = (
            m.arch.decode(top, want),
            m.arch.decode(top, have),
            Self::copied_level(m),
        ) else {
            return false;
        };
        let n = 1usize << m.arch.level_bits(child);
        let (mut kernel, mut own) = (Vec::with_capacity(n), Vec::with_capacity(n));
        Audit::read_entries(m, k.0, n, &mut kernel);
        Audit::read_entries(m, h.0, n, &mut own);
        // Under the lazy strategy an entry is copied on first fault.
        kernel
            .iter()
            .zip(&own)
            .all(|(&k, &h)| h == k || (m.lazy_fixing() && h == 0))
    }

    /// (a) for one entry below the top (see [`Shared::Below`]). A root
    /// whose slot holds no table is the slot check's to judge.
    pub(super) fn check_below(m: &Machine, root: PhysAddr, slot: usize, i: usize) -> Check {
        let kroot = m.pt.kernel_root();
        let (Some(k), Some(h)) = (Self::child(m, kroot, slot), Self::child(m, root, slot)) else {
            return Self::check_slots(m, root, false, slot..slot + 1);
        };
        let size = m.arch.entry_size();
        let want = Self::slot_entry(m, PhysAddr(k.0 + i as u64 * size), 0);
        let have = Self::slot_entry(m, PhysAddr(h.0 + i as u64 * size), 0);
        if have == want || (m.lazy_fixing() && have == 0) {
            return Ok(());
        }
        Err(CheckFailure {
            root: root.0,
            slot: Some(slot),
            addr: None,
            detail: format!("entry {i} below the top is {have:#x}, kernel has {want:#x}"),
        })
    }

    /// The entries every space shares with the kernel, as the kernel holds
    /// them now: its kernel slots, then, where each space copies the table
    /// below a slot, that table's entries slot by slot.
    pub(super) fn kernel_state(m: &Machine) -> Vec<u64> {
        let (slots, kroot) = (m.arch.kernel_top_slots(), m.pt.kernel_root());
        let esize = m.arch.entry_size();
        let mut state = Vec::new();
        Audit::read_entries(
            m,
            kroot.0 + slots.start as u64 * esize,
            slots.len(),
            &mut state,
        );
        if let Some(child) = Self::copied_level(m) {
            let n = 1usize << m.arch.level_bits(child);
            let mut buf = Vec::with_capacity(n);
            for slot in slots {
                match Self::child(m, kroot, slot) {
                    Some(t) => {
                        Audit::read_entries(m, t.0, n, &mut buf);
                        state.extend_from_slice(&buf);
                    }
                    None => state.resize(state.len() + n, 0),
                }
            }
        }
        state
    }

    /// The entry at index `i` of [`kernel_state`](Self::kernel_state).
    pub(super) fn shared_at(m: &Machine, i: usize) -> Shared {
        let slots = m.arch.kernel_top_slots();
        if i < slots.len() {
            return Shared::Slot(slots.start + i);
        }
        let n = Self::copied_level(m).map_or(1, |c| 1usize << m.arch.level_bits(c));
        let k = i - slots.len();
        Shared::Below(slots.start + k / n, k % n)
    }

    /// (a) in full for one space: every kernel slot (and every entry
    /// below them that it copies), of its root and of its PTI user-mode
    /// root. `state` is the kernel's [`kernel_state`](Self::kernel_state)
    /// now: a slot equal to it, or whose copy below equals it, passes
    /// without reading the kernel's tables again; any other goes through
    /// [`check_slots`](Self::check_slots).
    pub(super) fn check_space(
        m: &Machine,
        state: &[u64],
        root: PhysAddr,
        user: Option<PhysAddr>,
    ) -> Check {
        let slots = m.arch.kernel_top_slots();
        let (esize, n) = (m.arch.entry_size(), slots.len());
        let mut own = Vec::with_capacity(n);
        Audit::read_entries(m, root.0 + slots.start as u64 * esize, n, &mut own);
        let lazy = m.lazy_fixing();
        let copied = Self::copied_level(m).map(|c| 1usize << m.arch.level_bits(c));
        let mut below = Vec::new();
        for (j, (&have, &kernel)) in own.iter().zip(&state[..n]).enumerate() {
            if have == kernel || (lazy && have == 0) {
                continue;
            }
            let slot = slots.start + j;
            if let (Some(cn), Decoded::Table(t), Decoded::Table(_)) = (
                copied,
                m.arch.decode(m.arch.top_level(), have),
                m.arch.decode(m.arch.top_level(), kernel),
            ) {
                let want = &state[n + j * cn..n + (j + 1) * cn];
                let agrees = |h: u64, k: u64| h == k || (lazy && h == 0);
                let same = match m.pt.mem().peek_words(t) {
                    // A whole page of 8-byte entries: compared in place.
                    Some(words) if esize == 8 && cn == words.len() => words
                        .iter()
                        .zip(want)
                        .all(|(h, &k)| agrees(h.load(std::sync::atomic::Ordering::Acquire), k)),
                    _ => {
                        Audit::read_entries(m, t.0, cn, &mut below);
                        below.iter().zip(want).all(|(&h, &k)| agrees(h, k))
                    }
                };
                if same {
                    continue;
                }
            }
            Self::check_slots(m, root, false, slot..slot + 1)?;
        }
        if let Some(u) = user {
            Self::check_slots(m, u, true, slots)?;
        }
        Ok(())
    }

    /// (a) for the entries `at` of one space.
    pub(super) fn check_shared(
        m: &Machine,
        root: PhysAddr,
        user: Option<PhysAddr>,
        at: &[Shared],
    ) -> Check {
        for &s in at {
            match s {
                Shared::Slot(slot) => {
                    Self::check_slots(m, root, false, slot..slot + 1)?;
                    if let Some(u) = user {
                        Self::check_slots(m, u, true, slot..slot + 1)?;
                    }
                }
                // PTI user-mode roots exist only where the sync copies
                // top-level entries (x86-64).
                Shared::Below(slot, i) => Self::check_below(m, root, slot, i)?,
            }
        }
        Ok(())
    }
}
