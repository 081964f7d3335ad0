//! Durable file writes: a crash leaves either the old file or the new one, never half.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Creates `path` and its missing parents owner-only (0700 on Unix): the settings
/// directory holds lock files and, with the file vault, secrets. An existing directory is
/// left as it is (it may be one the user shares on purpose).
pub(crate) fn ensure_dir(path: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(path).map_err(|e| Error::io(format!("creating {}", path.display()), e))
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, renames it over `path` and
/// syncs the directory. `private` makes the file readable by its owner only (0600), from
/// its creation on, so a secret is never briefly world-readable.
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    ensure_dir(dir)?;
    let what = || format!("writing {}", path.display());
    // Unique per write, not only per process: two threads (or two saves in flight) of one
    // process must never share a temporary file, or one renames the other's half-write.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = opts.open(&tmp).map_err(|e| Error::io(what(), e))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| Error::io(what(), e))?;
    drop(f);
    crate::failpoint::hit("write_atomic.before_rename");
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(what(), e)
    })?;
    crate::failpoint::hit("write_atomic.after_rename");
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Opens (creating) a lock file readable and writable by its owner only. flock needs no
/// write access, so a lock file other users can open is one they can hold forever, stalling
/// every refresh: an existing one from an older version (0644) is tightened too.
pub fn open_lock_file(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        ensure_dir(dir)?;
    }
    let what = || format!("opening {}", path.display());
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(0o600);
        let file = opts.open(path).map_err(|e| Error::io(what(), e))?;
        let mode = file.metadata().map_err(|e| Error::io(what(), e))?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(|e| Error::io(what(), e))?;
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    opts.open(path).map_err(|e| Error::io(what(), e))
}

/// Holds an exclusive advisory lock on `path` until dropped: for a read-modify-write of a
/// shared file that other processes also rewrite. Blocking: call it off the async runtime
/// (the vault's calls run on the blocking pool).
pub fn lock_exclusive(path: &Path) -> Result<File> {
    let file = open_lock_file(path)?;
    file.lock().map_err(|e| Error::io(format!("locking {}", path.display()), e))?;
    Ok(file)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn lock_files_and_new_directories_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("thingstray/locks/home.lock");
        drop(open_lock_file(&lock).unwrap());
        assert_eq!(mode(&lock), 0o600);
        assert_eq!(mode(lock.parent().unwrap()), 0o700);
        assert_eq!(mode(&dir.path().join("thingstray")), 0o700);
        // A lock file an older version left world-readable is tightened when next used.
        std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(lock_exclusive(&lock).unwrap());
        assert_eq!(mode(&lock), 0o600);
    }
}
