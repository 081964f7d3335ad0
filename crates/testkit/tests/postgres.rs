//! The private PostgreSQL harness (thingstray_testkit::postgres) against the real server:
//! start, SQL, a clean restart and a crash keep the data, two at once, and Drop leaves no
//! directory and no process behind. Run with `--nocapture` to see how long a start takes.

use std::fs;
use std::path::Path;
use std::time::Instant;
use thingstray_testkit::postgres::Cluster;

fn start() -> Cluster {
    let began = Instant::now();
    let cluster = Cluster::start().expect("Cluster::start");
    println!("Cluster::start() took {:?} ({})", began.elapsed(), cluster.bin_dir().display());
    cluster
}

/// Whether a process runs (a zombie does not: it waits only for a parent to reap it).
fn running(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the ")" that ends the command name.
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// The server and its children (checkpointer, walwriter...), whose command lines no longer
/// name the data directory: found by their parent.
fn server_processes(postmaster: u32) -> Vec<u32> {
    let mut pids = vec![postmaster];
    for entry in fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let ppid = stat.rsplit_once(") ").and_then(|(_, rest)| rest.split(' ').nth(1)?.parse::<u32>().ok());
        if ppid == Some(postmaster) {
            pids.push(pid);
        }
    }
    pids
}

/// Any live process whose command line names the directory.
fn processes_naming(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        if String::from_utf8_lossy(&cmdline).contains(&needle) && running(pid) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn starts_and_answers_sql() {
    let cluster = start();
    assert_eq!(cluster.psql("select 1").expect("psql"), "1");
    assert!(cluster.url().starts_with("postgres://thingstray@127.0.0.1:"), "{}", cluster.url());
    assert!(cluster.url().ends_with(&format!(":{}/thingstray", cluster.port())), "{}", cluster.url());
    // Listening on loopback only, and the directory's socket, nowhere else.
    let addresses = cluster.psql("show listen_addresses").expect("psql");
    assert_eq!(addresses, "127.0.0.1");
    // Rows: one a line, columns separated by |, no command tags.
    let rows = cluster
        .psql("create table t (a int, b text); insert into t values (1, 'x'), (2, 'y'); select * from t order by a");
    assert_eq!(rows.expect("psql"), "1|x\n2|y");
    // An error is an error, with the server's message.
    let err = cluster.psql("select * from nowhere").expect_err("no such table");
    assert!(err.to_string().contains("nowhere"), "{err}");
}

#[test]
fn a_clean_restart_keeps_the_data_and_the_port() {
    let cluster = start();
    let url = cluster.url();
    cluster.psql("create table kept (n int); insert into kept values (42)").expect("psql");
    cluster.stop().expect("stop");
    assert!(cluster.pid().is_none(), "stopped, the server has no pid file");
    assert!(cluster.psql("select 1").is_err(), "stopped, nothing answers");
    cluster.start_again().expect("start_again");
    assert_eq!(cluster.url(), url, "same port, so clients' URLs still work");
    assert_eq!(cluster.psql("select n from kept").expect("psql"), "42");
}

#[test]
fn a_crash_keeps_committed_data() {
    let cluster = start();
    cluster.psql("create table kept (n int); insert into kept values (7)").expect("psql");
    let pid = cluster.pid().expect("running");
    cluster.kill().expect("kill");
    assert!(!running(pid), "the server is gone after kill");
    cluster.start_again().expect("start_again after a crash");
    assert_eq!(cluster.psql("select n from kept").expect("psql"), "7");
}

#[test]
fn two_clusters_at_once_are_apart() {
    let (a, b) = (start(), start());
    assert_ne!(a.port(), b.port());
    assert_ne!(a.data_dir(), b.data_dir());
    a.psql("create table only_in_a (n int)").expect("psql a");
    assert!(b.psql("select * from only_in_a").is_err(), "b has its own data");
    assert_eq!(b.psql("select 2").expect("psql b"), "2");
}

#[test]
fn more_databases() {
    let cluster = start();
    let url = cluster.create_database("second_db").expect("create_database");
    assert_eq!(url, cluster.url_for("second_db"));
    let names = cluster.psql("select datname from pg_database where datname like '%_db' order by 1");
    assert_eq!(names.expect("psql"), "second_db");
    assert!(cluster.create_database("bad name; drop").is_err(), "names are checked");
}

#[test]
fn drop_stops_the_server_and_removes_the_directory() {
    let cluster = start();
    let root = cluster.data_dir().parent().expect("data dir's parent").to_path_buf();
    let pids = server_processes(cluster.pid().expect("running"));
    assert!(pids.len() > 1, "a postmaster and its children: {pids:?}");
    assert!(!processes_naming(&root).is_empty(), "the postmaster names its data directory");
    drop(cluster);
    assert!(!root.exists(), "{} removed", root.display());
    let left: Vec<u32> = pids.into_iter().filter(|&pid| running(pid)).collect();
    assert!(left.is_empty(), "server processes left: {left:?}");
    assert!(processes_naming(&root).is_empty(), "no process names the directory");
}

#[test]
fn drop_after_a_panic_stops_the_server() {
    let mut seen = None;
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let cluster = start();
        seen = Some((cluster.data_dir(), cluster.pid().expect("running")));
        panic!("a test fails while its cluster runs");
    }));
    assert!(panicked.is_err());
    let (data, pid) = seen.expect("started");
    assert!(!data.exists(), "{} removed", data.display());
    assert!(!running(pid), "the server stopped");
}

/// The server killed from outside (SIGKILL: the OOM killer, a stray kill): its pid file is
/// stale, and Drop must still remove everything without killing whoever has that pid now.
#[test]
fn drop_after_the_server_was_killed_from_outside() {
    let cluster = start();
    let (data, pid) = (cluster.data_dir(), cluster.pid().expect("running"));
    let status = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().expect("kill");
    assert!(status.success());
    while running(pid) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(cluster.pid().is_some(), "the pid file outlives the server");
    drop(cluster);
    assert!(!data.exists(), "{} removed", data.display());
}
