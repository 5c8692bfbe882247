//! The single-table key layout: how each record's partition and sort keys, and the delivery index keys,
//! are spelled. Every user-supplied part of a partition key is escaped so `#` only ever separates parts,
//! which keeps one tenant's keys from ever spelling another tenant's. Sort keys hold ids unescaped after a
//! fixed prefix, so they sort exactly as the ids do.

use sha2::{Digest, Sha256};

use crate::delivery::DeliveryStatus;
use crate::ids::{AlertId, ApiKeyId, DeliveryId, EndpointId, TenantId};

/// Table attribute names shared by the adapter and the table definition.
pub(super) const PK: &str = "pk";
pub(super) const SK: &str = "sk";
/// Epoch seconds after which a record is gone (the table's TTL attribute).
pub(super) const EXPIRES_AT: &str = "expires_at";
/// Which layout an item that holds a record (an alert, a delivery, an attempt, an endpoint, settings) was
/// written in; items written before layouts were numbered lack it and are layout 0.
pub(super) const LAYOUT: &str = "layout";
/// The layout this build writes.
pub(super) const WRITTEN_LAYOUT: u32 = 1;
/// The newest layout this build reads; it reads every older one too. A release that changes a layout
/// first ships reading it while still writing the old one, and only the next release writes it (see
/// `docs/aws.md`), so that two versions of a function running at once can read what both write.
pub(super) const NEWEST_READ_LAYOUT: u32 = 1;
/// A delivery's id, as a plain attribute of its item.
pub(super) const DELIVERY_ID: &str = "delivery_id";

/// A delivery index: its name and key attributes. Every index sorts on the delivery id (held in its own
/// sort-key attribute, so the attribute names can be overloaded by other item types later).
pub(super) struct DeliveryIndex {
    pub name: &'static str,
    pub key_attribute: &'static str,
    pub sort_attribute: &'static str,
}

pub(super) const BY_ENDPOINT: DeliveryIndex = DeliveryIndex {
    name: "by_endpoint",
    key_attribute: "gsi1pk",
    sort_attribute: "gsi1sk",
};
pub(super) const BY_STATUS: DeliveryIndex = DeliveryIndex {
    name: "by_status",
    key_attribute: "gsi2pk",
    sort_attribute: "gsi2sk",
};
/// Retired: no delivery this release writes enters it, and a delivery whose status changes leaves it.
/// An alert's deliveries are read by key from its receipt (and their fallback links) instead: one index
/// write less when a delivery is made, and at each change of its status. The index stays
/// in the table's definition until the deliveries written before have expired (`docs/dynamodb.md`).
pub(super) const BY_ALERT: DeliveryIndex = DeliveryIndex {
    name: "by_alert",
    key_attribute: "gsi3pk",
    sort_attribute: "gsi3sk",
};
pub(super) const BY_ENDPOINT_STATUS: DeliveryIndex = DeliveryIndex {
    name: "by_endpoint_status",
    key_attribute: "gsi4pk",
    sort_attribute: "gsi4sk",
};
/// The table's delivery indexes.
pub(super) const DELIVERY_INDEXES: [DeliveryIndex; 4] =
    [BY_ENDPOINT, BY_STATUS, BY_ALERT, BY_ENDPOINT_STATUS];
/// The indexes a delivery written now can be in (the status indexes only in some statuses:
/// [`in_status_indexes`]).
pub(super) const WRITTEN_DELIVERY_INDEXES: [DeliveryIndex; 3] =
    [BY_ENDPOINT, BY_STATUS, BY_ENDPOINT_STATUS];

/// The partition listing every tenant that has had an API key (sort key: the tenant's partition key), so
/// a sweep across tenants queries each tenant's partition of an index instead of scanning the table.
pub(super) const TENANTS_PK: &str = "META#TENANTS";

/// The marker item whose presence means at least one API key exists.
pub(super) const KEYS_MARKER_PK: &str = "META#KEYS";
pub(super) const KEYS_MARKER_SK: &str = "META";
pub(super) const API_KEY_SK: &str = "KEY";
/// A key's entry in its tenant's partition, under its public id: how a tenant's keys are listed and
/// found by id.
pub(super) const TENANT_KEY_PREFIX: &str = "APIKEY#";
/// The marker, in a tenant's partition, of its deployment key (the hash the api function was given).
pub(super) const BOOTSTRAP_KEY_SK: &str = "BOOTSTRAPKEY";

pub(super) const ENDPOINT_PREFIX: &str = "EP#";
pub(super) const DELIVERY_PREFIX: &str = "DL#";
pub(super) const ATTEMPT_PREFIX: &str = "AT#";

/// Escapes `%` and `#` so a part can never contain the separator.
fn part(text: &str) -> String {
    text.replace('%', "%25").replace('#', "%23")
}

/// The partition of everything a tenant owns but attempts.
pub(super) fn tenant_pk(tenant: &TenantId) -> String {
    format!("T#{}", part(tenant.as_str()))
}

pub(super) fn api_key_pk(key_hash: &str) -> String {
    format!("KEY#{}", part(key_hash))
}

pub(super) fn tenant_key_sk(id: &ApiKeyId) -> String {
    format!("{TENANT_KEY_PREFIX}{id}")
}

pub(super) fn endpoint_sk(id: &EndpointId) -> String {
    format!("{ENDPOINT_PREFIX}{id}")
}

