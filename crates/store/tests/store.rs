//! The store on disk without the network: import, tags, manifests that lie.

mod support;

use store::{import, Progress, Store, StoreError};
use support::hfserver::tiny_gguf;

fn setup() -> (tempfile::TempDir, Store, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let s = Store::at(d.path().join("models"));
    let g = d.path().join("Some-Model.Q8_0.gguf");
    std::fs::write(&g, tiny_gguf(4096, 5)).unwrap();
    (d, s, g)
}

#[test]
fn bare_names_pick_a_sensible_tag() {
    let (_d, s, g) = setup();
    import(&s, &g, Some("gemma3:1b"), &mut Progress::quiet()).unwrap();
    // only gemma3:1b is here: a bare `gemma3` means it (no network needed)
    assert_eq!(
        store::resolve_in(&s, "gemma3", &mut Progress::quiet()).unwrap(),
        s.root.join("gemma3/1b.gguf")
    );
    import(&s, &g, Some("mine"), &mut Progress::quiet()).unwrap();
    assert_eq!(s.find_installed("mine").unwrap().tag, "latest");
    assert_eq!(s.find_installed("MINE:LATEST").unwrap().name, "mine");
    let m = import(&s, &g, None, &mut Progress::quiet()).unwrap();
    assert_eq!(m.reference(), "some-model.q8_0:latest");
    assert!(m.source.starts_with("import:/"), "{}", m.source);
    assert_eq!(s.list().0.len(), 3);
    assert!(g.exists(), "never moves the user's file");
}

#[test]
fn manifests_that_lie_are_reported_not_followed() {
    let (_d, s, g) = setup();
    import(&s, &g, Some("a:x"), &mut Progress::quiet()).unwrap();
    import(&s, &g, Some("b:x"), &mut Progress::quiet()).unwrap();
    let mp = s.root.join("a/x.json");
    let mut j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&mp).unwrap()).unwrap();
    for (k, v) in [
        ("name", "../../etc"),
        ("file", "../b/x.gguf"),
        ("name", "b"),
    ] {
        let mut bad = j.clone();
        bad[k] = v.into();
        std::fs::write(&mp, bad.to_string()).unwrap();
        let (ok, problems) = s.list();
        assert_eq!(
            ok.iter().map(|m| m.reference()).collect::<Vec<_>>(),
            ["b:x"],
            "{k}={v}"
        );
        assert!(
            matches!(problems[..], [StoreError::CorruptManifest { .. }]),
            "{problems:?}"
        );
        assert!(matches!(
            s.find_installed("a:x"),
            Err(StoreError::CorruptManifest { .. })
        ));
    }
    j["size"] = "big".into();
    std::fs::write(&mp, j.to_string()).unwrap();
    assert_eq!(s.list().1.len(), 1);
    s.remove("a:x").unwrap();
    let (ok, problems) = s.list();
    assert_eq!(
        ok.iter().map(|m| m.reference()).collect::<Vec<_>>(),
        ["b:x"]
    );
    assert!(problems.is_empty() && !s.root.join("a").exists());
}

#[test]
fn import_rejects_what_is_not_a_model() {
    let (d, s, _) = setup();
    let t = d.path().join("notes.gguf");
    std::fs::write(&t, b"GGUF but not really").unwrap();
    assert!(matches!(
        import(&s, &t, None, &mut Progress::quiet()),
        Err(StoreError::NotGguf { .. })
    ));
    assert!(matches!(
        import(&s, d.path(), None, &mut Progress::quiet()),
        Err(StoreError::BadFile { .. })
    ));
    assert!(matches!(
        import(&s, &t, Some("bad name"), &mut Progress::quiet()),
        Err(StoreError::NotGguf { .. }) | Err(StoreError::BadName(..))
    ));
    assert!(s.list().0.is_empty());
}
