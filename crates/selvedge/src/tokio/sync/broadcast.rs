//! tokio's `broadcast` channel: every receiver gets every message sent after it subscribed,
//! from a ring of the last `capacity` messages (rounded up to a power of two, as tokio's);
//! a receiver that falls further behind gets `Lagged` with how many it missed, then goes on
//! from the oldest message kept.
//!
//! A send, `subscribe` and dropping a handle write the channel; a receive only reads it (each
//! receiver has its own place), so receives commute. `recv().await` is one scheduling point
//! enabled once a message this receiver has not had is there or every sender is gone.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::{Arc, Mutex as StdMutex};
use std::task::Poll;

use crate::runtime::awaiting::Interest;
use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{point_at, with_state, ExecState, ObjectId, OpKind, TaskId};
use crate::tokio::waiting::{object_of, require_model, slot_of, Owned, Wait};
use crate::trace::Query;

/// The errors of `broadcast` channels, as tokio's `broadcast::error`.
pub mod error {
    use std::fmt;

    send_error!("Every receiver is gone; the value comes back.");

    /// Why `recv` returned no message.
    #[derive(Debug, PartialEq, Eq, Clone)]
    pub enum RecvError {
        /// Every sender is gone and every message was had.
        Closed,
        /// The receiver fell behind: this many messages were overwritten before it got them.
        Lagged(u64),
    }

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                RecvError::Closed => f.write_str("channel closed"),
                RecvError::Lagged(n) => write!(f, "channel lagged by {n}"),
            }
        }
    }

    impl std::error::Error for RecvError {}

    /// Why `try_recv` returned no message.
    #[derive(Debug, PartialEq, Eq, Clone)]
    pub enum TryRecvError {
        /// Nothing new now.
        Empty,
        /// Every sender is gone and every message was had.
        Closed,
        /// The receiver fell behind by this many messages.
        Lagged(u64),
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("channel empty"),
                TryRecvError::Closed => f.write_str("channel closed"),
                TryRecvError::Lagged(n) => write!(f, "channel lagged by {n}"),
            }
        }
    }

    impl std::error::Error for TryRecvError {}
}

use error::{RecvError, SendError, TryRecvError};

struct Shared<T> {
    object: Owned,
    capacity: usize,
    /// The last `capacity` messages, with their positions.
    ring: StdMutex<VecDeque<(u64, T)>>,
}

impl<T> Shared<T> {
    fn ring(&self) -> std::sync::MutexGuard<'_, VecDeque<(u64, T)>> {
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Clone, Copy)]
struct Counts {
    tail: u64,
    senders: usize,
    receivers: usize,
}

fn counts(s: &ExecState, id: ObjectId) -> Counts {
    match s.objects[id.index()].state {
        ObjectState::Broadcast {
            tail,
            senders,
            receivers,
            ..
        } => Counts {
            tail,
            senders,
            receivers,
        },
        _ => unreachable!("object is not a broadcast channel"),
    }
}

fn update(s: &mut ExecState, id: ObjectId, f: impl FnOnce(&mut u64, &mut usize, &mut usize)) {
    match s.object(id) {
        ObjectState::Broadcast {
            tail,
            senders,
            receivers,
            ..
        } => f(tail, senders, receivers),
        _ => unreachable!("object is not a broadcast channel"),
    }
}

/// A broadcast channel keeping the last `capacity` messages, rounded up to a power of two
/// (inside a model).
///
/// ```
/// use selvedge::tokio::sync::broadcast;
///
/// selvedge::model(|| {
///     let (tx, mut rx1) = broadcast::channel(2);
///     let mut rx2 = tx.subscribe();
///     tx.send(1).unwrap();
///     tx.send(2).unwrap();
///     tx.send(3).unwrap(); // overwrites 1
///     selvedge::future::block_on(async {
///         assert_eq!(rx1.recv().await, Err(broadcast::error::RecvError::Lagged(1)));
///         assert_eq!(rx1.recv().await, Ok(2));
///         assert_eq!(rx2.try_recv(), Err(broadcast::error::TryRecvError::Lagged(1)));
///     });
/// });
/// ```
#[track_caller]
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "broadcast channel capacity cannot be zero");
    assert!(
        capacity <= usize::MAX >> 1,
        "broadcast channel capacity exceeded `usize::MAX / 2`"
    );
    let capacity = capacity.next_power_of_two();
    let object = Owned::register(
        "selvedge::tokio::sync::broadcast::channel",
        ObjectKind::Broadcast,
        ObjectState::Broadcast {
            tail: 0,
            senders: 1,
            receivers: 1,
        },
    );
    let shared = Arc::new(Shared {
        object,
        capacity,
        ring: StdMutex::new(VecDeque::with_capacity(capacity)),
    });
    let at = Location::caller();
    (
        Sender {
            shared: shared.clone(),
            at,
        },
        Receiver {
            shared,
            next: 0,
            at,
        },
    )
}

