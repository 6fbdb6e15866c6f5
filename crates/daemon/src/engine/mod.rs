//! The daemon core: containers, images and the default bridge. API layers (Docker HTTP now,
//! CRI later) only parse requests and call into this; nothing here knows about HTTP.

pub mod containers;
pub mod error;
pub mod events;
pub mod filters;
pub mod handle;
pub mod host_config;
pub mod images;
pub mod list;
pub mod logs;
pub mod merge;
pub mod names;
pub mod restore;
pub mod unsupported;

use crate::config::Config;
use crate::model::{Container, Image};
use crate::runtime::Runc;
pub use error::{internal, EngineError, Result};
use handle::Handle;
use ipnet::Ipv4Net;
use pouch_store::Store;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, RwLock};

/// The default bridge network.
#[derive(Debug, Clone)]
pub struct BridgeNetwork {
    pub name: String,
    /// Gateway address with the subnet's prefix, e.g. 172.18.0.1/16.
    pub gateway: Ipv4Net,
}

impl BridgeNetwork {
    pub fn subnet(&self) -> Ipv4Net {
        self.gateway.trunc()
    }
    pub fn gateway_ip(&self) -> Ipv4Addr {
        self.gateway.addr()
    }
}

/// Images by id and the tags pointing at them, mirrored from the store for fast lookup.
#[derive(Default)]
pub struct ImageIndex {
    pub by_id: HashMap<String, Arc<Image>>,
    /// Familiar reference (`127.0.0.1:5000/busybox:latest`) → image id.
    pub tags: HashMap<String, String>,
}

pub struct Engine {
    pub cfg: Config,
    pub store: Store,
    pub images: pouch_image::ImageService,
    pub runtime: Runc,
    pub bridge: BridgeNetwork,
    pub daemon_id: String,
    /// `runc --version`'s version and commit, read once at start for `info`/`version`.
    pub runtime_version: String,
    pub runtime_commit: String,
    /// When this daemon started (the built-in networks' `Created`).
    pub started_at: String,
    /// The host runs cgroup v2 only (unified): decides dockerd's CgroupnsMode default.
    pub cgroup_v2: bool,
    /// System events (`/events`).
    pub events: events::EventBus,
    containers: RwLock<HashMap<String, Arc<Handle>>>,
    image_index: RwLock<ImageIndex>,
    ip_lock: tokio::sync::Mutex<()>,
    /// Serialises pulls of the same reference so a second pull waits for the first.
    pull_locks: tokio::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

fn read_lock<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}
fn write_lock<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl Engine {
    /// Open the metadata, set up the bridge and load every record. Reconciliation with what
    /// really runs happens in [`restore::reconcile`], called right after.
    pub async fn open(cfg: Config) -> anyhow::Result<Arc<Engine>> {
        use anyhow::Context;
        let data_root = &cfg.flags.data_root;
        for d in [
            data_root.join("containers"),
            cfg.images_root(),
            cfg.flags.exec_root.join("s"),
            cfg.runtime_root(),
        ] {
            std::fs::create_dir_all(&d).with_context(|| format!("create {}", d.display()))?;
        }
        let store = Store::open(&cfg.db_path()).context("open metadata database")?;
        let daemon_id = match store.get_setting("daemon.id")? {
            Some(id) => id,
            None => {
                let id = random_hex(32);
                store.set_setting("daemon.id", &id)?;
                id
            }
        };
        let bridge = setup_bridge(&cfg, &store).await?;
        let insecure = insecure_cidrs(&cfg.flags.insecure_registries);
        let images = pouch_image::ImageService::new(cfg.images_root(), insecure.0, insecure.1)
            .context("open image store")?;
        let runtime = Runc {
            path: cfg.runtime_path.clone(),
            root: cfg.runtime_root(),
        };

        let mut index = ImageIndex::default();
        for img in store.list_images::<Image>()? {
            match img {
                Ok(img) => {
                    index.by_id.insert(img.id.clone(), Arc::new(img));
                }
                Err(e) => tracing::error!(error = %e, "image record skipped"),
            }
        }
        for (name, id) in store.list_tags()? {
            index.tags.insert(name, id);
        }
        let (runtime_version, runtime_commit) = runtime.version().await;
        let mut containers = HashMap::new();
        for c in store.list_containers::<Container>()? {
            let c = match c {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "container record skipped");
                    continue;
                }
            };
            containers.insert(c.id.clone(), Arc::new(Handle::new(c)));
        }
        Ok(Arc::new(Engine {
            cfg,
            store,
            images,
            runtime,
            bridge,
            daemon_id,
            runtime_version,
            runtime_commit,
            started_at: now_rfc3339(),
            cgroup_v2: pouch_cgroups::Hierarchy::detect()
                .is_ok_and(|h| h.version() == pouch_cgroups::Version::V2),
            events: events::EventBus::new(),
            containers: RwLock::new(containers),
            image_index: RwLock::new(index),
            ip_lock: tokio::sync::Mutex::new(()),
            pull_locks: tokio::sync::Mutex::new(HashMap::new()),
        }))
    }

    /// The id of a built-in network (`bridge`, `host`, `none`), stable for this daemon.
    pub fn network_id(&self, name: &str) -> String {
        derived_id(&[&self.daemon_id, "network", name])
    }

    pub fn handles(&self) -> Vec<Arc<Handle>> {
        read_lock(&self.containers).values().cloned().collect()
    }

    fn insert_handle(&self, h: Arc<Handle>) {
        write_lock(&self.containers).insert(h.id.clone(), h);
    }

    fn remove_handle(&self, id: &str) {
        write_lock(&self.containers).remove(id);
    }

    /// Find a container by full id, name (with or without `/`), or unique id prefix.
    pub async fn find(&self, name_or_id: &str) -> Result<Arc<Handle>> {
        let key = name_or_id.strip_prefix('/').unwrap_or(name_or_id);
        let not_found = || EngineError::NotFound(format!("No such container: {name_or_id}"));
        if key.is_empty() {
            return Err(not_found());
        }
        let handles = self.handles();
        if let Some(h) = handles.iter().find(|h| h.id == key) {
            return Ok(h.clone());
        }
        for h in &handles {
            if h.rec.lock().await.name == key {
                return Ok(h.clone());
            }
        }
        let matches: Vec<_> = handles.iter().filter(|h| h.id.starts_with(key)).collect();
        match matches.len() {
            0 => Err(not_found()),
            1 => Ok(matches[0].clone()),
            _ => Err(EngineError::InvalidParameter(format!(
                "multiple IDs found with provided prefix: {key}"
            ))),
        }
    }

    pub fn image_index(&self) -> std::sync::RwLockReadGuard<'_, ImageIndex> {
        read_lock(&self.image_index)
    }

    fn image_index_mut(&self) -> std::sync::RwLockWriteGuard<'_, ImageIndex> {
        write_lock(&self.image_index)
    }

    /// Counts for `info`.
    pub async fn container_counts(&self) -> (usize, usize, usize, usize) {
        let (mut running, mut paused, mut stopped) = (0, 0, 0);
        let handles = self.handles();
        for h in &handles {
            match h.rec.lock().await.state.status {
                crate::model::Status::Running | crate::model::Status::Restarting => running += 1,
                crate::model::Status::Paused => paused += 1,
                _ => stopped += 1,
            }
        }
        (handles.len(), running, paused, stopped)
    }
}

