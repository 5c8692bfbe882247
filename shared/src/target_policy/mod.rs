//! The SSRF guard: which delivery URLs may be saved and which resolved addresses a delivery may connect to.
//!
//! Two checks, at two moments:
//!
//! * **Save time** — [`TargetPolicy::check_url`] judges the URL string a customer configures: scheme, credentials,
//!   port, IP literals in every form the WHATWG URL parser normalises (`127.1`, `2130706433`, `0x7f000001`,
//!   `[::ffff:127.0.0.1]`, …) and names of the platform itself (`localhost`, `*.internal`, …).
//! * **Connect time** — [`PolicyResolver`] is a `reqwest` DNS resolver that judges every address a name resolves
//!   to with [`TargetPolicy::check_ip`] and refuses the whole answer if any one of them is refused, so a name that
//!   resolved to a public address when saved and to 127.0.0.1 now (DNS rebinding) is not dialled.
//!
//! `reqwest` does **not** call the DNS resolver when a URL's host is an IP literal. So the sending code must
//! (1) call `check_url` right before every send, not only at save time, and (2) build its client with
//! [`guarded_client_builder`], which never follows a redirect (a `Location` could name any address) and uses no
//! proxy (a proxy would resolve names behind the guard's back).

mod address_class;
mod client;
mod host_name;
mod resolver;

#[cfg(test)]
mod loopback_fixture;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use url::{Host, Url};

pub use address_class::{AddressClass, AddressRefusal, Embedding, classify};
pub use client::guarded_client_builder;
pub use host_name::NameClass;
pub use resolver::{HostResolver, PolicyResolver, ResolveFuture, SystemResolver};

/// Which ports a delivery URL may name (explicitly or through its scheme's default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortAllowance {
    /// Only these ports.
    Only(Vec<u16>),
    /// Any port from 1 to 65535 (port 0 is never allowed).
    Any,
}

impl PortAllowance {
    /// The strict default: 80 and 443.
    pub fn web_defaults() -> PortAllowance {
        PortAllowance::Only(vec![80, 443])
    }

    pub fn allows(&self, port: u16) -> bool {
        match self {
            PortAllowance::Only(ports) => ports.contains(&port),
            PortAllowance::Any => port != 0,
        }
    }
}

/// Lists the allowed ports as error messages show them: `80, 443`, `1-65535`, or `none`.
impl fmt::Display for PortAllowance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortAllowance::Any => f.write_str("1-65535"),
            PortAllowance::Only(ports) if ports.is_empty() => f.write_str("none"),
            PortAllowance::Only(ports) => {
                for (i, port) in ports.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{port}")?;
                }
                Ok(())
            }
        }
    }
}

/// Why a URL, host or address is refused, or why a policy setting could not be read. Messages are written for
/// the person who configured the URL or the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("the URL has no scheme: start it with https://")]
    MissingScheme,
    #[error("the URL is not valid: {0}")]
    InvalidUrl(url::ParseError),
    #[error("the scheme `{scheme}` is not allowed: use http or https")]
    SchemeNotAllowed { scheme: String },
    #[error("URLs with credentials are not allowed")]
    Credentials,
    #[error("the URL has no host")]
    MissingHost,
    #[error("`{host}` is not a valid host name")]
    InvalidHostName { host: String },
    #[error("port {port} is not allowed (allowed: {allowed})")]
    PortNotAllowed { port: u16, allowed: PortAllowance },
    #[error("{0}, which is not allowed")]
    AddressNotAllowed(AddressRefusal),
    #[error("`{host}` names the platform itself, which is not allowed")]
    LocalhostName { host: String },
    #[error("`{host}` is a platform-internal name, which is not allowed")]
    InternalName { host: String },
    #[error("the host `{host}` could not be resolved: {reason}")]
    Unresolvable { host: String, reason: String },
    #[error("the host `{host}` resolved to no addresses")]
    NoAddresses { host: String },
    #[error("the host `{host}` resolved to a refused address: {refusal}, which is not allowed")]
    ResolvedAddressNotAllowed {
        host: String,
        refusal: AddressRefusal,
    },
    #[error(
        "`{input}` is not a network: write an address or a CIDR range, e.g. 127.0.0.0/8,::1/128"
    )]
    InvalidNetwork { input: String },
    #[error(
        "`{input}` is not a port: write numbers from 1 to 65535 separated by commas, e.g. 8080,9000, or `any`"
    )]
    InvalidPort { input: String },
    #[error("the port list is empty: write numbers separated by commas, e.g. 8080,9000, or `any`")]
    NoPorts,
}

