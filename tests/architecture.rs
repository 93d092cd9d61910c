//! The import rules of ARCHITECTURE.md, checked on the source: which layer may use which, and no
//! circle between files (a file that uses, through any chain, a file that uses it).
//!
//! The check reads `src/` as text: every `use` declaration and every `crate::…`/`super::…` path in
//! code outside test modules is resolved to the file of the module it names. A path into an item of
//! a module (a type, a function) counts as using that module's file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each top-level module may use besides itself. An entry names a module and everything below
/// it; `=name` names that module's own file only.
const LAYERS: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("privacy", &[]),
    ("metrics", &[]),
    ("tls", &[]),
    ("fhir", &[]),
    ("codes", &["model"]),
    ("store", &["privacy"]),
    ("adapters", &["model", "codes", "privacy"]),
    ("mapping", &["model", "codes", "fhir"]),
    // Delivery executes plans: never the model, an adapter, the mapper or the pipeline.
    ("delivery", &["fhir", "store", "metrics", "tls", "privacy"]),
    (
        "pipeline",
        &[
            "adapters",
            "model",
            "codes",
            "mapping",
            "fhir",
            "store",
            "delivery::plan",
            "privacy",
        ],
    ),
    // The simulator is a client of the bridge's wire protocols: none of the bridge's own code but TLS.
    ("simulate", &["tls"]),
    // Transports never parse a device format: the adapter kinds, and the HL7 reader for an ACK.
    (
        "ingest",
        &[
            "=adapters",
            "adapters::hl7v2::message",
            "pipeline",
            "store",
            "metrics",
            "tls",
            "privacy",
        ],
    ),
];

/// Which modules each module uses, by module path.
type Edges = BTreeMap<Vec<String>, BTreeSet<Vec<String>>>;

/// A module path (`["adapters", "ble", "envelope"]`) and its file.
struct Module {
    path: Vec<String>,
    file: PathBuf,
    /// Child modules it declares (`mod x;`), for paths relative to it.
    children: BTreeSet<String>,
}

fn modules(src: &Path) -> BTreeMap<Vec<String>, Module> {
    let mut found = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().to_string()).collect();
            if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let children = text
                .lines()
                .filter_map(|l| {
                    let l = l.trim();
                    let l = l.strip_prefix("pub ").unwrap_or(l);
                    let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
                    l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_string)
                })
                .collect();
            found.insert(
                parts.clone(),
                Module {
                    path: parts,
                    file: path,
                    children,
                },
            );
        }
    }
    found
}

/// The file's code without its test modules (a `#[cfg(test)]` item runs to the end of its braces).
fn code_without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        // Skip to the end of the item: a `;` before any `{`, or the matching `}`.
        let open = after.find('{');
        let semi = after.find(';');
        let end = match (open, semi) {
            (Some(o), Some(s)) if s < o => s + 1,
            (Some(o), _) => {
                let mut depth = 0usize;
                let mut end = after.len();
                for (i, c) in after[o..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = o + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (None, Some(s)) => s + 1,
            (None, None) => after.len(),
        };
        rest = &after[end..];
    }
    out.push_str(rest);
    // Comments name modules without using them.
    out.lines()
        .map(|l| match l.find("//") {
            Some(at) => &l[..at],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or(tree).trim().to_string()];
    };
    let prefix = tree[..open].trim();
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(|p| expand(p.trim()))
        .map(|p| {
            if p == "self" {
                prefix.trim_end_matches("::").to_string()
            } else {
                format!("{prefix}{p}")
            }
        })
        .collect()
}

/// The paths a file's code names: its `use` trees, and `crate::`/`super::` paths anywhere.
fn named_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        let after = &rest[at + 4..];
        rest = after;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(end) = after.find(';') else { break };
        let tree = after[..end].split_whitespace().collect::<Vec<_>>().join(" ");
        if tree.contains('"') || tree.contains('(') {
            continue;
        }
        paths.extend(expand(&tree));
    }
    for prefix in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(prefix) {
            let at = from + found;
            let before = code[..at].chars().last();
            let tail = &code[at..];
            let end = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                paths.push(tail[..end].trim_end_matches(':').to_string());
            }
            from = at + end.max(prefix.len());
        }
    }
    paths
}

/// The module a path names, from the module `from`: the longest prefix that is a module.
fn resolve(path: &str, from: &Module, modules: &BTreeMap<Vec<String>, Module>) -> Option<Vec<String>> {
    let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let (mut base, rest): (Vec<String>, &[&str]) = match segments.first()? {
        &"crate" => (Vec::new(), &segments[1..]),
        &"super" | &"self" => {
            let mut base = from.path.clone();
            let mut i = 0;
            while let Some(s) = segments.get(i) {
                match *s {
                    "super" => {
                        base.pop();
                    }
                    "self" => {}
                    _ => break,
                }
                i += 1;
            }
            (base, &segments[i..])
        }
        first if from.children.contains(*first) => (from.path.clone(), &segments[..]),
        _ => return None,
    };
    let mut best = modules.contains_key(&base).then(|| base.clone());
    for s in rest {
        base.push((*s).to_string());
        if modules.contains_key(&base) {
            best = Some(base.clone());
        } else {
            break;
        }
    }
    best
}

