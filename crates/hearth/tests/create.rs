//! `hearth create` (a Modelfile into the store, linking the FROM model's
//! file), `hearth show --modelfile` reading back into `create`, the created
//! model's settings in `run` and `chat`, and `hearth stop` unloading a model
//! from a running server.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn hearth(models: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hearth"));
    c.args(args)
        .env("HEARTH_MODELS", models)
        .env("HEARTH_OFFLINE", "1")
        .env("XDG_CONFIG_HOME", models.join("no-config"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn run(models: &Path, args: &[&str]) -> Output {
    hearth(models, args).output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(o: &Output, code: i32, needle: &str) {
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{e}");
    assert!(e.contains(needle), "{needle:?} not in: {e}");
}

const SYSTEM: &str = "You are a pirate. Answer like one, briefly.";
const Q: &str = "What is the sea like today?";

#[test]
fn create_show_run_chat() {
    let Some(smol) = test_models::model("smollm2-135m") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let models = d.path().join("models");
    // FROM a path relative to the Modelfile's folder
    let work = d.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::os::unix::fs::symlink(&smol, work.join("base.gguf")).unwrap();
    let mf = work.join("Modelfile");
    std::fs::write(
        &mf,
        format!(
            "# a pirate\nFROM ./base.gguf\nSYSTEM \"\"\"{SYSTEM}\"\"\"\nPARAMETER temperature 0\nPARAMETER num_predict 7\nPARAMETER stop \"<|im_end|>\"\nLICENSE \"\"\"Apache-2.0\nsee LICENSE\"\"\"\n"
        ),
    )
    .unwrap();
    let out = ok(&run(
        &models,
        &["create", "pirate", "-f", mf.to_str().unwrap()],
    ));
    assert!(out.contains("pirate:latest"), "{out}");
    // its GGUF is the base file itself, linked, not copied
    let made = models.join("pirate/latest.gguf");
    {
        use std::os::unix::fs::MetadataExt;
        let (a, b) = (
            std::fs::metadata(&made).unwrap(),
            std::fs::metadata(work.join("base.gguf")).unwrap(),
        );
        assert!(
            a.ino() == b.ino() || std::fs::symlink_metadata(&made).unwrap().is_symlink(),
            "not a link"
        );
    }
    let list = ok(&run(&models, &["list"]));
    assert!(list.contains("pirate:latest"), "{list}");

    // run: the model's system message and parameters, as if given as flags
    let want = ok(&run(
        &models,
        &[
            "run",
            "--temperature",
            "0",
            "-n",
            "7",
            "--stop",
            "<|im_end|>",
            "--system",
            SYSTEM,
            work.join("base.gguf").to_str().unwrap(),
            Q,
        ],
    ));
    let got = ok(&run(&models, &["run", "pirate", Q]));
    assert_eq!(got, want);
    // flags win over the model's settings
    let short = ok(&run(&models, &["run", "--json", "-n", "2", "pirate", Q]));
    let v: serde_json::Value = serde_json::from_str(&short).unwrap();
    assert_eq!(v["usage"]["completion_tokens"], 2, "{short}");
    // chat, piped: the same settings
    let mut c = hearth(&models, &["chat", "pirate"]);
    c.stdin(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{Q}\n").as_bytes())
        .unwrap();
    let chat = ok(&child.wait_with_output().unwrap());
    assert_eq!(chat.trim_end(), want.trim_end());

    // show --modelfile reads back into create: the same settings
    let text = ok(&run(&models, &["show", "--modelfile", "pirate"]));
    assert!(
        text.contains("FROM ") && text.contains("PARAMETER num_predict 7"),
        "{text}"
    );
    let mf2 = work.join("Modelfile2");
    std::fs::write(&mf2, &text).unwrap();
    ok(&run(
        &models,
        &["create", "pirate2", "-f", mf2.to_str().unwrap()],
    ));
    let text2 = ok(&run(&models, &["show", "--modelfile", "pirate2"]));
    let body = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("FROM "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(body(&text2), body(&text));
    let show = ok(&run(&models, &["show", "pirate2"]));
    assert!(
        show.contains("created from") && show.contains("temperature"),
        "{show}"
    );

    // errors: a Go template, a bad parameter, a name taken by a model that was not created
    std::fs::write(&mf2, "FROM pirate\nTEMPLATE {{ .System }} {{ .Prompt }}\n").unwrap();
    fails(
        &run(&models, &["create", "x", "-f", mf2.to_str().unwrap()]),
        4,
        "Go template",
    );
    std::fs::write(&mf2, "FROM pirate\nPARAMETER temperature hot\n").unwrap();
    fails(
        &run(&models, &["create", "x", "-f", mf2.to_str().unwrap()]),
        4,
        "line 2",
    );
    ok(&run(
        &models,
        &["import", smol.to_str().unwrap(), "--name", "plain"],
    ));
    std::fs::write(&mf2, "FROM pirate\n").unwrap();
    fails(
        &run(&models, &["create", "plain", "-f", mf2.to_str().unwrap()]),
        2,
        "already exists",
    );
    fails(
        &run(&models, &["create", "y", "-f", "/nonexistent/Modelfile"]),
        4,
        "cannot read the Modelfile",
    );
    // removing the created model leaves its base alone
    ok(&run(&models, &["rm", "pirate"]));
    assert!(work.join("base.gguf").is_file());
    assert!(ok(&run(&models, &["run", "pirate2", Q])) == want);
}

#[test]
fn stop_unloads_from_a_running_server() {
    let Some(model) = test_models::model("smollm2-135m") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["serve", "--port", "0", "-t", "2", "--models-dir"])
        .arg(d.path())
        .arg("--model")
        .arg(&model)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    let addr = first.trim().rsplit("http://").next().unwrap().to_string();
    let stem = model.file_stem().unwrap().to_str().unwrap().to_string();
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hearth"))
            .args(args)
            .args(["--host", &addr])
            .output()
            .unwrap()
    };
    let o = cli(&["stop", &stem]);
    assert!(
        ok(&o).contains("is not loaded"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // load it with a request
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    let body = format!(
        r#"{{"model":"{stem}","prompt":"Hi","stream":false,"options":{{"num_predict":2}}}}"#
    );
    write!(s, "POST /api/generate HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(ok(&cli(&["ps"])).contains(&stem));
    assert!(ok(&cli(&["stop", &stem])).contains(&format!("stopped {stem}")));
    assert!(ok(&cli(&["ps"])).contains("no models loaded"));
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}
