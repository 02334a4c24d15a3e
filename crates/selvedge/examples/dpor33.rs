use selvedge::sync::{Arc, Mutex};
fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(10);
    for _ in 0..reps {
        let r = selvedge::explore(
            selvedge::Config {
                strategy: selvedge::Strategy::Dpor,
                workers: Some(1),
                ..Default::default()
            },
            || {
                let c = Arc::new(Mutex::new(0u64));
                let hs: Vec<_> = (0..3)
                    .map(|_| {
                        let c = c.clone();
                        selvedge::thread::spawn(move || {
                            for _ in 0..3 {
                                *c.lock().unwrap() += 1;
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().unwrap();
                }
                assert_eq!(*c.lock().unwrap(), 9);
            },
        );
        assert!(r.complete() && r.schedules() == 1_680);
    }
}
