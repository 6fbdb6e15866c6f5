//! The `filters` query parameter of the list endpoints, with the semantics of Docker's
//! `api/types/filters.Args`: a key maps to a set of values; several values of one key are
//! alternatives (OR), different keys all apply (AND). Also Go's `path.Match`, which dockerd
//! uses for the image `reference` filter. Pure code; the list logic is in `list.rs`.

use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

/// Why a filter was refused. Messages are dockerd's where dockerd has one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FilterError {
    /// The parameter is not JSON of either shape Docker clients send.
    #[error("Invalid filters parameter {input:?}: {reason} (want a JSON object such as {{\"status\":[\"running\"]}})")]
    Json { input: String, reason: String },
    /// A key the endpoint does not know.
    #[error("Invalid filter '{0}'")]
    UnknownKey(String),
    /// A value the key does not accept; `value` is shown as dockerd shows it (`bogus` or
    /// `[a b]` for a key validated as a whole).
    #[error("Invalid filter '{key}={value}'")]
    InvalidValue { key: String, value: String },
    /// A value refused with a sentence of its own (health, ports, exit codes, patterns).
    #[error("{0}")]
    Message(String),
    /// `before`/`since` naming a container that does not exist.
    #[error("no such container {0}")]
    NoSuchContainer(String),
}

impl FilterError {
    /// dockerd's `invalidFilter{key, args.Get(key)}`: the values as Go prints a slice.
    pub fn invalid_values(key: &str, values: &[String]) -> FilterError {
        FilterError::InvalidValue {
            key: key.to_string(),
            value: format!("[{}]", values.join(" ")),
        }
    }
}

/// Docker's filter arguments. Values are kept sorted so that everything dockerd does in Go
/// map order (random) happens here in one fixed order. Each value keeps its JSON bool, as
/// Go's `map[string]map[string]bool` does: only `ExactMatch` looks at it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    fields: BTreeMap<String, BTreeMap<String, bool>>,
}

