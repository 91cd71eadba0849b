//! `hearth chat` on a pseudo-terminal (as a person uses it) and as a pipe (as
//! a script uses it), on the real models; plus the scripting surface of
//! `hearth run` (piped text, --json), the config file and completions.

use expectrl::{ControlCode, Eof, Regex, Session, WaitStatus};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_hearth")
}

/// A command with its own config and data directories.
fn cmd(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("HOME", home)
        .env("TERM", "xterm")
        .env_remove("NO_COLOR");
    c
}

fn output(mut c: Command, stdin: &[u8]) -> Output {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin); // it may exit without reading
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn model(short: &str) -> Option<String> {
    test_models::model(short).map(|p: PathBuf| p.to_str().unwrap().to_string())
}

/// The greedy answer of `hearth run` to one message.
fn run_answer(home: &Path, model: &str, n: &str, prompt: &str) -> String {
    let o = output(
        cmd(home, &["run", "--temperature", "0", "-n", n, model, prompt]),
        b"",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    s.strip_suffix('\n').unwrap().to_string()
}

fn spawn(c: Command) -> Session {
    let mut s = Session::spawn(c).expect("spawn on a pty");
    s.set_expect_timeout(Some(Duration::from_secs(120)));
    s
}

/// Wait for the prompt; then give rustyline's cursor-position query time to
/// time out so that typed keys are not taken for its answer.
fn prompt(s: &mut Session) -> String {
    let c = s.expect(">>> ").expect("the >>> prompt");
    std::thread::sleep(Duration::from_millis(300));
    text(c.before())
}

fn line(s: &mut Session, l: &str) {
    s.send_line(l).unwrap();
}

/// What the pty shows for text printed by the program (\n becomes \r\n).
fn on_tty(s: &str) -> String {
    s.replace('\n', "\r\n")
}

fn wait_exit(s: &mut Session, within: Duration) -> WaitStatus {
    let t = Instant::now();
    loop {
        let st = s.get_process().status().unwrap();
        if st != WaitStatus::StillAlive {
            return st;
        }
        assert!(t.elapsed() < within, "hearth did not exit");
        // Drain output so the child never blocks on a full pty.
        let mut buf = [0u8; 4096];
        let _ = s.try_read(&mut buf);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The whole person's path: a streamed answer, /set (good and bad), an
/// unknown command, /save, /clear, /load, /show, /stats, Ctrl-C during an
/// answer, /model, history on disk, /bye.
#[test]
fn chat_on_a_terminal() {
    let (Some(m), Some(m2)) = (model("smollm2-135m"), model("gemma3-270m")) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let q = "What is the capital of France?";
    let want = run_answer(home.path(), &m, "8", q);

    let mut c = cmd(home.path(), &["chat", "--temperature", "0", "-n", "8", &m]);
    c.env("NO_COLOR", "1");
    let mut s = spawn(c);
    let greeting = prompt(&mut s);
    assert!(greeting.contains("/help"), "{greeting}");
    line(&mut s, q);
    let shown = prompt(&mut s);
    assert!(
        shown.contains(&on_tty(&want)),
        "streamed answer {shown:?} lacks {want:?}"
    );
    assert!(
        !shown.contains("\x1b[2m") && !shown.contains("\x1b[31m"),
        "NO_COLOR ignored: {shown:?}"
    );

    line(&mut s, "/set temperature 0.3");
    assert!(prompt(&mut s).contains("Set temperature to 0.3."));
    line(&mut s, "/set top_p 2");
    assert!(prompt(&mut s).contains("top_p must be a number from 0 to 1"));
    line(&mut s, "/set temprature 1");
    assert!(prompt(&mut s).contains("did you mean temperature?"));
    line(&mut s, "/sav x");
    assert!(prompt(&mut s).contains("did you mean /save?"));
    line(&mut s, "/set temperature 0");
    prompt(&mut s);

    line(&mut s, "/save first");
    assert!(prompt(&mut s).contains("Saved 2 messages"));
    let saved = home.path().join("data/hearth/conversations/first.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(v["messages"][1]["content"], want.as_str());
    line(&mut s, "/clear");
    assert!(prompt(&mut s).contains("Cleared"));
    line(&mut s, "/show");
    assert!(prompt(&mut s).contains("0 messages"));
    line(&mut s, "/load first");
    assert!(prompt(&mut s).contains("Loaded 'first': 2 messages."));
    line(&mut s, "/show");
    let show = prompt(&mut s);
    assert!(
        show.contains("2 messages") && show.contains("of 4096 tokens used"),
        "{show}"
    );
    line(&mut s, "/stats");
    assert!(prompt(&mut s).contains("tok/s"));

    // Ctrl-C during a long answer stops it; the chat goes on.
    line(&mut s, "/set max_tokens -1");
    prompt(&mut s);
    line(
        &mut s,
        "Write a very long story about a dragon who learns to cook, in ten chapters.",
    );
    // once the answer is streaming (the typed line echoed, then 40
    // characters of it), not after a fixed time: a fast build could finish
    // a story within any fixed wait
    s.expect("chapters.").unwrap();
    s.expect(Regex("(?s).{40}")).unwrap();
    s.send(ControlCode::EndOfText).unwrap();
    let after = prompt(&mut s);
    assert!(after.contains("(stopped)"), "{after:?}");
    line(&mut s, "/stats");
    assert!(prompt(&mut s).contains("finish: cancelled"));

    // Another model, same conversation.
    line(&mut s, &format!("/model {m2}"));
    assert!(prompt(&mut s).contains("Now talking with"));
    line(&mut s, "/set max_tokens 4");
    prompt(&mut s);
    line(&mut s, "Thanks!");
    prompt(&mut s);
    line(&mut s, "/model /nonexistent/model.gguf");
    assert!(prompt(&mut s).contains("still using"));

    line(&mut s, "/bye");
    s.expect(Eof).unwrap();
    assert_eq!(
        wait_exit(&mut s, Duration::from_secs(10)),
        WaitStatus::Exited(s.get_process().pid(), 0)
    );
    let history = std::fs::read_to_string(home.path().join("data/hearth/history")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [home.path().join("data/hearth/history"), saved] {
            assert_eq!(
                std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
                0o600,
                "{}",
                f.display()
            );
        }
    }
    assert!(
        history.contains("/save first") && history.contains(q),
        "{history}"
    );
}

/// A tiny context: the answer is cut with a message that offers /clear, the
/// next message is refused (nothing silently dropped), /clear recovers.
/// Colours are on (NO_COLOR unset), multi-line """ blocks work, Ctrl-D leaves.
#[test]
fn context_full_on_a_terminal() {
    let Some(m) = model("smollm2-135m") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let mut s = spawn(cmd(
        home.path(),
        &["chat", "--temperature", "0", "--ctx-size", "64", &m],
    ));
    prompt(&mut s);
    line(&mut s, "\"\"\"Tell me");
    s.expect("... ").unwrap();
    line(&mut s, "a long story.\"\"\"");
    let out = prompt(&mut s);
    assert!(
        out.contains("The context is full (64 tokens)") && out.contains("/clear"),
        "{out:?}"
    );
    assert!(out.contains("\x1b[31m"), "no colour on a terminal: {out:?}");
    line(&mut s, "And another one?");
    let out = prompt(&mut s);
    assert!(
        out.contains("The context is full") && out.contains("Nothing was sent"),
        "{out:?}"
    );
    line(&mut s, "/clear");
    prompt(&mut s);
    line(&mut s, "/set max_tokens 2");
    prompt(&mut s);
    line(&mut s, "Hi");
    let out = prompt(&mut s);
    assert!(!out.contains("context is full"), "{out:?}");
    s.send(ControlCode::EndOfTransmission).unwrap();
    s.expect(Eof).unwrap();
    assert_eq!(
        wait_exit(&mut s, Duration::from_secs(10)),
        WaitStatus::Exited(s.get_process().pid(), 0)
    );
}

/// The terminal goes away in the middle of an answer: hearth exits promptly.
#[test]
fn terminal_closing_mid_answer() {
    let Some(m) = model("smollm2-135m") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let mut c = cmd(home.path(), &["chat", "--temperature", "0", &m]);
    // A test run started under `nohup` would hand hearth an ignored SIGHUP
    // (dispositions survive exec); a closing terminal meets the default one.
    // SAFETY: `signal` is async-signal-safe, as the pre_exec contract asks.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut c, || {
            libc::signal(libc::SIGHUP, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut s = spawn(c);
    prompt(&mut s);
    line(
        &mut s,
        "Write a very long story about a dragon who learns to cook, in ten chapters.",
    );
    std::thread::sleep(Duration::from_millis(1500));
    s.get_process_mut().kill(expectrl::Signal::SIGHUP).unwrap();
    let st = wait_exit(&mut s, Duration::from_secs(10));
    assert!(
        matches!(
            st,
            WaitStatus::Signaled(_, expectrl::Signal::SIGHUP, _) | WaitStatus::Exited(..)
        ),
        "{st:?}"
    );
}

/// As a pipe: answers only, byte for byte the greedy answers; the KV cache
/// kept between turns gives the same second answer as a fresh process that
/// loads the saved first turn; the first answer is llama.cpp's.
#[test]
fn chat_as_a_pipe_is_exact() {
    let Some(m) = model("smollm2-135m") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let fx: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(test_models::fixtures_dir().join("reference/smollm2-135m.json"))
            .unwrap(),
    )
    .unwrap();
    let q1 = fx["chat"]["messages"][0]["content"].as_str().unwrap();
    let n = fx["chat"]["greedy"]["tokens"]
        .as_array()
        .unwrap()
        .len()
        .to_string();
    // The first answer is `hearth run`'s greedy answer to the same message
    // (which tests/cli.rs checks against llama.cpp).
    let o = output(
        cmd(
            home.path(),
            &["run", "--temperature", "0", "-n", &n, &m, q1],
        ),
        b"",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let run_out = text(&o.stdout);
    let want1 = run_out.trim_end_matches('\n');
    let q2 = "Say that again, shorter.";
    let o = output(
        cmd(home.path(), &["chat", "--temperature", "0", "-n", &n, &m]),
        format!("{q1}\n/save one\n{q2}\n").as_bytes(),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.starts_with(&format!("{want1}\n")),
        "{out:?} vs run {want1:?}"
    );
    assert!(!out.contains('\x1b'));
    let second = &out[want1.len() + 1..];

    let o = output(
        cmd(home.path(), &["chat", "--temperature", "0", "-n", &n, &m]),
        format!("/load one\n{q2}\n").as_bytes(),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        second,
        "cached and fresh second turns differ"
    );
    assert!(text(&o.stderr).contains("Loaded 'one'"));
}

/// Bad input in a piped chat: unknown command (with a suggestion), bad /set
/// value (with the range), corrupt conversation file, missing conversation.
#[test]
fn chat_bad_input() {
    let Some(m) = model("smollm2-135m") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("data/hearth/conversations");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("broken.json"),
        "{\"format\": \"hearth-conversation\", \"messages\": [",
    )
    .unwrap();
    let o = output(
        cmd(home.path(), &["chat", &m]),
        b"/hlep\n/set temperature -1\n/set top_k lots\n/load broken\n/load nothere\n/save ../x\n/bye\n",
    );
    // Every problem is reported, and the exit code tells the script.
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "");
    let e = text(&o.stderr);
    for needle in [
        "unknown command /hlep; did you mean /help?",
        "temperature must be a number >= 0 (0 = greedy); got '-1'",
        "top_k must be a whole number >= 0",
        "broken.json is corrupt",
        "no saved conversation named 'nothere'",
        "not a usable name",
        "6 of the piped commands or messages failed",
    ] {
        assert!(e.contains(needle), "stderr lacks {needle:?}:\n{e}");
    }
}

#[test]
fn chat_missing_model_and_no_model() {
    let home = tempfile::tempdir().unwrap();
    let o = output(
        cmd(home.path(), &["chat", "/nonexistent/model.gguf"]),
        b"hi\n",
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("/nonexistent/model.gguf"));
    let o = output(cmd(home.path(), &["chat"]), b"hi\n");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("no model given") && text(&o.stderr).contains("config.toml"));
}

/// `cat notes.txt | hearth run MODEL "Summarise:"`: the piped text is
/// appended to the prompt after a blank line, byte-exact with giving it whole.
#[test]
fn run_appends_piped_text_and_prints_json() {
    let Some(m) = model("smollm2-135m") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let args = ["run", "--raw", "--temperature", "0", "-n", "16", &m];
    let piped = output(
        cmd(home.path(), &[&args[..], &["Summarise:"]].concat()),
        b"The cat sat on the mat.\n",
    );
    let whole = output(
        cmd(
            home.path(),
            &[&args[..], &["Summarise:\n\nThe cat sat on the mat."]].concat(),
        ),
        b"",
    );
    assert!(piped.status.success(), "{}", text(&piped.stderr));
    assert_eq!(text(&piped.stdout), text(&whole.stdout));
    assert!(!text(&piped.stdout).is_empty());

    let j = output(
        cmd(
            home.path(),
            &[
                &args[..],
                &["--json", "Summarise:\n\nThe cat sat on the mat."],
            ]
            .concat(),
        ),
        b"",
    );
    assert!(j.status.success(), "{}", text(&j.stderr));
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(
        format!("{}\n", v["text"].as_str().unwrap()),
        text(&whole.stdout)
    );
    assert_eq!(v["usage"]["completion_tokens"], 16);
    assert_eq!(v["finish_reason"], "length");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(text(&j.stdout).lines().count(), 1);
}

/// config.toml gives defaults; flags override them; a bad file is named with its key.
#[test]
fn config_file_defaults_and_errors() {
    let Some(m) = model("smollm2-135m") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let cfg_dir = home.path().join("config/hearth");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    let cfg = cfg_dir.join("config.toml");
    let greedy = output(
        cmd(
            home.path(),
            &[
                "run",
                "--raw",
                "--temperature",
                "0",
                "-n",
                "12",
                &m,
                "Once upon a time",
            ],
        ),
        b"",
    );
    std::fs::write(
        &cfg,
        format!("model = {m:?}\ntemperature = 0.0\nmax_tokens = 12\n"),
    )
    .unwrap();
    let o = output(
        cmd(home.path(), &["run", "--raw", &m, "Once upon a time"]),
        b"",
    );
    assert_eq!(text(&o.stdout), text(&greedy.stdout), "{}", text(&o.stderr));
    // The model comes from the config for chat.
    let o = output(cmd(home.path(), &["chat"]), b"/show\n");
    assert!(
        o.status.success() && text(&o.stderr).contains("temperature 0"),
        "{}",
        text(&o.stderr)
    );
    // Flags win.
    let o = output(
        cmd(
            home.path(),
            &["run", "--raw", "-n", "3", "--json", &m, "Once upon a time"],
        ),
        b"",
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["usage"]["completion_tokens"], 3);

    std::fs::write(&cfg, "temperature = 0.5\ntop_p = 7\n").unwrap();
    let o = output(cmd(home.path(), &["run", &m, "Hi"]), b"");
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(
        e.contains(cfg.to_str().unwrap()) && e.contains("top_p"),
        "{e}"
    );
    std::fs::write(&cfg, "temprature = 0.5\n").unwrap();
    let o = output(cmd(home.path(), &["chat", &m]), b"");
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(
        e.contains("config.toml") && e.contains("temprature") && e.contains("line 1"),
        "{e}"
    );
}

#[test]
fn completions_help_and_version() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let o = output(cmd(home.path(), &["completions", shell]), b"");
        assert!(o.status.success());
        let s = text(&o.stdout);
        assert!(
            s.contains("hearth") && s.contains("chat") && s.contains("completions"),
            "{shell}"
        );
    }
    let o = output(cmd(home.path(), &["completions", "tcsh"]), b"");
    assert_eq!(o.status.code(), Some(2));
    let o = output(cmd(home.path(), &["--version"]), b"");
    assert!(text(&o.stdout).starts_with("hearth "));
    for sub in [
        &["--help"][..],
        &["run", "--help"],
        &["chat", "--help"],
        &["tokenize", "--help"],
        &["bench", "--help"],
        &["completions", "--help"],
    ] {
        let o = output(cmd(home.path(), sub), b"");
        assert!(o.status.success());
        assert!(text(&o.stdout).contains("Examples:"), "{sub:?}");
    }
}

