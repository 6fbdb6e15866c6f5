//! How a create request and the image's config combine into what runs, as dockerd does it
//! (`daemon/commit.go` merge, `CreateDaemonEnvironment`), plus the checks dockerd makes on
//! the values at create time. Pure functions: no I/O.

const DEFAULT_PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn env_key(e: &str) -> &str {
    e.split('=').next().unwrap_or(e)
}

/// `Config.Env` of a new container: the user's entries in their order, then the image's
/// entries whose key the user did not set.
pub fn merge_env(image: &[String], user: &[String]) -> Vec<String> {
    let mut out = user.to_vec();
    for e in image {
        if !user.iter().any(|u| env_key(u) == env_key(e)) {
            out.push(e.clone());
        }
    }
    out
}

/// The process environment: dockerd's base (`PATH`, `HOSTNAME`, `TERM` for a tty) with
/// `Config.Env` replacing or appending by key. A bare `KEY` (`docker run -e KEY` with KEY
/// unset on the client) removes the key.
pub fn process_env(config_env: &[String], hostname: &str, tty: bool) -> Vec<String> {
    let mut env = vec![DEFAULT_PATH_ENV.to_string(), format!("HOSTNAME={hostname}")];
    if tty {
        env.push("TERM=xterm".to_string());
    }
    for e in config_env {
        let key = env_key(e);
        if !e.contains('=') {
            env.retain(|x| env_key(x) != key);
        } else if let Some(slot) = env.iter_mut().find(|x| env_key(x) == key) {
            *slot = e.clone();
        } else {
            env.push(e.clone());
        }
    }
    env
}

/// The stored `(Entrypoint, Cmd)` of a new container:
/// - no user Entrypoint: the image's, and the user's Cmd or else the image's;
/// - `[""]` (`--entrypoint ''`): no entrypoint, and the image's Cmd does not apply either;
/// - `[]`: an empty entrypoint, and the user's Cmd or else the image's (dockerd's merge
///   checks the length);
/// - anything else: it, with the user's Cmd only.
pub fn resolve_command(
    image_entrypoint: Option<Vec<String>>,
    image_cmd: Option<Vec<String>>,
    user_entrypoint: Option<Vec<String>>,
    user_cmd: Option<Vec<String>>,
) -> (Option<Vec<String>>, Option<Vec<String>>) {
    let user_cmd = user_cmd.filter(|c| !c.is_empty());
    match user_entrypoint {
        Some(ep) if ep.len() == 1 && ep[0].is_empty() => (None, user_cmd),
        Some(ep) if ep.is_empty() => (Some(ep), user_cmd.or(image_cmd)),
        Some(ep) => (Some(ep), user_cmd),
        None => (image_entrypoint, user_cmd.or(image_cmd)),
    }
}

/// dockerd's create-time checks of `Env` entries.
pub fn check_env(env: &[String]) -> Result<(), String> {
    match env.iter().find(|e| e.is_empty() || e.starts_with('=')) {
        Some(bad) => Err(format!("invalid environment variable: {bad}")),
        None => Ok(()),
    }
}

/// dockerd's create-time check of `WorkingDir`: empty (the image's) or absolute.
pub fn check_working_dir(dir: &str) -> Result<(), String> {
    if dir.is_empty() || dir.starts_with('/') {
        Ok(())
    } else {
        Err(format!(
            "the working directory '{dir}' is invalid, it needs to be an absolute path"
        ))
    }
}

/// The `Config` keys a new container takes from its image or carries in dockerd's shape:
/// the image's `ExposedPorts` join the user's (docker ps shows them), an empty `Volumes`
/// is null, and `Volumes`/`OnBuild` are always present.
pub fn shape_config_extra(
    image_run_config: &serde_json::Value,
    extra: &mut serde_json::Map<String, serde_json::Value>,
) {
    use serde_json::Value;
    let mut exposed = image_run_config
        .get("ExposedPorts")
        .and_then(|p| p.as_object().cloned())
        .unwrap_or_default();
    if let Some(user) = extra.get("ExposedPorts").and_then(|p| p.as_object()) {
        exposed.extend(user.clone());
    }
    if !exposed.is_empty() {
        extra.insert("ExposedPorts".into(), Value::Object(exposed));
    }
    if extra
        .get("Volumes")
        .and_then(|v| v.as_object())
        .is_some_and(|v| v.is_empty())
    {
        extra.insert("Volumes".into(), Value::Null);
    }
    for key in ["Volumes", "OnBuild"] {
        extra.entry(key).or_insert(Value::Null);
    }
}

/// An `os[/arch[/variant]]` platform as the create and pull APIs take it (containerd's
/// `platforms.Parse`, for the values that matter on Linux hosts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
}

const KNOWN_OS: &[&str] = &[
    "linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris",
];
const KNOWN_ARCH: &[&str] = &[
    "amd64", "386", "arm", "arm64", "ppc64le", "s390x", "riscv64", "mips64le", "mips64", "loong64",
];

impl Platform {
    /// dockerd's message when `image_config` (the image's config blob) is for another
    /// platform; `None` when it matches.
    pub fn mismatch(&self, image_config: &serde_json::Value, reference: &str) -> Option<String> {
        let field = |k: &str, default: &str| {
            image_config
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or(default)
                .to_string()
        };
        let (os, arch) = (field("os", "linux"), field("architecture", "amd64"));
        (self.os != os || self.arch != arch).then(|| {
            format!(
                "image with reference {reference} was found but does not match the specified platform: wanted {}/{}, actual: {os}/{arch}",
                self.os, self.arch
            )
        })
    }

