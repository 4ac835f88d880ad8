//! `no_proxy` / `NO_PROXY` matching with Go's `net/http/httpproxy` rules,
//! which the seed's components follow: entries are IPs, CIDRs or domains,
//! IPs and domains may carry a port, `foo.com` also matches its subdomains,
//! `.foo.com` and `*.foo.com` only the subdomains, `*` everything; and
//! `localhost` and loopback addresses are never proxied.
//! (hyper-util's matcher has no port support, hence this module.)

use reqwest::Url;
use std::net::IpAddr;

#[derive(Debug, Default, Clone)]
pub(crate) struct NoProxy {
    all: bool,
    cidrs: Vec<(IpAddr, u8)>,
    ips: Vec<(IpAddr, Option<u16>)>,
    domains: Vec<Domain>,
}

#[derive(Debug, Clone)]
struct Domain {
    /// Lowercase, always starting with a dot.
    suffix: String,
    /// Also matches the domain itself, not only its subdomains.
    match_host: bool,
    port: Option<u16>,
}

impl NoProxy {
    pub(crate) fn parse(list: &str) -> Self {
        let mut out = NoProxy::default();
        for entry in list.split(',') {
            let p = entry.trim().to_ascii_lowercase();
            if p.is_empty() {
                continue;
            }
            if p == "*" {
                out.all = true;
                continue;
            }
            if let Some(cidr) = parse_cidr(&p) {
                out.cidrs.push(cidr);
                continue;
            }
            let Some((host, port)) = split_host_port(&p) else {
                continue;
            };
            if let Ok(ip) = host.parse::<IpAddr>() {
                out.ips.push((ip, port));
                continue;
            }
            let host = host
                .strip_prefix('*')
                .filter(|h| h.starts_with('.'))
                .unwrap_or(host);
            if host.is_empty() || host == "." {
                continue;
            }
            let (suffix, match_host) = match host.starts_with('.') {
                true => (host.to_string(), false),
                false => (format!(".{host}"), true),
            };
            out.domains.push(Domain {
                suffix,
                match_host,
                port,
            });
        }
        out
    }

    /// True when a request to `url` must not go through the proxy.
    pub(crate) fn bypass(&self, url: &Url) -> bool {
        let port = url.port_or_known_default();
        let (host, ip) = match url.host() {
            Some(url::Host::Domain(d)) => (d.to_ascii_lowercase(), d.parse::<IpAddr>().ok()),
            Some(url::Host::Ipv4(v4)) => (v4.to_string(), Some(IpAddr::V4(v4))),
            Some(url::Host::Ipv6(v6)) => (v6.to_string(), Some(IpAddr::V6(v6))),
            None => return false,
        };
        if host == "localhost" || ip.is_some_and(|ip| ip.is_loopback()) || self.all {
            return true;
        }
        let port_ok = |want: Option<u16>| want.is_none() || want == port;
        if let Some(ip) = ip {
            if self
                .cidrs
                .iter()
                .any(|(net, bits)| in_cidr(ip, *net, *bits))
                || self.ips.iter().any(|(m, p)| *m == ip && port_ok(*p))
            {
                return true;
            }
        }
        self.domains.iter().any(|d| {
            (host.ends_with(&d.suffix) || (d.match_host && host == d.suffix[1..]))
                && port_ok(d.port)
        })
    }
}

fn parse_cidr(p: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = p.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address. `None`
/// for an entry whose port is not a number (it could never match).
fn split_host_port(p: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = p.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(port) => Some((host, Some(port.parse().ok()?))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match p.split_once(':') {
        Some((host, port)) if !port.contains(':') => Some((host, Some(port.parse().ok()?))),
        _ => Some((p, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bypass(list: &str, url: &str) -> bool {
        NoProxy::parse(list).bypass(&Url::parse(url).unwrap())
    }

    #[test]
    fn go_httpproxy_rules() {
        let list = "10.0.0.0/8, 192.168.1.5:8080, foo.com, .bar.com, *.baz.com:443, [2001:db8::1]:9000, 2001:db8::2";
        let cases = [
            ("http://10.1.2.3/", true),
            ("http://11.1.2.3/", false),
            ("http://192.168.1.5:8080/", true),
            ("http://192.168.1.5:8081/", false),
            ("http://foo.com/", true),
            ("http://a.foo.com:9999/", true),
            ("http://notfoo.com/", false),
            ("http://bar.com/", false),
            ("http://x.bar.com/", true),
            ("https://x.baz.com/", true),
            ("http://x.baz.com/", false),
            ("http://[2001:db8::1]:9000/", true),
            ("http://[2001:db8::1]:9001/", false),
            ("http://[2001:db8::2]:1/", true),
            ("http://localhost:1234/", true),
            ("http://127.0.0.2/", true),
            ("http://[::1]/", true),
            ("http://example.com/", false),
        ];
        for (url, want) in cases {
            assert_eq!(bypass(list, url), want, "{url}");
        }
    }

    #[test]
    fn star_and_junk() {
        assert!(bypass("*", "http://anything.example/"));
        assert!(!bypass("foo.com:notaport, , :80", "http://foo.com/"));
        assert!(!bypass("10.0.0.0/33", "http://10.0.0.1/"));
        assert!(bypass("0.0.0.0/0", "http://8.8.8.8/"));
    }
}
