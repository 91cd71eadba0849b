//! `hearth batch` as a program, on real models and real documents: a folder
//! of txt/md/html/pdf/docx files, JSONL records, resume after `kill -9`,
//! failures, long documents, JSON mode, CSV, and `--endpoint` against a
//! real `hearth serve` on loopback.

use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn hearth() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hearth"));
    c.env("HEARTH_OFFLINE", "1").env("NO_COLOR", "1");
    c
}

fn docs() -> PathBuf {
    test_models::fixtures_dir().join("batch/docs")
}

fn records(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "output ends mid-line: {text:?}"
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect()
}

fn by_id(recs: &[Value]) -> HashMap<String, Value> {
    let mut m = HashMap::new();
    for r in recs {
        let id = r["id"].as_str().unwrap().to_string();
        assert!(
            m.insert(id.clone(), r.clone()).is_none(),
            "duplicate id {id}"
        );
    }
    m
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn folder_of_real_documents_through_a_real_model() {
    let Some(model) = test_models::model("qwen2.5-coder-0.5b") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("summaries.jsonl");
    let o = hearth()
        .args(["batch"])
        .arg(docs())
        .args([
            "--prompt",
            "In one sentence, what is this document about?\n\n{{content}}",
            "-n",
            "40",
            "-o",
        ])
        .arg(&out)
        .arg("-m")
        .arg(&model)
        .output()
        .unwrap();
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    assert!(
        log.contains("skipped") && log.contains("photo.jpg"),
        "{log}"
    );
    assert!(log.contains("documents: 6 | done now: 6"), "{log}");
    // The prompts share their start (system message, the template's text
    // before {{content}}): computed once, and the report says how much.
    assert!(log.contains("shared by prompts that start alike"), "{log}");
    assert!(
        log.contains("GPT-4o mini") && log.contains("here: $0"),
        "{log}"
    );
    let recs = by_id(&records(&out));
    // Each document's summary names its topic (greedy, so stable).
    let topics: [(&str, &[&str]); 6] = [
        ("notes.txt", &["tern"]),
        ("readme.md", &["compost"]),
        ("page.html", &["volcano", "kelda"]),
        ("report.pdf", &["lighthouse", "keeper", "logbook"]),
        ("letter.docx", &["bakery", "bread", "sourdough"]),
        ("nested/deeper.txt", &["chess"]),
    ];
    assert_eq!(recs.len(), 6, "{recs:?}");
    for (id, words) in topics {
        let r = &recs[id];
        let out = r["output"].as_str().unwrap().to_lowercase();
        assert!(words.iter().any(|w| out.contains(w)), "{id}: {out}");
        assert!(r["prompt_tokens"].as_u64().unwrap() > 20, "{r}");
        assert!(r["output_tokens"].as_u64().unwrap() > 0, "{r}");
        assert!(r["seconds"].as_f64().unwrap() > 0.0, "{r}");
        assert!(
            ["stop", "length"].contains(&r["finish_reason"].as_str().unwrap()),
            "{r}"
        );
        assert!(r.get("error").is_none(), "{r}");
    }
    // The HTML's script never reaches the model: its prompt is small.
    assert!(recs["page.html"]["prompt_tokens"].as_u64().unwrap() < 400);
}

/// 20 small JSONL records.
fn write_records(dir: &Path) -> PathBuf {
    let p = dir.join("items.jsonl");
    let animals = [
        "cat", "dog", "owl", "fox", "bee", "elk", "yak", "eel", "ant", "cow",
    ];
    let mut s = String::new();
    for i in 0..20 {
        s.push_str(&format!(
            "{{\"id\": \"item-{i}\", \"animal\": \"{}\", \"n\": {i}}}\n",
            animals[i % 10]
        ));
    }
    std::fs::write(&p, s).unwrap();
    p
}

fn small_batch(model: &Path, input: &Path, out: &Path) -> Command {
    let mut c = hearth();
    c.arg("batch")
        .arg(input)
        .args([
            "--prompt",
            "Write one short sentence about a {{animal}} and the number {{n}}.",
            "-n",
            "12",
            "--parallel",
            "4",
            "-o",
        ])
        .arg(out)
        .arg("-m")
        .arg(model);
    c
}

#[test]
fn resumes_after_kill_9_without_loss_or_duplicates() {
    let Some(model) = test_models::model("smollm2-135m") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = write_records(dir.path());
    // The reference: one uninterrupted run.
    let reference = dir.path().join("ref.jsonl");
    let o = small_batch(&model, &input, &reference).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let want = by_id(&records(&reference));
    assert_eq!(want.len(), 20);

    let out = dir.path().join("out.jsonl");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut kills = 0;
    for round in 0..3 {
        let mut child = small_batch(&model, &input, &out)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait for some records to be written, then kill at a random moment.
        // (the reader stays open until the kill: a batch whose stderr reader
        // leaves ends quietly by itself, as every command does on a broken pipe)
        let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
        let t0 = Instant::now();
        let need = 2 + round * 4 + (seed as usize >> (round * 3)) % 3;
        let mut seen = 0;
        for line in err.by_ref() {
            let Ok(line) = line else { break };
            if line.starts_with('[') {
                seen += 1;
            }
            if seen >= need || t0.elapsed() > Duration::from_secs(120) {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis((seed >> (round * 5)) % 400));
        if child.try_wait().unwrap().is_none() {
            kills += 1;
        }
        let _ = Command::new("kill")
            .args(["-9", &child.id().to_string()])
            .status();
        let _ = child.wait();
        drop(err);
        // Whatever is on disk is whole records, no duplicates.
        let partial = records(&out);
        by_id(&partial);
        assert!(partial.len() <= 20);
    }
    assert!(kills > 0, "the batch was never killed mid-run");
    let o = small_batch(&model, &input, &out).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let got = by_id(&records(&out));
    assert_eq!(got.len(), 20);
    // Greedy output does not depend on which records ran together.
    for (id, r) in &want {
        assert_eq!(got[id]["output"], r["output"], "{id}");
        assert_eq!(got[id]["key"], r["key"], "{id}");
    }
    // And a further rerun does nothing.
    let o = small_batch(&model, &input, &out).output().unwrap();
    assert!(
        text(&o).contains("20 inputs (20 already done)"),
        "{}",
        text(&o)
    );
    assert_eq!(records(&out).len(), 20);
}

#[test]
fn a_failing_record_is_reported_and_the_rest_continue() {
    let Some(model) = test_models::model("smollm2-135m") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"id\": \"a\", \"animal\": \"cat\", \"n\": 1}\n{not json at all\n{\"id\": \"c\", \"n\": 3}\n{\"id\": \"d\", \"animal\": \"owl\", \"n\": 4}\n",
    )
    .unwrap();
    let out = dir.path().join("out.jsonl");
    let o = small_batch(&model, &input, &out).output().unwrap();
    let log = text(&o);
    assert_eq!(o.status.code(), Some(1), "{log}");
    assert!(
        log.contains("2 of 4 inputs failed") && log.contains("rerun"),
        "{log}"
    );
    let recs = by_id(&records(&out));
    assert_eq!(recs.len(), 4);
    assert!(recs["a"]["error"].is_null() && !recs["a"]["output"].as_str().unwrap().is_empty());
    assert!(recs["d"]["error"].is_null());
    assert_eq!(recs["line-2"]["finish_reason"], "error");
    assert!(
        recs["line-2"]["error"]
            .as_str()
            .unwrap()
            .contains("line 2 is not valid JSON"),
        "{}",
        recs["line-2"]
    );
    let e = recs["c"]["error"].as_str().unwrap();
    assert!(e.contains("animal") && e.contains("available"), "{e}");
    // A rerun retries only the failures, and still writes each id once.
    let o = small_batch(&model, &input, &out).output().unwrap();
    assert!(text(&o).contains("retrying 2 inputs"), "{}", text(&o));
    let again = by_id(&records(&out));
    assert_eq!(again.len(), 4);
    assert_eq!(again["a"], recs["a"]);
}

/// `--drafts N`: N sampled outputs per input, each its own record (`ID#k`),
/// draft k with seed + k - 1: different drafts, the same ones on every run.
#[test]
fn drafts_give_several_outputs_per_input_the_same_on_every_run() {
    let Some(model) = test_models::model("smollm2-135m") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"id\": \"a\", \"animal\": \"cat\"}\n{\"id\": \"b\", \"animal\": \"owl\"}\n{\"id\": \"c\", \"animal\": \"fox\"}\n",
    )
    .unwrap();
    let drafts = |out: &Path, prompt: &str, extra: &[&str]| {
        hearth()
            .arg("batch")
            .arg(&input)
            .args([
                "--prompt",
                prompt,
                "--drafts",
                "3",
                "-n",
                "12",
                "--parallel",
                "4",
            ])
            .args(extra)
            .arg("-o")
            .arg(out)
            .arg("-m")
            .arg(&model)
            .output()
            .unwrap()
    };
    let prompt = "Write one short sentence about a {{animal}}.";
    let hot = ["--temperature", "0.9"];
    let first = dir.path().join("first.jsonl");
    let o = drafts(&first, prompt, &hot);
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    assert!(log.contains("3 inputs x 3 drafts"), "{log}");
    assert!(
        log.contains("documents: 9 (3 inputs x 3 drafts) | done now: 9"),
        "{log}"
    );
    let got = by_id(&records(&first));
    let mut ids: Vec<&str> = got.keys().map(|k| k.as_str()).collect();
    ids.sort();
    assert_eq!(
        ids,
        ["a#1", "a#2", "a#3", "b#1", "b#2", "b#3", "c#1", "c#2", "c#3"]
    );
    // Sampled with different seeds: not every input's drafts are the same.
    let distinct: std::collections::HashSet<&str> = got
        .values()
        .map(|r| r["output"].as_str().unwrap())
        .collect();
    assert!(distinct.len() > 3, "{got:?}");
    // The same command into another file: the same drafts (seeded), however
    // the scheduler batched them.
    let second = dir.path().join("second.jsonl");
    assert!(drafts(&second, prompt, &hot).status.success());
    let again = by_id(&records(&second));
    for (id, r) in &got {
        assert_eq!(again[id]["output"], r["output"], "{id}");
    }
    // Rerun into the first file: all done, nothing rewritten.
    let o = drafts(&first, prompt, &hot);
    assert!(text(&o).contains("already done: 9"), "{}", text(&o));
    assert_eq!(records(&first).len(), 9);
    // {{draft}} is the draft's number
    let numbered = dir.path().join("numbered.jsonl");
    let o = drafts(&numbered, "Draft {{draft}} about a {{animal}}", &hot);
    assert!(o.status.success(), "{}", text(&o));
    assert!(records(&numbered).iter().all(|r| r["error"].is_null()));
    // Greedy drafts would all be the same: refused, with what to do.
    let o = drafts(&dir.path().join("greedy.jsonl"), prompt, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--temperature 0.8"), "{}", text(&o));
}

#[test]
fn long_documents_are_split_truncated_or_skipped_never_silently() {
    let Some(model) = test_models::model("smollm2-135m") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("long");
    std::fs::create_dir(&folder).unwrap();
    let para = |i: usize| {
        format!("Paragraph {i} tells of the river town of Elmsworth, its mill, its bridge and the ferry that crossed at dawn.\n\n")
    };
    std::fs::write(
        folder.join("long.txt"),
        (0..60).map(para).collect::<String>(),
    )
    .unwrap();
    std::fs::write(folder.join("short.txt"), "A short note about a kettle.").unwrap();
    let run = |mode: &str, out: &Path| {
        hearth()
            .arg("batch")
            .arg(&folder)
            .args([
                "--prompt",
                "Summarise in one sentence:\n{{content}}",
                "-n",
                "24",
                "--ctx-size",
                "512",
                "--long",
                mode,
                "-o",
            ])
            .arg(out)
            .arg("-m")
            .arg(&model)
            .output()
            .unwrap()
    };
    let out = dir.path().join("split.jsonl");
    let o = run("split", &out);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 split"), "{}", text(&o));
    let recs = by_id(&records(&out));
    let long = &recs["long.txt"];
    assert!(long["chunks"].as_u64().unwrap() >= 3, "{long}");
    assert!(long["prompt_tokens"].as_u64().unwrap() > 1000, "{long}");
    assert!(!long["output"].as_str().unwrap().is_empty());
    assert!(recs["short.txt"].get("chunks").is_none());

    let out = dir.path().join("trunc.jsonl");
    let o = run("truncate", &out);
    assert!(o.status.success(), "{}", text(&o));
    let recs = by_id(&records(&out));
    assert_eq!(recs["long.txt"]["truncated"], true);
    assert!(recs["long.txt"]["prompt_tokens"].as_u64().unwrap() <= 512);

    let out = dir.path().join("skip.jsonl");
    let o = run("skip", &out);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let recs = by_id(&records(&out));
    let e = recs["long.txt"]["error"].as_str().unwrap();
    assert!(
        e.contains("--long skip") && e.contains("context of 512"),
        "{e}"
    );
    assert!(recs["short.txt"]["error"].is_null());
}

#[test]
fn json_schema_mode_and_csv_output() {
    let Some(model) = test_models::model("qwen2.5-coder-0.5b") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.json");
    std::fs::write(
        &schema,
        r#"{"type":"object","properties":{"topic":{"type":"string"},"animal":{"type":"boolean"}},"required":["topic","animal"]}"#,
    )
    .unwrap();
    let folder = dir.path().join("in");
    std::fs::create_dir(&folder).unwrap();
    for f in ["notes.txt", "readme.md"] {
        std::fs::copy(docs().join(f), folder.join(f)).unwrap();
    }
    let out = dir.path().join("tags.jsonl");
    let o = hearth()
        .arg("batch")
        .arg(&folder)
        .args(["--prompt", "Give the topic of this text in a few words, and whether it is about an animal.\n\n{{content}}", "-n", "60", "--json-schema"])
        .arg(&schema)
        .arg("-o")
        .arg(&out)
        .arg("-m")
        .arg(&model)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let recs = by_id(&records(&out));
    // enforced while sampling: every record follows the schema, keys in its order
    for (id, r) in &recs {
        assert_eq!(r["json_valid"], true, "{id}: {r}");
        assert!(
            r["json"]["topic"].is_string() && r["json"]["animal"].is_boolean(),
            "{r}"
        );
        let parsed: Value = serde_json::from_str(r["output"].as_str().unwrap()).unwrap();
        assert_eq!(parsed, r["json"]);
        let keys: Vec<&String> = parsed.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["topic", "animal"], "{r}");
    }

    // CSV: a header and one row per input, and a rerun skips them.
    let csv = dir.path().join("tags.csv");
    let run_csv = || {
        hearth()
            .arg("batch")
            .arg(&folder)
            .args([
                "--prompt",
                "One word for this text:\n{{content}}",
                "-n",
                "6",
                "--format",
                "csv",
                "-o",
            ])
            .arg(&csv)
            .arg("-m")
            .arg(&model)
            .output()
            .unwrap()
    };
    let o = run_csv();
    assert!(o.status.success(), "{}", text(&o));
    let body = std::fs::read_to_string(&csv).unwrap();
    assert!(
        body.starts_with("id,output,finish_reason,prompt_tokens,output_tokens,seconds,"),
        "{body}"
    );
    assert!(
        body.contains("\nnotes.txt,") && body.contains("\nreadme.md,"),
        "{body}"
    );
    let o = run_csv();
    assert!(
        text(&o).contains("2 inputs (2 already done)"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), body);
}

