//! How much disk each image really takes: `GET /system/df` gives every image's `SharedSize`
//! (bytes in layers other images use too), so `Size - SharedSize` is what removing it would
//! free. bollard's model for that answer follows newer engines (`ImageUsage`) and cannot read
//! the `Images` list engines before API 1.44 send, so this one request is made by hand.

use serde::Deserialize;
use std::collections::HashMap;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// One image as `/system/df` lists it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ImageUsage {
    pub id: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(default)]
    pub labels: Option<HashMap<String, String>>,
    /// Seconds since the epoch.
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub size: i64,
    /// -1 when the engine did not compute it.
    #[serde(default)]
    pub shared_size: i64,
}

impl ImageUsage {
    /// Bytes no other image shares: what removing this one frees.
    pub fn unique_bytes(&self) -> u64 {
        let shared = self.shared_size.max(0);
        u64::try_from(self.size.saturating_sub(shared)).unwrap_or(0)
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.as_ref()?.get(key).map(String::as_str)
    }

    pub fn tags(&self) -> &[String] {
        self.repo_tags.as_deref().unwrap_or_default()
    }
}

#[derive(Deserialize)]
struct DiskUsage {
    #[serde(rename = "Images", default)]
    images: Option<Vec<ImageUsage>>,
}

/// Every image on the engine at `host` (`unix://…` or `tcp://…`) with its sizes. The engine
/// counts disk usage for one caller at a time and refuses the others ("a disk usage operation
/// is already running"; other servers and tests share the engine), so a refused count is asked
/// again for up to `BUSY_WAIT`.
pub async fn image_usage(host: &str) -> Result<Vec<ImageUsage>, String> {
    let started = std::time::Instant::now();
    loop {
        match image_usage_once(host).await {
            Err(e) if e.contains(BUSY) && started.elapsed() < BUSY_WAIT => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            done => return done,
        }
    }
}

/// The last count this process made (or why it failed), when, and of which engine: see
/// [`image_usage_within`].
type LastCount = Option<(
    std::time::Instant,
    String,
    Result<std::sync::Arc<Vec<ImageUsage>>, String>,
)>;
static LAST_COUNT: std::sync::OnceLock<tokio::sync::Mutex<LastCount>> = std::sync::OnceLock::new();

/// How long a failed count is the answer for those who waited for it (rather than each
/// asking again, one after another, as long).
const FAILED_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// [`image_usage`], one count at a time in this process (the engine makes the others wait
/// anyway, and a count takes a second or more on a busy engine), the last one taken again by
/// a caller content with one made at most `age` ago; a count that failed a moment ago is
/// the answer of every waiter content with an earlier count.
pub async fn image_usage_within(
    host: &str,
    age: std::time::Duration,
) -> Result<std::sync::Arc<Vec<ImageUsage>>, String> {
    let mut last = LAST_COUNT.get_or_init(Default::default).lock().await;
    if let Some((at, of, counted)) = last.as_ref() {
        // (A caller that needs a count made now is not given an earlier failure.)
        let fresh = match counted {
            Ok(_) => at.elapsed() <= age,
            Err(_) => !age.is_zero() && at.elapsed() <= FAILED_FOR,
        };
        if of == host && fresh {
            return counted.clone();
        }
    }
    let counted = image_usage(host).await.map(std::sync::Arc::new);
    *last = Some((std::time::Instant::now(), host.to_string(), counted.clone()));
    counted
}

/// The engine's words when another disk usage count is under way.
const BUSY: &str = "already running";
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

async fn image_usage_once(host: &str) -> Result<Vec<ImageUsage>, String> {
    let request = "GET /v1.41/system/df?type=image HTTP/1.0\r\nHost: docker\r\n\r\n";
    let response = if let Some(path) = host.strip_prefix("unix://") {
        let stream = tokio::net::UnixStream::connect(path)
            .await
            .map_err(|e| format!("cannot reach {host}: {e}"))?;
        exchange(stream, request).await
    } else {
        let address = host
            .strip_prefix("tcp://")
            .or_else(|| host.strip_prefix("http://"))
            .unwrap_or(host);
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| format!("cannot reach {host}: {e}"))?;
        exchange(stream, request).await
    }
    .map_err(|e| format!("reading disk usage from {host}: {e}"))?;
    parse(&response)
}

async fn exchange(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    request: &str,
) -> std::io::Result<Vec<u8>> {
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    // HTTP/1.0: the engine closes the connection after the body, which is not chunked.
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        stream.read_to_end(&mut response),
    )
    .await
    .map_err(|_| std::io::Error::other("the engine took over 60 s"))??;
    Ok(response)
}

fn parse(response: &[u8]) -> Result<Vec<ImageUsage>, String> {
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the engine's answer has no body")?;
    let head = String::from_utf8_lossy(&response[..split]);
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        let said = serde_json::from_slice::<serde_json::Value>(&response[split + 4..])
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_default();
        return Err(format!(
            "the engine answered {}: {said}",
            head.lines().next().unwrap_or("")
        ));
    }
    let usage: DiskUsage = serde_json::from_slice(&response[split + 4..])
        .map_err(|e| format!("unexpected disk usage answer: {e}"))?;
    Ok(usage.images.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_images_list_and_unique_bytes() {
        let body = r#"{"LayersSize":10,"Images":[{"Id":"sha256:a","RepoTags":["layerlab/x:1"],"Labels":{"k":"v"},"Created":5,"Size":1000,"SharedSize":400},{"Id":"sha256:b","RepoTags":null,"Labels":null,"Size":7,"SharedSize":-1}]}"#;
        let response = format!("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{body}");
        let images = parse(response.as_bytes()).expect("parses");
        assert_eq!(images.len(), 2);
        assert_eq!(images[0].unique_bytes(), 600);
        assert_eq!(images[0].label("k"), Some("v"));
        assert_eq!(images[0].tags(), ["layerlab/x:1"]);
        assert_eq!(images[1].unique_bytes(), 7, "no shared size: all of it");
        assert!(images[1].tags().is_empty());
        let refused =
            parse(b"HTTP/1.0 500 Internal Server Error\r\n\r\n{}").expect_err("a 500 is an error");
        assert!(refused.contains("500"), "{refused}");
        let busy = parse(b"HTTP/1.0 500 Internal Server Error\r\n\r\n{\"message\":\"a disk usage operation is already running\"}")
            .expect_err("busy is an error");
        assert!(busy.contains(BUSY), "{busy}");
    }
}
