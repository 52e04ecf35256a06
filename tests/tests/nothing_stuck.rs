//! "Nothing stuck" (README, "What ssenotify promises"), against the real `ssenotify`
//! binary and loopback servers: a subscription CLOSED for good can be revived, and the
//! daemon's own work is bounded and waited for (commands run a few at a time, and a stop
//! kills what is left within its two seconds).

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use ssenotify_e2e::home::*;
use ssenotify_e2e::{Response, Step, TestServer, poll, sse_event};

fn live_field(home: &Home, id: &str, field: &str) -> Value {
    home.live(id)
        .map(|s| s[field].clone())
        .unwrap_or(Value::Null)
}

/// Waits until `id` is OPEN in the daemon's status.
fn until_open(home: &Home, id: &str) {
    poll(WAIT, || {
        (live_field(home, id, "ready_state") == "OPEN").then_some(())
    })
    .unwrap_or_else(|| panic!("{id} never OPEN: {:?}", home.live(id)));
}

/// The pids of processes whose command line is exactly `cmdline` (NUL-separated argv).
fn processes(cmdline: &[&str]) -> Vec<u32> {
    let want: Vec<u8> = cmdline
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want))
        .collect()
}

#[test]
fn reconnect_revives_a_subscription_closed_by_a_404() {
    let fixed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = TestServer::start({
        let fixed = fixed.clone();
        move |_, _| {
            if fixed.load(std::sync::atomic::Ordering::SeqCst) {
                Response::sse_steps(vec![
                    Step::Send(sse_event(None, Some("1"), "ok")),
                    Step::Hold,
                ])
            } else {
                Response::status(404)
            }
        }
    });
    let home = Home::new();
    home.ok(&["add", &server.url("/f"), "--id", "f"]);
    let _daemon = home.start_daemon();
    poll(WAIT, || {
        (live_field(&home, "f", "ready_state") == "CLOSED").then_some(())
    })
    .expect("closed by the 404");
    assert_eq!(live_field(&home, "f", "status"), 404);

    // `resume` of a subscription that is not paused but CLOSED tries again.
    fixed.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(home.ok(&["resume", "f"]), "resumed f\n");
    until_open(&home, "f");

    // `reconnect` does so from any state; a paused subscription is refused.
    fixed.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(home.ok(&["reconnect", "f"]), "reconnecting f\n");
    poll(WAIT, || {
        (live_field(&home, "f", "status") == 404).then_some(())
    })
    .expect("404 again");
    fixed.store(true, std::sync::atomic::Ordering::SeqCst);
    home.ok(&["reconnect", "f"]);
    until_open(&home, "f");
    assert_eq!(live_field(&home, "f", "reason"), "HTTP 200 OK");
    home.ok(&["pause", "f"]);
    let output = home.run(&["reconnect", "f"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert!(stderr(&output).contains("paused"), "{}", show(&output));
}

#[test]
fn commands_run_a_few_at_a_time_and_a_stop_kills_the_rest_within_two_seconds() {
    // A marker no other process has: how the test finds the daemon's children.
    let marker = format!("{}.{}", 30 + std::process::id() % 10, std::process::id());
    let argv = ["sleep", marker.as_str()];
    let server = TestServer::start(|_, _| {
        let mut steps: Vec<Step> = (1..=100)
            .map(|i| Step::Send(sse_event(None, Some(&i.to_string()), "run")))
            .collect();
        steps.push(Step::Hold);
        Response::sse_steps(steps)
    });
    let home = Home::new();
    fs::create_dir_all(home.config_dir()).unwrap();
    fs::write(
        home.subs_file(),
        format!(
            "[[subscription]]\nid = \"jobs\"\nurl = \"{}\"\n\n\
             [[subscription.rules]]\naction = \"command\"\ncommand = [\"sleep\", \"{marker}\"]\n",
            server.url("/jobs")
        ),
    )
    .unwrap();
    let mut daemon = home.start_daemon();
    poll(WAIT, || {
        (live_field(&home, "jobs", "events") == 100).then_some(())
    })
    .expect("every event arrived");
    poll(WAIT, || (processes(&argv).len() == 8).then_some(()))
        .unwrap_or_else(|| panic!("{} commands run", processes(&argv).len()));
    // Never more than eight, while the rest wait.
    let watched = Instant::now();
    while watched.elapsed() < QUIET {
        assert!(processes(&argv).len() <= 8);
        std::thread::sleep(Duration::from_millis(50));
    }
    // A bounded queue: those past it are not run, and history says so.
    let actions: Vec<String> = home
        .history(&["jobs", "--limit", "1000"])
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    let run = actions.iter().filter(|a| *a == "command").count();
    let refused = actions.iter().filter(|a| *a == "error").count();
    assert_eq!(run + refused, 100, "{actions:?}");
    // How many the runner had taken off the queue when the burst arrived depends on the
    // scheduler (all 100 may come in one read): at least a full queue, at most 8 running, 64
    // queued and one waiting for its turn in the runner's hand.
    assert!(
        (64..=73).contains(&run),
        "at most 8 running and 64 queued (+1 in hand): {run}"
    );

    // SIGTERM: the daemon stops within its 2 s and leaves no command behind.
    let stopping = Instant::now();
    daemon.signal("TERM");
    let status = daemon.wait_exit(WAIT).expect("stopped");
    assert!(status.success(), "{status}");
    assert!(
        stopping.elapsed() < Duration::from_millis(2500),
        "{:?}",
        stopping.elapsed()
    );
    poll(WAIT, || processes(&argv).is_empty().then_some(()))
        .unwrap_or_else(|| panic!("left running: {:?}", processes(&argv)));
    // And nothing it started is a zombie child of this test's process tree either.
    let zombies = Command::new("sh")
        .args(["-c", "ps -eo stat,args | grep -c '^Z.*sleep' || true"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&zombies.stdout).trim(), "0");
}
