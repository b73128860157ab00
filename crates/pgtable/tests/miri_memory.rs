//! `OffsetMemory`, the backend with `unsafe` code, driven through its public
//! API only, small enough to run under Miri (`.ci/miri`), which checks every
//! access for alignment, bounds and data races. The same tests run natively
//! with `cargo test`.
//!
//! Covered: the constructor's refusals (an unaligned start used to make
//! misaligned `AtomicU64`s, a region past the top overflowed), allocation,
//! zeroing, 8- and 4-byte reads and writes, `table_words`, bad frees, and
//! threads reading frames (8- and 4-byte words, whole tables) while others
//! allocate, zero and write them: the zeroing used a plain `memset` and the
//! 4-byte accesses were 4-byte atomics, both data races under the Rust
//! memory model with a concurrent reader.

use pgtable::PageSize;
use pgtable::{MemoryError, OffsetMemory, PageTables, PhysAddr, Prot, VirtAddr, PAGE_SIZE, X86_64};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

const START: u64 = 0x10_0000;

/// Iterations of the racing loops: small under Miri, larger natively.
const ROUNDS: usize = if cfg!(miri) { 8 } else { 2000 };

fn mem(pages: u64) -> OffsetMemory {
    OffsetMemory::new_host(PhysAddr(START), pages * PAGE_SIZE).unwrap()
}

#[test]
fn new_host_edge_cases_are_typed_errors() {
    let e = |start: u64, len: u64| OffsetMemory::new_host(PhysAddr(start), len).err();
    for start in [1, 4, 8, 0x800, START + 8] {
        assert_eq!(
            e(start, PAGE_SIZE),
            Some(MemoryError::Misaligned),
            "{start:#x}"
        );
    }
    assert_eq!(e(0, 0), Some(MemoryError::Empty));
    assert_eq!(e(0, u64::MAX), Some(MemoryError::Overflow));
    assert_eq!(e(!0xfff_u64, 1), Some(MemoryError::Overflow));
    assert_eq!(e(1 << 63, 1 << 63), Some(MemoryError::Overflow));
    assert_eq!(e(0, 1 << 63), Some(MemoryError::TooLarge));
    let err: &dyn std::error::Error = &MemoryError::Misaligned;
    assert_eq!(err.to_string(), "memory region is not page-aligned");
    // A length is rounded up to whole pages.
    let m = OffsetMemory::new_host(PhysAddr(0), 1).unwrap();
    assert_eq!(m.alloc_table(), Ok(PhysAddr(0)));
    assert_eq!(m.alloc_table(), Err(pgtable::Error::OutOfMemory));
}

#[test]
fn every_access_stays_inside_and_aligned() {
    let m = mem(2);
    let t = m.alloc_table().unwrap();
    assert!(m
        .table_words(t)
        .unwrap()
        .iter()
        .all(|w| w.load(Ordering::Relaxed) == 0));
    m.write_u64(PhysAddr(t.0 + 16), u64::MAX);
    m.write_u32(PhysAddr(t.0 + 20), 7);
    assert_eq!(m.read_u32(PhysAddr(t.0 + 16)), u32::MAX);
    assert_eq!(m.read_u32(PhysAddr(t.0 + 20)), 7);
    assert_eq!(m.read_u64(PhysAddr(t.0 + 16)) & 0xffff_ffff, 0xffff_ffff);
    // Outside the region, unaligned, or straddling its end: reads zero,
    // writes dropped, no table words.
    let end = START + 2 * PAGE_SIZE;
    for pa in [
        0,
        START - 8,
        START + 1,
        START + 4,
        end - 4,
        end,
        u64::MAX - 7,
        u64::MAX,
    ] {
        m.write_u64(PhysAddr(pa), 1);
        assert_eq!(m.read_u64(PhysAddr(pa)), 0, "{pa:#x}");
    }
    for pa in [START - 4, START + 2, end, u64::MAX - 3, u64::MAX] {
        m.write_u32(PhysAddr(pa), 1);
        assert_eq!(m.read_u32(PhysAddr(pa)), 0, "{pa:#x}");
    }
    for pa in [0, START - PAGE_SIZE, START + 8, end, !0xfff_u64, u64::MAX] {
        assert!(m.table_words(PhysAddr(pa)).is_none(), "{pa:#x}");
    }
    assert_eq!(
        m.table_words(PhysAddr(START + PAGE_SIZE)).map(<[_]>::len),
        Some(512)
    );
}

