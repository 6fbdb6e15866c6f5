//! Docker-style image references: parsing, normalisation and the "familiar" forms
//! Docker prints. Pure string handling: nothing here resolves names or touches the network.

use std::fmt;

/// Registry used when a reference names none, as Docker does.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// Host actually contacted for [`DEFAULT_REGISTRY`] (Docker's `registry-1.docker.io`).
pub const DEFAULT_REGISTRY_HOST: &str = "registry-1.docker.io";
/// Tag used when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
const OFFICIAL_PREFIX: &str = "library/";
/// Docker limits the whole name (registry + repository) to this many bytes.
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// Why a reference string was rejected. Messages follow Docker's wording where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference format")]
    Empty,
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    #[error("invalid reference format: {0}")]
    InvalidFormat(String),
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    #[error("repository name must not be more than {MAX_NAME_LEN} characters")]
    NameTooLong,
    #[error("invalid tag format: {0}")]
    InvalidTag(String),
    #[error("invalid digest format: {0}")]
    InvalidDigest(String),
    #[error("invalid registry host: {0}")]
    InvalidDomain(String),
}

/// A normalised image reference.
///
/// `registry` is the canonical name (`docker.io` for Docker Hub, never
/// `index.docker.io`), `repository` is the full path (`library/busybox` for official
/// images). `tag` is `Some("latest")` when neither tag nor digest was given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    /// Parses and normalises like Docker's `ParseNormalizedNamed` + `TagNameOnly`.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        if input.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if is_full_hex_id(input) {
            return Err(ReferenceError::HexName(input.to_string()));
        }

        // Digest first: it is the only part that may contain '@'.
        let (rest, digest) = match input.split_once('@') {
            Some((name, d)) => {
                validate_digest(d)?;
                (name, Some(d.to_string()))
            }
            None => (input, None),
        };

        // A tag is the text after the last ':' unless that ':' belongs to the
        // registry's port (i.e. a '/' follows it).
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i + 1..].contains('/') => {
                let t = &rest[i + 1..];
                validate_tag(t)?;
                (&rest[..i], Some(t.to_string()))
            }
            _ => (rest, None),
        };
        if name.is_empty() {
            return Err(ReferenceError::InvalidFormat(input.to_string()));
        }

        let (registry, path) = split_domain(name);
        validate_domain(&registry)?;
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase(path.to_string()));
        }
        validate_path(path).map_err(|_| ReferenceError::InvalidFormat(input.to_string()))?;

        let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
            format!("{OFFICIAL_PREFIX}{path}")
        } else {
            path.to_string()
        };
        if registry.len() + 1 + repository.len() > MAX_NAME_LEN {
            return Err(ReferenceError::NameTooLong);
        }

        let tag = match (&tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_string()),
            _ => tag,
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// Repository as Docker shows it: `busybox`, `foo/bar`, `127.0.0.1:5000/busybox`.
    pub fn repo_familiar(&self) -> String {
        if self.registry == DEFAULT_REGISTRY {
            match self.repository.strip_prefix(OFFICIAL_PREFIX) {
                // Only strip "library/" for single-component official names.
                Some(short) if !short.contains('/') => short.to_string(),
                _ => self.repository.clone(),
            }
        } else {
            format!("{}/{}", self.registry, self.repository)
        }
    }

    /// Reference as Docker shows it in RepoTags / RepoDigests / progress messages:
    /// `busybox:latest`, `127.0.0.1:5000/busybox:latest`, `busybox@sha256:…`.
    pub fn familiar(&self) -> String {
        let mut s = self.repo_familiar();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// `repo_familiar():tag`, if the reference has a tag (what goes in RepoTags).
    pub fn familiar_tagged(&self) -> Option<String> {
        self.tag
            .as_ref()
            .map(|t| format!("{}:{}", self.repo_familiar(), t))
    }

    /// Host (with port) to contact over HTTP(S) for this registry.
    pub fn registry_host(&self) -> &str {
        if self.registry == DEFAULT_REGISTRY {
            DEFAULT_REGISTRY_HOST
        } else {
            &self.registry
        }
    }

    /// The host part of the registry without a port (for insecure-registry matching).
    pub fn registry_hostname(&self) -> &str {
        host_without_port(self.registry_host())
    }

    /// Tag or digest to ask the registry for (digest wins, as Docker does).
    pub fn tag_or_digest(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or(DEFAULT_TAG)
    }
}

