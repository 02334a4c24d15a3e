//! Atomics, mirroring `std::sync::atomic`: every operation is a scheduling point inside a
//! model, with exact sequentially-consistent semantics whatever `Ordering` is passed (weak
//! memory is not modelled yet). Outside a model they are std's atomics.
//!
//! ```
//! use selvedge::sync::{Arc, atomic::{AtomicUsize, Ordering}};
//!
//! selvedge::check_random(|| {
//!     let n = Arc::new(AtomicUsize::new(0));
//!     let n2 = n.clone();
//!     let t = selvedge::thread::spawn(move || n2.fetch_add(1, Ordering::SeqCst));
//!     n.fetch_add(1, Ordering::SeqCst);
//!     t.join().unwrap();
//!     assert_eq!(n.load(Ordering::SeqCst), 2);
//! }, 50);
//! ```

use std::panic::Location;

pub use std::sync::atomic::Ordering;

use crate::runtime::happens_before::ordering_halves;
use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{self, point_at, LazyObject, ObjectId, OpKind};

/// A scheduling point before an atomic operation (nothing outside a model), and the
/// synchronisation its orderings promise: the acquire half of `read` (for the value read) and
/// the release half of `write` (for the value written). Returns the atomic's id when its value
/// lives in the execution (a `static`, see `LazyObject`), `None` when the atomic's own value is
/// this execution's.
#[allow(clippy::too_many_arguments)]
fn before(
    object: &LazyObject,
    kind: &'static str,
    created_at: &'static Location<'static>,
    initial: u64,
    now: impl FnOnce() -> u64,
    op: OpKind,
    (read, write): (Ordering, Ordering),
    at: &'static Location<'static>,
) -> Option<ObjectId> {
    if !runtime::in_model() {
        return None;
    }
    let registered = runtime::with_state(kind, |s| {
        register(s, object, kind, created_at, initial, now)
    });
    let id = registered.id;
    point_at(op, Some(id), at);
    let reads = op != OpKind::AtomicStore;
    let writes = op != OpKind::AtomicLoad;
    let acquire = ordering_halves(read).0 && reads;
    let release = ordering_halves(write).1 && writes;
    runtime::with_state(kind, |s| {
        let task = s.current;
        if acquire {
            s.hb_acquire(id);
        } else if let (true, Some(hb)) = (reads, s.hb.as_mut()) {
            hb.relaxed_load(task, id);
        }
        if release {
            s.hb_release(id);
        } else if let (true, Some(hb)) = (writes, s.hb.as_mut()) {
            hb.relaxed_store(task, id);
        }
    });
    registered.shared.then_some(id)
}

/// This atomic in the running execution. A `static` starts every execution from `initial`;
/// another shared atomic (made outside the test body) from `now()` as the first execution to
/// use it found it.
fn register(
    s: &mut runtime::ExecState,
    object: &LazyObject,
    kind: &'static str,
    created_at: &'static Location<'static>,
    initial: u64,
    now: impl FnOnce() -> u64,
) -> runtime::Registered {
    object.get_starting(s, ObjectKind::Atomic(kind), created_at, now, |start| {
        ObjectState::Atomic {
            bits: start.unwrap_or(initial),
        }
    })
}

/// Runs `f` on the execution's copy of shared atomic `id`: on a scratch std atomic holding the
/// value, written back afterwards. No other task runs in between (there is no scheduling point),
/// so this is as atomic as the operation itself, and `f` (a `fetch_update` closure) may use
/// primitives since the execution state is not borrowed while it runs.
fn on_shared<V: AtomicBits, S, R>(
    id: ObjectId,
    scratch: impl FnOnce(V) -> S,
    f: impl FnOnce(&S) -> R,
    back: impl FnOnce(S) -> V,
) -> R {
    let bits = runtime::with_state("an atomic", |s| match s.object(id) {
        ObjectState::Atomic { bits } => *bits,
        _ => unreachable!("object is not an atomic"),
    });
    let place = scratch(V::from_bits(bits));
    let result = f(&place);
    let bits = back(place).to_bits();
    runtime::with_state("an atomic", |s| match s.object(id) {
        ObjectState::Atomic { bits: stored } => *stored = bits,
        _ => unreachable!("object is not an atomic"),
    });
    result
}

