//! On-disk layout of the content store and the overlay layer directories.
//!
//! ```text
//! root/content/blobs/sha256/<hex>        verified blobs (manifests, configs, layers)
//! root/content/ingest/<unique>.partial   downloads in progress (never read)
//! root/content/refs/<config-hex>.json    which blobs an image needs (for gc)
//! root/overlay2/<chain-hex>/diff         unpacked layer
//! root/overlay2/<chain-hex>/committed    marker, present only once `diff` is complete
//! root/overlay2/.tmp-<chain-hex>-<n>/    layer being unpacked (renamed when complete)
//! ```

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::StoreError;

pub(crate) const COMMITTED: &str = "committed";
pub(crate) const TMP_PREFIX: &str = ".tmp-";

/// What the `committed` marker of a layer records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LayerMarker {
    pub chain_id: String,
    pub diff_id: String,
    /// Unpacked size (sum of regular file sizes).
    pub size: u64,
    /// Digest of the compressed blob it came from.
    pub blob: String,
}

/// Blobs one image needs, so gc can keep them while the image is kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct ImageRefs {
    pub config: String,
    pub manifests: Vec<String>,
    pub layer_blobs: Vec<String>,
}

/// Returns the hex of a `sha256:<64 hex>` digest (or of bare hex), rejecting anything
/// else so a digest can never be turned into a path outside the store.
pub fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(hex)
}

#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// A name unique within this process and unlikely to collide across restarts.
pub(crate) fn unique_suffix() -> String {
    let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{}-{}", std::process::id(), nanos, n)
}

impl Layout {
    pub fn new(root: PathBuf) -> Self {
        Layout { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("content/blobs/sha256")
    }

    pub fn ingest_dir(&self) -> PathBuf {
        self.root.join("content/ingest")
    }

    pub fn refs_dir(&self) -> PathBuf {
        self.root.join("content/refs")
    }

    pub fn layers_dir(&self) -> PathBuf {
        self.root.join("overlay2")
    }

    pub fn create_dirs(&self) -> io::Result<()> {
        for d in [
            self.blobs_dir(),
            self.ingest_dir(),
            self.refs_dir(),
            self.layers_dir(),
        ] {
            fs::create_dir_all(d)?;
        }
        Ok(())
    }

    pub fn blob_path(&self, digest: &str) -> Result<PathBuf, StoreError> {
        let hex = sha256_hex(digest).ok_or_else(|| StoreError::InvalidId(digest.to_string()))?;
        Ok(self.blobs_dir().join(hex))
    }

    pub fn ingest_path(&self) -> PathBuf {
        self.ingest_dir()
            .join(format!("{}.partial", unique_suffix()))
    }

    pub fn layer_dir(&self, chain_id: &str) -> Result<PathBuf, StoreError> {
        let hex =
            sha256_hex(chain_id).ok_or_else(|| StoreError::InvalidId(chain_id.to_string()))?;
        Ok(self.layers_dir().join(hex))
    }

    pub fn staging_dir(&self, chain_id: &str) -> Result<PathBuf, StoreError> {
        let hex =
            sha256_hex(chain_id).ok_or_else(|| StoreError::InvalidId(chain_id.to_string()))?;
        Ok(self
            .layers_dir()
            .join(format!("{TMP_PREFIX}{hex}-{}", unique_suffix())))
    }

    pub fn refs_path(&self, image_id: &str) -> Result<PathBuf, StoreError> {
        let hex =
            sha256_hex(image_id).ok_or_else(|| StoreError::InvalidId(image_id.to_string()))?;
        Ok(self.refs_dir().join(format!("{hex}.json")))
    }

    /// The marker of a committed layer, or None if the layer is absent or half-done.
    pub fn read_marker(&self, chain_id: &str) -> Option<LayerMarker> {
        let dir = self.layer_dir(chain_id).ok()?;
        let data = fs::read(dir.join(COMMITTED)).ok()?;
        serde_json::from_slice(&data).ok()
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).map(|p| p.is_file()).unwrap_or(false)
    }

    /// Stores small in-memory content (manifests, configs) after checking its digest.
    pub fn write_blob_verified(
        &self,
        digest: &str,
        data: &[u8],
    ) -> Result<PathBuf, BlobWriteError> {
        let dest = self.blob_path(digest).map_err(BlobWriteError::Store)?;
        let actual = format!("sha256:{}", hex::encode(Sha256::digest(data)));
        if actual != digest {
            return Err(BlobWriteError::Mismatch {
                expected: digest.to_string(),
                actual,
            });
        }
        if dest.is_file() {
            return Ok(dest);
        }
        let tmp = self.ingest_path();
        let res = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            fs::rename(&tmp, &dest)
        })();
        if let Err(e) = res {
            let _ = fs::remove_file(&tmp);
            return Err(BlobWriteError::Store(StoreError::io(
                "writing blob",
                &dest,
                e,
            )));
        }
        Ok(dest)
    }

    pub fn write_json_atomic<T: Serialize>(
        &self,
        path: &Path,
        value: &T,
    ) -> Result<(), StoreError> {
        let data = serde_json::to_vec_pretty(value).map_err(|e| StoreError::Json {
            what: path.display().to_string(),
            source: e,
        })?;
        let tmp = path.with_extension(format!("tmp-{}", unique_suffix()));
        let res = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&data)?;
            f.sync_all()?;
            fs::rename(&tmp, path)
        })();
        if let Err(e) = res {
            let _ = fs::remove_file(&tmp);
            return Err(StoreError::io("writing", path, e));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum BlobWriteError {
    #[error("digest mismatch: expected {expected}, got {actual}")]
    Mismatch { expected: String, actual: String },
    #[error(transparent)]
    Store(StoreError),
}

/// Removes a path whatever it is; missing is fine.
pub(crate) fn remove_path(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_validated_before_becoming_paths() {
        let l = Layout::new(PathBuf::from("/x"));
        assert!(l.blob_path("sha256:../../etc/passwd").is_err());
        assert!(l.blob_path("sha512:abcd").is_err());
        let hex = "a".repeat(64);
        assert_eq!(
            l.blob_path(&format!("sha256:{hex}")).unwrap(),
            PathBuf::from(format!("/x/content/blobs/sha256/{hex}"))
        );
        assert_eq!(
            l.layer_dir(&hex).unwrap(),
            PathBuf::from(format!("/x/overlay2/{hex}"))
        );
    }

    #[test]
    fn verified_write_rejects_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::new(dir.path().to_path_buf());
        l.create_dirs().unwrap();
        let data = b"hello";
        let good = format!("sha256:{}", hex::encode(Sha256::digest(data)));
        let bad = format!("sha256:{}", "0".repeat(64));
        assert!(matches!(
            l.write_blob_verified(&bad, data),
            Err(BlobWriteError::Mismatch { .. })
        ));
        assert!(!l.has_blob(&bad));
        l.write_blob_verified(&good, data).unwrap();
        assert!(l.has_blob(&good));
        assert_eq!(fs::read_dir(l.ingest_dir()).unwrap().count(), 0);
    }
}
