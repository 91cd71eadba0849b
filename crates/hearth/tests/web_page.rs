//! The chat page as a person meets it: `hearth serve --open` prints the
//! page's address and opens it in the default browser (here a stand-in
//! `xdg-open` that records what it was asked to open), then a real browser
//! (Debian's Chromium, headless, driven by playwright-core; installed by
//! scripts/setup-browser-test.sh) uses the page against that real server
//! with a real model: web_page/browser.mjs. A conversation exported by the
//! page is then loaded by `hearth chat`'s /load.
//!
//! Screenshots, the exported conversation and the log of every request the
//! browser made go to `target/tmp/web-page/`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn required() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("HEARTH_REQUIRE_MODELS").is_some()
}

/// What the browser test needs, or why it cannot run.
fn browser_setup() -> Result<PathBuf, String> {
    let dir = std::env::var_os("HEARTH_WEB_TEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/hearth/web-test")
        });
    if !Path::new("/usr/bin/chromium").exists() {
        return Err("/usr/bin/chromium is missing".into());
    }
    if !dir
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        return Err(format!("playwright-core is not in {}", dir.display()));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Err("node is missing".into());
    }
    Ok(dir.join("node_modules/playwright-core"))
}

/// A `hearth serve` child and the address it printed; killed when dropped.
struct Serve {
    child: Child,
    url: String,
    /// Everything it printed on standard error so far.
    printed: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `hearth serve` on a free port with the test's models (`--offline`
/// unless `online`).
fn serve(models: &Path, extra: &[&str], path_env: &str, opened: &Path, online: bool) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(if online { None } else { Some("--offline") })
        .args([
            "serve",
            "--port",
            "0",
            "--parallel",
            "1",
            "--ctx-size",
            "1024",
            "--models-dir",
        ])
        .arg(models)
        .args(extra)
        .env("PATH", path_env)
        .env("HEARTH_OPENED", opened)
        .env_remove("HEARTH_API_KEY")
        .env_remove("HEARTH_HOST")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hearth serve");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut printed = String::new();
    let mut url = None;
    for _ in 0..20 {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        printed.push_str(&line);
        if let Some(rest) = line.trim().strip_prefix("chat in your browser: ") {
            url = Some(rest.to_string());
            break;
        }
    }
    // keep reading stderr so the server never blocks on a full pipe
    let all = std::sync::Arc::new(std::sync::Mutex::new(printed.clone()));
    let sink = all.clone();
    std::thread::spawn(move || {
        let mut line = String::new();
        while err.read_line(&mut line).unwrap_or(0) > 0 {
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    let url = url.unwrap_or_else(|| panic!("no page address printed:\n{printed}"));
    assert!(
        printed.contains("listening on http://127.0.0.1:"),
        "{printed}"
    );
    // not a terminal: the plain address (no OSC 8 escape), ending in /
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with('/') && !url.contains('\x1b'),
        "{url:?}"
    );
    Serve {
        child,
        url,
        printed: all,
    }
}

#[test]
fn chat_page_in_a_real_browser() {
    let Some(model) = test_models::model("smollm2-135m") else {
        return;
    };
    let playwright = match browser_setup() {
        Ok(p) => p,
        Err(why) if required() => panic!("{why}: run scripts/setup-browser-test.sh"),
        Err(why) => {
            eprintln!(
                "skipping the browser test: {why} (scripts/setup-browser-test.sh installs it)"
            );
            return;
        }
    };
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::os::unix::fs::symlink(&model, models.join("smollm2.gguf")).unwrap();

    // the "default browser": records the address it is asked to open
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let opener = bin.join("xdg-open");
    std::fs::write(
        &opener,
        "#!/bin/sh\nprintf '%s\\n' \"$1\" > \"$HEARTH_OPENED\"\n",
    )
    .unwrap();
    let mut perm = std::fs::metadata(&opener).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&opener, perm).unwrap();
    let path_env = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let opened = tmp.path().join("opened.txt");

    let srv = serve(&models, &["--open"], &path_env, &opened, false);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !opened.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let got = std::fs::read_to_string(&opened).unwrap_or_default();
    assert_eq!(got.trim(), srv.url, "--open opened this address");

    // a second server with an API key, for the page's key prompt (online,
    // for the page's download button; the browser test answers the one
    // download it asks for itself, from a plain-http host on this machine,
    // hence --allow-any-pull); --open with no browser to start is no error
    let no_browser = tmp.path().join("empty-bin");
    std::fs::create_dir_all(&no_browser).unwrap();
    let keyed = serve(
        &models,
        &["--api-key", "page-k3y", "--open", "--allow-any-pull"],
        no_browser.to_str().unwrap(),
        &tmp.path().join("not-opened.txt"),
        true,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !keyed
        .printed
        .lock()
        .unwrap()
        .contains("could not open a browser")
    {
        assert!(
            Instant::now() < deadline,
            "no note about the missing browser:\n{}",
            keyed.printed.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-page");
    let _ = std::fs::remove_dir_all(&out);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web_page/browser.mjs");
    let pdf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/batch/docs/report.pdf");
    let run = Command::new("node")
        .arg(&script)
        .env("HEARTH_URL", &srv.url)
        .env("HEARTH_URL_KEYED", &keyed.url)
        .env("HEARTH_KEY", "page-k3y")
        .env("PLAYWRIGHT_DIR", &playwright)
        .env("MODEL", "smollm2")
        .env("PDF", &pdf)
        .env("GGUF", &model)
        .env("OUT", &out)
        .output()
        .expect("run node");
    let so = String::from_utf8_lossy(&run.stdout);
    let se = String::from_utf8_lossy(&run.stderr);
    println!("{so}");
    assert!(run.status.success(), "browser test failed:\n{so}\n{se}");
    assert!(so.contains("passed, 0 failed"), "{so}");
    for shot in ["chat-desktop.png", "chat-dark.png", "chat-phone.png"] {
        let len = std::fs::metadata(out.join(shot))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(len > 10_000, "{shot}: {len} bytes");
    }

    // `hearth chat` loads what the page exported (the same JSON as /save)
    let data = tmp.path().join("data");
    let conv = data.join("hearth/conversations");
    std::fs::create_dir_all(&conv).unwrap();
    std::fs::copy(out.join("exported.json"), conv.join("from-page.json")).unwrap();
    let chat = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["--offline", "chat", "--ctx-size", "1024"])
        .arg(&model)
        .env("XDG_DATA_HOME", &data)
        .env("XDG_CONFIG_HOME", tmp.path().join("config"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = chat.stdin.as_ref().unwrap();
        stdin.write_all(b"/load from-page\n").unwrap();
    }
    let chat = chat.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&chat.stderr);
    assert!(
        chat.status.success() && err.contains("Loaded 'from-page': 6 messages."),
        "hearth chat /load of the page's export: {}\n{err}",
        chat.status
    );
    drop(keyed);
    drop(srv);
    eprintln!("browser test took {:.1} s", t0.elapsed().as_secs_f64());
}
