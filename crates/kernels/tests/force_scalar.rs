//! The scalar override switches the dispatched kernels (own test binary, since
//! it flips process-global state).

mod common;

use common::{random_acts, random_weights, Rng, WEIGHT_TYPES};
use kernels::{set_force_scalar, simd_level, vec_dot, vec_dot_scalar_raw, QuantizedActs};

#[test]
fn force_scalar_selects_reference() {
    set_force_scalar(true);
    assert_eq!(simd_level(), "scalar");
    let mut rng = Rng::new(5);
    for ty in WEIGHT_TYPES {
        let k = 512;
        let w = random_weights(&mut rng, ty, k);
        let mut acts = QuantizedActs::new();
        acts.quantize(ty, &random_acts(&mut rng, k), 1, k);
        assert_eq!(
            vec_dot(ty, &w, &acts, 0).to_bits(),
            vec_dot_scalar_raw(ty, &w, acts.row(0)).unwrap().to_bits(),
            "{ty}"
        );
    }
    set_force_scalar(false);
}
