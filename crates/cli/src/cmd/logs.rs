//! `pouch logs`: GET /containers/{id}/logs, demultiplexed unless the container has a tty.

use anyhow::Result;
use hyper::Method;
use serde_json::Value;

use crate::client::{enc, next_chunk, Client};
use crate::opts::log_time;
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
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m")
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m")
    #[arg(long)]
    pub until: Option<String>,
    /// Show extra details provided to logs
    #[arg(long)]
    pub details: bool,
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
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0);
    if let Some(s) = &a.since {
        path.push_str(&format!("&since={}", enc(&log_time(s, now))));
    }
    if let Some(u) = &a.until {
        path.push_str(&format!("&until={}", enc(&log_time(u, now))));
    }
    if a.details {
        path.push_str("&details=1");
    }
    let resp = client.send(Method::GET, &path, None).await?;
    let mut body = resp.into_body();
    let mut sink = Sink::new(tty);
    while let Some(chunk) = next_chunk(&mut body).await? {
        sink.write(&chunk)?;
    }
    Ok(0)
}
