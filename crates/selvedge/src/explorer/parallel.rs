//! Parallel DPOR: the exploration tree is split into subtrees explored on several OS threads,
//! with exactly the executions, order and verdict of a single worker.
//!
//! A subtree is explored by a `Dpor` that fixes the choices above it and starts with the
//! sleep set and the wakeup continuation its root would have had. It explores inline, like a single worker, until it is
//! about to take the next branch of a decision shallower than `crate::limits::SPLIT_DEPTH` while some worker
//! has nothing to do. Then it stops and hands its open decisions to a `Coordinator`, which
//! launches every branch still to explore there as a subtree of its own.
//!
//! Results, and the races they report against shallower decisions, are merged in the order
//! one worker would have explored them: deepest decision first, then wakeup-tree order. That
//! order is all the sequential algorithm depends on. A branch can be launched as soon as it
//! joins its decision's wakeup tree, before the results ahead of it are merged: its
//! exploration depends only on its prefix, its root's sleep set and its continuation. The
//! first two are fixed by then (the sleep set holds exactly the branches ahead of it). The
//! continuation can still grow while races ahead of it are merged; when its turn comes, a
//! result explored with a shorter continuation is thrown away and the branch runs again.
//! So the merged result is the sequential one, whatever the number of workers and however
//! the work was split.
//!
//! Nothing blocks: a worker that finishes a subtree delivers its result to the coordinator,
//! merges every result that is now next in order, launches the branches those merges add,
//! and goes back to the pool for more work.
//!
//! Invariants:
//! - A subtree never changes a decision above its root; it only reports races there.
//! - A coordinator merges results only in single-worker order, and each exactly once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rayon::ScopeFifo;

use super::{run_strategy, Context, Tally};
use crate::strategy::{Candidate, Coverage, Dpor, Node, RaceReport, SplitPolicy, WakeupTree};
use crate::trace::TaskId;

/// Idle worker pools kept across explorations: their threads keep their task stacks, so a
/// short exploration does not pay for new threads and freshly mapped stacks. An exploration
/// takes a pool for itself and gives it back when done, so a pool whose thread had its panic
/// state ruined is simply never given back, and no other exploration ever runs on it.
static IDLE_POOLS: Mutex<Vec<(usize, rayon::ThreadPool)>> = Mutex::new(Vec::new());

fn take_pool(workers: usize) -> rayon::ThreadPool {
    let mut idle = lock(&IDLE_POOLS);
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
    let mut idle = lock(&IDLE_POOLS);
    if idle.len() < crate::limits::MAX_IDLE_POOLS {
        idle.push((workers, pool));
    }
}

/// Locks `mutex`, ignoring poisoning: every critical section here leaves its data
/// consistent, and an engine panic is re-raised on the exploring thread anyway.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn explore(context: &Context<'_>, workers: usize) -> (Tally, Coverage) {
    let pool = take_pool(workers);
    let crew = Arc::new(Crew {
        workers,
        claimed: AtomicUsize::new(0),
    });
    let outcome: Mutex<Option<SubtreeResult>> = Mutex::new(None);
    let panicked: Mutex<Option<Box<dyn std::any::Any + Send>>> = Mutex::new(None);
    let shared = Shared {
        context,
        crew,
        outcome: &outcome,
        panicked: &panicked,
        abandon_all: Abandon::below(None),
    };
    pool.in_place_scope_fifo(|scope| {
        launch(
            &shared,
            scope,
            Root::default(),
            Parent::Explorer,
            shared.abandon_all.clone(),
        );
        // A broadcast wakes every worker by name; a spawned job may leave one asleep.
        pool.broadcast(|_| look_for_work(&shared));
    });
    // A ruined thread (or an engine failure) may have left a worker unusable: let the pool go.
    if context.threads_usable() {
        give_back(workers, pool);
    }
    if let Some(payload) = lock(&panicked).take() {
        std::panic::resume_unwind(payload);
    }
    let (tally, _) = lock(&outcome)
        .take()
        .expect("the root subtree always delivers its result");
    let coverage = if tally.finished() {
        Coverage::Sampled
    } else {
        Coverage::Complete
    };
    (tally, coverage)
}

/// Runs launched subtrees on this worker until the exploration is over. An idle worker
/// keeps polling instead of letting the pool put its thread to sleep: waking a sleeping
/// thread (and, on a virtual machine, its idle virtual CPU) can take longer than a whole
/// subtree, and subtrees are launched in bursts all through the exploration.
fn look_for_work(shared: &Shared<'_>) {
    let mut idle_polls = 0u32;
    while !shared.abandon_all.is_set() {
        match rayon::yield_now() {
            Some(rayon::Yield::Executed) => idle_polls = 0,
            _ if idle_polls < crate::limits::SPINS_BEFORE_YIELD => {
                idle_polls += 1;
                std::hint::spin_loop();
            }
            // Let other threads of the process (other tests, say) have the CPU meanwhile.
            _ => std::thread::yield_now(),
        }
    }
}

