//! A private PostgreSQL for one test run: its own data directory in a temporary directory,
//! its own loopback port, never the machine's system cluster (Debian's package starts one on
//! 5432 when it is installed; nothing here touches it). The session store's tests, the proof
//! and the benchmarks start one with [`Cluster::start`]; dropping it stops the server and
//! removes everything, also when the test panics.
//!
//! Blocking `std::process` only, no tokio, so any test (sync or async) can use it.
//!
//! Root: PostgreSQL refuses to run as root, and CI runs the tests as root. Then the server
//! programs (initdb, pg_ctl and the postgres it starts) run as the `postgres` system user,
//! which Debian's package creates, by setting the child's uid and gid with std's
//! `CommandExt` (what `setpriv` does, without a program in between: std drops the
//! supplementary groups when root sets a uid). Not `runuser` or `su`: both open a PAM
//! session on every call (a journal line per pg_ctl, and su's PAM stack may want a
//! terminal), for nothing we need. The temporary directory is chowned to that user. psql,
//! a client, runs as whoever runs the test. As a normal user, everything runs as that user.

use std::fs;
use std::io::{self, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

mod replication;
pub use replication::Replication;

/// The superuser initdb creates, and the database [`Cluster::start`] creates: fixed names,
/// so the URL does not depend on who runs the test.
const USER: &str = "thingstray";
const DATABASE: &str = "thingstray";
/// How many free ports to try when another process takes ours between our picking it and
/// the server binding it.
const PORT_TRIES: usize = 5;

/// A private PostgreSQL server: its data directory in a temporary directory, listening on
/// 127.0.0.1 on a free port, trusting every connection (loopback only: tests need no
/// passwords). Dropping it stops the server (immediate) and removes the directory.
pub struct Cluster {
    /// The temporary directory: `data/` (the cluster), `log` (the server's), and the unix
    /// socket, here rather than /var/run/postgresql, which only the postgres user may write.
    root: PathBuf,
    /// Where initdb, pg_ctl, postgres and psql are.
    bin: PathBuf,
    port: u16,
    /// The uid and gid the server programs run as, when the test runs as root.
    owner: Option<(u32, u32)>,
    /// A primary's wish for its standbys ([`Cluster::start_primary`]); None otherwise.
    replication: Option<Replication>,
}

impl Cluster {
    /// initdb, start the server on a free loopback port (`pg_ctl start -w`: it accepts
    /// connections when this returns), and create the database [`Cluster::url`] names.
    pub fn start() -> io::Result<Cluster> {
        let bin = bindir()?;
        let (root, owner) = private_dir()?;
        // From here on the directory is the cluster's: Drop removes it whatever fails next.
        let mut cluster = Cluster { root, bin, port: 0, owner, replication: None };
        cluster.init()?;
        cluster.listen()?;
        cluster.create_database(DATABASE)?;
        Ok(cluster)
    }

    /// `postgres://thingstray@127.0.0.1:PORT/thingstray`: the superuser, no password.
    pub fn url(&self) -> String {
        self.url_for(DATABASE)
    }

    /// The URL of another database of this cluster (see [`Cluster::create_database`]).
    pub fn url_for(&self, database: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a database and returns its URL. Names are letters, digits and `_`, so they
    /// need no quoting in SQL or in the URL.
    pub fn create_database(&self, name: &str) -> io::Result<String> {
        let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            let msg = format!("database name {name:?}: use letters, digits and _ only");
            return Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
        }
        // CREATE DATABASE cannot run in a transaction; psql -c sends it alone, as it must.
        let url = format!("postgres://{USER}@127.0.0.1:{}/postgres", self.port);
        self.psql_at(&url, &format!("CREATE DATABASE \"{name}\""))?;
        Ok(self.url_for(name))
    }

    /// The loopback port the server listens on (the same across stop and start_again).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data directory (removed on Drop).
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Where the PostgreSQL programs were found.
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// The server's process id while it runs (its postmaster.pid), else None.
    pub fn pid(&self) -> Option<u32> {
        let text = fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// A clean shutdown (`pg_ctl stop -m fast`): sessions are ended, the data is kept.
    pub fn stop(&self) -> io::Result<()> {
        self.pg_ctl_stop("fast")
    }

    /// Starts the stopped (or killed) server again: same data directory, same port, so
    /// clients holding [`Cluster::url`] reconnect to it ("the database restarted mid-run").
    pub fn start_again(&self) -> io::Result<()> {
        self.pg_ctl_start()
    }

    /// An immediate stop (`pg_ctl stop -m immediate`): the server quits without a
    /// checkpoint, as in a crash; the next start recovers from the WAL.
    pub fn kill(&self) -> io::Result<()> {
        self.pg_ctl_stop("immediate")
    }

    /// Runs SQL with psql against [`Cluster::url`]'s database and returns what it prints:
    /// rows unaligned, `|` between columns, one row a line, no headers or command tags,
    /// without the last newline (`psql("select 1")` is `"1"`). Statements run one after the
    /// other, each in its own transaction unless the SQL says BEGIN; the first error stops
    /// it and is returned with psql's message.
    pub fn psql(&self, sql: &str) -> io::Result<String> {
        self.psql_at(&self.url(), sql)
    }

    fn psql_at(&self, url: &str, sql: &str) -> io::Result<String> {
        let mut cmd = self.command("psql", false);
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", "-"]);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| self.spawn_error("psql", e))?;
        // Write from a thread: a long output could fill the stdout pipe while we write.
        let mut stdin = child.stdin.take().ok_or_else(|| io::Error::other("psql: no stdin"))?;
        let sql = sql.to_owned();
        let writer = std::thread::spawn(move || stdin.write_all(sql.as_bytes()));
        let out = child.wait_with_output()?;
        // A write error means psql quit early: its own error (below) says why.
        let _ = writer.join();
        let out = checked("psql", out)?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.ends_with('\n') {
            text.pop();
        }
        Ok(text)
    }

    /// initdb: trust for local and host connections (the server listens only on
    /// 127.0.0.1), a C locale (a fresh machine may have no other), and `--no-sync`: a test
    /// cluster need not survive a power cut, and fsyncs make initdb and every commit slow.
    fn init(&self) -> io::Result<()> {
        let mut cmd = self.command("initdb", true);
        cmd.args(["--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C", "-U", USER, "-D"]);
        cmd.arg(self.data_dir());
        let out = cmd.stdin(Stdio::null()).output().map_err(|e| self.spawn_error("initdb", e))?;
        checked("initdb", out).map_err(|e| self.owner_hint(e))?;
        // fsync and full_page_writes off: they only protect against the machine losing
        // power (the kernel's page cache), which tests never do. A crash of the server,
        // what kill() makes, loses nothing committed without them. synchronous_commit
        // stays on: off, a commit returns before its WAL leaves the server's memory, and
        // an immediate stop loses it, so a crash test would see a commit vanish.
        let sockets = self.root.to_string_lossy().replace('\'', "''");
        let settings = format!(
            "\n# thingstray-testkit: a private test cluster\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{sockets}'\nfsync = off\nfull_page_writes = off\n"
        );
        self.append_to("postgresql.conf", &settings)
    }

    /// Appends lines to a file of the data directory (a later setting wins over an
    /// earlier one of the same name).
    fn append_to(&self, file: &str, text: &str) -> io::Result<()> {
        fs::OpenOptions::new().append(true).open(self.data_dir().join(file))?.write_all(text.as_bytes())
    }

    /// Starts the server on a free port, another one when something took it meanwhile.
    fn listen(&mut self) -> io::Result<()> {
        let mut last = None;
        for _ in 0..PORT_TRIES {
            self.port = free_port()?;
            match self.pg_ctl_start() {
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
                done => return done,
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("postgres: no free port")))
    }

    /// `pg_ctl start -w` on self.port; an AddrInUse error when the port was taken.
    fn pg_ctl_start(&self) -> io::Result<()> {
        let log = self.root.join("log");
        // Only this start's lines explain this start's failure.
        let seen = fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        let mut cmd = self.command("pg_ctl", true);
        cmd.args(["start", "-w", "-s", "-t", "60", "-D"]).arg(self.data_dir()).arg("-l").arg(&log);
        cmd.arg("-o").arg(format!("-p {}", self.port));
        // The server writes to the log (-l), not to our pipes, so output() returns.
        let out = cmd.stdin(Stdio::null()).output().map_err(|e| self.spawn_error("pg_ctl", e))?;
        if out.status.success() {
            return Ok(());
        }
        let text = fs::read(&log).unwrap_or_default();
        let tail = String::from_utf8_lossy(text.get(seen as usize..).unwrap_or_default()).into_owned();
        let kind =
            if tail.contains("Address already in use") { io::ErrorKind::AddrInUse } else { io::ErrorKind::Other };
        let pg_ctl = String::from_utf8_lossy(&out.stderr);
        let msg = format!("pg_ctl start on port {}: {}\n{}", self.port, pg_ctl.trim(), tail.trim());
        Err(self.owner_hint(io::Error::new(kind, msg)))
    }

    fn pg_ctl_stop(&self, mode: &str) -> io::Result<()> {
        let mut cmd = self.command("pg_ctl", true);
        cmd.args(["stop", "-w", "-s", "-t", "60", "-m", mode, "-D"]).arg(self.data_dir());
        let out = cmd.stdin(Stdio::null()).output().map_err(|e| self.spawn_error("pg_ctl", e))?;
        checked("pg_ctl stop", out).map(drop)
    }

    /// A PostgreSQL program from the bindir, in the temporary directory (the postgres user
    /// may not be allowed into the test's own working directory), English messages (the
    /// port clash is recognised by its text), and none of the caller's PG* variables
    /// (PGDATA, PGPORT, PGHOST... would aim it at another cluster). `server`: run as the
    /// server's owner.
    fn command(&self, program: &str, server: bool) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        cmd.current_dir(&self.root).env("LC_ALL", "C");
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PG") {
                cmd.env_remove(name);
            }
        }
        if let (true, Some((uid, gid))) = (server, self.owner) {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    /// A program that would not start: missing (the bindir lost it), or, as root, the
    /// postgres user not let into the directory (the chdir before exec fails).
    fn spawn_error(&self, program: &str, e: io::Error) -> io::Error {
        if e.kind() == io::ErrorKind::NotFound {
            let msg = format!("could not run {}: {e} (run scripts/setup)", self.bin.join(program).display());
            return io::Error::new(e.kind(), msg);
        }
        self.owner_hint(io::Error::new(e.kind(), format!("could not run {program}: {e}")))
    }

    /// As root, the commonest failure is the postgres user not reaching the directory.
    fn owner_hint(&self, e: io::Error) -> io::Error {
        if self.owner.is_none() {
            return e;
        }
        let hint = format!(
            "(running as root, the server runs as the `postgres` user, which must be able to reach {}: \
             if TMPDIR points into a private directory, set TMPDIR=/tmp)",
            self.root.display()
        );
        io::Error::new(e.kind(), format!("{e}\n{hint}"))
    }
}

impl Drop for Cluster {
    /// Stops the server (immediate: nothing to keep) and removes the directory. Runs when a
    /// test panics too. Not when the test process is killed outright (SIGKILL, a CI
    /// timeout): then the server outlives it, in a directory named thingstray-pg-PID-N.
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            if let Err(e) = self.kill() {
                // The last resort, and only for our postmaster: pg_ctl fails precisely when
                // the pid file is stale, and its pid may now be anyone's.
                let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains(&*self.data_dir().to_string_lossy()) {
                    eprintln!("testkit postgres: pg_ctl stop failed ({e}); killing {pid}");
                    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
                }
            }
        }
        if let Err(e) = fs::remove_dir_all(&self.root) {
            eprintln!("testkit postgres: could not remove {}: {e}", self.root.display());
        }
    }
}

