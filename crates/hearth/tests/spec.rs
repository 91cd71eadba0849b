//! Speculative decoding from the command line: `run --spec/--draft` prints
//! plain decoding's text and the counters in `--json`/`--verbose`; `bench
//! --spec` measures it; bad flags and a draft model of another vocabulary
//! are clear errors with the usage exit code. (Exactness itself is tested
//! in crates/engine/tests/spec.rs, the server's in crates/server/tests/spec.rs.)

use std::process::{Command, Output, Stdio};

fn hearth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(o)))
}

const PROMPT: &str = "Repeat exactly: the cat sat on the mat, the dog sat on the log, the cat sat on the mat, the dog sat on the log.";

#[test]
fn run_with_speculation_prints_plain_decodings_text_and_counters() {
    let Some(m) = test_models::model("smollm2-135m") else {
        return;
    };
    let m = m.to_str().unwrap();
    let base = ["run", "--json", "--temperature", "0", "-n", "32"];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        args.extend_from_slice(&[m, PROMPT]);
        json(&hearth(&args))
    };
    let plain = run(&[]);
    assert!(plain.get("speculative").is_none(), "{plain}");
    for extra in [
        &["--spec"][..],
        &["--draft", m, "--draft-max", "4"][..],
        &["--spec", "--draft", m][..],
    ] {
        let v = run(extra);
        assert_eq!(v["text"], plain["text"], "{extra:?}");
        let sp = &v["speculative"];
        let (drafted, accepted) = (
            sp["drafted_tokens"].as_u64().unwrap(),
            sp["accepted_tokens"].as_u64().unwrap(),
        );
        assert!(drafted > 0 && accepted <= drafted, "{extra:?}: {v}");
        let rate = sp["acceptance_rate"].as_f64().unwrap();
        assert!(
            (rate - accepted as f64 / drafted as f64).abs() < 1e-9,
            "{v}"
        );
    }
    // --verbose: the counters on stderr
    let o = hearth(&[
        "run",
        "--verbose",
        "--temperature",
        "0",
        "-n",
        "16",
        "--spec",
        m,
        PROMPT,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("drafted tokens accepted"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bench_spec_reports_speedup_and_acceptance() {
    let Some(m) = test_models::model("smollm2-135m") else {
        return;
    };
    let v = json(&hearth(&[
        "bench",
        "--json",
        "-p",
        "0",
        "-n",
        "24",
        "-r",
        "1",
        "--spec",
        m.to_str().unwrap(),
    ]));
    let sp = &v["speculative"];
    assert_eq!(sp["identical"], true, "{v}");
    assert!(sp["drafted_tokens"].as_u64().unwrap() > 0, "{v}");
    assert!(sp["speedup"].as_f64().unwrap() > 0.0, "{v}");
    assert_eq!(sp["plain_runs"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(sp["lookup"], true, "{v}");
}

#[test]
fn bad_speculation_flags_are_clear_errors() {
    let Some(m) = test_models::model("smollm2-135m") else {
        return;
    };
    let m = m.to_str().unwrap();
    for n in ["0", "65", "many"] {
        let o = hearth(&["run", "--spec", "--draft-max", n, m, "hi"]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("from 1 to 64"), "{}", stderr(&o));
    }
    let o = hearth(&["run", "--draft", "/nonexistent/draft.gguf", m, "hi"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("draft.gguf"), "{}", stderr(&o));
    if let Some(g) = test_models::model("gemma3-270m") {
        let o = hearth(&["run", "--draft", g.to_str().unwrap(), m, "hi"]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains("--draft") && e.contains("cannot draft") && e.contains("vocabulary"),
            "{e}"
        );
    }
    // serve: a draft model that is not there stops it before it listens
    let o = hearth(&["serve", "--port", "0", "--draft", "/nonexistent/draft.gguf"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("draft.gguf"), "{}", stderr(&o));
}

/// `hearth batch --spec` (and `--draft`): several documents decoded together
/// with speculation write the outputs they get without it; with
/// `--endpoint` the flags are refused (the server decides).
#[test]
fn batch_with_speculation_writes_the_same_outputs() {
    let Some(m) = test_models::model("smollm2-135m") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let lines: Vec<String> = [
        "the cat sat on the mat, the dog sat on the log",
        "one two three four, one two three four, one two",
        "red green blue, red green blue, red green",
    ]
    .iter()
    .enumerate()
    .map(|(i, t)| serde_json::json!({"id": format!("d{i}"), "text": t}).to_string())
    .collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let run = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec![
            "batch",
            input.to_str().unwrap(),
            "--prompt",
            "Repeat this text exactly, twice: {{text}}",
            "-n",
            "24",
            "--temperature",
            "0",
            "-m",
            m.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = hearth(&args);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        let mut recs: Vec<(String, String)> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["id"].as_str().unwrap().to_string(),
                    v["output"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        recs.sort();
        recs
    };
    let plain = run("plain.jsonl", &[]);
    assert_eq!(plain.len(), 3);
    assert_eq!(run("spec.jsonl", &["--spec"]), plain);
    assert_eq!(run("draft.jsonl", &["--draft", m.to_str().unwrap()]), plain);
    let o = hearth(&[
        "batch",
        input.to_str().unwrap(),
        "--prompt",
        "{{text}}",
        "--endpoint",
        "http://127.0.0.1:9",
        "--spec",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--endpoint"), "{}", stderr(&o));
}
