//! Who may do what: instructor passwords (argon2), the instructor's mark in the session,
//! CSRF protection (a per-session token in every form, and a same-origin check on every
//! state-changing request), and the gate in front of every instructor page and API.

use crate::failure::OrInternal;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_sessions::Session;

/// Session key: the id of the instructor logged in with this session.
pub const INSTRUCTOR_KEY: &str = "instructor_id";

/// Session key holding the learner's id, which labels their builds and keys their progress.
pub const LEARNER_KEY: &str = "learner_id";
/// Session key: the instructor's credential version at login; a password reset bumps the
/// stored one, which ends this session.
pub const CREDENTIAL_KEY: &str = "instructor_credential";
/// Session key: this session's CSRF token.
const CSRF_KEY: &str = "csrf_token";
/// Session key: when (unix seconds) an API call started this session, so that the forms of
/// the page open at that moment (form tokens, made before) keep working.
const BORN_KEY: &str = "born";
/// The form field every state-changing form carries.
pub const CSRF_FIELD: &str = "csrf";

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash to check against when the name is unknown, so a wrong name takes as long as a
/// wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("not a password anyone has").unwrap_or_default())
}

/// This session's CSRF token, made on first use. A visitor without a session gets a
/// [`form_token`] instead, so that showing a form (a crawler's page view included) starts no
/// session.
pub async fn csrf_token(session: &Session) -> Result<String, tower_sessions::session::Error> {
    if let Some(token) = session.get::<String>(CSRF_KEY).await? {
        return Ok(token);
    }
    if session.id().is_none() {
        return Ok(form_token(unix_now()));
    }
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    session.insert(CSRF_KEY, token.clone()).await?;
    Ok(token)
}

/// Does `given` match this session's token? Compared in constant time. Without a session
/// (the form was the visitor's first), a valid unexpired [`form_token`] passes and becomes
/// the token of the session the form starts, so the other forms of the same page still
/// work. So does one made before a session that an API call started and no page has shown
/// a token of yet (a console opened from the page, then its Check form sent): that page's
/// forms carry a form token. Any other form token is refused once a session exists, since
/// anyone can fetch one.
pub async fn csrf_ok(session: &Session, given: &str) -> bool {
    let now = unix_now();
    match session.get::<String>(CSRF_KEY).await {
        Ok(Some(token)) => same_bytes(token.as_bytes(), given.as_bytes()),
        Ok(None) if form_token_ok(given, now) => {
            let before_the_session = match session.id() {
                None => true,
                Some(_) => match session.get::<u64>(BORN_KEY).await {
                    Ok(Some(born)) => form_token_made(given).is_some_and(|made| made <= born),
                    _ => false,
                },
            };
            before_the_session && session.insert(CSRF_KEY, given.to_string()).await.is_ok()
        }
        _ => false,
    }
}

/// Mark a session being started now (see [`csrf_ok`]); a session that exists is left alone.
pub async fn mark_born(session: &Session) -> Result<(), tower_sessions::session::Error> {
    if session.id().is_some() || session.get::<String>(CSRF_KEY).await?.is_some() {
        return Ok(());
    }
    session.insert(BORN_KEY, unix_now()).await
}

/// Drop the session's CSRF token (at login and resume, with a new session id): the next form
/// gets a fresh one bound to this session, never a form token someone else may have seen.
pub async fn renew_csrf(session: &Session) -> Result<(), tower_sessions::session::Error> {
    session.remove::<u64>(BORN_KEY).await?;
    session.remove::<String>(CSRF_KEY).await.map(|_| ())
}

fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// How long a form shown to a visitor without a session can still be sent.
const FORM_TOKEN_SECONDS: u64 = 24 * 3600;

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The key form tokens are signed with.
static FORM_KEY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();

/// Sign form tokens with the database's key (`Store::form_key`), so that every server on it
/// takes the forms another showed. The first call in a process sets it.
pub fn use_form_key(key: &str) {
    let _ = FORM_KEY.set(key.as_bytes().to_vec());
}

/// The key set by [`use_form_key`]; else (a test of this module) one made for the process.
fn form_key() -> &'static [u8] {
    FORM_KEY.get_or_init(|| {
        use argon2::password_hash::rand_core::RngCore;
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        key.to_vec()
    })
}

