//! XML payloads through the same mappings: the document becomes a JSON tree, and the mapping's
//! JSONPaths walk it. The shape is fixed, so paths are predictable:
//!
//! * the root element is an object under its name: `<readings>` is `$.readings`;
//! * attributes are members named `@` + name: `@['@unit']`;
//! * child elements are arrays under their local name (namespace prefixes dropped), whether they occur
//!   once or many times: every `<reading>` of the root is `$.readings.reading[*]`;
//! * an element with only text is that text; text beside attributes or children is `#text`.
//!
//! A value path that finds a one-element array or an object with `#text` reads the text, so
//! `@.value` reads `<value>74.1</value>`.

use quick_xml::errors::IllFormedError;
use quick_xml::escape::EscapeError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde_json::{Map, Value as Json};

/// What is wrong with the document, in words that quote none of it: quick-xml's own messages quote
/// tag names and entity text, which are the payload's.
fn described(error: &quick_xml::Error) -> String {
    use quick_xml::Error;
    match error {
        Error::Io(_) => "the document cannot be read".into(),
        // Syntax and attribute errors name the construct and byte positions only.
        Error::Syntax(e) => e.to_string(),
        Error::InvalidAttr(e) => format!("malformed attribute: {e}"),
        Error::IllFormed(e) => match e {
            IllFormedError::MissingDeclVersion(_) => "the XML declaration does not start with `version`",
            IllFormedError::MissingDoctypeName => "a DOCTYPE without a name",
            IllFormedError::MissingEndTag(_) => "an element is not closed",
            IllFormedError::UnmatchedEndTag(_) => "an end tag without a start tag",
            IllFormedError::MismatchedEndTag { .. } => "an end tag does not match the open element",
            IllFormedError::DoubleHyphenInComment => "`--` inside a comment",
            _ => "the document is not well-formed",
        }
        .into(),
        Error::Encoding(_) => encoding().into(),
        Error::Escape(e) => escape(e).into(),
        Error::Namespace(_) => "a namespace prefix is not declared or declared wrongly".into(),
    }
}

const UNKNOWN_ENTITY: &str = "an entity XML does not define (only &lt; &gt; &amp; &apos; &quot;)";

fn escape(error: &EscapeError) -> &'static str {
    match error {
        EscapeError::UnrecognizedEntity(..) => UNKNOWN_ENTITY,
        EscapeError::UnterminatedEntity(_) => "an `&` without its `;`",
        EscapeError::InvalidCharRef(_) => "a character reference that is no character",
    }
}

fn encoding() -> &'static str {
    "text that is not valid in the document's encoding (UTF-8)"
}

/// One element being built.
struct Open {
    name: String,
    fields: Map<String, Json>,
    text: String,
}

fn local_name(start: &BytesStart) -> String {
    String::from_utf8_lossy(start.local_name().as_ref()).to_string()
}

fn open(start: &BytesStart, position: u64) -> Result<Open, String> {
    let mut fields = Map::new();
    for (number, attribute) in start.attributes().enumerate() {
        let attribute = attribute.map_err(|e| format!("byte {position}: malformed attribute: {e}"))?;
        // (AttrError names byte positions only.)
        // Namespace declarations are not data.
        if attribute.key.as_ref() == b"xmlns" || attribute.key.as_ref().starts_with(b"xmlns:") {
            continue;
        }
        let key = String::from_utf8_lossy(attribute.key.local_name().as_ref()).to_string();
        // The attribute by its place, not its name: a name is the payload's text too.
        let value = attribute.unescape_value().map_err(|e| {
            format!(
                "byte {position}: the value of the element's attribute {}: {}",
                number + 1,
                described(&e)
            )
        })?;
        fields.insert(format!("@{key}"), Json::String(value.to_string()));
    }
    Ok(Open {
        name: local_name(start),
        fields,
        text: String::new(),
    })
}

/// The finished element's JSON.
fn close(element: Open) -> Json {
    let text = element.text.trim().to_string();
    if element.fields.is_empty() {
        return Json::String(text);
    }
    let mut fields = element.fields;
    if !text.is_empty() {
        fields.insert("#text".into(), Json::String(text));
    }
    Json::Object(fields)
}

fn attach(parent: &mut Open, name: String, child: Json) {
    // Attributes are stored as `@name`, so an element's key always holds the array made here.
    if let Json::Array(items) = parent.fields.entry(name).or_insert_with(|| Json::Array(Vec::new())) {
        items.push(child);
    }
}

/// Deepest element nesting accepted: deeper trees would exhaust the stack when walked or dropped.
const MAX_DEPTH: usize = 128;

