//! Where the app keeps the user's files: the same directories as the engine's
//! `config::Paths::from_env` (XDG). Tests point HOME and the XDG variables at a temporary
//! directory, which also isolates WebKit's data and the autostart entry.

use std::ffi::OsString;
use std::path::PathBuf;

/// The configuration directory: `$XDG_CONFIG_HOME/ssenotify`, else `~/.config/ssenotify`.
// WIRE: ask the engine (`Paths::from_env().config_dir`) once the app hosts it.
pub fn config_dir() -> Option<PathBuf> {
    resolve(
        std::env::var_os("XDG_CONFIG_HOME"),
        std::env::var_os("HOME"),
    )
}

fn resolve(xdg: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    // Empty or relative values count as unset, as the XDG spec says.
    let usable = |v: Option<OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
    usable(xdg)
        .map(|d| d.join("ssenotify"))
        .or_else(|| usable(home).map(|h| h.join(".config").join("ssenotify")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_then_home() {
        let s = |v: &str| Some(OsString::from(v));
        assert_eq!(resolve(s("/x"), s("/h")), Some("/x/ssenotify".into()));
        assert_eq!(resolve(s(""), s("/h")), Some("/h/.config/ssenotify".into()));
        assert_eq!(
            resolve(s("rel"), s("/h")),
            Some("/h/.config/ssenotify".into())
        );
        assert_eq!(resolve(None, None), None);
    }
}
