//! Moving the sign-in between computers from the desktop app (owner/hand_over.rs and
//! owner/take_over.rs do the protocol): the owner offers it to a paired computer
//! (Settings -> Other computers -> Hand over), the paired computer takes it (Take the
//! sign-in over), and the old owner, once its listener has handed the session over,
//! follows by itself: it stops sharing and opens the connection again, now paired with
//! the new owner. No restart, no sign-in.

use std::net::SocketAddr;
use std::sync::Arc;

use super::share::{PairedView, ShareStatus};
use super::Desktop;
use crate::config::Config;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::owner::listening::reachable_ip;
use crate::owner::take_over::take_over;
use crate::session::Status;

impl Desktop {
    /// Offers this computer's sign-in to the paired computer `name` for 10 minutes.
    pub fn offer_hand_over(&self, name: &str) -> Result<Vec<PairedView>> {
        if !self.share_status().running {
            return Err(Error::NotSharing);
        }
        self.share.registry.offer_hand_over(name, self.opts.clock.now())?;
        tracing::info!(computer = %name, "offered the sign-in to a paired computer");
        self.bump();
        self.paired_computers()
    }

    /// On a paired computer: takes the sign-in of the served connection over from its
    /// owner (which offered it), then shares it from here on the address and port of this
    /// app's sharing settings, which is where the old owner will ask.
    pub async fn take_sign_in_over(self: &Arc<Self>) -> Result<ShareStatus> {
        let conn = self.served()?;
        if conn.owner().is_none() {
            return Err(Error::ConnectionKind {
                connection: conn.name.clone(),
                why: "it holds its own sign-in here: there is nothing to take over".into(),
            });
        }
        let prefs = self.locked_settings().share.clone();
        let at = SocketAddr::new(reachable_ip(prefs.address), prefs.port).to_string();
        let own = take_over(&self.paths, &self.vault, Some(&conn.name), Some(&at), self.opts.clone()).await?;
        tracing::info!(connection = %own.name, "took the sign-in over");
        self.adopt(own);
        self.bump();
        self.set_sharing(true, &prefs.address.to_string(), u64::from(prefs.port)).await
    }

