//! Replay: follow a recorded list of choices exactly, and say precisely where the code no
//! longer matches it.

use super::{Coverage, Decision, Refusal, Strategy};
use crate::trace::{TaskId, TraceEvent};

const ADVICE: &str = "The code changed since the schedule was recorded (or is not \
    deterministic); run the test without `SELVEDGE_REPLAY` to search for the failure again";

pub(crate) struct Replay {
    choices: Vec<TaskId>,
    /// The recorded execution's `selvedge::rand` seed, when the replay string has one.
    data_seed: Option<u64>,
    started: bool,
}

impl Replay {
    pub(crate) fn new(choices: Vec<TaskId>, data_seed: Option<u64>) -> Replay {
        Replay {
            choices,
            data_seed,
            started: false,
        }
    }
}

impl Strategy for Replay {
    fn next_execution(&mut self) -> bool {
        if self.started {
            return false;
        }
        self.started = true;
        true
    }

    fn choose(&mut self, decision: &Decision<'_>) -> Result<TaskId, Refusal> {
        let Some(&want) = self.choices.get(decision.step) else {
            return Err(Refusal::Diverged(format!(
                "the replayed schedule no longer matches the code: it has {} steps but the execution \
                 needs more (at step {} {} still ready). {ADVICE}",
                self.choices.len(),
                decision.step + 1,
                task_list(decision)
            )));
        };
        if decision.candidates.iter().any(|c| c.task == want) {
            Ok(want)
        } else {
            Err(Refusal::Diverged(format!(
                "the replayed schedule no longer matches the code: at step {} it runs task {}, but \
                 only {} able to run there. {ADVICE}",
                decision.step + 1,
                want.0,
                task_list(decision)
            )))
        }
    }

    /// A replay that ended early is judged by the explorer (`replay_divergence`), which sees
    /// the trace's fingerprint too.
    fn finish_execution(&mut self, _trace: &[TraceEvent], _choices: &[TaskId]) {}

    fn coverage(&self) -> Coverage {
        Coverage::Sampled
    }

    fn data_seed(&self) -> Option<u64> {
        self.data_seed
    }
}

/// "task 1 is" / "tasks 1, 2 are", for the ready tasks of a decision.
fn task_list(decision: &Decision<'_>) -> String {
    let ids: Vec<String> = decision
        .candidates
        .iter()
        .map(|c| c.task.0.to_string())
        .collect();
    match ids.as_slice() {
        [one] => format!("task {one} is"),
        _ => format!("tasks {} are", ids.join(", ")),
    }
}
