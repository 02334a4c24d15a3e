//! Replay strings: a compact, versioned encoding of the choices of one execution.
//!
//! Format `v1:<fingerprint>:<runs>[:<data seed>]`: `fingerprint` is 8 hex digits hashing the
//! sequence of (task, operation kind) at every decision, so a replay against changed code is
//! detected even where the same choices happen to be possible; `runs` is the chosen task ids,
//! run-length encoded as `task` or `task*count`, separated by `.` (`0*4.1*3.0`); the data
//! seed, in hex, is the seed `selvedge::rand` drew the execution's numbers from, present only
//! when the execution drew any (so a replay draws the same numbers whatever the config's seed).
//!
//! Invariant: `parse(encode(x)) == x` for every schedule, and `parse` never panics.

use crate::error::Error;
use crate::trace::{TaskId, TraceEvent};

const VERSION: &str = "v1";

/// A parsed replay string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub(crate) fingerprint: u32,
    pub(crate) choices: Vec<TaskId>,
    /// The execution's `selvedge::rand` seed, when it drew a number (otherwise the string
    /// omits it).
    pub(crate) data_seed: Option<u64>,
}

impl Schedule {
    pub(crate) fn encode(&self) -> String {
        let mut out = format!("{VERSION}:{:08x}:", self.fingerprint);
        let mut i = 0;
        let mut first = true;
        while i < self.choices.len() {
            let task = self.choices[i];
            let mut n = 1;
            while i + n < self.choices.len() && self.choices[i + n] == task {
                n += 1;
            }
            if !first {
                out.push('.');
            }
            first = false;
            if n == 1 {
                out.push_str(&task.0.to_string());
            } else {
                out.push_str(&format!("{}*{}", task.0, n));
            }
            i += n;
        }
        if let Some(seed) = self.data_seed {
            out.push_str(&format!(":{seed:x}"));
        }
        out
    }

    pub(crate) fn parse(text: &str) -> Result<Schedule, Error> {
        let text = text.trim();
        let malformed = |why: &str| {
            Error::malformed_schedule(format!(
                "replay string `{}` is malformed: {why}; copy the whole string from a selvedge failure \
                 report (it looks like `v1:1a2b3c4d:0*3.1.0`)",
                shorten(text)
            ))
        };
        let mut parts = text.splitn(4, ':');
        let version = parts.next().unwrap_or("");
        if version != VERSION {
            if version.starts_with('v') && version[1..].chars().all(|c| c.is_ascii_digit()) {
                return Err(malformed(&format!(
                    "it has format version `{version}` but this selvedge reads `{VERSION}`; re-record it with this version"
                )));
            }
            return Err(malformed(
                "it does not start with a format version such as `v1:`",
            ));
        }
        let fingerprint = parts
            .next()
            .ok_or_else(|| malformed("the fingerprint is missing"))?;
        if fingerprint.len() != 8 {
            return Err(malformed("the fingerprint must be 8 hex digits"));
        }
        let fingerprint = u32::from_str_radix(fingerprint, 16)
            .map_err(|_| malformed("the fingerprint must be 8 hex digits"))?;
        let runs = parts
            .next()
            .ok_or_else(|| malformed("the list of steps is missing"))?;
        let mut choices = Vec::new();
        if !runs.is_empty() {
            for run in runs.split('.') {
                let (task, count) = match run.split_once('*') {
                    Some((task, count)) => (task, count),
                    None => (run, "1"),
                };
                let task: u32 = task.parse().map_err(|_| {
                    malformed(&format!("`{run}` is not a step (`task` or `task*count`)"))
                })?;
                let count: usize = count
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| malformed(&format!("`{run}` has a bad repeat count")))?;
                if choices.len() + count > crate::limits::DEFAULT_MAX_STEPS * 100 {
                    return Err(malformed(
                        "it is longer than any execution selvedge can run",
                    ));
                }
                choices.extend(std::iter::repeat_n(TaskId(task), count));
            }
        }
        let data_seed = match parts.next() {
            None => None,
            Some(seed) => Some(
                (!seed.is_empty()
                    && seed.len() <= 16
                    && seed.chars().all(|c| c.is_ascii_hexdigit()))
                .then(|| u64::from_str_radix(seed, 16).ok())
                .flatten()
                .ok_or_else(|| {
                    malformed("the data seed after the steps must be 1 to 16 hex digits")
                })?,
            ),
        };
        Ok(Schedule {
            fingerprint,
            choices,
            data_seed,
        })
    }
}

/// The fingerprint of an execution: FNV-1a over (task, operation kind) at every decision.
pub(crate) fn fingerprint(trace: &[TraceEvent]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for event in trace.iter().filter(|e| e.chosen) {
        for byte in event
            .task
            .0
            .to_le_bytes()
            .into_iter()
            .chain(event.op.kind.code().to_le_bytes())
        {
            hash ^= byte as u32;
            hash = hash.wrapping_mul(0x0100_0193);
        }
    }
    hash
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 60 {
        let head: String = text.chars().take(57).collect();
        format!("{head}...")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn encode_then_parse_round_trips(
            fp in any::<u32>(),
            tasks in proptest::collection::vec(0u32..6, 0..60),
            data_seed in proptest::option::of(any::<u64>()),
        ) {
            let schedule = Schedule {
                fingerprint: fp,
                choices: tasks.into_iter().map(TaskId).collect(),
                data_seed,
            };
            prop_assert_eq!(Schedule::parse(&schedule.encode()).unwrap(), schedule);
        }

        #[test]
        fn parse_never_panics(text in ".{0,40}") {
            let _ = Schedule::parse(&text);
        }

        #[test]
        fn parse_never_panics_on_near_misses(text in "v1:[0-9a-f]{0,9}:[0-9*.]{0,20}(:[0-9a-fx]{0,18})?") {
            let _ = Schedule::parse(&text);
        }
    }

    #[test]
    fn malformed_strings_say_what_is_wrong() {
        let err = Schedule::parse("hello").unwrap_err();
        assert!(
            err.to_string()
                .contains("does not start with a format version"),
            "{err}"
        );
        let err = Schedule::parse("v9:00000000:0").unwrap_err();
        assert!(err.to_string().contains("format version `v9`"), "{err}");
        let err = Schedule::parse("v1:xyz:0").unwrap_err();
        assert!(err.to_string().contains("8 hex digits"), "{err}");
        let err = Schedule::parse("v1:00000000:0.a").unwrap_err();
        assert!(err.to_string().contains("`a` is not a step"), "{err}");
        let err = Schedule::parse("v1:00000000:1*0").unwrap_err();
        assert!(err.to_string().contains("bad repeat count"), "{err}");
        let err = Schedule::parse("v1:00000000:0.1:zz").unwrap_err();
        assert!(err.to_string().contains("data seed"), "{err}");
        let ok = Schedule::parse("v1:00000000:0.1:2a").unwrap();
        assert_eq!(ok.data_seed, Some(42));
        let ok = Schedule::parse("v1:00000000:0.1:0").unwrap();
        assert_eq!(ok.data_seed, Some(0), "seed 0 is a seed, not none");
        let err = Schedule::parse("v1:00000000:0.1:+2a").unwrap_err();
        assert!(err.to_string().contains("data seed"), "{err}");
    }
}
