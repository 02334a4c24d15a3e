//! `Arc` and `Weak`, mirroring std's, with what a model needs of them: the allocation is
//! tracked for the leak check (an `Arc` still alive when every task finished is a
//! `FailureKind::Leak` naming where it was created), and its drops carry happens-before as
//! std's `Release` decrement and `Acquire` fence do, so a destructor that reads what other
//! threads wrote before dropping their clones is not a data race. loom's raw-pointer API
//! (`into_raw`, `from_raw`, `increment_strong_count`, ...) round-trips the tracking.
//!
//! Invariants:
//! - Reference counting is not a scheduling point (one task runs at a time, so counts are
//!   exact); the task that frees the value is whichever drops last in the explored
//!   interleaving.
//! - The value lives in a `std::sync::Arc`, so memory is managed exactly as std's; the model
//!   only keeps a count beside it (`alloc::Allocations`), per execution.
//! - Outside a model nothing is tracked: it is std's `Arc` with a word more.
//!
//! ```
//! use selvedge::sync::Arc;
//!
//! let report = selvedge::explore(selvedge::Config::default(), || {
//!     let a = Arc::new(5);
//!     let raw = Arc::into_raw(a.clone());
//!     // Forgot `unsafe { Arc::from_raw(raw) }`: the count never reaches zero.
//!     let _ = raw;
//! });
//! assert_eq!(report.failure().unwrap().kind(), selvedge::FailureKind::Leak);
//! ```

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::panic::Location;
use std::pin::Pin;

use crate::alloc::{self, AllocationKind, Tracked};
use crate::runtime::OpKind;

/// A thread-safe reference-counted pointer, as `std::sync::Arc`, tracked by the model for
/// leaks and happens-before (see the module docs).
///
/// Coercion to an unsized type (`Arc<dyn Trait>`) needs a nightly-only trait; build such an
/// `Arc` from std's with [`Arc::from_std`] or `From`, as with loom's.
///
/// ```
/// use selvedge::sync::Arc;
///
/// selvedge::model(|| {
///     let a = Arc::new(vec![1, 2]);
///     let b = Arc::clone(&a);
///     assert!(Arc::ptr_eq(&a, &b));
///     assert_eq!(Arc::strong_count(&a), 2);
///     drop(b);
///     assert_eq!(Arc::try_unwrap(a).unwrap(), vec![1, 2]);
/// });
/// ```
pub struct Arc<T: ?Sized> {
    value: ManuallyDrop<std::sync::Arc<T>>,
    tracked: Option<Tracked>,
}

/// A weak reference to an [`Arc`]'s value, as `std::sync::Weak`.
pub struct Weak<T: ?Sized> {
    value: std::sync::Weak<T>,
    tracked: Option<Tracked>,
}

fn address<T: ?Sized>(ptr: *const T) -> usize {
    ptr as *const () as usize
}

impl<T> Arc<T> {
    /// Allocates `value`, tracked from here.
    #[track_caller]
    pub fn new(value: T) -> Arc<T> {
        Arc::from_std_at(std::sync::Arc::new(value), Location::caller())
    }

    /// A pinned `Arc`, as `std::sync::Arc::pin`.
    #[track_caller]
    pub fn pin(value: T) -> Pin<Arc<T>> {
        // SAFETY: the value is never moved out of its allocation while pinned (as std's).
        unsafe { Pin::new_unchecked(Arc::new(value)) }
    }

    /// An `Arc` to a value that holds a `Weak` to itself, as `std::sync::Arc::new_cyclic`.
    #[track_caller]
    pub fn new_cyclic<F>(data_fn: F) -> Arc<T>
    where
        F: FnOnce(&Weak<T>) -> T,
    {
        let at = Location::caller();
        let tracked = alloc::track(AllocationKind::Arc, at, None);
        let std = std::sync::Arc::new_cyclic(|weak| {
            data_fn(&Weak {
                value: weak.clone(),
                tracked,
            })
        });
        // The address is known only now; make the allocation findable by it.
        alloc::set_address(tracked, address(std::sync::Arc::as_ptr(&std)));
        Arc {
            value: ManuallyDrop::new(std),
            tracked,
        }
    }

