//! `Once`, `OnceLock` and `LazyLock`: initialise once per execution.
//!
//! Invariant: a value initialised in one execution is never seen by another (each execution
//! starts with fresh statics), and a `OnceLock`/`LazyLock` used outside a model behaves as
//! std's.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::Deref;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe, Location};

use super::object_id;
use crate::runtime::object::{ErasedValue, ObjectKind, ObjectState};
use crate::runtime::{self, try_with_state, with_state, LazyObject, ObjectId, OpKind, Registered};

/// Runs an initialiser exactly once per execution, as `std::sync::Once`.
///
/// ```
/// use selvedge::sync::{Arc, Once, atomic::{AtomicUsize, Ordering}};
///
/// selvedge::check_random(|| {
///     let once = Arc::new(Once::new());
///     let runs = Arc::new(AtomicUsize::new(0));
///     let (o2, r2) = (once.clone(), runs.clone());
///     let t = selvedge::thread::spawn(move || o2.call_once(|| { r2.fetch_add(1, Ordering::SeqCst); }));
///     once.call_once(|| { runs.fetch_add(1, Ordering::SeqCst); });
///     t.join().unwrap();
///     assert_eq!(runs.load(Ordering::SeqCst), 1);
/// }, 50);
/// ```
#[derive(Debug)]
pub struct Once {
    object: LazyObject,
    created_at: &'static Location<'static>,
}

/// Passed to `call_once_force` closures.
#[derive(Debug)]
pub struct OnceState {
    poisoned: bool,
}

impl OnceState {
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }
}

impl Once {
    #[track_caller]
    pub const fn new() -> Once {
        Once {
            object: LazyObject::new(),
            created_at: Location::caller(),
        }
    }

    #[track_caller]
    fn id(&self) -> ObjectId {
        object_id(
            &self.object,
            ObjectKind::Once,
            self.created_at,
            "selvedge::sync::Once",
            || ObjectState::Once {
                running: None,
                done: false,
                poisoned: false,
                value: None,
            },
        )
        .id
    }

    /// Runs `f` if no call has completed yet in this execution; other callers wait for it.
    ///
    /// # Panics
    /// If an earlier call's closure panicked (the `Once` is poisoned), as std's does.
    #[track_caller]
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        enter_once(self.id(), Location::caller(), Poison::Refuse, |_| f());
    }

    /// Like `call_once`, but runs `f` even if an earlier closure panicked (`f` is told), and
    /// clears the poison once it completes.
    #[track_caller]
    pub fn call_once_force<F: FnOnce(&OnceState)>(&self, f: F) {
        enter_once(self.id(), Location::caller(), Poison::Ignore, |poisoned| {
            f(&OnceState { poisoned })
        });
    }

    /// Did a closure panic, leaving this `Once` poisoned?
    pub fn is_poisoned(&self) -> bool {
        if !runtime::in_model() {
            return false;
        }
        let id = self.id();
        with_state("Once::is_poisoned", |s| {
            matches!(s.object(id), ObjectState::Once { poisoned: true, .. })
        })
    }

    pub fn is_completed(&self) -> bool {
        if !runtime::in_model() {
            return false;
        }
        let id = self.id();
        with_state("Once::is_completed", |s| {
            matches!(s.object(id), ObjectState::Once { done: true, .. })
        })
    }
}

impl Default for Once {
    #[track_caller]
    fn default() -> Once {
        Once::new()
    }
}

/// What `Once` does when an earlier closure panicked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Poison {
    /// `call_once`: panic, as std's does.
    Refuse,
    /// `call_once_force`: run anyway, and clear the poison on success.
    Ignore,
}

/// `Once`'s protocol: `enter`'s, plus std's poisoning. The closure is told whether the `Once`
/// was poisoned.
fn enter_once(id: ObjectId, at: &'static Location<'static>, poison: Poison, f: impl FnOnce(bool)) {
    let poisoned = std::cell::Cell::new(false);
    let mut refused = false;
    enter_with(
        id,
        at,
        |was_poisoned| {
            if was_poisoned && poison == Poison::Refuse {
                refused = true;
                return false;
            }
            poisoned.set(was_poisoned);
            true
        },
        || f(poisoned.get()),
    );
    if refused {
        panic!("Once instance has previously been poisoned");
    }
}

/// The once protocol: a scheduling point enabled while nobody else is initialising; runs
/// `f` if the object is not done yet. Returns whether `f` ran.
fn enter(id: ObjectId, at: &'static Location<'static>, f: impl FnOnce()) -> bool {
    enter_with(id, at, |_| true, f)
}

