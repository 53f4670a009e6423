//! The class registry as learners see it: a push from the workbench and what their namespace
//! holds.

use serde::{Deserialize, Serialize};

/// `POST /api/v1/builds/{id}/push`: the name and tag the learner typed (`my-app:1.0.0`; no
/// tag means `latest`, as with `docker push`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    pub tag: String,
}

/// A push accepted: where to follow it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushAccepted {
    pub id: String,
    pub events: String,
}

pub fn push_events_url(id: &str) -> String {
    format!("/api/v1/pushes/{id}/events")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushStatus {
    Pushing,
    Pushed,
    Failed,
}

/// A push as its learner follows it (`GET /api/v1/pushes/{id}`, and the events' `done`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PushView {
    pub id: String,
    /// The build whose image is pushed.
    pub build: String,
    /// `127.0.0.1:5100/learner-1/my-app:1.0.0`
    pub reference: String,
    pub status: PushStatus,
    /// What happened so far, line by line, as `docker push` tells it.
    pub lines: Vec<String>,
    /// The manifest digest the registry holds for the tag (read back from the registry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The manifest, config and compressed layers, as the registry holds them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// `docker pull …@sha256:…`: to copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The build's checks after the push, when its exercise has checks judged on the
    /// registry (they are judged again on what it now holds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<crate::dto::CheckOutcome>>,
}

/// One tag of a learner's repository (`GET /api/v1/registry`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryTag {
    pub tag: String,
    pub digest: String,
    pub size_bytes: u64,
    /// When it was last pushed from layerlab (ms since the epoch); `None` when it came some
    /// other way (the docker CLI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_at: Option<i64>,
    /// The same, as people read it (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed: Option<String>,
    /// `docker pull <registry>/<repository>:<tag>`
    pub pull: String,
}

/// One repository of a learner's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryRepository {
    /// `learner-1/my-app`
    pub name: String,
    pub tags: Vec<RegistryTag>,
}

/// A learner's namespace in the class registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryView {
    /// `127.0.0.1:5100`
    pub registry: String,
    /// The learner's handle: their namespace and registry username.
    pub namespace: String,
    pub repositories: Vec<RegistryRepository>,
    /// What the namespace holds on the registry's disk (distinct layers and configs), where
    /// layerlab runs the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_bytes: Option<u64>,
    /// The most it may hold; `None`: no limit (or not known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_bytes: Option<u64>,
}

/// The registry page (`/registry`): the learner's namespace, or why there is none to show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegistryPage {
    /// What the registry holds for the learner; `None` with `problem` saying why.
    pub view: Option<RegistryView>,
    /// Why the registry cannot be shown (none in this workshop, not run by it, unreachable),
    /// or that the visitor has nothing yet.
    pub problem: Option<String>,
    /// Whether layerlab hands out the learner's `docker login` (it runs the registry).
    pub gives_login: bool,
    /// The form token for the page's Delete buttons.
    #[serde(default)]
    pub csrf: String,
    /// What the last Delete did.
    #[serde(default)]
    pub notice: Option<crate::dto::Notice>,
}