/// Parses an XML document into the JSON tree described above. Errors name the byte offset.
pub fn to_json(xml: &[u8]) -> Result<Json, String> {
    let xml = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<(String, Json)> = None;
    let mut buffer = Vec::new();
    loop {
        let position = reader.buffer_position();
        let event = reader
            .read_event_into(&mut buffer)
            .map_err(|e| format!("XML is malformed at byte {position}: {}", described(&e)))?;
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("XML at byte {position}: elements nest deeper than {MAX_DEPTH}"));
                }
                stack.push(open(&start, position)?)
            }
            Event::Empty(start) => {
                let element = open(&start, position)?;
                let name = element.name.clone();
                let json = close(element);
                match stack.last_mut() {
                    Some(parent) => attach(parent, name, json),
                    None => root = Some((name, json)),
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| format!("XML is malformed at byte {position}: an end tag without a start"))?;
                let name = element.name.clone();
                let json = close(element);
                match stack.last_mut() {
                    Some(parent) => attach(parent, name, json),
                    None => root = Some((name, json)),
                }
            }
            Event::Text(text) => {
                if let Some(current) = stack.last_mut() {
                    let text = text
                        .xml_content()
                        .map_err(|_| format!("XML is malformed at byte {position}: {}", encoding()))?;
                    current.text.push_str(&text);
                }
            }
            // `&amp;` and `&#38;` arrive as references of their own.
            Event::GeneralRef(reference) => {
                if let Some(current) = stack.last_mut() {
                    let character = match reference.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        Ok(None) => {
                            let name = reference
                                .decode()
                                .map_err(|_| format!("XML is malformed at byte {position}: {}", encoding()))?;
                            quick_xml::escape::resolve_predefined_entity(&name)
                                .ok_or_else(|| format!("XML at byte {position}: {UNKNOWN_ENTITY}"))?
                                .to_string()
                        }
                        Err(_) => {
                            return Err(format!(
                                "XML is malformed at byte {position}: a character reference that is no character"
                            ))
                        }
                    };
                    current.text.push_str(&character);
                }
            }
            Event::CData(data) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    if !stack.is_empty() {
        return Err(format!("XML ends inside an element (depth {})", stack.len()));
    }
    let (name, json) = root.ok_or("the XML document has no root element")?;
    let mut document = Map::new();
    document.insert(name, json);
    Ok(Json::Object(document))
}

/// True when the payload looks like XML (its first non-blank byte is `<`).
pub fn looks_like_xml(payload: &[u8]) -> bool {
    let payload = payload.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(payload);
    payload.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_attributes_and_text_have_fixed_places() {
        let xml = br#"<?xml version="1.0"?>
            <pump:report xmlns:pump="urn:acme:pump" serial="P-7">
              <pump:reading type="rate"><value unit="mL/h">125.0</value><at>2026-11-21T10:00:00+01:00</at></pump:reading>
              <pump:reading type="volume"><value unit="mL">42</value><at>2026-11-21T10:00:00+01:00</at></pump:reading>
              <note><![CDATA[a & b]]></note>
              <escaped>x &amp; y &#38; z</escaped>
            </pump:report>"#;
        let json = to_json(xml).unwrap();
        assert_eq!(json["report"]["@serial"], "P-7");
        assert!(
            json["report"].get("@pump").is_none(),
            "namespace declarations are not data"
        );
        assert_eq!(json["report"]["reading"].as_array().unwrap().len(), 2);
        assert_eq!(json["report"]["reading"][0]["@type"], "rate");
        assert_eq!(json["report"]["reading"][0]["value"][0]["#text"], "125.0");
        assert_eq!(json["report"]["reading"][0]["value"][0]["@unit"], "mL/h");
        assert_eq!(json["report"]["reading"][1]["at"][0], "2026-11-21T10:00:00+01:00");
        assert_eq!(json["report"]["note"][0], "a & b");
        assert_eq!(json["report"]["escaped"][0], "x & y & z");
    }

    #[test]
    fn malformed_xml_names_the_byte() {
        let error = to_json(b"<a><b></a>").unwrap_err();
        assert!(error.contains("byte"), "{error}");
        assert!(to_json(b"<a>")
            .unwrap_err()
            .contains("ends inside an element (depth 1)"));
        // Tag names and entity text are the payload's: never quoted.
        for (xml, rule) in [
            (&b"<r><ZQX1></r>"[..], "does not match"),
            (b"<r>&ZQX2;</r>", "an entity XML does not define"),
            (b"<r a=\"&ZQX3;\"/>", "an entity XML does not define"),
            (b"<r>&#xZQX4;</r>", "no character"),
            (b"</ZQX5>", "without a start"),
            (b"<r><ZQX6>", "ends inside"),
        ] {
            let error = to_json(xml).unwrap_err();
            assert!(error.contains(rule) && !error.contains("ZQX"), "{error}");
        }
        assert!(looks_like_xml(b"  <a/>"));
        assert!(looks_like_xml(b"\xEF\xBB\xBF<a/>"), "after a byte-order mark");
        let deep = "<a>".repeat(200) + &"</a>".repeat(200);
        assert!(to_json(deep.as_bytes()).unwrap_err().contains("deeper than 128"));
        assert!(!looks_like_xml(b"{}"));
    }
}
