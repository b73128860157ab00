//! The simulated machine: sparse memory, CPUs with a software MMU and TLB,
//! and processes. The kernel that runs on it keeps its own state
//! (`kernel::state::KernelState`, which the machine only carries); booting
//! it and the handle through which kernel code runs are the kernel's
//! ([`crate::kernel`]).

use crate::arch::SimArch;
use crate::bus::Bus;
use crate::cpu::CpuMmu;
use crate::era::FaultHandler;
use crate::kernel::state::KernelState;
use crate::layout::SimLayout;
use crate::vocab::{Context, FaultRecord, SimError, Strategy};
use pgtable::arch::RegionKind;
use pgtable::KernelPolicy;
use pgtable::{
    AddressSpace, FlushRange, PageTables, PhysAddr, SparseMemory, SyncPolicy, TlbFlush, VirtAddr,
};
use pgtable_mmu::Roots;
use pgtable_mmu::{Access, Mode};
use std::cell::RefCell;

mod processes;

/// The page tables of the simulated machine.
pub type Tables = PageTables<SimArch, SparseMemory>;

/// One CPU.
#[derive(Debug)]
pub struct SimCpu {
    /// The software MMU with its TLB and loaded roots.
    pub cpu: CpuMmu,
    /// What it runs on.
    pub ctx: Context,
    /// Kernel accesses made.
    pub accesses: u64,
    /// Faults taken (handled lazily or not).
    pub faults: u64,
}

/// Machine parameters.
#[derive(Clone, Copy, Debug)]
pub struct MachineConfig {
    /// The paging mode.
    pub arch: SimArch,
    /// Number of CPUs.
    pub cpus: usize,
    /// Sync strategy.
    pub strategy: Strategy,
    /// Page-table isolation: each process also has a user-mode root holding
    /// only the CPU entry area of the kernel.
    pub pti: bool,
    /// The kernel's layout, if not the mode's default placement
    /// ([`SimLayout::new`]): a reported machine's
    /// ([`SimLayout::reported`]).
    pub layout: Option<SimLayout>,
}

/// The simulated machine.
pub struct Machine {
    /// All page tables.
    pub pt: Tables,
    /// The paging mode.
    pub arch: SimArch,
    /// The kernel's virtual layout.
    pub layout: SimLayout,
    /// The sync strategy.
    pub strategy: Strategy,
    pub(crate) cpus: RefCell<Vec<SimCpu>>,
    pub(crate) processes: RefCell<Vec<Option<AddressSpace>>>,
    pub(crate) faults: RefCell<Vec<FaultRecord>>,
    /// The state of the kernel running on the machine.
    pub(crate) kstate: KernelState,
}

impl Machine {
    /// A machine powered on, its kernel not booted yet (the kernel's
    /// `Machine::boot` boots it).
    pub(crate) fn new(cfg: MachineConfig) -> Result<Machine, SimError> {
        let arch = cfg.arch;
        let layout = cfg.layout.unwrap_or_else(|| SimLayout::new(arch));
        let (ts, te) = layout.table_frames;
        let mut mem = SparseMemory::new(PhysAddr(ts)..PhysAddr(te));
        if let Some((hs, he)) = layout.high_tables {
            mem = mem.with_high_tables(PhysAddr(hs)..PhysAddr(he));
        }
        let policy = if cfg.strategy == Strategy::Lazy {
            SyncPolicy::Lazy
        } else {
            SyncPolicy::Eager
        };
        let mut pt = PageTables::with_policy(arch, mem, policy)?;
        if layout.vmalloc != (0, 0) {
            // Where KASLR (or a reported machine) put vmalloc_base.
            pt = pt.with_vmalloc_area(VirtAddr(layout.vmalloc.0)..VirtAddr(layout.vmalloc.1))?;
        }
        if cfg.pti {
            let cea = arch
                .layout()
                .get(RegionKind::CpuEntryArea)
                .map_or(0..0, |r| r.start..r.last + 1);
            pt = pt.with_pti(VirtAddr(cea.start)..VirtAddr(cea.end))?;
        }
        let root = pt.kernel_root().0;
        let kstate = KernelState::new(layout.data_frames, arch.split_roots())?;
        let roots = if arch.split_roots() {
            Roots::split(kstate.reserved_pg_dir, root)
        } else {
            Roots::single(root)
        };
        let cpus = (0..cfg.cpus.max(1))
            .map(|_| SimCpu {
                cpu: CpuMmu::new(arch, roots),
                ctx: Context::Kernel,
                accesses: 0,
                faults: 0,
            })
            .collect();
        Ok(Machine {
            layout,
            arch,
            pt,
            strategy: cfg.strategy,
            cpus: RefCell::new(cpus),
            processes: RefCell::new(Vec::new()),
            faults: RefCell::new(Vec::new()),
            kstate,
        })
    }

    /// Number of CPUs.
    pub fn cpu_count(&self) -> usize {
        self.cpus.borrow().len()
    }

    /// The root a context runs on.
    pub fn root_of(&self, ctx: Context) -> Result<PhysAddr, SimError> {
        match ctx {
            Context::Kernel => Ok(self.pt.kernel_root()),
            Context::Process(p) => self
                .processes
                .borrow()
                .get(p)
                .and_then(|s| s.as_ref().map(|s| s.root()))
                .ok_or(SimError::NoProcess(p)),
        }
    }

