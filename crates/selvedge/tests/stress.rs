//! The stress harness on real threads: every column it reports is a real count (each driven to
//! non-zero on purpose here), a real lock-order deadlock is reported by the watchdog and the
//! run returns, bad settings are refused naming the setting, and the JSON output validates
//! against the documented schema. Runs are small: the whole file takes about a second.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use selvedge::stress::{Activity, ErrorKind, Outcome, Shake, Stress, JSON_SCHEMA};

/// The stress JSON schema, compiled by a JSON Schema validator (boon, draft 2020-12).
fn schema() -> (boon::Schemas, boon::SchemaIndex) {
    let schema: serde_json::Value = serde_json::from_str(JSON_SCHEMA).expect("the schema is JSON");
    let id = schema["$id"]
        .as_str()
        .expect("the schema has an $id")
        .to_string();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource(&id, schema)
        .expect("the schema's $id is a URL");
    let index = compiler
        .compile(&id, &mut schemas)
        .unwrap_or_else(|e| panic!("the schema is a valid JSON Schema: {e:#}"));
    (schemas, index)
}

fn validate_json(outcome: &Outcome) {
    let (schemas, index) = schema();
    let instance: serde_json::Value =
        serde_json::from_str(&outcome.to_json()).expect("to_json writes JSON");
    if let Err(error) = schemas.validate(&instance, index) {
        panic!(
            "JSON does not match the schema:\n{error:#}\n{}",
            outcome.to_json()
        );
    }
}

#[test]
fn the_schema_rejects_what_it_does_not_describe() {
    let outcome = Stress::new("tampered")
        .threads(1)
        .iterations(2)
        .op("nop", 1, |_| {})
        .run();
    let (schemas, index) = schema();
    let good: serde_json::Value = serde_json::from_str(&outcome.to_json()).unwrap();
    assert!(schemas.validate(&good, index).is_ok());
    let tamper = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut bad = good.clone();
        f(&mut bad);
        schemas.validate(&bad, index).is_err()
    };
    assert!(tamper(&|v| v["version"] = 2.into()), "a later version");
    assert!(
        tamper(&|v| {
            v.as_object_mut().unwrap().remove("deadlocks");
        }),
        "a missing column"
    );
    assert!(tamper(&|v| v["errors"] = (-1).into()), "a negative count");
    assert!(
        tamper(&|v| v["operations"][0]["latency"]["p99_ns"] = "fast".into()),
        "a mistyped figure"
    );
    assert!(
        tamper(&|v| v["surprise"] = true.into()),
        "an undocumented field"
    );
}

#[test]
fn a_clean_run_counts_every_operation_and_measures_latency() {
    let outcome = Stress::new("clean")
        .threads(4)
        .iterations(250)
        .op("read", 3, |_| {})
        .op("write", 1, |_| {})
        .invariant("never", || 0u64)
        .run();
    assert!(outcome.is_clean(), "{outcome}");
    assert_eq!(outcome.iterations(), 1000);
    let (read, write) = (
        outcome.operation("read").unwrap(),
        outcome.operation("write").unwrap(),
    );
    assert_eq!(read.count + write.count, 1000);
    // Weights 3:1 over 1000 seeded draws: the heavier operation runs more often.
    assert!(read.count > write.count, "{outcome}");
    let latency = read.latency.expect("histograms are on by default");
    assert_eq!(latency.samples, read.count);
    assert!(latency.p50 <= latency.p95 && latency.p95 <= latency.p99 && latency.p99 <= latency.max);
    validate_json(&outcome);
}

#[test]
fn latencies_are_measured_in_real_time() {
    let outcome = Stress::new("sleepy")
        .threads(2)
        .iterations(3)
        .op("sleep 2ms", 1, |_| {
            std::thread::sleep(Duration::from_millis(2))
        })
        .run();
    let latency = outcome.operation("sleep 2ms").unwrap().latency.unwrap();
    // A sleep lasts at least as long as asked: a lower bound, whatever the machine's load.
    assert!(latency.p50 >= Duration::from_millis(2), "{outcome}");
    assert!(outcome.elapsed() >= Duration::from_millis(6), "{outcome}");
}

#[test]
fn the_operation_mix_is_the_same_for_the_same_seed() {
    let counts = |seed| {
        let outcome = Stress::new("mix")
            .threads(3)
            .iterations(100)
            .seed(seed)
            .op("a", 1, |_| {})
            .op("b", 2, |_| {})
            .op("c", 5, |_| {})
            .run();
        outcome
            .operations()
            .iter()
            .map(|o| o.count)
            .collect::<Vec<_>>()
    };
    assert_eq!(counts(7), counts(7));
    assert_ne!(counts(7), counts(8));
}

