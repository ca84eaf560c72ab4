//! What realtime will do with each list and view rule, reported by `baas generate`: a rule
//! that reads only the changed record and the subscriber's request is judged in memory, with
//! no database read per subscriber; a rule that reads other rows (relation paths,
//! back-relations, `@collection`) is judged in SQL, once per event and distinct identity.

use baas_schema::CheckedSchema;
use baas_schema::check::TExpr;
use baas_schema::eval::lookups;
use baas_schema::ir::Action;

/// One list or view rule with a condition (public and superusers-only rules need nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealtimeRule {
    pub collection: String,
    pub action: Action,
    /// What the rule reads besides the record and the request; empty: judged in memory.
    pub lookups: Vec<String>,
}

/// The list and view rules with a condition, in schema order.
pub fn realtime_rules(schema: &CheckedSchema) -> Vec<RealtimeRule> {
    let mut out = Vec::new();
    for c in &schema.schema.collections {
        for action in [Action::List, Action::View] {
            match schema.rule(&c.name, action) {
                None | Some(TExpr::True) => {}
                Some(rule) => out.push(RealtimeRule { collection: c.name.clone(), action, lookups: lookups(rule) }),
            }
        }
    }
    out
}

/// The report's lines: the rules judged in memory, then each rule that needs lookups.
pub fn realtime_report(schema: &CheckedSchema) -> Vec<String> {
    let rules = realtime_rules(schema);
    let name = |r: &RealtimeRule| format!("{} {}", r.collection, r.action.name());
    let memory: Vec<String> = rules.iter().filter(|r| r.lookups.is_empty()).map(name).collect();
    let mut lines = Vec::new();
    if !memory.is_empty() {
        lines.push(format!("realtime: judged in memory: {}", memory.join(", ")));
    }
    for r in rules.iter().filter(|r| !r.lookups.is_empty()) {
        lines.push(format!(
            "realtime: {} reads {}: judged in SQL, once per event and identity",
            name(r),
            r.lookups.join(", ")
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blog_report_names_the_rules_that_need_lookups() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/blog.yaml");
        let file = baas_schema::SourceFile::new("schemas/blog.yaml", std::fs::read_to_string(path).unwrap());
        let schema = baas_schema::load_yaml(&file).0.expect("the blog checks");
        assert_eq!(
            realtime_report(&schema),
            [
                "realtime: judged in memory: users list, users view, posts list, posts view",
                "realtime: comments list reads post.published, post.author: judged in SQL, once per event and identity",
                "realtime: comments view reads post.published, post.author: judged in SQL, once per event and identity",
            ]
        );
    }
}
