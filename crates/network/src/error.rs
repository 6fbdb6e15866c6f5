//! Error type of the crate.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Everything that can go wrong while setting up or tearing down bridge networking.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A netlink request was answered with an error (or the socket failed).
    #[error("netlink: {op}: {source}")]
    Netlink {
        op: String,
        #[source]
        source: rtnetlink::Error,
    },
    /// A system call or file operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A link that must exist does not.
    #[error("network interface {0} not found")]
    LinkNotFound(String),
    /// The pid given as a container's netns holder is in our own network namespace:
    /// configuring "its" eth0 and default route would reconfigure the host.
    #[error("process {0} is in the host network namespace")]
    HostNetns(u32),
    /// An explicit subnet collides with a route of the host.
    #[error("subnet {subnet} overlaps host route {route}")]
    SubnetOverlap { subnet: Ipv4Net, route: Ipv4Net },
    /// Caller passed something unusable (bad interface name, gateway outside subnet...).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// The gateway is not inside the container's subnet.
    #[error("gateway {gateway} is not inside {addr}")]
    GatewayOutsideSubnet { gateway: Ipv4Addr, addr: Ipv4Net },
    /// A firewall command failed.
    #[error("firewall: {0}")]
    Firewall(String),
    /// Teardown keeps going after a failure; all failures are reported together.
    #[error("{} cleanup error(s): {}", .0.len(), join(.0))]
    Cleanup(Vec<Error>),
}

fn join(errors: &[Error]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn netlink(op: impl Into<String>, source: rtnetlink::Error) -> Self {
        Error::Netlink {
            op: op.into(),
            source,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Turn a list of collected cleanup errors into a result.
    pub(crate) fn from_cleanup(mut errors: Vec<Error>) -> Result<()> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Error::Cleanup(errors)),
        }
    }
}

/// The positive errno carried by a netlink error answer, if any.
pub(crate) fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(msg) => msg.code.map(|c| c.get().abs()),
        _ => None,
    }
}