/// What a subtree hands back: its executions, and the races that reach above its root.
type SubtreeResult = (Tally, Vec<RaceReport>);

/// Everything the subtrees of one exploration share.
struct Shared<'a> {
    context: &'a Context<'a>,
    crew: Arc<Crew>,
    /// The root subtree's result.
    outcome: &'a Mutex<Option<SubtreeResult>>,
    /// The first engine panic in any subtree, re-raised once every worker has stopped.
    panicked: &'a Mutex<Option<Box<dyn std::any::Any + Send>>>,
    /// Set once the root subtree's result is in, or on an engine panic: every subtree stops
    /// and the workers return.
    abandon_all: Arc<Abandon>,
}

/// The workers of one parallel exploration, and how many are spoken for: busy, or about to
/// be by a launched subtree no worker has picked up yet. Subtrees split only while some
/// worker would otherwise sit idle, so a busy crew explores in large inline pieces and pays
/// for coordination only when it helps.
struct Crew {
    workers: usize,
    claimed: AtomicUsize,
}

impl Crew {
    fn someone_idle(&self) -> bool {
        self.claimed.load(Ordering::Relaxed) < self.workers
    }
}

/// How a subtree's DPOR splits: only while some worker of the crew is idle, and not at all
/// once its coordinator (or one above it) has given up on it.
struct Split {
    crew: Arc<Crew>,
    abandon: Arc<Abandon>,
}

impl SplitPolicy for Split {
    fn split_now(&self) -> bool {
        self.crew.someone_idle()
    }

    fn abandoned(&self) -> bool {
        self.abandon.is_set()
    }
}

/// Stops the subtrees a coordinator launched once their results can no longer count (an
/// earlier result ended the exploration), and everything they launched in turn.
struct Abandon {
    flag: AtomicBool,
    parent: Option<Arc<Abandon>>,
}

impl Abandon {
    fn below(parent: Option<Arc<Abandon>>) -> Arc<Abandon> {
        Arc::new(Abandon {
            flag: AtomicBool::new(false),
            parent,
        })
    }

    /// Has this coordinator, or any above it, given up on its subtrees?
    fn is_set(&self) -> bool {
        let mut at = Some(self);
        while let Some(token) = at {
            if token.flag.load(Ordering::Relaxed) {
                return true;
            }
            at = token.parent.as_deref();
        }
        false
    }
}

/// Where a subtree's result goes.
enum Parent {
    /// The root subtree: to `Shared::outcome`.
    Explorer,
    /// To slot `index` of decision `node` of a coordinator.
    Coordinator {
        coordinator: Arc<Coordinator>,
        node: usize,
        index: usize,
    },
}

/// The open decisions a subtree handed back, with the branches launched from them.
struct Coordinator {
    /// The subtree's prefix: decision `k` of `nodes` is at depth `prefix.len() + k`.
    prefix: Vec<TaskId>,
    parent: Parent,
    /// Set when this coordinator's remaining results can no longer count.
    abandon: Arc<Abandon>,
    state: Mutex<Merging>,
}

struct Merging {
    /// The subtree's executions so far, in single-worker order, and races reaching above it.
    tally: Tally,
    reports: Vec<RaceReport>,
    nodes: Vec<Node>,
    /// Per decision, one slot per launched wakeup branch: slot `n` of `launched[k]` is
    /// branch `n` of `nodes[k].wakeup`. The front of `launched[current]` is the next
    /// result to merge.
    launched: Vec<VecDeque<Slot>>,
    /// Branches of `launched[k]` merged and popped so far, so slot indices stay stable.
    merged: Vec<usize>,
    /// The decision whose branches are being merged: the deepest one not finished.
    current: usize,
    done: bool,
}

/// A launched wakeup branch.
enum Slot {
    /// One worker would skip this branch (its task is asleep or disabled there).
    Skipped,
    /// Exploring the branch with the continuation it had at launch (`result` is `None`
    /// while it runs). Races merged meanwhile may have extended the continuation; then the
    /// result is stale and the branch runs again.
    Launched {
        continuation: WakeupTree,
        result: Option<Box<SubtreeResult>>,
    },
}

