//! The bridge itself: create, address, up, forwarding, firewall; and removal.

use std::net::{IpAddr, Ipv4Addr};

use futures::TryStreamExt;
use ipnet::Ipv4Net;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteHeader};
use rtnetlink::{LinkBridge, LinkUnspec, RouteMessageBuilder};

use crate::error::{errno, Error, Result};
use crate::firewall::{Firewall, Iptables};
use crate::netlink::{validate_ifname, Netlink, EADDRNOTAVAIL, EEXIST};
use crate::veth::mac_for_ip;

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

/// Create (if needed) and configure the bridge `name` with address `gateway` (e.g.
/// 172.18.0.1/16), enable IPv4 forwarding and install its iptables rules. Idempotent.
pub async fn ensure_bridge(name: &str, gateway: Ipv4Net) -> Result<()> {
    ensure_bridge_with(&Iptables::default(), name, gateway).await
}

/// [`ensure_bridge`] with a chosen firewall backend.
pub async fn ensure_bridge_with<F: Firewall>(fw: &F, name: &str, gateway: Ipv4Net) -> Result<()> {
    validate_ifname(name)?;
    if gateway.prefix_len() >= 31 {
        return Err(Error::Invalid(format!(
            "bridge subnet {gateway} has no room for containers"
        )));
    }
    let nl = Netlink::connect()?;
    let index = match nl.link_index(name).await? {
        Some(index) => index,
        None => {
            tracing::info!(bridge = name, %gateway, "creating bridge");
            // A fixed MAC: otherwise the bridge takes the lowest MAC of its ports and changes
            // it as containers come and go, which stales the gateway entry in their ARP caches.
            let msg = LinkBridge::new(name)
                .address(mac_for_ip(gateway.addr()).to_vec())
                .build();
            match nl.handle.link().add(msg).execute().await {
                Ok(()) => {}
                // Someone else created it meanwhile: fine, it is configured below.
                Err(e) if errno(&e) == Some(EEXIST) => {}
                Err(e) => return Err(Error::netlink(format!("create bridge {name}"), e)),
            }
            nl.link_index(name)
                .await?
                .ok_or_else(|| Error::LinkNotFound(name.to_string()))?
        }
    };
    set_bridge_address(&nl, name, index, gateway).await?;
    nl.handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(|e| Error::netlink(format!("set {name} up"), e))?;
    enable_ip_forward().await?;
    fw.setup_bridge(name, gateway.trunc()).await
}

/// Make `gateway` the only IPv4 address of the bridge: a leftover address from an older
/// `--bip` would keep a stale route on the host.
async fn set_bridge_address(nl: &Netlink, name: &str, index: u32, gateway: Ipv4Net) -> Result<()> {
    let addrs: Vec<AddressMessage> = nl
        .handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute()
        .try_collect()
        .await
        .map_err(|e| Error::netlink(format!("list addresses of {name}"), e))?;
    let mut present = false;
    for msg in addrs.into_iter().filter(|m| m.header.index == index) {
        let Some(ip) = ipv4_of(&msg) else { continue };
        if ip == gateway.addr() && msg.header.prefix_len == gateway.prefix_len() {
            present = true;
            continue;
        }
        tracing::info!(bridge = name, %ip, prefix = msg.header.prefix_len, "removing stale bridge address");
        match nl.handle.address().del(msg).execute().await {
            Ok(()) => {}
            Err(e) if errno(&e) == Some(EADDRNOTAVAIL) => {}
            Err(e) => return Err(Error::netlink(format!("delete address {ip} of {name}"), e)),
        }
    }
    if !present {
        match nl
            .handle
            .address()
            .add(index, IpAddr::V4(gateway.addr()), gateway.prefix_len())
            .execute()
            .await
        {
            Ok(()) => {}
            Err(e) if errno(&e) == Some(EEXIST) => {}
            Err(e) => return Err(Error::netlink(format!("add {gateway} to {name}"), e)),
        }
    }
    Ok(())
}

