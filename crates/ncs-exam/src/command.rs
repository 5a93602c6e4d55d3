//! What the examiner can ask for, from the keyboard, stdin or the control socket.
//!
//! Every command is accepted as a JSON object on one line (`{"cmd": "distance", "mm": 290}`)
//! or as plain words (`distance 290`):
//!
//! | command | JSON | words |
//! |---|---|---|
//! | next site | `{"cmd":"next"}` | `next` |
//! | previous site | `{"cmd":"previous"}` | `previous`, `prev` |
//! | go to step N (0-based) | `{"cmd":"goto","step":N}` | `goto N` |
//! | stimulate once more at the last intensity | `{"cmd":"repeat"}` | `repeat` |
//! | fire one stimulus at the planned intensity | `{"cmd":"fire"}` | `fire` |
//! | stimulate by the plan (rate, ramp) / stop | `{"cmd":"run"}`, `{"cmd":"pause"}` | `run`, `pause` |
//! | reject the last sweep | `{"cmd":"reject"}` | `reject` |
//! | measured distance of the current (or step N's) site, mm | `{"cmd":"distance","mm":290,"step":N}` | `distance 290` |
//! | intensity set on an external stimulator, mA | `{"cmd":"intensity","ma":25}` | `intensity 25` |
//! | a note | `{"cmd":"note","text":"..."}` | `note ...` |
//! | the current state | `{"cmd":"status"}` | `status` |
//! | end the study | `{"cmd":"quit"}` | `quit` |

use serde::{Deserialize, Serialize};

/// One examiner command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    /// Move to the next step.
    Next,
    /// Move to the previous step.
    #[serde(alias = "prev")]
    Previous,
    /// Move to step `step` (0-based).
    Goto {
        /// The step.
        step: usize,
    },
    /// Stimulate once more at the last intensity of this step.
    Repeat,
    /// Fire one stimulus at the planned (or entered) intensity.
    Fire,
    /// Stimulate by the plan: the protocol's rate and intensity ramp.
    Run,
    /// Stop stimulating by the plan.
    Pause,
    /// Reject the last sweep measured: it is never used.
    Reject,
    /// The measured distance (mm) from the site of step `step` (default: the current one) to
    /// the active electrode.
    Distance {
        /// Distance (mm).
        mm: f64,
        /// The step whose site it is.
        #[serde(default)]
        step: Option<usize>,
    },
    /// The intensity (mA) set on an external stimulator; the stimuli that follow carry it.
    Intensity {
        /// Intensity (mA).
        ma: f64,
    },
    /// A free-text note, kept with its time.
    Note {
        /// The note.
        text: String,
    },
    /// Report the current state.
    Status,
    /// End the study.
    Quit,
}

/// A command line that is not a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an examiner command: {reason} (got {line:?}); commands: next, previous, goto N, repeat, fire, run, pause, reject, distance MM, intensity MA, note TEXT, status, quit, or the same as JSON, e.g. {{\"cmd\":\"distance\",\"mm\":290}}")]
pub struct CommandError {
    /// The line.
    pub line: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Command {
    /// Parses one line: a JSON object, or words.
    pub fn parse(line: &str) -> Result<Command, CommandError> {
        let t = line.trim();
        let err = |reason: String| CommandError {
            line: t.to_owned(),
            reason,
        };
        if t.starts_with('{') {
            return serde_json::from_str(t).map_err(|e| err(e.to_string()));
        }
        let (word, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
        let rest = rest.trim();
        let number = |what: &str| -> Result<f64, CommandError> {
            rest.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| err(format!("`{word}` needs {what}, got {rest:?}")))
        };
        let none = |c: Command| {
            if rest.is_empty() {
                Ok(c)
            } else {
                Err(err(format!("`{word}` takes no argument, got {rest:?}")))
            }
        };
        match word.to_ascii_lowercase().as_str() {
            "next" | "n" => none(Command::Next),
            "previous" | "prev" | "p" => none(Command::Previous),
            "goto" => {
                let v = number("a step number")?;
                if v < 0.0 || v.fract() != 0.0 {
                    return Err(err(format!(
                        "a step number is a whole number >= 0, got {rest}"
                    )));
                }
                Ok(Command::Goto { step: v as usize })
            }
            "repeat" => none(Command::Repeat),
            "fire" => none(Command::Fire),
            "run" => none(Command::Run),
            "pause" => none(Command::Pause),
            "reject" => none(Command::Reject),
            "distance" => Ok(Command::Distance {
                mm: number("a distance in mm")?,
                step: None,
            }),
            "intensity" => Ok(Command::Intensity {
                ma: number("an intensity in mA")?,
            }),
            "note" if !rest.is_empty() => Ok(Command::Note {
                text: rest.to_owned(),
            }),
            "note" => Err(err("`note` needs a text".into())),
            "status" => none(Command::Status),
            "quit" | "q" => none(Command::Quit),
            "" => Err(err("the line is empty".into())),
            w => Err(err(format!("unknown command {w:?}"))),
        }
    }

    /// The command's name in the action log.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Next => "next",
            Command::Previous => "previous",
            Command::Goto { .. } => "goto",
            Command::Repeat => "repeat",
            Command::Fire => "fire",
            Command::Run => "run",
            Command::Pause => "pause",
            Command::Reject => "reject",
            Command::Distance { .. } => "distance",
            Command::Intensity { .. } => "intensity",
            Command::Note { .. } => "note",
            Command::Status => "status",
            Command::Quit => "quit",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_json_give_the_same_commands() {
        for (words, json) in [
            ("next", r#"{"cmd":"next"}"#),
            ("prev", r#"{"cmd":"prev"}"#),
            ("goto 3", r#"{"cmd":"goto","step":3}"#),
            ("distance 290.5", r#"{"cmd":"distance","mm":290.5}"#),
            ("intensity 25", r#"{"cmd":"intensity","ma":25}"#),
            ("note  APB wasted ", r#"{"cmd":"note","text":"APB wasted"}"#),
            ("reject", r#"{"cmd":"reject"}"#),
            ("quit", r#"{"cmd":"quit"}"#),
        ] {
            assert_eq!(Command::parse(words), Command::parse(json), "{words}");
            assert!(Command::parse(words).is_ok(), "{words}");
        }
        assert_eq!(
            Command::parse(r#"{"cmd":"distance","mm":300,"step":2}"#),
            Ok(Command::Distance {
                mm: 300.0,
                step: Some(2)
            })
        );
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        for (line, says) in [
            ("distance", "needs a distance in mm"),
            ("distance far", "needs a distance in mm"),
            ("goto -1", "whole number"),
            ("next 3", "takes no argument"),
            ("jump", "unknown command \"jump\""),
            ("note", "needs a text"),
            ("", "empty"),
            (r#"{"cmd":"distance"}"#, "missing field `mm`"),
            (r#"{"cmd":"jump"}"#, "unknown variant `jump`"),
        ] {
            let e = Command::parse(line).unwrap_err().to_string();
            assert!(e.contains(says), "{line:?}: {e}");
            assert!(e.contains("commands: next"), "{e}");
        }
    }
}
