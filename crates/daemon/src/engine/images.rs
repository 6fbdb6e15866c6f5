//! Images: pull (through pouch-image), lookup by reference or id, tag, remove, history.
//! Lookups, pulls and removals follow dockerd 20.10's image service step by step (its
//! `GetImage`, `PullImage`/`pullV2Tag`, `ImageDelete`), so messages and orders match.

use super::{Engine, EngineError, Result};
use crate::model::Image;
use pouch_image::reference::{AnyReference, Reference};
use pouch_image::Progress;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::info;

/// Result of `rmi`: Docker's `[{"Untagged": ..}, {"Deleted": ..}]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum DeleteItem {
    Untagged(String),
    Deleted(String),
}

fn strip_sha(id: &str) -> &str {
    id.strip_prefix("sha256:").unwrap_or(id)
}

/// `stringid.TruncateID`: the first 12 hex digits.
fn short_id(id: &str) -> &str {
    let hex = strip_sha(id);
    &hex[..hex.len().min(12)]
}

fn invalid(e: pouch_image::ReferenceError) -> EngineError {
    EngineError::InvalidParameter(e.to_string())
}

/// One reference to an image: a tag (`repo:tag`) or a digest (`repo@sha256:…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// As Docker shows it (`busybox:latest`, `127.0.0.1:5000/x@sha256:…`).
    pub familiar: String,
    /// The repository, familiar (`busybox`, `127.0.0.1:5000/x`).
    pub repo: String,
    pub canonical: bool,
    /// Fully qualified (`docker.io/library/busybox:latest`): dockerd's reference store
    /// sorts by it.
    full: String,
}

impl ImageRef {
    fn new(familiar: &str, canonical: bool) -> ImageRef {
        let (repo, full) = match Reference::parse(familiar) {
            Ok(r) => (r.repo_familiar(), r.to_string()),
            Err(_) => (familiar.to_string(), familiar.to_string()),
        };
        ImageRef {
            familiar: familiar.to_string(),
            repo,
            canonical,
            full,
        }
    }
}

/// dockerd's `References(id)`: tags and digests, sorted by their full string.
pub fn sorted_refs(tags: &[String], digests: &[String]) -> Vec<ImageRef> {
    let mut refs: Vec<ImageRef> = tags
        .iter()
        .map(|t| ImageRef::new(t, false))
        .chain(digests.iter().map(|d| ImageRef::new(d, true)))
        .collect();
    refs.sort_by(|a, b| a.full.cmp(&b.full));
    refs
}

/// dockerd's `isSingleReference`: at most one tag, and every reference in one repository.
pub fn is_single_reference(refs: &[ImageRef]) -> bool {
    if refs.len() <= 1 {
        return refs.len() == 1;
    }
    let mut single: Option<&ImageRef> = None;
    let mut canonical_repos: HashSet<&str> = HashSet::new();
    for r in refs {
        if r.canonical {
            canonical_repos.insert(&r.repo);
        } else if single.is_none() {
            single = Some(r);
        } else {
            return false;
        }
    }
    let single = single.unwrap_or(&refs[0]);
    canonical_repos.len() == 1 && canonical_repos.contains(single.repo.as_str())
}

/// dockerd's `isImageIDPrefix`: `name` is how the ID, with or without `sha256:`, starts.
fn is_image_id_prefix(id: &str, name: &str) -> bool {
    id.starts_with(name) || strip_sha(id).starts_with(name)
}

/// Why an image cannot be deleted (dockerd's `imageDeleteConflict`).
struct DeleteConflict {
    hard: bool,
    /// A container uses the image (a forced delete by name then keeps it, untagged).
    used: bool,
    message: String,
}

impl DeleteConflict {
    fn error(&self, id: &str) -> EngineError {
        let force = if self.hard {
            "cannot be forced"
        } else {
            "must be forced"
        };
        EngineError::Conflict(format!(
            "conflict: unable to delete {} ({force}) - {}",
            short_id(id),
            self.message
        ))
    }
}

