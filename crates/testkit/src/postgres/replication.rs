//! Streaming replication for the failover tests: a primary ([`Cluster::start_primary`]), a
//! standby that streams from it ([`Cluster::start_standby`]: a `pg_basebackup -R` copy in a
//! directory of its own, on a port of its own), and its promotion ([`Cluster::promote`]).
//! Each is a [`Cluster`] like any other: the same URL form, psql, stop, kill, start_again,
//! and Drop stops it and removes its directory, whichever is dropped first.
//!
//! A synchronous primary asks for its standby only once one streams
//! (`synchronous_standby_names = '*'` by ALTER SYSTEM, then a reload): set from the start,
//! every commit, the database's own creation included, would wait for a standby that does
//! not exist yet. The setting lives in the primary's postgresql.auto.conf, which WAL does
//! not carry, and every standby is told `synchronous_standby_names = ''` on top of what its
//! base backup copied: promoted, it is a primary with no standby, and a commit on it must
//! not wait for one.

use std::io;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::{checked, private_dir, Cluster, USER};

/// How long a standby may take to copy, start, stream, and (synchronous) be the one the
/// primary waits for; and how long a catch-up may take.
const DEADLINE: Duration = Duration::from_secs(60);
/// Between two looks at the server's state.
const POLL: Duration = Duration::from_millis(20);

/// What a primary's commit waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replication {
    /// Only its own WAL on disk: a standby may lack the last commits when the primary dies.
    Asynchronous,
    /// Also the standby's flush of it (`synchronous_standby_names = '*'`,
    /// `synchronous_commit = on`): whatever a client saw committed is on the standby.
    Synchronous,
}

impl Cluster {
    /// [`Cluster::start`] for a primary that standbys can stream from: `wal_level =
    /// replica`, WAL senders, and pg_hba letting `thingstray` replicate from 127.0.0.1
    /// (trust, as everything here). `replication` says what its commits will wait for once
    /// [`Cluster::start_standby`] has a standby streaming.
    pub fn start_primary(replication: Replication) -> io::Result<Cluster> {
        let bin = super::bindir()?;
        let (root, owner) = private_dir()?;
        let mut cluster = Cluster { root, bin, port: 0, owner, replication: Some(replication) };
        cluster.init()?;
        cluster.append_to(
            "postgresql.conf",
            "\n# thingstray-testkit: a primary\nwal_level = replica\nmax_wal_senders = 10\n\
             hot_standby = on\nsynchronous_commit = on\n",
        )?;
        cluster.append_to("pg_hba.conf", &format!("\nhost replication {USER} 127.0.0.1/32 trust\n"))?;
        cluster.listen()?;
        cluster.create_database(super::DATABASE)?;
        Ok(cluster)
    }

