//! Which IP addresses are never a customer's public endpoint, and why: the forbidden ranges and the IPv6
//! forms (mapped, compatible, NAT64, 6to4, Teredo) that carry an IPv4 address inside them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused. `Display` gives the phrase with its article, e.g. "a loopback address".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// 0.0.0.0 and `::`.
    Unspecified,
    /// 0.0.0.0/8 other than 0.0.0.0 ("this network", RFC 791/1122).
    ThisNetwork,
    /// 127.0.0.0/8 and `::1`.
    Loopback,
    /// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16.
    Private,
    /// 100.64.0.0/10 (carrier-grade NAT, RFC 6598).
    SharedAddressSpace,
    /// A cloud provider's instance metadata or platform endpoint (e.g. 169.254.169.254, fd00:ec2::254).
    CloudMetadata,
    /// 169.254.0.0/16 and fe80::/10.
    LinkLocal,
    /// fc00::/7.
    UniqueLocal,
    /// fec0::/10 (deprecated site-local).
    SiteLocal,
    /// 224.0.0.0/4 and ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 240.0.0.0/4, 192.88.99.0/24, and IPv6 space outside 2000::/3 not named by another class.
    Reserved,
    /// 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20.
    Documentation,
    /// 198.18.0.0/15 and 2001:2::/48.
    Benchmarking,
    /// 192.0.0.0/24 and 2001::/23 (other than Teredo, which is judged by what it embeds).
    IetfProtocolAssignment,
    /// 100::/64 (RFC 6666).
    DiscardOnly,
    /// 64:ff9b:1::/48 (RFC 8215), whose embedding is network-specific.
    LocalUseTranslation,
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressClass::Unspecified => "an unspecified address",
            AddressClass::ThisNetwork => "a \"this network\" address",
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private address",
            AddressClass::SharedAddressSpace => "a shared (carrier-grade NAT) address",
            AddressClass::CloudMetadata => "a cloud metadata address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::UniqueLocal => "a unique-local address",
            AddressClass::SiteLocal => "a site-local address",
            AddressClass::Multicast => "a multicast address",
            AddressClass::Broadcast => "a broadcast address",
            AddressClass::Reserved => "a reserved address",
            AddressClass::Documentation => "a documentation address",
            AddressClass::Benchmarking => "a benchmarking address",
            AddressClass::IetfProtocolAssignment => "an IETF protocol assignment address",
            AddressClass::DiscardOnly => "a discard-only address",
            AddressClass::LocalUseTranslation => "a local-use IPv4/IPv6 translation address",
        })
    }
}

/// How an IPv6 address carries the IPv4 address it was judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Embedding {
    /// ::ffff:0:0/96.
    Mapped,
    /// ::/96 (deprecated IPv4-compatible).
    Compatible,
    /// 64:ff9b::/96 (RFC 6052 well-known prefix).
    Nat64,
    /// 2002::/16.
    SixToFour,
    /// 2001::/32, the client address (stored inverted in the last 32 bits).
    TeredoClient,
    /// 2001::/32, the server address (bits 32..64).
    TeredoServer,
}

impl fmt::Display for Embedding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Embedding::Mapped => "IPv4-mapped",
            Embedding::Compatible => "IPv4-compatible",
            Embedding::Nat64 => "NAT64",
            Embedding::SixToFour => "6to4",
            Embedding::TeredoClient => "Teredo client",
            Embedding::TeredoServer => "Teredo server",
        })
    }
}

/// A refused address and the reason. `Display`: "127.0.0.1 is a loopback address" or
/// "::ffff:10.0.0.1 is the IPv4-mapped form of 10.0.0.1, a private address".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressRefusal {
    pub ip: IpAddr,
    pub class: AddressClass,
    /// Set when the refusal is about an IPv4 address carried inside the IPv6 address `ip`.
    pub embedded: Option<(Embedding, Ipv4Addr)>,
}

impl fmt::Display for AddressRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.embedded {
            None => write!(f, "{} is {}", self.ip, self.class),
            Some((embedding, v4)) => write!(
                f,
                "{} is the {embedding} form of {v4}, {}",
                self.ip, self.class
            ),
        }
    }
}

/// Cloud platform endpoints that get the `CloudMetadata` reason. Most sit inside ranges that are refused
/// anyway; 168.63.129.16 (Azure WireServer) is otherwise a public address.
const CLOUD_METADATA_V4: [Ipv4Addr; 6] = [
    Ipv4Addr::new(169, 254, 169, 254), // AWS, GCP, Azure, OCI, DigitalOcean, OpenStack
    Ipv4Addr::new(169, 254, 170, 2),   // AWS ECS task metadata
    Ipv4Addr::new(169, 254, 170, 23),  // AWS EKS pod identity
    Ipv4Addr::new(100, 100, 100, 200), // Alibaba Cloud
    Ipv4Addr::new(168, 63, 129, 16),   // Azure WireServer
    Ipv4Addr::new(192, 0, 0, 192),     // Oracle Cloud (legacy)
];

