//! One descriptor per weight format ([`FORMATS`]): its block layout, the
//! activation type it is dotted against, and its kernels at every SIMD level
//! ([`Kernels`]): which op order matmul gives its outputs, which kernel runs
//! a single dot product, decode (4 weight rows x 1 activation row), a few
//! activation rows (the batched decode step), many (prefill), and which
//! panels a [`crate::PanelCache`] holds for it. "What runs for Q5_0 on
//! AVX-512?" is answered here and nowhere else; the rest of the crate looks
//! kernels up through [`kernels`].
//!
//! Adding a format: its block type (`QuantBlock`, and `Block32` for a
//! 32-element format with an f16 scale) in a file of its own, its kernel files
//! under `avx2/`, `avx512/`, `neon/` where it has SIMD kernels, and one entry
//! here ([`Kernels::scalar`] for the levels that have none). Adding a level:
//! a `crate::simd::Level`, its detection, and a column here.

use crate::block::QuantBlock;
use crate::float::{BlockBF16, BlockF16, BlockF32};
use crate::k_quants::{
    q2_k::BlockQ2K, q3_k::BlockQ3K, q4_k::BlockQ4K, q5_k::BlockQ5K, q6_k::BlockQ6K,
};
use crate::matmul::Tile;
use crate::mxfp4::BlockMXFP4;
use crate::panel_cache::{CacheSpec, Panels};
use crate::q4::{BlockQ4_0, BlockQ4_1};
use crate::q5::{BlockQ5_0, BlockQ5_1};
use crate::q8::BlockQ8_0;
use crate::simd::Level;
use gguf::GgmlType;

#[cfg(target_arch = "aarch64")]
use crate::neon;
#[cfg(target_arch = "x86_64")]
use crate::{avx2, avx512, orders};

// The kernel types. Every SIMD kernel may only be called on a CPU with the
// features of the level it is listed under (hence `unsafe fn`); each checks
// its rows' lengths itself, except where its type says otherwise.

