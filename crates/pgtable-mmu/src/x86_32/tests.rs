use super::*;

#[test]
fn geometry() {
    let m = X86_32Mmu::new_32bit();
    let p = X86_32Mmu::new_pae();
    assert_eq!(
        (m.root_level(), m.shift(2), m.entries(2), m.entry_bytes()),
        (2, 22, 1024, 4)
    );
    assert_eq!(
        (p.root_level(), p.shift(3), p.entries(3), p.entry_bytes()),
        (3, 30, 4, 8)
    );
    assert_eq!((p.shift(2), p.entries(1)), (21, 512));
    assert_eq!(p.root_base(0x1234_5678), 0x1234_5660);
    assert_eq!(m.root_base(0x1234_5678), 0x1234_5000);
    assert_eq!(bits(21, 13), 0x3f_e000);
}
