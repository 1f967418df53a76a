//! Bytes → text: the encodings post files really arrive in, normalized to LF-terminated
//! UTF-8 with nothing in it that XML 1.0 forbids or that feed validators warn about.

use encoding_rs::{UTF_16BE, UTF_16LE, WINDOWS_1252};

/// A post file's text, and the warnings owed when its encoding had to be guessed or
/// characters had to be removed.
#[derive(Debug)]
pub struct Decoded {
    pub text: String,
    pub warnings: Vec<String>,
}

pub const NOT_UTF8: &str = "not UTF-8; read as Windows-1252, save the file as UTF-8";
pub const INVALID_REMOVED: &str = "invalid characters removed; save the file as UTF-8";

/// Decodes a post file. An error is a message for line 1: the file is not a post at all.
pub fn decode(bytes: &[u8]) -> Result<Decoded, String> {
    let mut warnings = Vec::new();
    let text = if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        UTF_16LE.decode_without_bom_handling(rest).0.into_owned()
    } else if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        UTF_16BE.decode_without_bom_handling(rest).0.into_owned()
    } else {
        let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
        if bytes.contains(&0) {
            return Err("binary file (NUL bytes), not a post".into());
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => text.to_string(),
            Err(_) => {
                warnings.push(NOT_UTF8.to_string());
                WINDOWS_1252
                    .decode_without_bom_handling(bytes)
                    .0
                    .into_owned()
            }
        }
    };
    // A UTF-16 file may carry a second BOM after the first (some editors write both).
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(&text);
    // U+FFFD marks bytes a decoder (ours, for broken UTF-16, or an earlier tool's) could
    // not read: the text there is lost, which the writer should hear of.
    if text.contains('\u{FFFD}') {
        warnings.push(INVALID_REMOVED.to_string());
    }
    let text = clean(&text.replace("\r\n", "\n").replace('\r', "\n"));
    if text.trim().is_empty() {
        // A half-saved file is often truncated to nothing: refusing it keeps the last good
        // version in the catalog.
        return Err("empty file; write the post or delete the file".into());
    }
    Ok(Decoded { text, warnings })
}

/// True for a character a feed may carry: one XML 1.0 allows in a document, and not a
/// C1 control (U+0080–U+009F) or U+FFFD, which the W3C validator warns about (C1
/// controls come from the five bytes Windows-1252 leaves undefined, or from text
/// decoded as Latin-1 by some earlier tool).
pub fn xml_allowed(c: char) -> bool {
    !matches!(
        c,
        '\u{0}'..='\u{8}'
            | '\u{B}'
            | '\u{C}'
            | '\u{E}'..='\u{1F}'
            | '\u{80}'..='\u{9F}'
            | '\u{FFFD}'
            | '\u{FFFE}'
            | '\u{FFFF}'
    )
}

/// Removes what XML 1.0 forbids and what validators warn about: one stray byte must never
/// make a whole feed unreadable.
pub fn clean(text: &str) -> String {
    // Almost every text is clean: copying it whole is many times faster than
    // collecting it a char at a time (this ran on every post's whole body).
    match text.char_indices().find(|&(_, c)| !xml_allowed(c)) {
        None => text.to_string(),
        Some((at, _)) => {
            let (head, tail) = text.split_at(at);
            let mut out = String::with_capacity(text.len());
            out.push_str(head);
            out.extend(tail.chars().filter(|&c| xml_allowed(c)));
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_bytes_become_curly_quotes_with_a_warning() {
        let decoded = decode(b"\x93Hello\x94 caf\xe9").unwrap();
        assert_eq!(decoded.text, "\u{201C}Hello\u{201D} caf\u{e9}");
        assert_eq!(decoded.warnings, vec![NOT_UTF8]);
    }

    #[test]
    fn undefined_windows_1252_bytes_leave_no_c1_controls() {
        let decoded = decode(b"\x80 \x81\x8D\x8F\x90\x9D \x85\x99").unwrap();
        assert_eq!(decoded.text, "\u{20AC}  \u{2026}\u{2122}");
        assert_eq!(decoded.warnings, vec![NOT_UTF8]);
    }

    #[test]
    fn c1_controls_in_utf8_are_removed_without_a_warning() {
        let decoded = decode("a\u{80}b\u{9F}c\u{A0}d".as_bytes()).unwrap();
        assert_eq!(decoded.text, "abc\u{A0}d");
        assert_eq!(decoded.warnings, Vec::<String>::new());
    }

    #[test]
    fn replacement_characters_are_removed_with_a_warning() {
        let decoded = decode("caf\u{FFFD} ok".as_bytes()).unwrap();
        assert_eq!(decoded.text, "caf ok");
        assert_eq!(decoded.warnings, vec![INVALID_REMOVED]);
    }

    #[test]
    fn utf16_le_with_bom_is_decoded() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "Hi\r\nthere".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded.text, "Hi\nthere");
        assert_eq!(decoded.warnings, Vec::<String>::new());
    }

    #[test]
    fn utf16_be_with_bom_is_decoded() {
        let mut bytes = vec![0xFE, 0xFF];
        for unit in "São Paulo".encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        assert_eq!(decode(&bytes).unwrap().text, "São Paulo");
    }

    #[test]
    fn utf8_bom_is_dropped_and_crlf_and_cr_become_lf() {
        let decoded = decode(b"\xEF\xBB\xBFa\r\nb\rc\n").unwrap();
        assert_eq!(decoded.text, "a\nb\nc\n");
        assert_eq!(decoded.warnings, Vec::<String>::new());
    }

    #[test]
    fn xml_forbidden_characters_are_removed() {
        let decoded =
            decode("a\u{1}b\u{8}c\u{B}\u{C}d\u{1F}e\u{FFFE}\u{FFFF}f\tg".as_bytes()).unwrap();
        assert_eq!(decoded.text, "abcdef\tg");
    }

    #[test]
    fn nul_bytes_mean_a_binary_file() {
        assert_eq!(
            decode(b"GIF89a\x00\x01").unwrap_err(),
            "binary file (NUL bytes), not a post"
        );
    }

    #[test]
    fn empty_or_blank_file_is_refused() {
        assert_eq!(
            decode(b"").unwrap_err(),
            "empty file; write the post or delete the file"
        );
        assert!(decode(b" \n\r\n\t ").is_err());
        assert!(decode(b"\xEF\xBB\xBF").is_err());
        assert!(decode(&[0xFF, 0xFE]).is_err());
    }

    #[test]
    fn odd_length_utf16_loses_its_last_byte_with_a_warning() {
        let decoded = decode(&[0xFF, 0xFE, b'a', 0, b'b']).unwrap();
        assert_eq!(decoded.text, "a");
        assert_eq!(decoded.warnings, vec![INVALID_REMOVED]);
    }
}
