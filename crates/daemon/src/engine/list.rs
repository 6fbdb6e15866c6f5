//! What `GET /containers/json` and `GET /images/json` list, filtered as dockerd 20.10 does
//! (`daemon/list.go`, `daemon/images/images.go`). The parsing and matching are pure
//! functions over plain records ([`PsRecord`], [`ImageRecord`]); the `Engine` methods at the
//! bottom only take the snapshot and resolve names.

use super::filters::{familiar_match, path_match, FilterError, Filters, Matcher};
use super::{Engine, EngineError, Result};
use crate::model::{Container, Image, ZERO_TIME};
use pouch_image::reference::Reference;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The keys `GET /containers/json` accepts (dockerd's `acceptedPsFilterTags`).
pub const PS_FILTERS: &[&str] = &[
    "ancestor",
    "before",
    "expose",
    "exited",
    "health",
    "id",
    "isolation",
    "is-task",
    "label",
    "name",
    "network",
    "publish",
    "since",
    "status",
    "volume",
];

/// The keys `GET /images/json` accepts (dockerd's `acceptedImageFilterTags`).
pub const IMAGE_FILTERS: &[&str] = &["before", "dangling", "label", "reference", "since"];

const STATES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];
const HEALTH: &[&str] = &["starting", "healthy", "unhealthy", "none"];

/// `GET /containers/json` options.
#[derive(Debug, Clone, Default)]
pub struct ContainerListOptions {
    pub all: bool,
    /// dockerd's `limit`: at most this many, and stopped containers count; `<= 0` is none.
    pub limit: i64,
    pub filters: Filters,
}

/// A mount point as the `volume` filter sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountRef {
    pub name: String,
    pub source: String,
    pub destination: String,
}

/// A container as the list filters see it (dockerd's `container.Snapshot`).
#[derive(Debug, Clone, Default)]
pub struct PsRecord {
    pub id: String,
    /// Without the leading slash.
    pub name: String,
    /// Creation time in nanoseconds (list order: newest first).
    pub created: i64,
    pub image_id: String,
    pub labels: BTreeMap<String, String>,
    pub state: &'static str,
    /// Running, paused or restarting.
    pub running: bool,
    /// Started at least once (`exited=N` ignores containers that never ran).
    pub started: bool,
    pub exit_code: i32,
    /// `(network name, network id)` pairs.
    pub networks: Vec<(String, String)>,
    /// `none` without a healthcheck.
    pub health: String,
    /// A swarm task (`is-task`).
    pub managed: bool,
    pub mounts: Vec<MountRef>,
    /// `80/tcp` style: ports bound on the host (`publish`), ports published by the network
    /// (`expose`, which dockerd 20.10 matches against `NetworkSettings.Ports`).
    pub published_ports: Vec<String>,
    pub exposed_ports: Vec<String>,
}

/// RFC 3339 to nanoseconds; unreadable times sort as Go's zero time.
fn nanos(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .unwrap_or(i64::MIN)
}

impl From<&Container> for PsRecord {
    fn from(c: &Container) -> PsRecord {
        let network_id = c.endpoint.as_ref().map(|e| e.bridge.clone());
        PsRecord {
            id: c.id.clone(),
            name: c.name.clone(),
            created: nanos(&c.created),
            image_id: c.image_id.clone(),
            labels: c.config.labels.clone().unwrap_or_default(),
            state: c.state.status.as_str(),
            running: c.is_running(),
            started: !c.state.started_at.is_empty() && c.state.started_at != ZERO_TIME,
            exit_code: c.state.exit_code,
            networks: vec![(
                c.host_config.network_name().to_string(),
                network_id.unwrap_or_default(),
            )],
            // No healthchecks, volumes, swarm tasks or published ports exist in pouchd yet:
            // these stay empty until they do (NetworkSettings.Ports is `{}` too).
            health: "none".into(),
            managed: false,
            mounts: vec![],
            published_ports: vec![],
            exposed_ports: vec![],
        }
    }
}

/// `<port>[/<proto>]` or `<start>-<end>[/<proto>]` of `publish` and `expose`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRange {
    pub proto: String,
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    fn contains(&self, port: &str) -> bool {
        let (num, proto) = port.split_once('/').unwrap_or((port, "tcp"));
        proto == self.proto
            && num
                .parse::<u16>()
                .is_ok_and(|n| self.start <= n && n <= self.end)
    }
}

/// Go's `strconv.ParseUint(s, 10, 16)` error text.
fn parse_port(s: &str) -> std::result::Result<u16, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.ParseUint: parsing {s:?}: invalid syntax"));
    }
    s.parse::<u16>()
        .map_err(|_| format!("strconv.ParseUint: parsing {s:?}: value out of range"))
}

