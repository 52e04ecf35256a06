//! The demo feed, against the real `ssenotify` binary: served by the daemon only while a
//! subscription uses it, on a loopback port of the kernel's choosing (no other local user
//! can take it first and feed the demo subscription), and gone when it is removed.

use std::fs;

use ssenotify_e2e::home::*;
use ssenotify_e2e::poll;

/// The loopback TCP ports process `pid` listens on (from `/proc`).
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.filter_map(|e| {
                let link = fs::read_link(e.ok()?.path()).ok()?;
                let link = link.to_str()?;
                Some(link.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
            })
            .collect()
        })
        .unwrap_or_default();
    let table = fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local address, state 0A = LISTEN, inode
            let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            (*state == "0A" && inodes.iter().any(|i| i == inode)).then_some(())?;
            u16::from_str_radix(local.split(':').nth(1)?, 16).ok()
        })
        .collect()
}

#[test]
fn the_demo_feed_is_served_only_while_a_subscription_uses_it() {
    let home = Home::new();
    let daemon = home.start_daemon();
    assert!(
        listening_ports(daemon.pid()).is_empty(),
        "no demo subscription, no listener: {:?}",
        listening_ports(daemon.pid())
    );

    assert_eq!(
        home.ok(&["add", "http://demo.ssenotify.invalid/", "--id", "demo"]),
        "added demo\n"
    );
    poll(WAIT, || (home.history(&["demo"]).len() >= 2).then_some(())).expect("demo events arrive");
    let ports = listening_ports(daemon.pid());
    assert_eq!(ports.len(), 1, "{ports:?}");
    assert_ne!(ports[0], 47411, "a port of the kernel's choosing");
    let live = home.live("demo").unwrap();
    assert_eq!(live["ready_state"], "OPEN", "{live}");

    home.ok(&["remove", "demo"]);
    poll(WAIT, || {
        listening_ports(daemon.pid()).is_empty().then_some(())
    })
    .expect("the demo feed stops with its subscription");
}
