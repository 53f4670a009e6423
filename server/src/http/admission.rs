//! Who is asking, and how much they may ask: the client's address (the socket's peer, or the
//! address a trusted reverse proxy put in `X-Forwarded-For`), limits per address on new
//! learners and on builds (a learner costs nothing to make, so per-learner limits alone limit
//! nothing), and a cap on the event streams one learner keeps open.

use crate::auth::LEARNER_KEY;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tower_sessions::Session;

/// What the edge lets through; every number has a flag (see `config::EdgeArgs`).
#[derive(Clone, Debug)]
pub struct EdgeSettings {
    /// Reverse proxies in front of the server that append to `X-Forwarded-For`; 0 trusts
    /// no header and uses the socket's peer address.
    pub trusted_proxies: usize,
    /// New learners (sessions) one address may start in an hour; 0: no limit.
    pub new_learners_per_hour: u32,
    /// Builds one address may start in a minute; 0: no limit.
    pub builds_per_minute: u32,
    /// Event streams one learner (or instructor) may keep open at once.
    pub streams_per_person: usize,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        EdgeSettings {
            trusted_proxies: 0,
            new_learners_per_hour: 100,
            builds_per_minute: 240,
            streams_per_person: 8,
        }
    }
}

/// The limits' shared state, one per server.
pub struct Edge {
    pub settings: EdgeSettings,
    new_learners: Buckets,
    builds: Buckets,
    streams: Mutex<HashMap<String, usize>>,
    pub login: crate::auth::LoginThrottle,
}

impl Edge {
    pub fn new(settings: EdgeSettings) -> Self {
        Edge {
            new_learners: Buckets::new(settings.new_learners_per_hour, Duration::from_secs(3600)),
            builds: Buckets::new(settings.builds_per_minute, Duration::from_secs(60)),
            streams: Mutex::new(HashMap::new()),
            login: crate::auth::LoginThrottle::default(),
            settings,
        }
    }

    /// Take one build from `client`'s allowance, or say how long until there is one.
    pub fn take_build(&self, client: &ClientAddress) -> Result<(), u64> {
        self.builds.take(&client.key(), Instant::now())
    }

    /// Give back a build that was refused further on (it did not start).
    pub fn refund_build(&self, client: &ClientAddress) {
        self.builds.refund(&client.key());
    }

    /// Count an event stream `person` opens; `None` when they have as many open as allowed.
    /// The stream is counted until the guard is dropped (the client went away, or it ended).
    pub fn open_stream(self: &Arc<Self>, person: &str) -> Option<StreamGuard> {
        let mut streams = lock(&self.streams);
        let open = streams.entry(person.to_string()).or_default();
        if *open >= self.settings.streams_per_person {
            return None;
        }
        *open += 1;
        Some(StreamGuard {
            edge: self.clone(),
            person: person.to_string(),
        })
    }
}

/// One open event stream; closing it (dropping this) frees its place.
pub struct StreamGuard {
    edge: Arc<Edge>,
    person: String,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut streams = lock(&self.edge.streams);
        if let Some(open) = streams.get_mut(&self.person) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                streams.remove(&self.person);
            }
        }
    }
}

use crate::sync::lock;

/// The address a request came from, as far as this server can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAddress {
    Ip(IpAddr),
    /// No socket address is known (the router called in-process, as tests do).
    Unknown,
}

impl ClientAddress {
    /// The key limits are counted under: an IPv4 address, or an IPv6 address's /64 (one
    /// household or server usually holds a whole /64, so single IPv6 addresses are free).
    pub fn key(&self) -> String {
        match self {
            ClientAddress::Ip(IpAddr::V4(v4)) => v4.to_string(),
            ClientAddress::Ip(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
            ClientAddress::Unknown => "unknown".into(),
        }
    }

    /// The client of `headers` and `peer`: with `trusted` proxies in front, the address the
    /// nearest of them saw is the `trusted`-th entry of `X-Forwarded-For` from the right (each
    /// proxy appends the address it was called from); entries further left are whatever the
    /// client wrote and are never believed. With 0 trusted proxies the header is ignored.
    pub fn of(headers: &HeaderMap, peer: Option<IpAddr>, trusted: usize) -> ClientAddress {
        let peer = peer.map_or(ClientAddress::Unknown, ClientAddress::Ip);
        if trusted == 0 {
            return peer;
        }
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if entries.is_empty() {
            return peer;
        }
        // Fewer entries than proxies: the leftmost is the furthest any proxy saw.
        let entry = entries[entries.len().saturating_sub(trusted)];
        parse_forwarded(entry).map_or(peer, ClientAddress::Ip)
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse().ok())
        })
}

