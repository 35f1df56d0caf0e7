//! A timeline for people: a summary table for terminals and a Gantt chart
//! as one HTML page with inline SVG, which needs no network and no script.

use std::fmt::Write as _;

use super::model::{Outcome, Phase, Timeline};

/// Seconds with millisecond precision, from microseconds.
fn seconds(us: u64) -> String {
    format!("{:.3} s", us as f64 / 1e6)
}

/// The summary table: one line per task, the longest first, with its
/// share of the build's wall-clock time.
pub fn summary(timeline: &Timeline) -> String {
    let (start, end) = timeline.bounds();
    let total = end.saturating_sub(start);
    let mut text = format!(
        "build {}: {} tasks in {}\n",
        timeline.build,
        timeline.tasks.len(),
        seconds(total)
    );
    let mut rows: Vec<_> = timeline.tasks.iter().collect();
    rows.sort_by(|a, b| b.duration().cmp(&a.duration()).then(a.start.cmp(&b.start)));
    let width = rows.iter().map(|t| t.name.len()).max().unwrap_or(0).max(4);
    let _ = writeln!(
        text,
        "{:<width$}  {:<26}  {:>11}  {:>6}",
        "TASK", "OUTCOME", "DURATION", "SHARE"
    );
    for task in rows {
        let share = if total == 0 {
            0.0
        } else {
            task.duration() as f64 * 100.0 / total as f64
        };
        let _ = writeln!(
            text,
            "{:<width$}  {:<26}  {:>11}  {:>5.1}%",
            task.name,
            task.outcome.to_string(),
            seconds(task.duration()),
            share
        );
    }
    text
}

const LABEL_WIDTH: f64 = 240.0;
const CHART_WIDTH: f64 = 900.0;
const ROW: f64 = 24.0;
const TOP: f64 = 30.0;

fn outcome_colour(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ran => "#4c9a2a",
        Outcome::Skipped => "#9e9e9e",
        Outcome::Restored => "#2a7ab0",
        Outcome::FuzzyRestored => "#7a5cc0",
        Outcome::Failed(_) => "#c62828",
        Outcome::Cancelled(_) => "#ef8f00",
        Outcome::Unfinished => "#5d4037",
    }
}