/// dockerd's `portOp`: `nat.SplitProtoPort` then `nat.ParsePortRange`, same messages.
pub fn parse_port_filter(key: &str, value: &str) -> std::result::Result<PortRange, FilterError> {
    if value.contains(':') {
        return Err(FilterError::Message(format!(
            "filter for '{key}' should not contain ':': {value}"
        )));
    }
    let err =
        |e: String| FilterError::Message(format!("error while looking up for {key} {value}: {e}"));
    let parts: Vec<&str> = value.split('/').collect();
    let (proto, port) = if value.is_empty() || parts[0].is_empty() {
        ("", "")
    } else if parts.len() == 1 || parts[1].is_empty() {
        ("tcp", parts[0])
    } else {
        (parts[1], parts[0])
    };
    if port.is_empty() {
        return Err(err("Empty string specified for ports.".into()));
    }
    let (start, end) = match port.split_once('-') {
        None => {
            let p = parse_port(port).map_err(err)?;
            (p, p)
        }
        Some((a, rest)) => {
            // Go splits on every `-` and reads the first two parts.
            let b = rest.split('-').next().unwrap_or("");
            let start = parse_port(a).map_err(err)?;
            let end = parse_port(b).map_err(err)?;
            if end < start {
                return Err(err(format!("Invalid range specified for the Port: {port}")));
            }
            (start, end)
        }
    };
    Ok(PortRange {
        proto: proto.to_string(),
        start,
        end,
    })
}

/// The parsed and validated container filters (dockerd's `listContext`).
#[derive(Debug, Clone)]
pub struct PsFilter {
    filters: Filters,
    all: bool,
    limit: i64,
    exited: Vec<i64>,
    task: Option<bool>,
    before: Option<String>,
    since: Option<String>,
    /// `ancestor` given: the image ids it resolved to (none resolved: nothing matches).
    ancestors: Option<BTreeSet<String>>,
    /// `id` given: the full ids its values are unique prefixes of.
    ids: Option<BTreeSet<String>>,
    names: Matcher,
    status: Matcher,
    publish: Vec<PortRange>,
    expose: Vec<PortRange>,
}

/// dockerd's `idOrNameFilter` for `before`/`since`: a full id, else a name (with or
/// without its slash). A short id is not enough there, and is not here.
fn id_or_name(view: &[PsRecord], value: &str) -> std::result::Result<String, FilterError> {
    if let Some(c) = view.iter().find(|c| c.id == value) {
        return Ok(c.id.clone());
    }
    let want = value.strip_prefix('/').unwrap_or(value);
    match view.iter().find(|c| c.name == want) {
        Some(c) => Ok(c.id.clone()),
        None => Err(FilterError::NoSuchContainer(value.to_string())),
    }
}

/// The container whose id starts with `prefix`, if exactly one does (dockerd's truncindex:
/// an empty or ambiguous prefix finds nothing).
fn unique_prefix(view: &[PsRecord], prefix: &str) -> Option<String> {
    if prefix.is_empty() || prefix.contains(' ') {
        return None;
    }
    let mut found = view.iter().filter(|c| c.id.starts_with(prefix));
    match (found.next(), found.next()) {
        (Some(c), None) => Some(c.id.clone()),
        _ => None,
    }
}

impl PsFilter {
    /// dockerd's `foldFilter`: validate every key and value, resolve `before`/`since`
    /// against `view` and `ancestor` through `resolve_image` (reference or id → image id).
    pub fn fold(
        opts: &ContainerListOptions,
        view: &[PsRecord],
        resolve_image: impl Fn(&str) -> Option<String>,
    ) -> std::result::Result<PsFilter, FilterError> {
        let f = &opts.filters;
        f.validate(PS_FILTERS)?;
        let mut exited = Vec::new();
        for v in f.get("exited") {
            // dockerd answers 500 with strconv's text; a 400 saying what is wrong is better.
            let code = v.parse::<i64>().map_err(|_| {
                FilterError::Message(format!(
                    "Invalid filter 'exited={v}': the exit code must be an integer"
                ))
            })?;
            exited.push(code);
        }
        let mut all = opts.all;
        for v in f.get("status") {
            if !STATES.contains(&v.as_str()) {
                return Err(FilterError::InvalidValue {
                    key: "status".into(),
                    value: v,
                });
            }
            // A status filter lists stopped containers without `all`.
            all = true;
        }
        let task = if !f.contains("is-task") {
            None
        } else if f.exact_match("is-task", "true") {
            Some(true)
        } else if f.exact_match("is-task", "false") {
            Some(false)
        } else {
            return Err(FilterError::invalid_values("is-task", &f.get("is-task")));
        };
        for v in f.get("health") {
            if !HEALTH.contains(&v.as_str()) {
                return Err(FilterError::Message(format!(
                    "Unrecognised filter value for health: {v}"
                )));
            }
        }
        // Several values: dockerd keeps whichever it walks last (map order); every one
        // must exist. Here the last in sorted order wins.
        let mut before = None;
        for v in f.get("before") {
            before = Some(id_or_name(view, &v)?);
        }
        let mut since = None;
        for v in f.get("since") {
            since = Some(id_or_name(view, &v)?);
        }
        // An ancestor that does not resolve is skipped (dockerd logs it); images have no
        // parent chains in pouchd, so an image's descendants are just itself.
        let ancestors = f.contains("ancestor").then(|| {
            f.get("ancestor")
                .iter()
                .filter_map(|a| resolve_image(a))
                .collect()
        });
        let id_values = f.get("id");
        let ids = (!id_values.is_empty()).then(|| {
            id_values
                .iter()
                .filter_map(|v| unique_prefix(view, v))
                .collect()
        });
        let mut publish = Vec::new();
        for v in f.get("publish") {
            publish.push(parse_port_filter("publish", &v)?);
        }
        let mut expose = Vec::new();
        for v in f.get("expose") {
            expose.push(parse_port_filter("expose", &v)?);
        }
        Ok(PsFilter {
            names: f.matcher("name"),
            status: f.matcher("status"),
            filters: f.clone(),
            all,
            limit: opts.limit,
            exited,
            task,
            before,
            since,
            ancestors,
            ids,
            publish,
            expose,
        })
    }

