//! Module boundaries that keep "the driver executes, the strategy decides, the report explains"
//! true, checked on the source: the explorer, the strategies, the report and the trace reach an
//! execution only through the `Driver` seam and its plain-data `Execution`, never the coroutine
//! runtime; the trace is a leaf.

use std::path::{Path, PathBuf};

fn sources(under: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(under);
    if root.is_file() {
        return vec![root];
    }
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    assert!(!out.is_empty(), "no sources under {under}");
    out
}

/// Lines of `path` that name a module it must not use.
fn offending(path: &Path, forbidden: &[&str]) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .filter(|(_, line)| forbidden.iter().any(|f| line.contains(f)))
        .map(|(n, line)| format!("{}:{}: {}", path.display(), n + 1, line.trim()))
        .collect()
}

#[test]
fn explorer_strategies_report_and_trace_never_reach_into_the_runtime() {
    let mut found = Vec::new();
    for under in [
        "explorer",
        "driver.rs",
        "schedule.rs",
        "strategy",
        "report",
        "trace",
    ] {
        for path in sources(under) {
            found.extend(offending(&path, &["crate::runtime", "super::runtime"]));
        }
    }
    assert!(
        found.is_empty(),
        "imports across the driver seam:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_trace_is_a_leaf() {
    let mut found = Vec::new();
    for path in sources("trace") {
        found.extend(offending(&path, &["crate::"]));
    }
    assert!(
        found.is_empty(),
        "the trace imports the rest of selvedge:\n{}",
        found.join("\n")
    );
}

#[test]
fn strategies_never_see_the_report_or_the_explorer() {
    let mut found = Vec::new();
    for path in sources("strategy") {
        found.extend(offending(&path, &["crate::report", "crate::explorer"]));
    }
    assert!(
        found.is_empty(),
        "strategies reaching past their inputs:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_report_renders_plain_data_and_never_reaches_into_the_explorer() {
    let mut found = Vec::new();
    for path in sources("report") {
        found.extend(offending(&path, &["crate::explorer", "crate::driver"]));
    }
    assert!(
        found.is_empty(),
        "the report reaching past its data:\n{}",
        found.join("\n")
    );
}

#[test]
fn chaos_and_stress_use_only_the_public_api() {
    // Everything they use from selvedge is public (`crate::{explore, sync, thread, future,
    // time, Config, Report, ...}`); the one internal seam is the syncpoint hook, through which
    // the stress harness's threads hear their syncpoints.
    let internals = [
        "crate::runtime",
        "crate::explorer",
        "crate::driver",
        "crate::strategy",
        "crate::trace",
        "crate::report",
        "crate::entry",
        "crate::limits",
        "crate::schedule",
        "crate::watchdog",
        "crate::config",
        "crate::error",
    ];
    let mut found = Vec::new();
    for under in ["chaos", "stress"] {
        for path in sources(under) {
            found.extend(offending(&path, &internals));
            let hook_users: Vec<String> = offending(&path, &["crate::syncpoint_hook"]);
            if !path.ends_with("stress/shake.rs") {
                found.extend(hook_users);
            }
        }
    }
    assert!(
        found.is_empty(),
        "chaos or stress reaching past the public API:\n{}",
        found.join("\n")
    );
}