    /// The roots a CPU loads to run `ctx`: its root, and on split-root
    /// architectures the kernel's for the upper half.
    pub fn roots_of(&self, ctx: Context) -> Result<Roots, SimError> {
        Ok(self.roots_for(self.root_of(ctx)?.0))
    }

    /// The roots a CPU loads to run on `root`: on split-root architectures
    /// `root` in the lower half (the empty `reserved_pg_dir` for the
    /// kernel's own root) and the kernel root in the upper half.
    pub fn roots_for(&self, root: u64) -> Roots {
        let kernel = self.pt.kernel_root().0;
        match (self.arch.split_roots(), root == kernel) {
            (true, true) => Roots::split(self.kstate.reserved_pg_dir, kernel),
            (true, false) => Roots::split(root, kernel),
            (false, _) => Roots::single(root),
        }
    }

    /// Schedule `ctx` on `cpu` (a CR3 load).
    pub fn switch(&self, cpu: usize, ctx: Context) -> Result<(), SimError> {
        let roots = self.roots_of(ctx)?;
        let mut cpus = self.cpus.borrow_mut();
        let c = &mut cpus[cpu];
        c.cpu.load(roots);
        c.ctx = ctx;
        Ok(())
    }

    /// What `cpu` runs on.
    pub fn context(&self, cpu: usize) -> Context {
        self.cpus.borrow()[cpu].ctx
    }

    /// Discharge an unmap's flush obligation: every simulated CPU drops its
    /// whole TLB (a superset of the range the obligation names).
    pub fn flush_tlb(&self, flush: TlbFlush) {
        flush.flush(&mut |_: &FlushRange| self.flush_tlb_all());
    }

    /// `flush_tlb_kernel_range()` on every CPU.
    pub fn flush_tlb_all(&self) {
        for c in self.cpus.borrow_mut().iter_mut() {
            c.cpu.flush_all();
        }
    }

    /// The frames behind a vmalloc area, a base-page vmemmap range, a
    /// compound vmemmap or a percpu chunk starting at `va`.
    pub fn frames_of(&self, va: u64) -> Option<Vec<PhysAddr>> {
        self.kstate.frames_of(va)
    }

    /// Faults recorded so far.
    pub fn faults(&self) -> Vec<FaultRecord> {
        self.faults.borrow().clone()
    }

    /// Data bytes handed out.
    pub fn data_in_use(&self) -> u64 {
        self.kstate.data_in_use()
    }

    /// Kernel ranges the kernel users mapped: (start, end, what).
    pub fn mapped_ranges(&self) -> Vec<(u64, u64, &'static str)> {
        self.kstate.mapped_ranges()
    }

    /// Install (or remove) the fault handler of a kernel era: a kernel
    /// fault in its range whose entry init_mm has is fixed by copying that
    /// entry and the access retried (`vmalloc_fault()`,
    /// `do_translation_fault()`).
    pub fn set_fault_handler(&self, h: Option<FaultHandler>) {
        self.kstate.set_fault_handler(h);
    }

    /// The fault handler installed, if any.
    pub fn fault_handler(&self) -> Option<FaultHandler> {
        self.kstate.fault_handler()
    }

    /// Whether a root may lack a kernel entry until a fault copies it: the
    /// lazy strategy, or an era's fault handler.
    pub fn lazy_fixing(&self) -> bool {
        self.strategy == Strategy::Lazy || self.kstate.fault_handler().is_some()
    }

    /// Faults the era's fault handler fixed so far.
    pub fn fixed_faults(&self) -> Vec<FaultRecord> {
        self.kstate.fixed_faults()
    }

    /// One kernel access by `cpu` on its current root, through its TLB.
    /// Under [`Strategy::Lazy`], a fault on a kernel address whose top-level
    /// entry the kernel has is fixed and retried, as `vmalloc_fault()` did;
    /// with an era's fault handler, only in the range it covers, and the
    /// fixed fault is recorded as such.
    pub(crate) fn access(
        &self,
        cpu: usize,
        va: u64,
        access: Access,
        what: &str,
    ) -> Result<(), FaultRecord> {
        let bus = Bus(self.pt.mem());
        let mut cpus = self.cpus.borrow_mut();
        let c = &mut cpus[cpu];
        c.accesses += 1;
        let mut r = c.cpu.access(&bus, va, access, Mode::Supervisor);
        let handler = self.kstate.fault_handler().filter(|h| h.covers(va));
        let lazy = self.strategy == Strategy::Lazy || handler.is_some();
        if let (Err(f), true) = (&r, lazy) {
            c.faults += 1;
            let first = FaultRecord::new(cpu, c.ctx, f, self.arch.level_name(f.level), what);
            if self
                .pt
                .sync_on_fault(PhysAddr(c.cpu.roots().user), VirtAddr(va))
            {
                r = c.cpu.access(&bus, va, access, Mode::Supervisor);
                if r.is_ok() && handler.is_some() {
                    self.kstate.note_fixed(first);
                }
            }
        }
        match r {
            Ok(_) => Ok(()),
            Err(f) => {
                if !lazy {
                    c.faults += 1;
                }
                let rec = FaultRecord::new(cpu, c.ctx, &f, self.arch.level_name(f.level), what);
                drop(cpus);
                self.faults.borrow_mut().push(rec.clone());
                Err(rec)
            }
        }
    }
}
