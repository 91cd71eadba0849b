//! With the two-lane order switched off (tile-mask bit 4, a benchmarking
//! knob), every format's matmul is back in llama.cpp's `vec_dot` order, for
//! every row count (its own process: the knob is global).

mod common;

use common::{random_acts, random_weights, Rng, WEIGHT_TYPES};
use kernels::{matmul, matmul_reference_raw, vec_dot, QuantizedActs, ThreadPool};

#[test]
fn vec_dot_order_when_two_lane_is_off() {
    kernels::set_tile_mask(!16);
    let pool = ThreadPool::new(2);
    let mut rng = Rng::new(31);
    for ty in WEIGHT_TYPES {
        let k = if ty.block_size() == 256 { 512 } else { 96 };
        for (n_out, n_rows) in [(9usize, 1usize), (9, 5), (10, 64)] {
            let w: Vec<u8> = (0..n_out)
                .flat_map(|_| random_weights(&mut rng, ty, k))
                .collect();
            let x = random_acts(&mut rng, n_rows * k);
            let mut acts = QuantizedActs::new();
            acts.quantize(ty, &x, n_rows, k);
            let mut out = vec![0f32; n_rows * n_out];
            matmul(&pool, ty, &w, n_out, k, &acts, &mut out).unwrap();
            let rb = w.len() / n_out;
            for r in 0..n_rows {
                for o in 0..n_out {
                    let wr = &w[o * rb..(o + 1) * rb];
                    let v = vec_dot(ty, wr, &acts, r);
                    assert_eq!(
                        v.to_bits(),
                        out[r * n_out + o].to_bits(),
                        "{ty} n_rows={n_rows} r={r} o={o}"
                    );
                    assert_eq!(
                        v.to_bits(),
                        matmul_reference_raw(ty, wr, acts.row(r)).unwrap().to_bits()
                    );
                }
            }
        }
    }
    kernels::set_tile_mask(0xFF);
}