/// Queues the subtree below `prefix` for the pool.
fn launch<'s>(
    shared: &'s Shared<'s>,
    scope: &ScopeFifo<'s>,
    root: Root,
    parent: Parent,
    abandon: Arc<Abandon>,
) {
    shared.crew.claimed.fetch_add(1, Ordering::Relaxed);
    scope.spawn_fifo(move |scope| {
        let explored = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            explore_subtree(shared, scope, root, parent, abandon)
        }));
        shared.crew.claimed.fetch_sub(1, Ordering::Relaxed);
        if let Err(payload) = explored {
            shared.abandon_all.flag.store(true, Ordering::Relaxed);
            lock(shared.panicked).get_or_insert(payload);
        }
    });
}

/// Where a subtree starts: the choices above it, its first decision's sleep set, and the
/// continuation its first execution follows.
#[derive(Default)]
struct Root {
    prefix: Vec<TaskId>,
    sleep: Vec<Candidate>,
    continuation: WakeupTree,
}

/// Explores a subtree inline until it finishes or hands its open decisions back; in the
/// latter case a coordinator takes them over.
fn explore_subtree<'s>(
    shared: &'s Shared<'s>,
    scope: &ScopeFifo<'s>,
    root: Root,
    parent: Parent,
    abandon: Arc<Abandon>,
) {
    let context = shared.context;
    let prefix = root.prefix.clone();
    let mut dpor = Dpor::subtree(
        root.prefix,
        root.sleep,
        root.continuation,
        crate::limits::SPLIT_DEPTH,
        usize::MAX,
    );
    dpor.split_by(Arc::new(Split {
        crew: shared.crew.clone(),
        abandon: abandon.clone(),
    }));
    // The explorer enforces `max_schedules` over every subtree at once (`Context::reserve`).
    let tally = run_strategy(&mut dpor, context);
    let handed_back = dpor.handed_back();
    let (mut nodes, reports) = dpor.into_parts();
    if tally.finished() || !handed_back || abandon.is_set() {
        deliver(shared, scope, parent, (tally, reports));
        return;
    }
    // The first branch below every open decision is explored by now (for the deepest, every
    // branch explored before the hand-back).
    for node in &mut nodes {
        node.mark_explored(node.chosen);
    }
    let n = nodes.len();
    let coordinator = Arc::new(Coordinator {
        prefix,
        parent,
        abandon: Abandon::below(Some(abandon)),
        state: Mutex::new(Merging {
            tally,
            reports,
            nodes,
            launched: (0..n).map(|_| VecDeque::new()).collect(),
            merged: vec![0; n],
            current: n - 1,
            done: false,
        }),
    });
    let mut state = lock(&coordinator.state);
    launch_open_branches(shared, scope, &coordinator, &mut state);
    let finished = advance(shared, scope, &coordinator, &mut state);
    drop(state);
    if let Some(result) = finished {
        deliver_up(shared, scope, &coordinator, result);
    }
}

/// Launches every wakeup branch not launched yet at decisions up to the one being merged,
/// deepest first (the order their results will be needed in).
fn launch_open_branches<'s>(
    shared: &'s Shared<'s>,
    scope: &ScopeFifo<'s>,
    coordinator: &Arc<Coordinator>,
    state: &mut Merging,
) {
    for k in (0..=state.current).rev() {
        while state.launched[k].len() < state.nodes[k].wakeup.branches.len() {
            let n = state.launched[k].len();
            let node = &state.nodes[k];
            let branch = &node.wakeup.branches[n];
            if !node.can_take(branch.step.task) {
                state.launched[k].push_back(Slot::Skipped);
                continue;
            }
            let continuation = branch.then.clone();
            state.launched[k].push_back(Slot::Launched {
                continuation: continuation.clone(),
                result: None,
            });
            launch_branch(shared, scope, coordinator, state, k, n, continuation);
        }
    }
}

/// Launches branch `n` of decision `k` with `continuation`. Its sleep set is what one
/// worker would give it: the decision's sleepers and the branches before it, which are all
/// explored first, less those that conflict with its first step.
fn launch_branch<'s>(
    shared: &'s Shared<'s>,
    scope: &ScopeFifo<'s>,
    coordinator: &Arc<Coordinator>,
    state: &Merging,
    k: usize,
    n: usize,
    continuation: WakeupTree,
) {
    let node = &state.nodes[k];
    let task = node.wakeup.branches[n].step.task;
    // A spurious wakeup explored first is covered at this decision only, never asleep below
    // it (`Node::mark_explored`), as one worker would have it.
    let earlier = node.wakeup.branches[..n]
        .iter()
        .map(|b| b.step)
        .filter(|b| node.can_take(b.task) && !node.spurious.contains(&b.task));
    let mut sleep = Vec::new();
    node.sleep_after_into(task, earlier, &mut sleep);
    let mut prefix = coordinator.prefix.clone();
    prefix.extend(state.nodes[..k].iter().map(|n| n.chosen));
    prefix.push(task);
    let parent = Parent::Coordinator {
        coordinator: coordinator.clone(),
        node: k,
        index: state.merged[k] + n,
    };
    let root = Root {
        prefix,
        sleep,
        continuation,
    };
    launch(shared, scope, root, parent, coordinator.abandon.clone());
}