impl fmt::Display for Reference {
    /// The fully qualified form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// True if `s` could be (a prefix of) an image ID: `sha256:` optional, then 1..=64
/// lowercase hex digits. The daemon should try names first: `abc` is both.
pub fn is_image_id_prefix(s: &str) -> bool {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(is_lower_hex)
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

fn is_full_hex_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(is_lower_hex)
}

/// Docker's `splitDockerDomain`: the first component is a registry only if it looks
/// like a host (has '.' or ':', is `localhost`, or has uppercase letters).
fn split_domain(name: &str) -> (String, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            let domain = if first == "index.docker.io" {
                DEFAULT_REGISTRY.to_string()
            } else {
                first.to_string()
            };
            (domain, rest)
        }
        _ => (DEFAULT_REGISTRY.to_string(), name),
    }
}

fn host_without_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

fn validate_domain(domain: &str) -> Result<(), ReferenceError> {
    let bad = || ReferenceError::InvalidDomain(domain.to_string());
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or_else(bad)?;
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad());
        }
        match after {
            "" => ("", None),
            p => ("", Some(p.strip_prefix(':').ok_or_else(bad)?.to_string())),
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (h, Some(p.to_string())),
            None => (domain, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
    }
    if domain.starts_with('[') {
        return Ok(());
    }
    if host.is_empty() {
        return Err(bad());
    }
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(bad());
        }
    }
    Ok(())
}

/// Path components: `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`, joined by '/'.
fn validate_path(path: &str) -> Result<(), ()> {
    if path.is_empty() {
        return Err(());
    }
    for comp in path.split('/') {
        validate_component(comp)?;
    }
    Ok(())
}

fn validate_component(comp: &str) -> Result<(), ()> {
    let b = comp.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return Err(());
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__", or any number of '-'.
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &comp[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return Err(());
        }
    }
    Ok(())
}

fn validate_tag(tag: &str) -> Result<(), ReferenceError> {
    let b = tag.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let ok = !b.is_empty()
        && b.len() <= MAX_TAG_LEN
        && word(b[0])
        && b.iter().all(|&c| word(c) || c == b'.' || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(ReferenceError::InvalidTag(tag.to_string()))
    }
}

