//! The few manifest fields a pull needs, for both Docker schema2 and OCI, and platform
//! selection from manifest lists / image indexes.

use serde::Deserialize;

use crate::error::PullError;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_LAYER_FOREIGN: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// What we send in `Accept` for manifests.
pub const ACCEPTED_MANIFESTS: &[&str] = &[
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    OCI_INDEX,
];

#[derive(Debug, Clone, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: i64,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub urls: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ImageManifest {
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Index {
    pub manifests: Vec<Descriptor>,
}

/// A parsed top-level manifest.
#[derive(Debug, Clone)]
pub enum Manifest {
    Image(ImageManifest),
    Index(Index),
}

#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "schemaVersion", default)]
    schema_version: Option<i64>,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
    #[serde(default)]
    config: Option<serde_json::Value>,
}

fn invalid(e: serde_json::Error) -> PullError {
    PullError::Invalid {
        what: "manifest".into(),
        message: e.to_string(),
    }
}

/// Parses a manifest by its `mediaType` field, falling back to its shape: OCI makes the
/// field optional, and oci-client does not give us the Content-Type header.
pub fn parse(body: &[u8]) -> Result<Manifest, PullError> {
    let probe: Probe = serde_json::from_slice(body).map_err(invalid)?;
    if probe.schema_version == Some(1) {
        return Err(PullError::UnsupportedMediaType {
            media_type: DOCKER_SCHEMA1.into(),
            detail: "Docker schema 1 manifests are not supported".into(),
        });
    }
    match probe.media_type.as_deref() {
        Some(DOCKER_MANIFEST_LIST) | Some(OCI_INDEX) => Ok(Manifest::Index(
            serde_json::from_slice(body).map_err(invalid)?,
        )),
        Some(DOCKER_MANIFEST) | Some(OCI_MANIFEST) => Ok(Manifest::Image(
            serde_json::from_slice(body).map_err(invalid)?,
        )),
        Some(other) => Err(PullError::UnsupportedMediaType {
            media_type: other.to_string(),
            detail: "not an image manifest or index".into(),
        }),
        None if probe.manifests.is_some() => Ok(Manifest::Index(
            serde_json::from_slice(body).map_err(invalid)?,
        )),
        None if probe.config.is_some() => Ok(Manifest::Image(
            serde_json::from_slice(body).map_err(invalid)?,
        )),
        None => Err(PullError::Invalid {
            what: "manifest".into(),
            message: "neither an image manifest nor an index".into(),
        }),
    }
}

/// Picks the linux/amd64 entry (preferring no variant or `v1`, as Docker does on amd64).
pub fn select_linux_amd64(index: &Index) -> Result<&Descriptor, PullError> {
    let candidates = index.manifests.iter().filter(|d| {
        d.platform
            .as_ref()
            .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
    });
    let mut best: Option<&Descriptor> = None;
    for d in candidates {
        let plain = d
            .platform
            .as_ref()
            .and_then(|p| p.variant.as_deref())
            .is_none_or(|v| v == "v1");
        if plain {
            return Ok(d);
        }
        best.get_or_insert(d);
    }
    best.ok_or(PullError::NoMatchingPlatform)
}

/// Rejects layer kinds we cannot unpack, with a clear reason.
pub fn check_layer(desc: &Descriptor) -> Result<(), PullError> {
    match desc.media_type.as_str() {
        DOCKER_LAYER_GZIP | OCI_LAYER | OCI_LAYER_GZIP => Ok(()),
        OCI_LAYER_ZSTD => Err(PullError::UnsupportedMediaType {
            media_type: desc.media_type.clone(),
            detail: "zstd-compressed layers are not supported yet".into(),
        }),
        DOCKER_LAYER_FOREIGN => Err(PullError::UnsupportedMediaType {
            media_type: desc.media_type.clone(),
            detail: "foreign (non-distributable) layers are not supported".into(),
        }),
        other => Err(PullError::UnsupportedMediaType {
            media_type: other.to_string(),
            detail: format!("layer {} is not a tar layer", desc.digest),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_by_media_type_or_shape() {
        let d = format!("sha256:{}", "a".repeat(64));
        let img = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{OCI_CONFIG}","digest":"{d}","size":1}},"layers":[]}}"#
        );
        assert!(matches!(parse(img.as_bytes()).unwrap(), Manifest::Image(_)));
        let idx = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_LIST}","manifests":[
              {{"mediaType":"{DOCKER_MANIFEST}","digest":"{d}","size":1,"platform":{{"architecture":"arm64","os":"linux"}}}},
              {{"mediaType":"{DOCKER_MANIFEST}","digest":"{d}","size":2,"platform":{{"architecture":"amd64","os":"linux","variant":"v3"}}}},
              {{"mediaType":"{DOCKER_MANIFEST}","digest":"{d}","size":3,"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#
        );
        let Manifest::Index(i) = parse(idx.as_bytes()).unwrap() else {
            panic!("not an index")
        };
        assert_eq!(select_linux_amd64(&i).unwrap().size, 3);
        assert!(matches!(
            parse(br#"{"schemaVersion":1,"name":"x"}"#),
            Err(PullError::UnsupportedMediaType { .. })
        ));
        let none = Index { manifests: vec![] };
        assert!(matches!(
            select_linux_amd64(&none),
            Err(PullError::NoMatchingPlatform)
        ));
    }
}
