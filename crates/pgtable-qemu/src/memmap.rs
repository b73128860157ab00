//! The PVH `hvm_start_info` structure: magic, command line and the E820-style
//! memory map (version >= 1). Read through the boot identity map, copied out
//! at once so nothing later depends on where QEMU put it.

use core::ptr::read_unaligned;

pub const HVM_START_MAGIC: u32 = 0x336e_c578;
pub const E820_RAM: u32 = 1;
pub const MAX_RANGES: usize = 64;
const MAX_CMDLINE: usize = 256;

/// One memory-map entry: `[start, end)` of `kind` (1 = RAM).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemRange {
    pub start: u64,
    pub end: u64,
    pub kind: u32,
}

impl MemRange {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// What the kernel keeps of `hvm_start_info`.
pub struct BootInfo {
    pub version: u32,
    pub ranges: [MemRange; MAX_RANGES],
    pub nr_ranges: usize,
    cmdline: [u8; MAX_CMDLINE],
    cmdline_len: usize,
}

impl BootInfo {
    pub fn ranges(&self) -> &[MemRange] {
        &self.ranges[..self.nr_ranges]
    }

    /// Total bytes of RAM (type 1) in the map.
    pub fn ram_bytes(&self) -> u64 {
        self.ranges()
            .iter()
            .filter(|r| r.kind == E820_RAM)
            .map(MemRange::len)
            .sum()
    }

    /// RAM ranges clipped to `[min, max)` and shrunk to whole 4 KiB pages.
    pub fn usable(&self, min: u64, max: u64) -> impl Iterator<Item = MemRange> + '_ {
        self.ranges()
            .iter()
            .filter(|r| r.kind == E820_RAM)
            .map(move |r| MemRange {
                start: align_up(r.start.max(min), 4096),
                end: r.end.min(max) & !4095,
                kind: E820_RAM,
            })
            .filter(|r| !r.is_empty())
    }

    /// The kernel command line (`-append`), empty if none.
    pub fn cmdline(&self) -> &str {
        core::str::from_utf8(&self.cmdline[..self.cmdline_len]).unwrap_or("")
    }
}

fn align_up(v: u64, a: u64) -> u64 {
    (v + a - 1) & !(a - 1)
}

/// Parse the `hvm_start_info` at physical address `pa`.
pub fn parse(pa: u32) -> Result<BootInfo, &'static str> {
    if pa == 0 {
        return Err("no hvm_start_info (ebx = 0)");
    }
    let base = pa as u64;
    let rd32 = |pa: u64| -> u32 {
        // SAFETY: `pa` lies in hvm_start_info or the tables it points to,
        // which QEMU placed in RAM below 4 GiB, identity-mapped by the boot
        // tables; unaligned reads are used because nothing guarantees
        // alignment of the firmware's structures.
        unsafe { read_unaligned(pa as *const u32) }
    };
    let rd64 = |pa: u64| -> u64 {
        // SAFETY: as for `rd32`.
        unsafe { read_unaligned(pa as *const u64) }
    };
    if rd32(base) != HVM_START_MAGIC {
        return Err("bad hvm_start_info magic");
    }
    let mut info = BootInfo {
        version: rd32(base + 4),
        ranges: [MemRange::default(); MAX_RANGES],
        nr_ranges: 0,
        cmdline: [0; MAX_CMDLINE],
        cmdline_len: 0,
    };
    let cmdline_pa = rd64(base + 24);
    if cmdline_pa != 0 && cmdline_pa < (1 << 32) {
        while info.cmdline_len < MAX_CMDLINE {
            // SAFETY: as for `rd32`; the string is NUL-terminated.
            let b = unsafe { *((cmdline_pa + info.cmdline_len as u64) as *const u8) };
            if b == 0 {
                break;
            }
            info.cmdline[info.cmdline_len] = b;
            info.cmdline_len += 1;
        }
    }
    if info.version < 1 {
        return Err("hvm_start_info version 0 has no memory map");
    }
    let map = rd64(base + 40);
    let entries = rd32(base + 48) as usize;
    if map == 0 || entries == 0 {
        return Err("hvm_start_info memory map is empty");
    }
    for i in 0..entries.min(MAX_RANGES) {
        let e = map + 24 * i as u64;
        let (start, size) = (rd64(e), rd64(e + 8));
        info.ranges[i] = MemRange {
            start,
            end: start.saturating_add(size),
            kind: rd32(e + 16),
        };
    }
    info.nr_ranges = entries.min(MAX_RANGES);
    Ok(info)
}