/// Registries given as CIDRs and as host names; loopback is always insecure.
fn insecure_cidrs(flags: &[String]) -> (Vec<ipnet::IpNet>, Vec<String>) {
    let mut cidrs: Vec<ipnet::IpNet> = vec!["127.0.0.0/8".parse().expect("static CIDR")];
    let mut hosts = Vec::new();
    for f in flags {
        match f.parse::<ipnet::IpNet>() {
            Ok(n) => cidrs.push(n),
            Err(_) => hosts.push(f.clone()),
        }
    }
    (cidrs, hosts)
}

/// Pick (first start) or reuse (stored) the bridge address, then make sure the bridge exists.
async fn setup_bridge(cfg: &Config, store: &Store) -> anyhow::Result<BridgeNetwork> {
    use anyhow::{bail, Context};
    let name = cfg.flags.bridge_name.clone();
    if name.is_empty() || name.len() > 15 {
        bail!("invalid bridge name {name:?}: 1 to 15 characters");
    }
    let key = format!("bridge.{name}.bip");
    let stored = store.get_setting(&key)?;
    let routes = pouch_network::host_ipv4_routes(&name)
        .await
        .context("read host routes")?;
    let gateway: Ipv4Net = match (&cfg.flags.bip, &stored) {
        (Some(bip), _) => {
            let gw: Ipv4Net = bip.parse().with_context(|| {
                format!("invalid --bip {bip:?}: want an address with prefix, e.g. 172.18.0.1/16")
            })?;
            if gw.addr() == gw.network() || gw.prefix_len() > 30 {
                bail!("invalid --bip {bip}: the gateway must be a host address in a subnet of /30 or larger");
            }
            if stored.as_deref() != Some(bip.as_str()) {
                pouch_network::ipam::check_no_overlap(gw.trunc(), &routes)
                    .map_err(|e| anyhow::anyhow!("--bip {bip}: {e}"))?;
            }
            gw
        }
        (None, Some(s)) => {
            let gw: Ipv4Net = s
                .parse()
                .with_context(|| format!("stored bridge address {s:?} is invalid"))?;
            // Something else may have taken the subnet while we were down (our own bridge's
            // routes are not in `routes`). Choose again unless containers use the bridge.
            match pouch_network::ipam::check_no_overlap(gw.trunc(), &routes) {
                Ok(()) => gw,
                Err(e) if pouch_network::list_bridge_ports(&name).await?.is_empty() => {
                    tracing::warn!(bridge = %name, stored = %gw, error = %e, "stored bridge subnet is taken; choosing another");
                    probe_bridge_gateway(&routes)?
                }
                Err(e) => {
                    tracing::warn!(bridge = %name, stored = %gw, error = %e, "bridge subnet overlaps a host route; kept for the containers on it");
                    gw
                }
            }
        }
        (None, None) => probe_bridge_gateway(&routes)?,
    };
    pouch_network::ensure_bridge(&name, gateway)
        .await
        .with_context(|| format!("set up bridge {name}"))?;
    store.set_setting(&key, &gateway.to_string())?;
    Ok(BridgeNetwork { name, gateway })
}

/// The first free default pool for the bridge, as its gateway address (first host).
fn probe_bridge_gateway(routes: &[Ipv4Net]) -> anyhow::Result<Ipv4Net> {
    use anyhow::Context;
    let subnet = pouch_network::ipam::choose_bridge_subnet(routes)
        .context("no free private /16 for the default bridge: pass --bip")?;
    let gw = subnet.hosts().next().context("empty subnet")?;
    Ipv4Net::new(gw, subnet.prefix_len()).context("gateway address")
}

pub fn random_hex(bytes: usize) -> String {
    let v: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    hex::encode(v)
}

/// A stable 64-hex id for a thing that has a name but no stored id (the built-in networks,
/// an endpoint): clients expect Docker's id shape.
pub fn derived_id(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
