//! The table's own consistency: layouts as the gguf crate says, kernel sets
//! matmul can rely on.

use super::*;

/// Every level's kernel set of every format.
fn all_levels(f: &Format) -> Vec<(&'static str, &Kernels)> {
    let mut v = vec![("scalar", &f.scalar)];
    #[cfg(target_arch = "x86_64")]
    v.extend([
        ("avx2", &f.avx2),
        ("avx2_vnni", f.at(Level::Avx2Vnni)),
        ("avx512", &f.avx512),
        ("avx512_vnni", &f.avx512_vnni),
    ]);
    #[cfg(target_arch = "aarch64")]
    v.extend([("neon", &f.neon), ("neon_dotprod", &f.neon_dotprod)]);
    v
}

#[test]
fn layouts_agree_with_the_gguf_table() {
    for f in &FORMATS {
        assert_eq!(f.block, f.ty.block_size(), "{}", f.ty);
        assert_eq!(f.bytes, f.ty.type_size(), "{}", f.ty);
        assert_eq!(
            format(f.ty).map(|g| g.ty),
            Some(f.ty),
            "{} listed twice",
            f.ty
        );
    }
    assert_eq!(crate::q8::Q8_1_BYTES, GgmlType::Q8_1.type_size());
    assert_eq!(crate::q8::Q8_K_BYTES, GgmlType::Q8_K.type_size());
}

/// What matmul relies on: a cache only where a panel kernel reads it, a
/// decode kernel exactly for the lane orders, panels only with a row
/// count they pay from, and the scalar level in `vec_dot`'s order.
#[test]
fn kernel_sets_are_consistent() {
    for f in &FORMATS {
        for (level, k) in all_levels(f) {
            let what = format!("{} at {level}", f.ty);
            assert!(
                k.cache.is_none() || k.panel.is_some(),
                "{what}: cache without panel"
            );
            let lanes = !matches!(k.order, Order::VecDot);
            assert_eq!(
                lanes,
                k.rows4.is_some() || k.decode.is_some(),
                "{what}: a decode kernel (rows4 or decode) iff a lane order"
            );
            assert!(
                !lanes || k.few.is_none(),
                "{what}: few-rows kernel in a lane order"
            );
            if k.panel.is_some() || k.few.is_some() {
                assert!(k.panel_from >= 2 && k.panel_from < usize::MAX, "{what}");
                assert!([4, 8, 16].contains(&k.panel_rows), "{what}");
            }
        }
        assert!(matches!(f.scalar.order, Order::VecDot), "{}", f.ty);
        assert!(
            f.scalar.panel.is_none() && f.scalar.rows4.is_none() && f.scalar.decode.is_none(),
            "{}",
            f.ty
        );
    }
}
