//! Command line of the shim. Hand-parsed: the shim is started only by pouchd, and a small
//! parser keeps the binary (and its memory) small.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub id: String,
    pub bundle: PathBuf,
    pub runtime: PathBuf,
    pub runtime_root: PathBuf,
    pub runtime_log: PathBuf,
    pub log_path: PathBuf,
    pub exit_file: PathBuf,
    pub socket: PathBuf,
    pub tty: bool,
    pub stdin: bool,
}

pub const USAGE: &str = "usage: pouch-shim --id ID --bundle DIR --runtime PATH --runtime-root DIR \
--runtime-log FILE --log-path FILE --exit-file FILE --socket PATH [--tty] [--stdin]";

/// Parse the arguments after the program name. Accepts `--flag value` and `--flag=value`.
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Args, String> {
    let mut id = None;
    let mut bundle = None;
    let mut runtime = None;
    let mut runtime_root = None;
    let mut runtime_log = None;
    let mut log_path = None;
    let mut exit_file = None;
    let mut socket = None;
    let mut tty = false;
    let mut stdin = false;

    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let arg = arg
            .into_string()
            .map_err(|a| format!("argument {a:?} is not valid UTF-8"))?;
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        match flag.as_str() {
            "--tty" | "--stdin" => {
                if inline.is_some() {
                    return Err(format!("{flag} takes no value"));
                }
                if flag == "--tty" {
                    tty = true;
                } else {
                    stdin = true;
                }
                continue;
            }
            _ => {}
        }
        let slot = match flag.as_str() {
            "--id" => &mut id,
            "--bundle" => &mut bundle,
            "--runtime" => &mut runtime,
            "--runtime-root" => &mut runtime_root,
            "--runtime-log" => &mut runtime_log,
            "--log-path" => &mut log_path,
            "--exit-file" => &mut exit_file,
            "--socket" => &mut socket,
            _ => return Err(format!("unknown argument {arg:?}\n{USAGE}")),
        };
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .into_string()
                .map_err(|a| format!("value {a:?} of {flag} is not valid UTF-8"))?,
        };
        if value.is_empty() {
            return Err(format!("{flag} needs a non-empty value"));
        }
        if slot.replace(value).is_some() {
            return Err(format!("{flag} given twice"));
        }
    }

    let need = |v: Option<String>, name: &str| v.ok_or_else(|| format!("missing {name}\n{USAGE}"));
    let id = need(id, "--id")?;
    let runtime = need(runtime, "--runtime")?;
    Ok(Args {
        id,
        bundle: absolute(need(bundle, "--bundle")?)?,
        // A bare name ("runc") is looked up in PATH; anything with a slash is a path.
        runtime: if runtime.contains('/') {
            absolute(runtime)?
        } else {
            PathBuf::from(runtime)
        },
        runtime_root: absolute(need(runtime_root, "--runtime-root")?)?,
        runtime_log: absolute(need(runtime_log, "--runtime-log")?)?,
        log_path: absolute(need(log_path, "--log-path")?)?,
        exit_file: absolute(need(exit_file, "--exit-file")?)?,
        socket: absolute(need(socket, "--socket")?)?,
        tty,
        stdin,
    })
}

/// The shim changes its working directory to `/`, so relative paths are resolved first.
fn absolute(p: String) -> Result<PathBuf, String> {
    std::path::absolute(Path::new(&p)).map_err(|e| format!("bad path {p:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    const FULL: &[&str] = &[
        "--id",
        "c1",
        "--bundle",
        "/b",
        "--runtime",
        "runc",
        "--runtime-root",
        "/r",
        "--runtime-log=/r/log",
        "--log-path",
        "/l.json",
        "--exit-file",
        "/e",
        "--socket",
        "/s.sock",
    ];

    #[test]
    fn parses_all_flags() {
        let mut v = FULL.to_vec();
        v.push("--tty");
        v.push("--stdin");
        let a = parse(os(&v)).unwrap();
        assert_eq!(a.id, "c1");
        assert_eq!(a.bundle, PathBuf::from("/b"));
        assert_eq!(a.runtime, PathBuf::from("runc"));
        assert_eq!(a.runtime_log, PathBuf::from("/r/log"));
        assert_eq!(a.socket, PathBuf::from("/s.sock"));
        assert!(a.tty && a.stdin);
        let a = parse(os(FULL)).unwrap();
        assert!(!a.tty && !a.stdin);
    }

    #[test]
    fn relative_paths_become_absolute() {
        let mut v = FULL.to_vec();
        v[3] = "rel/bundle";
        let a = parse(os(&v)).unwrap();
        assert!(a.bundle.is_absolute());
        assert!(a.bundle.ends_with("rel/bundle"));
    }

    #[test]
    fn rejects_unknown_missing_and_duplicate() {
        let mut v = FULL.to_vec();
        v.push("--frobnicate");
        assert!(parse(os(&v)).unwrap_err().contains("unknown argument"));
        assert!(parse(os(&FULL[2..])).unwrap_err().contains("missing --id"));
        let mut v = FULL.to_vec();
        v.extend(["--id", "again"]);
        assert!(parse(os(&v)).unwrap_err().contains("twice"));
        let mut v = FULL.to_vec();
        v.push("--socket");
        assert!(parse(os(&v)).is_err());
        let mut v = FULL.to_vec();
        v.push("--tty=1");
        assert!(parse(os(&v)).is_err());
    }
}