/// `hearth run MODEL` with no prompt on a terminal is a chat; pasted text
/// (bracketed paste) with newlines is one message.
#[test]
fn run_without_prompt_on_a_terminal_chats_and_paste_is_one_message() {
    let Some(m) = model("smollm2-135m") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let mut s = spawn(cmd(
        home.path(),
        &["run", "--temperature", "0", "-n", "4", &m],
    ));
    prompt(&mut s);
    s.send("\x1b[200~First line.\nSecond line.\x1b[201~")
        .unwrap();
    // The editor redraws its prompt with the pasted text; wait for that first.
    s.expect("Second line.").unwrap();
    s.send("\r").unwrap();
    prompt(&mut s);
    line(&mut s, "/save pasted");
    assert!(prompt(&mut s).contains("Saved 2 messages"));
    let saved = home.path().join("data/hearth/conversations/pasted.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(saved).unwrap()).unwrap();
    assert_eq!(v["messages"][0]["content"], "First line.\nSecond line.");
    line(&mut s, "/bye");
    s.expect(Eof).unwrap();
}

/// `chat --thinking-budget N` caps each answer's reasoning as `run`'s flag
/// does: on the synthetic Qwen3.5 file (whose prompt opens its reasoning, a
/// random model's reasoning runs to the token limit) the piped chat's first
/// answer ends with `run`'s answer under the same budget, and without the
/// budget that answer never comes. (Before, chat had no such flag and a
/// `run` that became a chat on a terminal dropped it.)
#[test]
fn chat_caps_the_reasoning_with_thinking_budget() {
    let Some(m) = test_models::synthetic("qwen35-f32.gguf") else {
        return;
    };
    let m = m.to_str().unwrap();
    let home = tempfile::tempdir().unwrap();
    let q = "What is the weather in Paris?";
    let common = ["--temperature", "0", "-n", "12", "--thinking-budget", "2"];
    let mut args = vec!["run"];
    args.extend(common);
    args.extend([m, q]);
    let o = output(cmd(home.path(), &args), b"");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let answer = text(&o.stdout).trim().to_string();
    assert!(!answer.is_empty(), "run gave no answer within the budget");

    let mut args = vec!["chat"];
    args.extend(common);
    args.push(m);
    let o = output(cmd(home.path(), &args), format!("{q}\n").as_bytes());
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.trim_end().ends_with(&answer),
        "chat {out:?} vs run's answer {answer:?}"
    );

    let o = output(
        cmd(home.path(), &["chat", "--temperature", "0", "-n", "12", m]),
        format!("{q}\n").as_bytes(),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!text(&o.stdout).contains(&answer), "{:?}", text(&o.stdout));

    let o = output(
        cmd(home.path(), &["chat", "--thinking-budget", "-1", m]),
        b"hi\n",
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("--thinking-budget"));
}
