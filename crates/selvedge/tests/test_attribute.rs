//! `#[selvedge::test]` and `#[tokio::test]` (through `use selvedge::tokio;`): async and plain
//! test functions run under the model, every interleaving explored; tokio's arguments are
//! accepted; a returned `Err` fails the test.

use selvedge::sync::atomic::{AtomicU32, Ordering};
use selvedge::sync::Arc;
use selvedge::tokio;
use selvedge::tokio::sync::{mpsc, Mutex};

/// Runs in every execution of the model; counts them.
static EXECUTIONS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[selvedge::test]
async fn an_async_test_body_runs_under_the_model_in_every_interleaving() {
    EXECUTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let total = Arc::new(Mutex::new(0));
    let t = total.clone();
    let task = tokio::spawn(async move { *t.lock().await += 1 });
    *total.lock().await += 1;
    task.await.unwrap();
    assert_eq!(*total.lock().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_test_with_tokio_arguments_runs_under_the_model() {
    let (tx, mut rx) = mpsc::channel(1);
    tokio::spawn(async move { tx.send(5).await.unwrap() });
    assert_eq!(rx.recv().await, Some(5));
}

#[selvedge::test]
fn a_plain_test_body_runs_under_the_model() {
    let hits = Arc::new(AtomicU32::new(0));
    let h = hits.clone();
    let t = selvedge::thread::spawn(move || h.fetch_add(1, Ordering::SeqCst));
    hits.fetch_add(1, Ordering::SeqCst);
    t.join().unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[selvedge::test]
async fn a_body_returning_ok_passes() -> Result<(), String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    tx.send(1).map_err(|v| format!("receiver gone, kept {v}"))?;
    assert_eq!(rx.await.map_err(|e| e.to_string())?, 1);
    Ok(())
}

#[selvedge::test]
#[should_panic(expected = "the test returned an error: \"boom\"")]
async fn a_body_returning_err_fails_the_test() -> Result<(), &'static str> {
    Err("boom")
}

#[selvedge::test]
#[should_panic(expected = "selvedge found a panic")]
async fn a_lost_update_in_an_async_test_fails_with_the_report() {
    let value = Arc::new(AtomicU32::new(0));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let value = value.clone();
            tokio::spawn(async move {
                let v = value.load(Ordering::SeqCst);
                tokio::task::yield_now().await;
                value.store(v + 1, Ordering::SeqCst);
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(value.load(Ordering::SeqCst), 2, "an update was lost");
}

#[test]
fn the_attribute_ran_more_than_one_execution() {
    // The first test above has two tasks racing for a lock: DPOR runs both orders. libtest
    // may run that test at the same time as this one, so this one runs the body itself and
    // counts what its own run added (a concurrent run only adds more).
    let before = EXECUTIONS.load(std::sync::atomic::Ordering::SeqCst);
    an_async_test_body_runs_under_the_model_in_every_interleaving();
    let after = EXECUTIONS.load(std::sync::atomic::Ordering::SeqCst);
    assert!(after - before >= 2, "{before} then {after}");
}

#[selvedge::test]
async fn a_task_still_running_when_the_body_completes_is_cancelled_as_a_runtime_drop_would() {
    tokio::spawn(async {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await; // a ticker
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
}
