//! Moving a learner's images between the engine and a registry. Pushing: tag the image with
//! the registry's name, push with the learner's credentials (the engine asks the registry's
//! token issuer for a token with them, as `docker push` does), and take the name off again,
//! whatever happened. Pulling: one of the learner's own pushes, with the same credentials, for
//! a build that starts `FROM` it.
//!
//! The engine's progress messages name no layer through bollard (its `PushImageInfo` has no
//! `id`), so progress is told as the engine says it, layer by layer, without the layer's id.

use super::Client;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{PushImageOptionsBuilder, TagImageOptionsBuilder};
use futures::StreamExt;

/// One step of a push, as it is shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushProgress {
    /// `The push refers to repository [...]`: where it goes.
    Repository(String),
    /// A layer is being prepared or waits for another (`Preparing`, `Waiting`).
    Preparing,
    /// A layer was sent (`Pushed`).
    LayerPushed,
    /// The registry had the layer already (`Layer already exists`, or mounted from another
    /// repository of the same namespace).
    LayerThere,
    /// The final line: `<tag>: digest: sha256:… size: N`.
    Digest { digest: String, size: u64 },
}

/// A push that did not complete, in the engine's or the registry's words.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("the image is no longer on the engine ({0})")]
    NoImage(String),
    #[error("{0}")]
    Refused(String),
}

/// Whom the engine pushes as.
pub struct PushAs<'a> {
    pub server: &'a str,
    pub username: &'a str,
    pub password: &'a str,
}

/// A learner's login to the class registry, for a build that pulls their own pushes.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryLogin {
    /// `127.0.0.1:5100`
    pub server: String,
    /// The learner's handle: their namespace.
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLogin")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &"(hidden)")
            .finish()
    }
}

/// A pull that did not complete.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The registry holds no such tag or digest (or no such repository).
    #[error("the registry holds no such image")]
    Missing,
    #[error("{0}")]
    Failed(String),
    #[error("the pull took too long")]
    TooSlow,
}

/// The longest a pull for a build may take.
pub const PULL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

impl Client {
    /// Push `image` (an id) as `repository:tag` (`repository` names the registry:
    /// `127.0.0.1:5100/learner-1/app`), calling `on` with each step. The name is removed from
    /// the engine afterwards, pushed or not: the engine keeps images by layerlab's own names.
    pub async fn push(
        &self,
        image: &str,
        repository: &str,
        tag: &str,
        who: &PushAs<'_>,
        on: &mut (dyn FnMut(PushProgress) + Send),
    ) -> Result<(), PushError> {
        let options = TagImageOptionsBuilder::new()
            .repo(repository)
            .tag(tag)
            .build();
        self.docker
            .tag_image(image, Some(options))
            .await
            .map_err(|e| match e {
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                } => PushError::NoImage(engine_words(&e)),
                other => PushError::Refused(engine_words(&other)),
            })?;
        // Taken off however the push ends: done, failed, or dropped (a timeout, a shutdown);
        // until then clean-ups leave the image alone.
        self.hold(&format!("{repository}:{tag}"));
        let name = Untag {
            client: Some(self.clone()),
            reference: format!("{repository}:{tag}"),
        };
        let pushed = self.push_tagged(repository, tag, who, on).await;
        name.now().await;
        pushed
    }

    /// Pull `repository` at `tag_or_digest` (`1.0`, or `sha256:…`) from the registry `who`
    /// logs in to. The engine then holds it under that name.
    pub async fn pull_as(
        &self,
        repository: &str,
        tag_or_digest: &str,
        who: &RegistryLogin,
    ) -> Result<(), PullError> {
        // Held from now on: clean-ups leave the image alone until the name is taken off.
        let name = if tag_or_digest.starts_with("sha256:") {
            format!("{repository}@{tag_or_digest}")
        } else {
            format!("{repository}:{tag_or_digest}")
        };
        self.hold(&name);
        let pulled = self.pull_held(repository, tag_or_digest, who).await;
        if pulled.is_err() {
            self.release(&name);
        }
        pulled
    }

    async fn pull_held(
        &self,
        repository: &str,
        tag_or_digest: &str,
        who: &RegistryLogin,
    ) -> Result<(), PullError> {
        use bollard::query_parameters::CreateImageOptionsBuilder;
        let credentials = DockerCredentials {
            username: Some(who.username.clone()),
            password: Some(who.password.clone()),
            serveraddress: Some(who.server.clone()),
            ..Default::default()
        };
        // Always a tag or a digest: without one the engine would pull every tag.
        let options = CreateImageOptionsBuilder::new()
            .from_image(repository)
            .tag(tag_or_digest)
            .build();
        let mut stream = self
            .docker
            .create_image(Some(options), None, Some(credentials));
        let deadline = tokio::time::Instant::now() + PULL_TIMEOUT;
        loop {
            let message = match tokio::time::timeout_at(deadline, stream.next()).await {
                Err(_) => return Err(PullError::TooSlow),
                Ok(None) => break,
                Ok(Some(message)) => message,
            };
            let said = match message {
                Ok(info) => match info.error_detail.and_then(|d| d.message) {
                    Some(error) => error,
                    None => continue,
                },
                Err(e) => engine_words(&e),
            };
            let lower = said.to_lowercase();
            return Err(
                if lower.contains("not found") || lower.contains("manifest unknown") {
                    PullError::Missing
                } else {
                    PullError::Failed(said)
                },
            );
        }
        Ok(())
    }

    async fn push_tagged(
        &self,
        repository: &str,
        tag: &str,
        who: &PushAs<'_>,
        on: &mut (dyn FnMut(PushProgress) + Send),
    ) -> Result<(), PushError> {
        let credentials = DockerCredentials {
            username: Some(who.username.to_string()),
            password: Some(who.password.to_string()),
            serveraddress: Some(who.server.to_string()),
            ..Default::default()
        };
        let options = PushImageOptionsBuilder::new().tag(tag).build();
        let mut stream = self
            .docker
            .push_image(repository, Some(options), Some(credentials));
        let mut finished = false;
        while let Some(message) = stream.next().await {
            let message = message.map_err(|e| refused(engine_words(&e)))?;
            if let Some(error) = message.error_detail.and_then(|d| d.message) {
                return Err(refused(error));
            }
            let Some(status) = message.status else {
                continue;
            };
            if let Some(step) = progress_of(&status) {
                finished |= matches!(step, PushProgress::Digest { .. });
                on(step);
            }
        }
        if finished {
            Ok(())
        } else {
            Err(PushError::Refused(
                "the engine ended the push without the registry's digest".into(),
            ))
        }
    }
}