/// The sending half. Cloning it is not a scheduling point.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
    at: &'static Location<'static>,
}

impl<T> Sender<T> {
    /// Sends `value` to every receiver; returns how many there are, or gives `value` back if
    /// there are none.
    #[track_caller]
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let id = self.shared.object.id("broadcast::Sender::send");
        point_at(OpKind::Send, Some(id), Location::caller());
        let sent = with_state("broadcast::Sender::send", |s| {
            let c = counts(s, id);
            if c.receivers == 0 {
                return None;
            }
            update(s, id, |tail, _, _| *tail += 1);
            s.hb_release(id);
            Some((c.tail, c.receivers))
        });
        let Some((position, receivers)) = sent else {
            return Err(SendError(value));
        };
        let overwritten = {
            let mut ring = self.shared.ring();
            ring.push_back((position, value));
            (ring.len() > self.shared.capacity).then(|| ring.pop_front())
        };
        drop(overwritten);
        Ok(receivers)
    }

    /// A new receiver that gets the messages sent from now on.
    #[track_caller]
    pub fn subscribe(&self) -> Receiver<T> {
        subscribe(&self.shared, self.at, Location::caller())
    }

    /// Live receivers now.
    #[track_caller]
    pub fn receiver_count(&self) -> usize {
        let id = self.shared.object.id("broadcast::Sender::receiver_count");
        point_at(
            OpKind::Query(Query::ReceiverCount),
            Some(id),
            Location::caller(),
        );
        with_state("broadcast::Sender::receiver_count", |s| {
            counts(s, id).receivers
        })
    }

    /// Waits until every receiver is gone.
    #[track_caller]
    pub fn closed(&self) -> impl Future<Output = ()> + '_ {
        let at = Location::caller();
        let mut wait = Wait::<()>::new();
        std::future::poll_fn(move |cx| {
            require_model("selvedge::tokio::sync::broadcast::Sender::closed");
            if wait.is_waiting() {
                return wait.poll(cx);
            }
            let id = self.shared.object.id("broadcast::Sender::closed");
            wait.start(cx, OpKind::Closed, id, (), no_receivers, nothing, at);
            Poll::Pending
        })
    }

    /// Do both senders feed the same channel?
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

fn no_receivers(s: &ExecState, _: TaskId, interest: &Interest) -> bool {
    counts(s, object_of(interest)).receivers == 0
}

fn nothing(_: &mut ExecState, _: TaskId, _: &Interest) {}

fn subscribe<T>(
    shared: &Arc<Shared<T>>,
    made_at: &'static Location<'static>,
    at: &'static Location<'static>,
) -> Receiver<T> {
    let id = shared.object.id("broadcast::subscribe");
    point_at(OpKind::Subscribe, Some(id), at);
    let tail = with_state("broadcast::subscribe", |s| {
        update(s, id, |_, _, receivers| *receivers += 1);
        counts(s, id).tail
    });
    Receiver {
        shared: shared.clone(),
        next: tail,
        at: made_at,
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        if let Some(id) = self.shared.object.live_id() {
            with_state("broadcast::Sender::clone", |s| {
                update(s, id, |_, senders, _| *senders += 1)
            });
        }
        Sender {
            shared: self.shared.clone(),
            at: self.at,
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let Some(id) = self.shared.object.live_id() else {
            return;
        };
        point_at(OpKind::DropSender, Some(id), self.at);
        with_state("broadcast::Sender::drop", |s| {
            update(s, id, |_, senders, _| *senders -= 1);
            s.hb_release(id);
        });
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Sender").finish_non_exhaustive()
    }
}

/// A receiving half, with its own place in the channel.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The position of the next message it gets.
    next: u64,
    at: &'static Location<'static>,
}

/// The position a waiting receive starts from.
struct Place(u64);

fn has_news(s: &ExecState, _: TaskId, interest: &Interest) -> bool {
    // SAFETY: registered by `Receiver::recv` with a `Place`.
    let next = unsafe { slot_of::<Place>(interest) }.0;
    let c = counts(s, object_of(interest));
    next < c.tail || c.senders == 0
}

