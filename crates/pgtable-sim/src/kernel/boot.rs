//! Booting the kernel on a machine, and the handle through which kernel
//! code runs on it afterwards.

use super::Kernel;
use crate::machine::{Machine, MachineConfig};
use crate::vocab::SimError;

impl Machine {
    /// A machine that has booted: direct map and vmemmap of boot memory,
    /// every kernel top-level slot filled under
    /// [`Strategy::Prealloc`](crate::Strategy::Prealloc).
    pub fn boot(cfg: MachineConfig) -> Result<Machine, SimError> {
        let m = Machine::new(cfg)?;
        m.kernel().boot()?;
        Ok(m)
    }

    /// The running kernel: init_mm locked, kernel users callable.
    pub fn kernel(&self) -> Kernel<'_> {
        Kernel {
            m: self,
            ks: self.pt.kernel(),
        }
    }
}