    /// dockerd's `includeContainerInList` over `view` (newest first): the indexes to list.
    /// `before`/`since` count in the whole list; dockerd walks only the name/id matches
    /// when those filters are given, so there `-f name=a -f since=b` also lists an `a`
    /// older than `b` (not copied).
    pub fn select(&self, view: &[PsRecord]) -> Vec<usize> {
        let f = &self.filters;
        let mut before = self.before.as_deref();
        let mut out = Vec::new();
        for (i, c) in view.iter().enumerate() {
            if let Some(b) = before {
                if c.id == b {
                    before = None;
                }
                continue;
            }
            if self.since.as_deref() == Some(c.id.as_str()) {
                break;
            }
            if !c.running && !self.all && self.limit <= 0 {
                continue;
            }
            if !f.match_kv_list("label", &c.labels) {
                continue;
            }
            if !(self.names.is_match(&format!("/{}", c.name)) || self.names.is_match(&c.name)) {
                continue;
            }
            if self.ids.as_ref().is_some_and(|ids| !ids.contains(&c.id)) {
                continue;
            }
            if self.task.is_some_and(|t| t != c.managed) {
                continue;
            }
            // `isolation` is a Windows notion: accepted and ignored on Linux, as dockerd.
            if self.limit > 0 && out.len() as i64 == self.limit {
                break;
            }
            let stopped_with =
                |code: &i64| *code == i64::from(c.exit_code) && !c.running && c.started;
            if !self.exited.is_empty() && !self.exited.iter().any(stopped_with) {
                continue;
            }
            if !self.status.is_match(c.state) {
                continue;
            }
            if f.contains("health") && !f.exact_match("health", &c.health) {
                continue;
            }
            if f.contains("volume") {
                let mounted = f.get("volume").iter().any(|v| {
                    c.mounts.iter().any(|m| {
                        (!m.destination.is_empty() && m.destination == *v)
                            || (if m.name.is_empty() {
                                &m.source
                            } else {
                                &m.name
                            }) == v
                    })
                });
                if !mounted {
                    continue;
                }
            }
            if let Some(images) = &self.ancestors {
                if !images.contains(&c.image_id) {
                    continue;
                }
            }
            if f.contains("network") {
                let on = f.get("network").iter().any(|v| {
                    c.networks
                        .iter()
                        .any(|(name, id)| name == v || id.starts_with(v.as_str()))
                });
                if !on {
                    continue;
                }
            }
            let any_port = |ranges: &[PortRange], ports: &[String]| {
                ports.iter().any(|p| ranges.iter().any(|r| r.contains(p)))
            };
            if !self.publish.is_empty() && !any_port(&self.publish, &c.published_ports) {
                continue;
            }
            if !self.expose.is_empty() && !any_port(&self.expose, &c.exposed_ports) {
                continue;
            }
            out.push(i);
        }
        out
    }
}

/// An image as the image filters see it.
#[derive(Debug, Clone, Default)]
pub struct ImageRecord {
    pub id: String,
    /// Creation time in nanoseconds.
    pub created: i64,
    /// The config's labels; `None` when the image has no container config at all.
    pub labels: Option<BTreeMap<String, String>>,
    /// Familiar tags (`repo:tag`) and digests (`repo@sha256:..`).
    pub tags: Vec<String>,
    pub digests: Vec<String>,
}

/// One listed image: which record, and the references to show (only those the `reference`
/// filter matched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    pub index: usize,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
}

/// The parsed and validated image filters.
#[derive(Debug, Clone)]
pub struct ImageFilter {
    filters: Filters,
    dangling_only: bool,
    /// The image named by `before`/`since` (reference or id), to resolve.
    pub before: Option<String>,
    pub since: Option<String>,
}

