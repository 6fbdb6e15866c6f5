//! `ImageService`: pulls images into the content store and overlay layer dirs, and
//! removes what the daemon no longer references.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use ipnet::IpNet;
use oci_client::secrets::RegistryAuth;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, info, warn};

use crate::error::{PullError, StoreError, UnpackError};
use crate::manifest::{self, Descriptor, Manifest, DOCKER_CONFIG, OCI_CONFIG};
use crate::progress::{short_id, Progress};
use crate::reference::Reference;
use crate::registry::{map_stream_error, RegistryClient};
use crate::store::{
    self, sha256_hex, BlobWriteError, ImageRefs, LayerMarker, Layout, COMMITTED, TMP_PREFIX,
};
use crate::unpack;

/// Docker's default `max-concurrent-downloads`.
const DEFAULT_CONCURRENT_DOWNLOADS: usize = 3;
/// Minimum interval between two Downloading/Extracting messages for one layer.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// One layer of a pulled image, bottom first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRef {
    /// `sha256:<hex>`; the layer dir is `root/overlay2/<hex>`.
    pub chain_id: String,
    /// `sha256:<hex>` of the uncompressed tar (from the image config, verified).
    pub diff_id: String,
    /// Unpacked size in bytes (sum of regular files).
    pub size: u64,
}

/// What a successful pull produced. The daemon records it (images/tags tables).
#[derive(Debug, Clone)]
pub struct PulledImage {
    /// Image ID: `sha256:<config digest hex>`.
    pub id: String,
    /// Digest of what the reference resolved to (the index for multi-arch images), as in
    /// Docker's `Digest:` line and RepoDigests (`repo@<manifest_digest>`).
    pub manifest_digest: String,
    /// Digest of the linux/amd64 image manifest (same as `manifest_digest` if no index).
    pub platform_manifest_digest: String,
    /// The raw image config JSON (OCI / Docker image config).
    pub config: serde_json::Value,
    /// Layers bottom first; `layer_dirs` of their chain IDs gives the overlay lower dirs.
    pub layers: Vec<LayerRef>,
    /// Total unpacked size.
    pub size: u64,
    /// True if anything (config or a layer) was new to this store. (dockerd's final
    /// `Status:` line depends on the references instead: see [`Progress::pull_status`].)
    pub downloaded: bool,
}

/// What `gc` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcStats {
    pub layers_removed: Vec<String>,
    pub blobs_removed: usize,
    /// Bytes of blobs plus unpacked layer sizes freed.
    pub bytes_freed: u64,
}

/// Chain IDs for diff IDs, bottom first: `chain[0] = diff[0]`,
/// `chain[n] = sha256(chain[n-1] + " " + diff[n])`.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => format!(
                "sha256:{}",
                hex::encode(Sha256::digest(format!("{parent} {d}").as_bytes()))
            ),
        };
        out.push(next);
    }
    out
}

/// One layer to make present.
struct LayerJob<'a> {
    desc: &'a Descriptor,
    diff_id: &'a str,
    chain: &'a str,
    announced_existing: bool,
}

/// A layer's single-flight lock, held from the marker check to the commit. Dropping it
/// unlocks and forgets the lock when nobody else waits for it.
struct LayerGuard<'s> {
    svc: &'s ImageService,
    chain: String,
    lock: Arc<tokio::sync::Mutex<()>>,
    held: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for LayerGuard<'_> {
    fn drop(&mut self) {
        self.held = None;
        self.svc.release_layer_lock(&self.chain, &self.lock);
    }
}

/// What the download half of a layer found or fetched.
enum Fetched {
    Committed(LayerMarker),
    Blob {
        blob: PathBuf,
        id: String,
        diff_id: String,
        digest: String,
    },
}

struct FetchedLayer<'s> {
    guard: LayerGuard<'s>,
    state: Fetched,
}

