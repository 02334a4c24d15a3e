//! `task_local!`: a value set for the duration of a future's polls (`scope`) or a closure
//! (`sync_scope`), seen only by the task running it.
//!
//! Built on selvedge's per-task `thread_local!`: every task of the model has its own slot, so
//! a value set in one task is never seen by another, even when the task switches at a
//! scheduling point in the middle of a poll.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A task-local key declared with [`task_local!`](crate::tokio::task_local).
pub struct LocalKey<T: 'static> {
    slot: &'static crate::thread::LocalKey<RefCell<Option<T>>>,
}

/// `with` was called outside any `scope` of the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessError(());

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task-local value not set")
    }
}

impl std::error::Error for AccessError {}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn new(slot: &'static crate::thread::LocalKey<RefCell<Option<T>>>) -> LocalKey<T> {
        LocalKey { slot }
    }

    /// Runs `future` with the key set to `value` during each of its polls.
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F> {
        TaskLocalFuture {
            key: self,
            value: Some(value),
            future,
        }
    }

    /// Runs `f` with the key set to `value`.
    pub fn sync_scope<F: FnOnce() -> R, R>(&'static self, value: T, f: F) -> R {
        let mut value = Some(value);
        let _restore = self.enter(&mut value);
        f()
    }

    /// Puts `value` in this task's slot until the guard is dropped, which puts it back.
    fn enter<'a>(&'static self, value: &'a mut Option<T>) -> Restore<'a, T> {
        let previous = self.slot.with(|slot| slot.replace(value.take()));
        Restore {
            key: self,
            value,
            previous,
        }
    }

    /// Runs `f` with the value; panics outside a `scope` of the key.
    #[track_caller]
    pub fn with<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> R {
        match self.try_with(f) {
            Ok(r) => r,
            Err(_) => panic!(
                "a task-local value was read outside any `scope` of its key: wrap the future in \
                 `KEY.scope(value, future)` (or the closure in `KEY.sync_scope(value, f)`)"
            ),
        }
    }

    /// Runs `f` with the value, or errs outside a `scope` of the key.
    pub fn try_with<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> Result<R, AccessError> {
        self.slot.with(|slot| match slot.borrow().as_ref() {
            Some(value) => Ok(f(value)),
            None => Err(AccessError(())),
        })
    }

    /// A copy of the value; panics outside a `scope` of the key.
    #[track_caller]
    pub fn get(&'static self) -> T
    where
        T: Copy,
    {
        self.with(|v| *v)
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalKey { .. }")
    }
}

/// Puts the scope's value back and the previous one in, also when unwinding.
struct Restore<'a, T: 'static> {
    key: &'static LocalKey<T>,
    value: &'a mut Option<T>,
    previous: Option<T>,
}

impl<T: 'static> Drop for Restore<'_, T> {
    fn drop(&mut self) {
        let previous = self.previous.take();
        *self.value = self.key.slot.with(|slot| slot.replace(previous));
    }
}

/// The future of [`LocalKey::scope`].
pub struct TaskLocalFuture<T: 'static, F> {
    key: &'static LocalKey<T>,
    value: Option<T>,
    future: F,
}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned (never moved out); `value` is not.
        let this = unsafe { self.get_unchecked_mut() };
        let key = this.key;
        let _restore = key.enter(&mut this.value);
        // SAFETY: as above.
        unsafe { Pin::new_unchecked(&mut this.future) }.poll(cx)
    }
}

impl<T: 'static, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaskLocalFuture { .. }")
    }
}

/// Declares task-local values, as `tokio::task_local!`: set one with `KEY.scope(value, fut)`
/// and read it with `KEY.with(|v| ..)` or `KEY.get()` inside.
///
/// ```
/// selvedge::tokio::task_local! {
///     static REQUEST: u32;
/// }
///
/// selvedge::model(|| {
///     let task = selvedge::future::spawn(REQUEST.scope(2, async { REQUEST.get() }));
///     let here = selvedge::future::block_on(REQUEST.scope(1, async {
///         selvedge::future::yield_now().await;
///         REQUEST.get()
///     }));
///     assert_eq!(here, 1);
///     assert_eq!(selvedge::future::block_on(task).unwrap(), 2);
/// });
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty; $($rest:tt)*) => {
        $crate::task_local!($(#[$attr])* $vis static $name: $t);
        $crate::task_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty) => {
        $(#[$attr])* $vis static $name: $crate::tokio::task::LocalKey<$t> = {
            $crate::thread_local! {
                static __SELVEDGE_TASK_LOCAL: ::std::cell::RefCell<::std::option::Option<$t>> =
                    ::std::cell::RefCell::new(::std::option::Option::None);
            }
            $crate::tokio::task::LocalKey::new(&__SELVEDGE_TASK_LOCAL)
        };
    };
}
