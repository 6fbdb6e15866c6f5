//! Pulls from a real `docker-registry` on 127.0.0.1, images pushed with skopeo.

mod common;

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use pouch_image::{ImageService, Progress, PullError, PulledImage, Reference};
use tokio::sync::mpsc;

fn service(root: &Path) -> ImageService {
    ImageService::new(root.to_path_buf(), vec![], vec![]).expect("service")
}

async fn pull(svc: &ImageService, r: &str) -> (Result<PulledImage, PullError>, Vec<Progress>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let res = svc.pull(&Reference::parse(r).expect("ref"), tx).await;
    let mut msgs = Vec::new();
    while let Ok(m) = rx.try_recv() {
        msgs.push(m);
    }
    (res, msgs)
}

fn statuses(msgs: &[Progress]) -> Vec<String> {
    msgs.iter()
        .map(|m| {
            format!(
                "{}{}",
                m.status.clone().unwrap_or_default(),
                m.id.as_ref().map(|i| format!(" [{i}]")).unwrap_or_default()
            )
        })
        .collect()
}

fn count(msgs: &[Progress], status: &str) -> usize {
    msgs.iter()
        .filter(|m| m.status.as_deref() == Some(status))
        .count()
}

fn diff_dir(svc: &ImageService, img: &PulledImage, i: usize) -> std::path::PathBuf {
    svc.layer_dirs(&[img.layers[i].chain_id.clone()])
        .expect("dirs")[0]
        .clone()
}

/// Nothing half-written: no temp files, no staging dirs.
fn assert_clean(root: &Path) {
    let ingest: Vec<_> = fs::read_dir(root.join("content/ingest")).unwrap().collect();
    assert!(ingest.is_empty(), "ingest leftovers: {ingest:?}");
    for e in fs::read_dir(root.join("overlay2")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with(".tmp-"), "staging leftover {name}");
        assert!(
            e.path().join("committed").is_file(),
            "uncommitted layer {name}"
        );
    }
}

