//! Usage errors reported the docker CLI's way: a one-line reason first, then where to get
//! help, and docker's exit statuses (125 for a bad flag or value, 1 for a wrong number of
//! arguments or an unknown command, 0 for help).

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// What to print (on stderr unless `to_stdout`) and the exit status.
#[derive(Debug, PartialEq, Eq)]
pub struct Usage {
    pub text: String,
    pub code: i32,
    pub to_stdout: bool,
}

/// The subcommand in `args` (argv without the program name): the first word that is
/// neither a flag nor the value of the global `-H/--host`.
pub fn verb_of(args: &[String]) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-H" || a == "--host" {
            it.next();
        } else if a == "--" {
            return it.next().cloned();
        } else if !a.starts_with('-') {
            return Some(a.clone());
        }
    }
    None
}

/// How many arguments a verb wants, in docker's words.
fn wants(verb: &str) -> &'static str {
    match verb {
        "logs" | "pull" => "exactly 1 argument",
        _ => "at least 1 argument",
    }
}

fn context(e: &clap::Error, kind: ContextKind) -> Option<String> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => v.first().cloned(),
        _ => None,
    }
}

/// docker's wording for an unknown flag.
pub fn unknown_flag(arg: &str) -> String {
    if arg.starts_with("--") {
        let name = arg.split_once('=').map(|(n, _)| n).unwrap_or(arg);
        format!("unknown flag: {name}")
    } else {
        let c = arg.chars().nth(1).unwrap_or('-');
        format!("unknown shorthand flag: '{c}' in {arg}")
    }
}

/// Turns a clap error into docker's message and status.
pub fn report(e: &clap::Error, verb: Option<&str>) -> Usage {
    let help_hint = |v: Option<&str>| match v {
        Some(v) => format!("See 'pouch {v} --help'."),
        None => "See 'pouch --help'.".to_string(),
    };
    let err = |reason: String, code: i32| Usage {
        text: format!("pouch: {reason}\n{}\n", help_hint(verb)),
        code,
        to_stdout: false,
    };
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => Usage {
            text: e.render().to_string(),
            code: 0,
            to_stdout: true,
        },
        // `pouch` alone prints the usage, as `docker` alone does.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Usage {
            text: e.render().to_string(),
            code: 0,
            to_stdout: true,
        },
        ErrorKind::MissingRequiredArgument => {
            let v = verb.unwrap_or("pouch");
            err(format!("'pouch {v}' requires {}", wants(v)), 1)
        }
        ErrorKind::InvalidSubcommand => {
            let name = context(e, ContextKind::InvalidSubcommand)
                .or_else(|| verb.map(str::to_string))
                .unwrap_or_default();
            Usage {
                text: format!(
                    "pouch: '{name}' is not a pouch command.\n{}\n",
                    help_hint(None)
                ),
                code: 1,
                to_stdout: false,
            }
        }
        ErrorKind::UnknownArgument => {
            let arg = context(e, ContextKind::InvalidArg).unwrap_or_default();
            if arg.starts_with('-') && arg != "-" {
                err(unknown_flag(&arg), 125)
            } else {
                let v = verb.unwrap_or("pouch");
                err(format!("\"pouch {v}\" accepts no arguments"), 1)
            }
        }
        _ => {
            // clap's own first line is the reason (e.g. an invalid value for a flag).
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            let reason = first.strip_prefix("error: ").unwrap_or(first).to_string();
            err(reason, 125)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Parser, Subcommand};

    #[derive(Parser, Debug)]
    struct Cli {
        #[arg(short = 'H', long, global = true)]
        host: Option<String>,
        #[command(subcommand)]
        cmd: Cmd,
    }

    #[derive(Subcommand, Debug)]
    enum Cmd {
        Ps {
            #[arg(short = 'a')]
            all: bool,
        },
        Stop {
            #[arg(short = 't', long)]
            timeout: Option<i64>,
            #[arg(required = true)]
            names: Vec<String>,
        },
        Logs {
            name: String,
        },
    }

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    fn usage(args: &[&str]) -> Usage {
        let mut full = vec!["pouch"];
        full.extend_from_slice(args);
        let e = Cli::try_parse_from(&full).expect_err("should fail");
        report(&e, verb_of(&argv(args)).as_deref())
    }

    #[test]
    fn verbs() {
        assert_eq!(
            verb_of(&argv(&["-H", "unix:///x", "ps", "-a"])),
            Some("ps".into())
        );
        assert_eq!(verb_of(&argv(&["--host", "x", "rm"])), Some("rm".into()));
        assert_eq!(
            verb_of(&argv(&["--host=x", "logs", "c"])),
            Some("logs".into())
        );
        assert_eq!(verb_of(&argv(&["-H", "x"])), None);
        assert_eq!(verb_of(&argv(&[])), None);
    }

    #[test]
    fn missing_arguments_exit_1() {
        let u = usage(&["stop"]);
        assert_eq!(u.code, 1);
        assert_eq!(
            u.text,
            "pouch: 'pouch stop' requires at least 1 argument\nSee 'pouch stop --help'.\n"
        );
        let u = usage(&["-H", "unix:///s", "logs"]);
        assert!(u
            .text
            .starts_with("pouch: 'pouch logs' requires exactly 1 argument\n"));
    }

    #[test]
    fn unknown_flags_exit_125() {
        let u = usage(&["ps", "--bogus"]);
        assert_eq!(u.code, 125);
        assert!(
            u.text.starts_with("pouch: unknown flag: --bogus\n"),
            "{}",
            u.text
        );
        let u = usage(&["ps", "--bogus=1"]);
        assert!(
            u.text.starts_with("pouch: unknown flag: --bogus\n"),
            "{}",
            u.text
        );
        let u = usage(&["ps", "-z"]);
        assert!(
            u.text
                .starts_with("pouch: unknown shorthand flag: 'z' in -z\n"),
            "{}",
            u.text
        );
    }

    #[test]
    fn bad_values_exit_125_with_one_line() {
        let u = usage(&["stop", "-t", "soon", "x"]);
        assert_eq!(u.code, 125);
        let first = u.text.lines().next().unwrap_or("");
        assert!(
            first.starts_with("pouch: ") && first.contains("soon"),
            "{}",
            u.text
        );
        assert_eq!(u.text.lines().count(), 2, "{}", u.text);
    }

    #[test]
    fn stray_arguments_and_unknown_commands_exit_1() {
        let u = usage(&["ps", "extra"]);
        assert_eq!(u.code, 1);
        assert!(
            u.text
                .starts_with("pouch: \"pouch ps\" accepts no arguments\n"),
            "{}",
            u.text
        );
        let u = usage(&["nosuchverb"]);
        assert_eq!(u.code, 1);
        assert!(
            u.text
                .starts_with("pouch: 'nosuchverb' is not a pouch command.\n"),
            "{}",
            u.text
        );
    }

    #[test]
    fn help_is_not_an_error() {
        let u = usage(&["ps", "--help"]);
        assert_eq!((u.code, u.to_stdout), (0, true));
        assert!(u.text.contains("-a"));
    }
}