/// Pulls images and manages the files of the content store and layer dirs.
pub struct ImageService {
    layout: Layout,
    insecure_cidrs: Vec<IpNet>,
    insecure_hosts: Vec<String>,
    clients: Mutex<HashMap<String, Arc<RegistryClient>>>,
    /// Single-flight per chain ID: concurrent pulls wait for one download+unpack.
    layer_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Pulls hold it shared, gc exclusively, so gc never removes a layer being built.
    gc_lock: tokio::sync::RwLock<()>,
    max_concurrent_downloads: usize,
}

/// Sends progress. A receiver that went away means nobody waits for the pull any more:
/// downloads check [`ProgressTx::cancelled`] and stop (complete blobs and layers stay).
#[derive(Clone)]
struct ProgressTx(UnboundedSender<Progress>);

impl ProgressTx {
    fn send(&self, p: Progress) {
        let _ = self.0.send(p);
    }

    fn cancelled(&self) -> bool {
        self.0.is_closed()
    }
}

/// Rate-limits byte-count progress messages.
struct Throttle {
    last: Option<Instant>,
}

impl Throttle {
    fn new() -> Self {
        Throttle { last: None }
    }
    fn ready(&mut self, done: bool) -> bool {
        let now = Instant::now();
        if done
            || self
                .last
                .is_none_or(|t| now.duration_since(t) >= PROGRESS_INTERVAL)
        {
            self.last = Some(now);
            true
        } else {
            false
        }
    }
}

/// Deletes a temp file unless disarmed; covers errors and cancelled pulls alike.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(&p);
        }
    }
}

fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn blob_write_error(e: BlobWriteError, what: String) -> PullError {
    match e {
        BlobWriteError::Mismatch { expected, actual } => PullError::DigestMismatch {
            what,
            expected,
            actual,
        },
        BlobWriteError::Store(StoreError::Io {
            context,
            path,
            source,
        }) => PullError::io(context, path, source),
        BlobWriteError::Store(other) => PullError::Internal(other.to_string()),
    }
}

fn store_to_pull(e: StoreError) -> PullError {
    match e {
        StoreError::Io {
            context,
            path,
            source,
        } => PullError::io(context, path, source),
        other => PullError::Invalid {
            what: "digest".into(),
            message: other.to_string(),
        },
    }
}

impl ImageService {
    /// `root` holds `content/` and `overlay2/`. Registries whose host is an IP in
    /// 127.0.0.0/8, ::1 or `insecure`, `localhost`, or listed in `insecure_hosts`
    /// (`host` or `host:port`) are spoken to over plain HTTP.
    pub fn new(
        root: PathBuf,
        insecure: Vec<IpNet>,
        insecure_hosts: Vec<String>,
    ) -> Result<Self, StoreError> {
        let layout = Layout::new(root);
        layout
            .create_dirs()
            .map_err(|e| StoreError::io("creating", layout.root(), e))?;
        Ok(ImageService {
            layout,
            insecure_cidrs: insecure,
            insecure_hosts,
            clients: Mutex::new(HashMap::new()),
            layer_locks: Mutex::new(HashMap::new()),
            gc_lock: tokio::sync::RwLock::new(()),
            max_concurrent_downloads: DEFAULT_CONCURRENT_DOWNLOADS,
        })
    }

    /// Docker's `--max-concurrent-downloads`.
    pub fn set_max_concurrent_downloads(&mut self, n: usize) {
        self.max_concurrent_downloads = n.max(1);
    }

    pub fn root(&self) -> &Path {
        self.layout.root()
    }

