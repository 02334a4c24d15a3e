//! loom 0.7's own test suite under loom 0.7 and under selvedge, side by side: for every test
//! that passes under both (as upstream expects: a `should_panic` test must panic), the wall time
//! and the executions each tool ran, and the totals.
//!
//! The test files are loom's, copied from the Cargo registry by `build.rs` and compiled twice:
//! `loom::` becomes a `shim` module that re-exports the tool's surface and counts executions
//! (each call of the test body), so both tools run exactly the same code. loom's model is
//! `model`'s default (`Builder::new()`), selvedge's too (DPOR, one worker per core).
//!
//! Every test runs in a child process (this binary, `--run <tool> <test>`): loom can abort the
//! process when a model panics while unwinding, and a child keeps one test's crash from ending
//! the comparison. A child reports `executions seconds outcome` on stdout.
//!
//! Run with `cargo bench -p selvedge-bench --bench loom_suite`.

// The test files are loom's, as loom wrote them: lints that flag them are loom's business.
#![allow(clippy::all, clippy::pedantic)]

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Executions started (test-body calls), counted by both shims.
static EXECUTIONS: AtomicUsize = AtomicUsize::new(0);

fn counted<F: Fn() + Sync + Send + 'static>(f: F) -> impl Fn() + Sync + Send + 'static {
    move || {
        EXECUTIONS.fetch_add(1, Ordering::Relaxed);
        f()
    }
}

mod under_loom {
    pub(crate) mod shim {
        pub(crate) use ::loom::{cell, future, lazy_static, sync, thread, thread_local};

        pub(crate) fn model<F: Fn() + Sync + Send + 'static>(f: F) {
            ::loom::model(crate::counted(f))
        }

        pub(crate) mod model {
            /// loom's `Builder`, counting executions.
            pub(crate) struct Builder(::loom::model::Builder);

            impl Builder {
                pub(crate) fn new() -> Builder {
                    Builder(::loom::model::Builder::new())
                }

                pub(crate) fn check<F: Fn() + Sync + Send + 'static>(&self, f: F) {
                    self.0.check(crate::counted(f))
                }
            }

            impl std::ops::Deref for Builder {
                type Target = ::loom::model::Builder;
                fn deref(&self) -> &Self::Target {
                    &self.0
                }
            }

            impl std::ops::DerefMut for Builder {
                fn deref_mut(&mut self) -> &mut Self::Target {
                    &mut self.0
                }
            }
        }
    }

    include!(concat!(env!("OUT_DIR"), "/under_loom/mod.rs"));
}

mod under_selvedge {
    pub(crate) mod shim {
        pub(crate) use ::selvedge::{cell, future, lazy_static, sync, thread, thread_local};

        // `track_caller`: selvedge names a test's saved schedules after where `model` was
        // called (saving is off in the children anyway).
        #[track_caller]
        pub(crate) fn model<F: Fn() + Sync + Send + 'static>(f: F) {
            ::selvedge::model(crate::counted(f))
        }

        pub(crate) mod model {
            /// selvedge's `Builder`, counting executions.
            pub(crate) struct Builder(::selvedge::model::Builder);

            impl Builder {
                pub(crate) fn new() -> Builder {
                    Builder(::selvedge::model::Builder::new())
                }

                #[track_caller]
                pub(crate) fn check<F: Fn() + Sync + Send + 'static>(&self, f: F) {
                    self.0.check(crate::counted(f))
                }
            }

            impl std::ops::Deref for Builder {
                type Target = ::selvedge::model::Builder;
                fn deref(&self) -> &Self::Target {
                    &self.0
                }
            }

            impl std::ops::DerefMut for Builder {
                fn deref_mut(&mut self) -> &mut Self::Target {
                    &mut self.0
                }
            }
        }
    }

    include!(concat!(env!("OUT_DIR"), "/under_selvedge/mod.rs"));
}

