//! What the registry holds, as layerlab reads it through the registry's own API: a
//! namespace's repositories, a repository's tags, a tag's manifest digest, its image (config)
//! digest and size. Checks and pages judge these facts, never what a push printed.
//!
//! On the embedded registry each read carries a token layerlab signs for just that read; an
//! external registry is read without one (it must let layerlab read; the README says so).

use super::token::Access;
use super::Registry;
use http_body_util::BodyExt;
use std::time::Duration;

/// How long one read may take.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read (a manifest, a page of the catalog or of a tag list).
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// Repositories asked for per page of the catalog.
const CATALOG_PAGE: usize = 500;
/// The most pages of the catalog one listing reads.
const MAX_CATALOG_PAGES: usize = 20;
/// The most manifests one listing of a namespace reads (one per tag).
pub const MAX_LISTED_TAGS: usize = 200;

/// The manifest kinds asked for, as the docker CLI asks.
const MANIFEST_KINDS: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.index.v1+json";

/// One tag as the registry holds it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TagFacts {
    pub tag: String,
    /// The manifest's digest (`sha256:…`): what `@sha256:` pins and `docker pull` prints.
    pub digest: String,
    /// The image's config digest, which is the image id the engine gives it; `None` for an
    /// index (several platforms).
    pub image_id: Option<String>,
    /// The manifest, its config and its (compressed) layers.
    pub size_bytes: u64,
}

impl TagFacts {
    /// Whether this tag holds the image the engine calls `image_id`: its config digest with
    /// the engine's classic image store, its manifest digest with the containerd store.
    pub fn is(&self, image_id: &str) -> bool {
        self.image_id.as_deref() == Some(image_id) || self.digest == image_id
    }
}

/// A repository (`learner-1/app`) and its tags.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RepositoryFacts {
    pub name: String,
    pub tags: Vec<TagFacts>,
}

/// Why the registry could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("this workshop runs without a registry")]
    Off,
    #[error("the registry at {address} cannot be reached: {problem}")]
    Unreachable { address: String, problem: String },
    #[error("the registry at {address} answered {status}: {said}")]
    Refused {
        address: String,
        status: u16,
        said: String,
    },
}

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: bytes::Bytes,
}

impl Registry {
    /// A token for `access` on the embedded registry (`None` for an external one).
    fn read_token(&self, access: &[Access]) -> Option<String> {
        let issuer = self.issuer.as_ref()?;
        match issuer.token("layerlab", access, std::time::SystemTime::now()) {
            Ok(token) => Some(token),
            Err(e) => {
                tracing::error!("signing a registry token for layerlab: {e}");
                None
            }
        }
    }

