//! Where this computer's share listener is, for the process that makes an invite:
//! `thingstray share invite` runs beside `thingstray serve --share` or the desktop app,
//! and the invite must name an address the other computer can dial.
//!
//! The listener writes `share-listener.json` when it starts and removes it when it stops;
//! a file left by a crash is told apart by trying to connect.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Paths;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listening {
    /// The address bound (`0.0.0.0:8766` for every interface).
    pub bound: SocketAddr,
    /// What an invite names: `HOST:PORT` another computer can reach.
    pub at: String,
}

impl Listening {
    /// For a listener bound to `bound`; `advertise` overrides the address invites name.
    pub fn new(bound: SocketAddr, advertise: Option<&str>) -> Listening {
        let at = match advertise {
            Some(a) if (a.contains(':') && !a.starts_with('[')) || a.contains("]:") => a.to_string(),
            Some(host) => format!("{host}:{}", bound.port()),
            None => SocketAddr::new(reachable_ip(bound.ip()), bound.port()).to_string(),
        };
        Listening { bound, at }
    }

    pub fn write(&self, paths: &Paths) -> Result<()> {
        let json =
            serde_json::to_vec_pretty(self).map_err(|e| Error::io("encoding the share listener's address", e))?;
        crate::fsutil::write_atomic(&paths.share_listener(), &json, true)
    }

    pub fn remove(paths: &Paths) {
        let _ = std::fs::remove_file(paths.share_listener());
    }

    /// The running listener, or an error that says how to start one.
    pub fn find(paths: &Paths) -> Result<Listening> {
        let not_sharing = || Error::NotSharing;
        let bytes = std::fs::read(paths.share_listener()).map_err(|_| not_sharing())?;
        let l: Listening = serde_json::from_slice(&bytes).map_err(|_| not_sharing())?;
        // Dialled on this machine: a wildcard bind answers on loopback too.
        let local = match l.bound.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), l.bound.port()),
            ip if ip.is_unspecified() => SocketAddr::new(std::net::Ipv6Addr::LOCALHOST.into(), l.bound.port()),
            _ => l.bound,
        };
        TcpStream::connect_timeout(&local, Duration::from_secs(2)).map_err(|_| not_sharing())?;
        Ok(l)
    }
}

/// The address other computers reach this one at, for a listener bound to `ip`: itself,
/// unless it is the wildcard; then the address of the interface that routes outwards
/// (asked of the kernel with an unsent UDP "connection": no packet leaves), else
/// loopback.
pub fn reachable_ip(ip: IpAddr) -> IpAddr {
    if !ip.is_unspecified() {
        return ip;
    }
    let routed = UdpSocket::bind("0.0.0.0:0").and_then(|s| {
        // A documentation address (TEST-NET-1): never dialled, only routed.
        s.connect("192.0.2.1:9")?;
        s.local_addr()
    });
    match routed {
        Ok(a) if !a.ip().is_unspecified() => a.ip(),
        _ => Ipv4Addr::LOCALHOST.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invites_name_a_dialable_address() {
        let bound: SocketAddr = "127.0.0.1:8766".parse().unwrap();
        assert_eq!(Listening::new(bound, None).at, "127.0.0.1:8766");
        assert_eq!(Listening::new(bound, Some("server.lan")).at, "server.lan:8766");
        assert_eq!(Listening::new(bound, Some("server.lan:9000")).at, "server.lan:9000");
        assert_eq!(Listening::new(bound, Some("[fd00::1]:9000")).at, "[fd00::1]:9000");
        let any: SocketAddr = "0.0.0.0:8766".parse().unwrap();
        let at: SocketAddr = Listening::new(any, None).at.parse().unwrap();
        assert!(!at.ip().is_unspecified(), "{at}");
        assert_eq!(at.port(), 8766);
    }

    #[test]
    fn no_listener_is_not_sharing() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        assert_eq!(Listening::find(&paths).unwrap_err().code(), "not_sharing");
        // A file left by a listener that is gone.
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let bound = dead.local_addr().unwrap();
        drop(dead);
        Listening::new(bound, None).write(&paths).unwrap();
        assert_eq!(Listening::find(&paths).unwrap_err().code(), "not_sharing");
        let live = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let l = Listening::new(live.local_addr().unwrap(), None);
        l.write(&paths).unwrap();
        assert_eq!(Listening::find(&paths).unwrap(), l);
    }
}
