//! A vault that refuses writes (disk full, read-only) while processes come and go.
//!
//! The danger: SmartThings has rotated the pair (the old refresh token is dead) and the
//! vault will not take the new one, so the new refresh token lives only in one process's
//! memory. The session's answers, each checked here with real OS processes on the file
//! vault (the refusal itself: see vault_full_procs.rs):
//! - a one-shot process (`thingstray token`) writes the current pair back before spending
//!   anything (`probe_vault`): while the vault refuses it spends nothing and says
//!   `vault_write_failed`;
//! - a long-running process keeps the unsaved pair, with the cross-process refresh lock,
//!   so no other process reads the spent pair still in the vault and spends it; it stores
//!   the pair once the vault takes writes again, or at exit (`Session::flush`);
//! - if it exits while the vault still refuses, the pair dies with it: it says so at exit,
//!   and the next process gets `session_ended` (sign in again), settings kept.

use std::process::Stdio;
use std::time::{Duration, Instant};

use smartthings_sim::SimConfig;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::report::Section;
use crate::vault_full_procs::{allow, refuse};
use crate::world::World;

/// How long a one-shot waits for the refresh lock here (the CLI waits 60 s).
const ONE_SHOT_LOCK_WAIT: Duration = Duration::from_secs(1);
/// `exit` with this flush window while the vault still refuses: the process gives up.
const SHORT_FLUSH_MS: u64 = 500;
/// `thingstray serve`'s flush window on SIGTERM.
const SERVE_FLUSH_MS: u64 = 10_000;