    /// The value if this is the only strong reference, as `std::sync::Arc::try_unwrap`.
    #[track_caller]
    pub fn try_unwrap(this: Arc<T>) -> Result<T, Arc<T>> {
        count_point();
        alloc::acquire(this.tracked);
        let (value, tracked) = this.into_parts();
        match std::sync::Arc::try_unwrap(value) {
            Ok(value) => {
                alloc::release(tracked);
                Ok(value)
            }
            Err(value) => Err(Arc {
                value: ManuallyDrop::new(value),
                tracked,
            }),
        }
    }

    /// The value if this is the only strong reference, else drops this one, as
    /// `std::sync::Arc::into_inner`.
    #[track_caller]
    pub fn into_inner(this: Arc<T>) -> Option<T> {
        count_point();
        alloc::acquire(this.tracked);
        let (value, tracked) = this.into_parts();
        alloc::release(tracked);
        std::sync::Arc::into_inner(value)
    }

    /// The value, cloned if other references exist, as `std::sync::Arc::unwrap_or_clone`.
    #[track_caller]
    pub fn unwrap_or_clone(this: Arc<T>) -> T
    where
        T: Clone,
    {
        Arc::try_unwrap(this).unwrap_or_else(|arc| (*arc).clone())
    }
}

impl<T: ?Sized> Arc<T> {
    /// Converts std's `Arc`, which must be unique, as loom's `from_std`: the way to an
    /// `Arc<dyn Trait>` or `Arc<[T]>`.
    ///
    /// ```
    /// use selvedge::sync::Arc;
    ///
    /// selvedge::model(|| {
    ///     let std: std::sync::Arc<dyn Fn() -> u32 + Send + Sync> = std::sync::Arc::new(|| 7);
    ///     let f: Arc<dyn Fn() -> u32 + Send + Sync> = Arc::from_std(std);
    ///     assert_eq!(f(), 7);
    /// });
    /// ```
    ///
    /// # Panics
    /// If `std` has other strong references.
    #[track_caller]
    pub fn from_std(std: std::sync::Arc<T>) -> Arc<T> {
        assert_eq!(
            std::sync::Arc::strong_count(&std),
            1,
            "the `std::sync::Arc` given to `Arc::from_std` is not unique: selvedge can only \
             count the references it sees made"
        );
        Arc::from_std_at(std, Location::caller())
    }

    fn from_std_at(std: std::sync::Arc<T>, at: &'static Location<'static>) -> Arc<T> {
        let address = address(std::sync::Arc::as_ptr(&std));
        let tracked = alloc::track(AllocationKind::Arc, at, Some(address));
        Arc {
            value: ManuallyDrop::new(std),
            tracked,
        }
    }