impl From<url::ParseError> for TargetError {
    fn from(error: url::ParseError) -> Self {
        match error {
            url::ParseError::RelativeUrlWithoutBase => TargetError::MissingScheme,
            other => TargetError::InvalidUrl(other),
        }
    }
}

/// What delivery URLs may point at. Strict by default; tests and local setups open address ranges and ports.
///
/// Only `http` and `https` are ever allowed. An address inside an allowed network is allowed whatever its class;
/// an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) counts as its IPv4 address for that. When the allowed networks
/// contain 127.0.0.1 or ::1, the `localhost` names are allowed too (every address they resolve to is still
/// checked at connect time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPolicy {
    allowed_networks: Vec<IpNet>,
    ports: PortAllowance,
}

impl Default for TargetPolicy {
    fn default() -> Self {
        TargetPolicy::strict()
    }
}

impl TargetPolicy {
    /// Default: http/https only, ports 80 and 443 only, no forbidden address range allowed.
    pub fn strict() -> TargetPolicy {
        TargetPolicy {
            allowed_networks: Vec::new(),
            ports: PortAllowance::web_defaults(),
        }
    }

    /// Open address ranges for local use/tests. Replaces any networks set before.
    pub fn with_allowed_networks(mut self, nets: Vec<IpNet>) -> TargetPolicy {
        self.allowed_networks = nets;
        self
    }

    /// Open ports for local use/tests. Replaces the ports set before.
    pub fn with_allowed_ports(mut self, ports: PortAllowance) -> TargetPolicy {
        self.ports = ports;
        self
    }

    pub fn allowed_networks(&self) -> &[IpNet] {
        &self.allowed_networks
    }

    pub fn allowed_ports(&self) -> &PortAllowance {
        &self.ports
    }

