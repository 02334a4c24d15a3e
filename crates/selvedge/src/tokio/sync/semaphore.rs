//! tokio's `Semaphore` on a model counter of free permits and a fair queue, as tokio's:
//!
//! - An acquisition's first poll is one scheduling point (`acquire`). It takes the permits if
//!   enough are free; otherwise it takes the free ones and joins the back of the queue.
//! - Permits given back (a dropped permit, `add_permits`, a queued request dropped) go to the
//!   oldest unsatisfied waiter first, and to the next only once that one has all it asked for.
//!   So a request never overtakes an earlier one: a task that holds permits and asks for more
//!   while a larger request waits deadlocks, in the model as in tokio.
//! - A queued acquisition waits at a second scheduling point (`queued acquire`), enabled
//!   once it has all its permits or the semaphore is closed (then it fails, and the permits it
//!   had go back).
//! - An acquisition granted to a future that is dropped before it is polled again gives its
//!   permits back; one dropped while queued leaves the queue at a scheduling point
//!   (`Acquire::drop`), handing on what it had.
//!
//! Permits are a counter, not a lock: an acquisition may follow a release it did not need. So
//! for DPOR every acquisition step is an *attempt* (`Access::Acquire { attempt: true }`): it
//! races with other acquisitions and with the releases before it, and `available_permits`
//! races with both.
//!
//! One difference from tokio, on purpose: `close` gives the permits handed to queued waiters
//! back at once, in its own step, where tokio gives each waiter's back when its failed future
//! is dropped. So the waiters' failing steps change no count (they race only with the close),
//! and no other task can see the moment in between.
//!
//! Invariant (asserted): while an unsatisfied waiter is queued, no permit is free.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::runtime::awaiting::Interest;
use crate::runtime::object::{ObjectKind, ObjectState, SemaphoreWaiter};
use crate::runtime::{
    self, point_at, with_state, ExecState, LazyObject, ObjectId, Op, OpKind, TaskId,
};
use crate::sync::object_id;
use crate::tokio::waiting::{object_of, require_model, slot_mut, slot_of, Wait};
use crate::trace::Query;

/// An async counting semaphore, as `tokio::sync::Semaphore`: fair like tokio's, so a request
/// that finds too few permits free waits in line, and is handed permits before any later
/// request gets one (a later small request does not overtake an earlier large one).
///
/// Since when a task arrives decides who goes next, an exhaustive search (`Strategy::Dpor`)
/// runs more executions on a contended semaphore than on a [`Mutex`](super::Mutex) used the
/// same way (two tasks taking a one-permit semaphore three times each: 384 against 20). To
/// keep a large test quick, bound it with `Config::max_preemptions`.
///
/// ```
/// use selvedge::tokio::sync::Semaphore;
/// use std::sync::Arc;
///
/// selvedge::model(|| {
///     selvedge::future::block_on(async {
///         let semaphore = Arc::new(Semaphore::new(2));
///         let a = semaphore.acquire().await.unwrap();
///         let b = semaphore.clone().acquire_owned().await.unwrap();
///         assert!(semaphore.try_acquire().is_err(), "both permits are out");
///         drop(a);
///         assert_eq!(semaphore.available_permits(), 1);
///         drop(b);
///         semaphore.close();
///         assert!(semaphore.acquire().await.is_err());
///     });
/// });
/// ```
pub struct Semaphore {
    object: LazyObject,
    created_at: &'static Location<'static>,
    initial: usize,
}

/// The semaphore was closed while (or before) the task waited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcquireError(());

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

impl std::error::Error for AcquireError {}

/// Why `try_acquire` took nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TryAcquireError {
    /// The semaphore was closed.
    Closed,
    /// Not enough permits are free.
    NoPermits,
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::Closed => f.write_str("semaphore closed"),
            TryAcquireError::NoPermits => f.write_str("no permits available"),
        }
    }
}

impl std::error::Error for TryAcquireError {}

impl Semaphore {
    /// The most permits a semaphore can hold (tokio's limit).
    pub const MAX_PERMITS: usize = usize::MAX >> 3;

    /// A semaphore with `permits` free permits.
    #[track_caller]
    pub fn new(permits: usize) -> Semaphore {
        Semaphore::const_new(permits)
    }

