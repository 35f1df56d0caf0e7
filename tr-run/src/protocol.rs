//! The command pipe between a task and its runner.
//!
//! A request is one line holding a JSON array of strings, such as
//! `["snapshot","src/","--raw","v1"]`; the answer is one line of shell for
//! the `snapshot` function to evaluate. Shell arguments are bytes, not
//! always UTF-8, so strings here are byte strings: bytes outside ASCII pass
//! through unchanged in both directions.

/// A parsed request: its words, the first naming the command.
pub type Words = Vec<Vec<u8>>;

/// Parses one request line (without its newline).
pub fn parse(line: &[u8]) -> Result<Words, String> {
    let mut p = Parser { s: line, i: 0 };
    p.ws();
    p.expect(b'[')?;
    let mut words = Vec::new();
    p.ws();
    if p.peek() == Some(b']') {
        p.i += 1;
    } else {
        loop {
            p.ws();
            words.push(p.string()?);
            p.ws();
            match p.peek() {
                Some(b',') => p.i += 1,
                Some(b']') => {
                    p.i += 1;
                    break;
                }
                _ => return Err(p.unexpected("`,` or `]`")),
            }
        }
    }
    p.ws();
    if p.i < line.len() {
        return Err(p.unexpected("the end of the line"));
    }
    Ok(words)
}

/// Renders words as a compact JSON array, the inverse of [`parse`].
pub fn encode<W: AsRef<[u8]>>(words: &[W]) -> Vec<u8> {
    let mut out = vec![b'['];
    for (n, word) in words.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.push(b'"');
        for &b in word.as_ref() {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\t' => out.extend_from_slice(b"\\t"),
                b'\r' => out.extend_from_slice(b"\\r"),
                0..0x20 | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
                _ => out.push(b),
            }
        }
        out.push(b'"');
    }
    out.push(b']');
    out
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek();
        self.i += usize::from(b.is_some());
        b
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, want: u8) -> Result<(), String> {
        if self.peek() == Some(want) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{}`", want as char)))
        }
    }

    fn unexpected(&self, wanted: &str) -> String {
        match self.s.get(self.i) {
            None => format!(
                "expected {wanted} at byte {}, found the end of the line",
                self.i
            ),
            Some(&b) => format!(
                "expected {wanted} at byte {}, found `{}`",
                self.i,
                (b as char).escape_default()
            ),
        }
    }

    fn string(&mut self) -> Result<Vec<u8>, String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.next() {
                None => return Err("unterminated string".to_owned()),
                Some(b'"') => return Ok(out),
                Some(b'\\') => self.escape(&mut out)?,
                Some(b) if b < 0x20 => {
                    return Err(format!("raw control character at byte {}", self.i - 1));
                }
                Some(b) => out.push(b),
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        let c = match self.next() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => self.unicode()?,
            _ => {
                return Err(format!(
                    "invalid escape at byte {}",
                    self.i.saturating_sub(1)
                ));
            }
        };
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        Ok(())
    }

    fn unicode(&mut self) -> Result<char, String> {
        let at = self.i;
        let high = self.hex4()?;
        let code = if (0xd800..0xdc00).contains(&high) {
            if self.next() != Some(b'\\') || self.next() != Some(b'u') {
                return Err(format!("unpaired surrogate at byte {at}"));
            }
            let low = self.hex4()?;
            if !(0xdc00..0xe000).contains(&low) {
                return Err(format!("unpaired surrogate at byte {at}"));
            }
            0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00)
        } else {
            high
        };
        // `\u0000` cannot be passed to a program as an argument; refuse it
        // rather than silently cutting the string.
        match char::from_u32(code) {
            Some(c) if c != '\0' => Ok(c),
            _ => Err(format!("invalid character escape at byte {at}")),
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .s
            .get(self.i..self.i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| {
                u32::from_str_radix(d, 16)
                    .ok()
                    .filter(|_| !d.starts_with('+'))
            })
            .ok_or_else(|| format!("invalid \\u escape at byte {}", self.i))?;
        self.i += 4;
        Ok(digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Result<Vec<String>, String> {
        parse(line.as_bytes()).map(|w| {
            w.into_iter()
                .map(|b| String::from_utf8(b).unwrap())
                .collect()
        })
    }

    #[test]
    fn parses_arrays_of_strings() {
        assert_eq!(
            words(r#"["snapshot","a b","--raw"]"#).unwrap(),
            ["snapshot", "a b", "--raw"]
        );
        assert_eq!(words(" [ ] ").unwrap(), Vec::<String>::new());
        assert_eq!(
            words(r#"["q\"\\\/\n\t\u00e9\ud83d\ude00"]"#).unwrap(),
            ["q\"\\/\n\té😀"]
        );
    }

    #[test]
    fn passes_bytes_that_are_not_utf8() {
        assert_eq!(parse(b"[\"\xff\xfe\"]").unwrap(), [b"\xff\xfe".to_vec()]);
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(
            words("junk").unwrap_err(),
            "expected `[` at byte 0, found `j`"
        );
        assert_eq!(
            words(r#"["a""#).unwrap_err(),
            "expected `,` or `]` at byte 4, found the end of the line"
        );
        assert_eq!(
            words(r#"["a",1]"#).unwrap_err(),
            "expected `\"` at byte 5, found `1`"
        );
        assert!(words(r#"["a"] x"#).is_err());
        assert!(words(r#"["\ud800"]"#).is_err());
        assert!(words(r#"["\u0000"]"#).is_err());
        assert!(words(r#"["\u+123"]"#).is_err());
        assert!(words("[\"a\u{1}\"]").is_err());
        assert!(words("").is_err());
    }

    #[test]
    fn encode_and_parse_round_trip() {
        let cases: &[&[u8]] = &[
            b"",
            b"plain",
            b"\"quoted\"",
            b"back\\slash",
            b"\x01\x1f\x7f",
            b"\xc3\x28",
        ];
        let line = encode(cases);
        assert!(!line.contains(&b'\n'));
        assert_eq!(
            parse(&line).unwrap(),
            cases.iter().map(|c| c.to_vec()).collect::<Words>()
        );
        assert_eq!(encode(&["random", "command"]), br#"["random","command"]"#);
    }
}
