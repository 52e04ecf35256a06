//! Locating (and if needed building) the `ssenotify` binary for process-level tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Path to the `ssenotify` binary matching the running test's cargo profile.
///
/// Cargo only exposes `CARGO_BIN_EXE_<name>` for binaries of the package under
/// test, and `cargo test -p ssenotify-e2e` does not build another package's
/// binary at all, so this finds it next to the test executable
/// (`target/<profile>/deps/<test>` → `target/<profile>/ssenotify`). The first
/// call per test process runs `cargo build -p ssenotify-cli --bin ssenotify`
/// for that profile: a no-op when the binary is fresh, and it keeps tests from
/// silently exercising a stale binary after the CLI sources changed. Concurrent
/// callers wait for that one build.
///
/// Set `SSENOTIFY_BIN` to use a specific binary and skip the build. Panics with
/// cargo's output if the build fails.
pub fn ssenotify_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(locate).clone()
}

fn locate() -> PathBuf {
    if let Some(bin) = std::env::var_os("SSENOTIFY_BIN") {
        let bin = PathBuf::from(bin);
        assert!(
            bin.is_file(),
            "SSENOTIFY_BIN={} does not exist",
            bin.display()
        );
        return bin;
    }
    let exe = std::env::current_exe().expect("current test executable path");
    let dir = exe
        .parent()
        .expect("test executable has a parent directory");
    // Integration tests live in <profile>/deps; a test run from <profile> itself is also accepted.
    let profile_dir = if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().expect("deps directory has a parent")
    } else {
        dir
    };
    let bin = profile_dir.join(format!("ssenotify{}", std::env::consts::EXE_SUFFIX));
    build(profile_dir);
    assert!(
        bin.is_file(),
        "cargo build succeeded but {} does not exist; set SSENOTIFY_BIN",
        bin.display()
    );
    bin
}

fn build(profile_dir: &Path) {
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .expect("profile directory name");
    let target_dir = profile_dir
        .parent()
        .expect("profile directory has a parent");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    // `cargo test` exports CARGO, so the same toolchain builds the binary.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .args(["-p", "ssenotify-cli", "--bin", "ssenotify"]);
    // The dev profile's output directory is named "debug"; every other profile uses its own name.
    if profile != "debug" {
        cmd.args(["--profile", profile]);
    }
    // `cargo test` gives the test process the e2e package's own variables; some
    // build scripts (ring) track e.g. CARGO_MANIFEST_DIR, so inheriting them
    // would make this build and every ordinary build invalidate each other.
    for (key, _) in std::env::vars_os() {
        let key_str = key.to_string_lossy();
        if key_str.starts_with("CARGO_PKG_")
            || key_str.starts_with("CARGO_MANIFEST_")
            || key_str.starts_with("CARGO_BIN_EXE_")
            || matches!(
                &*key_str,
                "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE" | "CARGO_TARGET_TMPDIR" | "OUT_DIR"
            )
        {
            cmd.env_remove(&key);
        }
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