    /// As [`Semaphore::new`], usable in a `static` (each execution starts with `permits`).
    #[track_caller]
    pub const fn const_new(permits: usize) -> Semaphore {
        assert!(
            permits <= Semaphore::MAX_PERMITS,
            "a semaphore holds at most `Semaphore::MAX_PERMITS` permits"
        );
        Semaphore {
            object: LazyObject::new(),
            created_at: Location::caller(),
            initial: permits,
        }
    }

    #[track_caller]
    fn id(&self) -> ObjectId {
        let initial = self.initial;
        object_id(
            &self.object,
            ObjectKind::Semaphore,
            self.created_at,
            "selvedge::tokio::sync::Semaphore",
            || ObjectState::Semaphore {
                permits: initial,
                closed: false,
                queue: VecDeque::new(),
                next_ticket: 0,
            },
        )
        .id
    }

    /// How many permits are free now.
    #[track_caller]
    pub fn available_permits(&self) -> usize {
        let id = self.id();
        point_at(
            OpKind::Query(Query::AvailablePermits),
            Some(id),
            Location::caller(),
        );
        with_state("Semaphore::available_permits", |s| permits(s, id).0)
    }

    /// Adds `n` free permits.
    #[track_caller]
    pub fn add_permits(&self, n: usize) {
        release(self.id(), n, OpKind::AddPermits, Location::caller());
    }

    /// Takes up to `n` free permits away for good; returns how many it took.
    #[track_caller]
    pub fn forget_permits(&self, n: usize) -> usize {
        let id = self.id();
        point_at(OpKind::ForgetPermits, Some(id), Location::caller());
        with_state("Semaphore::forget_permits", |s| {
            let ObjectState::Semaphore { permits, .. } = s.object(id) else {
                unreachable!("object is not a semaphore")
            };
            let taken = n.min(*permits);
            *permits -= taken;
            taken
        })
    }

    /// Waits for one permit.
    #[track_caller]
    pub fn acquire(&self) -> Acquire<'_> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits at once.
    #[track_caller]
    pub fn acquire_many(&self, n: u32) -> Acquire<'_> {
        Acquire {
            semaphore: self,
            waiting: Waiting::new(n, Location::caller()),
        }
    }

    /// Takes one permit if one is free.
    #[track_caller]
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if that many are free.
    #[track_caller]
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        let at = Location::caller();
        try_take(self.id(), n, at).map(|id| SemaphorePermit {
            semaphore: self,
            id,
            permits: n as usize,
            at,
        })
    }

    /// Waits for one permit, and returns one that owns its `Arc` of the semaphore.
    #[track_caller]
    pub fn acquire_owned(self: Arc<Self>) -> AcquireOwned {
        self.acquire_many_owned(1)
    }

    /// Waits for `n` permits, and returns them owning an `Arc` of the semaphore.
    #[track_caller]
    pub fn acquire_many_owned(self: Arc<Self>, n: u32) -> AcquireOwned {
        AcquireOwned {
            semaphore: Some(self),
            waiting: Waiting::new(n, Location::caller()),
        }
    }

    /// Takes one permit if one is free, owning an `Arc` of the semaphore.
    #[track_caller]
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// Takes `n` permits if that many are free, owning an `Arc` of the semaphore.
    #[track_caller]
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        let at = Location::caller();
        let id = try_take(self.id(), n, at)?;
        Ok(OwnedSemaphorePermit {
            semaphore: self,
            id,
            permits: n as usize,
            at,
        })
    }

    /// Closes the semaphore: waiting and later acquisitions fail (a queued one gives back the
    /// permits handed to it); permits out stay valid.
    #[track_caller]
    pub fn close(&self) {
        let id = self.id();
        point_at(OpKind::Close, Some(id), Location::caller());
        with_state("Semaphore::close", |s| {
            let ObjectState::Semaphore {
                permits,
                closed,
                queue,
                ..
            } = s.object(id)
            else {
                unreachable!("object is not a semaphore")
            };
            *closed = true;
            // Every queued acquisition fails now; what was handed to them comes back here, in
            // the close's step, so that their failing steps change no count.
            for waiter in queue.iter_mut() {
                *permits += std::mem::take(&mut waiter.assigned);
            }
            s.hb_release(id);
        });
    }

    /// Was it closed?
    #[track_caller]
    pub fn is_closed(&self) -> bool {
        let id = self.id();
        point_at(OpKind::Query(Query::IsClosed), Some(id), Location::caller());
        with_state("Semaphore::is_closed", |s| permits(s, id).1)
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore").finish_non_exhaustive()
    }
}

