//! Daemon configuration: the flags, and every host-wide name derived from them so two daemons
//! with different roots never touch each other's objects.

use clap::{ArgAction, Parser};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

pub const DEFAULT_SOCKET: &str = "unix:///var/run/pouchd.sock";
pub const DEFAULT_EXEC_ROOT: &str = "/run/pouch";

#[derive(Debug, Clone, Parser)]
#[command(name = "pouchd", version, about = "pouch container engine daemon")]
pub struct Flags {
    /// Socket to listen on (unix://PATH); may be repeated.
    #[arg(short = 'H', long = "host", default_value = DEFAULT_SOCKET)]
    pub hosts: Vec<String>,
    /// Root of persistent state (metadata, images, containers).
    #[arg(long, default_value = "/var/lib/pouch")]
    pub data_root: PathBuf,
    /// Root of runtime state (runc state, shim sockets).
    #[arg(long, default_value = DEFAULT_EXEC_ROOT)]
    pub exec_root: PathBuf,
    #[arg(long, default_value = "/run/pouchd.pid")]
    pub pidfile: PathBuf,
    /// Name of the default bridge.
    #[arg(long, default_value = "pouch0")]
    pub bridge_name: String,
    /// Gateway address and prefix of the default bridge, e.g. 172.18.0.1/16.
    #[arg(long)]
    pub bip: Option<String>,
    /// Registries (host:port or CIDR) reached over plain HTTP; 127.0.0.0/8 always is.
    #[arg(long = "insecure-registry")]
    pub insecure_registries: Vec<String>,
    /// Keep containers running when the daemon stops.
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub live_restore: bool,
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// The OCI runtime binary.
    #[arg(long, default_value = "runc")]
    pub runtime: String,
    /// The pouch-shim binary (default: next to pouchd).
    #[arg(long)]
    pub shim: Option<PathBuf>,
}

/// Resolved configuration with derived paths and names.
#[derive(Debug, Clone)]
pub struct Config {
    pub flags: Flags,
    pub sockets: Vec<PathBuf>,
    pub runtime_path: PathBuf,
    pub shim_path: PathBuf,
    /// `pouch` for the default exec root, `pouch-<hash>` otherwise: the cgroup parent.
    pub cgroup_parent: String,
}

impl Config {
    pub fn resolve(flags: Flags) -> Result<Config, String> {
        let mut sockets = Vec::new();
        for h in &flags.hosts {
            match h.strip_prefix("unix://") {
                Some(p) if !p.is_empty() => sockets.push(PathBuf::from(p)),
                _ => {
                    return Err(format!(
                        "unsupported host {h:?}: only unix:///path sockets are supported"
                    ))
                }
            }
        }
        let runtime_path = find_in_path(&flags.runtime)
            .ok_or_else(|| format!("OCI runtime {:?} not found in PATH", flags.runtime))?;
        let shim_path = match &flags.shim {
            Some(p) => p.clone(),
            None => {
                let exe = std::env::current_exe()
                    .map_err(|e| format!("cannot locate pouchd binary: {e}"))?;
                exe.with_file_name("pouch-shim")
            }
        };
        if !shim_path.exists() {
            return Err(format!("pouch-shim not found at {}", shim_path.display()));
        }
        let cgroup_parent = derived_name("pouch", &flags.exec_root, DEFAULT_EXEC_ROOT);
        Ok(Config {
            flags,
            sockets,
            runtime_path,
            shim_path,
            cgroup_parent,
        })
    }

    pub fn db_path(&self) -> PathBuf {
        self.flags.data_root.join("meta.db")
    }
    pub fn images_root(&self) -> PathBuf {
        self.flags.data_root.join("image")
    }
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.flags.data_root.join("containers").join(id)
    }
    /// The default runtime's name as `info` and `HostConfig.Runtime` show it: the binary's
    /// file name (`runc` for `--runtime runc` or `--runtime /usr/sbin/runc`).
    pub fn runtime_name(&self) -> String {
        std::path::Path::new(&self.flags.runtime)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.flags.runtime.clone())
    }
    /// `runc --root`: per daemon, so `runc list` of one daemon never shows another's.
    pub fn runtime_root(&self) -> PathBuf {
        self.flags.exec_root.join("runc")
    }
    /// Shim control socket; short on purpose (unix socket paths max out at 107 bytes).
    pub fn shim_socket(&self, id: &str) -> PathBuf {
        self.flags
            .exec_root
            .join("s")
            .join(format!("{}.sock", &id[..16]))
    }
    pub fn cgroups_path(&self, id: &str) -> String {
        pouch_cgroups::Hierarchy::cgroups_path(&self.cgroup_parent, id)
    }
}

/// `base` for the default root, `base-<8 hex of sha256(root)>` for any other.
pub fn derived_name(base: &str, root: &std::path::Path, default_root: &str) -> String {
    if root == std::path::Path::new(default_root) {
        return base.to_string();
    }
    let h = Sha256::digest(root.as_os_str().as_encoded_bytes());
    format!("{base}-{}", &hex::encode(h)[..8])
}

pub fn find_in_path(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.exists().then_some(p);
    }
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_restore_flag_forms() {
        let f = Flags::parse_from(["pouchd"]);
        assert!(f.live_restore);
        let f = Flags::parse_from(["pouchd", "--live-restore=false"]);
        assert!(!f.live_restore);
        let f = Flags::parse_from(["pouchd", "--live-restore"]);
        assert!(f.live_restore);
    }

    #[test]
    fn derived_names_differ_per_root() {
        assert_eq!(
            derived_name("pouch", "/run/pouch".as_ref(), DEFAULT_EXEC_ROOT),
            "pouch"
        );
        let a = derived_name("pouch", "/tmp/a".as_ref(), DEFAULT_EXEC_ROOT);
        let b = derived_name("pouch", "/tmp/b".as_ref(), DEFAULT_EXEC_ROOT);
        assert_ne!(a, b);
        assert!(a.starts_with("pouch-") && a.len() == 14);
    }
}