/// `enter`, with `admit` deciding (from whether an earlier closure panicked) whether `f` may
/// run; a panic in `f` poisons the object, and a completed `f` clears the poison.
fn enter_with(
    id: ObjectId,
    at: &'static Location<'static>,
    admit: impl FnOnce(bool) -> bool,
    f: impl FnOnce(),
) -> bool {
    runtime::point_at(OpKind::OnceEnter, Some(id), at);
    let run = with_state("selvedge::sync::Once", |s| {
        let ObjectState::Once { running, done, .. } = s.object(id) else {
            unreachable!("object is not a once")
        };
        assert!(
            running.is_none(),
            "a once was entered while another task initialises it"
        );
        if *done {
            s.hb_acquire(id);
            return Some(false);
        }
        Some(true)
    });
    let run = match run {
        Some(true) => {
            let poisoned = with_state("selvedge::sync::Once", |s| {
                matches!(s.object(id), ObjectState::Once { poisoned: true, .. })
            });
            admit(poisoned)
        }
        _ => false,
    };
    if run {
        with_state("selvedge::sync::Once", |s| {
            let current = s.current;
            if let ObjectState::Once { running, .. } = s.object(id) {
                *running = Some((current, at));
            }
        });
    }
    if !run {
        return false;
    }
    let result = catch_unwind(AssertUnwindSafe(f));
    with_state("selvedge::sync::Once", |s| {
        let ObjectState::Once {
            running,
            done,
            poisoned,
            ..
        } = s.object(id)
        else {
            unreachable!("object is not a once")
        };
        *running = None;
        *done = result.is_ok();
        *poisoned = result.is_err();
        s.hb_release(id);
    });
    if let Err(payload) = result {
        resume_unwind(payload);
    }
    true
}

/// A cell written once per execution, as `std::sync::OnceLock`.
///
/// ```
/// use selvedge::sync::{Arc, OnceLock};
///
/// selvedge::check_random(|| {
///     let cell = Arc::new(OnceLock::new());
///     let c2 = cell.clone();
///     let t = selvedge::thread::spawn(move || *c2.get_or_init(|| 1));
///     let here = *cell.get_or_init(|| 2);
///     assert_eq!(here, t.join().unwrap(), "both see the winner's value");
/// }, 50);
/// ```
///
/// A `static` `OnceLock` (or `LazyLock`) is empty at the start of every execution, and
/// executions running at the same time (parallel workers, other tests) never see each other's
/// value. Like a real program's statics, each execution's value is never dropped (a reference
/// to it may be kept anywhere), so an exploration keeps one value per execution that
/// initialised the cell.
pub struct OnceLock<T> {
    object: LazyObject,
    created_at: &'static Location<'static>,
    /// The value outside a model, and of a cell owned by the execution using it.
    own: std::sync::OnceLock<T>,
}

unsafe impl<T: Send + Sync> Sync for OnceLock<T> {}
unsafe impl<T: Send> Send for OnceLock<T> {}

