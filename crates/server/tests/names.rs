//! One way to name a model: `hearth` commands (`store::resolve_in`, what
//! `run`/`chat`/`batch`/... call) and the server (`Catalog`, what every API
//! route calls) find the same file for every name, in a model directory
//! holding store models (catalog and other names, one tag or several, a
//! corrupt manifest) and loose files. Paths are the one deliberate
//! difference: a command takes a path, an HTTP request cannot name a file.

use server::catalog::Catalog;
use std::path::{Path, PathBuf};
use store::{Manifest, Progress, Store};

/// A store model `name:tag`: its file and manifest (the file's bytes do not
/// matter to names).
fn put(root: &Path, name: &str, tag: &str) {
    std::fs::create_dir_all(root.join(name)).unwrap();
    std::fs::write(root.join(name).join(format!("{tag}.gguf")), b"GGUF").unwrap();
    let m = Manifest {
        name: name.into(),
        tag: tag.into(),
        sha256: "0".repeat(64),
        file: format!("{tag}.gguf"),
        ..Default::default()
    };
    std::fs::write(
        root.join(name).join(format!("{tag}.json")),
        serde_json::to_string(&m).unwrap(),
    )
    .unwrap();
}

/// What a command finds: the file, or `None` (an error: absent, corrupt, or
/// needing a download, which an offline store refuses).
fn cli(st: &Store, name: &str) -> Option<PathBuf> {
    store::resolve_in(st, name, &mut Progress::quiet()).ok()
}

fn served(c: &Catalog, name: &str) -> Option<PathBuf> {
    c.resolve(name).ok().map(|e| e.path)
}

#[test]
fn commands_and_server_find_the_same_file_for_every_name() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    for (n, t) in [
        ("smollm2", "135m"),
        ("smollm2", "q8"),
        ("gemma3", "1b"),
        ("mine", "latest"),
        ("mine", "v2"),
        ("solo", "v1"),
        ("two", "a"),
        ("two", "b"),
        ("broken", "latest"),
    ] {
        put(root, n, t);
    }
    std::fs::write(root.join("broken/latest.json"), "{ not json").unwrap();
    for f in [
        "plain.gguf",
        "Mixed-Case.gguf",
        "with space.gguf",
        "solo.gguf",
        "upper.GGUF",
    ] {
        std::fs::write(root.join(f), b"GGUF").unwrap();
    }
    std::fs::create_dir_all(root.join(".tmp")).unwrap();
    std::fs::write(root.join(".tmp/partial@latest.gguf"), b"GGUF").unwrap();

    let st = Store {
        root: root.to_path_buf(),
        offline: true,
    };
    let cat = Catalog::new(Some(root.to_path_buf()), Vec::new());

    // The two listings are one.
    let listed: Vec<String> = cat.list().into_iter().map(|e| e.name).collect();
    let stored: Vec<String> = st.models().0.into_iter().map(|m| m.name).collect();
    assert_eq!(listed, stored);
    assert_eq!(
        listed,
        [
            "Mixed-Case",
            "gemma3:1b",
            "mine:latest",
            "mine:v2",
            "plain",
            "smollm2:135m",
            "smollm2:q8",
            "solo",
            "solo:v1",
            "two:a",
            "two:b",
            "upper",
            "with space"
        ]
    );

    let typed = [
        "smollm2",
        "SMOLLM2",
        " smollm2 ",
        "smollm2:135m",
        "smollm2:q8",
        "smollm2:latest",
        "gemma3",
        "gemma3:1b",
        "gemma3:270m",
        "mine",
        "mine:latest",
        "MINE:V2",
        "solo",
        "solo:v1",
        "solo:latest",
        "two",
        "plain",
        "plain:latest",
        "Mixed-Case",
        "mixed-case",
        "Mixed-Case:latest",
        "with space",
        "upper",
        "broken",
        "broken:latest",
        "nope",
        "nope:latest",
        "qwen2.5-coder",
        "partial@latest",
        ".tmp",
        "",
    ];
    let mut found = 0;
    for name in listed.iter().map(String::as_str).chain(typed) {
        let (c, s) = (cli(&st, name), served(&cat, name));
        assert_eq!(c, s, "{name:?}: command vs server");
        found += usize::from(c.is_some());
    }
    // the names above that find a file, and a few that find the one expected
    assert_eq!(found, listed.len() + 19);
    let at = |p: &str| Some(root.join(p));
    assert_eq!(cli(&st, "smollm2"), at("smollm2/135m.gguf"));
    assert_eq!(cli(&st, "gemma3"), at("gemma3/1b.gguf"));
    assert_eq!(cli(&st, "mine"), at("mine/latest.gguf"));
    assert_eq!(cli(&st, "solo"), at("solo.gguf"));
    assert_eq!(cli(&st, "solo:latest"), at("solo.gguf"));
    assert_eq!(cli(&st, "upper"), at("upper.GGUF"));
    assert_eq!(cli(&st, "two"), None);
    assert!(matches!(
        cat.resolve("broken"),
        Err(server::catalog::CatalogError::Refused(m)) if m.contains("corrupt")
    ));

    // Paths: a command takes them as they are; a request cannot name a file.
    let abs = root.join("plain.gguf");
    for p in [
        abs.to_str().unwrap(),
        "plain.gguf",
        "./plain.gguf",
        "sub/x.gguf",
    ] {
        assert_eq!(cli(&st, p), Some(PathBuf::from(p)), "{p}");
        assert_eq!(served(&cat, p), None, "{p}");
    }
}
