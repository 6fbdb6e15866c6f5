//! `pouch stop`, `pouch kill`, `pouch rm`: one request per container, printing each name
//! given on success; errors are printed and make the exit status 1, as docker does.

use anyhow::Result;
use hyper::Method;

use crate::client::{enc, Client};

#[derive(clap::Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait for stop before killing it
    #[arg(short = 't', long = "time")]
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

async fn each(
    client: &Client,
    names: &[String],
    method: Method,
    path: impl Fn(&str) -> String,
) -> Result<i32> {
    let mut code = 0;
    for name in names {
        match client.bytes(method.clone(), &path(&enc(name)), None).await {
            Ok(_) => println!("{name}"),
            Err(e) => {
                eprintln!("{e:#}");
                code = 1;
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
    each(client, &a.containers, Method::POST, |n| {
        format!("/containers/{n}/stop{query}")
    })
    .await
}

pub async fn kill(client: &Client, a: KillArgs) -> Result<i32> {
    let sig = enc(&a.signal);
    each(client, &a.containers, Method::POST, |n| {
        format!("/containers/{n}/kill?signal={sig}")
    })
    .await
}

pub async fn rm(client: &Client, a: RmArgs) -> Result<i32> {
    let (f, v) = (a.force as u8, a.volumes as u8);
    each(client, &a.containers, Method::DELETE, |n| {
        format!("/containers/{n}?force={f}&v={v}")
    })
    .await
}