/// `fetch_update` inside a model, as std's compare-and-swap loop: the read is a scheduling
/// point; if `f` reached scheduling points of its own (another task may have changed the value
/// meanwhile), the compare-and-swap is one too, and a failed one starts over. If `f` reached
/// none, nothing ran between the read and the write, which is then made at once.
fn fetch_update_model<V: Copy>(
    mut read: impl FnMut(OpKind) -> V,
    mut write_now: impl FnMut(V),
    mut compare_and_swap: impl FnMut(V, V) -> Result<V, V>,
    mut f: impl FnMut(V) -> Option<V>,
) -> Result<V, V> {
    loop {
        let current = read(OpKind::AtomicRmw);
        let steps = runtime::trace_len();
        let Some(new) = f(current) else {
            return Err(current);
        };
        if runtime::trace_len() == steps {
            write_now(new);
            return Ok(current);
        }
        if compare_and_swap(current, new).is_ok() {
            return Ok(current);
        }
    }
}

/// The id of a shared atomic in this execution (registering it), or `None` when its own value
/// is this execution's. No scheduling point.
fn shared_id(
    object: &LazyObject,
    kind: &'static str,
    created_at: &'static Location<'static>,
    initial: u64,
    now: impl FnOnce() -> u64,
) -> Option<ObjectId> {
    runtime::try_with_state(|s| {
        let registered = register(s, object, kind, created_at, initial, now);
        registered.shared.then_some(registered.id)
    })
    .flatten()
}

/// Writes shared atomic `id`'s value in this execution.
fn set_shared_bits(id: ObjectId, bits: u64) {
    runtime::with_state("an atomic", |s| match s.object(id) {
        ObjectState::Atomic { bits: stored } => *stored = bits,
        _ => unreachable!("object is not an atomic"),
    });
}

/// The value of shared atomic `id` in this execution, read without a scheduling point.
fn peek_shared<V: AtomicBits>(
    object: &LazyObject,
    kind: &'static str,
    created_at: &'static Location<'static>,
    initial: u64,
    now: impl FnOnce() -> u64,
) -> Option<V> {
    runtime::try_with_state(|s| {
        let registered = register(s, object, kind, created_at, initial, now);
        if !registered.shared {
            return None;
        }
        match s.object(registered.id) {
            ObjectState::Atomic { bits } => Some(V::from_bits(*bits)),
            _ => unreachable!("object is not an atomic"),
        }
    })
    .flatten()
}

/// Records an atomic write for the race detector, when it runs, so a plain read of the atomic
/// (`unsync_load`) that nothing orders against it is a data race, as in loom.
fn note_atomic_write(object: &LazyObject, at: &'static Location<'static>) {
    runtime::try_with_state(|s| {
        if s.hb.is_none() {
            return;
        }
        let Some(registered) = object.lookup(s) else {
            return;
        };
        let task = s.current;
        let id = registered.id;
        let race = s.hb.as_mut().and_then(|hb| hb.atomic_write(task, id, at));
        if let Some(earlier) = race {
            crate::cell::report_race(s, id, true, at, earlier);
        }
    });
}

/// The release half of `order` for a write made without a scheduling point of its own (a
/// `fetch_update` whose closure reached none), and the write's record for `unsync_load`.
fn release_now(object: &LazyObject, order: Ordering, at: &'static Location<'static>) {
    if ordering_halves(order).1 {
        runtime::try_with_state(|s| {
            if let Some(registered) = object.lookup(s) {
                s.hb_release(registered.id);
            }
        });
    }
    note_atomic_write(object, at);
}

/// `unsync_load` inside a model: a plain read of the atomic, checked for a race with every
/// atomic write nothing orders before it.
fn check_unsync_load(
    object: &LazyObject,
    kind: &'static str,
    created_at: &'static Location<'static>,
    initial: u64,
    now: impl FnOnce() -> u64,
    at: &'static Location<'static>,
) {
    runtime::try_with_state(|s| {
        let id = register(s, object, kind, created_at, initial, now).id;
        crate::cell::check_access(s, id, false, at);
    });
}

/// An atomic's value as the 64 bits a shared atomic keeps in the execution.
trait AtomicBits: Copy {
    fn to_bits(self) -> u64;
    fn from_bits(bits: u64) -> Self;
}

macro_rules! atomic_bits {
    ($($value:ty),*) => {
        $(
            impl AtomicBits for $value {
                fn to_bits(self) -> u64 {
                    self as u64
                }
                fn from_bits(bits: u64) -> $value {
                    bits as $value
                }
            }
        )*
    };
}

atomic_bits!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

impl AtomicBits for bool {
    fn to_bits(self) -> u64 {
        u64::from(self)
    }
    fn from_bits(bits: u64) -> bool {
        bits != 0
    }
}

impl<T> AtomicBits for *mut T {
    fn to_bits(self) -> u64 {
        self as usize as u64
    }
    fn from_bits(bits: u64) -> *mut T {
        bits as usize as *mut T
    }
}

