//! `ssenotify service install|uninstall|status`: the systemd user unit for a build from
//! source (the .deb ships the same unit in /usr/lib/systemd/user).
//!
//! The unit's text is `packaging/ssenotify.service`, the packaged file itself, with the
//! binary's path put in place of `/usr/bin/ssenotify`: one unit, two ways to install it.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use ssenotify_config::Paths;

/// The packaged unit; its commands name `/usr/bin/ssenotify`.
const UNIT: &str = include_str!("../../../packaging/ssenotify.service");
/// The unit's name.
pub const UNIT_NAME: &str = "ssenotify.service";
/// Where the .deb installs the unit.
pub const PACKAGED_UNIT: &str = "/usr/lib/systemd/user/ssenotify.service";
/// The first line of a unit `service install` wrote, so `uninstall` removes only its own.
const MARK: &str =
    "# Written by `ssenotify service install`; `ssenotify service uninstall` removes it.\n";

/// Arguments of `ssenotify service`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Write ~/.config/systemd/user/ssenotify.service for this binary and enable it now.
    Install,
    /// Disable the service and remove the unit `install` wrote.
    Uninstall,
    /// Where the unit is, whether systemd runs it, and whether an engine runs.
    Status,
    /// Exit 0 when no engine runs for this user, 1 when one does (the unit's ExecCondition).
    #[command(hide = true)]
    NoEngine,
}

/// Run the service action.
pub fn main(args: Args, paths: &Paths) -> ExitCode {
    match args.action {
        Action::Install => install(),
        Action::Uninstall => uninstall(),
        Action::Status => status(paths),
        Action::NoEngine => match ssenotify_daemon::running_pid(paths) {
            Some(pid) => {
                println!("ssenotify: an engine already runs (pid {pid}); the service steps aside");
                ExitCode::FAILURE
            }
            None => ExitCode::SUCCESS,
        },
    }
}

/// The unit for the binary at `exe`.
pub fn unit_for(exe: &Path) -> String {
    format!(
        "{MARK}{}",
        UNIT.replace("/usr/bin/ssenotify", &exe.display().to_string())
    )
}

/// `$XDG_CONFIG_HOME/systemd/user/ssenotify.service` (`~/.config/...`).
fn user_unit_path() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(config.join("systemd/user").join(UNIT_NAME))
}

/// Whether systemd manages this machine (sd_booted(3)'s test) and `systemctl` is there.
fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// `systemctl --user ARGS`; its output is shown, its failure returned as a message.
fn systemctl(args: &[&str]) -> Result<String, String> {
    let output = Command::new("systemctl")
        .arg("--user")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run systemctl: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() {
        Ok(text)
    } else {
        let err = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        Err(format!(
            "systemctl --user {} failed: {}",
            args.join(" "),
            if err.is_empty() { &text } else { &err }
        ))
    }
}

fn install() -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return crate::common::fail(format!("cannot tell where this binary is: {e}")),
    };
    let Some(path) = user_unit_path() else {
        return crate::common::fail("cannot determine the home directory (is HOME set?)");
    };
    if let Some(dir) = path.parent()
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return crate::common::fail(format!("cannot create {}: {e}", dir.display()));
    }
    if let Err(e) = std::fs::write(&path, unit_for(&exe)) {
        return crate::common::fail(format!("cannot write {}: {e}", path.display()));
    }
    println!("wrote {} (ExecStart={} run)", path.display(), exe.display());
    if !systemd_running() {
        println!(
            "systemd is not running on this machine: nothing was enabled. Where it runs, \
             enable the service with `systemctl --user enable --now {UNIT_NAME}`, or start \
             `ssenotify run` another way (the desktop app starts its own engine)."
        );
        return ExitCode::SUCCESS;
    }
    let enabled =
        systemctl(&["daemon-reload"]).and_then(|_| systemctl(&["enable", "--now", UNIT_NAME]));
    match enabled {
        Ok(_) => {
            println!("enabled and started: it runs whenever you are logged in");
            ExitCode::SUCCESS
        }
        Err(message) => crate::common::fail(message),
    }
}

fn uninstall() -> ExitCode {
    let Some(path) = user_unit_path() else {
        return crate::common::fail("cannot determine the home directory (is HOME set?)");
    };
    let ours = std::fs::read_to_string(&path).is_ok_and(|text| text.starts_with(MARK));
    if path.exists() && !ours {
        return crate::common::fail(format!(
            "{} was not written by `ssenotify service install`; remove it yourself",
            path.display()
        ));
    }
    if systemd_running()
        && path.exists()
        && let Err(message) = systemctl(&["disable", "--now", UNIT_NAME])
    {
        return crate::common::fail(message);
    }
    if path.exists() {
        if let Err(e) = std::fs::remove_file(&path) {
            return crate::common::fail(format!("cannot remove {}: {e}", path.display()));
        }
        println!("removed {}", path.display());
        if systemd_running() {
            let _ = systemctl(&["daemon-reload"]);
        }
    } else {
        println!("no unit at {}: nothing to remove", path.display());
    }
    if Path::new(PACKAGED_UNIT).is_file() {
        println!(
            "the package's unit stays ({PACKAGED_UNIT}); `systemctl --user disable --now {UNIT_NAME}` turns it off"
        );
    }
    ExitCode::SUCCESS
}

fn status(paths: &Paths) -> ExitCode {
    let user = user_unit_path().filter(|p| p.is_file());
    match (&user, Path::new(PACKAGED_UNIT).is_file()) {
        (Some(path), _) => println!(
            "unit: {} (from `ssenotify service install`)",
            path.display()
        ),
        (None, true) => println!("unit: {PACKAGED_UNIT} (from the package)"),
        (None, false) => println!("unit: none (`ssenotify service install` writes one)"),
    }
    if systemd_running() {
        let state = |what: &str| {
            systemctl(&[what, UNIT_NAME])
                .unwrap_or_else(|e| e.rsplit(": ").next().unwrap_or(&e).to_owned())
        };
        println!("enabled: {}", state("is-enabled"));
        println!("active: {}", state("is-active"));
    } else {
        println!("systemd: not running on this machine");
    }
    match ssenotify_daemon::running_pid(paths) {
        Some(pid) => println!("engine: running (pid {pid})"),
        None => println!("engine: not running"),
    }
    ExitCode::SUCCESS
}