fn see(s: &mut ExecState, _: TaskId, interest: &Interest) {
    s.hb_acquire(object_of(interest));
}

/// What a receive at position `next` gets, given the channel's counts.
enum Outcome {
    Message(u64),
    Lagged { missed: u64, oldest: u64 },
    Empty,
    Closed,
}

fn outcome(next: u64, c: Counts, capacity: usize) -> Outcome {
    let oldest = c.tail.saturating_sub(capacity as u64);
    if next < oldest {
        Outcome::Lagged {
            missed: oldest - next,
            oldest,
        }
    } else if next < c.tail {
        Outcome::Message(next)
    } else if c.senders == 0 {
        Outcome::Closed
    } else {
        Outcome::Empty
    }
}

impl<T: Clone> Receiver<T> {
    /// Takes what the step found: the message at `position` (cloned), or the lag.
    fn settle(&mut self, found: Outcome) -> Result<T, TryRecvError> {
        match found {
            Outcome::Message(position) => {
                let value = {
                    let ring = self.shared.ring();
                    let first = ring.front().expect("a kept message is in the ring").0;
                    ring[(position - first) as usize].1.clone()
                };
                self.next = position + 1;
                Ok(value)
            }
            Outcome::Lagged { missed, oldest } => {
                self.next = oldest;
                Err(TryRecvError::Lagged(missed))
            }
            Outcome::Closed => Err(TryRecvError::Closed),
            Outcome::Empty => Err(TryRecvError::Empty),
        }
    }

    /// Waits for the next message; `Lagged(n)` if `n` were overwritten before this receiver
    /// got them (it then goes on from the oldest kept), `Closed` once every sender is gone
    /// and every message was had. Cancel-safe.
    #[track_caller]
    pub fn recv(&mut self) -> impl Future<Output = Result<T, RecvError>> + '_ {
        let at = Location::caller();
        let mut wait = Wait::<Place>::new();
        std::future::poll_fn(move |cx| {
            require_model("selvedge::tokio::sync::broadcast::Receiver::recv");
            if wait.is_waiting() {
                return match wait.poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(_) => {
                        let id = self.shared.object.id("broadcast::Receiver::recv");
                        let c = with_state("broadcast::Receiver::recv", |s| counts(s, id));
                        let found = outcome(self.next, c, self.shared.capacity);
                        Poll::Ready(self.settle(found).map_err(|e| match e {
                            TryRecvError::Lagged(n) => RecvError::Lagged(n),
                            TryRecvError::Closed => RecvError::Closed,
                            TryRecvError::Empty => unreachable!("a granted receive has news"),
                        }))
                    }
                };
            }
            let id = self.shared.object.id("broadcast::Receiver::recv");
            wait.start(
                cx,
                OpKind::RecvShared,
                id,
                Place(self.next),
                has_news,
                see,
                at,
            );
            Poll::Pending
        })
    }

    /// Takes the next message if there is one now.
    #[track_caller]
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let id = self.shared.object.id("broadcast::Receiver::try_recv");
        point_at(OpKind::TryRecvShared, Some(id), Location::caller());
        let c = with_state("broadcast::Receiver::try_recv", |s| {
            s.hb_acquire(id);
            counts(s, id)
        });
        let found = outcome(self.next, c, self.shared.capacity);
        self.settle(found)
    }

    /// Receives from a thread of the model, waiting as `recv().await` would.
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Result<T, RecvError> {
        crate::future::block_on(self.recv())
    }
}

impl<T> Receiver<T> {
    /// A new receiver that gets the messages sent from now on.
    #[track_caller]
    pub fn resubscribe(&self) -> Self {
        subscribe(&self.shared, self.at, Location::caller())
    }

    /// Messages sent that this receiver has not had (counting overwritten ones).
    #[track_caller]
    pub fn len(&self) -> usize {
        let id = self.shared.object.id("broadcast::Receiver::len");
        point_at(OpKind::Query(Query::Len), Some(id), Location::caller());
        let tail = with_state("broadcast::Receiver::len", |s| counts(s, id).tail);
        (tail - self.next) as usize
    }

    /// Nothing new for this receiver now?
    #[track_caller]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Do both receivers listen to the same channel?
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let Some(id) = self.shared.object.live_id() else {
            return;
        };
        point_at(OpKind::DropReceiver, Some(id), self.at);
        with_state("broadcast::Receiver::drop", |s| {
            update(s, id, |_, _, receivers| *receivers -= 1);
            s.hb_release(id);
        });
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Receiver")
            .finish_non_exhaustive()
    }
}
