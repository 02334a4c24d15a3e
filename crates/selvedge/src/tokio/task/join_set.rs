//! tokio's `JoinSet`: spawned tasks whose outputs come back in the order they complete.
//!
//! Each task of the set ends with a scheduling point on the set (`completes`) that queues its
//! output, also when it is aborted (its output is then a cancelled `JoinError`). So
//! `join_next().await` is one scheduling point, enabled exactly when a completed output is
//! queued, and DPOR sees which completions it could have taken.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::{Arc, Mutex as StdMutex};
use std::task::Poll;

use crate::future::{AbortHandle, JoinError};
use crate::runtime::awaiting::Interest;
use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{point_at, with_state, ExecState, ObjectId, OpKind, TaskId};
use crate::tokio::waiting::{object_of, require_model, Owned, Wait};

type Done<T> = Arc<StdMutex<VecDeque<(u64, Result<T, JoinError>)>>>;

/// A set of spawned tasks, as `tokio::task::JoinSet`. Dropping it aborts the tasks left.
///
/// ```
/// use selvedge::tokio::task::JoinSet;
///
/// selvedge::model(|| {
///     selvedge::future::block_on(async {
///         let mut set = JoinSet::new();
///         for i in 0..2u32 {
///             set.spawn(async move { i * 10 });
///         }
///         let mut total = 0;
///         while let Some(output) = set.join_next().await {
///             total += output.unwrap();
///         }
///         assert_eq!(total, 10);
///     });
/// });
/// ```
pub struct JoinSet<T> {
    object: Option<Owned>,
    members: Vec<(u64, AbortHandle)>,
    done: Done<T>,
    next_key: u64,
    created_at: &'static Location<'static>,
}

fn completed(s: &ExecState, id: ObjectId) -> usize {
    match s.objects[id.index()].state {
        ObjectState::JoinSet { completed } => completed,
        _ => unreachable!("object is not a join set"),
    }
}

fn add_completed(s: &mut ExecState, id: ObjectId, delta: isize) {
    match s.object(id) {
        ObjectState::JoinSet { completed } => {
            *completed = completed
                .checked_add_signed(delta)
                .expect("a join set's count of completed tasks stays in range")
        }
        _ => unreachable!("object is not a join set"),
    }
}

/// Queues a member's output when it completes, or a cancelled error when its future is
/// dropped unfinished (aborted).
struct Completion<T> {
    object: Owned,
    key: u64,
    done: Done<T>,
    at: &'static Location<'static>,
    finished: bool,
}

impl<T> Completion<T> {
    fn complete(&mut self, output: Result<T, JoinError>) {
        self.finished = true;
        let Some(id) = self.object.live_id() else {
            return;
        };
        point_at(OpKind::JoinSetDone, Some(id), self.at);
        self.done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back((self.key, output));
        with_state("JoinSet", |s| {
            add_completed(s, id, 1);
            s.hb_release(id);
        });
    }
}

impl<T> Drop for Completion<T> {
    fn drop(&mut self) {
        if self.finished || self.object.live_id().is_none() {
            return;
        }
        let task = with_state("JoinSet", |s| s.current.0);
        self.complete(Err(JoinError::cancelled(task)));
    }
}

fn has_completed(s: &ExecState, _: TaskId, interest: &Interest) -> bool {
    completed(s, object_of(interest)) > 0
}

fn take_completed(s: &mut ExecState, _: TaskId, interest: &Interest) {
    let id = object_of(interest);
    add_completed(s, id, -1);
    s.hb_acquire(id);
}