impl ImageFilter {
    pub fn parse(filters: &Filters) -> std::result::Result<ImageFilter, FilterError> {
        filters.validate(IMAGE_FILTERS)?;
        let dangling_only = filters.get_bool_or_default("dangling", false)?;
        // dockerd reports a malformed pattern (500) only once it meets an image; reject it
        // up front, with the value.
        for p in filters.get("reference") {
            if let Err(e) = path_match(&p, "") {
                return Err(FilterError::Message(format!(
                    "Invalid filter 'reference={p}': {e}"
                )));
            }
        }
        Ok(ImageFilter {
            filters: filters.clone(),
            dangling_only,
            before: filters.get("before").pop(),
            since: filters.get("since").pop(),
        })
    }

    /// dockerd's `Images` loop; `before`/`since` are the creation times of the images those
    /// filters named. Rows come newest first.
    pub fn select(
        &self,
        images: &[ImageRecord],
        before: Option<i64>,
        since: Option<i64>,
    ) -> Vec<ImageRow> {
        let f = &self.filters;
        let patterns = f.get("reference");
        let by_reference = f.contains("reference");
        let wanted = |r: &String| {
            !by_reference
                || patterns
                    .iter()
                    .any(|p| familiar_match(p, r).unwrap_or(false))
        };
        let mut rows = Vec::new();
        for (index, img) in images.iter().enumerate() {
            if before.is_some_and(|b| img.created >= b) || since.is_some_and(|s| img.created <= s) {
                continue;
            }
            if f.contains("label") {
                match &img.labels {
                    Some(l) if f.match_kv_list("label", l) => {}
                    _ => continue,
                }
            }
            let repo_tags: Vec<String> = img.tags.iter().filter(|r| wanted(r)).cloned().collect();
            let repo_digests: Vec<String> =
                img.digests.iter().filter(|r| wanted(r)).cloned().collect();
            if repo_tags.is_empty() && repo_digests.is_empty() {
                // dangling=false lists no dangling image, nor does a reference filter.
                if (f.contains("dangling") && !self.dangling_only) || by_reference {
                    continue;
                }
            } else if self.dangling_only && !repo_tags.is_empty() {
                continue;
            }
            rows.push(ImageRow {
                index,
                repo_tags,
                repo_digests,
            });
        }
        // dockerd sorts on `Created` in seconds (ties in no set order: here by id).
        rows.sort_by(|a, b| {
            let (a, b) = (&images[a.index], &images[b.index]);
            (b.created / 1_000_000_000)
                .cmp(&(a.created / 1_000_000_000))
                .then_with(|| a.id.cmp(&b.id))
        });
        rows
    }
}

impl From<&Image> for ImageRecord {
    fn from(img: &Image) -> ImageRecord {
        let labels = match img.run_config() {
            serde_json::Value::Null => None,
            cfg => Some(
                cfg.get("Labels")
                    .and_then(|l| l.as_object())
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
        };
        ImageRecord {
            id: img.id.clone(),
            created: nanos(&img.created),
            labels,
            tags: vec![],
            digests: img.repo_digests.clone(),
        }
    }
}

/// A row of `GET /images/json`.
pub struct ImageListItem {
    pub image: Arc<Image>,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
}

impl Engine {
    /// `GET /containers/json`: newest first, filtered as dockerd.
    pub async fn list_containers(&self, opts: &ContainerListOptions) -> Result<Vec<Container>> {
        let mut snapshot = Vec::new();
        for h in self.handles() {
            snapshot.push(h.rec.lock().await.clone());
        }
        let mut view: Vec<(PsRecord, Container)> = snapshot
            .into_iter()
            .map(|c| (PsRecord::from(&c), c))
            .collect();
        view.sort_by(|a, b| b.0.created.cmp(&a.0.created).then(a.0.id.cmp(&b.0.id)));
        let (records, containers): (Vec<PsRecord>, Vec<Container>) = view.into_iter().unzip();
        let filter = PsFilter::fold(opts, &records, |r| {
            self.resolve_image(r).ok().map(|i| i.id.clone())
        })?;
        let mut containers: Vec<Option<Container>> = containers.into_iter().map(Some).collect();
        Ok(filter
            .select(&records)
            .into_iter()
            .filter_map(|i| containers[i].take())
            .collect())
    }

