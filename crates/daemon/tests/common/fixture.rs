//! Test images built here and pushed to the test registry with skopeo: several layers,
//! history with empty layers, several tags of one repository. Content is fixed, so pushing
//! again is a no-op for the registry and every run sees the same digests. Everything stays
//! on 127.0.0.1 (the registry of `common::registry()`).
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

/// Repositories of these fixtures live under this namespace in the test registry.
pub const NAMESPACE: &str = "pouch-test-images";

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn sha(data: &[u8]) -> String {
    pouch_testkit::sha256_digest(data)
}

/// Layer tars with fixed metadata (reproducible blobs).
pub use pouch_testkit::TarBuilder as Tar;

/// One image to push: layer tars (bottom first) and the config's `history` and `config`.
pub struct Spec {
    pub layers: Vec<Vec<u8>>,
    pub history: Vec<Value>,
    pub run_config: Value,
    /// Extra top-level config keys (`comment`, `author`, ...).
    pub extra: Value,
}

/// What a push produced.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// `127.0.0.1:5000/pouch-test-images/NAME`.
    pub repo: String,
    pub manifest_digest: String,
    /// Image ID (config digest).
    pub id: String,
    pub diff_ids: Vec<String>,
    /// Digests of the (gzip) layer blobs, bottom first.
    pub layer_digests: Vec<String>,
}

impl Pushed {
    /// `repo:tag`.
    pub fn tagged(&self, tag: &str) -> String {
        format!("{}:{tag}", self.repo)
    }
    /// `repo@manifest digest`.
    pub fn by_digest(&self) -> String {
        format!("{}@{}", self.repo, self.manifest_digest)
    }
    /// The 12-digit ids dockerd's progress shows for the layers, bottom first.
    pub fn layer_short_ids(&self) -> Vec<String> {
        self.layer_digests
            .iter()
            .map(|d| d[7..19].to_string())
            .collect()
    }
    /// Chain IDs of the layers, bottom first.
    pub fn chain_ids(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for d in &self.diff_ids {
            let next = match out.last() {
                None => d.clone(),
                Some(parent) => sha(format!("{parent} {d}").as_bytes()),
            };
            out.push(next);
        }
        out
    }
}

fn put_blob(dir: &Path, data: &[u8]) -> String {
    let d = sha(data);
    std::fs::write(
        dir.join("blobs/sha256")
            .join(d.trim_start_matches("sha256:")),
        data,
    )
    .expect("write blob");
    d
}

fn gzip(data: &[u8]) -> Vec<u8> {
    pouch_testkit::gzip(data)
}

/// Pushes `spec` as `<registry>/pouch-test-images/<name>:<tag>` with skopeo (gzip layers
/// are copied as they are).
pub fn push(registry: &str, name: &str, tag: &str, spec: &Spec) -> Pushed {
    let work = std::env::temp_dir().join(format!(
        "pouch-fixture-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(work.join("blobs/sha256")).expect("mkdir");
    std::fs::write(
        work.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("write");
    let mut descs = Vec::new();
    let mut layer_digests = Vec::new();
    for tar in &spec.layers {
        let blob = gzip(tar);
        let d = put_blob(&work, &blob);
        descs.push(json!({"mediaType": OCI_LAYER_GZIP, "digest": d, "size": blob.len()}));
        layer_digests.push(d);
    }
    let diff_ids: Vec<String> = spec.layers.iter().map(|t| sha(t)).collect();
    let config_bytes = config_bytes(spec);
    let config_digest = put_blob(&work, &config_bytes);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_bytes.len()},
        "layers": descs,
    });
    let mbytes = serde_json::to_vec(&manifest).expect("json");
    let manifest_digest = put_blob(&work, &mbytes);
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": mbytes.len(),
        "annotations": {"org.opencontainers.image.ref.name": tag},
    }]});
    std::fs::write(
        work.join("index.json"),
        serde_json::to_vec(&index).expect("json"),
    )
    .expect("write index");
    let repo = format!("{registry}/{NAMESPACE}/{name}");
    let out = Command::new("skopeo")
        .args([
            "copy",
            "-q",
            "--insecure-policy",
            "--dest-tls-verify=false",
            "--preserve-digests",
        ])
        .arg(format!("oci:{}:{tag}", work.display()))
        .arg(format!("docker://{repo}:{tag}"))
        .output()
        .expect("run skopeo");
    let _ = std::fs::remove_dir_all(&work);
    assert!(
        out.status.success(),
        "skopeo copy to {repo}:{tag} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Pushed {
        repo,
        manifest_digest,
        id: config_digest,
        diff_ids,
        layer_digests,
    }
}

/// The image config of `spec` (its digest is the image ID).
pub fn config_bytes(spec: &Spec) -> Vec<u8> {
    let diff_ids: Vec<String> = spec.layers.iter().map(|t| sha(t)).collect();
    let mut config = json!({
        "created": spec.history.last().and_then(|h| h.get("created")).cloned()
            .unwrap_or(json!("2024-01-01T00:00:00Z")),
        "architecture": "amd64",
        "os": "linux",
        "config": spec.run_config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": spec.history,
    });
    if let Some(extra) = spec.extra.as_object() {
        for (k, v) in extra {
            config[k] = v.clone();
        }
    }
    serde_json::to_vec(&config).expect("json")
}

