//! The test-facing entry points read `SELVEDGE_*` variables and save failing schedules,
//! replaying them first. Environment variables are process-wide, so each case runs this test
//! binary again as a child process with `CHILD_PROGRAM` naming what the child does.

use std::path::Path;
use std::process::Command;

mod common;

use common::lost_update;

/// Not a test of its own: the body the child process runs, chosen by `CHILD_PROGRAM`.
#[test]
fn child_program() {
    match std::env::var("CHILD_PROGRAM").as_deref() {
        Ok("random") => selvedge::check_random(lost_update, 1_000),
        Ok("pct") => selvedge::check_pct(lost_update, 1_000, 2),
        _ => {}
    }
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
        "random",
        &target,
        &[
            ("SELVEDGE_ITERATIONS", "1"),
            ("SELVEDGE_SEED", "0"),
            ("SELVEDGE_REGRESSIONS", "off"),
        ],
    );
    // One schedule may or may not hit the bug; either way the count came from the variable.
    if !ok {
        assert!(text.contains("found in schedule 1 "), "{text}");
    }
    let _ = std::fs::remove_dir_all(&target);
}
