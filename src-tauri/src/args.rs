//! The app's command line, for the first launch and for the argv a second launch forwards.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use tauri::{AppHandle, Emitter, Manager};

/// Starts with no window shown (autostart passes it).
pub const HIDDEN_FLAG: &str = "--hidden";

/// Event telling the webview that files arrived on the command line (e.g. to import); it
/// then calls `take_open_files`, as it also does when it starts.
pub const OPEN_FILES_EVENT: &str = "app:open-files";

/// What a launch asked for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LaunchArgs {
    /// `--hidden`: stay in the tray.
    pub hidden: bool,
    /// Positional arguments: files to open (import), as given.
    pub files: Vec<PathBuf>,
}

impl LaunchArgs {
    /// Parses arguments without the program name. Unknown flags are logged and ignored, so
    /// a desktop launcher's extra arguments never stop the app from starting.
    pub fn parse<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut parsed = Self::default();
        let mut only_files = false;
        for arg in args {
            let arg: OsString = arg.into();
            if only_files {
                parsed.files.push(arg.into());
                continue;
            }
            match arg.to_str() {
                Some(HIDDEN_FLAG) => parsed.hidden = true,
                Some("--") => only_files = true,
                Some(flag) if flag.starts_with('-') && flag.len() > 1 => {
                    tracing::warn!(flag, "ignoring unknown argument");
                }
                _ => parsed.files.push(arg.into()),
            }
        }
        parsed
    }

    /// The files resolved against the launching process's working directory: a second
    /// instance runs in another directory than the first.
    pub fn files_relative_to(&self, cwd: Option<&Path>) -> Vec<PathBuf> {
        self.files
            .iter()
            .map(|file| match cwd {
                Some(cwd) if file.is_relative() => cwd.join(file),
                _ => file.clone(),
            })
            .collect()
    }
}

/// Called in the first instance when the app is launched again: shows the window (unless
/// the new launch asked for `--hidden`, as a second autostart would) and forwards its files.
pub fn on_second_instance(app: &AppHandle, argv: Vec<String>, cwd: String) {
    // argv[0] is the second instance's executable path.
    let launch = LaunchArgs::parse(argv.into_iter().skip(1));
    tracing::info!(?launch, cwd, "second launch forwarded its arguments");
    if !launch.hidden {
        crate::window::show(app);
    }
    handle_files(app, &launch, Some(Path::new(&cwd)));
}

/// Where files from the command line go: queued for the UI (which shows the import dry-run
/// and asks to confirm) and announced to it.
// WIRE: the UI's import flow takes them from `take_open_files`.
pub fn handle_files(app: &AppHandle, launch: &LaunchArgs, cwd: Option<&Path>) {
    let cwd = cwd
        .map(Path::to_path_buf)
        .or_else(|| std::env::current_dir().ok());
    let paths: Vec<String> = launch
        .files_relative_to(cwd.as_deref())
        .into_iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if paths.is_empty() {
        return;
    }
    tracing::info!(?paths, "files to open");
    let state = app.state::<crate::commands::AppState>();
    state
        .open_files
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .extend(paths);
    if let Err(err) = app.emit(OPEN_FILES_EVENT, ()) {
        tracing::warn!(%err, "could not forward files to the window");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_flag_and_files() {
        let a = LaunchArgs::parse(["--hidden", "subs.toml", "--bogus", "-"]);
        assert!(a.hidden);
        assert_eq!(a.files, [PathBuf::from("subs.toml"), PathBuf::from("-")]);
    }

    #[test]
    fn double_dash_makes_the_rest_files() {
        let a = LaunchArgs::parse(["--", "--hidden"]);
        assert!(!a.hidden);
        assert_eq!(a.files, [PathBuf::from("--hidden")]);
    }

    #[test]
    fn nothing_means_a_visible_window() {
        assert_eq!(
            LaunchArgs::parse(Vec::<String>::new()),
            LaunchArgs::default()
        );
    }

    #[test]
    fn relative_files_resolve_against_the_second_instance_cwd() {
        let a = LaunchArgs::parse(["a.toml", "/abs/b.toml"]);
        assert_eq!(
            a.files_relative_to(Some(Path::new("/home/u"))),
            [
                PathBuf::from("/home/u/a.toml"),
                PathBuf::from("/abs/b.toml")
            ]
        );
        assert_eq!(a.files_relative_to(None), a.files);
    }
}
