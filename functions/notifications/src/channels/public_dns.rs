//! A DNS resolver for URLs that users chose: it returns only public addresses, so a webhook
//! whose name resolves (or is rebound, between its registration and a delivery) to a private,
//! loopback, link-local or metadata address is never connected to. The function runs in the
//! VPC beside the Kafka brokers and the instance metadata service; a user's URL must reach
//! neither.
//!
//! A name that resolves only to such addresses is [`NotPublic`], told apart from a name that
//! does not resolve (which may be a passing DNS failure): every later attempt would find the
//! same addresses, so a delivery to it fails for good instead of retrying for a day.

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Resolves with the system resolver, keeping public addresses only.
#[derive(Clone, Copy, Debug, Default)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(Box::new(keep_public(&host, found)?.into_iter()) as Addrs)
        })
    }
}

/// A name that resolves, but to no public address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{host} resolves only to addresses that are not public (private, loopback, link-local or reserved)"
)]
pub struct NotPublic {
    pub host: String,
}

/// The public ones of the addresses `host` resolved to; [`NotPublic`] when there are none.
pub fn keep_public(
    host: &str,
    found: impl IntoIterator<Item = SocketAddr>,
) -> Result<Vec<SocketAddr>, NotPublic> {
    let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public(a.ip())).collect();
    if public.is_empty() {
        return Err(NotPublic {
            host: host.to_string(),
        });
    }
    Ok(public)
}

/// The [`NotPublic`] behind a request that failed, if that is why: the HTTP client wraps the
/// resolver's error in its own.
pub fn not_public(error: &reqwest::Error) -> Option<&NotPublic> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(found) = e.downcast_ref::<NotPublic>() {
            return Some(found);
        }
        cause = e.source();
    }
    None
}

/// Whether an address is on the public internet: not private (RFC 1918, unique local),
/// loopback, link-local (the metadata service's 169.254.169.254), shared (carrier NAT),
/// unspecified, multicast, broadcast, reserved, documentation or benchmarking space, and not
/// an IPv6 form that carries such an IPv4 address (mapped, NAT64, 6to4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x0064 && s[1] == 0xff9b)
                || s[0] == 0x2002
                || s[..6] == [0; 6])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for public in [
            "93.184.215.14",
            "8.8.8.8",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for inside in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "240.0.0.1",
            "224.0.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "2001:db8::1",
        ] {
            assert!(!is_public(inside.parse().unwrap()), "{inside}");
        }
    }

    #[tokio::test]
    async fn names_that_resolve_inside_are_refused() {
        let refused = PublicOnly
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("localhost is loopback");
        assert!(refused.downcast_ref::<NotPublic>().is_some(), "{refused}");
    }

    #[test]
    fn only_inside_addresses_is_not_public_and_any_public_one_is_kept() {
        let at = |ip: &str| SocketAddr::new(ip.parse().unwrap(), 0);
        assert_eq!(
            keep_public("hooks.example.net", [at("10.0.0.7"), at("169.254.169.254")]),
            Err(NotPublic {
                host: "hooks.example.net".into()
            })
        );
        assert_eq!(
            keep_public("hooks.example.net", [at("127.0.0.1"), at("93.184.215.14")]),
            Ok(vec![at("93.184.215.14")])
        );
    }
}
