//! A webhook receiver on 127.0.0.1 that keeps every request it gets: where the local cloud (and
//! the tests) point `WEBHOOK_URL` to watch signed deliveries arrive.
//!
//! Besides deliveries to `/hook` it serves, for tests and demos from outside the process:
//! - `GET /messages`: every delivery so far as JSON (method, path, headers, body, the status
//!   it was answered with, when it arrived);
//! - `POST /control?status=503&delay_ms=2000`: answer later deliveries with that status, after
//!   that delay (either may be left out), to make the channel's far end fail or slow down.

use std::collections::HashMap;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::far_end::{FarEnd, Log};

/// One request as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// When it arrived (before any configured delay), to see which deliveries overlapped.
    pub at: std::time::Instant,
    /// The status it was answered with.
    pub status: u16,
    /// When it arrived, by the wall clock (to compare with a reminder's time).
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// A running receiver; it answers every request with `status`.
pub struct WebhookReceiver {
    url: String,
    received: Log<Received>,
    far_end: FarEnd,
}

impl WebhookReceiver {
    /// Listens on a free port, answering 200.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let received = Log::default();
        let far_end = FarEnd::default();
        let (r, f) = (received.clone(), far_end.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (r, f) = (r.clone(), f.clone());
                tokio::spawn(async move {
                    let _ = serve(socket, r, f).await;
                });
            }
        });
        Ok(Self {
            url,
            received,
            far_end,
        })
    }

    /// The URL to post to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Answer later requests with this status (to simulate a failing receiver).
    pub fn answer(&self, status: u16) {
        self.far_end.answer(status);
    }

    /// Answer later requests only after this long (to simulate a slow receiver).
    pub fn delay(&self, delay: std::time::Duration) {
        self.far_end.delay(delay);
    }

    /// What it received, as it grows (the console page reads it).
    pub fn received_log(&self) -> crate::far_end::Log<Received> {
        self.received.clone()
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.all()
    }
}

async fn serve(
    mut socket: TcpStream,
    received: Log<Received>,
    far_end: FarEnd,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[header_end..].to_vec();
    if let Some(response) = control(&method, &path, &received, &far_end) {
        return socket.write_all(response.as_bytes()).await;
    }
    // How this request is answered is fixed before it is recorded, so a caller that sees it
    // recorded and then changes the delay or status affects only later requests.
    let (code, pause) = far_end.now();
    received.push(Received {
        method,
        path,
        headers,
        body,
        at: std::time::Instant::now(),
        status: code,
        received_at: chrono::Utc::now(),
    });
    tokio::time::sleep(pause).await;
    let response = format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    socket.write_all(response.as_bytes()).await
}

/// The receiver's own routes (`GET /messages`, `POST /control`): the response, or `None` for a
/// delivery.
fn control(method: &str, path: &str, received: &Log<Received>, far_end: &FarEnd) -> Option<String> {
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    let answer = |code: u16, body: String| {
        format!(
            "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    match (method, route) {
        ("GET", "/messages") => {
            let messages: Vec<serde_json::Value> = received
                .all()
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "method": r.method,
                        "path": r.path,
                        "headers": r.headers,
                        "body": String::from_utf8_lossy(&r.body),
                        "answered": r.status,
                        "received_at": r.received_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    })
                })
                .collect();
            Some(answer(200, serde_json::Value::from(messages).to_string()))
        }
        ("POST", "/control") => Some(match far_end.control(query) {
            Ok(now) => answer(200, now.to_string()),
            Err(e) => answer(400, serde_json::json!({"error": e}).to_string()),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_far_end_fails_on_demand_and_shows_what_it_received() {
        let receiver = WebhookReceiver::start().await.unwrap();
        let base = receiver.url().trim_end_matches("/hook").to_string();
        let http = reqwest::Client::new();
        let set = http
            .post(format!("{base}/control?status=503"))
            .send()
            .await
            .unwrap();
        assert_eq!(set.status(), 200);
        let hook = http.post(receiver.url()).body("{}").send().await.unwrap();
        assert_eq!(hook.status(), 503);
        let bad = http
            .post(format!("{base}/control?status=99"))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
        let messages: serde_json::Value = http
            .get(format!("{base}/messages"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            messages.as_array().unwrap().len(),
            1,
            "control calls are not deliveries"
        );
        assert_eq!(messages[0]["answered"], 503);
        assert_eq!(messages[0]["body"], "{}");
    }
}
