//! tokio's async `OnceCell` on the model's once state: `get_or_init` waits, as one scheduling
//! point, until nobody else initialises the cell, then either finds the value or takes the
//! right to initialise it; storing the value is a second step. An initialiser that fails or is
//! cancelled gives the right back, so another caller initialises instead, as with tokio.
//!
//! Invariant: a value initialised in one execution is never seen by another. A `static` cell
//! (shared by every execution) keeps each execution's value in that execution's model state,
//! never dropped, as a real program's statics are not; a cell owned by the execution keeps it
//! inside itself.

use std::cell::UnsafeCell;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::task::Poll;

use crate::runtime::awaiting::Interest;
use crate::runtime::object::{ErasedValue, ObjectKind, ObjectState};
use crate::runtime::{
    point_at, try_with_state, with_state, ExecState, LazyObject, ObjectId, OpKind, Registered,
    TaskId,
};
use crate::tokio::waiting::{object_of, require_model, slot_mut, Wait};
use crate::trace::Query;

/// A cell initialised at most once, asynchronously, as `tokio::sync::OnceCell`.
///
/// ```
/// use selvedge::tokio::sync::OnceCell;
/// use std::sync::Arc;
///
/// selvedge::model(|| {
///     let cell = Arc::new(OnceCell::new());
///     let c = cell.clone();
///     let task = selvedge::future::spawn(async move { *c.get_or_init(|| async { 1 }).await });
///     let here = selvedge::future::block_on(async { *cell.get_or_init(|| async { 2 }).await });
///     assert_eq!(here, selvedge::future::block_on(task).unwrap(), "both see the winner's value");
/// });
/// ```
pub struct OnceCell<T> {
    object: LazyObject,
    created_at: &'static Location<'static>,
    /// The value outside a model, of a cell owned by the running execution, or the one it was
    /// given before any execution used it.
    own: UnsafeCell<Option<T>>,
}

// SAFETY: `own` is written only by the one task that holds the right to initialise (the model
// grants it to one task at a time) or through `&mut self`, and read only once set.
unsafe impl<T: Send + Sync> Sync for OnceCell<T> {}
unsafe impl<T: Send> Send for OnceCell<T> {}

/// Why `set` did not store its value; the value comes back.
#[derive(Debug, PartialEq, Eq)]
pub enum SetError<T> {
    /// The cell has a value already.
    AlreadyInitializedError(T),
    /// Another task is initialising it.
    InitializingError(T),
}

impl<T> SetError<T> {
    pub fn is_already_init_err(&self) -> bool {
        matches!(self, SetError::AlreadyInitializedError(_))
    }

    pub fn is_initializing_err(&self) -> bool {
        matches!(self, SetError::InitializingError(_))
    }
}

impl<T> fmt::Display for SetError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetError::AlreadyInitializedError(_) => f.write_str("cell already initialized"),
            SetError::InitializingError(_) => f.write_str("cell is being initialized"),
        }
    }
}

impl<T: fmt::Debug> std::error::Error for SetError<T> {}

impl<T> OnceCell<T> {
    /// An empty cell.
    #[track_caller]
    pub const fn new() -> OnceCell<T> {
        OnceCell {
            object: LazyObject::new(),
            created_at: Location::caller(),
            own: UnsafeCell::new(None),
        }
    }

    /// As [`OnceCell::new`] (tokio's name for use in a `static`).
    #[track_caller]
    pub const fn const_new() -> OnceCell<T> {
        OnceCell::new()
    }

    /// A cell holding `value` if it is `Some`.
    #[track_caller]
    pub fn new_with(value: Option<T>) -> OnceCell<T> {
        OnceCell {
            object: LazyObject::new(),
            created_at: Location::caller(),
            own: UnsafeCell::new(value),
        }
    }

    /// A cell holding `value`, usable in a `static` (every execution starts with it).
    #[track_caller]
    pub const fn const_new_with(value: T) -> OnceCell<T> {
        OnceCell {
            object: LazyObject::new(),
            created_at: Location::caller(),
            own: UnsafeCell::new(Some(value)),
        }
    }

    fn own_is_set(&self) -> bool {
        // SAFETY: a read of whether the value is there; writers hold the right to initialise.
        unsafe { (*self.own.get()).is_some() }
    }

    /// The cell in the running execution, or `None` outside a model.
    fn registered(&self) -> Option<Registered> {
        let preset = || u64::from(self.own_is_set());
        try_with_state(|s| {
            self.object
                .get_starting(s, ObjectKind::OnceCell, self.created_at, preset, |start| {
                    ObjectState::Once {
                        running: None,
                        // A cell shared with other executions starts as it was before any
                        // used it; a `static` or an owned one as it is.
                        done: start.map_or_else(|| self.own_is_set(), |set| set == 1),
                        poisoned: false,
                        value: None,
                    }
                })
        })
    }