impl Engine {
    /// dockerd's `GetImage`: a 64-hex ID or `sha256:` digest is an image ID; a name is
    /// looked up as a tag (or `repo@digest`), then as a unique ID prefix (one hex digit is
    /// enough; an ambiguous prefix finds nothing). Not found: `No such image: NAME[:latest]`;
    /// not a reference: 400 with the parser's message.
    pub fn resolve_image(&self, name: &str) -> Result<Arc<Image>> {
        let any = AnyReference::parse(name).map_err(invalid)?;
        let idx = self.image_index();
        let not_found =
            || EngineError::NotFound(format!("No such image: {}", any.not_found_name()));
        let named = match &any {
            AnyReference::Digest(d) => return idx.by_id.get(d).cloned().ok_or_else(not_found),
            AnyReference::Named(r) => r.clone().tag_name_only(),
        };
        let by_ref = match &named.digest {
            // A digest wins over a tag given with it (dockerd's `favorDigest`).
            Some(d) => {
                let want = format!("{}@{}", named.repo_familiar(), d);
                idx.by_id
                    .values()
                    .find(|i| i.repo_digests.contains(&want))
                    .cloned()
            }
            None => idx
                .tags
                .get(&named.familiar())
                .and_then(|id| idx.by_id.get(id))
                .cloned(),
        };
        if let Some(img) = by_ref {
            return Ok(img);
        }
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if !hex.is_empty()
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            let mut m = idx
                .by_id
                .values()
                .filter(|i| strip_sha(&i.id).starts_with(hex));
            if let (Some(one), None) = (m.next(), m.next()) {
                return Ok(one.clone());
            }
        }
        Err(not_found())
    }

    /// Tags pointing at `id`, in dockerd's order (by the fully qualified name).
    pub fn image_tags(&self, id: &str) -> Vec<String> {
        let tags: Vec<String> = self
            .image_index()
            .tags
            .iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.clone())
            .collect();
        sorted_refs(&tags, &[])
            .into_iter()
            .map(|r| r.familiar)
            .collect()
    }

    /// `repo@digest` references to `id`, in dockerd's order (RepoDigests).
    pub fn image_digests(&self, id: &str) -> Vec<String> {
        self.image_refs(id)
            .into_iter()
            .filter(|r| r.canonical)
            .map(|r| r.familiar)
            .collect()
    }

    /// Every reference to `id` (tags and digests), in dockerd's order.
    fn image_refs(&self, id: &str) -> Vec<ImageRef> {
        let tags: Vec<String> = {
            let idx = self.image_index();
            idx.tags
                .iter()
                .filter(|(_, v)| *v == id)
                .map(|(k, _)| k.clone())
                .collect()
        };
        let digests = self
            .image_index()
            .by_id
            .get(id)
            .map(|i| i.repo_digests.clone())
            .unwrap_or_default();
        sorted_refs(&tags, &digests)
    }

    /// `POST /images/create?fromImage=IMAGE&tag=TAG`, as dockerd's `PullImage`: a `tag`
    /// that is a digest pulls by digest, another tag replaces the image's; a repository
    /// with neither pulls every tag the registry lists (`docker pull -a`). The stream ends
    /// with dockerd's `Status:` line.
    pub async fn pull_image(
        &self,
        image: &str,
        tag: &str,
        progress: mpsc::UnboundedSender<Progress>,
    ) -> Result<()> {
        // dockerd: "pull -a" may send an image name with a trailing ':'.
        let image = image.strip_suffix(':').unwrap_or(image);
        let mut r = Reference::parse_named(image).map_err(invalid)?;
        if !tag.is_empty() {
            r = match r.clone().with_digest(tag) {
                Ok(d) => d,
                Err(_) => r.with_tag(tag).map_err(invalid)?,
            };
        }
        let newer = if r.is_name_only() {
            let tags = self.images.list_tags(&r).await.map_err(pull_error)?;
            let mut newer = false;
            for t in tags {
                let tagged = r.clone().with_tag(&t).map_err(invalid)?;
                newer |= self.pull_one(&tagged, &progress).await?;
            }
            newer
        } else {
            self.pull_one(&r, &progress).await?
        };
        let _ = progress.send(Progress::pull_status(&r.familiar(), newer));
        Ok(())
    }

    /// One tag or digest (dockerd's `pullV2Tag`): pull, record, and say whether a
    /// reference was created or moved (what makes dockerd print "Downloaded newer image").
    async fn pull_one(
        &self,
        r: &Reference,
        progress: &mpsc::UnboundedSender<Progress>,
    ) -> Result<bool> {
        // What the reference named before this pull began: a pull that waited for another
        // one of the same reference still brought it (dockerd says "Downloaded newer image"
        // to both).
        let tag_before = self.image_index().tags.get(&r.familiar()).cloned();
        let digest_known_before = r.digest.as_ref().is_some_and(|d| {
            let want = format!("{}@{d}", r.repo_familiar());
            self.image_index()
                .by_id
                .values()
                .any(|i| i.repo_digests.contains(&want))
        });
        let lock = {
            let mut locks = self.pull_locks.lock().await;
            locks.entry(r.familiar()).or_default().clone()
        };
        let _g = lock.lock().await;
        let pulled = self
            .images
            .pull(r, progress.clone())
            .await
            .map_err(pull_error)?;
        let created = pulled
            .config
            .get("created")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        let digest_ref = format!(
            "{}@{}",
            r.repo_familiar(),
            r.digest.as_deref().unwrap_or(&pulled.manifest_digest)
        );
        {
            let mut idx = self.image_index_mut();
            let mut img = match idx.by_id.get(&pulled.id) {
                Some(existing) => (**existing).clone(),
                None => Image {
                    id: pulled.id.clone(),
                    repo_digests: vec![],
                    config: pulled.config.clone(),
                    layers: pulled.layers.iter().map(|l| l.chain_id.clone()).collect(),
                    diff_ids: pulled.layers.iter().map(|l| l.diff_id.clone()).collect(),
                    size: pulled.size,
                    created,
                    last_tag_time: None,
                },
            };
            // Sizes are the store's (dockerd's way of counting, see pouch-image unpack).
            img.size = pulled.size;
            if !img.repo_digests.contains(&digest_ref) {
                img.repo_digests.push(digest_ref);
            }
            self.store.put_image(&img.id, &img)?;
            idx.by_id.insert(img.id.clone(), Arc::new(img));
        }
        let newer = match &r.digest {
            Some(_) => !digest_known_before,
            None => {
                let name = r.familiar();
                let now = self.image_index().tags.get(&name).cloned();
                if now.as_deref() != Some(pulled.id.as_str()) {
                    self.tag_image_id(&pulled.id, &name)?;
                }
                tag_before.as_deref() != Some(pulled.id.as_str())
            }
        };
        self.emit_image("pull", &r.familiar(), &r.repo_familiar());
        info!(image = %r.familiar(), id = %pulled.id, newer, "pulled");
        // A tag that moved may leave an old image without tags and containers: keep it, as
        // Docker does (dangling), it is removed by id.
        Ok(newer)
    }

    fn tag_image_id(&self, id: &str, familiar: &str) -> Result<()> {
        self.store.set_tag(familiar, id)?;
        self.image_index_mut()
            .tags
            .insert(familiar.to_string(), id.to_string());
        Ok(())
    }

    /// `docker tag SOURCE REPO[:TAG]`, as dockerd's `TagImage`: the source is resolved
    /// first, then `repo` parsed, `tag` (if any) replacing its tag.
    pub fn tag_image(&self, source: &str, repo: &str, tag: &str) -> Result<()> {
        let img = self.resolve_image(source)?;
        let mut r = Reference::parse_named(repo).map_err(invalid)?;
        if !tag.is_empty() {
            r = r.trim_named().with_tag(tag).map_err(invalid)?;
        }
        if r.digest.is_some() {
            return Err(EngineError::InvalidParameter(
                "refusing to create a tag with a digest reference".into(),
            ));
        }
        let r = r.tag_name_only();
        if r.repo_familiar() == "sha256" {
            return Err(EngineError::InvalidParameter(
                "refusing to create an ambiguous tag using digest algorithm as name".into(),
            ));
        }
        self.tag_image_id(&img.id, &r.familiar())?;
        self.emit_image("tag", &img.id, &r.familiar());
        // dockerd's `SetLastUpdated`.
        let mut idx = self.image_index_mut();
        if let Some(existing) = idx.by_id.get(&img.id) {
            let mut img = (**existing).clone();
            img.last_tag_time = Some(super::now_rfc3339());
            self.store.put_image(&img.id, &img)?;
            idx.by_id.insert(img.id.clone(), Arc::new(img));
        }
        Ok(())
    }

    /// Containers created from `image_id`: (id, running).
    async fn containers_using(&self, image_id: &str) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        for h in self.handles() {
            let c = h.rec.lock().await;
            if c.image_id == image_id {
                out.push((c.id.clone(), c.is_running()));
            }
        }
        out
    }

    /// Removes one reference (tag or digest) from the image it points at.
    fn remove_ref(&self, id: &str, r: &ImageRef) -> Result<()> {
        if !r.canonical {
            self.store.delete_tag(&r.familiar)?;
            self.image_index_mut().tags.remove(&r.familiar);
            return Ok(());
        }
        let mut idx = self.image_index_mut();
        if let Some(existing) = idx.by_id.get(id) {
            let mut img = (**existing).clone();
            img.repo_digests.retain(|d| *d != r.familiar);
            self.store.put_image(&img.id, &img)?;
            idx.by_id.insert(img.id.clone(), Arc::new(img));
        }
        Ok(())
    }

    /// dockerd's `checkImageDeleteConflict`: running containers first (hard), then, unless
    /// `soft` is off, other references and stopped containers.
    fn delete_conflict(
        &self,
        id: &str,
        users: &[(String, bool)],
        active_references: bool,
        stopped: bool,
    ) -> Option<DeleteConflict> {
        if let Some((cid, _)) = users.iter().find(|u| u.1) {
            return Some(DeleteConflict {
                hard: true,
                used: true,
                message: format!("image is being used by running container {}", short_id(cid)),
            });
        }
        if active_references && !self.image_refs(id).is_empty() {
            return Some(DeleteConflict {
                hard: false,
                used: false,
                message: "image is referenced in multiple repositories".into(),
            });
        }
        if stopped {
            if let Some((cid, _)) = users.iter().find(|u| !u.1) {
                return Some(DeleteConflict {
                    hard: false,
                    used: true,
                    message: format!("image is being used by stopped container {}", short_id(cid)),
                });
            }
        }
        None
    }

    /// `docker rmi`, as dockerd's `ImageDelete`. By a reference: untag it (and the
    /// repository's digests when it was the repository's last tag); when nothing else
    /// refers to the image, delete it too, unless a container uses it (409 without force;
    /// with force a running container keeps it, untagged). By ID: one repository's
    /// references go with the image, several need force; a running container's image
    /// cannot be forced, a stopped one's must be. The answer lists `Untagged` references,
    /// `Deleted` image ID, then each layer removed, top first.
    pub async fn remove_image(&self, name: &str, force: bool) -> Result<Vec<DeleteItem>> {
        let id = self.resolve_image(name)?.id.clone();
        let records = self.remove_image_refs(name, force).await?;
        // dockerd's events: an `untag` per reference, then `delete` for the image (both
        // name the image by its id); layers have no events.
        for r in &records {
            match r {
                DeleteItem::Untagged(_) => self.emit_image("untag", &id, &id),
                DeleteItem::Deleted(d) if *d == id => self.emit_image("delete", &id, &id),
                DeleteItem::Deleted(_) => {}
            }
        }
        Ok(records)
    }

    async fn remove_image_refs(&self, name: &str, force: bool) -> Result<Vec<DeleteItem>> {
        let img = self.resolve_image(name)?;
        let id = img.id.clone();
        let mut records = Vec::new();
        let mut refs = self.image_refs(&id);
        let users = self.containers_using(&id).await;
        let mut quiet = false;
        if !is_image_id_prefix(&id, name) {
            if !force && is_single_reference(&refs) {
                if let Some((cid, _)) = users.first() {
                    return Err(EngineError::Conflict(format!(
                        "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                        short_id(cid),
                        short_id(&id)
                    )));
                }
            }
            let parsed = Reference::parse(name).map_err(invalid)?;
            let target = match &parsed.digest {
                Some(d) => ImageRef::new(&format!("{}@{d}", parsed.repo_familiar()), true),
                None => ImageRef::new(&parsed.familiar(), false),
            };
            if !refs.contains(&target) {
                return Err(EngineError::NotFound("reference does not exist".into()));
            }
            self.remove_ref(&id, &target)?;
            records.push(DeleteItem::Untagged(parsed.familiar()));
            refs = self.image_refs(&id);
            // The repository's last tag went: its digests go too.
            if !target.canonical && !refs.iter().any(|r| !r.canonical && r.repo == target.repo) {
                let (same, others): (Vec<_>, Vec<_>) = refs
                    .into_iter()
                    .partition(|r| r.canonical && r.repo == target.repo);
                for r in &same {
                    self.remove_ref(&id, r)?;
                    records.push(DeleteItem::Untagged(r.familiar.clone()));
                }
                refs = others;
            }
            if !refs.is_empty() {
                return Ok(records);
            }
            quiet = true;
        } else if is_single_reference(&refs) {
            if let Some(c) = self.delete_conflict(&id, &users, false, !force) {
                return Err(c.error(&id));
            }
            for r in &refs {
                self.remove_ref(&id, r)?;
                records.push(DeleteItem::Untagged(r.familiar.clone()));
            }
        }

        // dockerd's `imageDeleteHelper`.
        if let Some(c) = self.delete_conflict(&id, &users, !force, !force) {
            let dangling = self.image_refs(&id).is_empty();
            if quiet && (!dangling || c.used) {
                return Ok(records);
            }
            return Err(c.error(&id));
        }
        for r in self.image_refs(&id) {
            self.remove_ref(&id, &r)?;
            records.push(DeleteItem::Untagged(r.familiar));
        }
        self.store.delete_image(&id)?;
        {
            let mut idx = self.image_index_mut();
            idx.by_id.remove(&id);
            idx.tags.retain(|_, v| *v != id);
        }
        records.push(DeleteItem::Deleted(id.clone()));
        let removed = self.gc_layers().await;
        for chain in img.layers.iter().rev() {
            if removed.contains(chain) {
                records.push(DeleteItem::Deleted(chain.clone()));
            }
        }
        Ok(records)
    }

    /// Delete layers no image and no container references any more (a container keeps
    /// the layers of an image deleted with force until it is removed). Returns the chain
    /// IDs removed.
    pub(super) async fn gc_layers(&self) -> HashSet<String> {
        let (mut keep_layers, keep_images): (HashSet<String>, HashSet<String>) = {
            let idx = self.image_index();
            (
                idx.by_id
                    .values()
                    .flat_map(|i| i.layers.iter().cloned())
                    .collect(),
                idx.by_id.keys().cloned().collect(),
            )
        };
        for h in self.handles() {
            keep_layers.extend(h.rec.lock().await.layers.iter().cloned());
        }
        match self.images.gc(&keep_layers, &keep_images).await {
            Ok(stats) => stats.layers_removed.into_iter().collect(),
            Err(e) => {
                tracing::warn!(error = %e, "layer garbage collection");
                HashSet::new()
            }
        }
    }

    /// `GET /images/{name}/history`, as dockerd's `ImageHistory`.
    pub fn image_history(&self, name: &str) -> Result<Vec<HistoryItem>> {
        let img = self.resolve_image(name)?;
        let sizes: Vec<u64> = img
            .layers
            .iter()
            .map(|c| self.images.layer_info(c).map(|m| m.size).unwrap_or(0))
            .collect();
        let tags = self.image_tags(&img.id);
        history_items(&img.id, &img.config, &sizes, tags).map_err(EngineError::Internal)
    }
}

