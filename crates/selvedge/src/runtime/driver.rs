//! The coroutine runtime behind the explorer's `Driver` seam: each OS thread that explores gets
//! a `ModelDriver`, which runs executions of the test body as coroutines (`execution::run`) and
//! arms the thread's stall watchdog while it exists.

use std::panic::Location;
use std::sync::Arc;

use super::execution::{self, ExecutionLimits, TestBody};
use super::task::TaskSettings;
use crate::driver::{Driver, Drivers};
use crate::strategy::Strategy;
use crate::trace::Execution;
use crate::watchdog::Watch;
use crate::Config;

/// The drivers of one exploration of a test body under the model.
pub(crate) struct ModelDrivers {
    body: TestBody,
    limits: ExecutionLimits,
    /// Where the body was handed to selvedge: the main task's spawn site.
    body_location: &'static Location<'static>,
    /// The stall watchdog's settings, and the rest of the exploration's config.
    config: Config,
    /// Name every execution's tasks and objects, not only failing ones: a replay's
    /// divergence is found by the explorer after the execution, and is reported with them.
    always_named: bool,
}

impl ModelDrivers {
    pub(crate) fn new(
        config: &Config,
        body: TestBody,
        body_location: &'static Location<'static>,
    ) -> ModelDrivers {
        ModelDrivers {
            body,
            limits: ExecutionLimits {
                max_steps: config.max_steps,
                tasks: TaskSettings {
                    stack_bytes: config.stack_size,
                    max_tasks: config.max_tasks,
                    data_seed: config.seed,
                    spurious_wakeups: config.spurious_wakeups,
                },
            },
            body_location,
            config: config.clone(),
            always_named: matches!(config.strategy, crate::Strategy::Replay(_)),
        }
    }
}

impl Drivers for ModelDrivers {
    fn driver(&self, test_name: Option<&str>) -> Box<dyn Driver + '_> {
        // Each execution clones the body's `Arc` for its main task. A wrapper private to this
        // thread keeps that reference count off the cache line shared with other workers.
        let shared = self.body.clone();
        Box::new(ModelDriver {
            drivers: self,
            body: Arc::new(move || shared()),
            watch: Watch::start(&self.config, &test_name.map(str::to_string)),
        })
    }
}

/// Runs executions on the calling OS thread, with that thread's stall watchdog armed.
struct ModelDriver<'a> {
    drivers: &'a ModelDrivers,
    body: TestBody,
    watch: Option<Watch>,
}

impl Driver for ModelDriver<'_> {
    fn run(&mut self, strategy: &mut dyn Strategy) -> Execution {
        execution::run(
            strategy,
            self.drivers.limits,
            &self.body,
            self.drivers.body_location,
            self.watch.as_ref().map(Watch::heartbeat),
            self.drivers.always_named,
        )
    }

    fn recycle(&mut self, execution: Execution) {
        super::recycle_trace(execution.trace, execution.choices);
    }
}

#[cfg(test)]
mod tests {
    use std::panic::Location;
    use std::sync::Arc;

    use super::*;
    use crate::explorer::{run_strategy, Context, ReplayBy, Stop};
    use crate::strategy::{self, Coverage, Decision, Refusal};
    use crate::trace::{TaskId, TraceEvent};

    /// A broken strategy: chooses a task that is not enabled, which the scheduler loop asserts
    /// against.
    struct ChoosesAStranger {
        started: bool,
    }

    impl strategy::Strategy for ChoosesAStranger {
        fn next_execution(&mut self) -> bool {
            !std::mem::replace(&mut self.started, true)
        }
        fn choose(&mut self, _decision: &Decision<'_>) -> Result<TaskId, Refusal> {
            Ok(TaskId(77))
        }
        fn finish_execution(&mut self, _trace: &[TraceEvent], _choices: &[TaskId]) {}
        fn coverage(&self) -> Coverage {
            Coverage::Sampled
        }
    }

    #[test]
    fn an_engine_assertion_in_the_scheduler_loop_becomes_an_internal_error_with_a_replay_string() {
        // Goal: a bug in selvedge surfaces as an `Internal` error the user can report, not as a
        // panic unwinding out of the explorer.
        let config = Config::default();
        let drivers = ModelDrivers::new(
            &config,
            Arc::new(|| {
                let t = crate::thread::spawn(|| ());
                t.join().unwrap();
            }),
            Location::caller(),
        );
        let context = Context::new(&config, &drivers, None, ReplayBy::Config, None);
        let tally = run_strategy(&mut ChoosesAStranger { started: false }, &context);
        assert_eq!(tally.stop, Some(Stop::Internal));
        assert!(tally.failure.is_none());
        assert_eq!(context.halted(), Some(Stop::Internal));
        let error = context.internal_error().expect("the error is kept");
        assert_eq!(error.kind(), crate::ErrorKind::Internal);
        assert_eq!(
            error.to_string(),
            "selvedge hit an internal error (a bug in selvedge, not in the code under test) in \
             schedule 1 with strategy Dpor (seed 0): strategy chose task 77 which is not enabled; \
             replay string `v1:811c9dc5:` reproduces it; please report it with this message"
        );
    }
}
