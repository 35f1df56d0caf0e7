//! Sending a timeline to an OpenTelemetry collector: OTLP over HTTP with
//! a JSON body, one span per task and one child span per phase.

use std::io;
use std::time::Duration;

use serde_json::{Value, json};

use super::model::{Outcome, Timeline};

/// The collector's base address; traces go to `{endpoint}/v1/traces`.
pub const OTLP_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

const TIMEOUT: Duration = Duration::from_secs(5);

/// FNV-1a over `parts`: stable ids, so that the same build sent twice
/// does not make two traces.
fn fnv(seed: u64, parts: &[&str]) -> u64 {
    parts.iter().fold(seed, |h, part| {
        part.bytes()
            .chain([0])
            .fold(h, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
    })
}

fn span_id(parts: &[&str]) -> String {
    format!("{:016x}", fnv(0xcbf2_9ce4_8422_2325, parts))
}

fn attribute(key: &str, value: Value) -> Value {
    let value = match value {
        Value::String(s) => json!({ "stringValue": s }),
        Value::Number(n) => json!({ "intValue": n.to_string() }),
        other => json!({ "stringValue": other.to_string() }),
    };
    json!({ "key": key, "value": value })
}

/// The OTLP JSON body for `timeline`.
pub fn otlp_body(timeline: &Timeline) -> String {
    let trace_id = format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325, &[&timeline.build]),
        fnv(0x8422_2325_cbf2_9ce4, &[&timeline.build])
    );
    let nanos = |us: u64| (u128::from(us) * 1000).to_string();
    let mut spans = Vec::new();
    for task in &timeline.tasks {
        let pid = task.pid.to_string();
        let id = span_id(&[&pid, &task.name]);
        let parent = match (&task.parent, task.parent_pid) {
            (Some(name), Some(ppid)) => span_id(&[&ppid.to_string(), name]),
            _ => String::new(),
        };
        let failed = matches!(task.outcome, Outcome::Failed(_) | Outcome::Cancelled(_));
        let mut attributes = vec![
            attribute("taskrunner.outcome", json!(task.outcome.as_str())),
            attribute("process.pid", json!(task.pid)),
        ];
        if let Some(code) = task.outcome.exit_code() {
            attributes.push(attribute("taskrunner.exit_code", json!(code)));
        }
        spans.push(json!({
            "traceId": trace_id, "spanId": id, "parentSpanId": parent,
            "name": task.name, "kind": 1,
            "startTimeUnixNano": nanos(task.start), "endTimeUnixNano": nanos(task.end),
            "attributes": attributes,
            "status": { "code": if failed { 2 } else { 1 } },
        }));
        for (index, phase) in task.phases.iter().enumerate() {
            spans.push(json!({
                "traceId": trace_id,
                "spanId": span_id(&[&pid, &task.name, &index.to_string()]),
                "parentSpanId": id, "name": phase.phase.as_str(), "kind": 1,
                "startTimeUnixNano": nanos(phase.start), "endTimeUnixNano": nanos(phase.end),
            }));
        }
    }
    json!({
        "resourceSpans": [{
            "resource": { "attributes": [
                attribute("service.name", json!("taskrunner")),
                attribute("taskrunner.build_id", json!(timeline.build)),
            ]},
            "scopeSpans": [{ "scope": { "name": "tr-log" }, "spans": spans }],
        }]
    })
    .to_string()
}

/// Posts `timeline` to `{endpoint}/v1/traces`, waiting at most a few
/// seconds.
pub fn export_otlp(timeline: &Timeline, endpoint: &str) -> io::Result<()> {
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(&url)
        .header("content-type", "application/json")
        .send(otlp_body(timeline))
        .map_err(|e| io::Error::other(format!("cannot send the trace to `{url}`: {e}")))?;
    let status = response.status();
    if !status.is_success() {
        return Err(io::Error::other(format!(
            "cannot send the trace to `{url}`: the collector answered {status}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{Phase, PhaseSpan, TaskSpan};

    #[test]
    fn nested_tasks_and_phases_are_child_spans() {
        let outer = TaskSpan {
            name: "outer".into(),
            pid: 10,
            parent: None,
            parent_pid: None,
            start: 1,
            end: 9,
            outcome: Outcome::Ran,
            phases: vec![PhaseSpan {
                phase: Phase::Run,
                start: 2,
                end: 8,
            }],
        };
        let inner = TaskSpan {
            name: "inner".into(),
            pid: 11,
            parent: Some("outer".into()),
            parent_pid: Some(10),
            outcome: Outcome::Failed(3),
            phases: Vec::new(),
            ..outer.clone()
        };
        let timeline = Timeline {
            build: "b".into(),
            tasks: vec![outer, inner],
        };
        let body: Value = serde_json::from_str(&otlp_body(&timeline)).unwrap();
        let spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .unwrap();
        assert_eq!(spans.len(), 3);
        assert_eq!(spans[0]["parentSpanId"], "");
        assert_eq!(spans[1]["parentSpanId"], spans[0]["spanId"]);
        assert_eq!(spans[2]["parentSpanId"], spans[0]["spanId"]);
        assert_eq!(spans[2]["status"]["code"], 2);
        assert_eq!(spans[0]["startTimeUnixNano"], "1000");
        assert_eq!(spans[0]["traceId"].as_str().unwrap().len(), 32);
    }
}