/// The directory with PostgreSQL's programs: `pg_config --bindir` when it has them (on
/// Debian a wrapper from postgresql-common, or libpq-dev's), else the newest
/// /usr/lib/postgresql/VERSION/bin (where Debian's postgresql-VERSION puts them, off PATH),
/// else the directory of the initdb on PATH.
fn bindir() -> io::Result<PathBuf> {
    let complete = |dir: &Path| ["initdb", "pg_ctl", "postgres", "psql"].iter().all(|p| dir.join(p).is_file());
    let pg_config = Command::new("pg_config").arg("--bindir").stderr(Stdio::null()).output();
    if let Ok(out) = pg_config.and_then(|o| checked("pg_config", o)) {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if complete(&dir) {
            return Ok(dir);
        }
    }
    let mut debian: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            // "15", "16", or "9.6" on an old machine: compared as numbers, not text.
            let version: Option<Vec<u32>> = name.split('.').map(|n| n.parse().ok()).collect();
            Some((version?, entry.path().join("bin")))
        })
        .filter(|(_, dir)| complete(dir))
        .collect();
    debian.sort();
    if let Some((_, dir)) = debian.pop() {
        return Ok(dir);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(dir) = std::env::split_paths(&path).find(|dir| complete(dir)) {
        return Ok(dir);
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "PostgreSQL's programs (initdb, pg_ctl, postgres, psql) are not in `pg_config --bindir`, \
         /usr/lib/postgresql/*/bin or PATH: run scripts/setup (it installs Debian's postgresql package)",
    ))
}

