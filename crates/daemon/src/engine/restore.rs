//! Reconcile the database with what really exists after a (re)start: adopt containers whose
//! shim is alive (live-restore), record exits that happened while pouchd was down, and clean
//! up what belongs to this daemon but nothing references.

use super::Engine;
use crate::model::Status;
use crate::rootfs::{self, ContainerPaths};
use crate::runtime::OciRuntime;
use crate::shim;
use shim_protocol::ExitRecord;
use std::collections::HashSet;
use std::sync::Arc;
use tracing::{info, warn};

pub async fn reconcile(engine: &Arc<Engine>) {
    let mut known = HashSet::new();
    let mut veths = HashSet::new();
    for h in engine.handles() {
        known.insert(h.id.clone());
        let (status, auto_remove) = {
            let c = h.rec.lock().await;
            (c.state.status, c.host_config.auto_remove)
        };
        match status {
            Status::Running | Status::Paused | Status::Restarting => {
                match shim::connect(&engine.cfg.shim_socket(&h.id)).await {
                    Ok(conn) => {
                        let mut c = h.rec.lock().await;
                        c.state.pid = conn.hello.pid;
                        c.state.shim_pid = conn.hello.shim_pid;
                        if let Some(ep) = &c.endpoint {
                            veths.insert(ep.host_veth.clone());
                        }
                        info!(id = %&h.id[..12], pid = conn.hello.pid, "adopted running container");
                        drop(c);
                        engine.spawn_monitor(h.clone(), conn);
                    }
                    Err(_) => {
                        let exit_file =
                            ContainerPaths::new(engine.cfg.container_dir(&h.id)).exit_file();
                        let record = shim::read_exit_file(&exit_file).unwrap_or_else(|| {
                            warn!(id = %&h.id[..12], "no shim and no exit record; marking exited");
                            ExitRecord {
                                exit_code: 255,
                                exited_at: super::now_rfc3339(),
                                oom_killed: false,
                            }
                        });
                        // Kill anything still running without a shim: it cannot be supervised.
                        let _ = engine.runtime.kill(&h.id, "SIGKILL", true).await;
                        info!(id = %&h.id[..12], exit_code = record.exit_code, "container exited while pouchd was down");
                        engine.handle_exit(&h, record).await;
                    }
                }
            }
            Status::Removing | Status::Dead => {
                if let Err(e) = engine.remove_container(&h.id, true).await {
                    warn!(id = %&h.id[..12], error = %e, "finishing removal");
                }
            }
            Status::Created | Status::Exited => {
                let mut c = h.rec.lock().await;
                engine.release_resources(&mut c).await;
                let _ = engine.store.update_container(&c.id, &*c);
                drop(c);
                // As dockerd's restore: an AutoRemove container that is not running goes,
                // whether it exited or never started (its client is gone with the daemon).
                if auto_remove {
                    if let Err(e) = engine.remove_container(&h.id, true).await {
                        warn!(id = %&h.id[..12], error = %e, "auto-remove on restore");
                    }
                }
            }
        }
    }
    cleanup_leftovers(engine, &known, &veths).await;
    // Without live-restore nothing outlives the daemon: like dockerd, stop what survived a
    // crash (SIGKILL could not stop it).
    if !engine.cfg.flags.live_restore {
        info!("live-restore is off: stopping any container still running");
        engine.stop_all().await;
    }
}

/// Runtime containers, mounts and bridge ports of this daemon that no record explains.
async fn cleanup_leftovers(
    engine: &Arc<Engine>,
    known: &HashSet<String>,
    live_veths: &HashSet<String>,
) {
    match engine.runtime.list().await {
        Ok(ids) => {
            for id in ids.iter().filter(|id| !known.contains(*id)) {
                warn!(id = %id, "removing unknown runtime container");
                let _ = engine.runtime.delete(id, true).await;
            }
        }
        Err(e) => warn!(error = %e, "runtime list"),
    }
    for m in rootfs::mounts_under(&engine.cfg.flags.data_root.join("containers")) {
        let id = m
            .parent()
            .and_then(|p| p.file_name())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let running = match engine.find(&id).await {
            Ok(h) => h.rec.lock().await.is_running(),
            Err(_) => false,
        };
        if !running {
            warn!(mount = %m.display(), "unmounting leftover rootfs");
            let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    match pouch_network::list_bridge_ports(&engine.bridge.name).await {
        Ok(ports) => {
            for p in ports.iter().filter(|p| !live_veths.contains(*p)) {
                warn!(veth = %p, "removing leftover veth");
                let _ = pouch_network::detach_container(p).await;
            }
        }
        Err(e) => warn!(error = %e, "list bridge ports"),
    }
}

/// On shutdown: when nothing of ours runs any more, remove the bridge, its firewall rules and
/// our cgroup parents, so a stopped daemon leaves the host as it found it.
pub async fn teardown_if_idle(engine: &Arc<Engine>) {
    for h in engine.handles() {
        if h.rec.lock().await.is_running() {
            return;
        }
    }
    if let Err(e) = pouch_network::remove_bridge(&engine.bridge.name, engine.bridge.subnet()).await
    {
        warn!(error = %e, "remove bridge");
    }
    match pouch_cgroups::Hierarchy::detect() {
        Ok(h) => {
            for e in h.remove(&engine.cfg.cgroup_parent) {
                warn!(error = %e, "remove cgroup");
            }
        }
        Err(e) => warn!(error = %e, "cgroups"),
    }
}
