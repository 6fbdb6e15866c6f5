//! A container's filesystem: the overlay mount over the image's layers, and the generated
//! `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`.

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Paths inside one container's directory.
pub struct ContainerPaths {
    pub dir: PathBuf,
}

impl ContainerPaths {
    pub fn new(dir: PathBuf) -> Self {
        ContainerPaths { dir }
    }
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }
    pub fn merged(&self) -> PathBuf {
        self.dir.join("merged")
    }
    pub fn hostname(&self) -> PathBuf {
        self.dir.join("hostname")
    }
    pub fn hosts(&self) -> PathBuf {
        self.dir.join("hosts")
    }
    pub fn resolv_conf(&self) -> PathBuf {
        self.dir.join("resolv.conf")
    }
    pub fn config_json(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    pub fn exit_file(&self) -> PathBuf {
        self.dir.join("exit.json")
    }
    pub fn runtime_log(&self) -> PathBuf {
        self.dir.join("runtime.log")
    }
    pub fn log_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}-json.log"))
    }
}

/// Mount the overlay: `lower_dirs` top-most first.
pub fn mount_overlay(paths: &ContainerPaths, lower_dirs: &[PathBuf]) -> io::Result<()> {
    for d in [paths.upper(), paths.work(), paths.merged()] {
        std::fs::create_dir_all(d)?;
    }
    if is_mounted(&paths.merged()) {
        return Ok(());
    }
    let lower = lower_dirs
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    if lower.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "image has no layers",
        ));
    }
    let opts = format!(
        "lowerdir={lower},upperdir={},workdir={}",
        paths.upper().display(),
        paths.work().display()
    );
    mount(
        Some("overlay"),
        &paths.merged(),
        Some("overlay"),
        MsFlags::empty(),
        Some(opts.as_str()),
    )
    .map_err(io::Error::from)
}

/// Unmount the overlay if it is mounted; idempotent.
pub fn unmount_overlay(paths: &ContainerPaths) -> io::Result<()> {
    let merged = paths.merged();
    if !is_mounted(&merged) {
        return Ok(());
    }
    match umount2(&merged, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) => Err(io::Error::from(e)),
    }
}

/// Whether `path` is a mount point (listed in /proc/self/mountinfo).
pub fn is_mounted(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.to_string_lossy();
    info.lines().any(|l| l.split(' ').nth(4) == Some(&want))
}

/// Every mount point under `dir` (for reconciling leftovers).
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return vec![];
    };
    let prefix = format!("{}/", dir.to_string_lossy());
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&prefix))
        .map(PathBuf::from)
        .collect()
}

/// Write a file atomically: temp file, fsync, rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Docker's container `/etc/hosts`.
pub fn hosts_file(hostname: &str, ip: Option<&str>) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    if let Some(ip) = ip {
        s.push_str(&format!("{ip}\t{hostname}\n"));
    }
    s
}

/// The host's resolv.conf without loopback nameservers (unreachable from a container netns),
/// as Docker filters it.
pub fn container_resolv_conf(host: &str, own_netns: bool) -> String {
    if !own_netns {
        return host.to_string();
    }
    host.lines()
        .filter(|l| {
            let mut it = l.split_whitespace();
            !(it.next() == Some("nameserver")
                && it
                    .next()
                    .is_some_and(|a| a.starts_with("127.") || a == "::1"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Resolve a Docker `User` string (`name`, `uid`, `uid:gid`, `name:group`) against the
/// container's /etc/passwd and /etc/group. Returns (uid, gid, additional gids). As dockerd
/// (since the CVE-2022-36109 fix), the primary gid leads the supplementary groups, so a
/// process cannot shed it with setgroups to dodge a group-deny permission.
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<(u32, u32, Vec<u32>), String> {
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    let group = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
    resolve_user_in(&passwd, &group, user)
}

pub fn resolve_user_in(
    passwd: &str,
    group: &str,
    user: &str,
) -> Result<(u32, u32, Vec<u32>), String> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let u = if u.is_empty() { "0" } else { u };
    let entries: Vec<Vec<&str>> = passwd
        .lines()
        .map(|l| l.split(':').collect())
        .filter(|f: &Vec<&str>| f.len() >= 4)
        .collect();
    let (uid, name, primary_gid) = if let Ok(uid) = u.parse::<u32>() {
        let e = entries.iter().find(|f| f[2].parse() == Ok(uid));
        (
            uid,
            e.map(|f| f[0].to_string()),
            e.and_then(|f| f[3].parse::<u32>().ok()),
        )
    } else {
        let e = entries.iter().find(|f| f[0] == u).ok_or_else(|| {
            format!("unable to find user {u}: no matching entries in passwd file")
        })?;
        let uid = e[2]
            .parse::<u32>()
            .map_err(|_| format!("invalid uid for user {u}"))?;
        (uid, Some(u.to_string()), e[3].parse::<u32>().ok())
    };
    let groups: Vec<Vec<&str>> = group
        .lines()
        .map(|l| l.split(':').collect())
        .filter(|f: &Vec<&str>| f.len() >= 3)
        .collect();
    let gid = match g {
        Some(g) if !g.is_empty() => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => groups
                .iter()
                .find(|f| f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    format!("unable to find group {g}: no matching entries in group file")
                })?,
        },
        _ => primary_gid.unwrap_or(0),
    };
    let mut extra = vec![gid];
    // Membership groups count only when no group was named, as in libcontainer's
    // GetExecUser.
    let group_named = g.is_some_and(|g| !g.is_empty());
    if let (Some(name), false) = (name, group_named) {
        for f in &groups {
            if f.len() >= 4 && f[3].split(',').any(|m| m == name) {
                if let Ok(id) = f[2].parse::<u32>() {
                    if !extra.contains(&id) {
                        extra.push(id);
                    }
                }
            }
        }
    }
    Ok((uid, gid, extra))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\napp:x:1000:\nwheel:x:10:app\n";

    #[test]
    fn users_resolve_like_docker() {
        assert_eq!(resolve_user_in(PASSWD, GROUP, ""), Ok((0, 0, vec![0])));
        assert_eq!(
            resolve_user_in(PASSWD, GROUP, "app"),
            Ok((1000, 1000, vec![1000, 10]))
        );
        assert_eq!(
            resolve_user_in(PASSWD, GROUP, "1000:10"),
            Ok((1000, 10, vec![10]))
        );
        assert_eq!(
            resolve_user_in(PASSWD, GROUP, "4242"),
            Ok((4242, 0, vec![0]))
        );
        assert_eq!(
            resolve_user_in(PASSWD, GROUP, "app:root"),
            Ok((1000, 0, vec![0]))
        );
        assert!(resolve_user_in(PASSWD, GROUP, "nobody")
            .unwrap_err()
            .contains("unable to find user nobody"));
    }

    #[test]
    fn resolv_conf_drops_loopback_nameservers() {
        let host = "nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch x\n";
        assert_eq!(
            container_resolv_conf(host, true),
            "nameserver 10.0.0.2\nsearch x\n"
        );
        assert_eq!(container_resolv_conf(host, false), host);
    }

    #[test]
    fn hosts_has_container_entry() {
        let h = hosts_file("abc", Some("172.18.0.2"));
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.ends_with("172.18.0.2\tabc\n"));
    }
}
