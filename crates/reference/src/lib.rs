//! pouch-reference: Docker-style image references: parsing, normalisation and the
//! "familiar" forms Docker prints. Pure string handling: nothing here resolves names or
//! touches the network.
#![forbid(unsafe_code)]

use std::fmt;

/// Registry used when a reference names none, as Docker does.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// Host actually contacted for [`DEFAULT_REGISTRY`] (Docker's `registry-1.docker.io`).
pub const DEFAULT_REGISTRY_HOST: &str = "registry-1.docker.io";
/// Tag used when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
const OFFICIAL_PREFIX: &str = "library/";
/// Docker Hub's old name, normalised to [`DEFAULT_REGISTRY`].
const LEGACY_DEFAULT_REGISTRY: &str = "index.docker.io";
/// Docker limits the whole name (registry + repository) to this many bytes.
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// Why a reference string was rejected. Messages are those of dockerd 20.10 (its vendored
/// `docker/distribution/reference` and `go-digest`), word for word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// Anything the reference grammar does not match (`ErrReferenceInvalidFormat`).
    #[error("invalid reference format")]
    InvalidFormat,
    /// Uppercase in the repository path (`ParseNormalizedNamed`'s own check).
    #[error("invalid reference format: repository name must be lowercase")]
    Uppercase,
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    #[error("repository name must not be more than {MAX_NAME_LEN} characters")]
    NameTooLong,
    /// A separate tag (`?tag=`, `docker tag`'s TAG) that is not a valid tag.
    #[error("invalid tag format")]
    InvalidTag,
    /// go-digest's `ErrDigestInvalidFormat` (e.g. uppercase hex in a sha256 digest).
    #[error("invalid checksum digest format")]
    DigestFormat,
    /// go-digest's `ErrDigestInvalidLength`.
    #[error("invalid checksum digest length")]
    DigestLength,
    /// go-digest's `ErrDigestUnsupported` (an algorithm other than sha256/384/512).
    #[error("unsupported digest algorithm")]
    DigestUnsupported,
}

/// A normalised image reference.
///
/// `registry` is the canonical name (`docker.io` for Docker Hub, never
/// `index.docker.io`), `repository` is the full path (`library/busybox` for official
/// images). From [`Reference::parse`], `tag` is `Some("latest")` when neither tag nor
/// digest was given; [`Reference::parse_named`] leaves both `None` ("name only").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// What dockerd's `reference.ParseAnyReference` gives: a bare digest (a 64-hex ID or
/// `algo:hex`) or a named reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyReference {
    /// `sha256:<hex>`: an image ID.
    Digest(String),
    /// A name, as [`Reference::parse_named`] returns it (no default tag).
    Named(Reference),
}

impl AnyReference {
    /// `ParseAnyReference`: 64 hex digits are an ID, so is a valid `algo:hex` digest;
    /// anything else must be a name.
    pub fn parse(input: &str) -> Result<AnyReference, ReferenceError> {
        if is_full_hex_id(input) {
            return Ok(AnyReference::Digest(format!("sha256:{input}")));
        }
        if parse_digest(input).is_ok() {
            return Ok(AnyReference::Digest(input.to_string()));
        }
        Reference::parse_named(input).map(AnyReference::Named)
    }

    /// The name dockerd's "No such image: X" shows: a name gets `:latest` when it has
    /// neither tag nor digest (`busybox` → `busybox:latest`), a digest stays as it is.
    pub fn not_found_name(&self) -> String {
        match self {
            AnyReference::Digest(d) => d.clone(),
            AnyReference::Named(r) => r.clone().tag_name_only().familiar(),
        }
    }
}

