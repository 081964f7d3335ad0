//! A primary and its streaming standby (thingstray_testkit::postgres, replication): the
//! standby follows, refuses writes, and once promoted takes them; a synchronous standby
//! has every commit the primary acknowledged when the primary crashes; Drop removes both.

use std::time::Instant;

use thingstray_testkit::postgres::{Cluster, Replication};

fn pair(replication: Replication) -> (Cluster, Cluster) {
    let began = Instant::now();
    let primary = Cluster::start_primary(replication).expect("start_primary");
    let standby = primary.start_standby().expect("start_standby");
    println!("a primary and a standby ({replication:?}) took {:?}", began.elapsed());
    (primary, standby)
}

#[test]
fn a_standby_follows_refuses_writes_and_takes_them_once_promoted() {
    let (primary, standby) = pair(Replication::Asynchronous);
    assert_ne!(primary.port(), standby.port());
    assert_ne!(primary.data_dir(), standby.data_dir());
    assert!(standby.url().ends_with(&format!(":{}/thingstray", standby.port())), "{}", standby.url());
    assert!(!primary.in_recovery().expect("primary"));
    assert!(standby.in_recovery().expect("standby"));
    let streaming = primary.psql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'");
    assert_eq!(streaming.expect("psql"), "1");
    assert_eq!(primary.psql("SHOW synchronous_standby_names").expect("psql"), "");

    primary.psql("CREATE TABLE t (n int); INSERT INTO t VALUES (1)").expect("psql");
    standby.catch_up(&primary).expect("catch_up");
    assert_eq!(standby.psql("SELECT n FROM t").expect("the standby has the row"), "1");
    let err = standby.psql("INSERT INTO t VALUES (2)").expect_err("a standby is read-only");
    assert!(err.to_string().contains("read-only"), "{err}");

    primary.kill().expect("kill");
    standby.promote().expect("promote");
    assert!(!standby.in_recovery().expect("promoted"));
    standby.psql("INSERT INTO t VALUES (2)").expect("the promoted standby takes writes");
    assert_eq!(standby.psql("SELECT n FROM t ORDER BY n").expect("psql"), "1\n2");
}

/// What a synchronous standby is for: a commit the primary answered is on the standby,
/// with no catch-up, when the primary crashes right after it.
#[test]
fn a_synchronous_standby_has_every_acknowledged_commit() {
    let (primary, standby) = pair(Replication::Synchronous);
    assert_eq!(primary.psql("SHOW synchronous_standby_names").expect("psql"), "*");
    let sync = primary.psql("SELECT sync_state FROM pg_stat_replication").expect("psql");
    assert_eq!(sync, "sync");
    primary.psql("CREATE TABLE t (n int)").expect("psql");
    for n in 1..=20 {
        primary.psql(&format!("INSERT INTO t VALUES ({n})")).expect("insert");
    }
    primary.kill().expect("kill");
    standby.promote().expect("promote");
    assert_eq!(standby.psql("SELECT count(*), max(n) FROM t").expect("psql"), "20|20");
    // Promoted, it waits for no standby of its own: a commit returns.
    assert_eq!(standby.psql("SHOW synchronous_standby_names").expect("psql"), "");
    standby.psql("INSERT INTO t VALUES (21)").expect("a commit on the promoted standby");
}

#[test]
fn a_stopped_standby_misses_what_the_primary_commits_meanwhile() {
    let (primary, standby) = pair(Replication::Asynchronous);
    primary.psql("CREATE TABLE t (n int); INSERT INTO t VALUES (1)").expect("psql");
    standby.catch_up(&primary).expect("catch_up");
    standby.stop().expect("stop the standby");
    primary.psql("INSERT INTO t VALUES (2)").expect("an asynchronous primary commits alone");
    primary.kill().expect("kill");
    standby.start_again().expect("the standby starts again, its primary gone");
    standby.promote().expect("promote");
    assert_eq!(standby.psql("SELECT n FROM t ORDER BY n").expect("psql"), "1", "the second commit is lost");
}

#[test]
fn only_a_primary_has_standbys() {
    let plain = Cluster::start().expect("start");
    let err = plain.start_standby().err().expect("not a primary");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
}

#[test]
fn drop_removes_both_whichever_goes_first() {
    for primary_first in [true, false] {
        let (primary, standby) = pair(Replication::Synchronous);
        let dirs = [primary.data_dir(), standby.data_dir()];
        if primary_first {
            drop(primary);
            drop(standby);
        } else {
            drop(standby);
            drop(primary);
        }
        for dir in dirs {
            assert!(!dir.parent().expect("root").exists(), "{} removed", dir.display());
        }
    }
}