/// The failure ordering `compare_and_swap` uses for `order`, as std's deprecated one did.
fn failure_ordering(order: Ordering) -> Ordering {
    match order {
        Ordering::Release | Ordering::Relaxed => Ordering::Relaxed,
        Ordering::AcqRel | Ordering::Acquire => Ordering::Acquire,
        _ => Ordering::SeqCst,
    }
}

/// A memory fence. In a model it is a scheduling point, and it synchronises by the C++20
/// rules in the race detector: a `Release` fence before a `Relaxed` store publishes what came
/// before the fence to an acquire that reads the store, and an `Acquire` fence after a
/// `Relaxed` load learns what the store it read published. (The interleaving itself is already
/// sequentially consistent.)
///
/// ```
/// use selvedge::cell::UnsafeCell;
/// use selvedge::sync::{Arc, atomic::{fence, AtomicBool, Ordering}};
///
/// struct Data(UnsafeCell<i32>, AtomicBool);
/// unsafe impl Sync for Data {} // the model checks every access to the cell
///
/// selvedge::model(|| {
///     let data = Arc::new(Data(UnsafeCell::new(0), AtomicBool::new(false)));
///     let d = data.clone();
///     selvedge::thread::spawn(move || {
///         d.0.with_mut(|v| unsafe { *v = 42 });
///         fence(Ordering::Release);
///         d.1.store(true, Ordering::Relaxed);
///     });
///     if data.1.load(Ordering::Relaxed) {
///         fence(Ordering::Acquire);
///         assert_eq!(data.0.with(|v| unsafe { *v }), 42); // no data race: the fences order it
///     }
/// });
/// ```
#[track_caller]
pub fn fence(order: Ordering) {
    if !runtime::in_model() {
        return std::sync::atomic::fence(order);
    }
    let (acquire, release) = ordering_halves(order);
    assert!(
        acquire || release,
        "there is no such thing as a relaxed fence: `fence(Ordering::Relaxed)` (std panics \
         too); use `Acquire`, `Release`, `AcqRel` or `SeqCst`"
    );
    point_at(OpKind::Fence, None, Location::caller());
    runtime::with_state("selvedge::sync::atomic::fence", |s| {
        let task = s.current;
        if let Some(hb) = s.hb.as_mut() {
            hb.fence(task, acquire, release);
        }
    });
}

/// A compiler fence: not a scheduling point.
pub fn compiler_fence(order: Ordering) {
    std::sync::atomic::compiler_fence(order);
}