#[test]
fn a_panicking_operation_is_an_error_with_its_message_not_a_crash() {
    let outcome = Stress::new("panics")
        .threads(2)
        .iterations(10)
        .op("explode", 1, |ctx| {
            if ctx.iteration() % 2 == 0 {
                panic!("boom at {}", ctx.iteration() % 4);
            }
        })
        .op("fail", 1, |_| Err::<(), _>("refused".to_string()))
        .run();
    let explode = outcome.operation("explode").unwrap();
    let fail = outcome.operation("fail").unwrap();
    assert_eq!(fail.errors, fail.count);
    assert!(explode.errors > 0 && explode.errors <= explode.count);
    assert_eq!(outcome.errors(), explode.errors + fail.errors);
    assert_eq!(
        outcome.iterations(),
        20,
        "every thread went on after a panic"
    );
    let panic = outcome
        .error_samples()
        .iter()
        .find(|s| s.operation == "explode")
        .expect("the panic's message is kept");
    assert!(panic.message.starts_with("boom at "), "{}", panic.message);
    assert!(
        panic.message.contains("tests/stress.rs:"),
        "the panic's location: {}",
        panic.message
    );
    assert!(outcome
        .error_samples()
        .iter()
        .any(|s| s.operation == "fail" && s.message == "refused"));
    assert!(!outcome.is_clean());
    let report = outcome.to_string();
    assert!(report.contains("`explode`: boom at"), "{report}");
    validate_json(&outcome);
}

#[test]
fn invariants_count_violations_at_the_end_and_after_each_operation() {
    let bumps = Arc::new(AtomicU64::new(0));
    let (b1, b2, b3) = (bumps.clone(), bumps.clone(), bumps.clone());
    let outcome = Stress::new("invariants")
        .threads(2)
        .iterations(50)
        .op("bump", 1, move |_| {
            b1.fetch_add(1, Relaxed);
        })
        // At the end: a count the code under test kept (here, every bump is "lost").
        .invariant("lost", move || b2.load(Relaxed))
        // After each op: a state predicate, false once the counter passes 60.
        .invariant_after_each_op("at_most_60", move || b3.load(Relaxed) <= 60)
        .invariant("holds", || true)
        .run();
    assert_eq!(outcome.violations("lost"), Some(100));
    // Checked 100 times after operations and once at the end; the counter ends at 100, so the
    // end check fails, and so do the 40 checks after bumps 61..=100 (threads may check a
    // little later than their own bump, so count at least those).
    let after = outcome
        .invariants()
        .iter()
        .find(|i| i.name == "at_most_60")
        .unwrap();
    assert_eq!(after.checks, 101);
    assert!(
        after.violations >= 41 && after.violations <= 101,
        "{outcome}"
    );
    assert_eq!(outcome.violations("holds"), Some(0));
    assert!(!outcome.is_clean());
    let md = outcome.to_markdown();
    assert!(md.starts_with("| Test | Threads | Duration | Iterations | Deadlocks | Errors | lost | at_most_60 | holds |"), "{md}");
    assert!(md.contains(" | 100 | "), "{md}");
    validate_json(&outcome);
}

#[test]
fn faults_are_injected_on_schedule_and_recovery_is_measured() {
    let broken = Arc::new(AtomicBool::new(false));
    let (kill, use_it) = (broken.clone(), broken.clone());
    let random_faults = Arc::new(AtomicU64::new(0));
    let counted = random_faults.clone();
    let outcome = Stress::new("faults")
        .threads(4)
        .iterations(50)
        .op("use connection", 1, move |_| {
            // A broken connection fails one operation, which reconnects it.
            if use_it.swap(false, Relaxed) {
                return Err("connection reset");
            }
            Ok(())
        })
        .fault_every(10, "kill connection", move |_| kill.store(true, Relaxed))
        .fault_random(0.05, "hiccup", move |_| {
            counted.fetch_add(1, Relaxed);
        })
        .run();
    let kill = outcome.fault("kill connection").unwrap();
    assert_eq!(kill.injected, 20, "200 operations, one kill every 10");
    assert!(kill.recovered > 0 && kill.recovered <= kill.injected);
    let recovery = kill.recovery.expect("recovery percentiles");
    assert_eq!(recovery.samples, kill.recovered);
    let hiccup = outcome.fault("hiccup").unwrap();
    assert_eq!(hiccup.injected, random_faults.load(Relaxed));
    assert!(hiccup.injected > 0, "5% of 200 draws");
    assert!(outcome.errors() > 0 && outcome.errors() <= 20, "{outcome}");
    let md = outcome.to_markdown();
    assert!(md.contains("| kill connection | 20 |"), "{md}");
    validate_json(&outcome);
}

