//! The throwaway PostgreSQL cluster: it starts, serves, and always goes away — after a drop,
//! a panic, a failed start, or a killed owner — and each way it cannot start says why.
//!
//! Each test makes its clusters under a parent directory of its own, so "nothing is left
//! behind" is checked by that directory being empty.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use selvedge_sql::postgres::{ClusterBuilder, TempCluster};
use selvedge_sql::ErrorKind;

/// A parent directory the server's user can enter (we may be root, the server may not).
fn parent() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn builder(parent: &Path) -> ClusterBuilder {
    TempCluster::builder().parent_dir(parent)
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

fn server_pid(cluster: &TempCluster) -> i32 {
    let text = std::fs::read_to_string(cluster.path().join("data/postmaster.pid")).unwrap();
    text.lines().next().unwrap().parse().unwrap()
}

fn alive(pid: i32) -> bool {
    // A zombie is gone for our purposes: it serves nothing and holds no port.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .split_whitespace()
            .nth(2)
            .is_none_or(|state| state != "Z"),
        Err(_) => false,
    }
}

#[test]
fn a_cluster_serves_fresh_databases_and_is_removed_on_drop() {
    let parent = parent();
    let cluster = builder(parent.path()).start().unwrap();
    let pid = server_pid(&cluster);
    let first = cluster.create_database().unwrap();
    let second = cluster.create_database().unwrap();
    assert_ne!(first, second);
    assert!(
        first.starts_with(&format!(
            "postgresql://postgres@127.0.0.1:{}/selvedge_",
            cluster.port()
        )),
        "{first}"
    );
    let mut client = postgres::Client::connect(&first, postgres::NoTls).unwrap();
    client
        .batch_execute("CREATE TABLE t (v int); INSERT INTO t VALUES (41)")
        .unwrap();
    let v: i32 = client.query_one("SELECT v + 1 FROM t", &[]).unwrap().get(0);
    assert_eq!(v, 42);
    let mut other = postgres::Client::connect(&second, postgres::NoTls).unwrap();
    let tables: i64 = other
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "a new database is empty");
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        // PostgreSQL refuses root: the server runs as another user.
        let backend: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .unwrap()
            .get(0);
        let status = std::fs::read_to_string(format!("/proc/{backend}/status")).unwrap();
        let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        let uid: u32 = uid_line.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert_ne!(uid, 0, "{uid_line}");
    }
    drop((client, other));
    drop(cluster);
    assert!(!alive(pid), "the server process is gone");
    assert_eq!(
        entries(parent.path()),
        Vec::<PathBuf>::new(),
        "the cluster directory is gone"
    );
}

#[test]
fn a_panicking_test_still_removes_its_cluster() {
    let parent = parent();
    let mut pid = 0;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let cluster = builder(parent.path()).start().unwrap();
        pid = server_pid(&cluster);
        assert!(alive(pid));
        panic!("the test fails while the cluster runs");
    }));
    assert!(outcome.is_err());
    assert!(!alive(pid), "the server process is gone");
    assert_eq!(entries(parent.path()), Vec::<PathBuf>::new());
}

#[test]
fn a_port_in_use_is_a_clear_error_and_leaves_nothing_behind() {
    let parent = parent();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = builder(parent.path()).port(port).start().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PortInUse);
    assert_eq!(
        err.to_string(),
        format!(
            "port `{port}` on 127.0.0.1 is in use by another program; choose another with `ClusterBuilder::port`, \
             or leave it unset for a free one"
        )
    );
    assert_eq!(entries(parent.path()), Vec::<PathBuf>::new());
}

#[test]
fn a_server_that_cannot_start_says_why_and_leaves_nothing_behind() {
    let parent = parent();
    let err = builder(parent.path())
        .setting("shared_buffers", "lots")
        .start()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerStart);
    let message = err.to_string();
    assert!(
        message.starts_with("the PostgreSQL server exited while starting"),
        "{message}"
    );
    assert!(
        message.contains("shared_buffers"),
        "the log line naming the setting is quoted: {message}"
    );
    assert_eq!(entries(parent.path()), Vec::<PathBuf>::new());

    let err = builder(parent.path())
        .bin_dir("/nonexistent/bin")
        .start()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerNotInstalled);
    assert_eq!(
        err.to_string(),
        "`/nonexistent/bin` has no `initdb`; point `ClusterBuilder::bin_dir` at a PostgreSQL `bin` directory \
         (Debian's is `/usr/lib/postgresql/<version>/bin`)"
    );
    assert_eq!(entries(parent.path()), Vec::<PathBuf>::new());
}

#[test]
fn a_cluster_whose_owner_was_killed_is_swept_by_the_next_start() {
    let parent = parent();
    let orphan = builder(parent.path()).start().unwrap();
    let orphan_pid = server_pid(&orphan);
    let orphan_path = orphan.path().to_owned();
    // Pretend the owner was killed outright: its pid is a process that has exited, and its
    // cluster is never dropped.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    std::fs::write(orphan_path.join("owner.pid"), dead_pid.to_string()).unwrap();
    std::mem::forget(orphan);

    let next = builder(parent.path()).start().unwrap();
    assert!(!orphan_path.exists(), "the orphan's directory was removed");
    assert!(!alive(orphan_pid), "the orphan's server was stopped");
    drop(next);
    assert_eq!(entries(parent.path()), Vec::<PathBuf>::new());
}
