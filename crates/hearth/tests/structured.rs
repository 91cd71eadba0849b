//! Structured output through the `hearth` binary: `run --json-schema`,
//! `--grammar-file`, `--regex` and `batch --json-schema` with every fixture
//! schema of `tests/fixtures/schemas` on qwen2.5-coder; what cannot be
//! enforced is refused naming it; a raw prompt names special tokens.

use common::{ok, validate};
use serde_json::Value;
use std::process::{Command, Output};

mod common;

fn hearth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn fixtures() -> Vec<(std::path::PathBuf, String, Value)> {
    let dir = test_models::fixtures_dir().join("schemas");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    v.into_iter()
        .map(|p| {
            let f: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (
                p,
                f["prompt"].as_str().unwrap().to_string(),
                f["schema"].clone(),
            )
        })
        .collect()
}

#[test]
fn run_and_batch_follow_every_schema() {
    let Some(model) = test_models::model("qwen2.5-coder-0.5b") else {
        return;
    };
    let m = model.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (i, (fixture, prompt, schema)) in fixtures().into_iter().enumerate() {
        // the schema alone in a file, as a user writes it
        let sf = dir.path().join(format!("s{i}.json"));
        std::fs::write(&sf, schema.to_string()).unwrap();
        let sfs = sf.to_str().unwrap();
        let out = ok(&hearth(&[
            "run",
            "--json-schema",
            sfs,
            "--temperature",
            "0",
            "-n",
            "200",
            m,
            &prompt,
        ]));
        validate(
            &schema,
            out.trim_end(),
            &format!("run {}", fixture.display()),
        );
        // sampled, too
        let out = ok(&hearth(&[
            "run",
            "--json-schema",
            sfs,
            "--temperature",
            "1",
            "--seed",
            "3",
            "-n",
            "250",
            m,
            &prompt,
        ]));
        validate(
            &schema,
            out.trim_end(),
            &format!("run {}", fixture.display()),
        );
        // batch: one record per prompt
        let input = dir.path().join(format!("in{i}.jsonl"));
        std::fs::write(
            &input,
            format!("{}\n", serde_json::json!({"id": "a", "q": prompt})),
        )
        .unwrap();
        let o = dir.path().join(format!("out{i}.jsonl"));
        ok(&hearth(&[
            "batch",
            input.to_str().unwrap(),
            "--prompt",
            "{{q}}",
            "--json-schema",
            sfs,
            "--temperature",
            "0",
            "-n",
            "200",
            "-o",
            o.to_str().unwrap(),
            "-m",
            m,
        ]));
        let rec: Value =
            serde_json::from_str(std::fs::read_to_string(&o).unwrap().lines().next().unwrap())
                .unwrap();
        assert_eq!(rec["json_valid"], true, "{}: {rec}", fixture.display());
        let what = format!("batch {}", fixture.display());
        validate(&schema, rec["output"].as_str().unwrap(), &what);
    }
}

#[test]
fn grammar_files_regexes_and_refusals() {
    let Some(model) = test_models::model("qwen2.5-coder-0.5b") else {
        return;
    };
    let m = model.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("list.gbnf");
    std::fs::write(
        &g,
        "# three items\nroot ::= item (\", \" item){2}\nitem ::= [a-z]{3,10}\n",
    )
    .unwrap();
    let out = ok(&hearth(&[
        "run",
        "--grammar-file",
        g.to_str().unwrap(),
        "--temperature",
        "0",
        "-n",
        "40",
        m,
        "Name three fruits.",
    ]));
    let items: Vec<&str> = out.trim_end().split(", ").collect();
    assert_eq!(items.len(), 3, "{out:?}");
    assert!(
        items
            .iter()
            .all(|i| (3..=10).contains(&i.len()) && i.chars().all(|c| c.is_ascii_lowercase())),
        "{out:?}"
    );
    let out = ok(&hearth(&[
        "run",
        "--regex",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "--temperature",
        "0",
        "-n",
        "20",
        m,
        "When did the Apollo 11 landing happen?",
    ]));
    let d = out.trim_end();
    assert!(
        d.len() == 10 && d.as_bytes()[4] == b'-' && d.as_bytes()[7] == b'-',
        "{out:?}"
    );
    // --json records the whole answer
    let out = ok(&hearth(&[
        "run",
        "--json",
        "--regex",
        "(yes|no)",
        "--temperature",
        "0",
        m,
        "Is water wet?",
    ]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["text"] == "yes" || v["text"] == "no", "{v}");
    // refused, naming what is wrong, before anything is generated
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"type":"array","items":{"type":"string"},"contains":{"const":"x"}}"#,
    )
    .unwrap();
    let o = hearth(&["run", "--json-schema", bad.to_str().unwrap(), m, "Hi"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && e.contains("contains") && e.contains("--json-schema"),
        "{e}"
    );
    std::fs::write(&g, "root ::= word\n").unwrap();
    let o = hearth(&["run", "--grammar-file", g.to_str().unwrap(), m, "Hi"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("`word`"), "{e}");
    let o = hearth(&[
        "run",
        "--regex",
        "a",
        "--grammar-file",
        g.to_str().unwrap(),
        m,
        "Hi",
    ]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("only one"));
}

/// A raw prompt is the caller's own template: `<|im_start|>` in it is that
/// special token (so qwen2.5-coder answers the templated question), while
/// the same text inside a chat message stays text.
#[test]
fn raw_prompts_name_special_tokens() {
    let Some(model) = test_models::model("qwen2.5-coder-0.5b") else {
        return;
    };
    let m = model.to_str().unwrap();
    let p = "<|im_start|>user\nWhat is the capital of France? One word.<|im_end|>\n<|im_start|>assistant\n";
    let out = ok(&hearth(&[
        "run",
        "--raw",
        "--json",
        "--temperature",
        "0",
        "-n",
        "8",
        m,
        p,
    ]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["text"].as_str().unwrap().contains("Paris"), "{v}");
    assert_eq!(v["finish_reason"], "stop", "{v}");
    // three special tokens, not ~6 text tokens each
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() < 25, "{v}");
}
