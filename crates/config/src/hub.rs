//! `[hub]`: the local event hub's settings (where the daemon serves every event to local
//! scripts), the address they name, and the hub's bearer token file.
//!
//! The hub listens on loopback or a Unix socket only: an address another machine could
//! reach is refused here, when the file is read, not discovered later. The token is kept
//! in the data directory (0600 in a 0700 directory) so that it survives reboots: a script
//! that read it once keeps working after the daemon restarts.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::paths::{Paths, create_private_dir};

/// The address `ssenotify hub` suggests when the hub is off.
pub const EXAMPLE_LISTEN: &str = "127.0.0.1:47412";

/// `[hub]` in the subscriptions file; off unless `listen` is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HubSpec {
    /// Where the hub serves events: a loopback address and port (`"127.0.0.1:47412"`,
    /// `"[::1]:47412"`) or `"unix:PATH"` (a Unix socket; a relative PATH is in the
    /// runtime directory). Absent: the hub is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(unix:.+|127\.[0-9]+\.[0-9]+\.[0-9]+:[0-9]+|\[::1\]:[0-9]+)$"))]
    pub listen: Option<String>,
}

/// Where the hub listens, parsed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubAddress {
    /// A loopback TCP address.
    Tcp(SocketAddr),
    /// A Unix socket (as written: relative paths are resolved by [`HubAddress::resolve`]).
    Unix(PathBuf),
}

impl HubAddress {
    /// Parses `listen`; the error says what is wrong (not a loopback address, no path).
    pub fn parse(listen: &str) -> Result<Self, String> {
        if let Some(path) = listen.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("\"unix:\" needs a path, e.g. \"unix:hub.sock\"".into());
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        let addr: SocketAddr = listen.parse().map_err(|_| {
            format!(
                "{listen:?} is not an address: expected a loopback IP and port such as \
                 {EXAMPLE_LISTEN:?} or \"[::1]:47412\", or \"unix:PATH\""
            )
        })?;
        if !addr.ip().is_loopback() {
            return Err(format!(
                "{listen:?} is not a loopback address: the hub serves this machine only \
                 (use 127.0.0.1, [::1] or unix:PATH)"
            ));
        }
        Ok(Self::Tcp(addr))
    }

    /// The address with a relative Unix socket path placed in the runtime directory.
    pub fn resolve(self, paths: &Paths) -> Self {
        match self {
            Self::Unix(path) => Self::Unix(paths.runtime_dir.join(path)),
            tcp => tcp,
        }
    }

    /// The URL of every subscription's events (`http://127.0.0.1:47412/events`), or
    /// `unix:PATH` for a socket (curl: `--unix-socket PATH http://localhost/events`).
    pub fn events_url(&self) -> String {
        match self {
            Self::Tcp(addr) => format!("http://{addr}/events"),
            Self::Unix(path) => format!("unix:{}", path.display()),
        }
    }
}

impl fmt::Display for HubAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(addr) => write!(f, "{addr}"),
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl HubSpec {
    /// The resolved address when the hub is on; `None` when it is off (the file was
    /// validated, so `listen` parses).
    pub fn address(&self, paths: &Paths) -> Option<HubAddress> {
        let listen = self.listen.as_deref()?;
        HubAddress::parse(listen).ok().map(|a| a.resolve(paths))
    }

    /// [`HubSpec::address`], or an error that says how to turn the hub on.
    pub fn require(&self, paths: &Paths) -> Result<HubAddress, String> {
        self.address(paths).ok_or_else(|| {
            format!(
                "the event hub is off: add\n\n  [hub]\n  listen = \"{EXAMPLE_LISTEN}\"\n\nto {} (see docs/subscriptions.md, [hub])",
                paths.subscriptions_file().display()
            )
        })
    }
}

/// The hub's bearer token: read from its file, or made (32 random bytes, hex) and written
/// 0600 when there is none yet. The daemon, `ssenotify hub token` and the app all call
/// this, so whichever comes first makes it; the others read the same one.
pub fn hub_token(paths: &Paths) -> io::Result<String> {
    let path = paths.hub_token();
    if let Some(token) = read_token(&path)? {
        return Ok(token);
    }
    create_private_dir(&paths.data_dir)?;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(mut file) => {
            file.write_all(token.as_bytes())?;
            Ok(token)
        }
        // Another process made it first: theirs is the token.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read_token(&path)?
            .ok_or_else(|| io::Error::other(format!("{} is empty", path.display()))),
        Err(e) => Err(e),
    }
}

/// The token in `path`, if the file exists and holds one.
fn read_token(path: &Path) -> io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.trim().to_owned()).filter(|t| !t.is_empty())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn only_loopback_and_unix_sockets_are_accepted() {
        assert_eq!(
            HubAddress::parse("127.0.0.1:47412"),
            Ok(HubAddress::Tcp("127.0.0.1:47412".parse().unwrap()))
        );
        assert!(matches!(
            HubAddress::parse("[::1]:1"),
            Ok(HubAddress::Tcp(_))
        ));
        assert_eq!(
            HubAddress::parse("unix:/x/hub.sock"),
            Ok(HubAddress::Unix("/x/hub.sock".into()))
        );
        for bad in ["0.0.0.0:47412", "192.168.1.2:80", "[::]:1"] {
            let error = HubAddress::parse(bad).unwrap_err();
            assert!(error.contains("not a loopback address"), "{bad}: {error}");
        }
        assert!(
            HubAddress::parse("localhost:1")
                .unwrap_err()
                .contains("not an address")
        );
        assert!(HubAddress::parse("unix:").unwrap_err().contains("path"));
    }

    #[test]
    fn a_wide_address_in_the_file_is_refused_with_its_key_and_line() {
        let text = "version = 1\n\n[hub]\nlisten = \"0.0.0.0:47412\"\n";
        let error = crate::SubscriptionSet::parse(
            text,
            crate::Format::Toml,
            Path::new("subs.toml"),
            crate::LiteralSecrets::Reject,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("subs.toml:4:"), "{error}");
        assert!(error.contains("hub.listen"), "{error}");
        assert!(error.contains("not a loopback address"), "{error}");
    }

    #[test]
    fn a_relative_socket_is_in_the_runtime_dir() {
        let paths = Paths::at("/r");
        let spec = HubSpec {
            listen: Some("unix:hub.sock".into()),
        };
        assert_eq!(
            spec.address(&paths).unwrap().events_url(),
            "unix:/r/run/hub.sock"
        );
        assert_eq!(HubSpec::default().address(&paths), None);
    }

    #[test]
    fn the_token_is_made_once_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        let token = hub_token(&paths).unwrap();
        assert_eq!(token.len(), 64);
        assert_eq!(hub_token(&paths).unwrap(), token);
        let mode = std::fs::metadata(paths.hub_token())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