#[test]
fn frees_of_anything_else_are_ignored() {
    let m = mem(8);
    let a = m.alloc_table().unwrap();
    let block = m.alloc_table_block(4).unwrap();
    for bad in [
        a.0 + 8,
        START + 7 * PAGE_SIZE,
        block.0,
        block.0 + PAGE_SIZE,
        0,
        u64::MAX,
    ] {
        m.free_table(PhysAddr(bad));
    }
    for (b, pages) in [
        (block.0, 2),
        (block.0, 8),
        (a.0, 4),
        (u64::MAX, u64::MAX),
        (block.0, 0),
    ] {
        m.free_table_block(PhysAddr(b), pages);
    }
    assert_eq!(m.tables_in_use(), 5);
    m.free_table(a);
    m.free_table(a);
    m.free_table_block(block, 4);
    m.free_table_block(block, 4);
    assert_eq!(m.tables_in_use(), 0);
    let mut got: Vec<_> = (0..4).map(|_| m.alloc_table().unwrap()).collect();
    got.push(m.alloc_table_block(4).unwrap());
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 5, "nothing handed out twice");
}

/// Readers of every size on every word of the region while a writer
/// allocates (zeroing), writes and frees frames.
#[test]
fn readers_race_allocation_zeroing_and_writes() {
    let m = mem(4);
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        for reader in 0..2u64 {
            let (m, stop) = (&m, &stop);
            s.spawn(move || {
                let mut sum = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for page in 0..4 {
                        let t = PhysAddr(START + page * PAGE_SIZE);
                        if reader == 0 {
                            let words = m.table_words(t).unwrap();
                            sum = sum.wrapping_add(words[0].load(Ordering::Acquire));
                            sum = sum.wrapping_add(words[511].load(Ordering::Relaxed));
                        } else {
                            sum = sum.wrapping_add(m.read_u64(PhysAddr(t.0 + 8)));
                            sum = sum.wrapping_add(u64::from(m.read_u32(PhysAddr(t.0 + 4))));
                        }
                    }
                    thread::yield_now();
                }
                sum
            });
        }
        for i in 0..ROUNDS as u64 {
            let t = m.alloc_table().unwrap();
            assert_eq!(m.read_u64(PhysAddr(t.0 + 8)), 0, "zeroed");
            m.write_u64(PhysAddr(t.0 + 8), i + 1);
            m.write_u32(PhysAddr(t.0 + 4), 3);
            m.write_u64(PhysAddr(t.0 + 4088), i);
            let t2 = m.alloc_table_for_overwrite().unwrap();
            m.write_u64(t2, i);
            m.free_table(t2);
            m.free_table(t);
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(m.tables_in_use(), 0);
}

/// 4- and 8-byte writers and readers on the same words from several threads.
#[test]
fn four_and_eight_byte_accesses_to_one_word_do_not_race() {
    let m = mem(1);
    let w = PhysAddr(START + 64);
    thread::scope(|s| {
        s.spawn(|| {
            for i in 0..ROUNDS as u32 {
                m.write_u32(w, i);
                m.write_u32(PhysAddr(w.0 + 4), !i);
            }
        });
        s.spawn(|| {
            for i in 0..ROUNDS as u64 {
                m.write_u64(w, i << 32 | i);
                let _ = m.read_u32(PhysAddr(w.0 + 4));
            }
        });
        s.spawn(|| {
            let words = m.table_words(PhysAddr(START)).unwrap();
            for _ in 0..ROUNDS {
                let _ = m.read_u64(w) ^ words[8].load(Ordering::Acquire);
                let _ = m.read_u32(w);
            }
        });
    });
    // Each half holds what its last writer wrote, never a torn mix of a
    // 4-byte write.
    let v = m.read_u64(w).to_ne_bytes();
    assert_eq!(v[..4], m.read_u32(w).to_ne_bytes());
    assert_eq!(v[4..], m.read_u32(PhysAddr(w.0 + 4)).to_ne_bytes());
}

/// The page-table library on top: a kernel mapping made while other threads
/// translate it from another root.
#[test]
fn page_tables_over_offset_memory_with_concurrent_walks() {
    let mem = OffsetMemory::new_host(PhysAddr(1 << 32), 32 * PAGE_SIZE).unwrap();
    let pt = PageTables::new(X86_64::FOUR_LEVEL, mem).unwrap();
    let space = pt.create_space().unwrap();
    let va = VirtAddr(0xffff_c900_0000_0000);
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Acquire) {
                if let Some(m) = pt.translate(space.root(), va) {
                    assert_eq!(m.pa, PhysAddr(0x20_0000));
                }
                thread::yield_now();
            }
        });
        for _ in 0..if cfg!(miri) { 2 } else { 50 } {
            pt.kernel()
                .edit(|e| {
                    e.vmap_range(
                        va,
                        PhysAddr(0x20_0000),
                        2 * PAGE_SIZE,
                        Prot::KERNEL,
                        PageSize::Base,
                    )
                })
                .0
                .unwrap();
            assert_eq!(
                pt.translate(space.root(), va).unwrap().pa,
                PhysAddr(0x20_0000)
            );
            pt.kernel()
                .edit(|e| e.vunmap_range(va, 2 * PAGE_SIZE))
                .0
                .unwrap()
                .ignore();
        }
        done.store(true, Ordering::Release);
    });
    assert!(pt.translate(space.root(), va).is_none());
    pt.destroy_space(space).expect("own space").ignore();
}
