//! `ssenotify service` and the systemd user unit, against the real binary and the real
//! `systemd-analyze`: the unit it writes verifies cleanly, names this binary, steps aside
//! when an engine already runs, and `uninstall` removes only its own file.

use std::path::Path;
use std::process::Command;

use ssenotify_e2e::home::{Home, show, stdout};
use ssenotify_e2e::ssenotify_bin;

/// `ssenotify service ARGS` in `home`; where systemd runs this machine, with a stand-in
/// `systemctl` on PATH that only records its arguments, so a test never enables a real
/// service for the user running it.
fn service(home: &Home, args: &[&str]) -> std::process::Output {
    let shim_dir = home.path().join("shim");
    std::fs::create_dir_all(&shim_dir).unwrap();
    let shim = shim_dir.join("systemctl");
    let log = home.path().join("systemctl.log");
    std::fs::write(
        &shim,
        format!("#!/bin/sh\necho \"$@\" >> '{}'\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        shim_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut all = vec!["service"];
    all.extend_from_slice(args);
    let mut cmd = home.command(&all);
    cmd.env("PATH", path);
    cmd.output().expect("ssenotify runs")
}

fn systemd_here() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

#[test]
fn install_writes_a_unit_that_systemd_analyze_verifies() {
    let home = Home::new();
    let output = service(&home, &["install"]);
    assert!(output.status.success(), "{}", show(&output));
    let unit_path = home.path().join("config/systemd/user/ssenotify.service");
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    let bin = ssenotify_bin().canonicalize().unwrap();
    assert!(
        unit.contains(&format!("\nExecStart={} run\n", bin.display())),
        "{unit}"
    );
    assert!(unit.contains(&format!(
        "\nExecCondition={} service no-engine\n",
        bin.display()
    )));
    assert!(
        unit.contains("\nRestart=on-failure\n") && unit.contains("\nWantedBy=default.target\n")
    );
    assert!(!unit.contains("/usr/bin/ssenotify"), "{unit}");
    let out = stdout(&output);
    if systemd_here() {
        let calls = std::fs::read_to_string(home.path().join("systemctl.log")).unwrap();
        assert!(
            calls.contains("--user enable --now ssenotify.service"),
            "{calls}"
        );
    } else {
        assert!(
            out.contains("systemd is not running on this machine"),
            "{out}"
        );
    }

    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "skipped the verify: systemd-analyze is not installed (setup.sh test installs systemd)"
        );
        return;
    }
    let runtime = home.path().join("run");
    std::fs::create_dir_all(&runtime).unwrap();
    let verify = |path: &Path| {
        // --man=no: a build from source has no man pages installed for `Documentation=`
        // (tests/deb/run.sh verifies the packaged unit with its pages).
        let output = Command::new("systemd-analyze")
            .args(["--user", "verify", "--man=no"])
            .arg(path)
            .env("HOME", home.path())
            .env("XDG_RUNTIME_DIR", &runtime)
            .output()
            .expect("systemd-analyze runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, warnings) = verify(&unit_path);
    assert!(
        ok && warnings.trim().is_empty(),
        "systemd-analyze: {warnings}"
    );
    // The check has teeth: a unit naming a missing program, or a misspelt key, is reported.
    let broken = home.path().join("broken/ssenotify.service");
    std::fs::create_dir_all(broken.parent().unwrap()).unwrap();
    std::fs::write(&broken, unit.replace("\nRestart=", "\nRestrat=")).unwrap();
    let (_, warnings) = verify(&broken);
    assert!(warnings.contains("Restrat"), "{warnings}");
    std::fs::write(
        &broken,
        unit.replace(&bin.display().to_string(), "/nonexistent/ssenotify"),
    )
    .unwrap();
    let (ok, _) = verify(&broken);
    assert!(!ok, "a unit whose program is missing fails to verify");
}

#[test]
fn the_service_steps_aside_when_an_engine_runs() {
    let home = Home::new();
    let free = service(&home, &["no-engine"]);
    assert_eq!(free.status.code(), Some(0), "{}", show(&free));
    let status = stdout(&service(&home, &["status"]));
    assert!(status.contains("engine: not running"), "{status}");
    assert!(
        status.contains("unit: none") || status.contains("unit: /usr/lib/systemd/user"),
        "{status}"
    );

    let daemon = home.start_daemon();
    let taken = service(&home, &["no-engine"]);
    assert_eq!(taken.status.code(), Some(1), "{}", show(&taken));
    assert!(
        stdout(&taken).contains(&format!("pid {}", daemon.pid())),
        "{}",
        show(&taken)
    );
    let status = stdout(&service(&home, &["status"]));
    assert!(
        status.contains(&format!("engine: running (pid {})", daemon.pid())),
        "{status}"
    );
    // And the engine itself refuses a second one: the lock, whoever starts it.
    let second = home.run(&["run", "--no-notify"]);
    assert_eq!(second.status.code(), Some(1), "{}", show(&second));
}

#[test]
fn uninstall_removes_only_the_unit_install_wrote() {
    let home = Home::new();
    let unit_path = home.path().join("config/systemd/user/ssenotify.service");
    std::fs::create_dir_all(unit_path.parent().unwrap()).unwrap();
    std::fs::write(&unit_path, "[Service]\nExecStart=/opt/mine\n").unwrap();
    let refused = service(&home, &["uninstall"]);
    assert_eq!(refused.status.code(), Some(1), "{}", show(&refused));
    assert!(
        unit_path.is_file(),
        "a unit of the user's own is left alone"
    );

    std::fs::remove_file(&unit_path).unwrap();
    assert!(service(&home, &["install"]).status.success());
    let status = stdout(&service(&home, &["status"]));
    assert!(
        status.contains(&format!("unit: {}", unit_path.display())),
        "{status}"
    );
    let removed = service(&home, &["uninstall"]);
    assert!(removed.status.success(), "{}", show(&removed));
    assert!(!unit_path.exists());
    let again = service(&home, &["uninstall"]);
    assert!(again.status.success() && stdout(&again).contains("nothing to remove"));
}
