//! tests/differential/known.json: the differences from PocketBase that are known, each with a
//! category, whether it is a bug or deliberate, and how to recognise it.

use regex::Regex;
use serde_json::Value;

pub struct Known {
    pub category: String,
    pub kind: String,
    pub description: String,
    filter: Option<Regex>,
    sort: Option<Regex>,
    collection: Option<Vec<String>>,
    caller: Option<Vec<String>>,
    engine: Option<Vec<String>>,
    pocketbase: Option<u16>,
    baas: Option<u16>,
}

/// What a difference is recognised by.
pub struct Seen<'a> {
    pub filter: &'a str,
    pub sort: &'a str,
    pub collection: &'a str,
    pub caller: &'a str,
    pub engine: &'a str,
    pub pocketbase: u16,
    pub baas: u16,
}

impl Known {
    pub fn matches(&self, seen: &Seen<'_>) -> bool {
        let text = |want: &Option<Vec<String>>, got: &str| want.as_ref().is_none_or(|w| w.iter().any(|w| w == got));
        let status = |want: Option<u16>, got: u16| want.is_none_or(|w| w == got);
        self.filter.as_ref().is_none_or(|r| r.is_match(seen.filter))
            && self.sort.as_ref().is_none_or(|r| r.is_match(seen.sort))
            && text(&self.collection, seen.collection)
            && text(&self.caller, seen.caller)
            && text(&self.engine, seen.engine)
            && status(self.pocketbase, seen.pocketbase)
            && status(self.baas, seen.baas)
    }
}

/// Reads the list; every entry needs `category`, `kind` (`bug` or `deliberate`) and
/// `description`, and may narrow itself with `filter`/`sort` (regular expressions, searched
/// in the shrunk filter and sort), `collection`, `caller`, `engine` (each a name or a list of
/// names) and the `pocketbase` and `baas` statuses.
pub fn load(path: &std::path::Path) -> Vec<Known> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let entries = doc["differences"].as_array().unwrap_or_else(|| panic!("{}: no `differences` list", path.display()));
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let field = |name: &str| e.get(name).and_then(Value::as_str).map(str::to_owned);
            // a string or a list of strings
            let one_of = |name: &str| {
                e.get(name).map(|v| match v {
                    Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                    v => {
                        vec![v.as_str().unwrap_or_else(|| panic!("{}: entry {i}: `{name}`", path.display())).to_owned()]
                    }
                })
            };
            let need =
                |name: &str| field(name).unwrap_or_else(|| panic!("{}: entry {i} has no `{name}`", path.display()));
            let regex = |name: &str| {
                field(name).map(|r| {
                    Regex::new(&r).unwrap_or_else(|err| panic!("{}: entry {i}: `{name}`: {err}", path.display()))
                })
            };
            let status = |name: &str| e.get(name).and_then(Value::as_u64).map(|s| s as u16);
            let kind = need("kind");
            assert!(
                kind == "bug" || kind == "deliberate",
                "{}: entry {i}: kind is `bug` or `deliberate`",
                path.display()
            );
            for key in e.as_object().unwrap().keys() {
                assert!(
                    [
                        "category",
                        "kind",
                        "description",
                        "filter",
                        "sort",
                        "collection",
                        "caller",
                        "engine",
                        "pocketbase",
                        "baas"
                    ]
                    .contains(&key.as_str()),
                    "{}: entry {i}: unknown key `{key}`",
                    path.display()
                );
            }
            Known {
                category: need("category"),
                kind,
                description: need("description"),
                filter: regex("filter"),
                sort: regex("sort"),
                collection: one_of("collection"),
                caller: one_of("caller"),
                engine: one_of("engine"),
                pocketbase: status("pocketbase"),
                baas: status("baas"),
            }
        })
        .collect()
}
