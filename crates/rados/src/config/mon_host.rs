//! The initial monitor addresses from `mon_host` in all its spellings, as
//! `MonMap::build_initial` reads them (src/mon/MonMap.cc, src/common/ceph_argparse.cc
//! `parse_ip_port_vec`):
//!
//! * `[v2:10.0.0.1:3300/0,v1:10.0.0.1:6789/0]`: an address vector, used as written;
//! * `v2:10.0.0.1:3300` or `v1:10.0.0.1`: one typed address, default port when none;
//! * `10.0.0.1:3300` / `10.0.0.1:6789`: the port says the protocol;
//! * `10.0.0.1`: both protocols on their default ports; another port: both on that port;
//! * host names, resolved through the system resolver;
//!
//! several monitors separated by commas, spaces or semicolons.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use denc::{AddrType, EntityAddr, EntityAddrVec};

use crate::error::ConfigError;

/// The monitor port of messenger v2 (`CEPH_MON_PORT_IANA`).
pub const MON_PORT_V2: u16 = 3300;
/// The monitor port of messenger v1 (`CEPH_MON_PORT_LEGACY`).
pub const MON_PORT_V1: u16 = 6789;

/// One monitor as configured: its addresses (the real monmap, fetched on connect, replaces
/// these entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialMon {
    /// `noname-a`, `noname-b`, ... as Ceph names them before the monmap arrives.
    pub name: String,
    /// Its addresses.
    pub addrs: EntityAddrVec,
}

/// Parses a `mon_host` value. Host names are resolved with the system resolver.
pub fn parse_mon_host(value: &str) -> Result<Vec<InitialMon>, ConfigError> {
    let bad = |reason: &'static str| ConfigError::MonHost {
        value: value.to_owned(),
        reason,
    };
    let mut vectors: Vec<EntityAddrVec> = Vec::new();
    for item in value.split([' ', ';', '\t']).filter(|s| !s.is_empty()) {
        let mut rest = item;
        while !rest.is_empty() {
            let (token, tail) = if let Some(inner) = rest.strip_prefix('[') {
                // an address vector: up to the matching ']'
                let end = inner.find(']').ok_or_else(|| bad("unterminated '['"))?;
                let (vec_text, tail) = inner.split_at(end);
                let addrs = vec_text
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|a| parse_one(a).ok_or_else(|| bad("bad address in [...]")))
                    .collect::<Result<Vec<_>, _>>()?;
                if addrs.is_empty() {
                    return Err(bad("empty [...]"));
                }
                vectors.push(EntityAddrVec(addrs));
                ("", tail.get(1..).unwrap_or_default())
            } else {
                // a single address (IPv6 literals are bracketed inside it: v2:[::1]:3300)
                let end = single_end(rest);
                rest.split_at(end)
            };
            if !token.is_empty() {
                let addrs = match parse_one(token) {
                    Some(a) => vec![a],
                    None => resolve(token)
                        .ok_or_else(|| bad("neither an address nor a resolvable host name"))?,
                };
                for a in addrs {
                    vectors.push(EntityAddrVec(vec![a]));
                }
            }
            rest = tail.strip_prefix(',').unwrap_or(tail);
        }
    }
    if vectors.is_empty() {
        return Err(bad("no addresses"));
    }
    Ok(expand(vectors))
}

/// Where a single (non-vector) address ends: at a ',' outside brackets.
fn single_end(s: &str) -> usize {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => return i,
            _ => {}
        }
    }
    s.len()
}

fn parse_one(text: &str) -> Option<EntityAddr> {
    text.parse::<EntityAddr>().ok()
}

/// `host`, `host:port`, `v2:host:port` with a DNS name: every address it resolves to.
fn resolve(text: &str) -> Option<Vec<EntityAddr>> {
    let (addr_type, rest) = match text.split_once(':') {
        Some(("v1", rest)) => (AddrType::LEGACY, rest),
        Some(("v2", rest)) => (AddrType::MSGR2, rest),
        _ => (AddrType::ANY, text),
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().ok()?),
        None => (rest, 0),
    };
    if host.is_empty() || host.parse::<IpAddr>().is_ok() {
        return None;
    }
    let found: Vec<SocketAddr> = (host, port).to_socket_addrs().ok()?.collect();
    if found.is_empty() {
        return None;
    }
    Some(
        found
            .into_iter()
            .map(|s| EntityAddr::new(addr_type, s, 0))
            .collect(),
    )
}

