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
pub(crate) mod loopback_fixture;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use url::{Host, Url};

pub use address_class::{AddressClass, AddressRefusal, Embedding, classify};
pub use client::{guarded_client_builder, refusal_behind};
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
    /// Text that a lenient parser (the WHATWG URL standard, browsers, `url`) reads as some URL, but that
    /// is not one as written: `http:///x` has an empty authority and would be sent to host `x`.
    #[error("the URL is not valid as written: {reason}")]
    NotAsWritten { reason: &'static str },
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

/// Refuses what only a lenient parser takes: the WHATWG URL standard (browsers, the `url` crate) drops
/// tabs and newlines, trims spaces and control characters, reads `\` as `/`, and skips any number of
/// slashes before the host, so `http:///x`, `http:/x` and `http:\\x` all become
/// requests to host `x`. As written, an http(s) URL's scheme is followed by `//` and a host (RFC 3986:
/// `scheme "://" authority`), with no whitespace, control character or backslash anywhere.
fn written_strictly(url: &str) -> Result<(), TargetError> {
    let refuse = |reason| Err(TargetError::NotAsWritten { reason });
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return refuse("it contains whitespace or a control character (percent-encode it)");
    }
    if url.contains('\\') {
        return refuse("it contains `\\` (write `/`, or percent-encode it as `%5C`)");
    }
    let Some((scheme, rest)) = url.split_once(':') else {
        return Ok(());
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        // Url::parse and the scheme check say what is wrong.
        return Ok(());
    }
    let Some(after_slashes) = rest.strip_prefix("//") else {
        return refuse(
            "the scheme must be followed by `//` and the host, as in https://example.com/",
        );
    };
    if after_slashes.starts_with('/') || after_slashes.is_empty() {
        return refuse("the host is missing after `//`");
    }
    Ok(())
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
        written_strictly(url)?;
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
