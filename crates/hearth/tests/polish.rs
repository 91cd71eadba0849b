//! What a new user met in their first hour (issue 23's list), each as they
//! met it: the binary, real models, real pipes and terminals.

use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn hearth(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hearth"));
    c.args(args)
        .env("HEARTH_OFFLINE", "1")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = c.spawn().unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn out(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ids(model: &Path, text: &str) -> Vec<u64> {
    let v: Value = serde_json::from_str(&out(&hearth(
        &["tokenize", "--json", model.to_str().unwrap(), text],
        None,
    )))
    .unwrap();
    v["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

/// `run --raw --json -n 1`: the prompt's token count.
fn prompt_tokens(model: &Path, extra: &[&str], prompt: &str) -> u64 {
    let mut args = vec!["run", "--raw", "--json", "--temperature", "0", "-n", "1"];
    args.extend_from_slice(extra);
    args.push(model.to_str().unwrap());
    args.push(prompt);
    let v: Value = serde_json::from_str(&out(&hearth(&args, None))).unwrap();
    v["usage"]["prompt_tokens"].as_u64().unwrap()
}

#[test]
fn escapes_in_command_line_prompts_are_processed_as_llama_cpp_does() {
    let Some(model) = test_models::model("smollm2-135m") else {
        return;
    };
    let real = ids(&model, "Summarise:\n\nThe cat sat.").len() as u64;
    let literal = ids(&model, "Summarise:\\n\\nThe cat sat.").len() as u64;
    assert_ne!(real, literal);
    assert_eq!(
        prompt_tokens(&model, &[], r"Summarise:\n\nThe cat sat."),
        real
    );
    assert_eq!(
        prompt_tokens(&model, &["--no-escape"], r"Summarise:\n\nThe cat sat."),
        literal
    );
    // batch: the README's own example, against the same template from a file
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(docs.join("a.txt"), "The cat sat on the mat.").unwrap();
    std::fs::write(dir.path().join("p.txt"), "Summarise:\n\n{{content}}").unwrap();
    let batch = |args: &[&str], name: &str| -> u64 {
        let o = dir.path().join(name);
        let mut a = vec!["batch", docs.to_str().unwrap(), "-n", "1", "-q", "-m"];
        a.push(model.to_str().unwrap());
        a.extend_from_slice(&["-o", o.to_str().unwrap()]);
        a.extend_from_slice(args);
        out(&hearth(&a, None));
        let rec: Value =
            serde_json::from_str(std::fs::read_to_string(&o).unwrap().lines().next().unwrap())
                .unwrap();
        rec["prompt_tokens"].as_u64().unwrap()
    };
    let file = batch(
        &["--prompt-file", dir.path().join("p.txt").to_str().unwrap()],
        "f.jsonl",
    );
    let typed = batch(&["--prompt", r"Summarise:\n\n{{content}}"], "t.jsonl");
    let kept = batch(
        &["--prompt", r"Summarise:\n\n{{content}}", "--no-escape"],
        "k.jsonl",
    );
    assert_eq!(
        typed, file,
        "--prompt with \\n\\n = the file with two line breaks"
    );
    assert!(
        kept > typed,
        "--no-escape keeps the backslashes: {kept} vs {typed}"
    );
}

#[test]
fn negative_values_reach_the_checks() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.gguf");
    std::fs::write(&m, b"not a model").unwrap();
    let m = m.to_str().unwrap();
    let docs = dir.path().to_str().unwrap();
    for (args, needle) in [
        (vec!["run", "--temperature", "-1", m, "hi"], "temperature"),
        (vec!["run", "--top-p", "-0.5", m, "hi"], "top_p"),
        (vec!["run", "--min-p", "-2", m, "hi"], "min_p"),
        (
            vec!["run", "--repeat-penalty", "-1", m, "hi"],
            "repeat_penalty",
        ),
        (vec!["run", "-n", "-5", m, "hi"], "-5"),
        (vec!["run", "--top-k", "-3", m, "hi"], "-3"),
        (vec!["chat", "--temperature", "-1", m], "temperature"),
        (vec!["chat", "-n", "-5", m], "-5"),
        (
            vec![
                "batch",
                docs,
                "--prompt",
                "x",
                "--temperature",
                "-1",
                "-m",
                m,
            ],
            "temperature",
        ),
        (
            vec!["batch", docs, "--prompt", "x", "-n", "-5", "-m", m],
            "-5",
        ),
    ] {
        let o = hearth(&args, None);
        let e = err(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!(!e.contains("unexpected argument"), "{args:?}: {e}");
        assert!(e.contains(needle), "{args:?}: {e}");
    }
}

/// `hearth CMD | head -1`: the reader leaves; every command ends with exit
/// 0 and says nothing (the read end is closed before the first write).
#[test]
fn every_command_exits_0_quietly_when_its_reader_leaves() {
    let Some(model) = test_models::model("smollm2-135m") else {
        return;
    };
    let m = model.to_str().unwrap();
    let store = tempfile::tempdir().unwrap();
    let long_text = "word ".repeat(20000);
    let imported = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["import", m, "--name", "smol:test"])
        .env("HEARTH_MODELS", store.path())
        .output()
        .unwrap();
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    for args in [
        vec!["fit", m],
        vec!["fit", "--json", m],
        vec!["doctor", m],
        vec!["show", m],
        vec!["show", "--verbose", m],
        vec!["tokenize", m, long_text.as_str()],
        vec!["tokenize", "--json", m, long_text.as_str()],
        vec!["list"],
        vec!["list", "--json"],
        vec!["completions", "bash"],
        vec!["--help"],
        vec![
            "run",
            "--raw",
            "--temperature",
            "0",
            "-n",
            "64",
            m,
            "Once upon a time",
        ],
        vec!["embed", m, "The cat sat on the mat."],
        vec!["pull", "--help"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
            .args(&args)
            .env("HEARTH_MODELS", store.path())
            .env("HEARTH_OFFLINE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before any output
        let o = child.wait_with_output().unwrap();
        let e = err(&o);
        let what = &args[..args.len().min(2)];
        assert_eq!(o.status.code(), Some(0), "{what:?}: {e}");
        assert!(
            !e.contains("panicked") && !e.contains("Broken pipe"),
            "{what:?}: {e}"
        );
    }
}

/// A base model without a chat template (gemma3:270m's file has none) runs
/// as plain completion with a one-line notice, not through a made-up
/// template; an answer that repeats itself endlessly is stopped, saying so.
#[test]
fn base_model_runs_as_completion_and_loops_are_stopped() {
    let Some(model) = test_models::model("gemma3-270m") else {
        return;
    };
    let m = model.to_str().unwrap();
    let prompt = "Write a poem about the sea.";
    let plain = hearth(&["run", "--temperature", "0", "-n", "12", m, prompt], None);
    let raw = hearth(
        &["run", "--raw", "--temperature", "0", "-n", "12", m, prompt],
        None,
    );
    assert_eq!(out(&plain), out(&raw), "the same as --raw");
    let e = err(&plain);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains("no chat template in its file") && e.contains("plain text completion"),
        "{e}"
    );
    assert!(err(&raw).is_empty(), "{}", err(&raw));
    // greedy, it repeats the prompt over and over
    let json = |extra: &[&str]| -> (Value, String) {
        let mut args = vec!["run", "--json", "--temperature", "0"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[m, prompt]);
        let o = hearth(&args, None);
        (serde_json::from_str(&out(&o)).unwrap(), err(&o))
    };
    let (v, _) = json(&["-n", "1000", "--loop-stop", "300"]);
    assert_eq!(v["finish_reason"], "repetition", "{v}");
    let n = v["usage"]["completion_tokens"].as_u64().unwrap();
    assert!(n < 200, "stopped after {n} tokens");
    let (v, _) = json(&["-n", "120", "--loop-stop", "0"]);
    assert_eq!(v["finish_reason"], "length", "0 turns it off: {v}");
    assert_eq!(v["usage"]["completion_tokens"], 120);
    // streamed: the notice on standard error
    let o = hearth(
        &[
            "run",
            "--temperature",
            "0",
            "-n",
            "1000",
            "--loop-stop",
            "300",
            m,
            prompt,
        ],
        None,
    );
    assert!(err(&o).contains("kept repeating the same"), "{}", err(&o));
    // in a chat too (the built-in template is noted once)
    let o = hearth(
        &[
            "chat",
            "--temperature",
            "0",
            "-n",
            "1000",
            "--loop-stop",
            "300",
            m,
        ],
        Some(b"Write a poem about the sea.\n"),
    );
    let e = err(&o);
    assert!(o.status.success(), "{e}");
    assert!(e.contains("no chat template in its file"), "{e}");
}

/// Lines typed while an answer is still streaming are kept and answered in
/// order (they were lost).
#[test]
fn chat_keeps_lines_typed_ahead() {
    use expectrl::{Eof, Session};
    let Some(model) = test_models::model("smollm2-135m") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_hearth"));
    c.args([
        "chat",
        "--temperature",
        "0",
        "-n",
        "24",
        model.to_str().unwrap(),
    ])
    .env("XDG_DATA_HOME", home.path().join("data"))
    .env("XDG_CONFIG_HOME", home.path().join("config"))
    .env("HOME", home.path())
    .env("TERM", "xterm")
    .env("NO_COLOR", "1");
    let mut s = Session::spawn(c).expect("spawn on a pty");
    s.set_expect_timeout(Some(std::time::Duration::from_secs(180)));
    s.expect(">>> ").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // the next two messages and a command are typed while the first answer
    // is being generated
    s.send("Tell me about cats.\r").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    s.send("What about dogs?\r/set temperature 0\rAnd birds?\r")
        .unwrap();
    for _ in 0..4 {
        s.expect(">>> ").unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    s.send_line("/save ahead").unwrap();
    s.expect("Saved").unwrap();
    s.send_line("/bye").unwrap();
    s.expect(Eof).unwrap();
    let saved = home.path().join("data/hearth/conversations/ahead.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(saved).unwrap()).unwrap();
    let users: Vec<&str> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        users,
        ["Tell me about cats.", "What about dogs?", "And birds?"],
        "{v}"
    );
}

/// Messages said once and right: an error whose cause is part of its text is
/// not printed twice; `rm` suggests `pull` only for a name the catalog has;
/// `chat --help` takes names; `/show` of an overfull context says it is
/// full (it said "103 of 96 tokens used"); `-v` gives the peak RSS in units.
#[test]
fn messages_are_said_once_and_right() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("models");
    let with_store = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hearth"))
            .args(args)
            .env("HEARTH_MODELS", &store)
            .env("HEARTH_OFFLINE", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let junk = d.path().join("junk.gguf");
    std::fs::write(&junk, "hello\n").unwrap();
    let missing = d.path().join("missing.gguf");
    for (args, needle) in [
        (vec!["import", junk.to_str().unwrap()], "not a GGUF file"),
        (vec!["show", junk.to_str().unwrap()], "not a GGUF file"),
        (vec!["run", missing.to_str().unwrap(), "hi"], "No such file"),
    ] {
        let o = with_store(&args);
        let e = err(&o);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {e}");
        assert_eq!(e.matches(needle).count(), 1, "{args:?} said it twice: {e}");
        assert_eq!(e.lines().count(), 1, "{args:?}: {e}");
    }
    // rm of a name nothing can fetch: no `hearth pull` advice
    let e = err(&with_store(&["rm", "smollm"]));
    assert!(e.contains("not in the store"), "{e}");
    assert!(!e.contains("hearth pull"), "{e}");
    // a catalog name: pulling is the advice
    let e = err(&with_store(&["rm", "qwen2.5-coder:0.5b"]));
    assert!(
        e.contains("`hearth pull qwen2.5-coder:0.5b` fetches it"),
        "{e}"
    );
    let help = out(&hearth(&["chat", "--help"], None));
    let model_line = help.lines().find(|l| l.contains("[MODEL]")).unwrap();
    let help_model = help
        .split("[MODEL]")
        .nth(2)
        .map(|s| s.split("Options:").next().unwrap().to_string())
        .unwrap_or_default();
    assert!(
        help_model.contains("name") && help_model.contains("path"),
        "{model_line}\n{help_model}"
    );

    let Some(model) = test_models::model("smollm2-135m") else {
        return;
    };
    let m = model.to_str().unwrap();
    let o = hearth(
        &["chat", "--temperature", "0", "-c", "80", "-n", "-1", m],
        Some(b"Tell me a very long story about a dragon.\n/show\n"),
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned() + &err(&o);
    assert!(
        text.contains("The context is full"),
        "the answer filled it: {text}"
    );
    let ctx_line = text
        .lines()
        .find(|l| l.starts_with("context "))
        .unwrap_or_else(|| panic!("no context line: {text}"));
    if let Some((used, rest)) = ctx_line
        .trim_start_matches("context")
        .trim()
        .split_once(" of ")
    {
        let used: usize = used.parse().unwrap();
        let of: usize = rest.split_whitespace().next().unwrap().parse().unwrap();
        assert!(used <= of, "{ctx_line}");
    } else {
        assert!(ctx_line.contains("full"), "{ctx_line}");
    }
    let o = hearth(&["run", "-v", "-n", "2", "--raw", m, "Hello"], None);
    let e = err(&o);
    let rss = e.split("peak RSS ").nth(1).unwrap_or_else(|| panic!("{e}"));
    assert!(
        rss.trim_end().ends_with(" MB") || rss.trim_end().ends_with(" GB"),
        "{rss}"
    );
}

/// `doctor` measured the bandwidth beside busy programs and predicted speeds
/// from it without a word: now it says how much of the CPU others used
/// while it measured, and notes when that was much.
#[test]
fn doctor_says_when_the_machine_was_busy_while_it_measured() {
    // busy loops on every core, started (and ended) here
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut spin: Vec<std::process::Child> = (0..cores)
        .map(|_| {
            Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .spawn()
                .unwrap()
        })
        .collect();
    let json = hearth(&["doctor", "--json"], None);
    let text = hearth(&["doctor"], None);
    for c in &mut spin {
        let _ = c.kill();
        let _ = c.wait();
    }
    let v: Value = serde_json::from_str(&out(&json)).unwrap();
    let share = v["cpu_share_used_by_others_while_measured"]
        .as_f64()
        .unwrap_or_else(|| panic!("{v}"));
    assert!(share > 0.25, "{share}");
    let t = out(&text);
    assert!(
        t.contains("of the CPU while the bandwidth was measured"),
        "{t}"
    );
}
