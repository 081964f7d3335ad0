//! `thingstray-proof`: the experiments behind docs/REPORT.md. `scripts/report` runs
//! `thingstray-proof report [--quick]`, which prints the report's sections as markdown
//! and exits 1 when an invariant is broken. The other subcommands are the pieces (and the
//! child processes the soak and the crash test start).

mod alerts;
mod attacks;
mod bench;
mod clockfile;
mod crash;
mod desktop;
mod devices;
mod floor;
mod fuzz;
mod gate;
mod handover;
mod keychain_locked;
mod listeners;
mod packages;
mod report;
mod requests;
mod share;
mod sleep;
mod soak;
mod soak_procs;
mod soak_report;
mod split;
mod store;
mod store_world;
mod storms;
mod tally;
mod vault_full;
mod vault_full_procs;
mod world;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::report::Section;

#[derive(Parser)]
#[command(name = "thingstray-proof", about = "Soak, crash, fuzz and performance figures for ThingsTray")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(clap::Args, Clone)]
struct ReportArgs {
    /// The short CI version: a few simulated days, 10 kills, one round of each vault
    /// refusal, shorter storms, fewer cases, no performance.
    #[arg(long)]
    quick: bool,
    /// The `thingstray` binary to test (release build).
    #[arg(long)]
    thingstray: String,
    /// Output of scripts/bench-token-server, to put next to its targets.
    #[arg(long)]
    bench: Option<PathBuf>,
    /// The desktop app's release binary, if built.
    #[arg(long)]
    desktop: Option<PathBuf>,
    /// Where scripts/package wrote the .deb and .rpm, if it ran.
    #[arg(long)]
    packages: Option<PathBuf>,
    /// The floor apps (crates/proof/floor, desktop-release), if built: the bare trays
    /// ThingsTray's memory is set beside (issue 30).
    #[arg(long)]
    floor_ksni: Option<PathBuf>,
    #[arg(long)]
    floor_tauri: Option<PathBuf>,
    /// The resident tray (`thingstray-tray`, desktop-release), if built: the split of
    /// issue 30, with --desktop as its window program.
    #[arg(long)]
    tray: Option<PathBuf>,
    /// Simulated days for the soak (default: 90, quick: 3).
    #[arg(long)]
    days: Option<u64>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Every section, in order.
    Report(ReportArgs),
    Soak {
        #[arg(long, default_value_t = 3)]
        days: u64,
    },
    Crash {
        #[arg(long, default_value_t = 10)]
        kills: usize,
        /// The kills on an ST Schema connector's callback connection instead.
        #[arg(long)]
        connector: bool,
    },
    Sleep {
        #[arg(long)]
        thingstray: String,
    },
    Fuzz {
        #[arg(long, default_value_t = 2_000)]
        cases: u32,
    },
    Attacks {
        #[arg(long)]
        thingstray: String,
    },
    /// Hostile peers on both listeners: slow readers, one greedy address, guessed pairing
    /// codes from one address, a forged ST Schema grant.
    Listeners {
        #[arg(long)]
        thingstray: String,
        /// Ask 3 s into each slow-reader attack only (the full run asks again at 15 s).
        #[arg(long)]
        quick: bool,
    },
    Requests,
    /// What devices show: the fixtures' state lines and readings, the 1000-device build times.
    Devices {
        #[arg(long, default_value_t = 200)]
        rounds: usize,
    },
    /// The performance section alone, from scripts/bench-token-server's output.
    Bench {
        #[arg(long)]
        output: PathBuf,
    },
    Share {
        /// The `thingstray` binary (release build), for its `token` on a paired computer.
        #[arg(long)]
        thingstray: Option<String>,
    },
    Storms {
        #[arg(long)]
        quick: bool,
    },
    /// The session store: sessions on 3 replicas for simulated days under faults, kills
    /// and a database restart.
    Store {
        #[arg(long, default_value_t = 200)]
        sessions: usize,
        #[arg(long, default_value_t = 3)]
        days: u64,
        #[arg(long, default_value_t = 3)]
        kills: usize,
    },
    /// The session store's growth: memory, database size and refresh work per size.
    StoreGrowth {
        #[arg(long, value_delimiter = ',', default_value = "100,1000")]
        sizes: Vec<usize>,
    },
    KeychainLocked {
        #[arg(long, default_value_t = 1)]
        tries: u64,
    },
    VaultFull {
        #[arg(long, default_value_t = 1)]
        rounds: usize,
        #[arg(long, default_value_t = 3)]
        one_shots: usize,
    },
    /// The packages' sizes, from the files scripts/package wrote.
    Packages {
        #[arg(long)]
        dir: PathBuf,
    },
    Desktop {
        #[arg(long)]
        binary: PathBuf,
        #[arg(long, default_value_t = 600)]
        idle_secs: u64,
    },
    /// The floor (issue 30): a bare ksni tray and a bare Tauri tray beside ThingsTray's
    /// memory, measured with --desktop (the desktop section runs first) or given with
    /// --resident (e.g. the last report's figures).
    Floor {
        #[arg(long)]
        ksni: PathBuf,
        #[arg(long)]
        tauri: PathBuf,
        /// The desktop-release app, to measure ThingsTray in this run.
        #[arg(long, conflicts_with = "resident")]
        desktop: Option<PathBuf>,
        /// Idle time in the desktop section (its CPU figure) when --desktop is given.
        #[arg(long, default_value_t = 60)]
        idle_secs: u64,
        /// ThingsTray's PSS in MiB, not measured here: `TRAY,OPEN,CLOSED` (tray never
        /// opened, device window open, window closed); a figure left out is not shown.
        #[arg(long, value_delimiter = ',')]
        resident: Option<Vec<f64>>,
        /// Where --resident's figures come from, for the section's text.
        #[arg(long, default_value = "given on the command line")]
        resident_source: String,
        /// Seconds each bare tray settles after its item is on the bus.
        #[arg(long, default_value_t = 5)]
        settle_secs: u64,
        /// The split (issue 30): the resident tray, and the window program it starts.
        #[arg(long, requires = "window")]
        tray: Option<PathBuf>,
        #[arg(long)]
        window: Option<PathBuf>,
    },
    /// Issue 29: device reads per hour with alerts and `watch`, and the delay from a
    /// change to its notification, at the default poll interval.
    Alerts {
        /// The desktop app's binary (the release one for the report's figures).
        #[arg(long)]
        desktop: PathBuf,
        #[arg(long)]
        thingstray: String,
        /// Poll intervals per phase (the every-bell-off phase: half as many).
        #[arg(long, default_value_t = 10)]
        intervals: u32,
    },
    #[command(hide = true)]
    SoakClient {
        #[arg(long)]
        dir: PathBuf,
        /// `home=URL,cabin=URL`: each connection's simulator (a bare URL: `home` alone).
        #[arg(long)]
        sim: String,
        #[arg(long)]
        out: PathBuf,
    },
    #[command(hide = true)]
    SoakServer {
        #[arg(long)]
        dir: PathBuf,
    },
    #[command(hide = true)]
    VaultOneShot {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        sim: String,
        #[arg(long)]
        lock_wait_ms: u64,
    },
    #[command(hide = true)]
    VaultHolder {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        sim: String,
    },
    #[command(hide = true)]
    CrashChild {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value = world::CONNECTION)]
        connection: String,
        #[arg(long)]
        sim: String,
    },
}

