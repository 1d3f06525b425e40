//! How keys and values are read from the command line and input files, and how they are
//! printed: hex (`--hex`), or escaped so that every line is printable and parseable.
//!
//! The escaped form: printable ASCII (0x20..=0x7e) stands for itself except the backslash,
//! which is `\\`; tab, newline and carriage return are `\t`, `\n`, `\r`; every other byte is
//! `\xNN` (two lowercase hex digits). [`unescape`] reads exactly that form back.

use std::fmt::Write as _;

/// `bytes` as lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Parses hex (either case, even length). The error says what is wrong and where.
pub fn from_hex(text: &[u8]) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!(
            "invalid hex {:?}: odd number of digits ({})",
            String::from_utf8_lossy(text),
            text.len()
        ));
    }
    text.chunks(2)
        .enumerate()
        .map(|(i, pair)| match (hex_digit(pair[0]), hex_digit(pair[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err(format!(
                "invalid hex {:?}: {:?} at position {} is not a hex digit pair",
                String::from_utf8_lossy(text),
                String::from_utf8_lossy(pair),
                i * 2
            )),
        })
        .collect()
}

/// `bytes` in the escaped form (see the module doc).
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s
}

/// Reads the escaped form back. Bytes that need no escape (including non-ASCII UTF-8) are
/// taken as they are; an unknown or cut-short escape is an error naming its position.
pub fn unescape(text: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        match text.get(i + 1) {
            Some(b'\\') => out.push(b'\\'),
            Some(b't') => out.push(b'\t'),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b'x') => {
                let digits = (
                    text.get(i + 2).copied().and_then(hex_digit),
                    text.get(i + 3).copied().and_then(hex_digit),
                );
                match digits {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(format!("bad escape at byte {i}: \\x needs two hex digits")),
                }
                i += 4;
                continue;
            }
            Some(&c) => {
                return Err(format!(
                    "bad escape at byte {i}: \\{} (known: \\\\ \\t \\n \\r \\xNN)",
                    escape(&[c])
                ))
            }
            None => {
                return Err(format!(
                    "bad escape at byte {i}: a lone backslash at the end"
                ))
            }
        }
        i += 2;
    }
    Ok(out)
}

/// How keys and values are spelled on the command line and in output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// Arguments literally, output escaped.
    Plain,
    /// Hex both ways.
    Hex,
}

impl Spelling {
    /// The spelling `--hex` asks for.
    pub fn new(hex: bool) -> Spelling {
        if hex {
            Spelling::Hex
        } else {
            Spelling::Plain
        }
    }

    /// The bytes a command-line argument stands for. `what` names it in the error.
    pub fn arg(self, what: &str, arg: &std::ffi::OsStr) -> Result<Vec<u8>, String> {
        let raw = arg.as_encoded_bytes();
        match self {
            Spelling::Plain => Ok(raw.to_vec()),
            Spelling::Hex => from_hex(raw).map_err(|e| format!("{what}: {e}")),
        }
    }

    /// The bytes a field of an input line stands for (escaped form, or hex).
    pub fn field(self, text: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            Spelling::Plain => unescape(text),
            Spelling::Hex => from_hex(text),
        }
    }

    /// `bytes` as printed.
    pub fn show(self, bytes: &[u8]) -> String {
        match self {
            Spelling::Plain => escape(bytes),
            Spelling::Hex => to_hex(bytes),
        }
    }

    /// `bytes` as a JSON field: `{name: text}` where `text` is hex under `--hex`, the UTF-8
    /// text when the bytes are UTF-8, and otherwise `{name_hex: hex}`.
    pub fn json_field(
        self,
        map: &mut serde_json::Map<String, serde_json::Value>,
        name: &str,
        bytes: &[u8],
    ) {
        match (self, std::str::from_utf8(bytes)) {
            (Spelling::Plain, Ok(text)) => {
                map.insert(name.into(), text.into());
            }
            (Spelling::Plain, Err(_)) => {
                map.insert(format!("{name}_hex"), to_hex(bytes).into());
            }
            (Spelling::Hex, _) => {
                map.insert(name.into(), to_hex(bytes).into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_roundtrips_every_byte_and_keeps_lines_whole() {
        let all: Vec<u8> = (0..=255u8).collect();
        let e = escape(&all);
        assert!(!e.contains('\t') && !e.contains('\n') && !e.contains('\r'));
        assert!(e.bytes().all(|b| (0x20..=0x7e).contains(&b)));
        assert_eq!(unescape(e.as_bytes()).unwrap(), all);
        assert_eq!(escape(b"a\\b\x00\tc\n\xff"), "a\\\\b\\x00\\tc\\n\\xff");
    }

    #[test]
    fn bad_escapes_and_bad_hex_are_errors() {
        assert!(unescape(b"a\\q").unwrap_err().contains("byte 1"));
        assert!(unescape(b"a\\x4").is_err());
        assert!(unescape(b"\\").is_err());
        assert_eq!(from_hex(b"00fFA0").unwrap(), vec![0, 255, 160]);
        assert!(from_hex(b"abc").unwrap_err().contains("odd"));
        assert!(from_hex(b"zz").unwrap_err().contains("position 0"));
        assert_eq!(to_hex(&[0, 171]), "00ab");
    }
}