#[tokio::test]
async fn pull_oci_image_then_up_to_date() {
    if !prerequisites() {
        return;
    }
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = OciLayout::new(&tmp.path().join("oci"));
    let built = layout.tag_image("latest", &[busybox_layer(true)]);
    reg.push(&layout.dir, "latest", "busybox:latest", &[]);

    let svc = service(&tmp.path().join("root"));
    let name = format!("{}/busybox", reg.host());
    let (res, msgs) = pull(&svc, &name).await;
    let img = res.expect("pull");
    assert_eq!(img.id, built.config_digest);
    assert_eq!(img.manifest_digest, built.manifest_digest);
    assert_eq!(img.platform_manifest_digest, built.manifest_digest);
    assert_eq!(img.layers.len(), 1);
    assert_eq!(img.layers[0].diff_id, built.diff_ids[0]);
    assert_eq!(img.layers[0].chain_id, built.diff_ids[0]);
    assert!(img.size > 1_000_000, "size {}", img.size);
    assert!(img.downloaded);
    assert_eq!(img.config["architecture"], "amd64");
    assert_eq!(svc.read_config(&img.id).unwrap(), img.config);

    let s = statuses(&msgs);
    let short = &built.layer_digests[0][7..19];
    assert_eq!(s[0], "Pulling from busybox [latest]", "{s:#?}");
    assert_eq!(s[1], format!("Pulling fs layer [{short}]"));
    for want in ["Verifying Checksum", "Download complete", "Pull complete"] {
        assert!(
            s.contains(&format!("{want} [{short}]")),
            "{want} missing: {s:#?}"
        );
    }
    assert!(count(&msgs, "Downloading") >= 1);
    assert!(count(&msgs, "Extracting") >= 1);
    // The last line is the digest: `Status:` is the daemon's (it depends on its tags).
    assert_eq!(s[s.len() - 1], format!("Digest: {}", built.manifest_digest));
    assert!(!s.iter().any(|l| l.starts_with("Status:")), "{s:#?}");
    let dl = msgs
        .iter()
        .find(|m| m.status.as_deref() == Some("Downloading"))
        .unwrap();
    let json = dl.to_json();
    assert!(json.contains(r#""progressDetail":{"current":"#), "{json}");
    assert!(json.contains(r#""progress":"["#), "{json}");

    let diff = diff_dir(&svc, &img, 0);
    assert!(diff.join("bin/busybox").is_file());
    assert_eq!(
        fs::read_link(diff.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(
        fs::metadata(diff.join("bin/busybox")).unwrap().mode() & 0o777,
        0o755
    );
    assert!(svc.layer_exists(&img.layers[0].chain_id));
    assert!(svc.blob_path(&built.layer_digests[0]).is_some());
    assert_clean(svc.root());

    // Second pull: nothing downloaded and, as dockerd, not a line per layer either.
    let (res, msgs) = pull(&svc, &name).await;
    let again = res.expect("pull again");
    assert_eq!(again.id, img.id);
    assert!(!again.downloaded);
    assert_eq!(again.size, img.size);
    let s = statuses(&msgs);
    assert_eq!(
        s,
        vec![
            "Pulling from busybox [latest]".to_string(),
            format!("Digest: {}", built.manifest_digest)
        ]
    );
}

#[tokio::test]
async fn pull_docker_schema2_with_whiteouts_and_shared_base() {
    if !prerequisites() {
        return;
    }
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = OciLayout::new(&tmp.path().join("oci"));
    let base = layout.tag_image("base", &[busybox_layer(true)]);
    let derived = layout.tag_image("derived", &[busybox_layer(true), whiteout_layer(true)]);
    assert_eq!(base.layer_digests[0], derived.layer_digests[0]);
    reg.push(&layout.dir, "base", "bb:base", &["--format", "v2s2"]);
    reg.push(
        &layout.dir,
        "derived",
        "other/derived:v1",
        &["--format", "v2s2"],
    );

    let svc = service(&tmp.path().join("root"));
    let (res, _) = pull(&svc, &format!("{}/bb:base", reg.host())).await;
    let b = res.expect("pull base");
    // The stored top manifest is Docker schema2 (skopeo converted it).
    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(svc.blob_path(&b.manifest_digest).unwrap()).unwrap())
            .unwrap();
    assert_eq!(
        m["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let base_marker = fs::metadata(diff_dir(&svc, &b, 0).parent().unwrap().join("committed"))
        .unwrap()
        .ino();

    let (res, msgs) = pull(&svc, &format!("{}/other/derived:v1", reg.host())).await;
    let d = res.expect("pull derived");
    let s = statuses(&msgs);
    assert_eq!(s[0], "Pulling from other/derived [v1]");
    let short = &base.layer_digests[0][7..19];
    assert!(s.contains(&format!("Already exists [{short}]")), "{s:#?}");
    assert_eq!(count(&msgs, "Pull complete"), 1, "{s:#?}");
    assert_eq!(d.layers[0].chain_id, b.layers[0].chain_id);
    // The shared layer was not unpacked again.
    let marker = fs::metadata(diff_dir(&svc, &d, 0).parent().unwrap().join("committed"))
        .unwrap()
        .ino();
    assert_eq!(marker, base_marker);
    assert_ne!(d.layers[1].chain_id, d.layers[1].diff_id);
    assert_eq!(d.size, d.layers[0].size + d.layers[1].size);

    let top = diff_dir(&svc, &d, 1);
    let wh = fs::symlink_metadata(top.join("etc/removeme")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    assert_eq!(
        xattr::get(top.join("var/opaque"), "trusted.overlay.opaque")
            .unwrap()
            .as_deref(),
        Some(&b"y"[..])
    );
    assert!(top.join("var/opaque/new").is_file());
    assert!(!top.join("var/opaque/.wh..wh..opq").exists());
    assert_clean(svc.root());

    // gc: keep only the derived image.
    let keep_layers: HashSet<String> = d.layers.iter().map(|l| l.chain_id.clone()).collect();
    let keep_images: HashSet<String> = [d.id.clone()].into();
    let stats = svc.gc(&keep_layers, &keep_images).await.unwrap();
    assert!(stats.layers_removed.is_empty());
    assert!(
        svc.read_config(&b.id).is_err(),
        "base config should be gone"
    );
    assert!(svc.read_config(&d.id).is_ok());
    assert!(svc.blob_path(&derived.layer_digests[1]).is_some());
    // gc everything.
    let stats = svc.gc(&HashSet::new(), &HashSet::new()).await.unwrap();
    assert_eq!(stats.layers_removed.len(), 2);
    assert!(!svc.layer_exists(&d.layers[0].chain_id));
    assert_eq!(
        fs::read_dir(svc.root().join("content/blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn pull_multiarch_index_picks_amd64() {
    if !prerequisites() {
        return;
    }
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = OciLayout::new(&tmp.path().join("oci"));
    let (index_digest, amd64) = layout.tag_multiarch(
        "multi",
        &[busybox_layer(true), small_layer("amd64-only", true)],
        &[small_layer("arm64", true)],
    );
    reg.push(&layout.dir, "multi", "multi:latest", &["--all"]);

    let svc = service(&tmp.path().join("root"));
    let (res, msgs) = pull(&svc, &format!("{}/multi", reg.host())).await;
    let img = res.expect("pull");
    assert_eq!(img.id, amd64.config_digest);
    assert_eq!(img.manifest_digest, index_digest);
    assert_eq!(img.platform_manifest_digest, amd64.manifest_digest);
    assert_eq!(
        statuses(&msgs).last().unwrap(),
        &format!("Digest: {index_digest}")
    );
    let top = diff_dir(&svc, &img, 1);
    assert_eq!(
        fs::read(top.join("data/amd64-only")).unwrap(),
        b"amd64-only"
    );

    // Pull by digest (the index digest) too: dockerd's first line names the whole
    // reference.
    let by_digest = format!("{}/multi@{}", reg.host(), index_digest);
    let (res, msgs) = pull(&svc, &by_digest).await;
    assert_eq!(res.expect("pull by digest").id, img.id);
    assert_eq!(
        statuses(&msgs),
        vec![
            format!("Pulling from multi [{by_digest}]"),
            format!("Digest: {index_digest}")
        ]
    );
    assert_clean(svc.root());
}

#[tokio::test]
async fn pull_uncompressed_layers() {
    if !prerequisites() {
        return;
    }
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = OciLayout::new(&tmp.path().join("oci"));
    let built = layout.tag_image(
        "plain",
        &[busybox_layer(false), small_layer("plain", false)],
    );
    reg.push_verbatim(&layout, &built, "plain", "v1").await;

    let svc = service(&tmp.path().join("root"));
    let (res, _) = pull(&svc, &format!("{}/plain:v1", reg.host())).await;
    let img = res.expect("pull");
    assert_eq!(img.manifest_digest, built.manifest_digest);
    // Uncompressed: the blob digest is the diff ID.
    assert_eq!(built.layer_digests, built.diff_ids);
    assert!(diff_dir(&svc, &img, 0).join("bin/busybox").is_file());
    assert_eq!(
        fs::read(diff_dir(&svc, &img, 1).join("data/plain")).unwrap(),
        b"plain"
    );
    assert_clean(svc.root());
}

#[tokio::test]
async fn concurrent_pulls_unpack_once() {
    if !prerequisites() {
        return;
    }
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = OciLayout::new(&tmp.path().join("oci"));
    layout.tag_image("latest", &[busybox_layer(true), small_layer("x", true)]);
    reg.push(&layout.dir, "latest", "conc:latest", &[]);

    let svc = Arc::new(service(&tmp.path().join("root")));
    let name = format!("{}/conc", reg.host());
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let svc = svc.clone();
            let name = name.clone();
            tokio::spawn(async move { pull(&svc, &name).await })
        })
        .collect();
    let mut ids = HashSet::new();
    let mut completes = 0;
    for t in tasks {
        let (res, msgs) = t.await.unwrap();
        ids.insert(res.expect("concurrent pull").id);
        completes += count(&msgs, "Pull complete");
    }
    assert_eq!(ids.len(), 1);
    // Two layers, each unpacked by exactly one of the three pulls.
    assert_eq!(completes, 2);
    assert_clean(svc.root());
}

#[tokio::test]
async fn corrupt_blob_fails_and_leaves_nothing() {
    if !prerequisites() {
        return;
    }
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = OciLayout::new(&tmp.path().join("oci"));
    let built = layout.tag_image("latest", &[small_layer("fine", true), busybox_layer(true)]);
    reg.push(&layout.dir, "latest", "corrupt:latest", &[]);

    // Flip bytes in the middle of the busybox layer, keeping its length.
    let data_path = reg.blob_data(&built.layer_digests[1]);
    let mut data = fs::read(&data_path).unwrap();
    let mid = data.len() / 2;
    for b in &mut data[mid..mid + 16] {
        *b ^= 0xff;
    }
    fs::write(&data_path, &data).unwrap();

    let svc = service(&tmp.path().join("root"));
    let (res, _) = pull(&svc, &format!("{}/corrupt", reg.host())).await;
    let err = res.expect_err("corrupt blob must fail");
    assert!(
        matches!(err, PullError::DigestMismatch { .. }),
        "unexpected error: {err}"
    );
    assert!(err.to_string().contains(&built.layer_digests[1]), "{err}");
    assert!(svc.blob_path(&built.layer_digests[1]).is_none());
    let chain_hex = &built.diff_ids[0][7..];
    // Whatever finished before the failure is complete; the bad layer has nothing.
    assert_clean(svc.root());
    let dirs: Vec<String> = fs::read_dir(svc.root().join("overlay2"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(dirs.iter().all(|d| d == chain_hex), "{dirs:?}");
}

#[tokio::test]
async fn closed_port_fails_fast() {
    let tmp = tempfile::tempdir().unwrap();
    let svc = service(tmp.path());
    let port = free_port();
    let start = Instant::now();
    let (res, msgs) = pull(&svc, &format!("127.0.0.1:{port}/busybox:latest")).await;
    let err = res.expect_err("nothing listens there");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert!(matches!(err, PullError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert!(msgs.is_empty());
    let p = Progress::error(err.to_string()).to_json();
    assert!(p.starts_with(r#"{"errorDetail":{"message":"#), "{p}");
}

#[tokio::test]
async fn unknown_tag_and_repo_are_manifest_unknown() {
    if !prerequisites() {
        return;
    }
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = OciLayout::new(&tmp.path().join("oci"));
    layout.tag_image("latest", &[small_layer("x", true)]);
    reg.push(&layout.dir, "latest", "exists:latest", &[]);
    let svc = service(&tmp.path().join("root"));

    let (res, _) = pull(&svc, &format!("{}/exists:nope", reg.host())).await;
    let err = res.expect_err("unknown tag");
    assert!(err.is_not_found(), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "manifest for {}/exists:nope not found: manifest unknown: manifest unknown",
            reg.host()
        )
    );
    let (res, _) = pull(&svc, &format!("{}/nope", reg.host())).await;
    let err = res.expect_err("unknown repo");
    assert!(err.is_not_found(), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "manifest for {}/nope:latest not found: ",
            reg.host()
        )),
        "{err}"
    );
}

/// A file of `size` incompressible (but fixed) bytes in its own directory `name`.
fn sized_layer(name: &str, size: usize) -> Layer {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..size)
        .map(|_| {
            // xorshift64: cheap, deterministic, does not compress.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    Layer {
        tar: TarBuilder::new()
            .dir(name)
            .file(&format!("{name}/f"), &data, 0o644)
            .finish(),
        gzip: true,
    }
}

#[tokio::test]
async fn layers_complete_base_first_and_sizes_count_like_dockerd() {
    if !prerequisites() {
        return;
    }
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = OciLayout::new(&tmp.path().join("oci"));
    // The big bottom layer finishes downloading last; it must still be extracted first.
    let layers = [
        sized_layer("l1", 3_000_000),
        sized_layer("l2", 10),
        sized_layer("l3", 20),
        sized_layer("l4", 30),
    ];
    let built = layout.tag_image("v1", &layers);
    reg.push(&layout.dir, "v1", "order:v1", &[]);
    let mut svc = service(&tmp.path().join("root"));
    svc.set_max_concurrent_downloads(4);
    let (res, msgs) = pull(&svc, &format!("{}/order:v1", reg.host())).await;
    let img = res.expect("pull");
    let shorts: Vec<String> = built
        .layer_digests
        .iter()
        .map(|d| d[7..19].to_string())
        .collect();
    let in_order = |status: &str| -> Vec<String> {
        let mut seen = Vec::new();
        for m in msgs.iter().filter(|m| m.status.as_deref() == Some(status)) {
            let id = m.id.clone().unwrap_or_default();
            if !seen.contains(&id) {
                seen.push(id);
            }
        }
        seen
    };
    assert_eq!(in_order("Pull complete"), shorts, "{:#?}", statuses(&msgs));
    assert_eq!(in_order("Extracting"), shorts, "{:#?}", statuses(&msgs));
    assert_eq!(in_order("Pulling fs layer"), shorts);
    // No Extracting of a layer before every layer below it is complete.
    let mut complete = 0;
    for m in &msgs {
        let Some(id) = m.id.as_deref() else { continue };
        match m.status.as_deref() {
            Some("Pull complete") => complete += 1,
            Some("Extracting") => assert_eq!(
                shorts.iter().position(|s| s == id),
                Some(complete),
                "{:#?}",
                statuses(&msgs)
            ),
            _ => {}
        }
    }

    // Sizes as dockerd's overlay2 counts them: files, symlink targets, once per inode.
    let sizes: Vec<u64> = img.layers.iter().map(|l| l.size).collect();
    assert_eq!(sizes, vec![3_000_000, 10, 20, 30]);
    assert_eq!(img.size, 3_000_060);
    let mut layout2 = OciLayout::new(&tmp.path().join("oci2"));
    let links = Layer {
        tar: TarBuilder::new()
            .dir("d")
            .file("d/a", &[b'a'; 1000], 0o644)
            .file("d/empty", b"", 0o644)
            .symlink("d/s", "0123456789")
            .finish(),
        gzip: true,
    };
    layout2.tag_image("v1", &[links]);
    reg.push(&layout2.dir, "v1", "links:v1", &[]);
    let (res, _) = pull(&svc, &format!("{}/links:v1", reg.host())).await;
    assert_eq!(res.expect("pull links").size, 1000 + 10);
    assert_clean(svc.root());
}

#[tokio::test]
async fn list_tags_in_the_registrys_order() {
    if !prerequisites() {
        return;
    }
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = OciLayout::new(&tmp.path().join("oci"));
    for tag in ["b", "a", "latest"] {
        layout.tag_image(tag, &[small_layer(tag, true)]);
        reg.push(&layout.dir, tag, &format!("tags:{tag}"), &[]);
    }
    let svc = service(&tmp.path().join("root"));
    let r = Reference::parse_named(&format!("{}/tags", reg.host())).unwrap();
    let mut tags = svc.list_tags(&r).await.expect("tags");
    tags.sort();
    assert_eq!(tags, vec!["a", "b", "latest"]);
    let r = Reference::parse_named(&format!("{}/nosuchrepo", reg.host())).unwrap();
    let err = svc.list_tags(&r).await.expect_err("no such repo");
    assert!(err.is_not_found(), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "repository {}/nosuchrepo not found: name unknown: repository name not known to registry",
            reg.host()
        )
    );
}
