//! The TLB-flush hook the SMP rounds hand to the library's `TlbFlush`:
//! Linux's `flush_tlb_kernel_range()` on x86 (arch/x86/mm/tlb.c): flush the
//! local CPU, interrupt every other CPU (`on_each_cpu`) and wait until each
//! has flushed (`shootdown::handle` on the AP).

use super::ap;
use crate::{apic, shootdown};
use alloc::format;
use alloc::string::String;
use pgtable::PagingGeometry;
use pgtable::{FlushRange, X86_64};

/// The flush hook of `flush_tlb_kernel_range()`: flush here, IPI every AP,
/// wait for each acknowledgement.
pub struct IpiFlush<'a> {
    pub aps: &'a [usize],
    pub arch: X86_64,
    /// Whether to interrupt the APs (false: the negative control's bug, a
    /// flush of the local CPU only).
    pub remote: bool,
    pub error: Option<String>,
    pub ipis: u64,
    pub full: u64,
    pub pages: u64,
}

impl<'a> IpiFlush<'a> {
    /// A hook for `aps` (remote) or the local CPU only.
    pub fn new(aps: &'a [usize], arch: X86_64, remote: bool) -> Self {
        IpiFlush {
            aps,
            arch,
            remote,
            error: None,
            ipis: 0,
            full: 0,
            pages: 0,
        }
    }

    /// `flush_tlb_kernel_range()` for `r`; a failure is left in `error`.
    pub fn flush(&mut self, r: &FlushRange) {
        let stride = self.arch.level_size(r.stride);
        let (start, end) = (r.start.0, r.end.0);
        let full = shootdown::is_full(start, end, stride, r.freed_tables);
        if full {
            self.full += 1;
        } else {
            self.pages += 1;
        }
        shootdown::flush_local(start, end, stride, full);
        if !self.remote || self.error.is_some() {
            return;
        }
        let seq = shootdown::post(start, end, stride, full);
        for &ap in self.aps {
            if !apic::send_fixed(ap as u32, shootdown::VECTOR_SHOOTDOWN) {
                self.error = Some(format!("IPI to cpu {ap} stayed pending"));
                return;
            }
            self.ipis += 1;
        }
        for &ap in self.aps {
            let r = ap::wait(&format!("cpu {ap} acknowledging shootdown {seq}"), || {
                shootdown::acked(ap) >= seq
            });
            if let Err(e) = r {
                self.error = Some(e);
                return;
            }
        }
    }
}
