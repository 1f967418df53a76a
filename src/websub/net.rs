//! The HTTP clients of WebSub, and which addresses a callback may lead to.
//!
//! A subscriber names its callback, and the hub then sends requests there: without a
//! rule, anyone could make the hub probe the machines of its own network (an admin
//! page on 127.0.0.1, a cloud's metadata address on 169.254.169.254). So a callback
//! whose host is, or resolves to, a loopback, private, link-local, unique-local, CGNAT
//! or unspecified address is refused when subscribing, and the client that talks to
//! callbacks resolves names through [`PublicOnly`], which drops such addresses at
//! every connection: a name that resolved to a public address when subscribing and
//! to 127.0.0.1 later (DNS rebinding) still reaches nothing private. Redirects are not
//! followed, for the same reason.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The User-Agent of every request WebSub sends.
const USER_AGENT: &str = concat!("dropfeed/", env!("CARGO_PKG_VERSION"), " (WebSub)");

/// The client for subscribers' callbacks: private addresses refused unless `allow_private`,
/// no proxy (a proxy would resolve the name itself), no redirect, each request within
/// `timeout`.
pub fn callback_client(timeout: Duration, allow_private: bool) -> reqwest::Result<reqwest::Client> {
    let builder = base(timeout).no_proxy();
    if allow_private {
        builder.build()
    } else {
        builder
            .dns_resolver(std::sync::Arc::new(PublicOnly))
            .build()
    }
}

/// The client for the hubs the operator named: any address (a hub on the same network
/// is the operator's choice), the system's proxy settings, no redirect.
pub fn hub_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    base(timeout).build()
}

fn base(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
}

/// Resolves names to their public addresses only; a name with none fails to resolve.
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// Why a callback URL cannot be used, checked before a request is sent: its scheme,
/// its host, and (when the host is an IP address, which no resolver sees) that address.
pub fn refuse_callback(url: &url::Url, allow_private: bool) -> Option<String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Some(format!(
            "hub.callback: scheme `{}` cannot be called; give an http or https URL",
            url.scheme()
        ));
    }
    let ip = match url.host() {
        None => return Some("hub.callback: the URL has no host".into()),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(url::Host::Domain(_)) => return None,
    };
    (!allow_private && !is_public(ip)).then(|| private_refusal(&ip.to_string()))
}

/// Why a callback whose host resolves to `addrs` is refused: none of them is public.
pub fn refuse_resolved(host: &str, addrs: &[IpAddr], allow_private: bool) -> Option<String> {
    if allow_private || addrs.iter().any(|ip| is_public(*ip)) {
        return None;
    }
    Some(private_refusal(host))
}

fn private_refusal(host: &str) -> String {
    format!("hub.callback: {host} is a loopback or private address, which this hub does not call; give a public URL (or set `websub.allow_private_callbacks` on this server)")
}

/// True for an address on the public internet: not loopback, private (RFC 1918),
/// link-local, unique-local, CGNAT (RFC 6598), unspecified, broadcast or multicast, nor
/// an IPv6 form of one of those IPv4 addresses.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped().or_else(|| embedded_v4(v6)) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let cgnat = a == 100 && (64..128).contains(&b);
    // 0.0.0.0/8 is "this network": connecting to 0.0.0.0 reaches the local machine.
    let this_network = a == 0;
    // RFC 6890's other ranges that are not global: IETF protocol assignments
    // (192.0.0/24), benchmarking (198.18/15), documentation, and reserved (240/4).
    let protocol = a == 192 && b == 0 && c == 0;
    let benchmarking = a == 198 && (b == 18 || b == 19);
    let documentation = matches!((a, b, c), (192, 0, 2) | (198, 51, 100) | (203, 0, 113));
    let reserved = a >= 240;
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || cgnat
        || this_network
        || protocol
        || benchmarking
        || documentation
        || reserved)
}

/// The IPv4 address a NAT64 (`64:ff9b::/96`, RFC 6052), IPv4-translated
/// (`::ffff:0:0/96`) or 6to4 (`2002::/16`, RFC 3056) address carries: through a translator or relay, it is that IPv4 host that is reached.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let o = ip.octets();
    // ::ffff:0:a.b.c.d, the IPv4-translated form (RFC 2765), as the mapped one.
    let translated = s[..6] == [0, 0, 0, 0, 0xffff, 0];
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || translated {
        Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]))
    } else if s[0] == 0x2002 {
        Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]))
    } else {
        None
    }
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let unique_local = first & 0xfe00 == 0xfc00;
    let link_local = first & 0xffc0 == 0xfe80;
    // fec0::/10, site-local: deprecated, still routed inside some networks.
    let site_local = first & 0xffc0 == 0xfec0;
    // ::a.b.c.d, the deprecated IPv4-compatible form, reaches the IPv4 address on some
    // stacks.
    let compatible = ip.segments()[..6].iter().all(|s| *s == 0);
    // 64:ff9b:1::/48 is NAT64 for local networks (RFC 8215).
    let local_nat64 = ip.segments()[..3] == [0x64, 0xff9b, 1];
    !(ip.is_loopback()
        || local_nat64
        || ip.is_unspecified()
        || ip.is_multicast()
        || unique_local
        || link_local
        || site_local
        || compatible)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().unwrap())
    }

    #[test]
    fn private_and_local_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b:1::808:808",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
            "::ffff:0:7f00:1",
            "fec0::1",
            "198.18.0.1",
            "198.19.255.1",
            "240.0.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "203.0.113.9",
        ] {
            assert!(!public(ip), "{ip} taken as public");
        }
    }

    #[test]
    fn internet_addresses_are_public() {
        for ip in [
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:93.184.216.34",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "198.20.0.1",
            "::ffff:0:808:808",
        ] {
            assert!(public(ip), "{ip} taken as private");
        }
    }

    #[test]
    fn a_callback_at_a_private_ip_is_refused_unless_allowed() {
        let url = url::Url::parse("http://127.0.0.1:9/push").unwrap();
        assert_eq!(
            refuse_callback(&url, false).as_deref(),
            Some("hub.callback: 127.0.0.1 is a loopback or private address, which this hub does not call; give a public URL (or set `websub.allow_private_callbacks` on this server)")
        );
        assert_eq!(refuse_callback(&url, true), None);
        let v6 = url::Url::parse("http://[::1]:9/push").unwrap();
        assert!(refuse_callback(&v6, false).is_some());
        let named = url::Url::parse("https://reader.example.org/push").unwrap();
        assert_eq!(refuse_callback(&named, false), None);
        let ftp = url::Url::parse("ftp://reader.example.org/push").unwrap();
        assert!(refuse_callback(&ftp, true).is_some());
    }

    #[tokio::test]
    async fn the_public_only_resolver_gives_nothing_for_localhost() {
        let err = PublicOnly
            .resolve("localhost".parse::<Name>().unwrap())
            .await
            .err()
            .map(|err| err.to_string());
        assert_eq!(
            err.as_deref(),
            Some("localhost resolves to no public address")
        );
    }
}
