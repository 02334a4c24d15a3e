//! tokio's async `Barrier` on the model's barrier state: arriving is one scheduling point (the
//! last arrival releases the round and is its leader); waiting for the round is a second one,
//! enabled once the round is complete. As tokio's, a `wait` future dropped after it arrived
//! still counts as arrived.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::runtime::awaiting::Interest;
use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{point_at, with_state, ExecState, LazyObject, ObjectId, OpKind, TaskId};
use crate::sync::object_id;
use crate::tokio::waiting::{object_of, require_model, slot_of, Wait};

/// Lets `n` tasks wait for each other, as `tokio::sync::Barrier`.
///
/// ```
/// use selvedge::tokio::sync::Barrier;
/// use std::sync::Arc;
///
/// selvedge::model(|| {
///     let barrier = Arc::new(Barrier::new(2));
///     let b = barrier.clone();
///     let task = selvedge::future::spawn(async move { b.wait().await.is_leader() });
///     let here = selvedge::future::block_on(barrier.wait()).is_leader();
///     let there = selvedge::future::block_on(task).unwrap();
///     assert!(here != there, "exactly one leader per round");
/// });
/// ```
pub struct Barrier {
    object: LazyObject,
    created_at: &'static Location<'static>,
    n: usize,
}

/// Returned by [`Barrier::wait`]: the last task to arrive in a round is its leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` tasks (`0` acts as `1`, as tokio's does).
    #[track_caller]
    pub fn new(n: usize) -> Barrier {
        Barrier {
            object: LazyObject::new(),
            created_at: Location::caller(),
            n: n.max(1),
        }
    }

    #[track_caller]
    fn id(&self) -> ObjectId {
        let n = self.n;
        object_id(
            &self.object,
            ObjectKind::Barrier,
            self.created_at,
            "selvedge::tokio::sync::Barrier",
            || ObjectState::Barrier {
                n_tasks: n,
                arrived: 0,
                generation: 0,
            },
        )
        .id
    }

    /// Arrives, then waits until `n` tasks have arrived in this round.
    #[track_caller]
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            barrier: self,
            at: Location::caller(),
            round: None,
            wait: Wait::new(),
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").field("n", &self.n).finish()
    }
}

/// The round a waiter arrived in.
struct Round(u32);

fn round_over(s: &ExecState, _: TaskId, interest: &Interest) -> bool {
    // SAFETY: registered by `BarrierWait` with a `Round` slot.
    let round = unsafe { slot_of::<Round>(interest) }.0;
    match s.objects[object_of(interest).index()].state {
        ObjectState::Barrier { generation, .. } => generation != round,
        _ => unreachable!("object is not a barrier"),
    }
}

fn leave(s: &mut ExecState, _: TaskId, interest: &Interest) {
    s.hb_acquire(object_of(interest));
}

/// The future of [`Barrier::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct BarrierWait<'a> {
    barrier: &'a Barrier,
    at: &'static Location<'static>,
    /// Arrived in this round (and is not its leader).
    round: Option<u32>,
    wait: Wait<Round>,
}

impl Future for BarrierWait<'_> {
    type Output = BarrierWaitResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BarrierWaitResult> {
        require_model("selvedge::tokio::sync::Barrier");
        let this = self.get_mut();
        if this.wait.is_waiting() {
            return this.wait.poll(cx).map(|_| BarrierWaitResult(false));
        }
        let id = this.barrier.id();
        let round = match this.round {
            Some(round) => round,
            None => {
                point_at(OpKind::BarrierWait, Some(id), this.at);
                let arrived_in = with_state("Barrier::wait", |s| {
                    let ObjectState::Barrier {
                        n_tasks,
                        arrived,
                        generation,
                    } = s.object(id)
                    else {
                        unreachable!("object is not a barrier")
                    };
                    *arrived += 1;
                    if *arrived == *n_tasks {
                        *arrived = 0;
                        *generation = generation.wrapping_add(1);
                        s.hb_release(id);
                        s.hb_acquire(id);
                        None
                    } else {
                        let round = *generation;
                        s.hb_release(id);
                        Some(round)
                    }
                });
                match arrived_in {
                    None => return Poll::Ready(BarrierWaitResult(true)),
                    Some(round) => {
                        this.round = Some(round);
                        round
                    }
                }
            }
        };
        this.wait.start(
            cx,
            OpKind::BarrierBlocked(round),
            id,
            Round(round),
            round_over,
            leave,
            this.at,
        );
        Poll::Pending
    }
}
