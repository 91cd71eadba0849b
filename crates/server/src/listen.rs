//! The accept loop: HTTP/1.1 connections served by hyper with the limits
//! that keep slow or idle clients from starving the server — at most
//! `max_connections` connections at once (more wait in the kernel's queue
//! until one closes, so the process never runs out of file descriptors), a
//! client must send a request's headers within `read_timeout` (hyper's
//! header timeout, which also runs while a kept-alive connection waits for
//! its next request, so idle connections close after it), and its body
//! within the same time (`Body`, in lib.rs: 408).

use crate::Shared;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// Serve `router` on `listener` until `shutdown` resolves, then let the open
/// connections finish (graceful shutdown) and return.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    state: &Shared,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(state.cfg.max_connections.max(1)));
    let read_timeout = state.cfg.read_timeout;
    // the connections hold `done_rx` clones: when all are gone, every
    // connection has ended
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let sock = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    // out of file descriptors or similar: wait, do not spin
                    if !is_connection_error(&e) {
                        eprintln!("hearth serve: accepting a connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = sock.set_nodelay(true);
        let svc = TowerToHyperService::new(router.clone());
        let mut stop = stop_rx.clone();
        let done = done_tx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _done = done;
            let mut b = hyper::server::conn::http1::Builder::new();
            b.timer(TokioTimer::new())
                .header_read_timeout(read_timeout)
                .keep_alive(true);
            let conn = b.serve_connection(TokioIo::new(sock), svc);
            let mut conn = std::pin::pin!(conn);
            let stopping = tokio::select! {
                _ = conn.as_mut() => false,
                r = stop.wait_for(|s| *s) => r.is_ok(),
            };
            if stopping {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(done_tx);
    let _ = done_rx.recv().await;
    Ok(())
}

/// Errors of one connection (the client gave up before we accepted it):
/// nothing to wait for.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}
