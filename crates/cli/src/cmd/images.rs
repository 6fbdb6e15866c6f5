//! `pouch images` (GET /images/json as docker's table) and `pouch rmi` (DELETE /images).

use anyhow::Result;
use hyper::Method;
use serde_json::Value;

use crate::client::{enc, Client};
use crate::format::{human_duration, human_size, truncate_id, Table};
use crate::opts::split_repo_tag;

#[derive(clap::Args, Debug)]
pub struct ImagesArgs {
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
}

pub async fn cmd(client: &Client, a: ImagesArgs) -> Result<i32> {
    let path = if a.all {
        "/images/json?all=1"
    } else {
        "/images/json"
    };
    let list = client.get(path).await?;
    let empty = Vec::new();
    let list = list.as_array().unwrap_or(&empty);
    print!(
        "{}",
        render(list, a.quiet, !a.no_trunc, crate::format::now_unix())
    );
    Ok(0)
}

/// (repository, tag) rows for one image, like docker: a row per tag, a `<none>` tag row
/// per digest-only repository, or `<none> <none>`.
fn repo_rows(img: &Value) -> Vec<(String, String)> {
    let strs = |k: &str| -> Vec<String> {
        img.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .filter(|s| *s != "<none>:<none>" && *s != "<none>@<none>")
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut rows = Vec::new();
    let mut repos_with_tags = Vec::new();
    for t in strs("RepoTags") {
        let (repo, tag) = split_repo_tag(&t);
        repos_with_tags.push(repo.clone());
        rows.push((repo, tag));
    }
    for d in strs("RepoDigests") {
        let repo = d.split_once('@').map(|(r, _)| r).unwrap_or(&d).to_string();
        if !repos_with_tags.contains(&repo) && !rows.iter().any(|(r, _)| *r == repo) {
            rows.push((repo, "<none>".to_string()));
        }
    }
    if rows.is_empty() {
        rows.push(("<none>".to_string(), "<none>".to_string()));
    }
    rows
}

pub fn render(list: &[Value], quiet: bool, trunc: bool, now: i64) -> String {
    let id_of = |img: &Value| {
        let id = img.get("Id").and_then(Value::as_str).unwrap_or("");
        if trunc {
            truncate_id(id)
        } else {
            id.to_string()
        }
    };
    if quiet {
        let mut seen: Vec<String> = Vec::new();
        for img in list {
            let id = id_of(img);
            if !seen.contains(&id) {
                seen.push(id);
            }
        }
        return seen.iter().map(|id| format!("{id}\n")).collect();
    }
    let mut t = Table::new(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
    for img in list {
        let created = img.get("Created").and_then(Value::as_i64).unwrap_or(0);
        let size = img.get("Size").and_then(Value::as_f64).unwrap_or(0.0);
        for (repo, tag) in repo_rows(img) {
            t.row(vec![
                repo,
                tag,
                id_of(img),
                format!("{} ago", human_duration(now - created)),
                human_size(size),
            ]);
        }
    }
    t.render()
}

#[derive(clap::Args, Debug)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

pub async fn rmi(client: &Client, a: RmiArgs) -> Result<i32> {
    let mut code = 0;
    for image in &a.images {
        let path = format!(
            "/images/{}?force={}&noprune={}",
            enc(image),
            a.force as u8,
            a.no_prune as u8
        );
        match client.json(Method::DELETE, &path, None).await {
            Ok(v) => {
                for item in v.as_array().into_iter().flatten() {
                    if let Some(u) = item.get("Untagged").and_then(Value::as_str) {
                        println!("Untagged: {u}");
                    }
                    if let Some(d) = item.get("Deleted").and_then(Value::as_str) {
                        println!("Deleted: {d}");
                    }
                }
            }
            Err(e) => {
                eprintln!("{e:#}");
                code = 1;
            }
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table() {
        let now = 1_800_000_000;
        let list = vec![
            json!({
                "Id": "sha256:8e23192b235b14292a7d7a120d35b8f948a315a307c62075bde7825dbf379a43",
                "RepoTags": ["127.0.0.1:5000/busybox:latest", "127.0.0.1:5000/busybox:v1"],
                "RepoDigests": ["127.0.0.1:5000/busybox@sha256:ca23"],
                "Created": now - 330 * 24 * 3600,
                "Size": 1984123
            }),
            json!({"Id": "sha256:aaaabbbbccccdddd", "RepoTags": null,
                   "RepoDigests": ["127.0.0.1:5000/old@sha256:1"], "Created": now - 10, "Size": 100}),
            json!({"Id": "sha256:ffffeeeeddddcccc", "RepoTags": ["<none>:<none>"],
                   "Created": now - 10, "Size": 100}),
        ];
        assert_eq!(
            render(&list, false, true, now),
            "REPOSITORY               TAG       IMAGE ID       CREATED          SIZE\n\
             127.0.0.1:5000/busybox   latest    8e23192b235b   11 months ago    1.98MB\n\
             127.0.0.1:5000/busybox   v1        8e23192b235b   11 months ago    1.98MB\n\
             127.0.0.1:5000/old       <none>    aaaabbbbcccc   10 seconds ago   100B\n\
             <none>                   <none>    ffffeeeedddd   10 seconds ago   100B\n"
        );
        assert_eq!(
            render(&list, true, true, now),
            "8e23192b235b\naaaabbbbcccc\nffffeeeedddd\n"
        );
    }
}
