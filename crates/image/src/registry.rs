//! Thin wrapper over `oci-client`: one client per registry host (so bearer tokens are
//! cached per host), plain HTTP for loopback/insecure registries, and mapping of its
//! errors to [`PullError`].

use std::time::Duration;

use futures::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol, SizedStream};
use oci_client::errors::{DigestError, OciDistributionError, OciErrorCode};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;

use crate::error::PullError;
use crate::manifest::ACCEPTED_MANIFESTS;
use crate::reference::Reference;

/// A client bound to one registry host.
pub(crate) struct RegistryClient {
    client: oci_client::Client,
    host: String,
}

impl RegistryClient {
    pub fn new(host: &str, plain_http: bool) -> Self {
        let config = ClientConfig {
            protocol: if plain_http {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            // Refused connections fail at once anyway; this bounds black-holed hosts.
            connect_timeout: Some(Duration::from_secs(15)),
            read_timeout: Some(Duration::from_secs(120)),
            // Selection from indexes is ours (see manifest.rs); we only fetch raw manifests.
            platform_resolver: None,
            user_agent: concat!("pouch/", env!("CARGO_PKG_VERSION")),
            ..Default::default()
        };
        RegistryClient {
            client: oci_client::Client::new(config),
            host: host.to_string(),
        }
    }

    /// oci-client's reference for `r` at `tag_or_digest`, addressed to the real HTTP host.
    fn oci_ref(&self, r: &Reference, digest: Option<&str>) -> oci_client::Reference {
        match (digest.or(r.digest.as_deref()), &r.tag) {
            (Some(d), _) => oci_client::Reference::with_digest(
                self.host.clone(),
                r.repository.clone(),
                d.to_string(),
            ),
            (None, tag) => oci_client::Reference::with_tag(
                self.host.clone(),
                r.repository.clone(),
                tag.clone()
                    .unwrap_or_else(|| crate::reference::DEFAULT_TAG.to_string()),
            ),
        }
    }

    /// Fetches a manifest (by the reference's tag/digest, or by `digest`) without parsing.
    /// Returns the body and the registry's digest for it (verified by oci-client when asked
    /// by digest; the caller re-hashes anyway).
    pub async fn fetch_manifest(
        &self,
        r: &Reference,
        digest: Option<&str>,
        auth: &RegistryAuth,
    ) -> Result<(bytes::Bytes, String), PullError> {
        let oref = self.oci_ref(r, digest);
        self.client
            .pull_manifest_raw(&oref, auth, ACCEPTED_MANIFESTS)
            .await
            .map_err(|e| map_error(e, r, Target::Manifest))
    }

    /// The repository's tags in the registry's order (what dockerd's `Tags().All()` gives
    /// `docker pull -a`). Pages are asked for with `last=` until one brings nothing new;
    /// registries that do not paginate answer the whole list again, which ends it too.
    pub async fn list_tags(
        &self,
        r: &Reference,
        auth: &RegistryAuth,
    ) -> Result<Vec<String>, PullError> {
        /// Bound on pages (the loop also stops as soon as a page adds no tag).
        const MAX_PAGES: usize = 1000;
        let oref = oci_client::Reference::with_tag(
            self.host.clone(),
            r.repository.clone(),
            crate::reference::DEFAULT_TAG.to_string(),
        );
        let mut tags: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_PAGES {
            let last = tags.last().cloned();
            let page = self
                .client
                .list_tags(&oref, auth, None, last.as_deref())
                .await
                .map_err(|e| map_error(e, r, Target::Tags))?;
            let before = tags.len();
            for t in page.tags {
                if seen.insert(t.clone()) {
                    tags.push(t);
                }
            }
            if tags.len() == before {
                break;
            }
        }
        Ok(tags)
    }

    /// Opens a blob download stream.
    pub async fn blob_stream(
        &self,
        r: &Reference,
        digest: &str,
        media_type: &str,
        size: i64,
        auth: &RegistryAuth,
    ) -> Result<SizedStream, PullError> {
        let oref = self.oci_ref(r, None);
        // Make sure the auth mode is recorded for this host even if no manifest call did.
        self.client
            .store_auth_if_needed(oref.resolve_registry(), auth)
            .await;
        let desc = OciDescriptor {
            media_type: media_type.to_string(),
            digest: digest.to_string(),
            size,
            ..Default::default()
        };
        self.client
            .pull_blob_stream(&oref, &desc)
            .await
            .map_err(|e| map_error(e, r, Target::Blob(digest)))
    }

    /// Fetches a small blob (a config) into memory.
    pub async fn fetch_blob_bytes(
        &self,
        r: &Reference,
        digest: &str,
        media_type: &str,
        size: i64,
        auth: &RegistryAuth,
    ) -> Result<Vec<u8>, PullError> {
        let mut stream = self.blob_stream(r, digest, media_type, size, auth).await?;
        let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| map_stream_error(e, &self.host, digest))?;
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

pub(crate) enum Target<'a> {
    Manifest,
    Blob(&'a str),
    Tags,
}

/// Full error text including sources (reqwest hides "connection refused" in a source).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(src) = cur {
        let t = src.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = src.source();
    }
    s
}

