//! The seam between the explorer and whatever runs the test: a `Driver` runs one execution,
//! asking the strategy at every choice, and hands back the plain-data `Execution`. The explorer,
//! minimisation, parallel exploration and the report work through this trait alone; the
//! coroutine runtime (`runtime::ModelDriver`) is one implementation, and a driver of real
//! threads would be another.
//!
//! Invariant: a driver never picks a task itself; every choice goes through
//! `Strategy::choose`, and it calls `Strategy::finish_execution` once per execution with the
//! trace and choices it hands back (unless the driver itself failed).

use crate::strategy::Strategy;
use crate::trace::Execution;

/// Runs executions of one test on the calling OS thread.
pub(crate) trait Driver {
    /// Runs one execution, asking `strategy` at every choice.
    fn run(&mut self, strategy: &mut dyn Strategy) -> Execution;

    /// Takes back an execution the explorer is done with, to reuse its buffers.
    fn recycle(&mut self, execution: Execution) {
        drop(execution);
    }
}

/// What a driver runs, and so what the explorer may assume of its executions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DriverKind {
    /// The model: re-running a schedule prefix reaches the same decisions, always.
    Model,
    /// Real threads and runtimes (the orchestra): a re-run may not repeat its prefix (a task
    /// blocked outside selvedge rejoins when the real world lets it), so exhaustive search is
    /// `TurnDfs`, on one worker, failures are not minimised, and the replay command is the
    /// orchestra's.
    Orchestra,
}

/// Makes the drivers of one exploration: one for each OS thread that runs executions (the
/// explorer's thread, each parallel worker). Shared by those threads.
pub(crate) trait Drivers: Send + Sync {
    /// A driver for the calling OS thread. `test_name` names the test in diagnostics.
    fn driver(&self, test_name: Option<&str>) -> Box<dyn Driver + '_>;

    /// What the drivers run.
    fn kind(&self) -> DriverKind {
        DriverKind::Model
    }
}

#[cfg(test)]
mod tests {
    //! The proof that the seam is real: a scripted driver that runs no code at all, only a fixed
    //! list of operations per task, goes through the explorer, DPOR, parallel exploration and the
    //! report without any of the coroutine runtime.

    use std::panic::Location;

    use super::{Driver, Drivers};
    use crate::explorer::{explore_with, ReplayBy};
    use crate::strategy::{Candidate, Decision, Refusal, Strategy};
    use crate::trace::{
        Access, Evidence, Execution, FailureKind, Names, ObjectId, Op, OpKind, RawFailure, TaskId,
        TraceEvent,
    };
    use crate::{Config, Strategy as Search};

    /// Per task, the objects it stores to, in order. Writing `fails_if_first` first (before
    /// task 0 wrote it) is the scripted bug.
    struct Script {
        tasks: Vec<Vec<u32>>,
        fails_if_first: Option<(u32, u32)>,
    }

    impl Drivers for Script {
        fn driver(&self, _test_name: Option<&str>) -> Box<dyn Driver + '_> {
            Box::new(Scripted { script: self })
        }
    }

    struct Scripted<'a> {
        script: &'a Script,
    }

    impl Driver for Scripted<'_> {
        fn run(&mut self, strategy: &mut dyn Strategy) -> Execution {
            let at = Location::caller();
            let tasks = &self.script.tasks;
            let mut next = vec![0usize; tasks.len()];
            let mut execution = Execution::default();
            let mut candidates = Vec::new();
            let mut previous = None;
            let mut first_writer: Vec<Option<u32>> = Vec::new();
            loop {
                candidates.clear();
                for (task, ops) in tasks.iter().enumerate() {
                    if let Some(&object) = ops.get(next[task]) {
                        candidates.push(Candidate {
                            task: TaskId(task as u32),
                            kind: OpKind::AtomicStore,
                            object: Some(ObjectId(object)),
                            access: Access::Write,
                        });
                    }
                }
                if candidates.is_empty() {
                    break;
                }
                let decision = Decision {
                    step: execution.choices.len(),
                    candidates: &candidates,
                    previous,
                    spurious: &[],
                };
                let chosen = match strategy.choose(&decision) {
                    Ok(task) => task,
                    Err(Refusal::Redundant) => {
                        execution.redundant = true;
                        break;
                    }
                    Err(Refusal::Diverged(message)) => panic!("a script cannot diverge: {message}"),
                };
                let object = tasks[chosen.index()][next[chosen.index()]];
                next[chosen.index()] += 1;
                execution.choices.push(chosen);
                previous = Some(chosen);
                execution.trace.push(TraceEvent {
                    task: chosen,
                    op: Op {
                        kind: OpKind::AtomicStore,
                        object: Some(ObjectId(object)),
                        access: Access::Write,
                        location: at,
                        awaited: false,
                    },
                    chosen: true,
                    unwinding: false,
                });
                let slot = object as usize;
                if first_writer.len() <= slot {
                    first_writer.resize(slot + 1, None);
                }
                first_writer[slot].get_or_insert(chosen.0);
            }
            strategy.finish_execution(&execution.trace, &execution.choices);
            if let Some((task, object)) = self.script.fails_if_first {
                if first_writer.get(object as usize).copied().flatten() == Some(task) {
                    execution.failure = Some(RawFailure {
                        kind: FailureKind::Panic,
                        message: format!("scripted task {task} wrote cell {object} first"),
                        task: Some((task, format!("scripted-{task}"))),
                        blocked: Vec::new(),
                        evidence: Evidence::None,
                    });
                    execution.names = Names {
                        tasks: (0..tasks.len()).map(|t| format!("scripted-{t}")).collect(),
                        objects: (0..first_writer.len())
                            .map(|o| format!("cell {o}"))
                            .collect(),
                    };
                }
            }
            execution
        }
    }

    fn explore_script(script: Script, workers: usize) -> crate::Report {
        let config = Config {
            strategy: Search::Dpor,
            workers: Some(workers),
            minimise: false,
            ..Config::default()
        };
        explore_with(config, Box::new(script), None, ReplayBy::Config)
    }

    #[test]
    fn a_scripted_driver_runs_through_the_explorer_dpor_and_the_report() {
        // Goal: everything above the seam works with a driver that is not the coroutine
        // runtime: exact DPOR counts, parallel workers, and a rendered failure report.
        for workers in [1, 2] {
            let conflicting = explore_script(
                Script {
                    tasks: vec![vec![0], vec![0], vec![0]],
                    fails_if_first: None,
                },
                workers,
            );
            assert!(conflicting.complete());
            assert_eq!(conflicting.schedules(), 6, "3! orders of three stores");
            let disjoint = explore_script(
                Script {
                    tasks: vec![vec![0, 1], vec![2], vec![3]],
                    fails_if_first: None,
                },
                workers,
            );
            assert!(disjoint.complete());
            assert_eq!(disjoint.schedules(), 1, "nothing conflicts");
        }
        let report = explore_script(
            Script {
                tasks: vec![vec![0, 1], vec![1, 0]],
                fails_if_first: Some((1, 0)),
            },
            1,
        );
        let failure = report.failure().expect("the scripted bug is found");
        assert_eq!(failure.kind(), FailureKind::Panic);
        let text = failure.to_string();
        assert!(
            text.starts_with("selvedge found a panic: scripted task 1 wrote cell 0 first"),
            "{text}"
        );
        assert!(text.contains("scripted-1"), "{text}");
        assert!(text.contains("cell 0"), "{text}");
        assert!(text.contains("store"), "{text}");
        assert!(text.contains("Strategy::Replay(\"v1:"), "{text}");
    }
}
