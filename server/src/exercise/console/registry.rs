//! The console checks that read the class registry: an image pushed to the learner's
//! namespace from their console, and pulled back from it into an engine that no longer held
//! it. What the registry holds is read from the registry; what was pushed and pulled, from
//! the records layerlab's proxy keeps as the engine finishes (never from what was typed).

use super::{ConsoleCheck, ConsoleFacts};

/// What the class registry and layerlab's records say of one image name in a learner's
/// namespace, as of a check.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistryFact {
    /// As the check names it (`greeter:1.0`).
    pub image: String,
    /// The manifest digest the registry holds there (`None`: nothing); `Err` says why the
    /// registry could not be read.
    pub held: Result<Option<String>, String>,
    /// What it holds was pushed from this workshop (a console or Tag & push).
    pub pushed_here: bool,
    /// A console pull of what it holds brought it into an engine that did not hold it.
    pub pulled_back: bool,
    /// When the latest such pull ended (ms since the epoch).
    pub pulled_back_at: Option<i64>,
    /// A console pull of what it holds only named an image the engine still held.
    pub pulled_over_a_copy: bool,
}

impl Default for RegistryFact {
    fn default() -> Self {
        RegistryFact {
            image: String::new(),
            held: Ok(None),
            pushed_here: false,
            pulled_back: false,
            pulled_back_at: None,
            pulled_over_a_copy: false,
        }
    }
}

/// A name a registry check may ask about: `name[:tag]` in the learner's namespace (no
/// registry, no namespace), as the repository path after the namespace and the tag.
pub fn repository_and_tag(image: &str) -> Option<(&str, &str)> {
    let (name, tag) = match image.rsplit_once(':') {
        Some((name, tag)) => (name, tag),
        None => (image, "latest"),
    };
    let fits = !name.is_empty()
        && name.split('/').all(crate::registry::is_path_component)
        && crate::registry::is_tag(tag);
    fits.then_some((name, tag))
}

impl ConsoleFacts {
    fn registry_fact(&self, image: &str) -> Option<&RegistryFact> {
        self.registry.iter().find(|r| r.image == image)
    }

    /// When `image` (`$REGISTRY/greeter:1.0`) was last pulled back, if a registry check
    /// asks about it and it was: only a container made since then ran what came back.
    pub(super) fn pulled_back_at(&self, image: &str) -> Option<i64> {
        let fact = self.registry_fact(image.strip_prefix("$REGISTRY/")?)?;
        fact.pulled_back_at
    }
}

/// The verdict of a `pushed` or `pulled-back` check.
pub(super) fn verdict(check: &ConsoleCheck, facts: &ConsoleFacts) -> (bool, String) {
    let (image, back) = match check {
        ConsoleCheck::Pushed { image } => (image, false),
        ConsoleCheck::PulledBack { image } => (image, true),
        _ => return (false, "not a registry check".into()),
    };
    let full = format!("$REGISTRY/{image}");
    let Some(fact) = facts.registry_fact(image) else {
        return (
            false,
            "The class registry was not read for this check.".into(),
        );
    };
    let digest = match &fact.held {
        Err(e) => return (false, format!("The class registry could not be read: {e}")),
        Ok(None) if back => return (false, format!("There is nothing to pull back yet: your namespace of the class registry holds no {image}. Tag your image as {full} and push it first.")),
        Ok(None) => return (false, format!("Your namespace of the class registry holds no {image}: give your image that name (`docker tag … {full}`), then `docker push {full}`.")),
        Ok(Some(digest)) => digest,
    };
    let short = digest.get(..19).unwrap_or(digest);
    if !fact.pushed_here {
        return (false, format!("The registry's {image} ({short}…) was not pushed from this workshop: push it from your console."));
    }
    if !back {
        return (
            true,
            format!("The class registry holds {full} ({short}…), pushed from this workshop."),
        );
    }
    if fact.pulled_back {
        return (
            true,
            format!("You pulled {full} ({short}…) back into an engine that no longer held it."),
        );
    }
    if fact.pulled_over_a_copy {
        return (false, format!("You pulled {full}, but your engine still held that image (under another name, or kept by a container made from it), so nothing came back from the registry: remove every name of it (`docker images` lists them; `docker rm` its containers first), then pull it again."));
    }
    (false, format!("You have not pulled back what the registry holds at {full} ({short}…): remove your copies of it (`docker rmi`), then `docker pull {full}`."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(fact: RegistryFact) -> ConsoleFacts {
        ConsoleFacts {
            registry: vec![fact],
            ..Default::default()
        }
    }

    fn held() -> RegistryFact {
        RegistryFact {
            image: "greeter:1.0".into(),
            held: Ok(Some(format!("sha256:{}", "ab".repeat(32)))),
            pushed_here: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_push_counts_only_when_the_registry_holds_what_was_pushed_from_here() {
        let pushed = ConsoleCheck::Pushed {
            image: "greeter:1.0".into(),
        };
        let (passed, message) = verdict(&pushed, &facts(held()));
        assert!(
            passed && message.contains("$REGISTRY/greeter:1.0"),
            "{message}"
        );
        for (fact, says) in [
            (
                RegistryFact {
                    held: Ok(None),
                    ..held()
                },
                "holds no greeter:1.0",
            ),
            (
                RegistryFact {
                    pushed_here: false,
                    ..held()
                },
                "not pushed from this workshop",
            ),
            (
                RegistryFact {
                    held: Err("connection refused".into()),
                    ..held()
                },
                "connection refused",
            ),
        ] {
            let (passed, message) = verdict(&pushed, &facts(fact));
            assert!(!passed && message.contains(says), "{message}");
        }
        // Another name's fact does not answer for this one.
        let other = RegistryFact {
            image: "greeter:2.0".into(),
            ..held()
        };
        assert!(!verdict(&pushed, &facts(other)).0);
    }

    #[test]
    fn pulled_back_needs_a_pull_that_brought_the_image_back() {
        let back = ConsoleCheck::PulledBack {
            image: "greeter:1.0".into(),
        };
        let (passed, message) = verdict(
            &back,
            &facts(RegistryFact {
                pulled_back: true,
                ..held()
            }),
        );
        assert!(passed, "{message}");
        let (passed, message) = verdict(
            &back,
            &facts(RegistryFact {
                pulled_over_a_copy: true,
                ..held()
            }),
        );
        assert!(
            !passed && message.contains("still held that image"),
            "{message}"
        );
        let (passed, message) = verdict(&back, &facts(held()));
        assert!(!passed && message.contains("not pulled"), "{message}");
        // A pull of an image the registry no longer holds there (pushed over since) is in no
        // fact; nor is a pull into a namespace holding something pushed elsewhere.
        let (passed, message) = verdict(
            &back,
            &facts(RegistryFact {
                pulled_back: true,
                pushed_here: false,
                ..held()
            }),
        );
        assert!(!passed && message.contains("not pushed from"), "{message}");
    }

    #[test]
    fn a_registry_check_names_an_image_in_the_namespace() {
        assert_eq!(repository_and_tag("greeter:1.0"), Some(("greeter", "1.0")));
        assert_eq!(repository_and_tag("web/api"), Some(("web/api", "latest")));
        for bad in [
            "",
            "Greeter:1",
            "127.0.0.1:5100/x/greeter:1",
            "greeter:-x",
            ":1",
        ] {
            assert_eq!(repository_and_tag(bad), None, "{bad}");
        }
    }
}
