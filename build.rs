//! Embeds the built-in workflows (`workflows/**/*.yaml`) and engines (`engines/*.yaml`) into the
//! binary: writes `$OUT_DIR/builtin.rs` with one `include_bytes!` per file, sorted by name.

use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    println!("cargo:rerun-if-changed=workflows");
    println!("cargo:rerun-if-changed=engines");
    let mut workflows = Vec::new();
    collect(&root.join("workflows"), "", true, &mut workflows);
    let mut engines = Vec::new();
    collect(&root.join("engines"), "", false, &mut engines);
    workflows.sort();
    engines.sort();
    let mut code = String::new();
    for (name, list) in [("WORKFLOWS", &workflows), ("ENGINES", &engines)] {
        code.push_str(&format!("pub static {name}: &[(&str, &[u8])] = &[\n"));
        for (key, path) in list {
            code.push_str(&format!(
                "    ({key:?}, include_bytes!({:?})),\n",
                path.display().to_string()
            ));
        }
        code.push_str("];\n");
    }
    if let Err(err) = fs::write(out.join("builtin.rs"), code) {
        panic!("cannot write builtin.rs: {err}");
    }
}

/// Collects `<prefix><stem>` → path for every `.yaml` file (recursively when `deep`).
fn collect(dir: &Path, prefix: &str, deep: bool, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if path.is_dir() {
            if deep {
                collect(&path, &format!("{prefix}{name}/"), deep, out);
            }
        } else if let Some(stem) = name.strip_suffix(".yaml") {
            out.push((format!("{prefix}{stem}"), path));
        }
    }
}
