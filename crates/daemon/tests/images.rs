//! Images through the real docker CLI and raw API against a private pouchd: pull (Docker's
//! progress lines), images, inspect by every kind of name, tag, rmi (untag, delete, layers
//! gone, conflicts with containers), and clean errors for registries that are down, bad
//! references, unknown images and unknown objects. (A corrupt blob is covered in
//! crates/image/tests.)

mod common;
#[path = "common/fixture.rs"]
mod fixture;

use common::*;
use serde_json::Value;
use std::path::PathBuf;

fn json_message(body: &str) -> String {
    let v: Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not a JSON error ({e}): {body}"));
    v["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message: {body}"))
        .to_string()
}

fn image_id(d: &Daemon, name: &str) -> String {
    d.docker_ok(&["image", "inspect", "-f", "{{.Id}}", name])
}

/// The image's layer directories on disk (GraphDriver.Data: the top layer's UpperDir and
/// the LowerDir below it, as dockerd's overlay2 shows an image).
fn layer_dirs(d: &Daemon, name: &str) -> Vec<PathBuf> {
    let v = d.get_json(&format!("/images/{name}/json"));
    let data = &v["GraphDriver"]["Data"];
    let dirs: Vec<PathBuf> = [&data["UpperDir"], &data["LowerDir"]]
        .iter()
        .flat_map(|s| s.as_str().unwrap_or("").split(':'))
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect();
    assert!(!dirs.is_empty(), "no layer dirs: {v}");
    for p in &dirs {
        assert!(p.starts_with(&d.data_root), "{p:?} outside the data root");
        assert!(p.is_dir(), "{p:?} missing");
    }
    dirs
}

/// `docker images` rows as `REPOSITORY:TAG ID`.
fn image_rows(d: &Daemon) -> Vec<String> {
    let out = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    let mut v: Vec<String> = out.lines().map(String::from).collect();
    v.sort();
    v
}

/// No request ended in a server error.
fn assert_no_500s(d: &Daemon) {
    let log = d.log();
    let bad: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("request failed") || l.contains("status=5"))
        .collect();
    assert!(bad.is_empty(), "server errors in the daemon log:\n{bad:#?}");
}

#[test]
fn pull_prints_dockers_lines_and_second_pull_is_up_to_date() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    let repo = img.trim_end_matches(":latest");
    let o = d.docker(&["pull", &img]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "latest: Pulling from busybox", "{out}");
    assert!(
        lines.iter().any(|l| l.ends_with(": Pull complete")),
        "{out}"
    );
    let digest = lines
        .iter()
        .find_map(|l| l.strip_prefix("Digest: "))
        .unwrap_or_else(|| panic!("no digest line: {out}"));
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    assert_eq!(hex.len(), 64, "{digest}");
    assert!(
        lines.contains(&format!("Status: Downloaded newer image for {img}").as_str()),
        "{out}"
    );
    assert_eq!(*lines.last().unwrap(), img, "{out}");

    let o = d.docker(&["pull", &img]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains(&format!("Status: Image is up to date for {img}")),
        "{out}"
    );
    assert!(!out.contains("Pull complete"), "{out}");
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert_eq!(d.docker_ok(&["pull", "-q", &img]), img);

    // The raw stream: one JSON object per line, each with a status or progress.
    let (st, body) = d.api(
        "POST",
        &format!("/images/create?fromImage={repo}&tag=latest"),
        None,
    );
    assert_eq!(st, 200, "{body}");
    let mut statuses = Vec::new();
    for l in body.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}"));
        assert!(v.get("error").is_none(), "{l}");
        statuses.push(v["status"].as_str().unwrap_or("").to_string());
    }
    assert!(
        statuses.contains(&format!("Status: Image is up to date for {img}")),
        "{statuses:?}"
    );
    // Pulled by digest: the image is found by that reference too.
    let by_digest = format!("{repo}@{digest}");
    d.docker_ok(&["pull", "-q", &by_digest]);
    assert_eq!(image_id(&d, &by_digest), image_id(&d, &img));
    assert_no_500s(&d);
}

#[test]
fn images_lists_repository_tag_and_id() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    assert!(d.docker_ok(&["images", "-q"]).is_empty());
    d.docker_ok(&["pull", "-q", &img]);
    let id = image_id(&d, &img);
    let hex = id.strip_prefix("sha256:").expect("sha256 id");
    let short = &hex[..12];
    assert_eq!(
        image_rows(&d),
        vec![format!("{}/busybox:latest {short}", registry())]
    );
    assert_eq!(d.docker_ok(&["images", "-q"]), short);
    assert_eq!(d.docker_ok(&["images", "-q", "--no-trunc"]), id);
    let table = d.docker_ok(&["images"]);
    let header = table.lines().next().unwrap_or("");
    for col in ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"] {
        assert!(header.contains(col), "{table}");
    }
    // Filter by reference, as the CLI's `docker images REPO` sends it.
    assert_eq!(
        d.docker_ok(&["images", "-q", &format!("{}/busybox", registry())]),
        short
    );

    let v = d.get_json("/images/json");
    let rows = v.as_array().expect("array");
    assert_eq!(rows.len(), 1, "{v}");
    let r = &rows[0];
    assert_eq!(r["Id"], id.as_str());
    assert_eq!(r["RepoTags"], serde_json::json!([img]));
    let digests = r["RepoDigests"].as_array().expect("RepoDigests");
    assert!(
        digests.iter().any(|d| d
            .as_str()
            .unwrap_or("")
            .starts_with(&format!("{}/busybox@sha256:", registry()))),
        "{r}"
    );
    assert!(r["Size"].as_i64().unwrap_or(0) > 0, "{r}");
    assert!(r["Created"].as_i64().unwrap_or(0) > 0, "{r}");

    // A reference that matches nothing lists nothing (it used to list everything).
    assert!(d
        .docker_ok(&["images", "-q", &format!("{}/nosuch", registry())])
        .is_empty());
    assert!(d.docker_ok(&["images", "-q", "busybox"]).is_empty());
    // Filters dockerd does not know, or values it refuses, are 400s with its messages.
    let bad = d.docker(&["images", "-f", "bogus=1"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("Invalid filter 'bogus'"),
        "{}",
        stderr(&bad)
    );
    let bad = d.docker(&["images", "-f", "dangling=maybe"]);
    assert!(
        stderr(&bad).contains("Invalid filter 'dangling=[maybe]'"),
        "{}",
        stderr(&bad)
    );
    let (st, body) = d.api("GET", "/images/json?filters=notjson", None);
    assert_eq!(st, 400, "{body}");
    assert!(
        json_message(&body).contains("Invalid filters parameter"),
        "{body}"
    );
    assert_no_500s(&d);
}

