//! The test-facing entry points read `SELVEDGE_*` variables and save failing schedules,
//! replaying them first. Environment variables are process-wide, so each case runs this test
//! binary again as a child process with `CHILD_PROGRAM` naming what the child does.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

mod common;

use common::{lost_update, mutex_counter};

/// Times the child's test body ran (a std atomic: it only counts, outside the model's view).
static RUNS: AtomicUsize = AtomicUsize::new(0);

fn counted(f: impl Fn() + Send + Sync + 'static) -> impl Fn() + Send + Sync + 'static {
    move || {
        RUNS.fetch_add(1, Ordering::Relaxed);
        f()
    }
}

/// Not a test of its own: the body the child process runs, chosen by `CHILD_PROGRAM`. Run
/// without it (as part of the suite), it does nothing.
#[test]
fn child_program() {
    let Ok(program) = std::env::var("CHILD_PROGRAM") else {
        return;
    };
    println!("child program `{program}` starts");
    let outcome = std::panic::catch_unwind(|| match program.as_str() {
        "random" => selvedge::check_random(counted(lost_update), 1_000),
        "random-pass" => selvedge::check_random(counted(mutex_counter(2, 1)), 1_000),
        "pct" => selvedge::check_pct(counted(lost_update), 1_000, 2),
        "dfs-cut" => selvedge::check_dfs(counted(mutex_counter(3, 2)), Some(5)),
        "check-cut" => selvedge::check(
            selvedge::Config {
                max_schedules: Some(5),
                workers: Some(1),
                ..Default::default()
            },
            counted(mutex_counter(3, 2)),
        ),
        "model-complete" => selvedge::model(counted(mutex_counter(2, 2))),
        "loom-builder" => {
            let b = selvedge::model::Builder::new();
            println!(
                "builder: preemptions {:?} branches {} permutations {:?} duration {:?} log {}",
                b.preemption_bound, b.max_branches, b.max_permutations, b.max_duration, b.log
            );
        }
        "model-three-yields" => selvedge::model(counted(|| {
            for _ in 0..3 {
                selvedge::thread::yield_now();
            }
        })),
        "model-cut" => selvedge::model(counted(mutex_counter(3, 2))),
        "replay-from-file" => {
            let path = std::env::var("REPLAY_FILE").unwrap();
            selvedge::replay_from_file(counted(lost_update), path)
        }
        "orchestra" => {
            orchestra_lost_update();
        }
        other => panic!("unknown child program `{other}`"),
    });
    println!(
        "child program `{program}` ran the body {} times",
        RUNS.load(Ordering::Relaxed)
    );
    if let Err(payload) = outcome {
        std::panic::resume_unwind(payload);
    }
}

/// Two real threads read a counter, reach a syncpoint, and write it back: an update is lost.
fn orchestra_lost_update() -> Vec<usize> {
    fn increment(n: &std::sync::Mutex<u32>) {
        RUNS.fetch_add(1, Ordering::Relaxed);
        let seen = *n.lock().unwrap();
        selvedge::syncpoint!();
        *n.lock().unwrap() = seen + 1;
    }
    selvedge::orchestra::Orchestra::new()
        .setup(|| std::sync::Mutex::new(0u32))
        .task(increment)
        .task(increment)
        .check(|n| assert_eq!(*n.lock().unwrap(), 2, "an update was lost"))
        .run()
}

/// How many times the child said its body ran.
fn runs_in(text: &str) -> usize {
    let line = text
        .lines()
        .find(|l| l.contains(" ran the body "))
        .unwrap_or_else(|| panic!("the child did not say how often it ran\n{text}"));
    line.split(" ran the body ")
        .nth(1)
        .unwrap()
        .trim_end_matches(" times")
        .parse()
        .unwrap()
}

fn child(program: &str, target: &Path, vars: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "child_program",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CHILD_PROGRAM", program)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("SELVEDGE_REPLAY")
        .env_remove("SELVEDGE_SEED")
        .env_remove("SELVEDGE_ITERATIONS");
    for (k, v) in vars {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    // The case must have run: a child that ran nothing would pass every check below vacuously.
    assert!(
        text.contains(&format!("child program `{program}` starts")),
        "the child did not run `{program}`:\n{text}"
    );
    (out.status.success(), text)
}

fn schedule_in(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.starts_with("replay string: "))
        .unwrap_or_else(|| panic!("no replay string in\n{text}"));
    line["replay string: ".len()..].trim().to_string()
}

fn temp_target(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("selvedge-env-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn failures_are_saved_and_replayed_first_on_the_next_run() {
    let target = temp_target("saved");
    let (ok, first) = child("random", &target, &[]);
    assert!(!ok, "the lost update fails the test");
    assert!(first.contains("selvedge found a panic"), "{first}");
    assert!(
        first.contains("cargo test child_program -- --exact"),
        "{first}"
    );
    assert!(first.contains("replayed first on the next run"), "{first}");
    let schedule = schedule_in(&first);
    let saved_dir = target.join("selvedge").join("regressions");
    let files: Vec<_> = std::fs::read_dir(&saved_dir).unwrap().collect();
    assert_eq!(files.len(), 1);
    let saved = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    assert!(
        saved.starts_with("# Failing schedules selvedge found"),
        "{saved}"
    );
    assert!(saved.lines().any(|l| l == schedule), "{saved}");

    let (ok, second) = child("random", &target, &[]);
    assert!(!ok);
    assert!(second.contains("saved in"), "{second}");
    assert!(
        second.contains("by an earlier failing run and still fails"),
        "{second}"
    );
    assert!(
        second.contains("found in schedule 1 with strategy Replay"),
        "{second}"
    );
    let _ = std::fs::remove_dir_all(&target);
}

#[test]
fn selvedge_replay_runs_exactly_that_schedule() {
    let target = temp_target("replay");
    let (_, first) = child("random", &target, &[("SELVEDGE_REGRESSIONS", "off")]);
    let schedule = schedule_in(&first);
    let (ok, replayed) = child("pct", &target, &[("SELVEDGE_REPLAY", &schedule)]);
    assert!(!ok);
    assert!(
        replayed.contains("found in schedule 1 with strategy Replay"),
        "{replayed}"
    );
    assert!(replayed.contains(&schedule), "{replayed}");
    let _ = std::fs::remove_dir_all(&target);
}

#[test]
fn a_bad_environment_value_names_the_variable_and_the_accepted_form() {
    let target = temp_target("bad");
    let (ok, text) = child("random", &target, &[("SELVEDGE_SEED", "seven")]);
    assert!(!ok);
    assert!(
        text.contains("`SELVEDGE_SEED` is `seven`, which is not a seed; use a whole number"),
        "{text}"
    );
    let (ok, text) = child("random", &target, &[("SELVEDGE_REPLAY", "garbage")]);
    assert!(!ok);
    assert!(
        text.contains("replay string `garbage` is malformed"),
        "{text}"
    );
    let (_, text) = child("random", &target, &[("SELVEDGE_SEEDS", "1")]);
    assert!(
        text.contains("unknown environment variable `SELVEDGE_SEEDS` is ignored"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&target);
}

#[test]
fn the_seed_and_iterations_come_from_the_environment() {
    let target = temp_target("seed");
    let vars = [("SELVEDGE_SEED", "11"), ("SELVEDGE_REGRESSIONS", "off")];
    let (_, text) = child("random", &target, &vars);
    assert!(text.contains("with strategy Random (seed 11)"), "{text}");
    let (_, again) = child("random", &target, &vars);
    assert_eq!(
        schedule_in(&text),
        schedule_in(&again),
        "same seed, same failing schedule"
    );
    let (ok, text) = child(
        "random-pass",
        &target,
        &[
            ("SELVEDGE_ITERATIONS", "7"),
            ("SELVEDGE_REGRESSIONS", "off"),
        ],
    );
    assert!(ok, "{text}");
    assert_eq!(runs_in(&text), 7, "{text}");
    let _ = std::fs::remove_dir_all(&target);
}

#[test]
fn an_unfinished_exhaustive_search_warns_or_fails_as_configured() {
    // Goal: `check_dfs`/`check` cut short by `max_schedules` never pass silently: a warning on
    // stderr names the budget and how to raise it, even under libtest's capture; with
    // `SELVEDGE_REQUIRE_COMPLETE=1` the test fails instead.
    let target = temp_target("unfinished");
    let off = ("SELVEDGE_REGRESSIONS", "off");
    for program in ["dfs-cut", "check-cut"] {
        let (ok, text) = child(program, &target, &[off]);
        assert!(ok, "{text}");
        assert_eq!(runs_in(&text), 5, "{text}");
        assert!(
            text.contains(
                "selvedge: warning: `child_program`: passed, but the exhaustive search did not \
                 finish (stopped after 5 schedules: `Config::max_schedules` (5) was reached before \
                 the search was done; coverage: incomplete after 5 schedules): the interleavings it did \
                 not run may still fail; raise the budget with \
                 `selvedge::check(Config { max_schedules: Some(..), .. }, f)` (or `time_budget`), \
                 or make the test smaller, or set `SELVEDGE_REQUIRE_COMPLETE=1` to make an \
                 unfinished search fail the test"
            ),
            "{text}"
        );
        let (ok, text) = child(program, &target, &[off, ("SELVEDGE_REQUIRE_COMPLETE", "1")]);
        assert!(!ok, "{text}");
        assert!(
            text.contains(
                "`child_program`: the exhaustive search did not finish (stopped after 5 \
                 schedules: `Config::max_schedules` (5) was reached before the search was done; \
                 coverage: incomplete after 5 schedules), so nothing is known about the interleavings it \
                 did not run;"
            ),
            "{text}"
        );
    }
    // A search that finishes says nothing.
    let (ok, text) = child(
        "model-complete",
        &target,
        &[off, ("SELVEDGE_REQUIRE_COMPLETE", "1")],
    );
    assert!(ok, "{text}");
    assert!(!text.contains("warning"), "{text}");
    assert_eq!(runs_in(&text), 6, "{text}");
    let (ok, text) = child(
        "dfs-cut",
        &target,
        &[off, ("SELVEDGE_REQUIRE_COMPLETE", "maybe")],
    );
    assert!(!ok);
    assert!(
        text.contains(
            "`SELVEDGE_REQUIRE_COMPLETE` is `maybe`; use `1` to make an unfinished exhaustive \
             search fail the test, or `0` to let it pass with a warning"
        ),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&target);
}

#[test]
fn an_unknown_variable_is_warned_about_even_under_libtests_capture() {
    // Goal: a mistyped `SELVEDGE_*` variable (which would silently turn a guarantee off) is
    // seen in a plain `cargo test` run, where libtest captures a passing test's output.
    let target = temp_target("unknown");
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["child_program", "--exact", "--test-threads=1"])
        .env("CHILD_PROGRAM", "random-pass")
        .env("CARGO_TARGET_DIR", &target)
        .env("SELVEDGE_REQUIRE_COMPLET", "1")
        .env_remove("SELVEDGE_REPLAY")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "selvedge: warning: unknown environment variable `SELVEDGE_REQUIRE_COMPLET` is ignored"
        ),
        "{stderr}"
    );
    let (ok, text) = child("random-pass", &target, &[("SELVEDGE_REGRESSIONS", "maybe")]);
    assert!(!ok);
    assert!(
        text.contains(
            "`SELVEDGE_REGRESSIONS` is `maybe`; use `off` (or `0`) to skip the saved failing \
             schedules, or `on` (or `1`) to replay them first, as by default"
        ),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&target);
}

