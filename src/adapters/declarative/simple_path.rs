//! JSONPaths that name one node by member names and array indexes (`$.a.b[0]`, `$['x-y']`): most of
//! a mapping's paths. They are walked directly rather than through the general JSONPath engine,
//! which collects every node it selects into a list; anything else (wildcards, filters, descendants,
//! slices, negative indexes, escapes, whitespace) is left to the engine.

use serde_json::Value as Json;

/// One step of a simple path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Member(String),
    Index(usize),
}

/// A path of member names and indexes from its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimplePath(Vec<Step>);

impl SimplePath {
    /// `text` (a JSONPath starting at `$`) as a simple path, if it is one.
    pub fn parse(text: &str) -> Option<SimplePath> {
        let mut rest = text.strip_prefix('$')?;
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after
                    .bytes()
                    .position(|b| !(b.is_ascii_alphanumeric() || b == b'_'))
                    .unwrap_or(after.len());
                let name = after.get(..end)?;
                if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                    return None;
                }
                steps.push(Step::Member(name.to_string()));
                rest = after.get(end..)?;
            } else if let Some(after) = rest.strip_prefix('[') {
                let close = after.find(']')?;
                let inside = after.get(..close)?;
                steps.push(bracketed(inside)?);
                rest = after.get(close + 1..)?;
            } else {
                return None;
            }
        }
        Some(SimplePath(steps))
    }

    /// The node the path names under `root`, if there is one.
    pub fn select<'a>(&self, root: &'a Json) -> Option<&'a Json> {
        self.0.iter().try_fold(root, |node, step| match step {
            Step::Member(name) => node.as_object()?.get(name),
            Step::Index(index) => node.as_array()?.get(*index),
        })
    }
}

/// What a bracket holds: a non-negative index without leading zeros, or a quoted name without
/// escapes.
fn bracketed(inside: &str) -> Option<Step> {
    if let Some(name) = inside
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .or_else(|| inside.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
    {
        let plain = name.chars().all(|c| !matches!(c, '\'' | '"' | '\\') && !c.is_control());
        return plain.then(|| Step::Member(name.to_string()));
    }
    let digits = !inside.is_empty() && inside.bytes().all(|b| b.is_ascii_digit());
    if !digits || (inside.len() > 1 && inside.starts_with('0')) {
        return None;
    }
    inside.parse().ok().map(Step::Index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use serde_json_path::JsonPath;

    /// Every path the fast walk takes selects what the JSONPath engine selects, on payloads where the
    /// names are missing, of the wrong kind, or out of range.
    #[test]
    fn a_simple_path_selects_what_the_engine_selects() {
        let payloads = [
            json!({"a": {"b": [10, {"c": "x"}], "x-y": 1, "0": "zero"}, "readings": [{"type": "spo2"}]}),
            json!({"a": [1, 2]}),
            json!([{"a": 1}]),
            json!("text"),
            json!(null),
            json!({"a": {"b": {"1": "not an index"}}}),
        ];
        let simple = [
            "$",
            "$.a",
            "$.a.b",
            "$.a.b[0]",
            "$.a.b[1].c",
            "$.a.b[2]",
            "$['a']['x-y']",
            "$[\"a\"].b",
            "$.a['0']",
            "$[0].a",
            "$.readings[0].type",
            "$.a.b[1]",
            "$._under_score",
        ];
        for path in simple {
            let fast = SimplePath::parse(path).unwrap_or_else(|| panic!("{path} is simple"));
            let engine = JsonPath::parse(path).unwrap();
            for payload in &payloads {
                let expected = engine.query(payload).all();
                assert_eq!(
                    fast.select(payload).into_iter().collect::<Vec<_>>(),
                    expected,
                    "{path} on {payload}"
                );
            }
        }
        for path in [
            "$.a[*]",
            "$..a",
            "$.a[-1]",
            "$.a[0:1]",
            "$.a[?@.b]",
            "$.a[01]",
            "$['a\\'b']",
            "$[ 'a' ]",
            "$.a.1b",
            "$.é",
            "$.a[0,1]",
            "@.a",
        ] {
            assert_eq!(SimplePath::parse(path), None, "{path} is left to the engine");
        }
    }
}
