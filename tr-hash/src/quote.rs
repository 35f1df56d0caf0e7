//! Text fields of the hash input, written so that every line reads back
//! unambiguously whatever bytes a path, string or command holds.
//!
//! A field made only of printable characters other than space, `"` and
//! `\` is written as is. Any other field is put in double quotes, with
//! `\\`, `\"`, `\n`, `\t`, `\u{N}` for other control characters and `\xNN`
//! for bytes that are not UTF-8 inside. So a field never holds a space or a
//! newline unless quoted, and two different byte strings never give the
//! same text.

use std::fmt::Write as _;

/// Appends `bytes` to `out` as one field.
pub fn push_field(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.is_empty() && !text.chars().any(needs_quotes) => out.push_str(text),
        _ => push_quoted(out, bytes),
    }
}

/// `bytes` as one field.
pub fn field(bytes: &[u8]) -> String {
    let mut out = String::new();
    push_field(&mut out, bytes);
    out
}

fn needs_quotes(c: char) -> bool {
    c == ' ' || c == '"' || c == '\\' || c.is_control()
}

fn push_quoted(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
                c => out.push(c),
            }
        }
        for bad in chunk.invalid() {
            let _ = write!(out, "\\x{bad:02x}");
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn plain_fields_stay_readable() {
        assert_eq!(field(b"src/main.rs"), "src/main.rs");
        assert_eq!(field("ünï/ok".as_bytes()), "ünï/ok");
    }

    #[test]
    fn odd_fields_are_quoted_and_escaped() {
        assert_eq!(field(b""), "\"\"");
        assert_eq!(field(b"a b"), "\"a b\"");
        assert_eq!(field(b"one\ntwo"), "\"one\\ntwo\"");
        assert_eq!(field(b"q\"\\"), "\"q\\\"\\\\\"");
        assert_eq!(field(b"bad\xffbyte\x01"), "\"bad\\xffbyte\\u{1}\"");
    }

    #[test]
    fn escapes_do_not_collide_with_literal_text() {
        assert_ne!(field(b"\xff"), field(b"\\xff"));
        assert_ne!(field(b"\n"), field(b"\\n"));
    }
}