const CLOUD_METADATA_V6: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254), // AWS IMDS over IPv6
    Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0023), // AWS EKS pod identity over IPv6
];

/// Judges an address on its own (no allowance applied): `None` when it is an ordinary public unicast address.
pub fn classify(ip: IpAddr) -> Option<AddressRefusal> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4).map(|class| AddressRefusal {
            ip,
            class,
            embedded: None,
        }),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// The IPv4 address an IPv4-mapped IPv6 address (::ffff:a.b.c.d) stands for; such an address is the same
/// socket destination as its IPv4 address.
pub fn mapped_ipv4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    if s[..5] == [0, 0, 0, 0, 0] && s[5] == 0xffff {
        Some(low_ipv4(v6))
    } else {
        None
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    let o = ip.octets();
    let class = if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if CLOUD_METADATA_V4.contains(&ip) {
        AddressClass::CloudMetadata
    } else if ip.is_broadcast() {
        AddressClass::Broadcast
    } else if o[0] == 0 {
        AddressClass::ThisNetwork
    } else if o[0] == 127 {
        AddressClass::Loopback
    } else if o[0] == 10 || (o[0] == 172 && (o[1] & 0xf0) == 16) || (o[0] == 192 && o[1] == 168) {
        AddressClass::Private
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        AddressClass::SharedAddressSpace
    } else if o[0] == 169 && o[1] == 254 {
        AddressClass::LinkLocal
    } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        AddressClass::IetfProtocolAssignment
    } else if (o[0] == 192 && o[1] == 0 && o[2] == 2)
        || (o[0] == 198 && o[1] == 51 && o[2] == 100)
        || (o[0] == 203 && o[1] == 0 && o[2] == 113)
    {
        AddressClass::Documentation
    } else if o[0] == 198 && (o[1] & 0xfe) == 18 {
        AddressClass::Benchmarking
    } else if o[0] == 192 && o[1] == 88 && o[2] == 99 {
        AddressClass::Reserved
    } else if (o[0] & 0xf0) == 224 {
        AddressClass::Multicast
    } else if (o[0] & 0xf0) == 240 {
        AddressClass::Reserved
    } else {
        return None;
    };
    Some(class)
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressRefusal> {
    let s = ip.segments();
    let plain = |class| {
        Some(AddressRefusal {
            ip: IpAddr::V6(ip),
            class,
            embedded: None,
        })
    };
    if ip.is_unspecified() {
        return plain(AddressClass::Unspecified);
    }
    if ip.is_loopback() {
        return plain(AddressClass::Loopback);
    }
    if let Some(v4) = mapped_ipv4(ip) {
        return judge_embedded(ip, Embedding::Mapped, v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] {
        return judge_embedded(ip, Embedding::Compatible, low_ipv4(ip));
    }
    if s[..6] == [0x0064, 0xff9b, 0, 0, 0, 0] {
        return judge_embedded(ip, Embedding::Nat64, low_ipv4(ip));
    }
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001 {
        return plain(AddressClass::LocalUseTranslation);
    }
    if s[0] == 0x2002 {
        let v4 = Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
        return judge_embedded(ip, Embedding::SixToFour, v4);
    }
    if s[0] == 0x2001 && s[1] == 0 {
        let server = Ipv4Addr::new((s[2] >> 8) as u8, s[2] as u8, (s[3] >> 8) as u8, s[3] as u8);
        let client = Ipv4Addr::from(!u32::from(low_ipv4(ip)));
        return judge_embedded(ip, Embedding::TeredoClient, client)
            .or_else(|| judge_embedded(ip, Embedding::TeredoServer, server));
    }
    if CLOUD_METADATA_V6.contains(&ip) {
        return plain(AddressClass::CloudMetadata);
    }
    let class = if s[0] == 0x2001 && s[1] == 0x0002 && s[2] == 0 {
        AddressClass::Benchmarking
    } else if s[0] == 0x2001 && s[1] < 0x0200 {
        AddressClass::IetfProtocolAssignment
    } else if (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] == 0x3fff && s[1] < 0x1000) {
        AddressClass::Documentation
    } else if s[..4] == [0x0100, 0, 0, 0] {
        AddressClass::DiscardOnly
    } else if (s[0] & 0xff00) == 0xff00 {
        AddressClass::Multicast
    } else if (s[0] & 0xffc0) == 0xfe80 {
        AddressClass::LinkLocal
    } else if (s[0] & 0xffc0) == 0xfec0 {
        AddressClass::SiteLocal
    } else if (s[0] & 0xfe00) == 0xfc00 {
        AddressClass::UniqueLocal
    } else if (s[0] & 0xe000) != 0x2000 {
        // Everything outside global unicast 2000::/3 that no rule above named.
        AddressClass::Reserved
    } else {
        return None;
    };
    plain(class)
}

