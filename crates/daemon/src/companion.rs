//! Finding the other ssenotify programs: the app finds the daemon's binary, the tray
//! finds the app's.

use std::path::PathBuf;

/// Where one ssenotify program finds the other (the app's window finds the daemon, the
/// tray's "Show window" finds the app): `$env_var` when set and not empty (one program
/// path, run without a shell), else `name` beside this executable (the .deb puts both in
/// /usr/bin, cargo in target/<profile>), else `name` for `PATH` to find.
pub fn companion_program(env_var: &str, name: &str) -> PathBuf {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(name)))
        .filter(|path| path.is_file());
    choose_program(std::env::var_os(env_var), beside, name)
}

fn choose_program(
    configured: Option<std::ffi::OsString>,
    beside: Option<PathBuf>,
    name: &str,
) -> PathBuf {
    configured
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or(beside)
        .unwrap_or_else(|| PathBuf::from(name))
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::{Path, PathBuf};

    use super::choose_program;

    #[test]
    fn a_companion_is_the_environment_then_the_sibling_then_path() {
        let beside = Some(PathBuf::from("/opt/ssenotify/ssenotify-app"));
        let set = Some(OsString::from("/tmp/my app"));
        assert_eq!(
            choose_program(set, beside.clone(), "ssenotify-app"),
            Path::new("/tmp/my app")
        );
        assert_eq!(
            choose_program(Some(OsString::new()), beside.clone(), "ssenotify-app"),
            Path::new("/opt/ssenotify/ssenotify-app")
        );
        assert_eq!(
            choose_program(None, None, "ssenotify-app"),
            Path::new("ssenotify-app")
        );
    }
}
