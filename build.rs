//! Embeds the built-in workflows (`workflows/**/*.yaml`) and engines (`engines/*.yaml`) into the
//! binary: writes `$OUT_DIR/builtin.rs` with one `include_bytes!` per file, sorted by name.
//! Also asks the linker to lay out the functions a run executes side by side
//! (`link/hot-functions.txt`, see `link/README.md`).

use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    println!("cargo:rerun-if-changed=workflows");
    println!("cargo:rerun-if-changed=engines");
    order_hot_functions(&root);
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

/// Passes `link/hot-functions.txt` to the linker as its symbol order, for `agent-runner` only,
/// when the linker is sure to be LLD: Rust's own `rust-lld`, the default for
/// x86_64-unknown-linux-gnu since Rust 1.90, with no other linker configured. Other linkers do
/// not know the option; they get the usual layout (the same program, only more of it resident).
fn order_hot_functions(root: &Path) {
    let order = root.join("link/hot-functions.txt");
    println!("cargo:rerun-if-changed={}", order.display());
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let configured_linker = std::env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER")
        .is_some()
        || var("CARGO_ENCODED_RUSTFLAGS").contains("linker");
    if var("TARGET") != "x86_64-unknown-linux-gnu" || configured_linker || !rust_lld_default() {
        return;
    }
    println!(
        "cargo:rustc-link-arg-bin=agent-runner=-Wl,--symbol-ordering-file={}",
        order.display()
    );
    // A name the file lists that this build no longer has is simply not placed.
    println!("cargo:rustc-link-arg-bin=agent-runner=-Wl,--no-warn-symbol-ordering");
}

/// Whether the compiler is Rust 1.90 or later (`rustc -vV` says `release: 1.95.0`).
fn rust_lld_default() -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(out) = std::process::Command::new(rustc).arg("-vV").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(release) = text.lines().find_map(|l| l.strip_prefix("release: ")) else {
        return false;
    };
    let mut parts = release
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (1, 90)
}
