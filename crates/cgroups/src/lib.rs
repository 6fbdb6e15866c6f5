//! The cgroup hierarchy as pouch sees it. The OCI runtime creates and fills each container's
//! cgroup from `linux.cgroupsPath` (cgroupfs driver); this crate answers what the daemon needs
//! around that: which version the host runs, the cgroups path for a container under the
//! daemon's parent, where those directories live, and removing them once empty.
//!
//! v1 (and hybrid, as on this project's test machines) has one directory per controller
//! mount; v2 has a single unified tree. Both are behind [`Hierarchy`] so callers never care.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

/// The default mount point of the cgroup filesystem(s).
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no cgroup filesystem under {0}")]
    NotMounted(PathBuf),
    #[error("remove cgroup {path}: {source}")]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

impl Version {
    /// As Docker reports it in `/info` (`CgroupVersion`).
    pub fn as_docker_str(self) -> &'static str {
        match self {
            Version::V1 => "1",
            Version::V2 => "2",
        }
    }
}

/// The host's cgroup layout, rooted at [`DEFAULT_ROOT`] (or a test directory).
#[derive(Debug, Clone)]
pub struct Hierarchy {
    root: PathBuf,
    version: Version,
    /// v1: one directory per controller mount (named hierarchies like `name=systemd` and the
    /// hybrid `unified` dir included); v2: just the root.
    dirs: Vec<PathBuf>,
}

impl Hierarchy {
    /// Probe the host's layout.
    pub fn detect() -> Result<Hierarchy, Error> {
        Self::detect_at(Path::new(DEFAULT_ROOT))
    }

    /// Probe the layout under `root`: v2 when `cgroup.controllers` sits at the root (pure
    /// unified mode); otherwise every sub-directory is a v1 hierarchy (hybrid included).
    pub fn detect_at(root: &Path) -> Result<Hierarchy, Error> {
        if root.join("cgroup.controllers").is_file() {
            return Ok(Hierarchy {
                root: root.to_path_buf(),
                version: Version::V2,
                dirs: vec![root.to_path_buf()],
            });
        }
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
            .map_err(|_| Error::NotMounted(root.to_path_buf()))?
            .flatten()
            .map(|e| e.path())
            // Controller co-mounts appear as symlinks (`cpu -> cpu,cpuacct`): count each once.
            .filter(|p| p.is_dir() && !p.is_symlink())
            .collect();
        if dirs.is_empty() {
            return Err(Error::NotMounted(root.to_path_buf()));
        }
        dirs.sort();
        Ok(Hierarchy {
            root: root.to_path_buf(),
            version: Version::V1,
            dirs,
        })
    }

    pub fn version(&self) -> Version {
        self.version
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `linux.cgroupsPath` for a container under the daemon's parent (cgroupfs form).
    pub fn cgroups_path(parent: &str, id: &str) -> String {
        format!("/{parent}/{id}")
    }

    /// Every existing directory of `relative` (e.g. `pouch-1a2b3c4d/ID`) across hierarchies.
    pub fn existing_dirs(&self, relative: &str) -> Vec<PathBuf> {
        let rel = relative.trim_start_matches('/');
        self.dirs
            .iter()
            .map(|d| d.join(rel))
            .filter(|p| p.is_dir())
            .collect()
    }

    /// Remove the cgroup `relative` (its empty child cgroups first) in every hierarchy.
    /// Keeps going past failures (a busy cgroup must not stop the rest) and returns them all.
    pub fn remove(&self, relative: &str) -> Vec<Error> {
        let mut errors = Vec::new();
        for dir in self.existing_dirs(relative) {
            remove_tree(&dir, &mut errors);
        }
        errors
    }
}

/// Depth-first rmdir: cgroupfs directories hold only pseudo-files, which rmdir ignores.
fn remove_tree(dir: &Path, errors: &mut Vec<Error>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                remove_tree(&p, errors);
            }
        }
    }
    match std::fs::remove_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => errors.push(Error::Remove {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkdirs(root: &Path, dirs: &[&str]) {
        for d in dirs {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
    }

    #[test]
    fn detects_v1_hybrid_with_co_mount_symlinks() {
        let t = tempfile::tempdir().unwrap();
        mkdirs(t.path(), &["cpu,cpuacct", "memory", "pids", "unified"]);
        std::os::unix::fs::symlink("cpu,cpuacct", t.path().join("cpu")).unwrap();
        let h = Hierarchy::detect_at(t.path()).unwrap();
        assert_eq!(h.version(), Version::V1);
        assert_eq!(h.version().as_docker_str(), "1");
        assert_eq!(
            h.dirs.len(),
            4,
            "symlinked co-mount counted twice: {:?}",
            h.dirs
        );
    }

    #[test]
    fn detects_v2_unified() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        mkdirs(t.path(), &["system.slice"]);
        let h = Hierarchy::detect_at(t.path()).unwrap();
        assert_eq!(h.version(), Version::V2);
        assert_eq!(h.dirs, vec![t.path().to_path_buf()]);
    }

    #[test]
    fn missing_or_empty_root_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        assert!(matches!(
            Hierarchy::detect_at(t.path()),
            Err(Error::NotMounted(_))
        ));
        assert!(Hierarchy::detect_at(&t.path().join("nope")).is_err());
    }

    #[test]
    fn cgroups_path_is_absolute_under_parent() {
        assert_eq!(Hierarchy::cgroups_path("pouch", "abc"), "/pouch/abc");
    }

    #[test]
    fn remove_takes_children_first_in_every_hierarchy() {
        let t = tempfile::tempdir().unwrap();
        mkdirs(
            t.path(),
            &[
                "memory/pouch-x/c1",
                "memory/pouch-x/c2",
                "pids/pouch-x",
                "cpu",
            ],
        );
        let h = Hierarchy::detect_at(t.path()).unwrap();
        assert_eq!(h.existing_dirs("pouch-x").len(), 2);
        assert_eq!(h.existing_dirs("/pouch-x/c1").len(), 1);
        let errors = h.remove("pouch-x");
        assert!(errors.is_empty(), "{errors:?}");
        assert!(h.existing_dirs("pouch-x").is_empty());
        assert!(t.path().join("memory").is_dir(), "hierarchy root removed");
    }

    #[test]
    fn remove_reports_failures_and_keeps_going() {
        let t = tempfile::tempdir().unwrap();
        mkdirs(t.path(), &["memory/pouch-y", "pids/pouch-y"]);
        // A regular file makes rmdir fail (on cgroupfs: a cgroup with live tasks).
        std::fs::write(t.path().join("memory/pouch-y/busy"), "1").unwrap();
        let h = Hierarchy::detect_at(t.path()).unwrap();
        let errors = h.remove("pouch-y");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].to_string().contains("memory/pouch-y"));
        assert!(
            !t.path().join("pids/pouch-y").exists(),
            "stopped at first failure"
        );
    }
}