impl Reference {
    /// Parses and normalises like Docker's `ParseNormalizedNamed` + `TagNameOnly`: a
    /// reference without tag and digest gets `:latest`.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        Reference::parse_named(input).map(Reference::tag_name_only)
    }

    /// Docker's `ParseNormalizedNamed` (as vendored in dockerd 20.10): the tag stays `None`
    /// when none is given, so `docker pull -a`'s bare repository can be told apart.
    pub fn parse_named(input: &str) -> Result<Reference, ReferenceError> {
        if is_full_hex_id(input) {
            return Err(ReferenceError::HexName(input.to_string()));
        }
        let (registry, remainder) = split_docker_domain(input);
        // The repository path is what comes before the first ':' of the remainder.
        let remote_name = remainder.split(':').next().unwrap_or("");
        if remote_name.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase);
        }

        // `reference.Parse` of "domain/remainder": the grammar first, then the length,
        // then the digest's own checks.
        let (rest, digest) = match remainder.split_once('@') {
            Some((name, d)) => {
                if !digest_grammar(d) {
                    return Err(ReferenceError::InvalidFormat);
                }
                (name, Some(d))
            }
            None => (remainder.as_str(), None),
        };
        // The text after the last ':' is a tag unless a '/' follows it (a port).
        let (path, tag) = match rest.rfind(':') {
            Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(t) = tag {
            if !tag_grammar(t) {
                return Err(ReferenceError::InvalidFormat);
            }
        }
        if !domain_grammar(&registry) || validate_path(path).is_err() {
            return Err(ReferenceError::InvalidFormat);
        }
        if registry.len() + 1 + path.len() > MAX_NAME_LEN {
            return Err(ReferenceError::NameTooLong);
        }
        if let Some(d) = digest {
            parse_digest(d)?;
        }
        Ok(Reference {
            registry,
            repository: path.to_string(),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    /// Docker's `TagNameOnly`: `:latest` when there is neither tag nor digest.
    pub fn tag_name_only(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    /// Neither tag nor digest (`docker pull -a REPO`).
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// Docker's `WithTag(TrimNamed(r), tag)` as `POST /images/create?tag=` and
    /// `POST /images/{name}/tag?tag=` apply it: the tag replaces any tag, a digest is
    /// kept (pull) or dropped by the caller (tag). An invalid tag is `invalid tag format`.
    pub fn with_tag(mut self, tag: &str) -> Result<Reference, ReferenceError> {
        if !tag_grammar(tag) {
            return Err(ReferenceError::InvalidTag);
        }
        self.tag = Some(tag.to_string());
        Ok(self)
    }

    /// Docker's `WithDigest(TrimNamed(r), digest)`: the name with only this digest.
    pub fn with_digest(mut self, digest: &str) -> Result<Reference, ReferenceError> {
        parse_digest(digest)?;
        self.tag = None;
        self.digest = Some(digest.to_string());
        Ok(self)
    }

    /// The repository alone (`TrimNamed`).
    pub fn trim_named(mut self) -> Reference {
        self.tag = None;
        self.digest = None;
        self
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

    /// The `id` of dockerd's `Pulling from` line: the tag, or for a digest-only reference
    /// the whole familiar reference (`127.0.0.1:5000/x@sha256:…`).
    pub fn progress_id(&self) -> String {
        match &self.tag {
            Some(t) => t.clone(),
            None => self.familiar(),
        }
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

/// Docker's `splitDockerDomain` as vendored in dockerd 20.10: the first component is a
/// registry only if it has '.' or ':' or is `localhost` (uppercase alone does not make
/// one). Official images get `library/`.
fn split_docker_domain(name: &str) -> (String, String) {
    let (domain, remainder) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_REGISTRY.to_string(), name.to_string()),
    };
    let domain = if domain == LEGACY_DEFAULT_REGISTRY {
        DEFAULT_REGISTRY.to_string()
    } else {
        domain
    };
    if domain == DEFAULT_REGISTRY && !remainder.contains('/') {
        return (domain, format!("{OFFICIAL_PREFIX}{remainder}"));
    }
    (domain, remainder)
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

/// Domain components (`[a-zA-Z0-9]` or `[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`) joined by
/// '.', an optional `:port`; also `[v6]:port`, which dockerd 20.10 does not know yet.
fn domain_grammar(domain: &str) -> bool {
    let port_ok = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = domain.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        return v6.parse::<std::net::Ipv6Addr>().is_ok()
            && (after.is_empty() || after.strip_prefix(':').is_some_and(port_ok));
    }
    let (host, port) = match domain.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (domain, None),
    };
    if port.is_some_and(|p| !port_ok(p)) {
        return false;
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
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

/// `[\w][\w.-]{0,127}`.
fn tag_grammar(tag: &str) -> bool {
    let b = tag.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    !b.is_empty()
        && b.len() <= MAX_TAG_LEN
        && word(b[0])
        && b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// The reference grammar's digest:
/// `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[[:xdigit:]]{32,}`.
fn digest_grammar(d: &str) -> bool {
    let Some((algo, hex)) = d.split_once(':') else {
        return false;
    };
    let algo_ok = algo.split(['-', '_', '+', '.']).all(|c| {
        c.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
            && c.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    algo_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// go-digest's `DigestRegexpAnchored`: `[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`.
fn go_digest_grammar(algo: &str, encoded: &str) -> bool {
    let lower_alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    algo.split(['.', '+', '_', '-'])
        .all(|c| !c.is_empty() && c.bytes().all(lower_alnum))
        && !encoded.is_empty()
        && encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
}

/// go-digest's `Parse`: `algo:hex` with an available algorithm and a hex part of its
/// exact length in lowercase.
fn parse_digest(d: &str) -> Result<(), ReferenceError> {
    let (algo, hex) = match d.split_once(':') {
        Some((a, h)) if !a.is_empty() && !h.is_empty() => (a, h),
        _ => return Err(ReferenceError::DigestFormat),
    };
    let len = match algo {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ if go_digest_grammar(algo, hex) => return Err(ReferenceError::DigestUnsupported),
        _ => return Err(ReferenceError::DigestFormat),
    };
    if hex.len() != len {
        return Err(ReferenceError::DigestLength);
    }
    if !hex.bytes().all(is_lower_hex) {
        return Err(ReferenceError::DigestFormat);
    }
    Ok(())
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
            Err(ReferenceError::Uppercase)
        ));
        assert!(matches!(
            Reference::parse("127.0.0.1:5000/Foo"),
            Err(ReferenceError::Uppercase)
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

    /// What dockerd 20.10 answers for each (`POST /images/create?fromImage=X`), word for
    /// word (taken from a reference dockerd).
    #[test]
    fn errors_are_dockerds() {
        use ReferenceError::*;
        let hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let cases: Vec<(String, ReferenceError)> = vec![
            ("BusyBox".into(), Uppercase),
            ("BusyBox:latest".into(), Uppercase),
            ("127.0.0.1:5000/Foo".into(), Uppercase),
            // Uppercase in the first component does not make it a registry (dockerd 20.10).
            ("Foo/bar".into(), Uppercase),
            ("bad@@ref".into(), InvalidFormat),
            ("a:b:c".into(), InvalidFormat),
            ("a:-x".into(), InvalidFormat),
            ("a:t!".into(), InvalidFormat),
            ("a@sha256:abc".into(), InvalidFormat),
            (format!("a@sha256:{}", hex.to_uppercase()), DigestFormat),
            (format!("a@sha256:{}", &hex[..40]), DigestLength),
            (
                "a@md5:0123456789abcdef0123456789abcdef".into(),
                DigestUnsupported,
            ),
            ("a@".into(), InvalidFormat),
            (":tag".into(), InvalidFormat),
            ("a//b".into(), InvalidFormat),
            ("-a".into(), InvalidFormat),
            ("a b".into(), InvalidFormat),
            ("".into(), InvalidFormat),
            (hex.into(), HexName(hex.into())),
            (format!("a/{}", "b".repeat(300)), NameTooLong),
            (format!("a:{}", "t".repeat(129)), InvalidFormat),
            ("bad_host:5000/x".into(), InvalidFormat),
        ];
        for (input, want) in cases {
            assert_eq!(Reference::parse_named(&input), Err(want), "{input:?}");
        }
        assert_eq!(
            Uppercase.to_string(),
            "invalid reference format: repository name must be lowercase"
        );
        assert_eq!(InvalidFormat.to_string(), "invalid reference format");
        assert_eq!(InvalidTag.to_string(), "invalid tag format");
        assert_eq!(DigestFormat.to_string(), "invalid checksum digest format");
        assert_eq!(
            DigestUnsupported.to_string(),
            "unsupported digest algorithm"
        );
        assert_eq!(
            HexName(hex.into()).to_string(),
            format!("invalid repository name ({hex}), cannot specify 64-byte hexadecimal strings")
        );
        assert_eq!(
            NameTooLong.to_string(),
            "repository name must not be more than 255 characters"
        );
        // Uppercase in the tag, the registry or a digest's hex is not the path's business.
        p("a:LATEST");
        p("UPPER:5000/x");
        assert_eq!(p("Foo.bar/x").registry, "Foo.bar");
    }

    #[test]
    fn name_only_and_separate_tags() {
        let r = Reference::parse_named("127.0.0.1:5000/busybox").unwrap();
        assert!(r.is_name_only());
        assert_eq!(r.repo_familiar(), "127.0.0.1:5000/busybox");
        assert_eq!(r.familiar(), "127.0.0.1:5000/busybox");
        let t = r.clone().with_tag("v1").unwrap();
        assert_eq!(t.familiar(), "127.0.0.1:5000/busybox:v1");
        assert!(!t.is_name_only());
        for bad in ["bad tag", "-x", "sha256:abc", "", "a!"] {
            assert_eq!(
                r.clone().with_tag(bad),
                Err(ReferenceError::InvalidTag),
                "{bad:?}"
            );
        }
        let d = r.clone().with_digest(D).unwrap();
        assert_eq!(d.familiar(), format!("127.0.0.1:5000/busybox@{D}"));
        assert_eq!(
            r.clone().with_digest("sha256:abc"),
            Err(ReferenceError::DigestLength)
        );
        // A tag replaces the one given in the name.
        let r = Reference::parse_named("a:1")
            .unwrap()
            .with_tag("2")
            .unwrap();
        assert_eq!(r.familiar(), "a:2");
        assert_eq!(p("a:1").trim_named().familiar(), "a");
        assert_eq!(
            Reference::parse("x").unwrap().tag.as_deref(),
            Some("latest")
        );
    }

    #[test]
    fn any_reference_is_an_id_or_a_name() {
        let hex = &D["sha256:".len()..];
        assert_eq!(AnyReference::parse(hex), Ok(AnyReference::Digest(D.into())));
        assert_eq!(AnyReference::parse(D), Ok(AnyReference::Digest(D.into())));
        // A short ID is a name to the parser (the daemon then searches IDs by prefix).
        let short = AnyReference::parse("sha256:abc").unwrap();
        assert_eq!(short.not_found_name(), "sha256:abc");
        let AnyReference::Named(n) = AnyReference::parse("abcdef").unwrap() else {
            panic!("abcdef is a name")
        };
        assert!(n.is_name_only());
        assert_eq!(
            AnyReference::parse("nosuch").unwrap().not_found_name(),
            "nosuch:latest"
        );
        assert_eq!(
            AnyReference::parse("127.0.0.1:5000/x:v1")
                .unwrap()
                .not_found_name(),
            "127.0.0.1:5000/x:v1"
        );
        assert_eq!(
            AnyReference::parse(&format!("x@{D}"))
                .unwrap()
                .not_found_name(),
            format!("x@{D}")
        );
        assert_eq!(AnyReference::parse(hex).unwrap().not_found_name(), D);
        assert_eq!(
            AnyReference::parse("BAD:REF:x"),
            Err(ReferenceError::Uppercase)
        );
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
