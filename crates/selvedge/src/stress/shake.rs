//! What a `syncpoint!` does on a harness thread: remember it as the thread's last syncpoint
//! (the watchdog names it), then maybe yield or sleep a little, as `Shake` says.
//!
//! Invariant: only the harness's own worker threads carry a `Shaker`; the hook finds nothing on
//! any other thread and returns.

use std::cell::RefCell;
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::builder::Shake;
use super::run::Slot;

pub(crate) struct Shaker {
    pub(crate) slot: Arc<Slot>,
    pub(crate) rng: fastrand::Rng,
    pub(crate) shake: Shake,
    pub(crate) start: Instant,
}

thread_local! {
    static SHAKER: RefCell<Option<Shaker>> = const { RefCell::new(None) };
}

/// Makes syncpoints on this thread report to `shaker` until the returned guard is dropped.
pub(crate) fn install(shaker: Shaker) -> Installed {
    SHAKER.with(|s| *s.borrow_mut() = Some(shaker));
    Installed {
        _hook: crate::syncpoint_hook::install(at_syncpoint),
    }
}

pub(crate) struct Installed {
    _hook: crate::syncpoint_hook::Installed,
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = SHAKER.try_with(|s| s.borrow_mut().take());
    }
}

fn at_syncpoint(name: Option<&'static str>, location: &'static Location<'static>) {
    let pause = SHAKER.with(|s| {
        // A syncpoint reached from inside the shake itself (it never is) or during teardown
        // finds the cell borrowed or empty and does nothing.
        let Ok(mut shaker) = s.try_borrow_mut() else {
            return Pause::None;
        };
        let Some(shaker) = shaker.as_mut() else {
            return Pause::None;
        };
        shaker
            .slot
            .passed_syncpoint(name, location, shaker.start.elapsed());
        let draw = shaker.rng.f64();
        let shake = shaker.shake;
        if draw < shake.yield_chance {
            Pause::Yield
        } else if draw < shake.yield_chance + shake.sleep_chance {
            let max_ns = shake.max_sleep.as_nanos().min(u64::MAX as u128) as u64;
            Pause::Sleep(Duration::from_nanos(shaker.rng.u64(1..=max_ns.max(1))))
        } else {
            Pause::None
        }
    });
    match pause {
        Pause::None => {}
        Pause::Yield => std::thread::yield_now(),
        Pause::Sleep(d) => std::thread::sleep(d),
    }
}

enum Pause {
    None,
    Yield,
    Sleep(Duration),
}