/// `docker images` rows as `REPOSITORY:TAG` for these arguments, sorted.
fn image_refs(d: &Daemon, args: &[&str]) -> Vec<String> {
    let mut a = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
    a.extend_from_slice(args);
    let mut v: Vec<String> = d.docker_ok(&a).lines().map(String::from).collect();
    v.sort();
    v
}

#[test]
fn images_filters_by_reference_label_dangling_before_since() {
    let Some(d) = Daemon::start() else { return };
    let reg = registry();
    // Two images beside the busybox fixture (created 2026-01-01): older, labelled.
    let old_id = push_variant_image(
        "pouch-test-filters/old",
        "v1",
        "2020-01-01T00:00:00Z",
        &[("tier", "web"), ("suite", "filters")],
    );
    let new_id = push_variant_image(
        "pouch-test-filters/new",
        "v1",
        "2025-01-01T00:00:00Z",
        &[("tier", "db"), ("suite", "filters")],
    );
    let busybox = image();
    let old = format!("{reg}/pouch-test-filters/old:v1");
    let new = format!("{reg}/pouch-test-filters/new:v1");
    for r in [&busybox, &old, &new] {
        d.docker_ok(&["pull", "-q", r]);
    }
    assert_eq!(image_id(&d, &old), old_id);
    assert_eq!(image_id(&d, &new), new_id);
    d.docker_ok(&["tag", &old, &format!("{reg}/pouch-test-filters/old:v2")]);
    d.docker_ok(&["tag", &old, &format!("{reg}/a/b:v1")]);
    let short = |id: &str| id.trim_start_matches("sha256:")[..12].to_string();

    // `docker images REPO[:TAG]` and globs: only the matching tags are shown.
    let p = |s: &str| format!("{reg}/{s}");
    assert_eq!(
        image_refs(&d, &[&p("pouch-test-filters/old")]),
        [
            p("pouch-test-filters/old:v1"),
            p("pouch-test-filters/old:v2")
        ]
    );
    assert_eq!(
        image_refs(&d, &[&p("pouch-test-filters/old:v1*")]),
        [p("pouch-test-filters/old:v1")]
    );
    assert_eq!(image_refs(&d, &[&p("a/b")]), [p("a/b:v1")]);
    assert_eq!(
        image_refs(&d, &[&p("pouch-test-filters/*")]),
        [
            p("pouch-test-filters/new:v1"),
            p("pouch-test-filters/old:v1"),
            p("pouch-test-filters/old:v2")
        ]
    );
    // `*` does not cross a `/`.
    assert_eq!(image_refs(&d, &[&p("*")]), [p("busybox:latest")]);
    assert_eq!(
        image_refs(
            &d,
            &[
                "-f",
                &format!("reference={}", p("a/*")),
                "-f",
                "reference=*/*/*:v2"
            ]
        ),
        [p("a/b:v1"), p("pouch-test-filters/old:v2")]
    );
    // Raw API: RepoTags and RepoDigests keep only what the reference matched.
    let v = d.get_json(&format!(
        "/images/json?filters={}",
        enc(&format!(
            r#"{{"reference":["{}"]}}"#,
            p("pouch-test-filters/old:v2")
        ))
    ));
    assert_eq!(v.as_array().map(|a| a.len()), Some(1), "{v}");
    assert_eq!(v[0]["Id"], old_id.as_str());
    assert_eq!(
        v[0]["RepoTags"],
        serde_json::json!([p("pouch-test-filters/old:v2")])
    );
    assert_eq!(v[0]["RepoDigests"], serde_json::json!([]));
    let (st, body) = d.api(
        "GET",
        &format!("/images/json?filters={}", enc(r#"{"reference":["["]}"#)),
        None,
    );
    assert_eq!(st, 400, "{body}");
    assert!(
        json_message(&body).contains("syntax error in pattern"),
        "{body}"
    );

    // Labels: key, key=value, all of them.
    let q = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["images", "-q"];
        a.extend_from_slice(args);
        let mut v: Vec<String> = d.docker_ok(&a).lines().map(String::from).collect();
        v.sort();
        v.dedup();
        v
    };
    let mut both = vec![short(&old_id), short(&new_id)];
    both.sort();
    assert_eq!(q(&["-f", "label=suite"]), both);
    assert_eq!(q(&["-f", "label=tier=web"]), [short(&old_id)]);
    assert_eq!(
        q(&["-f", "label=tier=web", "-f", "label=suite=filters"]),
        [short(&old_id)]
    );
    assert!(q(&["-f", "label=tier=web", "-f", "label=nope"]).is_empty());

    // before/since: by reference or id, strictly older/newer.
    assert_eq!(q(&["-f", &format!("before={busybox}")]), both);
    assert_eq!(
        q(&["-f", &format!("before={}", short(&new_id))]),
        [short(&old_id)]
    );
    let mut newer = vec![short(&new_id), short(&image_id(&d, &busybox))];
    newer.sort();
    assert_eq!(q(&["-f", &format!("since={old}")]), newer);
    assert_eq!(
        q(&[
            "-f",
            &format!("since={old}"),
            "-f",
            &format!("before={busybox}")
        ]),
        [short(&new_id)]
    );
    let bad = d.docker(&["images", "-f", "before=nosuch"]);
    assert!(
        stderr(&bad).contains("No such image: nosuch:latest"),
        "{}",
        stderr(&bad)
    );

    // dangling: an image whose tag moved away has no tags (its digest stays).
    assert!(q(&["-f", "dangling=true"]).is_empty());
    d.docker_ok(&["tag", &old, &new]);
    assert_eq!(q(&["-f", "dangling=true"]), [short(&new_id)]);
    assert_eq!(q(&["-f", "dangling=1"]), [short(&new_id)]);
    assert!(q(&["-f", "dangling=false"]).contains(&short(&old_id)));
    assert!(q(&["-f", "dangling=true", "-f", "label=tier=web"]).is_empty());
    assert_no_500s(&d);
}

#[test]
fn inspect_image_by_name_id_short_id_and_raw_path() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", "-q", &img]);
    let id = image_id(&d, &img);
    let hex = id.strip_prefix("sha256:").unwrap().to_string();
    let repo = format!("{}/busybox", registry());
    for name in [
        img.clone(),
        repo.clone(),
        id.clone(),
        hex.clone(),
        hex[..12].to_string(),
        format!("sha256:{}", &hex[..12]),
    ] {
        assert_eq!(image_id(&d, &name), id, "by {name}");
    }
    // `docker inspect` without a type finds the image after probing containers.
    assert_eq!(d.docker_ok(&["inspect", "-f", "{{.Id}}", &img]), id);
    assert_eq!(d.docker_ok(&["inspect", "-f", "{{.Id}}", &hex[..12]]), id);

    // Names with slashes and colons arrive in the URL path.
    for path in [
        format!("/images/{img}/json"),
        format!("/v1.47/images/{img}/json"),
        format!("/v1.41/images/{repo}/json"),
        format!("/images/{id}/json"),
        format!("/images/{}/json", &hex[..12]),
    ] {
        let v = d.get_json(&path);
        assert_eq!(v["Id"], id.as_str(), "{path}");
        assert_eq!(v["RepoTags"], serde_json::json!([img]), "{path}");
    }
    let v = d.get_json(&format!("/images/{img}/json"));
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Architecture"], "amd64");
    assert_eq!(v["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(v["RootFS"]["Type"], "layers");
    assert!(!v["RootFS"]["Layers"].as_array().unwrap().is_empty());
    assert!(v["Size"].as_i64().unwrap_or(0) > 0);
    layer_dirs(&d, &img);

    let (st, body) = d.api("GET", &format!("/images/{repo}:nosuchtag/json"), None);
    assert_eq!(st, 404, "{body}");
    assert!(json_message(&body).contains("No such image"), "{body}");
    let o = d.docker(&["image", "inspect", "127.0.0.1:5000/nosuch:latest"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("No such image"), "{}", stderr(&o));
    assert_no_500s(&d);
}

#[test]
fn tag_then_rmi_untags_then_deletes_with_its_layers() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", "-q", &img]);
    let id = image_id(&d, &img);
    let short = id.strip_prefix("sha256:").unwrap()[..12].to_string();
    let dirs = layer_dirs(&d, &img);
    let other = format!("{}/other:v1", registry());
    d.docker_ok(&["tag", &img, &other]);
    d.docker_ok(&["tag", &img, "local-name"]);
    assert_eq!(
        image_rows(&d),
        vec![
            format!("{}/busybox:latest {short}", registry()),
            format!("{}/other:v1 {short}", registry()),
            format!("local-name:latest {short}"),
        ]
    );
    assert_eq!(image_id(&d, "local-name"), id);

    // By id while several tags point at it: 409 unless forced.
    let o = d.docker(&["rmi", &short]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!(
            "conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"
        )),
        "{}",
        stderr(&o)
    );

    // A tag among several: untag only.
    assert_eq!(d.docker_ok(&["rmi", &other]), format!("Untagged: {other}"));
    assert_eq!(
        d.docker_ok(&["rmi", "local-name"]),
        "Untagged: local-name:latest"
    );
    assert_eq!(
        image_rows(&d),
        vec![format!("{}/busybox:latest {short}", registry())]
    );
    for p in &dirs {
        assert!(p.is_dir(), "untag removed layer {p:?}");
    }
    let o = d.docker(&["rmi", &other]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("No such image"), "{}", stderr(&o));

    // The last reference: untag and delete; the layers go with it.
    let out = d.docker_ok(&["rmi", &img]);
    assert!(out.contains(&format!("Untagged: {img}")), "{out}");
    assert!(out.contains(&format!("Deleted: {id}")), "{out}");
    assert!(d.docker_ok(&["images", "-q"]).is_empty());
    for p in &dirs {
        assert!(!p.exists(), "layer {p:?} left after the last rmi");
    }
    let (st, _) = d.api("GET", &format!("/images/{id}/json"), None);
    assert_eq!(st, 404);

    // Pulled again, it is whole again, and the API's DELETE answers Docker's list.
    d.docker_ok(&["pull", "-q", &img]);
    layer_dirs(&d, &img);
    let v = d.get_json(&format!("/images/{img}/json"));
    let digest = v["RepoDigests"][0].as_str().expect("a digest").to_string();
    // One layer: its chain ID is its diff ID.
    let busybox_layer = v["RootFS"]["Layers"][0]
        .as_str()
        .expect("a layer")
        .to_string();
    let (st, body) = d.api("DELETE", &format!("/images/{img}"), None);
    assert_eq!(st, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("JSON");
    let items = v.as_array().expect("array");
    assert_eq!(items[0]["Untagged"], img.as_str());
    // As dockerd: the tag, the repository's digest, the image, then its (one) layer.
    assert_eq!(
        v,
        serde_json::json!([
            {"Untagged": img},
            {"Untagged": digest},
            {"Deleted": id},
            {"Deleted": busybox_layer},
        ])
    );
    assert_no_500s(&d);
}

#[test]
fn rmi_of_an_image_in_use_conflicts_unless_forced() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", "-q", &img]);
    let id = image_id(&d, &img);
    let short = id.strip_prefix("sha256:").unwrap()[..12].to_string();
    let dirs = layer_dirs(&d, &img);

    // A stopped container uses it.
    let stopped = d.docker_ok(&["create", &img, "echo", "still here"]);
    let o = d.docker(&["rmi", &img]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!(
            "conflict: unable to remove repository reference \"{img}\" (must force) - container {} is using its referenced image {short}",
            &stopped[..12]
        )),
        "{}",
        stderr(&o)
    );
    let (st, body) = d.api("DELETE", &format!("/images/{id}"), None);
    assert_eq!(st, 409, "{body}");
    assert_eq!(
        json_message(&body),
        format!(
            "conflict: unable to delete {short} (must be forced) - image is being used by stopped container {}",
            &stopped[..12]
        )
    );

    // A running one: even force cannot delete it by id.
    let running = d.docker_ok(&["run", "-d", &img, "sleep", "60"]);
    let o = d.docker(&["rmi", "-f", &short]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!(
            "conflict: unable to delete {short} (cannot be forced) - image is being used by running container {}",
            &running[..12]
        )),
        "{}",
        stderr(&o)
    );
    assert_eq!(image_id(&d, &img), id, "a refused rmi changed something");

    // Forced by name while it runs: untagged, kept (as <none>) for the container.
    let out = d.docker_ok(&["rmi", "-f", &img]);
    assert!(out.contains(&format!("Untagged: {img}")), "{out}");
    assert!(!out.contains("Deleted"), "{out}");
    assert_eq!(image_rows(&d), vec![format!("<none>:<none> {short}")]);
    assert_eq!(d.inspect(&running)["State"]["Running"], true);
    for p in &dirs {
        assert!(p.is_dir(), "layer {p:?} of a running container removed");
    }
    d.docker_ok(&["rm", "-f", &running]);

    // Only the stopped container is left: force deletes the image, the container keeps
    // its layers and still runs.
    let out = d.docker_ok(&["rmi", "-f", &short]);
    assert!(out.contains(&format!("Deleted: {id}")), "{out}");
    assert!(d.docker_ok(&["images", "-q"]).is_empty());
    for p in &dirs {
        assert!(p.is_dir(), "layer {p:?} of an existing container removed");
    }
    let o = d.docker(&["start", "-a", &stopped]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "still here\n");
    // Once the container is gone, so are the layers.
    d.docker_ok(&["rm", &stopped]);
    for p in &dirs {
        assert!(!p.exists(), "layer {p:?} left after its last user went");
    }
    assert_no_500s(&d);
}