/// `(free permits, closed)`.
fn permits(s: &ExecState, id: ObjectId) -> (usize, bool) {
    match s.objects[id.index()].state {
        ObjectState::Semaphore {
            permits, closed, ..
        } => (permits, closed),
        _ => unreachable!("object is not a semaphore"),
    }
}

/// Hands free permits to the queue's waiters, oldest first, as tokio does: each unsatisfied
/// waiter takes what it still needs, and the next gets any only once it has all. (After a
/// close nobody is served: every waiter fails.)
fn serve(permits: &mut usize, closed: bool, queue: &mut VecDeque<SemaphoreWaiter>) {
    if !closed {
        for waiter in queue.iter_mut().filter(|w| !w.satisfied()) {
            let give = (*permits).min(waiter.need - waiter.assigned);
            waiter.assigned += give;
            *permits -= give;
            if !waiter.satisfied() {
                break;
            }
        }
    }
    assert!(
        *permits == 0 || closed || queue.iter().all(SemaphoreWaiter::satisfied),
        "a permit is free while a waiter in the semaphore's queue lacks one"
    );
}

/// Gives `n` permits back to semaphore `id`'s waiters and free count (no scheduling point:
/// the caller's step).
fn give_back(s: &mut ExecState, id: ObjectId, n: usize) {
    let ObjectState::Semaphore {
        permits,
        closed,
        queue,
        ..
    } = s.object(id)
    else {
        unreachable!("object is not a semaphore")
    };
    *permits = permits
        .checked_add(n)
        .filter(|&p| p <= Semaphore::MAX_PERMITS)
        .expect("a semaphore cannot hold more than `Semaphore::MAX_PERMITS` permits");
    serve(permits, *closed, queue);
}

fn try_take(
    id: ObjectId,
    n: u32,
    at: &'static Location<'static>,
) -> Result<ObjectId, TryAcquireError> {
    point_at(OpKind::SemaphoreTryAcquire, Some(id), at);
    with_state("Semaphore::try_acquire", |s| {
        let ObjectState::Semaphore {
            permits, closed, ..
        } = s.object(id)
        else {
            unreachable!("object is not a semaphore")
        };
        if *closed {
            return Err(TryAcquireError::Closed);
        }
        if *permits < n as usize {
            return Err(TryAcquireError::NoPermits);
        }
        *permits -= n as usize;
        s.hb_acquire(id);
        Ok(id)
    })
}

/// Gives `n` permits back to semaphore `id` at a scheduling point.
fn release(id: ObjectId, n: usize, kind: OpKind, at: &'static Location<'static>) {
    point_at(kind, Some(id), at);
    with_state("selvedge::tokio::sync::Semaphore", |s| {
        give_back(s, id, n);
        s.hb_release(id);
    });
}

/// A queued acquisition's ticket, and what its grant did.
struct Request {
    ticket: u64,
    /// Set by the grant: `true` if it took the permits, `false` if the semaphore was closed.
    took: Option<bool>,
}

/// Where the waiter with `ticket` stands in a semaphore's queue.
fn position(queue: &VecDeque<SemaphoreWaiter>, ticket: u64) -> usize {
    queue
        .iter()
        .position(|w| w.ticket == ticket)
        .expect("a queued acquisition is in its semaphore's queue")
}

fn served(s: &ExecState, _: TaskId, interest: &Interest) -> bool {
    // SAFETY: registered by `Waiting` with a `Request` slot.
    let request = unsafe { slot_of::<Request>(interest) };
    let ObjectState::Semaphore { closed, queue, .. } =
        &s.objects[object_of(interest).index()].state
    else {
        unreachable!("object is not a semaphore")
    };
    *closed || queue[position(queue, request.ticket)].satisfied()
}