macro_rules! atomic_common {
    ($name:ident, $std:ty, $value:ty) => {
        #[doc = concat!("A model `", stringify!($name), "`, as `std::sync::atomic::", stringify!($name), "`.")]
        pub struct $name {
            object: LazyObject,
            created_at: &'static Location<'static>,
            /// What a `static` atomic starts every execution with.
            initial: $value,
            value: $std,
        }

        impl $name {
            #[track_caller]
            pub const fn new(value: $value) -> $name {
                $name {
                    object: LazyObject::new(),
                    created_at: Location::caller(),
                    initial: value,
                    value: <$std>::new(value),
                }
            }

            /// A scheduling point, then `f` on this execution's value.
            #[track_caller]
            fn access<R>(&self, op: OpKind, orders: (Ordering, Ordering), f: impl FnOnce(&$std) -> R) -> R {
                let initial = self.initial.to_bits();
                let now = || self.value.load(Ordering::SeqCst).to_bits();
                match before(&self.object, stringify!($name), self.created_at, initial, now, op, orders, Location::caller()) {
                    None => f(&self.value),
                    Some(id) => on_shared(id, <$std>::new, f, <$std>::into_inner),
                }
            }

            #[track_caller]
            pub fn load(&self, order: Ordering) -> $value {
                self.access(OpKind::AtomicLoad, (order, order), |v| v.load(order))
            }

            #[track_caller]
            pub fn store(&self, value: $value, order: Ordering) {
                self.access(OpKind::AtomicStore, (order, order), |v| v.store(value, order));
                note_atomic_write(&self.object, Location::caller());
            }

            #[track_caller]
            pub fn swap(&self, value: $value, order: Ordering) -> $value {
                let old = self.access(OpKind::AtomicRmw, (order, order), |v| v.swap(value, order));
                note_atomic_write(&self.object, Location::caller());
                old
            }

            #[track_caller]
            pub fn compare_exchange(
                &self,
                current: $value,
                new: $value,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$value, $value> {
                let result = self.access(OpKind::AtomicCas, (success, success), |v| {
                    v.compare_exchange(current, new, success, failure)
                });
                if result.is_ok() {
                    note_atomic_write(&self.object, Location::caller());
                }
                result
            }

            /// Never fails spuriously in a model.
            #[track_caller]
            pub fn compare_exchange_weak(
                &self,
                current: $value,
                new: $value,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$value, $value> {
                self.compare_exchange(current, new, success, failure)
            }

            /// loom's `compare_and_swap` (deprecated in std, not in loom, whose tests deny
            /// warnings): `compare_exchange` returning the previous value either way, with
            /// `order` for success and the strongest ordering `order` allows for failure.
            /// Prefer `compare_exchange`.
            #[track_caller]
            pub fn compare_and_swap(&self, current: $value, new: $value, order: Ordering) -> $value {
                match self.compare_exchange(current, new, order, failure_ordering(order)) {
                    Ok(previous) | Err(previous) => previous,
                }
            }

            #[track_caller]
            pub fn fetch_update<F>(
                &self,
                set_order: Ordering,
                fetch_order: Ordering,
                f: F,
            ) -> Result<$value, $value>
            where
                F: FnMut($value) -> Option<$value>,
            {
                if !runtime::in_model() {
                    return self.value.fetch_update(set_order, fetch_order, f);
                }
                let orders = (fetch_order, set_order);
                // The read only acquires: a closure that returns `None` writes nothing, so
                // publishes nothing; the write releases when (and if) it is made.
                fetch_update_model(
                    |op| self.access(op, (fetch_order, Ordering::Relaxed), |v| v.load(Ordering::SeqCst)),
                    |new| {
                        self.store_now(new);
                        release_now(&self.object, set_order, Location::caller());
                    },
                    |current, new| {
                        self.access(OpKind::AtomicCas, orders, |v| {
                            v.compare_exchange(current, new, Ordering::SeqCst, Ordering::SeqCst)
                        })
                    },
                    f,
                )
            }

            /// std's new name for [`Self::fetch_update`] (and shuttle's).
            #[track_caller]
            pub fn try_update<F>(
                &self,
                set_order: Ordering,
                fetch_order: Ordering,
                f: F,
            ) -> Result<$value, $value>
            where
                F: FnMut($value) -> Option<$value>,
            {
                self.fetch_update(set_order, fetch_order, f)
            }

            /// Replaces the value with `f(value)` and returns the previous value, as std's
            /// `update` (a [`Self::fetch_update`] that always writes).
            #[track_caller]
            pub fn update<F>(&self, set_order: Ordering, fetch_order: Ordering, mut f: F) -> $value
            where
                F: FnMut($value) -> $value,
            {
                match self.fetch_update(set_order, fetch_order, |v| Some(f(v))) {
                    Ok(previous) | Err(previous) => previous,
                }
            }

            /// Stores `value` in this execution's place for it, with no scheduling point.
            fn store_now(&self, value: $value) {
                let initial = self.initial.to_bits();
                let now = || self.value.load(Ordering::SeqCst).to_bits();
                match shared_id(&self.object, stringify!($name), self.created_at, initial, now) {
                    None => self.value.store(value, Ordering::SeqCst),
                    Some(id) => set_shared_bits(id, value.to_bits()),
                }
            }

            pub fn get_mut(&mut self) -> &mut $value {
                self.value.get_mut()
            }

            /// A raw pointer to the value. Accesses through it are not scheduling points, and
            /// in a model they reach the atomic's own storage, which a `static` atomic does not
            /// use (its value is per execution).
            pub const fn as_ptr(&self) -> *mut $value {
                self.value.as_ptr()
            }

            pub fn into_inner(self) -> $value {
                self.value.into_inner()
            }

            /// Reads without a scheduling point, as a plain (non-atomic) read: loom's
            /// `unsync_load`. Inside a model, an atomic write by another task that nothing
            /// orders before it is a `DataRace`.
            ///
            /// # Safety
            /// No other task may access the atomic concurrently.
            #[track_caller]
            pub unsafe fn unsync_load(&self) -> $value {
                let initial = self.initial.to_bits();
                let now = || self.value.load(Ordering::Relaxed).to_bits();
                check_unsync_load(&self.object, stringify!($name), self.created_at, initial, now, Location::caller());
                let now = || self.value.load(Ordering::Relaxed).to_bits();
                peek_shared(&self.object, stringify!($name), self.created_at, initial, now)
                    .unwrap_or_else(|| self.value.load(Ordering::Relaxed))
            }

            /// Runs `f` on the value with exclusive access (loom's `with_mut`).
            pub fn with_mut<R>(&mut self, f: impl FnOnce(&mut $value) -> R) -> R {
                f(self.value.get_mut())
            }
        }

        impl Default for $name {
            #[track_caller]
            fn default() -> $name {
                $name::new(Default::default())
            }
        }

        impl std::fmt::Debug for $name {
            /// This execution's value (a `static` keeps it in the execution), read without a
            /// scheduling point (and without a race check: printing is not an access).
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let initial = self.initial.to_bits();
                let now = || self.value.load(Ordering::Relaxed).to_bits();
                let value = peek_shared(&self.object, stringify!($name), self.created_at, initial, now)
                    .unwrap_or_else(|| self.value.load(Ordering::Relaxed));
                std::fmt::Debug::fmt(&value, f)
            }
        }

        impl From<$value> for $name {
            #[track_caller]
            fn from(value: $value) -> $name {
                $name::new(value)
            }
        }
    };
}

macro_rules! atomic_int {
    ($name:ident, $std:ty, $value:ty) => {
        atomic_common!($name, $std, $value);

        impl $name {
            atomic_int!(@rmw fetch_add, fetch_sub, fetch_and, fetch_nand, fetch_or, fetch_xor, fetch_max, fetch_min; $value);
        }
    };
    (@rmw $($method:ident),*; $value:ty) => {
        $(
            #[track_caller]
            pub fn $method(&self, value: $value, order: Ordering) -> $value {
                let old = self.access(OpKind::AtomicRmw, (order, order), |v| v.$method(value, order));
                note_atomic_write(&self.object, Location::caller());
                old
            }
        )*
    };
}

atomic_int!(AtomicU8, std::sync::atomic::AtomicU8, u8);
atomic_int!(AtomicU16, std::sync::atomic::AtomicU16, u16);
atomic_int!(AtomicU32, std::sync::atomic::AtomicU32, u32);
atomic_int!(AtomicU64, std::sync::atomic::AtomicU64, u64);
atomic_int!(AtomicUsize, std::sync::atomic::AtomicUsize, usize);
atomic_int!(AtomicI8, std::sync::atomic::AtomicI8, i8);
atomic_int!(AtomicI16, std::sync::atomic::AtomicI16, i16);
atomic_int!(AtomicI32, std::sync::atomic::AtomicI32, i32);
atomic_int!(AtomicI64, std::sync::atomic::AtomicI64, i64);
atomic_int!(AtomicIsize, std::sync::atomic::AtomicIsize, isize);

atomic_common!(AtomicBool, std::sync::atomic::AtomicBool, bool);

impl AtomicBool {
    atomic_int!(@rmw fetch_and, fetch_nand, fetch_or, fetch_xor; bool);

    #[track_caller]
    pub fn fetch_not(&self, order: Ordering) -> bool {
        let old = self.access(OpKind::AtomicRmw, (order, order), |v| {
            v.fetch_xor(true, order)
        });
        note_atomic_write(&self.object, Location::caller());
        old
    }
}

/// A model `AtomicPtr`, as `std::sync::atomic::AtomicPtr`.
pub struct AtomicPtr<T> {
    object: LazyObject,
    created_at: &'static Location<'static>,
    initial: *mut T,
    value: std::sync::atomic::AtomicPtr<T>,
}

unsafe impl<T> Send for AtomicPtr<T> {}
unsafe impl<T> Sync for AtomicPtr<T> {}

impl<T> AtomicPtr<T> {
    #[track_caller]
    pub const fn new(value: *mut T) -> AtomicPtr<T> {
        AtomicPtr {
            object: LazyObject::new(),
            created_at: Location::caller(),
            initial: value,
            value: std::sync::atomic::AtomicPtr::new(value),
        }
    }

    /// A scheduling point, then `f` on this execution's value.
    #[track_caller]
    fn access<R>(
        &self,
        op: OpKind,
        orders: (Ordering, Ordering),
        f: impl FnOnce(&std::sync::atomic::AtomicPtr<T>) -> R,
    ) -> R {
        let initial = self.initial.to_bits();
        let at = Location::caller();
        let now = || self.value.load(Ordering::SeqCst).to_bits();
        match before(
            &self.object,
            "AtomicPtr",
            self.created_at,
            initial,
            now,
            op,
            orders,
            at,
        ) {
            None => f(&self.value),
            Some(id) => on_shared(
                id,
                std::sync::atomic::AtomicPtr::new,
                f,
                std::sync::atomic::AtomicPtr::into_inner,
            ),
        }
    }

    #[track_caller]
    pub fn load(&self, order: Ordering) -> *mut T {
        self.access(OpKind::AtomicLoad, (order, order), |v| v.load(order))
    }

    #[track_caller]
    pub fn store(&self, value: *mut T, order: Ordering) {
        self.access(OpKind::AtomicStore, (order, order), |v| {
            v.store(value, order)
        });
        note_atomic_write(&self.object, Location::caller());
    }

    #[track_caller]
    pub fn swap(&self, value: *mut T, order: Ordering) -> *mut T {
        let old = self.access(OpKind::AtomicRmw, (order, order), |v| v.swap(value, order));
        note_atomic_write(&self.object, Location::caller());
        old
    }

    #[track_caller]
    pub fn compare_exchange(
        &self,
        current: *mut T,
        new: *mut T,
        success: Ordering,
        failure: Ordering,
    ) -> Result<*mut T, *mut T> {
        let result = self.access(OpKind::AtomicCas, (success, success), |v| {
            v.compare_exchange(current, new, success, failure)
        });
        if result.is_ok() {
            note_atomic_write(&self.object, Location::caller());
        }
        result
    }

    /// Never fails spuriously in a model.
    #[track_caller]
    pub fn compare_exchange_weak(
        &self,
        current: *mut T,
        new: *mut T,
        success: Ordering,
        failure: Ordering,
    ) -> Result<*mut T, *mut T> {
        self.compare_exchange(current, new, success, failure)
    }

    /// loom's `compare_and_swap`, as on the integer atomics. Prefer `compare_exchange`.
    #[track_caller]
    pub fn compare_and_swap(&self, current: *mut T, new: *mut T, order: Ordering) -> *mut T {
        match self.compare_exchange(current, new, order, failure_ordering(order)) {
            Ok(previous) | Err(previous) => previous,
        }
    }

    #[track_caller]
    pub fn fetch_update<F>(
        &self,
        set_order: Ordering,
        fetch_order: Ordering,
        f: F,
    ) -> Result<*mut T, *mut T>
    where
        F: FnMut(*mut T) -> Option<*mut T>,
    {
        if !runtime::in_model() {
            return self.value.fetch_update(set_order, fetch_order, f);
        }
        let orders = (fetch_order, set_order);
        // As on the integer atomics: the read only acquires, the write releases.
        fetch_update_model(
            |op| {
                self.access(op, (fetch_order, Ordering::Relaxed), |v| {
                    v.load(Ordering::SeqCst)
                })
            },
            |new| {
                let initial = self.initial.to_bits();
                let now = || self.value.load(Ordering::SeqCst).to_bits();
                match shared_id(&self.object, "AtomicPtr", self.created_at, initial, now) {
                    None => self.value.store(new, Ordering::SeqCst),
                    Some(id) => set_shared_bits(id, new.to_bits()),
                }
                release_now(&self.object, set_order, Location::caller());
            },
            |current, new| {
                self.access(OpKind::AtomicCas, orders, |v| {
                    v.compare_exchange(current, new, Ordering::SeqCst, Ordering::SeqCst)
                })
            },
            f,
        )
    }

    /// std's new name for [`Self::fetch_update`] (and shuttle's).
    #[track_caller]
    pub fn try_update<F>(
        &self,
        set_order: Ordering,
        fetch_order: Ordering,
        f: F,
    ) -> Result<*mut T, *mut T>
    where
        F: FnMut(*mut T) -> Option<*mut T>,
    {
        self.fetch_update(set_order, fetch_order, f)
    }

    /// Replaces the pointer with `f(pointer)` and returns the previous one, as std's `update`.
    #[track_caller]
    pub fn update<F>(&self, set_order: Ordering, fetch_order: Ordering, mut f: F) -> *mut T
    where
        F: FnMut(*mut T) -> *mut T,
    {
        match self.fetch_update(set_order, fetch_order, |p| Some(f(p))) {
            Ok(previous) | Err(previous) => previous,
        }
    }

    /// One read-modify-write of the pointer (a single scheduling point), returning the
    /// previous pointer.
    #[track_caller]
    fn rmw(&self, order: Ordering, f: impl Fn(*mut T) -> *mut T) -> *mut T {
        let old = self.access(OpKind::AtomicRmw, (order, order), |v| {
            let mut current = v.load(Ordering::SeqCst);
            loop {
                match v.compare_exchange(current, f(current), Ordering::SeqCst, Ordering::SeqCst) {
                    Ok(previous) => break previous,
                    Err(actual) => current = actual,
                }
            }
        });
        note_atomic_write(&self.object, Location::caller());
        old
    }

    /// Offsets the pointer by `val` elements of `T`, as std's `fetch_ptr_add`.
    #[track_caller]
    pub fn fetch_ptr_add(&self, val: usize, order: Ordering) -> *mut T {
        self.fetch_byte_add(val.wrapping_mul(std::mem::size_of::<T>()), order)
    }

    /// Offsets the pointer back by `val` elements of `T`, as std's `fetch_ptr_sub`.
    #[track_caller]
    pub fn fetch_ptr_sub(&self, val: usize, order: Ordering) -> *mut T {
        self.fetch_byte_sub(val.wrapping_mul(std::mem::size_of::<T>()), order)
    }

    /// Offsets the pointer by `val` bytes, as std's `fetch_byte_add`.
    #[track_caller]
    pub fn fetch_byte_add(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, |p| p.wrapping_byte_add(val))
    }

    /// Offsets the pointer back by `val` bytes, as std's `fetch_byte_sub`.
    #[track_caller]
    pub fn fetch_byte_sub(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, |p| p.wrapping_byte_sub(val))
    }

    /// Bitwise "or" of the address with `val`, keeping provenance, as std's `fetch_or`.
    #[track_caller]
    pub fn fetch_or(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, |p| with_address(p, (p as usize) | val))
    }

    /// Bitwise "and" of the address with `val`, keeping provenance, as std's `fetch_and`.
    #[track_caller]
    pub fn fetch_and(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, |p| with_address(p, (p as usize) & val))
    }

    /// Bitwise "xor" of the address with `val`, keeping provenance, as std's `fetch_xor`.
    #[track_caller]
    pub fn fetch_xor(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, |p| with_address(p, (p as usize) ^ val))
    }

    pub fn get_mut(&mut self) -> &mut *mut T {
        self.value.get_mut()
    }

    pub fn into_inner(self) -> *mut T {
        self.value.into_inner()
    }

    /// Reads without a scheduling point, as a plain read (loom's `unsync_load`); checked for
    /// races as on the integer atomics.
    ///
    /// # Safety
    /// No other task may access the atomic concurrently.
    #[track_caller]
    pub unsafe fn unsync_load(&self) -> *mut T {
        let initial = self.initial.to_bits();
        let now = || self.value.load(Ordering::Relaxed).to_bits();
        check_unsync_load(
            &self.object,
            "AtomicPtr",
            self.created_at,
            initial,
            now,
            Location::caller(),
        );
        peek_shared(&self.object, "AtomicPtr", self.created_at, initial, now)
            .unwrap_or_else(|| self.value.load(Ordering::Relaxed))
    }

    pub fn with_mut<R>(&mut self, f: impl FnOnce(&mut *mut T) -> R) -> R {
        f(self.value.get_mut())
    }
}

