//! Pure address management: which subnet the bridge gets and which address a container gets.
//! The daemon keeps the allocations (in its database); these functions only compute.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::error::{Error, Result};

/// Candidate pools for the default bridge, in order, like Docker's defaults:
/// 172.17-31.0.0/16, then 192.168.0-240.0/20, then 10.0-255.0.0/16.
pub fn default_bridge_pools() -> impl Iterator<Item = Ipv4Net> {
    let p172 = (17u8..=31).map(|b| net(Ipv4Addr::new(172, b, 0, 0), 16));
    let p192 = (0u8..16).map(|i| net(Ipv4Addr::new(192, 168, i * 16, 0), 20));
    let p10 = (0u8..=255).map(|b| net(Ipv4Addr::new(10, b, 0, 0), 16));
    p172.chain(p192).chain(p10)
}

fn net(addr: Ipv4Addr, prefix: u8) -> Ipv4Net {
    // Prefixes used here are constants <= 32, so construction cannot fail.
    Ipv4Net::new(addr, prefix).unwrap_or_default()
}

/// Whether two networks share any address.
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// First default pool that overlaps none of `routes`.
///
/// Default routes (prefix 0) are ignored: they overlap everything and say nothing about
/// which private ranges are in use.
pub fn choose_bridge_subnet(routes: &[Ipv4Net]) -> Option<Ipv4Net> {
    default_bridge_pools().find(|pool| check_no_overlap(*pool, routes).is_ok())
}

/// Refuse an explicit subnet (`--bip`) that collides with a host route.
pub fn check_no_overlap(subnet: Ipv4Net, routes: &[Ipv4Net]) -> Result<()> {
    let subnet = subnet.trunc();
    match routes
        .iter()
        .find(|r| r.prefix_len() > 0 && overlaps(&subnet, r))
    {
        Some(route) => Err(Error::SubnetOverlap {
            subnet,
            route: *route,
        }),
        None => Ok(()),
    }
}

/// Lowest host address of `subnet` that is not the network, the broadcast, the gateway,
/// or in `used`. `None` when the subnet is full (or has no host addresses, /31 and /32).
pub fn next_free(subnet: Ipv4Net, gateway: Ipv4Addr, used: &HashSet<Ipv4Addr>) -> Option<Ipv4Addr> {
    if subnet.prefix_len() >= 31 {
        return None;
    }
    let first = u32::from(subnet.network()) + 1;
    let last = u32::from(subnet.broadcast()) - 1;
    (first..=last)
        .map(Ipv4Addr::from)
        .find(|ip| *ip != gateway && !used.contains(ip))
}

/// The conventional gateway of a subnet: its first host address (172.17.0.1 for 172.17.0.0/16),
/// with the subnet's prefix, ready for `ensure_bridge`.
pub fn default_gateway(subnet: Ipv4Net) -> Option<Ipv4Net> {
    if subnet.prefix_len() >= 31 {
        return None;
    }
    let gw = Ipv4Addr::from(u32::from(subnet.network()) + 1);
    Ipv4Net::new(gw, subnet.prefix_len()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn next_free_skips_network_gateway_used_and_broadcast() {
        let subnet = n("10.0.0.0/29"); // hosts .1 - .6
        let gw: Ipv4Addr = "10.0.0.1".parse().unwrap();
        let mut used = HashSet::new();
        assert_eq!(
            next_free(subnet, gw, &used),
            Some("10.0.0.2".parse().unwrap())
        );
        for i in 2..=5 {
            used.insert(Ipv4Addr::new(10, 0, 0, i));
        }
        assert_eq!(
            next_free(subnet, gw, &used),
            Some("10.0.0.6".parse().unwrap())
        );
        used.insert(Ipv4Addr::new(10, 0, 0, 6));
        assert_eq!(
            next_free(subnet, gw, &used),
            None,
            "broadcast .7 must not be handed out"
        );
    }

    #[test]
    fn next_free_gateway_not_first() {
        let subnet = n("10.0.0.0/30");
        let gw: Ipv4Addr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            next_free(subnet, gw, &HashSet::new()),
            Some("10.0.0.1".parse().unwrap())
        );
        let used = HashSet::from([Ipv4Addr::new(10, 0, 0, 1)]);
        assert_eq!(next_free(subnet, gw, &used), None);
    }

    #[test]
    fn next_free_tiny_subnets() {
        let gw = Ipv4Addr::new(10, 0, 0, 0);
        assert_eq!(next_free(n("10.0.0.0/31"), gw, &HashSet::new()), None);
        assert_eq!(next_free(n("10.0.0.0/32"), gw, &HashSet::new()), None);
    }

    #[test]
    fn next_free_unnormalized_subnet() {
        // 172.17.0.1/16 as given by a gateway-style value still means 172.17.0.0/16.
        let subnet = n("172.17.0.1/16");
        let gw = Ipv4Addr::new(172, 17, 0, 1);
        assert_eq!(
            next_free(subnet, gw, &HashSet::new()),
            Some(Ipv4Addr::new(172, 17, 0, 2))
        );
    }

    #[test]
    fn choose_first_pool_when_no_conflict() {
        let routes = [n("0.0.0.0/0"), n("192.0.2.0/24")];
        assert_eq!(choose_bridge_subnet(&routes), Some(n("172.17.0.0/16")));
    }

    #[test]
    fn choose_skips_overlapping_pools() {
        let routes = [n("172.17.5.0/24"), n("172.16.0.0/12")];
        // 172.16/12 covers all 172.17-31 pools, so the 192.168 /20s come next.
        assert_eq!(choose_bridge_subnet(&routes), Some(n("192.168.0.0/20")));
        let routes = [n("172.17.5.0/24"), n("172.18.0.0/16")];
        assert_eq!(choose_bridge_subnet(&routes), Some(n("172.19.0.0/16")));
    }

    #[test]
    fn choose_falls_back_to_ten() {
        let routes = [n("172.16.0.0/12"), n("192.168.0.0/16"), n("10.0.0.0/16")];
        assert_eq!(choose_bridge_subnet(&routes), Some(n("10.1.0.0/16")));
        let all = [n("172.16.0.0/12"), n("192.168.0.0/16"), n("10.0.0.0/8")];
        assert_eq!(choose_bridge_subnet(&all), None);
    }

    #[test]
    fn overlap_check() {
        let routes = [n("192.0.2.0/24"), n("0.0.0.0/0")];
        assert!(check_no_overlap(n("172.18.0.1/16"), &routes).is_ok());
        assert!(check_no_overlap(n("192.0.0.0/16"), &routes).is_err());
        assert!(check_no_overlap(n("192.0.2.128/25"), &routes).is_err());
        match check_no_overlap(n("192.0.2.5/32"), &routes) {
            Err(Error::SubnetOverlap { subnet, route }) => {
                assert_eq!(subnet, n("192.0.2.5/32"));
                assert_eq!(route, n("192.0.2.0/24"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn default_gateway_is_first_host() {
        assert_eq!(
            default_gateway(n("172.17.0.0/16")),
            Some(n("172.17.0.1/16"))
        );
        assert_eq!(default_gateway(n("10.0.0.0/31")), None);
    }

    #[test]
    fn pools_are_private_and_distinct() {
        let pools: Vec<_> = default_bridge_pools().collect();
        assert_eq!(pools.len(), 15 + 16 + 256);
        for (i, a) in pools.iter().enumerate() {
            for b in &pools[i + 1..] {
                assert!(!overlaps(a, b), "{a} overlaps {b}");
            }
        }
    }
}