/// Ceph's `init_with_addrs` for a client: vectors are used as written; a single address
/// without a protocol or port becomes one monitor per protocol (`_add_ambiguous_addr`).
fn expand(vectors: Vec<EntityAddrVec>) -> Vec<InitialMon> {
    let mut mons: Vec<InitialMon> = Vec::new();
    let mut add = |name: String, addrs: EntityAddrVec| {
        if !mons.iter().any(|m| m.addrs == addrs) {
            mons.push(InitialMon { name, addrs });
        }
    };
    for (i, vector) in vectors.into_iter().enumerate() {
        let name = format!("noname-{}", monitor_letter(i));
        let single = match vector.0.as_slice() {
            [one] => *one,
            _ => {
                add(name, vector);
                continue;
            }
        };
        let typed = |t: AddrType, port: u16| {
            let mut a = single.with_port(port);
            a.addr_type = t;
            a
        };
        let port = single.port();
        match single.addr_type {
            AddrType::LEGACY => add(
                name,
                one(typed(AddrType::LEGACY, nonzero(port, MON_PORT_V1))),
            ),
            AddrType::MSGR2 => add(
                name,
                one(typed(AddrType::MSGR2, nonzero(port, MON_PORT_V2))),
            ),
            _ => match port {
                MON_PORT_V1 => add(format!("{name}-legacy"), one(typed(AddrType::LEGACY, port))),
                MON_PORT_V2 => add(name, one(typed(AddrType::MSGR2, port))),
                0 => {
                    add(name.clone(), one(typed(AddrType::MSGR2, MON_PORT_V2)));
                    add(
                        format!("{name}-legacy"),
                        one(typed(AddrType::LEGACY, MON_PORT_V1)),
                    );
                }
                _ => {
                    add(name.clone(), one(typed(AddrType::MSGR2, port)));
                    add(format!("{name}-legacy"), one(typed(AddrType::LEGACY, port)));
                }
            },
        }
    }
    mons
}

fn one(a: EntityAddr) -> EntityAddrVec {
    EntityAddrVec(vec![a])
}

fn nonzero(port: u16, default: u16) -> u16 {
    if port == 0 { default } else { port }
}

/// `a`, `b`, ... `z`, then `a1`... (Ceph just increments a char; beyond 26 monitors the
/// names only need to be distinct).
fn monitor_letter(i: usize) -> String {
    let letter = char::from(b'a' + u8::try_from(i % 26).unwrap_or(0));
    if i < 26 {
        letter.to_string()
    } else {
        format!("{letter}{}", i / 26)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(mons: &[InitialMon]) -> Vec<String> {
        mons.iter()
            .map(|m| format!("{} {}", m.name, m.addrs))
            .collect()
    }

    #[test]
    fn vector_spelling_is_used_as_written() {
        let mons = parse_mon_host("[v2:127.0.0.1:3300/0,v1:127.0.0.1:6789/0]").unwrap();
        assert_eq!(
            render(&mons),
            ["noname-a [v2:127.0.0.1:3300/0,v1:127.0.0.1:6789/0]"]
        );
    }

    #[test]
    fn bare_ip_means_both_protocols() {
        let mons = parse_mon_host("10.0.0.1").unwrap();
        assert_eq!(
            render(&mons),
            [
                "noname-a v2:10.0.0.1:3300/0",
                "noname-a-legacy v1:10.0.0.1:6789/0"
            ]
        );
    }

    #[test]
    fn port_implies_protocol() {
        let mons = parse_mon_host("10.0.0.1:6789,10.0.0.2:3300 10.0.0.3:7000").unwrap();
        assert_eq!(
            render(&mons),
            [
                "noname-a-legacy v1:10.0.0.1:6789/0",
                "noname-b v2:10.0.0.2:3300/0",
                "noname-c v2:10.0.0.3:7000/0",
                "noname-c-legacy v1:10.0.0.3:7000/0"
            ]
        );
    }

    #[test]
    fn typed_addresses_get_default_ports() {
        let mons = parse_mon_host("v2:10.0.0.1;v1:[::1]").unwrap();
        assert_eq!(
            render(&mons),
            ["noname-a v2:10.0.0.1:3300/0", "noname-b v1:[::1]:6789/0"]
        );
    }

    #[test]
    fn several_vectors_and_host_names() {
        let mons = parse_mon_host(
            "[v2:10.0.0.1:3300,v1:10.0.0.1:6789],[v2:10.0.0.2:3300,v1:10.0.0.2:6789]",
        )
        .unwrap();
        assert_eq!(mons.len(), 2);
        let local = parse_mon_host("localhost:3300").unwrap();
        assert!(
            local.iter().all(|m| m.addrs.0[0].port() == 3300),
            "{local:?}"
        );
        assert!(parse_mon_host("").is_err());
        assert!(parse_mon_host("[v2:10.0.0.1:3300").is_err());
        assert!(parse_mon_host("no-such-host.invalid").is_err());
    }
}
