//! Server-Sent Events read off a response body, and the one parser of their blocks (the bench
//! reads its streams with it too).

use axum::body::Body;
use http_body_util::BodyExt;

/// The next whole event in `buffer` (bytes read off a stream so far), taken out of it:
/// `(event name, JSON data)`. `None` until a whole event has arrived; blocks without data
/// (keep-alive comments) are dropped on the way. Panics on data that is not JSON: every event
/// layerlab sends carries JSON.
pub fn take_event(buffer: &mut String) -> Option<(String, serde_json::Value)> {
    while let Some(end) = buffer.find("\n\n") {
        let block: String = buffer.drain(..end + 2).collect();
        let mut name = String::from("message");
        let mut data = String::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                name = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                // One optional space after the colon belongs to the syntax, not the data.
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if data.is_empty() {
            continue;
        }
        let json = serde_json::from_str(&data)
            .unwrap_or_else(|e| panic!("event {name} is not JSON ({e}): {data}"));
        return Some((name, json));
    }
    None
}

/// Server-Sent Events read off a response body: `(event name, JSON data)`.
pub struct EventStream {
    body: Body,
    buffer: String,
}

impl EventStream {
    pub fn new(body: Body) -> Self {
        EventStream {
            body,
            buffer: String::new(),
        }
    }

    /// The next event, waiting for it; `None` when the stream ends. Fails the test after 5
    /// minutes of silence (keep-alive comments do not count as silence).
    pub async fn next(&mut self) -> Option<(String, serde_json::Value)> {
        loop {
            if let Some(event) = take_event(&mut self.buffer) {
                return Some(event);
            }
            let frame =
                tokio::time::timeout(std::time::Duration::from_secs(300), self.body.frame())
                    .await
                    .expect("an event within 5 minutes")?;
            let frame = frame.expect("body frame");
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }
}