    /// Takes the std `Arc` and the tracking out without dropping.
    fn into_parts(self) -> (std::sync::Arc<T>, Option<Tracked>) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped or used again; the field is moved out once.
        let value = unsafe { ManuallyDrop::take(&mut this.value) };
        (value, this.tracked)
    }

    /// This reference as std's `Arc`, leaving the model's tracking (for APIs that need std's,
    /// such as tokio's owned guards).
    pub(crate) fn into_std(self) -> std::sync::Arc<T> {
        let (value, tracked) = self.into_parts();
        alloc::release(tracked);
        value
    }

    /// Strong references to the value, as `std::sync::Arc::strong_count` (not a scheduling
    /// point: the count as it stands in this interleaving).
    #[track_caller]
    pub fn strong_count(this: &Arc<T>) -> usize {
        count_point();
        alloc::acquire(this.tracked);
        std::sync::Arc::strong_count(&this.value)
    }

    /// Weak references to the value, as `std::sync::Arc::weak_count`.
    #[track_caller]
    pub fn weak_count(this: &Arc<T>) -> usize {
        count_point();
        std::sync::Arc::weak_count(&this.value)
    }

    /// Do both point to the same allocation? As `std::sync::Arc::ptr_eq`.
    pub fn ptr_eq(this: &Arc<T>, other: &Arc<T>) -> bool {
        std::sync::Arc::ptr_eq(&this.value, &other.value)
    }

    /// A pointer to the value, as `std::sync::Arc::as_ptr`.
    pub fn as_ptr(this: &Arc<T>) -> *const T {
        std::sync::Arc::as_ptr(&this.value)
    }

    /// The value mutably if no other reference exists, as `std::sync::Arc::get_mut`.
    #[track_caller]
    pub fn get_mut(this: &mut Arc<T>) -> Option<&mut T> {
        count_point();
        alloc::acquire(this.tracked);
        std::sync::Arc::get_mut(&mut this.value)
    }

    /// A `Weak` to the value, as `std::sync::Arc::downgrade`.
    pub fn downgrade(this: &Arc<T>) -> Weak<T> {
        Weak {
            value: std::sync::Arc::downgrade(&this.value),
            tracked: this.tracked,
        }
    }

    /// Gives up this reference as a raw pointer, as `std::sync::Arc::into_raw`; the count
    /// stays until [`Arc::from_raw`] takes it back (else the execution fails as a leak).
    pub fn into_raw(this: Arc<T>) -> *const T {
        let (value, _) = this.into_parts();
        std::sync::Arc::into_raw(value)
    }

    /// Takes back a reference given up by [`Arc::into_raw`], as `std::sync::Arc::from_raw`.
    ///
    /// # Safety
    /// As `std::sync::Arc::from_raw`.
    pub unsafe fn from_raw(ptr: *const T) -> Arc<T> {
        Arc {
            // SAFETY: the caller keeps `std::sync::Arc::from_raw`'s contract.
            value: ManuallyDrop::new(unsafe { std::sync::Arc::from_raw(ptr) }),
            tracked: alloc::find(address(ptr)),
        }
    }

    /// One more strong reference through a raw pointer, as
    /// `std::sync::Arc::increment_strong_count`.
    ///
    /// # Safety
    /// As `std::sync::Arc::increment_strong_count`.
    pub unsafe fn increment_strong_count(ptr: *const T) {
        // SAFETY: the caller keeps std's contract.
        unsafe { std::sync::Arc::increment_strong_count(ptr) };
        alloc::retain(alloc::find(address(ptr)));
    }

    /// One strong reference fewer through a raw pointer, as
    /// `std::sync::Arc::decrement_strong_count`.
    ///
    /// # Safety
    /// As `std::sync::Arc::decrement_strong_count`.
    pub unsafe fn decrement_strong_count(ptr: *const T) {
        // SAFETY: the caller keeps std's contract; `from_raw` takes the reference back and the
        // drop gives it up, counting and synchronising as any drop does.
        drop(unsafe { Arc::from_raw(ptr) });
    }
}

impl<T: Clone> Arc<T> {
    /// The value mutably, cloned first if other references exist, as
    /// `std::sync::Arc::make_mut`.
    #[track_caller]
    pub fn make_mut(this: &mut Arc<T>) -> &mut T {
        if Arc::get_mut(this).is_none() {
            *this = Arc::new((**this).clone());
        }
        Arc::get_mut(this).expect("a fresh Arc is unique")
    }
}

impl<T: ?Sized> Clone for Arc<T> {
    fn clone(&self) -> Arc<T> {
        alloc::retain(self.tracked);
        Arc {
            value: self.value.clone(),
            tracked: self.tracked,
        }
    }
}

impl<T: ?Sized> Drop for Arc<T> {
    fn drop(&mut self) {
        // Counted (and synchronised) before the value may be dropped, as std's decrement
        // comes before its destructor call.
        alloc::release(self.tracked);
        // SAFETY: dropped once, here.
        unsafe { ManuallyDrop::drop(&mut self.value) };
    }
}

impl<T: ?Sized> Deref for Arc<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: ?Sized> AsRef<T> for Arc<T> {
    fn as_ref(&self) -> &T {
        &self.value
    }
}

impl<T: ?Sized> Borrow<T> for Arc<T> {
    fn borrow(&self) -> &T {
        &self.value
    }
}

impl<T: Default> Default for Arc<T> {
    #[track_caller]
    fn default() -> Arc<T> {
        Arc::new(T::default())
    }
}

impl<T> From<T> for Arc<T> {
    #[track_caller]
    fn from(value: T) -> Arc<T> {
        Arc::new(value)
    }
}

impl<T: ?Sized> From<std::sync::Arc<T>> for Arc<T> {
    #[track_caller]
    fn from(std: std::sync::Arc<T>) -> Arc<T> {
        Arc::from_std(std)
    }
}

