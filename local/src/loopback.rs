//! The small HTTP services the local cloud plays beside its APIs (SES, the push service, the
//! custom resources' response endpoint): an axum app on a free port of 127.0.0.1, served in
//! the background for as long as its owner keeps the [`Server`].

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A free port on 127.0.0.1, bound: its address is known before the app that serves it is
/// built (an app may hand out URLs of itself).
pub async fn bind() -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", 0)).await
}

/// `app` served on a listener in the background; the service stops when this is dropped, so a
/// test's service does not outlive the test.
pub struct Server(JoinHandle<()>);

impl Server {
    pub fn start(listener: TcpListener, app: Router) -> Self {
        Self(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.0.abort();
    }
}