pub(crate) fn map_error(e: OciDistributionError, r: &Reference, target: Target<'_>) -> PullError {
    let not_found = |message: String| match target {
        Target::Manifest => PullError::ManifestUnknown {
            reference: r.familiar(),
            message,
        },
        Target::Blob(d) => PullError::Registry(format!("blob {d} unknown to registry: {message}")),
        Target::Tags => PullError::RepositoryUnknown {
            repository: r.repo_familiar(),
            message,
        },
    };
    match e {
        OciDistributionError::RequestError(err) => PullError::Unreachable {
            registry: r.registry_host().to_string(),
            message: chain(&err),
        },
        OciDistributionError::RegistryError { envelope, url } => {
            let first = envelope.errors.first();
            let message = first
                .map(|e| e.message.clone())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| format!("error from {url}"));
            // Docker prints the code's text before the registry's message.
            match first.map(|e| &e.code) {
                Some(OciErrorCode::ManifestUnknown) => {
                    not_found(format!("manifest unknown: {message}"))
                }
                Some(OciErrorCode::NameUnknown) => not_found(format!("name unknown: {message}")),
                Some(OciErrorCode::NotFound) => not_found(format!("not found: {message}")),
                Some(OciErrorCode::BlobUnknown) => not_found(format!("blob unknown: {message}")),
                Some(OciErrorCode::Denied) | Some(OciErrorCode::Unauthorized) => {
                    PullError::Unauthorized {
                        repository: r.repo_familiar(),
                        message,
                    }
                }
                _ => PullError::Registry(message),
            }
        }
        OciDistributionError::ImageManifestNotFoundError(m) => not_found(m),
        OciDistributionError::ServerError {
            code: 404, message, ..
        } => not_found(message),
        OciDistributionError::UnauthorizedError { url } => PullError::Unauthorized {
            repository: r.repo_familiar(),
            message: format!("unauthorized: {url}"),
        },
        OciDistributionError::DigestError(DigestError::VerificationError { expected, actual }) => {
            PullError::DigestMismatch {
                what: match target {
                    Target::Manifest => format!("manifest of {}", r.familiar()),
                    Target::Blob(d) => format!("blob {d}"),
                    Target::Tags => format!("tags of {}", r.repo_familiar()),
                },
                expected,
                actual,
            }
        }
        other => PullError::Registry(chain(&other)),
    }
}

/// Maps an error from a blob byte stream: oci-client reports its own digest check as an
/// io::Error wrapping a DigestError at the end of the stream.
pub(crate) fn map_stream_error(e: std::io::Error, host: &str, digest: &str) -> PullError {
    if let Some(DigestError::VerificationError { expected, actual }) =
        e.get_ref().and_then(|i| i.downcast_ref::<DigestError>())
    {
        return PullError::DigestMismatch {
            what: format!("blob {digest}"),
            expected: expected.clone(),
            actual: actual.clone(),
        };
    }
    PullError::Unreachable {
        registry: host.to_string(),
        message: format!("reading blob {digest}: {}", chain(&e)),
    }
}
