//! Images: pull (through pouch-image), lookup by reference or id, tag, remove.

use super::{Engine, EngineError, Result};
use crate::model::Image;
use pouch_image::reference::Reference;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::info;

/// Result of `rmi`: Docker's `[{"Untagged": ..}, {"Deleted": ..}]`.
#[derive(Debug, Clone, serde::Serialize)]
pub enum DeleteItem {
    Untagged(String),
    Deleted(String),
}

fn strip_sha(id: &str) -> &str {
    id.strip_prefix("sha256:").unwrap_or(id)
}

impl Engine {
    /// Find an image by reference (`busybox`, `127.0.0.1:5000/a:b`, `repo@sha256:..`), full id
    /// or id prefix.
    pub fn resolve_image(&self, name: &str) -> Result<Arc<Image>> {
        let idx = self.image_index();
        let not_found = || EngineError::NotFound(format!("No such image: {name}"));
        if let Some(img) = idx.by_id.get(name) {
            return Ok(img.clone());
        }
        if let Ok(r) = Reference::parse(name) {
            if let Some(img) = idx.tags.get(&r.familiar()).and_then(|id| idx.by_id.get(id)) {
                return Ok(img.clone());
            }
            if let Some(d) = &r.digest {
                let want = format!("{}@{}", r.repo_familiar(), d);
                if let Some(img) = idx.by_id.values().find(|i| i.repo_digests.contains(&want)) {
                    return Ok(img.clone());
                }
            }
        }
        let hex = strip_sha(name);
        if hex.len() >= 4 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            let m: Vec<_> = idx
                .by_id
                .values()
                .filter(|i| strip_sha(&i.id).starts_with(hex))
                .collect();
            if m.len() == 1 {
                return Ok(m[0].clone());
            }
        }
        Err(not_found())
    }

    /// Tags pointing at `id`, sorted.
    pub fn image_tags(&self, id: &str) -> Vec<String> {
        let mut t: Vec<String> = self
            .image_index()
            .tags
            .iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.clone())
            .collect();
        t.sort();
        t
    }

    /// Pull `reference`, sending Docker JSON progress messages on `progress`.
    pub async fn pull_image(
        &self,
        reference: &str,
        progress: mpsc::UnboundedSender<pouch_image::Progress>,
    ) -> Result<Arc<Image>> {
        let r = Reference::parse(reference)
            .map_err(|e| EngineError::InvalidParameter(format!("invalid reference format: {e}")))?;
        let lock = {
            let mut locks = self.pull_locks.lock().await;
            locks.entry(r.familiar()).or_default().clone()
        };
        let _g = lock.lock().await;
        let existed = self.resolve_image(&r.familiar()).ok().map(|i| i.id.clone());
        let pulled =
            self.images
                .pull(&r, progress.clone())
                .await
                .map_err(|e| match e.is_not_found() {
                    true => EngineError::NotFound(e.to_string()),
                    false => EngineError::Internal(e.to_string()),
                })?;
        let created = pulled
            .config
            .get("created")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        let mut repo_digests = existed
            .as_deref()
            .and_then(|id| {
                self.image_index()
                    .by_id
                    .get(id)
                    .map(|i| i.repo_digests.clone())
            })
            .unwrap_or_default();
        let digest_ref = format!("{}@{}", r.repo_familiar(), pulled.manifest_digest);
        if !repo_digests.contains(&digest_ref) {
            repo_digests.push(digest_ref);
        }
        let img = Image {
            id: pulled.id.clone(),
            repo_digests,
            config: pulled.config.clone(),
            layers: pulled.layers.iter().map(|l| l.chain_id.clone()).collect(),
            diff_ids: pulled.layers.iter().map(|l| l.diff_id.clone()).collect(),
            size: pulled.size,
            created,
        };
        self.store.put_image(&img.id, &img)?;
        let img = Arc::new(img);
        {
            let mut idx = self.image_index_mut();
            idx.by_id.insert(img.id.clone(), img.clone());
        }
        if r.digest.is_none() {
            self.tag_image_id(&img.id, &r.familiar())?;
        }
        let familiar = r.familiar();
        self.emit_image("pull", &familiar, &r.repo_familiar());
        info!(image = %familiar, id = %img.id, "pulled");
        // A tag that moved may leave an old image without tags and containers: keep it, as
        // Docker does (dangling), it is removed by id.
        Ok(img)
    }

    fn tag_image_id(&self, id: &str, familiar: &str) -> Result<()> {
        self.store.set_tag(familiar, id)?;
        self.image_index_mut()
            .tags
            .insert(familiar.to_string(), id.to_string());
        Ok(())
    }

    /// `docker tag SOURCE REPO[:TAG]`.
    pub fn tag_image(&self, source: &str, repo: &str, tag: &str) -> Result<()> {
        let img = self.resolve_image(source)?;
        let target = if tag.is_empty() {
            repo.to_string()
        } else {
            format!("{repo}:{tag}")
        };
        let r = Reference::parse(&target)
            .map_err(|e| EngineError::InvalidParameter(format!("invalid reference format: {e}")))?;
        if r.digest.is_some() {
            return Err(EngineError::InvalidParameter(
                "refusing to create a tag with a digest reference".into(),
            ));
        }
        self.tag_image_id(&img.id, &r.familiar())?;
        self.emit_image("tag", &img.id, &r.familiar());
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

    /// `docker rmi`, with dockerd's rules. By tag: untag; when it was the last tag, delete
    /// the image too, unless a container uses it (409, or with force: keep it untagged if a
    /// container runs it). By id: delete; a stopped container's image needs force, a running
    /// container's cannot be forced. Layers go only when no image or container uses them.
    pub async fn remove_image(&self, name: &str, force: bool) -> Result<Vec<DeleteItem>> {
        let img = self.resolve_image(name)?;
        let short = &strip_sha(&img.id)[..12];
        let tags = self.image_tags(&img.id);
        let by_tag = Reference::parse(name)
            .ok()
            .map(|r| r.familiar())
            .filter(|f| tags.contains(f));
        let users = self.containers_using(&img.id).await;
        let running = users.iter().find(|u| u.1).map(|u| &u.0[..12]);
        let stopped = users.iter().find(|u| !u.1).map(|u| &u.0[..12]);
        let mut out = Vec::new();
        if let Some(tag) = &by_tag {
            if tags.len() > 1 {
                self.untag(tag)?;
                self.emit_image("untag", &img.id, &img.id);
                return Ok(vec![DeleteItem::Untagged(tag.clone())]);
            }
            if let (false, Some(cid)) = (force, users.first()) {
                return Err(EngineError::Conflict(format!(
                    "conflict: unable to remove repository reference \"{tag}\" (must force) - container {} is using its referenced image {short}",
                    &cid.0[..12]
                )));
            }
        } else {
            if tags.len() > 1 && !force {
                return Err(EngineError::Conflict(format!(
                    "conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"
                )));
            }
            if let Some(cid) = running {
                return Err(EngineError::Conflict(format!(
                    "conflict: unable to delete {short} (cannot be forced) - image is being used by running container {cid}"
                )));
            }
            if let (false, Some(cid)) = (force, stopped) {
                return Err(EngineError::Conflict(format!(
                    "conflict: unable to delete {short} (must be forced) - image is being used by stopped container {cid}"
                )));
            }
        }
        for t in &tags {
            self.untag(t)?;
            // dockerd names the image by its id in `untag` and `delete`.
            self.emit_image("untag", &img.id, &img.id);
            out.push(DeleteItem::Untagged(t.clone()));
        }
        for d in &img.repo_digests {
            out.push(DeleteItem::Untagged(d.clone()));
        }
        if running.is_some() {
            // Forced by tag while a container runs it: the image stays, without references.
            let kept = Image {
                repo_digests: vec![],
                ..(*img).clone()
            };
            self.store.put_image(&kept.id, &kept)?;
            self.image_index_mut()
                .by_id
                .insert(kept.id.clone(), Arc::new(kept));
            return Ok(out);
        }
        self.store.delete_image(&img.id)?;
        {
            let mut idx = self.image_index_mut();
            idx.by_id.remove(&img.id);
            idx.tags.retain(|_, v| *v != img.id);
        }
        out.push(DeleteItem::Deleted(img.id.clone()));
        self.emit_image("delete", &img.id, &img.id);
        self.gc_layers().await;
        Ok(out)
    }

    fn untag(&self, tag: &str) -> Result<()> {
        self.store.delete_tag(tag)?;
        self.image_index_mut().tags.remove(tag);
        Ok(())
    }

    /// Delete layers no image and no container references any more (a container keeps
    /// the layers of an image deleted with force until it is removed).
    pub(super) async fn gc_layers(&self) {
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
        if let Err(e) = self.images.gc(&keep_layers, &keep_images).await {
            tracing::warn!(error = %e, "layer garbage collection");
        }
    }
}