    /// `GET /images/json`: newest first, filtered as dockerd, each with the references the
    /// `reference` filter matched.
    pub fn list_images(&self, filters: &Filters) -> Result<Vec<ImageListItem>> {
        let filter = ImageFilter::parse(filters)?;
        let created_of = |name: &Option<String>| -> Result<Option<i64>> {
            let Some(name) = name else { return Ok(None) };
            match self.resolve_image(name) {
                Ok(img) => Ok(Some(nanos(&img.created))),
                // dockerd names the reference as it normalised it: `No such image: x:latest`.
                Err(EngineError::NotFound(_)) => Err(EngineError::NotFound(format!(
                    "No such image: {}",
                    Reference::parse(name)
                        .map(|r| r.familiar())
                        .unwrap_or_else(|_| name.clone())
                ))),
                Err(e) => Err(e),
            }
        };
        let before = created_of(&filter.before)?;
        let since = created_of(&filter.since)?;
        let (images, records): (Vec<Arc<Image>>, Vec<ImageRecord>) = {
            let idx = self.image_index();
            let mut tags: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for (t, id) in &idx.tags {
                tags.entry(id.as_str()).or_default().push(t.clone());
            }
            idx.by_id
                .values()
                .map(|img| {
                    let mut rec = ImageRecord::from(img.as_ref());
                    rec.tags = tags.get(img.id.as_str()).cloned().unwrap_or_default();
                    rec.tags.sort();
                    (img.clone(), rec)
                })
                .unzip()
        };
        Ok(filter
            .select(&records, before, since)
            .into_iter()
            .map(|r| ImageListItem {
                image: images[r.index].clone(),
                repo_tags: r.repo_tags,
                repo_digests: r.repo_digests,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    fn rec(id: &str, name: &str, created: i64, state: Status) -> PsRecord {
        PsRecord {
            id: id.into(),
            name: name.into(),
            created,
            image_id: "sha256:img1".into(),
            state: state.as_str(),
            running: matches!(state, Status::Running | Status::Paused | Status::Restarting),
            started: !matches!(state, Status::Created),
            networks: vec![("bridge".into(), String::new())],
            health: "none".into(),
            ..Default::default()
        }
    }

    /// Newest first, as the engine hands them over: run (running), e3 (exited 3),
    /// e0 (exited 0), l2 and l1 (created, l1 labelled tier=web).
    fn view() -> Vec<PsRecord> {
        let mut e3 = rec("e3aaaa", "e3", 4, Status::Exited);
        e3.exit_code = 3;
        let mut l1 = rec("abc111", "l1", 1, Status::Created);
        l1.labels.insert("tier".into(), "web".into());
        let mut none = rec("ffff00", "nonet", 0, Status::Exited);
        none.networks = vec![("none".into(), String::new())];
        none.image_id = "sha256:img2".into();
        vec![
            rec("run999", "run", 5, Status::Running),
            e3,
            rec("e0bbbb", "e0", 3, Status::Exited),
            rec("abc222", "l2", 2, Status::Created),
            l1,
            none,
        ]
    }

    fn names(pairs: &[(&str, &str)], all: bool) -> std::result::Result<Vec<String>, String> {
        list(pairs, all, 0)
    }

    fn list(
        pairs: &[(&str, &str)],
        all: bool,
        limit: i64,
    ) -> std::result::Result<Vec<String>, String> {
        let v = view();
        let opts = ContainerListOptions {
            all,
            limit,
            filters: Filters::from_pairs(pairs.iter().copied()),
        };
        let resolve = |r: &str| match r {
            "127.0.0.1:5000/busybox:latest" | "sha256:img1" => Some("sha256:img1".to_string()),
            "other" => Some("sha256:img2".to_string()),
            _ => None,
        };
        let f = PsFilter::fold(&opts, &v, resolve).map_err(|e| e.to_string())?;
        Ok(f.select(&v)
            .into_iter()
            .map(|i| v[i].name.clone())
            .collect())
    }

    #[test]
    fn all_and_limit() {
        assert_eq!(names(&[], false).unwrap(), ["run"]);
        assert_eq!(names(&[], true).unwrap().len(), 6);
        // A limit lists stopped containers too.
        assert_eq!(list(&[], false, 2).unwrap(), ["run", "e3"]);
        assert_eq!(list(&[], false, -1).unwrap(), ["run"]);
    }

    #[test]
    fn unknown_keys_and_bad_values() {
        assert_eq!(
            names(&[("bogus", "x")], true).unwrap_err(),
            "Invalid filter 'bogus'"
        );
        assert_eq!(
            names(&[("status", "bogus")], true).unwrap_err(),
            "Invalid filter 'status=bogus'"
        );
        assert!(names(&[("exited", "x")], true)
            .unwrap_err()
            .contains("'exited=x': the exit code must be an integer"));
        assert_eq!(
            names(&[("health", "bogus")], true).unwrap_err(),
            "Unrecognised filter value for health: bogus"
        );
        assert_eq!(
            names(&[("is-task", "1")], true).unwrap_err(),
            "Invalid filter 'is-task=[1]'"
        );
        assert_eq!(
            names(&[("before", "nosuch")], true).unwrap_err(),
            "no such container nosuch"
        );
        // Only a full id or a name, as dockerd.
        assert_eq!(
            names(&[("since", "e0bb")], true).unwrap_err(),
            "no such container e0bb"
        );
        assert_eq!(
            names(&[("publish", "1:80")], true).unwrap_err(),
            "filter for 'publish' should not contain ':': 1:80"
        );
    }

    #[test]
    fn name_is_a_regexp_with_or_without_slash() {
        assert_eq!(names(&[("name", "^/l1$")], true).unwrap(), ["l1"]);
        assert_eq!(names(&[("name", "^l1$")], true).unwrap(), ["l1"]);
        assert_eq!(names(&[("name", "l.")], true).unwrap(), ["l2", "l1"]);
        assert_eq!(
            names(&[("name", "e")], true).unwrap(),
            ["e3", "e0", "nonet"]
        );
        assert_eq!(
            names(&[("name", "l1$"), ("name", "l2$")], true).unwrap(),
            ["l2", "l1"]
        );
        // An invalid expression matches nothing (dockerd skips it), the others still apply.
        assert!(names(&[("name", "[")], true).unwrap().is_empty());
        assert_eq!(
            names(&[("name", "["), ("name", "^run")], true).unwrap(),
            ["run"]
        );
    }

    #[test]
    fn status_and_exited() {
        assert_eq!(
            names(&[("status", "created")], false).unwrap(),
            ["l2", "l1"]
        );
        assert_eq!(
            names(&[("status", "created"), ("status", "running")], false).unwrap(),
            ["run", "l2", "l1"]
        );
        // exited=N needs a container that ran and stopped; created ones have code 0 too.
        assert_eq!(names(&[("exited", "0")], true).unwrap(), ["e0", "nonet"]);
        assert_eq!(
            names(&[("exited", "0"), ("exited", "3")], true).unwrap(),
            ["e3", "e0", "nonet"]
        );
        // Not implied `all`.
        assert!(names(&[("exited", "0")], false).unwrap().is_empty());
        assert_eq!(
            names(&[("exited", "0"), ("status", "exited")], false).unwrap(),
            ["e0", "nonet"]
        );
    }

    #[test]
    fn id_is_a_unique_prefix() {
        assert_eq!(names(&[("id", "e0")], true).unwrap(), ["e0"]);
        assert_eq!(names(&[("id", "abc1")], true).unwrap(), ["l1"]);
        // Ambiguous, empty or inside the id: nothing, as dockerd's truncindex.
        assert!(names(&[("id", "abc")], true).unwrap().is_empty());
        assert!(names(&[("id", "")], true).unwrap().is_empty());
        assert!(names(&[("id", "bc111")], true).unwrap().is_empty());
        assert_eq!(
            names(&[("id", "abc1"), ("id", "e0")], true).unwrap(),
            ["e0", "l1"]
        );
        assert!(names(&[("id", "abc1"), ("name", "l2")], true)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn before_and_since_in_created_order() {
        assert_eq!(
            names(&[("before", "e0")], true).unwrap(),
            ["l2", "l1", "nonet"]
        );
        assert_eq!(
            names(&[("before", "/e0")], true).unwrap(),
            ["l2", "l1", "nonet"]
        );
        assert_eq!(
            names(&[("before", "e0bbbb")], true).unwrap(),
            ["l2", "l1", "nonet"]
        );
        assert_eq!(
            names(&[("since", "l2")], true).unwrap(),
            ["run", "e3", "e0"]
        );
        assert_eq!(
            names(&[("since", "l1"), ("before", "run")], true).unwrap(),
            ["e3", "e0", "l2"]
        );
        // Without all only running ones, whatever the reference container is.
        assert!(names(&[("before", "e0")], false).unwrap().is_empty());
        assert_eq!(names(&[("since", "e0")], false).unwrap(), ["run"]);
        // Combined with a name: still relative to the whole list.
        assert!(names(&[("name", "l1"), ("since", "e0")], true)
            .unwrap()
            .is_empty());
        assert_eq!(
            names(&[("name", "l1"), ("before", "e0")], true).unwrap(),
            ["l1"]
        );
    }

    #[test]
    fn labels_ancestor_network() {
        assert_eq!(names(&[("label", "tier=web")], true).unwrap(), ["l1"]);
        assert_eq!(names(&[("label", "tier")], true).unwrap(), ["l1"]);
        assert!(names(&[("label", "tier"), ("label", "x")], true)
            .unwrap()
            .is_empty());
        assert_eq!(
            names(&[("ancestor", "127.0.0.1:5000/busybox:latest")], true)
                .unwrap()
                .len(),
            5
        );
        assert_eq!(names(&[("ancestor", "other")], true).unwrap(), ["nonet"]);
        assert_eq!(
            names(&[("ancestor", "other"), ("ancestor", "nosuch")], true).unwrap(),
            ["nonet"]
        );
        assert!(names(&[("ancestor", "nosuch")], true).unwrap().is_empty());
        assert_eq!(names(&[("network", "none")], true).unwrap(), ["nonet"]);
        assert_eq!(names(&[("network", "bridge")], true).unwrap().len(), 5);
        assert!(names(&[("network", "br")], true).unwrap().is_empty());
        // AND across keys.
        assert_eq!(
            names(&[("network", "bridge"), ("status", "running")], true).unwrap(),
            ["run"]
        );
    }

    #[test]
    fn features_pouchd_lacks_match_as_dockerd_without_them() {
        assert_eq!(names(&[("health", "none")], true).unwrap().len(), 6);
        assert!(names(&[("health", "healthy")], true).unwrap().is_empty());
        assert_eq!(names(&[("is-task", "false")], true).unwrap().len(), 6);
        assert!(names(&[("is-task", "true")], true).unwrap().is_empty());
        assert!(names(&[("is-task", "true"), ("is-task", "false")], true)
            .unwrap()
            .is_empty());
        assert!(names(&[("volume", "/data")], true).unwrap().is_empty());
        assert!(names(&[("publish", "80")], true).unwrap().is_empty());
        assert!(names(&[("expose", "80-90/udp")], true).unwrap().is_empty());
        assert_eq!(names(&[("isolation", "bogus")], true).unwrap().len(), 6);
    }

    #[test]
    fn ports_and_mounts_when_present() {
        let mut v = view();
        v[1].exposed_ports = vec!["80/tcp".into()];
        v[2].published_ports = vec!["53/udp".into()];
        v[3].mounts = vec![MountRef {
            name: "data".into(),
            source: "/var/lib/x".into(),
            destination: "/data".into(),
        }];
        let pick = |pairs: &[(&str, &str)]| {
            let opts = ContainerListOptions {
                all: true,
                limit: 0,
                filters: Filters::from_pairs(pairs.iter().copied()),
            };
            let f = PsFilter::fold(&opts, &v, |_| None).unwrap();
            f.select(&v)
                .into_iter()
                .map(|i| v[i].name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(&[("expose", "80")]), ["e3"]);
        assert_eq!(pick(&[("expose", "70-85/tcp")]), ["e3"]);
        assert!(pick(&[("expose", "80/udp")]).is_empty());
        assert_eq!(pick(&[("publish", "53/udp")]), ["e0"]);
        assert_eq!(pick(&[("volume", "/data")]), ["l2"]);
        assert_eq!(pick(&[("volume", "data")]), ["l2"]);
        assert!(pick(&[("volume", "/var/lib/x")]).is_empty());
    }

    #[test]
    fn port_filter_values_as_dockerd() {
        let p = |v: &str| parse_port_filter("expose", v);
        assert_eq!(
            p("80").unwrap(),
            PortRange {
                proto: "tcp".into(),
                start: 80,
                end: 80
            }
        );
        assert_eq!(p("80/").unwrap().proto, "tcp");
        assert_eq!(
            p("90-91/udp").unwrap(),
            PortRange {
                proto: "udp".into(),
                start: 90,
                end: 91
            }
        );
        assert_eq!(
            p("1-2-3").unwrap(),
            PortRange {
                proto: "tcp".into(),
                start: 1,
                end: 2
            }
        );
        let e = |v: &str| p(v).unwrap_err().to_string();
        assert_eq!(
            e(""),
            "error while looking up for expose : Empty string specified for ports."
        );
        assert_eq!(
            e("/tcp"),
            "error while looking up for expose /tcp: Empty string specified for ports."
        );
        assert_eq!(
            e("x"),
            "error while looking up for expose x: strconv.ParseUint: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            e("70000"),
            "error while looking up for expose 70000: strconv.ParseUint: parsing \"70000\": value out of range"
        );
        assert_eq!(
            e("90-80"),
            "error while looking up for expose 90-80: Invalid range specified for the Port: 90-80"
        );
        assert!(e("+80").contains("invalid syntax"));
    }

    fn images() -> Vec<ImageRecord> {
        let s = 1_000_000_000;
        vec![
            ImageRecord {
                id: "sha256:busy".into(),
                created: 30 * s,
                labels: Some(BTreeMap::new()),
                tags: vec!["127.0.0.1:5000/busybox:latest".into()],
                digests: vec!["127.0.0.1:5000/busybox@sha256:b1".into()],
            },
            ImageRecord {
                id: "sha256:old".into(),
                created: 10 * s,
                labels: Some([("tier".into(), "web".into())].into()),
                tags: vec![
                    "127.0.0.1:5000/flt/old:v1".into(),
                    "127.0.0.1:5000/flt/old:v2".into(),
                    "127.0.0.1:5000/other/x:v1".into(),
                ],
                digests: vec!["127.0.0.1:5000/flt/old@sha256:o1".into()],
            },
            ImageRecord {
                id: "sha256:new".into(),
                created: 20 * s,
                labels: Some([("tier".into(), "db".into())].into()),
                tags: vec![],
                digests: vec!["127.0.0.1:5000/flt/new@sha256:n1".into()],
            },
            ImageRecord {
                id: "sha256:bare".into(),
                created: 5 * s,
                labels: None,
                tags: vec![],
                digests: vec![],
            },
        ]
    }

    fn imgs(pairs: &[(&str, &str)]) -> std::result::Result<Vec<String>, String> {
        let recs = images();
        let f = ImageFilter::parse(&Filters::from_pairs(pairs.iter().copied()))
            .map_err(|e| e.to_string())?;
        let created = |n: &Option<String>| {
            n.as_ref().map(|n| {
                recs.iter()
                    .find(|r| r.id == *n || r.tags.contains(n))
                    .map(|r| r.created)
                    .unwrap_or(0)
            })
        };
        let rows = f.select(&recs, created(&f.before), created(&f.since));
        Ok(rows
            .iter()
            .map(|r| {
                let refs: Vec<&str> = r
                    .repo_tags
                    .iter()
                    .chain(&r.repo_digests)
                    .map(|s| s.as_str())
                    .collect();
                format!("{} {}", &recs[r.index].id[7..], refs.join(","))
            })
            .collect())
    }

    #[test]
    fn images_unknown_key_and_dangling_values() {
        assert_eq!(
            imgs(&[("bogus", "x")]).unwrap_err(),
            "Invalid filter 'bogus'"
        );
        assert_eq!(
            imgs(&[("dangling", "maybe")]).unwrap_err(),
            "Invalid filter 'dangling=[maybe]'"
        );
        assert!(imgs(&[("reference", "[")])
            .unwrap_err()
            .contains("syntax error in pattern"));
        assert_eq!(imgs(&[]).unwrap().len(), 4);
        // Newest first.
        assert!(imgs(&[]).unwrap()[0].starts_with("busy "));
    }

    #[test]
    fn images_dangling() {
        // No tags: dangling, whether or not a digest is left.
        let d: Vec<String> = imgs(&[("dangling", "true")]).unwrap();
        assert_eq!(d, ["new 127.0.0.1:5000/flt/new@sha256:n1", "bare "]);
        assert_eq!(imgs(&[("dangling", "1")]).unwrap(), d);
        let nd = imgs(&[("dangling", "false")]).unwrap();
        assert_eq!(nd.len(), 3);
        assert!(!nd.iter().any(|r| r.starts_with("bare")));
        assert_eq!(imgs(&[("dangling", "0")]).unwrap(), nd);
    }

    #[test]
    fn images_reference_globs_show_only_matching_refs() {
        assert_eq!(
            imgs(&[("reference", "127.0.0.1:5000/flt/old")]).unwrap(),
            ["old 127.0.0.1:5000/flt/old:v1,127.0.0.1:5000/flt/old:v2,127.0.0.1:5000/flt/old@sha256:o1"]
        );
        assert_eq!(
            imgs(&[("reference", "127.0.0.1:5000/flt/old:v1*")]).unwrap(),
            ["old 127.0.0.1:5000/flt/old:v1"]
        );
        assert_eq!(
            imgs(&[("reference", "127.0.0.1:5000/flt/*")]).unwrap(),
            [
                "new 127.0.0.1:5000/flt/new@sha256:n1",
                "old 127.0.0.1:5000/flt/old:v1,127.0.0.1:5000/flt/old:v2,127.0.0.1:5000/flt/old@sha256:o1"
            ]
        );
        assert_eq!(
            imgs(&[("reference", "*/*/x:v1")]).unwrap(),
            ["old 127.0.0.1:5000/other/x:v1"]
        );
        assert!(imgs(&[("reference", "*")]).unwrap().is_empty());
        assert_eq!(
            imgs(&[
                ("reference", "127.0.0.1:5000/busybox"),
                ("reference", "*/other/*")
            ])
            .unwrap(),
            [
                "busy 127.0.0.1:5000/busybox:latest,127.0.0.1:5000/busybox@sha256:b1",
                "old 127.0.0.1:5000/other/x:v1"
            ]
        );
        assert_eq!(
            imgs(&[("reference", "127.0.0.1:5000/flt/*"), ("dangling", "true")]).unwrap(),
            ["new 127.0.0.1:5000/flt/new@sha256:n1"]
        );
    }

    #[test]
    fn images_labels_before_since() {
        assert_eq!(imgs(&[("label", "tier")]).unwrap().len(), 2);
        assert_eq!(imgs(&[("label", "tier=web")]).unwrap().len(), 1);
        assert!(imgs(&[("label", "tier=web"), ("label", "nope")])
            .unwrap()
            .is_empty());
        let ids = |pairs: &[(&str, &str)]| -> Vec<String> {
            imgs(pairs)
                .unwrap()
                .into_iter()
                .map(|r| r.split(' ').next().unwrap_or_default().to_string())
                .collect()
        };
        assert_eq!(
            ids(&[("before", "127.0.0.1:5000/busybox:latest")]),
            ["new", "old", "bare"]
        );
        assert_eq!(ids(&[("since", "sha256:old")]), ["busy", "new"]);
        assert_eq!(
            ids(&[("since", "sha256:old"), ("before", "sha256:busy")]),
            ["new"]
        );
    }
}
