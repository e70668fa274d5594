//! How the local cloud's two APIs (the HTTP API and the WebSocket API) hold their clients'
//! connections: a connection with no request for [`Limits::idle_timeout`] is closed, and at
//! most [`Limits::max_connections`] are open at once. One more is answered at once with
//! `503 {"message":"Service Unavailable"}` and closed, so a client never hangs on a connection
//! nobody serves, and the idle ones of a client that keeps opening them cannot take every file
//! descriptor of the process (an outside tester held 19,680 idle sockets open: the functions'
//! processes could no longer be started).
//!
//! A WebSocket keeps its place until it closes: the place goes with the connection into the
//! upgrade. Its own idle timeout is the WebSocket server's (`websocket::WebSocketServer`).

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How an API holds its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once; one beyond them is answered 503 and closed.
    pub max_connections: usize,
    /// An HTTP connection that has been waiting this long for a request is closed.
    pub idle_timeout: Duration,
}

/// The HTTP API's: no request takes it longer than its 30 s maximum integration timeout
/// ("Quotas for configuring and running an HTTP API in API Gateway"), so a connection idle
/// that long serves no one.
pub const HTTP_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The WebSocket API's "Idle Connection Timeout" ("Quotas for configuring and running a
/// WebSocket API in API Gateway"): 10 minutes without a frame from the client.
pub const WEBSOCKET_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// How long a refused connection may take to send its request before it is closed.
const REFUSAL_READ_TIMEOUT: Duration = Duration::from_secs(1);

/// How long to wait before accepting again when accepting failed (out of file descriptors,
/// say): a loop that retries at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

impl Limits {
    /// `max_connections`, and HTTP connections idle at most the HTTP API's timeout (on the
    /// WebSocket API's port too: its upgrade requests and Management API calls are HTTP).
    pub fn new(max_connections: usize) -> Self {
        Self {
            max_connections,
            idle_timeout: HTTP_IDLE_TIMEOUT,
        }
    }
}

/// The default cap on each API's open connections: 1024, or a quarter of the process's file
/// descriptors when that is less, so both APIs together hold at most half of them (the
/// functions' processes, the tables and the broker need the rest).
pub fn default_max_connections() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    let soft = match unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } {
        0 => limit.rlim_cur,
        _ => 1024,
    };
    usize::try_from(soft / 4)
        .unwrap_or(usize::MAX)
        .clamp(16, 1024)
}

/// Serves `app` on `listener` within `limits` until the process ends.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits) {
    let app = app.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| body_deadline(request, next, limits.idle_timeout),
    ));
    let places = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        match Arc::clone(&places).try_acquire_owned() {
            Ok(place) => {
                let io = Held {
                    stream,
                    _place: place,
                };
                tokio::spawn(serve_connection(io, app.clone(), limits.idle_timeout));
            }
            Err(_) => {
                tokio::spawn(refuse(stream));
            }
        }
    }
}

async fn serve_connection(io: Held, app: Router, idle_timeout: Duration) {
    // hyper's header read timeout runs whenever the connection waits for a request's head,
    // first or next: that is the idle timeout. A request being served is not idle.
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(idle_timeout)
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(app))
        .with_upgrades()
        .await;
}

/// The most a request body may hold before the handler sees it: API Gateway's 10 MB payload
/// quota; each API refuses less on its own terms (the HTTP API's Lambda integrations 6 MB,
/// a `PostToConnection` 128 KB).
const BODY_BUFFER_LIMIT: usize = 10 * 1024 * 1024;

/// A request whose body has not fully arrived within `within` is answered `408` and its
/// connection closed: a client that sends the head and stalls in the body (the idle timeout
/// covers only waiting for a head) would otherwise hold its place for ever, and enough of
/// them would take every place (an outside tester held the cap with 1,100 unfinished bodies).
async fn body_deadline(request: Request, next: Next, within: Duration) -> Response {
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(within, axum::body::to_bytes(body, BODY_BUFFER_LIMIT)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(_)) => closing(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
        Err(_) => closing(StatusCode::REQUEST_TIMEOUT, "Request Timeout"),
    }
}

/// An API Gateway-style `{"message"}` answer after which the connection is closed.
fn closing(status: StatusCode, message: &str) -> Response {
    (
        status,
        [
            ("content-type", "application/json"),
            ("connection", "close"),
        ],
        format!(r#"{{"message":"{message}"}}"#),
    )
        .into_response()
}

/// Answers one request 503 and closes the connection.
async fn refuse(stream: TcpStream) {
    let busy = hyper::service::service_fn(|_| async {
        Ok::<Response, Infallible>(
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [("content-type", "application/json"), ("retry-after", "1")],
                r#"{"message":"Service Unavailable"}"#,
            )
                .into_response(),
        )
    });
    let _ = http1::Builder::new()
        .keep_alive(false)
        .timer(TokioTimer::new())
        .header_read_timeout(REFUSAL_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), busy)
        .await;
}

/// A connection and its place among the open ones, freed when the connection is dropped.
struct Held {
    stream: TcpStream,
    _place: OwnedSemaphorePermit,
}

impl AsyncRead for Held {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Held {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
