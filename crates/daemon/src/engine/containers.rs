//! Container lifecycle: create, start, stop, kill, remove, wait, and the exit path.

use super::handle::{Handle, Output};
use super::{merge, names, now_rfc3339, random_hex, Engine, EngineError, Result};
use crate::model::{Container, ContainerConfig, CreateBody, Endpoint, Status};
use crate::rootfs::{self, ContainerPaths};
use crate::runtime::OciRuntime;
use crate::shim::{self, ShimEvent};
use crate::spec;
use bytes::Bytes;
use shim_protocol::{ExitRecord, Kind};
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info, warn};

/// How `wait` decides it is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

impl WaitCondition {
    pub fn parse(s: &str) -> Option<WaitCondition> {
        match s {
            "" | "not-running" => Some(WaitCondition::NotRunning),
            "next-exit" => Some(WaitCondition::NextExit),
            "removed" => Some(WaitCondition::Removed),
            _ => None,
        }
    }
}

/// Signal names and numbers as `docker kill -s` takes them, normalised for `runc kill`.
pub fn parse_signal(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("SIGKILL".into());
    }
    if let Ok(n) = s.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n)
            .ok()
            .map(|sig| sig.as_str().to_string());
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .ok()
        .map(|sig| sig.as_str().to_string())
}

/// The exit code Docker reports when the runtime could not start the process.
fn start_failure_exit_code(msg: &str) -> i32 {
    if msg.contains("executable file not found") || msg.contains("no such file or directory") {
        127
    } else if msg.contains("permission denied") {
        126
    } else {
        128
    }
}

/// A wait whose starting point is fixed; [`Waiter::wait`] returns the exit code.
pub struct Waiter {
    rx: tokio::sync::watch::Receiver<super::handle::ExitGen>,
    start: u64,
    running: bool,
    /// The recorded exit code at the snapshot: the answer when it was not running.
    exit_code: i32,
    cond: WaitCondition,
}

impl Waiter {
    pub async fn wait(mut self) -> i32 {
        let (start, running, cond) = (self.start, self.running, self.cond);
        if cond == WaitCondition::NotRunning && !running {
            return self.exit_code;
        }
        let done = |g: &super::handle::ExitGen| match cond {
            WaitCondition::NotRunning => !running || g.exits > start,
            WaitCondition::NextExit => g.exits > start,
            WaitCondition::Removed => g.removed,
        };
        let code = match self.rx.wait_for(done).await {
            Ok(g) => Some(g.exit_code),
            // Sender dropped: the container is gone.
            Err(_) => None,
        };
        code.unwrap_or_else(|| self.rx.borrow().exit_code)
    }
}

impl Engine {
    fn paths(&self, id: &str) -> ContainerPaths {
        ContainerPaths::new(self.cfg.container_dir(id))
    }

