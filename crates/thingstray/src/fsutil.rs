//! Durable file writes: a crash leaves either the old file or the new one, never half.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Creates `path` and its missing parents owner-only (0700 on Unix): the settings
/// directory holds lock files and, with the file vault, secrets. An existing directory
/// may be readable by others (a folder the user shares on purpose), but it must be the
/// user's own and writable by no one else: whoever can write in it can swap the settings,
/// plant a link where a lock file or a secret goes, or hold the locks.
pub(crate) fn ensure_dir(path: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(path).map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    check_dir(path)
}

#[cfg(unix)]
fn check_dir(path: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let unsafe_because = if meta.file_type().is_symlink() {
        Some("it is a symbolic link".to_string())
    } else if meta.uid() != me {
        Some(format!("it belongs to user {} (you are {me})", meta.uid()))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!("others may write in it (mode {:o})", meta.mode() & 0o777))
    } else {
        None
    };
    match unsafe_because {
        Some(why) => Err(Error::SettingsFolderUnsafe { path: path.display().to_string(), why }),
        None => Ok(()),
    }
}

#[cfg(not(unix))]
fn check_dir(_path: &Path) -> Result<()> {
    Ok(())
}

/// The temporary files [`write_atomic`] leaves when its process dies before the rename
/// (they may hold tokens, with the file vault): removed when a process of a dead writer is
/// found. A temporary file of a live process is a write in progress and is left alone.
pub(crate) fn remove_orphan_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = temp_writer(&name) else { continue };
        if process_alive(pid) {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => tracing::info!(file = %name, "removed a temporary file a crashed write left"),
            Err(e) => tracing::warn!(file = %name, "could not remove a temporary file a crashed write left: {e}"),
        }
    }
}

/// The writer's pid in a `.NAME.PID.N.tmp` name.
fn temp_writer(name: &str) -> Option<u32> {
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = inner.rsplitn(3, '.');
    let _unique = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    parts.next().filter(|n| !n.is_empty())?;
    Some(pid)
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: signal 0 only asks whether the process exists; no signal is sent.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    true
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
    // A random part too: a name no one can guess is a name no one can plant a link at.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{}.{}.{}{:016x}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed),
        rand::random::<u64>()
    ));
    let mut opts = std::fs::OpenOptions::new();
    // O_EXCL: a file (or link) already there is never written through.
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW);
        if private {
            opts.mode(0o600);
        }
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
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
        // A link planted where the lock file goes is refused, not followed.
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        let file = opts.open(path).map_err(|e| Error::io(what(), e))?;
        let meta = file.metadata().map_err(|e| Error::io(what(), e))?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        if !meta.is_file() || meta.uid() != unsafe { libc::geteuid() } {
            return Err(Error::io(what(), "it is not a file of your own; remove it"));
        }
        let mode = meta.permissions().mode();
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

    /// Issue 25, item 9: a link planted at a lock file's name was followed.
    #[test]
    fn a_link_planted_at_a_lock_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "keep").unwrap();
        let lock = dir.path().join("home.lock");
        std::os::unix::fs::symlink(&target, &lock).unwrap();
        assert!(open_lock_file(&lock).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert_eq!(mode(&target), 0o666 & !umask(), "the target's mode is untouched");
    }

    fn umask() -> u32 {
        // SAFETY: umask has no preconditions; it is set back at once.
        unsafe {
            let m = libc::umask(0o022);
            libc::umask(m);
            m as u32
        }
    }

    /// Issue 25, item 9: a settings folder others may write in is refused (whoever can
    /// write there can swap the settings or plant links).
    #[test]
    fn a_folder_others_may_write_in_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = write_atomic(&open.join("config.toml"), b"x", false).unwrap_err();
        assert_eq!(e.code(), "settings_folder_unsafe", "{e}");
        assert!(e.to_string().contains("777"), "{e}");
        assert!(!open.join("config.toml").exists());
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        write_atomic(&open.join("config.toml"), b"x", false).unwrap();
    }

    /// Issue 25, item 9: a crash before the rename left `.secrets.json.*.tmp` with tokens.
    #[test]
    fn temporary_files_of_dead_writers_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let orphan = dir.path().join(format!(".secrets.json.{dead}.07f3a9c2d1e4b5a6c.tmp"));
        let live = dir.path().join(format!(".secrets.json.{}.1ab.tmp", std::process::id()));
        let other = dir.path().join("secrets.json");
        for f in [&orphan, &live, &other] {
            std::fs::write(f, "{}").unwrap();
        }
        remove_orphan_temps(dir.path());
        assert!(!orphan.exists(), "the dead writer's file is gone");
        assert!(live.exists() && other.exists(), "a write in progress and the real file stay");
        assert_eq!(temp_writer(".config.toml.42.3.tmp"), Some(42));
        assert_eq!(temp_writer("config.toml"), None);
        assert_eq!(temp_writer("..1.tmp"), None);
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
