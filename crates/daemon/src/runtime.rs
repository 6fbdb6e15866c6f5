//! The OCI runtime binary behind a small trait. runc today; crun/runsc/kata by name later.

use std::path::PathBuf;
use tokio::process::Command;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RuntimeError(pub String);

/// What pouchd asks of an OCI runtime directly (`create` is run by pouch-shim).
#[allow(async_fn_in_trait)]
pub trait OciRuntime {
    async fn start(&self, id: &str) -> Result<(), RuntimeError>;
    async fn kill(&self, id: &str, signal: &str, all: bool) -> Result<(), RuntimeError>;
    async fn delete(&self, id: &str, force: bool) -> Result<(), RuntimeError>;
    /// Ids of the containers this runtime root knows.
    async fn list(&self) -> Result<Vec<String>, RuntimeError>;
}

pub struct Runc {
    pub path: PathBuf,
    pub root: PathBuf,
}

impl Runc {
    /// `(version, commit)` from `--version`: the commit line is what dockerd shows as
    /// "runc version" in info; both go into `/version`'s components.
    pub async fn version(&self) -> (String, String) {
        let out = Command::new(&self.path)
            .arg("--version")
            .stdin(std::process::Stdio::null())
            .output()
            .await;
        match out {
            Ok(o) => {
                let text = String::from_utf8_lossy(&o.stdout);
                (version_number(&text), version_commit(&text))
            }
            Err(_) => (String::new(), String::new()),
        }
    }

    async fn run(&self, args: &[&str]) -> Result<Vec<u8>, RuntimeError> {
        let out = Command::new(&self.path)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| RuntimeError(format!("exec {}: {e}", self.path.display())))?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
            Err(RuntimeError(runc_message(&msg)))
        }
    }
}

/// The number on the first line of `runc --version` (`runc version 1.1.5+ds1`).
fn version_number(out: &str) -> String {
    out.lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or_default()
        .to_string()
}

/// `commit: X` from `runc --version` output, else the version number of its first line.
fn version_commit(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("commit: "))
        .or_else(|| out.lines().next().and_then(|l| l.split_whitespace().nth(2)))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// runc prints `time=... level=error msg="..."` lines or a plain message; keep the message.
fn runc_message(stderr: &str) -> String {
    let last = stderr.lines().last().unwrap_or(stderr);
    if let Some(i) = last.find("msg=\"") {
        let rest = &last[i + 5..];
        return rest.trim_end_matches('"').replace("\\\"", "\"");
    }
    last.to_string()
}

impl OciRuntime for Runc {
    async fn start(&self, id: &str) -> Result<(), RuntimeError> {
        self.run(&["start", id]).await.map(|_| ())
    }
    async fn kill(&self, id: &str, signal: &str, all: bool) -> Result<(), RuntimeError> {
        if all {
            self.run(&["kill", "--all", id, signal]).await.map(|_| ())
        } else {
            self.run(&["kill", id, signal]).await.map(|_| ())
        }
    }
    async fn delete(&self, id: &str, force: bool) -> Result<(), RuntimeError> {
        // runc keeps a container's state in <root>/<id>; without it there is nothing to
        // delete, and one runtime execution less on the start and exit paths.
        if !self.root.join(id).exists() {
            return Ok(());
        }
        let r = if force {
            self.run(&["delete", "--force", id]).await
        } else {
            self.run(&["delete", id]).await
        };
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.0.contains("does not exist") || e.0.contains("not found") => Ok(()),
            Err(e) => Err(e),
        }
    }
    async fn list(&self) -> Result<Vec<String>, RuntimeError> {
        let out = self.run(&["list", "--format", "json"]).await?;
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap_or(serde_json::Value::Null);
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["id"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_comes_from_the_version_output() {
        let debian = "runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\n";
        assert_eq!(version_commit(debian), "1.1.5+ds1-1+deb12u1");
        assert_eq!(version_number(debian), "1.1.5+ds1");
        assert_eq!(version_commit("crun version 1.8.1\n"), "1.8.1");
        assert_eq!(version_commit(""), "");
    }

    #[test]
    fn runc_messages() {
        assert_eq!(
            runc_message("time=\"x\" level=error msg=\"container not running\""),
            "container not running"
        );
        assert_eq!(runc_message("plain failure"), "plain failure");
    }
}