fn judge_embedded(ip: Ipv6Addr, embedding: Embedding, v4: Ipv4Addr) -> Option<AddressRefusal> {
    classify_v4(v4).map(|class| AddressRefusal {
        ip: IpAddr::V6(ip),
        class,
        embedded: Some((embedding, v4)),
    })
}

fn low_ipv4(ip: Ipv6Addr) -> Ipv4Addr {
    let o = ip.octets();
    Ipv4Addr::new(o[12], o[13], o[14], o[15])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class_of(s: &str) -> Option<AddressClass> {
        let ip: IpAddr = s.parse().expect("test address parses");
        classify(ip).map(|r| r.class)
    }

    #[test]
    fn public_addresses_pass() {
        for s in [
            "93.184.215.14",
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "172.15.255.255",
            "100.128.0.1",
            "100.63.255.255",
            "198.20.0.1",
            "223.255.255.254",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:93.184.215.14",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(class_of(s), None, "{s} should be public");
        }
    }

    #[test]
    fn range_boundaries() {
        assert_eq!(class_of("172.16.0.0"), Some(AddressClass::Private));
        assert_eq!(class_of("172.31.255.255"), Some(AddressClass::Private));
        assert_eq!(
            class_of("100.64.0.0"),
            Some(AddressClass::SharedAddressSpace)
        );
        assert_eq!(
            class_of("100.127.255.255"),
            Some(AddressClass::SharedAddressSpace)
        );
        assert_eq!(class_of("198.19.255.255"), Some(AddressClass::Benchmarking));
        assert_eq!(class_of("0.1.2.3"), Some(AddressClass::ThisNetwork));
        assert_eq!(class_of("239.255.255.255"), Some(AddressClass::Multicast));
        assert_eq!(class_of("254.0.0.1"), Some(AddressClass::Reserved));
        assert_eq!(class_of("192.88.99.1"), Some(AddressClass::Reserved));
        assert_eq!(class_of("fbff::1"), Some(AddressClass::Reserved));
        assert_eq!(class_of("fc00::1"), Some(AddressClass::UniqueLocal));
        assert_eq!(class_of("fdff::1"), Some(AddressClass::UniqueLocal));
        assert_eq!(class_of("febf::1"), Some(AddressClass::LinkLocal));
        assert_eq!(class_of("fec0::1"), Some(AddressClass::SiteLocal));
        assert_eq!(class_of("feff::1"), Some(AddressClass::SiteLocal));
        assert_eq!(class_of("3fff:fff::1"), Some(AddressClass::Documentation));
        assert_eq!(class_of("2001:2::1"), Some(AddressClass::Benchmarking));
        assert_eq!(
            class_of("2001:1ff::1"),
            Some(AddressClass::IetfProtocolAssignment)
        );
        assert_eq!(class_of("100::1"), Some(AddressClass::DiscardOnly));
        assert_eq!(
            class_of("64:ff9b:1::a00:1"),
            Some(AddressClass::LocalUseTranslation)
        );
        assert_eq!(class_of("5f00::1"), Some(AddressClass::Reserved));
    }

    #[test]
    fn teredo_is_judged_by_both_embedded_addresses() {
        // Server 65.54.227.120 (public), client 157.60.0.1 stored inverted: 0x62c3fffe.
        assert_eq!(class_of("2001:0:4136:e378:8000:63bf:62c3:fffe"), None);
        // Client 127.0.0.1 stored inverted: 0x80fffffe.
        let r = classify(
            "2001:0:4136:e378:8000:63bf:80ff:fffe"
                .parse()
                .expect("parses"),
        )
        .expect("refused");
        assert_eq!(
            r.embedded,
            Some((Embedding::TeredoClient, Ipv4Addr::LOCALHOST))
        );
        // Server 10.0.0.1, client public.
        let r =
            classify("2001:0:a00:1:8000:63bf:62c3:fffe".parse().expect("parses")).expect("refused");
        assert_eq!(
            r.embedded,
            Some((Embedding::TeredoServer, Ipv4Addr::new(10, 0, 0, 1)))
        );
    }

    #[test]
    fn refusal_messages() {
        let r = classify("::ffff:10.0.0.1".parse().expect("parses")).expect("refused");
        assert_eq!(
            r.to_string(),
            "::ffff:10.0.0.1 is the IPv4-mapped form of 10.0.0.1, a private address"
        );
        let r = classify("169.254.169.254".parse().expect("parses")).expect("refused");
        assert_eq!(r.to_string(), "169.254.169.254 is a cloud metadata address");
    }
}
