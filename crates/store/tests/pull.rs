//! Pull against a real HTTP server on loopback that behaves like Hugging Face.

mod support;

use store::{pull, Progress, Store, StoreError};
use support::hfserver::{sha256, tiny_gguf, Fault, HfServer};

fn store() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let s = Store::at(d.path().join("models"));
    (d, s)
}

const REPO: &str = "someone/Tiny-GGUF";
const FILE: &str = "Tiny-Q8_0.gguf";

fn serve(fault: Fault) -> (HfServer, Vec<u8>) {
    let srv = HfServer::start();
    let data = tiny_gguf(1 << 19, 7); // 2 MiB of tensor data
    srv.add(REPO, FILE, data.clone(), fault);
    (srv, data)
}

fn assert_nothing_installed(s: &Store) {
    let (models, problems) = s.list();
    assert!(
        models.is_empty() && problems.is_empty(),
        "{models:?} {problems:?}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(s.root.join(".tmp"))
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        leftovers
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".gguf")),
        "{leftovers:?}"
    );
}

#[test]
fn complete_pull_verifies_and_records_the_servers_sha256() {
    let (srv, data) = serve(Fault::default());
    let (_d, s) = store();
    let m = pull(
        &s,
        &srv.url(REPO, FILE),
        Some("tiny:q8"),
        &mut Progress::quiet(),
    )
    .unwrap();
    assert_eq!((m.name.as_str(), m.tag.as_str()), ("tiny", "q8"));
    assert_eq!(m.sha256, sha256(&data));
    assert_eq!(m.size, data.len() as u64);
    assert_eq!(m.architecture, "llama");
    assert_eq!(m.license, "apache-2.0");
    let path = s.root.join("tiny/q8.gguf");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        data,
        "a plain GGUF file, byte for byte"
    );
    // the manifest on disk is plain JSON with the documented fields
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.root.join("tiny/q8.json")).unwrap())
            .unwrap();
    for k in [
        "name",
        "tag",
        "source",
        "sha256",
        "size",
        "architecture",
        "parameters",
        "quantization",
        "license",
        "added",
    ] {
        assert!(j.get(k).is_some(), "manifest lacks {k}: {j}");
    }
    assert_eq!(s.list().0.len(), 1);
    // a second pull is a no-op: no more data requests
    let gets = srv.data_gets().len();
    pull(
        &s,
        &srv.url(REPO, FILE),
        Some("tiny:q8"),
        &mut Progress::quiet(),
    )
    .unwrap();
    assert_eq!(srv.data_gets().len(), gets);
    // the redirect hop carried the checksum: a HEAD and a GET went to the resolve URL
    assert!(srv
        .log()
        .iter()
        .any(|l| l.0 == "HEAD" && l.1.contains("/resolve/main/")));
}

#[test]
fn name_is_derived_from_the_file_when_not_given() {
    let (srv, _) = serve(Fault::default());
    let (_d, s) = store();
    let m = pull(&s, &srv.url(REPO, FILE), None, &mut Progress::quiet()).unwrap();
    assert_eq!(m.reference(), "tiny-q8_0:latest");
    assert_eq!(s.find_installed("tiny-q8_0").unwrap().sha256, m.sha256);
}

#[test]
fn dropped_connection_resumes_with_range() {
    let (srv, data) = serve(Fault {
        drop_after: Some(700_000),
        times: 2,
        ..Fault::default()
    });
    let (_d, s) = store();
    let m = pull(
        &s,
        &srv.url(REPO, FILE),
        Some("tiny"),
        &mut Progress::quiet(),
    )
    .unwrap();
    assert_eq!(m.sha256, sha256(&data));
    assert_eq!(
        srv.data_gets(),
        vec![0, 700_000, 1_400_000],
        "resumed where each connection dropped"
    );
}

#[test]
fn server_that_keeps_dropping_fails_clearly_and_keeps_the_partial_for_later() {
    let (srv, data) = serve(Fault {
        drop_after: Some(100_000),
        times: 5,
        ..Fault::default()
    });
    let (_d, s) = store();
    let e = pull(
        &s,
        &srv.url(REPO, FILE),
        Some("tiny"),
        &mut Progress::quiet(),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, StoreError::Http { .. }), "{msg}");
    assert!(msg.contains("run the same pull again to resume"), "{msg}");
    assert!(s.list().0.is_empty());
    // the next pull continues from the 500,000 bytes already there
    let m = pull(
        &s,
        &srv.url(REPO, FILE),
        Some("tiny"),
        &mut Progress::quiet(),
    )
    .unwrap();
    assert_eq!(m.sha256, sha256(&data));
    assert_eq!(*srv.data_gets().last().unwrap(), 500_000);
}

