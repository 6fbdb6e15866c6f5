//! `pouch`: a docker-compatible command-line client speaking the Docker Engine API over a
//! unix socket.

mod client;
mod cmd;
mod format;
mod jsonfmt;
mod opts;
mod output;
mod stdcopy;
mod template;
mod tty;
mod usage;

use std::io::Write;

use clap::{Parser, Subcommand};

use crate::client::Client;
use crate::cmd::{images, inspect, lifecycle, logs, ps, run};

#[derive(Parser, Debug)]
#[command(
    name = "pouch",
    version,
    about = "A Docker-compatible container engine client"
)]
struct Cli {
    /// Daemon socket to connect to
    #[arg(
        short = 'H',
        long,
        env = "POUCH_HOST",
        default_value = "unix:///var/run/pouchd.sock",
        global = true
    )]
    host: String,
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Download an image from a registry
    Pull {
        /// Suppress verbose output
        #[arg(short = 'q', long)]
        quiet: bool,
        #[arg(value_name = "NAME[:TAG|@DIGEST]")]
        image: String,
    },
    /// Create and run a new container from an image
    Run(run::RunArgs),
    /// List containers
    Ps(ps::PsArgs),
    /// Fetch the logs of a container
    Logs(logs::LogsArgs),
    /// Stop one or more running containers
    Stop(lifecycle::StopArgs),
    /// Kill one or more running containers
    Kill(lifecycle::KillArgs),
    /// Remove one or more containers
    Rm(lifecycle::RmArgs),
    /// List images
    Images(images::ImagesArgs),
    /// Remove one or more images
    Rmi(images::RmiArgs),
    /// Return low-level information on containers or images
    Inspect(inspect::InspectArgs),
    /// Show the client and server version information
    Version(cmd::system::FormatArgs),
    /// Display system-wide information
    Info(cmd::system::FormatArgs),
}

async fn dispatch(client: &Client, cmd: Command) -> anyhow::Result<i32> {
    match cmd {
        Command::Pull { quiet, image } => cmd::pull::cmd(client, &image, quiet).await,
        Command::Run(a) => Ok(run::cmd(client, a).await),
        Command::Ps(a) => ps::cmd(client, a).await,
        Command::Logs(a) => logs::cmd(client, a).await,
        Command::Stop(a) => lifecycle::stop(client, a).await,
        Command::Kill(a) => lifecycle::kill(client, a).await,
        Command::Rm(a) => lifecycle::rm(client, a).await,
        Command::Images(a) => images::cmd(client, a).await,
        Command::Rmi(a) => images::rmi(client, a).await,
        Command::Inspect(a) => inspect::cmd(client, a).await,
        Command::Version(a) => cmd::system::version(client, a).await,
        Command::Info(a) => cmd::system::info(client, a).await,
    }
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let args: Vec<String> = std::env::args().skip(1).collect();
            let u = usage::report(&e, usage::verb_of(&args).as_deref());
            if u.to_stdout {
                print!("{}", u.text);
            } else {
                eprint!("{}", u.text);
            }
            let _ = std::io::stdout().flush();
            std::process::exit(u.code);
        }
    };
    let is_run = matches!(cli.cmd, Command::Run(_));
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pouch: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = rt.block_on(async {
        match Client::new(&cli.host) {
            Ok(client) => match dispatch(&client, cli.cmd).await {
                Ok(code) => code,
                // Our stdout went away (`pouch logs -f x | head`): nothing worth saying.
                Err(e) if output::is_broken_pipe(&e) => 0,
                Err(e) => {
                    eprintln!("{e:#}");
                    1
                }
            },
            Err(e) => {
                eprintln!("{}{e:#}", if is_run { "pouch: " } else { "" });
                if is_run {
                    125
                } else {
                    1
                }
            }
        }
    });
    // Do not wait for a blocking stdin read (run -i) still in the runtime's blocking pool.
    rt.shutdown_background();
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    std::process::exit(code);
}