impl<T> Default for AtomicPtr<T> {
    #[track_caller]
    fn default() -> AtomicPtr<T> {
        AtomicPtr::new(std::ptr::null_mut())
    }
}

impl<T> std::fmt::Pointer for AtomicPtr<T> {
    /// This execution's pointer, read without a scheduling point.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let initial = self.initial.to_bits();
        let now = || self.value.load(Ordering::Relaxed).to_bits();
        let value: *mut T = peek_shared(&self.object, "AtomicPtr", self.created_at, initial, now)
            .unwrap_or_else(|| self.value.load(Ordering::Relaxed));
        std::fmt::Pointer::fmt(&value, f)
    }
}

impl<T> std::fmt::Debug for AtomicPtr<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.value, f)
    }
}

/// `p` moved to `address`, keeping its provenance (`pointer::with_addr`, which needs a newer
/// compiler than selvedge's minimum).
fn with_address<T>(p: *mut T, address: usize) -> *mut T {
    p.wrapping_byte_add(address.wrapping_sub(p as usize))
}

macro_rules! atomic_wide {
    ($name:ident, $value:ty) => {
        #[doc = concat!("A model `", stringify!($name), "` (shuttle has one; std's is unstable): every operation is a scheduling point inside a model. Its value lives behind a lock, so outside a model it is atomic but not lock-free; a `static` one cannot be used inside a model.")]
        pub struct $name {
            object: LazyObject,
            created_at: &'static Location<'static>,
            value: std::sync::Mutex<$value>,
        }

        impl $name {
            #[track_caller]
            pub const fn new(value: $value) -> $name {
                $name {
                    object: LazyObject::new(),
                    created_at: Location::caller(),
                    value: std::sync::Mutex::new(value),
                }
            }

            /// A scheduling point, then `f` on the value.
            #[track_caller]
            fn access<R>(&self, op: OpKind, orders: (Ordering, Ordering), f: impl FnOnce(&mut $value) -> R) -> R {
                let shared = before(&self.object, stringify!($name), self.created_at, 0, || 0, op, orders, Location::caller());
                if shared.is_some() {
                    panic!(
                        "the {} created at {} is a `static` (or was made outside the test body): \
                         its value cannot be reset between executions; create it inside the test body",
                        stringify!($name),
                        self.created_at
                    );
                }
                let mut value = self.value.lock().unwrap_or_else(|e| e.into_inner());
                f(&mut value)
            }

            #[track_caller]
            pub fn load(&self, order: Ordering) -> $value {
                self.access(OpKind::AtomicLoad, (order, order), |v| *v)
            }

            #[track_caller]
            pub fn store(&self, value: $value, order: Ordering) {
                self.access(OpKind::AtomicStore, (order, order), |v| *v = value);
                note_atomic_write(&self.object, Location::caller());
            }

            #[track_caller]
            pub fn swap(&self, value: $value, order: Ordering) -> $value {
                let old = self.access(OpKind::AtomicRmw, (order, order), |v| std::mem::replace(v, value));
                note_atomic_write(&self.object, Location::caller());
                old
            }

            #[track_caller]
            pub fn compare_exchange(
                &self,
                current: $value,
                new: $value,
                success: Ordering,
                _failure: Ordering,
            ) -> Result<$value, $value> {
                let result = self.access(OpKind::AtomicCas, (success, success), |v| {
                    if *v == current {
                        *v = new;
                        Ok(current)
                    } else {
                        Err(*v)
                    }
                });
                if result.is_ok() {
                    note_atomic_write(&self.object, Location::caller());
                }
                result
            }

            /// Never fails spuriously in a model.
            #[track_caller]
            pub fn compare_exchange_weak(
                &self,
                current: $value,
                new: $value,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$value, $value> {
                self.compare_exchange(current, new, success, failure)
            }

            #[track_caller]
            pub fn fetch_update<F>(
                &self,
                set_order: Ordering,
                fetch_order: Ordering,
                f: F,
            ) -> Result<$value, $value>
            where
                F: FnMut($value) -> Option<$value>,
            {
                if !runtime::in_model() {
                    let mut value = self.value.lock().unwrap_or_else(|e| e.into_inner());
                    let mut f = f;
                    return match f(*value) {
                        Some(new) => Ok(std::mem::replace(&mut *value, new)),
                        None => Err(*value),
                    };
                }
                fetch_update_model(
                    |op| self.access(op, (fetch_order, Ordering::Relaxed), |v| *v),
                    |new| {
                        *self.value.lock().unwrap_or_else(|e| e.into_inner()) = new;
                        release_now(&self.object, set_order, Location::caller());
                    },
                    |current, new| self.compare_exchange(current, new, set_order, fetch_order),
                    f,
                )
            }

            /// std's new name for [`Self::fetch_update`] (and shuttle's).
            #[track_caller]
            pub fn try_update<F>(&self, set_order: Ordering, fetch_order: Ordering, f: F) -> Result<$value, $value>
            where
                F: FnMut($value) -> Option<$value>,
            {
                self.fetch_update(set_order, fetch_order, f)
            }

            /// Replaces the value with `f(value)` and returns the previous value.
            #[track_caller]
            pub fn update<F>(&self, set_order: Ordering, fetch_order: Ordering, mut f: F) -> $value
            where
                F: FnMut($value) -> $value,
            {
                match self.fetch_update(set_order, fetch_order, |v| Some(f(v))) {
                    Ok(previous) | Err(previous) => previous,
                }
            }

            atomic_wide!(@rmw $value;
                fetch_add => |v: $value, x: $value| v.wrapping_add(x),
                fetch_sub => |v: $value, x: $value| v.wrapping_sub(x),
                fetch_and => |v: $value, x: $value| v & x,
                fetch_nand => |v: $value, x: $value| !(v & x),
                fetch_or => |v: $value, x: $value| v | x,
                fetch_xor => |v: $value, x: $value| v ^ x,
                fetch_max => |v: $value, x: $value| v.max(x),
                fetch_min => |v: $value, x: $value| v.min(x));

            pub fn get_mut(&mut self) -> &mut $value {
                self.value.get_mut().unwrap_or_else(|e| e.into_inner())
            }

            pub fn into_inner(self) -> $value {
                self.value.into_inner().unwrap_or_else(|e| e.into_inner())
            }
        }

        impl Default for $name {
            #[track_caller]
            fn default() -> $name {
                $name::new(0)
            }
        }

        impl From<$value> for $name {
            #[track_caller]
            fn from(value: $value) -> $name {
                $name::new(value)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&*self.value.lock().unwrap_or_else(|e| e.into_inner()), f)
            }
        }
    };
    (@rmw $value:ty; $($method:ident => $op:expr),*) => {
        $(
            #[track_caller]
            pub fn $method(&self, value: $value, order: Ordering) -> $value {
                let op = $op;
                let old = self.access(OpKind::AtomicRmw, (order, order), |v| {
                    let old = *v;
                    *v = op(old, value);
                    old
                });
                note_atomic_write(&self.object, Location::caller());
                old
            }
        )*
    };
}

atomic_wide!(AtomicU128, u128);
atomic_wide!(AtomicI128, i128);