/// Token buckets per address: each holds up to `capacity` and refills `capacity` per
/// `window`, so a burst of `capacity` passes and then `capacity` per window.
struct Buckets {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Addresses tracked before full buckets (the same as none) are dropped.
const PRUNE_ABOVE: usize = 10_000;

impl Buckets {
    fn new(capacity: u32, window: Duration) -> Self {
        Buckets {
            capacity: f64::from(capacity),
            per_second: f64::from(capacity) / window.as_secs_f64(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn disabled(&self) -> bool {
        self.capacity == 0.0
    }

    /// Take one; `Err(seconds)` until the next one is there.
    fn take(&self, key: &str, now: Instant) -> Result<(), u64> {
        if self.disabled() {
            return Ok(());
        }
        let mut buckets = lock(&self.buckets);
        if buckets.len() > PRUNE_ABOVE {
            let (capacity, rate) = (self.capacity, self.per_second);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < capacity
            });
        }
        let (tokens, at) = buckets
            .entry(key.to_string())
            .or_insert((self.capacity, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }

    fn refund(&self, key: &str) {
        if let Some((tokens, _)) = lock(&self.buckets).get_mut(key) {
            *tokens = (*tokens + 1.0).min(self.capacity);
        }
    }
}

/// The server functions that only read (`/fn/<name>`, called with POST): like every GET, they
/// never make a learner or a session. Any other POST may start one.
const READ_ONLY_FNS: &[&str] = &[
    "course_map",
    "lint",
    "engine_status",
    "exercise",
    "profile",
    "resume_offer",
    "login_page",
    "instructor_home",
    "dashboard",
    "learner_record",
    "attempt_pair",
    "attempt_record",
    "dashboard_html",
    "build_outcome",
];

/// Requests that start no session, whatever they carry: every page, file and read (GET and
/// HEAD; what only reads never makes a learner, see `state::known_learner_id`) and the server
/// functions that only read. They pass even when the address may start no more learners.
fn starts_no_session(request: &Request<Body>) -> bool {
    match *request.method() {
        Method::GET | Method::HEAD => true,
        Method::POST => request
            .uri()
            .path()
            .strip_prefix("/fn/")
            .is_some_and(|name| READ_ONLY_FNS.contains(&name)),
        _ => false,
    }
}

/// Files and probes that never look at the session.
fn is_static(request: &Request<Body>) -> bool {
    let path = request.uri().path();
    matches!(*request.method(), Method::GET | Method::HEAD)
        && (path == "/healthz"
            || path == "/favicon.ico"
            || path.starts_with("/pkg/")
            || path.starts_with("/style/"))
}

/// Did this request's handler start a session? (The session layer stores one that was
/// changed and is not empty.)
async fn started(session: &Session) -> bool {
    session.is_modified() && !session.is_empty().await
}

/// Every request: note who it came from (handlers read [`ClientAddress`] from the request's
/// extensions), and when it comes without a session and may start one (an answer, a build,
/// a form), count that against its address. Past the allowance such a request is refused
/// with 429 `too_many_new_learners` before it makes anything; one that started no session
/// after all is not counted. Page views and reads start nothing, so a crawler or a class
/// looking around costs no allowance, and they are never refused.
pub async fn edge(
    State(edge): State<Arc<Edge>>,
    session: Session,
    mut request: Request<Body>,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = ClientAddress::of(request.headers(), peer, edge.settings.trusted_proxies);
    request.extensions_mut().insert(client.clone());
    let limits = &edge.new_learners;
    if limits.disabled() || is_static(&request) {
        return next.run(request).await;
    }
    // Loading the record tells a live session from none (or a cookie for one that is gone).
    let _ = session.get_value(LEARNER_KEY).await;
    if session.id().is_some() {
        return next.run(request).await;
    }
    let key = client.key();
    if starts_no_session(&request) {
        let what = format!("{} {}", request.method(), request.uri().path());
        let response = next.run(request).await;
        if started(&session).await {
            // A read that made a session is a bug; it still counts.
            tracing::warn!("{what} started a session, which only changes should do");
            let _ = limits.take(&key, Instant::now());
        }
        return response;
    }
    if let Err(wait) = limits.take(&key, Instant::now()) {
        let per_hour = edge.settings.new_learners_per_hour;
        let message = format!(
            "Too many new learners started from your network address in the last hour ({per_hour} at most), so no new one can start now. If you already started here, open layerlab in the browser you used then; otherwise try again in {}.",
            in_words(wait)
        );
        return refusal(
            request.headers(),
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_new_learners",
            &message,
            Some(wait),
        );
    }
    let response = next.run(request).await;
    if !started(&session).await {
        limits.refund(&key);
    }
    response
}

pub use crate::auth::in_words;

/// A refusal as the caller can read it: a short HTML page for a browser's form or page load,
/// else the API's `{"error": {"code", "message"}}`; with `Retry-After` when a wait is known.
pub fn refusal(
    request_headers: &HeaderMap,
    status: StatusCode,
    code: &'static str,
    message: &str,
    retry_after: Option<u64>,
) -> Response {
    let wants_html = request_headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let mut response = if wants_html {
        let page = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Please wait — layerlab</title><link rel=\"stylesheet\" href=\"/style/layerlab.css\"></head>\n<body><header class=\"site-header\"><span class=\"brand\"><span class=\"brand-mark\" aria-hidden=\"true\">▤</span>layerlab</span></header><main id=\"main\"><h1>Please wait</h1><p class=\"engine-banner\" role=\"alert\">{}</p></main></body></html>\n",
            escape_html(message)
        );
        // Our stylesheet only: no script runs on this page.
        let policy = HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        );
        (
            status,
            [(header::CONTENT_SECURITY_POLICY, policy)],
            axum::response::Html(page),
        )
            .into_response()
    } else {
        return super::error::error_body(status, code, message, retry_after);
    };
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(v).expect("value"));
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn forwarded_for_is_believed_only_as_far_as_the_trusted_proxies_go() {
        let peer = Some(ip("10.0.0.2"));
        let spoofed = forwarded(&["6.6.6.6, 203.0.113.7"]);
        // No trusted proxy: the header is the client's own text.
        assert_eq!(
            ClientAddress::of(&spoofed, peer, 0),
            ClientAddress::Ip(ip("10.0.0.2"))
        );
        // One proxy: it appended the address it saw; what the client wrote before is not used.
        assert_eq!(
            ClientAddress::of(&spoofed, peer, 1),
            ClientAddress::Ip(ip("203.0.113.7"))
        );
        // Two proxies, headers split over two lines and with ports.
        let two = forwarded(&["6.6.6.6", "198.51.100.4:5555, 10.0.0.9"]);
        assert_eq!(
            ClientAddress::of(&two, peer, 2),
            ClientAddress::Ip(ip("198.51.100.4"))
        );
        // Fewer entries than proxies: the leftmost; garbage or no header: the peer.
        assert_eq!(
            ClientAddress::of(&forwarded(&["[2001:db8::1]:443"]), peer, 3),
            ClientAddress::Ip(ip("2001:db8::1"))
        );
        assert_eq!(
            ClientAddress::of(&forwarded(&["not-an-address"]), peer, 1),
            ClientAddress::Ip(ip("10.0.0.2"))
        );
        assert_eq!(
            ClientAddress::of(&HeaderMap::new(), peer, 1),
            ClientAddress::Ip(ip("10.0.0.2"))
        );
        assert_eq!(
            ClientAddress::of(&HeaderMap::new(), None, 0),
            ClientAddress::Unknown
        );
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a = ClientAddress::Ip(ip("2001:db8:1:2:aaaa::1")).key();
        let b = ClientAddress::Ip(ip("2001:db8:1:2:bbbb::9")).key();
        let c = ClientAddress::Ip(ip("2001:db8:1:3::1")).key();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            ClientAddress::Ip(ip("::ffff:192.0.2.1")).key(),
            ClientAddress::Ip(ip("192.0.2.1")).key()
        );
    }

    #[test]
    fn a_bucket_lets_a_burst_through_then_refills_over_its_window() {
        let buckets = Buckets::new(3, Duration::from_secs(60));
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(buckets.take("a", start), Ok(()));
        }
        assert_eq!(buckets.take("a", start), Err(20), "one more in 60/3 s");
        assert_eq!(buckets.take("b", start), Ok(()), "addresses are apart");
        buckets.refund("a");
        assert_eq!(buckets.take("a", start), Ok(()));
        assert_eq!(
            buckets.take("a", start + Duration::from_secs(21)),
            Ok(()),
            "refilled"
        );
        let open = Buckets::new(0, Duration::from_secs(60));
        assert!(
            (0..1000).all(|_| open.take("a", start).is_ok()),
            "0: no limit"
        );
    }
}
