//! `pouch run`: create (pulling on "No such image"), attach, wait, start, stream, exit with
//! the container's status — the docker CLI's sequence.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, Result};
use http_body_util::BodyExt;
use hyper::Method;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use crate::client::{enc, Client, DaemonError};
use crate::cmd::pull;
use crate::opts::{parse_env, parse_labels, ImageRef};
use crate::output::Sink;
use crate::tty;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Run the container in the background and print its ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Set environment variables (KEY=VAL, or KEY to take the client's value)
    #[arg(short = 'e', long = "env", value_name = "KEY=VAL")]
    pub env: Vec<String>,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Keep STDIN open and attach it
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Connect the container to a network
    #[arg(long, alias = "net")]
    pub network: Option<String>,
    /// Overwrite the image's default entrypoint
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Set metadata on the container (key=value)
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Container host name
    #[arg(long)]
    pub hostname: Option<String>,
    /// Bind mount a volume (src:dst[:opts])
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Restart policy (no, always, on-failure[:N], unless-stopped)
    #[arg(long)]
    pub restart: Option<String>,
    /// IMAGE [COMMAND] [ARG...]
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "IMAGE [COMMAND] [ARG...]"
    )]
    pub args: Vec<String>,
}

/// Runs the command; every error is reported here and mapped to docker's exit codes.
pub async fn cmd(client: &Client, a: RunArgs) -> i32 {
    // docker's CheckTty: -it needs a terminal on stdin; exit 1 before anything is made.
    if a.tty && a.interactive && !a.detach && !std::io::stdin().is_terminal() {
        eprintln!("the input device is not a TTY");
        return 1;
    }
    match run(client, a).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pouch: {e:#}");
            125
        }
    }
}

/// docker CLI's `runStartContainerErr`: 127 for a missing executable, 126 for permission
/// denied, else 125.
pub fn start_error_code(message: &str) -> i32 {
    let m = message
        .strip_prefix("Error response from daemon: ")
        .unwrap_or(message);
    if m.contains("executable file not found")
        || m.contains("no such file or directory")
        || m.contains("system cannot find the file specified")
    {
        127
    } else if m.contains("permission denied") {
        126
    } else {
        125
    }
}

/// The JSON body of POST /containers/create.
pub fn create_body(a: &RunArgs, env: Vec<String>) -> Result<Value> {
    let image = a
        .args
        .first()
        .context("\"run\" requires at least 1 argument")?;
    let cmd = &a.args[1..];
    let attach = !a.detach;
    let mut body = Map::new();
    body.insert("Image".into(), json!(image));
    if !cmd.is_empty() {
        body.insert("Cmd".into(), json!(cmd));
    }
    if let Some(ep) = &a.entrypoint {
        // `--entrypoint ""` resets the image's entrypoint: docker sends [""].
        body.insert("Entrypoint".into(), json!([ep]));
    }
    if !env.is_empty() {
        body.insert("Env".into(), json!(env));
    }
    let labels = parse_labels(&a.label).map_err(anyhow::Error::msg)?;
    body.insert("Labels".into(), json!(labels));
    body.insert("Tty".into(), json!(a.tty));
    body.insert("OpenStdin".into(), json!(a.interactive));
    body.insert("StdinOnce".into(), json!(a.interactive && attach));
    body.insert("AttachStdin".into(), json!(a.interactive && attach));
    body.insert("AttachStdout".into(), json!(attach));
    body.insert("AttachStderr".into(), json!(attach));
    if let Some(w) = &a.workdir {
        body.insert("WorkingDir".into(), json!(w));
    }
    if let Some(u) = &a.user {
        body.insert("User".into(), json!(u));
    }
    if let Some(h) = &a.hostname {
        body.insert("Hostname".into(), json!(h));
    }
    let mut host = Map::new();
    host.insert("AutoRemove".into(), json!(a.rm));
    host.insert(
        "NetworkMode".into(),
        json!(a.network.as_deref().unwrap_or("default")),
    );
    if !a.volume.is_empty() {
        host.insert("Binds".into(), json!(a.volume));
    }
    if a.tty {
        // Honoured by API >= 1.42 daemons; older ones ignore it (the resize follows start).
        if let Some((h, w)) = tty::size() {
            host.insert("ConsoleSize".into(), json!([h, w]));
        }
    }
    if let Some(r) = &a.restart {
        host.insert("RestartPolicy".into(), restart_policy(r)?);
    }
    body.insert("HostConfig".into(), Value::Object(host));
    Ok(Value::Object(body))
}

fn restart_policy(s: &str) -> Result<Value> {
    let (name, count) = s.split_once(':').unwrap_or((s, ""));
    let max: i64 = if count.is_empty() {
        0
    } else {
        count.parse().map_err(|_| {
            anyhow::anyhow!("invalid restart policy {s}: maximum retry count must be an integer")
        })?
    };
    match name {
        "no" | "always" | "unless-stopped" if count.is_empty() => {}
        "on-failure" => {}
        _ => anyhow::bail!("invalid restart policy {s}"),
    }
    Ok(json!({"Name": name, "MaximumRetryCount": max}))
}