    pub async fn create_container(
        &self,
        name: Option<&str>,
        platform: Option<&str>,
        body: CreateBody,
    ) -> Result<(String, Vec<String>)> {
        let mut config: ContainerConfig = body.config;
        let mut host_config = body.host_config.unwrap_or_default();
        if config.image.is_empty() {
            return Err(EngineError::InvalidParameter(
                "config cannot be empty in order to create a container".into(),
            ));
        }
        let name = match name {
            Some(n) if !n.is_empty() => {
                if !names::valid_name(n) {
                    return Err(EngineError::InvalidParameter(format!(
                        "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                    )));
                }
                n.trim_start_matches('/').to_string()
            }
            _ => names::random_name(),
        };
        let wanted = platform
            .filter(|p| !p.is_empty())
            .map(merge::Platform::parse)
            .transpose()
            .map_err(EngineError::InvalidParameter)?;
        // Settings first, as dockerd checks them: a refused option must not cost a pull
        // (the CLI pulls on a 404 for the image).
        if let Some(msg) = super::unsupported::unsupported_option(&host_config.extra, &config.extra)
            .or_else(|| {
                super::unsupported::unsupported_endpoint_option(body.networking_config.as_ref())
            })
        {
            return Err(EngineError::InvalidParameter(msg));
        }
        super::host_config::check(&host_config).map_err(EngineError::InvalidParameter)?;
        if let Some(sig) = config.stop_signal.as_deref().filter(|s| !s.is_empty()) {
            if parse_signal(sig).is_none() {
                return Err(EngineError::InvalidParameter(format!(
                    "Invalid signal: {sig}"
                )));
            }
        }
        let runtime = self.cfg.runtime_name();
        match host_config.runtime.as_str() {
            "" => host_config.runtime = runtime,
            r if r == runtime => {}
            r => {
                return Err(EngineError::InvalidParameter(format!(
                    "unknown or invalid runtime name: {r}"
                )))
            }
        }
        spec::SecurityOptions::parse(host_config.security_opt.as_deref().unwrap_or(&[]))
            .map_err(EngineError::InvalidParameter)?;
        super::host_config::fill_defaults(
            &mut host_config,
            self.cgroup_v2,
            spec::MASKED_PATHS,
            spec::READONLY_PATHS,
        );
        match host_config.network_mode.as_str() {
            // Kept as sent (the CLI sends `default`), as dockerd keeps it.
            "" => host_config.network_mode = "default".into(),
            "default" | "bridge" => {}
            "none" | "host" => {}
            m if m.starts_with("container:") => {
                return Err(EngineError::InvalidParameter(format!(
                    "network mode {m} is not supported yet"
                )))
            }
            // dockerd's words, but 400 at create instead of 404 at start: the docker CLI
            // takes any 404 on create for a missing image and would pull it again.
            m => {
                return Err(EngineError::InvalidParameter(format!(
                    "network {m} not found"
                )))
            }
        }
        merge::check_env(config.env.as_deref().unwrap_or(&[]))
            .map_err(EngineError::InvalidParameter)?;
        merge::check_working_dir(&config.working_dir).map_err(EngineError::InvalidParameter)?;
        let image = self.resolve_image(&config.image)?;
        if let Some(msg) = wanted.and_then(|w| w.mismatch(&image.config, &config.image)) {
            // dockerd's 404: the CLI then pulls for that platform, which says what is
            // missing.
            return Err(EngineError::NotFound(msg));
        }
        let id = random_hex(32);
        let image_env = image.run_config_strings("Env").unwrap_or_default();
        let env = merge::merge_env(&image_env, config.env.as_deref().unwrap_or(&[]));
        let (entrypoint, cmd) = merge::resolve_command(
            image.run_config_strings("Entrypoint"),
            image.run_config_strings("Cmd"),
            config.entrypoint.clone(),
            config.cmd.clone(),
        );
        let mut argv: Vec<String> = entrypoint
            .iter()
            .chain(cmd.iter())
            .flatten()
            .cloned()
            .collect();
        if argv.is_empty() {
            // dockerd's wording (the CLI prints it as is).
            return Err(EngineError::InvalidParameter("No command specified".into()));
        }
        let path = argv.remove(0);
        config.env = Some(env);
        config.cmd = cmd;
        config.entrypoint = entrypoint;
        if config.working_dir.is_empty() {
            config.working_dir = image.run_config_str("WorkingDir");
        }
        if config.user.is_empty() {
            config.user = image.run_config_str("User");
        }
        if config.hostname.is_empty() {
            config.hostname = if host_config.network_mode == "host" {
                nix::unistd::gethostname()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or_default()
            } else {
                id[..12].to_string()
            };
        }
        if config.stop_signal.is_none() {
            config.stop_signal = image
                .run_config()
                .get("StopSignal")
                .and_then(|v| v.as_str())
                .map(String::from);
        }
        let mut labels = image
            .run_config()
            .get("Labels")
            .and_then(|l| {
                serde_json::from_value::<std::collections::BTreeMap<String, String>>(l.clone()).ok()
            })
            .unwrap_or_default();
        labels.extend(config.labels.take().unwrap_or_default());
        config.labels = Some(labels);
        merge::shape_config_extra(image.run_config(), &mut config.extra);
        let container = Container {
            id: id.clone(),
            name: name.clone(),
            created: now_rfc3339(),
            image_id: image.id.clone(),
            path,
            args: argv,
            config,
            host_config,
            state: Default::default(),
            layers: image.layers.clone(),
            endpoint: None,
            restart_count: 0,
        };
        let dir = self.cfg.container_dir(&id);
        std::fs::create_dir_all(&dir)?;
        if let Err(e) = self.store.insert_container(&id, &name, &container) {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(match e {
                pouch_store::StoreError::NameInUse(_) => {
                    let other = self
                        .find(&name)
                        .await
                        .map(|h| h.id.clone())
                        .unwrap_or_default();
                    EngineError::Conflict(format!(
                        "Conflict. The container name \"/{name}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                    ))
                }
                other => other.into(),
            });
        }
        let created = self.container_event(&container, "create", &[]);
        self.insert_handle(Arc::new(Handle::new(container)));
        self.events.publish(created);
        info!(id = %&id[..12], name, "container created");
        Ok((id, vec![]))
    }

    /// Start a created or exited container. Errors that come from the user's command carry
    /// the runtime's message (the CLI turns "executable file not found" into 127).
    pub async fn start_container(self: &Arc<Self>, name: &str) -> Result<()> {
        let h = self.find(name).await?;
        let _op = h.op.lock().await;
        let c = h.rec.lock().await.clone();
        match c.state.status {
            Status::Running | Status::Restarting => {
                return Err(EngineError::NotModified("container already started".into()))
            }
            Status::Paused => {
                return Err(EngineError::Conflict(
                    "cannot start a paused container, try unpause instead".into(),
                ))
            }
            Status::Removing | Status::Dead => {
                return Err(EngineError::Conflict(format!(
                    "container {} is marked for removal and cannot be started",
                    c.id
                )))
            }
            Status::Created | Status::Exited => {}
        }
        match self.start_locked(&h, c).await {
            Ok(()) => Ok(()),
            Err(e) => {
                // Nothing may be left half-made: runtime state, mount, veth, IP.
                let mut c = h.rec.lock().await;
                self.release_resources(&mut c).await;
                let msg = e.to_string();
                if c.state.status == Status::Running {
                    c.state.status = Status::Exited;
                }
                c.state.exit_code = start_failure_exit_code(&msg);
                c.state.error = msg;
                c.state.pid = 0;
                c.state.shim_pid = 0;
                // FinishedAt stays as it was: nothing ran (dockerd's zero time for a
                // container that never started).
                let _ = self.store.update_container(&c.id, &*c);
                let auto_remove = c.host_config.auto_remove;
                let code = c.state.exit_code;
                h.close_subscribers();
                h.note_failed_start(code);
                drop(c);
                if auto_remove {
                    let _ = self.remove_container_inner(&h, true).await;
                }
                Err(e)
            }
        }
    }

    async fn start_locked(self: &Arc<Self>, h: &Arc<Handle>, mut c: Container) -> Result<()> {
        let t0 = std::time::Instant::now();
        let paths = self.paths(&c.id);
        let lower: Vec<_> = self
            .images
            .layer_dirs(&c.layers)
            .map_err(|e| super::internal("image layers", e))?
            .into_iter()
            .rev()
            .collect();
        rootfs::mount_overlay(&paths, &lower).map_err(|e| super::internal("mount rootfs", e))?;
        let merged = paths.merged();
        let (uid, gid, groups) =
            rootfs::resolve_user(&merged, &c.config.user).map_err(EngineError::InvalidParameter)?;

        let mode = c.host_config.network_name().to_string();
        let own_netns = mode != "host";
        if mode == "bridge" {
            c.endpoint = Some(self.allocate_endpoint(&c.id).await?);
            // Persist the allocation before anything can fail so a crash cannot leak it.
            *h.rec.lock().await = c.clone();
            self.store.update_container(&c.id, &c)?;
            // dockerd connects before the task exists: a failed start shows connect, disconnect.
            self.emit_bridge("connect", &c.id);
        }
        let ip = c.endpoint.as_ref().map(|e| e.ip.clone());
        std::fs::write(paths.hostname(), format!("{}\n", c.config.hostname))?;
        let hosts = if own_netns {
            rootfs::hosts_file(&c.config.hostname, ip.as_deref())
        } else {
            std::fs::read_to_string("/etc/hosts").unwrap_or_default()
        };
        std::fs::write(paths.hosts(), hosts)?;
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        std::fs::write(
            paths.resolv_conf(),
            rootfs::container_resolv_conf(&host_resolv, own_netns),
        )?;

        let env = merge::process_env(
            c.config.env.as_deref().unwrap_or(&[]),
            &c.config.hostname,
            c.config.tty,
        );
        let mut args = vec![c.path.clone()];
        args.extend(c.args.iter().cloned());
        let cgroups_path = self.cfg.cgroups_path(&c.id);
        let security =
            spec::SecurityOptions::parse(c.host_config.security_opt.as_deref().unwrap_or(&[]))
                .map_err(EngineError::InvalidParameter)?;
        let spec = spec::build(&spec::SpecInput {
            args: &args,
            env: &env,
            cwd: &c.config.working_dir,
            uid,
            gid,
            additional_gids: &groups,
            tty: c.config.tty,
            console_size: c.host_config.console_size,
            hostname: &c.config.hostname,
            domainname: &c.config.domainname,
            rootfs: &merged,
            own_netns,
            cgroups_path: &cgroups_path,
            hostname_file: &paths.hostname(),
            hosts_file: &paths.hosts(),
            resolv_conf_file: &paths.resolv_conf(),
            security,
            cgroupns_private: c
                .host_config
                .extra
                .get("CgroupnsMode")
                .and_then(|m| m.as_str())
                == Some("private"),
            annotations: c
                .host_config
                .extra
                .get("Annotations")
                .and_then(|a| a.as_object()),
        });
        let spec_bytes =
            serde_json::to_vec(&spec).map_err(|e| super::internal("encode spec", e))?;
        rootfs::write_atomic(&paths.config_json(), &spec_bytes)?;
        let _ = std::fs::remove_file(paths.exit_file());
        // A leftover runtime container of the same id (crash during an earlier start).
        let _ = self.runtime.delete(&c.id, true).await;

        let socket = self.cfg.shim_socket(&c.id);
        let log_path = paths.log_path(&c.id);
        let (pid, shim_pid) = shim::spawn(&shim::ShimArgs {
            shim: &self.cfg.shim_path,
            id: &c.id,
            bundle: &paths.dir,
            runtime: &self.cfg.runtime_path,
            runtime_root: &self.cfg.runtime_root(),
            runtime_log: &paths.runtime_log(),
            log_path: &log_path,
            exit_file: &paths.exit_file(),
            socket: &socket,
            tty: c.config.tty,
            stdin: c.config.open_stdin,
        })
        .await
        .map_err(|msg| {
            let full = format!(
                "failed to create task for container: failed to create shim task: OCI runtime create failed: {msg}: unknown"
            );
            if start_failure_exit_code(&msg) == 128 {
                EngineError::Internal(full)
            } else {
                EngineError::InvalidParameter(full)
            }
        })?;
        debug!(id = %&c.id[..12], pid, ms = t0.elapsed().as_millis() as u64, "runtime created");

        if let Some(ep) = &c.endpoint {
            let addr = ipnet::Ipv4Net::new(
                ep.ip
                    .parse()
                    .map_err(|e| super::internal("endpoint ip", e))?,
                ep.prefix_len,
            )
            .map_err(|e| super::internal("endpoint prefix", e))?;
            let link = pouch_network::attach_container(
                &ep.bridge,
                pid,
                &ep.host_veth,
                addr,
                self.bridge.gateway_ip(),
            )
            .await
            .map_err(|e| super::internal("connect container to bridge", e))?;
            if let Some(e) = c.endpoint.as_mut() {
                e.mac = link.mac;
            }
        }

        let conn = shim::connect(&socket)
            .await
            .map_err(|e| super::internal("connect to shim", e))?;
        c.state.status = Status::Running;
        c.state.pid = pid;
        c.state.shim_pid = shim_pid;
        c.state.exit_code = 0;
        c.state.error.clear();
        c.state.oom_killed = false;
        c.state.started_at = now_rfc3339();
        c.state.finished_at = crate::model::ZERO_TIME.into();
        let mut rec = h.rec.lock().await;
        *rec = c.clone();
        self.store.update_container(&c.id, &c)?;
        self.spawn_monitor(h.clone(), conn);

        // Under the record lock: the exit path takes it too, so `die` follows `start`.
        if let Err(e) = self.runtime.start(&c.id).await {
            drop(rec);
            // The monitor sees the exit this kill causes and cleans up.
            let _ = self.runtime.kill(&c.id, "SIGKILL", true).await;
            return Err(EngineError::Internal(format!(
                "OCI runtime start failed: {e}"
            )));
        }
        self.emit_container(&rec, "start", &[]);
        drop(rec);
        info!(id = %&c.id[..12], pid, ms = t0.elapsed().as_millis() as u64, "container started");
        Ok(())
    }

    async fn allocate_endpoint(&self, id: &str) -> Result<Endpoint> {
        let _g = self.ip_lock.lock().await;
        let net = &self.bridge;
        let used: std::collections::HashSet<std::net::Ipv4Addr> = self
            .store
            .allocated_ips(&net.name)?
            .into_iter()
            .filter_map(|(ip, _)| ip.parse().ok())
            .collect();
        let ip = pouch_network::ipam::next_free(net.subnet(), net.gateway_ip(), &used).ok_or_else(
            || EngineError::Internal(format!("no free IP address in {}", net.subnet())),
        )?;
        if !self.store.allocate_ip(&net.name, &ip.to_string(), id)? {
            return Err(EngineError::Internal(format!(
                "IP {ip} was taken concurrently"
            )));
        }
        Ok(Endpoint {
            network: "bridge".into(),
            bridge: net.name.clone(),
            ip: ip.to_string(),
            prefix_len: net.subnet().prefix_len(),
            gateway: net.gateway_ip().to_string(),
            mac: String::new(),
            host_veth: pouch_network::host_veth_name(id),
        })
    }

    /// Hold the shim connection: fan output out to attached clients, carry frames to the
    /// shim, and run the exit path when the container's init ends.
    pub fn spawn_monitor(self: &Arc<Self>, h: Arc<Handle>, conn: shim::ShimConn) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
        let mut writer = conn.writer;
        tokio::spawn(async move {
            while let Some(frame) = rx.recv().await {
                if shim::write_frame(&mut writer, &frame).await.is_err() {
                    break;
                }
            }
        });
        h.set_shim(tx);
        let engine = self.clone();
        let mut reader = conn.reader;
        tokio::spawn(async move {
            let record = loop {
                match shim::next_event(&mut reader).await {
                    Some(ShimEvent::Stdout(b)) => h.publish(Output::Stdout(Bytes::from(b))),
                    Some(ShimEvent::Stderr(b)) => h.publish(Output::Stderr(Bytes::from(b))),
                    Some(ShimEvent::Exit(r)) => break r,
                    None => break engine.exit_record_after_lost_shim(&h.id).await,
                }
            };
            engine.handle_exit(&h, record).await;
        });
    }

    /// The shim connection ended without an exit frame: the exit file says what happened,
    /// or, if there is none, the shim itself died.
    async fn exit_record_after_lost_shim(&self, id: &str) -> ExitRecord {
        let exit_file = self.paths(id).exit_file();
        for _ in 0..20 {
            if let Some(r) = shim::read_exit_file(&exit_file) {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        warn!(id = %&id[..12], "shim vanished without recording an exit; killing the container");
        let _ = self.runtime.kill(id, "SIGKILL", true).await;
        ExitRecord {
            exit_code: 137,
            exited_at: now_rfc3339(),
            oom_killed: false,
        }
    }

    /// The exit path: record the exit, release everything the run held, wake waiters,
    /// auto-remove.
    pub async fn handle_exit(self: &Arc<Self>, h: &Arc<Handle>, record: ExitRecord) {
        let mut c = h.rec.lock().await;
        if c.state.status != Status::Running
            && c.state.status != Status::Restarting
            && c.state.status != Status::Paused
        {
            return;
        }
        reap_shim(c.state.shim_pid);
        c.state.status = Status::Exited;
        c.state.exit_code = record.exit_code;
        c.state.oom_killed = record.oom_killed;
        c.state.finished_at = record.exited_at.clone();
        c.state.pid = 0;
        c.state.shim_pid = 0;
        self.emit_container(&c, "die", &[("exitCode", record.exit_code.to_string())]);
        self.release_resources(&mut c).await;
        if let Err(e) = self.store.update_container(&c.id, &*c) {
            warn!(id = %&c.id[..12], error = %e, "cannot persist exit");
        }
        let auto_remove = c.host_config.auto_remove;
        info!(id = %&c.id[..12], exit_code = record.exit_code, "container exited");
        h.close_subscribers();
        // Before the lock goes: a wait snapshot taken under it sees state and counter agree.
        h.note_exit(record.exit_code);
        drop(c);
        if auto_remove {
            let engine = self.clone();
            let h = h.clone();
            tokio::spawn(async move {
                let _op = h.op.lock().await;
                if let Err(e) = engine.remove_container_inner(&h, false).await {
                    warn!(id = %&h.id[..12], error = %e, "auto-remove failed");
                }
            });
        }
    }

    /// Release what a run holds: runtime state, rootfs mount, veth, IP. Every step runs even
    /// if an earlier one failed. Idempotent.
    pub async fn release_resources(&self, c: &mut Container) {
        if let Err(e) = self.runtime.delete(&c.id, true).await {
            warn!(id = %&c.id[..12], error = %e, "runtime delete");
        }
        let _ = std::fs::remove_file(self.cfg.shim_socket(&c.id));
        if let Err(e) = rootfs::unmount_overlay(&self.paths(&c.id)) {
            warn!(id = %&c.id[..12], error = %e, "unmount rootfs");
        }
        if let Some(ep) = c.endpoint.take() {
            if let Err(e) = pouch_network::detach_container(&ep.host_veth).await {
                warn!(id = %&c.id[..12], error = %e, "remove veth");
            }
            self.emit_bridge("disconnect", &c.id);
        }
        if let Err(e) = self.store.release_ips(&c.id) {
            warn!(id = %&c.id[..12], error = %e, "release IP");
        }
    }

    /// Wait until the exit counter passes `seen`, up to `timeout`. True if it did.
    async fn wait_exit_after(&self, h: &Handle, seen: u64, timeout: Duration) -> bool {
        let mut rx = h.exit_tx.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|g| g.exits > seen))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    pub async fn stop_container(
        &self,
        name: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        let h = self.find(name).await?;
        let _op = h.op.lock().await;
        self.stop_locked(&h, timeout, signal).await
    }

    async fn stop_locked(
        &self,
        h: &Handle,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        let (running, stop_signal, stop_timeout) = {
            let c = h.rec.lock().await;
            (
                c.is_running(),
                c.config.stop_signal.clone(),
                c.config.stop_timeout,
            )
        };
        if !running {
            return Err(EngineError::NotModified("container already stopped".into()));
        }
        let sig = signal
            .map(String::from)
            .or(stop_signal)
            .and_then(|s| parse_signal(&s))
            .unwrap_or_else(|| "SIGTERM".into());
        let secs = timeout.or(stop_timeout).unwrap_or(10);
        let seen = h.exit_tx.borrow().exits;
        // The stop signal goes first even with -t 0, as dockerd sends it.
        self.signal_container(h, &sig, false).await;
        if secs != 0 {
            let wait = if secs < 0 {
                Duration::from_secs(u64::MAX / 4)
            } else {
                Duration::from_secs(secs as u64)
            };
            if self.wait_exit_after(h, seen, wait).await {
                self.emit_stopped(h).await;
                return Ok(());
            }
            info!(id = %&h.id[..12], "container did not stop in {secs}s; killing it");
        }
        self.signal_container(h, "SIGKILL", true).await;
        if self.wait_exit_after(h, seen, Duration::from_secs(30)).await {
            self.emit_stopped(h).await;
            Ok(())
        } else {
            Err(EngineError::Internal(format!(
                "container {} did not exit after SIGKILL",
                h.id
            )))
        }
    }

    pub async fn kill_container(&self, name: &str, signal: &str) -> Result<()> {
        let h = self.find(name).await.map_err(|e| match e {
            EngineError::NotFound(m) => {
                EngineError::NotFound(format!("Cannot kill container: {name}: {m}"))
            }
            other => other,
        })?;
        let sig = parse_signal(signal)
            .ok_or_else(|| EngineError::InvalidParameter(format!("Invalid signal: {signal}")))?;
        let c = h.rec.lock().await;
        if !c.is_running() {
            return Err(EngineError::Conflict(format!(
                "Cannot kill container: {name}: Container {} is not running",
                h.id
            )));
        }
        let seen = h.exit_tx.borrow().exits;
        // Under the record lock, so the `die` this causes comes after `kill`.
        self.runtime
            .kill(&h.id, &sig, false)
            .await
            .map_err(|e| super::internal("kill", e))?;
        self.emit_container(
            &c,
            "kill",
            &[("signal", super::events::signal_number(&sig))],
        );
        drop(c);
        if sig == "SIGKILL" {
            // docker kill returns once the container is really gone.
            self.wait_exit_after(&h, seen, Duration::from_secs(10))
                .await;
        }
        Ok(())
    }

    pub async fn remove_container(&self, name: &str, force: bool) -> Result<()> {
        let h = self.find(name).await?;
        let _op = h.op.lock().await;
        self.remove_container_inner(&h, force).await
    }

    /// Remove with the op lock held by the caller.
    async fn remove_container_inner(&self, h: &Arc<Handle>, force: bool) -> Result<()> {
        let running = h.rec.lock().await.is_running();
        if running {
            if !force {
                return Err(EngineError::Conflict(format!(
                    "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
                    h.id
                )));
            }
            let seen = h.exit_tx.borrow().exits;
            self.signal_container(h, "SIGKILL", true).await;
            if !self.wait_exit_after(h, seen, Duration::from_secs(30)).await {
                return Err(EngineError::Internal(format!(
                    "could not kill running container {}, cannot remove",
                    h.id
                )));
            }
        }
        let mut c = h.rec.lock().await;
        if c.state.status == Status::Removing && !self.handles().iter().any(|x| x.id == h.id) {
            return Ok(());
        }
        c.state.status = Status::Removing;
        self.release_resources(&mut c).await;
        let dir = self.cfg.container_dir(&c.id);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                c.state.status = Status::Dead;
                let _ = self.store.update_container(&c.id, &*c);
                return Err(super::internal("remove container directory", e));
            }
        }
        self.store.delete_container(&c.id)?;
        self.remove_handle(&c.id);
        self.emit_container(&c, "destroy", &[]);
        // Its image was deleted with force while it existed: the layers were kept for it.
        let image_gone = !self.image_index().by_id.contains_key(&c.image_id);
        drop(c);
        h.close_subscribers();
        h.note_removed();
        info!(id = %&h.id[..12], "container removed");
        if image_gone {
            self.gc_layers().await;
        }
        Ok(())
    }

    /// `(SizeRw, SizeRootFs)` of a container, as dockerd's `?size=1` reports them: what its
    /// writable layer holds (dockerd's `directory.Size` of the upper dir), and that plus its
    /// image. Walks the upper dir off the async threads.
    pub async fn container_sizes(&self, c: &Container) -> (u64, u64) {
        let upper = self.paths(&c.id).upper();
        let rw = tokio::task::spawn_blocking(move || {
            pouch_image::unpack::diff_size(&upper).unwrap_or(0)
        })
        .await
        .unwrap_or(0);
        let image = self
            .image_index()
            .by_id
            .get(&c.image_id)
            .map(|i| i.size)
            .unwrap_or(0);
        (rw, rw + image)
    }

    /// Take the snapshot a wait per `cond` is measured from. Call it before answering the
    /// request: the client may start the container as soon as it has the headers, and an
    /// exit before the snapshot would never be seen.
    pub async fn prepare_wait(&self, h: &Handle, cond: WaitCondition) -> Waiter {
        // Under the record lock: the exit path bumps the counter under it too, so the
        // counter, the state and the code are one consistent snapshot.
        let c = h.rec.lock().await;
        let rx = h.exit_tx.subscribe();
        let start = rx.borrow().exits;
        Waiter {
            rx,
            start,
            running: c.is_running(),
            exit_code: c.state.exit_code,
            cond,
        }
    }

    pub fn send_stdin(&self, h: &Handle, data: &[u8]) {
        for chunk in data.chunks(shim_protocol::MAX_FRAME) {
            h.send_to_shim(shim_protocol::encode(Kind::Stdin, chunk));
        }
    }

    pub fn close_stdin(&self, h: &Handle) {
        h.send_to_shim(shim_protocol::encode(Kind::CloseStdin, &[]));
    }

    pub async fn resize(&self, name: &str, height: u16, width: u16) -> Result<()> {
        let h = self.find(name).await?;
        let c = h.rec.lock().await;
        if !c.is_running() {
            return Err(EngineError::Conflict(format!(
                "Container {} is not running",
                h.id
            )));
        }
        h.send_to_shim(shim_protocol::encode(
            Kind::Resize,
            &shim_protocol::encode_resize(height, width),
        ));
        let size = [("height", height.to_string()), ("width", width.to_string())];
        self.emit_container(&c, "resize", &size);
        Ok(())
    }

    /// Send `sig` (a name from [`parse_signal`]) and, when the runtime took it, record the
    /// `kill` event; under the record lock, so the `die` it causes comes after it.
    async fn signal_container(&self, h: &Handle, sig: &str, all: bool) {
        let c = h.rec.lock().await;
        match self.runtime.kill(&h.id, sig, all).await {
            Ok(()) => {
                self.emit_container(&c, "kill", &[("signal", super::events::signal_number(sig))])
            }
            Err(e) => debug!(id = %&h.id[..12], signal = sig, error = %e, "signal"),
        }
    }

    async fn emit_stopped(&self, h: &Handle) {
        let c = h.rec.lock().await;
        self.emit_container(&c, "stop", &[]);
    }

    /// Stop every running container (shutdown with live-restore off).
    pub async fn stop_all(&self) {
        let mut tasks = Vec::new();
        for h in self.handles() {
            if h.rec.lock().await.is_running() {
                let id = h.id.clone();
                tasks.push(async move {
                    if let Err(e) = self.stop_container(&id, None, None).await {
                        warn!(id = %&id[..12], error = %e, "stop on shutdown");
                    }
                });
            }
        }
        futures::future::join_all(tasks).await;
    }
}

/// pouchd is the shims' subreaper while it runs: collect an exited shim so it does not linger
/// as a zombie. A shim adopted after a restart is not our child (ECHILD) and is left alone.
fn reap_shim(shim_pid: u32) {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    if shim_pid == 0 {
        return;
    }
    let pid = nix::unistd::Pid::from_raw(shim_pid as i32);
    tokio::task::spawn_blocking(move || {
        // The shim exits right after sending the exit frame; bounded wait for it.
        for _ in 0..100 {
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(50)),
                _ => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_like_docker_kill() {
        assert_eq!(parse_signal("KILL").as_deref(), Some("SIGKILL"));
        assert_eq!(parse_signal("sigterm").as_deref(), Some("SIGTERM"));
        assert_eq!(parse_signal("9").as_deref(), Some("SIGKILL"));
        assert_eq!(parse_signal("").as_deref(), Some("SIGKILL"));
        assert_eq!(parse_signal("NOPE"), None);
    }

    #[test]
    fn start_failures_map_to_docker_exit_codes() {
        assert_eq!(
            start_failure_exit_code("exec: \"x\": executable file not found in $PATH"),
            127
        );
        assert_eq!(
            start_failure_exit_code("exec: \"/etc/passwd\": permission denied"),
            126
        );
        assert_eq!(start_failure_exit_code("something else"), 128);
    }
}
