//! Async tasks: every execution builds a fresh tokio runtime (current-thread or multi-thread),
//! spawns each async task on it wrapped in a `Guarded` future, and drives it from a helper
//! thread until every task finished or was aborted.
//!
//! A `Guarded` future waits for its task's first turn before calling the task's closure, marks
//! every poll as acting for its task (so `syncpoint!().await` and `current()` know whose turn
//! it is, and a blocking syncpoint in it is refused), catches panics, and reports how the task
//! ended, also when it is dropped unfinished.
//!
//! Invariant: a syncpoint awaited by an async task returns `Pending` while another task holds
//! the turn, so no runtime thread is ever held by a waiting task.

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use super::stage::{Outcome, Stage};
use super::threads::{outcome, recording_panics};
use super::{acting_for, AsyncTask, Flavor, TaskToken};
use crate::syncpoint::Active;

/// A runtime running one execution's async tasks.
pub(crate) struct Launched {
    aborts: Vec<tokio::task::AbortHandle>,
    helper: JoinHandle<()>,
    done: mpsc::Receiver<()>,
}

pub(crate) fn launch<S: Send + Sync + 'static>(
    stage: Arc<Stage>,
    tasks: Vec<(usize, AsyncTask<S>)>,
    fixture: Arc<S>,
    flavor: Flavor,
) -> Result<Launched, String> {
    let mut builder = match flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread { workers } => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(workers);
            b
        }
    };
    let runtime = builder
        .enable_all()
        .thread_name("selvedge-tokio")
        .build()
        .map_err(|e| format!("the orchestra could not start a tokio runtime: {e}"))?;
    let handles: Vec<_> = tasks
        .into_iter()
        .map(|(index, body)| {
            runtime.spawn(Guarded {
                token: TaskToken {
                    stage: stage.clone(),
                    index,
                },
                state: State::Start {
                    body,
                    fixture: fixture.clone(),
                },
                _active: Active::enter(),
            })
        })
        .collect();
    let aborts = handles.iter().map(|h| h.abort_handle()).collect();
    let (tell, done) = mpsc::channel();
    let helper = std::thread::Builder::new()
        .name("selvedge-tokio-driver".to_string())
        .spawn(move || {
            runtime.block_on(async {
                for handle in handles {
                    let _ = handle.await;
                }
            });
            runtime.shutdown_background();
            let _ = tell.send(());
        })
        .map_err(|e| format!("the orchestra could not start its tokio driver thread: {e}"))?;
    Ok(Launched {
        aborts,
        helper,
        done,
    })
}

impl Launched {
    /// Aborts every task still running and waits at most `grace` for the runtime to stop; a
    /// runtime whose thread is held by blocking code is left behind.
    pub(crate) fn shut_down(self, grace: Duration) {
        for abort in &self.aborts {
            abort.abort();
        }
        if self.done.recv_timeout(grace).is_ok() {
            let _ = self.helper.join();
        }
    }
}

enum State<S> {
    Start { body: AsyncTask<S>, fixture: Arc<S> },
    Running(Pin<Box<dyn Future<Output = ()> + Send>>),
    Done,
}

struct Guarded<S> {
    token: TaskToken,
    state: State<S>,
    _active: Active,
}

impl<S> Guarded<S> {
    fn end(&mut self, outcome: Outcome) -> Poll<()> {
        self.state = State::Done;
        self.token.stage.finish(self.token.index, outcome);
        Poll::Ready(())
    }
}

// `Guarded` never pins its fields: the user's future is boxed.
impl<S> Unpin for Guarded<S> {}

impl<S> Future for Guarded<S> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Start { body, fixture } => {
                    match this.token.stage.poll_turn(this.token.index, 0, cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(false) => return this.end(Outcome::Abandoned),
                        Poll::Ready(true) => {}
                    }
                    let (body, fixture) = (body.clone(), fixture.clone());
                    let made = acting_for(&this.token, true, || {
                        recording_panics(|| {
                            panic::catch_unwind(AssertUnwindSafe(|| body(&fixture)))
                        })
                    });
                    match made {
                        Ok(future) => this.state = State::Running(future),
                        Err(e) => return this.end(outcome::<()>(Err(e))),
                    }
                }
                State::Running(future) => {
                    let polled = acting_for(&this.token, true, || {
                        recording_panics(|| {
                            panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx)))
                        })
                    });
                    return match polled {
                        Ok(Poll::Pending) => Poll::Pending,
                        Ok(Poll::Ready(())) => this.end(Outcome::Returned),
                        Err(e) => this.end(outcome::<()>(Err(e))),
                    };
                }
                State::Done => return Poll::Ready(()),
            }
        }
    }
}

impl<S> Drop for Guarded<S> {
    fn drop(&mut self) {
        if !matches!(self.state, State::Done) {
            // Aborted: the execution ended before the task did.
            self.token
                .stage
                .finish(self.token.index, Outcome::Abandoned);
        }
    }
}
