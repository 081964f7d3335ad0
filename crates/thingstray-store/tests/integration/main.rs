//! The session store against a real PostgreSQL (a private cluster per test, from
//! thingstray-testkit) and the simulator over real HTTP on 127.0.0.1: replicas are
//! `Service`s in one process, each with its own pool, as separate processes would have.

mod api;
mod failover;
mod faults;
mod replicas;
mod schema;
mod sign_in;
mod world;
