//! The SSRF corpus end to end: delivery targets the default policy refuses, refused through the real API with
//! 422 naming the field and saying why, at save time (create, replace, per-message-type URLs) and at connect
//! time (a DNS answer that changed since the save, a host taken from alert data, redirects). Wherever the target
//! can exist on this machine (127.0.0.0/8, ::1, 0.0.0.0 and :: which reach them) a listener the test owns sits
//! there and must see no connection. Targets that cannot be listened on (private ranges, metadata, multicast…)
//! are only ever used where the policy refuses them before any connect, so no packet leaves the machine.

use std::sync::Arc;
use std::time::Duration;

use alertwire_shared::outbound::target_policy::{PortAllowance, TargetPolicy};
use alertwire_tests::{ApiClient, Behaviour, Receiver, ScriptedDns, TestServer, Tripwire};
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(30);
/// Time for a stray connection to reach a tripwire before its count is read.
const GRACE: Duration = Duration::from_millis(300);
/// An endpoint every server holds before the corpus runs; it is never sent to.
const KEPT_URL: &str = "https://hooks.example.com/kept";

/// Which servers a save-time case is refused by.
#[derive(Clone, Copy, PartialEq)]
enum Refused {
    /// The default policy and the default address policy with every port open: the address itself is refused.
    ByAddress,
    /// Only the default policy (its port or scheme rule refuses it).
    ByDefaultPolicy,
}

/// One save-time case: `url` with `PORT` standing for the port (80 for the default policy, a tripwire's port
/// where the ports are open), the loopback addresses listened on (the port is shared), and a fragment of the
/// message the refusal must carry.
struct SaveCase {
    url: &'static str,
    listen: &'static [&'static str],
    says: &'static str,
    refused: Refused,
}