#[test]
fn checksum_mismatch_is_rejected_and_nothing_is_installed() {
    let wrong = "0".repeat(64);
    let (srv, _) = serve(Fault {
        wrong_sha: Some(wrong.clone()),
        ..Fault::default()
    });
    let (_d, s) = store();
    let e = pull(
        &s,
        &srv.url(REPO, FILE),
        Some("tiny"),
        &mut Progress::quiet(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, StoreError::Checksum { expected, .. } if *expected == wrong),
        "{e}"
    );
    assert!(e.to_string().contains("nothing was installed"), "{e}");
    assert_nothing_installed(&s);
    assert!(
        !s.root.join(".tmp/tiny@latest.partial").exists(),
        "a corrupt partial is discarded, not resumed"
    );
}

#[test]
fn server_without_range_support_restarts_from_zero() {
    let (srv, data) = serve(Fault {
        drop_after: Some(300_000),
        times: 1,
        no_range: true,
        ..Fault::default()
    });
    let (_d, s) = store();
    let m = pull(
        &s,
        &srv.url(REPO, FILE),
        Some("tiny"),
        &mut Progress::quiet(),
    )
    .unwrap();
    assert_eq!(m.sha256, sha256(&data));
}

#[test]
fn missing_file_and_unreachable_server_say_why() {
    let (srv, _) = serve(Fault::default());
    let (_d, s) = store();
    let e = pull(
        &s,
        &srv.url(REPO, "Nope.gguf"),
        None,
        &mut Progress::quiet(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("404")
            && e.to_string().contains("check the repository and file name"),
        "{e}"
    );
    // a port nobody listens on
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let e = pull(
        &s,
        &format!("http://127.0.0.1:{port}/a/b/resolve/main/x.gguf"),
        None,
        &mut Progress::quiet(),
    )
    .unwrap_err();
    assert!(matches!(e, StoreError::Http { .. }), "{e}");
    assert_nothing_installed(&s);
}

#[test]
fn two_concurrent_pulls_download_once() {
    let (srv, data) = serve(Fault {
        throttle: Some((64 << 10, std::time::Duration::from_millis(5))),
        ..Fault::default()
    });
    let (_d, s) = store();
    let url = srv.url(REPO, FILE);
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (s, url) = (s.clone(), url.clone());
            std::thread::spawn(move || {
                pull(&s, &url, Some("tiny"), &mut Progress::quiet()).unwrap()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().sha256, sha256(&data));
    }
    assert_eq!(
        srv.data_gets(),
        vec![0],
        "the second pull waited for the first and reused its result"
    );
    assert_eq!(
        std::fs::read(s.root.join("tiny/latest.gguf")).unwrap(),
        data
    );
}

#[test]
fn offline_store_never_connects() {
    let (srv, _) = serve(Fault::default());
    let (_d, mut s) = store();
    s.offline = true;
    let e = pull(&s, &srv.url(REPO, FILE), None, &mut Progress::quiet()).unwrap_err();
    assert!(matches!(e, StoreError::Offline(_)), "{e}");
    assert!(e.to_string().contains("HEARTH_OFFLINE"), "{e}");
    let e = store::resolve_in(&s, "smollm2", &mut Progress::quiet()).unwrap_err();
    assert!(matches!(e, StoreError::Offline(_)), "{e}");
    assert!(srv.log().is_empty(), "{:?}", srv.log());
}

#[test]
fn resolve_pulls_an_absent_url_once_then_uses_the_store() {
    let (srv, data) = serve(Fault::default());
    let (_d, s) = store();
    let url = srv.url(REPO, FILE);
    let p = store::resolve_in(&s, &url, &mut Progress::quiet()).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), data);
    let n = srv.log().len();
    assert_eq!(
        store::resolve_in(&s, &url, &mut Progress::quiet()).unwrap(),
        p
    );
    assert_eq!(
        store::resolve_in(&s, "tiny-q8_0", &mut Progress::quiet()).unwrap(),
        p
    );
    assert_eq!(
        srv.log().len(),
        n,
        "a present model never touches the network"
    );
}