    /// A standby of this primary: `pg_basebackup -R -X stream` into a new directory, its
    /// own port and socket directory, started, and returned once it is in recovery and the
    /// primary shows it streaming (and, for a synchronous primary, as the standby its
    /// commits wait for). An error for a cluster not started with [`Cluster::start_primary`].
    pub fn start_standby(&self) -> io::Result<Cluster> {
        let Some(replication) = self.replication else {
            let msg = "start_standby: this cluster is not a primary (start it with Cluster::start_primary)";
            return Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
        };
        let (root, owner) = private_dir()?;
        // From here on Drop removes the directory whatever fails next.
        let mut standby = Cluster { root, bin: self.bin.clone(), port: 0, owner, replication: None };
        let mut cmd = standby.command("pg_basebackup", true);
        cmd.args(["-R", "-X", "stream", "-c", "fast", "--no-sync", "-h", "127.0.0.1", "-U", USER, "-p"]);
        cmd.arg(self.port.to_string()).arg("-D").arg(standby.data_dir());
        let out = cmd.stdin(Stdio::null()).output().map_err(|e| standby.spawn_error("pg_basebackup", e))?;
        checked("pg_basebackup", out).map_err(|e| standby.owner_hint(e))?;
        // The copy names the primary's socket directory, removed with the primary: its own.
        // cluster_name is what the primary's pg_stat_replication calls it.
        let sockets = standby.root.to_string_lossy().replace('\'', "''");
        let name = standby.name();
        standby.append_to(
            "postgresql.conf",
            &format!(
                "\n# thingstray-testkit: a standby\nunix_socket_directories = '{sockets}'\ncluster_name = '{name}'\n"
            ),
        )?;
        // After -R's primary_conninfo, and over any synchronous_standby_names the copy took
        // from the primary: promoted, it waits for nobody.
        standby.append_to("postgresql.auto.conf", "synchronous_standby_names = ''\n")?;
        standby.listen()?;
        poll("the standby in recovery", || standby.in_recovery())?;
        let walsender = format!("FROM pg_stat_replication WHERE application_name = '{name}'");
        poll("the standby streaming", || {
            Ok(self.psql(&format!("SELECT count(*) {walsender} AND state = 'streaming'"))? == "1")
        })?;
        if replication == Replication::Synchronous {
            self.psql("ALTER SYSTEM SET synchronous_standby_names = '*'")?;
            self.psql("SELECT pg_reload_conf()")?;
            poll("the standby synchronous", || {
                Ok(self.psql(&format!("SELECT count(*) {walsender} AND sync_state = 'sync'"))? == "1")
            })?;
        }
        Ok(standby)
    }

    /// Promotes a standby to a primary (`pg_ctl promote -w`): when this returns it is out
    /// of recovery and takes writes.
    pub fn promote(&self) -> io::Result<()> {
        let mut cmd = self.command("pg_ctl", true);
        cmd.args(["promote", "-w", "-s", "-t", "60", "-D"]).arg(self.data_dir());
        let out = cmd.stdin(Stdio::null()).output().map_err(|e| self.spawn_error("pg_ctl", e))?;
        checked("pg_ctl promote", out).map(drop)?;
        if self.in_recovery()? {
            return Err(io::Error::other("pg_ctl promote returned, and the server is still in recovery"));
        }
        Ok(())
    }

    /// Whether the server is a standby (`pg_is_in_recovery()`).
    pub fn in_recovery(&self) -> io::Result<bool> {
        Ok(self.psql("SELECT pg_is_in_recovery()")? == "t")
    }

    /// Waits until this standby has replayed everything `primary` had written when this
    /// was called (its `pg_current_wal_lsn()`): a commit made before is readable here.
    pub fn catch_up(&self, primary: &Cluster) -> io::Result<()> {
        let lsn = primary.psql("SELECT pg_current_wal_lsn()")?;
        let valid = !lsn.is_empty() && lsn.bytes().all(|b| b.is_ascii_hexdigit() || b == b'/');
        if !valid {
            return Err(io::Error::other(format!("pg_current_wal_lsn() said {lsn:?}")));
        }
        let sql = format!("SELECT coalesce(pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn, false)");
        poll(&format!("the standby replaying up to {lsn}"), || Ok(self.psql(&sql)? == "t"))
    }

    /// The name the primary knows a standby by: its directory's, unique on this machine.
    fn name(&self) -> String {
        let dir = self.root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        dir.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    }
}

/// Checks `cond` every [`POLL`] until it holds, for at most [`DEADLINE`]; an error from
/// it counts as "not yet" (a server still starting refuses connections), and the last one
/// is in the timeout's message.
fn poll(what: &str, mut cond: impl FnMut() -> io::Result<bool>) -> io::Result<()> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let last = match cond() {
            Ok(true) => return Ok(()),
            Ok(false) => String::from("not yet"),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            let msg = format!("timed out after {} s waiting for {what} ({last})", DEADLINE.as_secs());
            return Err(io::Error::new(io::ErrorKind::TimedOut, msg));
        }
        std::thread::sleep(POLL);
    }
}