/// Decode a row to f32 (`src` holds whole blocks for `dst.len()` elements).
pub(crate) type DequantFn = unsafe fn(&[u8], &mut [f32]);
/// One dot product: weight row bytes, activation row bytes (of the format's
/// activation type, as many elements).
pub(crate) type DotFn = unsafe fn(&[u8], &[u8]) -> f32;
/// 1 weight row x 4 activation rows, each output bit-identical to `DotFn`.
pub(crate) type Dot14Fn = unsafe fn(&[u8], [&[u8]; 4]) -> [f32; 4];
/// 4 weight rows x 1 activation row in the format's lane order (decode).
pub(crate) type Rows4Fn = unsafe fn([&[u8]; 4], &[u8]) -> [f32; 4];
/// Weight rows `o0..o1` of a matrix (rows of `rb` bytes) x 1 activation row
/// in the format's lane order (decode): `(w, rb, o0, o1, a, out)`.
pub(crate) type DecodeFn = unsafe fn(&[u8], usize, usize, usize, &[u8], &mut [f32]);
/// [`DecodeFn`] for 1 to 4 activation rows at once (`a[i]`'s outputs in
/// `out[i]`), each weight row unpacked once for all: `(w, rb, o0, o1, a,
/// out)`, each output bit-identical to [`DecodeFn`]'s.
pub(crate) type DecodeNFn = unsafe fn(&[u8], usize, usize, usize, &[&[u8]], &mut [&mut [f32]]);
/// A whole matmul [`Tile`] at once (many weight rows x several activation
/// rows), reading the matrix's panels where a cache is given. Besides the
/// level's features, the caller guarantees the tile's contract (see [`Tile`])
/// and that the cache, if any, was built from this matrix by this level's
/// [`Kernels::cache`].
pub(crate) type PanelFn = unsafe fn(&Tile<'_>, Option<&Panels>);
/// A scalar reference of an op order (safe: plain Rust).
pub(crate) type RefFn = fn(&[u8], &[u8]) -> f32;

/// The op order of every output matmul computes for a format at a level: one
/// order whatever the batch, tile kernel or thread count.
#[derive(Clone, Copy)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // two-lane: x86 only
pub(crate) enum Order {
    /// llama.cpp's `vec_dot` order: that of [`Kernels::dot`] (reference: the
    /// scalar `dot`).
    VecDot,
    /// The one-lane order (`crate::orders`), with its scalar reference.
    OneLane(RefFn),
    /// The two-lane order (`crate::orders`), with its scalar reference.
    TwoLane(RefFn),
}

/// A format's kernels at one SIMD level. matmul takes, per tile: `panel` for
/// `panel_from`+ activation rows, `few` for 2 and more, else `rows4` (decode,
/// lane-order formats) or `dot_1x4` and `dot` (vec_dot order).
#[derive(Clone, Copy)]
pub(crate) struct Kernels {
    /// The order of matmul's outputs (`rows4`, `few` and `panel` follow it).
    pub(crate) order: Order,
    pub(crate) dequant: DequantFn,
    /// One dot product in llama.cpp's `vec_dot` order (`crate::vec_dot`).
    pub(crate) dot: DotFn,
    /// 1 weight row x 4 activation rows, `vec_dot` order.
    pub(crate) dot_1x4: Option<Dot14Fn>,
    /// 4 weight rows x 1 activation row (the lane orders' decode kernel).
    pub(crate) rows4: Option<Rows4Fn>,
    /// Any number of weight rows x 1 activation row (decode, where it pays
    /// over `rows4`).
    pub(crate) decode: Option<DecodeFn>,
    /// `decode` for 2 to 4 activation rows at once (a tile of so few rows
    /// without `few` or `panel`: each weight row unpacked once for all).
    pub(crate) decode_n: Option<DecodeNFn>,
    /// Whole tiles of 2 to `panel_from - 1` activation rows.
    pub(crate) few: Option<PanelFn>,
    /// Whole tiles of `panel_from` or more activation rows; also the kernel
    /// that reads `cache`'s panels, for any number of rows `few` would take.
    pub(crate) panel: Option<PanelFn>,
    pub(crate) panel_from: usize,
    /// `few` and `panel` take tiles of whole panels of this many weight rows
    /// (but a last 4).
    pub(crate) panel_rows: usize,
    /// The panels a `PanelCache` holds for `panel`, if it reads any.
    pub(crate) cache: Option<CacheSpec>,
}

impl Kernels {
    /// Only `B`'s scalar reference kernels.
    pub(crate) const fn scalar<B: QuantBlock>() -> Kernels {
        Kernels {
            order: Order::VecDot,
            dequant: B::dequantize_row,
            dot: B::vec_dot_scalar,
            dot_1x4: None,
            rows4: None,
            decode: None,
            decode_n: None,
            few: None,
            panel: None,
            panel_from: usize::MAX,
            panel_rows: 4,
            cache: None,
        }
    }
}

/// One weight format.
pub(crate) struct Format {
    pub(crate) ty: GgmlType,
    /// Elements and bytes per block.
    pub(crate) block: usize,
    #[allow(dead_code)] // the layout, checked against gguf's table (tests)
    pub(crate) bytes: usize,
    /// The activation type rows are quantized to (llama.cpp's `vec_dot_type`).
    pub(crate) act: GgmlType,
    /// The reference: what every level's results equal, bit for bit (in its
    /// order's scalar reference where the order is not `vec_dot`'s).
    pub(crate) scalar: Kernels,
    #[cfg(target_arch = "x86_64")]
    pub(crate) avx2: Kernels,
    /// AVX2 with AVX-VNNI; `None`: AVX2's kernels.
    #[cfg(target_arch = "x86_64")]
    pub(crate) avx2_vnni: Option<Kernels>,
    #[cfg(target_arch = "x86_64")]
    pub(crate) avx512: Kernels,
    #[cfg(target_arch = "x86_64")]
    pub(crate) avx512_vnni: Kernels,
    #[cfg(target_arch = "aarch64")]
    pub(crate) neon: Kernels,
    #[cfg(target_arch = "aarch64")]
    pub(crate) neon_dotprod: Kernels,
    /// NEON with dotprod and i8mm; `None`: `neon_dotprod`'s kernels.
    #[cfg(target_arch = "aarch64")]
    pub(crate) neon_i8mm: Option<Kernels>,
}

impl Format {
    /// The kernels at `level` (the scalar ones for a level of another
    /// architecture, which is never detected here).
    pub(crate) fn at(&self, level: Level) -> &Kernels {
        match level {
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => &self.avx2,
            #[cfg(target_arch = "x86_64")]
            Level::Avx2Vnni => self.avx2_vnni.as_ref().unwrap_or(&self.avx2),
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => &self.avx512,
            #[cfg(target_arch = "x86_64")]
            Level::Avx512Vnni => &self.avx512_vnni,
            #[cfg(target_arch = "aarch64")]
            Level::Neon => &self.neon,
            #[cfg(target_arch = "aarch64")]
            Level::NeonDotprod => &self.neon_dotprod,
            #[cfg(target_arch = "aarch64")]
            Level::NeonI8mm => self.neon_i8mm.as_ref().unwrap_or(&self.neon_dotprod),
            _ => &self.scalar,
        }
    }
}

/// The format `ty`, if the kernels support it.
pub(crate) fn format(ty: GgmlType) -> Option<&'static Format> {
    FORMATS.iter().find(|f| f.ty == ty)
}