/// The queued acquisition's step: it leaves the queue with its permits, or, the semaphore
/// closed, fails (the close took back what it had been handed).
fn take(s: &mut ExecState, _: TaskId, interest: &Interest) {
    let id = object_of(interest);
    // SAFETY: registered by `Waiting` with a `Request` slot.
    let request = unsafe { slot_mut::<Request>(interest) };
    let ObjectState::Semaphore { closed, queue, .. } = s.object(id) else {
        unreachable!("object is not a semaphore")
    };
    let waiter = queue
        .remove(position(queue, request.ticket))
        .expect("found above");
    if *closed {
        // As in tokio, a closed semaphore fails even a waiter that had all its permits (the
        // close gave them back already).
        assert_eq!(
            waiter.assigned, 0,
            "a closed semaphore's waiter kept permits"
        );
        request.took = Some(false);
        return;
    }
    assert!(
        waiter.satisfied(),
        "an acquisition was granted permits it lacks"
    );
    request.took = Some(true);
    s.hb_acquire(id);
}

/// Where an acquisition future stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Not polled yet.
    Init,
    /// In the semaphore's queue with this ticket, in the execution of this generation.
    Queued { ticket: u64, generation: u64 },
    /// Took its permits, failed, or was granted and claimed.
    Done,
}

/// The wait of an acquisition future.
struct Waiting {
    n: u32,
    at: &'static Location<'static>,
    wait: Wait<Request>,
    id: Option<ObjectId>,
    stage: Stage,
}

impl Waiting {
    fn new(n: u32, at: &'static Location<'static>) -> Waiting {
        Waiting {
            n,
            at,
            wait: Wait::new(),
            id: None,
            stage: Stage::Init,
        }
    }

    /// The first poll's step: takes the permits if enough are free; otherwise takes the free
    /// ones and joins the queue (`Err(ticket)`).
    fn arrive(&mut self, id: ObjectId) -> Result<Result<(), AcquireError>, u64> {
        runtime::point_op(Op::new(OpKind::SemaphoreAcquire, Some(id), self.at).awaited());
        let (n, at) = (self.n as usize, self.at);
        with_state("Semaphore::acquire", |s| {
            let task = s.current;
            let ObjectState::Semaphore {
                permits,
                closed,
                queue,
                next_ticket,
            } = s.object(id)
            else {
                unreachable!("object is not a semaphore")
            };
            if *closed {
                return Ok(Err(AcquireError(())));
            }
            if *permits >= n {
                // Free permits mean nobody unsatisfied waits (`serve`): taking them overtakes
                // no one.
                *permits -= n;
                s.hb_acquire(id);
                return Ok(Ok(()));
            }
            let ticket = *next_ticket;
            *next_ticket += 1;
            queue.push_back(SemaphoreWaiter {
                ticket,
                task,
                at,
                need: n,
                assigned: std::mem::take(permits),
            });
            Err(ticket)
        })
    }

    fn poll(
        &mut self,
        cx: &Context<'_>,
        id: impl FnOnce() -> ObjectId,
    ) -> Poll<Result<ObjectId, AcquireError>> {
        require_model("selvedge::tokio::sync::Semaphore");
        match self.stage {
            Stage::Init => {
                let id = id();
                self.id = Some(id);
                let ticket = match self.arrive(id) {
                    Ok(result) => {
                        self.stage = Stage::Done;
                        return Poll::Ready(result.map(|()| id));
                    }
                    Err(ticket) => ticket,
                };
                let generation = runtime::current_generation().expect("checked by `arrive`");
                self.stage = Stage::Queued { ticket, generation };
                self.wait.start(
                    cx,
                    OpKind::SemaphoreQueued,
                    id,
                    Request { ticket, took: None },
                    served,
                    take,
                    self.at,
                );
                Poll::Pending
            }
            Stage::Queued { .. } => self.wait.poll(cx).map(|request| {
                self.stage = Stage::Done;
                let id = self.id.expect("a queued acquisition names its semaphore");
                match request.took {
                    Some(true) => Ok(id),
                    Some(false) => Err(AcquireError(())),
                    None => unreachable!("a granted acquisition has an outcome"),
                }
            }),
            Stage::Done => panic!(
                "a semaphore's `Acquire` future was polled again after it returned `Ready`: a \
                 future must not be polled after it completes (fuse it, or make a new `acquire`)"
            ),
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let Stage::Queued { ticket, generation } = self.stage else {
            return;
        };
        let id = self.id.expect("a queued acquisition names its semaphore");
        match self.wait.cancel() {
            Some(Request {
                took: Some(true), ..
            }) => {
                // Granted, then dropped before it was polled again: the permits go back.
                release(id, self.n as usize, OpKind::SemaphoreRelease, self.at);
            }
            // Failed on a closed semaphore: it gave back what it had at its step.
            Some(_) => {}
            None if runtime::current_generation() == Some(generation) => {
                // Still queued: it leaves, and what it was handed goes to those behind it.
                point_at(OpKind::SemaphoreLeave, Some(id), self.at);
                with_state("selvedge::tokio::sync::Semaphore", |s| {
                    let ObjectState::Semaphore { queue, .. } = s.object(id) else {
                        unreachable!("object is not a semaphore")
                    };
                    let waiter = queue.remove(position(queue, ticket)).expect("found above");
                    give_back(s, id, waiter.assigned);
                    s.hb_release(id);
                });
            }
            // Dropped outside the execution it waited in: that queue is gone or not ours.
            None => {}
        }
    }
}

/// The future of [`Semaphore::acquire`] and [`Semaphore::acquire_many`].
#[must_use = "futures do nothing unless awaited"]
pub struct Acquire<'a> {
    semaphore: &'a Semaphore,
    waiting: Waiting,
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<SemaphorePermit<'a>, AcquireError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let semaphore = self.semaphore;
        let (n, at) = (self.waiting.n, self.waiting.at);
        self.waiting.poll(cx, || semaphore.id()).map(|result| {
            result.map(|id| SemaphorePermit {
                semaphore,
                id,
                permits: n as usize,
                at,
            })
        })
    }
}