type Tests = &'static [(&'static str, fn(), bool, bool)];

fn tests(tool: &str) -> Tests {
    match tool {
        "loom" => under_loom::TESTS,
        "selvedge" => under_selvedge::TESTS,
        other => panic!("unknown tool `{other}`: use `loom` or `selvedge`"),
    }
}

/// In the child: runs one test under one tool and prints `executions seconds outcome`.
fn run_one(tool: &str, name: &str) {
    let (_, test, should_panic, _) = tests(tool)
        .iter()
        .find(|(n, ..)| *n == name)
        .unwrap_or_else(|| panic!("no test `{name}`"));
    std::panic::set_hook(Box::new(|_| {}));
    let start = Instant::now();
    let panicked = std::panic::catch_unwind(test).is_err();
    let seconds = start.elapsed().as_secs_f64();
    let outcome = if panicked == *should_panic {
        "pass"
    } else {
        "fail"
    };
    println!(
        "{} {seconds:.6} {outcome}",
        EXECUTIONS.load(Ordering::Relaxed)
    );
}

#[derive(Clone, Copy)]
struct Run {
    executions: usize,
    seconds: f64,
    passed: bool,
}

fn run_child(tool: &str, name: &str) -> Option<Run> {
    let exe = std::env::current_exe().expect("this bench's path");
    let output = Command::new(exe)
        .args(["--run", tool, name])
        .env_remove("SELVEDGE_REPLAY")
        // Exploration only: no schedules saved by one test replayed in another.
        .env("SELVEDGE_REGRESSIONS", "off")
        .output()
        .expect("run a child");
    let text = String::from_utf8_lossy(&output.stdout);
    // The last line: the test itself may print.
    let mut words = text.lines().last()?.split_whitespace();
    let executions = words.next()?.parse().ok()?;
    let seconds = words.next()?.parse().ok()?;
    let passed = words.next()? == "pass";
    Some(Run {
        executions,
        seconds,
        passed,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--run") {
        run_one(&args[i + 1], &args[i + 2]);
        return;
    }
    let names: Vec<&str> = under_loom::TESTS
        .iter()
        .filter(|(_, _, _, ignored)| !ignored)
        .map(|(n, ..)| *n)
        .collect();
    println!(
        "| loom test | loom 0.7 executions | loom 0.7 time | selvedge executions | selvedge time |"
    );
    println!("|---|---|---|---|---|");
    let (mut loom_total, mut selvedge_total) = ((0usize, 0.0f64), (0usize, 0.0f64));
    let mut left_out = Vec::new();
    for name in names {
        let loom = run_child("loom", name);
        let selvedge = run_child("selvedge", name);
        match (loom, selvedge) {
            (Some(l), Some(s)) if l.passed && s.passed => {
                println!(
                    "| {name} | {} | {:.3} s | {} | {:.3} s |",
                    l.executions, l.seconds, s.executions, s.seconds
                );
                loom_total.0 += l.executions;
                loom_total.1 += l.seconds;
                selvedge_total.0 += s.executions;
                selvedge_total.1 += s.seconds;
            }
            (l, s) => {
                let say = |r: Option<Run>| match r {
                    None => "crashed",
                    Some(r) if r.passed => "passes",
                    Some(_) => "fails",
                };
                left_out.push(format!("{name} (loom {}, selvedge {})", say(l), say(s)));
            }
        }
    }
    println!(
        "| **total** | **{}** | **{:.2} s** | **{}** | **{:.2} s** |",
        loom_total.0, loom_total.1, selvedge_total.0, selvedge_total.1
    );
    println!(
        "\nratios (loom / selvedge): executions {:.1}x, time {:.1}x",
        loom_total.0 as f64 / selvedge_total.0.max(1) as f64,
        loom_total.1 / selvedge_total.1.max(1e-9)
    );
    println!("left out (not passing under both): {}", left_out.join("; "));
}
