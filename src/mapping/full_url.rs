//! The fullUrl of each entry: a name-based (v5) UUID of its resource type and conditional identity,
//! so the same reading always yields the same Bundle, and an entry can name another by its identity.

use uuid::Uuid;

/// The namespace of fhirgate's name-based UUIDs.
const FULL_URL_NAMESPACE: Uuid = Uuid::from_u128(0x6f0c_1f5e_9d3a_4b7e_8a52_46a1_2c9b_d07e);

/// The fullUrl of the `kind` resource whose conditional identity is `identity` (`system|value`).
pub fn full_url(kind: &str, identity: &str) -> String {
    let mut name = String::with_capacity(kind.len() + 1 + identity.len());
    name.push_str(kind);
    name.push('|');
    name.push_str(identity);
    let uuid = Uuid::new_v5(&FULL_URL_NAMESPACE, name.as_bytes());
    let mut url = String::with_capacity(URN_UUID.len() + uuid::fmt::Hyphenated::LENGTH);
    url.push_str(URN_UUID);
    url.push_str(uuid.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
    url
}

const URN_UUID: &str = "urn:uuid:";