#[test]
fn endpoint_sends_the_same_batch_to_a_hearth_server() {
    let Some(model) = test_models::model("smollm2-135m") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = write_records(dir.path());
    // the same file also as a store model, so the server lists two names
    let store = dir.path().join("store");
    let imp = hearth()
        .env("HEARTH_MODELS", &store)
        .arg("import")
        .arg(&model)
        .args(["--name", "smollm2:135m"])
        .output()
        .unwrap();
    assert!(imp.status.success(), "{}", text(&imp));
    let mut server = hearth()
        .args(["serve", "--port", "0", "--models-dir"])
        .arg(&store)
        .arg("--model")
        .arg(&model)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(server.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    let addr = first.trim().rsplit("http://").next().unwrap().to_string();
    std::thread::spawn(move || for _ in err.lines() {});
    let stem = model.file_stem().unwrap().to_str().unwrap().to_string();

    let out = dir.path().join("remote.jsonl");
    let remote = |out: &Path| {
        hearth()
            .arg("batch")
            .arg(&input)
            .args([
                "--prompt",
                "Write one short sentence about a {{animal}} and the number {{n}}.",
                "-n",
                "12",
                "--parallel",
                "4",
            ])
            .args([
                "--endpoint",
                &format!("http://{addr}/v1"),
                "-m",
                &stem,
                "-o",
            ])
            .arg(out)
            .output()
            .unwrap()
    };
    let o = remote(&out);
    let log = text(&o);
    let local = dir.path().join("local.jsonl");
    let lo = small_batch(&model, &input, &local).output().unwrap();
    let bad_model = hearth()
        .arg("batch")
        .arg(&input)
        .args([
            "--prompt",
            "{{animal}}",
            "--endpoint",
            &format!("http://{addr}"),
            "-m",
            "nope",
            "-o",
        ])
        .arg(dir.path().join("x.jsonl"))
        .output()
        .unwrap();
    let endpoint_batch = |m: Option<&str>, out: &str| {
        let mut c = hearth();
        // (a thinking budget goes as hearth's `thinking_budget`: the
        // server takes it)
        c.arg("batch").arg(&input).args([
            "--prompt",
            "{{animal}}",
            "-n",
            "1",
            "--thinking-budget",
            "2",
            "--endpoint",
            &format!("http://{addr}"),
            "-o",
        ]);
        c.arg(dir.path().join(out));
        if let Some(m) = m {
            c.args(["-m", m]);
        }
        c.output().unwrap()
    };
    // a short name the server itself accepts (it lists smollm2:135m)
    let short = endpoint_batch(Some("smollm2"), "short.jsonl");
    // without -m and two models listed: refused, not the first one picked
    let unnamed = endpoint_batch(None, "unnamed.jsonl");
    let _ = server.kill();
    let _ = server.wait();
    assert!(short.status.success(), "{}", text(&short));
    assert!(records(&dir.path().join("short.jsonl"))
        .iter()
        .all(|r| r["model"] == "smollm2:135m"));
    assert_ne!(unnamed.status.code(), Some(0), "{}", text(&unnamed));
    assert!(
        text(&unnamed).contains("serves several models; name one with -m")
            && text(&unnamed).contains("smollm2:135m"),
        "{}",
        text(&unnamed)
    );
    assert!(!dir.path().join("unnamed.jsonl").exists());
    assert!(o.status.success(), "{log}");
    // the server's usage.prompt_tokens_details.cached_tokens reach the report
    assert!(log.contains("shared by prompts that start alike"), "{log}");
    let got = by_id(&records(&out));
    assert_eq!(got.len(), 20);
    assert!(got
        .values()
        .all(|r| r["model"] == stem.as_str() && r["output_tokens"].as_u64().unwrap() > 0));
    // The server runs the same engine: greedy outputs equal the local run's.
    assert!(lo.status.success(), "{}", text(&lo));
    let want = by_id(&records(&local));
    for (id, r) in &want {
        assert_eq!(got[id]["output"], r["output"], "{id}");
    }
    assert_ne!(bad_model.status.code(), Some(0));
    assert!(
        text(&bad_model).contains("does not serve model 'nope'"),
        "{}",
        text(&bad_model)
    );
    // With the server gone, nothing is written and the error says so.
    let o = remote(&dir.path().join("gone.jsonl"));
    assert!(!o.status.success());
    assert!(text(&o).contains("cannot reach"), "{}", text(&o));
}

#[test]
fn bad_command_lines_and_inputs_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let o = hearth().args(["batch"]).arg(docs()).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--prompt"), "{}", text(&o));
    let o = hearth()
        .args(["batch", "/no/such/folder", "--prompt", "{{content}}"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("/no/such/folder"), "{}", text(&o));
    let o = hearth()
        .args(["batch"])
        .arg(docs())
        .args(["--prompt", "{{ content"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("does not parse"), "{}", text(&o));
    // a thinking budget is a number of tokens, as run's (refused before any
    // model is looked for)
    for bad in ["-1", "lots", "1.5", ""] {
        for cmd in [
            &["batch", "in.jsonl", "--prompt", "{{q}}"][..],
            &["run", "m.gguf", "hi"],
        ] {
            let o = hearth()
                .args(cmd)
                .args(["--thinking-budget", bad])
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(2), "{cmd:?} {bad:?}: {}", text(&o));
            assert!(
                text(&o).contains("--thinking-budget")
                    && text(&o).contains("not a number of tokens"),
                "{cmd:?} {bad:?}: {}",
                text(&o)
            );
        }
    }
    // An output file that is not a batch's own is never overwritten.
    let Some(model) = test_models::model("smollm2-135m") else {
        return;
    };
    let precious = dir.path().join("notes.jsonl");
    std::fs::write(&precious, "my own notes\nsecond line\n").unwrap();
    let o = hearth()
        .arg("batch")
        .arg(docs())
        .args(["--prompt", "{{content}}", "-o"])
        .arg(&precious)
        .arg("-m")
        .arg(&model)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("choose another -o"), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(&precious).unwrap(),
        "my own notes\nsecond line\n"
    );
    // A folder with nothing to read: not an error, but never a silent run
    // (with only unsupported files, each is named as skipped too).
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let pics = dir.path().join("pics");
    std::fs::create_dir(&pics).unwrap();
    std::fs::write(pics.join("cat.png"), b"\x89PNG").unwrap();
    for (folder, skipped) in [(&empty, false), (&pics, true)] {
        let o = hearth()
            .arg("batch")
            .arg(folder)
            .args(["--prompt", "{{content}}", "-q", "-o"])
            .arg(dir.path().join("none.jsonl"))
            .arg("-m")
            .arg(&model)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(text(&o).contains("no inputs found in"), "{}", text(&o));
        assert!(text(&o).contains(".docx"), "{}", text(&o));
        assert_eq!(
            text(&o).contains("1 file skipped as not supported"),
            skipped,
            "{}",
            text(&o)
        );
    }
}