#[test]
fn the_watchdog_reports_a_lock_order_deadlock_and_the_run_returns() {
    let (a, b) = (Arc::new(Mutex::new(())), Arc::new(Mutex::new(())));
    let both_hold_one = Arc::new(Barrier::new(2));
    let (a2, b2) = (a.clone(), b.clone());
    let outcome = Stress::new("lock order")
        .threads(2)
        .iterations(1)
        .shake(Shake::off())
        .op("lock pair", 1, move |ctx| {
            let (first, second) = if ctx.thread() == 0 {
                (&a2, &b2)
            } else {
                (&b2, &a2)
            };
            let _held = first.lock().unwrap();
            selvedge::syncpoint!("holding the first lock");
            both_hold_one.wait(); // each now holds one lock: the other's is never free
            let _never = second.lock().unwrap();
        })
        // An end check that needs a lock a stuck thread holds: left parked, not a hang.
        .invariant("a_is_free", move || {
            a.try_lock().is_ok() || a.lock().is_ok()
        })
        .watchdog(Duration::from_millis(300))
        .run();
    assert_eq!(outcome.deadlocks(), 2, "{outcome}");
    let watchdog = outcome.watchdog();
    assert!(watchdog.fired);
    assert!(outcome.elapsed() >= Duration::from_millis(300));
    for (i, stuck) in watchdog.stuck.iter().enumerate() {
        assert_eq!(stuck.thread, i);
        assert_eq!(stuck.name, format!("stress-{i}"));
        assert_eq!(stuck.iteration, 0);
        assert_eq!(stuck.activity, Activity::Operation("lock pair".into()));
        let syncpoint = stuck
            .last_syncpoint
            .as_deref()
            .expect("it passed a syncpoint");
        assert!(syncpoint.contains("tests/stress.rs:"), "{syncpoint}");
        assert_eq!(
            stuck.last_syncpoint_name.as_deref(),
            Some("holding the first lock")
        );
    }
    assert_eq!(watchdog.parked_checks, 1);
    assert!(!outcome.invariants()[0].checked_at_end);
    let report = outcome.to_string();
    assert!(report.contains("deadlock: 2 of 2 threads were not done at the watchdog's deadline (300.00 ms after the start):"), "{report}");
    assert!(report.contains("stress-0 (thread 0): iteration 0, in operation `lock pair`, last syncpoint `holding the first lock` at "), "{report}");
    assert!(
        report.contains("these threads were left parked, not joined"),
        "{report}"
    );
    assert!(
        report.contains("end checks of `a_is_free` did not return"),
        "{report}"
    );
    let md = outcome.to_markdown();
    assert!(
        md.contains("| lock order | 2 | ") && md.contains(" | 0 | 2 | 0 | 0 (end check parked) |"),
        "{md}"
    );
    validate_json(&outcome);
}

#[test]
fn a_slow_thread_past_the_deadline_is_stopped_not_called_deadlocked() {
    let outcome = Stress::new("slow")
        .threads(2)
        .duration(Duration::from_millis(50))
        .op("slow", 1, |_| std::thread::sleep(Duration::from_millis(30)))
        .op("slower", 1, |ctx| {
            if ctx.thread() == 1 && ctx.iteration() == 0 {
                std::thread::sleep(Duration::from_millis(120));
            }
        })
        .watchdog(Duration::from_millis(40))
        .seed(3)
        .run();
    assert_eq!(outcome.deadlocks(), 0, "{outcome}");
    assert!(outcome.iterations() > 0);
    validate_json(&outcome);
}

#[test]
fn a_run_of_a_duration_stops_on_time() {
    let outcome = Stress::new("timed")
        .threads(2)
        .duration(Duration::from_millis(30))
        .op("nop", 1, |_| std::thread::yield_now())
        .run();
    assert!(outcome.is_clean(), "{outcome}");
    assert!(outcome.iterations() > 0);
    assert!(outcome.elapsed() >= Duration::from_millis(30));
    validate_json(&outcome);
}

