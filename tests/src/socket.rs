//! A WebSocket client of the local cloud's WebSocket API, for the end-to-end tests and the
//! latency benchmark.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How a client presents its token.
pub enum Token<'a> {
    /// `Authorization: Bearer <token>`.
    Header(&'a str),
    /// `?token=<token>` (browsers cannot set headers on a WebSocket).
    Query(&'a str),
    None,
}

/// An open connection.
pub struct Socket {
    stream: Stream,
}

impl Socket {
    /// Connects to `url`; the HTTP status of a refused upgrade otherwise.
    pub async fn connect(url: &str, token: Token<'_>) -> Result<Self, u16> {
        let url = match token {
            Token::Query(t) => format!("{url}?token={t}"),
            _ => url.to_string(),
        };
        let mut request = url.into_client_request().map_err(|_| 0u16)?;
        if let Token::Header(t) = token
            && let Ok(v) = format!("Bearer {t}").parse()
        {
            request.headers_mut().insert("authorization", v);
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => Ok(Self { stream }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(_) => Err(0),
        }
    }

    /// Sends a text message.
    pub async fn send(&mut self, text: &str) {
        self.stream
            .send(Message::Text(text.into()))
            .await
            .expect("the socket is open");
    }

    /// The next text message as JSON, within `wait`; `None` if none came.
    pub async fn next_json(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??
                .ok()?;
            match frame {
                Message::Text(t) => return serde_json::from_str(&t).ok(),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Closes the connection as a client does.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
        // Drain until the server's close arrives.
        while let Ok(Some(Ok(_))) =
            tokio::time::timeout(Duration::from_secs(2), self.stream.next()).await
        {}
    }
}
