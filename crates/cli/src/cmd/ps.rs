//! `pouch ps`: GET /containers/json rendered as docker's default table, or with
//! `--format` (a Go template over docker's ps fields, `table ...`, or `json`).

use anyhow::Result;
use serde_json::Value;

use crate::client::{enc, Client};
use crate::format::{ellipsis, go_quote, human_duration, human_size, truncate_id, Table};
use crate::output;

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
    /// Filter output based on conditions provided (name=value)
    #[arg(short = 'f', long = "filter", value_name = "FILTER", value_parser = parse_filter)]
    pub filter: Vec<(String, String)>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", default_value_t = -1, allow_negative_numbers = true)]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE')
    #[arg(long)]
    pub format: Option<String>,
}

/// The header row of a `table` template: each field's column title.
pub fn header_context() -> Value {
    serde_json::json!({
        "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND",
        "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS",
        "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Names": "NAMES",
        "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
        "LocalVolumes": "LOCAL VOLUMES"
    })
}

/// One container as docker's ps formatter shows it to templates (all strings).
pub fn row_context(c: &Value, trunc: bool, now: i64) -> Value {
    let command = s(c, "Command");
    let created = c.get("Created").and_then(Value::as_i64).unwrap_or(0);
    let mut labels: Vec<String> = c
        .get("Labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    labels.sort();
    let mut networks: Vec<String> = c
        .get("NetworkSettings")
        .and_then(|n| n.get("Networks"))
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    networks.sort();
    let id = s(c, "Id");
    serde_json::json!({
        "ID": if trunc { truncate_id(id) } else { id.to_string() },
        "Image": image(c, trunc),
        "Command": go_quote(&if trunc { ellipsis(command, 20) } else { command.to_string() }),
        "CreatedAt": crate::format::go_time_utc(created),
        "RunningFor": format!("{} ago", human_duration(now - created)),
        "Ports": ports(c.get("Ports")),
        "State": s(c, "State"),
        "Status": s(c, "Status"),
        "Size": size_cell(c),
        "Names": names(c, trunc),
        "Labels": labels.join(","),
        "Mounts": "",
        "Networks": networks.join(","),
        "LocalVolumes": "0"
    })
}

/// `-f name=value`, as docker's filter option parses it.
pub fn parse_filter(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_lowercase(), v.trim().to_string())),
        _ => Err("bad format of filter (expected name=value)".to_string()),
    }
}

/// The query string docker's CLI sends for these flags.
pub fn query(a: &PsArgs) -> String {
    let mut q = Vec::new();
    if a.all {
        q.push("all=1".to_string());
    }
    let limit = if a.latest { 1 } else { a.last };
    if limit > 0 {
        q.push(format!("limit={limit}"));
    }
    if a.size {
        q.push("size=1".to_string());
    }
    if !a.filter.is_empty() {
        // {"name": {"web": true}, ...}
        let mut f = serde_json::Map::new();
        for (k, v) in &a.filter {
            let entry = f
                .entry(k.clone())
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if let Value::Object(m) = entry {
                m.insert(v.clone(), Value::Bool(true));
            }
        }
        q.push(format!("filters={}", enc(&Value::Object(f).to_string())));
    }
    if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    }
}

