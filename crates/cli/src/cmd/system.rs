//! `pouch version` and `pouch info`: GET /version and /info, laid out like docker's.

use anyhow::Result;
use serde_json::Value;

use crate::client::{Client, API_PREFIX};
use crate::format::bytes_size;
use crate::output;

#[derive(clap::Args, Debug)]
pub struct FormatArgs {
    /// Format output using a Go template ('json' for JSON)
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

/// `{{json .}}` for `json`, else the template as given.
fn template_of(format: &str) -> &str {
    if format == "json" {
        "{{json .}}"
    } else {
        format
    }
}

fn render_template(format: &str, data: &Value) -> Result<String> {
    crate::template::render(template_of(format), data).map_err(anyhow::Error::msg)
}

/// The client half of `version` as docker's templates see it.
fn client_json() -> Value {
    let api = API_PREFIX.trim_start_matches("/v");
    serde_json::json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": api,
        "APIVersion": api,
        "DefaultAPIVersion": api,
        "Os": std::env::consts::OS,
        "Arch": go_arch(std::env::consts::ARCH),
        "GoVersion": "",
        "GitCommit": "",
        "BuildTime": "",
        "Platform": {"Name": ""}
    })
}

/// `{Client, Server}` for `version --format`; the server's `ApiVersion` is also
/// `APIVersion`, the name of the Go field docker templates use.
pub fn version_data(server: Option<&Value>) -> Value {
    let server = server.cloned().map(|mut v| {
        if let Some(api) = v.get("ApiVersion").cloned() {
            v["APIVersion"] = api;
        }
        v
    });
    serde_json::json!({"Client": client_json(), "Server": server})
}

fn s(v: &Value, k: &str) -> String {
    v.get(k).map(text).unwrap_or_default()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `<indent><key:>` padded so every value starts at column 20.
fn kv(indent: usize, key: &str, value: &str) -> String {
    let width = 20usize.saturating_sub(indent);
    format!(
        "{}{:<width$}{}\n",
        " ".repeat(indent),
        format!("{key}:"),
        value
    )
}

fn client_section() -> String {
    let mut out = String::from("Client:\n");
    out += &kv(1, "Version", env!("CARGO_PKG_VERSION"));
    out += &kv(1, "API version", API_PREFIX.trim_start_matches("/v"));
    out += &kv(
        1,
        "OS/Arch",
        &format!(
            "{}/{}",
            std::env::consts::OS,
            go_arch(std::env::consts::ARCH)
        ),
    );
    out
}

fn go_arch(a: &str) -> &str {
    match a {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub async fn version(client: &Client, a: FormatArgs) -> Result<i32> {
    if let Some(f) = a.format.as_deref().filter(|f| !f.is_empty()) {
        let server = client.get("/version").await;
        let text = render_template(f, &version_data(server.as_ref().ok()))?;
        output::print(&format!("{text}\n"))?;
        return match server {
            Ok(_) => Ok(0),
            Err(e) => Err(e),
        };
    }
    output::print(&client_section())?;
    let v = match client.get("/version").await {
        Ok(v) => v,
        Err(e) => {
            output::print("\n")?;
            eprintln!("{e:#}");
            return Ok(1);
        }
    };
    output::print(&format!("\n{}", render_version(&v)))?;
    Ok(0)
}

pub fn render_version(v: &Value) -> String {
    // docker: `Server:` followed by the platform name when the daemon gives one.
    let platform = v
        .get("Platform")
        .map(|p| s(p, "Name"))
        .filter(|n| !n.is_empty());
    let mut out = match platform {
        Some(name) => format!("Server: {name}\n"),
        None => String::from("Server:\n"),
    };
    let empty = Vec::new();
    let components = v
        .get("Components")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let engine = components
        .iter()
        .find(|c| c.get("Name").and_then(Value::as_str) == Some("Engine"));
    out += " Engine:\n";
    out += &kv(2, "Version", &s(v, "Version"));
    out += &kv(
        2,
        "API version",
        &format!(
            "{} (minimum version {})",
            s(v, "ApiVersion"),
            s(v, "MinAPIVersion")
        ),
    );
    out += &kv(2, "Go version", &s(v, "GoVersion"));
    out += &kv(2, "Git commit", &s(v, "GitCommit"));
    out += &kv(2, "Built", &s(v, "BuildTime"));
    out += &kv(2, "OS/Arch", &format!("{}/{}", s(v, "Os"), s(v, "Arch")));
    let experimental = engine
        .and_then(|e| e.get("Details"))
        .map(|d| s(d, "Experimental"))
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "false".to_string());
    out += &kv(2, "Experimental", &experimental);
    for c in components {
        let name = s(c, "Name");
        if name == "Engine" {
            continue;
        }
        out += &format!(" {name}:\n");
        out += &kv(2, "Version", &s(c, "Version"));
        if let Some(details) = c.get("Details").and_then(Value::as_object) {
            let mut keys: Vec<&String> = details.keys().collect();
            keys.sort();
            for k in keys {
                out += &kv(2, k, &text(&details[k.as_str()]));
            }
        }
    }
    out
}

pub async fn info(client: &Client, a: FormatArgs) -> Result<i32> {
    if let Some(f) = a.format.as_deref().filter(|f| !f.is_empty()) {
        let mut v = client.get("/info").await?;
        if let Value::Object(m) = &mut v {
            m.insert(
                "ClientInfo".into(),
                serde_json::json!({"Version": env!("CARGO_PKG_VERSION"), "Debug": false}),
            );
        }
        let text = render_template(f, &v)?;
        output::print(&format!("{text}\n"))?;
        return Ok(0);
    }
    output::print(&format!(
        "Client:\n Version:    {}\n\n",
        env!("CARGO_PKG_VERSION")
    ))?;
    let v = match client.get("/info").await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e:#}");
            return Ok(1);
        }
    };
    output::print(&render_info(&v))?;
    Ok(0)
}

