//! What the tests, the proof (`scripts/report`) and the end-to-end journeys share, in one
//! home: the house rule's path finder (which modules a file names), a request body that
//! stalls (the slow-client attacks), a private PostgreSQL (the session store's tests), waiting for a
//! condition (`wait`), and a tray's menu as a panel sees it (`tray`, feature `tray`).
//! Never a dependency of anything shipped.

pub mod house;
pub mod postgres;
#[cfg(feature = "tray")]
pub mod tray;
pub mod wait;

/// A request body that sends `first` and then nothing, never ending: a client that
/// stalls after its first bytes.
pub fn stalled(first: Vec<u8>) -> reqwest::Body {
    use futures_util::StreamExt;
    let head = futures_util::stream::iter([Ok::<_, std::io::Error>(first)]);
    reqwest::Body::wrap_stream(head.chain(futures_util::stream::pending()))
}