impl Filters {
    /// Parse the `filters` query value: `{"key": {"value": true}}` (what clients send since
    /// API 1.22) or the older `{"key": ["value"]}`. Empty means no filters; so does `null`.
    pub fn from_json(input: &str) -> Result<Filters, FilterError> {
        if input.is_empty() {
            return Ok(Filters::default());
        }
        // Go decodes JSON null into a zero value without an error: mirror that for the
        // whole document, for a key and for a value.
        type Current = Option<BTreeMap<String, Option<BTreeMap<String, Option<bool>>>>>;
        type Legacy = BTreeMap<String, Option<Vec<Option<String>>>>;
        let first = match serde_json::from_str::<Current>(input) {
            Ok(m) => {
                let fields = m
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| {
                        let values = v
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(val, on)| (val, on.unwrap_or(false)));
                        (k, values.collect())
                    })
                    .collect();
                return Ok(Filters { fields });
            }
            Err(e) => e,
        };
        match serde_json::from_str::<Legacy>(input) {
            Ok(m) => {
                let fields = m
                    .into_iter()
                    .map(|(k, v)| {
                        let values = v
                            .unwrap_or_default()
                            .into_iter()
                            .map(|s| (s.unwrap_or_default(), true));
                        (k, values.collect())
                    })
                    .collect();
                Ok(Filters { fields })
            }
            Err(_) => Err(FilterError::Json {
                // Echo the start of what was sent, not all of it.
                input: input.chars().take(100).collect(),
                reason: first.to_string(),
            }),
        }
    }

    /// Build from `(key, value)` pairs.
    #[cfg(test)]
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Filters {
        let mut f = Filters::default();
        for (k, v) in pairs {
            f.fields
                .entry(k.to_string())
                .or_default()
                .insert(v.to_string(), true);
        }
        f
    }

    /// `Validate`: every key must be one of `accepted`.
    pub fn validate(&self, accepted: &[&str]) -> Result<(), FilterError> {
        match self.fields.keys().find(|k| !accepted.contains(&k.as_str())) {
            Some(k) => Err(FilterError::UnknownKey(k.clone())),
            None => Ok(()),
        }
    }

    /// `Contains`: the key was given, even with no values.
    pub fn contains(&self, key: &str) -> bool {
        self.fields.contains_key(key)
    }

    /// `Get`: the values of `key`, sorted.
    pub fn get(&self, key: &str) -> Vec<String> {
        self.fields
            .get(key)
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// `ExactMatch`: true when the key has no values, or one of them is `source`.
    pub fn exact_match(&self, key: &str, source: &str) -> bool {
        match self.fields.get(key) {
            None => true,
            Some(v) if v.is_empty() => true,
            Some(v) => v.get(source).copied().unwrap_or(false),
        }
    }

    /// `FuzzyMatch`: an exact match, or a value that is a prefix of `source` (ids by their
    /// short form).
    pub fn fuzzy_match(&self, key: &str, source: &str) -> bool {
        self.exact_match(key, source)
            || self
                .fields
                .get(key)
                .is_some_and(|v| v.keys().any(|p| source.starts_with(p.as_str())))
    }

    /// `MatchKVList` for labels: every value (`key` or `key=value`) must hold in `labels`.
    pub fn match_kv_list(&self, key: &str, labels: &BTreeMap<String, String>) -> bool {
        let Some(values) = self.fields.get(key) else {
            return true;
        };
        if values.is_empty() {
            return true;
        }
        if labels.is_empty() {
            return false;
        }
        values.keys().all(|v| match v.split_once('=') {
            Some((k, want)) => labels.get(k).is_some_and(|have| have == want),
            None => labels.contains_key(v),
        })
    }

    /// `GetBoolOrDefault` (dockerd since API 1.44 for `dangling`): `true`/`1` or
    /// `false`/`0`; both at once, none of them, or an empty list is an invalid filter.
    pub fn get_bool_or_default(&self, key: &str, default: bool) -> Result<bool, FilterError> {
        let Some(values) = self.fields.get(key) else {
            return Ok(default);
        };
        if values.is_empty() {
            // dockerd's `invalidFilter{key, nil}`: the key alone.
            return Err(FilterError::UnknownKey(key.to_string()));
        }
        let is_false = values.contains_key("0") || values.contains_key("false");
        let is_true = values.contains_key("1") || values.contains_key("true");
        if is_false == is_true {
            return Err(FilterError::invalid_values(key, &self.get(key)));
        }
        Ok(is_true)
    }

    /// The values of `key` compiled for `Match`.
    pub fn matcher(&self, key: &str) -> Matcher {
        let values = self.get(key);
        let patterns = values.iter().filter_map(|v| Regex::new(v).ok()).collect();
        Matcher {
            exact: values.into_iter().collect(),
            patterns,
        }
    }
}

/// Docker's `Args.Match` for one key: no values match everything; otherwise a value equal to
/// the source, or a value that as a regular expression (unanchored, as Go's `MatchString`)
/// finds a match in it. A value that is not a valid expression only matches exactly, as in
/// dockerd, where the compile error is skipped.
#[derive(Debug, Clone)]
pub struct Matcher {
    exact: BTreeSet<String>,
    patterns: Vec<Regex>,
}

impl Matcher {
    pub fn is_match(&self, source: &str) -> bool {
        self.exact.is_empty()
            || self.exact.contains(source)
            || self.patterns.iter().any(|r| r.is_match(source))
    }
}

/// Go's `path.ErrBadPattern`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("syntax error in pattern")]
pub struct BadPattern;

