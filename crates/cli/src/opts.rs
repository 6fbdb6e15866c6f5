//! Parsing of command-line values: `-e` environment entries, `-l` labels, image
//! references (repository / tag / digest) as the docker CLI sends them to the API.

use std::collections::BTreeMap;

/// docker's `opts.ValidateEnv`: "KEY=VAL" as is; a bare "KEY" takes the client's value
/// when set, otherwise passes through unchanged (the daemon then unsets it).
pub fn parse_env(entry: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let (key, _) = entry.split_once('=').unwrap_or((entry, ""));
    if key.is_empty() {
        return Err(format!("invalid environment variable: {entry}"));
    }
    if entry.contains('=') {
        return Ok(entry.to_string());
    }
    Ok(match lookup(entry) {
        Some(v) => format!("{entry}={v}"),
        None => entry.to_string(),
    })
}

/// `-l key=value` (a bare key gets an empty value).
pub fn parse_labels(entries: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for e in entries {
        let (k, v) = e.split_once('=').unwrap_or((e.as_str(), ""));
        if k.is_empty() {
            return Err(format!("invalid label: {e}"));
        }
        map.insert(k.to_string(), v.to_string());
    }
    Ok(map)
}

/// Go's `time.ParseDuration` (e.g. "42m", "1h30m", "1.5s"), in nanoseconds.
pub fn parse_go_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(0);
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale: f64 = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += num * scale;
    }
    let n = total.round() as i128;
    Some(if neg { -n } else { n })
}

/// docker's `--since`/`--until` value as sent to the daemon: a relative duration ("42m")
/// becomes the Unix time that long before `now_nanos` ("seconds.nanoseconds"); anything
/// else (a Unix timestamp, RFC 3339) goes as given.
pub fn log_time(value: &str, now_nanos: i128) -> String {
    match parse_go_duration(value) {
        Some(d) => {
            let t = now_nanos - d;
            format!(
                "{}.{:09}",
                t.div_euclid(1_000_000_000),
                t.rem_euclid(1_000_000_000)
            )
        }
        None => value.to_string(),
    }
}

/// An image reference split the way the pull API wants it: `fromImage` and `tag`
/// (a tag, or a digest for `name@sha256:...`).
#[derive(Debug, PartialEq, Eq)]
pub struct ImageRef {
    pub repo: String,
    pub tag: String,
    pub is_digest: bool,
}

impl ImageRef {
    pub fn parse(s: &str) -> Result<ImageRef, String> {
        // The docker CLI's own check (ParseNormalizedNamed), with dockerd's words: a bad
        // name never reaches the daemon.
        pouch_reference::Reference::parse_named(s).map_err(|e| e.to_string())?;
        if let Some((repo, digest)) = s.split_once('@') {
            if repo.is_empty() || !digest.contains(':') {
                return Err(format!("invalid reference format: {s}"));
            }
            // A tag before the digest is ignored, as docker does.
            let repo = strip_tag(repo).0;
            return Ok(ImageRef {
                repo: repo.to_string(),
                tag: digest.to_string(),
                is_digest: true,
            });
        }
        let (repo, tag) = strip_tag(s);
        if repo.is_empty() || repo.ends_with('/') {
            return Err(format!("invalid reference format: {s}"));
        }
        Ok(ImageRef {
            repo: repo.to_string(),
            tag: tag.unwrap_or("latest").to_string(),
            is_digest: false,
        })
    }

    /// The full reference, e.g. `127.0.0.1:5000/busybox:latest`.
    pub fn full(&self) -> String {
        if self.is_digest {
            format!("{}@{}", self.repo, self.tag)
        } else {
            format!("{}:{}", self.repo, self.tag)
        }
    }
}

/// Splits `repo[:tag]`; a ':' before the last '/' belongs to a registry port.
fn strip_tag(s: &str) -> (&str, Option<&str>) {
    let last_slash = s.rfind('/').map(|i| i + 1).unwrap_or(0);
    match s[last_slash..].rfind(':') {
        Some(i) => (&s[..last_slash + i], Some(&s[last_slash + i + 1..])),
        None => (s, None),
    }
}

