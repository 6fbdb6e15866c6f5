//! `pouch stop`, `pouch kill`, `pouch rm`: one request per container, printing each name
//! given on success; errors are printed and make the exit status 1, as docker does.

use anyhow::Result;
use hyper::Method;

use crate::client::{enc, is_status, Client};
use crate::output;

#[derive(clap::Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(
        short = 't',
        long = "timeout",
        visible_alias = "time",
        allow_negative_numbers = true
    )]
    pub time: Option<i64>,
    /// Signal to send to the container
    #[arg(short = 's', long)]
    pub signal: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    pub volumes: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Sends the request for each name in turn; prints the name on success and the error
/// otherwise. With `missing_ok` (docker's `rm -f`), "No such container" is printed but does
/// not fail the command.
async fn each(
    client: &Client,
    names: &[String],
    method: Method,
    missing_ok: bool,
    path: impl Fn(&str) -> String,
) -> Result<i32> {
    let mut code = 0;
    for name in names {
        match client.bytes(method.clone(), &path(&enc(name)), None).await {
            Ok(_) => output::print(&format!("{name}\n"))?,
            Err(e) => {
                eprintln!("{e:#}");
                if !(missing_ok && is_status(&e, 404)) {
                    code = 1;
                }
            }
        }
    }
    Ok(code)
}

pub async fn stop(client: &Client, a: StopArgs) -> Result<i32> {
    let mut q = Vec::new();
    if let Some(t) = a.time {
        q.push(format!("t={t}"));
    }
    if let Some(s) = &a.signal {
        q.push(format!("signal={}", enc(s)));
    }
    let query = if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    };
    each(client, &a.containers, Method::POST, false, |n| {
        format!("/containers/{n}/stop{query}")
    })
    .await
}

pub async fn kill(client: &Client, a: KillArgs) -> Result<i32> {
    let sig = enc(&a.signal);
    each(client, &a.containers, Method::POST, false, |n| {
        format!("/containers/{n}/kill?signal={sig}")
    })
    .await
}

pub async fn rm(client: &Client, a: RmArgs) -> Result<i32> {
    let (f, v) = (a.force as u8, a.volumes as u8);
    each(client, &a.containers, Method::DELETE, a.force, |n| {
        format!("/containers/{n}?force={f}&v={v}")
    })
    .await
}