    /// dockerd's words for a value it cannot read.
    pub fn parse(s: &str) -> Result<Platform, String> {
        let bad = || format!("{s:?}: unknown operating system or architecture: invalid argument");
        let mut parts = s.split('/');
        let os = parts.next().unwrap_or("").to_ascii_lowercase();
        let arch = match parts.next().map(str::to_ascii_lowercase).as_deref() {
            None => "amd64".to_string(),
            Some("x86_64" | "x86-64") => "amd64".to_string(),
            Some("aarch64") => "arm64".to_string(),
            Some(a) => a.to_string(),
        };
        if !KNOWN_OS.contains(&os.as_str()) || !KNOWN_ARCH.contains(&arch.as_str()) {
            return Err(bad());
        }
        Ok(Platform { os, arch })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn env_user_first_then_image_keys_not_overridden() {
        assert_eq!(
            merge_env(&v(&["PATH=/bin", "A=1"]), &v(&["A=2", "B=3"])),
            v(&["A=2", "B=3", "PATH=/bin"])
        );
        assert_eq!(merge_env(&v(&["PATH=/bin"]), &[]), v(&["PATH=/bin"]));
        // A bare key also shadows the image's value (it unsets it in the process).
        assert_eq!(merge_env(&v(&["A=1"]), &v(&["A"])), v(&["A"]));
    }

    #[test]
    fn process_env_has_dockerds_base_and_order() {
        let cfg = v(&["K=V", "E=", "BARE", "PATH=/img"]);
        assert_eq!(
            process_env(&cfg, "abc", false),
            v(&["PATH=/img", "HOSTNAME=abc", "K=V", "E="])
        );
        assert_eq!(
            process_env(&v(&["HOSTNAME=x"]), "abc", true),
            v(&[DEFAULT_PATH_ENV, "HOSTNAME=x", "TERM=xterm"])
        );
        assert_eq!(
            process_env(&v(&["TERM"]), "h", true),
            v(&[DEFAULT_PATH_ENV, "HOSTNAME=h"])
        );
    }

    #[test]
    fn command_resolution_follows_docker() {
        let img_ep = Some(v(&["/entry"]));
        let img_cmd = Some(v(&["default"]));
        assert_eq!(
            resolve_command(img_ep.clone(), img_cmd.clone(), None, None),
            (Some(v(&["/entry"])), Some(v(&["default"])))
        );
        assert_eq!(
            resolve_command(img_ep.clone(), img_cmd.clone(), None, Some(v(&["x"]))),
            (Some(v(&["/entry"])), Some(v(&["x"])))
        );
        assert_eq!(
            resolve_command(img_ep.clone(), img_cmd.clone(), Some(v(&["sh"])), None),
            (Some(v(&["sh"])), None)
        );
        assert_eq!(
            resolve_command(None, Some(v(&["sh"])), None, Some(vec![])),
            (None, Some(v(&["sh"])))
        );
        // --entrypoint '': neither the image's entrypoint nor its Cmd.
        assert_eq!(
            resolve_command(img_ep.clone(), img_cmd.clone(), Some(v(&[""])), None),
            (None, None)
        );
        assert_eq!(
            resolve_command(
                img_ep.clone(),
                img_cmd.clone(),
                Some(v(&[""])),
                Some(v(&["ls"]))
            ),
            (None, Some(v(&["ls"])))
        );
        assert_eq!(
            resolve_command(img_ep, img_cmd, Some(vec![]), None),
            (Some(vec![]), Some(v(&["default"])))
        );
    }

    #[test]
    fn create_time_checks() {
        assert!(check_env(&v(&["A=1", "B", "C="])).is_ok());
        assert_eq!(
            check_env(&v(&["A=1", "=x"])).unwrap_err(),
            "invalid environment variable: =x"
        );
        assert!(check_working_dir("").is_ok());
        assert!(check_working_dir("/srv").is_ok());
        assert_eq!(
            check_working_dir("rel").unwrap_err(),
            "the working directory 'rel' is invalid, it needs to be an absolute path"
        );
    }

    #[test]
    fn platforms_parse_like_containerd() {
        let p = Platform::parse("linux/arm64").unwrap();
        assert_eq!((p.os.as_str(), p.arch.as_str()), ("linux", "arm64"));
        assert_eq!(Platform::parse("linux").unwrap().arch, "amd64");
        assert_eq!(Platform::parse("linux/x86_64").unwrap().arch, "amd64");
        assert_eq!(
            Platform::parse("bogus").unwrap_err(),
            "\"bogus\": unknown operating system or architecture: invalid argument"
        );
        assert!(Platform::parse("linux/nope").is_err());
    }

    #[test]
    fn config_takes_the_images_ports_and_dockerds_shape() {
        let image = serde_json::json!({"ExposedPorts": {"80/tcp": {}}});
        let mut extra = serde_json::json!({"ExposedPorts": {"8080/tcp": {}}, "Volumes": {}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        shape_config_extra(&image, &mut extra);
        assert_eq!(
            extra["ExposedPorts"],
            serde_json::json!({"80/tcp": {}, "8080/tcp": {}})
        );
        assert!(extra["Volumes"].is_null() && extra["OnBuild"].is_null());
        let amd64 = serde_json::json!({"os": "linux", "architecture": "amd64"});
        let arm = Platform::parse("linux/arm64").unwrap();
        assert!(arm
            .mismatch(&amd64, "x")
            .unwrap()
            .contains("wanted linux/arm64, actual: linux/amd64"));
        assert_eq!(
            Platform::parse("linux").unwrap().mismatch(&amd64, "x"),
            None
        );
    }
}
