//! The front ends: each reads one way of writing a schema into the IR ([`crate::ir`]), with
//! every problem reported at its place, and nothing more — checking is the checker's job.
//!
//! - [`yaml`]: a YAML file (`schemas/blog.yaml`);
//! - `derive` (feature `derive`): the `#[derive(Collection)]` structs of a `#[schema]`
//!   module, from a proc macro's tokens or from a `.rs` file.
//!
//! [`load_yaml`] runs the YAML front end and the checker in one call; `load` (feature
//! `derive`) picks the front end by the file's kind first. What the two front ends share
//! is here too: where a string literal's characters sit in the file (`align`) and sizes
//! written `1MiB`-style ([`parse_size`]).

#[cfg(feature = "derive")]
pub mod derive;
pub mod yaml;

use crate::check::{self, CheckedSchema};
use crate::diag::Diagnostics;
use crate::ir::Origin;
use crate::source::SourceFile;

/// Loads a YAML schema and checks it: the whole front-end pipeline in one call. The checked
/// schema is returned when there were no errors; the diagnostics hold every error and warning.
pub fn load_yaml(file: &SourceFile) -> (Option<CheckedSchema>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let checked = yaml::load(file, &mut diags).and_then(|schema| {
        let checked = check::check(&schema, &mut diags);
        checked.filter(|_| !diags.has_errors())
    });
    (checked, diags)
}

/// Loads and checks a schema file of either form: a Rust file with a `#[schema]` module
/// (`.rs`), else YAML.
#[cfg(feature = "derive")]
pub fn load(file: &SourceFile) -> (Option<CheckedSchema>, Diagnostics) {
    if file.name().ends_with(".rs") { derive::load_file(file) } else { load_yaml(file) }
}

/// Anchors each character of `value` to the same character of `raw` (which starts at file
/// offset `base`), where whitespace in `value` may stand for any whitespace in `raw` and
/// extra whitespace in `raw` (indentation, line breaks) is skipped. `None` when the two
/// differ otherwise (escapes), so the caller keeps what it had.
pub(crate) fn align(value: &str, raw: &str, base: usize) -> Option<Origin> {
    let mut anchors = Vec::new();
    let mut rest = raw.char_indices();
    for (vi, vc) in value.char_indices() {
        loop {
            let Some((ri, rc)) = rest.next() else {
                // a block scalar's final line break lies past its span
                if vc.is_whitespace() {
                    anchors.push((vi, base + raw.len()));
                    break;
                }
                return None;
            };
            if rc == vc || (vc.is_whitespace() && rc.is_whitespace()) {
                anchors.push((vi, base + ri));
                break;
            }
            if !rc.is_whitespace() {
                return None;
            }
        }
    }
    Some(Origin { anchors })
}

/// Parses `1MiB`-style sizes: B, KB/MB/GB (powers of 1000) and KiB/MiB/GiB (powers of 1024).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    let bytes = number * factor as f64;
    (bytes >= 1.0 && bytes.fract() == 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1MiB"), Some(1_048_576));
        assert_eq!(parse_size("500KB"), Some(500_000));
        assert_eq!(parse_size("1.5 KiB"), Some(1536));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("1 parsec"), None);
        assert_eq!(parse_size("0"), None);
    }
}