async fn create(client: &Client, body: &Value, name: Option<&str>) -> Result<String> {
    let path = match name {
        Some(n) => format!("/containers/create?name={}", enc(n)),
        None => "/containers/create".to_string(),
    };
    let resp = client.json(Method::POST, &path, Some(body)).await?;
    if let Some(ws) = resp.get("Warnings").and_then(Value::as_array) {
        for w in ws.iter().filter_map(Value::as_str) {
            eprintln!("WARNING: {w}");
        }
    }
    resp.get("Id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .context("the daemon's create response has no Id")
}

fn is_no_such_image(e: &anyhow::Error) -> bool {
    e.downcast_ref::<DaemonError>()
        .map(|d| d.status == 404 && d.message.starts_with("No such image"))
        .unwrap_or(false)
}

async fn run(client: &Client, a: RunArgs) -> Result<i32> {
    if let Some(flag) = a.args.first().filter(|f| f.starts_with('-')) {
        // The trailing IMAGE/COMMAND list accepts hyphens, so an unknown flag lands here.
        anyhow::bail!("unknown flag: {flag}\nSee 'pouch run --help'.");
    }
    let env = a
        .env
        .iter()
        .map(|e| parse_env(e, |k| std::env::var(k).ok()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let body = create_body(&a, env)?;
    let image = a.args[0].clone();
    // The docker CLI refuses a bad image name itself (ParseAnyReference), exit 125.
    pouch_reference::AnyReference::parse(&image).map_err(|e| anyhow::anyhow!("{e}"))?;

    // 1. create, pulling once on "No such image".
    let id = match create(client, &body, a.name.as_deref()).await {
        Ok(id) => id,
        Err(e) if is_no_such_image(&e) => {
            eprintln!("Unable to find image '{image}' locally");
            let r = ImageRef::parse(&image).map_err(anyhow::Error::msg)?;
            pull::pull(client, &r, &mut std::io::stderr()).await?;
            create(client, &body, a.name.as_deref()).await?
        }
        Err(e) => return Err(e),
    };

    if a.detach {
        // docker prints the ID before starting, so it is there even when the start fails.
        crate::output::print(&format!("{id}\n"))?;
        if let Err(e) = start(client, &id).await {
            eprintln!("pouch: {e:#}");
            return Ok(start_error_code(&e.to_string()));
        }
        return Ok(0);
    }

    // 2. attach (hijacked raw stream).
    let mut attach_path = format!("/containers/{id}/attach?stream=1&stdout=1&stderr=1");
    if a.interactive {
        attach_path.push_str("&stdin=1");
    }
    let hijacked = client.hijack(&attach_path).await?;

    // 3. wait, registered before start: wait for the response headers (bounded).
    let condition = if a.rm { "removed" } else { "next-exit" };
    let (hdr_tx, hdr_rx) = oneshot::channel::<()>();
    let wc = client.clone();
    let wait_path = format!("/containers/{id}/wait?condition={condition}");
    let wait_task = tokio::spawn(async move {
        let resp = wc.send(Method::POST, &wait_path, None).await;
        let _ = hdr_tx.send(());
        let body = resp?.into_body().collect().await?.to_bytes();
        let v: Value = serde_json::from_slice(&body).context("decoding the wait response")?;
        anyhow::Ok(v)
    });
    let _ = tokio::time::timeout(Duration::from_secs(5), hdr_rx).await;

    let raw = if a.tty && a.interactive {
        tty::RawMode::enable()
    } else {
        None
    };

    // 4. start.
    if let Err(e) = start(client, &id).await {
        drop(raw);
        eprintln!("pouch: {e:#}");
        if a.rm {
            let _ = tokio::time::timeout(Duration::from_secs(10), wait_task).await;
        }
        return Ok(start_error_code(&e.to_string()));
    }

    if a.tty {
        spawn_resize(client.clone(), id.clone());
    } else {
        spawn_signal_proxy(client.clone(), id.clone());
    }

    // 5. stream.
    let (mut rd, mut wr) = hijacked.stream.into_split();
    // Without stdin our write side stays open until the output ends.
    let _keep_open = if a.interactive {
        tokio::spawn(async move {
            let mut stdin = tokio::io::stdin();
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match stdin.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if wr.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            }
            // Half-close: the container sees EOF on its stdin.
            let _ = wr.shutdown().await;
        });
        None
    } else {
        Some(wr)
    };
    let mut sink = Sink::new(a.tty);
    let mut stream_err = None;
    if !hijacked.leftover.is_empty() {
        if let Err(e) = sink.write(&hijacked.leftover) {
            stream_err = Some(e);
        }
    }
    let mut buf = vec![0u8; 32 * 1024];
    while stream_err.is_none() {
        match rd.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                if let Err(e) = sink.write(&buf[..n]) {
                    stream_err = Some(e);
                }
            }
            Err(e) => stream_err = Some(e.into()),
        }
    }
    drop(raw);
    // A closed stdout (`pouch run ... | head`) is not worth a message.
    let broken_pipe = |e: &anyhow::Error| {
        e.downcast_ref::<std::io::Error>()
            .map(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            .unwrap_or(false)
    };
    if let Some(e) = stream_err.filter(|e| !broken_pipe(e)) {
        eprintln!("pouch: error reading the container's output: {e:#}");
    }

    // 6. exit with the status from wait.
    let result = match wait_task.await {
        Ok(r) => r,
        Err(e) => Err(anyhow::anyhow!("wait task failed: {e}")),
    };
    let v = result?;
    if let Some(msg) = v
        .get("Error")
        .and_then(|e| e.get("Message"))
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
    {
        eprintln!("pouch: error waiting for container: {msg}");
        return Ok(125);
    }
    Ok(v.get("StatusCode").and_then(Value::as_i64).unwrap_or(0) as i32)
}

async fn start(client: &Client, id: &str) -> Result<()> {
    client
        .bytes(Method::POST, &format!("/containers/{id}/start"), None)
        .await?;
    Ok(())
}

async fn resize(client: &Client, id: &str) {
    if let Some((h, w)) = tty::size() {
        let _ = client
            .bytes(
                Method::POST,
                &format!("/containers/{id}/resize?h={h}&w={w}"),
                None,
            )
            .await;
    }
}

/// Sends the terminal size now and on every SIGWINCH.
fn spawn_resize(client: Client, id: String) {
    tokio::spawn(async move {
        resize(&client, &id).await;
        let Ok(mut winch) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        else {
            return;
        };
        while winch.recv().await.is_some() {
            resize(&client, &id).await;
        }
    });
}

/// docker's sig-proxy: forward the signals we receive to the container (non-tty runs).
fn spawn_signal_proxy(client: Client, id: String) {
    use tokio::signal::unix::{signal, SignalKind};
    let sigs = [
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::quit(), "SIGQUIT"),
        (SignalKind::user_defined1(), "SIGUSR1"),
        (SignalKind::user_defined2(), "SIGUSR2"),
    ];
    for (kind, name) in sigs {
        let Ok(mut s) = signal(kind) else { continue };
        let client = client.clone();
        let id = id.clone();
        tokio::spawn(async move {
            while s.recv().await.is_some() {
                let _ = client
                    .bytes(
                        Method::POST,
                        &format!("/containers/{id}/kill?signal={name}"),
                        None,
                    )
                    .await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(args: &[&str]) -> RunArgs {
        let mut v = vec!["run"];
        v.extend_from_slice(args);
        T::try_parse_from(v).unwrap().run
    }

    #[test]
    fn exit_codes() {
        assert_eq!(start_error_code("Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"nosuchcmd\": executable file not found in $PATH: unknown"), 127);
        assert_eq!(
            start_error_code("exec: \"/etc/passwd\": permission denied: unknown"),
            126
        );
        assert_eq!(start_error_code("stat /x: no such file or directory"), 127);
        assert_eq!(start_error_code("something else"), 125);
    }

    #[test]
    fn flags_stop_at_image() {
        let a = parse(&[
            "-d",
            "--rm",
            "-e",
            "A=1",
            "-it",
            "img",
            "sh",
            "-c",
            "echo -e x",
        ]);
        assert!(a.detach && a.rm && a.interactive && a.tty);
        assert_eq!(a.args, vec!["img", "sh", "-c", "echo -e x"]);
        let a = parse(&["img", "-d"]);
        assert!(!a.detach);
        assert_eq!(a.args, vec!["img", "-d"]);
    }

    #[test]
    fn body() {
        let a = parse(&[
            "--name",
            "n",
            "-l",
            "a=b",
            "--entrypoint",
            "",
            "img",
            "true",
        ]);
        let b = create_body(&a, vec!["A=1".into()]).unwrap();
        assert_eq!(b["Image"], "img");
        assert_eq!(b["Cmd"], json!(["true"]));
        assert_eq!(b["Entrypoint"], json!([""]));
        assert_eq!(b["Env"], json!(["A=1"]));
        assert_eq!(b["Labels"], json!({"a":"b"}));
        assert_eq!(b["AttachStdout"], true);
        assert_eq!(b["AttachStdin"], false);
        assert_eq!(b["HostConfig"]["NetworkMode"], "default");
        assert_eq!(b["HostConfig"]["AutoRemove"], false);
        let a = parse(&["-d", "-i", "--rm", "--network", "none", "img"]);
        let b = create_body(&a, vec![]).unwrap();
        assert!(b.get("Cmd").is_none());
        assert!(b.get("Entrypoint").is_none());
        assert_eq!(b["AttachStdout"], false);
        assert_eq!(b["OpenStdin"], true);
        assert_eq!(b["StdinOnce"], false);
        assert_eq!(b["HostConfig"]["NetworkMode"], "none");
        assert_eq!(b["HostConfig"]["AutoRemove"], true);
    }

    #[test]
    fn restart() {
        assert_eq!(
            restart_policy("on-failure:3").unwrap(),
            json!({"Name":"on-failure","MaximumRetryCount":3})
        );
        assert_eq!(restart_policy("always").unwrap()["Name"], "always");
        assert!(restart_policy("sometimes").is_err());
        assert!(restart_policy("always:2").is_err());
    }
}