pub(super) fn alert_sk(id: &AlertId) -> String {
    format!("AL#{id}")
}

/// Beside an alert that no endpoint was routed, in its tenant's partition: what lists those alerts.
pub(super) const UNROUTED_PREFIX: &str = "UNROUTED#";

pub(super) fn unrouted_sk(id: &AlertId) -> String {
    format!("{UNROUTED_PREFIX}{id}")
}

/// Idempotency keys are caller-chosen text of any length: the sort key holds their SHA-256.
pub(super) fn idempotency_sk(key: &str) -> String {
    format!("IDEM#{:x}", Sha256::digest(key.as_bytes()))
}

/// An operational notice's debounce record; the key is alertwire's own (`endpoint.failing:<id>`).
pub(super) fn notice_sk(key: &str) -> String {
    format!("NOTICE#{key}")
}

/// An endpoint's record of an incident; incident keys are caller-chosen text of any length, so the sort
/// key holds their SHA-256.
pub(super) fn incident_sk(endpoint: &EndpointId, incident_key: &str) -> String {
    format!(
        "INC#{}#{:x}",
        part(endpoint.as_str()),
        Sha256::digest(incident_key.as_bytes())
    )
}

/// An endpoint's current window of errors, for its digests.
pub(super) fn digest_window_sk(endpoint: &EndpointId) -> String {
    format!("DGW#{}", part(endpoint.as_str()))
}

/// What begins the keys of the alerts folded into a digest (each ends with its delivery's id, so they
/// sort as the deliveries were made).
pub(super) fn digest_members_prefix(digest: &DeliveryId) -> String {
    format!("DGM#{digest}#")
}

/// What digest `digest` lists of the alert whose delivery `delivery` was folded into it.
pub(super) fn digest_member_sk(digest: &DeliveryId, delivery: &DeliveryId) -> String {
    format!("{}{delivery}", digest_members_prefix(digest))
}

pub(super) fn delivery_sk(id: &DeliveryId) -> String {
    format!("{DELIVERY_PREFIX}{id}")
}

/// A delivery's attempts live in their own partition, so a tenant's partition holds only small items.
pub(super) fn attempts_pk(tenant: &TenantId, id: &DeliveryId) -> String {
    format!("{}#DL#{}", tenant_pk(tenant), part(id.as_str()))
}

/// An attempt is keyed by its run and number, so the key is the unique constraint: a second record of
/// the same attempt (another copy of its task) is refused by the put's `attribute_not_exists`. Attempts
/// sort in the order they were made: by run, then by number. Items written before this key, under
/// `AT#<sequence>`, sort before every one of these (a digit sorts before `R`), as they were made before.
pub(super) fn attempt_sk(run: u32, number: u32) -> String {
    format!("{ATTEMPT_PREFIX}R{run:010}#N{number:05}")
}

pub(super) fn endpoint_index_key(tenant: &TenantId, endpoint: &EndpointId) -> String {
    format!("{}#EP#{}", tenant_pk(tenant), part(endpoint.as_str()))
}

/// Whether deliveries in `status` are listed by the status indexes (`by_status`, `by_endpoint_status`).
/// Every status is but `delivered`: it is where almost every delivery ends, so leaving those indexes
/// there is a delete of each index entry (one write unit each) instead of a move (two), and a listing of
/// delivered deliveries reads the table or `by_endpoint`, where they are nearly every item anyway.
pub(super) fn in_status_indexes(status: DeliveryStatus) -> bool {
    status != DeliveryStatus::Delivered
}

pub(super) fn status_index_key(tenant: &TenantId, status: DeliveryStatus) -> String {
    format!("{}#ST#{}", tenant_pk(tenant), status.as_str())
}

pub(super) fn endpoint_status_index_key(
    tenant: &TenantId,
    endpoint: &EndpointId,
    status: DeliveryStatus,
) -> String {
    format!(
        "{}#ST#{}",
        endpoint_index_key(tenant, endpoint),
        status.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_cannot_spell_another_tenants_attempt_partition() {
        let victim = attempts_pk(&TenantId::from("acme"), &DeliveryId::from("msg_1"));
        let forged = tenant_pk(&TenantId::from("acme#DL#msg_1"));
        assert_ne!(victim, forged);
        assert_eq!(forged, "T#acme%23DL%23msg_1");
    }

    #[test]
    fn attempt_keys_are_one_per_run_and_number_and_sort_as_the_attempts_were_made() {
        let made = [(0, 1), (0, 2), (0, 10), (1, 1), (1, 2), (12, 3)];
        let keys: Vec<String> = made.iter().map(|&(r, n)| attempt_sk(r, n)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(sorted, keys);
        assert_eq!(attempt_sk(3, 4), attempt_sk(3, 4));
        assert_ne!(attempt_sk(1, 11), attempt_sk(11, 1));
        // Items of the earlier layout, keyed by their sequence, were made before any of these.
        let earlier = format!("{ATTEMPT_PREFIX}{:010}", 9_999_999_999u64);
        assert!(earlier < attempt_sk(0, 1));
        assert!(attempt_sk(0, 1).starts_with(ATTEMPT_PREFIX));
    }

    #[test]
    fn generated_ids_keep_their_order_in_keys() {
        let (a, b) = (DeliveryId::generate(), DeliveryId::generate());
        assert_eq!(a < b, delivery_sk(&a) < delivery_sk(&b));
    }
}
