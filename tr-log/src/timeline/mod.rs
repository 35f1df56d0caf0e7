//! Build timelines: what each task of a build did, and when.
//!
//! Every `tr-run` process records its own task in the build's
//! `builds/<id>/trace.jsonl` with a [`Recorder`]: a start line when the
//! task begins, and at its end the phases it went through (lock wait,
//! hashing, cache restores, the run itself, uploads...) and its outcome.
//! Each line names the runner's pid, and each group of lines goes out
//! with one `write` to the file opened for appending, so parallel tasks
//! never interleave within a line and a crash leaves whole lines behind.
//!
//! At the end of a build, [`merge`] gathers those records into
//! `builds/<id>/trace.json` in the Chrome trace event format, which
//! Perfetto and `chrome://tracing` open. A [`Timeline`] read back from it
//! renders as a plain-text summary or a self-contained HTML Gantt chart,
//! and can be sent to an OpenTelemetry collector.

mod chrome;
pub mod cli;
mod model;
mod otlp;
mod record;
mod render;

pub use chrome::{TRACE_FILE, merge};
pub use model::{Outcome, Phase, PhaseSpan, TaskSpan, Timeline};
pub use otlp::{OTLP_ENDPOINT_VAR, export_otlp};
pub use record::{PARENT_VAR, RECORDS_FILE, Recorder, TRACE_VAR, now_us};
pub use render::{html, summary};

/// Appends `text` to `out` as a JSON string, quotes included.
fn push_json_str(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        super::push_json_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
    }
}