#[test]
fn pull_from_a_registry_that_is_down_fails_cleanly() {
    let Some(d) = Daemon::start() else { return };
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let o = d.docker(&["pull", "127.0.0.1:1/x:y"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("Error response from daemon:"), "{err}");
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(
        err.to_lowercase().contains("connection refused"),
        "the cause is named: {err}"
    );
    assert!(d.docker_ok(&["images", "-q"]).is_empty());
    let (st, body) = d.api("POST", "/images/create?fromImage=127.0.0.1:1/x&tag=y", None);
    assert!(st >= 400, "{st} {body}");
    assert!(json_message(&body).contains("127.0.0.1:1"), "{body}");
    // docker run of such an image: 125, nothing created.
    let o = d.docker(&["run", "--rm", "127.0.0.1:1/x:y", "true"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(d.all_ids().is_empty());
    assert!(d.docker_ok(&["images", "-q"]).is_empty());
    // Nothing half-written in the image store.
    let ingest = d.data_root.join("image/content/ingest");
    let left: Vec<_> = std::fs::read_dir(&ingest)
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "ingest left: {left:?}");
}

#[test]
fn insecure_registry_flag_allows_plain_http_beyond_loopback() {
    let Some(mut d) = Daemon::start() else { return };
    // The registry, reached at the test bridge's gateway address: not loopback, so plain
    // HTTP is refused unless --insecure-registry names it.
    let gateway: std::net::Ipv4Addr = d.bip.split('/').next().unwrap().parse().unwrap();
    let fwd = TcpForwarder::start(gateway, registry().parse().unwrap());
    let img = format!("{}/busybox:latest", fwd.addr);
    let o = d.docker(&["pull", &img]);
    assert!(
        !o.status.success(),
        "HTTPS was not required: {}",
        stdout(&o)
    );
    let err = stderr(&o);
    assert!(err.contains(&fwd.addr.to_string()), "{err}");
    assert!(d.docker_ok(&["images", "-q"]).is_empty());

    // By host:port.
    d.term();
    d.restart_with(&["--insecure-registry", &fwd.addr.to_string()]);
    d.docker_ok(&["pull", &img]);
    assert_eq!(d.docker_ok(&["run", "--rm", &img, "echo", "ok"]), "ok");
    let info = d.get_json("/info");
    let cidrs = info["RegistryConfig"]["InsecureRegistryCIDRs"].to_string();
    assert!(cidrs.contains("127.0.0.0/8"), "{info}");
    d.docker_ok(&["rmi", &img]);

    // By CIDR, which info lists next to the loopback default.
    let net = format!("{}0/24", d.net_prefix);
    d.term();
    d.restart_with(&["--insecure-registry", &net]);
    d.docker_ok(&["pull", &img]);
    let cidrs = d.get_json("/info")["RegistryConfig"]["InsecureRegistryCIDRs"].to_string();
    assert!(cidrs.contains(&net), "{cidrs}");
}

#[test]
fn bad_references_are_400() {
    let Some(d) = Daemon::start() else { return };
    const LOWER: &str = "invalid reference format: repository name must be lowercase";
    // dockerd 20.10's answers, word for word (none of these reaches a registry).
    for (q, want) in [
        ("fromImage=bad@@ref", "invalid reference format"),
        ("fromImage=BusyBox&tag=latest", LOWER),
        ("fromImage=127.0.0.1:5000/Foo&tag=latest", LOWER),
        ("fromImage=Foo/bar&tag=latest", LOWER),
        ("fromImage=127.0.0.1:5000/busybox&tag=bad%20tag", "invalid tag format"),
        ("fromImage=127.0.0.1:5000/busybox&tag=sha256:abc", "invalid tag format"),
        ("fromImage=127.0.0.1:5000/a//b", "invalid reference format"),
        ("fromImage=127.0.0.1:5000/a:b:c", "invalid reference format"),
        (
            "fromImage=127.0.0.1:5000/a@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
            "invalid checksum digest format",
        ),
        (
            "fromImage=127.0.0.1:5000/a@md5:0123456789abcdef0123456789abcdef",
            "unsupported digest algorithm",
        ),
        (
            "fromImage=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef&tag=latest",
            "invalid repository name (0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef), cannot specify 64-byte hexadecimal strings",
        ),
    ] {
        let (st, body) = d.api("POST", &format!("/images/create?{q}"), None);
        assert_eq!(st, 400, "{q}: {body}");
        assert_eq!(json_message(&body), want, "{q}: {body}");
    }
    // Every other place a reference is parsed says the same, once.
    for (path, method, body, want) in [
        (
            "/images/BAD:REF:x/json",
            "GET",
            None,
            format!("no such image: BAD:REF:x: {LOWER}"),
        ),
        (
            "/images/bad@@ref/json",
            "GET",
            None,
            "no such image: bad@@ref: invalid reference format".to_string(),
        ),
        ("/images/BAD:REF:x/history", "GET", None, LOWER.to_string()),
        ("/images/BAD:REF:x", "DELETE", None, LOWER.to_string()),
        (
            "/images/BAD:REF:x/tag?repo=x",
            "POST",
            None,
            LOWER.to_string(),
        ),
        (
            "/containers/create",
            "POST",
            Some(r#"{"Image":"BusyBox"}"#),
            LOWER.to_string(),
        ),
        (
            "/containers/create",
            "POST",
            Some(r#"{"Image":"a:-x"}"#),
            "invalid reference format".to_string(),
        ),
    ] {
        let (st, b) = d.api(method, path, body);
        assert_eq!(st, 400, "{method} {path}: {b}");
        assert_eq!(json_message(&b), want, "{method} {path}");
    }
    // The CLI catches some itself; what reaches the daemon gets the daemon's 400.
    let o = d.docker(&["pull", "127.0.0.1:5000/Foo"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid reference format"),
        "{}",
        stderr(&o)
    );
    let (st, body) = d.api(
        "POST",
        "/images/127.0.0.1:5000/busybox:latest/tag?repo=Bad/Name",
        None,
    );
    assert!(st == 400 || st == 404, "{st} {body}");
    // The source is looked up first (dockerd's TagImage), then the new name parsed.
    d.docker_ok(&["pull", "-q", &image()]);
    for (q, want) in [
        ("repo=Bad/Name", LOWER),
        ("repo=", "invalid reference format"),
        ("repo=x&tag=bad%20tag", "invalid tag format"),
        (
            "repo=sha256&tag=x",
            "refusing to create an ambiguous tag using digest algorithm as name",
        ),
    ] {
        let (st, b) = d.api("POST", &format!("/images/{}/tag?{q}", image()), None);
        assert_eq!(st, 400, "{q}: {b}");
        assert_eq!(json_message(&b), want, "{q}");
    }
    d.docker_ok(&["rmi", &image()]);
    assert!(d.docker_ok(&["images", "-q"]).is_empty());
    assert_no_500s(&d);
}

#[test]
fn run_of_an_image_the_registry_does_not_have_exits_125() {
    let Some(d) = Daemon::start() else { return };
    let name = format!("{}/nosuch:latest", registry());
    let o = d.docker(&["run", "--rm", &name, "true"]);
    assert_eq!(o.status.code(), Some(125), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("Unable to find image '{name}' locally")),
        "{err}"
    );
    assert!(
        err.contains("not found") && err.contains("manifest unknown"),
        "{err}"
    );
    assert!(d.all_ids().is_empty());
    assert!(d.docker_ok(&["images", "-q"]).is_empty());
    let o = d.docker(&["pull", &name]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("manifest unknown"), "{}", stderr(&o));
    let (st, body) = d.api(
        "POST",
        &format!("/images/create?fromImage={}/nosuch&tag=latest", registry()),
        None,
    );
    assert_eq!(st, 404, "{body}");
    // create of an image not present locally: 404 "No such image" (the CLI then pulls).
    let body = format!(r#"{{"Image":"{name}"}}"#);
    let (st, b) = d.api("POST", "/containers/create", Some(&body));
    assert_eq!(st, 404, "{b}");
    assert_eq!(json_message(&b), format!("No such image: {name}"));
    assert_no_500s(&d);
}

#[test]
fn inspect_of_an_unknown_name_probes_every_kind_cleanly() {
    let Some(d) = Daemon::start() else { return };
    let o = d.docker(&["inspect", "nosuchthing"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("No such object: nosuchthing"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&o).trim(), "[]");
    // Each probe the CLI makes, directly: a JSON 404.
    for path in [
        "/containers/nosuchthing/json",
        "/images/nosuchthing/json",
        "/networks/nosuchthing",
        "/volumes/nosuchthing",
        "/plugins/nosuchthing/json",
        "/v1.47/images/127.0.0.1:5000/no/such:thing/json",
    ] {
        let (st, body) = d.api("GET", path, None);
        assert_eq!(st, 404, "{path}: {body}");
        json_message(&body);
    }
    for kind in ["network", "volume", "image", "container"] {
        let o = d.docker(&[kind, "inspect", "nosuchthing"]);
        assert_eq!(o.status.code(), Some(1), "{kind}: {}", stderr(&o));
        assert!(
            stderr(&o).to_lowercase().contains("nosuchthing"),
            "{kind}: {}",
            stderr(&o)
        );
    }
    assert_no_500s(&d);
    // The daemon log does record requests (so the check above means something).
    assert!(
        d.log().contains("/containers/nosuchthing/json"),
        "requests are not logged"
    );
}

#[test]
fn ps_shows_the_image_id_once_the_name_is_gone() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", &img]);
    let alias = format!("{}/retag/x:a", registry());
    d.docker_ok(&["tag", &img, &alias]);
    let id = d.docker_ok(&["create", &alias, "true"]);
    let shown = |d: &Daemon| {
        d.docker_ok(&[
            "ps",
            "-a",
            "--no-trunc",
            "-f",
            &format!("id={id}"),
            "--format",
            "{{.Image}}",
        ])
    };
    assert_eq!(shown(&d), alias);
    // Untagging the alias (the image stays under its first name).
    d.docker_ok(&["rmi", &alias]);
    let image_id = image_id(&d, &img);
    assert_eq!(shown(&d), image_id);
    // inspect keeps the name as given.
    assert_eq!(d.inspect(&id)["Config"]["Image"], alias.as_str());
    // A plain name without a tag still shows as given.
    let id2 = d.docker_ok(&["create", &format!("{}/busybox", registry()), "true"]);
    assert_eq!(
        d.docker_ok(&[
            "ps",
            "-a",
            "-f",
            &format!("id={id2}"),
            "--format",
            "{{.Image}}"
        ]),
        format!("{}/busybox", registry())
    );
}

/// `docker pull` output without the byte-count and download lines (their number and
/// interleaving depend on timing), as it would be compared with dockerd's.
fn pull_lines(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| {
            ![
                "Downloading",
                "Extracting",
                "Verifying Checksum",
                "Download complete",
                "Waiting",
            ]
            .iter()
            .any(|s| l.contains(&format!(": {s}")))
        })
        .map(String::from)
        .collect()
}

/// The registry's tag list for a fixture repository, in its order (`GET /v2/.../tags/list`
/// on the loopback registry).
fn registry_tags(repo_path: &str) -> Vec<String> {
    use std::io::{Read, Write};
    let reg = registry();
    let mut s = std::net::TcpStream::connect(reg.as_str()).expect("registry");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok();
    write!(
        s,
        "GET /v2/{repo_path}/tags/list HTTP/1.1\r\nHost: {reg}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let body = resp.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {resp}"));
    v["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t.as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn pull_all_tags_as_dockerd() {
    let Some(d) = Daemon::start() else { return };
    let (one, two) = fixture::multi_tag_repo(&registry());
    let repo = one.repo.clone();
    let tags = registry_tags(&format!("{}/multi", fixture::NAMESPACE));
    assert_eq!(tags.len(), 3, "{tags:?}");
    // dockerd walks the tags in the registry's order; an image met before is not pulled
    // again (no layer lines), and only the last line names the repository.
    let mut want = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for t in &tags {
        let img = if t == "2.0" { &two } else { &one };
        want.push(format!("{t}: Pulling from {}/multi", fixture::NAMESPACE));
        if seen.insert(img.id.clone()) {
            let short = &img.layer_short_ids()[0];
            want.push(format!("{short}: Pulling fs layer"));
            want.push(format!("{short}: Pull complete"));
        }
        want.push(format!("Digest: {}", img.manifest_digest));
    }
    want.push(format!("Status: Downloaded newer image for {repo}"));
    want.push(repo.clone());
    let out = d.docker_ok(&["pull", "-a", &repo]);
    assert_eq!(pull_lines(&out), want, "{out}");
    let mut rows = image_rows(&d);
    rows.sort();
    let s = |p: &fixture::Pushed| p.id.strip_prefix("sha256:").unwrap()[..12].to_string();
    assert_eq!(
        rows,
        vec![
            format!("{repo}:1.0 {}", s(&one)),
            format!("{repo}:2.0 {}", s(&two)),
            format!("{repo}:latest {}", s(&one)),
        ]
    );
    // Again: every tag already where it is.
    let out = d.docker_ok(&["pull", "-a", &repo]);
    let mut want: Vec<String> = Vec::new();
    for t in &tags {
        let img = if t == "2.0" { &two } else { &one };
        want.push(format!("{t}: Pulling from {}/multi", fixture::NAMESPACE));
        want.push(format!("Digest: {}", img.manifest_digest));
    }
    want.push(format!("Status: Image is up to date for {repo}"));
    want.push(repo.clone());
    assert_eq!(pull_lines(&out), want, "{out}");
    // The API form: fromImage without a tag is every tag (the CLI's `-a`).
    let (st, body) = d.api("POST", &format!("/images/create?fromImage={repo}"), None);
    assert_eq!(st, 200, "{body}");
    assert!(
        body.contains(&format!("Status: Image is up to date for {repo}\"")),
        "{body}"
    );
    // A repository the registry does not know: dockerd's 404.
    let (st, body) = d.api(
        "POST",
        &format!("/images/create?fromImage={}/nosuchrepo", registry()),
        None,
    );
    assert_eq!(st, 404, "{body}");
    assert_eq!(
        json_message(&body),
        format!(
            "repository {}/nosuchrepo not found: name unknown: repository name not known to registry",
            registry()
        )
    );
    assert_no_500s(&d);
}

#[test]
fn pull_progress_as_dockerd() {
    let Some(d) = Daemon::start() else { return };
    let reg = registry();
    let hist = fixture::history_image(&reg);
    let (one, _) = fixture::multi_tag_repo(&reg);
    let three = fixture::three_layer_image(&reg);
    let ns = fixture::NAMESPACE;
    let v1 = hist.tagged("v1");
    let short = hist.layer_short_ids();
    let out = d.docker_ok(&["pull", &v1]);
    assert_eq!(
        pull_lines(&out),
        vec![
            format!("v1: Pulling from {ns}/history"),
            format!("{}: Pulling fs layer", short[0]),
            format!("{}: Pulling fs layer", short[1]),
            format!("{}: Pull complete", short[0]),
            format!("{}: Pull complete", short[1]),
            format!("Digest: {}", hist.manifest_digest),
            format!("Status: Downloaded newer image for {v1}"),
            v1.clone(),
        ],
        "{out}"
    );
    // Up to date: no line per layer.
    let out = d.docker_ok(&["pull", &v1]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![
            format!("v1: Pulling from {ns}/history"),
            format!("Digest: {}", hist.manifest_digest),
            format!("Status: Image is up to date for {v1}"),
            v1.clone(),
        ]
    );
    // By digest: the whole reference names the pull; the digest came with the tag pull.
    let by_digest = hist.by_digest();
    let out = d.docker_ok(&["pull", &by_digest]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![
            format!("{by_digest}: Pulling from {ns}/history"),
            format!("Digest: {}", hist.manifest_digest),
            format!("Status: Image is up to date for {by_digest}"),
            by_digest.clone(),
        ]
    );
    // A new tag for an image that is here already: nothing to download, but a new tag.
    d.docker_ok(&["pull", "-q", &one.tagged("1.0")]);
    let latest = one.tagged("latest");
    let out = d.docker_ok(&["pull", &latest]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![
            format!("latest: Pulling from {ns}/multi"),
            format!("Digest: {}", one.manifest_digest),
            format!("Status: Downloaded newer image for {latest}"),
            latest.clone(),
        ]
    );
    // Three layers: completed from the base up, whatever order the downloads end in.
    let (st, body) = d.api(
        "POST",
        &format!("/images/create?fromImage={}&tag=v1", three.repo),
        None,
    );
    assert_eq!(st, 200, "{body}");
    let events: Vec<(String, String)> = body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            (
                v["status"].as_str().unwrap_or("").to_string(),
                v["id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let completes: Vec<&str> = events
        .iter()
        .filter(|(s, _)| s == "Pull complete")
        .map(|(_, id)| id.as_str())
        .collect();
    assert_eq!(completes, three.layer_short_ids(), "{body}");
    let first_extract: Vec<&str> = events
        .iter()
        .filter(|(s, _)| s == "Extracting")
        .map(|(_, id)| id.as_str())
        .fold(Vec::new(), |mut v, id| {
            if !v.contains(&id) {
                v.push(id);
            }
            v
        });
    assert_eq!(first_extract, three.layer_short_ids(), "{body}");
    assert_no_500s(&d);
}

#[test]
fn history_as_dockerd() {
    let Some(d) = Daemon::start() else { return };
    let hist = fixture::history_image(&registry());
    let v1 = hist.tagged("v1");
    d.docker_ok(&["pull", "-q", &v1]);
    let v = d.get_json(&format!("/images/{v1}/history"));
    assert_eq!(
        v,
        serde_json::json!([
            {"Id": hist.id, "Created": 1_704_326_400_i64, "CreatedBy": "LABEL a=b",
             "Tags": [v1], "Size": 0, "Comment": "last one"},
            {"Id": "<missing>", "Created": 1_704_240_000_i64, "CreatedBy": "/bin/sh -c echo hi > /data/x",
             "Tags": null, "Size": fixture::TOP_LAYER_SIZE, "Comment": "buildkit.dockerfile.v0"},
            {"Id": "<missing>", "Created": 1_704_153_600_i64, "CreatedBy": "/bin/sh -c #(nop)  CMD [\"sh\"]",
             "Tags": null, "Size": 0, "Comment": ""},
            {"Id": "<missing>", "Created": 1_704_067_200_i64, "CreatedBy": "/bin/sh -c #(nop) ADD file:data in / ",
             "Tags": null, "Size": fixture::SIZED_LAYER_SIZE, "Comment": ""},
        ])
    );
    // What `docker history` makes of it (dockerd prints the same table).
    let out = d.docker_ok(&[
        "history",
        "--format",
        "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}",
        &v1,
    ]);
    let short = &hist.id.strip_prefix("sha256:").unwrap()[..12];
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![
            format!("{short}|LABEL a=b|0B|last one"),
            "<missing>|/bin/sh -c echo hi > /data/x|3B|buildkit.dockerfile.v0".to_string(),
            "<missing>|/bin/sh -c #(nop)  CMD [\"sh\"]|0B|".to_string(),
            "<missing>|/bin/sh -c #(nop) ADD file:data in / |1.25kB|".to_string(),
        ]
    );
    // By ID and by digest too; without tags the top row's Tags is null.
    let by_id = d.get_json(&format!("/images/{}/history", hist.id));
    assert_eq!(by_id, v);
    d.docker_ok(&["rmi", &v1]);
    d.docker_ok(&["pull", "-q", &hist.by_digest()]);
    let v = d.get_json(&format!("/images/{}/history", hist.by_digest()));
    assert_eq!(v[0]["Id"], hist.id.as_str());
    assert_eq!(v[0]["Tags"], Value::Null);
    let (st, body) = d.api("GET", "/images/nosuch/history", None);
    assert_eq!(st, 404);
    assert_eq!(json_message(&body), "No such image: nosuch:latest");
    assert_no_500s(&d);
}

#[test]
fn rmi_lists_references_and_layers_in_dockerds_order() {
    let Some(d) = Daemon::start() else { return };
    let hist = fixture::history_image(&registry());
    let v1 = hist.tagged("v1");
    let v2 = hist.tagged("v2");
    d.docker_ok(&["pull", "-q", &v1]);
    d.docker_ok(&["tag", &v1, &v2]);
    d.docker_ok(&["tag", &v1, "local-copy:x"]);
    let dirs = layer_dirs(&d, &v1);
    // A tag among several of its repository: only that tag.
    assert_eq!(d.docker_ok(&["rmi", &v1]), format!("Untagged: {v1}"));
    // The repository's last tag: its digest goes with it; another repository's tag keeps
    // the image.
    assert_eq!(
        d.docker_ok(&["rmi", &v2]),
        format!("Untagged: {v2}\nUntagged: {}", hist.by_digest())
    );
    for p in &dirs {
        assert!(p.is_dir(), "{p:?} removed while a tag is left");
    }
    d.docker_ok(&["pull", "-q", &v1]);
    d.docker_ok(&["tag", &v1, &v2]);
    let chains = hist.chain_ids();
    // By ID with force: every reference (sorted as dockerd: by full name, a tag before
    // its repository's digest), the image, then its layers from the top.
    let out = d.docker_ok(&["rmi", "-f", &hist.id]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![
            format!("Untagged: {v1}"),
            format!("Untagged: {v2}"),
            format!("Untagged: {}", hist.by_digest()),
            "Untagged: local-copy:x".to_string(),
            format!("Deleted: {}", hist.id),
            format!("Deleted: {}", chains[1]),
            format!("Deleted: {}", chains[0]),
        ],
        "{out}"
    );
    for p in &dirs {
        assert!(!p.exists(), "{p:?} left");
    }
    // A digest reference alone: untag it, then the image and its layers.
    d.docker_ok(&["pull", "-q", &hist.by_digest()]);
    let out = d.docker_ok(&["rmi", &hist.by_digest()]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![
            format!("Untagged: {}", hist.by_digest()),
            format!("Deleted: {}", hist.id),
            format!("Deleted: {}", chains[1]),
            format!("Deleted: {}", chains[0]),
        ]
    );

    // Running containers are checked first: by ID, several tags and a running container
    // is "cannot be forced", not "referenced in multiple repositories".
    let img = image();
    d.docker_ok(&["pull", "-q", &img]);
    d.docker_ok(&["tag", &img, "other-name:1"]);
    let id = image_id(&d, &img);
    let short = &id.strip_prefix("sha256:").unwrap()[..12];
    let running = d.docker_ok(&["run", "-d", &img, "sleep", "60"]);
    let o = d.docker(&["rmi", short]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o).trim(),
        format!(
            "Error response from daemon: conflict: unable to delete {short} (cannot be forced) - image is being used by running container {}",
            &running[..12]
        )
    );
    // Not found: the name with :latest.
    let o = d.docker(&["rmi", "nosuch"]);
    assert_eq!(
        stderr(&o).trim(),
        "Error response from daemon: No such image: nosuch:latest"
    );
    d.docker_ok(&["rm", "-f", &running]);
    assert_no_500s(&d);
}

#[test]
fn image_inspect_shape_as_dockerd() {
    let Some(d) = Daemon::start() else { return };
    let reg = registry();
    let hist = fixture::history_image(&reg);
    let v1 = hist.tagged("v1");
    d.docker_ok(&["pull", "-q", &v1]);
    let v = d.get_json(&format!("/images/{v1}/json"));
    // Config: every key dockerd always shows, with its zero value where the image has none.
    assert_eq!(
        v["Config"],
        serde_json::json!({
            "Hostname": "", "Domainname": "", "User": "",
            "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
            "Tty": false, "OpenStdin": false, "StdinOnce": false,
            "Env": ["PATH=/bin"], "Cmd": ["sh"], "Image": "", "Volumes": null,
            "WorkingDir": "", "Entrypoint": null, "OnBuild": null, "Labels": {"a": "b"},
        })
    );
    assert_eq!(v["ContainerConfig"]["Cmd"], Value::Null);
    assert_eq!(v["ContainerConfig"]["Tty"], false);
    assert_eq!(v["Container"], "");
    // The last history entry's comment; sizes counted as dockerd (1245 + 3).
    assert_eq!(v["Comment"], "last one");
    let size = fixture::SIZED_LAYER_SIZE + fixture::TOP_LAYER_SIZE;
    assert_eq!(v["Size"], size);
    assert_eq!(v["VirtualSize"], size);
    assert_eq!(v["Created"], "2024-01-04T00:00:00Z");
    assert_eq!(v["RepoDigests"], serde_json::json!([hist.by_digest()]));
    // overlay2 as dockerd shows an image: the top layer is UpperDir (with MergedDir and
    // WorkDir beside it), the one below LowerDir.
    let data = &v["GraphDriver"]["Data"];
    let hex = |c: &str| c.strip_prefix("sha256:").unwrap().to_string();
    let chains = hist.chain_ids();
    let layers = d.data_root.join("image/overlay2");
    assert_eq!(
        data["UpperDir"],
        layers
            .join(hex(&chains[1]))
            .join("diff")
            .display()
            .to_string()
    );
    assert_eq!(
        data["LowerDir"],
        layers
            .join(hex(&chains[0]))
            .join("diff")
            .display()
            .to_string()
    );
    assert_eq!(
        data["MergedDir"],
        layers
            .join(hex(&chains[1]))
            .join("merged")
            .display()
            .to_string()
    );
    assert_eq!(
        data["WorkDir"],
        layers
            .join(hex(&chains[1]))
            .join("work")
            .display()
            .to_string()
    );
    assert_eq!(
        d.docker_ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Size}} {{.Comment}} {{json .Config.Entrypoint}} {{.Config.WorkingDir}}|",
            &v1
        ]),
        format!("{size} last one null |")
    );
    // LastTagTime: zero after a pull, set by `docker tag` (dockerd's SetLastUpdated).
    assert_eq!(v["Metadata"]["LastTagTime"], "0001-01-01T00:00:00Z");
    d.docker_ok(&["tag", &v1, "tagged-here:1"]);
    let t = d.docker_ok(&["image", "inspect", "-f", "{{.Metadata.LastTagTime}}", &v1]);
    assert!(!t.starts_with("0001"), "{t}");
    d.docker_ok(&["rmi", "tagged-here:1"]);
    // A one-layer image has no LowerDir.
    let img = image();
    d.docker_ok(&["pull", "-q", &img]);
    let data = &d.get_json(&format!("/images/{img}/json"))["GraphDriver"]["Data"];
    assert!(data.get("LowerDir").is_none(), "{data}");
    assert!(
        data["UpperDir"].as_str().unwrap_or("").ends_with("/diff"),
        "{data}"
    );
    // `docker images` shows the size as dockerd does.
    let out = d.docker_ok(&["images", "--format", "{{.Repository}} {{.Size}}"]);
    assert!(
        out.lines().any(|l| l == format!("{} 1.25kB", hist.repo)),
        "{out}"
    );

    // Not found: dockerd's inspect wraps the lookup error and normalises the name.
    let (st, body) = d.api("GET", "/images/nosuch/json", None);
    assert_eq!(st, 404);
    assert_eq!(
        json_message(&body),
        "no such image: nosuch: No such image: nosuch:latest"
    );
    let o = d.docker(&["image", "inspect", "nosuch"]);
    assert_eq!(
        stderr(&o).trim(),
        "Error response from daemon: no such image: nosuch: No such image: nosuch:latest"
    );
    // IDs: any unique prefix, even one digit; an ambiguous one finds nothing.
    let (a, b) = fixture::ambiguous_pair(&reg);
    d.docker_ok(&["pull", "-q", &a.tagged("a")]);
    d.docker_ok(&["pull", "-q", &b.tagged("b")]);
    let ids: Vec<String> = d
        .docker_ok(&["images", "-q", "--no-trunc"])
        .lines()
        .map(|l| l.strip_prefix("sha256:").unwrap_or(l).to_string())
        .collect();
    let first = |id: &str| id.strip_prefix("sha256:").unwrap_or(id)[..1].to_string();
    let shared = first(&a.id);
    assert_eq!(shared, first(&b.id));
    let (st, body) = d.api("GET", &format!("/images/{shared}/json"), None);
    assert_eq!(st, 404, "{body}");
    assert_eq!(
        json_message(&body),
        format!("no such image: {shared}: No such image: {shared}:latest")
    );
    for id in &ids {
        let digit = &id[..1];
        if ids.iter().filter(|o| o.starts_with(digit)).count() == 1 {
            assert_eq!(image_id(&d, digit), format!("sha256:{id}"), "by {digit}");
        }
        let two = &id[..2];
        if ids.iter().filter(|o| o.starts_with(two)).count() == 1 {
            assert_eq!(
                image_id(&d, &format!("sha256:{two}")),
                format!("sha256:{id}")
            );
        }
    }

    // Dangling (every reference gone, kept for a running container): [] and [], as dockerd.
    let running = d.docker_ok(&["run", "-d", &img, "sleep", "60"]);
    d.docker_ok(&["rmi", "-f", &img]);
    let id = d.inspect(&running)["Image"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert_eq!(
        d.docker_ok(&[
            "image",
            "inspect",
            "-f",
            "{{json .RepoTags}} {{json .RepoDigests}}",
            &id
        ]),
        "[] []"
    );
    d.docker_ok(&["rm", "-f", &running]);
    assert_no_500s(&d);
}

#[test]
fn a_pull_whose_client_goes_away_stops_and_leaves_nothing() {
    let Some(d) = Daemon::start() else { return };
    fixture::big_image(&registry());
    // The same registry at about 1 MB/s: the 6 MiB layer takes several seconds.
    let slow = TcpForwarder::start_with_rate(
        std::net::Ipv4Addr::LOCALHOST,
        registry().parse().unwrap(),
        Some(1_000_000),
    );
    let img = format!("{}/{}/big:v1", slow.addr, fixture::NAMESPACE);
    let pull = LiveLines::spawn(d.docker_cmd(&["pull", &img]));
    // Wait for the download to be under way, then go away as Ctrl-C does.
    let seen = pull.until(std::time::Duration::from_secs(30), |l| {
        l.contains("Pulling fs layer")
    });
    assert!(
        seen.iter().any(|l| l.contains("Pulling fs layer")),
        "no download started: {seen:?}"
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    drop(pull);
    assert!(
        eventually(std::time::Duration::from_secs(15), || d
            .log()
            .contains("pull stopped: its client went away")),
        "the pull went on without its client:\n{}",
        d.log()
    );
    assert!(d.docker_ok(&["images", "-q"]).is_empty());
    let ingest = d.data_root.join("image/content/ingest");
    let left: Vec<_> = std::fs::read_dir(&ingest)
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "partial download left: {left:?}");
}

#[test]
fn overlapping_pulls_of_a_new_image_both_report_it_downloaded() {
    let Some(d) = Daemon::start() else { return };
    fixture::big_image(&registry());
    // Slow enough that the second pull starts while the first is still downloading.
    let slow = TcpForwarder::start_with_rate(
        std::net::Ipv4Addr::LOCALHOST,
        registry().parse().unwrap(),
        Some(4_000_000),
    );
    let img = format!("{}/{}/big:v1", slow.addr, fixture::NAMESPACE);
    let spawn = || {
        d.docker_cmd(&["pull", &img])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("docker pull")
    };
    let first = spawn();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let second = spawn();
    for child in [first, second] {
        let o = child.wait_with_output().expect("pull output");
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stdout(&o).contains(&format!("Status: Downloaded newer image for {img}")),
            "{}",
            stdout(&o)
        );
    }
    // A third, afterwards, finds it there.
    assert!(d.docker_ok(&["pull", &img]).contains("Image is up to date"));
}
