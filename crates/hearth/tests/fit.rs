//! Honesty check of `hearth fit`: the memory estimate is within 10 % of the
//! peak resident memory that `hearth run` measures for itself (VmHWM) on the
//! three real models, with the context filled.

use std::process::Command;

fn hearth(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hearth")).args(args).output().unwrap()
}

#[test]
fn memory_estimate_within_ten_percent_of_peak_rss() {
    for short in ["smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b"] {
        let Some(model) = test_models::model(short) else { continue };
        let m = model.to_str().unwrap();
        let o = hearth(&["fit", "--json", "--ctx", "256", m]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let est = v["memory_bytes"].as_u64().unwrap() as f64;
        for k in ["memory_bytes", "weights_bytes", "kv_cache_bytes", "fits", "max_ctx", "predicted_tg_tok_per_s"] {
            assert!(v.get(k).is_some(), "{k} missing in {v}");
        }
        // Fill most of the 256-position context so the cache is really used.
        let prompt = "word ".repeat(220);
        let o = hearth(&["run", "--raw", "-n", "1", "-c", "256", "-t", "2", "-v", m, &prompt]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{err}");
        let rss: f64 = err
            .split("peak RSS ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no peak RSS in: {err}"));
        let off = (est - rss) / rss;
        eprintln!("{short}: estimate {:.1} MiB, peak RSS {:.1} MiB, {:+.1} %", est / 1048576.0, rss / 1048576.0, off * 100.0);
        assert!(off.abs() <= 0.10, "{short}: estimate {est} vs peak RSS {rss} ({:+.1} %)", off * 100.0);
    }
}

#[test]
fn fit_rejects_bad_context_and_missing_model() {
    let Some(model) = test_models::model("smollm2-135m") else { return };
    let o = hearth(&["fit", "--ctx", "999999", model.to_str().unwrap()]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{e}");
    assert!(e.contains("999999") && e.contains("8192"), "{e}");
    let o = hearth(&["fit", "/nonexistent.gguf"]);
    assert_eq!(o.status.code(), Some(3));
}
