//! Small helpers over rtnetlink used by the bridge and veth code.

use futures::TryStreamExt;
use rtnetlink::packet_route::link::{LinkAttribute, LinkMessage};
use rtnetlink::Handle;
use tokio::task::JoinHandle;

use crate::error::{errno, Error, Result};

pub(crate) const ENODEV: i32 = nix::errno::Errno::ENODEV as i32;
pub(crate) const EEXIST: i32 = nix::errno::Errno::EEXIST as i32;
pub(crate) const EADDRNOTAVAIL: i32 = nix::errno::Errno::EADDRNOTAVAIL as i32;
const IFNAMSIZ: usize = 16;

/// A netlink connection whose background task is stopped when this is dropped,
/// so no task outlives the call that needed it.
pub(crate) struct Netlink {
    pub(crate) handle: Handle,
    task: JoinHandle<()>,
}

impl Netlink {
    /// Connect to rtnetlink in the network namespace of the calling thread.
    pub(crate) fn connect() -> Result<Self> {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| Error::io("open netlink socket", e))?;
        Ok(Self::spawn(conn, handle))
    }

    /// Start the background task of an already opened connection (possibly one whose socket
    /// was opened inside another network namespace).
    pub(crate) fn spawn(
        conn: rtnetlink::proto::Connection<rtnetlink::packet_route::RouteNetlinkMessage>,
        handle: Handle,
    ) -> Self {
        let task = tokio::spawn(conn);
        Self { handle, task }
    }

    /// Index of the link called `name`, `None` if there is none.
    pub(crate) async fn link_index(&self, name: &str) -> Result<Option<u32>> {
        Ok(self.get_link(name).await?.map(|m| m.header.index))
    }

    pub(crate) async fn get_link(&self, name: &str) -> Result<Option<LinkMessage>> {
        let mut links = self.handle.link().get().match_name(name).execute();
        match links.try_next().await {
            Ok(link) => Ok(link),
            Err(e) if errno(&e) == Some(ENODEV) => Ok(None),
            Err(e) => Err(Error::netlink(format!("get link {name}"), e)),
        }
    }

    /// Delete the link called `name` in one request; a missing link is not an error.
    pub(crate) async fn delete_link(&self, name: &str) -> Result<()> {
        let msg = rtnetlink::LinkUnspec::new_with_name(name).build();
        match self.handle.link().del_with_message(msg).execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(ENODEV) => Ok(()),
            Err(e) => Err(Error::netlink(format!("delete link {name}"), e)),
        }
    }

    /// Names of all links enslaved to the link with index `controller`.
    pub(crate) async fn links_of_controller(&self, controller: u32) -> Result<Vec<String>> {
        let links: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| Error::netlink("dump links", e))?;
        Ok(links
            .iter()
            .filter(|m| {
                m.attributes
                    .iter()
                    .any(|a| matches!(a, LinkAttribute::Controller(c) if *c == controller))
            })
            .filter_map(link_name)
            .collect())
    }
}

impl Drop for Netlink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) fn link_name(m: &LinkMessage) -> Option<String> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })
}

/// Reject names the kernel would refuse (or that could smuggle options into iptables).
pub(crate) fn validate_ifname(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() < IFNAMSIZ
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "interface name {name:?} (1-15 chars of [A-Za-z0-9._-], not starting with '-')"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifname_validation() {
        assert!(validate_ifname("pouch0").is_ok());
        assert!(validate_ifname("vp0123456789a").is_ok());
        assert!(validate_ifname("abcdefghijklmno").is_ok()); // 15
        assert!(validate_ifname("abcdefghijklmnop").is_err()); // 16
        assert!(validate_ifname("").is_err());
        assert!(validate_ifname("-j").is_err());
        assert!(validate_ifname("a b").is_err());
        assert!(validate_ifname("a/b").is_err());
    }
}
