//! Every error message a user can get from a bad request, pinned in full: what happened and
//! what to do. A change in wording shows up here as a diff to review.

use selvedge::sync::Mutex;
use selvedge::{explore, Config, ErrorKind, Strategy};

fn error_of(config: Config) -> String {
    let report = explore(config, || {});
    let error = report.error().expect("the request is refused");
    format!("{:?}: {error}", error.kind())
}

fn panic_of(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(f).expect_err("refused with a panic");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .expect("a message")
}

#[test]
fn bad_requests_get_these_exact_messages() {
    let messages = [
        error_of(Config {
            max_schedules: Some(0),
            ..Default::default()
        }),
        error_of(Config {
            max_steps: 0,
            ..Default::default()
        }),
        error_of(Config {
            max_tasks: 0,
            ..Default::default()
        }),
        error_of(Config {
            stack_size: 100,
            ..Default::default()
        }),
        error_of(Config {
            workers: Some(0),
            ..Default::default()
        }),
        error_of(Config {
            strategy: Strategy::Pct { depth: 0 },
            ..Default::default()
        }),
        error_of(Config {
            stall_report_after: Some(std::time::Duration::ZERO),
            ..Default::default()
        }),
        error_of(Config {
            stall_report_after: None,
            abort_on_stall: true,
            ..Default::default()
        }),
        error_of(Config {
            strategy: Strategy::Replay("v1:nonsense".into()),
            ..Default::default()
        }),
        panic_of(|| {
            let m = Mutex::new(0);
            let _g = m.lock();
        }),
        panic_of(|| {
            selvedge::thread::spawn(|| ());
        }),
    ];
    let actual = messages.join("\n");
    let expected = concat!(
        "BadConfig: `Config::max_schedules` is 0, so nothing would be explored and the test would pass without running; use at least 1, or `None` for the default\n",
        "BadConfig: `Config::max_steps` is 0, so no execution could take a step; use at least 1 (default 100000)\n",
        "BadConfig: `Config::max_tasks` is 0, but the test body itself is a task; use at least 1 (default 4096)\n",
        "BadConfig: `Config::stack_size` is 100 bytes, below the minimum of 32768; use at least that\n",
        "BadConfig: `Config::workers` is 0; use at least 1, or `None` for one per core\n",
        "BadConfig: `Strategy::Pct { depth: 0 }` is not a depth; use 1 or more (a depth of d finds bugs that need d - 1 preemptions)\n",
        "BadConfig: `Config::stall_report_after` is zero, which would report every task as stalled; use a positive duration (default 10 s), or `None` to turn the stall watchdog off\n",
        "BadConfig: `Config::abort_on_stall` is set but `Config::stall_report_after` is `None`, so no stall would ever be noticed; set a duration (default 10 s) or leave `abort_on_stall` false\n",
        "MalformedSchedule: replay string `v1:nonsense` is malformed: the fingerprint must be 8 hex digits; copy the whole string from a selvedge failure report (it looks like `v1:1a2b3c4d:0*3.1.0`)\n",
        "`selvedge::sync::Mutex::lock` was called outside a selvedge model: run this code inside `selvedge::model(|| ...)` (or `check`, `check_random`, `check_pct`, `check_dfs`, `explore`), or use the `std` type when not testing; threads started with `std::thread` are not part of a model either\n",
        "`selvedge::thread::spawn` was called outside a selvedge model: run this code inside `selvedge::model(|| ...)` (or `check`, `check_random`, `check_pct`, `check_dfs`, `explore`), or use the `std` type when not testing; threads started with `std::thread` are not part of a model either",
    );
    if actual != expected {
        eprintln!("--- actual:\n{actual}\n---");
    }
    assert_eq!(actual, expected);
    let _ = ErrorKind::BadConfig;
}
