//! Talking to pouch-shim: spawn it (it runs `runc create` and detaches), then hold one
//! connection to its socket that carries output, stdin, resizes and the exit.

use shim_protocol::{ExitRecord, Hello, Kind, Ready};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

pub struct ShimArgs<'a> {
    pub shim: &'a Path,
    pub id: &'a str,
    pub bundle: &'a Path,
    pub runtime: &'a Path,
    pub runtime_root: &'a Path,
    pub runtime_log: &'a Path,
    pub log_path: &'a Path,
    pub exit_file: &'a Path,
    pub socket: &'a Path,
    pub tty: bool,
    pub stdin: bool,
}

/// Spawn the shim and wait until it reports that `runc create` succeeded or failed.
/// `Err` carries the runtime's message (what the user sees for a bad command).
pub async fn spawn(a: &ShimArgs<'_>) -> Result<(u32, u32), String> {
    let mut cmd = tokio::process::Command::new(a.shim);
    cmd.arg("--id")
        .arg(a.id)
        .arg("--bundle")
        .arg(a.bundle)
        .arg("--runtime")
        .arg(a.runtime)
        .arg("--runtime-root")
        .arg(a.runtime_root)
        .arg("--runtime-log")
        .arg(a.runtime_log)
        .arg("--log-path")
        .arg(a.log_path)
        .arg("--exit-file")
        .arg(a.exit_file)
        .arg("--socket")
        .arg(a.socket);
    if a.tty {
        cmd.arg("--tty");
    }
    if a.stdin {
        cmd.arg("--stdin");
    }
    cmd.stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let out = cmd
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", a.shim.display()))?;
    let line = String::from_utf8_lossy(&out.stdout);
    match serde_json::from_str::<Ready>(line.trim()) {
        Ok(Ready::Ok { pid, shim_pid }) => Ok((pid, shim_pid)),
        Ok(Ready::Err { message }) => Err(message),
        Err(_) => Err(format!(
            "pouch-shim failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// Events read from the shim connection.
pub enum ShimEvent {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit(ExitRecord),
}

pub struct ShimConn {
    pub hello: Hello,
    pub reader: tokio::net::unix::OwnedReadHalf,
    pub writer: tokio::net::unix::OwnedWriteHalf,
}

/// Connect to a running shim and read its hello.
pub async fn connect(socket: &Path) -> std::io::Result<ShimConn> {
    let stream = UnixStream::connect(socket).await?;
    let (mut reader, writer) = stream.into_split();
    let (kind, payload) = read_frame(&mut reader).await?.ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "shim closed before hello",
        )
    })?;
    if kind != Kind::Hello {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "shim did not say hello",
        ));
    }
    let hello: Hello = serde_json::from_slice(&payload)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    if hello.version != shim_protocol::PROTOCOL_VERSION {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "shim speaks protocol {}, pouchd {}",
                hello.version,
                shim_protocol::PROTOCOL_VERSION
            ),
        ));
    }
    Ok(ShimConn {
        hello,
        reader,
        writer,
    })
}

pub async fn read_frame(
    r: &mut tokio::net::unix::OwnedReadHalf,
) -> std::io::Result<Option<(Kind, Vec<u8>)>> {
    let mut h = [0u8; 5];
    match r.read_exact(&mut h).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let (kind, len) = shim_protocol::decode_header(h)?;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    Ok(Some((kind, payload)))
}

/// Next event, or `None` when the connection ended without an exit frame (shim gone).
pub async fn next_event(r: &mut tokio::net::unix::OwnedReadHalf) -> Option<ShimEvent> {
    loop {
        match read_frame(r).await {
            Ok(Some((Kind::Stdout, p))) => return Some(ShimEvent::Stdout(p)),
            Ok(Some((Kind::Stderr, p))) => return Some(ShimEvent::Stderr(p)),
            Ok(Some((Kind::Exit, p))) => {
                return serde_json::from_slice(&p).ok().map(ShimEvent::Exit)
            }
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return None,
        }
    }
}

pub async fn write_frame(
    w: &mut tokio::net::unix::OwnedWriteHalf,
    frame: &[u8],
) -> std::io::Result<()> {
    w.write_all(frame).await
}

/// Read the exit file the shim leaves behind.
pub fn read_exit_file(path: &PathBuf) -> Option<ExitRecord> {
    let data = std::fs::read(path).ok()?;
    serde_json::from_slice(&data).ok()
}