fn graph() -> (BTreeMap<Vec<String>, Module>, Edges) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules(&src);
    let mut edges = Edges::new();
    for module in modules.values() {
        let name = module.file.file_name().unwrap().to_string_lossy().to_string();
        if name == "tests.rs" || module.path.is_empty() {
            continue;
        }
        let code = code_without_tests(&std::fs::read_to_string(&module.file).unwrap());
        let targets = edges.entry(module.path.clone()).or_default();
        for path in named_paths(&code) {
            if let Some(target) = resolve(&path, module, &modules) {
                if target != module.path && !target.is_empty() {
                    targets.insert(target);
                }
            }
        }
    }
    (modules, edges)
}

fn allowed(from: &[String], to: &[String]) -> bool {
    if from.first() == to.first() {
        return true;
    }
    let Some((_, rules)) = LAYERS
        .iter()
        .find(|(layer, _)| Some(&layer.to_string()) == from.first())
    else {
        return true; // the top (config, serve, main, admin, mappings_cli) assembles everything
    };
    let to_text = to.join("::");
    rules.iter().any(|rule| match rule.strip_prefix('=') {
        Some(exact) => to_text == exact,
        None => to_text == *rule || to_text.starts_with(&format!("{rule}::")),
    })
}

#[test]
fn no_layer_imports_a_layer_it_may_not() {
    let (_, edges) = graph();
    let mut broken = Vec::new();
    for (from, targets) in &edges {
        for to in targets {
            if !allowed(from, to) {
                broken.push(format!("{} uses {}", from.join("::"), to.join("::")));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "imports against ARCHITECTURE.md:\n{}",
        broken.join("\n")
    );
}

/// The groups of files that import each other (Tarjan's strongly connected components of more
/// than one file).
fn circles(edges: &Edges) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a Edges,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        next: usize,
        circles: Vec<Vec<String>>,
    }
    fn visit<'a>(v: &'a Vec<String>, s: &mut State<'a>) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(targets) = s.edges.get(v) {
            for w in targets {
                let Some((w, _)) = s.edges.get_key_value(w) else {
                    continue;
                };
                if !s.index.contains_key(w) {
                    visit(w, s);
                    let low = s.low[w].min(s.low[v]);
                    s.low.insert(v, low);
                } else if s.on_stack.contains(w) {
                    let low = s.index[w].min(s.low[v]);
                    s.low.insert(v, low);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.join("::"));
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.circles.push(component);
            }
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        circles: Vec::new(),
    };
    for v in edges.keys() {
        if !state.index.contains_key(v) {
            visit(v, &mut state);
        }
    }
    state.circles
}

#[test]
fn no_file_imports_a_file_that_imports_it() {
    let (_, edges) = graph();
    let found: Vec<String> = circles(&edges).iter().map(|c| c.join(" ⇄ ")).collect();
    assert!(found.is_empty(), "files that import each other:\n{}", found.join("\n"));
}

#[test]
fn the_checker_sees_imports_and_circles() {
    assert_eq!(
        expand("crate::a::{b, c::{d, e as f}, self}"),
        ["crate::a::b", "crate::a::c::d", "crate::a::c::e", "crate::a"]
    );
    let code = code_without_tests(
        "use crate::x::Y;\n#[cfg(test)]\nmod tests { use crate::z::W; }\nfn f() { super::q::r(); super::super::s(); }",
    );
    let named: BTreeSet<String> = named_paths(&code).into_iter().collect();
    let wanted = ["crate::x::Y", "super::q::r", "super::super::s"];
    assert_eq!(named, wanted.iter().map(|p| p.to_string()).collect());
    assert!(allowed(&["delivery".into()], &["fhir".into(), "search".into()]));
    assert!(!allowed(&["delivery".into()], &["model".into()]));
    assert!(!allowed(&["ingest".into()], &["adapters".into(), "ble".into()]));
    assert!(allowed(&["ingest".into()], &["adapters".into()]));
    let path = |p: &str| p.split("::").map(str::to_string).collect::<Vec<_>>();
    let synthetic: Edges = BTreeMap::from([
        (path("a"), BTreeSet::from([path("a::b")])),
        (path("a::b"), BTreeSet::from([path("c")])),
        (path("c"), BTreeSet::from([path("a")])),
        (path("d"), BTreeSet::from([path("a")])),
    ]);
    assert_eq!(
        circles(&synthetic),
        vec![vec!["a".to_string(), "a::b".into(), "c".into()]]
    );
    // The rules hold something: delivery is in them, and the graph found its files.
    let (modules, edges) = graph();
    assert!(modules.contains_key(&vec!["delivery".to_string(), "deliverer".to_string()]));
    assert!(edges[&vec!["delivery".to_string(), "deliverer".to_string()]].contains(&vec!["store".to_string()]));
}