    /// Whether `r`'s registry is reached over plain HTTP. Never resolves names.
    pub fn is_insecure(&self, r: &Reference) -> bool {
        let host_port = r.registry_host();
        let host = r.registry_hostname();
        if host == "localhost"
            || self
                .insecure_hosts
                .iter()
                .any(|h| h == host_port || h == host)
        {
            return true;
        }
        match host.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback() || self.insecure_cidrs.iter().any(|n| n.contains(&ip)),
            Err(_) => false,
        }
    }

    fn client_for(&self, r: &Reference) -> Arc<RegistryClient> {
        let host = r.registry_host().to_string();
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(host.clone())
            .or_insert_with(|| Arc::new(RegistryClient::new(&host, self.is_insecure(r))))
            .clone()
    }

    fn layer_lock(&self, chain_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.layer_locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(chain_id.to_string()).or_default().clone()
    }

    fn release_layer_lock(&self, chain_id: &str, lock: &Arc<tokio::sync::Mutex<()>>) {
        let mut locks = self.layer_locks.lock().unwrap_or_else(|p| p.into_inner());
        // Only the map and we hold it: nobody is waiting, drop the entry.
        if Arc::strong_count(lock) <= 2 {
            locks.remove(chain_id);
        }
    }

    /// The tags of `r`'s repository, in the registry's order (`docker pull -a`).
    pub async fn list_tags(&self, r: &Reference) -> Result<Vec<String>, PullError> {
        let client = self.client_for(r);
        client.list_tags(r, &RegistryAuth::Anonymous).await
    }

    /// Pulls `r` (linux/amd64), streaming Docker-shaped progress to `progress`: `Pulling
    /// from`, the layer lines (none when the image is here already), `Digest:`.
    pub async fn pull(
        &self,
        r: &Reference,
        progress: UnboundedSender<Progress>,
    ) -> Result<PulledImage, PullError> {
        let _gc_guard = self.gc_lock.read().await;
        let tx = ProgressTx(progress);
        let client = self.client_for(r);
        // Anonymous for now; a bearer/basic RegistryAuth from X-Registry-Auth slots in here.
        let auth = RegistryAuth::Anonymous;

        let (body, _) = client.fetch_manifest(r, None, &auth).await?;
        let top_digest = sha256_digest(&body);
        if let Some(want) = &r.digest {
            if *want != top_digest {
                return Err(PullError::DigestMismatch {
                    what: format!("manifest of {}", r.familiar()),
                    expected: want.clone(),
                    actual: top_digest,
                });
            }
        }
        let mut manifests = vec![top_digest.clone()];
        let what = format!("manifest {top_digest}");
        self.layout
            .write_blob_verified(&top_digest, &body)
            .map_err(|e| blob_write_error(e, what))?;

        let (image, platform_digest) = match manifest::parse(&body)? {
            Manifest::Image(m) => (m, top_digest.clone()),
            Manifest::Index(index) => {
                let entry = manifest::select_linux_amd64(&index)?;
                let digest = entry.digest.clone();
                debug!(%digest, "selected linux/amd64 manifest from index");
                let (body, _) = client.fetch_manifest(r, Some(&digest), &auth).await?;
                let actual = sha256_digest(&body);
                if actual != digest {
                    return Err(PullError::DigestMismatch {
                        what: format!("manifest {digest}"),
                        expected: digest,
                        actual,
                    });
                }
                self.layout
                    .write_blob_verified(&digest, &body)
                    .map_err(|e| blob_write_error(e, format!("manifest {digest}")))?;
                manifests.push(digest.clone());
                match manifest::parse(&body)? {
                    Manifest::Image(m) => (m, digest),
                    Manifest::Index(_) => {
                        return Err(PullError::Invalid {
                            what: "manifest".into(),
                            message: format!("index entry {digest} is itself an index"),
                        })
                    }
                }
            }
        };

        tx.send(Progress::pulling_from(&r.repository, &r.progress_id()));

        let cfg = &image.config;
        if !cfg.media_type.is_empty()
            && cfg.media_type != DOCKER_CONFIG
            && cfg.media_type != OCI_CONFIG
        {
            return Err(PullError::UnsupportedMediaType {
                media_type: cfg.media_type.clone(),
                detail: "not a container image config (is this an artifact?)".into(),
            });
        }
        for l in &image.layers {
            manifest::check_layer(l)?;
        }

        // Config: small, fetched into memory and verified before it is stored.
        let config_known = self.layout.has_blob(&cfg.digest);
        let config_bytes = if config_known {
            let p = self.layout.blob_path(&cfg.digest).map_err(store_to_pull)?;
            fs::read(&p).map_err(|e| PullError::io("reading", p, e))?
        } else {
            let bytes = client
                .fetch_blob_bytes(r, &cfg.digest, &cfg.media_type, cfg.size, &auth)
                .await?;
            self.layout
                .write_blob_verified(&cfg.digest, &bytes)
                .map_err(|e| blob_write_error(e, format!("config {}", cfg.digest)))?;
            bytes
        };
        let config: serde_json::Value =
            serde_json::from_slice(&config_bytes).map_err(|e| PullError::Invalid {
                what: "image config".into(),
                message: e.to_string(),
            })?;
        let diff_ids: Vec<String> = config
            .pointer("/rootfs/diff_ids")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .ok_or_else(|| PullError::Invalid {
                what: "image config".into(),
                message: "missing rootfs.diff_ids".into(),
            })?;
        if diff_ids.len() != image.layers.len() {
            return Err(PullError::Invalid {
                what: "image config".into(),
                message: format!(
                    "{} diff_ids for {} layers",
                    diff_ids.len(),
                    image.layers.len()
                ),
            });
        }
        if let Some(bad) = diff_ids.iter().find(|d| sha256_hex(d).is_none()) {
            return Err(PullError::Invalid {
                what: "image config".into(),
                message: format!("unsupported diff_id {bad}"),
            });
        }
        let chains = chain_ids(&diff_ids);

        let markers: Vec<Option<LayerMarker>> =
            chains.iter().map(|c| self.layout.read_marker(c)).collect();
        let results: Vec<(LayerMarker, bool)> =
            if config_known && markers.iter().all(Option::is_some) {
                // The image is here already: as dockerd, no line per layer.
                markers.into_iter().flatten().map(|m| (m, false)).collect()
            } else {
                let mut jobs = Vec::with_capacity(chains.len());
                for (i, desc) in image.layers.iter().enumerate() {
                    let exists = markers[i].is_some();
                    let status = if exists {
                        "Already exists"
                    } else {
                        "Pulling fs layer"
                    };
                    tx.send(Progress::layer(status, &short_id(&desc.digest)));
                    jobs.push(LayerJob {
                        desc,
                        diff_id: &diff_ids[i],
                        chain: &chains[i],
                        announced_existing: exists,
                    });
                }
                self.fetch_layers(&client, r, &auth, jobs, &tx).await?
            };

        let downloaded = !config_known || results.iter().any(|(_, new)| *new);
        let layers: Vec<LayerRef> = results
            .iter()
            .map(|(m, _)| LayerRef {
                chain_id: m.chain_id.clone(),
                diff_id: m.diff_id.clone(),
                size: m.size,
            })
            .collect();
        let size = layers.iter().map(|l| l.size).sum();

        let refs = ImageRefs {
            config: cfg.digest.clone(),
            manifests,
            layer_blobs: image.layers.iter().map(|l| l.digest.clone()).collect(),
        };
        let refs_path = self.layout.refs_path(&cfg.digest).map_err(store_to_pull)?;
        self.layout
            .write_json_atomic(&refs_path, &refs)
            .map_err(store_to_pull)?;

        // The final `Status:` line is the caller's: it depends on whether a tag moved.
        tx.send(Progress::status(format!("Digest: {top_digest}")));
        info!(image = %r.familiar(), id = %cfg.digest, "pulled");

        Ok(PulledImage {
            id: cfg.digest.clone(),
            manifest_digest: top_digest,
            platform_manifest_digest: platform_digest,
            config,
            layers,
            size,
            downloaded,
        })
    }

    /// Makes every layer of `jobs` (bottom first) committed. Blobs download concurrently
    /// (`max_concurrent_downloads`), layers are unpacked one after the other from the
    /// bottom, as dockerd does, so `Extracting`/`Pull complete` come base first. Returns
    /// each layer's marker and whether this pull built it.
    async fn fetch_layers(
        &self,
        client: &RegistryClient,
        r: &Reference,
        auth: &RegistryAuth,
        jobs: Vec<LayerJob<'_>>,
        tx: &ProgressTx,
    ) -> Result<Vec<(LayerMarker, bool)>, PullError> {
        let n = jobs.len();
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
        // Collected first: a stream adapter holding this closure across the await makes
        // the pull future fail the `Send` check tokio::spawn needs (rustc #102211).
        let mut downloads = Vec::with_capacity(n);
        for job in jobs {
            downloads.push(self.download_layer(client, r, auth, job, tx));
        }
        let download_all = async move {
            let mut stream =
                futures::stream::iter(downloads).buffered(self.max_concurrent_downloads);
            while let Some(res) = stream.next().await {
                let failed = res.is_err();
                if done_tx.send(res).is_err() || failed {
                    break;
                }
            }
            Ok::<(), PullError>(())
        };
        let unpack_in_order = async {
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let fetched = done_rx
                    .recv()
                    .await
                    .ok_or_else(|| PullError::Internal("layer downloads stopped".into()))??;
                out.push(self.commit_layer(fetched, tx).await?);
            }
            Ok(out)
        };
        // An unpack error drops the downloads still running.
        let ((), out) = tokio::try_join!(download_all, unpack_in_order)?;
        Ok(out)
    }

    /// First half of a layer: under the layer's single-flight lock, either find it
    /// committed (by an earlier or concurrent pull) or download its blob. The lock stays
    /// held until [`Self::commit_layer`] has unpacked it.
    async fn download_layer<'s>(
        &'s self,
        client: &RegistryClient,
        r: &Reference,
        auth: &RegistryAuth,
        job: LayerJob<'_>,
        tx: &ProgressTx,
    ) -> Result<FetchedLayer<'s>, PullError> {
        let LayerJob {
            desc,
            diff_id,
            chain,
            announced_existing,
        } = job;
        let id = short_id(&desc.digest);
        let lock = self.layer_lock(chain);
        let guard = LayerGuard {
            svc: self,
            chain: chain.to_string(),
            held: Some(lock.clone().lock_owned().await),
            lock,
        };
        if let Some(m) = self.layout.read_marker(chain) {
            if !announced_existing {
                // A concurrent pull committed it while we waited for the lock.
                tx.send(Progress::layer("Already exists", &id));
            }
            return Ok(FetchedLayer {
                guard,
                state: Fetched::Committed(m),
            });
        }
        let blob = self.ensure_blob(client, r, auth, desc, &id, tx).await?;
        Ok(FetchedLayer {
            guard,
            state: Fetched::Blob {
                blob,
                id,
                diff_id: diff_id.to_string(),
                digest: desc.digest.clone(),
            },
        })
    }

    /// Second half: unpack a downloaded blob into its layer dir (then the lock goes).
    async fn commit_layer(
        &self,
        fetched: FetchedLayer<'_>,
        tx: &ProgressTx,
    ) -> Result<(LayerMarker, bool), PullError> {
        let FetchedLayer { guard, state } = fetched;
        let (blob, id, diff_id, digest) = match state {
            Fetched::Committed(m) => return Ok((m, false)),
            Fetched::Blob {
                blob,
                id,
                diff_id,
                digest,
            } => (blob, id, diff_id, digest),
        };
        let layout = self.layout.clone();
        let (chain_s, id_s, tx_s) = (guard.chain.clone(), id.clone(), tx.clone());
        let marker = tokio::task::spawn_blocking(move || {
            unpack_layer(&layout, &chain_s, &diff_id, &digest, &blob, &id_s, &tx_s)
        })
        .await
        .map_err(|e| PullError::Internal(format!("unpack task: {e}")))??;
        tx.send(Progress::layer("Pull complete", &id));
        drop(guard);
        Ok((marker, true))
    }

    /// Downloads a layer blob into the content store (verified), unless present.
    async fn ensure_blob(
        &self,
        client: &RegistryClient,
        r: &Reference,
        auth: &RegistryAuth,
        desc: &Descriptor,
        id: &str,
        tx: &ProgressTx,
    ) -> Result<PathBuf, PullError> {
        let dest = self.layout.blob_path(&desc.digest).map_err(store_to_pull)?;
        if dest.is_file() {
            return Ok(dest);
        }
        let mut stream = client
            .blob_stream(r, &desc.digest, &desc.media_type, desc.size, auth)
            .await?;
        let total = u64::try_from(desc.size)
            .ok()
            .filter(|s| *s > 0)
            .or(stream.content_length)
            .unwrap_or(0);
        let tmp_path = self.layout.ingest_path();
        let tmp = TempFile(Some(tmp_path.clone()));
        let mut file = tokio::fs::File::create(&tmp_path)
            .await
            .map_err(|e| PullError::io("creating", &tmp_path, e))?;
        let mut hasher = Sha256::new();
        let mut current: u64 = 0;
        let mut throttle = Throttle::new();
        while let Some(chunk) = stream.next().await {
            if tx.cancelled() {
                // The TempFile guard removes the partial download.
                return Err(PullError::Cancelled);
            }
            let chunk = chunk.map_err(|e| map_stream_error(e, r.registry_host(), &desc.digest))?;
            current += chunk.len() as u64;
            if total > 0 && current > total {
                // A registry streaming more than the manifest says cannot be right.
                return Err(PullError::DigestMismatch {
                    what: format!("blob {}", desc.digest),
                    expected: format!("{} ({} bytes)", desc.digest, total),
                    actual: format!("more than {total} bytes"),
                });
            }
            hasher.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(|e| PullError::io("writing", &tmp_path, e))?;
            if throttle.ready(current == total) {
                tx.send(Progress::transfer("Downloading", id, current, total));
            }
        }
        file.sync_all()
            .await
            .map_err(|e| PullError::io("syncing", &tmp_path, e))?;
        drop(file);
        tx.send(Progress::layer("Verifying Checksum", id));
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != desc.digest {
            return Err(PullError::DigestMismatch {
                what: format!("blob {}", desc.digest),
                expected: desc.digest.clone(),
                actual,
            });
        }
        tokio::fs::rename(&tmp_path, &dest)
            .await
            .map_err(|e| PullError::io("committing blob", &dest, e))?;
        let mut tmp = tmp;
        tmp.0 = None;
        tx.send(Progress::layer("Download complete", id));
        Ok(dest)
    }

    /// Diff dirs for chain IDs, in the order given (bottom first for a `PulledImage`;
    /// overlayfs `lowerdir=` wants top first, so reverse). Pure path computation.
    pub fn layer_dirs(&self, chain_ids: &[String]) -> Result<Vec<PathBuf>, StoreError> {
        chain_ids
            .iter()
            .map(|c| self.layout.layer_dir(c).map(|d| d.join("diff")))
            .collect()
    }

    /// True if the layer is fully unpacked (its `committed` marker exists).
    pub fn layer_exists(&self, chain_id: &str) -> bool {
        self.layout.read_marker(chain_id).is_some()
    }

    /// The committed layer's marker (diff ID, size, source blob).
    pub fn layer_info(&self, chain_id: &str) -> Option<LayerMarker> {
        self.layout.read_marker(chain_id)
    }

    /// Removes one layer dir. It is first renamed away, so it stops being "committed"
    /// atomically even if the recursive delete is interrupted.
    pub fn remove_layer(&self, chain_id: &str) -> Result<(), StoreError> {
        let dir = self.layout.layer_dir(chain_id)?;
        let doomed = self
            .layout
            .layers_dir()
            .join(format!("{TMP_PREFIX}rm-{}", store::unique_suffix()));
        match fs::rename(&dir, &doomed) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io("removing layer", &dir, e)),
        }
        fs::remove_dir_all(&doomed).map_err(|e| StoreError::io("removing layer", &doomed, e))
    }

    /// The image config JSON for an image ID (`sha256:<hex>`, as returned by `pull`).
    pub fn read_config(&self, id: &str) -> Result<serde_json::Value, StoreError> {
        let p = self.layout.blob_path(id)?;
        let data = fs::read(&p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotFound(format!("image config {id}")),
            _ => StoreError::io("reading", &p, e),
        })?;
        serde_json::from_slice(&data).map_err(|e| StoreError::Json {
            what: format!("image config {id}"),
            source: e,
        })
    }

    /// Path of a blob in the content store, if present (for save/push/export later).
    pub fn blob_path(&self, digest: &str) -> Option<PathBuf> {
        self.layout.blob_path(digest).ok().filter(|p| p.is_file())
    }

    /// Deletes every layer whose chain ID is not in `keep_chain_ids` and every blob not
    /// needed by a kept layer or by an image in `keep_image_ids`, plus leftovers of
    /// interrupted pulls. Waits for running pulls; pulls wait for it.
    ///
    /// The daemon must record a pulled image before the next gc, or gc will treat it as
    /// unreferenced.
    pub async fn gc(
        &self,
        keep_chain_ids: &HashSet<String>,
        keep_image_ids: &HashSet<String>,
    ) -> Result<GcStats, StoreError> {
        let _guard = self.gc_lock.write().await;
        let layout = self.layout.clone();
        let keep_layers: HashSet<String> = keep_chain_ids
            .iter()
            .filter_map(|c| sha256_hex(c).map(str::to_string))
            .collect();
        let keep_images: HashSet<String> = keep_image_ids
            .iter()
            .filter_map(|c| sha256_hex(c).map(str::to_string))
            .collect();
        tokio::task::spawn_blocking(move || gc_blocking(&layout, &keep_layers, &keep_images))
            .await
            .map_err(|e| StoreError::Internal(format!("gc task: {e}")))?
    }
}