fn ipv4_of(msg: &AddressMessage) -> Option<Ipv4Addr> {
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links.
    let local = msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(IpAddr::V4(ip)) => Some(*ip),
        _ => None,
    });
    local.or_else(|| {
        msg.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(IpAddr::V4(ip)) => Some(*ip),
            _ => None,
        })
    })
}

async fn enable_ip_forward() -> Result<()> {
    let current = tokio::fs::read_to_string(IP_FORWARD)
        .await
        .map_err(|e| Error::io(format!("read {IP_FORWARD}"), e))?;
    if current.trim() != "1" {
        tracing::info!("enabling net.ipv4.ip_forward");
        tokio::fs::write(IP_FORWARD, b"1")
            .await
            .map_err(|e| Error::io(format!("write {IP_FORWARD}"), e))?;
    }
    Ok(())
}

/// Remove the bridge's firewall rules and the bridge. Keeps going after a failure and
/// reports all failures at the end. Idempotent. IPv4 forwarding is left on: other bridges
/// or the administrator may rely on it.
pub async fn remove_bridge(name: &str, subnet: Ipv4Net) -> Result<()> {
    remove_bridge_with(&Iptables::default(), name, subnet).await
}

/// [`remove_bridge`] with a chosen firewall backend.
pub async fn remove_bridge_with<F: Firewall>(fw: &F, name: &str, subnet: Ipv4Net) -> Result<()> {
    validate_ifname(name)?;
    let mut errors = Vec::new();
    match fw.teardown_bridge(name, subnet.trunc()).await {
        Ok(()) => {}
        Err(Error::Cleanup(errs)) => errors.extend(errs),
        Err(e) => errors.push(e),
    }
    match Netlink::connect() {
        Ok(nl) => {
            if let Err(e) = nl.delete_link(name).await {
                errors.push(e);
            }
        }
        Err(e) => errors.push(e),
    }
    Error::from_cleanup(errors)
}

/// Names of the interfaces enslaved to `bridge` (host veth ends), for reconciling
/// leftovers. A missing bridge has no ports.
pub async fn list_bridge_ports(bridge: &str) -> Result<Vec<String>> {
    let nl = Netlink::connect()?;
    match nl.link_index(bridge).await? {
        Some(index) => nl.links_of_controller(index).await,
        None => Ok(Vec::new()),
    }
}

/// IPv4 destinations of the host's main routing table, without default routes and
/// without routes through `exclude_bridge` (our own bridge's subnet is not a conflict).
pub async fn host_ipv4_routes(exclude_bridge: &str) -> Result<Vec<Ipv4Net>> {
    let nl = Netlink::connect()?;
    let exclude = nl.link_index(exclude_bridge).await?;
    let query = RouteMessageBuilder::<Ipv4Addr>::new().build();
    let routes: Vec<_> = nl
        .handle
        .route()
        .get(query)
        .execute()
        .try_collect()
        .await
        .map_err(|e| Error::netlink("dump IPv4 routes", e))?;
    let mut out = Vec::new();
    for route in routes {
        let table = route
            .attributes
            .iter()
            .find_map(|a| match a {
                RouteAttribute::Table(t) => Some(*t),
                _ => None,
            })
            .unwrap_or(u32::from(route.header.table));
        if table != u32::from(RouteHeader::RT_TABLE_MAIN)
            || route.header.destination_prefix_length == 0
        {
            continue;
        }
        let oif = route.attributes.iter().find_map(|a| match a {
            RouteAttribute::Oif(i) => Some(*i),
            _ => None,
        });
        if exclude.is_some() && oif == exclude {
            continue;
        }
        let dst = route.attributes.iter().find_map(|a| match a {
            RouteAttribute::Destination(RouteAddress::Inet(ip)) => Some(*ip),
            _ => None,
        });
        if let Some(dst) = dst {
            if let Ok(net) = Ipv4Net::new(dst, route.header.destination_prefix_length) {
                out.push(net.trunc());
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}