/// A name put on an image for a push, taken off the engine when this goes: by [`Untag::now`],
/// or, when the push is dropped half-way, by a task of its own.
struct Untag {
    client: Option<Client>,
    reference: String,
}

impl Untag {
    async fn now(mut self) {
        if let Some(client) = self.client.take() {
            untag(&client, &self.reference).await;
        }
    }
}

impl Drop for Untag {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let reference = std::mem::take(&mut self.reference);
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move { untag(&client, &reference).await });
            }
        }
    }
}

async fn untag(client: &Client, reference: &str) {
    if let Err(e) = client.untag(reference).await {
        tracing::warn!(%reference, "the pushed name could not be taken off the engine: {e}");
    }
}

/// What a push status line of the engine means, or `None` for lines that add nothing
/// (`Pushing` progress, which names no layer here).
pub fn progress_of(status: &str) -> Option<PushProgress> {
    if let Some(rest) = status.strip_prefix("The push refers to repository [") {
        return Some(PushProgress::Repository(rest.trim_end_matches(']').into()));
    }
    if let Some((_, rest)) = status.split_once(": digest: ") {
        let (digest, size) = rest.split_once(" size: ")?;
        return Some(PushProgress::Digest {
            digest: digest.trim().to_string(),
            size: size.trim().parse().ok()?,
        });
    }
    match status {
        "Preparing" => Some(PushProgress::Preparing),
        "Pushed" => Some(PushProgress::LayerPushed),
        "Layer already exists" => Some(PushProgress::LayerThere),
        s if s.starts_with("Mounted from ") => Some(PushProgress::LayerThere),
        _ => None,
    }
}

/// A push the engine gave up, in its words; the image (or the name put on it for the push)
/// removed meanwhile — a newer build of the exercise replaced it — is said as such.
fn refused(said: String) -> PushError {
    if said.contains("does not exist locally") || said.contains("tag does not exist") {
        PushError::NoImage(said)
    } else {
        PushError::Refused(said)
    }
}

/// The engine's message without bollard's wrapping.
pub(crate) fn engine_words(error: &bollard::errors::Error) -> String {
    match error {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        bollard::errors::Error::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engines_push_lines_are_read_as_steps() {
        assert_eq!(
            progress_of("The push refers to repository [127.0.0.1:5100/learner-a/app]"),
            Some(PushProgress::Repository(
                "127.0.0.1:5100/learner-a/app".into()
            ))
        );
        assert_eq!(progress_of("Preparing"), Some(PushProgress::Preparing));
        assert_eq!(progress_of("Pushed"), Some(PushProgress::LayerPushed));
        assert_eq!(
            progress_of("Layer already exists"),
            Some(PushProgress::LayerThere)
        );
        assert_eq!(
            progress_of("Mounted from learner-a/other"),
            Some(PushProgress::LayerThere)
        );
        assert_eq!(
            progress_of("1.0.0: digest: sha256:0123abcd size: 528"),
            Some(PushProgress::Digest {
                digest: "sha256:0123abcd".into(),
                size: 528
            })
        );
        assert_eq!(progress_of("Pushing"), None);
        assert!(matches!(
            refused("tag does not exist: 127.0.0.1:5100/learner-a/app:1".into()),
            PushError::NoImage(_)
        ));
        assert!(matches!(
            refused("denied: requested access to the resource is denied".into()),
            PushError::Refused(_)
        ));
        assert_eq!(progress_of("Waiting"), None);
    }
}
