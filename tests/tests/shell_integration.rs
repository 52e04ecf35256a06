//! What a user meets first, against the real binary: `--help` with an example for every
//! command, bash completion (commands from clap, subscription ids from the user's file),
//! and the manual pages rendered by `man`.

use std::path::Path;
use std::process::Command;

use ssenotify_e2e::home::{Home, show, stdout};
use ssenotify_e2e::ssenotify_bin;

const SUBSCRIPTIONS: &str = r#"version = 1

[[subscription]]
id = "alerts"
url = "https://example.com/alerts"

[[subscription]]
id = "ci-builds"
url = "https://example.com/ci"
"#;

/// The visible commands `ssenotify --help` lists.
fn commands(home: &Home) -> Vec<String> {
    let help = stdout(&home.run(&["--help"]));
    help.lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn help_has_a_current_about_line_and_every_command_an_example() {
    let home = Home::new();
    let help = home.run(&["--help"]);
    let first = stdout(&help).lines().next().unwrap_or_default().to_owned();
    assert!(
        first.contains("daemon") && first.contains("subscriptions") && !first.contains("later"),
        "{}",
        show(&help)
    );
    let commands = commands(&home);
    assert!(commands.len() >= 20, "{commands:?}");
    for command in &commands {
        let output = home.run(&[command, "--help"]);
        let text = stdout(&output);
        assert!(
            text.contains("Example") && text.contains(&format!("ssenotify {command}")),
            "`ssenotify {command} --help` has no example:\n{}",
            show(&output)
        );
    }
}

/// Runs bash's completion for `line` (the cursor at its end) with the script from
/// `ssenotify completions bash` loaded, and returns the candidates.
fn complete_bash(home: &Home, script: &Path, line: &str) -> Vec<String> {
    let mut words: Vec<&str> = line.split(' ').collect();
    if line.ends_with(' ') {
        words.pop();
        words.push("");
    }
    let cword = words.len() - 1;
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let prev = if cword > 0 { words[cword - 1] } else { "" };
    let program = format!(
        "source '{}' || exit 9\n\
         COMP_WORDS=({})\nCOMP_CWORD={cword}\nCOMP_LINE='{line}'\nCOMP_POINT=${{#COMP_LINE}}\n\
         _ssenotify_with_ids ssenotify '{}' '{prev}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words[cword],
    );
    let bin_dir = ssenotify_bin().parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg("--norc").arg("-c").arg(program);
    home.isolate(&mut cmd).env("PATH", path);
    let output = cmd.output().expect("bash runs");
    assert!(output.status.success(), "{}", show(&output));
    stdout(&output)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_commands_and_ids_from_the_subscriptions_file() {
    let home = Home::new();
    std::fs::create_dir_all(home.config_dir()).unwrap();
    std::fs::write(home.subs_file(), SUBSCRIPTIONS).unwrap();
    let output = home.run(&["completions", "bash"]);
    assert!(output.status.success(), "{}", show(&output));
    let script = home.write("ssenotify.bash", &stdout(&output));

    let found = complete_bash(&home, &script, "ssenotify pa");
    assert!(found.contains(&"pause".to_owned()), "{found:?}");
    let found = complete_bash(&home, &script, "ssenotify comp");
    assert_eq!(found, ["completions"]);

    let found = complete_bash(&home, &script, "ssenotify pause ");
    assert_eq!(found, ["alerts", "ci-builds"]);
    let found = complete_bash(&home, &script, "ssenotify remove c");
    assert_eq!(found, ["ci-builds"]);
    let found = complete_bash(&home, &script, "ssenotify status alerts ");
    assert_eq!(found, ["alerts", "ci-builds"], "status takes several ids");
    let found = complete_bash(&home, &script, "ssenotify route --subscription a");
    assert_eq!(found, ["alerts"]);
    // Flags still come from clap's definitions.
    let found = complete_bash(&home, &script, "ssenotify mute alerts --f");
    assert_eq!(found, ["--for"]);
    // A command that takes no id offers none.
    let found = complete_bash(&home, &script, "ssenotify add a");
    assert!(!found.iter().any(|c| c == "alerts"), "{found:?}");
}

#[test]
fn completion_scripts_exist_for_zsh_and_fish_with_the_id_hook() {
    let home = Home::new();
    let zsh = stdout(&home.run(&["completions", "zsh"]));
    assert!(zsh.starts_with("#compdef ssenotify"), "{zsh}");
    assert!(zsh.contains(":_ssenotify_ids'") && zsh.contains("__complete-ids"));
    // Defined before the block that runs the completion when zsh autoloads the file, or the
    // first Tab after `pause` would find no such function.
    let helper = zsh.find("_ssenotify_ids() {").expect("the id helper");
    let dispatch = zsh
        .find("if [ \"$funcstack[1]\" = \"_ssenotify\" ]")
        .expect("the dispatch");
    assert!(helper < dispatch, "{zsh}");
    let fish = stdout(&home.run(&["completions", "fish"]));
    assert!(
        fish.contains("__fish_seen_subcommand_from remove pause resume"),
        "{fish}"
    );
    assert!(fish.contains("(ssenotify __complete-ids 2>/dev/null)"));
    // Without a subscriptions file the id helper prints nothing and succeeds.
    let ids = home.run(&["__complete-ids"]);
    assert!(
        ids.status.success() && ids.stdout.is_empty(),
        "{}",
        show(&ids)
    );
}

/// `man -l FILE`, plain text, 80 columns.
fn render_man(page: &Path) -> String {
    let output = Command::new("man")
        .arg("-l")
        .arg(page)
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .expect("man runs");
    assert!(output.status.success(), "{}", show(&output));
    // Bold and underline come as backspace overstrikes when not on a terminal.
    let text = String::from_utf8_lossy(&output.stdout);
    let mut plain = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    plain
}

#[test]
fn man_pages_render_with_man() {
    if Command::new("man").arg("--version").output().is_err() {
        eprintln!("skipped: `man` is not installed (scripts/setup.sh test installs man-db)");
        return;
    }
    let home = Home::new();
    let dir = home.path().join("man1");
    let output = home.run(&["man", "--dir", dir.to_str().unwrap()]);
    assert!(output.status.success(), "{}", show(&output));
    let commands = commands(&home);
    for command in &commands {
        assert!(
            dir.join(format!("ssenotify-{command}.1")).is_file(),
            "{command}"
        );
    }
    let main = render_man(&dir.join("ssenotify.1"));
    assert!(
        main.contains("ssenotify(1)") && main.contains("ssenotify-add(1)"),
        "{main}"
    );
    let pause = render_man(&dir.join("ssenotify-pause.1"));
    assert!(
        pause.contains("ssenotify-pause - Pause a subscription")
            && pause.contains("ssenotify pause alerts"),
        "{pause}"
    );
    // One page on stdout, as `ssenotify man mute | man -l -` reads it.
    let page = home.write("mute.1", &stdout(&home.run(&["man", "mute"])));
    assert!(render_man(&page).contains("--for"));
    let unknown = home.run(&["man", "nope"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", show(&unknown));
}