    /// This execution's value, if set (not a scheduling point).
    fn value(&self, registered: Registered) -> Option<&T> {
        if !registered.shared {
            // SAFETY: set once by the initialising task, and never changed while shared.
            return unsafe { (*self.own.get()).as_ref() };
        }
        let (pointer, preset) = with_state("selvedge::tokio::sync::OnceCell", |s| {
            match s.object(registered.id) {
                // SAFETY: made as a `T` by `store` below.
                ObjectState::Once { value, done, .. } => (
                    value.as_ref().map(|v| unsafe { v.get::<T>() }),
                    *done && value.is_none(),
                ),
                _ => unreachable!("object is not a once cell"),
            }
        });
        match pointer {
            // SAFETY: leaked, never freed (see `ErasedValue`).
            Some(pointer) => Some(unsafe { &*pointer }),
            // SAFETY: as above: the value it was given before any execution.
            None if preset => unsafe { (*self.own.get()).as_ref() },
            None => None,
        }
    }

    /// Stores `value` for the running execution, after the caller's scheduling point, and
    /// marks the cell done.
    fn store(&self, registered: Registered, value: T) {
        let id = registered.id;
        if registered.shared {
            with_state("OnceCell::set", |s| match s.object(id) {
                ObjectState::Once { value: slot, .. } => {
                    *slot = Some(ErasedValue::leaked(value));
                }
                _ => unreachable!("object is not a once cell"),
            });
        } else {
            // SAFETY: only the task holding the right to initialise (or `set` after checking
            // the cell is empty and free, in one step) writes it.
            unsafe { *self.own.get() = Some(value) };
        }
        with_state("OnceCell::set", |s| {
            if let ObjectState::Once { running, done, .. } = s.object(id) {
                *running = None;
                *done = true;
            }
            s.hb_release(id);
        });
    }

    #[track_caller]
    fn model(&self, what: &str) -> Registered {
        match self.registered() {
            Some(registered) => registered,
            None => crate::runtime::outside_model(what),
        }
    }

    /// Has a value been stored?
    #[track_caller]
    pub fn initialized(&self) -> bool {
        let registered = self.model("selvedge::tokio::sync::OnceCell::initialized");
        point_at(
            OpKind::Query(Query::Initialized),
            Some(registered.id),
            Location::caller(),
        );
        self.value(registered).is_some()
    }

    /// The value, if one has been stored.
    #[track_caller]
    pub fn get(&self) -> Option<&T> {
        let registered = self.model("selvedge::tokio::sync::OnceCell::get");
        point_at(
            OpKind::Query(Query::Get),
            Some(registered.id),
            Location::caller(),
        );
        let value = self.value(registered);
        if value.is_some() {
            with_state("OnceCell::get", |s| s.hb_acquire(registered.id));
        }
        value
    }

    /// Stores `value` unless the cell has one or is being initialised.
    #[track_caller]
    pub fn set(&self, value: T) -> Result<(), SetError<T>> {
        let registered = self.model("selvedge::tokio::sync::OnceCell::set");
        let id = registered.id;
        point_at(OpKind::OnceCellSet, Some(id), Location::caller());
        let (running, done) = with_state("OnceCell::set", |s| match s.object(id) {
            ObjectState::Once { running, done, .. } => (running.is_some(), *done),
            _ => unreachable!("object is not a once cell"),
        });
        if done {
            return Err(SetError::AlreadyInitializedError(value));
        }
        if running {
            return Err(SetError::InitializingError(value));
        }
        self.store(registered, value);
        Ok(())
    }

