//! The vmemmap of device memory in compound pages
//! (`vmemmap_populate_compound_pages()` in `mm/sparse-vmemmap.c`): the
//! tail `struct page`s of a compound page are all alike, so one page of
//! them backs the whole tail (4917f55b4ef9). This is the path of the
//! simulator's `compound-devmap` scenario, whose verdicts show it syncing
//! only from Linux 6.17 on.

use super::frames::alloc_aligned;
use super::vmemmap::page_span;
use super::{populate_path, FrameSource, KernelEditor};
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Arch, Level};
use crate::error::Error;
use crate::memory::TableMemory;
use crate::prot::Prot;
use alloc::vec::Vec;

/// `vmemmap_populate_compound_pages()`: the memmap `start..end` of device
/// memory in compound pages whose `struct page`s take `compound_memmap`
/// bytes each (`pgmap_vmemmap_nr() * sizeof(struct page)`). Of each
/// compound page's memmap only the first two pages get frames of their
/// own, the head page's and the first tail page's; every further page
/// maps the first tail page's frame again, since tail `struct page`s are
/// all alike. A compound page whose memmap fits in one page gets one frame.
/// Pages already mapped are refused ([`Error::AlreadyMapped`]). Not
/// covered: a compound page larger than a section, whose later sections
/// reuse the previous section's tail page (`reuse_compound_section()`). Returns the
/// memmap pages mapped; on an error they are unmapped again and the frames
/// given back.
pub fn vmemmap_populate_compound_pages<'a, A, M, E, F>(
    e: &mut E,
    start: VirtAddr,
    end: VirtAddr,
    compound_memmap: u64,
    frames: &mut F,
) -> core::result::Result<u64, F::Error>
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
    F: FrameSource + ?Sized,
{
    if !start.is_aligned(PAGE_SIZE) {
        return Err(Error::Misaligned(start.0).into());
    }
    let (s, last) = page_span(e.arch(), start, end)?;
    let pages = (last - s) / PAGE_SIZE + 1;
    let per = (compound_memmap / PAGE_SIZE).max(1);
    let mut own: Vec<PhysAddr> = Vec::new();
    let mut mapped = 0;
    let r = (|| {
        while mapped < pages {
            let head = alloc_aligned(frames, PAGE_SIZE)?;
            own.push(head);
            map_page(e, s + mapped * PAGE_SIZE, head)?;
            mapped += 1;
            // The tail pages of this compound page that lie in the range.
            let tails = (per - 1).min(pages - mapped);
            if tails > 0 {
                let tail = alloc_aligned(frames, PAGE_SIZE)?;
                own.push(tail);
                for _ in 0..tails {
                    map_page(e, s + mapped * PAGE_SIZE, tail)?;
                    mapped += 1;
                }
            }
        }
        Ok(())
    })();
    match r {
        Ok(()) => Ok(mapped),
        Err(err) => {
            if mapped > 0 {
                let _ = e.vunmap_range(VirtAddr(s), mapped * PAGE_SIZE);
            }
            for pa in own {
                frames.free(pa, PAGE_SIZE);
            }
            Err(err)
        }
    }
}

/// Map `frame` at the page `va`, populating the tables above it.
fn map_page<'a, A, M, E, X>(e: &mut E, va: u64, frame: PhysAddr) -> core::result::Result<(), X>
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
    X: From<Error>,
{
    let pte = populate_path(e, VirtAddr(va), Level::Pte)?;
    Ok(e.set_leaf(Level::Pte, VirtAddr(va), pte, frame, Prot::KERNEL)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::testing::{machine, Frames, VMEMMAP};
    use crate::mm::{vmemmap_free, Vmemmap};

    fn vm(struct_page: u64) -> Vmemmap {
        Vmemmap {
            base: VMEMMAP,
            struct_page,
            section_size: 128 << 20,
        }
    }

    #[test]
    fn compound_pages_share_the_tail_page_and_free_it_once() {
        let pt = machine();
        let v = vm(64);
        let mut frames = Frames::new(1 << 20);
        // 4 MiB of device memory in 2 MiB compound pages (order 9): 32 KiB
        // of memmap, 8 pages, per compound page.
        let (s, e) = v.memmap(PhysAddr(1 << 40), 4 << 20).unwrap();
        let per = 512 * v.struct_page;
        let (r, report) = pt
            .kernel()
            .edit(|ed| vmemmap_populate_compound_pages(ed, s, e, per, &mut frames));
        assert_eq!(r, Ok(16));
        assert!(report.synced());
        assert_eq!(frames.live.len(), 4);
        let pa = |i: u64| {
            pt.translate(pt.kernel_root(), VirtAddr(s.0 + i * 4096))
                .map(|m| m.pa)
        };
        assert_ne!(pa(0), pa(1));
        assert!((2..8).all(|i| pa(i) == pa(1)));
        assert_ne!(pa(8), pa(1));
        assert_eq!(pa(9), pa(15));
        // Mapped already: refused, nothing of the second call kept.
        let head = pa(0);
        let (r, _) = pt
            .kernel()
            .edit(|ed| vmemmap_populate_compound_pages(ed, s, e, per, &mut frames));
        assert_eq!(r, Err(Error::AlreadyMapped(s)));
        assert_eq!((frames.live.len(), pa(0)), (4, head));
        // A hostile compound size maps one head and tails up to the end.
        let (s2, e2) = (
            VirtAddr(e.0 + (1 << 20)),
            VirtAddr(e.0 + (1 << 20) + 3 * 4096),
        );
        let (r, _) = pt
            .kernel()
            .edit(|ed| vmemmap_populate_compound_pages(ed, s2, e2, u64::MAX, &mut frames));
        assert_eq!(r, Ok(3));
        assert_eq!(frames.live.len(), 6);
        let (r, _) = pt
            .kernel()
            .edit(|ed| vmemmap_free(ed, s2, e2, &mut frames, &mut |_: &crate::FlushRange| {}));
        assert_eq!(r.map(|r| r.unmapped), Ok(3 * 4096));
        let (r, _) = pt
            .kernel()
            .edit(|ed| vmemmap_free(ed, s, e, &mut frames, &mut |_: &crate::FlushRange| {}));
        assert_eq!(r.map(|r| r.unmapped), Ok(16 * 4096));
        assert!(frames.live.is_empty());
    }
}