/// Unpacks a verified blob into a staging dir, checks the diff ID, writes the marker and
/// renames the whole dir into place: a layer dir either does not exist or is complete.
fn unpack_layer(
    layout: &Layout,
    chain: &str,
    diff_id: &str,
    blob_digest: &str,
    blob: &Path,
    id: &str,
    tx: &ProgressTx,
) -> Result<LayerMarker, PullError> {
    let unpack_err = |source: UnpackError| PullError::Unpack {
        digest: blob_digest.to_string(),
        source,
    };
    let staging = layout.staging_dir(chain).map_err(store_to_pull)?;
    let diff = staging.join("diff");
    fs::create_dir_all(&diff).map_err(|e| PullError::io("creating", &diff, e))?;
    let cleanup = |e: PullError| {
        if let Err(rm) = store::remove_path(&staging) {
            warn!(path = %staging.display(), error = %rm, "removing failed layer");
        }
        e
    };

    let file = fs::File::open(blob).map_err(|e| cleanup(PullError::io("opening", blob, e)))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut throttle = Throttle::new();
    let stats = unpack::apply_layer(file, &diff, |current| {
        if throttle.ready(current >= total) {
            tx.send(Progress::transfer("Extracting", id, current, total));
        }
    })
    .map_err(|e| cleanup(unpack_err(e)))?;
    if stats.diff_id != diff_id {
        return Err(cleanup(unpack_err(UnpackError::DiffIdMismatch {
            expected: diff_id.to_string(),
            actual: stats.diff_id,
        })));
    }

    // One syncfs per layer instead of an fsync per file: the marker must not reach the
    // disk before the files it vouches for.
    if let Ok(d) = fs::File::open(&staging) {
        use std::os::fd::AsRawFd;
        if let Err(e) = nix::unistd::syncfs(d.as_raw_fd()) {
            warn!(error = %e, "syncfs before committing layer");
        }
    }
    let marker = LayerMarker {
        chain_id: chain.to_string(),
        diff_id: diff_id.to_string(),
        size: stats.size,
        blob: blob_digest.to_string(),
    };
    layout
        .write_json_atomic(&staging.join(COMMITTED), &marker)
        .map_err(|e| cleanup(store_to_pull(e)))?;

    let final_dir = layout.layer_dir(chain).map_err(store_to_pull)?;
    if let Some(existing) = layout.read_marker(chain) {
        // Someone else (another process, or a pull we were cancelled from) won the race.
        let _ = store::remove_path(&staging);
        return Ok(existing);
    }
    // A dir without marker is debris from a crash before this design's rename; clear it.
    store::remove_path(&final_dir)
        .map_err(|e| cleanup(PullError::io("removing", &final_dir, e)))?;
    fs::rename(&staging, &final_dir)
        .map_err(|e| cleanup(PullError::io("committing layer", &final_dir, e)))?;
    debug!(chain, size = stats.size, "layer committed");
    Ok(marker)
}

