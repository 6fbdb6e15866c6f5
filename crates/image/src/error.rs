//! Errors returned by pulls and layer operations.

use std::path::PathBuf;

/// Why a pull failed. Display strings follow Docker's where the daemon forwards them.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// Whoever asked for the pull went away (the client disconnected, `docker pull` got
    /// Ctrl-C): stop, as dockerd cancels its context. What is complete stays.
    #[error("context canceled")]
    Cancelled,

    /// TCP connect failed, DNS failed or the connection broke: the registry is not reachable.
    #[error("registry {registry} unreachable: {message}")]
    Unreachable { registry: String, message: String },

    /// The registry has no such tag/digest (HTTP 404 / MANIFEST_UNKNOWN / NAME_UNKNOWN).
    /// Display matches Docker: `manifest for R not found: manifest unknown: MSG`
    /// (`message` carries the registry's error code text and message).
    #[error("manifest for {reference} not found: {message}")]
    ManifestUnknown { reference: String, message: String },

    /// `docker pull -a` of a repository the registry does not know (tags list 404).
    /// Display matches dockerd: `repository R not found: name unknown: MSG`.
    #[error("repository {repository} not found: {message}")]
    RepositoryUnknown { repository: String, message: String },

    /// The registry refused us (401/403): authentication will be needed.
    #[error("pull access denied for {repository}, repository does not exist or may require authorization: {message}")]
    Unauthorized { repository: String, message: String },

    /// Content did not hash to the digest that named it.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    /// A manifest, config or layer of a kind we cannot handle (yet).
    #[error("unsupported media type {media_type}: {detail}")]
    UnsupportedMediaType { media_type: String, detail: String },

    /// A manifest list / index with no linux/amd64 entry.
    #[error("no matching manifest for linux/amd64 in the manifest list entries")]
    NoMatchingPlatform,

    /// The manifest or config is not what the spec says.
    #[error("invalid {what}: {message}")]
    Invalid { what: String, message: String },

    /// Any other registry-side error, with the registry's message.
    #[error("registry error: {0}")]
    Registry(String),

    /// A layer could not be unpacked.
    #[error("failed to unpack layer {digest}: {source}")]
    Unpack {
        digest: String,
        #[source]
        source: UnpackError,
    },

    #[error("{context} {}: {source}", path.display())]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A background task died (panicked or was cancelled).
    #[error("internal error: {0}")]
    Internal(String),
}

impl PullError {
    pub(crate) fn io(
        context: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        PullError::Io {
            context,
            path: path.into(),
            source,
        }
    }

    /// True for "not found" errors the daemon should map to HTTP 404.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            PullError::ManifestUnknown { .. } | PullError::RepositoryUnknown { .. }
        )
    }
}

/// Why a layer tar could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// A path that would land outside the layer root (`../x`).
    #[error("path {0:?} escapes the layer root")]
    Breakout(String),
    /// Hard link to something that is not in this layer.
    #[error("hard link {name:?} -> {target:?}: target not found in layer")]
    HardlinkTarget { name: String, target: String },
    #[error("zstd-compressed layers are not supported yet")]
    Zstd,
    #[error("uncompressed tar stream has diff ID {actual}, config says {expected}")]
    DiffIdMismatch { expected: String, actual: String },
    #[error("{context} {}: {source}", path.display())]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reading tar stream: {0}")]
    Tar(#[source] std::io::Error),
}

impl UnpackError {
    pub(crate) fn io(
        context: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        UnpackError::Io {
            context,
            path: path.into(),
            source,
        }
    }
}

/// Errors of the local store operations (remove, gc, read_config).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid digest or ID {0:?}")]
    InvalidId(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{context} {}: {source}", path.display())]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("internal error: {0}")]
    Internal(String),
    #[error("parsing {what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
}

impl StoreError {
    pub(crate) fn io(
        context: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        StoreError::Io {
            context,
            path: path.into(),
            source,
        }
    }
}