fn child(w: &World, sub: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([sub, "--sim", &w.sim.base_url(), "--dir"])
        .arg(w.dir())
        .env("THINGSTRAY_LOG", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    c
}

/// The first line a one-shot printed, split into its first word and the rest.
fn parse(line: &str) -> (String, String) {
    let (kind, rest) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
    match kind {
        "err" => {
            let (code, message) = rest.split_once(' ').unwrap_or((rest, ""));
            (code.to_string(), message.to_string())
        }
        k => (k.to_string(), rest.to_string()),
    }
}

/// `n` one-shot processes at once; their answers (`ok`, `invalid` or an error code, then
/// the token or the message).
async fn one_shots(w: &World, n: usize) -> Vec<(String, String)> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let mut c = child(w, "vault-one-shot");
        c.arg("--lock-wait-ms").arg(ONE_SHOT_LOCK_WAIT.as_millis().to_string());
        set.spawn(async move {
            c.output().await.map(|o| String::from_utf8_lossy(&o.stdout).to_string()).unwrap_or_default()
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(parse(r.as_deref().unwrap_or("")));
    }
    out
}

struct Holder {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Holder {
    async fn start(w: &World) -> Holder {
        let mut c = child(w, "vault-holder");
        c.stdin(Stdio::piped());
        let mut child = c.spawn().expect("the holder starts");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut h = Holder { child, stdin, lines };
        assert_eq!(h.next().await, "ready");
        h
    }

    async fn next(&mut self) -> String {
        match tokio::time::timeout(Duration::from_secs(60), self.lines.next_line()).await {
            Ok(Ok(Some(l))) => l,
            _ => "err no_answer the holder did not answer".into(),
        }
    }

    async fn send(&mut self, cmd: &str) {
        self.stdin.write_all(format!("{cmd}\n").as_bytes()).await.expect("the holder reads");
        self.stdin.flush().await.expect("the holder reads");
    }

    async fn ask(&mut self, cmd: &str) -> (String, String) {
        self.send(cmd).await;
        parse(&self.next().await)
    }

    /// `exit MS`; the vault is made writable (when `allow_after_start`) once the holder
    /// has started flushing. Returns its answer, its exit code and how long it took.
    async fn exit(mut self, w: &World, ms: u64, allow_after_start: bool) -> ((String, String), i32, Duration) {
        let t0 = Instant::now();
        self.send(&format!("exit {ms}")).await;
        assert_eq!(self.next().await, "flushing");
        if allow_after_start {
            allow(w.dir());
        }
        let answer = parse(&self.next().await);
        let code = self.child.wait().await.ok().and_then(|s| s.code()).unwrap_or(-1);
        (answer, code, t0.elapsed())
    }
}

/// Token-endpoint requests the simulator refused (a spent refresh token sent again):
/// every request minus every grant (no faults are injected here).
fn refused(w: &World) -> u64 {
    let s = w.sim.stats();
    s.token_requests - s.token_grants.values().sum::<u64>()
}

#[derive(Clone, Copy, PartialEq)]
enum Ending {
    /// The vault takes writes again while the holder lives; it serves the kept pair.
    SavedWhileAlive,
    /// The holder is told to exit while the vault refuses, which frees up during its flush.
    FlushedAtExit,
    /// The holder exits while the vault still refuses.
    DiedRefusing,
}

#[derive(Default)]
struct Counts {
    rounds: u32,
    rotated_unsaved: u32,
    /// One-shots while a holder kept an unsaved pair: answers by code, and one message.
    waiting: std::collections::BTreeMap<String, u32>,
    waiting_message: Option<String>,
    spent_while_held: u64,
    saved_alive: u32,
    flushed: u32,
    flush_ms: Vec<u128>,
    died_clearly: u32,
    problems: Vec<String>,
}

async fn round(w: &World, ending: Ending, how: &str, n: usize, c: &mut Counts) {
    w.jump(Duration::from_secs(3_601)); // the stored token has expired: the next ask refreshes
    refuse(w.dir(), how);
    let rotations = w.refreshes();
    let spent = refused(w);
    let mut h = Holder::start(w).await;
    let first = h.ask("token").await;
    if first.0 == "vault_write_failed" && w.refreshes() == rotations + 1 {
        c.rotated_unsaved += 1;
    } else {
        c.problems.push(format!(
            "the holder's refresh while the vault refused ({how}): {first:?}, {} rotations",
            w.refreshes() - rotations
        ));
    }
    for (code, message) in one_shots(w, n).await {
        *c.waiting.entry(code).or_default() += 1;
        c.waiting_message.get_or_insert(message);
    }
    c.spent_while_held += refused(w) - spent;
    let config_before = std::fs::read(w.paths.config_file()).unwrap();
    let kept_token = match ending {
        Ending::SavedWhileAlive => {
            allow(w.dir());
            let (kind, token) = h.ask("token").await;
            let (answer, code, _) = h.exit(w, SERVE_FLUSH_MS, false).await;
            if kind != "ok" || answer.0 != "flushed" || code != 0 {
                c.problems.push(format!("saved while alive: token {kind}, exit {answer:?} {code}"));
            }
            (kind == "ok").then_some(token)
        }
        Ending::FlushedAtExit => {
            let (answer, code, took) = h.exit(w, SERVE_FLUSH_MS, true).await;
            if answer.0 == "flushed" && code == 0 {
                c.flush_ms.push(took.as_millis());
                Some(String::new())
            } else {
                c.problems.push(format!("flush at exit: {answer:?}, exit {code}"));
                None
            }
        }
        Ending::DiedRefusing => {
            let (answer, code, _) = h.exit(w, SHORT_FLUSH_MS, false).await;
            allow(w.dir());
            let next = one_shots(w, 1).await.pop().unwrap_or_default();
            let kept = std::fs::read(w.paths.config_file()).unwrap() == config_before;
            if answer.0 == "vault_write_failed" && code != 0 && next.0 == "session_ended" && kept {
                c.died_clearly += 1;
            } else {
                c.problems
                    .push(format!("exit while refusing: {answer:?} exit {code}, then {next:?}, settings kept: {kept}"));
            }
            w.sign_in().await; // the user signs in again; the next round needs a live session
            None
        }
    };
    if ending != Ending::DiedRefusing {
        // The next process: the holder's pair, no second rotation, nothing spent twice.
        let next = one_shots(w, 1).await.pop().unwrap_or_default();
        let same = kept_token.as_deref().is_none_or(|t| t.is_empty() || t == next.1);
        let clean = next.0 == "ok" && same && w.refreshes() == rotations + 1 && refused(w) == spent;
        match (clean, ending) {
            (true, Ending::SavedWhileAlive) => c.saved_alive += 1,
            (true, _) => c.flushed += 1,
            (false, _) => c.problems.push(format!(
                "after the holder ({how}): next process {next:?}, same token: {same}, rotations {}, refused calls {}",
                w.refreshes() - rotations,
                refused(w) - spent
            )),
        }
    }
    c.rounds += 1;
}

pub async fn run(rounds: usize, n: usize) -> Section {
    let w = World::start(SimConfig { expires_in: 3_600, ..SimConfig::default() }).await;
    let mut s = Section::new("Vault refuses writes: disk full, read-only, processes coming and going");
    s.intro(format!(
        "Real OS processes on one config dir and the file vault. The refusal is switched on and off for every process \
         at once by a file in the config dir: each process wraps the real file vault so that while the file exists \
         every write fails, before touching the vault, with the `io` error the file vault gives on a full disk (\"no \
         storage space\") or a read-only file system; rounds alternate the two (the tests run as root, where chmod \
         stops no write). One-shot processes do what `thingstray token` does (`probe_vault` on) and wait at most {} s \
         for the refresh lock (the CLI waits 60 s); the long-running process (\"the holder\") does what `thingstray \
         serve` does: background refresher, and on exit the refresher stopped and `Session::flush` for up to 10 s. Each \
         round starts with the stored token expired, so the next ask refreshes.",
        ONE_SHOT_LOCK_WAIT.as_secs()
    ));

    // No process holds an unsaved pair: one-shots must spend nothing.
    w.jump(Duration::from_secs(3_601));
    refuse(w.dir(), "full");
    let (requests, t0) = (w.sim.stats().token_requests, Instant::now());
    let answers = one_shots(&w, n).await;
    let calls = w.sim.stats().token_requests - requests;
    allow(w.dir());
    let refused_ok = answers.iter().filter(|(c, _)| c == "vault_write_failed").count();
    let message = answers.first().map(|(_, m)| m.clone()).unwrap_or_default();
    s.check(
        "One-shot processes while the vault refuses (disk full), no process holding an unsaved pair",
        format!(
            "{refused_ok}/{n} `vault_write_failed` in {:.2} s; token-endpoint calls: {calls}",
            t0.elapsed().as_secs_f64()
        ),
        "all `vault_write_failed`, 0 calls (no refresh token spent)",
        refused_ok == n && calls == 0,
    );
    let next = one_shots(&w, 1).await.pop().unwrap_or_default();
    s.check(
        "The next one-shot, vault writable again",
        format!("{}; rotations {}", next.0, w.refreshes()),
        "ok, 1 rotation (the stored pair was never spent)",
        next.0 == "ok" && w.refreshes() == 1,
    );

    let mut c = Counts::default();
    let endings = [Ending::SavedWhileAlive, Ending::FlushedAtExit, Ending::DiedRefusing];
    for r in 0..rounds {
        for (i, ending) in endings.iter().enumerate() {
            let how = if (r * endings.len() + i).is_multiple_of(2) { "full" } else { "read-only" };
            round(&w, *ending, how, n, &mut c).await;
        }
    }
    let r = rounds as u32;
    s.check(
        "The holder refreshes while the vault refuses",
        format!(
            "{}/{} rounds: 1 rotation, the new pair kept in memory and not handed out (`vault_write_failed`)",
            c.rotated_unsaved, c.rounds
        ),
        "every round",
        c.rotated_unsaved == c.rounds,
    );
    let waiting: Vec<String> = c.waiting.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let waited_ok = c.waiting.keys().all(|k| k == "io");
    s.check(
        &format!("One-shot processes meanwhile, {n} per round (the holder keeps the refresh lock)"),
        format!("answers: {}; refresh tokens spent: {}", waiting.join(", "), c.spent_while_held),
        "none spends the old refresh token (0 refused calls), none `session_ended`; they wait for the lock",
        waited_ok && c.spent_while_held == 0,
    );
    s.check(
        "Vault writable again while the holder lives",
        format!(
            "{}/{r}: the holder stores and serves the kept pair; the next process gets it, no second rotation",
            c.saved_alive
        ),
        "0 sessions lost",
        c.saved_alive == r,
    );
    let max_flush = c.flush_ms.iter().max().copied().unwrap_or(0);
    s.check(
        "The holder told to exit while the vault refuses, which frees up as the flush (up to 10 s) begins",
        format!(
            "{}/{r}: stored at exit (longest exit {max_flush} ms); the next process gets the pair, no second rotation",
            c.flushed
        ),
        "0 sessions lost",
        c.flushed == r,
    );
    s.check(
        "The holder exits while the vault still refuses",
        format!(
            "{}/{r}: flush gives up after {SHORT_FLUSH_MS} ms with `vault_write_failed`, exit 1; the next process: `session_ended` (sign in again), settings kept",
            c.died_clearly
        ),
        "a clear error at exit and after; settings kept",
        c.died_clearly == r,
    );
    let lost = 2 * r - c.saved_alive - c.flushed;
    s.check("Sessions lost while the process holding the unsaved pair lived", lost.to_string(), "0", lost == 0);
    // The temp dir's name changes every run; the report shows where it stands instead.
    let dir = w.dir().display().to_string();
    let plain = |m: &str| m.replace(&dir, "CONFIG_DIR");
    s.note(format!("What a one-shot says while the vault refuses (`vault_write_failed`): \"{}\"", plain(&message)));
    if let Some(m) = &c.waiting_message {
        s.note(format!(
            "What a one-shot says while the holder keeps the unsaved pair (`io`, after its lock wait): \"{}\"",
            plain(m)
        ));
    }
    for p in &c.problems {
        s.note(format!("Problem: {p}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_child_line_splits_into_its_outcome_and_the_rest() {
        assert_eq!(parse("ok abc\n"), ("ok".into(), "abc".into()));
        assert_eq!(
            parse("err vault_write_failed The new tokens could not be saved"),
            ("vault_write_failed".into(), "The new tokens could not be saved".into())
        );
        assert_eq!(parse(""), ("".into(), "".into()));
    }
}
