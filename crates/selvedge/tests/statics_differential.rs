//! Differential test over generated programs that keep all their shared state in statics
//! (atomics, `Mutex<()>` gates, a `OnceLock`): 1, 2 and 4 workers, and two explorations running
//! at the same time on two OS threads, give identical verdicts, counts and digests. Any model
//! state of a static leaking from one execution into another shows up as a difference.

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use selvedge::sync::atomic::{AtomicU8, Ordering::SeqCst};
use selvedge::sync::{Mutex, OnceLock};
use selvedge::{explore, Config, Report, Strategy as Search};

static ATOMICS: [AtomicU8; 2] = [AtomicU8::new(0), AtomicU8::new(0)];
static GATES: [Mutex<()>; 2] = [Mutex::new(()), Mutex::new(())];
static FIRST: OnceLock<u8> = OnceLock::new();

#[derive(Clone, Debug)]
enum Step {
    FetchAdd(usize),
    Store(usize, u8),
    /// Panics if the atomic holds this value.
    CheckNe(usize, u8),
    /// Initialises `FIRST` with this value, or panics if it holds the other one.
    Init(u8),
    /// Locks the first gate, then the second if any, runs the inner steps, unlocks.
    Gated(usize, Option<usize>, Vec<Step>),
}

#[derive(Clone, Debug)]
struct Program {
    threads: Vec<Vec<Step>>,
    finally: Vec<Step>,
}

fn plain_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..2usize).prop_map(Step::FetchAdd),
        (0..2usize, 0..3u8).prop_map(|(a, v)| Step::Store(a, v)),
        (0..2usize, 0..3u8).prop_map(|(a, v)| Step::CheckNe(a, v)),
        (1..3u8).prop_map(Step::Init),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => plain_step(),
        1 => (0..2usize, proptest::option::of(0..2usize), proptest::collection::vec(plain_step(), 0..2))
            .prop_map(|(g, second, inner)| Step::Gated(g, second.filter(|s| *s != g), inner)),
    ]
}

fn program() -> impl Strategy<Value = Program> {
    (
        proptest::collection::vec(proptest::collection::vec(step(), 1..3), 2..4),
        proptest::collection::vec(
            (0..2usize, 0..4u8).prop_map(|(a, v)| Step::CheckNe(a, v)),
            0..2,
        ),
    )
        .prop_map(|(threads, finally)| Program { threads, finally })
}

fn run(steps: &[Step]) {
    for step in steps {
        match step {
            Step::FetchAdd(a) => {
                ATOMICS[*a].fetch_add(1, SeqCst);
            }
            Step::Store(a, v) => ATOMICS[*a].store(*v, SeqCst),
            Step::CheckNe(a, v) => assert_ne!(ATOMICS[*a].load(SeqCst), *v, "check failed"),
            Step::Init(v) => {
                let got = *FIRST.get_or_init(|| *v);
                assert!(got == 1 || got == 2, "a value no task stored: {got}");
            }
            Step::Gated(g, second, inner) => {
                let _first = GATES[*g].lock().unwrap();
                let _second = second.map(|s| GATES[s].lock().unwrap());
                run(inner);
            }
        }
    }
}

fn body(program: Program) -> impl Fn() + Send + Sync + 'static {
    move || {
        // Every execution starts from the statics' initial values.
        assert_eq!(ATOMICS[0].load(SeqCst), 0, "a value from another execution");
        assert_eq!(ATOMICS[1].load(SeqCst), 0, "a value from another execution");
        assert!(FIRST.get().is_none(), "a value from another execution");
        let (first, rest) = program.threads.split_first().expect("at least one thread");
        let handles: Vec<_> = rest
            .iter()
            .cloned()
            .map(|steps| selvedge::thread::spawn(move || run(&steps)))
            .collect();
        run(first);
        for h in handles {
            h.join().unwrap();
        }
        run(&program.finally);
    }
}

fn config(workers: usize) -> Config {
    Config {
        strategy: Search::Dpor,
        workers: Some(workers),
        minimise: false,
        ..Config::default()
    }
}

/// What must be the same however the exploration is run.
fn verdict(report: &Report) -> (u64, u64, Option<(selvedge::FailureKind, String, String)>) {
    let failure = report.failure().map(|f| {
        (
            f.kind(),
            f.message().lines().next().unwrap_or("").to_string(),
            f.schedule().to_string(),
        )
    });
    (report.schedules(), report.digest(), failure)
}

#[test]
fn statics_give_the_same_answer_for_any_workers_and_alongside_other_explorations() {
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let failing = std::cell::Cell::new(0usize);
    runner
        .run(&program(), |program| {
            let one = explore(config(1), body(program.clone()));
            prop_assert!(one.error().is_none());
            if let Some(f) = one.failure() {
                prop_assert!(
                    !f.message().contains("another execution"),
                    "state leaked between executions:\n{f}"
                );
                failing.set(failing.get() + 1);
            }
            let expected = verdict(&one);
            for workers in [2, 4] {
                let many = explore(config(workers), body(program.clone()));
                prop_assert_eq!(verdict(&many), expected.clone(), "{} workers", workers);
            }
            let side_by_side: Vec<_> = (0..2)
                .map(|_| {
                    let program = program.clone();
                    std::thread::spawn(move || verdict(&explore(config(1), body(program))))
                })
                .collect();
            for run in side_by_side {
                prop_assert_eq!(run.join().unwrap(), expected.clone(), "side by side");
            }
            Ok(())
        })
        .unwrap();
    // The generator must produce both verdicts, or the comparison proves little.
    assert!(
        failing.get() > 30,
        "only {} failing programs",
        failing.get()
    );
    assert!(
        failing.get() < 270,
        "only {} passing programs",
        300 - failing.get()
    );
}