/// One row of `docker history`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryItem {
    pub id: String,
    pub created: i64,
    pub created_by: String,
    /// Only on the top row (the image itself), `null` below, as dockerd.
    pub tags: Option<Vec<String>>,
    pub size: u64,
    pub comment: String,
}

/// Go's zero `time.Time` as Unix seconds: what dockerd shows for a history entry without
/// `created`.
const GO_ZERO_TIME_UNIX: i64 = -62_135_596_800;

/// dockerd's `ImageHistory` over an image config: one row per `history` entry (empty
/// layers too), newest first; a layer's row has that layer's size (`layer_sizes`, bottom
/// first), an empty layer's 0; the top row carries the image ID and its tags (`null` when
/// it has none), the others `<missing>` and `null`.
pub fn history_items(
    id: &str,
    config: &serde_json::Value,
    layer_sizes: &[u64],
    tags: Vec<String>,
) -> std::result::Result<Vec<HistoryItem>, String> {
    let empty = Vec::new();
    let entries = config
        .get("history")
        .and_then(|h| h.as_array())
        .unwrap_or(&empty);
    let mut layer = 0usize;
    let mut out = Vec::with_capacity(entries.len());
    for h in entries {
        let s = |k: &str| {
            h.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let empty_layer = h
            .get("empty_layer")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let size = if empty_layer {
            0
        } else {
            let size = *layer_sizes
                .get(layer)
                .ok_or("too many non-empty layers in History section")?;
            layer += 1;
            size
        };
        let created = h
            .get("created")
            .and_then(|v| v.as_str())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp())
            .unwrap_or(GO_ZERO_TIME_UNIX);
        out.push(HistoryItem {
            id: "<missing>".into(),
            created,
            created_by: s("created_by"),
            tags: None,
            size,
            comment: s("comment"),
        });
    }
    out.reverse();
    if let Some(top) = out.first_mut() {
        top.id = id.to_string();
        top.tags = (!tags.is_empty()).then_some(tags);
    }
    Ok(out)
}