#[test]
fn loom_variables_reach_model_and_builder_as_loom_reads_them() {
    let target = temp_target("loom");
    let (ok, text) = child(
        "loom-builder",
        &target,
        &[
            ("LOOM_MAX_PREEMPTIONS", "2"),
            ("LOOM_MAX_BRANCHES", "5000"),
            ("LOOM_MAX_DURATION", "7"),
            ("LOOM_LOG", ""),
        ],
    );
    assert!(ok, "{text}");
    assert!(
        text.contains("builder: preemptions Some(2) branches 5000 permutations None duration Some(7s) log true"),
        "{text}"
    );
    // `LOOM_MAX_BRANCHES` caps the steps of one execution of `selvedge::model`.
    let (ok, text) = child("model-three-yields", &target, &[("LOOM_MAX_BRANCHES", "2")]);
    assert!(!ok, "three yields exceed two branches: {text}");
    assert!(text.contains("selvedge found a livelock"), "{text}");
    // `LOOM_MAX_PERMUTATIONS` caps the executions; the cut search warns, as the budget does.
    let (ok, text) = child("model-cut", &target, &[("LOOM_MAX_PERMUTATIONS", "3")]);
    assert!(ok, "{text}");
    assert_eq!(runs_in(&text), 3, "{text}");
    assert!(text.contains("did not finish"), "{text}");
    // A value loom would not parse is refused, naming the variable.
    let (ok, text) = child("model-cut", &target, &[("LOOM_MAX_PREEMPTIONS", "two")]);
    assert!(!ok);
    assert!(
        text.contains("`LOOM_MAX_PREEMPTIONS` is `two`, which is not a preemption count; use a whole number, as loom reads it"),
        "{text}"
    );
}

