//! tokio's `oneshot` channel: one value from one sender to one receiver. Sending, dropping
//! either half and closing are scheduling points; awaiting the receiver is one scheduling
//! point enabled once the value is sent or the sender is gone, and `Sender::closed` one
//! enabled once the receiver is closed or gone.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll};

use crate::runtime::awaiting::Interest;
use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{point_at, with_state, ExecState, ObjectId, OpKind, TaskId};
use crate::tokio::waiting::{object_of, require_model, Owned, Wait};
use crate::trace::Query;

/// Errors of the receiving half.
pub mod error {
    use std::fmt;

    /// The sender was dropped without sending.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RecvError(pub(super) ());

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl std::error::Error for RecvError {}

    /// Why `try_recv` returned no value.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum TryRecvError {
        /// Nothing sent yet.
        Empty,
        /// The sender was dropped without sending, or the value was taken already.
        Closed,
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("channel empty"),
                TryRecvError::Closed => f.write_str("channel closed"),
            }
        }
    }

    impl std::error::Error for TryRecvError {}
}

use error::{RecvError, TryRecvError};

/// A new oneshot channel (inside a model).
///
/// ```
/// use selvedge::tokio::sync::oneshot;
///
/// selvedge::model(|| {
///     let (tx, rx) = oneshot::channel();
///     let task = selvedge::future::spawn(async move { tx.send(7).unwrap() });
///     assert_eq!(selvedge::future::block_on(rx), Ok(7));
///     selvedge::future::block_on(task).unwrap();
/// });
/// ```
#[track_caller]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let object = Owned::register(
        "selvedge::tokio::sync::oneshot::channel",
        ObjectKind::Oneshot,
        ObjectState::Oneshot {
            sent: false,
            sender_alive: true,
            receiver_open: true,
        },
    );
    let shared = Arc::new(StdMutex::new(None));
    let at = Location::caller();
    (
        Sender {
            object,
            value: shared.clone(),
            at,
            closed_wait: Wait::new(),
            done: false,
        },
        Receiver {
            object,
            value: shared,
            at,
            wait: Wait::new(),
            finished: false,
        },
    )
}

type Slot<T> = Arc<StdMutex<Option<T>>>;

fn lock<T>(slot: &Slot<T>) -> std::sync::MutexGuard<'_, Option<T>> {
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

fn state(s: &mut ExecState, id: ObjectId) -> (&mut bool, &mut bool, &mut bool) {
    match s.object(id) {
        ObjectState::Oneshot {
            sent,
            sender_alive,
            receiver_open,
        } => (sent, sender_alive, receiver_open),
        _ => unreachable!("object is not a oneshot channel"),
    }
}

fn peek(s: &ExecState, id: ObjectId) -> (bool, bool, bool) {
    match s.objects[id.index()].state {
        ObjectState::Oneshot {
            sent,
            sender_alive,
            receiver_open,
        } => (sent, sender_alive, receiver_open),
        _ => unreachable!("object is not a oneshot channel"),
    }
}

/// The sending half.
pub struct Sender<T> {
    object: Owned,
    value: Slot<T>,
    at: &'static Location<'static>,
    closed_wait: Wait<()>,
    /// `send` consumed it (its drop is no step of its own).
    done: bool,
}

impl<T> Sender<T> {
    /// Sends `value`, unless the receiver is closed or gone (then `value` comes back).
    #[track_caller]
    pub fn send(mut self, value: T) -> Result<(), T> {
        let id = self.object.id("oneshot::Sender::send");
        point_at(OpKind::Send, Some(id), Location::caller());
        self.done = true;
        let open = with_state("oneshot::Sender::send", |s| {
            let (sent, sender_alive, receiver_open) = state(s, id);
            *sender_alive = false;
            if !*receiver_open {
                return false;
            }
            *sent = true;
            s.hb_release(id);
            true
        });
        if !open {
            return Err(value);
        }
        *lock(&self.value) = Some(value);
        Ok(())
    }

    /// Is the receiver closed or gone?
    #[track_caller]
    pub fn is_closed(&self) -> bool {
        let id = self.object.id("oneshot::Sender::is_closed");
        point_at(OpKind::Query(Query::IsClosed), Some(id), Location::caller());
        with_state("oneshot::Sender::is_closed", |s| !peek(s, id).2)
    }

