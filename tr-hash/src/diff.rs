//! A readable difference between two hash inputs: the answer to "why did
//! my task run again?".

use std::collections::HashSet;

/// The lines that went away (`- `) and came (`+ `) between `saved_input`
/// and `current_input`; empty when they hold the same lines.
///
/// Lines about the same input (same kind and name, such as `file
/// src/main.rs`) are put next to each other, the old one first, so a
/// change reads as a pair. Works on any text, including hash inputs saved
/// by the old runner, which had another format.
pub fn explain_diff(saved_input: &str, current_input: &str) -> String {
    let saved: HashSet<&str> = saved_input.lines().collect();
    let current: HashSet<&str> = current_input.lines().collect();
    let mut changes: Vec<(&str, u8, &str)> = saved_input
        .lines()
        .filter(|line| !current.contains(line))
        .map(|line| (subject(line), 0, line))
        .chain(
            current_input
                .lines()
                .filter(|line| !saved.contains(line))
                .map(|line| (subject(line), 1, line)),
        )
        .collect();
    changes.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    changes.dedup();

    let mut out = String::new();
    for (_, side, line) in changes {
        out.push_str(if side == 0 { "- " } else { "+ " });
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The first two fields of a line (kind and name), minding quotes.
fn subject(line: &str) -> &str {
    let Some(kind_end) = line.find(' ') else {
        return line;
    };
    let rest = &line[kind_end + 1..];
    let name_len = if rest.starts_with('"') {
        quoted_len(rest)
    } else {
        rest.find(' ').unwrap_or(rest.len())
    };
    &line[..kind_end + 1 + name_len]
}

/// The length of the quoted field at the start of `text`, quotes included.
fn quoted_len(text: &str) -> usize {
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return i + 1,
            _ => {}
        }
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_give_nothing() {
        assert_eq!(explain_diff("raw a\nraw b\n", "raw b\nraw a\n"), "");
    }

    #[test]
    fn a_change_reads_as_a_pair() {
        let saved = "env CI unset\nfile \"a b\" 644 11\nfile z 644 33\n";
        let current = "env CI 1234\nfile \"a b\" 644 22\nfile z 644 33\nraw new\n";
        assert_eq!(
            explain_diff(saved, current),
            "- env CI unset\n+ env CI 1234\n\
             - file \"a b\" 644 11\n+ file \"a b\" 644 22\n\
             + raw new\n"
        );
    }

    #[test]
    fn subjects_respect_quotes() {
        assert_eq!(subject("file \"x \\\" y\" 644 1"), "file \"x \\\" y\"");
        assert_eq!(subject("deleted z"), "deleted z");
        assert_eq!(subject("oldformat"), "oldformat");
    }
}