fn pull_error(e: pouch_image::PullError) -> EngineError {
    if e.is_not_found() {
        EngineError::NotFound(e.to_string())
    } else {
        EngineError::Internal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refs(tags: &[&str], digests: &[&str]) -> Vec<ImageRef> {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        sorted_refs(&s(tags), &s(digests))
    }

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_sort_by_their_full_name() {
        let r = refs(
            &[
                "zzz/x:1",
                "localhost/y:1",
                "busybox:latest",
                "127.0.0.1:5000/b:v",
            ],
            &[&format!("127.0.0.1:5000/b@{D}")],
        );
        let names: Vec<&str> = r.iter().map(|r| r.familiar.as_str()).collect();
        // 127.0.0.1:5000/…, docker.io/library/busybox, docker.io/zzz/x, localhost/y; a tag
        // before its repository's digest (':' < '@').
        assert_eq!(
            names,
            vec![
                "127.0.0.1:5000/b:v",
                &format!("127.0.0.1:5000/b@{D}"),
                "busybox:latest",
                "zzz/x:1",
                "localhost/y:1"
            ]
        );
    }

    #[test]
    fn single_reference_is_one_tag_in_one_repository() {
        assert!(!is_single_reference(&[]));
        assert!(is_single_reference(&refs(&["a:1"], &[])));
        assert!(is_single_reference(&refs(&[], &[&format!("a@{D}")])));
        assert!(is_single_reference(&refs(&["a:1"], &[&format!("a@{D}")])));
        assert!(!is_single_reference(&refs(&["a:1", "a:2"], &[])));
        assert!(!is_single_reference(&refs(&["a:1"], &[&format!("b@{D}")])));
        assert!(!is_single_reference(&refs(
            &["a:1", "b:1"],
            &[&format!("a@{D}")]
        )));
    }

    #[test]
    fn id_prefixes_as_dockerd_tells_them() {
        let id = format!("sha256:{}", "ab".repeat(32));
        assert!(is_image_id_prefix(&id, "a"));
        assert!(is_image_id_prefix(&id, "abab"));
        assert!(is_image_id_prefix(&id, "sha256:ab"));
        assert!(!is_image_id_prefix(&id, "busybox"));
        assert!(!is_image_id_prefix(&id, "b"));
    }

    #[test]
    fn history_rows_newest_first_with_empty_layers() {
        let config = json!({"history": [
            {"created": "2024-01-01T00:00:00Z", "created_by": "ADD x"},
            {"created": "2024-01-02T00:00:00Z", "created_by": "CMD", "empty_layer": true},
            {"created": "2024-01-03T00:00:00Z", "created_by": "RUN y", "comment": "c"},
            {"created_by": "LABEL", "comment": "last", "empty_layer": true},
        ]});
        let rows = history_items("sha256:top", &config, &[1245, 3], vec!["a:1".into()]).unwrap();
        type Row<'a> = (&'a str, i64, &'a str, Option<Vec<String>>, u64, &'a str);
        let got: Vec<Row> = rows
            .iter()
            .map(|r| {
                (
                    r.id.as_str(),
                    r.created,
                    r.created_by.as_str(),
                    r.tags.clone(),
                    r.size,
                    r.comment.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "sha256:top",
                    GO_ZERO_TIME_UNIX,
                    "LABEL",
                    Some(vec!["a:1".to_string()]),
                    0,
                    "last"
                ),
                ("<missing>", 1_704_240_000, "RUN y", None, 3, "c"),
                ("<missing>", 1_704_153_600, "CMD", None, 0, ""),
                ("<missing>", 1_704_067_200, "ADD x", None, 1245, ""),
            ]
        );
        let v = serde_json::to_value(&rows[1]).unwrap();
        assert_eq!(
            v,
            json!({"Id": "<missing>", "Created": 1_704_240_000, "CreatedBy": "RUN y",
                   "Tags": null, "Size": 3, "Comment": "c"})
        );
        // No tags: null on the top row too; no history: no rows.
        let rows = history_items("sha256:top", &config, &[1, 2], vec![]).unwrap();
        assert_eq!(rows[0].tags, None);
        assert!(history_items("x", &json!({}), &[1], vec![])
            .unwrap()
            .is_empty());
        assert!(history_items("x", &config, &[1], vec![]).is_err());
    }
}
