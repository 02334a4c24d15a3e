//! `lazy_static!` as loom models it: inside a model every execution initialises its own value
//! on first use, and drops it when the test body (the model's main thread) returns, before
//! the leak check; a thread that touches one after that fails with a message. Outside a model
//! the value is initialised once per process, as the `lazy_static` crate's.
//!
//! Invariants:
//! - Values are per execution (`LazyValues` in the execution state), keyed by the address of
//!   their `Lazy`, dropped in reverse order of initialisation when the main thread returns.
//! - A task that finds the value unset reaches a scheduling point before initialising it, so
//!   any racing task can win; the initialiser may contain scheduling points too, and a task
//!   that finds the value set by another meanwhile keeps the other's (as loom does) and drops
//!   its own. Readers learn what the initialiser did (std's `Once`: release, then acquire).
//!
//! ```
//! use selvedge::sync::atomic::{AtomicUsize, Ordering};
//!
//! selvedge::lazy_static! {
//!     static ref HITS: AtomicUsize = AtomicUsize::new(0);
//! }
//!
//! selvedge::model(|| {
//!     let t = selvedge::thread::spawn(|| HITS.fetch_add(1, Ordering::SeqCst));
//!     HITS.fetch_add(1, Ordering::SeqCst);
//!     t.join().unwrap();
//!     // Fresh in every execution: never more than this execution's two.
//!     assert_eq!(HITS.load(Ordering::SeqCst), 2);
//! });
//! ```

use std::any::Any;
use std::collections::BTreeMap;
use std::panic::Location;

use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{self, try_with_state, with_state, LazyObject, ObjectId, OpKind};

/// The lazily initialised statics of one execution.
#[derive(Default)]
pub(crate) struct LazyValues {
    /// By address of the `Lazy`: the value and the object its initialisation publishes on.
    values: BTreeMap<usize, (Box<dyn Any>, ObjectId)>,
    /// Addresses in the order their values were set.
    order: Vec<usize>,
    /// The main thread returned and the values were dropped.
    shut_down: bool,
}

impl LazyValues {
    /// Empties the values for the next execution on this OS thread, keeping the buffers.
    /// Values still here belong to an execution that ended early (a failure): dropping them
    /// now would run user destructors with no model behind them, so they are leaked, as the
    /// locals of an unfinished task are.
    pub(crate) fn clear(&mut self) {
        // Most executions made none: an empty map is not walked.
        if !self.values.is_empty() {
            for (value, _) in std::mem::take(&mut self.values).into_values() {
                std::mem::forget(value);
            }
        }
        self.order.clear();
        self.shut_down = false;
    }
}

