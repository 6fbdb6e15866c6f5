//! Default bridge networking for pouch: address management (pure), the bridge with its
//! firewall rules, and veth pairs into container network namespaces, all by netlink.
//!
//! The daemon owns the state (IP allocations live in its database); this crate only
//! computes and applies.

#![forbid(unsafe_code)]

mod bridge;
mod error;
pub mod firewall;
pub mod ipam;
mod netlink;
mod netns;
mod veth;

pub use bridge::{
    ensure_bridge, ensure_bridge_with, host_ipv4_routes, list_bridge_ports, remove_bridge,
    remove_bridge_with,
};
pub use error::{Error, Result};
pub use firewall::{Firewall, Iptables};
pub use ipnet::Ipv4Net;
pub use veth::{
    attach_container, detach_container, format_mac, host_veth_name, mac_for_ip, ContainerLink,
    CONTAINER_IFNAME,
};