fn form_mac(expires: u64, nonce: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(form_key())
        .expect("HMAC takes a key of any length");
    mac.update(format!("layerlab form|{expires}|{nonce}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A CSRF token that needs no session: `expires.nonce.mac`, signed with [`form_key`].
fn form_token(now: u64) -> String {
    let expires = now + FORM_TOKEN_SECONDS;
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let mac = form_mac(expires, &nonce);
    format!("{expires}.{nonce}.{mac}")
}

/// When a form token was made (unix seconds), read from its expiry; unchecked.
fn form_token_made(given: &str) -> Option<u64> {
    let expires = given.split('.').next()?.parse::<u64>().ok()?;
    expires.checked_sub(FORM_TOKEN_SECONDS)
}

fn form_token_ok(given: &str, now: u64) -> bool {
    let mut parts = given.splitn(3, '.');
    let (Some(expires), Some(nonce), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(expires) = expires.parse::<u64>() else {
        return false;
    };
    expires >= now
        && expires <= now + FORM_TOKEN_SECONDS
        && same_bytes(form_mac(expires, nonce).as_bytes(), mac.as_bytes())
}

/// The instructor logged in with this session, if any.
pub async fn instructor_id(session: &Session) -> Option<String> {
    session.get::<String>(INSTRUCTOR_KEY).await.ok().flatten()
}

/// The credential version this session logged in with (0 for sessions from before versions).
pub async fn credential_version(session: &Session) -> i64 {
    session
        .get::<i64>(CREDENTIAL_KEY)
        .await
        .ok()
        .flatten()
        .unwrap_or(0)
}

/// Failed logins before the next attempt has to wait.
const FREE_FAILURES: u32 = 3;
/// The longest wait between attempts.
const MAX_LOGIN_WAIT: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten this long after the last one.
const FORGET_FAILURES_AFTER: Duration = Duration::from_secs(3600);
/// Password checks at once: argon2 takes about 19 MiB and a core's time for each.
pub const CONCURRENT_PASSWORD_CHECKS: usize = 2;
/// Names and addresses whose failures are remembered, at most.
const MAX_REMEMBERED: usize = 10_000;

/// A wait as a message says it: "45 s", "3 min".
pub fn in_words(seconds: u64) -> String {
    if seconds < 120 {
        format!("{seconds} s")
    } else {
        format!("{} min", seconds.div_ceil(60))
    }
}

/// Backoff on failed instructor logins, per name and per client address, and a bound on the
/// password checks running at once. After [`FREE_FAILURES`] failures each attempt waits twice
/// as long as the last (up to [`MAX_LOGIN_WAIT`]), whatever password it carries; a successful
/// login clears its name and address.
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
    checks: Arc<Semaphore>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            failures: Mutex::new(HashMap::new()),
            checks: Arc::new(Semaphore::new(CONCURRENT_PASSWORD_CHECKS)),
        }
    }
}

/// The longest wait a name's failures from everywhere, or an address's failures for every
/// name, bring: short, so that nobody else (a learner behind the school's address, a
/// stranger typing the instructor's name) can keep the real instructor out for long, while
/// guessing from many addresses or across many names stays slow.
const MAX_SHARED_LOGIN_WAIT: Duration = Duration::from_secs(60);

/// How long after `count` failures the next attempt waits, at most `cap`.
fn login_wait(count: u32, cap: Duration) -> Duration {
    if count < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (count - FREE_FAILURES + 1).min(20);
    Duration::from_secs(1u64 << doublings).min(cap)
}

impl LoginThrottle {
    /// The counts an attempt adds to, each with its longest wait: this name from this address
    /// (up to [`MAX_LOGIN_WAIT`]), the name from anywhere and the address for any name (up to
    /// [`MAX_SHARED_LOGIN_WAIT`]).
    fn keys(name: &str, address: &str) -> [(String, Duration); 3] {
        [
            (format!("pair:{name}\u{0}{address}"), MAX_LOGIN_WAIT),
            (format!("name:{name}"), MAX_SHARED_LOGIN_WAIT),
            (format!("address:{address}"), MAX_SHARED_LOGIN_WAIT),
        ]
    }

    /// How long until `name` from `address` may try again, if it must wait.
    pub fn wait(&self, name: &str, address: &str) -> Option<Duration> {
        let failures = lock(&self.failures);
        let now = Instant::now();
        Self::keys(name, address)
            .iter()
            .filter_map(|(key, cap)| failures.get(key).map(|f| (f, *cap)))
            .map(|((count, last), cap)| {
                (*last + login_wait(*count, cap)).saturating_duration_since(now)
            })
            .filter(|wait| !wait.is_zero())
            .max()
    }

    /// Count a failed attempt; the wait it brings for the next one, if any.
    pub fn failed(&self, name: &str, address: &str) -> Option<Duration> {
        let mut failures = lock(&self.failures);
        let now = Instant::now();
        if failures.len() >= MAX_REMEMBERED {
            // Forget what is old, then failures that bring no wait yet; waits in force go last,
            // so flooding the table with new names does not lift them.
            failures.retain(|_, (_, last)| now.duration_since(*last) < FORGET_FAILURES_AFTER);
            if failures.len() >= MAX_REMEMBERED {
                failures.retain(|_, (count, _)| *count >= FREE_FAILURES);
            }
            if failures.len() >= MAX_REMEMBERED {
                failures.clear();
            }
        }
        let mut longest = Duration::ZERO;
        for (key, cap) in Self::keys(name, address) {
            let (count, last) = failures.entry(key).or_insert((0, now));
            if now.duration_since(*last) >= FORGET_FAILURES_AFTER {
                *count = 0;
            }
            *count += 1;
            *last = now;
            longest = longest.max(login_wait(*count, cap));
        }
        (!longest.is_zero()).then_some(longest)
    }

    /// A successful login: its name and address start afresh.
    pub fn succeeded(&self, name: &str, address: &str) {
        let mut failures = lock(&self.failures);
        for (key, _) in Self::keys(name, address) {
            failures.remove(&key);
        }
    }

    /// A place for one password check, or `None` when as many as allowed are running.
    pub fn try_check(&self) -> Option<OwnedSemaphorePermit> {
        self.checks.clone().try_acquire_owned().ok()
    }
}

use crate::sync::lock;

/// Percent-encode everything but unreserved characters and `/`.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Only local paths are followed after login, never another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with("/instructor") && !p.starts_with("//") && !p.contains('\\') => {
            p.to_string()
        }
        _ => "/instructor".to_string(),
    }
}

