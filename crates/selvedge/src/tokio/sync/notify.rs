//! tokio's `Notify`, with its permit semantics, on a model state of one stored permit, a FIFO
//! queue of waiters and a count of `notify_waiters` calls.
//!
//! What `notify_one` does depends on who is already waiting, so joining the waiters is a
//! step of its own: `notified()` is a read that remembers the `notify_waiters` count (a
//! `Notified` made before a `notify_waiters` call completes, as tokio's does); its first poll
//! (or `enable`) takes a stored permit or joins the queue; the wait for the notification is
//! the third step, enabled exactly when this waiter was notified. A waiter dropped after
//! `notify_one` chose it hands the notification on, as tokio's does.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::runtime::awaiting::Interest;
use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{point_at, with_state, ExecState, LazyObject, ObjectId, OpKind, TaskId};
use crate::sync::object_id;
use crate::tokio::waiting::{object_of, require_model, slot_of, Wait};
use crate::trace::Query;

/// Wakes one task or all waiting tasks, as `tokio::sync::Notify`.
///
/// `notify_one` with nobody waiting stores one permit, which the next `notified().await`
/// takes at once; `notify_waiters` wakes only the `Notified` futures made before it and stores
/// nothing.
///
/// ```
/// use selvedge::tokio::sync::Notify;
/// use std::sync::Arc;
///
/// selvedge::model(|| {
///     let notify = Arc::new(Notify::new());
///     let n = notify.clone();
///     let waiter = selvedge::future::spawn(async move { n.notified().await });
///     // Before or after the waiter registers: a permit is stored if nobody waits yet.
///     notify.notify_one();
///     selvedge::future::block_on(waiter).unwrap();
/// });
/// ```
pub struct Notify {
    object: LazyObject,
    created_at: &'static Location<'static>,
}

impl Notify {
    /// A `Notify` with no permit stored.
    #[track_caller]
    pub fn new() -> Notify {
        Notify::const_new()
    }

    /// As [`Notify::new`], usable in a `static`.
    #[track_caller]
    pub const fn const_new() -> Notify {
        Notify {
            object: LazyObject::new(),
            created_at: Location::caller(),
        }
    }

    #[track_caller]
    fn id(&self) -> ObjectId {
        object_id(
            &self.object,
            ObjectKind::Notify,
            self.created_at,
            "selvedge::tokio::sync::Notify",
            || ObjectState::Notify {
                permit: false,
                queue: Default::default(),
                notified: Vec::new(),
                epoch: 0,
                next_waiter: 0,
            },
        )
        .id
    }

    /// A future that completes when this task is notified. It already counts for
    /// `notify_waiters` calls from now on; for `notify_one` it joins the waiters when first
    /// polled (or [`Notified::enable`]d).
    #[track_caller]
    pub fn notified(&self) -> Notified<'_> {
        let at = Location::caller();
        let (id, epoch) = created(self.id(), at);
        Notified {
            _notify: Some(self),
            inner: Inner::new(id, epoch, at),
        }
    }

    /// As [`Notify::notified`], owning an `Arc` of the `Notify`.
    #[track_caller]
    pub fn notified_owned(self: Arc<Self>) -> OwnedNotified {
        let at = Location::caller();
        let (id, epoch) = created(self.id(), at);
        OwnedNotified {
            _notify: self,
            inner: Inner::new(id, epoch, at),
        }
    }

    /// Wakes the longest-waiting waiter, or stores a permit if nobody waits.
    #[track_caller]
    pub fn notify_one(&self) {
        let id = self.id();
        point_at(OpKind::NotifyOne, Some(id), Location::caller());
        with_state("Notify::notify_one", |s| notify_one(s, id, Pick::First));
    }

    /// Wakes the most recent waiter, or stores a permit if nobody waits.
    #[track_caller]
    pub fn notify_last(&self) {
        let id = self.id();
        point_at(OpKind::NotifyLast, Some(id), Location::caller());
        with_state("Notify::notify_last", |s| notify_one(s, id, Pick::Last));
    }

    /// Wakes every waiter, and every `Notified` made before this call; stores no permit.
    #[track_caller]
    pub fn notify_waiters(&self) {
        let id = self.id();
        point_at(OpKind::NotifyWaiters, Some(id), Location::caller());
        with_state("Notify::notify_waiters", |s| {
            let ObjectState::Notify {
                queue,
                notified,
                epoch,
                ..
            } = s.object(id)
            else {
                unreachable!("object is not a notify")
            };
            *epoch += 1;
            notified.extend(queue.drain(..).map(|(waiter, _)| waiter));
            s.hb_release(id);
        });
    }
}

