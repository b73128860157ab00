//! Architecture-neutral protections (Linux's `pgprot_t` presets).

bitflags::bitflags! {
    /// Access rights of a leaf mapping. Reading is always allowed.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct Access: u8 {
        /// Writes allowed.
        const WRITE = 1 << 0;
        /// Instruction fetch allowed.
        const EXEC = 1 << 1;
        /// Reachable from user mode.
        const USER = 1 << 2;
        /// Global: survives address-space switches in the TLB.
        const GLOBAL = 1 << 3;
    }
}

/// Memory type of a mapping (what `ioremap_*` chooses).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CacheMode {
    /// Normal cached memory.
    #[default]
    WriteBack,
    /// Write-combining (`ioremap_wc`).
    WriteCombining,
    /// Write-through (`ioremap_wt`).
    WriteThrough,
    /// Uncached (`ioremap`, `ioremap_uc`).
    Uncached,
}

/// The protection of a leaf: rights plus memory type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Prot {
    /// Access rights.
    pub access: Access,
    /// Memory type.
    pub cache: CacheMode,
}

impl Prot {
    /// `PAGE_KERNEL`: read-write, not executable, global.
    pub const KERNEL: Prot = Prot::new(Access::WRITE.union(Access::GLOBAL), CacheMode::WriteBack);
    /// `PAGE_KERNEL_RO`.
    pub const KERNEL_RO: Prot = Prot::new(Access::GLOBAL, CacheMode::WriteBack);
    /// `PAGE_KERNEL_EXEC`: read-write and executable (W^X exceptions only).
    pub const KERNEL_EXEC: Prot = Prot::new(
        Access::WRITE.union(Access::EXEC).union(Access::GLOBAL),
        CacheMode::WriteBack,
    );
    /// `PAGE_KERNEL_ROX`: kernel text.
    pub const KERNEL_ROX: Prot =
        Prot::new(Access::EXEC.union(Access::GLOBAL), CacheMode::WriteBack);
    /// `PAGE_SHARED`: user read-write.
    pub const USER_RW: Prot = Prot::new(Access::WRITE.union(Access::USER), CacheMode::WriteBack);
    /// `PAGE_READONLY`: user read-only.
    pub const USER_RO: Prot = Prot::new(Access::USER, CacheMode::WriteBack);

    /// A protection from its parts.
    #[must_use]
    pub const fn new(access: Access, cache: CacheMode) -> Self {
        Prot { access, cache }
    }

    /// The same rights with another memory type.
    #[must_use]
    pub const fn with_cache(self, cache: CacheMode) -> Self {
        Prot {
            access: self.access,
            cache,
        }
    }
}
