//! The check report every test kernel shares (`pgtable-qemu-common`),
//! printed on this kernel's console and ended through its exit.

pgtable_qemu_common::kernel_report!(console);
