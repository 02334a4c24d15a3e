//! The test-facing entry points' extras over `explore`: environment overrides and saved
//! failing schedules ("regressions"), replayed first, like proptest's.
//!
//! Environment (read here and nowhere else):
//! - `SELVEDGE_REPLAY=<schedule>`: run exactly that schedule instead of exploring.
//! - `SELVEDGE_SEED=<u64>`: the seed of randomized strategies.
//! - `SELVEDGE_ITERATIONS=<count>`: schedules for randomized strategies.
//! - `SELVEDGE_REQUIRE_COMPLETE=1`: an exhaustive search cut short by a budget fails the test.
//! - `SELVEDGE_REGRESSIONS=off`: neither replay nor save failing schedules.
//!
//! Saved schedules live in `<target dir>/selvedge/regressions/<test>.txt`, one replay string
//! per line with a comment above it.

use std::fs;
use std::io::Write as _;
use std::panic::Location;
use std::path::{Path, PathBuf};

use crate::explorer::{explore_with, ReplayBy};
use crate::report::Report;
use crate::runtime::driver::ModelDrivers;
use crate::runtime::execution::TestBody;
use crate::{Config, Error, FailureKind, Strategy};

/// The test body as the entry points hand it on.
pub(crate) fn body<F: Fn() + Send + Sync + 'static>(f: F) -> TestBody {
    std::sync::Arc::new(f)
}

/// Explores `body` under the model as `config` says, reading nothing else: `explore`.
pub(crate) fn explore(
    config: Config,
    body: TestBody,
    caller: &'static Location<'static>,
) -> Report {
    let drivers = Box::new(ModelDrivers::new(&config, body, caller));
    explore_with(config, drivers, None, ReplayBy::Config)
}

/// Explores `body` under the model for a test-facing entry point.
fn explore_test(
    config: Config,
    body: &TestBody,
    test_name: Option<String>,
    caller: &'static Location<'static>,
) -> Report {
    let drivers = Box::new(ModelDrivers::new(&config, body.clone(), caller));
    explore_with(config, drivers, test_name, ReplayBy::Environment)
}

const KNOWN_VARIABLES: [&str; 5] = [
    "SELVEDGE_REPLAY",
    "SELVEDGE_SEED",
    "SELVEDGE_ITERATIONS",
    "SELVEDGE_REGRESSIONS",
    "SELVEDGE_REQUIRE_COMPLETE",
];

/// Runs `body` as a test: applies the environment, replays saved failures, explores, saves
/// a new failure, and panics with the full report if anything failed. The panic points at
/// the test's call of the entry point (`#[track_caller]` all the way).
#[track_caller]
pub(crate) fn run_test(config: Config, body: TestBody, caller: &'static Location<'static>) {
    run_test_with(config, caller, &|config, test_name, _| {
        explore_test(config, &body, test_name, caller)
    });
}

/// An exploration as a test-facing entry point runs it: with a config, the test's name and how
/// replay strings come back.
pub(crate) type ExploreFn<'a> = dyn Fn(Config, Option<String>, ReplayBy) -> Report + 'a;

/// `run_test` for any driver: `explore` runs one exploration (the saved schedules' replays,
/// then the search). Returns the search's report when nothing failed.
#[track_caller]
pub(crate) fn run_test_with(
    mut config: Config,
    caller: &'static Location<'static>,
    explore: &ExploreFn<'_>,
) -> Report {
    let test_name = test_name();
    if let Err(e) = apply_environment(&mut config) {
        panic!("{e}");
    }
    let replaying = matches!(config.strategy, Strategy::Replay(_));
    let file = regressions_file(test_name.as_deref(), caller);
    if !replaying {
        if let Some(file) = &file {
            replay_saved(&config, explore, &test_name, file);
        }
    }
    let require_complete = config.require_complete;
    let exhaustive = config.strategy.is_exhaustive();
    let report = explore(config, test_name.clone(), ReplayBy::Environment);
    conclude(&report, if replaying { None } else { file.as_deref() });
    if exhaustive {
        if let Some(note) = report.budget_note() {
            unfinished(note, &report, test_name.as_deref(), require_complete);
        }
    }
    report
}