fn gc_blocking(
    layout: &Layout,
    keep_layers: &HashSet<String>,
    keep_images: &HashSet<String>,
) -> Result<GcStats, StoreError> {
    let mut stats = GcStats::default();
    let mut keep_blobs: HashSet<String> = HashSet::new();

    let layers_dir = layout.layers_dir();
    let entries =
        fs::read_dir(&layers_dir).map_err(|e| StoreError::io("listing", &layers_dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("listing", &layers_dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let marker = layout.read_marker(&name);
        let keep = keep_layers.contains(&name) && marker.is_some();
        if keep {
            if let Some(m) = &marker {
                if let Some(h) = sha256_hex(&m.blob) {
                    keep_blobs.insert(h.to_string());
                }
            }
            continue;
        }
        let path = entry.path();
        store::remove_path(&path).map_err(|e| StoreError::io("removing", &path, e))?;
        if let Some(m) = marker {
            stats.bytes_freed += m.size;
            stats.layers_removed.push(m.chain_id);
        }
    }

    let refs_dir = layout.refs_dir();
    let entries = fs::read_dir(&refs_dir).map_err(|e| StoreError::io("listing", &refs_dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("listing", &refs_dir, e))?;
        let path = entry.path();
        let hex = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !keep_images.contains(&hex) {
            store::remove_path(&path).map_err(|e| StoreError::io("removing", &path, e))?;
            continue;
        }
        let refs: ImageRefs = match fs::read(&path)
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
        {
            Some(r) => r,
            None => continue,
        };
        for d in refs
            .manifests
            .iter()
            .chain(&refs.layer_blobs)
            .chain(std::iter::once(&refs.config))
        {
            if let Some(h) = sha256_hex(d) {
                keep_blobs.insert(h.to_string());
            }
        }
    }
    keep_blobs.extend(keep_images.iter().cloned());

    let blobs_dir = layout.blobs_dir();
    let entries = fs::read_dir(&blobs_dir).map_err(|e| StoreError::io("listing", &blobs_dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("listing", &blobs_dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if keep_blobs.contains(&name) {
            continue;
        }
        let path = entry.path();
        let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
        store::remove_path(&path).map_err(|e| StoreError::io("removing", &path, e))?;
        stats.blobs_removed += 1;
        stats.bytes_freed += len;
    }

    // No pull is running (we hold the gc lock exclusively): all ingest files are debris.
    let ingest = layout.ingest_dir();
    if let Ok(entries) = fs::read_dir(&ingest) {
        for entry in entries.flatten() {
            let _ = store::remove_path(&entry.path());
        }
    }
    Ok(stats)
}