    /// Parses the networks setting: comma-separated CIDR ranges, e.g. `127.0.0.0/8,::1/128`. A bare IP means /32
    /// or /128; host bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`). Spaces and empty items are ignored, so an
    /// empty string means no network.
    pub fn parse_networks(s: &str) -> Result<Vec<IpNet>, TargetError> {
        s.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                if let Ok(ip) = item.parse::<IpAddr>() {
                    return Ok(IpNet::from(ip));
                }
                item.parse::<IpNet>().map(|net| net.trunc()).map_err(|_| {
                    TargetError::InvalidNetwork {
                        input: item.to_owned(),
                    }
                })
            })
            .collect()
    }

    /// Parses the ports setting: comma-separated ports, e.g. `8080,9000`, or `any` (any case).
    pub fn parse_ports(s: &str) -> Result<PortAllowance, TargetError> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("any") {
            return Ok(PortAllowance::Any);
        }
        let mut ports = Vec::new();
        for item in s.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            match item.parse::<u16>() {
                Ok(port) if port != 0 => {
                    if !ports.contains(&port) {
                        ports.push(port);
                    }
                }
                _ => {
                    return Err(TargetError::InvalidPort {
                        input: item.to_owned(),
                    });
                }
            }
        }
        if ports.is_empty() {
            return Err(TargetError::NoPorts);
        }
        Ok(PortAllowance::Only(ports))
    }

    /// Save-time check of a URL string. Returns the parsed `url::Url`.
    ///
    /// Checks the scheme (http/https), credentials (none), the port (explicit or the scheme's default), an IP
    /// literal host with [`check_ip`](Self::check_ip), and a name host with [`check_host_name`](Self::check_host_name).
    /// A public-looking name passes here; the addresses it resolves to are judged at connect time by
    /// [`PolicyResolver`].
    ///
    /// `reqwest` does not call the DNS resolver for IP-literal hosts, so call this right before every send as well,
    /// not only when the URL is saved.
    pub fn check_url(&self, url: &str) -> Result<Url, TargetError> {
        let parsed = Url::parse(url)?;
        let scheme = parsed.scheme();
        if scheme != "http" && scheme != "https" {
            return Err(TargetError::SchemeNotAllowed {
                scheme: scheme.to_owned(),
            });
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(TargetError::Credentials);
        }
        let host = parsed.host().ok_or(TargetError::MissingHost)?;
        let port = parsed.port_or_known_default().unwrap_or(0);
        if !self.ports.allows(port) {
            return Err(TargetError::PortNotAllowed {
                port,
                allowed: self.ports.clone(),
            });
        }
        match host {
            Host::Ipv4(v4) => self.check_ip(IpAddr::V4(v4))?,
            Host::Ipv6(v6) => self.check_ip(IpAddr::V6(v6))?,
            Host::Domain(name) => self.check_host_name(name)?,
        }
        Ok(parsed)
    }

    /// Connect-time check of an address actually dialled.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), TargetError> {
        match self.refusal(ip) {
            Some(refusal) => Err(TargetError::AddressNotAllowed(refusal)),
            None => Ok(()),
        }
    }

    /// Why `ip` is refused under this policy, or `None` when it may be dialled.
    pub fn refusal(&self, ip: IpAddr) -> Option<AddressRefusal> {
        if self.in_allowed_network(ip) {
            return None;
        }
        classify(ip)
    }

    /// Checks a host name (not an IP literal) as a URL carries it, in ASCII form: `localhost` and `*.localhost`
    /// (unless loopback is allowed) and platform-internal names such as `metadata.google.internal` are refused.
    /// Case and one trailing dot are ignored.
    pub fn check_host_name(&self, host: &str) -> Result<(), TargetError> {
        let name = host_name::normalise(host);
        if name.is_empty() || name.starts_with('.') {
            return Err(TargetError::InvalidHostName {
                host: host.to_owned(),
            });
        }
        match host_name::classify_name(&name) {
            None => Ok(()),
            Some(NameClass::Localhost) if self.allows_loopback() => Ok(()),
            Some(NameClass::Localhost) => Err(TargetError::LocalhostName { host: name }),
            Some(NameClass::PlatformInternal) => Err(TargetError::InternalName { host: name }),
        }
    }

    fn in_allowed_network(&self, ip: IpAddr) -> bool {
        let mapped = match ip {
            IpAddr::V6(v6) => address_class::mapped_ipv4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        self.allowed_networks
            .iter()
            .any(|net| net.contains(&ip) || mapped.is_some_and(|v4| net.contains(&v4)))
    }

    fn allows_loopback(&self) -> bool {
        self.in_allowed_network(IpAddr::V4(Ipv4Addr::LOCALHOST))
            || self.in_allowed_network(IpAddr::V6(Ipv6Addr::LOCALHOST))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a refused case must be refused as.
    #[derive(Debug, Clone, Copy)]
    enum Expect {
        Scheme,
        Credentials,
        Port,
        Address(AddressClass),
        Localhost,
        Internal,
        Invalid,
    }

    fn matches(error: &TargetError, expect: Expect) -> bool {
        match (error, expect) {
            (TargetError::SchemeNotAllowed { .. }, Expect::Scheme)
            | (TargetError::Credentials, Expect::Credentials)
            | (TargetError::PortNotAllowed { .. }, Expect::Port)
            | (TargetError::LocalhostName { .. }, Expect::Localhost)
            | (TargetError::InternalName { .. }, Expect::Internal) => true,
            (
                TargetError::MissingScheme | TargetError::InvalidUrl(_) | TargetError::MissingHost,
                Expect::Invalid,
            ) => true,
            (TargetError::AddressNotAllowed(refusal), Expect::Address(class)) => {
                refusal.class == class
            }
            _ => false,
        }
    }

    use AddressClass as C;

    /// URLs the strict policy refuses at save time.
    const REFUSED_URLS: &[(&str, Expect)] = &[
        // Schemes, credentials, missing parts.
        ("file:///etc/passwd", Expect::Scheme),
        ("gopher://hooks.example.com:70/_x", Expect::Scheme),
        ("ftp://hooks.example.com/x", Expect::Scheme),
        ("javascript:alert(1)", Expect::Scheme),
        ("data:text/plain,hi", Expect::Scheme),
        ("ws://hooks.example.com/x", Expect::Scheme),
        ("dict://hooks.example.com:11211/", Expect::Scheme),
        (
            "https://user:secret@hooks.example.com/x",
            Expect::Credentials,
        ),
        ("https://user@hooks.example.com/x", Expect::Credentials),
        ("https://:secret@hooks.example.com/x", Expect::Credentials),
        ("hooks.example.com/x", Expect::Invalid),
        ("http://", Expect::Invalid),
        ("http://[::1/", Expect::Invalid),
        // Ports.
        ("http://hooks.example.com:8080/", Expect::Port),
        ("https://hooks.example.com:22/", Expect::Port),
        ("http://hooks.example.com:0/", Expect::Port),
        ("https://hooks.example.com:6379/", Expect::Port),
        // IPv4 literals in every normalised form.
        ("http://127.0.0.1/", Expect::Address(C::Loopback)),
        ("http://127.1/", Expect::Address(C::Loopback)),
        ("http://2130706433/", Expect::Address(C::Loopback)),
        ("http://0177.0.0.1/", Expect::Address(C::Loopback)),
        ("http://0x7f000001/", Expect::Address(C::Loopback)),
        ("http://0x7f.0.0.1/", Expect::Address(C::Loopback)),
        ("http://127.0.0.%31/", Expect::Address(C::Loopback)),
        ("http://0.0.0.0/", Expect::Address(C::Unspecified)),
        ("http://0/", Expect::Address(C::Unspecified)),
        ("http://10.0.0.5/", Expect::Address(C::Private)),
        ("http://172.16.3.4/", Expect::Address(C::Private)),
        ("https://192.168.1.1/", Expect::Address(C::Private)),
        ("http://100.64.0.1/", Expect::Address(C::SharedAddressSpace)),
        (
            "http://169.254.169.254/latest/meta-data/",
            Expect::Address(C::CloudMetadata),
        ),
        ("http://0xa9fea9fe/", Expect::Address(C::CloudMetadata)),
        ("http://169.254.1.1/", Expect::Address(C::LinkLocal)),
        ("http://224.0.0.1/", Expect::Address(C::Multicast)),
        ("http://255.255.255.255/", Expect::Address(C::Broadcast)),
        ("http://240.0.0.1/", Expect::Address(C::Reserved)),
        ("http://0.1.2.3/", Expect::Address(C::ThisNetwork)),
        ("http://192.0.2.10/", Expect::Address(C::Documentation)),
        ("http://198.51.100.7/", Expect::Address(C::Documentation)),
        ("http://203.0.113.9/", Expect::Address(C::Documentation)),
        ("http://198.18.0.1/", Expect::Address(C::Benchmarking)),
        (
            "http://192.0.0.8/",
            Expect::Address(C::IetfProtocolAssignment),
        ),
        // IPv6 literals.
        ("http://[::1]/", Expect::Address(C::Loopback)),
        ("http://[0:0:0:0:0:0:0:1]/", Expect::Address(C::Loopback)),
        ("http://[::]/", Expect::Address(C::Unspecified)),
        ("http://[::ffff:127.0.0.1]/", Expect::Address(C::Loopback)),
        ("http://[::ffff:7f00:1]/", Expect::Address(C::Loopback)),
        (
            "http://[::ffff:a9fe:a9fe]/",
            Expect::Address(C::CloudMetadata),
        ),
        ("http://[::127.0.0.1]/", Expect::Address(C::Loopback)),
        ("http://[::10.0.0.1]/", Expect::Address(C::Private)),
        ("http://[64:ff9b::127.0.0.1]/", Expect::Address(C::Loopback)),
        (
            "http://[64:ff9b::a9fe:a9fe]/",
            Expect::Address(C::CloudMetadata),
        ),
        ("http://[2002:a00:1::1]/", Expect::Address(C::Private)),
        ("http://[2002:7f00:1::]/", Expect::Address(C::Loopback)),
        (
            "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
            Expect::Address(C::Loopback),
        ),
        ("http://[fe80::1]/", Expect::Address(C::LinkLocal)),
        ("http://[fc00::1]/", Expect::Address(C::UniqueLocal)),
        ("http://[fd12:3456::1]/", Expect::Address(C::UniqueLocal)),
        ("http://[fd00:ec2::254]/", Expect::Address(C::CloudMetadata)),
        ("http://[fec0::1]/", Expect::Address(C::SiteLocal)),
        ("http://[ff02::1]/", Expect::Address(C::Multicast)),
        ("http://[2001:db8::1]/", Expect::Address(C::Documentation)),
        // Names of the platform itself.
        ("http://localhost/", Expect::Localhost),
        ("http://LOCALHOST/", Expect::Localhost),
        ("http://localhost./", Expect::Localhost),
        ("http://localhost../", Expect::Localhost),
        ("http://api.localhost/", Expect::Localhost),
        ("http://Api.LocalHost./x", Expect::Localhost),
        ("http://ｌｏｃａｌｈｏｓｔ/", Expect::Localhost),
        ("http://ip6-localhost/", Expect::Localhost),
        (
            "http://metadata.google.internal/computeMetadata/v1/",
            Expect::Internal,
        ),
        ("http://metadata.google.internal./", Expect::Internal),
        ("http://metadata/", Expect::Internal),
        ("http://db.corp.internal/", Expect::Internal),
        ("http://printer.local/", Expect::Internal),
        ("http://router.home.arpa/", Expect::Internal),
    ];

    /// Addresses the strict policy refuses at connect time.
    const REFUSED_IPS: &[(&str, AddressClass)] = &[
        ("0.0.0.0", C::Unspecified),
        ("::", C::Unspecified),
        ("127.0.0.1", C::Loopback),
        ("127.255.255.254", C::Loopback),
        ("::1", C::Loopback),
        ("10.255.255.255", C::Private),
        ("172.31.0.1", C::Private),
        ("192.168.0.1", C::Private),
        ("100.127.255.254", C::SharedAddressSpace),
        ("100.100.100.200", C::CloudMetadata),
        ("169.254.169.254", C::CloudMetadata),
        ("169.254.170.2", C::CloudMetadata),
        ("168.63.129.16", C::CloudMetadata),
        ("169.254.0.1", C::LinkLocal),
        ("fe80::abcd", C::LinkLocal),
        ("fd00:ec2::254", C::CloudMetadata),
        ("fdff:ffff::1", C::UniqueLocal),
        ("fec0::5", C::SiteLocal),
        ("239.1.2.3", C::Multicast),
        ("ff05::2", C::Multicast),
        ("255.255.255.255", C::Broadcast),
        ("250.1.2.3", C::Reserved),
        ("0.0.0.1", C::ThisNetwork),
        ("192.0.2.1", C::Documentation),
        ("2001:db8:85a3::8a2e:370:7334", C::Documentation),
        ("198.19.1.1", C::Benchmarking),
        ("192.0.0.170", C::IetfProtocolAssignment),
        ("::ffff:10.1.2.3", C::Private),
        ("::ffff:0.0.0.0", C::Unspecified),
        ("::7f00:1", C::Loopback),
        ("64:ff9b::c0a8:101", C::Private),
        ("64:ff9b::6440:1", C::SharedAddressSpace),
        ("2002:c0a8:101::1", C::Private),
        ("2002:a9fe:a9fe::", C::CloudMetadata),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", C::Private),
    ];

    #[test]
    fn refused_urls() {
        let policy = TargetPolicy::strict();
        for (url, expect) in REFUSED_URLS {
            match policy.check_url(url) {
                Ok(parsed) => panic!("{url} was allowed as {parsed}"),
                Err(error) => assert!(
                    matches(&error, *expect),
                    "{url}: expected {expect:?}, got {error:?}"
                ),
            }
        }
    }

    #[test]
    fn refused_ips() {
        let policy = TargetPolicy::strict();
        for (ip, class) in REFUSED_IPS {
            let parsed: IpAddr = ip.parse().unwrap_or_else(|_| panic!("{ip} parses"));
            match policy.check_ip(parsed) {
                Err(TargetError::AddressNotAllowed(refusal)) => {
                    assert_eq!(refusal.class, *class, "{ip}: {refusal}");
                    assert_eq!(refusal.ip, parsed);
                }
                other => panic!("{ip}: expected a refusal as {class:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn corpus_is_large_enough() {
        assert!(REFUSED_URLS.len() + REFUSED_IPS.len() >= 45);
    }

    #[test]
    fn allowed_urls() {
        let policy = TargetPolicy::strict();
        for url in [
            "https://hooks.example.com/x",
            "http://93.184.215.14/",
            "https://hooks.example.com:443/x",
            "http://hooks.example.com:80/x",
            "https://hooks.example.com./x",
            "https://bücher.example/hook",
            "https://xn--bcher-kva.example/hook",
            "https://[2606:4700:4700::1111]/",
            "http://[::ffff:93.184.215.14]/",
            "http://[64:ff9b::5db8:d70e]/",
            "https://localhost.example.com/",
            "https://hooks.example.com/x?token=a@b",
        ] {
            if let Err(error) = policy.check_url(url) {
                panic!("{url} was refused: {error}");
            }
        }
    }

    #[test]
    fn idn_is_checked_in_punycode() {
        let parsed = TargetPolicy::strict()
            .check_url("https://bücher.example/hook")
            .expect("allowed");
        assert_eq!(parsed.host_str(), Some("xn--bcher-kva.example"));
    }

    #[test]
    fn public_ips_pass() {
        let policy = TargetPolicy::strict();
        for ip in [
            "93.184.215.14",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(policy.check_ip(ip.parse().expect("parses")), Ok(()), "{ip}");
        }
    }

    #[test]
    fn messages_read_well() {
        let policy = TargetPolicy::strict();
        let message = |url: &str| policy.check_url(url).map(|_| ()).unwrap_err().to_string();
        assert_eq!(
            message("ftp://x.example/"),
            "the scheme `ftp` is not allowed: use http or https"
        );
        assert_eq!(
            message("http://x.example:8080/"),
            "port 8080 is not allowed (allowed: 80, 443)"
        );
        assert_eq!(
            message("http://u:p@x.example/"),
            "URLs with credentials are not allowed"
        );
        assert_eq!(
            message("http://127.0.0.1/"),
            "127.0.0.1 is a loopback address, which is not allowed"
        );
        assert_eq!(
            message("http://LocalHost./"),
            "`localhost` names the platform itself, which is not allowed"
        );
        assert_eq!(
            message("http://metadata.google.internal/"),
            "`metadata.google.internal` is a platform-internal name, which is not allowed"
        );
        assert_eq!(
            message("http://169.254.169.254/"),
            "169.254.169.254 is a cloud metadata address, which is not allowed"
        );
        assert_eq!(
            message("http://[::ffff:7f00:1]/"),
            "::ffff:127.0.0.1 is the IPv4-mapped form of 127.0.0.1, a loopback address, which is not allowed"
        );
        assert_eq!(
            message("x.example/hook"),
            "the URL has no scheme: start it with https://"
        );
    }

    #[test]
    fn allowances_open_ranges_and_ports() {
        let strict = TargetPolicy::strict();
        assert!(strict.check_url("http://127.0.0.1:8080/").is_err());

        let open = TargetPolicy::strict()
            .with_allowed_networks(TargetPolicy::parse_networks("127.0.0.0/8").expect("parses"))
            .with_allowed_ports(TargetPolicy::parse_ports("any").expect("parses"));
        assert!(open.check_url("http://127.0.0.1:8080/").is_ok());
        assert!(open.check_url("http://127.1:9000/").is_ok());
        assert_eq!(
            open.check_ip("::ffff:127.0.0.1".parse().expect("parses")),
            Ok(())
        );
        assert!(open.check_url("http://[::ffff:127.0.0.1]:8080/").is_ok());
        // Only the named range opens: other classes and ::1 stay refused, and so do embeddings other than mapped.
        assert!(open.check_url("http://10.0.0.1/").is_err());
        assert!(open.check_url("http://[::1]/").is_err());
        assert!(
            open.check_ip("64:ff9b::7f00:1".parse().expect("parses"))
                .is_err()
        );
        assert!(open.check_url("http://hooks.example.com:0/").is_err());
        // Loopback allowed, so `localhost` is too; internal names are not.
        assert!(open.check_url("http://localhost:8080/").is_ok());
        assert!(open.check_url("http://metadata.google.internal/").is_err());

        let ports_only = TargetPolicy::strict().with_allowed_ports(PortAllowance::Only(vec![8080]));
        assert!(
            ports_only
                .check_url("http://hooks.example.com:8080/")
                .is_ok()
        );
        assert!(ports_only.check_url("https://hooks.example.com/").is_err());
        assert!(ports_only.check_url("http://127.0.0.1:8080/").is_err());

        let v6 = TargetPolicy::strict()
            .with_allowed_networks(TargetPolicy::parse_networks("::1").expect("parses"));
        assert!(v6.check_url("http://[::1]/").is_ok());
        assert!(v6.check_url("http://127.0.0.1/").is_err());
    }

    #[test]
    fn parses_networks() {
        let nets =
            TargetPolicy::parse_networks(" 127.0.0.0/8, ::1/128 ,10.1.2.3/8,192.168.1.7,fd00::1,")
                .expect("parses");
        let shown: Vec<String> = nets.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "127.0.0.0/8",
                "::1/128",
                "10.0.0.0/8",
                "192.168.1.7/32",
                "fd00::1/128"
            ]
        );
        assert_eq!(TargetPolicy::parse_networks(""), Ok(vec![]));
        for bad in [
            "10.0.0.0/33",
            "localhost",
            "10.0.0",
            "::1/129",
            "1.2.3.4/x",
            "127.0.0.0/8;::1",
        ] {
            assert!(
                matches!(
                    TargetPolicy::parse_networks(bad),
                    Err(TargetError::InvalidNetwork { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn parses_ports() {
        assert_eq!(TargetPolicy::parse_ports("any"), Ok(PortAllowance::Any));
        assert_eq!(TargetPolicy::parse_ports(" ANY "), Ok(PortAllowance::Any));
        assert_eq!(
            TargetPolicy::parse_ports("8080,9000"),
            Ok(PortAllowance::Only(vec![8080, 9000]))
        );
        assert_eq!(
            TargetPolicy::parse_ports(" 443 , 443,80 "),
            Ok(PortAllowance::Only(vec![443, 80]))
        );
        assert_eq!(TargetPolicy::parse_ports(""), Err(TargetError::NoPorts));
        assert_eq!(TargetPolicy::parse_ports(" , "), Err(TargetError::NoPorts));
        for bad in ["0", "65536", "-1", "80;443", "http", "8080,any"] {
            assert!(
                matches!(
                    TargetPolicy::parse_ports(bad),
                    Err(TargetError::InvalidPort { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn odd_input_never_panics() {
        let policy = TargetPolicy::strict();
        for input in [
            "",
            " ",
            "http://",
            "http://[",
            "http://%",
            "http://.",
            "http://../",
            "https://xn--/",
            "\u{0}",
        ] {
            let _ = policy.check_url(input);
        }
        assert!(matches!(
            policy.check_host_name("."),
            Err(TargetError::InvalidHostName { .. })
        ));
        assert!(matches!(
            policy.check_host_name(""),
            Err(TargetError::InvalidHostName { .. })
        ));
    }

    #[test]
    fn policy_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<TargetPolicy>();
        assert_send_sync::<PolicyResolver>();
    }
}
