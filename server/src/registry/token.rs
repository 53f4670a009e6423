//! layerlab as the registry's token issuer. The registry refuses every request without a
//! token; a client (the docker CLI, or the engine pushing for the workbench) asks this issuer
//! for one with a learner's credentials and the scopes it wants, and gets only what that
//! learner may do: push and pull in their own namespace. The refusal of anything else comes
//! from the registry itself, which checks the token's signature against the certificate
//! layerlab gave it at start.
//!
//! Tokens are JSON Web Tokens signed with ES256 (ECDSA P-256, SHA-256). The signing key and
//! its self-signed certificate are made at each start; the certificate goes in the token's
//! `x5c` header and in the registry's `rootcertbundle`.

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use std::time::{Duration, SystemTime};

/// What a token lets its holder do on one repository.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// One `scope` a client asks for: `repository:alice/app:pull,push`. `None` when it is not
/// of that form (ignored: nothing is granted for it).
pub fn parse_scope(scope: &str) -> Option<Access> {
    let (kind, rest) = scope.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    if kind.is_empty() || name.is_empty() {
        return None;
    }
    Some(Access {
        kind: kind.to_string(),
        name: name.to_string(),
        actions: actions
            .split(',')
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

/// Of what was asked, what `namespace` (a learner's handle) may have: `pull` and `push` on
/// repositories under `<namespace>/`, nothing else (no other namespace, no catalog, no
/// deletes yet).
pub fn granted(namespace: &str, asked: &Access) -> Option<Access> {
    let own = asked.kind == "repository"
        && asked
            .name
            .strip_prefix(namespace)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|rest| !rest.is_empty());
    if !own {
        return None;
    }
    let actions: Vec<String> = asked
        .actions
        .iter()
        .filter(|a| *a == "pull" || *a == "push")
        .cloned()
        .collect();
    (!actions.is_empty()).then(|| Access {
        actions,
        ..asked.clone()
    })
}

/// Of what was asked, what a reader of `namespaces` (an instructor, of their cohorts'
/// learners) may have: `pull` on repositories under one of them, nothing else (no push, no
/// catalog, no other namespace).
pub fn granted_to_reader(namespaces: &[String], asked: &Access) -> Option<Access> {
    let readable = asked.kind == "repository"
        && namespaces.iter().any(|namespace| {
            asked
                .name
                .strip_prefix(namespace.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|rest| !rest.is_empty())
        });
    (readable && asked.actions.iter().any(|a| a == "pull")).then(|| Access {
        actions: vec!["pull".to_string()],
        ..asked.clone()
    })
}

/// The signing key and its certificate, for one run of the registry.
pub struct Issuer {
    key: EcdsaKeyPair,
    certificate_der: Vec<u8>,
    /// PEM of the certificate: the registry's `rootcertbundle`.
    pub certificate_pem: String,
    rng: SystemRandom,
    /// The `iss` the registry trusts and the `aud` (its `service`) it accepts.
    pub issuer: String,
    pub service: String,
}

/// How long a token is good for (the registry allows a minute of clock skew on top).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(300);

impl Issuer {
    /// A new key and a self-signed certificate for it.
    pub fn new(issuer: &str, service: &str) -> anyhow::Result<Self> {
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("{issuer} token signer"));
        let certificate = params.self_signed(&key_pair)?;
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key_pair.serialize_der(),
            &rng,
        )
        .map_err(|e| anyhow::anyhow!("the token key cannot be used: {e}"))?;
        Ok(Issuer {
            key,
            certificate_der: certificate.der().to_vec(),
            certificate_pem: certificate.pem(),
            rng,
            issuer: issuer.to_string(),
            service: service.to_string(),
        })
    }

    /// A token for `subject` with `access`, good for [`TOKEN_LIFETIME`] from `now`.
    pub fn token(
        &self,
        subject: &str,
        access: &[Access],
        now: SystemTime,
    ) -> anyhow::Result<String> {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        use base64::Engine;
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let header = serde_json::json!({
            "typ": "JWT",
            "alg": "ES256",
            "x5c": [STANDARD.encode(&self.certificate_der)],
        });
        let claims = serde_json::json!({
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + TOKEN_LIFETIME.as_secs(),
            "nbf": now,
            "iat": now,
            "jti": uuid::Uuid::new_v4().simple().to_string(),
            "access": access,
        });
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .key
            .sign(&self.rng, signed.as_bytes())
            .map_err(|e| anyhow::anyhow!("signing a token: {e}"))?;
        Ok(format!(
            "{signed}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_read_as_the_docker_cli_writes_them() {
        assert_eq!(
            parse_scope("repository:alice/app:pull,push"),
            Some(Access {
                kind: "repository".into(),
                name: "alice/app".into(),
                actions: vec!["pull".into(), "push".into()],
            })
        );
        // A registry address with a port is not part of a scope's name, but a name can hold
        // several path parts.
        assert_eq!(
            parse_scope("repository:alice/team/app:pull").map(|a| a.name),
            Some("alice/team/app".into())
        );
        for bad in ["", "repository", "repository:alice", ":alice/app:pull"] {
            assert_eq!(parse_scope(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_learner_is_granted_pull_and_push_in_their_namespace_only() {
        let ask = |scope: &str| parse_scope(scope).expect("a scope");
        let mine = granted("alice", &ask("repository:alice/app:pull,push,delete"));
        assert_eq!(
            mine.map(|a| a.actions),
            Some(vec!["pull".to_string(), "push".to_string()])
        );
        for theirs in [
            "repository:bob/app:pull,push",
            "repository:alicex/app:push",
            "repository:alice:push",
            "repository:alice/:push",
            "repository:library/busybox:pull",
            "registry:catalog:*",
            "repository:alice/app:delete",
        ] {
            assert_eq!(granted("alice", &ask(theirs)), None, "{theirs}");
        }
    }

    #[test]
    fn a_reader_is_granted_pull_in_the_namespaces_they_read_only() {
        let ask = |scope: &str| parse_scope(scope).expect("a scope");
        let read = vec!["learner-aaa".to_string(), "learner-bbb".to_string()];
        for readable in [
            "repository:learner-aaa/app:pull",
            "repository:learner-bbb/team/app:pull,push",
            "repository:learner-aaa/app:push,pull,delete",
        ] {
            assert_eq!(
                granted_to_reader(&read, &ask(readable)).map(|a| a.actions),
                Some(vec!["pull".to_string()]),
                "{readable}"
            );
        }
        for not in [
            "repository:learner-aaa/app:push",
            "repository:learner-aaa/app:delete",
            "repository:learner-ccc/app:pull",
            "repository:learner-aaax/app:pull",
            "repository:learner-aaa:pull",
            "repository:learner-aaa/:pull",
            "registry:catalog:*",
        ] {
            assert_eq!(granted_to_reader(&read, &ask(not)), None, "{not}");
        }
        assert_eq!(
            granted_to_reader(&[], &ask("repository:learner-aaa/app:pull")),
            None
        );
    }

    #[test]
    fn a_token_carries_its_claims_and_an_es256_signature_over_them() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        use ring::signature::KeyPair;
        let issuer = Issuer::new("layerlab", "layerlab-registry").expect("issuer");
        let access = vec![parse_scope("repository:alice/app:push").expect("scope")];
        let token = issuer
            .token("alice", &access, SystemTime::now())
            .expect("token");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["aud"], "layerlab-registry");
        assert_eq!(claims["access"][0]["name"], "alice/app");
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("b64");
        assert_eq!(signature.len(), 64, "r and s, 32 bytes each");
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            issuer.key.public_key().as_ref(),
        );
        let signed = format!("{}.{}", parts[0], parts[1]);
        public
            .verify(signed.as_bytes(), &signature)
            .expect("the signature verifies");
        assert!(public.verify(b"something else", &signature).is_err());
    }
}
