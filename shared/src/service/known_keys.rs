//! The API keys this process has seen lately, so that a request does not read the key store when the same
//! key came a moment ago. Only keys found are kept, and only for a period: a key revoked through this
//! process is refused at once (its tenant's keys are all forgotten); one revoked by another process (the
//! `alertwire keys revoke` command, another Lambda instance) is refused within the period.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::ids::TenantId;

/// How long a key found in the store is taken as valid without reading it again, by default.
pub const KNOWN_KEY_PERIOD: Duration = Duration::from_secs(5);

/// Keys kept at once; past it every key is forgotten and read again when it comes.
const KEYS_KEPT: usize = 10_000;

pub(super) struct KnownKeys {
    period: Duration,
    /// The tenant of each key hash, and when the store said so.
    keys: Mutex<HashMap<String, (TenantId, Instant)>>,
    /// Counts revocations: a key read before one is not kept (its answer may be older than the revocation).
    revocations: AtomicU64,
}

/// What a read of the key store starts from: the revocations counted so far.
pub(super) struct KeyLookup(u64);

impl KnownKeys {
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            keys: Mutex::new(HashMap::new()),
            revocations: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (TenantId, Instant)>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The tenant of `key_hash` if the store named it less than a period ago.
    pub fn tenant(&self, key_hash: &str) -> Option<TenantId> {
        let keys = self.lock();
        let (tenant, read_at) = keys.get(key_hash)?;
        (read_at.elapsed() < self.period).then(|| tenant.clone())
    }

    /// Taken before the key store is read, for [`KnownKeys::remember`].
    pub fn lookup(&self) -> KeyLookup {
        KeyLookup(self.revocations.load(Ordering::Acquire))
    }

    /// Keeps what the store answered for `key_hash` to a read begun at `lookup`, unless a key was revoked
    /// meanwhile.
    pub fn remember(&self, lookup: KeyLookup, key_hash: String, tenant: TenantId) {
        if self.period.is_zero() {
            return;
        }
        let mut keys = self.lock();
        if self.revocations.load(Ordering::Acquire) != lookup.0 {
            return;
        }
        if keys.len() >= KEYS_KEPT {
            keys.clear();
        }
        keys.insert(key_hash, (tenant, Instant::now()));
    }

    /// Forgets every key of `tenant`: one of them was revoked.
    pub fn forget_tenant(&self, tenant: &TenantId) {
        let mut keys = self.lock();
        self.revocations.fetch_add(1, Ordering::AcqRel);
        keys.retain(|_, (owner, _)| owner != tenant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_found_is_known_for_the_period_only() {
        // GIVEN a key the store named a moment ago, with a period of 50 ms
        let known = KnownKeys::new(Duration::from_millis(50));
        known.remember(known.lookup(), "h1".into(), "acme".into());

        // THEN it is known now, and not once the period is over
        assert_eq!(known.tenant("h1"), Some("acme".into()));
        assert_eq!(known.tenant("h2"), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(known.tenant("h1"), None);
    }

    #[test]
    fn a_revocation_forgets_every_key_of_the_tenant_and_no_other() {
        let known = KnownKeys::new(Duration::from_secs(60));
        known.remember(known.lookup(), "a1".into(), "acme".into());
        known.remember(known.lookup(), "a2".into(), "acme".into());
        known.remember(known.lookup(), "b1".into(), "bolt".into());

        // WHEN one of acme's keys is revoked
        known.forget_tenant(&"acme".into());

        // THEN acme's keys are read from the store again, bolt's are still known
        assert_eq!(known.tenant("a1"), None);
        assert_eq!(known.tenant("a2"), None);
        assert_eq!(known.tenant("b1"), Some("bolt".into()));
    }

    #[test]
    fn a_period_of_zero_keeps_nothing() {
        let known = KnownKeys::new(Duration::ZERO);
        known.remember(known.lookup(), "h1".into(), "acme".into());
        assert_eq!(known.tenant("h1"), None);
    }

    #[test]
    fn a_key_read_before_a_revocation_is_not_kept() {
        // GIVEN a read of the key store begun before one of the tenant's keys is revoked
        let known = KnownKeys::new(Duration::from_secs(60));
        let lookup = known.lookup();
        known.forget_tenant(&"acme".into());

        // WHEN its answer (perhaps the revoked key's) comes back THEN it is not kept
        known.remember(lookup, "a1".into(), "acme".into());
        assert_eq!(known.tenant("a1"), None);
    }
}
