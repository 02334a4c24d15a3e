//! Generates loom 0.7's own test files twice, for `benches/loom_suite.rs`: once against loom
//! and once against selvedge, each through a `shim` module that counts executions. The test
//! functions become plain functions listed in `TESTS` (name, function, whether upstream expects
//! a panic, whether upstream ignores it). Shared copying logic: `../selvedge-port/port_gen.rs`.

#[path = "../selvedge-port/port_gen.rs"]
#[allow(dead_code)]
mod port_gen;

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../selvedge-port/port_gen.rs");
    if let Err(e) = generate() {
        panic!("selvedge-bench: {e}");
    }
}

/// Files left out: `atomic_int.rs` generates its tests with a macro (single-threaded, trivially
/// one execution under both tools).
const SKIPPED_FILES: [&str; 1] = ["atomic_int.rs"];

fn generate() -> Result<(), String> {
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let tests = port_gen::registry_crate("loom-0.7")?.join("tests");
    println!("cargo:rerun-if-changed={}", tests.display());
    let mut names: Vec<String> = fs::read_dir(&tests)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rs") && !SKIPPED_FILES.contains(&n.as_str()))
        .collect();
    names.sort();
    for tool in ["under_loom", "under_selvedge"] {
        let mut files = Vec::new();
        let mut registry =
            String::from("pub(crate) const TESTS: &[(&str, fn(), bool, bool)] = &[\n");
        for name in &names {
            let source = fs::read_to_string(tests.join(name)).map_err(|e| e.to_string())?;
            let module = name.trim_end_matches(".rs").replace('-', "_");
            let module = if module == "yield" {
                "r#yield".to_string()
            } else {
                module
            };
            let (text, found) = plain_functions(&source);
            for (test, should_panic, ignored) in found {
                let _ = writeln!(
                    registry,
                    "    ({:?}, {module}::{test}, {should_panic}, {ignored}),",
                    format!("{}::{test}", module.trim_start_matches("r#"))
                );
            }
            files.push((name.clone(), shimmed(&text, tool)));
        }
        registry.push_str("];\n");
        let dir = out.join(tool);
        port_gen::write_tree(&dir, &files)?;
        let mut tree = fs::read_to_string(dir.join("mod.rs")).map_err(|e| e.to_string())?;
        tree.push_str(&registry);
        fs::write(dir.join("mod.rs"), tree).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The source with every `#[test]` function made a plain `pub(crate)` function (its test
/// attributes blanked, so lines keep their numbers), and what each was: `(name, should_panic,
/// ignored)`.
fn plain_functions(source: &str) -> (String, Vec<(String, bool, bool)>) {
    let tests = port_gen::test_fns(source);
    let mut out = source.to_string();
    let mut found = Vec::new();
    for test in tests.iter().rev() {
        let attributes = &source[test.start..test.name_at];
        let blanked: String = attributes
            .split_inclusive('\n')
            .map(|line| {
                let t = line.trim_start();
                if t.starts_with("#[test]")
                    || t.starts_with("#[should_panic")
                    || t.starts_with("#[ignore")
                {
                    if line.ends_with('\n') { "\n" } else { "" }.to_string()
                } else {
                    line.to_string()
                }
            })
            .collect();
        out.replace_range(
            test.start..test.name_at + 3,
            &format!("{blanked}pub(crate) fn "),
        );
        found.push((test.name.clone(), test.should_panic, test.ignored));
    }
    found.reverse();
    (out, found)
}

/// `loom::` becomes the tool's `shim::`, imported after the file's inner attributes.
fn shimmed(source: &str, tool: &str) -> String {
    let renamed = port_gen::rename_crate(source, "loom", "shim")
        .replace("#![cfg(feature = \"futures\")]", "");
    let mut out = String::new();
    let mut inserted = false;
    for line in renamed.split_inclusive('\n') {
        let t = line.trim_start();
        let preamble = t.starts_with("#![") || t.starts_with("//") || t.trim().is_empty();
        if !inserted && !preamble {
            out.push_str(&format!(
                "#[allow(unused_imports)] use crate::{tool}::shim; "
            ));
            inserted = true;
        }
        out.push_str(line);
    }
    out
}
