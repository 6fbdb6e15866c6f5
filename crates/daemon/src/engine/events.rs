//! System events, as dockerd's `/events` reports them: what happened to containers, images
//! and the default bridge. The bus keeps a bounded ring of recent events (for `since`) and a
//! broadcast channel for live subscribers. Publishing never waits: a subscriber that falls
//! more than [`CHANNEL_CAPACITY`] events behind loses the oldest ones (it is told how many).
//!
//! The pure parts (filters, time values) follow dockerd 20.10's `daemon/events` and
//! `api/types/filters` rules; they know nothing about HTTP.

use super::{Engine, EngineError, Result};
use crate::model::Container;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

/// Events kept for `since` (dockerd keeps 256).
pub const RING_CAPACITY: usize = 256;
/// How far a live subscriber may fall behind before it loses events (dockerd's buffer).
pub const CHANNEL_CAPACITY: usize = 1024;

pub const CONTAINER: &str = "container";
pub const IMAGE: &str = "image";
pub const NETWORK: &str = "network";

/// The filter keys dockerd knows for events; any other is refused.
const FILTER_KEYS: &[&str] = &[
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

/// One event, serialised field for field as dockerd's `events.Message` (the deprecated
/// `status`/`id`/`from` are filled for containers and images, as dockerd does: the
/// API < 1.30 `docker run` reads `status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub from: String,
    #[serde(rename = "Type")]
    pub typ: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

impl Event {
    pub fn new(
        typ: &str,
        action: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
        time_nano: i64,
    ) -> Event {
        let legacy = typ == CONTAINER || typ == IMAGE;
        let from = if typ == CONTAINER {
            attributes.get("image").cloned().unwrap_or_default()
        } else {
            String::new()
        };
        Event {
            status: if legacy { action.into() } else { String::new() },
            id: if legacy { id.into() } else { String::new() },
            from,
            typ: typ.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes,
            },
            scope: "local".into(),
            time: time_nano.div_euclid(1_000_000_000),
            time_nano,
        }
    }

    /// One line of the `/events` stream.
    pub fn to_line(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

/// A container event's attributes as dockerd builds them: the extra ones, then the
/// container's labels over them, then `image` (when set) and `name`.
pub fn container_attributes(
    labels: Option<&BTreeMap<String, String>>,
    image: &str,
    name: &str,
    extra: &[(&str, String)],
) -> BTreeMap<String, String> {
    let mut a: BTreeMap<String, String> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    if let Some(l) = labels {
        a.extend(l.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if !image.is_empty() {
        a.insert("image".into(), image.into());
    }
    a.insert("name".into(), name.trim_start_matches('/').into());
    a
}

pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// The in-memory bus.
pub struct EventBus {
    ring: Mutex<VecDeque<Arc<Event>>>,
    tx: broadcast::Sender<Arc<Event>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> EventBus {
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        EventBus {
            ring: Mutex::new(VecDeque::with_capacity(RING_CAPACITY)),
            tx,
        }
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, VecDeque<Arc<Event>>> {
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record and broadcast an event. Never blocks on subscribers.
    pub fn publish(&self, ev: Event) {
        let ev = Arc::new(ev);
        // Under the ring lock, so `subscribe` sees every event exactly once: either in its
        // snapshot or on its receiver.
        let mut ring = self.ring();
        if ring.len() == RING_CAPACITY {
            ring.pop_front();
        }
        ring.push_back(ev.clone());
        // An error only means nobody listens.
        let _ = self.tx.send(ev);
    }

    /// The recorded events that match (only when `since` or `until` is given, as dockerd),
    /// and a receiver for every event published after them.
    pub fn subscribe(
        &self,
        range: &TimeRange,
        filters: &Filters,
    ) -> (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>) {
        let ring = self.ring();
        let past = if range.since.is_none() && range.until.is_none() {
            vec![]
        } else {
            ring.iter()
                .filter(|e| range.contains(e.time_nano) && filters.matches(e))
                .cloned()
                .collect()
        };
        (past, self.tx.subscribe())
    }

    /// Live subscribers (`info`'s `NEventsListener`).
    pub fn listeners(&self) -> usize {
        self.tx.receiver_count()
    }
}

/// `since`/`until` of a request, in Unix nanoseconds; `None` is "not given".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl TimeRange {
    /// Parse both values; `until` before `since` is dockerd's 400.
    pub fn parse(since: &str, until: &str) -> Result<TimeRange> {
        let r = TimeRange {
            since: parse_time(since)?,
            until: parse_time(until)?,
        };
        if let Some(u) = r.until {
            if u < r.since.unwrap_or(0) {
                return Err(EngineError::InvalidParameter(format!(
                    "`since` time ({since}) cannot be after `until` time ({until})"
                )));
            }
        }
        Ok(r)
    }

    pub fn contains(&self, t: i64) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
    }

    /// True when the request asks only for recorded events (`until` has passed).
    pub fn only_past(&self, now: i64) -> bool {
        self.until.is_some_and(|u| u < now)
    }
}

/// A `since`/`until` value. dockerd's server reads `SECONDS[.FRACTION]` (its
/// `timetypes.ParseTimestamps`; `-1` means "not given"); we also take RFC 3339 times
/// (`2026-01-02T15:04:05Z`, `2026-01-02`, zone-less ones as UTC). Durations (`10m`) are
/// the client's to convert, as the docker CLI does.
pub fn parse_time(s: &str) -> Result<Option<i64>> {
    if s.is_empty() {
        return Ok(None);
    }
    if let Some(r) = parse_timestamp(s) {
        return Ok(r);
    }
    if let Some(t) = parse_rfc3339ish(s) {
        return Ok(Some(t));
    }
    let int = s.split('.').next().unwrap_or(s);
    Err(EngineError::InvalidParameter(format!(
        "strconv.ParseInt: parsing {int:?}: invalid syntax"
    )))
}

/// Go's `strconv.ParseInt` syntax: optional sign, then decimal digits.
fn go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.strip_prefix('+').unwrap_or(s).parse().ok()
}

/// dockerd's `parseTimestamp`, `Some(None)` for `-1`.
fn parse_timestamp(s: &str) -> Option<Option<i64>> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let secs = go_int(int)?;
    let nanos = match frac {
        None => 0,
        Some(f) => {
            let n = go_int(f)?;
            // As dockerd: scale to nanoseconds by the number of digits given.
            (n as f64 * 10f64.powi(9 - f.len() as i32)) as i64
        }
    };
    if secs == -1 {
        return Some(None);
    }
    Some(Some(
        secs.saturating_mul(1_000_000_000).saturating_add(nanos),
    ))
}

/// RFC 3339 and the shorter forms the CLI takes; a time without a zone is UTC.
fn parse_rfc3339ish(s: &str) -> Option<i64> {
    use chrono::{NaiveDate, NaiveDateTime};
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return t.timestamp_nanos_opt();
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return t.and_utc().timestamp_nanos_opt();
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| t.and_utc().timestamp_nanos_opt())
}

/// The `filters` of `/events`: Docker's `filters.Args` (see `engine/filters.rs`) with the
/// event keys and dockerd's `Filter.Include` matching.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(super::filters::Filters);

impl Filters {
    /// `{"key": {"value": true}}`, or the old `{"key": ["value"]}`; empty is no filter.
    /// Unknown keys are refused.
    pub fn parse(json: &str) -> Result<Filters> {
        let f = super::filters::Filters::from_json(json.trim())?;
        f.validate(FILTER_KEYS)?;
        Ok(Filters(f))
    }

    fn exact(&self, key: &str, source: &str) -> bool {
        self.0.exact_match(key, source)
    }

    fn fuzzy(&self, key: &str, source: &str) -> bool {
        self.0.fuzzy_match(key, source)
    }

    fn kv_list(&self, key: &str, attrs: &BTreeMap<String, String>) -> bool {
        self.0.match_kv_list(key, attrs)
    }

    fn fuzzy_name(&self, key: &str, ev: &Event) -> bool {
        let name = ev.actor.attributes.get("name").map(|s| s.as_str());
        self.fuzzy(key, &ev.actor.id) || self.fuzzy(key, name.unwrap_or(""))
    }

    fn matches_event(&self, ev: &Event) -> bool {
        // dockerd #25798: these bare names match `health_status: ...`, `exec_create: ...`.
        let fuzzy = self
            .0
            .get("event")
            .iter()
            .any(|k| matches!(k.as_str(), "health_status" | "exec_create" | "exec_start"));
        if fuzzy {
            self.fuzzy("event", &ev.action)
        } else {
            self.exact("event", &ev.action)
        }
    }

    /// Image events match by id or name, container events by their `image`; either also
    /// by the repository without its tag.
    fn matches_image(&self, ev: &Event) -> bool {
        let attr = if ev.typ == IMAGE { "name" } else { "image" };
        let name = ev.actor.attributes.get(attr).cloned().unwrap_or_default();
        let strip = |s: &str| {
            pouch_image::reference::Reference::parse(s)
                .map(|r| r.repo_familiar())
                .unwrap_or_else(|_| s.to_string())
        };
        self.exact("image", &ev.actor.id)
            || self.exact("image", &name)
            || self.exact("image", &strip(&ev.actor.id))
            || self.exact("image", &strip(&name))
    }

    /// dockerd's `Filter.Include`. As there, a name filter (`container=`, `network=`, ...)
    /// applies to every event's actor, whatever its type.
    pub fn matches(&self, ev: &Event) -> bool {
        self.matches_event(ev)
            && self.exact("type", &ev.typ)
            && self.exact("scope", &ev.scope)
            && [
                "daemon",
                "container",
                "plugin",
                "volume",
                "network",
                "node",
                "service",
                "secret",
                "config",
            ]
            .iter()
            .all(|k| self.fuzzy_name(k, ev))
            && self.matches_image(ev)
            && self.kv_list("label", &ev.actor.attributes)
    }
}

/// A signal name (`SIGTERM`) as the number dockerd puts in `kill` events.
pub fn signal_number(name: &str) -> String {
    name.parse::<nix::sys::signal::Signal>()
        .map(|s| (s as i32).to_string())
        .unwrap_or_else(|_| name.to_string())
}

impl Engine {
    /// A container event for record `c`.
    pub fn container_event(&self, c: &Container, action: &str, extra: &[(&str, String)]) -> Event {
        let attrs = container_attributes(c.config.labels.as_ref(), &c.config.image, &c.name, extra);
        Event::new(CONTAINER, action, &c.id, attrs, now_nanos())
    }

    /// Publish a container event for record `c` (the caller may hold its lock).
    pub fn emit_container(&self, c: &Container, action: &str, extra: &[(&str, String)]) {
        self.events.publish(self.container_event(c, action, extra));
    }

    /// Publish a container event by name or id; a container that is gone is skipped.
    /// Takes the record's lock: never call it holding that lock.
    pub async fn emit_container_named(&self, name: &str, action: &str) {
        if let Ok(h) = self.find(name).await {
            let c = h.rec.lock().await;
            self.emit_container(&c, action, &[]);
        }
    }

    pub fn emit_image(&self, action: &str, id: &str, name: &str) {
        let attrs = BTreeMap::from([("name".to_string(), name.to_string())]);
        self.events
            .publish(Event::new(IMAGE, action, id, attrs, now_nanos()));
    }

    /// `connect`/`disconnect` of a container on the default bridge.
    pub fn emit_bridge(&self, action: &str, container_id: &str) {
        let attrs = BTreeMap::from([
            ("container".to_string(), container_id.to_string()),
            ("name".to_string(), "bridge".to_string()),
            ("type".to_string(), "bridge".to_string()),
        ]);
        self.events.publish(Event::new(
            NETWORK,
            action,
            &self.network_id("bridge"),
            attrs,
            now_nanos(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_343_022_000_000_000;

    fn cev(action: &str, id: &str, name: &str, image: &str, labels: &[(&str, &str)]) -> Event {
        let l: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Event::new(
            CONTAINER,
            action,
            id,
            container_attributes(Some(&l), image, name, &[]),
            NOW,
        )
    }

    fn iev(action: &str, id: &str, name: &str) -> Event {
        let attrs = BTreeMap::from([("name".to_string(), name.to_string())]);
        Event::new(IMAGE, action, id, attrs, NOW)
    }

    fn f(json: &str) -> Filters {
        Filters::parse(json).expect("filters parse")
    }

    #[test]
    fn shapes_match_dockerd() {
        let e = Event::new(
            CONTAINER,
            "die",
            "abc",
            container_attributes(
                Some(&BTreeMap::from([("foo".into(), "bar".into())])),
                "127.0.0.1:5000/busybox:latest",
                "/evref1",
                &[("exitCode", "3".into())],
            ),
            1_796_343_022_567_192_806,
        );
        assert_eq!(
            String::from_utf8(e.to_line()).unwrap(),
            r#"{"status":"die","id":"abc","from":"127.0.0.1:5000/busybox:latest","Type":"container","Action":"die","Actor":{"ID":"abc","Attributes":{"exitCode":"3","foo":"bar","image":"127.0.0.1:5000/busybox:latest","name":"evref1"}},"scope":"local","time":1796343022,"timeNano":1796343022567192806}"#.to_string() + "\n"
        );
        let img = iev("tag", "sha256:0d", "127.0.0.1:5000/evtag:1");
        assert_eq!(
            serde_json::to_string(&img).unwrap(),
            r#"{"status":"tag","id":"sha256:0d","Type":"image","Action":"tag","Actor":{"ID":"sha256:0d","Attributes":{"name":"127.0.0.1:5000/evtag:1"}},"scope":"local","time":1796343022,"timeNano":1796343022000000000}"#
        );
        let net = Event::new(NETWORK, "connect", "7d", BTreeMap::new(), NOW);
        let v = serde_json::to_value(&net).unwrap();
        assert!(v.get("status").is_none() && v.get("id").is_none() && v.get("from").is_none());
    }

    #[test]
    fn labels_never_hide_image_and_name() {
        let l = BTreeMap::from([
            ("name".to_string(), "label-name".to_string()),
            ("exitCode".to_string(), "x".to_string()),
        ]);
        let a = container_attributes(Some(&l), "img", "real", &[("exitCode", "0".into())]);
        assert_eq!(a["name"], "real");
        assert_eq!(a["image"], "img");
        assert_eq!(
            a["exitCode"], "x",
            "labels go over extra attributes, as dockerd"
        );
        let a = container_attributes(None, "", "n", &[]);
        assert!(!a.contains_key("image"));
    }

    #[test]
    fn timestamps_parse_like_dockerd() {
        assert_eq!(parse_time("").unwrap(), None);
        assert_eq!(parse_time("-1").unwrap(), None);
        assert_eq!(parse_time("0").unwrap(), Some(0));
        assert_eq!(parse_time("12").unwrap(), Some(12_000_000_000));
        assert_eq!(parse_time("12.5").unwrap(), Some(12_500_000_000));
        assert_eq!(
            parse_time("1796343022.194258317").unwrap(),
            Some(1_796_343_022_194_258_317)
        );
        assert_eq!(
            parse_time("1796343022.000000000").unwrap(),
            Some(1_796_343_022_000_000_000)
        );
        let e = parse_time("abc").unwrap_err().to_string();
        assert_eq!(e, r#"strconv.ParseInt: parsing "abc": invalid syntax"#);
        assert!(parse_time("12.x").is_err());
    }

    #[test]
    fn rfc3339_is_taken_too_durations_are_the_clients() {
        assert_eq!(
            parse_time("2026-01-01T00:00:01.12Z").unwrap(),
            Some(1_767_225_601_120_000_000)
        );
        assert_eq!(
            parse_time("2026-01-01T01:00:01+01:00").unwrap(),
            Some(1_767_225_601_000_000_000)
        );
        assert_eq!(
            parse_time("2026-01-01").unwrap(),
            Some(1_767_225_600_000_000_000)
        );
        assert_eq!(
            parse_time("2026-01-01T00:00:01").unwrap(),
            Some(1_767_225_601_000_000_000)
        );
        // As dockerd's server: the docker CLI turns `10m` into a timestamp itself.
        assert!(parse_time("10m").is_err());
        assert!(parse_time("m").is_err());
        assert!(parse_time("2026-13-01").is_err());
    }

    #[test]
    fn ranges() {
        let r = TimeRange::parse("10", "20").unwrap();
        assert!(r.contains(10_000_000_000) && r.contains(20_000_000_000));
        assert!(!r.contains(9_999_999_999) && !r.contains(20_000_000_001));
        assert!(r.only_past(NOW));
        let e = TimeRange::parse("20", "10").unwrap_err().to_string();
        assert_eq!(e, "`since` time (20) cannot be after `until` time (10)");
        let r = TimeRange::parse("", "").unwrap();
        assert!(r.contains(0) && !r.only_past(NOW));
        let future = format!("{}", NOW / 1_000_000_000 + 60);
        assert!(!TimeRange::parse("", &future).unwrap().only_past(NOW));
    }

    #[test]
    fn filter_parsing() {
        assert_eq!(f(""), Filters::default());
        assert_eq!(f("null"), Filters::default());
        assert_eq!(
            f(r#"{"type":{"container":true}}"#),
            f(r#"{"type":["container"]}"#)
        );
        let e = Filters::parse(r#"{"foo":{"bar":true}}"#).unwrap_err();
        assert_eq!(e.to_string(), "Invalid filter 'foo'");
        assert!(matches!(e, EngineError::InvalidParameter(_)));
        assert!(Filters::parse("notjson").is_err());
        assert!(Filters::parse("[]").is_err());
        assert!(Filters::parse(r#"{"type":"container"}"#).is_err());
    }

    #[test]
    fn filter_matching() {
        let id = "52314fa8c1077b9a95a20f3507773ef9b48d45e9942d09edff6cc36aa099d28d";
        let die = cev(
            "die",
            id,
            "evref1",
            "127.0.0.1:5000/busybox:latest",
            &[("foo", "bar"), ("x", "1")],
        );
        let tag = iev("tag", "sha256:0dca", "127.0.0.1:5000/evtag:1");
        let conn = Event::new(
            NETWORK,
            "connect",
            "7d08",
            BTreeMap::from([
                ("container".to_string(), id.to_string()),
                ("name".to_string(), "bridge".to_string()),
            ]),
            NOW,
        );
        assert!(f("").matches(&die) && f("").matches(&tag) && f("").matches(&conn));
        // type and event: exact
        let t = f(r#"{"type":{"container":true}}"#);
        assert!(t.matches(&die) && !t.matches(&tag) && !t.matches(&conn));
        assert!(f(r#"{"type":{"container":true,"image":true}}"#).matches(&tag));
        assert!(f(r#"{"event":{"die":true}}"#).matches(&die));
        assert!(!f(r#"{"event":{"di":true}}"#).matches(&die));
        assert!(!f(r#"{"type":{"container":false}}"#).matches(&die));
        // container: id or name, by prefix; other actors are left out
        for c in [id, &id[..12], "evref1", "evr"] {
            let q = f(&format!(r#"{{"container":{{"{c}":true}}}}"#));
            assert!(q.matches(&die), "{c}");
            assert!(!q.matches(&conn) && !q.matches(&tag), "{c}");
        }
        assert!(!f(r#"{"container":{"other":true}}"#).matches(&die));
        // network: by id or name
        assert!(f(r#"{"network":{"bridge":true}}"#).matches(&conn));
        assert!(f(r#"{"network":{"7d08":true}}"#).matches(&conn));
        assert!(!f(r#"{"network":{"bridge":true}}"#).matches(&die));
        // image: container's image, with or without tag; image's id or name
        for i in ["127.0.0.1:5000/busybox:latest", "127.0.0.1:5000/busybox"] {
            let q = f(&format!(r#"{{"image":{{"{i}":true}}}}"#));
            assert!(q.matches(&die) && !q.matches(&tag), "{i}");
        }
        assert!(f(r#"{"image":{"127.0.0.1:5000/evtag":true}}"#).matches(&tag));
        assert!(f(r#"{"image":{"sha256:0dca":true}}"#).matches(&tag));
        assert!(!f(r#"{"image":{"127.0.0.1:5000/busy":true}}"#).matches(&die));
        // labels: every one must match
        assert!(f(r#"{"label":{"foo":true}}"#).matches(&die));
        assert!(f(r#"{"label":{"foo=bar":true,"x=1":true}}"#).matches(&die));
        assert!(!f(r#"{"label":{"foo=bar":true,"x=2":true}}"#).matches(&die));
        assert!(!f(r#"{"label":{"nope":true}}"#).matches(&die));
        // scope
        assert!(f(r#"{"scope":{"local":true}}"#).matches(&die));
        assert!(!f(r#"{"scope":{"swarm":true}}"#).matches(&die));
        // bare health_status/exec_* match by prefix
        let hs = cev("health_status: healthy", id, "n", "i", &[]);
        assert!(f(r#"{"event":{"health_status":true}}"#).matches(&hs));
        assert!(!f(r#"{"event":{"health":true}}"#).matches(&hs));
    }

    #[test]
    fn ring_keeps_the_newest_and_snapshots_atomically() {
        let bus = EventBus::new();
        for i in 0..(RING_CAPACITY as i64 + 10) {
            bus.publish(Event::new(IMAGE, "tag", &i.to_string(), BTreeMap::new(), i));
        }
        let all = TimeRange {
            since: Some(0),
            until: None,
        };
        let (past, mut rx) = bus.subscribe(&all, &Filters::default());
        assert_eq!(past.len(), RING_CAPACITY);
        assert_eq!(past[0].time_nano, 10);
        assert_eq!(past[RING_CAPACITY - 1].time_nano, RING_CAPACITY as i64 + 9);
        // No since/until: nothing recorded is replayed, live ones come.
        let (none, _rx2) = bus.subscribe(&TimeRange::default(), &Filters::default());
        assert!(none.is_empty());
        assert_eq!(bus.listeners(), 2);
        bus.publish(Event::new(IMAGE, "tag", "new", BTreeMap::new(), 1_000));
        let got = rx.try_recv().expect("live event");
        assert_eq!(got.actor.id, "new");
        let window = TimeRange {
            since: Some(20),
            until: Some(29),
        };
        let (past, _) = bus.subscribe(&window, &f(r#"{"type":{"image":true}}"#));
        assert_eq!(
            past.iter().map(|e| e.time_nano).collect::<Vec<_>>(),
            (20..=29).collect::<Vec<_>>()
        );
    }

    #[test]
    fn slow_subscribers_lag_and_never_block() {
        let bus = EventBus::new();
        let (_, mut rx) = bus.subscribe(&TimeRange::default(), &Filters::default());
        for i in 0..(CHANNEL_CAPACITY as i64 * 2) {
            bus.publish(Event::new(IMAGE, "tag", "x", BTreeMap::new(), i));
        }
        assert!(matches!(
            rx.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(_))
        ));
        assert!(rx.try_recv().is_ok());
    }

    #[test]
    fn signals_are_numbers() {
        assert_eq!(signal_number("SIGTERM"), "15");
        assert_eq!(signal_number("SIGKILL"), "9");
        assert_eq!(signal_number("SIGUSR1"), "10");
    }
}
