//! Parallel DPOR: the exploration tree is split into subtrees explored on several OS threads,
//! with exactly the executions, order and verdict of a single worker.
//!
//! A subtree is explored by a `Dpor` that fixes the choices above it, starts with the sleep
//! set its root would have had, and leaves its decisions shallower than `SPLIT_DEPTH` to this
//! coordinator. Once the first branch below such a decision is explored, its other branches
//! (the backtrack set) become subtrees of their own, explored in parallel. Results, and the
//! races they report against shallower decisions, are merged in the order one worker would
//! have explored them: deepest decision first, then backtrack order. That order is all the
//! sequential algorithm depends on — a subtree's exploration depends only on its prefix and
//! its root's sleep set, which holds exactly the branches ordered before it — so the merged
//! result is the sequential one, whatever the number of workers.
//!
//! Invariant: a subtree never changes a decision above its root; it only reports races there.

use std::sync::Mutex;

use rayon::prelude::*;

use crate::explorer::{run_strategy, Context, Tally};
use crate::runtime::TaskId;
use crate::strategy::{Candidate, Coverage, Dpor, RaceReport, Strategy as _};

/// Decisions shallower than this are coordinated here; deeper ones are explored inline by
/// each subtree. Deep enough to give every worker many subtrees, shallow enough that a
/// subtree amortises the cost of handing it to a thread.
const SPLIT_DEPTH: usize = 8;

/// Idle worker pools kept across explorations: their threads keep their task stacks, so a
/// short exploration does not pay for new threads and freshly mapped stacks. An exploration
/// takes a pool for itself and gives it back when done, so a pool whose thread had its panic
/// state ruined is simply never given back, and no other exploration ever runs on it.
static IDLE_POOLS: Mutex<Vec<(usize, rayon::ThreadPool)>> = Mutex::new(Vec::new());

fn take_pool(workers: usize) -> rayon::ThreadPool {
    let mut idle = IDLE_POOLS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = idle.iter().position(|(n, _)| *n == workers) {
        return idle.swap_remove(i).1;
    }
    drop(idle);
    rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|i| format!("selvedge-worker-{i}"))
        .build()
        .expect("selvedge could not start its worker threads")
}

fn give_back(workers: usize, pool: rayon::ThreadPool) {
    let mut idle = IDLE_POOLS.lock().unwrap_or_else(|e| e.into_inner());
    if idle.len() < crate::limits::MAX_IDLE_POOLS {
        idle.push((workers, pool));
    }
}

pub(crate) fn explore(context: &Context<'_>, workers: usize) -> (Tally, Coverage) {
    let pool = take_pool(workers);
    let (tally, _) = pool.install(|| subtree(context, Vec::new(), Vec::new()));
    // A cancelled run may have left a worker thread unusable: let the pool go.
    if !context.cancelled.load(std::sync::atomic::Ordering::Relaxed) {
        give_back(workers, pool);
    }
    let coverage = if tally.finished() {
        Coverage::Sampled
    } else {
        Coverage::Complete
    };
    (tally, coverage)
}

/// Explores everything below `prefix` and returns it with the races that reach above.
fn subtree(
    context: &Context<'_>,
    prefix: Vec<TaskId>,
    root_sleep: Vec<Candidate>,
) -> (Tally, Vec<RaceReport>) {
    let base = prefix.len();
    let cap = context.config.schedules();
    let mut dpor = Dpor::subtree(prefix.clone(), root_sleep, SPLIT_DEPTH, cap);
    let mut tally = run_strategy(&mut dpor, context);
    // The subtree's own schedule cap is the global one, so it is spent here too.
    tally.out_of_schedules |= dpor.coverage() != Coverage::Complete;
    let (mut nodes, mut reports) = dpor.into_parts();
    if tally.finished() {
        return (tally, reports);
    }
    for k in (0..nodes.len()).rev() {
        // The first branch below decision `k` is explored by now.
        let node = &mut nodes[k];
        if let Some(done) = node.candidate(node.chosen) {
            if !node.asleep(done.task) {
                node.sleep.push(done);
            }
        }
        loop {
            let mut jobs = Vec::new();
            while let Some(task) = nodes[k].next_unexplored() {
                let mut child: Vec<TaskId> = prefix.clone();
                child.extend(nodes[..k].iter().map(|n| n.chosen));
                child.push(task);
                let node = &mut nodes[k];
                jobs.push((child, node.sleep_after(task)));
                // Later siblings treat this branch as explored, as one worker would.
                let taken = node.candidate(task).expect("next_unexplored is enabled");
                node.sleep.push(taken);
            }
            if jobs.is_empty() {
                break;
            }
            let results: Vec<(Tally, Vec<RaceReport>)> = jobs
                .into_par_iter()
                .map(|(child, sleep)| subtree(context, child, sleep))
                .collect();
            for (later, races) in results {
                tally.append(later);
                if tally.finished() {
                    return (tally, reports);
                }
                for race in races {
                    match race.depth.checked_sub(base) {
                        Some(i) => nodes[i].add_race(&race.initials, race.racer),
                        None => reports.push(race),
                    }
                }
            }
        }
    }
    (tally, reports)
}
