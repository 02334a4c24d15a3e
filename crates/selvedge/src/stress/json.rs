//! `Outcome::to_json`: the outcome as JSON, in the versioned format that `schema.json`
//! documents (`JSON_SCHEMA`). Durations are integer nanoseconds, named `*_ns`.
//!
//! Invariant: the shape written here and `schema.json` change together, and a change that
//! removes or retypes a field bumps `FORMAT_VERSION` (a test validates every output against
//! the schema).

use serde::Serialize;

use super::outcome::{Activity, Outcome, Percentiles, Planned};

/// The version of the JSON format, written as `"version"`.
pub const FORMAT_VERSION: u32 = 1;

/// The JSON Schema (draft 2020-12) of `Outcome::to_json`'s output, with every field described.
///
/// ```
/// let schema: serde_json::Value = serde_json::from_str(selvedge::stress::JSON_SCHEMA).unwrap();
/// assert_eq!(schema["properties"]["version"]["const"], 1);
/// ```
pub const JSON_SCHEMA: &str = include_str!("schema.json");

#[derive(Serialize)]
struct Document<'a> {
    format: &'static str,
    version: u32,
    name: &'a str,
    threads: usize,
    planned_iterations_per_thread: Option<u64>,
    planned_duration_ns: Option<u64>,
    seed: u64,
    elapsed_ns: u64,
    iterations: u64,
    deadlocks: usize,
    errors: u64,
    error_samples: Vec<ErrorSampleJson<'a>>,
    invariants: Vec<InvariantJson<'a>>,
    operations: Vec<OperationJson<'a>>,
    faults: Vec<FaultJson<'a>>,
    watchdog: WatchdogJson<'a>,
}

#[derive(Serialize)]
struct ErrorSampleJson<'a> {
    operation: &'a str,
    message: &'a str,
    count: u64,
}

#[derive(Serialize)]
struct InvariantJson<'a> {
    name: &'a str,
    violations: u64,
    checks: u64,
    after_each_op: bool,
    checked_at_end: bool,
}

#[derive(Serialize)]
struct PercentilesJson {
    samples: u64,
    p50_ns: u64,
    p95_ns: u64,
    p99_ns: u64,
    max_ns: u64,
}

#[derive(Serialize)]
struct OperationJson<'a> {
    name: &'a str,
    weight: u32,
    count: u64,
    errors: u64,
    latency: Option<PercentilesJson>,
}

#[derive(Serialize)]
struct FaultJson<'a> {
    name: &'a str,
    injected: u64,
    recovered: u64,
    recovery: Option<PercentilesJson>,
}

#[derive(Serialize)]
struct WatchdogJson<'a> {
    deadline_ns: u64,
    fired: bool,
    stopped_late: usize,
    parked_checks: usize,
    stuck: Vec<StuckJson<'a>>,
}

#[derive(Serialize)]
struct StuckJson<'a> {
    name: &'a str,
    thread: usize,
    iteration: u64,
    activity: &'static str,
    activity_name: Option<&'a str>,
    last_syncpoint: Option<&'a str>,
    last_syncpoint_name: Option<&'a str>,
    since_syncpoint_ns: Option<u64>,
}

fn ns(d: std::time::Duration) -> u64 {
    d.as_nanos().min(u64::MAX as u128) as u64
}

fn percentiles(p: &Option<Percentiles>) -> Option<PercentilesJson> {
    p.as_ref().map(|p| PercentilesJson {
        samples: p.samples,
        p50_ns: ns(p.p50),
        p95_ns: ns(p.p95),
        p99_ns: ns(p.p99),
        max_ns: ns(p.max),
    })
}

impl Outcome {
    /// The outcome as pretty-printed JSON, in the format [`JSON_SCHEMA`] documents
    /// (`"format": "selvedge-stress"`, `"version": 1`).
    ///
    /// ```
    /// let outcome = selvedge::stress::Stress::new("json").threads(2).iterations(5)
    ///     .op("nop", 1, |_| {}).run();
    /// let json: serde_json::Value = serde_json::from_str(&outcome.to_json()).unwrap();
    /// assert_eq!(json["format"], "selvedge-stress");
    /// assert_eq!(json["iterations"], 10);
    /// assert_eq!(json["operations"][0]["name"], "nop");
    /// ```
    pub fn to_json(&self) -> String {
        let (per_thread, duration) = match self.planned {
            Planned::Iterations(n) => (Some(n), None),
            Planned::Duration(d) => (None, Some(ns(d))),
        };
        let document = Document {
            format: "selvedge-stress",
            version: FORMAT_VERSION,
            name: &self.name,
            threads: self.threads,
            planned_iterations_per_thread: per_thread,
            planned_duration_ns: duration,
            seed: self.seed,
            elapsed_ns: ns(self.elapsed),
            iterations: self.iterations,
            deadlocks: self.deadlocks(),
            errors: self.errors,
            error_samples: self
                .error_samples
                .iter()
                .map(|s| ErrorSampleJson {
                    operation: &s.operation,
                    message: &s.message,
                    count: s.count,
                })
                .collect(),
            invariants: self
                .invariants
                .iter()
                .map(|i| InvariantJson {
                    name: &i.name,
                    violations: i.violations,
                    checks: i.checks,
                    after_each_op: i.after_each_op,
                    checked_at_end: i.checked_at_end,
                })
                .collect(),
            operations: self
                .operations
                .iter()
                .map(|o| OperationJson {
                    name: &o.name,
                    weight: o.weight,
                    count: o.count,
                    errors: o.errors,
                    latency: percentiles(&o.latency),
                })
                .collect(),
            faults: self
                .faults
                .iter()
                .map(|f| FaultJson {
                    name: &f.name,
                    injected: f.injected,
                    recovered: f.recovered,
                    recovery: percentiles(&f.recovery),
                })
                .collect(),
            watchdog: WatchdogJson {
                deadline_ns: ns(self.watchdog.deadline),
                fired: self.watchdog.fired,
                stopped_late: self.watchdog.stopped_late,
                parked_checks: self.watchdog.parked_checks,
                stuck: self
                    .watchdog
                    .stuck
                    .iter()
                    .map(|s| {
                        let (activity, activity_name) = match &s.activity {
                            Activity::Starting => ("starting", None),
                            Activity::BetweenOps => ("between_ops", None),
                            Activity::Operation(n) => ("operation", Some(n.as_str())),
                            Activity::Fault(n) => ("fault", Some(n.as_str())),
                            Activity::Invariant(n) => ("invariant", Some(n.as_str())),
                        };
                        StuckJson {
                            name: &s.name,
                            thread: s.thread,
                            iteration: s.iteration,
                            activity,
                            activity_name,
                            last_syncpoint: s.last_syncpoint.as_deref(),
                            last_syncpoint_name: s.last_syncpoint_name.as_deref(),
                            since_syncpoint_ns: s.since_syncpoint.map(ns),
                        }
                    })
                    .collect(),
            },
        };
        serde_json::to_string_pretty(&document).expect("plain data always serialises")
    }
}
