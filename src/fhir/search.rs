//! FHIR search parameters as the bridge sends them (`identifier=system|value`), escaped.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Characters escaped in a search parameter value: everything but unreserved and `:/`, which FHIR
/// servers accept as is and which keep identifiers readable.
const SEARCH_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'/');

/// `identifier=system|value` with FHIR search escaping (`\|`, `\,`, `\$`, `\\`) and then URL encoding.
/// Every Observation and Device of a Bundle carries one: written into one string, with no
/// intermediate copies.
pub fn identifier_query(system: &str, value: &str) -> String {
    let mut query = String::with_capacity(12 + system.len() + value.len() + 16);
    query.push_str("identifier=");
    push_search_escaped(&mut query, system);
    query.push('|');
    push_search_escaped(&mut query, value);
    query
}

/// `identifier={value}`: a token search in any system (how MedTech finds devices and patients whose
/// identifiers carry no system).
pub fn identifier_query_any_system(value: &str) -> String {
    let mut query = String::from("identifier=");
    push_search_escaped(&mut query, value);
    query
}

/// Appends a search value with FHIR's search escapes (`\|`, `\,`, `\$`, `\\`), percent-encoded.
fn push_search_escaped(out: &mut String, text: &str) {
    if text.contains(['\\', '|', ',', '$']) {
        let escaped = text
            .replace('\\', "\\\\")
            .replace('|', "\\|")
            .replace(',', "\\,")
            .replace('$', "\\$");
        out.extend(utf8_percent_encode(&escaped, SEARCH_VALUE));
    } else {
        out.extend(utf8_percent_encode(text, SEARCH_VALUE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_queries_escape_search_syntax_and_url_characters() {
        assert_eq!(
            identifier_query("urn:oid:1.2.3", "A|B,C$D E&F#"),
            "identifier=urn:oid:1.2.3|A%5C%7CB%5C%2CC%5C%24D%20E%26F%23"
        );
        assert_eq!(
            identifier_query("http://hl7.org/fhir/sid/eui-48/bluetooth", "C4-7C-8D-6A-1F-20"),
            "identifier=http://hl7.org/fhir/sid/eui-48/bluetooth|C4-7C-8D-6A-1F-20"
        );
        assert_eq!(identifier_query_any_system("a|b"), "identifier=a%5C%7Cb");
    }
}