pub fn render_info(v: &Value) -> String {
    let mut out = String::from("Server:\n");
    let line = |out: &mut String, indent: usize, k: &str, val: String| {
        out.push_str(&format!("{}{k}: {val}\n", " ".repeat(indent)));
    };
    line(&mut out, 1, "Containers", s(v, "Containers"));
    line(&mut out, 2, "Running", s(v, "ContainersRunning"));
    line(&mut out, 2, "Paused", s(v, "ContainersPaused"));
    line(&mut out, 2, "Stopped", s(v, "ContainersStopped"));
    line(&mut out, 1, "Images", s(v, "Images"));
    line(&mut out, 1, "Server Version", s(v, "ServerVersion"));
    line(&mut out, 1, "Storage Driver", s(v, "Driver"));
    for pair in v
        .get("DriverStatus")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some([k, val]) = pair.as_array().map(Vec::as_slice) {
            line(
                &mut out,
                2,
                k.as_str().unwrap_or(""),
                val.as_str().unwrap_or("").to_string(),
            );
        }
    }
    line(&mut out, 1, "Logging Driver", s(v, "LoggingDriver"));
    line(&mut out, 1, "Cgroup Driver", s(v, "CgroupDriver"));
    line(&mut out, 1, "Cgroup Version", s(v, "CgroupVersion"));
    if let Some(rt) = v.get("Runtimes").and_then(Value::as_object) {
        let mut names: Vec<&String> = rt.keys().collect();
        names.sort();
        let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        line(&mut out, 1, "Runtimes", names.join(" "));
    }
    line(&mut out, 1, "Default Runtime", s(v, "DefaultRuntime"));
    if let Some(opts) = v.get("SecurityOptions").and_then(Value::as_array) {
        out.push_str(" Security Options:\n");
        for o in opts.iter().filter_map(Value::as_str) {
            let name = o
                .split(',')
                .find_map(|kv| kv.strip_prefix("name="))
                .unwrap_or(o);
            out.push_str(&format!("  {name}\n"));
        }
    }
    line(&mut out, 1, "Kernel Version", s(v, "KernelVersion"));
    line(&mut out, 1, "Operating System", s(v, "OperatingSystem"));
    line(&mut out, 1, "OSType", s(v, "OSType"));
    line(&mut out, 1, "Architecture", s(v, "Architecture"));
    line(&mut out, 1, "CPUs", s(v, "NCPU"));
    line(
        &mut out,
        1,
        "Total Memory",
        bytes_size(v.get("MemTotal").and_then(Value::as_f64).unwrap_or(0.0)),
    );
    line(&mut out, 1, "Name", s(v, "Name"));
    line(&mut out, 1, "ID", s(v, "ID"));
    line(&mut out, 1, "Docker Root Dir", s(v, "DockerRootDir"));
    line(&mut out, 1, "Debug Mode", s(v, "Debug"));
    line(&mut out, 1, "Experimental", s(v, "ExperimentalBuild"));
    let insecure: Vec<String> = v
        .get("RegistryConfig")
        .and_then(|r| r.get("InsecureRegistryCIDRs"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if !insecure.is_empty() {
        out.push_str(" Insecure Registries:\n");
        for i in insecure {
            out.push_str(&format!("  {i}\n"));
        }
    }
    line(
        &mut out,
        1,
        "Live Restore Enabled",
        s(v, "LiveRestoreEnabled"),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn version_layout() {
        let v = json!({"Version":"20.10.24","ApiVersion":"1.41","MinAPIVersion":"1.12",
            "GoVersion":"go1.19.8","GitCommit":"5d6db84","Os":"linux","Arch":"amd64",
            "BuildTime":"x","Components":[{"Name":"Engine","Version":"20.10.24",
            "Details":{"Experimental":"false"}},{"Name":"runc","Version":"1.1.5",
            "Details":{"GitCommit":"abc"}}]});
        let out = render_version(&v);
        assert!(out.starts_with("Server:\n Engine:\n"), "{out}");
        let mut named = v.clone();
        named["Platform"] = json!({"Name": "pouch"});
        assert!(render_version(&named).starts_with("Server: pouch\n Engine:\n"));
        assert!(out.contains("  Version:          20.10.24\n"));
        assert!(out.contains("  API version:      1.41 (minimum version 1.12)\n"));
        assert!(out.contains(" runc:\n  Version:          1.1.5\n  GitCommit:        abc\n"));
    }

    #[test]
    fn version_template_data() {
        let v = version_data(Some(&json!({"Version": "0.1.0", "ApiVersion": "1.47"})));
        assert_eq!(v["Server"]["APIVersion"], "1.47");
        assert_eq!(v["Server"]["Version"], "0.1.0");
        assert_eq!(v["Client"]["Version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(
            render_template("{{.Server.Version}} {{.Client.APIVersion}}", &v).unwrap(),
            format!("0.1.0 {}", API_PREFIX.trim_start_matches("/v"))
        );
        assert!(version_data(None)["Server"].is_null());
        assert!(render_template("json", &json!({"a": 1})).unwrap() == r#"{"a":1}"#);
    }

    #[test]
    fn info_layout() {
        let v = json!({"Containers":2,"ContainersRunning":1,"ContainersPaused":0,
            "ContainersStopped":1,"Images":3,"MemTotal":25275000000u64,"Debug":false});
        let out = render_info(&v);
        assert!(out.starts_with("Server:\n Containers: 2\n  Running: 1\n"));
        assert!(out.contains(" Total Memory: 23.54GiB\n"));
        assert!(out.contains(" Debug Mode: false\n"));
    }
}
