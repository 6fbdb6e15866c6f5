//! `pouch logs`: GET /containers/{id}/logs, demultiplexed unless the container has a tty.

use anyhow::Result;
use hyper::Method;
use serde_json::Value;

use crate::client::{enc, next_chunk, Client};
use crate::output::Sink;

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Number of lines to show from the end of the logs ("all" for every line)
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show logs since timestamp or relative time
    #[arg(long)]
    pub since: Option<String>,
    pub container: String,
}

pub async fn cmd(client: &Client, a: LogsArgs) -> Result<i32> {
    let name = enc(&a.container);
    let info = client.get(&format!("/containers/{name}/json")).await?;
    let tty = info
        .get("Config")
        .and_then(|c| c.get("Tty"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut path = format!(
        "/containers/{name}/logs?stdout=1&stderr=1&tail={}",
        enc(&a.tail)
    );
    if a.follow {
        path.push_str("&follow=1");
    }
    if a.timestamps {
        path.push_str("&timestamps=1");
    }
    if let Some(s) = &a.since {
        path.push_str(&format!("&since={}", enc(s)));
    }
    let resp = client.send(Method::GET, &path, None).await?;
    let mut body = resp.into_body();
    let mut sink = Sink::new(tty);
    while let Some(chunk) = next_chunk(&mut body).await? {
        sink.write(&chunk)?;
    }
    Ok(0)
}
