//! The structural check every Bundle passes before it leaves the bridge: what a FHIR server would
//! refuse, or worse accept, is found here and the payload goes to the dead-letter store with the rule.
//! * no empty strings, objects or arrays (ele-1; a FHIR string has content);
//! * dates and times in FHIR's forms (a four-digit year: `+54692-12-17` is none);
//! * an Observation (and each component) has a value or a `dataAbsentReason`, never both (obs-6,
//!   vs-2, vs-3), a status and a code;
//! * every `urn:uuid:` reference names an entry of the Bundle, every `#id` a contained resource;
//! * every transaction entry has its request.
//!
//! The errors name the JSON path and the rule, never a value.

use fhirbolt::model::r4::resources::Bundle;
use serde_json::Value;

/// Keys whose values are FHIR `dateTime`/`instant` values.
const DATE_TIME_KEYS: &[&str] = &[
    "effectiveDateTime",
    "effectiveInstant",
    "issued",
    "valueDateTime",
    "start",
    "end",
    "lastUpdated",
    "recorded",
    "time",
];

/// Checks a transaction Bundle.
pub fn transaction(bundle: &Bundle) -> Result<(), String> {
    let json = super::bundle_to_json(bundle).map_err(|e| e.to_string())?;
    let value: Value = serde_json::from_str(&json).map_err(|e| format!("the Bundle is not JSON: {e}"))?;
    transaction_json(&value)
}

/// Checks a transaction Bundle given as JSON (MedTech's writes are built as JSON).
pub fn transaction_json(bundle: &Value) -> Result<(), String> {
    let entries = bundle
        .get("entry")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let full_urls: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.get("fullUrl").and_then(Value::as_str))
        .collect();
    elements(bundle, &Place::At("Bundle"))?;
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("entry[{i}]");
        let request = entry.get("request");
        if request.and_then(|r| r.get("method")).is_none() || request.and_then(|r| r.get("url")).is_none() {
            return Err(format!(
                "{at}: a transaction entry needs request.method and request.url"
            ));
        }
        let Some(resource) = entry.get("resource") else {
            continue;
        };
        let at = format!("{at}.resource");
        references(resource, &Place::At(&at), &full_urls, resource)?;
        if resource.get("resourceType").and_then(Value::as_str) == Some("Observation") {
            observation(resource, &at)?;
        }
    }
    Ok(())
}