#[test]
fn replay_from_file_replays_the_files_schedule() {
    let target = temp_target("replay-file");
    let (ok, first) = child("random", &target, &[("SELVEDGE_REGRESSIONS", "off")]);
    assert!(!ok);
    let schedule = schedule_in(&first);
    let file = target.join("schedule.txt");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(&file, format!("# a saved failure\n{schedule}\n")).unwrap();
    let file = file.display().to_string();
    let (ok, text) = child(
        "replay-from-file",
        &target,
        &[("REPLAY_FILE", file.as_str())],
    );
    assert!(!ok, "the recorded failure again: {text}");
    assert_eq!(runs_in(&text), 1, "{text}");
    assert!(text.contains("selvedge found a panic"), "{text}");
    let (ok, text) = child(
        "replay-from-file",
        &target,
        &[("REPLAY_FILE", "/nonexistent/selvedge")],
    );
    assert!(!ok);
    assert!(
        text.contains("cannot read the replay file `/nonexistent/selvedge`"),
        "{text}"
    );
}

#[test]
fn the_orchestra_saves_failures_replays_them_first_and_follows_selvedge_replay() {
    // Goal: `Orchestra::run` is a test-facing entry point like `check`: a failing schedule is
    // saved and replayed first next time, and `SELVEDGE_REPLAY` runs exactly one.
    let target = temp_target("orchestra");
    let (ok, first) = child("orchestra", &target, &[]);
    assert!(!ok, "the lost update fails the test");
    assert!(first.contains("an update was lost"), "{first}");
    assert!(
        first.contains("replay it:     SELVEDGE_REPLAY='v1:"),
        "{first}"
    );
    assert!(first.contains("replayed first on the next run"), "{first}");
    let schedule = schedule_in(&first);
    let (ok, second) = child("orchestra", &target, &[]);
    assert!(!ok);
    assert!(
        second.contains("by an earlier failing run and still fails"),
        "{second}"
    );
    assert_eq!(runs_in(&second), 2, "only the saved schedule ran: {second}");
    let (ok, replayed) = child(
        "orchestra",
        &target,
        &[
            ("SELVEDGE_REPLAY", &schedule),
            ("SELVEDGE_REGRESSIONS", "off"),
        ],
    );
    assert!(!ok);
    assert!(
        replayed.contains("found in schedule 1 with strategy Replay"),
        "{replayed}"
    );
    let _ = std::fs::remove_dir_all(&target);
}