/// Session key: a message for the next page (the outcome of a form post).
pub const NOTICE_KEY: &str = "notice";

/// Leave a message for the next page this session loads.
pub async fn set_notice(session: &Session, ok: bool, text: impl Into<String>) {
    let notice = app::dto::Notice {
        ok,
        text: text.into(),
    };
    if let Err(e) = session.insert(NOTICE_KEY, notice).await {
        tracing::warn!("could not keep a notice: {e}");
    }
}

/// Leave `notice` for the next page this session loads.
pub async fn leave_notice(session: &Session, notice: app::dto::Notice) {
    set_notice(session, notice.ok, notice.text).await;
}

/// The message left for this page, once.
pub async fn take_notice(session: &Session) -> Option<app::dto::Notice> {
    session
        .remove::<app::dto::Notice>(NOTICE_KEY)
        .await
        .ok()
        .flatten()
}

/// The session's form token, for a page with forms.
pub async fn page_csrf(session: &Session) -> Result<String, app::backend::BackendError> {
    csrf_token(session)
        .await
        .or_internal("starting your session")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horse!", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        assert!(!verify_password("correct horse", decoy_hash()));
    }

    #[test]
    fn failed_logins_wait_longer_each_time_and_a_success_starts_afresh() {
        assert_eq!(login_wait(1, MAX_LOGIN_WAIT), Duration::ZERO);
        assert_eq!(login_wait(2, MAX_LOGIN_WAIT), Duration::ZERO);
        assert_eq!(login_wait(3, MAX_LOGIN_WAIT), Duration::from_secs(2));
        assert_eq!(login_wait(4, MAX_LOGIN_WAIT), Duration::from_secs(4));
        assert_eq!(login_wait(40, MAX_LOGIN_WAIT), MAX_LOGIN_WAIT);
        assert_eq!(login_wait(40, MAX_SHARED_LOGIN_WAIT), MAX_SHARED_LOGIN_WAIT);
        let throttle = LoginThrottle::default();
        assert_eq!(throttle.failed("ada", "192.0.2.1"), None);
        assert_eq!(throttle.failed("ada", "192.0.2.1"), None);
        assert_eq!(
            throttle.failed("ada", "192.0.2.1"),
            Some(Duration::from_secs(2))
        );
        // The name waits from any address, the address for any name.
        assert!(throttle.wait("ada", "198.51.100.9").is_some());
        assert!(throttle.wait("grace", "192.0.2.1").is_some());
        assert!(throttle.wait("grace", "198.51.100.9").is_none());
        throttle.succeeded("ada", "192.0.2.1");
        assert!(throttle.wait("ada", "192.0.2.1").is_none());
    }

    /// Someone else failing on the instructor's name (a learner behind the school's address,
    /// a stranger) keeps the real instructor out for a minute at most; the guesser's own pair
    /// of name and address waits up to the full quarter of an hour.
    #[test]
    fn others_cannot_keep_an_instructor_out_for_long() {
        let throttle = LoginThrottle::default();
        for _ in 0..40 {
            throttle.failed("ada", "203.0.113.5");
        }
        let guesser = throttle
            .wait("ada", "203.0.113.5")
            .expect("the guesser waits");
        assert!(guesser > MAX_SHARED_LOGIN_WAIT, "{guesser:?}");
        let teacher = throttle.wait("ada", "198.51.100.7").expect("a short wait");
        assert!(teacher <= MAX_SHARED_LOGIN_WAIT, "{teacher:?}");
        // Behind the same address, for another name, also a minute at most.
        let colleague = throttle.wait("grace", "203.0.113.5").expect("a short wait");
        assert!(colleague <= MAX_SHARED_LOGIN_WAIT, "{colleague:?}");
    }

    #[test]
    fn password_checks_at_once_are_bounded() {
        let throttle = LoginThrottle::default();
        let held: Vec<_> = (0..CONCURRENT_PASSWORD_CHECKS)
            .map(|_| throttle.try_check().expect("a place"))
            .collect();
        assert!(throttle.try_check().is_none());
        drop(held);
        assert!(throttle.try_check().is_some());
    }

    #[test]
    fn form_tokens_pass_only_as_signed_and_until_they_expire() {
        let now = 1_800_000_000;
        let token = form_token(now);
        assert!(form_token_ok(&token, now));
        assert!(form_token_ok(&token, now + FORM_TOKEN_SECONDS));
        assert!(
            !form_token_ok(&token, now + FORM_TOKEN_SECONDS + 1),
            "expired"
        );
        let (expires, rest) = token.split_once('.').expect("expires.nonce.mac");
        let (nonce, mac) = rest.split_once('.').expect("nonce.mac");
        // A later expiry, another nonce or another mac: each breaks the signature.
        let later = expires.parse::<u64>().expect("a number") + 3600;
        assert!(!form_token_ok(&format!("{later}.{nonce}.{mac}"), now));
        assert!(!form_token_ok(
            &format!("{expires}.{}.{mac}", "0".repeat(32)),
            now
        ));
        let mut flipped = mac.to_string();
        flipped.replace_range(0..1, if mac.starts_with('0') { "1" } else { "0" });
        assert!(!form_token_ok(&format!("{expires}.{nonce}.{flipped}"), now));
        // One signed far ahead is refused even with a right mac.
        let far = now + 10 * FORM_TOKEN_SECONDS;
        let far_nonce = "a".repeat(32);
        let far_token = format!("{far}.{far_nonce}.{}", form_mac(far, &far_nonce));
        assert!(!form_token_ok(&far_token, now));
        for junk in ["", "..", "x.y.z", "1.2", &token[..token.len() - 1]] {
            assert!(!form_token_ok(junk, now), "{junk:?}");
        }
    }

    #[test]
    fn only_instructor_paths_are_followed_after_login() {
        assert_eq!(
            safe_next(Some("/instructor/cohorts/x")),
            "/instructor/cohorts/x"
        );
        assert_eq!(safe_next(Some("https://evil.example")), "/instructor");
        assert_eq!(safe_next(Some("//evil.example")), "/instructor");
        assert_eq!(safe_next(None), "/instructor");
        assert_eq!(url_encode("/a b?c=d"), "/a%20b%3Fc%3Dd");
    }
}