/// Where in the Bundle a check is (`entry[1].resource.code.coding[0]`), written out only for an
/// error: a path string made for every element cost more than the checks themselves.
#[derive(Clone, Copy)]
enum Place<'a> {
    /// The Bundle, or an entry's resource (`entry[1].resource`).
    At(&'a str),
    Field(&'a Place<'a>, &'a str),
    Item(&'a Place<'a>, usize),
}

impl std::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::At(at) => f.write_str(at),
            Place::Field(parent, key) => write!(f, "{parent}.{key}"),
            Place::Item(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// ele-1 and the date forms, everywhere.
fn elements(value: &Value, at: &Place<'_>) -> Result<(), String> {
    match value {
        Value::String(text) if text.is_empty() => Err(format!("{at}: an empty string (a FHIR string has content)")),
        Value::Object(fields) if fields.is_empty() => Err(format!("{at}: an empty element (ele-1)")),
        Value::Array(items) if items.is_empty() => Err(format!("{at}: an empty list (ele-1)")),
        Value::Object(fields) => {
            for (key, child) in fields {
                let path = Place::Field(at, key);
                if DATE_TIME_KEYS.contains(&key.as_str()) {
                    if let Value::String(text) = child {
                        if !is_fhir_date_time(text) {
                            return Err(format!(
                                "{path}: not a FHIR dateTime (YYYY, YYYY-MM, YYYY-MM-DD or a time with seconds and an offset)"
                            ));
                        }
                    }
                }
                elements(child, &path)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                elements(item, &Place::Item(at, i))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// FHIR's dateTime: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, or `YYYY-MM-DDThh:mm:ss[.f…](Z|±hh:mm)`, the
/// year 0001–9999 and every part in range.
pub fn is_fhir_date_time(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |from: usize, n: usize| -> Option<u32> {
        let part = b.get(from..from + n)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |a, d| a * 10 + u32::from(d - b'0')))
    };
    let Some(year) = digits(0, 4) else { return false };
    if year == 0 {
        return false;
    }
    match b.len() {
        4 => return true,
        7 => return b[4] == b'-' && digits(5, 2).is_some_and(|m| (1..=12).contains(&m)),
        10 => {
            return b[4] == b'-'
                && b[7] == b'-'
                && digits(5, 2).is_some_and(|m| (1..=12).contains(&m))
                && digits(8, 2).is_some_and(|d| (1..=31).contains(&d))
        }
        _ => {}
    }
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return false;
    }
    let ranges = [(5, 1, 12), (8, 1, 31), (11, 0, 23), (14, 0, 59), (17, 0, 60)];
    if !ranges
        .iter()
        .all(|&(at, lo, hi)| digits(at, 2).is_some_and(|v| (lo..=hi).contains(&v)))
    {
        return false;
    }
    let mut rest = &b[19..];
    if rest.first() == Some(&b'.') {
        let fraction = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if fraction == 0 {
            return false;
        }
        rest = &rest[1 + fraction..];
    }
    match rest {
        [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
                && u32::from(h1 - b'0') * 10 + u32::from(h2 - b'0') <= 14
                && u32::from(m1 - b'0') * 10 + u32::from(m2 - b'0') <= 59
        }
        _ => false,
    }
}

/// obs-6, vs-2 and vs-3: a value or a dataAbsentReason, never both; status and code.
fn observation(resource: &Value, at: &str) -> Result<(), String> {
    let Some(fields) = resource.as_object() else {
        return Ok(());
    };
    for required in ["status", "code"] {
        if !fields.contains_key(required) {
            return Err(format!("{at}: an Observation needs `{required}`"));
        }
    }
    let has_value = |object: &serde_json::Map<String, Value>| object.keys().any(|k| k.starts_with("value"));
    let absent = fields.contains_key("dataAbsentReason");
    if has_value(fields) && absent {
        return Err(format!("{at}: a value and a dataAbsentReason together (obs-6)"));
    }
    let components = fields.get("component").and_then(Value::as_array);
    if !has_value(fields) && !absent && components.is_none() && !fields.contains_key("hasMember") {
        return Err(format!(
            "{at}: an Observation with neither a value, a dataAbsentReason, components nor members (vs-2)"
        ));
    }
    for (i, component) in components.into_iter().flatten().enumerate() {
        let Some(component) = component.as_object() else {
            continue;
        };
        let absent = component.contains_key("dataAbsentReason");
        match (has_value(component), absent) {
            (true, true) => {
                return Err(format!(
                    "{at}.component[{i}]: a value and a dataAbsentReason together (obs-6)"
                ))
            }
            (false, false) => {
                return Err(format!(
                    "{at}.component[{i}]: a component with neither a value nor a dataAbsentReason (vs-3)"
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Every `reference` names something the Bundle or the resource holds (`urn:uuid:` an entry's
/// fullUrl, `#id` a contained resource); `Type/id` references are the server's.
fn references(value: &Value, at: &Place<'_>, full_urls: &[&str], resource: &Value) -> Result<(), String> {
    match value {
        Value::Object(fields) => {
            for (key, child) in fields {
                let path = Place::Field(at, key);
                if key == "reference" {
                    if let Some(reference) = child.as_str() {
                        if reference.starts_with("urn:uuid:") && !full_urls.contains(&reference) {
                            return Err(format!("{path}: names no entry of the Bundle"));
                        }
                        if let Some(id) = reference.strip_prefix('#') {
                            let contained = resource
                                .get("contained")
                                .and_then(Value::as_array)
                                .into_iter()
                                .flatten()
                                .any(|c| c.get("id").and_then(Value::as_str) == Some(id));
                            if !contained {
                                return Err(format!("{path}: names no contained resource"));
                            }
                        }
                    }
                }
                references(child, &path, full_urls, resource)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                references(item, &Place::Item(at, i), full_urls, resource)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fhir_date_times_and_what_is_none() {
        for good in [
            "2026",
            "2026-11",
            "2026-11-21",
            "2026-11-21T10:00:00Z",
            "2026-11-21T10:00:00.25+01:00",
            "2026-11-21T23:59:60-05:30",
        ] {
            assert!(is_fhir_date_time(good), "{good}");
        }
        for bad in [
            "+54692-12-17T16:00:00+00:00",
            "0000-01-01",
            "2026-13-01",
            "2026-11-21T10:00",
            "2026-11-21T10:00:00",
            "2026-11-21T25:00:00Z",
            "2026-11-21T10:00:00.Z",
            "2026-11-21T10:00:00+15:00",
            "",
        ] {
            assert!(!is_fhir_date_time(bad), "{bad}");
        }
    }

    fn bundle(observation: Value) -> Value {
        json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:d", "resource": {"resourceType": "Device", "id": "x"},
             "request": {"method": "POST", "url": "Device"}},
            {"fullUrl": "urn:uuid:o", "resource": observation, "request": {"method": "POST", "url": "Observation"}}
        ]})
    }

    #[test]
    fn each_rule_is_named_with_its_path_and_a_good_bundle_passes() {
        let good = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
            "valueQuantity": {"value": 1}, "device": {"reference": "urn:uuid:d"},
            "effectiveDateTime": "2026-11-21T10:00:00Z"});
        assert_eq!(transaction_json(&bundle(good.clone())), Ok(()));
        let mut cases: Vec<(Value, &str)> = Vec::new();
        let mut with = |key: &str, value: Value, rule: &'static str| {
            let mut o = good.clone();
            o[key] = value;
            cases.push((o, rule));
        };
        with(
            "valueString",
            json!(""),
            "entry[1].resource.valueString: an empty string",
        );
        with(
            "effectiveDateTime",
            json!("+54692-12-17T16:00:00+00:00"),
            "effectiveDateTime: not a FHIR dateTime",
        );
        with("dataAbsentReason", json!({"text": "x"}), "(obs-6)");
        with(
            "device",
            json!({"reference": "urn:uuid:elsewhere"}),
            "device.reference: names no entry",
        );
        with("subject", json!({"reference": "#loc"}), "names no contained resource");
        with("note", json!([]), "an empty list");
        with(
            "category",
            json!([{"coding": [{"code": "x"}]}, {"text": ""}]),
            "entry[1].resource.category[1].text: an empty string",
        );
        with(
            "hasMember",
            json!([{"reference": "urn:uuid:d"}, {"reference": "urn:uuid:gone"}]),
            "entry[1].resource.hasMember[1].reference: names no entry",
        );
        for (observation, rule) in cases {
            let error = transaction_json(&bundle(observation)).unwrap_err();
            assert!(error.contains(rule), "{error} / {rule}");
        }
        let mut bare = good.clone();
        bare.as_object_mut().unwrap().remove("valueQuantity");
        assert!(transaction_json(&bundle(bare)).unwrap_err().contains("(vs-2)"));
        let mut component = good.clone();
        component["component"] = json!([{"code": {"text": "c"}}]);
        assert!(transaction_json(&bundle(component))
            .unwrap_err()
            .contains("component[0]: a component with neither"));
        let no_request = json!({"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": good}]});
        assert!(transaction_json(&no_request).unwrap_err().contains("request.method"));
    }
}
