//! Generates the acceptance test tree: loom 0.7's test files and shuttle 0.9's public-API test
//! files from the Cargo registry, renamed to selvedge, with `differences.txt` applied (see
//! `port_gen.rs`), into `OUT_DIR`, for `tests/upstream.rs` to include.

#[path = "port_gen.rs"]
#[allow(dead_code)]
mod port_gen;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use port_gen::{Entry, Verdict};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=port_gen.rs");
    println!("cargo:rerun-if-changed=differences.txt");
    if let Err(e) = generate() {
        panic!("selvedge-port: {e}");
    }
}

fn generate() -> Result<(), String> {
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let differences = fs::read_to_string("differences.txt").map_err(|e| e.to_string())?;
    // Lines marked `[without vector-clocks]` describe what differs only when the feature is off.
    let clocks = std::env::var_os("CARGO_FEATURE_VECTOR_CLOCKS").is_some();
    let differences: String = differences
        .lines()
        .filter_map(|line| match line.strip_prefix("[without vector-clocks] ") {
            Some(_) if clocks => None,
            Some(rest) => Some(rest),
            None => Some(line),
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let entries = port_gen::parse_differences(&differences)?;
    let mut list = String::new();
    let loom = port_gen::registry_crate("loom-0.7")?;
    suite(
        "loom",
        &loom.join("tests"),
        "loom",
        &entries,
        &out,
        &mut list,
    )?;
    let shuttle = port_gen::registry_crate("shuttle-0.9")?;
    suite(
        "shuttle",
        &shuttle.join("tests"),
        "shuttle",
        &entries,
        &out,
        &mut list,
    )?;
    fs::write(out.join("lists.rs"), list).map_err(|e| e.to_string())
}

/// Copies one suite's files, renamed and with its entries applied, into `OUT_DIR/<suite>/`,
/// and appends its lists (differences, excisions, excluded files) to `list`.
fn suite(
    name: &str,
    tests: &Path,
    crate_name: &str,
    entries: &[Entry],
    out: &Path,
    list: &mut String,
) -> Result<(), String> {
    println!("cargo:rerun-if-changed={}", tests.display());
    let mine: Vec<&Entry> = entries.iter().filter(|e| e.suite == name).collect();
    let mut files = Vec::new();
    let mut differs = Vec::new();
    let mut excised = Vec::new();
    let mut excluded = Vec::new();
    for rel in rust_files(tests)? {
        if rel.ends_with("/mod.rs") {
            // A directory's module declarations: the generated tree declares the files itself.
            continue;
        }
        let source = fs::read_to_string(tests.join(&rel)).map_err(|e| e.to_string())?;
        if let Some(file) = mine
            .iter()
            .find(|e| e.file == rel && e.verdict == Verdict::ExcludedFile)
        {
            let n = port_gen::test_fns(&source).len();
            excluded.push((rel.clone(), n, file.reason.clone()));
            continue;
        }
        let renamed = port_gen::rename_crate(&source, crate_name, "selvedge")
            // Every feature of the upstream crate is on in selvedge.
            .replace("#![cfg(feature = \"futures\")]", "")
            // The suite is a module of the test crate, not its root.
            .replace("crate::", &format!("crate::{name}_suite::"))
            // `test_log` only sets up logging around libtest's `#[test]`.
            .replace("use test_log::test;", "");
        let here: Vec<&Entry> = mine
            .iter()
            .copied()
            .filter(|e| e.file == rel && e.test.is_some())
            .collect();
        let applied = port_gen::apply(&renamed, &here, &wrapper)?;
        let module = rel.trim_end_matches(".rs").replace('/', "::");
        differs.extend(
            applied
                .differs
                .into_iter()
                .map(|(t, r)| (format!("{module}::{t}"), r)),
        );
        excised.extend(
            applied
                .excised
                .into_iter()
                .map(|(t, n, r)| (format!("{module}::{t}"), n, r)),
        );
        files.push((rel, applied.source));
    }
    port_gen::write_tree(&out.join(name), &files)?;
    let _ = writeln!(list, "pub(crate) mod {name}_lists {{");
    let _ = writeln!(
        list,
        "    pub(crate) const DIFFERS: &[(&str, &str)] = &{differs:?};"
    );
    let _ = writeln!(
        list,
        "    pub(crate) const EXCISED: &[(&str, usize, &str)] = &{excised:?};"
    );
    let _ = writeln!(
        list,
        "    pub(crate) const EXCLUDED_FILES: &[(&str, usize, &str)] = &{excluded:?};"
    );
    let _ = writeln!(list, "}}");
    Ok(())
}

/// The `.rs` files under `dir`, as sorted relative paths.
fn rust_files(dir: &Path) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let entries = fs::read_dir(dir.join(&rel)).map_err(|e| e.to_string())?;
        for entry in entries.flatten() {
            let path = rel.join(entry.file_name());
            if entry.path().is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn wrapper(
    name: &str,
    upstream: &str,
    should_panic: bool,
    expect: Option<&str>,
    reason: &str,
) -> String {
    format!(
        "#[test] fn {name}() {{ ::selvedge_port::expect_difference({should_panic}, {expect:?}, {reason:?}, {upstream}); }}"
    )
}
