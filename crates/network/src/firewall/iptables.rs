//! `Firewall` on Debian's `iptables` binary (nft-backed or legacy): rules go into the host's
//! filter FORWARD chain itself because a rule in a separate nft table cannot override a DROP
//! there. Each rule is checked with `-C` before it is added, so setup is idempotent.

use std::path::PathBuf;
use std::process::Output;

use ipnet::Ipv4Net;
use tokio::process::Command;
use tokio::sync::Mutex;

use super::Firewall;
use crate::error::{Error, Result};
use crate::netlink::validate_ifname;

/// Serializes check-then-insert sequences of this process, so two concurrent setups of the
/// same bridge cannot both see a rule missing and add it twice.
static LOCK: Mutex<()> = Mutex::const_new(());

/// The iptables backend.
#[derive(Debug, Clone)]
pub struct Iptables {
    binary: PathBuf,
}

impl Default for Iptables {
    fn default() -> Self {
        Self {
            binary: PathBuf::from("iptables"),
        }
    }
}

/// Where a new rule goes: accept rules first in FORWARD (ahead of any DROP or Docker jump),
/// NAT rules at the end of POSTROUTING.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Insert,
    Append,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    table: &'static str,
    chain: &'static str,
    position: Position,
    spec: Vec<String>,
}

/// The rules of one bridge. The comment marks them as ours for anyone reading `iptables -S`.
fn bridge_rules(bridge: &str, subnet: Ipv4Net) -> Vec<Rule> {
    let comment = format!("pouch bridge {bridge}");
    let spec = |parts: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
        let target_at = v.len() - 2;
        let tail = v.split_off(target_at);
        v.extend(["-m", "comment", "--comment"].map(String::from));
        v.push(comment.clone());
        v.extend(tail);
        v
    };
    let subnet = subnet.trunc().to_string();
    vec![
        Rule {
            table: "filter",
            chain: "FORWARD",
            position: Position::Insert,
            spec: spec(&["-i", bridge, "-j", "ACCEPT"]),
        },
        Rule {
            table: "filter",
            chain: "FORWARD",
            position: Position::Insert,
            spec: spec(&["-o", bridge, "-j", "ACCEPT"]),
        },
        Rule {
            table: "nat",
            chain: "POSTROUTING",
            position: Position::Append,
            spec: spec(&["-s", &subnet, "!", "-o", bridge, "-j", "MASQUERADE"]),
        },
    ]
}

impl Iptables {
    /// Use another binary (e.g. `iptables-legacy` or a full path).
    pub fn with_binary(binary: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
        }
    }

    async fn run(&self, table: &str, op: &str, chain: &str, spec: &[String]) -> Result<Output> {
        Command::new(&self.binary)
            .args(["-w", "-t", table, op, chain])
            .args(spec)
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| Error::io(format!("run {}", self.binary.display()), e))
    }

    /// `iptables -C`: exit 0 = present, 1 = absent (or chain missing), else a real error.
    async fn exists(&self, rule: &Rule) -> Result<bool> {
        let out = self.run(rule.table, "-C", rule.chain, &rule.spec).await?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(failure("-C", rule, &out)),
        }
    }

    async fn add(&self, rule: &Rule) -> Result<()> {
        let op = match rule.position {
            Position::Insert => "-I",
            Position::Append => "-A",
        };
        let out = self.run(rule.table, op, rule.chain, &rule.spec).await?;
        if out.status.success() {
            Ok(())
        } else {
            Err(failure(op, rule, &out))
        }
    }

    async fn delete(&self, rule: &Rule) -> Result<()> {
        let out = self.run(rule.table, "-D", rule.chain, &rule.spec).await?;
        if out.status.success() {
            Ok(())
        } else {
            Err(failure("-D", rule, &out))
        }
    }
}

fn failure(op: &str, rule: &Rule, out: &Output) -> Error {
    Error::Firewall(format!(
        "iptables -t {} {op} {} {}: {} {}",
        rule.table,
        rule.chain,
        rule.spec.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

/// Bound on deletions of one rule, in case `-D` reports success without removing anything.
const MAX_COPIES: usize = 32;

impl Firewall for Iptables {
    async fn setup_bridge(&self, bridge: &str, subnet: Ipv4Net) -> Result<()> {
        validate_ifname(bridge)?;
        let _guard = LOCK.lock().await;
        for rule in bridge_rules(bridge, subnet) {
            if !self.exists(&rule).await? {
                tracing::debug!(table = rule.table, chain = rule.chain, spec = ?rule.spec, "adding iptables rule");
                self.add(&rule).await?;
            }
        }
        Ok(())
    }

    async fn teardown_bridge(&self, bridge: &str, subnet: Ipv4Net) -> Result<()> {
        validate_ifname(bridge)?;
        let _guard = LOCK.lock().await;
        let mut errors = Vec::new();
        for rule in bridge_rules(bridge, subnet) {
            // Delete every copy: an older crash may have left duplicates.
            for _ in 0..MAX_COPIES {
                match self.exists(&rule).await {
                    Ok(true) => {
                        if let Err(e) = self.delete(&rule).await {
                            errors.push(e);
                            break;
                        }
                    }
                    Ok(false) => break,
                    Err(e) => {
                        errors.push(e);
                        break;
                    }
                }
            }
        }
        Error::from_cleanup(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_of_a_bridge() {
        let rules = bridge_rules("pouch0", "172.17.0.1/16".parse().unwrap());
        let specs: Vec<String> = rules
            .iter()
            .map(|r| format!("{} {} {}", r.table, r.chain, r.spec.join(" ")))
            .collect();
        assert_eq!(
            specs,
            [
                "filter FORWARD -i pouch0 -m comment --comment pouch bridge pouch0 -j ACCEPT",
                "filter FORWARD -o pouch0 -m comment --comment pouch bridge pouch0 -j ACCEPT",
                "nat POSTROUTING -s 172.17.0.0/16 ! -o pouch0 -m comment --comment pouch bridge pouch0 -j MASQUERADE",
            ]
        );
        assert_eq!(rules[0].position, Position::Insert);
        assert_eq!(rules[2].position, Position::Append);
    }
}
