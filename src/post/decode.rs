//! Bytes → text: the encodings post files really arrive in, normalized to LF-terminated
//! UTF-8 with nothing in it that XML 1.0 forbids or that feed validators warn about.
//! A file is UTF-8 unless it is another encoding as a whole: a stray byte costs that
//! byte, not the file.

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
pub const UTF16_WITHOUT_BOM: &str =
    "UTF-16 without a byte-order mark; read as UTF-16, save the file as UTF-8";

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
            let utf16 = utf16_without_bom(bytes).ok_or("binary file (NUL bytes), not a post")?;
            warnings.push(UTF16_WITHOUT_BOM.to_string());
            utf16.decode_without_bom_handling(bytes).0.into_owned()
        } else {
            match std::str::from_utf8(bytes) {
                Ok(text) => text.to_string(),
                Err(_) => mostly_utf8(bytes, &mut warnings),
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

/// The text of bytes that are not all UTF-8. A file that is mostly UTF-8 keeps it: only
/// the bytes that are not UTF-8 are dropped, with a warning naming the first. A file
/// that is another encoding as a whole is read as Windows-1252, the encoding of text
/// saved by Windows editors, and the only other one that posts really arrive in.
///
/// Which one a file is: UTF-8 when it has at least one valid multi-byte sequence (an
/// accented letter, a curly quote) and no more invalid sequences than valid multi-byte
/// ones. Windows-1252 text almost never forms a valid multi-byte sequence by chance
/// (it takes a letter such as `Ã` followed by a symbol such as `©`), while a UTF-8 file
/// with a stray byte pasted in has its accents valid all around it.
fn mostly_utf8(bytes: &[u8], warnings: &mut Vec<String>) -> String {
    let (mut multibyte, mut invalid) = (0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        multibyte += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        invalid += usize::from(!chunk.invalid().is_empty());
    }
    if multibyte == 0 || invalid > multibyte {
        warnings.push(NOT_UTF8.to_string());
        return WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned();
    }
    let mut text = String::with_capacity(bytes.len());
    let mut dropped = 0;
    let mut first = None;
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            first.get_or_insert_with(|| line_and_column(&text));
            dropped += chunk.invalid().len();
        }
    }
    if let Some((line, column)) = first {
        let bytes = if dropped == 1 {
            "byte that is"
        } else {
            "bytes that are"
        };
        warnings.push(format!(
            "{dropped} {bytes} not UTF-8 removed, the first at line {line}, column {column}; save the file as UTF-8"
        ));
    }
    text
}

/// The line and column (both from 1, the column in characters) just after `text`.
/// Line ends are counted as the decoder will make them: CRLF, CR and LF are each one.
fn line_and_column(text: &str) -> (usize, usize) {
    let line =
        1 + text.matches('\n').count() + text.matches('\r').count() - text.matches("\r\n").count();
    let last_line = text.rsplit(['\n', '\r']).next().unwrap_or(text);
    (line, last_line.chars().count() + 1)
}

/// The UTF-16 byte order of text saved without a byte-order mark, told by its pattern:
/// text that is mostly ASCII has a NUL in every other byte, the high byte of each code
/// unit, and almost none in the other half. Binary files have NULs too, but not in
/// that pattern. `None`: not UTF-16 that can be told.
fn utf16_without_bom(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let units = bytes.len() / 2;
    // Four code units or more: a pattern in fewer is chance.
    if units < 4 {
        return None;
    }
    let (mut even, mut odd) = (0usize, 0usize);
    for pair in bytes.chunks_exact(2) {
        even += usize::from(pair[0] == 0);
        odd += usize::from(pair[1] == 0);
    }
    // Half the units or more with a NUL high byte, and at most one in eight of those
    // with a NUL low byte (U+0100, U+3000, U+4E00 …, which real text may hold).
    let looks_like = |high: usize, low: usize| 2 * high >= units && 8 * low <= high;
    if looks_like(odd, even) {
        Some(UTF_16LE)
    } else if looks_like(even, odd) {
        Some(UTF_16BE)
    } else {
        None
    }
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

    /// Regression: one stray byte in a UTF-8 file made the whole file Windows-1252
    /// ("José Núñez" became "JosÃ© NÃºÃ±ez").
    #[test]
    fn a_stray_byte_in_utf8_is_removed_and_the_rest_stays_utf8() {
        let decoded =
            decode(b"Posted by Jos\xC3\xA9 N\xC3\xBA\xC3\xB1ez\n\nS\xC3\xA3o \xFFPaulo").unwrap();
        assert_eq!(decoded.text, "Posted by José Núñez\n\nSão Paulo");
        assert_eq!(
            decoded.warnings,
            vec!["1 byte that is not UTF-8 removed, the first at line 3, column 5; save the file as UTF-8"]
        );
    }

    #[test]
    fn every_stray_byte_is_counted_and_the_first_is_placed_across_crlf_and_cr() {
        // A truncated sequence (E2 80) and two lone bytes, after CRLF and CR line ends,
        // among three accents.
        let decoded = decode(b"caf\xC3\xA9\r\nna\xC3\xAFve\rab\xE2\x80 \x80\xFE \xC3\xA0").unwrap();
        assert_eq!(decoded.text, "café\nnaïve\nab  à");
        assert_eq!(
            decoded.warnings,
            vec!["4 bytes that are not UTF-8 removed, the first at line 3, column 3; save the file as UTF-8"]
        );
    }

    #[test]
    fn windows_1252_with_a_chance_utf8_pair_is_still_windows_1252() {
        // `Ã©` (C3 A9) is valid UTF-8 by chance; the three lone accents outnumber it.
        let decoded = decode(b"caf\xE9 cr\xE8me br\xFBl\xE9e \xC3\xA9").unwrap();
        assert_eq!(decoded.text, "café crème brûlée Ã©");
        assert_eq!(decoded.warnings, vec![NOT_UTF8]);
    }

    #[test]
    fn utf16_without_bom_is_told_by_its_nul_pattern_and_decoded_with_a_warning() {
        let text = "Posted on 2019-03-03\r\n\r\nS\u{E3}o Paulo \u{4E00}.";
        let (mut le, mut be) = (Vec::new(), Vec::new());
        for unit in text.encode_utf16() {
            le.extend_from_slice(&unit.to_le_bytes());
            be.extend_from_slice(&unit.to_be_bytes());
        }
        for bytes in [le, be] {
            let decoded = decode(&bytes).unwrap();
            assert_eq!(
                decoded.text,
                "Posted on 2019-03-03\n\nS\u{E3}o Paulo \u{4E00}."
            );
            assert_eq!(decoded.warnings, vec![UTF16_WITHOUT_BOM]);
        }
    }

    #[test]
    fn nul_bytes_in_no_utf16_pattern_are_still_binary() {
        let png = b"\x89PNG\r\n\x1A\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x06";
        // UTF-32: NULs in both halves.
        let utf32: Vec<u8> = "Hello"
            .chars()
            .flat_map(|c| (c as u32).to_le_bytes())
            .collect();
        for bytes in [&png[..], b"ab\x00cd", b"a\x00b\x00c\x00", &utf32] {
            assert_eq!(
                decode(bytes).unwrap_err(),
                "binary file (NUL bytes), not a post",
                "{bytes:?}"
            );
        }
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