/// Go's `path.Match` (the Go 1.19 algorithm, which reports a malformed pattern even when the
/// name does not match): `*` any run of non-`/` characters, `?` one non-`/` character,
/// `[...]` / `[^...]` classes with ranges, `\` escapes.
pub fn path_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let mut pattern = pattern;
    let mut name = name;
    'outer: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing `*` matches the rest of the name unless it has a `/`.
            return Ok(!name.contains('/'));
        }
        let (t, ok) = match_chunk(chunk, name)?;
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if star {
            // Try skipping more of the name; `*` cannot skip a `/`.
            for (i, c) in name.char_indices() {
                if c == '/' {
                    break;
                }
                let (t, ok) = match_chunk(chunk, &name[i + c.len_utf8()..])?;
                if ok {
                    if pattern.is_empty() && !t.is_empty() {
                        continue;
                    }
                    name = t;
                    continue 'outer;
                }
            }
        }
        // No match; the rest of the pattern must still be well formed.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, "")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Leading stars, then the chunk up to the next star outside a class.
fn scan_chunk(pattern: &str) -> (bool, &str, &str) {
    let trimmed = pattern.trim_start_matches('*');
    let star = trimmed.len() != pattern.len();
    let b = trimmed.as_bytes();
    let mut in_range = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &trimmed[..i], &trimmed[i..])
}

/// Match `chunk` (no stars) at the start of `s`: the rest of `s` and whether it matched.
/// After a failure the chunk is still parsed so a malformed one is reported.
fn match_chunk<'a>(chunk: &str, s: &'a str) -> Result<(&'a str, bool), BadPattern> {
    let mut chunk = chunk;
    let mut s = s;
    let mut failed = false;
    while let Some(first) = chunk.chars().next() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match first {
            '[' => {
                let mut r = '\0';
                if !failed {
                    if let Some(c) = s.chars().next() {
                        r = c;
                        s = &s[c.len_utf8()..];
                    }
                }
                chunk = &chunk[1..];
                let negated = chunk.starts_with('^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if chunk.starts_with(']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if let Some(rest) = chunk.strip_prefix('-') {
                        let (h, rest) = get_esc(rest)?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            '?' => {
                if !failed {
                    if let Some(c) = s.chars().next() {
                        if c == '/' {
                            failed = true;
                        }
                        s = &s[c.len_utf8()..];
                    }
                }
                chunk = &chunk[1..];
            }
            _ => {
                let lit = if first == '\\' {
                    chunk = &chunk[1..];
                    chunk.chars().next().ok_or(BadPattern)?
                } else {
                    first
                };
                if !failed {
                    match s.chars().next() {
                        Some(c) if c == lit => s = &s[c.len_utf8()..],
                        _ => failed = true,
                    }
                }
                chunk = &chunk[lit.len_utf8()..];
            }
        }
    }
    if failed {
        Ok(("", false))
    } else {
        Ok((s, true))
    }
}

/// One possibly escaped character of a class; a class must not end after it.
fn get_esc(chunk: &str) -> Result<(char, &str), BadPattern> {
    let mut chunk = chunk;
    if chunk.is_empty() || chunk.starts_with('-') || chunk.starts_with(']') {
        return Err(BadPattern);
    }
    if let Some(rest) = chunk.strip_prefix('\\') {
        chunk = rest;
    }
    let c = chunk.chars().next().ok_or(BadPattern)?;
    let rest = &chunk[c.len_utf8()..];
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((c, rest))
}

/// The part of a familiar reference without its tag or digest:
/// `127.0.0.1:5000/a/b:v1` → `127.0.0.1:5000/a/b`, `busybox@sha256:..` → `busybox`.
pub fn familiar_name(reference: &str) -> &str {
    if let Some((name, _)) = reference.split_once('@') {
        return name;
    }
    match reference.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => reference,
    }
}