impl Default for Notify {
    #[track_caller]
    fn default() -> Notify {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notify").finish_non_exhaustive()
    }
}

#[derive(Clone, Copy)]
enum Pick {
    First,
    Last,
}

/// Notifies one waiter of `id` (which one: `pick`), or stores the permit.
fn notify_one(s: &mut ExecState, id: ObjectId, pick: Pick) {
    let ObjectState::Notify {
        permit,
        queue,
        notified,
        ..
    } = s.object(id)
    else {
        unreachable!("object is not a notify")
    };
    let woken = match pick {
        Pick::First => queue.pop_front(),
        Pick::Last => queue.pop_back(),
    };
    let woken_task = match woken {
        Some((waiter, task)) => {
            notified.push(waiter);
            Some(task)
        }
        None => {
            *permit = true;
            None
        }
    };
    s.hb_release(id);
    if let Some(task) = woken_task {
        // For the report: this notify woke a waiter (without it, the row says "no waiter").
        let at = s.tasks[s.current.index()].pending.location;
        crate::runtime::record_event(s, OpKind::MayWake(task), Some(id), at);
    }
}

/// `notified()`: a read that remembers the `notify_waiters` count.
fn created(id: ObjectId, at: &'static Location<'static>) -> (ObjectId, u64) {
    point_at(OpKind::Query(Query::Notified), Some(id), at);
    let epoch = with_state("Notify::notified", |s| match s.object(id) {
        ObjectState::Notify { epoch, .. } => *epoch,
        _ => unreachable!("object is not a notify"),
    });
    (id, epoch)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stage {
    /// Made, not polled yet.
    Init,
    /// In the waiters' queue (or notified), as waiter `n`.
    Registered(u64),
    /// Notified and returned `Ready` (or `enable` found it notified).
    Done,
}

/// The slot of a registered waiter: its number.
struct Waiter {
    number: u64,
}

fn was_notified(s: &ExecState, _: TaskId, interest: &Interest) -> bool {
    // SAFETY: registered by `Inner` with a `Waiter` slot.
    let me = unsafe { slot_of::<Waiter>(interest) }.number;
    match &s.objects[object_of(interest).index()].state {
        ObjectState::Notify { notified, .. } => notified.contains(&me),
        _ => unreachable!("object is not a notify"),
    }
}

fn take_notification(s: &mut ExecState, _: TaskId, interest: &Interest) {
    let id = object_of(interest);
    // SAFETY: registered by `Inner` with a `Waiter` slot.
    let me = unsafe { slot_of::<Waiter>(interest) }.number;
    let ObjectState::Notify { notified, .. } = s.object(id) else {
        unreachable!("object is not a notify")
    };
    let i = notified
        .iter()
        .position(|&w| w == me)
        .expect("a notified waiter was granted");
    notified.swap_remove(i);
    s.hb_acquire(id);
}

/// The state shared by `Notified` and `OwnedNotified`.
struct Inner {
    id: ObjectId,
    epoch: u64,
    at: &'static Location<'static>,
    stage: Stage,
    wait: Wait<Waiter>,
}

impl Inner {
    fn new(id: ObjectId, epoch: u64, at: &'static Location<'static>) -> Inner {
        Inner {
            id,
            epoch,
            at,
            stage: Stage::Init,
            wait: Wait::new(),
        }
    }

    /// The first poll's step: completes if a `notify_waiters` came since creation or a permit
    /// is stored (taking it); otherwise joins the queue.
    fn enable(&mut self) -> bool {
        if self.stage != Stage::Init {
            return self.stage == Stage::Done;
        }
        let id = self.id;
        point_at(OpKind::NotifiedEnable, Some(id), self.at);
        let stage = with_state("Notified::enable", |s| {
            let created_epoch = self.epoch;
            let task = s.current;
            let ObjectState::Notify {
                permit,
                queue,
                epoch,
                next_waiter,
                ..
            } = s.object(id)
            else {
                unreachable!("object is not a notify")
            };
            if *epoch != created_epoch || std::mem::take(permit) {
                s.hb_acquire(id);
                return Stage::Done;
            }
            *next_waiter += 1;
            queue.push_back((*next_waiter, task));
            Stage::Registered(*next_waiter)
        });
        self.stage = stage;
        stage == Stage::Done
    }

    fn poll(&mut self, cx: &Context<'_>) -> Poll<()> {
        require_model("selvedge::tokio::sync::Notified");
        if self.wait.is_waiting() {
            return match self.wait.poll(cx) {
                Poll::Ready(_) => {
                    self.stage = Stage::Done;
                    Poll::Ready(())
                }
                Poll::Pending => Poll::Pending,
            };
        }
        match self.stage {
            Stage::Done => return Poll::Ready(()),
            Stage::Init => {
                if self.enable() {
                    return Poll::Ready(());
                }
            }
            Stage::Registered(_) => {}
        }
        let Stage::Registered(number) = self.stage else {
            unreachable!("a waiter that is not done is registered")
        };
        self.wait.start(
            cx,
            OpKind::Notified,
            self.id,
            Waiter { number },
            was_notified,
            take_notification,
            self.at,
        );
        Poll::Pending
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let granted = self.wait.cancel().is_some();
        let Stage::Registered(me) = self.stage else {
            return;
        };
        if crate::runtime::try_with_state(|_| ()).is_none() {
            return;
        }
        // Leaves the queue; a notification `notify_one` gave it goes to the next waiter.
        let id = self.id;
        point_at(OpKind::NotifiedDrop, Some(id), self.at);
        with_state("Notified::drop", |s| {
            let ObjectState::Notify {
                queue, notified, ..
            } = s.object(id)
            else {
                unreachable!("object is not a notify")
            };
            if let Some(i) = queue.iter().position(|&(w, _)| w == me) {
                queue.remove(i);
                return;
            }
            let had = match notified.iter().position(|&w| w == me) {
                Some(i) => {
                    notified.swap_remove(i);
                    true
                }
                None => granted,
            };
            if had {
                notify_one(s, id, Pick::First);
            }
        });
    }
}

/// The future of [`Notify::notified`].
#[must_use = "futures do nothing unless awaited"]
pub struct Notified<'a> {
    _notify: Option<&'a Notify>,
    inner: Inner,
}

impl Notified<'_> {
    /// Joins the waiters now, as the first poll would (so a `notify_one` from now on is this
    /// future's); returns whether it is already notified.
    pub fn enable(self: Pin<&mut Self>) -> bool {
        self.get_mut().inner.enable()
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.poll(cx)
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified").finish_non_exhaustive()
    }
}

/// The future of [`Notify::notified_owned`].
#[must_use = "futures do nothing unless awaited"]
pub struct OwnedNotified {
    _notify: Arc<Notify>,
    inner: Inner,
}

impl OwnedNotified {
    /// As [`Notified::enable`].
    pub fn enable(self: Pin<&mut Self>) -> bool {
        self.get_mut().inner.enable()
    }
}

impl Future for OwnedNotified {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.poll(cx)
    }
}

impl fmt::Debug for OwnedNotified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedNotified").finish_non_exhaustive()
    }
}