    /// Waits until the receiver is closed or gone.
    #[track_caller]
    pub fn closed(&mut self) -> impl Future<Output = ()> + '_ {
        let at = Location::caller();
        std::future::poll_fn(move |cx| self.poll_closed_at(cx, at))
    }

    /// Polls for the receiver to be closed or gone.
    #[track_caller]
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_closed_at(cx, Location::caller())
    }

    fn poll_closed_at(&mut self, cx: &Context<'_>, at: &'static Location<'static>) -> Poll<()> {
        require_model("selvedge::tokio::sync::oneshot::Sender::closed");
        if self.closed_wait.is_waiting() {
            return self.closed_wait.poll(cx);
        }
        let id = self.object.id("oneshot::Sender::closed");
        self.closed_wait
            .start(cx, OpKind::Closed, id, (), receiver_gone, nothing, at);
        Poll::Pending
    }
}

fn receiver_gone(s: &ExecState, _: TaskId, interest: &Interest) -> bool {
    !peek(s, object_of(interest)).2
}

fn nothing(_: &mut ExecState, _: TaskId, _: &Interest) {}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.closed_wait.cancel();
        if self.done {
            return;
        }
        let Some(id) = self.object.live_id() else {
            return;
        };
        point_at(OpKind::DropSender, Some(id), self.at);
        with_state("oneshot::Sender::drop", |s| {
            *state(s, id).1 = false;
            s.hb_release(id);
        });
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Sender").finish_non_exhaustive()
    }
}

/// The receiving half: a future of the value.
pub struct Receiver<T> {
    object: Owned,
    value: Slot<T>,
    at: &'static Location<'static>,
    wait: Wait<()>,
    /// Returned its value or error already.
    finished: bool,
}

fn arrived(s: &ExecState, _: TaskId, interest: &Interest) -> bool {
    let (sent, sender_alive, _) = peek(s, object_of(interest));
    sent || !sender_alive
}

fn receive(s: &mut ExecState, _: TaskId, interest: &Interest) {
    s.hb_acquire(object_of(interest));
}

impl<T> Receiver<T> {
    /// Closes the channel: the sender's `send` fails from now on; a value already sent can
    /// still be received.
    #[track_caller]
    pub fn close(&mut self) {
        let id = self.object.id("oneshot::Receiver::close");
        point_at(OpKind::Close, Some(id), Location::caller());
        with_state("oneshot::Receiver::close", |s| {
            *state(s, id).2 = false;
            s.hb_release(id);
        });
    }

    /// Has the value been sent, without waiting (and without taking it)?
    #[track_caller]
    pub fn is_empty(&self) -> bool {
        let id = self.object.id("oneshot::Receiver::is_empty");
        point_at(OpKind::Query(Query::Len), Some(id), Location::caller());
        with_state("oneshot::Receiver::is_empty", |s| !peek(s, id).0) || self.finished
    }

    /// Is the sender gone, or the value taken?
    #[track_caller]
    pub fn is_terminated(&self) -> bool {
        self.finished
    }

    /// Takes the value if it was sent, without waiting.
    #[track_caller]
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let id = self.object.id("oneshot::Receiver::try_recv");
        point_at(OpKind::TryRecv, Some(id), Location::caller());
        if self.finished {
            return Err(TryRecvError::Closed);
        }
        let (sent, sender_alive, _) = with_state("oneshot::Receiver::try_recv", |s| {
            let seen = peek(s, id);
            if seen.0 {
                s.hb_acquire(id);
            }
            seen
        });
        if sent {
            self.finished = true;
            return Ok(lock(&self.value).take().expect("a sent value is there"));
        }
        if !sender_alive {
            self.finished = true;
            return Err(TryRecvError::Closed);
        }
        Err(TryRecvError::Empty)
    }

    /// Waits for the value from a thread of the model (tokio's `blocking_recv`).
    #[track_caller]
    pub fn blocking_recv(self) -> Result<T, RecvError> {
        crate::future::block_on(self)
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        require_model("selvedge::tokio::sync::oneshot::Receiver");
        let this = &mut *self;
        assert!(
            !this.finished,
            "a oneshot `Receiver` was polled after it returned: it yields its value once"
        );
        if !this.wait.is_waiting() {
            let id = this.object.id("oneshot::Receiver");
            let at = this.at;
            this.wait
                .start(cx, OpKind::Recv, id, (), arrived, receive, at);
            return Poll::Pending;
        }
        match this.wait.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                this.finished = true;
                Poll::Ready(lock(&this.value).take().ok_or(RecvError(())))
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.wait.cancel();
        let Some(id) = self.object.live_id() else {
            return;
        };
        point_at(OpKind::DropReceiver, Some(id), self.at);
        with_state("oneshot::Receiver::drop", |s| {
            *state(s, id).2 = false;
            s.hb_release(id);
        });
        // A value sent and never received is dropped with the receiver, as tokio's is.
        let unreceived = lock(&self.value).take();
        drop(unreceived);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Receiver").finish_non_exhaustive()
    }
}