fn phase_colour(phase: Phase) -> &'static str {
    match phase {
        Phase::LockWait => "url(#wait)",
        Phase::Hash | Phase::Rehash => "#f3c623",
        Phase::Restore | Phase::FuzzyRestore => "#29b6f6",
        Phase::Run => "#ffffff",
        Phase::SaveHash | Phase::PostUnpack => "#ab47bc",
        Phase::Upload | Phase::UploadLog => "#26a69a",
        Phase::Status => "#ec407a",
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A self-contained HTML page with the build's Gantt chart: a row per
/// task (children under their parent), the task's bar coloured by its
/// outcome, its phases drawn inside, and each bar's duration in its
/// `<title>`.
pub fn html(timeline: &Timeline) -> String {
    let (start, end) = timeline.bounds();
    let total = end.saturating_sub(start).max(1);
    let x = |t: u64| LABEL_WIDTH + t.saturating_sub(start) as f64 * CHART_WIDTH / total as f64;
    let height = TOP + ROW * timeline.tasks.len() as f64 + 10.0;
    let width = LABEL_WIDTH + CHART_WIDTH + 20.0;
    let build = escape(&timeline.build);

    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         role=\"img\" aria-label=\"timeline of build {build}\">\n\
         <defs><pattern id=\"wait\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" \
         patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#eeeeee\"/>\
         <rect width=\"3\" height=\"6\" fill=\"#757575\"/></pattern></defs>\n"
    );
    for tick in 0..=10u64 {
        let at = LABEL_WIDTH + CHART_WIDTH * tick as f64 / 10.0;
        let _ = writeln!(
            svg,
            "<line class=\"grid\" x1=\"{at:.1}\" y1=\"{}\" x2=\"{at:.1}\" y2=\"{height}\"/>\
             <text class=\"tick\" x=\"{at:.1}\" y=\"{}\">{}</text>",
            TOP - 6.0,
            TOP - 10.0,
            seconds(total * tick / 10)
        );
    }
    for (row, index) in timeline.tree_order().into_iter().enumerate() {
        let task = &timeline.tasks[index];
        let y = TOP + ROW * row as f64;
        let name = escape(&task.name);
        let indent = 8.0 + 14.0 * timeline.depth(index) as f64;
        let (x0, x1) = (x(task.start), x(task.end));
        let _ = writeln!(
            svg,
            "<g class=\"task\" data-task=\"{name}\"><text class=\"label\" x=\"{indent}\" y=\"{:.1}\">{name}</text>\
             <rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"3\" fill=\"{}\">\
             <title>{name}: {} in {}</title></rect>",
            y + ROW * 0.68,
            y + 3.0,
            (x1 - x0).max(1.5),
            ROW - 6.0,
            outcome_colour(task.outcome),
            escape(&task.outcome.to_string()),
            seconds(task.duration())
        );
        for span in &task.phases {
            let (p0, p1) = (x(span.start), x(span.end));
            let opacity = if span.phase == Phase::Run {
                "0.35"
            } else {
                "1"
            };
            let _ = writeln!(
                svg,
                "<rect class=\"phase\" x=\"{p0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
                 fill=\"{}\" fill-opacity=\"{opacity}\"><title>{name}: {} {}</title></rect>",
                y + 7.0,
                (p1 - p0).max(1.0),
                ROW - 14.0,
                phase_colour(span.phase),
                span.phase.as_str(),
                seconds(span.end.saturating_sub(span.start))
            );
        }
        svg.push_str("</g>\n");
    }
    svg.push_str("</svg>\n");

    let mut legend = String::new();
    for outcome in [
        Outcome::Ran,
        Outcome::Skipped,
        Outcome::Restored,
        Outcome::FuzzyRestored,
        Outcome::Failed(1),
        Outcome::Cancelled(2),
        Outcome::Unfinished,
    ] {
        let _ = write!(
            legend,
            "<span><i style=\"background:{}\"></i>{}</span>",
            outcome_colour(outcome),
            outcome.as_str()
        );
    }
    for (label, colour) in [
        (
            "lock wait",
            "repeating-linear-gradient(45deg,#757575 0 3px,#eee 3px 6px)",
        ),
        ("hash", "#f3c623"),
        ("cache restore", "#29b6f6"),
        ("save, post-unpack", "#ab47bc"),
        ("upload", "#26a69a"),
        ("status", "#ec407a"),
    ] {
        let _ = write!(
            legend,
            "<span><i style=\"background:{colour}\"></i>{label}</span>"
        );
    }

    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>build {build}</title>\n<style>\n\
         body {{ font: 13px system-ui, sans-serif; margin: 16px; color: #212121; background: #fff; }}\n\
         h1 {{ font-size: 16px; }}\n\
         .legend span {{ margin-right: 14px; white-space: nowrap; }}\n\
         .legend i {{ display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -2px; }}\n\
         svg text {{ font: 12px system-ui, sans-serif; fill: #212121; }}\n\
         svg .tick {{ font-size: 10px; text-anchor: middle; fill: #616161; }}\n\
         svg .grid {{ stroke: #e0e0e0; }}\n\
         svg .task:hover .label {{ font-weight: bold; }}\n\
         pre {{ font-size: 12px; }}\n\
         </style>\n</head>\n<body>\n<h1>build {build}</h1>\n\
         <p class=\"legend\">{legend}</p>\n{svg}<pre>{}</pre>\n</body>\n</html>\n",
        escape(&summary(timeline))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{PhaseSpan, TaskSpan};

    fn task(name: &str, start: u64, end: u64, outcome: Outcome) -> TaskSpan {
        TaskSpan {
            name: name.into(),
            pid: 1,
            parent: None,
            parent_pid: None,
            start,
            end,
            outcome,
            phases: vec![PhaseSpan {
                phase: Phase::LockWait,
                start,
                end: start + 1,
            }],
        }
    }

    fn timeline() -> Timeline {
        Timeline {
            build: "b1".into(),
            tasks: vec![
                task("short", 0, 250_000, Outcome::Skipped),
                task("<long>", 0, 1_000_000, Outcome::Failed(2)),
            ],
        }
    }

    #[test]
    fn summary_lists_the_longest_first_with_shares() {
        let text = summary(&timeline());
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "build b1: 2 tasks in 1.000 s");
        assert!(lines[2].starts_with("<long>  failed (2)"), "{text}");
        assert!(lines[2].ends_with("1.000 s  100.0%"), "{text}");
        assert!(lines[3].ends_with("0.250 s   25.0%"), "{text}");
    }

    #[test]
    fn the_page_escapes_names_and_titles_every_bar() {
        let page = html(&timeline());
        assert!(page.contains("<title>&lt;long&gt;: failed (2) in 1.000 s</title>"));
        assert!(page.contains("<title>short: lock-wait 0.000 s</title>"));
        assert!(!page.contains("<long>"));
        assert!(!page.contains("<script"));
    }
}