/// The kernels of `ty` at the current SIMD level.
pub(crate) fn kernels(ty: GgmlType) -> Option<&'static Kernels> {
    Some(format(ty)?.at(crate::simd::level()))
}

/// A format's layout fields from its block type.
macro_rules! layout {
    ($b:ty) => {
        Format {
            ty: <$b>::TYPE,
            block: <$b>::BLOCK,
            bytes: <$b>::BYTES,
            act: <$b>::DOT_TYPE,
            scalar: Kernels::scalar::<$b>(),
            #[cfg(target_arch = "x86_64")]
            avx2: Kernels::scalar::<$b>(),
            #[cfg(target_arch = "x86_64")]
            avx2_vnni: None,
            #[cfg(target_arch = "x86_64")]
            avx512: Kernels::scalar::<$b>(),
            #[cfg(target_arch = "x86_64")]
            avx512_vnni: Kernels::scalar::<$b>(),
            #[cfg(target_arch = "aarch64")]
            neon: Kernels::scalar::<$b>(),
            #[cfg(target_arch = "aarch64")]
            neon_dotprod: Kernels::scalar::<$b>(),
            #[cfg(target_arch = "aarch64")]
            neon_i8mm: None,
        }
    };
}

/// The one-lane formats on AVX2 and up (Q4_0, Q5_0, Q8_0): decode 4 rows at a
/// time straight from the weights, panels of 8 rows from 4 activation rows
/// (cached at AVX2 only); AVX2's kernels at AVX-512 without VNNI.
#[cfg(target_arch = "x86_64")]
const fn one_lane<B: crate::block::Block32>(cache: bool) -> Kernels {
    Kernels {
        order: Order::OneLane(orders::one_lane::<B>),
        dot: avx2::legacy::vec_dot::<B>,
        rows4: Some(avx2::one_lane::rows4::<B>),
        panel: Some(avx2::one_lane::panels::<B>),
        panel_from: 4,
        panel_rows: 8,
        cache: if cache {
            Some(avx2::one_lane::cache::<B>())
        } else {
            None
        },
        ..Kernels::scalar::<B>()
    }
}

/// The one-lane formats with AVX-512 VNNI: decode row by row
/// (`avx512::rowdec`), panels of 16 rows formed by `vpdpbusd`
/// (`avx512::one_lane`), cached.
#[cfg(target_arch = "x86_64")]
const fn one_lane_vnni<B: crate::block::Block32>() -> Kernels {
    Kernels {
        decode: Some(avx512::rowdec::decode::<B>),
        decode_n: Some(avx512::rowdec::decode_n::<B>),
        panel: Some(avx512::one_lane::panels::<B>),
        panel_rows: 16,
        cache: Some(avx512::one_lane::cache::<B>()),
        ..one_lane::<B>(false)
    }
}

/// The one-lane formats with AVX-VNNI: AVX2's decode rows and panels of 8
/// rows (cached), the passes by `vpdpbusd` (`avx2::one_lane_vnni`).
#[cfg(target_arch = "x86_64")]
const fn one_lane_avx_vnni<B: crate::block::Block32>() -> Option<Kernels> {
    Some(Kernels {
        panel: Some(avx2::one_lane_vnni::panels::<B>),
        ..one_lane::<B>(true)
    })
}

/// The one-lane formats with NEON i8mm (Q4_0, Q5_0, Q8_0): their `SDOT`
/// dot product (`vec_dot`), decode 4 rows at a time in the one-lane order by
/// `SDOT`, tiles of 2 weight rows x 2 activation rows per `SMMLA`
/// (`neon::i8mm`), the row pairs cached.
#[cfg(target_arch = "aarch64")]
const fn one_lane_i8mm<B: crate::block::Block32>(dot: DotFn) -> Option<Kernels> {
    Some(Kernels {
        order: Order::OneLane(crate::orders::one_lane::<B>),
        dot,
        rows4: Some(neon::i8mm::rows4::<B>),
        panel: Some(neon::i8mm::panels::<B>),
        panel_from: 2,
        panel_rows: 4,
        cache: Some(neon::i8mm::cache::<B>()),
        ..Kernels::scalar::<B>()
    })
}