    /// The value, initialising it with `f().await` if no task has; while another task
    /// initialises it, waits.
    #[track_caller]
    pub fn get_or_init<'a, F, Fut>(&'a self, f: F) -> impl Future<Output = &'a T> + 'a
    where
        F: FnOnce() -> Fut + 'a,
        Fut: Future<Output = T> + 'a,
    {
        let attempt = self.get_or_try_init(move || async move { Ok::<T, Infallible>(f().await) });
        async move {
            match attempt.await {
                Ok(value) => value,
                Err(never) => match never {},
            }
        }
    }

    /// The value, initialising it with `f().await` if no task has; an `Err` leaves the cell
    /// empty for the next caller.
    #[track_caller]
    pub fn get_or_try_init<'a, E, F, Fut>(
        &'a self,
        f: F,
    ) -> impl Future<Output = Result<&'a T, E>> + 'a
    where
        F: FnOnce() -> Fut + 'a,
        Fut: Future<Output = Result<T, E>> + 'a,
    {
        let at = Location::caller();
        async move {
            require_model("selvedge::tokio::sync::OnceCell::get_or_init");
            let registered = self.model("selvedge::tokio::sync::OnceCell::get_or_init");
            let mut turn = Turn {
                id: registered.id,
                at,
                wait: Wait::new(),
                holds: false,
            };
            std::future::poll_fn(|cx| turn.poll(cx)).await;
            if !turn.holds {
                return Ok(self
                    .value(registered)
                    .expect("a finished once cell has a value"));
            }
            match f().await {
                Ok(value) => {
                    point_at(OpKind::OnceCellRelease, Some(registered.id), at);
                    self.store(registered, value);
                    turn.holds = false;
                    Ok(self.value(registered).expect("just stored"))
                }
                Err(e) => Err(e),
            }
        }
    }

    /// The value, mutably, if one has been stored.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        match self.registered() {
            Some(registered) if registered.shared => {
                let pointer = with_state("OnceCell::get_mut", |s| match s.object(registered.id) {
                    // SAFETY: made as a `T` by `store`.
                    ObjectState::Once { value, .. } => {
                        value.as_ref().map(|v| unsafe { v.get::<T>() })
                    }
                    _ => unreachable!("object is not a once cell"),
                })?;
                // SAFETY: `&mut self` is exclusive; the box is never freed.
                Some(unsafe { &mut *pointer })
            }
            _ => self.own.get_mut().as_mut(),
        }
    }

    /// Empties the cell, returning its value.
    pub fn take(&mut self) -> Option<T> {
        let Some(registered) = self.registered() else {
            return self.own.get_mut().take();
        };
        let erased = with_state("OnceCell::take", |s| match s.object(registered.id) {
            ObjectState::Once { done, value, .. } => {
                *done = false;
                value.take()
            }
            _ => unreachable!("object is not a once cell"),
        });
        if !registered.shared {
            return self.own.get_mut().take();
        }
        // SAFETY: made as a `T` by `store`; moved out once.
        erased.map(|v| unsafe { v.into_inner::<T>() })
    }

    /// The value, if one has been stored.
    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }
}

impl<T> Default for OnceCell<T> {
    #[track_caller]
    fn default() -> OnceCell<T> {
        OnceCell::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceCell").finish_non_exhaustive()
    }
}

/// What the grant of a turn did: `true` if it took the right to initialise.
struct TurnSlot {
    took: bool,
}

fn nobody_initialises(s: &ExecState, _: TaskId, interest: &Interest) -> bool {
    matches!(
        s.objects[object_of(interest).index()].state,
        ObjectState::Once { running: None, .. }
    )
}

fn take_turn(s: &mut ExecState, task: TaskId, interest: &Interest) {
    let id = object_of(interest);
    // SAFETY: registered by `Turn` with a `TurnSlot`.
    let slot = unsafe { slot_mut::<TurnSlot>(interest) };
    let ObjectState::Once { running, done, .. } = s.object(id) else {
        unreachable!("object is not a once cell")
    };
    assert!(
        running.is_none(),
        "a once cell was entered while initialised"
    );
    if *done {
        s.hb_acquire(id);
        return;
    }
    *running = Some((task, interest.op.location));
    slot.took = true;
}

/// A caller's turn at the cell: waits until nobody initialises it; while it `holds` the right
/// to initialise, dropping it (a failed or cancelled initialiser) gives the right back.
struct Turn {
    id: ObjectId,
    at: &'static Location<'static>,
    wait: Wait<TurnSlot>,
    holds: bool,
}

impl Turn {
    fn poll(&mut self, cx: &std::task::Context<'_>) -> Poll<()> {
        if self.wait.is_waiting() {
            return self.wait.poll(cx).map(|slot| self.holds = slot.took);
        }
        self.wait.start(
            cx,
            OpKind::OnceCellInit,
            self.id,
            TurnSlot { took: false },
            nobody_initialises,
            take_turn,
            self.at,
        );
        Poll::Pending
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let granted = self.wait.cancel().is_some_and(|slot| slot.took);
        if !(self.holds || granted) {
            return;
        }
        if try_with_state(|_| ()).is_none() {
            return;
        }
        let id = self.id;
        point_at(OpKind::OnceCellRelease, Some(id), self.at);
        with_state("OnceCell::get_or_init", |s| {
            if let ObjectState::Once { running, .. } = s.object(id) {
                *running = None;
            }
        });
    }
}