const fn case(url: &'static str, listen: &'static [&'static str], says: &'static str) -> SaveCase {
    SaveCase {
        url,
        listen,
        says,
        refused: Refused::ByAddress,
    }
}

const fn default_only(url: &'static str, says: &'static str) -> SaveCase {
    SaveCase {
        url,
        listen: &[],
        says,
        refused: Refused::ByDefaultPolicy,
    }
}

const V4: &[&str] = &["127.0.0.1"];
const V6: &[&str] = &["::1"];
const BOTH: &[&str] = &["127.0.0.1", "::1"];
const NONE: &[&str] = &[];
const LOOPBACK: &str = "a loopback address";
const LOCAL_NAME: &str = "names the platform itself";
const NOT_AS_WRITTEN: &str = "not valid as written";

const SAVE_CASES: &[SaveCase] = &[
    // Loopback in every spelling the URL parser normalises.
    case("http://127.0.0.1:PORT/", V4, LOOPBACK),
    case("http://127.1:PORT/", V4, LOOPBACK),
    case("http://2130706433:PORT/", V4, LOOPBACK),
    case("http://0177.0.0.1:PORT/", V4, LOOPBACK),
    case("http://0x7f000001:PORT/", V4, LOOPBACK),
    case("http://0x7f.0.0.1:PORT/", V4, LOOPBACK),
    case("http://127.0.0.%31:PORT/", V4, LOOPBACK),
    case("http://127.0.0.1.:PORT/", V4, LOOPBACK),
    case("http://１２７.０.０.１:PORT/", V4, LOOPBACK),
    case("http://127.0.0.2:PORT/", &["127.0.0.2"], LOOPBACK),
    case(
        "http://127.255.255.254:PORT/",
        &["127.255.255.254"],
        LOOPBACK,
    ),
    case("http://[::1]:PORT/", V6, LOOPBACK),
    case("http://[0:0:0:0:0:0:0:1]:PORT/", V6, LOOPBACK),
    case("http://[::ffff:127.0.0.1]:PORT/", V4, LOOPBACK),
    case("http://[::ffff:7f00:1]:PORT/", V4, LOOPBACK),
    case("http://[64:ff9b::127.0.0.1]:PORT/", V4, LOOPBACK),
    // What only a lenient (WHATWG) parser reads as a URL of that host: refused as written, whatever the host.
    case("http:///127.0.0.1:PORT/x", V4, NOT_AS_WRITTEN),
    case("http:/127.0.0.1:PORT/x", V4, NOT_AS_WRITTEN),
    case("http:127.0.0.1:PORT/x", V4, NOT_AS_WRITTEN),
    case("http:\\\\127.0.0.1:PORT\\x", V4, NOT_AS_WRITTEN),
    case("http://127.0.0.1:PORT/a b", V4, NOT_AS_WRITTEN),
    case("\thttp://127.0.0.1:PORT/", V4, NOT_AS_WRITTEN),
    // The unspecified addresses reach local listeners on Linux.
    case("http://0.0.0.0:PORT/", V4, "an unspecified address"),
    case("http://0:PORT/", V4, "an unspecified address"),
    case("http://[::]:PORT/", V6, "an unspecified address"),
    // Names of the machine itself, with case, trailing dots and IDN forms.
    case("http://localhost:PORT/", BOTH, LOCAL_NAME),
    case("http://LOCALHOST:PORT/", BOTH, LOCAL_NAME),
    case("http://localhost.:PORT/", BOTH, LOCAL_NAME),
    case("http://LocalHost..:PORT/", BOTH, LOCAL_NAME),
    case("http://anything.localhost:PORT/", BOTH, LOCAL_NAME),
    case("http://Api.LocalHost.:PORT/", BOTH, LOCAL_NAME),
    case("http://ｌｏｃａｌｈｏｓｔ:PORT/", BOTH, LOCAL_NAME),
    case("http://xn--bcher-kva.localhost:PORT/", BOTH, LOCAL_NAME),
    case("http://аpple.localhost:PORT/", BOTH, LOCAL_NAME),
    case("http://ip6-localhost:PORT/", BOTH, LOCAL_NAME),
    // Schemes and credentials, aimed at a listener.
    case(
        "ftp://127.0.0.1:PORT/",
        V4,
        "the scheme `ftp` is not allowed",
    ),
    case(
        "gopher://127.0.0.1:PORT/_x",
        V4,
        "the scheme `gopher` is not allowed",
    ),
    case(
        "file:///etc/passwd",
        NONE,
        "the scheme `file` is not allowed",
    ),
    case(
        "dict://127.0.0.1:PORT/",
        V4,
        "the scheme `dict` is not allowed",
    ),
    case("http://user:pass@127.0.0.1:PORT/", V4, "credentials"),
    case("https://user:pass@hooks.example.com/", NONE, "credentials"),
    case("https://token@hooks.example.com/", NONE, "credentials"),
    // Cloud metadata.
    case(
        "http://169.254.169.254:PORT/latest/meta-data/",
        NONE,
        "a cloud metadata address",
    ),
    case(
        "http://[fd00:ec2::254]:PORT/",
        NONE,
        "a cloud metadata address",
    ),
    case("http://0xa9fea9fe:PORT/", NONE, "a cloud metadata address"),
    case(
        "http://[::ffff:a9fe:a9fe]:PORT/",
        NONE,
        "a cloud metadata address",
    ),
    case(
        "http://metadata.google.internal:PORT/",
        NONE,
        "a platform-internal name",
    ),
    // Shared address space (100.64.0.0/10) and the private ranges.
    case(
        "http://100.64.0.1:PORT/",
        NONE,
        "a shared (carrier-grade NAT) address",
    ),
    case(
        "http://100.127.255.254:PORT/",
        NONE,
        "a shared (carrier-grade NAT) address",
    ),
    case("http://10.0.0.1:PORT/", NONE, "a private address"),
    case("http://10.255.255.255:PORT/", NONE, "a private address"),
    case("http://012.1.2.3:PORT/", NONE, "a private address"),
    case("http://172.16.0.1:PORT/", NONE, "a private address"),
    case("http://172.31.255.254:PORT/", NONE, "a private address"),
    case("http://192.168.0.1:PORT/", NONE, "a private address"),
    case("http://192.168.255.255:PORT/", NONE, "a private address"),
    case("http://[fc00::1]:PORT/", NONE, "a unique-local address"),
    case(
        "http://[fdff:ffff::1]:PORT/",
        NONE,
        "a unique-local address",
    ),
    case("http://[fe80::1]:PORT/", NONE, "a link-local address"),
    case("http://[febf::1]:PORT/", NONE, "a link-local address"),
    // Multicast and broadcast.
    case("http://224.0.0.1:PORT/", NONE, "a multicast address"),
    case("http://239.255.255.250:PORT/", NONE, "a multicast address"),
    case("http://[ff02::1]:PORT/", NONE, "a multicast address"),
    case("http://255.255.255.255:PORT/", NONE, "a broadcast address"),
    // Ports other than 80 and 443 (the default policy only).
    default_only("http://hooks.example.com:8080/", "port 8080 is not allowed"),
    default_only("https://hooks.example.com:22/", "port 22 is not allowed"),
    default_only("http://hooks.example.com:6379/", "port 6379 is not allowed"),
    default_only("https://hooks.example.com:0/", "port 0 is not allowed"),
];

/// The endpoints list, to prove a refused save wrote nothing.
async fn endpoints(api: &ApiClient) -> Value {
    let (status, list) = api.get("/v1/endpoints").await;
    assert_eq!(status, 200, "{list}");
    list
}

/// Asserts a 422 `target_not_allowed` naming `field` whose message says `says`.
fn assert_refused(answer: &(u16, Value), field: &str, says: &str, context: &str) {
    let (status, body) = answer;
    assert_eq!(*status, 422, "{context}: {body}");
    let error = &body["error"];
    assert_eq!(error["code"], "target_not_allowed", "{context}: {body}");
    assert_eq!(error["field"], field, "{context}: {body}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!("`{field}`: ")) && message.contains(says),
        "{context}: expected a message naming `{field}` and saying {says:?}, got {message:?}"
    );
}

/// Tries to save `url` three ways (create, per-message-type override, replace of `kept`): each must be refused.
async fn refuse_everywhere(api: &ApiClient, kept: &str, url: &str, says: &str) {
    let create = api
        .post("/v1/endpoints", &json!({"name": "ssrf", "url": url}))
        .await;
    assert_refused(&create, "url", says, url);
    let overridden = api
        .post(
            "/v1/endpoints",
            &json!({"name": "ssrf", "url": KEPT_URL, "message_types": {"ok": {"url": url}}}),
        )
        .await;
    assert_refused(&overridden, "message_types.ok.url", says, url);
    let replace = api
        .call(
            "PUT",
            &format!("/v1/endpoints/{kept}"),
            Some(&json!({"name": "replaced", "url": url})),
        )
        .await;
    assert_refused(&replace, "url", says, url);
}

#[tokio::test]
async fn the_save_time_corpus_is_refused_naming_the_url_and_nothing_arrives() {
    let default_policy = TestServer::strict().await;
    let open_ports = TestServer::with(|c| {
        c.policy = TargetPolicy::strict().with_allowed_ports(PortAllowance::Any);
    })
    .await;
    let mut tripwires = Vec::new();
    let mut refusals = 0;
    for server in [&default_policy, &open_ports] {
        let api = &server.api;
        let kept = api
            .create_endpoint(&json!({"name": "kept", "url": KEPT_URL}))
            .await["id"]
            .as_str()
            .expect("an id")
            .to_string();
        let before = endpoints(api).await;
        for case in SAVE_CASES {
            let url = if std::ptr::eq(server, &default_policy) {
                case.url.replace("PORT", "80")
            } else if case.refused == Refused::ByAddress {
                // Every address of the case listens on one port, so whichever one a connect picks is watched.
                let port = match case.listen.first() {
                    None => 80,
                    Some(first) => {
                        let first = Tripwire::bind(first).await;
                        let port = first.port();
                        tripwires.push((case.url, first));
                        for other in &case.listen[1..] {
                            let wire = Tripwire::bind_port(other, port).await;
                            tripwires.push((case.url, wire));
                        }
                        port
                    }
                };
                case.url.replace("PORT", &port.to_string())
            } else {
                continue;
            };
            refuse_everywhere(api, &kept, &url, case.says).await;
            refusals += 1;
        }
        assert_eq!(endpoints(api).await, before, "a refused URL was stored");
    }

    tokio::time::sleep(GRACE).await;
    let bypasses: Vec<String> = tripwires
        .iter()
        .filter(|(_, wire)| wire.connections() > 0)
        .map(|(url, wire)| format!("{url} reached {}", wire.addr))
        .collect();
    println!(
        "ssrf save time: {} cases, {refusals} refusals on two policies (x3 ways each), {} listeners, {} bypasses",
        SAVE_CASES.len(),
        tripwires.len(),
        bypasses.len()
    );
    assert!(bypasses.is_empty(), "{bypasses:?}");
    assert!(SAVE_CASES.len() >= 40);
}

/// A server on the default address policy with every port open, resolving names through `dns`.
async fn server_resolving_with(dns: &ScriptedDns) -> TestServer {
    TestServer::with_resolver(
        |c| c.policy = TargetPolicy::strict().with_allowed_ports(PortAllowance::Any),
        Arc::new(dns.clone()),
    )
    .await
}

/// Waits for the delivery to `endpoint` of the alert, asserts it was never delivered and every attempt was
/// blocked with a message saying `says`; answers how many attempts were made.
async fn assert_blocked(api: &ApiClient, delivery: &str, says: &str, context: &str) -> usize {
    let settled = api.settled(delivery, SETTLE).await;
    assert_eq!(settled["status"], "dead", "{context}: {settled}");
    let attempts = settled["attempts"].as_array().expect("attempts");
    assert!(!attempts.is_empty(), "{context}: {settled}");
    for attempt in attempts {
        assert_eq!(attempt["error_class"], "blocked", "{context}: {attempt}");
        assert!(attempt["status_code"].is_null(), "{context}: {attempt}");
        let error = attempt["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{context}: {error:?} lacks {says:?}");
    }
    attempts.len()
}

#[tokio::test]
async fn names_whose_dns_answer_is_refused_at_send_time_are_never_dialled() {
    let dns = ScriptedDns::new();
    let server = server_resolving_with(&dns).await;
    let api = &server.api;

    // (name, the answer at send time, a loopback address listened on if any, what the refusal says)
    let cases: &[(&str, &[&str], Option<&str>, &str)] = &[
        (
            "v4.rebind.example",
            &["127.0.0.1"],
            Some("127.0.0.1"),
            "127.0.0.1 is a loopback address",
        ),
        (
            "alias.rebind.example",
            &["127.0.0.2"],
            Some("127.0.0.2"),
            "127.0.0.2 is a loopback address",
        ),
        (
            "v6.rebind.example",
            &["::1"],
            Some("::1"),
            "::1 is a loopback address",
        ),
        (
            "mapped.rebind.example",
            &["::ffff:127.0.0.1"],
            Some("127.0.0.1"),
            "a loopback address",
        ),
        (
            "zero.rebind.example",
            &["0.0.0.0"],
            Some("127.0.0.1"),
            "an unspecified address",
        ),
        (
            "both.rebind.example",
            &["127.0.0.1", "::1"],
            Some("127.0.0.1"),
            "a loopback address",
        ),
        (
            "private.rebind.example",
            &["10.0.0.1", "127.0.0.1"],
            Some("127.0.0.1"),
            "a private address",
        ),
        (
            "metadata.rebind.example",
            &["169.254.169.254"],
            None,
            "a cloud metadata address",
        ),
        (
            "ec2v6.rebind.example",
            &["fd00:ec2::254"],
            None,
            "a cloud metadata address",
        ),
        (
            "cgnat.rebind.example",
            &["100.64.0.1"],
            None,
            "a shared (carrier-grade NAT) address",
        ),
        (
            "ten.rebind.example",
            &["10.1.2.3"],
            None,
            "a private address",
        ),
        (
            "oneseventwo.rebind.example",
            &["172.16.5.4"],
            None,
            "a private address",
        ),
        (
            "oneninetwo.rebind.example",
            &["192.168.1.1"],
            None,
            "a private address",
        ),
        (
            "ula.rebind.example",
            &["fc00::1"],
            None,
            "a unique-local address",
        ),
        (
            "linklocal.rebind.example",
            &["fe80::1"],
            None,
            "a link-local address",
        ),
        (
            "multicast.rebind.example",
            &["224.0.0.1"],
            None,
            "a multicast address",
        ),
        (
            "broadcast.rebind.example",
            &["255.255.255.255"],
            None,
            "a broadcast address",
        ),
        (
            "empty.rebind.example",
            &[],
            None,
            "resolved to no addresses",
        ),
    ];

    // Save time: every name answers a public address, and the save passes (names are judged when dialled).
    let mut endpoints = Vec::new();
    let mut tripwires = Vec::new();
    for (name, _, listen, _) in cases {
        dns.set(name, &["93.184.215.14"]);
        let port = match listen {
            Some(ip) => {
                let wire = Tripwire::bind(ip).await;
                let port = wire.port();
                tripwires.push((*name, wire));
                port
            }
            None => 80,
        };
        let view = api
            .create_endpoint(&json!({"name": name, "url": format!("http://{name}:{port}/hook")}))
            .await;
        endpoints.push(view["id"].as_str().expect("an id").to_string());
    }
    assert!(dns.asked().is_empty(), "saving resolved {:?}", dns.asked());

    // Send time: the answers change (DNS rebinding) before anything is sent.
    for (name, answer, _, _) in cases {
        dns.set(name, answer);
    }
    for ((name, _, _, says), endpoint) in cases.iter().zip(&endpoints) {
        let (status, report) = api
            .post(&format!("/v1/endpoints/{endpoint}/test"), &Value::Null)
            .await;
        assert_eq!(status, 200, "{name}: {report}");
        assert_eq!(report["ok"], false, "{name}: {report}");
        assert!(report["response"].is_null(), "{name}: {report}");
        assert_eq!(report["error"]["class"], "blocked", "{name}: {report}");
        let message = report["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{name}: {message:?} lacks {says:?}");
    }
    let (status, receipt) = api
        .post(
            "/v1/alerts",
            &json!({"title": "rebinding", "severity": "critical"}),
        )
        .await;
    assert_eq!(status, 202, "{receipt}");
    let deliveries = receipt["deliveries"].as_array().expect("deliveries");
    assert_eq!(deliveries.len(), cases.len());
    let mut attempts = 0;
    for delivery in deliveries {
        let index = endpoints
            .iter()
            .position(|e| delivery["endpoint_id"] == **e)
            .expect("a delivery per endpoint");
        let (name, _, _, says) = cases[index];
        let id = delivery["id"].as_str().expect("an id");
        attempts += assert_blocked(api, id, says, name).await;
    }

    tokio::time::sleep(GRACE).await;
    let bypasses: Vec<String> = tripwires
        .iter()
        .filter(|(_, wire)| wire.connections() > 0)
        .map(|(name, wire)| format!("{name} reached {}", wire.addr))
        .collect();
    println!(
        "ssrf connect time (DNS): {} names, {} test sends and {attempts} delivery attempts refused, {} bypasses",
        cases.len(),
        cases.len(),
        bypasses.len()
    );
    assert!(bypasses.is_empty(), "{bypasses:?}");
    assert!(
        dns.asked()
            .iter()
            .all(|asked| asked.ends_with(".rebind.example")),
        "{:?}",
        dns.asked()
    );
}

#[tokio::test]
async fn a_host_taken_from_alert_data_is_checked_when_sent() {
    let dns = ScriptedDns::new();
    let server = server_resolving_with(&dns).await;
    let api = &server.api;
    let v4 = Tripwire::bind("127.0.0.1").await;
    let port = v4.port();
    let v6 = Tripwire::bind_port("::1", port).await;
    // The sample alert's source is `alertwire`, a name, so the URL passes at save time.
    api.create_endpoint(
        &json!({"name": "from data", "url": format!("http://{{{{alert_source}}}}:{port}/hook")}),
    )
    .await;

    let sources = [
        ("127.0.0.1", LOOPBACK),
        ("127.1", LOOPBACK),
        ("2130706433", LOOPBACK),
        ("0x7f000001", LOOPBACK),
        ("0.0.0.0", "an unspecified address"),
        ("localhost", LOCAL_NAME),
        ("169.254.169.254", "a cloud metadata address"),
        ("10.0.0.1", "a private address"),
    ];
    for (source, says) in sources {
        let ids = api
            .send_alert(&json!({"title": "from data", "source": source}))
            .await;
        assert_eq!(ids.len(), 1);
        assert_blocked(api, &ids[0], says, source).await;
    }
    tokio::time::sleep(GRACE).await;
    println!(
        "ssrf connect time (alert data): {} hosts refused, {} bypasses",
        sources.len(),
        v4.connections() + v6.connections()
    );
    assert_eq!((v4.connections(), v6.connections()), (0, 0));
    assert!(dns.asked().is_empty(), "{:?}", dns.asked());
}

#[tokio::test]
async fn redirects_to_refused_targets_are_never_followed() {
    let receiver = Receiver::start(Behaviour::status(200)).await;
    // Only the receiver itself is allowed: its address and its port.
    let server = TestServer::with(|c| {
        c.policy = TargetPolicy::strict()
            .with_allowed_networks(
                TargetPolicy::parse_networks(&receiver.addr.ip().to_string()).expect("a network"),
            )
            .with_allowed_ports(PortAllowance::Only(vec![receiver.addr.port()]));
    })
    .await;
    let api = &server.api;
    let endpoint = api
        .create_endpoint(&json!({"name": "redirector", "url": receiver.url("/hook")}))
        .await["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let same_address = Tripwire::bind("127.0.0.1").await;
    let alias = Tripwire::bind("127.0.0.2").await;
    let v6 = Tripwire::bind("::1").await;
    let localhost = Tripwire::bind("127.0.0.1").await;
    let targets = [
        format!("http://127.0.0.1:{}/stolen", same_address.port()),
        format!("http://127.0.0.2:{}/stolen", alias.port()),
        format!("http://[::1]:{}/stolen", v6.port()),
        format!("http://localhost:{}/stolen", localhost.port()),
        "http://169.254.169.254/latest/meta-data/".to_string(),
    ];

    let mut cases = 0;
    for status in [301, 302, 303, 307, 308] {
        for target in &targets {
            receiver.set(Behaviour::Status(
                status,
                vec![("location".into(), target.clone())],
                String::new(),
            ));
            let (code, report) = api
                .post(&format!("/v1/endpoints/{endpoint}/test"), &Value::Null)
                .await;
            let context = format!("{status} to {target}");
            assert_eq!(code, 200, "{context}: {report}");
            assert_eq!(report["ok"], false, "{context}: {report}");
            assert_eq!(report["response"]["status"], status, "{context}: {report}");
            assert_eq!(report["error"]["class"], "redirect", "{context}: {report}");
            let message = report["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("redirects are not followed") && message.contains(target.as_str()),
                "{context}: {message:?}"
            );
            cases += 1;
        }
    }

    // A delivery: every attempt records the 3xx as a failure, and the Location is never visited.
    receiver.set(Behaviour::Status(
        302,
        vec![("location".into(), targets[0].clone())],
        String::new(),
    ));
    let ids = api.send_alert(&json!({"title": "redirected"})).await;
    let delivery = api.settled(&ids[0], SETTLE).await;
    assert_eq!(delivery["status"], "dead", "{delivery}");
    let attempts = delivery["attempts"].as_array().expect("attempts");
    for attempt in attempts {
        assert_eq!(attempt["status_code"], 302, "{attempt}");
        assert_eq!(attempt["error_class"], "redirect", "{attempt}");
    }
    let received = receiver.received();
    assert_eq!(received.len(), cases + attempts.len());
    assert!(received.iter().all(|r| r.path == "/hook"));

    tokio::time::sleep(GRACE).await;
    let reached = [&same_address, &alias, &v6, &localhost]
        .iter()
        .map(|wire| wire.connections())
        .sum::<usize>();
    println!(
        "ssrf redirects: {} answers (5 statuses x {} targets) and {} delivery attempts not followed, {reached} bypasses",
        cases,
        targets.len(),
        attempts.len()
    );
    assert_eq!(reached, 0);
}

#[tokio::test]
async fn a_tripwire_counts_a_connection() {
    // The control for every "nothing arrived" above: a connection that does arrive is seen.
    let wire = Tripwire::bind("::1").await;
    let stream = tokio::net::TcpStream::connect(wire.addr)
        .await
        .expect("connects");
    drop(stream);
    tokio::time::sleep(GRACE).await;
    assert_eq!(wire.connections(), 1);
}