/// The two-lane formats on AVX2 and up (Q4_1, Q5_1): decode 4 rows at a time
/// with AVX2's `rows4` at every level (a 512-bit version pairing rows (0, 1)
/// and (2, 3) in one vector decoded smollm2 about 20 % slower on this Xeon,
/// 1 and 2 threads: BENCHMARKS.md 2026-12-07), panels of 4 rows from 4
/// activation rows, each pass at level `P` (cached at AVX2 only).
#[cfg(target_arch = "x86_64")]
const fn two_lane<B: crate::block::Block32, P: avx2::panel::Pass>(cache: bool) -> Kernels {
    Kernels {
        order: Order::TwoLane(orders::two_lane::<B>),
        dot: avx2::legacy::vec_dot::<B>,
        rows4: Some(avx2::two_lane::rows4::<B>),
        panel: Some(avx2::two_lane::panels::<B, P>),
        panel_from: 4,
        panel_rows: 4,
        cache: if cache {
            Some(avx2::two_lane::cache::<B>())
        } else {
            None
        },
        ..Kernels::scalar::<B>()
    }
}

/// Every supported weight format and its kernels per level. Where a level has
/// no kernel of its own, the entry names the one it runs (AVX2's on AVX-512,
/// or the scalar reference).
pub(crate) static FORMATS: [Format; 14] = [
    Format {
        scalar: Kernels {
            dequant: crate::float::copy_f32,
            ..Kernels::scalar::<BlockF32>()
        },
        #[cfg(target_arch = "x86_64")]
        avx2: Kernels {
            dequant: crate::float::copy_f32,
            dot: avx2::float::vec_dot_f32,
            ..Kernels::scalar::<BlockF32>()
        },
        #[cfg(target_arch = "x86_64")]
        avx512: Kernels {
            dequant: crate::float::copy_f32,
            dot: avx512::bw::vec_dot_f32,
            ..Kernels::scalar::<BlockF32>()
        },
        #[cfg(target_arch = "x86_64")]
        avx512_vnni: Kernels {
            dequant: crate::float::copy_f32,
            dot: avx512::vnni::vec_dot_f32,
            ..Kernels::scalar::<BlockF32>()
        },
        #[cfg(target_arch = "aarch64")]
        neon: Kernels {
            dequant: crate::float::copy_f32,
            dot: neon::float::dot_f32,
            ..Kernels::scalar::<BlockF32>()
        },
        #[cfg(target_arch = "aarch64")]
        neon_dotprod: Kernels {
            dequant: crate::float::copy_f32,
            dot: neon::float::dot_f32,
            ..Kernels::scalar::<BlockF32>()
        },
        ..layout!(BlockF32)
    },
    Format {
        #[cfg(target_arch = "x86_64")]
        avx2: Kernels {
            dequant: avx2::quant::dequantize_f16,
            dot: avx2::float::vec_dot_f16,
            ..Kernels::scalar::<BlockF16>()
        },
        #[cfg(target_arch = "x86_64")]
        avx512: Kernels {
            dequant: avx2::quant::dequantize_f16,
            dot: avx512::bw::vec_dot_f16,
            ..Kernels::scalar::<BlockF16>()
        },
        #[cfg(target_arch = "x86_64")]
        avx512_vnni: Kernels {
            dequant: avx2::quant::dequantize_f16,
            dot: avx512::vnni::vec_dot_f16,
            ..Kernels::scalar::<BlockF16>()
        },
        #[cfg(target_arch = "aarch64")]
        neon: Kernels {
            dot: neon::float::dot_f16,
            ..Kernels::scalar::<BlockF16>()
        },
        #[cfg(target_arch = "aarch64")]
        neon_dotprod: Kernels {
            dot: neon::float::dot_f16,
            ..Kernels::scalar::<BlockF16>()
        },
        ..layout!(BlockF16)
    },
    Format {
        #[cfg(target_arch = "x86_64")]
        avx2: Kernels {
            dot: avx2::float::vec_dot_bf16,
            ..Kernels::scalar::<BlockBF16>()
        },
        #[cfg(target_arch = "x86_64")]
        avx512: Kernels {
            dot: avx512::bw::vec_dot_bf16,
            ..Kernels::scalar::<BlockBF16>()
        },
        #[cfg(target_arch = "x86_64")]
        avx512_vnni: Kernels {
            dot: avx512::vnni::vec_dot_bf16,
            ..Kernels::scalar::<BlockBF16>()
        },
        #[cfg(target_arch = "aarch64")]
        neon: Kernels {
            dot: neon::float::dot_bf16,
            ..Kernels::scalar::<BlockBF16>()
        },
        #[cfg(target_arch = "aarch64")]
        neon_dotprod: Kernels {
            dot: neon::float::dot_bf16,
            ..Kernels::scalar::<BlockBF16>()
        },
        ..layout!(BlockBF16)
    },
    Format {
        #[cfg(target_arch = "x86_64")]
        avx2: one_lane::<BlockQ4_0>(true),
        #[cfg(target_arch = "x86_64")]
        avx2_vnni: one_lane_avx_vnni::<BlockQ4_0>(),
        #[cfg(target_arch = "x86_64")]
        avx512: one_lane::<BlockQ4_0>(false),
        #[cfg(target_arch = "x86_64")]
        avx512_vnni: one_lane_vnni::<BlockQ4_0>(),
        #[cfg(target_arch = "aarch64")]
        neon: Kernels {
            dot: neon::legacy::q4_0::base,
            ..Kernels::scalar::<BlockQ4_0>()
        },
        #[cfg(target_arch = "aarch64")]
        neon_dotprod: Kernels {
            dot: neon::legacy::q4_0::sdot,
            ..Kernels::scalar::<BlockQ4_0>()
        },
        #[cfg(target_arch = "aarch64")]
        neon_i8mm: one_lane_i8mm::<BlockQ4_0>(neon::legacy::q4_0::sdot),
        ..layout!(BlockQ4_0)
    },
    Format {
        #[cfg(target_arch = "x86_64")]
        avx2: two_lane::<BlockQ4_1, avx2::panel::Avx2>(true),
        #[cfg(target_arch = "x86_64")]
        avx512: two_lane::<BlockQ4_1, avx512::Bw>(false),
        #[cfg(target_arch = "x86_64")]
        avx512_vnni: two_lane::<BlockQ4_1, avx512::Vnni>(false),
        #[cfg(target_arch = "aarch64")]
        neon: Kernels {
            dot: neon::legacy::q4_1::base,
            ..Kernels::scalar::<BlockQ4_1>()
        },
        #[cfg(target_arch = "aarch64")]
        neon_dotprod: Kernels {
            dot: neon::legacy::q4_1::sdot,
            ..Kernels::scalar::<BlockQ4_1>()
        },
        ..layout!(BlockQ4_1)
    },
    Format {
        #[cfg(target_arch = "x86_64")]
        avx2: one_lane::<BlockQ5_0>(true),
        #[cfg(target_arch = "x86_64")]
        avx2_vnni: one_lane_avx_vnni::<BlockQ5_0>(),
        #[cfg(target_arch = "x86_64")]
        avx512: one_lane::<BlockQ5_0>(false),
        #[cfg(target_arch = "x86_64")]
        avx512_vnni: one_lane_vnni::<BlockQ5_0>(),
        #[cfg(target_arch = "aarch64")]
        neon: Kernels {
            dot: neon::legacy::q5_0::base,
            ..Kernels::scalar::<BlockQ5_0>()
        },
        #[cfg(target_arch = "aarch64")]
        neon_dotprod: Kernels {
            dot: neon::legacy::q5_0::sdot,
            ..Kernels::scalar::<BlockQ5_0>()
        },
        #[cfg(target_arch = "aarch64")]
        neon_i8mm: one_lane_i8mm::<BlockQ5_0>(neon::legacy::q5_0::sdot),
        ..layout!(BlockQ5_0)
    },
    Format {
        #[cfg(target_arch = "x86_64")]
        avx2: two_lane::<BlockQ5_1, avx2::panel::Avx2>(true),
        #[cfg(target_arch = "x86_64")]
        avx512: two_lane::<BlockQ5_1, avx512::Bw>(false),
        #[cfg(target_arch = "x86_64")]
        avx512_vnni: two_lane::<BlockQ5_1, avx512::Vnni>(false),
        #[cfg(target_arch = "aarch64")]
        neon: Kernels {
            dot: neon::legacy::q5_1::base,
            ..Kernels::scalar::<BlockQ5_1>()
        },
        #[cfg(target_arch = "aarch64")]
        neon_dotprod: Kernels {
            dot: neon::legacy::q5_1::sdot,
            ..Kernels::scalar::<BlockQ5_1>()
        },
        ..layout!(BlockQ5_1)
    },
    Format {
        #[cfg(target_arch = "x86_64")]
        avx2: Kernels {
            dequant: avx2::quant::dequantize_q8_0,
            ..one_lane::<BlockQ8_0>(true)
        },
        #[cfg(target_arch = "x86_64")]
        avx2_vnni: Some(Kernels {
            dequant: avx2::quant::dequantize_q8_0,
            ..one_lane_avx_vnni::<BlockQ8_0>().unwrap()
        }),
        #[cfg(target_arch = "x86_64")]
        avx512: Kernels {
            dequant: avx2::quant::dequantize_q8_0,
            ..one_lane::<BlockQ8_0>(false)
        },
        #[cfg(target_arch = "x86_64")]
        avx512_vnni: Kernels {
            dequant: avx2::quant::dequantize_q8_0,
            ..one_lane_vnni::<BlockQ8_0>()
        },
        #[cfg(target_arch = "aarch64")]
        neon: Kernels {
            dot: neon::legacy::q8_0::base,
            ..Kernels::scalar::<BlockQ8_0>()
        },
        #[cfg(target_arch = "aarch64")]
        neon_dotprod: Kernels {
            dot: neon::legacy::q8_0::sdot,
            ..Kernels::scalar::<BlockQ8_0>()
        },
        #[cfg(target_arch = "aarch64")]
        neon_i8mm: one_lane_i8mm::<BlockQ8_0>(neon::legacy::q8_0::sdot),
        ..layout!(BlockQ8_0)
    },
    Format {
        #[cfg(target_arch = "x86_64")]
        avx2: Kernels {
            dot: avx2::kq::vec_dot_q2_k,
            ..Kernels::scalar::<BlockQ2K>()
        },
        #[cfg(target_arch = "x86_64")]
        avx512: Kernels {
            dot: avx512::kq::vec_dot_q2_k,
            ..Kernels::scalar::<BlockQ2K>()
        },
        #[cfg(target_arch = "x86_64")]
        avx512_vnni: Kernels {
            dot: avx512::kq::vec_dot_q2_k,
            ..Kernels::scalar::<BlockQ2K>()
        },
        #[cfg(target_arch = "aarch64")]
        neon: Kernels {
            dot: neon::kq::q2_k::base,
            ..Kernels::scalar::<BlockQ2K>()
        },
        #[cfg(target_arch = "aarch64")]
        neon_dotprod: Kernels {
            dot: neon::kq::q2_k::sdot,
            ..Kernels::scalar::<BlockQ2K>()
        },
        ..layout!(BlockQ2K)
    },
    Format {
        #[cfg(target_arch = "x86_64")]
        avx2: Kernels {
            dot: avx2::kq::vec_dot_q3_k,
            ..Kernels::scalar::<BlockQ3K>()
        },
        #[cfg(target_arch = "x86_64")]
        avx512: Kernels {
            dot: avx512::kq::vec_dot_q3_k,
            ..Kernels::scalar::<BlockQ3K>()
        },
        #[cfg(target_arch = "x86_64")]
        avx512_vnni: Kernels {
            dot: avx512::kq::vec_dot_q3_k,
            ..Kernels::scalar::<BlockQ3K>()
        },
        #[cfg(target_arch = "aarch64")]
        neon: Kernels {
            dot: neon::kq::q3_k::base,
            ..Kernels::scalar::<BlockQ3K>()
        },
        #[cfg(target_arch = "aarch64")]
        neon_dotprod: Kernels {
            dot: neon::kq::q3_k::sdot,
            ..Kernels::scalar::<BlockQ3K>()
        },
        ..layout!(BlockQ3K)
    },
    Format {
        // panels: each row's super-blocks unpacked once per tile (`kpanel`),
        // or once per model from a cache (AVX2); with AVX-VNNI AVX2's passes
        // by `vpdpwssd`; AVX-512 without VNNI runs AVX2's; with VNNI the K
        // one-lane order (`orders`): panels of 16 rows (`avx512::klane`,
        // cached), decode row by row (`klane::decode`), the `vec_dot` dot by
        // `avx512::kdec`. Without a cache, up to 7 activation rows are
        // decoded too, 4 at a time, each weight block unpacked once for them
        // (`avx512::krows::decode_n`; each 128 KB of weight rows read once,
        // `run_tile`): building 16-row panels for so few rows cost more than
        // it saved (2 rows: 38-50 G multiply-adds/s by panels, 95 so; 5-7
        // rows about even; from 8 the panels' 8-row passes lead; a mixture's
        // experts mostly get 1-3 rows each)
        #[cfg(target_arch = "x86_64")]
        avx2: Kernels {
            dot: avx2::kq::vec_dot_q4_k,
            dot_1x4: Some(avx2::kq::dot_q4_k::<4>),
            panel: Some(avx2::kpanel::panels::<BlockQ4K>),
            panel_from: 12,
            cache: Some(avx2::kpanel::cache::<BlockQ4K>()),
            ..Kernels::scalar::<BlockQ4K>()
        },
        #[cfg(target_arch = "x86_64")]
        avx2_vnni: Some(Kernels {
            dot: avx2::kq::vec_dot_q4_k,
            dot_1x4: Some(avx2::kq::dot_q4_k::<4>),
            panel: Some(avx2::kpanel::panels_vnni::<BlockQ4K>),
            panel_from: 12,
            cache: Some(avx2::kpanel::cache::<BlockQ4K>()),
            ..Kernels::scalar::<BlockQ4K>()
        }),
        #[cfg(target_arch = "x86_64")]
        avx512: Kernels {
            dot: avx512::kq::vec_dot_q4_k,
            dot_1x4: Some(avx512::kq::dot_q4_k::<4>),
            panel: Some(avx2::kpanel::panels::<BlockQ4K>),
            panel_from: 12,
            ..Kernels::scalar::<BlockQ4K>()
        },
        #[cfg(target_arch = "x86_64")]
        avx512_vnni: Kernels {
            order: Order::OneLane(orders::k_one_lane_q4_k),
            dot: avx512::kdec::vec_dot_q4_k,
            decode: Some(avx512::krows::decode::<BlockQ4K>),
            decode_n: Some(avx512::krows::decode_n::<BlockQ4K>),
            panel: Some(avx512::klane::panels::<BlockQ4K>),
            panel_from: 8,
            panel_rows: 16,
            cache: Some(avx512::klane::cache::<BlockQ4K>()),
            ..Kernels::scalar::<BlockQ4K>()
        },
        #[cfg(target_arch = "aarch64")]
        neon: Kernels {
            dot: neon::kq::q4_k::base,
            ..Kernels::scalar::<BlockQ4K>()
        },
        #[cfg(target_arch = "aarch64")]
        neon_dotprod: Kernels {
            dot: neon::kq::q4_k::sdot,
            ..Kernels::scalar::<BlockQ4K>()
        },
        ..layout!(BlockQ4K)
    },
    Format {
        #[cfg(target_arch = "x86_64")]
        avx2: Kernels {
            dot: avx2::kq::vec_dot_q5_k,
            ..Kernels::scalar::<BlockQ5K>()
        },
        #[cfg(target_arch = "x86_64")]
        avx512: Kernels {
            dot: avx512::kq::vec_dot_q5_k,
            ..Kernels::scalar::<BlockQ5K>()
        },
        #[cfg(target_arch = "x86_64")]
        avx512_vnni: Kernels {
            dot: avx512::kq::vec_dot_q5_k,
            ..Kernels::scalar::<BlockQ5K>()
        },
        #[cfg(target_arch = "aarch64")]
        neon: Kernels {
            dot: neon::kq::q5_k::base,
            ..Kernels::scalar::<BlockQ5K>()
        },
        #[cfg(target_arch = "aarch64")]
        neon_dotprod: Kernels {
            dot: neon::kq::q5_k::sdot,
            ..Kernels::scalar::<BlockQ5K>()
        },
        ..layout!(BlockQ5K)
    },
    Format {
        // as Q4_K, and on AVX2 a few-rows kernel (8 activation rows per
        // unpacked super-block)
        #[cfg(target_arch = "x86_64")]
        avx2: Kernels {
            dot: avx2::kq::vec_dot_q6_k,
            dot_1x4: Some(avx2::kq::dot_q6_k::<4>),
            few: Some(avx2::kq::matmul_q6_k_rows),
            panel: Some(avx2::kpanel::panels::<BlockQ6K>),
            panel_from: 12,
            cache: Some(avx2::kpanel::cache::<BlockQ6K>()),
            ..Kernels::scalar::<BlockQ6K>()
        },
        #[cfg(target_arch = "x86_64")]
        avx2_vnni: Some(Kernels {
            dot: avx2::kq::vec_dot_q6_k,
            dot_1x4: Some(avx2::kq::dot_q6_k::<4>),
            few: Some(avx2::kq::matmul_q6_k_rows),
            panel: Some(avx2::kpanel::panels_vnni::<BlockQ6K>),
            panel_from: 12,
            cache: Some(avx2::kpanel::cache::<BlockQ6K>()),
            ..Kernels::scalar::<BlockQ6K>()
        }),
        #[cfg(target_arch = "x86_64")]
        avx512: Kernels {
            dot: avx512::kq::vec_dot_q6_k,
            dot_1x4: Some(avx512::kq::dot_q6_k::<4>),
            panel: Some(avx2::kpanel::panels::<BlockQ6K>),
            panel_from: 12,
            ..Kernels::scalar::<BlockQ6K>()
        },
        #[cfg(target_arch = "x86_64")]
        avx512_vnni: Kernels {
            order: Order::OneLane(orders::k_one_lane_q6_k),
            dot: avx512::kdec::vec_dot_q6_k,
            decode: Some(avx512::krows::decode::<BlockQ6K>),
            decode_n: Some(avx512::krows::decode_n::<BlockQ6K>),
            panel: Some(avx512::klane::panels::<BlockQ6K>),
            panel_from: 8,
            panel_rows: 16,
            cache: Some(avx512::klane::cache::<BlockQ6K>()),
            ..Kernels::scalar::<BlockQ6K>()
        },
        #[cfg(target_arch = "aarch64")]
        neon: Kernels {
            dot: neon::kq::q6_k::base,
            ..Kernels::scalar::<BlockQ6K>()
        },
        #[cfg(target_arch = "aarch64")]
        neon_dotprod: Kernels {
            dot: neon::kq::q6_k::sdot,
            ..Kernels::scalar::<BlockQ6K>()
        },
        ..layout!(BlockQ6K)
    },
    // MXFP4 (gpt-oss's experts): llama.cpp's AVX2 `vec_dot`, and at plain
    // AVX-512 the same order with both of its accumulators in one vector;
    // NEON the same lanes and float ops (`neon::mxfp4`). Batched rows: each
    // weight row against 4 activation rows at once (`dot_1x4`, its blocks
    // decoded once), each output as `dot` alone. With AVX-512 VNNI the
    // one-lane order (MXFP4 is a `Block32` with an E8M0 scale): decode row
    // by row and panels of 16 rows by `vpdpbusd` (`avx512::one_lane`), the
    // panels built per tile, not cached (1.25 bytes per weight would be 2.4
    // times the experts' file size).
    Format {
        #[cfg(target_arch = "x86_64")]
        avx2: Kernels {
            dot: avx2::mxfp4::vec_dot,
            dot_1x4: Some(avx2::mxfp4::dot_1x4),
            ..Kernels::scalar::<BlockMXFP4>()
        },
        #[cfg(target_arch = "x86_64")]
        avx512: Kernels {
            dot: avx512::mxfp4::vec_dot,
            dot_1x4: Some(avx512::mxfp4::dot_1x4),
            ..Kernels::scalar::<BlockMXFP4>()
        },
        #[cfg(target_arch = "x86_64")]
        avx512_vnni: Kernels {
            order: Order::OneLane(orders::one_lane::<BlockMXFP4>),
            dot: avx512::mxfp4::vec_dot,
            decode: Some(avx512::rowdec::decode::<BlockMXFP4>),
            decode_n: Some(avx512::rowdec::decode_n::<BlockMXFP4>),
            panel: Some(avx512::one_lane::panels::<BlockMXFP4>),
            panel_from: 4,
            panel_rows: 16,
            ..Kernels::scalar::<BlockMXFP4>()
        },
        #[cfg(target_arch = "aarch64")]
        neon: Kernels {
            dot: neon::mxfp4::base,
            dot_1x4: Some(neon::mxfp4::base_1x4),
            ..Kernels::scalar::<BlockMXFP4>()
        },
        #[cfg(target_arch = "aarch64")]
        neon_dotprod: Kernels {
            dot: neon::mxfp4::sdot,
            dot_1x4: Some(neon::mxfp4::sdot_1x4),
            ..Kernels::scalar::<BlockMXFP4>()
        },
        ..layout!(BlockMXFP4)
    },
];

#[cfg(test)]
mod tests;