/// An exhaustive search a budget cut short passed: say so where it is seen, or fail.
#[track_caller]
fn unfinished(note: &str, report: &Report, test_name: Option<&str>, require_complete: bool) {
    let test = test_name.map_or(String::new(), |name| format!("`{name}`: "));
    let coverage = report.coverage();
    let raise =
        "raise the budget with `selvedge::check(Config { max_schedules: Some(..), .. }, f)` \
                 (or `time_budget`), or make the test smaller";
    if require_complete {
        panic!(
            "{test}the exhaustive search did not finish ({note}; coverage: {coverage}), so \
             nothing is known about the interleavings it did not run; {raise}. \
             `Config::require_complete` (or `SELVEDGE_REQUIRE_COMPLETE=1`) makes this a failure"
        );
    }
    // Straight to stderr: libtest captures `eprintln!` of a passing test, and this must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "selvedge: warning: {test}passed, but the exhaustive search did not finish ({note}; \
         coverage: {coverage}): the interleavings it did not run may still fail; {raise}, or set \
         `SELVEDGE_REQUIRE_COMPLETE=1` to make an unfinished search fail the test"
    );
}

#[track_caller]
fn conclude(report: &Report, save_to: Option<&Path>) {
    if let Some(e) = report.error() {
        panic!("{e}");
    }
    if let Some(failure) = report.failure() {
        if failure.kind() == FailureKind::Nondeterminism
            && std::env::var_os("SELVEDGE_REPLAY").is_some()
        {
            panic!(
                "{failure}\n(`SELVEDGE_REPLAY` replays its schedule in every test the command runs: \
                 give `cargo test` the name of the one test it came from)"
            );
        }
        let saved = match save_to {
            Some(path) if failure.kind() != FailureKind::Nondeterminism => {
                match save(path, failure.schedule(), failure.message()) {
                    Ok(()) => format!(
                        "\nsaved to {} and replayed first on the next run",
                        path.display()
                    ),
                    Err(e) => format!("\ncould not save the schedule to {}: {e}", path.display()),
                }
            }
            _ => String::new(),
        };
        panic!("{failure}{saved}");
    }
}

#[track_caller]
fn replay_saved(config: &Config, explore: &ExploreFn<'_>, test_name: &Option<String>, file: &Path) {
    let Ok(text) = fs::read_to_string(file) else {
        return;
    };
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let replay = Config {
            strategy: Strategy::Replay(line.to_string()),
            ..config.clone()
        };
        let report = explore(replay, test_name.clone(), ReplayBy::Environment);
        match report.failure() {
            Some(f) if f.kind() == FailureKind::Nondeterminism => {
                // The code changed under this saved schedule: it cannot fail the same way.
                continue;
            }
            Some(_) => {
                let mut report = report;
                if let Some(f) = report.failure.as_mut() {
                    f.set_test_name(test_name.clone());
                }
                let failure = report.failure().expect("checked above");
                panic!(
                    "{failure}\n(this schedule was saved in {} by an earlier failing run and still fails)",
                    file.display()
                );
            }
            None => {}
        }
    }
}