    /// Runs for the desktop's life. The old owner's side: reopens every connection whose
    /// session says it was handed over (the new owner confirmed it holds it). The new
    /// owner's: a paired connection that another process here took over (`thingstray share
    /// take-over`) is reopened, and opens as this computer's own.
    pub async fn follow_hand_overs(self: Arc<Self>) {
        let mut changes = self.subscribe();
        loop {
            let (mut handed, mut taken) = (vec![], vec![]);
            for l in self.state().live.values() {
                match l.conn.session.status() {
                    Status::NeedsSignIn { reason: Error::HandedOver { .. } } => handed.push(l.conn.name.clone()),
                    Status::NeedsSignIn { reason: Error::TakenOverHere { .. } } => taken.push(l.conn.name.clone()),
                    _ => {}
                }
            }
            for name in handed {
                self.become_paired(&name).await;
            }
            for name in taken {
                self.reopen_taken(&name).await;
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    async fn reopen_taken(self: &Arc<Self>, name: &str) {
        let opened = match Config::load(&self.paths) {
            Ok(config) => {
                Connection::open_with(&self.paths, &config, self.vault.clone(), Some(name), self.opts.clone()).await
            }
            Err(e) => Err(e),
        };
        match opened {
            Ok(conn) if conn.owner().is_none() => {
                tracing::info!(connection = %name, "taken over by another process here; this computer holds the sign-in now");
                self.adopt(conn);
                self.bump();
            }
            Ok(_) => {
                tracing::warn!(connection = %name, "a full pair is stored under a paired connection; `thingstray share take-over --resume` finishes it")
            }
            Err(e) => {
                tracing::warn!(connection = %name, code = e.code(), "taken over here, but could not open it: {e}")
            }
        }
    }

    async fn become_paired(self: &Arc<Self>, name: &str) {
        // Its listener would now hand out a paired connection's tokens (a chain of owners),
        // and must not come back at the next launch.
        let prefs = self.locked_settings().share.clone();
        if let Err(e) = self.set_sharing(false, &prefs.address.to_string(), u64::from(prefs.port)).await {
            tracing::warn!(code = e.code(), "could not turn sharing off after the hand-over");
        }
        let opened = match Config::load(&self.paths) {
            Ok(config) => {
                Connection::open_with(&self.paths, &config, self.vault.clone(), Some(name), self.opts.clone()).await
            }
            Err(e) => Err(e),
        };
        match opened {
            Ok(conn) => {
                tracing::info!(connection = %name, owner = conn.owner().unwrap_or("?"), "handed the sign-in over; now paired with it");
                self.adopt(conn);
                self.bump();
            }
            Err(e) => {
                tracing::warn!(connection = %name, code = e.code(), "handed over, but could not open the paired connection: {e}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::tests::signed_in;
    use super::*;
    use crate::config::{Paths, VaultKind};
    use crate::connection::Options;

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    /// Waits (on the desktop's change signal, not on time) until `done` holds.
    async fn until(d: &Arc<Desktop>, done: impl Fn(&Desktop) -> bool) {
        let mut changes = d.subscribe();
        tokio::time::timeout(Duration::from_secs(30), async {
            while !done(d) {
                changes.changed().await.unwrap();
            }
        })
        .await
        .expect("the desktop got there");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sign_in_moves_to_the_paired_desktop_and_the_old_owner_follows_it() {
        let e = signed_in().await;
        let owner = e.desktop.clone();
        tokio::spawn(owner.clone().follow_hand_overs());
        owner.set_sharing(true, "127.0.0.1", free_port().into()).await.unwrap();
        let line = owner.share_invite(None).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        Config { vault: VaultKind::File, ..Config::default() }.save(&paths).unwrap();
        let laptop = Desktop::open(paths, Options::default()).await.unwrap();
        laptop.connect_invite(&line, Some("laptop".into())).await.unwrap();
        let laptop_port = free_port();
        laptop.set_sharing(false, "127.0.0.1", laptop_port.into()).await.unwrap();
        assert!(laptop.share_status().paired_with.is_some());

        // Not offered yet: refused, nothing changes.
        assert_eq!(laptop.take_sign_in_over().await.unwrap_err().code(), "hand_over_not_offered");
        owner.offer_hand_over("laptop").unwrap();
        let st = laptop.take_sign_in_over().await.unwrap();
        assert!(st.running && st.paired_with.is_none(), "{st:?}");
        assert_eq!(st.at.as_deref(), Some(format!("127.0.0.1:{laptop_port}").as_str()));

        // The old owner: paired with the laptop now, sharing off, devices still there.
        until(&owner, |d| d.connections().first().is_some_and(|c| c.owner.is_some())).await;
        assert!(!owner.share_status().enabled);
        let list = owner.device_list("demo").await.unwrap();
        assert!(!list.rooms.is_empty());
        assert_eq!(e.sim.stats().sign_ins.values().sum::<u64>(), 1, "no new sign-in");
        laptop.shutdown().await;
    }

    /// Issue 25, item 1: the laptop dies right after the old owner decided and answered.
    /// The old owner's desktop keeps its listener (turning sharing off is refused until the
    /// laptop confirms), answers again after a restart, and the laptop's take-over, run
    /// again, finishes where it stopped.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_owner_restarted_before_the_new_owner_confirmed_still_answers_it() {
        crate::failpoint::drill::quiet_kills();
        let e = signed_in().await;
        let owner = e.desktop.clone();
        let owner_port = free_port();
        owner.set_sharing(true, "127.0.0.1", owner_port.into()).await.unwrap();
        let line = owner.share_invite(None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        Config { vault: VaultKind::File, ..Config::default() }.save(&paths).unwrap();
        let laptop = Desktop::open(paths.clone(), Options::default()).await.unwrap();
        laptop.connect_invite(&line, Some("laptop".into())).await.unwrap();
        laptop.set_sharing(false, "127.0.0.1", free_port().into()).await.unwrap();
        owner.offer_hand_over("laptop").unwrap();

        let mut dies = crate::failpoint::drill::arm(&paths.dir, "take.answered", crate::failpoint::drill::Act::Kill);
        let taking = tokio::spawn({
            let laptop = laptop.clone();
            async move { laptop.take_sign_in_over().await }
        });
        dies.reached().await;
        dies.release();
        assert!(taking.await.is_err(), "the laptop died");

        let e2 = owner.set_sharing(false, "127.0.0.1", owner_port.into()).await.unwrap_err();
        assert_eq!(e2.code(), "handing_over", "{e2}");
        owner.shutdown().await;
        let again = Desktop::open(Paths::at(e._dir.path()), Options::default()).await.unwrap();
        tokio::spawn(again.clone().follow_hand_overs());
        again.resume_sharing().await.unwrap();
        assert!(again.share_status().running);

        let st = laptop.take_sign_in_over().await.expect("the take-over carries on");
        assert!(st.paired_with.is_none(), "{st:?}");
        until(&again, |d| d.connections().first().is_some_and(|c| c.owner.is_some())).await;
        assert!(!again.share_status().enabled, "sharing off once the laptop confirmed");
        assert_eq!(e.sim.stats().sign_ins.values().sum::<u64>(), 1, "no new sign-in");
        laptop.shutdown().await;
    }
}