/// Hands a finished subtree's result to whoever waits for it.
fn deliver<'s>(
    shared: &'s Shared<'s>,
    scope: &ScopeFifo<'s>,
    parent: Parent,
    result: SubtreeResult,
) {
    match parent {
        Parent::Explorer => {
            *lock(shared.outcome) = Some(result);
            // Whatever still runs can no longer count; idle workers may leave.
            shared.abandon_all.flag.store(true, Ordering::Relaxed);
        }
        Parent::Coordinator {
            coordinator,
            node,
            index,
        } => {
            let mut state = lock(&coordinator.state);
            if state.done {
                // An earlier result already ended this coordinator's exploration.
                return;
            }
            let slot = index - state.merged[node];
            match &mut state.launched[node][slot] {
                Slot::Launched {
                    result: waiting, ..
                } => *waiting = Some(Box::new(result)),
                Slot::Skipped => unreachable!("a skipped branch is never launched"),
            }
            let finished = if node == state.current && slot == 0 {
                advance(shared, scope, &coordinator, &mut state)
            } else {
                None
            };
            drop(state);
            if let Some(result) = finished {
                deliver_up(shared, scope, &coordinator, result);
            }
        }
    }
}

/// Passes a finished coordinator's result on to its own parent.
fn deliver_up<'s>(
    shared: &'s Shared<'s>,
    scope: &ScopeFifo<'s>,
    coordinator: &Arc<Coordinator>,
    result: SubtreeResult,
) {
    let parent = match &coordinator.parent {
        Parent::Explorer => Parent::Explorer,
        Parent::Coordinator {
            coordinator,
            node,
            index,
        } => Parent::Coordinator {
            coordinator: coordinator.clone(),
            node: *node,
            index: *index,
        },
    };
    deliver(shared, scope, parent, result);
}

/// Merges every result that is next in single-worker order, launching the branches each
/// merge adds. Returns the coordinator's whole result once nothing is left to merge, or an
/// earlier result ended the exploration.
fn advance<'s>(
    shared: &'s Shared<'s>,
    scope: &ScopeFifo<'s>,
    coordinator: &Arc<Coordinator>,
    state: &mut Merging,
) -> Option<SubtreeResult> {
    let base = coordinator.prefix.len();
    loop {
        let k = state.current;
        let Some(slot) = state.launched[k].front_mut() else {
            if k == 0 {
                break;
            }
            state.current -= 1;
            continue;
        };
        let (later, races) = match slot {
            Slot::Skipped => {
                state.launched[k].pop_front();
                state.nodes[k].wakeup.pop_first();
                state.merged[k] += 1;
                continue;
            }
            // Still running.
            Slot::Launched { result: None, .. } => return None,
            Slot::Launched {
                continuation,
                result: Some(_),
            } if *continuation != state.nodes[k].wakeup.branches[0].then => {
                // Races merged since the launch extended this branch's continuation: one
                // worker would explore it with the longer one, so explore it again.
                let fresh = state.nodes[k].wakeup.branches[0].then.clone();
                *slot = Slot::Launched {
                    continuation: fresh.clone(),
                    result: None,
                };
                launch_branch(shared, scope, coordinator, state, k, 0, fresh);
                return None;
            }
            Slot::Launched { result, .. } => *result.take().expect("checked ready"),
        };
        state.launched[k].pop_front();
        let branch = state.nodes[k]
            .wakeup
            .pop_first()
            .expect("a slot per launched branch");
        // Merged in single-worker order: the branch merged is the one this decision takes next,
        // which it can take, and no deeper decision has anything left.
        assert!(
            state.nodes[k].can_take(branch.step.task),
            "merged a branch its decision cannot take"
        );
        assert!(
            state.launched[k + 1..].iter().all(VecDeque::is_empty),
            "merged a decision before a deeper one finished"
        );
        state.merged[k] += 1;
        state.tally.append(later);
        if state.tally.finished() {
            break;
        }
        for race in races {
            match race.depth.checked_sub(base) {
                Some(i) => state.nodes[i].add_race(race.reversal),
                None => state.reports.push(race),
            }
        }
        // Explored: later branches here treat it as one, as one worker would.
        state.nodes[k].mark_explored(branch.step.task);
        // The merged races may have added branches here or above.
        launch_open_branches(shared, scope, coordinator, state);
    }
    state.done = true;
    coordinator.abandon.flag.store(true, Ordering::Relaxed);
    let tally = std::mem::take(&mut state.tally);
    let reports = std::mem::take(&mut state.reports);
    Some((tally, reports))
}