fn apply_environment(config: &mut Config) -> Result<(), Error> {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("SELVEDGE_") && !KNOWN_VARIABLES.contains(&name.as_ref()) {
            // Straight to stderr, as the unfinished-search warning: a mistyped variable that
            // libtest's capture hid would silently turn a guarantee off.
            let _ = writeln!(
                std::io::stderr(),
                "selvedge: warning: unknown environment variable `{name}` is ignored; known ones are {}",
                KNOWN_VARIABLES.join(", ")
            );
        }
    }
    if let Some(value) = read_var("SELVEDGE_REGRESSIONS")? {
        if regressions_setting(&value).is_none() {
            return Err(Error::bad_environment(format!(
                "`SELVEDGE_REGRESSIONS` is `{value}`; use `off` (or `0`) to skip the saved failing \
                 schedules, or `on` (or `1`) to replay them first, as by default"
            )));
        }
    }
    if let Some(value) = read_var("SELVEDGE_REQUIRE_COMPLETE")? {
        config.require_complete = match value.trim() {
            "1" | "true" | "yes" => true,
            "0" | "false" | "no" => false,
            _ => {
                return Err(Error::bad_environment(format!(
                    "`SELVEDGE_REQUIRE_COMPLETE` is `{value}`; use `1` to make an unfinished \
                     exhaustive search fail the test, or `0` to let it pass with a warning"
                )))
            }
        };
    }
    if let Some(value) = read_var("SELVEDGE_REPLAY")? {
        config.strategy = Strategy::Replay(value);
        return Ok(());
    }
    if let Some(value) = read_var("SELVEDGE_SEED")? {
        config.seed = value.trim().parse().map_err(|_| {
            Error::bad_environment(format!(
                "`SELVEDGE_SEED` is `{value}`, which is not a seed; use a whole number from 0 to {}",
                u64::MAX
            ))
        })?;
    }
    if let Some(value) = read_var("SELVEDGE_ITERATIONS")? {
        let n: usize = value.trim().parse().ok().filter(|&n| n > 0).ok_or_else(|| {
            Error::bad_environment(format!(
                "`SELVEDGE_ITERATIONS` is `{value}`, which is not a schedule count; use a whole number of at least 1"
            ))
        })?;
        if !config.strategy.is_exhaustive() {
            config.max_schedules = Some(n);
        }
    }
    Ok(())
}

fn read_var(name: &str) -> Result<Option<String>, Error> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::bad_environment(format!(
            "`{name}` is not valid UTF-8; set it to plain text or unset it"
        ))),
    }
}

/// libtest runs each test on a thread named after it.
fn test_name() -> Option<String> {
    let name = std::thread::current().name()?.to_string();
    (name != "main").then_some(name)
}

/// `SELVEDGE_REGRESSIONS`: whether saved failing schedules are used, or `None` for a value
/// that means neither.
fn regressions_setting(value: &str) -> Option<bool> {
    match value.trim() {
        "off" | "0" | "false" | "no" => Some(false),
        "on" | "1" | "true" | "yes" => Some(true),
        _ => None,
    }
}

fn regressions_file(test_name: Option<&str>, caller: &Location<'_>) -> Option<PathBuf> {
    let setting = std::env::var("SELVEDGE_REGRESSIONS").ok();
    if setting.as_deref().and_then(regressions_setting) == Some(false) {
        return None;
    }
    let key = format!(
        "{}@{}-{}",
        test_name.unwrap_or("main"),
        caller.file(),
        caller.line()
    );
    let file: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Some(
        target_dir()?
            .join("selvedge")
            .join("regressions")
            .join(format!("{file}.txt")),
    )
}

/// The Cargo target directory: `CARGO_TARGET_DIR`, or the ancestor of the test binary that
/// holds Cargo's `CACHEDIR.TAG`.
fn target_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
}

fn save(path: &Path, schedule: &str, message: &str) -> std::io::Result<()> {
    if let Ok(existing) = fs::read_to_string(path) {
        if existing.lines().any(|l| l.trim() == schedule) {
            return Ok(());
        }
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let fresh = !path.exists();
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if fresh {
        writeln!(
            file,
            "# Failing schedules selvedge found for this test, replayed first on every run.\n\
             # One replay string per line; delete a line once its bug is fixed for good."
        )?;
    }
    let first_line = message.lines().next().unwrap_or("");
    writeln!(file, "# {first_line}\n{schedule}")
}