/// Simulated seconds per real second in the soak: 90 days in 24 minutes.
const ACCEL: u64 = 5_400;
const SOAK_EXPIRES_IN: u64 = 6 * 3_600;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Ok(filter) = std::env::var("THINGSTRAY_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .try_init();
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    let sections: Vec<Section> = rt.block_on(async {
        match cli.command {
            Cmd::Report(a) => report(a).await,
            Cmd::Soak { days } => {
                vec![soak::run(soak::Params { days, accel: ACCEL, expires_in: SOAK_EXPIRES_IN }).await]
            }
            Cmd::Crash { kills, connector: false } => vec![crash::run(kills, 5).await],
            Cmd::Crash { kills, connector: true } => vec![crash::run_connector(kills, 5).await],
            Cmd::Sleep { thingstray } => vec![sleep::run(&thingstray).await],
            Cmd::Fuzz { cases } => vec![fuzz::run(cases)],
            Cmd::Attacks { thingstray } => vec![attacks::run(&thingstray).await],
            Cmd::Listeners { thingstray, quick } => vec![listeners::run(&thingstray, quick).await],
            Cmd::Requests => vec![requests::run().await],
            Cmd::Devices { rounds } => vec![devices::run(rounds)],
            Cmd::Bench { output } => vec![bench::section(Some(&output), false)],
            Cmd::Share { thingstray } => vec![share::run(thingstray.as_deref()).await],
            Cmd::Storms { quick } => vec![storms::run(quick).await],
            Cmd::Store { sessions, days, kills } => {
                vec![store::run(store::Params { sessions, days, kills, fault_share: 0.3 }).await]
            }
            Cmd::StoreGrowth { sizes } => vec![store::growth(&sizes).await],
            Cmd::KeychainLocked { tries } => vec![keychain_locked::run(tries).await],
            Cmd::VaultFull { rounds, one_shots } => vec![vault_full::run(rounds, one_shots).await],
            // Exits at once: a lock wait that timed out leaves a blocking thread behind,
            // which the runtime's shutdown would otherwise wait for.
            Cmd::VaultOneShot { dir, sim, lock_wait_ms } => {
                vault_full_procs::one_shot(&dir, &sim, Duration::from_millis(lock_wait_ms)).await;
                std::process::exit(0)
            }
            Cmd::VaultHolder { dir, sim } => std::process::exit(vault_full_procs::holder(&dir, &sim).await),
            Cmd::Packages { dir } => vec![packages::run(&dir)],
            Cmd::Desktop { binary, idle_secs } => {
                vec![desktop::run(Some(&binary), Duration::from_secs(idle_secs)).await.0]
            }
            Cmd::Floor { ksni, tauri, desktop, idle_secs, resident, resident_source, settle_secs, tray, window } => {
                let mut out = Vec::new();
                let resident = match (desktop, resident) {
                    (Some(bin), _) => {
                        let (section, memory) = desktop::run(Some(&bin), Duration::from_secs(idle_secs)).await;
                        out.push(section);
                        floor::Resident { memory, source: "the desktop section above, this run".into() }
                    }
                    (None, Some(v)) => floor::Resident {
                        memory: desktop::Memory {
                            tray: v.first().copied(),
                            open: v.get(1).copied(),
                            closed: v.get(2).copied(),
                            ..Default::default()
                        },
                        source: resident_source,
                    },
                    (None, None) => floor::Resident { memory: desktop::Memory::default(), source: "not given".into() },
                };
                let split =
                    tray.as_deref().zip(window.as_deref()).map(|(tray, window)| floor::SplitBins { tray, window });
                let settle = Duration::from_secs(settle_secs);
                out.push(floor::run(Some(&ksni), Some(&tauri), split, &resident, settle).await);
                out
            }
            Cmd::Alerts { desktop, thingstray, intervals } => {
                vec![alerts::run(Some(&desktop), &thingstray, intervals).await]
            }
            Cmd::SoakClient { dir, sim, out } => {
                soak_procs::client(dir, soak_procs::parse_sims(&sim), out, Duration::from_millis(10)).await;
                vec![]
            }
            Cmd::SoakServer { dir } => {
                soak_procs::server(&dir).await;
                vec![]
            }
            Cmd::CrashChild { dir, sim, connection } => std::process::exit(crash::child(&dir, &sim, &connection).await),
        }
    });
    let mut broken = false;
    for s in &sections {
        print!("{}", s.markdown());
        broken |= s.broken();
    }
    rt.shutdown_timeout(Duration::from_secs(1));
    if broken {
        eprintln!("thingstray-proof: an invariant is broken (see FAIL above)");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn report(a: ReportArgs) -> Vec<Section> {
    let quick = a.quick;
    let days = a.days.unwrap_or(if quick { 3 } else { 90 });
    let mut out = Vec::new();
    eprintln!("== soak ({days} simulated days)");
    out.push(soak::run(soak::Params { days, accel: ACCEL, expires_in: SOAK_EXPIRES_IN }).await);
    eprintln!("== crash");
    out.push(crash::run(if quick { 10 } else { 100 }, if quick { 5 } else { 20 }).await);
    eprintln!("== crash, ST Schema connector");
    out.push(crash::run_connector(if quick { 6 } else { 30 }, if quick { 3 } else { 10 }).await);
    eprintln!("== vault refuses writes");
    out.push(if quick { vault_full::run(1, 3).await } else { vault_full::run(5, 5).await });
    eprintln!("== keychain locked at login");
    out.push(keychain_locked::run(if quick { 1 } else { 3 }).await);
    eprintln!("== storms");
    out.push(storms::run(quick).await);
    eprintln!("== session store");
    out.push(
        store::run(store::Params {
            // The figures: 10,000 sessions for 30 simulated days (about 35 min of
            // the full report on 2 cores); CI's quick run checks the same invariants small.
            sessions: if quick { 60 } else { 10_000 },
            days: if quick { 3 } else { 30 },
            kills: if quick { 2 } else { 6 },
            fault_share: 0.3,
        })
        .await,
    );
    out.push(store::growth(if quick { &[50, 200] } else { &[100, 10_000, 100_000] }).await);
    eprintln!("== sleep");
    out.push(sleep::run(&a.thingstray).await);
    eprintln!("== fuzz");
    out.push(fuzz::run(if quick { 2_500 } else { 25_000 }));
    eprintln!("== attacks");
    out.push(attacks::run(&a.thingstray).await);
    eprintln!("== sharing");
    out.push(share::run(Some(&a.thingstray)).await);
    eprintln!("== hostile peers");
    out.push(listeners::run(&a.thingstray, quick).await);
    eprintln!("== requests");
    out.push(requests::run().await);
    eprintln!("== devices");
    out.push(devices::run(if quick { 20 } else { 200 }));
    out.push(bench::section(a.bench.as_deref(), quick));
    eprintln!("== desktop");
    if quick {
        out.push(desktop::skipped("quick mode: the desktop app is measured in the full run only"));
        out.push(floor::skipped("quick mode: the floor is measured in the full run only"));
    } else {
        let (section, memory) = desktop::run(a.desktop.as_deref(), Duration::from_secs(600)).await;
        out.push(section);
        eprintln!("== floor");
        let resident = floor::Resident { memory, source: "the desktop section above, this run".into() };
        let settle = Duration::from_secs(5);
        let split = a.tray.as_deref().zip(a.desktop.as_deref()).map(|(tray, window)| floor::SplitBins { tray, window });
        out.push(floor::run(a.floor_ksni.as_deref(), a.floor_tauri.as_deref(), split, &resident, settle).await);
    }
    eprintln!("== alerts");
    // Quick mode has no desktop binary, and the figures at the default 30 s poll take
    // minutes of real time each (about 20 min in all).
    out.push(if quick {
        alerts::skipped("quick mode: alerts are measured in the full run only")
    } else {
        alerts::run(a.desktop.as_deref(), &a.thingstray, 10).await
    });
    out.push(match (&a.packages, quick) {
        (Some(dir), false) => packages::run(dir),
        (_, true) => packages::skipped("quick mode: the packages are measured in the full run only"),
        (None, false) => packages::skipped("no --packages folder given"),
    });
    out
}