/// Splits a `repo:tag` string (as in RepoTags) into its repository and tag.
pub fn split_repo_tag(s: &str) -> (String, String) {
    match strip_tag(s) {
        (r, Some(t)) => (r.to_string(), t.to_string()),
        (r, None) => (r.to_string(), "<none>".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_entries() {
        let look = |k: &str| (k == "HOME_X").then(|| "/root".to_string());
        assert_eq!(parse_env("FOO=bar", look).unwrap(), "FOO=bar");
        assert_eq!(parse_env("FOO=a=b", look).unwrap(), "FOO=a=b");
        assert_eq!(parse_env("FOO=", look).unwrap(), "FOO=");
        assert_eq!(parse_env("HOME_X", look).unwrap(), "HOME_X=/root");
        assert_eq!(parse_env("UNSET", look).unwrap(), "UNSET");
        assert!(parse_env("=x", look).is_err());
        assert!(parse_env("", look).is_err());
    }

    #[test]
    fn durations_and_log_times() {
        assert_eq!(parse_go_duration("42m"), Some(42 * 60 * 1_000_000_000));
        assert_eq!(parse_go_duration("1h30m"), Some(5400 * 1_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("-2s"), Some(-2_000_000_000));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("2013-01-02T13:23:37Z"), None);
        assert_eq!(parse_go_duration("1x"), None);
        assert_eq!(parse_go_duration(""), None);
        let now = 1_700_000_100_250_000_000i128;
        assert_eq!(log_time("100s", now), "1700000000.250000000");
        assert_eq!(log_time("1700000000", now), "1700000000");
        assert_eq!(
            log_time("2013-01-02T13:23:37Z", now),
            "2013-01-02T13:23:37Z"
        );
    }

    #[test]
    fn labels() {
        let m = parse_labels(&["a=b".into(), "c".into(), "d=e=f".into()]).unwrap();
        assert_eq!(m["a"], "b");
        assert_eq!(m["c"], "");
        assert_eq!(m["d"], "e=f");
        assert!(parse_labels(&["=x".into()]).is_err());
    }

    #[test]
    fn references() {
        let r = ImageRef::parse("127.0.0.1:5000/busybox").unwrap();
        assert_eq!(
            (r.repo.as_str(), r.tag.as_str()),
            ("127.0.0.1:5000/busybox", "latest")
        );
        assert_eq!(r.full(), "127.0.0.1:5000/busybox:latest");
        let r = ImageRef::parse("127.0.0.1:5000/a/b:v1.2").unwrap();
        assert_eq!(
            (r.repo.as_str(), r.tag.as_str()),
            ("127.0.0.1:5000/a/b", "v1.2")
        );
        let digest = format!("sha256:{}", "ab".repeat(32));
        let r = ImageRef::parse(&format!("127.0.0.1:5000/busybox@{digest}")).unwrap();
        assert_eq!(r.repo, "127.0.0.1:5000/busybox");
        assert_eq!(r.tag, digest);
        assert!(r.is_digest);
        assert_eq!(r.full(), format!("127.0.0.1:5000/busybox@{digest}"));
        assert!(ImageRef::parse("").is_err());
        assert!(ImageRef::parse("x@nodigest").is_err());
        // dockerd's words, checked before anything is sent.
        assert_eq!(
            ImageRef::parse("bad//x").unwrap_err(),
            "invalid reference format"
        );
        assert_eq!(
            ImageRef::parse("127.0.0.1:5000/Foo").unwrap_err(),
            "invalid reference format: repository name must be lowercase"
        );
    }

    #[test]
    fn repo_tags() {
        assert_eq!(
            split_repo_tag("127.0.0.1:5000/busybox:latest"),
            ("127.0.0.1:5000/busybox".to_string(), "latest".to_string())
        );
        assert_eq!(
            split_repo_tag("127.0.0.1:5000/busybox"),
            ("127.0.0.1:5000/busybox".to_string(), "<none>".to_string())
        );
    }
}
