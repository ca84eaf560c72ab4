//! The HTTP/1.1 server around the router: connections and their time limits.
//!
//! - A connection must send a request's headers within the header timeout (hyper's
//!   `header_read_timeout`, which also runs while a keep-alive connection waits for its next
//!   request), and is closed after the idle timeout with no request in flight.
//! - At most `max_connections` are open (bounded by the file-descriptor limit, which is raised
//!   to its hard limit at start). A connection beyond the cap closes the one idle the longest;
//!   when none is idle it is answered 503 in PocketBase's error JSON and closed, so the
//!   connections being served keep being served.
//!
//! - A response whose writing stalls (the client stops reading) for the write timeout closes
//!   its connection.
//!
//! Request-level limits (body size and deadline, response time) are in [`crate::limits`].

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// Connection-level settings of `serve`.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    /// How long a write to the client may wait for the client to read.
    pub write_timeout: Duration,
    pub max_connections: usize,
}

/// Refusals being written at once; past this, connections over the cap are closed unanswered.
const MAX_REFUSING: usize = 64;

/// Raises the soft limit on open files to the hard limit; returns the limit now in force
/// (`None` where it cannot be read). The one place the runtime calls into libc.
#[allow(unsafe_code)]
pub fn raise_open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: `limit` is a valid, writable rlimit for the duration of the calls.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            // SAFETY: as above; a refusal (e.g. macOS above OPEN_MAX) keeps the soft limit.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                limit = raised;
            }
        }
        #[allow(clippy::unnecessary_cast)] // `rlim_t` is not `u64` everywhere
        Some(limit.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    None
}

/// The connection cap for `wanted` connections under `open_files`: a quarter of the
/// descriptors stays for the database, uploaded files and the listener.
pub fn connection_cap(wanted: usize, open_files: Option<u64>) -> usize {
    match open_files {
        Some(n) => wanted.min(usize::try_from(n - n / 4).unwrap_or(usize::MAX)).max(1),
        None => wanted.max(1),
    }
}

/// One open connection, as the cap and the idle timer see it. Plain atomics: a request costs
/// no wake-up of the connection's task (the idle timer looks when it fires).
struct Conn {
    in_flight: AtomicUsize,
    /// When the last request finished, in milliseconds since [`epoch`].
    idle_since: AtomicU64,
    close: Notify,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(millis(Instant::now())),
            close: Notify::new(),
        }
    }

    fn start_request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    /// `Some(since)` while no request is in flight.
    fn idle(&self) -> Option<Instant> {
        (self.in_flight.load(Ordering::SeqCst) == 0)
            .then(|| epoch() + Duration::from_millis(self.idle_since.load(Ordering::SeqCst)))
    }
}

