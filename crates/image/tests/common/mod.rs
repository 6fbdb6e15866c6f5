//! Test harness: a private `docker-registry` on a free 127.0.0.1 port, OCI layouts built
//! here from Debian's busybox-static, pushed with skopeo. Nothing leaves 127.0.0.1.
#![allow(dead_code)]

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// Returns false (after printing why) when the environment lacks what these tests need;
/// under CI=true a missing prerequisite is a failure instead.
pub fn prerequisites() -> bool {
    let mut missing = Vec::new();
    for bin in ["/usr/bin/docker-registry", "/usr/bin/skopeo"] {
        if !Path::new(bin).exists() {
            missing.push(bin.to_string());
        }
    }
    if busybox_path().is_none() {
        missing.push("busybox-static".into());
    }
    if !nix::unistd::geteuid().is_root() {
        missing.push("root (mknod/xattrs when unpacking)".into());
    }
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "registry tests need {} (apt-get install -y docker-registry skopeo busybox-static)",
        missing.join(", ")
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg}");
    }
    eprintln!("skipping: {msg}");
    false
}

pub fn busybox_path() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

pub fn sha(data: &[u8]) -> String {
    pouch_testkit::sha256_digest(data)
}

/// A `docker-registry serve` child, killed on drop.
pub struct Registry {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Registry {
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let cfg = dir.path().join("config.yml");
        fs::write(
            &cfg,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .expect("write config");
        let child = Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn docker-registry");
        let reg = Registry { port, dir, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "registry did not start on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        reg
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `skopeo copy` from an OCI layout to this registry, with extra flags.
    pub fn push(&self, layout: &Path, tag: &str, dest: &str, extra: &[&str]) {
        let out = Command::new("/usr/bin/skopeo")
            .args(["copy", "--insecure-policy", "--dest-tls-verify=false", "-q"])
            .args(extra)
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/{dest}", self.host()))
            .output()
            .expect("run skopeo");
        assert!(
            out.status.success(),
            "skopeo copy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Pushes an image from `layout` with oci-client, byte for byte. skopeo recompresses
    /// uncompressed layers on the way to a registry; this keeps them as they are.
    pub async fn push_verbatim(&self, layout: &OciLayout, built: &Built, repo: &str, tag: &str) {
        use oci_client::client::{ClientConfig, ClientProtocol};
        let client = oci_client::Client::new(ClientConfig {
            protocol: ClientProtocol::Http,
            ..Default::default()
        });
        let r = oci_client::Reference::with_tag(self.host(), repo.into(), tag.into());
        client
            .store_auth_if_needed(&self.host(), &oci_client::secrets::RegistryAuth::Anonymous)
            .await;
        for d in built.layer_digests.iter().chain([&built.config_digest]) {
            client
                .push_blob(&r, layout.read_blob(d), d)
                .await
                .expect("push blob");
        }
        client
            .push_manifest_raw(
                &r,
                layout.read_blob(&built.manifest_digest),
                http::HeaderValue::from_static(OCI_MANIFEST),
            )
            .await
            .expect("push manifest");
    }

    /// Path of a blob's data file in the registry's filesystem storage.
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A layer: its tar and whether to gzip it.
pub struct Layer {
    pub tar: Vec<u8>,
    pub gzip: bool,
}

impl Layer {
    pub fn diff_id(&self) -> String {
        sha(&self.tar)
    }
    pub fn blob(&self) -> (Vec<u8>, &'static str) {
        if self.gzip {
            (pouch_testkit::gzip(&self.tar), OCI_LAYER_GZIP)
        } else {
            (self.tar.clone(), OCI_LAYER)
        }
    }
}

/// Layer tars with fixed metadata (reproducible blobs).
pub use pouch_testkit::TarBuilder;

/// The busybox rootfs: busybox-static plus a few applet links and files.
pub fn busybox_layer(gzip: bool) -> Layer {
    let bb = fs::read(busybox_path().expect("busybox")).expect("read busybox");
    let mut t = TarBuilder::new()
        .dir("bin")
        .file("bin/busybox", &bb, 0o755)
        .dir("etc")
        .file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644)
        .file("etc/removeme", b"gone in the next layer\n", 0o644)
        .dir("var")
        .dir("var/opaque")
        .file("var/opaque/old", b"hidden by an opaque dir\n", 0o644)
        .dir("tmp");
    for applet in ["sh", "ls", "cat", "echo", "true"] {
        t = t.symlink(&format!("bin/{applet}"), "busybox");
    }
    Layer {
        tar: t.finish(),
        gzip,
    }
}

/// A layer on top of busybox with a whiteout and an opaque dir.
pub fn whiteout_layer(gzip: bool) -> Layer {
    let t = TarBuilder::new()
        .dir("etc")
        .file("etc/.wh.removeme", b"", 0o644)
        .file("etc/added", b"new\n", 0o644)
        .dir("var/opaque")
        .file("var/opaque/.wh..wh..opq", b"", 0o644)
        .file("var/opaque/new", b"only me\n", 0o644);
    Layer {
        tar: t.finish(),
        gzip,
    }
}

/// A small uncompressed layer.
pub fn small_layer(name: &str, gzip: bool) -> Layer {
    Layer {
        tar: TarBuilder::new()
            .dir("data")
            .file(&format!("data/{name}"), name.as_bytes(), 0o644)
            .finish(),
        gzip,
    }
}

pub struct Built {
    pub manifest_digest: String,
    pub config_digest: String,
    pub layer_digests: Vec<String>,
    pub diff_ids: Vec<String>,
}

/// An OCI image layout directory being built.
pub struct OciLayout {
    pub dir: PathBuf,
    index: Vec<Value>,
}

impl OciLayout {
    pub fn new(dir: &Path) -> Self {
        fs::create_dir_all(dir.join("blobs/sha256")).expect("mkdir");
        fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("write");
        OciLayout {
            dir: dir.to_path_buf(),
            index: Vec::new(),
        }
    }

    pub fn blob(&self, data: &[u8]) -> String {
        let d = sha(data);
        fs::write(
            self.dir
                .join("blobs/sha256")
                .join(d.trim_start_matches("sha256:")),
            data,
        )
        .expect("write blob");
        d
    }

    pub fn read_blob(&self, digest: &str) -> Vec<u8> {
        fs::read(
            self.dir
                .join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .expect("read blob")
    }

    /// Writes config + layers + manifest for one image; returns its digests.
    pub fn image(&self, layers: &[Layer], arch: &str) -> (Built, Value) {
        let mut descs = Vec::new();
        let mut layer_digests = Vec::new();
        for l in layers {
            let (blob, mt) = l.blob();
            let d = self.blob(&blob);
            descs.push(json!({"mediaType": mt, "digest": d, "size": blob.len()}));
            layer_digests.push(d);
        }
        let diff_ids: Vec<String> = layers.iter().map(Layer::diff_id).collect();
        let config = json!({
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [],
        });
        let config_bytes = serde_json::to_vec(&config).expect("json");
        let config_digest = self.blob(&config_bytes);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_bytes.len()},
            "layers": descs,
        });
        let mbytes = serde_json::to_vec(&manifest).expect("json");
        let manifest_digest = self.blob(&mbytes);
        let desc = json!({
            "mediaType": OCI_MANIFEST,
            "digest": manifest_digest,
            "size": mbytes.len(),
            "platform": {"architecture": arch, "os": "linux"},
        });
        (
            Built {
                manifest_digest,
                config_digest,
                layer_digests,
                diff_ids,
            },
            desc,
        )
    }

    /// Adds a tagged single-arch image to index.json.
    pub fn tag_image(&mut self, tag: &str, layers: &[Layer]) -> Built {
        let (built, mut desc) = self.image(layers, "amd64");
        desc["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        self.index.push(desc);
        self.write_index();
        built
    }

    /// Adds a tagged image index (amd64 + arm64); returns (index digest, amd64 image).
    pub fn tag_multiarch(
        &mut self,
        tag: &str,
        amd64: &[Layer],
        arm64: &[Layer],
    ) -> (String, Built) {
        let (a, adesc) = self.image(amd64, "amd64");
        let (_, bdesc) = self.image(arm64, "arm64");
        let idx = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [bdesc, adesc]});
        let bytes = serde_json::to_vec(&idx).expect("json");
        let d = self.blob(&bytes);
        self.index.push(json!({
            "mediaType": OCI_INDEX, "digest": d, "size": bytes.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }));
        self.write_index();
        (d, a)
    }

    fn write_index(&self) {
        let idx = json!({"schemaVersion": 2, "manifests": self.index});
        fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&idx).expect("json"),
        )
        .expect("write index");
    }
}