/// The future of [`Semaphore::acquire_owned`] and [`Semaphore::acquire_many_owned`].
#[must_use = "futures do nothing unless awaited"]
pub struct AcquireOwned {
    semaphore: Option<Arc<Semaphore>>,
    waiting: Waiting,
}

impl Future for AcquireOwned {
    type Output = Result<OwnedSemaphorePermit, AcquireError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let semaphore = this.semaphore.as_ref().expect("polled after completion");
        let (n, at) = (this.waiting.n, this.waiting.at);
        match this.waiting.poll(cx, || semaphore.id()) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                let semaphore = this.semaphore.take().expect("checked above");
                Poll::Ready(result.map(|id| OwnedSemaphorePermit {
                    semaphore,
                    id,
                    permits: n as usize,
                    at,
                }))
            }
        }
    }
}

/// Permits taken from a [`Semaphore`]; dropping it gives them back.
#[must_use = "dropping a permit gives it back at once"]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
    id: ObjectId,
    permits: usize,
    at: &'static Location<'static>,
}

impl SemaphorePermit<'_> {
    /// Keeps the permits out of the semaphore for good.
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// How many permits it holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Takes `other`'s permits into this one (both from the same semaphore).
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            std::ptr::eq(self.semaphore, other.semaphore),
            "merging permits of different semaphores"
        );
        self.permits += std::mem::take(&mut other.permits);
    }

    /// Splits `n` permits off into a new permit, if it holds that many.
    pub fn split(&mut self, n: usize) -> Option<Self> {
        if n > self.permits {
            return None;
        }
        self.permits -= n;
        Some(SemaphorePermit {
            semaphore: self.semaphore,
            id: self.id,
            permits: n,
            at: self.at,
        })
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.permits > 0 {
            release(self.id, self.permits, OpKind::SemaphoreRelease, self.at);
        }
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// Permits taken from an `Arc<Semaphore>`; dropping it gives them back.
#[must_use = "dropping a permit gives it back at once"]
pub struct OwnedSemaphorePermit {
    semaphore: Arc<Semaphore>,
    id: ObjectId,
    permits: usize,
    at: &'static Location<'static>,
}

impl OwnedSemaphorePermit {
    /// Keeps the permits out of the semaphore for good.
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// How many permits it holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// The semaphore the permits came from.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.semaphore
    }

    /// Takes `other`'s permits into this one (both from the same semaphore).
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            Arc::ptr_eq(&self.semaphore, &other.semaphore),
            "merging permits of different semaphores"
        );
        self.permits += std::mem::take(&mut other.permits);
    }

    /// Splits `n` permits off into a new permit, if it holds that many.
    pub fn split(&mut self, n: usize) -> Option<Self> {
        if n > self.permits {
            return None;
        }
        self.permits -= n;
        Some(OwnedSemaphorePermit {
            semaphore: self.semaphore.clone(),
            id: self.id,
            permits: n,
            at: self.at,
        })
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        if self.permits > 0 {
            release(self.id, self.permits, OpKind::SemaphoreRelease, self.at);
        }
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}
