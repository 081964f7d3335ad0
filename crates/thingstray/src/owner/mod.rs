//! The owner's side of sharing one sign-in between several computers (issue 11): the
//! computer that holds the session and its refresh token, which never leaves it, and hands
//! paired computers access tokens. The paired computer's side, and the protocol both
//! speak, is [`crate::share`].
//!
//! Above `connection` and `serve` (it shares a connection, over the token server's accept
//! loop), as rustls keeps its server apart from its client over shared messages.
//!
//! - [`identity`]: the owner's self-signed certificate, made once and kept in the vault;
//!   its SHA-256 fingerprint is the owner's identity.
//! - [`registry`]: the owner's paired computers and open invites (hashes only).
//! - [`attempts`]: pairing attempts counted per address, so a guesser is slowed and no one
//!   else is.
//! - [`server`]: the share listener: TLS only, pairing and access tokens, nothing else (no
//!   refresh token, no client secret, no API proxy).
//! - [`listening`]: where the running listener is, for an invite made in another process.
//! - [`hand_over`]: moving the session itself to a paired computer, in two steps: the old
//!   owner's side.
//! - [`take_over`]: the same, on the computer that becomes the owner.
//! - `model`: the hand-over as a state machine, every interleaving of crashes, stalls and
//!   lost messages explored (tests, and the proof's report).

mod attempts;
pub mod hand_over;
pub mod identity;
pub mod listening;
#[cfg(any(test, feature = "failpoints"))]
pub mod model;
pub mod registry;
pub mod server;
pub mod take_over;

pub use identity::Identity;
pub use registry::{PairedComputer, Registry};
pub use server::{ShareOptions, ShareServer, ShareSource};

/// The port the owner listens on unless told otherwise (the token server's is 8765).
pub const DEFAULT_PORT: u16 = 8766;