/// Held by a response body until it is written or dropped.
struct InFlight(Arc<Conn>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.idle_since.store(millis(Instant::now()), Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The instant connection times are counted from.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn millis(at: Instant) -> u64 {
    at.saturating_duration_since(epoch()).as_millis() as u64
}

/// The open connections, by accept order.
#[derive(Default)]
struct Conns {
    open: Mutex<BTreeMap<u64, Arc<Conn>>>,
    next: AtomicU64,
    refusing: AtomicUsize,
}

impl Conns {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Conn>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a connection when there is room, closing the connection idle the longest
    /// when there is not; `None` when every connection is busy.
    fn admit(&self, cap: usize) -> Option<(u64, Arc<Conn>)> {
        let mut open = self.lock();
        if open.len() >= cap {
            let idlest = open.iter().filter_map(|(id, c)| Some((c.idle()?, *id))).min().map(|(_, id)| id)?;
            if let Some(conn) = open.remove(&idlest) {
                conn.close.notify_one();
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::new());
        open.insert(id, conn.clone());
        Some((id, conn))
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }
}

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting, lets
/// requests in flight finish (at most `grace`) and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let conns = Arc::new(Conns::default());
    let (stop, stopped) = watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors (or a connection reset before accept): wait, then retry.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let Some((id, conn)) = conns.admit(limits.max_connections) else {
            refuse(stream, &conns);
            continue;
        };
        let (conns, router, http, mut stopped) = (conns.clone(), router.clone(), http.clone(), stopped.clone());
        tokio::spawn(async move {
            let watched = conn.clone();
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let in_flight = watched.start_request();
                let router = router.clone();
                async move {
                    let mut request = request.map(Body::new);
                    request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                    let response = router.oneshot(request).await.unwrap_or_else(|e| match e {});
                    // The connection is busy until the body is written: a realtime stream too.
                    Ok::<_, Infallible>(response.map(|body| {
                        Body::new(body.map_frame(move |frame| {
                            let _held = &in_flight;
                            frame
                        }))
                    }))
                }
            });
            let io = TokioIo::new(WriteStall::new(stream, limits.write_timeout));
            let connection = http.serve_connection(io, service);
            tokio::pin!(connection);
            let stop = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            tokio::select! {
                _ = connection.as_mut() => {}
                () = idle_for(&conn, limits.idle_timeout) => {}
                () = conn.close.notified() => {}
                () = stop => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            conns.remove(id);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let deadline = Instant::now() + grace;
    while !conns.lock().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Completes once the connection has had no request in flight for `timeout`.
async fn idle_for(conn: &Conn, timeout: Duration) {
    loop {
        let now = Instant::now();
        match conn.idle() {
            Some(since) if since + timeout <= now => return,
            Some(since) => tokio::time::sleep_until(since + timeout).await,
            None => tokio::time::sleep(timeout).await,
        }
    }
}

/// A connection whose writes fail once one has waited `limit` for the client to read.
struct WriteStall<T> {
    inner: T,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<T> WriteStall<T> {
    fn new(inner: T, limit: Duration) -> Self {
        WriteStall { inner, limit, stalled: None }
    }

    /// Keeps `result`, starting the stall timer on `Pending` and failing once it ran out.
    fn watch<R>(&mut self, cx: &mut Context<'_>, result: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if result.is_ready() {
            self.stalled = None;
            return result;
        }
        let limit = self.limit;
        let timer = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading"))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteStall<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteStall<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Answers a connection over the cap with a 503 and closes it.
fn refuse(mut stream: TcpStream, conns: &Arc<Conns>) {
    if conns.refusing.fetch_add(1, Ordering::SeqCst) >= MAX_REFUSING {
        conns.refusing.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let conns = conns.clone();
    tokio::spawn(async move {
        let body = crate::error::ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "Too many open connections, try again later.",
        )
        .body()
        .to_string();
        let head = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\nretry-after: 1\r\n\r\n",
            body.len()
        );
        let answer = async {
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body.as_bytes()).await?;
            stream.shutdown().await?;
            // Read what the client sent, so that closing does not reset the connection
            // before the answer is read.
            let mut sink = [0u8; 4096];
            while stream.read(&mut sink).await? > 0 {}
            Ok::<_, io::Error>(())
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), answer).await;
        conns.refusing.fetch_sub(1, Ordering::SeqCst);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_the_client_does_not_read_fails_after_the_limit() {
        let (ours, mut theirs) = tokio::io::duplex(16);
        let mut io = WriteStall::new(ours, Duration::from_millis(50));
        io.write_all(b"0123456789").await.expect("fits the buffer");
        let stalled = io.write_all(b"0123456789").await.expect_err("the client reads nothing");
        assert_eq!(stalled.kind(), io::ErrorKind::TimedOut);
        // Reading makes room again: the next write goes through.
        let mut buf = [0u8; 16];
        let n = theirs.read(&mut buf).await.expect("read");
        assert!(n > 0);
        io.write_all(b"01").await.expect("room again");
    }

    #[test]
    fn the_cap_leaves_a_quarter_of_the_descriptors() {
        assert_eq!(connection_cap(10_000, Some(512)), 384);
        assert_eq!(connection_cap(10_000, Some(1 << 20)), 10_000);
        assert_eq!(connection_cap(100, None), 100);
    }

    #[tokio::test]
    async fn a_full_house_closes_the_connection_idle_the_longest() {
        let conns = Conns::default();
        let (first, a) = conns.admit(2).expect("room");
        let (_, b) = conns.admit(2).expect("room");
        let _busy = b.start_request();
        let (third, _) = conns.admit(2).expect("the idle one makes room");
        assert_ne!(first, third);
        assert!(!conns.lock().contains_key(&first), "the idle connection was closed");
        // `a` was told to close: a permit is stored.
        tokio::time::timeout(Duration::from_millis(10), a.close.notified()).await.expect("notified");
        // Now one is busy and one idle since just now: the idle one goes, then nobody can.
        assert!(conns.admit(2).is_some());
        let (_, c) = conns.lock().iter().map(|(id, c)| (*id, c.clone())).next_back().expect("one");
        let _busy_too = c.start_request();
        assert!(conns.admit(2).is_none(), "every connection is busy");
    }
}
