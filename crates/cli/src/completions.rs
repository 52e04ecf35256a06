//! `ssenotify completions bash|zsh|fish`: shell completions generated from the clap
//! definitions, plus subscription ids completed from the user's subscriptions file.
//!
//! The scripts are clap_complete's static ones (the stable part of clap_complete, what the
//! .deb installs as plain files). Ids cannot be static: each script gets a small hook that
//! asks the hidden `ssenotify __complete-ids` for the ids in the file at the moment of
//! completion. clap_complete's dynamic completion (`unstable-dynamic`, `CompleteEnv`)
//! would do this too, but it is behind an unstable feature whose protocol may change in any
//! minor release, and it runs the binary on every Tab, also for flags.

use std::io::Write;
use std::process::ExitCode;

use clap::Command;
use clap_complete::Shell;

/// The shells `ssenotify completions` writes for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ShellArg {
    /// bash (bash-completion).
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
}

/// Arguments of `ssenotify completions`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    shell: ShellArg,
}

/// The name of the hidden subcommand that prints the subscription ids, one a line.
pub const COMPLETE_IDS: &str = "__complete-ids";

/// Print the completion script of `cli` (the whole command tree) for `args.shell`.
pub fn main(args: Args, cli: Command) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let script = script(args.shell, cli);
    match out.write_all(script.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => crate::common::fail(format!("cannot write the script: {error}")),
    }
}

/// The completion script for `shell`: clap_complete's, then the id hook.
pub fn script(shell: ShellArg, mut cmd: Command) -> String {
    let name = cmd.get_name().to_owned();
    let takes_ids = subcommands_taking_ids(&cmd);
    let mut buf = Vec::new();
    let generator = match shell {
        ShellArg::Bash => Shell::Bash,
        ShellArg::Zsh => Shell::Zsh,
        ShellArg::Fish => Shell::Fish,
    };
    clap_complete::generate(generator, &mut cmd, &name, &mut buf);
    let mut text = String::from_utf8(buf).expect("clap_complete writes UTF-8");
    let list = takes_ids.join(" ");
    match shell {
        ShellArg::Bash => text.push_str(&bash_hook(&name, &list)),
        ShellArg::Zsh => text = zsh_hook(&text),
        ShellArg::Fish => text.push_str(&format!(
            "\n# Subscription ids, read from the subscriptions file when completing.\n\
             complete -c {name} -n \"__fish_seen_subcommand_from {list}\" -f -a \"({name} {COMPLETE_IDS} 2>/dev/null)\"\n"
        )),
    }
    text
}

/// The subcommands whose positional argument is a subscription id (`id` or `ids`), read
/// from the clap definitions so a new command that takes an id completes ids too.
pub fn subcommands_taking_ids(cmd: &Command) -> Vec<String> {
    cmd.get_subcommands()
        .filter(|sub| {
            sub.get_positionals()
                .any(|arg| matches!(arg.get_id().as_str(), "id" | "ids"))
        })
        .map(|sub| sub.get_name().to_owned())
        .collect()
}

/// Wraps clap_complete's `_NAME` function: the first positional after a subcommand that
/// takes ids completes from the file, anything else goes to clap_complete's function.
fn bash_hook(name: &str, list: &str) -> String {
    format!(
        r#"
# Subscription ids, read from the subscriptions file when completing.
_{name}_with_ids() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" i sub="" positionals=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in
            -*) ;;
            *) if [[ -z "$sub" ]]; then sub="${{COMP_WORDS[i]}}"; else positionals=$((positionals + 1)); fi ;;
        esac
    done
    if [[ "${{COMP_WORDS[COMP_CWORD-1]}}" == --subscription ]]; then
        COMPREPLY=($(compgen -W "$({name} {COMPLETE_IDS} 2>/dev/null)" -- "$cur"))
        return 0
    fi
    if [[ "$cur" != -* && "${{COMP_WORDS[COMP_CWORD-1]}}" != -* ]]; then
        case " {list} " in
            *" $sub "*)
                if [[ "$sub" == status || $positionals -eq 0 ]]; then
                    COMPREPLY=($(compgen -W "$({name} {COMPLETE_IDS} 2>/dev/null)" -- "$cur"))
                    return 0
                fi ;;
        esac
    fi
    _{name} "$@"
}}
if [[ "${{BASH_VERSINFO[0]}}" -eq 4 && "${{BASH_VERSINFO[1]}}" -ge 4 || "${{BASH_VERSINFO[0]}}" -gt 4 ]]; then
    complete -F _{name}_with_ids -o nosort -o bashdefault -o default {name}
else
    complete -F _{name}_with_ids -o bashdefault -o default {name}
fi
"#
    )
}

/// zsh: clap_complete leaves an id argument to `_default` (file names); point it at a
/// function that lists the ids instead. The function is defined before the script's last
/// block, which runs the completion when zsh autoloads the file from `$fpath` (as the
/// package installs it), so it exists on the very first Tab.
fn zsh_hook(script: &str) -> String {
    let helper = format!(
        "# Subscription ids, read from the subscriptions file when completing.\n\
         (( $+functions[_ssenotify_ids] )) ||\n\
         _ssenotify_ids() {{\n    local -a ids\n    ids=(${{(f)\"$(ssenotify {COMPLETE_IDS} 2>/dev/null)\"}})\n    compadd -a ids\n}}\n\n"
    );
    let mut text = String::with_capacity(script.len() + helper.len());
    let mut placed = false;
    for line in script.lines() {
        let trimmed = line.trim_start();
        let is_id_arg = trimmed.starts_with("':id -- ")
            || trimmed.starts_with("'::id -- ")
            || trimmed.starts_with("'*::ids -- ");
        if !placed && line.starts_with("if [ \"$funcstack[1]\" = ") {
            text.push_str(&helper);
            placed = true;
        }
        if is_id_arg && line.contains(":_default'") {
            text.push_str(&line.replacen(":_default'", ":_ssenotify_ids'", 1));
        } else {
            text.push_str(line);
        }
        text.push('\n');
    }
    if !placed {
        text.push_str(&helper);
    }
    text
}

/// `ssenotify __complete-ids`: the ids in the subscriptions file, one a line; nothing (and
/// exit 0) when there is no file or it does not parse, since a completion must stay quiet.
pub fn complete_ids(paths: &ssenotify_config::Paths) -> ExitCode {
    let store = ssenotify_config::Store::new(paths.clone());
    if let Ok(set) = store.load() {
        let mut out = std::io::stdout().lock();
        for spec in &set.subscriptions {
            let _ = writeln!(out, "{}", spec.id);
        }
    }
    ExitCode::SUCCESS
}
