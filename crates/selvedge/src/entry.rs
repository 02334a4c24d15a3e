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
//! Through loom's surface (`model`, `model::Builder::new`), loom's variables as loom reads
//! them: `LOOM_MAX_PREEMPTIONS`, `LOOM_MAX_BRANCHES`, `LOOM_MAX_PERMUTATIONS`,
//! `LOOM_MAX_DURATION` (seconds), `LOOM_CHECKPOINT_FILE`, `LOOM_CHECKPOINT_INTERVAL`, and the
//! presence of `LOOM_LOCATION` and `LOOM_LOG` (`loom_environment`).
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
#[track_caller]
pub(crate) fn body<F: Fn() + Send + Sync + 'static>(f: F) -> TestBody {
    // Where the test handed its body over: what a report shows for the shutdown step.
    let at = Location::caller();
    std::sync::Arc::new(move || {
        f();
        // As a tokio runtime dropped after its `block_on`: async tasks still running are
        // cancelled at their next `.await`, so a background loop ends with the test.
        crate::future::cancel_running_tasks(at);
        // As loom: the statics `lazy_static!` made are dropped when the main thread returns.
        crate::lazy_static::shut_down();
    })
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
pub(crate) fn run_test(
    config: Config,
    body: TestBody,
    caller: &'static Location<'static>,
) -> Report {
    run_test_with(config, caller, &|config, test_name, _| {
        explore_test(config, &body, test_name, caller)
    })
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

/// The replay string in the file at `path` (shuttle's `replay_from_file`): its first line
/// that is neither empty nor a `#` comment, as a regressions file holds them.
pub(crate) fn read_schedule_file(path: &Path) -> Result<String, Error> {
    let text = fs::read_to_string(path).map_err(|e| {
        Error::bad_config(format!(
            "cannot read the replay file `{}`: {e}; pass the path of a file holding a replay \
             string (`v1:...`) from a failure report",
            path.display()
        ))
    })?;
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_string)
        .ok_or_else(|| {
            Error::bad_config(format!(
                "the replay file `{}` holds no replay string; it should hold one (`v1:...`) \
                 from a failure report, on a line of its own",
                path.display()
            ))
        })
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

/// loom's environment variables, each `None` when unset; read by `model` and
/// `model::Builder::new` exactly as loom 0.7 reads them (same names, units and presence
/// checks), with selvedge's error for a value that does not parse.
#[derive(Clone, Debug, Default)]
pub(crate) struct LoomEnvironment {
    pub(crate) max_preemptions: Option<usize>,
    pub(crate) max_branches: Option<usize>,
    pub(crate) max_permutations: Option<usize>,
    pub(crate) max_duration: Option<std::time::Duration>,
    pub(crate) checkpoint_file: Option<PathBuf>,
    pub(crate) checkpoint_interval: Option<usize>,
    /// Set (to anything) or not, as loom checks them.
    pub(crate) location: bool,
    pub(crate) log: bool,
}

/// Reads loom's variables (see `LoomEnvironment`).
pub(crate) fn loom_environment() -> Result<LoomEnvironment, Error> {
    let count = |name: &str, what: &str| -> Result<Option<usize>, Error> {
        let Some(value) = read_var(name)? else {
            return Ok(None);
        };
        value.trim().parse().map(Some).map_err(|_| {
            Error::bad_environment(format!(
                "`{name}` is `{value}`, which is not {what}; use a whole number, as loom reads it"
            ))
        })
    };
    let max_duration = count("LOOM_MAX_DURATION", "a number of seconds")?
        .map(|secs| std::time::Duration::from_secs(secs as u64));
    Ok(LoomEnvironment {
        max_preemptions: count("LOOM_MAX_PREEMPTIONS", "a preemption count")?,
        max_branches: count("LOOM_MAX_BRANCHES", "a branch count")?,
        max_permutations: count("LOOM_MAX_PERMUTATIONS", "a permutation count")?,
        max_duration,
        checkpoint_file: read_var("LOOM_CHECKPOINT_FILE")?.map(PathBuf::from),
        checkpoint_interval: count("LOOM_CHECKPOINT_INTERVAL", "an iteration count")?,
        location: std::env::var_os("LOOM_LOCATION").is_some(),
        log: std::env::var_os("LOOM_LOG").is_some(),
    })
}

/// Applies the loom variables that are set to `config`, for `selvedge::model` (loom's
/// `model`): a bound, branch cap, permutation cap or duration the environment gives replaces
/// selvedge's default, as it replaces loom's.
pub(crate) fn apply_loom_environment(config: &mut Config) -> Result<(), Error> {
    let env = loom_environment()?;
    if let Some(bound) = env.max_preemptions {
        config.max_preemptions = Some(bound);
    }
    if let Some(branches) = env.max_branches {
        config.max_steps = branches;
    }
    if let Some(permutations) = env.max_permutations {
        config.max_schedules = Some(permutations);
    }
    if let Some(duration) = env.max_duration {
        config.time_budget = Some(duration);
    }
    if let Some(file) = env.checkpoint_file {
        warn_unsupported_loom_setting(
            &format!("`LOOM_CHECKPOINT_FILE` (`{}`)", file.display()),
            "selvedge saves each failing schedule under `target/selvedge/regressions/`, replays \
             it first on the next run, and replays any report's schedule with `SELVEDGE_REPLAY`",
        );
    }
    Ok(())
}

/// Says on stderr (past libtest's capture, as the unfinished-search warning) that a loom
/// setting selvedge does not act on was given, and what selvedge does instead.
pub(crate) fn warn_unsupported_loom_setting(what: &str, instead: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "selvedge: warning: {what} is ignored: {instead}"
    );
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
