//! The target policy's rules, one case a test: ports, address classes, names and redirects.

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
            TargetError::MissingScheme
            | TargetError::InvalidUrl(_)
            | TargetError::MissingHost
            | TargetError::NotAsWritten { .. },
            Expect::Invalid,
        ) => true,
        (TargetError::AddressNotAllowed(refusal), Expect::Address(class)) => refusal.class == class,
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
    // What only a lenient (WHATWG) parser reads, as a request to host hooks.example.com.
    ("http:///hooks.example.com/x", Expect::Invalid),
    ("https:////hooks.example.com/x", Expect::Invalid),
    ("http:/hooks.example.com/x", Expect::Invalid),
    ("https:hooks.example.com/x", Expect::Invalid),
    ("http:\\\\hooks.example.com\\x", Expect::Invalid),
    ("https://hooks.example.com\\x", Expect::Invalid),
    (" https://hooks.example.com/", Expect::Invalid),
    ("https://hooks.example.com/ ", Expect::Invalid),
    ("https://hooks.exa\tmple.com/", Expect::Invalid),
    ("https://hooks.example.com/a\nb", Expect::Invalid),
    ("https://hooks.example.com/a b", Expect::Invalid),
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
