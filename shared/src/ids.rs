//! Identifiers: tenants, API keys, endpoints, alerts and deliveries, each its own type so they cannot be mixed up.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// A new time-ordered id (UUID v7) with a readable prefix.
            pub fn generate() -> Self {
                Self(format!(concat!($prefix, "_{}"), uuid::Uuid::now_v7().simple()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_string())
            }
        }
    };
}

id_type!(
    /// The customer that owns keys, endpoints, alerts and deliveries. Nothing crosses tenants.
    TenantId,
    "tn"
);
id_type!(
    /// An API key's public name: shown, listed and used to revoke the key; it reveals nothing of the key.
    ApiKeyId,
    "key"
);
id_type!(
    /// A configured destination.
    EndpointId,
    "ep"
);
id_type!(
    /// One accepted alert.
    AlertId,
    "al"
);
id_type!(
    /// One alert on its way to one endpoint; also the `webhook-id` the receiver sees.
    DeliveryId,
    "msg"
);
