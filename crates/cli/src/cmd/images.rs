//! `pouch images` (GET /images/json as docker's table) and `pouch rmi` (DELETE /images).

use anyhow::Result;
use hyper::Method;
use serde_json::Value;

use crate::client::{enc, Client};
use crate::format::{human_duration, human_size, truncate_id, Table};
use crate::opts::split_repo_tag;
use crate::output;

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
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided (e.g. dangling=true)
    #[arg(short = 'f', long = "filter", value_name = "FILTER", value_parser = crate::cmd::ps::parse_filter)]
    pub filter: Vec<(String, String)>,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE')
    #[arg(long)]
    pub format: Option<String>,
    /// Only images of this repository (and tag), as docker's `images REPOSITORY[:TAG]`
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub repository: Option<String>,
}

/// The header row of a `table` template.
pub fn header_context() -> Value {
    serde_json::json!({
        "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
        "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
        "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
        "VirtualSize": "SIZE"
    })
}

/// The digest shown for `repo` (from RepoDigests), or `<none>`.
fn digest_for(img: &Value, repo: &str) -> String {
    img.get("RepoDigests")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find_map(|d| {
            d.split_once('@')
                .filter(|(r, _)| *r == repo)
                .map(|(_, d)| d.to_string())
        })
        .unwrap_or_else(|| "<none>".to_string())
}

/// One row per repository:tag, as docker's image formatter shows it to templates.
pub fn row_contexts(list: &[Value], trunc: bool, now: i64) -> Vec<Value> {
    let mut rows = Vec::new();
    for img in list {
        let id = img.get("Id").and_then(Value::as_str).unwrap_or("");
        let created = img.get("Created").and_then(Value::as_i64).unwrap_or(0);
        let size = human_size(img.get("Size").and_then(Value::as_f64).unwrap_or(0.0));
        for (repo, tag) in repo_rows(img) {
            rows.push(serde_json::json!({
                "ID": if trunc { truncate_id(id) } else { id.to_string() },
                "Digest": digest_for(img, &repo),
                "Repository": repo,
                "Tag": tag,
                "CreatedSince": format!("{} ago", human_duration(now - created)),
                "CreatedAt": crate::format::go_time_utc(created),
                "Size": size,
                "VirtualSize": size,
                "Containers": "N/A",
                "SharedSize": "N/A",
                "UniqueSize": "N/A"
            }));
        }
    }
    rows
}

pub async fn cmd(client: &Client, a: ImagesArgs) -> Result<i32> {
    let mut q = Vec::new();
    if a.all {
        q.push("all=1".to_string());
    }
    // docker sends the positional argument as one more `reference` filter.
    let mut filters = a.filter.clone();
    if let Some(r) = &a.repository {
        filters.push(("reference".to_string(), r.clone()));
    }
    if !filters.is_empty() {
        let mut f = serde_json::Map::new();
        for (k, v) in &filters {
            if let Value::Object(m) = f
                .entry(k.clone())
                .or_insert_with(|| Value::Object(serde_json::Map::new()))
            {
                m.insert(v.clone(), Value::Bool(true));
            }
        }
        q.push(format!("filters={}", enc(&Value::Object(f).to_string())));
    }
    let path = if q.is_empty() {
        "/images/json".to_string()
    } else {
        format!("/images/json?{}", q.join("&"))
    };
    let list = client.get(&path).await?;
    let empty = Vec::new();
    let list = list.as_array().unwrap_or(&empty);
    let now = crate::format::now_unix();
    let format = match (&a.format, a.digests) {
        (Some(f), _) => Some(f.clone()),
        (None, true) => Some(
            "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
                .to_string(),
        ),
        (None, false) => None,
    };
    if let (false, Some(f)) = (a.quiet, format) {
        let rows = row_contexts(list, !a.no_trunc, now);
        if let Some(text) = crate::template::render_list(&f, &rows, &header_context())
            .map_err(anyhow::Error::msg)?
        {
            output::print(&text)?;
            return Ok(0);
        }
    }
    output::print(&render(list, a.quiet, !a.no_trunc, now))?;
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
                        output::print(&format!("Untagged: {u}\n"))?;
                    }
                    if let Some(d) = item.get("Deleted").and_then(Value::as_str) {
                        output::print(&format!("Deleted: {d}\n"))?;
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
    fn template_rows_and_digests() {
        let list = vec![json!({
            "Id": "sha256:8e23192b235b14292a7d7a120d35b8f948a315a307c62075bde7825dbf379a43",
            "RepoTags": ["127.0.0.1:5000/busybox:latest"],
            "RepoDigests": ["127.0.0.1:5000/busybox@sha256:ca23"],
            "Created": 0, "Size": 1984123
        })];
        let rows = row_contexts(&list, true, 30);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["Repository"], "127.0.0.1:5000/busybox");
        assert_eq!(rows[0]["Tag"], "latest");
        assert_eq!(rows[0]["Digest"], "sha256:ca23");
        assert_eq!(rows[0]["ID"], "8e23192b235b");
        assert_eq!(rows[0]["CreatedSince"], "30 seconds ago");
        assert_eq!(rows[0]["Size"], "1.98MB");
        let out = crate::template::render_list(
            "{{.Repository}}:{{.Tag}} {{.ID}}",
            &rows,
            &header_context(),
        );
        assert_eq!(
            out,
            Ok(Some("127.0.0.1:5000/busybox:latest 8e23192b235b\n".into()))
        );
        assert_eq!(digest_for(&json!({}), "x"), "<none>");
    }

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