impl<T: 'static> JoinSet<T> {
    /// An empty set.
    #[track_caller]
    pub fn new() -> JoinSet<T> {
        JoinSet {
            object: None,
            members: Vec::new(),
            done: Arc::new(StdMutex::new(VecDeque::new())),
            next_key: 0,
            created_at: Location::caller(),
        }
    }

    fn object(&mut self) -> Owned {
        let at = self.created_at;
        *self.object.get_or_insert_with(|| {
            Owned::register_at(
                "selvedge::tokio::task::JoinSet",
                ObjectKind::JoinSet,
                ObjectState::JoinSet { completed: 0 },
                at,
            )
        })
    }

    /// Spawns `future` as a task of the set.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        let at = Location::caller();
        let object = self.object();
        let key = self.next_key;
        self.next_key += 1;
        let mut completion = Completion {
            object,
            key,
            done: self.done.clone(),
            at,
            finished: false,
        };
        let handle = crate::future::spawn(async move {
            let output = future.await;
            completion.complete(Ok(output));
        });
        let abort = handle.abort_handle();
        drop(handle);
        self.members.push((key, abort.clone()));
        abort
    }

    /// As [`JoinSet::spawn`] (the model has one thread, so a local task is any task).
    #[track_caller]
    pub fn spawn_local<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.spawn(future)
    }

    /// Runs `f` as a task of the set (see [`super::spawn_blocking`]).
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + 'static,
    {
        self.spawn(async move { f() })
    }

    /// How many tasks of the set have not been joined yet.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Takes an output queued now, if any.
    fn take(&mut self) -> Result<T, JoinError> {
        let (key, output) = self
            .done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
            .expect("a completion was counted, so its output is queued");
        let i = self
            .members
            .iter()
            .position(|(k, _)| *k == key)
            .expect("a completed task is a member of its set");
        self.members.remove(i);
        output
    }

    /// Waits for the next task of the set to complete and returns its output; `None` if the
    /// set is empty. Cancel-safe.
    #[track_caller]
    pub fn join_next(&mut self) -> JoinNext<'_, T> {
        JoinNext {
            set: self,
            at: Location::caller(),
            wait: Wait::new(),
        }
    }

    /// Takes the output of a task that has completed, without waiting.
    #[track_caller]
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        if self.members.is_empty() {
            return None;
        }
        let object = self.object();
        let id = object.id("JoinSet::try_join_next");
        point_at(OpKind::TryJoinNext, Some(id), Location::caller());
        let ready = with_state("JoinSet::try_join_next", |s| {
            if completed(s, id) == 0 {
                return false;
            }
            add_completed(s, id, -1);
            s.hb_acquire(id);
            true
        });
        ready.then(|| self.take())
    }

    /// Aborts every task of the set (each completes as cancelled unless it had finished).
    #[track_caller]
    pub fn abort_all(&mut self) {
        for (_, handle) in &self.members {
            handle.abort();
        }
    }

    /// Lets the tasks run on outside the set: it forgets them.
    pub fn detach_all(&mut self) {
        self.members.clear();
        self.object = None;
        self.done = Arc::new(StdMutex::new(VecDeque::new()));
    }

    /// Aborts every task and waits for them all to complete.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Waits for every task and returns their outputs in completion order; panics if one
    /// was cancelled.
    pub async fn join_all(mut self) -> Vec<T> {
        let mut outputs = Vec::with_capacity(self.len());
        while let Some(output) = self.join_next().await {
            match output {
                Ok(value) => outputs.push(value),
                Err(e) => panic!("a task of a `JoinSet` given to `join_all` failed: {e}"),
            }
        }
        outputs
    }
}

/// The future of [`JoinSet::join_next`].
#[must_use = "futures do nothing unless awaited"]
pub struct JoinNext<'a, T> {
    set: &'a mut JoinSet<T>,
    at: &'static Location<'static>,
    wait: Wait<()>,
}

impl<T: 'static> Future for JoinNext<'_, T> {
    type Output = Option<Result<T, JoinError>>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        require_model("selvedge::tokio::task::JoinSet::join_next");
        let this = self.get_mut();
        if this.set.members.is_empty() {
            return Poll::Ready(None);
        }
        if this.wait.is_waiting() {
            return this.wait.poll(cx).map(|()| Some(this.set.take()));
        }
        let id = this.set.object().id("JoinSet::join_next");
        this.wait.start(
            cx,
            OpKind::JoinNext,
            id,
            (),
            has_completed,
            take_completed,
            this.at,
        );
        Poll::Pending
    }
}

impl<T> Drop for JoinNext<'_, T> {
    fn drop(&mut self) {
        // Granted, then dropped before it was polled again: the completion stays queued.
        if self.wait.cancel().is_some() {
            if let Some(id) = self.set.object.and_then(|o| o.live_id()) {
                with_state("JoinSet::join_next", |s| add_completed(s, id, 1));
            }
        }
    }
}

impl<T: 'static> Default for JoinSet<T> {
    #[track_caller]
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        if self.object.is_some_and(|o| o.live_id().is_some()) {
            for (_, handle) in &self.members {
                handle.abort();
            }
        }
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet")
            .field("len", &self.members.len())
            .finish()
    }
}