/// A 1000-byte file, an empty one, a hard link to the first, two symlinks and a nested
/// file: what dockerd counts as this layer's size (regular files once per inode plus the
/// symlinks' target lengths, directories not at all) is 1000 + 1 + 10 + 234 = 1245.
pub fn sized_layer() -> Vec<u8> {
    Tar::new()
        .dir("data")
        .file("data/a", &[b'a'; 1000], 0o644)
        .file("data/b", b"", 0o644)
        .hardlink("data/a-link", "data/a")
        .symlink("data/s", "a")
        .symlink("data/long", "0123456789")
        .dir("data/sub")
        .file("data/sub/c", &[b'c'; 234], 0o644)
        .finish()
}
pub const SIZED_LAYER_SIZE: u64 = 1245;

/// A second layer: a 3-byte file and a whiteout (a 0/0 char device, size 0).
pub fn top_layer() -> Vec<u8> {
    Tar::new()
        .dir("data")
        .file("data/x", b"hi\n", 0o644)
        .file("data/.wh.b", b"", 0o644)
        .finish()
}
pub const TOP_LAYER_SIZE: u64 = 3;

/// Two layers, four history entries (two of them empty layers), comments on two.
pub fn history_spec() -> Spec {
    Spec {
        layers: vec![sized_layer(), top_layer()],
        history: vec![
            json!({"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:data in / "}),
            json!({"created": "2024-01-02T00:00:00Z", "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": true}),
            json!({"created": "2024-01-03T00:00:00Z", "created_by": "/bin/sh -c echo hi > /data/x", "comment": "buildkit.dockerfile.v0"}),
            json!({"created": "2024-01-04T00:00:00Z", "created_by": "LABEL a=b", "comment": "last one", "empty_layer": true}),
        ],
        run_config: json!({"Cmd": ["sh"], "Env": ["PATH=/bin"], "Labels": {"a": "b"}}),
        extra: json!({}),
    }
}

/// `pouch-test-images/history:v1`.
pub fn history_image(registry: &str) -> Pushed {
    push(registry, "history", "v1", &history_spec())
}

/// A one-layer image whose only file says `which`.
pub fn small_spec(which: &str) -> Spec {
    Spec {
        layers: vec![Tar::new()
            .dir("data")
            .file(&format!("data/{which}"), which.as_bytes(), 0o644)
            .finish()],
        history: vec![
            json!({"created": "2024-02-01T00:00:00Z", "created_by": format!("ADD {which}")}),
        ],
        run_config: json!({"Cmd": ["sh"]}),
        extra: json!({}),
    }
}

/// `pouch-test-images/multi` with tags `1.0` and `latest` (one image) and `2.0` (another).
/// Returns (image of 1.0/latest, image of 2.0).
pub fn multi_tag_repo(registry: &str) -> (Pushed, Pushed) {
    let a = push(registry, "multi", "1.0", &small_spec("one"));
    push(registry, "multi", "latest", &small_spec("one"));
    let b = push(registry, "multi", "2.0", &small_spec("two"));
    (a, b)
}

/// `pouch-test-images/three:v1`.
pub fn three_layer_image(registry: &str) -> Pushed {
    push(registry, "three", "v1", &three_layer_spec())
}

/// Two one-layer images whose IDs start with the same hex digit (found by trying fixed
/// contents in turn, so always the same two): `pouch-test-images/amb:a` and `:b`.
pub fn ambiguous_pair(registry: &str) -> (Pushed, Pushed) {
    let mut first_by_digit: std::collections::HashMap<u8, String> = Default::default();
    for n in 0..100 {
        let which = format!("amb-{n}");
        let digit = sha(&config_bytes(&small_spec(&which))).as_bytes()[7];
        if let Some(other) = first_by_digit.get(&digit) {
            return (
                push(registry, "amb", "a", &small_spec(other)),
                push(registry, "amb", "b", &small_spec(&which)),
            );
        }
        first_by_digit.insert(digit, which);
    }
    unreachable!("17 tries always hold two IDs with the same first digit")
}

/// Three layers, each with its own file, for layer-order checks.
pub fn three_layer_spec() -> Spec {
    let layer = |n: &str, size: usize| {
        Tar::new()
            .dir(n)
            .file(&format!("{n}/f"), &vec![b'x'; size], 0o644)
            .finish()
    };
    Spec {
        layers: vec![layer("l1", 300_000), layer("l2", 200), layer("l3", 100_000)],
        history: vec![
            json!({"created": "2024-03-01T00:00:00Z", "created_by": "ADD l1"}),
            json!({"created": "2024-03-02T00:00:00Z", "created_by": "ADD l2"}),
            json!({"created": "2024-03-03T00:00:00Z", "created_by": "ADD l3"}),
        ],
        run_config: json!({}),
        extra: json!({}),
    }
}

/// An image with one large layer that does not compress (a fixed pseudo-random stream), to
/// give a pull time to be interrupted.
pub fn big_image(registry: &str) -> Pushed {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..6 * 1024 * 1024)
        .map(|_| {
            // xorshift64: cheap, fixed, incompressible enough for gzip.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let spec = Spec {
        layers: vec![Tar::new()
            .dir("data")
            .file("data/blob", &data, 0o644)
            .finish()],
        history: vec![json!({"created_by": "big"})],
        run_config: json!({"Cmd": ["true"]}),
        extra: json!({}),
    };
    push(registry, "big", "v1", &spec)
}
