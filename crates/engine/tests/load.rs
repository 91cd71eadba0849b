//! `engine::load`, the one way programs load a model: the context it settles,
//! the memory preflight over the caches it is told of, the panels only for
//! batched work, and its errors.

use engine::{load, Cache, Ctx, EngineError, LoadOptions, Panels};

fn model() -> Option<std::path::PathBuf> {
    test_models::model("smollm2-135m")
}

#[test]
fn the_context_asked_for_checked_or_settled() {
    let Some(p) = model() else {
        return;
    };
    let with = |ctx: Ctx| {
        load(
            &p,
            &LoadOptions {
                ctx,
                ..LoadOptions::default()
            },
        )
    };
    let l = with(Ctx::Exactly(100)).unwrap();
    assert_eq!((l.n_ctx, l.sequences, l.panel_bytes), (100, 1, 0));
    assert_eq!(l.model.session(l.n_ctx).unwrap().n_ctx(), 100);
    let trained = l.model.model.config.n_ctx_train;
    assert_eq!(trained, 8192);
    // the default: the trained context capped at 4096 (and at what fits)
    let d = with(Ctx::Default).unwrap();
    assert!(d.n_ctx <= 4096 && d.n_ctx >= 256, "{}", d.n_ctx);
    // at most: capped at the trained context, without error
    assert_eq!(with(Ctx::AtMost(1 << 20)).unwrap().n_ctx, trained);
    assert_eq!(with(Ctx::AtMost(0)).unwrap().n_ctx, 1);
    // exactly: 0 and more than the trained context are errors saying so
    let e = with(Ctx::Exactly(0)).err().unwrap();
    assert!(matches!(e, EngineError::ZeroContext), "{e}");
    let e = with(Ctx::Exactly(trained + 1)).err().unwrap();
    assert!(
        matches!(e, EngineError::ContextTooLarge { asked, trained: t } if asked == trained + 1 && t == trained),
        "{e}"
    );
    assert!(e.to_string().contains("use at most 8192"), "{e}");
    // a file that is not there: the model error, before anything else
    let e = load("/nonexistent/m.gguf", &LoadOptions::default())
        .err()
        .unwrap();
    assert!(matches!(e, EngineError::Model(_)), "{e}");
}

/// The preflight counts the caches it is told of: a number of sequences no
/// memory holds is refused with the numbers; of several counts the first
/// that fits is taken.
#[test]
fn the_preflight_counts_every_sequence() {
    let Some(p) = model() else {
        return;
    };
    if engine::fit::memory_info().is_none() {
        return; // no /proc/meminfo: no preflight
    }
    // 10^6 sequences of 8192 positions: petabytes of KV cache
    let huge = 1_000_000;
    let opts = |cache: Cache| LoadOptions {
        ctx: Ctx::Exactly(8192),
        cache,
        panels: None,
        ..LoadOptions::default()
    };
    let e = load(&p, &opts(Cache::Sequences(huge))).err().unwrap();
    assert!(matches!(e, EngineError::DoesNotFit(_)), "{e}");
    assert!(
        e.to_string()
            .contains("(1000000 sequences of 8192 positions each)"),
        "{e}"
    );
    let e = load(&p, &opts(Cache::Positions(huge * 8192)))
        .err()
        .unwrap();
    assert!(matches!(e, EngineError::DoesNotFit(_)), "{e}");
    let l = load(&p, &opts(Cache::FirstFitting(vec![huge, 2, 1]))).unwrap();
    assert_eq!((l.sequences, l.n_ctx), (2, 8192));
}

/// Panels are built only for batched work (several sequences or a shared
/// budget), and only when asked.
#[test]
fn panels_only_for_batched_work() {
    let Some(p) = model() else {
        return;
    };
    let panels = Some(Panels {
        threads: 2,
        limit: None,
    });
    let one = load(
        &p,
        &LoadOptions {
            ctx: Ctx::Exactly(64),
            cache: Cache::Sequences(1),
            panels,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(one.panel_bytes, 0);
    let two = load(
        &p,
        &LoadOptions {
            ctx: Ctx::Exactly(64),
            cache: Cache::Sequences(2),
            panels,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    // as many bytes as the model says its panels take on this CPU (0 where
    // its kernels cache none)
    assert_eq!(
        two.panel_bytes,
        two.model.model.panel_cache_bytes() as u64,
        "panels built for two sequences"
    );
}

/// A mixture of experts whose whole panel cache is over the limit gets the
/// panels of all but its routed experts when those fit; nothing when not even
/// they do.
#[test]
fn a_mixture_gets_its_dense_panels_when_the_whole_does_not_fit() {
    let Some(p) = test_models::synthetic("qwen3moe-q4_k_m.gguf") else {
        return;
    };
    let m = model::Model::load(&p).unwrap();
    let (all, dense) = (
        m.panel_cache_bytes() as u64,
        m.panel_cache_bytes_of(engine::PanelScope::Dense) as u64,
    );
    drop(m);
    if all == 0 {
        eprintln!("this CPU's kernels cache no panels for Q4_K/Q6_K");
        return;
    }
    assert!(0 < dense && dense < all, "dense {dense}, all {all}");
    let with = |limit: u64| {
        load(
            &p,
            &LoadOptions {
                ctx: Ctx::Exactly(64),
                cache: Cache::Sequences(2),
                panels: Some(Panels {
                    threads: 2,
                    limit: Some(limit),
                }),
                ..LoadOptions::default()
            },
        )
        .unwrap()
        .panel_bytes
    };
    assert_eq!(with(all), all, "the whole cache when it fits");
    assert_eq!(with(all - 1), dense, "all but the routed experts");
    assert_eq!(with(dense - 1), 0, "nothing when not even that fits");
}

#[test]
fn the_weights_are_copied_into_memory_unless_a_mapped_file_is_asked_for() {
    let Some(p) = model() else {
        return;
    };
    let logits = |l: &engine::Loaded| {
        let pool = engine::ThreadPool::new(2);
        let mut s = l.model.session(64).unwrap();
        l.model
            .model
            .forward(
                &pool,
                &mut s,
                &[1, 504, 3131, 282, 260],
                engine::Logits::Last,
            )
            .unwrap();
        s.logits().to_vec()
    };
    // smollm2 takes a sliver of any machine that runs these tests
    let copied = load(&p, &LoadOptions::default()).unwrap();
    assert_eq!(copied.weights, engine::Weights::Resident);
    // the copy runs in the background; the model reads the map meanwhile
    assert!(copied.model.model.file().copy_started());
    assert!(copied.model.model.file().wait_resident());
    assert!(copied.model.model.file().is_resident());
    assert_eq!(
        copied.weights.describe_now(copied.model.model.file()),
        "copied into memory (huge pages)"
    );
    let mapped = load(
        &p,
        &LoadOptions {
            mapped: true,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(mapped.weights, engine::Weights::MappedAsAsked);
    assert!(!mapped.model.model.file().copy_started());
    assert!(!mapped.model.model.file().wait_resident());
    // the same bytes, so the same logits, bit for bit
    let (a, b) = (logits(&copied), logits(&mapped));
    assert_eq!(a.len(), copied.model.model.config.n_vocab);
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
}