/// Docker's `reference.FamiliarMatch`: the glob against the whole familiar reference, or
/// against its name alone (so `docker images REPO` lists every tag of REPO).
pub fn familiar_match(pattern: &str, reference: &str) -> Result<bool, BadPattern> {
    if path_match(pattern, reference)? {
        return Ok(true);
    }
    Ok(path_match(pattern, familiar_name(reference)).unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_json_shapes_and_null() {
        let f = Filters::from_json(r#"{"status":{"running":true,"exited":false}}"#).unwrap();
        // Go keeps a value whatever its bool says.
        assert_eq!(f.get("status"), ["exited", "running"]);
        let f = Filters::from_json(r#"{"label":["a=b","c"]}"#).unwrap();
        assert_eq!(f.get("label"), ["a=b", "c"]);
        assert_eq!(Filters::from_json("").unwrap(), Filters::default());
        assert_eq!(Filters::from_json("null").unwrap(), Filters::default());
        let f = Filters::from_json(r#"{"ancestor":[]}"#).unwrap();
        assert!(f.contains("ancestor") && f.get("ancestor").is_empty());
    }

    #[test]
    fn bad_json_is_refused_with_the_input() {
        for bad in [
            "notjson",
            "[]",
            r#"{"status":"running"}"#,
            r#"{"status":[1]}"#,
            r#"{"status":{"x":"yes"}}"#,
            // Go decodes the whole object as one shape or the other, never mixed.
            r#"{"status":["created"],"label":{"a":true}}"#,
        ] {
            let e = Filters::from_json(bad).unwrap_err();
            assert!(matches!(e, FilterError::Json { .. }), "{bad}: {e}");
            assert!(
                e.to_string().starts_with("Invalid filters parameter"),
                "{e}"
            );
        }
    }

    #[test]
    fn validate_names_the_unknown_key() {
        let f = Filters::from_pairs([("status", "running"), ("bogus", "x")]);
        assert_eq!(
            f.validate(&["status"]).unwrap_err().to_string(),
            "Invalid filter 'bogus'"
        );
        assert!(f.validate(&["status", "bogus"]).is_ok());
    }

    #[test]
    fn a_false_value_is_kept_but_never_matches_exactly() {
        // Go's ExactMatch returns the stored bool; prefix and regexp matches ignore it.
        let f = Filters::from_json(r#"{"type":{"container":false,"image":true}}"#).unwrap();
        assert!(!f.exact_match("type", "container"));
        assert!(f.exact_match("type", "image"));
        assert_eq!(f.get("type"), ["container", "image"]);
        let f = Filters::from_json(r#"{"container":{"abc":false}}"#).unwrap();
        assert!(f.fuzzy_match("container", "abcdef"));
        assert!(!f.fuzzy_match("container", "xyz"));
    }

    #[test]
    fn exact_match_and_regexp_match() {
        let f = Filters::from_pairs([("name", "^/l1$"), ("name", "x.z"), ("name", "[")]);
        let m = f.matcher("name");
        assert!(m.is_match("/l1"));
        assert!(!m.is_match("/l10"));
        assert!(m.is_match("axyz"));
        // An invalid expression is skipped, as in dockerd, but still matches exactly.
        assert!(m.is_match("["));
        assert!(!m.is_match("a[b"));
        assert!(Filters::default().matcher("name").is_match("anything"));
        assert!(Filters::default().exact_match("health", "none"));
        let f = Filters::from_pairs([("health", "none")]);
        assert!(f.exact_match("health", "none") && !f.exact_match("health", "healthy"));
    }

    #[test]
    fn labels_all_must_hold() {
        let labels: BTreeMap<String, String> =
            [("tier".into(), "web".into()), ("x".into(), "".into())].into();
        let f = |v: &[&str]| Filters::from_pairs(v.iter().map(|v| ("label", *v)));
        assert!(f(&["tier"]).match_kv_list("label", &labels));
        assert!(f(&["tier=web", "x"]).match_kv_list("label", &labels));
        assert!(f(&["x="]).match_kv_list("label", &labels));
        assert!(!f(&["tier=web", "nope"]).match_kv_list("label", &labels));
        assert!(!f(&["tier="]).match_kv_list("label", &labels));
        assert!(!f(&["tier=w.b"]).match_kv_list("label", &labels));
        assert!(!f(&["tier"]).match_kv_list("label", &BTreeMap::new()));
        assert!(Filters::default().match_kv_list("label", &BTreeMap::new()));
    }

    #[test]
    fn bools_as_get_bool_or_default() {
        let f = |v: &[&str]| Filters::from_pairs(v.iter().map(|v| ("dangling", *v)));
        assert_eq!(
            Filters::default().get_bool_or_default("dangling", false),
            Ok(false)
        );
        assert_eq!(
            f(&["true"]).get_bool_or_default("dangling", false),
            Ok(true)
        );
        assert_eq!(f(&["1"]).get_bool_or_default("dangling", false), Ok(true));
        assert_eq!(f(&["0"]).get_bool_or_default("dangling", true), Ok(false));
        assert_eq!(
            f(&["false", "maybe"]).get_bool_or_default("dangling", true),
            Ok(false)
        );
        for bad in [&["maybe"][..], &["true", "false"], &["TRUE"]] {
            let e = f(bad).get_bool_or_default("dangling", false).unwrap_err();
            assert!(
                e.to_string().starts_with("Invalid filter 'dangling=["),
                "{e}"
            );
        }
        assert_eq!(
            f(&["maybe", "x"])
                .get_bool_or_default("dangling", false)
                .unwrap_err()
                .to_string(),
            "Invalid filter 'dangling=[maybe x]'"
        );
    }

    #[test]
    fn go_path_match() {
        let ok = |p: &str, n: &str| path_match(p, n).unwrap();
        assert!(ok("abc", "abc"));
        assert!(ok("*", "abc"));
        assert!(!ok("*", "a/b"));
        assert!(ok("a/*", "a/b"));
        assert!(!ok("a/*", "a/b/c"));
        assert!(ok("*/*/x:v1", "127.0.0.1:5000/other/x:v1"));
        assert!(!ok("*/x:v1", "127.0.0.1:5000/other/x:v1"));
        assert!(ok("a*b*c", "axxbyyc"));
        assert!(!ok("a*b*c", "axxbyy"));
        assert!(ok("a?c", "abc"));
        assert!(!ok("a?c", "a/c"));
        assert!(ok("v[12]", "v2"));
        assert!(!ok("v[^12]", "v2"));
        assert!(ok("v[a-c]", "vb"));
        assert!(ok("v\\1", "v1"));
        assert!(ok("v1*", "v1"));
        assert!(ok("v1*", "v10"));
        assert_eq!(path_match("[", "x"), Err(BadPattern));
        assert_eq!(path_match("[a", "x"), Err(BadPattern));
        assert_eq!(path_match("a\\", "a"), Err(BadPattern));
        // Malformed after a mismatch is still an error (Go 1.19).
        assert_eq!(path_match("x[", "abc"), Err(BadPattern));
        assert_eq!(path_match("[]a]", "a"), Err(BadPattern));
    }

    #[test]
    fn familiar_references() {
        assert_eq!(familiar_name("127.0.0.1:5000/a/b:v1"), "127.0.0.1:5000/a/b");
        assert_eq!(familiar_name("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b");
        assert_eq!(familiar_name("busybox@sha256:abcd"), "busybox");
        let m = |p: &str, r: &str| familiar_match(p, r).unwrap();
        assert!(m("127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b:v1"));
        assert!(m("127.0.0.1:5000/a/b:v1*", "127.0.0.1:5000/a/b:v1"));
        assert!(!m("127.0.0.1:5000/a/b:v1*", "127.0.0.1:5000/a/b:v2"));
        assert!(m("127.0.0.1:5000/a/*", "127.0.0.1:5000/a/b:v2"));
        assert!(!m("127.0.0.1:5000/*", "127.0.0.1:5000/a/b:v2"));
        assert!(!m("a/b", "127.0.0.1:5000/a/b:v1"));
        assert!(m(
            "127.0.0.1:5000/a/b@sha256:*",
            "127.0.0.1:5000/a/b@sha256:12"
        ));
    }
}
