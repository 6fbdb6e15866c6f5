//! Container attachment: a veth pair from the bridge into the container's netns.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::time::Instant;

use ipnet::Ipv4Net;
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
use rtnetlink::{LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::error::{Error, Result};
use crate::netlink::{validate_ifname, Netlink};
use crate::netns::{connect_in, open_netns};

/// Name of the interface inside the container.
pub const CONTAINER_IFNAME: &str = "eth0";

/// What the daemon records about an attached container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerLink {
    /// MAC of the container's eth0, `02:42:..` form.
    pub mac: String,
}

/// Host-side veth name for a container: "vp" + the first 11 id characters (15 is the
/// kernel's limit). Non-alphanumeric characters are dropped.
pub fn host_veth_name(container_id: &str) -> String {
    let id: String = container_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(11)
        .collect();
    format!("vp{id}")
}

/// Docker-style MAC from an IPv4 address: 02:42 then the four address bytes. Locally
/// administered and unicast, and unique per address on a bridge.
pub fn mac_for_ip(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

/// `aa:bb:cc:dd:ee:ff` form of a MAC.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Connect the container whose init is `pid` to `bridge`: veth `host_veth` on the bridge,
/// its peer as `eth0` in `/proc/<pid>/ns/net` with `addr` (ip/prefix), a Docker-style MAC,
/// `lo` up and a default route via `gateway`. On failure nothing is left behind.
pub async fn attach_container(
    bridge: &str,
    pid: u32,
    host_veth: &str,
    addr: Ipv4Net,
    gateway: Ipv4Addr,
) -> Result<ContainerLink> {
    let started = Instant::now();
    validate_ifname(bridge)?;
    validate_ifname(host_veth)?;
    if !addr.contains(&gateway) || addr.addr() == gateway {
        return Err(Error::GatewayOutsideSubnet { gateway, addr });
    }
    let ns = open_netns(pid)?;
    let host = Netlink::connect()?;
    let mac = mac_for_ip(addr.addr());
    // Opening the socket inside the container (a thread start) overlaps the host-side work.
    let (in_container, created) = futures::join!(
        connect_in(&ns),
        create_pair(&host, bridge, host_veth, &ns, mac)
    );
    created?;
    let configured = match in_container {
        Ok(nl) => configure_container_side(&nl, addr, gateway).await,
        Err(e) => Err(e),
    };
    match configured {
        Ok(()) => {
            tracing::debug!(pid, host_veth, %addr, elapsed_us = started.elapsed().as_micros() as u64, "container attached");
            Ok(ContainerLink {
                mac: format_mac(&mac),
            })
        }
        Err(e) => {
            // Deleting the host end deletes the peer in the container too.
            if let Err(cleanup) = host.delete_link(host_veth).await {
                tracing::warn!(host_veth, error = %cleanup, "cleanup after failed attach");
            }
            Err(e)
        }
    }
}

/// One request creates the whole pair: the host end already enslaved to the bridge and up,
/// the peer born inside the container netns as eth0 with its MAC. This saves the move and
/// rename round trips, and no temporary name ever appears on the host. (The peer cannot be
/// set up in this request: the kernel opens it before the pair is linked, ENOTCONN.)
async fn create_pair(
    host: &Netlink,
    bridge: &str,
    host_veth: &str,
    ns: &std::fs::File,
    mac: [u8; 6],
) -> Result<()> {
    let bridge_index = host
        .link_index(bridge)
        .await?
        .ok_or_else(|| Error::LinkNotFound(bridge.to_string()))?;
    let peer = LinkUnspec::new_with_name(CONTAINER_IFNAME)
        .address(mac.to_vec())
        .setns_by_fd(ns.as_raw_fd())
        .build();
    let pair = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
        .name(host_veth.to_string())
        .controller(bridge_index)
        .up()
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
        .build();
    host.handle
        .link()
        .add(pair)
        .execute()
        .await
        .map_err(|e| Error::netlink(format!("create veth {host_veth}"), e))
}

/// Inside the container: eth0 and `lo` up, address on eth0, default route.
async fn configure_container_side(nl: &Netlink, addr: Ipv4Net, gateway: Ipv4Addr) -> Result<()> {
    let set_up = |name: &'static str| {
        let req = nl
            .handle
            .link()
            .set(LinkUnspec::new_with_name(name).up().build());
        async move {
            req.execute()
                .await
                .map_err(|e| Error::netlink(format!("set {name} up in container"), e))
        }
    };
    // These requests go out together: one round trip instead of three.
    let (index, eth0, lo) = futures::join!(
        nl.link_index(CONTAINER_IFNAME),
        set_up(CONTAINER_IFNAME),
        set_up("lo")
    );
    eth0?;
    lo?;
    let index = index?.ok_or_else(|| Error::LinkNotFound(CONTAINER_IFNAME.to_string()))?;
    nl.handle
        .address()
        .add(index, IpAddr::V4(addr.addr()), addr.prefix_len())
        .execute()
        .await
        .map_err(|e| Error::netlink(format!("add {addr} to container eth0"), e))?;
    let route = RouteMessageBuilder::<Ipv4Addr>::new()
        .gateway(gateway)
        .output_interface(index)
        .build();
    nl.handle
        .route()
        .add(route)
        .execute()
        .await
        .map_err(|e| Error::netlink(format!("add default route via {gateway} in container"), e))?;
    Ok(())
}

/// Remove a container's host veth (and with it the peer). A missing veth is fine: it also
/// disappears on its own when the container's netns dies.
///
/// The kernel handles the delete inside the sending syscall and waits for an RCU grace
/// period there (10-50 ms measured), so it runs on a blocking-pool thread with its own
/// small runtime instead of stalling a runtime worker.
pub async fn detach_container(host_veth: &str) -> Result<()> {
    validate_ifname(host_veth)?;
    let name = host_veth.to_string();
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(|e| Error::io("build netlink runtime", e))?;
        rt.block_on(async { Netlink::connect()?.delete_link(&name).await })
    })
    .await
    .map_err(|e| Error::io("detach task", std::io::Error::other(e)))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veth_name_fits_and_is_stable() {
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(host_veth_name(id), "vp0123456789a");
        assert!(host_veth_name(id).len() <= 15);
        assert_eq!(host_veth_name("ab-c"), "vpabc");
    }

    #[test]
    fn mac_from_ip() {
        let mac = mac_for_ip(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(format_mac(&mac), "02:42:ac:11:00:02");
    }
}
