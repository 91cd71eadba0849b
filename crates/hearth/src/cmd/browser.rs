//! `hearth serve`'s way to the chat page: the address a browser should
//! open, printed as a link a terminal can click, and `--open` starting the
//! system's browser on it.

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The page's address for the socket the server listens on: a wildcard
/// address (0.0.0.0, ::) is not one a browser can open, so this machine's
/// loopback of the same family stands in for it.
pub fn page_url(local: SocketAddr) -> String {
    let ip = match local.ip() {
        IpAddr::V4(v) if v.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v) if v.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/", SocketAddr::new(ip, local.port()))
}

/// `url` as an OSC 8 hyperlink when standard error is a terminal that is
/// likely to understand it (not `TERM=dumb`); the plain URL otherwise (the
/// URL is the link's text either way, so terminals without OSC 8 still
/// show it, and most make it clickable themselves).
pub fn link(url: &str) -> String {
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    if std::io::stderr().is_terminal() && !dumb {
        format!("\x1b]8;;{url}\x1b\\{url}\x1b]8;;\x1b\\")
    } else {
        url.to_string()
    }
}

/// The program that opens a URL in the user's default browser here.
fn opener() -> (&'static str, &'static [&'static str]) {
    if cfg!(target_os = "macos") {
        ("open", &[])
    } else if cfg!(windows) {
        // `start`'s first quoted argument is the window title
        ("cmd", &["/C", "start", ""])
    } else {
        ("xdg-open", &[])
    }
}

/// Open `url` in the default browser without waiting for it. Not finding a
/// browser is no error for the server: the returned note says to open the
/// address by hand.
pub fn open(url: &str) -> Result<(), String> {
    let (prog, pre) = opener();
    let child = std::process::Command::new(prog)
        .args(pre)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match child {
        Ok(mut c) => {
            // reap it when it ends (xdg-open returns at once; `open` too)
            std::thread::spawn(move || {
                if let Ok(s) = c.wait() {
                    if !s.success() {
                        eprintln!("  could not open a browser ({prog} failed): open the address above yourself");
                    }
                }
            });
            Ok(())
        }
        Err(e) => Err(format!(
            "could not open a browser ({prog}: {e}): open the address above yourself"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_addresses_become_loopback() {
        let u = |s: &str| page_url(s.parse().unwrap());
        assert_eq!(u("127.0.0.1:11434"), "http://127.0.0.1:11434/");
        assert_eq!(u("0.0.0.0:8080"), "http://127.0.0.1:8080/");
        assert_eq!(u("[::]:8080"), "http://[::1]:8080/");
        assert_eq!(u("[::1]:9"), "http://[::1]:9/");
        assert_eq!(u("192.168.1.5:80"), "http://192.168.1.5:80/");
    }
}