impl Drop for LazyValues {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Drops the running execution's lazy statics: called when the test body returns. The values
/// are dropped outside the state borrow, latest first, since their destructors may use
/// primitives.
pub(crate) fn shut_down() {
    let Some(mut dropped) = try_with_state(|s| {
        let values = &mut s.lazy_statics;
        values.shut_down = true;
        let mut out = Vec::with_capacity(values.order.len());
        for key in std::mem::take(&mut values.order).into_iter().rev() {
            if let Some((value, _)) = values.values.remove(&key) {
                out.push(value);
            }
        }
        out
    }) else {
        return;
    };
    for value in dropped.drain(..) {
        drop(value);
    }
}

/// The value behind a `lazy_static!` (the macro makes one per static).
#[doc(hidden)]
pub struct Lazy<T> {
    init: fn() -> T,
    object: LazyObject,
    /// The value outside a model.
    process_wide: std::sync::OnceLock<T>,
}

// SAFETY: outside a model the value is reached through `OnceLock` (which needs `T: Send + Sync`
// to be shared); inside one, all tasks of an execution run on one OS thread.
unsafe impl<T: Send + Sync> Sync for Lazy<T> {}

impl<T: 'static> Lazy<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> Lazy<T> {
        Lazy {
            init,
            object: LazyObject::new(),
            process_wide: std::sync::OnceLock::new(),
        }
    }

    fn key(&'static self) -> usize {
        self as *const Lazy<T> as usize
    }

    /// This execution's value, initialised on first use.
    ///
    /// The reference is `'static` as the `lazy_static` crate's, but inside a model it lives
    /// only until the test body returns (loom's `Lazy` has the same contract): keep it no
    /// longer than the execution.
    #[doc(hidden)]
    #[track_caller]
    pub fn get(&'static self) -> &'static T {
        if !runtime::in_model() {
            return self.process_wide.get_or_init(self.init);
        }
        let at = Location::caller();
        if let Some(value) = self.lookup(at) {
            return value;
        }
        // Racing to initialise is a scheduling point, so any of the racing tasks can win.
        let object = with_state("lazy_static", |s| {
            self.object
                .get(s, ObjectKind::Once, at, || ObjectState::Once {
                    running: None,
                    done: false,
                    poisoned: false,
                    value: None,
                })
                .id
        });
        runtime::point_at(OpKind::OnceEnter, Some(object), at);
        if let Some(value) = self.lookup(at) {
            return value;
        }
        // Initialise outside the state borrow: `init` may use primitives (and yield).
        let fresh: Box<dyn Any> = Box::new((self.init)());
        refuse_after_shutdown(at);
        let (value, loser) = with_state("lazy_static", |s| {
            let key = self.key();
            if let Some((existing, object)) = s.lazy_statics.values.get(&key) {
                // Another task initialised it while this one did: keep theirs, as loom does.
                let existing = existing.downcast_ref::<T>().expect("lazy_static type") as *const T;
                let object = *object;
                s.hb_acquire(object);
                return (existing, Some(fresh));
            }
            let value = fresh.downcast_ref::<T>().expect("lazy_static type") as *const T;
            s.lazy_statics.values.insert(key, (fresh, object));
            s.lazy_statics.order.push(key);
            s.hb_release(object);
            (value, None)
        });
        drop(loser);
        // SAFETY: boxed in this execution's `LazyValues`, not moved or dropped until the test
        // body returns (see above).
        unsafe { &*value }
    }

    /// The value if this execution has set it (learning what its initialiser did).
    fn lookup(&'static self, at: &'static Location<'static>) -> Option<&'static T> {
        refuse_after_shutdown(at);
        let found = with_state("lazy_static", |s| {
            let (value, object) = s.lazy_statics.values.get(&self.key())?;
            let value = value.downcast_ref::<T>().expect("lazy_static type") as *const T;
            let object = *object;
            s.hb_acquire(object);
            Some(value)
        })?;
        // SAFETY: as in `get`.
        Some(unsafe { &*found })
    }
}

/// Panics (outside the state borrow, so the panic hook can record it) when the execution's
/// lazy statics were already dropped.
fn refuse_after_shutdown(at: &'static Location<'static>) {
    if with_state("lazy_static", |s| s.lazy_statics.shut_down) {
        panic!(
            "a `lazy_static!` value was used at {at} after the model's main thread returned: \
             its values are dropped then (as loom drops them), like a program's statics at \
             exit. Join this thread before the test body returns"
        );
    }
}

/// Declares statics initialised on first use, as the `lazy_static` crate's macro (and loom's):
/// `static ref NAME: Type = expression;`. Inside a model each execution has its own value,
/// dropped when the test body returns.
///
/// ```
/// selvedge::lazy_static! {
///     static ref GREETING: String = "hello".to_string();
///     pub static ref ANSWER: u32 = 42;
/// }
///
/// assert_eq!(GREETING.as_str(), "hello");
/// selvedge::model(|| assert_eq!(*ANSWER, 42));
/// ```
#[macro_export]
macro_rules! lazy_static {
    () => {};
    ($(#[$attr:meta])* static ref $name:ident : $t:ty = $init:expr; $($rest:tt)*) => {
        $crate::__lazy_static_item!([$(#[$attr])*] [] $name $t, $init);
        $crate::lazy_static!($($rest)*);
    };
    ($(#[$attr:meta])* pub static ref $name:ident : $t:ty = $init:expr; $($rest:tt)*) => {
        $crate::__lazy_static_item!([$(#[$attr])*] [pub] $name $t, $init);
        $crate::lazy_static!($($rest)*);
    };
    ($(#[$attr:meta])* pub ($($vis:tt)+) static ref $name:ident : $t:ty = $init:expr; $($rest:tt)*) => {
        $crate::__lazy_static_item!([$(#[$attr])*] [pub($($vis)+)] $name $t, $init);
        $crate::lazy_static!($($rest)*);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __lazy_static_item {
    ([$($attr:tt)*] [$($vis:tt)*] $name:ident $t:ty, $init:expr) => {
        #[allow(non_camel_case_types)]
        $($attr)*
        $($vis)* struct $name {
            __private_field: (),
        }
        #[doc(hidden)]
        $($vis)* static $name: $name = $name { __private_field: () };
        impl ::core::ops::Deref for $name {
            type Target = $t;
            #[track_caller]
            fn deref(&self) -> &$t {
                fn __init() -> $t {
                    $init
                }
                static LAZY: $crate::lazy_static::Lazy<$t> = $crate::lazy_static::Lazy::new(__init);
                LAZY.get()
            }
        }
        impl $crate::lazy_static::LazyStatic for $name {
            fn initialize(lazy: &Self) {
                let _ = &**lazy;
            }
        }
    };
}

/// Forces a `lazy_static!` to initialise, as the `lazy_static` crate's `initialize`.
///
/// ```
/// selvedge::lazy_static! {
///     static ref TABLE: Vec<u32> = (0..4).collect();
/// }
/// selvedge::lazy_static::initialize(&TABLE);
/// assert_eq!(TABLE.len(), 4);
/// ```
pub fn initialize<T: LazyStatic>(lazy: &T) {
    LazyStatic::initialize(lazy);
}

/// Implemented by every `lazy_static!` (as the `lazy_static` crate's trait).
pub trait LazyStatic {
    #[doc(hidden)]
    fn initialize(lazy: &Self);
}
