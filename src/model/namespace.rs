//! Identifier systems for names that HL7 v2 gives as local namespaces (a PID-3 assigning authority,
//! an OBX-18 equipment namespace), which FHIR needs as URIs.

/// The identifier system of `namespace`: the namespace itself when it is already a URI (`https://…`,
/// `urn:…`), `urn:oid:<oid>` when it is an OID, else `<prefix><name>` with
/// characters outside `[A-Za-z0-9-._]` replaced by `-`, so the URN stays valid. Without a namespace,
/// the prefix alone (without its trailing `:`).
pub fn namespace_system(namespace: Option<&str>, prefix: &str) -> String {
    match namespace.filter(|ns| !ns.is_empty()) {
        Some(ns) if is_oid(ns) => format!("urn:oid:{ns}"),
        Some(ns)
            if ["http://", "https://", "urn:"]
                .iter()
                .any(|scheme| ns.starts_with(scheme)) =>
        {
            ns.to_string()
        }
        Some(ns) => {
            let safe: String = ns
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-._".contains(c) {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            format!("{prefix}{safe}")
        }
        None => prefix.trim_end_matches(':').to_string(),
    }
}

fn is_oid(text: &str) -> bool {
    text.split('.')
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_local_names_and_none() {
        assert_eq!(
            namespace_system(Some("2.16.840.1.113883.19.5"), "urn:x:"),
            "urn:oid:2.16.840.1.113883.19.5"
        );
        assert_eq!(
            namespace_system(Some("Imaginary Hospital"), "urn:x:"),
            "urn:x:Imaginary-Hospital"
        );
        assert_eq!(namespace_system(Some("1..2"), "urn:x:"), "urn:x:1..2");
        assert_eq!(namespace_system(None, "urn:x:"), "urn:x");
        assert_eq!(
            namespace_system(Some("https://withings.com/device-id"), "urn:x:"),
            "https://withings.com/device-id"
        );
        assert_eq!(namespace_system(Some(""), "urn:x:"), "urn:x");
    }
}
