//! Talking rtnetlink inside a container's network namespace.
//!
//! A netlink socket belongs to the namespace it was opened in. So a short-lived dedicated
//! thread enters the target namespace (setns affects only the calling thread, and we never
//! want a tokio worker to switch), opens the socket there, registers it with the caller's
//! runtime and exits. All requests then run on the caller's runtime: no second runtime.

use std::fs::File;
use std::os::unix::fs::MetadataExt;

use nix::sched::{setns, CloneFlags};

use crate::error::{Error, Result};
use crate::netlink::Netlink;

/// Open `/proc/<pid>/ns/net`, refusing a process that shares our own namespace: configuring
/// "its" interfaces and default route would reconfigure the host.
pub(crate) fn open_netns(pid: u32) -> Result<File> {
    let path = format!("/proc/{pid}/ns/net");
    let file = File::open(&path).map_err(|e| Error::io(format!("open {path}"), e))?;
    let theirs = file
        .metadata()
        .map_err(|e| Error::io(format!("stat {path}"), e))?;
    let ours = std::fs::metadata("/proc/thread-self/ns/net")
        .map_err(|e| Error::io("stat /proc/thread-self/ns/net", e))?;
    if theirs.dev() == ours.dev() && theirs.ino() == ours.ino() {
        return Err(Error::HostNetns(pid));
    }
    Ok(file)
}

/// A netlink connection whose socket lives in the namespace `ns`.
pub(crate) async fn connect_in(ns: &File) -> Result<Netlink> {
    let ns = ns
        .try_clone()
        .map_err(|e| Error::io("duplicate netns fd", e))?;
    let runtime = tokio::runtime::Handle::current();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("pouch-netns".into())
        .spawn(move || {
            let opened = setns(&ns, CloneFlags::CLONE_NEWNET)
                .map_err(|e| Error::io("setns into container netns", e.into()))
                .and_then(|()| {
                    // Register the socket with the caller's reactor so the caller can drive it.
                    let _enter = runtime.enter();
                    rtnetlink::new_connection()
                        .map_err(|e| Error::io("open netlink socket in container netns", e))
                });
            // The receiver only goes away if the caller was cancelled; nothing to do then.
            let _ = tx.send(opened);
            // The thread ends here, so its changed namespace dies with it.
        })
        .map_err(|e| Error::io("spawn netns thread", e))?;
    let (conn, handle, _) = rx
        .await
        .map_err(|_| Error::Invalid("netns thread exited without answering".into()))??;
    Ok(Netlink::spawn(conn, handle))
}