impl<T: ?Sized> From<Box<T>> for Arc<T> {
    #[track_caller]
    fn from(value: Box<T>) -> Arc<T> {
        Arc::from_std_at(std::sync::Arc::from(value), Location::caller())
    }
}

impl From<&str> for Arc<str> {
    #[track_caller]
    fn from(value: &str) -> Arc<str> {
        Arc::from_std_at(std::sync::Arc::from(value), Location::caller())
    }
}

impl From<String> for Arc<str> {
    #[track_caller]
    fn from(value: String) -> Arc<str> {
        Arc::from_std_at(std::sync::Arc::from(value), Location::caller())
    }
}

impl<T> From<Vec<T>> for Arc<[T]> {
    #[track_caller]
    fn from(value: Vec<T>) -> Arc<[T]> {
        Arc::from_std_at(std::sync::Arc::from(value), Location::caller())
    }
}

impl<T> FromIterator<T> for Arc<[T]> {
    #[track_caller]
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Arc<[T]> {
        Arc::from_std_at(iter.into_iter().collect(), Location::caller())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Arc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for Arc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized> fmt::Pointer for Arc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Pointer::fmt(&Arc::as_ptr(self), f)
    }
}

impl<T: ?Sized + PartialEq> PartialEq for Arc<T> {
    fn eq(&self, other: &Arc<T>) -> bool {
        **self == **other
    }
}

impl<T: ?Sized + Eq> Eq for Arc<T> {}

impl<T: ?Sized + PartialOrd> PartialOrd for Arc<T> {
    fn partial_cmp(&self, other: &Arc<T>) -> Option<Ordering> {
        (**self).partial_cmp(&**other)
    }
}

impl<T: ?Sized + Ord> Ord for Arc<T> {
    fn cmp(&self, other: &Arc<T>) -> Ordering {
        (**self).cmp(&**other)
    }
}

impl<T: ?Sized + Hash> Hash for Arc<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl<T: ?Sized> Unpin for Arc<T> {}

impl<T> Weak<T> {
    /// A `Weak` that points nowhere, as `std::sync::Weak::new`.
    pub const fn new() -> Weak<T> {
        Weak {
            value: std::sync::Weak::new(),
            tracked: None,
        }
    }
}

impl<T: ?Sized> Weak<T> {
    /// A strong reference if the value is still alive, as `std::sync::Weak::upgrade`.
    #[track_caller]
    pub fn upgrade(&self) -> Option<Arc<T>> {
        count_point();
        let value = self.value.upgrade()?;
        alloc::retain(self.tracked);
        Some(Arc {
            value: ManuallyDrop::new(value),
            tracked: self.tracked,
        })
    }

    /// Strong references to the value, as `std::sync::Weak::strong_count`.
    #[track_caller]
    pub fn strong_count(&self) -> usize {
        count_point();
        self.value.strong_count()
    }

    /// Weak references to the value, as `std::sync::Weak::weak_count`.
    #[track_caller]
    pub fn weak_count(&self) -> usize {
        count_point();
        self.value.weak_count()
    }

    /// Do both point to the same allocation? As `std::sync::Weak::ptr_eq`.
    pub fn ptr_eq(&self, other: &Weak<T>) -> bool {
        self.value.ptr_eq(&other.value)
    }

    /// A pointer to the value, as `std::sync::Weak::as_ptr`.
    pub fn as_ptr(&self) -> *const T {
        self.value.as_ptr()
    }
}

impl<T: ?Sized> Clone for Weak<T> {
    fn clone(&self) -> Weak<T> {
        Weak {
            value: self.value.clone(),
            tracked: self.tracked,
        }
    }
}

impl<T> Default for Weak<T> {
    fn default() -> Weak<T> {
        Weak::new()
    }
}

impl<T: ?Sized> fmt::Debug for Weak<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(Weak)")
    }
}

/// Reading a reference count is a scheduling point that conflicts with every other step
/// (`OpKind::ArcCount`): clones and drops are not scheduling points, so no narrower dependency
/// would let DPOR try the count before and after each step that may have changed it. Nothing
/// outside a model's task.
#[track_caller]
fn count_point() {
    if crate::runtime::try_with_state(|s| s.in_task()).unwrap_or(false) {
        crate::runtime::point_at(OpKind::ArcCount, None, Location::caller());
    }
}