/// A new directory of our own (0700) in the temporary directory, and the uid and gid the
/// server must run as: None for a normal user, the `postgres` user's when we are root, the
/// directory then given to that user.
fn private_dir() -> io::Result<(PathBuf, Option<(u32, u32)>)> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let tmp = std::env::temp_dir();
    let root = loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = tmp.join(format!("thingstray-pg-{}-{n}", std::process::id()));
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => break dir,
            // Left by an earlier process with our pid: take the next number.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("creating {}: {e}", dir.display()))),
        }
    };
    // Its owner is our effective uid: root or not, known without libc's geteuid.
    let owner = if fs::metadata(&root)?.uid() == 0 {
        let ids = server_user().and_then(|(uid, gid)| {
            std::os::unix::fs::chown(&root, Some(uid), Some(gid))?;
            Ok((uid, gid))
        });
        match ids {
            Ok(ids) => Some(ids),
            Err(e) => {
                let _ = fs::remove_dir_all(&root);
                return Err(e);
            }
        }
    } else {
        None
    };
    Ok((root, owner))
}

/// The `postgres` user's uid and gid, from `id` (it asks NSS, as getpwnam would).
fn server_user() -> io::Result<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, "postgres"]).stderr(Stdio::null()).output().ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    match (id("-u"), id("-g")) {
        (Some(uid), Some(gid)) if uid != 0 => Ok((uid, gid)),
        _ => Err(io::Error::new(
            io::ErrorKind::NotFound,
            "running as root, and PostgreSQL refuses to run as root: the test cluster runs as the \
             `postgres` user, which does not exist here. Run scripts/setup (Debian's postgresql package \
             creates it), or run the tests as a normal user",
        )),
    }
}

/// A port free on 127.0.0.1 now: the kernel's pick for port 0, released at once. Someone
/// may take it before the server binds it; pg_ctl_start then says AddrInUse and we retry.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// The output, or an error with the program's messages when it failed.
fn checked(what: &str, out: Output) -> io::Result<Output> {
    if out.status.success() {
        return Ok(out);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    Err(io::Error::other(format!("{what} failed ({}): {} {}", out.status, stderr.trim(), stdout.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The retry in `listen` depends on recognising a taken port; this takes one.
    #[test]
    fn a_taken_port_is_addr_in_use() {
        let cluster = Cluster::start().expect("start");
        cluster.stop().expect("stop");
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let busy = Cluster {
            root: cluster.root.clone(),
            bin: cluster.bin.clone(),
            port,
            owner: cluster.owner,
            replication: None,
        };
        let err = busy.pg_ctl_start().expect_err("the port is taken");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        // Both name the same directory: only one may remove it.
        std::mem::forget(busy);
    }
}