    async fn call(
        &self,
        method: http::Method,
        path_and_query: &str,
        access: &[Access],
        accept: Option<&str>,
    ) -> Result<Answer, ReadError> {
        use http_body_util::{Empty, Limited};
        use hyper_util::client::legacy::Client;
        let address = self.address().ok_or(ReadError::Off)?.to_string();
        let unreachable = |problem: String| ReadError::Unreachable {
            address: address.clone(),
            problem,
        };
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{address}{path_and_query}"));
        if let Some(token) = self.read_token(access) {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(accept) = accept {
            request = request.header(http::header::ACCEPT, accept);
        }
        let request = request
            .body(Empty::<bytes::Bytes>::new())
            .map_err(|e| unreachable(e.to_string()))?;
        let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        let read = async {
            let response = client
                .request(request)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| unreachable(format!("its answer could not be read: {e}")))?
                .to_bytes();
            Ok(Answer {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(READ_TIMEOUT, read)
            .await
            .map_err(|_| unreachable(format!("no answer within {} s", READ_TIMEOUT.as_secs())))?
    }

    fn refused(&self, answer: &Answer) -> ReadError {
        ReadError::Refused {
            address: self.address().unwrap_or_default().to_string(),
            status: answer.status,
            said: registry_words(&answer.body),
        }
    }

    /// The repositories under `namespace/`, by name, from the registry's catalog. The catalog
    /// is sorted: reading starts just before the namespace and stops past it, so the cost is
    /// this namespace's size, not the class's; at most [`MAX_CATALOG_PAGES`] pages.
    pub async fn repositories(&self, namespace: &str) -> Result<Vec<String>, ReadError> {
        let access = [Access {
            kind: "registry".into(),
            name: "catalog".into(),
            actions: vec!["*".into()],
        }];
        let prefix = format!("{namespace}/");
        let mut found = Vec::new();
        // Every name of the namespace sorts after the bare namespace.
        let mut last: Option<String> = Some(namespace.to_string());
        for _ in 0..MAX_CATALOG_PAGES {
            let mut path = format!("/v2/_catalog?n={CATALOG_PAGE}");
            if let Some(last) = &last {
                path.push_str(&format!("&last={}", query_escape(last)));
            }
            let answer = self.call(http::Method::GET, &path, &access, None).await?;
            if answer.status != 200 {
                return Err(self.refused(&answer));
            }
            #[derive(serde::Deserialize)]
            struct Catalog {
                #[serde(default)]
                repositories: Vec<String>,
            }
            let page: Catalog =
                serde_json::from_slice(&answer.body).map_err(|e| ReadError::Unreachable {
                    address: self.address().unwrap_or_default().into(),
                    problem: format!("its catalog is not JSON: {e}"),
                })?;
            let full = page.repositories.len() >= CATALOG_PAGE;
            let next = page.repositories.last().cloned();
            let past = page
                .repositories
                .iter()
                .any(|r| !r.starts_with(&prefix) && r.as_str() > prefix.as_str());
            found.extend(
                page.repositories
                    .into_iter()
                    .filter(|r| r.starts_with(&prefix)),
            );
            // A registry that ignores `last` would give the same page forever.
            let moved = next.as_deref() > last.as_deref();
            if !full || past || !moved {
                return Ok(found);
            }
            last = next;
        }
        Ok(found)
    }

    /// The tags of `repository` (`learner-1/app`); none when the registry has no such
    /// repository.
    pub async fn tags(&self, repository: &str) -> Result<Vec<String>, ReadError> {
        let access = [pull(repository)];
        let path = format!("/v2/{repository}/tags/list");
        let answer = self.call(http::Method::GET, &path, &access, None).await?;
        if answer.status == 404 {
            return Ok(Vec::new());
        }
        if answer.status != 200 {
            return Err(self.refused(&answer));
        }
        #[derive(serde::Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let tags: Tags =
            serde_json::from_slice(&answer.body).map_err(|e| ReadError::Unreachable {
                address: self.address().unwrap_or_default().into(),
                problem: format!("its tag list is not JSON: {e}"),
            })?;
        let mut tags = tags.tags.unwrap_or_default();
        tags.sort();
        Ok(tags)
    }

    /// What `repository:reference` (a tag or a digest) is in the registry, or `None` when it
    /// holds no such tag.
    pub async fn tag(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<TagFacts>, ReadError> {
        let access = [pull(repository)];
        let path = format!("/v2/{repository}/manifests/{reference}");
        let answer = self
            .call(http::Method::GET, &path, &access, Some(MANIFEST_KINDS))
            .await?;
        if answer.status == 404 {
            return Ok(None);
        }
        if answer.status != 200 {
            return Err(self.refused(&answer));
        }
        let digest = answer
            .headers
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| sha256_of(&answer.body));
        Ok(Some(manifest_facts(reference, digest, &answer.body)))
    }

    /// The blobs (config and layers) the manifest `repository@digest` names that the registry
    /// does not hold: what a machine without them could not pull. Empty when it holds all.
    pub async fn missing_blobs(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<String>, ReadError> {
        let access = [pull(repository)];
        let path = format!("/v2/{repository}/manifests/{digest}");
        let answer = self
            .call(http::Method::GET, &path, &access, Some(MANIFEST_KINDS))
            .await?;
        if answer.status != 200 {
            return Err(self.refused(&answer));
        }
        let mut missing = Vec::new();
        for blob in blob_digests(&answer.body) {
            let path = format!("/v2/{repository}/blobs/{blob}");
            let answer = self.call(http::Method::HEAD, &path, &access, None).await?;
            match answer.status {
                200 => {}
                404 => missing.push(blob),
                _ => return Err(self.refused(&answer)),
            }
        }
        Ok(missing)
    }

    /// What `namespace` holds under each of `names` (`my-app:1.0`, relative to the
    /// namespace): that tag's facts, or `None` when it holds no such tag.
    pub async fn tags_of(
        &self,
        namespace: &str,
        names: &[String],
    ) -> Result<std::collections::BTreeMap<String, Option<TagFacts>>, ReadError> {
        let mut held = std::collections::BTreeMap::new();
        for name in names {
            let (repository, tag) = name.rsplit_once(':').unwrap_or((name, "latest"));
            let facts = self.tag(&format!("{namespace}/{repository}"), tag).await?;
            held.insert(name.clone(), facts);
        }
        Ok(held)
    }

    /// Every repository of `namespace` with its tags, as the registry holds them (at most
    /// [`MAX_LISTED_TAGS`] tags in all are read).
    pub async fn namespace(&self, namespace: &str) -> Result<Vec<RepositoryFacts>, ReadError> {
        let mut repositories = Vec::new();
        let mut budget = MAX_LISTED_TAGS;
        for name in self.repositories(namespace).await? {
            let mut tags = Vec::new();
            let listed = self.tags(&name).await?;
            let take = listed.len().min(budget);
            budget -= take;
            for tag in listed.into_iter().take(take) {
                // A tag deleted between the list and this read is left out.
                if let Some(facts) = self.tag(&name, &tag).await? {
                    tags.push(facts);
                }
            }
            repositories.push(RepositoryFacts { name, tags });
        }
        Ok(repositories)
    }
}

fn pull(repository: &str) -> Access {
    Access {
        kind: "repository".into(),
        name: repository.into(),
        actions: vec!["pull".into()],
    }
}

/// The config's and the layers' digests an image manifest names.
fn blob_digests(body: &[u8]) -> Vec<String> {
    let manifest: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let config = manifest["config"]["digest"].as_str().map(str::to_string);
    let layers = manifest["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["digest"].as_str().map(str::to_string));
    config
        .into_iter()
        .chain(layers)
        .filter(|d| d.starts_with("sha256:") && d[7..].bytes().all(|b| b.is_ascii_hexdigit()))
        .collect()
}

/// The facts of a manifest whose bytes are `body`.
fn manifest_facts(tag: &str, digest: String, body: &[u8]) -> TagFacts {
    #[derive(serde::Deserialize, Default)]
    struct Blob {
        #[serde(default)]
        digest: String,
        #[serde(default)]
        size: u64,
    }
    #[derive(serde::Deserialize, Default)]
    struct Manifest {
        config: Option<Blob>,
        #[serde(default)]
        layers: Vec<Blob>,
        #[serde(default)]
        manifests: Vec<Blob>,
    }
    let manifest: Manifest = serde_json::from_slice(body).unwrap_or_default();
    let blobs: u64 = manifest
        .config
        .iter()
        .chain(&manifest.layers)
        .chain(&manifest.manifests)
        .fold(0u64, |total, b| total.saturating_add(b.size));
    TagFacts {
        tag: tag.to_string(),
        digest,
        image_id: manifest.config.map(|c| c.digest).filter(|d| !d.is_empty()),
        size_bytes: (body.len() as u64).saturating_add(blobs),
    }
}

fn sha256_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The message of a registry's `{"errors": [{"code", "message"}]}`, or its first bytes.
fn registry_words(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Error>,
    }
    #[derive(serde::Deserialize)]
    struct Error {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Errors>(body) {
        Ok(e) if !e.errors.is_empty() => e
            .errors
            .iter()
            .map(|e| format!("{} ({})", e.message, e.code))
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}

/// `text` for a query string: what a repository name may hold is kept, the rest escaped.
fn query_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifests_size_is_its_own_its_configs_and_its_layers() {
        let body = br#"{"schemaVersion":2,"config":{"digest":"sha256:c0","size":100},
            "layers":[{"digest":"sha256:l1","size":1000},{"digest":"sha256:l2","size":20}]}"#;
        let facts = manifest_facts("1.0", "sha256:m".into(), body);
        assert_eq!(facts.image_id.as_deref(), Some("sha256:c0"));
        // Only well-formed digests are asked for (nothing a path could hide in).
        let named = br#"{"config":{"digest":"sha256:c0"},"layers":[{"digest":"sha256:a1"},{"digest":"sha256:../x"},{"digest":"md5:1"}]}"#;
        assert_eq!(blob_digests(named), vec!["sha256:c0", "sha256:a1"]);
        assert_eq!(facts.size_bytes, body.len() as u64 + 1120);
        let index = br#"{"schemaVersion":2,"manifests":[{"digest":"sha256:a","size":500}]}"#;
        let facts = manifest_facts("1.0", "sha256:i".into(), index);
        assert_eq!(facts.image_id, None);
        assert_eq!(facts.size_bytes, index.len() as u64 + 500);
    }

    #[test]
    fn the_registrys_errors_are_told_in_its_words() {
        let body = br#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#;
        assert_eq!(
            registry_words(body),
            "requested access to the resource is denied (DENIED)"
        );
        assert_eq!(registry_words(b"plain"), "plain");
        assert_eq!(query_escape("learner-1/app"), "learner-1%2Fapp");
    }
}
