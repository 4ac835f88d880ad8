//! A warning when a file that holds a credential (password, token, client
//! secret, private key) can be read by every user on the machine. Only a
//! warning: containers often mount secrets 0644 and refusing would break
//! them. Each path is reported once per process, however often clients are
//! rebuilt.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock, PoisonError};

/// Warns (once per path) when `path`, named by the config key `field`, is
/// world-readable. Returns the file's mode when it warned. A missing or
/// unreadable file is not reported here; reading it reports that.
pub fn warn_if_world_readable(field: &str, path: &str) -> Option<u32> {
    let mode = world_readable_mode(path)?;
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let first = SEEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(path.to_string());
    if !first {
        return None;
    }
    tracing::warn!(
        field,
        path,
        mode = %format!("{mode:04o}"),
        "Credentials file is readable by every user; restrict it (chmod 600)."
    );
    Some(mode)
}

/// The permission bits of `path` when "others" may read it.
#[cfg(unix)]
fn world_readable_mode(path: &str) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & 0o004 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn world_readable_mode(_path: &str) -> Option<u32> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn warns_once_for_world_readable_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        let closed = dir.path().join("closed");
        std::fs::write(&open, "pw").unwrap();
        std::fs::write(&closed, "pw").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o640)).unwrap();
        let open = open.to_str().unwrap();
        assert_eq!(warn_if_world_readable("password_file", open), Some(0o644));
        assert_eq!(warn_if_world_readable("password_file", open), None);
        assert_eq!(
            warn_if_world_readable("password_file", closed.to_str().unwrap()),
            None
        );
        assert_eq!(
            warn_if_world_readable("password_file", "/nonexistent/x"),
            None
        );
    }
}
