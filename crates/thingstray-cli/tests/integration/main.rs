//! The real `thingstray` binary against the simulator, in one test binary: the commands
//! (`cli`) and the token server (`serve`).
//!
//! `cargo test -p thingstray-cli --test integration serve::` runs one module.

#[cfg(unix)]
mod agent;
mod app;
mod cli;
mod common;
mod exec;
mod modes;
mod proxy_paging;
mod schema;
mod serve;
mod share;
mod store;
mod watch;
