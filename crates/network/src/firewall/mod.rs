//! Firewall rules a bridge needs, behind a trait so another backend (pure nftables)
//! can replace iptables without touching the bridge code.

mod iptables;

use std::future::Future;

use ipnet::Ipv4Net;

pub use iptables::Iptables;

use crate::error::Result;

/// Installs and removes the rules that make a bridge usable: forwarding to and from it
/// (the host's FORWARD policy may be DROP) and masquerading its subnet on the way out.
pub trait Firewall: Send + Sync {
    /// Add the bridge's rules; rules already present are left alone (idempotent).
    fn setup_bridge(
        &self,
        bridge: &str,
        subnet: Ipv4Net,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Remove every copy of the bridge's rules; missing rules are fine. Keeps going after a
    /// failure and reports all of them.
    fn teardown_bridge(
        &self,
        bridge: &str,
        subnet: Ipv4Net,
    ) -> impl Future<Output = Result<()>> + Send;
}
