//! A crate that renamed selvedge to `tokio` in Cargo.toml (`tokio = { package = "selvedge" }`)
//! writes `#[tokio::test]` and `tokio::...` as it did with tokio, and its test bodies run
//! under the model: the attribute finds selvedge under its new name.

#[tokio::test]
async fn a_tokio_test_body_runs_unchanged_under_the_renamed_crate() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move { tx.send(7).unwrap() });
    assert_eq!(rx.await, Ok(7));
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn it_runs_under_the_model_not_a_real_runtime() {
    // Only a model has a virtual clock: an hour passes at once.
    let start = tokio::time::Instant::now();
    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    assert_eq!(start.elapsed(), std::time::Duration::from_secs(3600));
}
