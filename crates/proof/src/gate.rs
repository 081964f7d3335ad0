//! Keeps the soak's overnight clock jumps out of the middle of a handout.
//!
//! A 7-hour jump between the session's "valid for 5 more minutes?" check and the moment
//! the caller notes the time of handout would make a token look expired that was valid
//! when handed out: a property of the harness, not of the session. So each ask holds the
//! gate shared, and the driver jumps only while holding it exclusively (and the session's
//! own refresh lock, so no refresh is in flight either). The small per-tick moves need
//! none of this: they are far below the 5 minutes every ask demands.
//!
//! Two flock files: a turnstile every asker passes through before taking the gate shared,
//! so a waiting driver is not starved by askers that overlap forever.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Gate {
    turnstile: PathBuf,
    gate: PathBuf,
}

fn open(p: &Path) -> File {
    OpenOptions::new().create(true).truncate(false).write(true).open(p).expect("a gate file")
}

impl Gate {
    pub fn new(dir: &Path) -> Gate {
        Gate { turnstile: dir.join("gate-turnstile"), gate: dir.join("gate") }
    }

    /// For one ask (blocking; call from a blocking thread). Dropping the file leaves.
    pub fn enter(&self) -> File {
        let t = open(&self.turnstile);
        t.lock().expect("turnstile");
        let g = open(&self.gate);
        g.lock_shared().expect("gate");
        drop(t);
        g
    }

    /// For a jump: no ask is in progress until both files are dropped (blocking).
    pub fn close(&self) -> (File, File) {
        let t = open(&self.turnstile);
        t.lock().expect("turnstile");
        let g = open(&self.gate);
        g.lock().expect("gate");
        (t, g)
    }

    pub async fn enter_async(&self) -> File {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.enter()).await.expect("the gate")
    }
}
