//! `pouch ps`: GET /containers/json rendered as docker's default table.

use anyhow::Result;
use serde_json::Value;

use crate::client::Client;
use crate::format::{ellipsis, go_quote, human_duration, truncate_id, Table};

#[derive(clap::Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
}

pub async fn cmd(client: &Client, a: PsArgs) -> Result<i32> {
    let path = if a.all {
        "/containers/json?all=1"
    } else {
        "/containers/json"
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

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

pub fn render(list: &[Value], quiet: bool, trunc: bool, now: i64) -> String {
    if quiet {
        return list
            .iter()
            .map(|c| {
                let id = s(c, "Id");
                format!(
                    "{}\n",
                    if trunc {
                        truncate_id(id)
                    } else {
                        id.to_string()
                    }
                )
            })
            .collect();
    }
    let mut t = Table::new(&[
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]);
    for c in list {
        let id = s(c, "Id");
        let command = s(c, "Command");
        t.row(vec![
            if trunc {
                truncate_id(id)
            } else {
                id.to_string()
            },
            image(c, trunc),
            go_quote(&if trunc {
                ellipsis(command, 20)
            } else {
                command.to_string()
            }),
            format!(
                "{} ago",
                human_duration(now - c.get("Created").and_then(Value::as_i64).unwrap_or(0))
            ),
            s(c, "Status").to_string(),
            ports(c.get("Ports")),
            names(c, trunc),
        ]);
    }
    t.render()
}

fn image(c: &Value, trunc: bool) -> String {
    let image = s(c, "Image");
    if image.is_empty() {
        return "<no image>".to_string();
    }
    if trunc && (image.starts_with("sha256:") || truncate_id(s(c, "ImageID")) == truncate_id(image))
    {
        return truncate_id(image);
    }
    image.to_string()
}

fn names(c: &Value, trunc: bool) -> String {
    let names: Vec<String> = c
        .get("Names")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|n| n.strip_prefix('/').unwrap_or(n).to_string())
                .collect()
        })
        .unwrap_or_default();
    if trunc {
        // Link names contain a '/': show only the container's own name.
        if let Some(n) = names.iter().find(|n| !n.contains('/')) {
            return n.clone();
        }
    }
    names.join(",")
}

/// Ports like docker's DisplayablePorts (without range collapsing).
pub fn ports(p: Option<&Value>) -> String {
    let Some(list) = p.and_then(Value::as_array) else {
        return String::new();
    };
    let mut out: Vec<String> = Vec::new();
    for p in list {
        let private = p.get("PrivatePort").and_then(Value::as_u64).unwrap_or(0);
        let public = p.get("PublicPort").and_then(Value::as_u64).unwrap_or(0);
        let proto = p.get("Type").and_then(Value::as_str).unwrap_or("tcp");
        let ip = p.get("IP").and_then(Value::as_str).unwrap_or("");
        let item = if public > 0 {
            let ip = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip.to_string()
            };
            format!("{ip}:{public}->{private}/{proto}")
        } else {
            format!("{private}/{proto}")
        };
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table() {
        let now = crate::format::now_unix();
        let list = vec![json!({
            "Id": "3bcbd2a6a8b4b8478c2136322070557decb04775bd9bd449128f780e9fdc7ea1",
            "Names": ["/t2", "/other/alias"],
            "Image": "127.0.0.1:5000/busybox:latest",
            "ImageID": "sha256:8e23192b235b14292a7d7a120d35b8f948a315a307c62075bde7825dbf379a43",
            "Command": "sh -c 'echo out; echo err >&2; exit 3'",
            "Created": now - 130,
            "Ports": [],
            "Status": "Exited (3) 1 second ago"
        })];
        assert_eq!(
            render(&list, false, true, now),
            "CONTAINER ID   IMAGE                           COMMAND                  CREATED         STATUS                    PORTS     NAMES\n\
             3bcbd2a6a8b4   127.0.0.1:5000/busybox:latest   \"sh -c 'echo out; ec…\"   2 minutes ago   Exited (3) 1 second ago             t2\n"
        );
        assert_eq!(render(&list, true, true, now), "3bcbd2a6a8b4\n");
    }

    #[test]
    fn port_strings() {
        let p = json!([
            {"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"},
            {"IP":"::","PrivatePort":80,"PublicPort":8080,"Type":"tcp"},
            {"PrivatePort":53,"Type":"udp"}
        ]);
        assert_eq!(
            ports(Some(&p)),
            "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 53/udp"
        );
        assert_eq!(ports(None), "");
    }

    #[test]
    fn image_ids_truncate() {
        let c = json!({"Image":"sha256:8e23192b235b14292a7d7a12","ImageID":"sha256:8e23192b235b14292a7d7a12"});
        assert_eq!(image(&c, true), "8e23192b235b");
        assert_eq!(image(&json!({}), true), "<no image>");
    }
}