pub async fn cmd(client: &Client, a: PsArgs) -> Result<i32> {
    let path = format!("/containers/json{}", query(&a));
    let list = client.get(&path).await?;
    let empty = Vec::new();
    let list = list.as_array().unwrap_or(&empty);
    let now = crate::format::now_unix();
    if !a.quiet {
        if let Some(f) = &a.format {
            let rows: Vec<Value> = list
                .iter()
                .map(|c| row_context(c, !a.no_trunc, now))
                .collect();
            if let Some(text) = crate::template::render_list(f, &rows, &header_context())
                .map_err(anyhow::Error::msg)?
            {
                output::print(&text)?;
                return Ok(0);
            }
        }
    }
    output::print(&render_table(list, a.quiet, !a.no_trunc, a.size, now))?;
    Ok(0)
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// docker's SIZE column: the writable layer, and the whole rootfs when known.
pub fn size_cell(c: &Value) -> String {
    let rw = c.get("SizeRw").and_then(Value::as_f64).unwrap_or(0.0);
    let root = c.get("SizeRootFs").and_then(Value::as_f64).unwrap_or(0.0);
    if root > 0.0 {
        format!("{} (virtual {})", human_size(rw), human_size(root))
    } else {
        human_size(rw)
    }
}

/// The default table (`size`: with docker's SIZE column, as `ps -s`), or the IDs alone.
pub fn render_table(list: &[Value], quiet: bool, trunc: bool, size: bool, now: i64) -> String {
    let id_of = |c: &Value| {
        let id = s(c, "Id");
        if trunc {
            truncate_id(id)
        } else {
            id.to_string()
        }
    };
    if quiet {
        return list.iter().map(|c| format!("{}\n", id_of(c))).collect();
    }
    let mut header = vec![
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ];
    if size {
        header.push("SIZE");
    }
    let mut t = Table::new(&header);
    for c in list {
        let command = s(c, "Command");
        let mut row = vec![
            id_of(c),
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
        ];
        if size {
            row.push(size_cell(c));
        }
        t.row(row);
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
            render_table(&list, false, true, false, now),
            "CONTAINER ID   IMAGE                           COMMAND                  CREATED         STATUS                    PORTS     NAMES\n\
             3bcbd2a6a8b4   127.0.0.1:5000/busybox:latest   \"sh -c 'echo out; ec…\"   2 minutes ago   Exited (3) 1 second ago             t2\n"
        );
        assert_eq!(
            render_table(&list, true, true, false, now),
            "3bcbd2a6a8b4\n"
        );
    }

    #[test]
    fn template_rows() {
        let c = json!({"Id": "3bcbd2a6a8b4b8478c21", "Names": ["/web"], "Image": "img",
            "Command": "sleep 60", "Created": 100, "Status": "Up 2 seconds", "State": "running",
            "Labels": {"b": "2", "a": "1"},
            "NetworkSettings": {"Networks": {"bridge": {}}}});
        let r = row_context(&c, true, 160);
        assert_eq!(r["ID"], "3bcbd2a6a8b4");
        assert_eq!(r["Command"], "\"sleep 60\"");
        assert_eq!(r["RunningFor"], "About a minute ago");
        assert_eq!(r["CreatedAt"], "1970-01-01 00:01:40 +0000 UTC");
        assert_eq!(r["Labels"], "a=1,b=2");
        assert_eq!(r["Networks"], "bridge");
        assert_eq!(r["Names"], "web");
        let out =
            crate::template::render_list("table {{.Names}}\t{{.State}}", &[r], &header_context());
        assert_eq!(out, Ok(Some("NAMES     STATE\nweb       running\n".into())));
    }

    #[test]
    fn size_column() {
        let list = vec![
            json!({"Id": "abc", "Names": ["/n"], "Image": "i", "Command": "true",
            "Created": 0, "Status": "Up", "SizeRw": 12, "SizeRootFs": 1984123}),
        ];
        let out = render_table(&list, false, true, true, 0);
        let mut lines = out.lines();
        assert!(
            lines.next().unwrap_or("").ends_with("NAMES     SIZE"),
            "{out}"
        );
        assert!(
            lines
                .next()
                .unwrap_or("")
                .ends_with("n         12B (virtual 1.98MB)"),
            "{out}"
        );
        assert_eq!(size_cell(&json!({})), "0B");
    }

    fn args(extra: &[&str]) -> PsArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            a: PsArgs,
        }
        let mut v = vec!["ps"];
        v.extend_from_slice(extra);
        T::try_parse_from(v).map(|t| t.a).expect("parse")
    }

    #[test]
    fn queries_like_docker() {
        assert_eq!(query(&args(&[])), "");
        assert_eq!(query(&args(&["-a"])), "?all=1");
        assert_eq!(query(&args(&["-l"])), "?limit=1");
        assert_eq!(query(&args(&["-n", "3", "-s"])), "?limit=3&size=1");
        assert_eq!(query(&args(&["-n", "-1"])), "");
        let q = query(&args(&[
            "-f",
            "name=web",
            "--filter",
            "status=exited",
            "-f",
            "name=db",
        ]));
        let f = q.strip_prefix("?filters=").expect("filters");
        assert_eq!(
            f,
            enc(r#"{"name":{"db":true,"web":true},"status":{"exited":true}}"#)
        );
        assert!(parse_filter("nonsense").is_err());
        assert!(parse_filter("=x").is_err());
        assert_eq!(
            parse_filter("Label=a=b"),
            Ok(("label".into(), "a=b".into()))
        );
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
