//! Putting a generated crate on disk: generated files rewritten only when their bytes change,
//! the user's files written once, and the check that finds stale generated files.

use std::path::{Path, PathBuf};

use crate::{Files, Owner};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteReport {
    pub written: Vec<PathBuf>,
    pub unchanged: Vec<PathBuf>,
    /// User files that exist and were left alone.
    pub kept: Vec<PathBuf>,
}

/// Writes `files` under `out`: generated files when their bytes differ, user files only when
/// absent. Stale generated Rust files of removed collections are deleted.
pub fn write(out: &Path, files: &Files) -> std::io::Result<WriteReport> {
    let mut report = WriteReport::default();
    for (rel, file) in files {
        let path = out.join(rel);
        let existing = std::fs::read(&path).ok();
        match (file.owner, existing) {
            (Owner::User, Some(_)) => report.kept.push(rel.clone()),
            (Owner::Generated, Some(bytes)) if bytes == file.contents.as_bytes() => report.unchanged.push(rel.clone()),
            _ => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(&path, &file.contents)?;
                report.written.push(rel.clone());
            }
        }
    }
    let generated_dir = out.join("src/generated");
    if let Ok(entries) = std::fs::read_dir(&generated_dir) {
        for entry in entries.flatten() {
            let rel = Path::new("src/generated").join(entry.file_name());
            if !files.contains_key(&rel) && rel.extension().is_some_and(|e| e == "rs") {
                std::fs::remove_file(entry.path())?;
                report.written.push(rel);
            }
        }
    }
    Ok(report)
}

/// Generated files whose contents on disk differ from `files` (for `--check`).
pub fn stale(out: &Path, files: &Files) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|(_, f)| f.owner == Owner::Generated)
        .filter(|(rel, f)| std::fs::read(out.join(rel)).ok().as_deref() != Some(f.contents.as_bytes()))
        .map(|(rel, _)| rel.clone())
        .collect()
}
