#![recursion_limit = "256"]
//! pouchd: the pouch container engine daemon.

mod api;
mod config;
mod engine;
mod model;
mod rootfs;
mod runtime;
mod shim;
mod spec;

use anyhow::{bail, Context};
use axum::ServiceExt;
use clap::Parser;
use config::{Config, Flags};
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use tower::Layer;
use tracing::{debug, error, info, warn};

/// Take an exclusive lock on `path` or fail: a second daemon on the same root must refuse.
fn lock_file(path: &Path, what: &str) -> anyhow::Result<Flock<File>> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("open {}", path.display()))?;
    Flock::lock(f, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
        anyhow::anyhow!(
            "{what} {} is locked ({e}): is another pouchd running on it?",
            path.display()
        )
    })
}

/// Bind a unix socket, refusing if a live daemon already answers on it.
async fn bind_socket(path: &Path) -> anyhow::Result<tokio::net::UnixListener> {
    if path.exists() {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            bail!("socket {} is in use by another daemon", path.display());
        }
        std::fs::remove_file(path)
            .with_context(|| format!("remove stale socket {}", path.display()))?;
    }
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let l = tokio::net::UnixListener::bind(path)
        .with_context(|| format!("listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(l)
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return "none";
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

/// One line per API request (method, path, status); server errors at warn level.
async fn log_request(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    if resp.status().is_server_error() {
        warn!(%method, %path, status, "request failed");
    } else {
        debug!(%method, %path, status, "request");
    }
    resp
}

async fn run(flags: Flags) -> anyhow::Result<()> {
    let cfg = Config::resolve(flags).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(&cfg.flags.data_root)
        .with_context(|| format!("create {}", cfg.flags.data_root.display()))?;
    let _root_lock = lock_file(&cfg.flags.data_root.join("pouchd.lock"), "data root")?;
    let _exec_lock = lock_file(&cfg.flags.exec_root.join("pouchd.lock"), "exec root")?;
    let mut pid_lock = lock_file(&cfg.flags.pidfile, "pid file")?;
    pid_lock.set_len(0)?;
    writeln!(pid_lock, "{}", std::process::id())?;

    let mut bound = Vec::new();
    let result = serve(&cfg, &mut bound).await;
    // Only what this process made: a refused start must not remove another daemon's socket.
    for s in &bound {
        let _ = std::fs::remove_file(s);
    }
    let _ = std::fs::remove_file(&cfg.flags.pidfile);
    result
}

/// Bind the API sockets (recorded in `bound`), open and reconcile the engine, serve until
/// a signal, then shut down.
async fn serve(cfg: &Config, bound: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    // Shims detach from their short-lived parent; as subreaper pouchd inherits and reaps them.
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        warn!(error = %e, "cannot become child subreaper; exited shims are left to init");
    }

    let mut listeners = Vec::new();
    for s in &cfg.sockets {
        let l = bind_socket(s).await?;
        bound.push(s.clone());
        listeners.push((s.clone(), l));
    }
    let engine = engine::Engine::open(cfg.clone()).await?;
    engine::restore::reconcile(&engine).await;

    let app = api::router(engine.clone());
    let app = axum::middleware::map_request(|req: axum::extract::Request| async move {
        api::strip_version(req)
    })
    .layer(app);
    let app = axum::middleware::map_response(|resp: axum::response::Response| async move {
        api::add_server_headers(resp)
    })
    .layer(app);
    let app = axum::middleware::from_fn(log_request).layer(app);
    for (path, l) in listeners {
        let svc = app.clone().into_make_service();
        info!(socket = %path.display(), "API listening");
        tokio::spawn(async move {
            if let Err(e) = axum::serve(l, svc).await {
                error!(error = %e, "API server failed");
            }
        });
    }
    info!(version = env!("CARGO_PKG_VERSION"), bridge = %engine.cfg.flags.bridge_name, live_restore = cfg.flags.live_restore, "pouchd ready");

    let sig = shutdown_signal().await;
    info!(signal = sig, "shutting down");
    if !cfg.flags.live_restore {
        engine.stop_all().await;
    }
    engine::restore::teardown_if_idle(&engine).await;
    Ok(())
}

fn main() -> std::process::ExitCode {
    let flags = Flags::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&flags.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    // Colours only on a terminal: logs usually go to files and journals.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pouchd: cannot start runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(flags)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pouchd: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