fn validate_digest(d: &str) -> Result<(), ReferenceError> {
    let bad = || ReferenceError::InvalidDigest(d.to_string());
    let (algo, hex) = d.split_once(':').ok_or_else(bad)?;
    if algo.is_empty()
        || !algo.as_bytes()[0].is_ascii_alphabetic()
        || !algo
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'+' | b'.'))
    {
        return Err(bad());
    }
    match algo {
        "sha256" if hex.len() == 64 && hex.bytes().all(is_lower_hex) => Ok(()),
        "sha256" => Err(bad()),
        _ if hex.len() >= 32 && hex.bytes().all(|c| c.is_ascii_hexdigit()) => Ok(()),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn p(s: &str) -> Reference {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn official_image_is_normalised() {
        let r = p("busybox");
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "library/busybox");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert_eq!(r.digest, None);
        assert_eq!(r.familiar(), "busybox:latest");
        assert_eq!(r.repo_familiar(), "busybox");
        assert_eq!(r.registry_host(), "registry-1.docker.io");
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
    }

    #[test]
    fn docker_hub_spellings_are_equal() {
        let want = p("busybox:1.36");
        for s in [
            "library/busybox:1.36",
            "docker.io/busybox:1.36",
            "docker.io/library/busybox:1.36",
            "index.docker.io/library/busybox:1.36",
        ] {
            assert_eq!(p(s), want, "{s}");
        }
        let user = p("foo/bar");
        assert_eq!(user.repository, "foo/bar");
        assert_eq!(user.familiar(), "foo/bar:latest");
    }

    #[test]
    fn registry_with_port() {
        let r = p("127.0.0.1:5000/a/b:t");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "a/b");
        assert_eq!(r.tag.as_deref(), Some("t"));
        assert_eq!(r.familiar(), "127.0.0.1:5000/a/b:t");
        assert_eq!(r.registry_host(), "127.0.0.1:5000");
        assert_eq!(r.registry_hostname(), "127.0.0.1");
        let r = p("127.0.0.1:5000/busybox");
        assert_eq!(r.repository, "busybox");
        assert_eq!(r.familiar(), "127.0.0.1:5000/busybox:latest");
        assert_eq!(r.repo_familiar(), "127.0.0.1:5000/busybox");
    }

    #[test]
    fn localhost_is_a_registry() {
        let r = p("localhost/x");
        assert_eq!(r.registry, "localhost");
        assert_eq!(r.repository, "x");
        assert_eq!(r.familiar(), "localhost/x:latest");
        let r = p("localhost:5000/x:1");
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.registry_hostname(), "localhost");
        // A dotted first component is a registry, an undotted one a namespace.
        assert_eq!(p("my.reg/x").registry, "my.reg");
        assert_eq!(p("myreg/x").registry, "docker.io");
    }

    #[test]
    fn digest_references() {
        let r = p(&format!("x@{D}"));
        assert_eq!(r.repository, "library/x");
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_deref(), Some(D));
        assert_eq!(r.familiar(), format!("x@{D}"));
        assert_eq!(r.tag_or_digest(), D);
        let r = p(&format!("127.0.0.1:5000/x:t@{D}"));
        assert_eq!(r.tag.as_deref(), Some("t"));
        assert_eq!(r.digest.as_deref(), Some(D));
        assert_eq!(r.tag_or_digest(), D);
    }

    #[test]
    fn ipv6_registry() {
        let r = p("[::1]:5000/x:y");
        assert_eq!(r.registry, "[::1]:5000");
        assert_eq!(r.registry_hostname(), "::1");
    }

    #[test]
    fn rejects_bad_references() {
        assert!(matches!(
            Reference::parse("BusyBox"),
            Err(ReferenceError::Uppercase(_))
        ));
        assert!(matches!(
            Reference::parse("127.0.0.1:5000/Foo"),
            Err(ReferenceError::Uppercase(_))
        ));
        for bad in [
            "",
            ":tag",
            "a b",
            "a/",
            "/a",
            "a//b",
            "-a",
            "a-",
            "a..b",
            "a___b",
            "a:",
            "a:-x",
            "a:t!",
            "a@sha256:abc",
            "a@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
            "a@",
            "a$b",
            "bad_host:5000/x",
            "host:port/x",
            "a:b:c",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should fail");
        }
        let hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert!(matches!(
            Reference::parse(hex),
            Err(ReferenceError::HexName(_))
        ));
        let long = format!("a/{}", "b".repeat(300));
        assert!(Reference::parse(&long).is_err());
        assert!(Reference::parse(&format!("a:{}", "t".repeat(129))).is_err());
    }

    #[test]
    fn accepts_separators() {
        for ok in [
            "a.b",
            "a_b",
            "a__b",
            "a-b",
            "a---b",
            "a/b.c-d_e",
            "a:1.0-rc_1",
        ] {
            p(ok);
        }
    }

    #[test]
    fn image_id_prefixes() {
        assert!(is_image_id_prefix("abc123"));
        assert!(is_image_id_prefix("sha256:abc"));
        assert!(is_image_id_prefix(&"a".repeat(64)));
        assert!(!is_image_id_prefix(&"a".repeat(65)));
        assert!(!is_image_id_prefix("ABC"));
        assert!(!is_image_id_prefix("busybox"));
        assert!(!is_image_id_prefix(""));
        assert!(!is_image_id_prefix("sha256:"));
    }
}
