//! The simulated clock, shared by every process of a run: the simulator's offset from
//! real time, in a small file the driver rewrites as it moves the simulator's clock.
//!
//! The core takes its clock as a `Clock` trait object, so the soak's processes run the
//! very session, vault and lock code the CLI runs, with only `now()` reading this file.
//! (`thingstray` itself always uses the system clock, which an accelerated simulator
//! clock cannot reach without LD_PRELOAD tricks.) `jumped()` never fires, as with the
//! system clock: the session must notice jumps by itself, as it does after a real sleep.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use thingstray::clock::Clock;

#[derive(Debug, Clone)]
pub struct FileClock {
    path: PathBuf,
}

impl FileClock {
    pub fn open(path: &Path) -> FileClock {
        FileClock { path: path.to_path_buf() }
    }

    /// Starts at offset 0.
    pub fn create(path: &Path) -> std::io::Result<FileClock> {
        let c = FileClock::open(path);
        c.set_offset_ms(0)?;
        Ok(c)
    }

    pub fn offset_ms(&self) -> u64 {
        std::fs::read_to_string(&self.path).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
    }

    /// Written beside and renamed over the file, so readers see the old or the new
    /// offset, never a torn one.
    pub fn set_offset_ms(&self, ms: u64) -> std::io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, ms.to_string())?;
        std::fs::rename(&tmp, &self.path)
    }

    pub fn now_ms(&self) -> u64 {
        thingstray::clock::unix_ms(self.now())
    }
}

impl Clock for FileClock {
    fn now(&self) -> SystemTime {
        SystemTime::now() + Duration::from_millis(self.offset_ms())
    }

    fn jumped(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::pending())
    }
}