impl<T> OnceLock<T> {
    #[track_caller]
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            object: LazyObject::new(),
            created_at: Location::caller(),
            own: std::sync::OnceLock::new(),
        }
    }

    /// The cell in the running execution (not a scheduling point), or `None` outside a model.
    fn registered(&self) -> Option<Registered> {
        // A cell made outside the test body and set before the model used it is set in every
        // execution (with that value); a `static` starts empty in every execution.
        let preset = || u64::from(self.own.get().is_some());
        try_with_state(|s| {
            self.object
                .get_starting(s, ObjectKind::Once, self.created_at, preset, |start| {
                    ObjectState::Once {
                        running: None,
                        done: start == Some(1),
                        poisoned: false,
                        value: None,
                    }
                })
        })
    }

    /// This execution's value of a shared cell: its own, or the one it was set to before the
    /// model first used it.
    fn shared_value(&self, id: ObjectId) -> Option<&T> {
        let (pointer, preset) = with_state("selvedge::sync::OnceLock", |s| match s.object(id) {
            // SAFETY: the value was made as a `T` by `get_or_init`/`set` below.
            ObjectState::Once { value, done, .. } => (
                value.as_ref().map(|v| unsafe { v.get::<T>() }),
                *done && value.is_none(),
            ),
            _ => unreachable!("object is not a once"),
        });
        match pointer {
            // SAFETY: the box is never freed (see `ErasedValue`).
            Some(pointer) => Some(unsafe { &*pointer }),
            None if preset => self.own.get(),
            None => None,
        }
    }

    fn set_shared_value(id: ObjectId, value: T) {
        with_state("selvedge::sync::OnceLock", |s| match s.object(id) {
            // Leaked, not dropped with the execution: `get` hands out references that live as
            // long as the cell, which for a `static` is forever.
            ObjectState::Once { value: slot, .. } => *slot = Some(ErasedValue::leaked(value)),
            _ => unreachable!("object is not a once"),
        });
    }

    /// The value, if initialised in this execution. (Not a scheduling point.)
    pub fn get(&self) -> Option<&T> {
        match self.registered() {
            Some(Registered { id, shared: true }) => self.shared_value(id),
            _ => self.own.get(),
        }
    }

    /// The value, initialising it with `f` if no task has yet.
    #[track_caller]
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        match self.registered() {
            None => self.own.get_or_init(f),
            Some(Registered { id, shared: true }) => {
                enter(id, Location::caller(), || Self::set_shared_value(id, f()));
                self.shared_value(id)
                    .expect("a completed once-cell has a value")
            }
            Some(Registered { id, shared: false }) => {
                enter(id, Location::caller(), || {
                    self.own.get_or_init(f);
                });
                self.own.get().expect("a completed once-cell has a value")
            }
        }
    }

    /// Stores `value` unless the cell already has one (then `value` comes back).
    #[track_caller]
    pub fn set(&self, value: T) -> Result<(), T> {
        let Some(Registered { id, shared }) = self.registered() else {
            return self.own.set(value);
        };
        let mut slot = Some(value);
        enter(id, Location::caller(), || {
            let value = slot.take().expect("value present");
            if shared {
                Self::set_shared_value(id, value);
            } else if let Err(value) = self.own.set(value) {
                slot = Some(value);
            }
        });
        match slot {
            None => Ok(()),
            Some(value) => Err(value),
        }
    }

    /// The value, mutably, if initialised in this execution.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        match self.registered() {
            Some(Registered { id, shared: true }) => {
                let pointer = with_state("OnceLock::get_mut", |s| match s.object(id) {
                    // SAFETY: made as a `T` below.
                    ObjectState::Once { value, .. } => {
                        value.as_ref().map(|v| unsafe { v.get::<T>() })
                    }
                    _ => unreachable!("object is not a once"),
                })?;
                // SAFETY: `&mut self` is exclusive, and the box lives as long as the execution.
                Some(unsafe { &mut *pointer })
            }
            _ => self.own.get_mut(),
        }
    }

    /// Empties the cell, so it can be initialised again.
    pub fn take(&mut self) -> Option<T> {
        let Some(Registered { id, shared }) = self.registered() else {
            return self.own.take();
        };
        let erased = with_state("OnceLock::take", |s| match s.object(id) {
            ObjectState::Once { done, value, .. } => {
                *done = false;
                value.take()
            }
            _ => unreachable!("object is not a once"),
        });
        if !shared {
            return self.own.take();
        }
        // SAFETY: made as a `T` by `set_shared_value`; `into_inner` moves it out once.
        erased.map(|v| unsafe { v.into_inner::<T>() })
    }

    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }
}

impl<T> Default for OnceLock<T> {
    #[track_caller]
    fn default() -> OnceLock<T> {
        OnceLock::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OnceLock").field(&self.get()).finish()
    }
}

/// A value initialised on first use in each execution, as `std::sync::LazyLock`. The
/// initialiser must be callable again (`Fn`), since every execution starts fresh.
///
/// ```
/// use selvedge::sync::LazyLock;
///
/// static TABLE: LazyLock<Vec<u32>> = LazyLock::new(|| vec![1, 2, 3]);
///
/// selvedge::check_random(|| {
///     let t = selvedge::thread::spawn(|| TABLE.len());
///     assert_eq!(TABLE[0], 1);
///     assert_eq!(t.join().unwrap(), 3);
/// }, 20);
/// ```
pub struct LazyLock<T, F = fn() -> T> {
    cell: OnceLock<T>,
    init: UnsafeCell<F>,
}

unsafe impl<T: Send + Sync, F: Send + Sync> Sync for LazyLock<T, F> {}

impl<T, F: Fn() -> T> LazyLock<T, F> {
    #[track_caller]
    pub const fn new(init: F) -> LazyLock<T, F> {
        LazyLock {
            cell: OnceLock::new(),
            init: UnsafeCell::new(init),
        }
    }

    /// Forces initialisation and returns the value.
    #[track_caller]
    pub fn force(this: &LazyLock<T, F>) -> &T {
        // SAFETY: `init` is only ever read.
        let init = unsafe { &*this.init.get() };
        this.cell.get_or_init(init)
    }
}

impl<T, F: Fn() -> T> Deref for LazyLock<T, F> {
    type Target = T;
    #[track_caller]
    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T: fmt::Debug, F> fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LazyLock").field(&self.cell.get()).finish()
    }
}
