//! Which host names name the platform itself or its internal network rather than a customer's public
//! endpoint, judged on the ASCII (punycoded) form the URL parser produces.

/// Why a host name is refused at save time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameClass {
    /// `localhost`, `*.localhost` and the loopback aliases of common hosts files.
    Localhost,
    /// Names that only resolve inside a platform: `*.internal` (e.g. `metadata.google.internal`), `*.local`,
    /// `*.localdomain`, `*.home.arpa`, and the cloud metadata short names `metadata` and `instance-data`.
    PlatformInternal,
}

/// Loopback aliases found in Debian/Red Hat `/etc/hosts` files.
const LOOPBACK_ALIASES: [&str; 5] = [
    "localhost.localdomain",
    "localhost6",
    "localhost6.localdomain6",
    "ip6-localhost",
    "ip6-loopback",
];

/// Last labels that only resolve inside a private network.
const INTERNAL_SUFFIXES: [&str; 4] = ["internal", "local", "localdomain", "home.arpa"];

/// Single-label names that cloud resolvers answer with the metadata service (through the search domain).
const METADATA_SHORT_NAMES: [&str; 2] = ["metadata", "instance-data"];

/// The form a host name is judged and reported in: ASCII-lowercased with one trailing dot removed.
pub fn normalise(host: &str) -> String {
    let host = host.strip_suffix('.').unwrap_or(host);
    host.to_ascii_lowercase()
}

/// Judges a host name given in the form [`normalise`] returns; `None` when nothing is known against it.
/// Any further trailing dots are ignored, so `localhost..` is judged as `localhost`.
pub fn classify_name(name: &str) -> Option<NameClass> {
    let name = name.trim_end_matches('.');
    let last_label = name.rsplit('.').next().unwrap_or(name);
    if last_label == "localhost" || LOOPBACK_ALIASES.contains(&name) {
        return Some(NameClass::Localhost);
    }
    if METADATA_SHORT_NAMES.contains(&name)
        || INTERNAL_SUFFIXES
            .iter()
            .any(|suffix| has_suffix(name, suffix))
    {
        return Some(NameClass::PlatformInternal);
    }
    None
}

/// True when `name` is `suffix` or ends in `.suffix`.
fn has_suffix(name: &str, suffix: &str) -> bool {
    match name.strip_suffix(suffix) {
        Some("") => true,
        Some(rest) => rest.ends_with('.'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_one_trailing_dot() {
        assert_eq!(normalise("LocalHost."), "localhost");
        assert_eq!(normalise("Hooks.Example.COM"), "hooks.example.com");
        assert_eq!(normalise("a.."), "a.");
    }

    #[test]
    fn classifies_names() {
        assert_eq!(classify_name("localhost"), Some(NameClass::Localhost));
        assert_eq!(classify_name("api.localhost"), Some(NameClass::Localhost));
        assert_eq!(classify_name("localhost."), Some(NameClass::Localhost));
        assert_eq!(classify_name("ip6-localhost"), Some(NameClass::Localhost));
        assert_eq!(
            classify_name("metadata.google.internal"),
            Some(NameClass::PlatformInternal)
        );
        assert_eq!(classify_name("internal"), Some(NameClass::PlatformInternal));
        assert_eq!(
            classify_name("printer.local"),
            Some(NameClass::PlatformInternal)
        );
        assert_eq!(
            classify_name("nas.home.arpa"),
            Some(NameClass::PlatformInternal)
        );
        assert_eq!(classify_name("metadata"), Some(NameClass::PlatformInternal));
        assert_eq!(classify_name("hooks.example.com"), None);
        assert_eq!(classify_name("notlocalhost.com"), None);
        assert_eq!(classify_name("localhost.example.com"), None);
        assert_eq!(classify_name("myinternal"), None);
        assert_eq!(classify_name("notlocal"), None);
        assert_eq!(classify_name("metadata.example.com"), None);
        assert_eq!(classify_name(""), None);
    }
}