#[test]
fn bad_settings_are_refused_naming_the_setting() {
    let base = || Stress::new("bad").op("nop", 1, |_| {});
    let cases: Vec<(Stress, &str, &str)> = vec![
        (base().threads(0), "threads", "`threads` is `0`: a stress run needs at least one thread; call `.threads(n)` with n >= 1"),
        (base().watchdog(Duration::ZERO), "watchdog", "the `watchdog` deadline is `0s`: every thread would count as deadlocked at once; give it longer than the run needs, e.g. `.watchdog(Duration::from_secs(30))`"),
        (Stress::new("bad").op("heavy", 1, |_| {}).op("never", 0, |_| {}), "op", "operation `never` has weight `0`: a weight is at least 1; remove the operation to leave it out of the mix"),
        (base().iterations(0), "iterations", "`iterations` is `0`: every thread must run at least one operation; call `.iterations(n)` with n >= 1"),
        (base().iterations(5).duration(Duration::from_secs(1)), "iterations", "both `iterations` and `duration` are set: a run is measured in one of them; remove one of the two calls"),
        (base().duration(Duration::ZERO), "duration", "`duration` is `0s`: give the run some time, e.g. `.duration(Duration::from_secs(1))`"),
        (Stress::new("bad"), "op", "no operation to run: add at least one with `.op(name, weight, |ctx| ..)`"),
        (base().op("nop", 2, |_| {}), "op", "two operations are called `nop`: give each its own name, the report keeps them apart by name"),
        (base().invariant("Errors", || 0u64), "invariant", "invariant name `Errors` is already a column of the report: give each invariant its own name"),
        (base().fault_every(0, "kill", |_| {}), "fault", "fault `kill` is injected every `0` iterations: use 1 for before every operation, or more"),
        (base().fault_random(1.5, "kill", |_| {}), "fault", "fault `kill` has chance `1.5`: a chance is more than 0 and at most 1"),
        (base().shake(Shake { yield_chance: 0.8, sleep_chance: 0.5, max_sleep: Duration::from_micros(1) }), "shake", "`Shake::yield_chance` + `Shake::sleep_chance` is `1.3`: together they are at most 1"),
        (Stress::new(" ").op("nop", 1, |_| {}), "name", "the run's `name` is empty: name it after what it stresses, it is the report's `Test` column"),
    ];
    for (stress, field, message) in cases {
        let error = stress.try_run().expect_err(message);
        assert_eq!(error.kind(), ErrorKind::BadConfig);
        assert_eq!(error.field(), field, "{error}");
        assert_eq!(error.to_string(), message);
    }
}

#[test]
fn run_panics_with_the_message_of_a_bad_setting() {
    let panic = std::panic::catch_unwind(|| {
        Stress::new("bad").threads(0).op("nop", 1, |_| {}).run();
    })
    .expect_err("refused");
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.starts_with("`threads` is `0`"), "{message}");
}

#[test]
fn a_panicking_invariant_is_an_error_naming_it() {
    let at_end = Stress::new("inv")
        .threads(2)
        .iterations(3)
        .op("nop", 1, |_| {})
        .invariant("fragile", || -> bool { panic!("cannot look") })
        .try_run()
        .expect_err("a panicking invariant is refused");
    assert_eq!(at_end.kind(), ErrorKind::InvariantPanicked);
    assert_eq!(at_end.field(), "invariant");
    assert!(
        at_end
            .to_string()
            .starts_with("invariant `fragile` panicked: cannot look (at "),
        "{at_end}"
    );
    assert!(at_end.to_string().ends_with("an invariant returns its count of violations (or `false`) and must not panic: count the case it panicked on instead"), "{at_end}");

    let after_op = Stress::new("inv")
        .threads(2)
        .iterations(1000)
        .op("nop", 1, |_| {})
        .invariant_after_each_op("fragile", || -> u64 { panic!("mid-run") })
        .try_run()
        .expect_err("a panicking invariant is refused");
    assert_eq!(after_op.kind(), ErrorKind::InvariantPanicked);
    assert!(
        after_op
            .to_string()
            .starts_with("invariant `fragile` panicked: mid-run"),
        "{after_op}"
    );
}

#[test]
fn without_histograms_there_are_no_percentiles_and_the_plot_says_so() {
    let outcome = Stress::new("bare")
        .threads(2)
        .iterations(10)
        .histograms(false)
        .op("nop", 1, |_| {})
        .run();
    assert_eq!(outcome.operation("nop").unwrap().latency, None);
    assert!(outcome
        .to_markdown()
        .contains("| nop | 1 | 20 | 0 | – | – | – | – |"));
    assert!(outcome.to_svg().contains("none recorded"));
    validate_json(&outcome);
}

#[test]
fn the_plot_draws_one_line_per_operation_and_recovering_fault() {
    let outcome = Stress::new("plot")
        .threads(2)
        .iterations(30)
        .op("a", 1, |_| {})
        .op("b", 1, |_| std::thread::yield_now())
        .fault_every(7, "kill", |_| {})
        .run();
    let svg = outcome.to_svg();
    assert!(svg.starts_with("<svg"), "{svg}");
    assert!(svg.trim_end().ends_with("</svg>"));
    // One thick line per series (a, b, recovery after kill), and one in the legend for each.
    assert_eq!(svg.matches(r#"stroke-width="2""#).count(), 3 + 3, "{svg}");
    for label in ["a", "b", "recovery after kill"] {
        assert!(
            svg.contains(&format!("\n{label}\n</text>")),
            "legend `{label}`: {svg}"
        );
    }
}
