//! Renders merged template HTML as a real PDF: the visible text, word-wrapped with Helvetica metrics.
//!
//! Owns the whole path from HTML to bytes: extracting the text a browser would show, encoding it as
//! WinAnsi, laying it out on US Letter pages and writing the PDF objects, xref and trailer by hand
//! (std only; the standard Helvetica font needs no embedding).

use std::fmt;
use std::io::Write as _;

/// US Letter, in PDF points.
const PAGE_WIDTH: u32 = 612;
const PAGE_HEIGHT: u32 = 792;
const MARGIN: u32 = 72;
const FONT_SIZE: u32 = 11;
/// Distance between baselines.
const LEADING: u32 = 13;
const TEXT_WIDTH: u32 = PAGE_WIDTH - 2 * MARGIN;
/// The first baseline sits one font size below the top margin so capitals stay inside it.
const FIRST_BASELINE: u32 = PAGE_HEIGHT - MARGIN - FONT_SIZE;
/// Lines whose baseline stays on or above the bottom margin.
const LINES_PER_PAGE: usize = ((FIRST_BASELINE - MARGIN) / LEADING + 1) as usize;
/// The text width in glyph-space units (1/1000 of the font size), the unit of the AFM widths.
const MAX_LINE_UNITS: u32 = TEXT_WIDTH * 1000 / FONT_SIZE;

/// Text lines of a document laid out on pages.
#[derive(Debug, Clone)]
pub struct PdfDocument {
    title: String,
    /// Laid-out lines, WinAnsi-encoded and wrapped to the text width; an empty line is a blank line.
    lines: Vec<Vec<u8>>,
}

impl PdfDocument {
    /// Lays out the visible text of `html` (tags stripped, block elements and `<br>` break lines,
    /// entities decoded, whitespace collapsed like a browser, long lines word-wrapped) on US Letter
    /// pages (612x792 pt), Helvetica 11pt, 72pt margins. `title` goes in the PDF /Info Title.
    pub fn from_html(title: &str, html: &str) -> PdfDocument {
        let mut lines = Vec::new();
        for paragraph in html_text::visible_lines(html) {
            let encoded: Vec<u8> = paragraph.chars().map(win_ansi::encode).collect();
            wrap_line(&encoded, &mut lines);
        }
        PdfDocument { title: title.to_owned(), lines }
    }

    /// Number of pages; an empty document still has one blank page.
    pub fn page_count(&self) -> usize {
        self.lines.len().div_ceil(LINES_PER_PAGE).max(1)
    }

    /// The whole document as PDF bytes.
    pub fn to_pdf(&self) -> Vec<u8> {
        let pages: Vec<&[Vec<u8>]> = (0..self.page_count()).map(|index| self.page_lines(index)).collect();
        write_pdf(&self.title, &pages)
    }

    /// Only page `page` (1-based) as a one-page PDF; None when out of range.
    pub fn page_pdf(&self, page: usize) -> Option<Vec<u8>> {
        let index = page.checked_sub(1)?;
        if index >= self.page_count() {
            return None;
        }
        Some(write_pdf(&self.title, &[self.page_lines(index)]))
    }

    /// The lines of the 0-based page `index`; empty past the end.
    fn page_lines(&self, index: usize) -> &[Vec<u8>] {
        let start = index.saturating_mul(LINES_PER_PAGE).min(self.lines.len());
        let end = start.saturating_add(LINES_PER_PAGE).min(self.lines.len());
        &self.lines[start..end]
    }
}

/// Greedy word-wrap of one WinAnsi paragraph into `out`: breaks at the last space that fits, and
/// breaks inside a word only when the word alone is wider than the line. Each byte is looked at a
/// bounded number of times (a carried-over tail is at most one line long), so this stays linear.
fn wrap_line(paragraph: &[u8], out: &mut Vec<Vec<u8>>) {
    let mut line: Vec<u8> = Vec::new();
    let mut width = 0;
    // Index in `line` of its last space after a word: the preferred break point. Spaces before the
    // first word (indentation in <pre>) are no break point, or the break would leave a blank line.
    let mut last_space: Option<usize> = None;
    let mut has_word = false;
    for &byte in paragraph {
        let glyph = win_ansi::helvetica_width(byte);
        if width + glyph > MAX_LINE_UNITS && !line.is_empty() {
            if byte == b' ' {
                // The overflowing space itself becomes the break and is not drawn.
                out.push(std::mem::take(&mut line));
                width = 0;
                last_space = None;
                has_word = false;
                continue;
            }
            match last_space.take() {
                Some(at) => {
                    let tail = line.split_off(at + 1);
                    while line.last() == Some(&b' ') {
                        line.pop();
                    }
                    out.push(std::mem::replace(&mut line, tail));
                    // The tail is the word after the last space: no spaces, possibly empty.
                    width = line.iter().map(|&b| win_ansi::helvetica_width(b)).sum();
                    has_word = !line.is_empty();
                }
                None => {
                    out.push(std::mem::take(&mut line));
                    width = 0;
                    has_word = false;
                }
            }
        }
        if byte == b' ' {
            if has_word {
                last_space = Some(line.len());
            }
        } else {
            has_word = true;
        }
        line.push(byte);
        width += glyph;
    }
    out.push(line);
}

/// Object numbers of the fixed objects; page objects follow, each with its content stream next.
const CATALOG_ID: usize = 1;
const PAGES_ID: usize = 2;
const FONT_ID: usize = 3;
const INFO_ID: usize = 4;
const FIRST_PAGE_ID: usize = 5;

/// Writes a complete PDF with one page per entry of `pages`.
fn write_pdf(title: &str, pages: &[&[Vec<u8>]]) -> Vec<u8> {
    let page_id = |index: usize| FIRST_PAGE_ID + 2 * index;
    let mut pdf = PdfWriter::new();

    pdf.object(CATALOG_ID, |out| {
        append(out, format_args!("<< /Type /Catalog /Pages {PAGES_ID} 0 R >>"));
    });
    pdf.object(PAGES_ID, |out| {
        out.extend_from_slice(b"<< /Type /Pages /Kids [");
        for index in 0..pages.len() {
            append(out, format_args!("{} 0 R ", page_id(index)));
        }
        append(out, format_args!("] /Count {} >>", pages.len()));
    });
    pdf.object(FONT_ID, |out| {
        out.extend_from_slice(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");
    });
    pdf.object(INFO_ID, |out| {
        out.extend_from_slice(b"<< /Title ");
        push_text_string(out, title);
        out.extend_from_slice(b" /Producer (inkit-mock) >>");
    });
    for (index, lines) in pages.iter().enumerate() {
        let id = page_id(index);
        let contents_id = id + 1;
        pdf.object(id, |out| {
            append(
                out,
                format_args!(
                    "<< /Type /Page /Parent {PAGES_ID} 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] \
                     /Resources << /Font << /F1 {FONT_ID} 0 R >> >> /Contents {contents_id} 0 R >>"
                ),
            );
        });
        let content = page_content(lines);
        pdf.object(contents_id, |out| {
            append(out, format_args!("<< /Length {} >>\nstream\n", content.len()));
            out.extend_from_slice(&content);
            out.extend_from_slice(b"\nendstream");
        });
    }
    pdf.finish()
}

/// The content stream drawing `lines` top-down. Each line is its own text object so text
/// extractors that only follow operators (not positions) still see one line per line.
fn page_content(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut content = Vec::with_capacity(lines.iter().map(|line| line.len() + 40).sum());
    let mut baseline = FIRST_BASELINE;
    for line in lines {
        if !line.is_empty() {
            append(&mut content, format_args!("BT /F1 {FONT_SIZE} Tf {MARGIN} {baseline} Td ("));
            push_escaped(&mut content, line);
            content.extend_from_slice(b") Tj ET\n");
        }
        baseline = baseline.saturating_sub(LEADING);
    }
    content
}

/// Accumulates numbered objects and remembers where each starts, for the xref table.
struct PdfWriter {
    bytes: Vec<u8>,
    /// Byte offset of object `n` at index `n - 1`.
    offsets: Vec<usize>,
}

impl PdfWriter {
    fn new() -> PdfWriter {
        let mut bytes = Vec::with_capacity(4096);
        // The binary comment tells transfer tools the file is not plain text.
        bytes.extend_from_slice(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
        PdfWriter { bytes, offsets: Vec::new() }
    }

    /// Writes object `id`, which must be the next number: the xref lists objects in order.
    fn object(&mut self, id: usize, body: impl FnOnce(&mut Vec<u8>)) {
        debug_assert_eq!(id, self.offsets.len() + 1, "objects are written in order");
        self.offsets.push(self.bytes.len());
        append(&mut self.bytes, format_args!("{id} 0 obj\n"));
        body(&mut self.bytes);
        self.bytes.extend_from_slice(b"\nendobj\n");
    }

    /// Appends the xref table and trailer.
    fn finish(mut self) -> Vec<u8> {
        let xref_offset = self.bytes.len();
        let size = self.offsets.len() + 1;
        // Each entry is exactly 20 bytes, hence the space before the newline.
        append(&mut self.bytes, format_args!("xref\n0 {size}\n0000000000 65535 f \n"));
        for offset in &self.offsets {
            append(&mut self.bytes, format_args!("{offset:010} 00000 n \n"));
        }
        append(
            &mut self.bytes,
            format_args!(
                "trailer\n<< /Size {size} /Root {CATALOG_ID} 0 R /Info {INFO_ID} 0 R >>\nstartxref\n{xref_offset}\n%%EOF\n"
            ),
        );
        self.bytes
    }
}

/// Appends formatted text. Writing into a `Vec` cannot fail, so the `io::Result` carries nothing.
fn append(out: &mut Vec<u8>, args: fmt::Arguments<'_>) {
    let _ = out.write_fmt(args);
}

/// Appends `bytes` as the inside of a PDF literal string, escaping its delimiters.
fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    for &byte in bytes {
        if matches!(byte, b'(' | b')' | b'\\') {
            out.push(b'\\');
        }
        out.push(byte);
    }
}

/// Appends a PDF text string (as used in /Info): a literal when plain ASCII, otherwise UTF-16BE
/// with a byte order mark, which every reader decodes and which covers all of Unicode.
fn push_text_string(out: &mut Vec<u8>, text: &str) {
    if text.chars().all(|c| (' '..='~').contains(&c)) {
        out.push(b'(');
        push_escaped(out, text.as_bytes());
        out.push(b')');
    } else {
        out.extend_from_slice(b"<FEFF");
        for unit in text.encode_utf16() {
            append(out, format_args!("{unit:04X}"));
        }
        out.push(b'>');
    }
}

/// WinAnsiEncoding (Windows-1252 as PDF defines it) and Helvetica's glyph widths in it.
mod win_ansi {
    /// Characters of WinAnsi codes 0x80..=0x9F; `None` where the code has no glyph.
    #[rustfmt::skip]
    pub(super) const HIGH_CODES: [Option<char>; 32] = [
        Some('€'), None,      Some('‚'), Some('ƒ'), Some('„'), Some('…'), Some('†'), Some('‡'),
        Some('ˆ'), Some('‰'), Some('Š'), Some('‹'), Some('Œ'), None,      Some('Ž'), None,
        None,      Some('‘'), Some('’'), Some('“'), Some('”'), Some('•'), Some('–'), Some('—'),
        Some('˜'), Some('™'), Some('š'), Some('›'), Some('œ'), None,      Some('ž'), Some('Ÿ'),
    ];

    /// Width used for codes without a glyph in the AFM table.
    const DEFAULT_WIDTH: u16 = 556;

    /// Helvetica advance widths (Adobe AFM, units of 1/1000 em) for WinAnsi codes 32..=255.
    /// Codes without a glyph (127, 129, 141, 143, 144, 157) carry the default width.
    #[rustfmt::skip]
    const HELVETICA_WIDTHS: [u16; 224] = [
        // 32..=47: space ! " # $ % & ' ( ) * + , - . /
        278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
        // 48..=63: 0-9 : ; < = > ?
        556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
        // 64..=79: @ A-O
        1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
        // 80..=95: P-Z [ \ ] ^ _
        667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
        // 96..=111: ` a-o
        333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
        // 112..=127: p-z { | } ~ (127 unassigned)
        556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 556,
        // 128..=143: € (129) ‚ ƒ „ … † ‡ ˆ ‰ Š ‹ Œ (141) Ž (143)
        556, 556, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 556, 611, 556,
        // 144..=159: (144) ‘ ’ “ ” • – — ˜ ™ š › œ (157) ž Ÿ
        556, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 556, 500, 667,
        // 160..=175: nbsp ¡ ¢ £ ¤ ¥ ¦ § ¨ © ª « ¬ shy ® ¯
        278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,
        // 176..=191: ° ± ² ³ ´ µ ¶ · ¸ ¹ º » ¼ ½ ¾ ¿
        400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611,
        // 192..=207: À-Ï
        667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
        // 208..=223: Ð-ß
        722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
        // 224..=239: à-ï
        556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,
        // 240..=255: ð-ÿ
        556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
    ];

    /// The WinAnsi byte for `c`, or `?` when the encoding cannot show it.
    pub(super) fn encode(c: char) -> u8 {
        let code = u32::from(c);
        match code {
            0x20..=0x7E | 0xA0..=0xFF => u8::try_from(code).unwrap_or(b'?'),
            _ => HIGH_CODES
                .iter()
                .position(|&high| high == Some(c))
                .and_then(|index| u8::try_from(0x80 + index).ok())
                .unwrap_or(b'?'),
        }
    }

    /// Helvetica's advance width of WinAnsi `code`, in 1/1000 of the font size.
    pub(super) fn helvetica_width(code: u8) -> u32 {
        let width = code
            .checked_sub(32)
            .and_then(|index| HELVETICA_WIDTHS.get(usize::from(index)))
            .copied()
            .unwrap_or(DEFAULT_WIDTH);
        u32::from(width)
    }
}

/// The visible text of HTML, the way a browser would show it in a plain-text rendering.
///
/// A forgiving single-pass scanner rather than a full HTML parser: templates are mostly
/// well-formed, and for broken markup it follows the browser rules that matter for text (a `<` not
/// starting a tag is text, a tag cut off by the end of input is dropped, an unknown `&name;` stays
/// as written). It only ever slices at ASCII delimiters, so it cannot split a UTF-8 character.
mod html_text {
    /// Elements whose content is never shown; the scanner jumps to their end tag.
    const RAW_TEXT_ELEMENTS: [&str; 5] = ["script", "style", "title", "template", "noscript"];
    /// Elements that may appear in `<head>`; any other start tag ends it, as in a browser.
    const HEAD_ELEMENTS: [&str; 9] =
        ["head", "title", "meta", "link", "style", "script", "base", "noscript", "template"];
    /// Block elements separated from their surroundings by a blank line (their default margins).
    #[rustfmt::skip]
    const SPACED_BLOCKS: [&str; 14] = [
        "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "blockquote", "pre", "hr", "dl",
    ];
    /// Other block elements: they start and end a line.
    #[rustfmt::skip]
    const BLOCKS: [&str; 25] = [
        "div", "li", "tr", "section", "article", "header", "footer", "main", "nav", "aside",
        "address", "form", "fieldset", "figure", "figcaption", "caption", "thead", "tbody", "tfoot",
        "dt", "dd", "details", "summary", "center", "body",
    ];
    /// Characters with no visible glyph that browsers do not draw.
    const INVISIBLE: [char; 6] = [
        '\u{AD}',   // soft hyphen
        '\u{200B}', // zero width space
        '\u{200C}', // zero width non-joiner
        '\u{200D}', // zero width joiner
        '\u{2060}', // word joiner
        '\u{FEFF}', // byte order mark / zero width no-break space
    ];
    /// Tab stops inside `<pre>`, in characters.
    const TAB_WIDTH: usize = 8;

    /// Visible text of `html` as lines, before word-wrapping; empty strings are blank lines.
    pub(super) fn visible_lines(html: &str) -> Vec<String> {
        // Lowercasing only ASCII keeps every byte offset identical to `html`.
        let lower = html.to_ascii_lowercase();
        let mut text = TextBuilder::default();
        let mut pos = 0;
        while let Some(rest) = html.get(pos..) {
            let Some(offset) = rest.find(['<', '&']) else {
                text.push_str(rest);
                break;
            };
            text.push_str(&rest[..offset]);
            pos += offset;
            if rest[offset..].starts_with('<') {
                match parse_markup(&lower, pos) {
                    Some((markup, end)) => {
                        pos = end;
                        match markup {
                            Markup::Start(name) => {
                                if RAW_TEXT_ELEMENTS.contains(&name) {
                                    pos = raw_text_end(&lower, pos, name);
                                }
                                text.start_tag(name);
                            }
                            Markup::End(name) => text.end_tag(name),
                            Markup::Ignored => {}
                        }
                    }
                    None => {
                        text.push_char('<');
                        pos += 1;
                    }
                }
            } else {
                match decode_entity(&rest[offset..]) {
                    Some((decoded, len)) => {
                        text.push_char(decoded);
                        pos += len;
                    }
                    None => {
                        text.push_char('&');
                        pos += 1;
                    }
                }
            }
        }
        text.finish()
    }

    /// What a `<...>` construct turned out to be; names are lowercase.
    enum Markup<'a> {
        Start(&'a str),
        End(&'a str),
        /// Comments, doctypes, processing instructions and other bogus markup.
        Ignored,
    }

    /// Parses the markup starting at the `<` at byte `at`, returning it and the offset after it.
    /// `None` means the `<` is plain text.
    fn parse_markup(lower: &str, at: usize) -> Option<(Markup<'_>, usize)> {
        let bytes = lower.as_bytes();
        let rest = lower.get(at..)?;
        if rest.starts_with("<!--") {
            // Searching from just after "<!" also accepts the abrupt "<!-->" and "<!--->".
            let end =
                rest.get(2..).and_then(|comment| comment.find("-->")).map_or(lower.len(), |index| at + 2 + index + 3);
            return Some((Markup::Ignored, end));
        }
        match bytes.get(at + 1)? {
            b'!' | b'?' => Some((Markup::Ignored, after_gt(bytes, at + 2))),
            b'/' => match bytes.get(at + 2)? {
                b if b.is_ascii_alphabetic() => {
                    let name_end = tag_name_end(bytes, at + 2);
                    let name = lower.get(at + 2..name_end)?;
                    Some((Markup::End(name), after_gt(bytes, name_end)))
                }
                // "</>" and "</1..." are dropped as bogus markup, like a browser does.
                _ => Some((Markup::Ignored, after_gt(bytes, at + 2))),
            },
            b if b.is_ascii_alphabetic() => {
                let name_end = tag_name_end(bytes, at + 1);
                let name = lower.get(at + 1..name_end)?;
                Some((Markup::Start(name), start_tag_end(bytes, name_end)))
            }
            _ => None,
        }
    }

    fn tag_name_end(bytes: &[u8], start: usize) -> usize {
        let len = bytes
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'_'))
            .count();
        start + len
    }

    /// Offset after the next `>` from `from`; markup cut off by the end of input swallows the rest.
    fn after_gt(bytes: &[u8], from: usize) -> usize {
        bytes
            .get(from..)
            .and_then(|rest| rest.iter().position(|&b| b == b'>'))
            .map_or(bytes.len(), |index| from + index + 1)
    }

    /// Offset after the `>` closing a start tag, skipping `>` inside quoted attribute values.
    fn start_tag_end(bytes: &[u8], from: usize) -> usize {
        let mut quote: Option<u8> = None;
        // Quotes only delimit a value right after `=`; elsewhere they are part of a name.
        let mut after_equals = false;
        for (index, &byte) in bytes.iter().enumerate().skip(from) {
            if let Some(open) = quote {
                if byte == open {
                    quote = None;
                }
                continue;
            }
            match byte {
                b'>' => return index + 1,
                b'=' => after_equals = true,
                b'"' | b'\'' if after_equals => {
                    quote = Some(byte);
                    after_equals = false;
                }
                b if b.is_ascii_whitespace() => {}
                _ => after_equals = false,
            }
        }
        bytes.len()
    }

    /// Where the content of raw-text element `name` ends (its end tag, or the end of input).
    fn raw_text_end(lower: &str, from: usize, name: &str) -> usize {
        let end_tag = format!("</{name}");
        lower.get(from..).and_then(|rest| rest.find(&end_tag)).map_or(lower.len(), |index| from + index)
    }

    /// Decodes the character reference at the start of `s` (which starts with `&`), returning the
    /// character and how many bytes it took; `None` when it is a literal ampersand.
    fn decode_entity(s: &str) -> Option<(char, usize)> {
        let bytes = s.as_bytes();
        if bytes.get(1) == Some(&b'#') {
            let (radix, digits_start) = match bytes.get(2) {
                Some(b'x' | b'X') => (16, 3),
                _ => (10, 2),
            };
            let digits = s.get(digits_start..)?;
            let digit_count = digits.chars().take_while(|c| c.is_digit(radix)).count();
            if digit_count == 0 {
                return None;
            }
            // Saturating: an absurd number is just out of range, never an overflow.
            let value = digits
                .chars()
                .take(digit_count)
                .filter_map(|c| c.to_digit(radix))
                .fold(0u32, |acc, digit| acc.saturating_mul(radix).saturating_add(digit));
            let mut len = digits_start + digit_count;
            if bytes.get(len) == Some(&b';') {
                len += 1;
            }
            return Some((numeric_reference(value), len));
        }
        let name_len = bytes.get(1..)?.iter().take_while(|b| b.is_ascii_alphanumeric()).count();
        if bytes.get(1 + name_len) != Some(&b';') {
            return None;
        }
        let decoded = named_entity(s.get(1..1 + name_len)?)?;
        Some((decoded, name_len + 2))
    }

    /// The character of `&#value;`, with the browser fix-ups: NUL, surrogates and out-of-range
    /// values become U+FFFD, and 0x80..=0x9F mean their Windows-1252 characters.
    fn numeric_reference(value: u32) -> char {
        if let Some(index) = value.checked_sub(0x80)
            && let Some(Some(c)) = super::win_ansi::HIGH_CODES.get(index as usize)
        {
            return *c;
        }
        match value {
            0 => char::REPLACEMENT_CHARACTER,
            _ => char::from_u32(value).unwrap_or(char::REPLACEMENT_CHARACTER),
        }
    }

    /// HTML 4 names of the Latin-1 characters U+00A0..=U+00FF, in code point order.
    const LATIN1_ENTITIES: [&str; 96] = [
        "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf", "laquo", "not",
        "shy", "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro", "para", "middot", "cedil", "sup1",
        "ordm", "raquo", "frac14", "frac12", "frac34", "iquest", "Agrave", "Aacute", "Acirc", "Atilde", "Auml",
        "Aring", "AElig", "Ccedil", "Egrave", "Eacute", "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH",
        "Ntilde", "Ograve", "Oacute", "Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc",
        "Uuml", "Yacute", "THORN", "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil",
        "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml", "eth", "ntilde", "ograve", "oacute",
        "ocirc", "otilde", "ouml", "divide", "oslash", "ugrave", "uacute", "ucirc", "uuml", "yacute", "thorn", "yuml",
    ];

    /// Named references outside Latin-1 that WinAnsi can still show, plus the markup escapes.
    #[rustfmt::skip]
    const OTHER_ENTITIES: [(&str, char); 34] = [
        ("amp", '&'), ("AMP", '&'), ("lt", '<'), ("LT", '<'), ("gt", '>'), ("GT", '>'),
        ("quot", '"'), ("QUOT", '"'), ("apos", '\''),
        ("euro", '€'), ("sbquo", '‚'), ("fnof", 'ƒ'), ("bdquo", '„'), ("hellip", '…'),
        ("dagger", '†'), ("Dagger", '‡'), ("circ", 'ˆ'), ("permil", '‰'), ("Scaron", 'Š'),
        ("lsaquo", '‹'), ("OElig", 'Œ'), ("lsquo", '‘'), ("rsquo", '’'), ("ldquo", '“'),
        ("rdquo", '”'), ("bull", '•'), ("ndash", '–'), ("mdash", '—'), ("tilde", '˜'),
        ("trade", '™'), ("scaron", 'š'), ("rsaquo", '›'), ("oelig", 'œ'), ("Yuml", 'Ÿ'),
    ];

    fn named_entity(name: &str) -> Option<char> {
        if let Some(index) = LATIN1_ENTITIES.iter().position(|&entity| entity == name) {
            return char::from_u32(0xA0 + index as u32);
        }
        OTHER_ENTITIES.iter().find(|(entity, _)| *entity == name).map(|&(_, c)| c)
    }

    fn is_html_whitespace(c: char) -> bool {
        matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0C')
    }

    /// Builds lines from text and tags with the browser's whitespace and block rules.
    #[derive(Default)]
    struct TextBuilder {
        lines: Vec<String>,
        line: String,
        /// Characters in `line`, for tab stops (counting them on demand would be quadratic).
        column: usize,
        /// Collapsed whitespace seen since the last visible character, drawn only between words.
        pending_space: bool,
        /// A spaced block ended or began: the next text gets a blank line before it.
        pending_blank_line: bool,
        /// Depth of open `<pre>` elements; inside, whitespace is kept as written.
        pre_depth: usize,
        /// A newline right after `<pre>` is not content.
        skip_pre_newline: bool,
        /// Inside `<head>`, nothing is shown.
        in_head: bool,
    }

    impl TextBuilder {
        fn push_str(&mut self, text: &str) {
            for c in text.chars() {
                self.push_char(c);
            }
        }

        fn push_char(&mut self, c: char) {
            if self.in_head || INVISIBLE.contains(&c) {
                return;
            }
            if self.pre_depth == 0 {
                if is_html_whitespace(c) {
                    // Whitespace at the start of a line never shows.
                    self.pending_space = !self.line.is_empty();
                } else {
                    self.push_visible(c);
                }
                return;
            }
            if std::mem::take(&mut self.skip_pre_newline) && c == '\n' {
                return;
            }
            match c {
                '\n' => self.break_line(),
                // CR only appears in CRLF pairs worth keeping as one break: the LF does it.
                '\r' => {}
                '\t' => {
                    for _ in 0..TAB_WIDTH - self.column % TAB_WIDTH {
                        self.push_visible(' ');
                    }
                }
                '\x0C' => self.push_visible(' '),
                _ => self.push_visible(c),
            }
        }

        /// Appends a drawn character, first emitting any pending blank line and word space.
        fn push_visible(&mut self, c: char) {
            if self.line.is_empty() {
                if std::mem::take(&mut self.pending_blank_line)
                    && self.lines.last().is_some_and(|last| !last.is_empty())
                {
                    self.lines.push(String::new());
                }
            } else if self.pending_space && !self.line.ends_with(' ') {
                self.line.push(' ');
                self.column += 1;
            }
            self.pending_space = false;
            self.line.push(c);
            self.column += 1;
        }

        fn start_tag(&mut self, name: &str) {
            if self.in_head {
                if HEAD_ELEMENTS.contains(&name) {
                    return;
                }
                self.in_head = false;
            }
            match name {
                // A <head> after visible content is ignored by browsers, so only honour an early one.
                "head" if self.lines.is_empty() && self.line.is_empty() => self.in_head = true,
                "br" => self.break_line(),
                "li" => {
                    self.end_line();
                    self.push_visible('-');
                    self.push_visible(' ');
                }
                "td" | "th" => self.separate_cell(),
                "pre" => {
                    self.end_block(true);
                    self.pre_depth += 1;
                    self.skip_pre_newline = true;
                }
                _ => self.end_block_if_block(name),
            }
        }

        fn end_tag(&mut self, name: &str) {
            match name {
                "head" => self.in_head = false,
                // Browsers read a stray </br> as <br>.
                "br" => self.break_line(),
                "pre" => {
                    self.end_block(true);
                    self.pre_depth = self.pre_depth.saturating_sub(1);
                }
                _ => self.end_block_if_block(name),
            }
        }

        fn end_block_if_block(&mut self, name: &str) {
            if SPACED_BLOCKS.contains(&name) {
                self.end_block(true);
            } else if BLOCKS.contains(&name) {
                self.end_block(false);
            }
        }

        fn end_block(&mut self, spaced: bool) {
            self.end_line();
            if spaced {
                self.pending_blank_line = true;
            }
        }

        /// Ends the current line if it has text; blocks never produce empty lines by themselves.
        fn end_line(&mut self) {
            if !self.line.is_empty() {
                self.lines.push(std::mem::take(&mut self.line));
            }
            self.column = 0;
            self.pending_space = false;
        }

        /// Ends the current line even if empty: consecutive `<br>` make blank lines.
        fn break_line(&mut self) {
            self.lines.push(std::mem::take(&mut self.line));
            self.column = 0;
            self.pending_space = false;
        }

        /// Table cells on one row are set two spaces apart.
        fn separate_cell(&mut self) {
            if !self.line.is_empty() {
                let trimmed = self.line.trim_end_matches(' ').len();
                self.column = self.column.saturating_sub(self.line.len() - trimmed);
                self.line.truncate(trimmed);
                self.line.push_str("  ");
                self.column += 2;
            }
            self.pending_space = false;
        }

        fn finish(mut self) -> Vec<String> {
            self.end_line();
            // A trailing <br> does not add a visible line in a browser.
            while self.lines.last().is_some_and(String::is_empty) {
                self.lines.pop();
            }
            self.lines
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::Document;

    fn load(bytes: &[u8]) -> Document {
        match Document::load_mem(bytes) {
            Ok(document) => document,
            Err(error) => panic!("produced PDF does not load: {error}"),
        }
    }

    /// Extracted text of every page of `bytes`, in order.
    fn extract_all_text(bytes: &[u8]) -> String {
        let document = load(bytes);
        let pages: Vec<u32> = document.get_pages().keys().copied().collect();
        document.extract_text(&pages).expect("text extracts")
    }

    fn lines_of(html: &str) -> Vec<String> {
        html_text::visible_lines(html)
    }

    #[test]
    fn merged_values_are_extractable_text() {
        let html = "<html><body><h1>Invoice</h1>\
            <p>Dear Jane O'Brien,</p>\
            <p>Your caf&eacute; order: café au lait, 50% off (today) only.</p>\
            <p>Saved to C:\\Users\\jane\\invoice.pdf</p></body></html>";
        let document = PdfDocument::from_html("Invoice", html);
        assert_eq!(document.page_count(), 1);
        let text = extract_all_text(&document.to_pdf());
        for expected in [
            "Invoice",
            "Dear Jane O'Brien,",
            "Your café order: café au lait, 50% off (today) only.",
            "C:\\Users\\jane\\invoice.pdf",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from {text:?}");
        }
    }

    #[test]
    fn winansi_extras_are_kept_and_unrepresentable_characters_become_question_marks() {
        let html = "<p>€5 – “quoted” — ‘single’ • wait… ™ Œuvre</p><p>日本 ok</p>";
        let text = extract_all_text(&PdfDocument::from_html("t", html).to_pdf());
        assert!(text.contains("€5 – “quoted” — ‘single’ • wait… ™ Œuvre"), "{text:?}");
        assert!(text.contains("?? ok"), "{text:?}");
    }

    #[test]
    fn info_title_is_written_for_ascii_and_unicode_titles() {
        for title in ["Invoice (draft) \\ 7", "Café — 日本"] {
            let document = load(&PdfDocument::from_html(title, "<p>x</p>").to_pdf());
            let info_id =
                document.trailer.get(b"Info").and_then(|info| info.as_reference()).expect("trailer has /Info");
            let info = document.get_dictionary(info_id).expect("/Info is a dictionary");
            let stored = info.get(b"Title").expect("/Info has /Title");
            assert_eq!(lopdf::decode_text_string(stored).expect("title decodes"), title);
        }
    }

    #[test]
    fn long_documents_break_into_pages_and_single_pages_can_be_extracted() {
        let html: String = (1..=300).map(|index| format!("<p>Paragraph number {index} of the letter.</p>")).collect();
        let document = PdfDocument::from_html("Long", &html);
        let page_count = document.page_count();
        assert!(page_count > 1, "300 paragraphs fit on {page_count} page(s)");

        let whole = load(&document.to_pdf());
        assert_eq!(whole.get_pages().len(), page_count);

        let second = document.page_pdf(2).expect("page 2 exists");
        let single = load(&second);
        assert_eq!(single.get_pages().len(), 1);
        let single_text = single.extract_text(&[1]).expect("text extracts");
        assert_eq!(single_text, whole.extract_text(&[2]).expect("text extracts"), "page_pdf(2) shows the second page");
        assert!(!single_text.contains("Paragraph number 1 of"));
        assert!(single_text.contains("Paragraph number 30 of"), "{single_text:?}");

        let last = load(&document.page_pdf(page_count).expect("last page exists"));
        assert!(last.extract_text(&[1]).expect("text extracts").contains("Paragraph number 300 of"));
        assert!(document.page_pdf(0).is_none());
        assert!(document.page_pdf(page_count + 1).is_none());
    }

    #[test]
    fn every_page_fits_between_the_margins() {
        let html: String = (0..400).map(|index| format!("line {index}<br>")).collect();
        let document = PdfDocument::from_html("t", &html);
        assert_eq!(document.page_count(), 400usize.div_ceil(LINES_PER_PAGE));
        let lowest_baseline = FIRST_BASELINE - (LINES_PER_PAGE as u32 - 1) * LEADING;
        assert!(lowest_baseline >= MARGIN);
        assert!(lowest_baseline < MARGIN + LEADING, "a page holds as many lines as fit");
    }

    #[test]
    fn empty_document_is_one_blank_page() {
        for html in ["", "   ", "<html><head><title>x</title></head><body></body></html>"] {
            let document = PdfDocument::from_html("Empty", html);
            assert_eq!(document.page_count(), 1);
            let pdf = load(&document.to_pdf());
            assert_eq!(pdf.get_pages().len(), 1);
            assert_eq!(pdf.extract_text(&[1]).expect("text extracts"), "");
            assert!(document.page_pdf(1).is_some());
            assert!(document.page_pdf(2).is_none());
        }
    }

    #[test]
    fn script_style_and_head_content_is_not_text() {
        let html = "<!DOCTYPE html><html><head><title>Secret title</title>\
            <style>.total { color: red }</style><meta charset=utf-8></head>\
            <body><script>var s = \"</p>hidden script\";</script>\
            <SCRIPT type='text/javascript'>alert('also hidden')</SCRIPT>\
            <!-- a comment with <p>markup</p> -->\
            <p>Visible</p></body></html>";
        let text = extract_all_text(&PdfDocument::from_html("t", html).to_pdf());
        assert!(text.contains("Visible"));
        for hidden in ["Secret", "color", "hidden", "alert", "comment", "markup"] {
            assert!(!text.contains(hidden), "{hidden:?} leaked into {text:?}");
        }
    }

    #[test]
    fn unclosed_head_ends_at_the_first_body_element() {
        assert_eq!(lines_of("<head><title>t</title><p>Shown</p>"), ["Shown"]);
    }

    #[test]
    fn entities_are_decoded() {
        let html = "<p>&amp; &lt;tag&gt; &quot;q&quot; it&#39;s &apos;a&apos; x&nbsp;y \
                    &#233;&#xE9;&#XE9; &euro;&hellip; &copy; &#150; &unknown; AT&T &#;</p>";
        assert_eq!(lines_of(html), ["& <tag> \"q\" it's 'a' x\u{A0}y ééé €… © – &unknown; AT&T &#;"]);
        let text = extract_all_text(&PdfDocument::from_html("t", html).to_pdf());
        assert!(text.contains("& <tag> \"q\" it's 'a'"), "{text:?}");
        assert!(text.contains("ééé €…"), "{text:?}");
    }

    #[test]
    fn whitespace_collapses_like_a_browser() {
        assert_eq!(lines_of("  <p>\n  Hello,\t\n <b>Jane</b>  <i> O'Brien </i>\n</p>  "), ["Hello, Jane O'Brien"]);
    }

    #[test]
    fn block_elements_and_breaks_end_lines() {
        assert_eq!(
            lines_of("<div>one</div><div>two<br>three<br/><br>four</div>inline<span>more</span>"),
            ["one", "two", "three", "", "four", "inlinemore"]
        );
        assert_eq!(
            lines_of("<h1>Title</h1><p>First</p><p>Second</p><div>Third</div>"),
            ["Title", "", "First", "", "Second", "", "Third"]
        );
    }

    #[test]
    fn list_items_get_dashes_and_table_cells_two_spaces() {
        assert_eq!(lines_of("<ul><li>Apples</li><li> Pears </li></ul>"), ["- Apples", "- Pears"]);
        assert_eq!(
            lines_of(
                "<table><tr><th>Item</th><th>Qty</th></tr>\
                 <tr><td> Widget </td>\n<td>3</td></tr></table>"
            ),
            ["Item  Qty", "Widget  3"]
        );
    }

    #[test]
    fn preformatted_text_keeps_its_spacing() {
        assert_eq!(
            lines_of("<pre>\nTotal:   42\n  indented\ta</pre><p>after   it</p>"),
            ["Total:   42", "  indented      a", "", "after it"]
        );
    }

    #[test]
    fn long_words_are_broken_instead_of_overflowing() {
        let word = "x".repeat(5_000);
        let document = PdfDocument::from_html("t", &format!("<p>start {word} end</p>"));
        assert!(document.lines.len() > 2);
        for line in &document.lines {
            let width: u32 = line.iter().map(|&b| win_ansi::helvetica_width(b)).sum();
            assert!(width <= MAX_LINE_UNITS, "line of {width} units overflows");
        }
        assert_eq!(document.lines[0], b"start");
        let text = extract_all_text(&document.to_pdf());
        let xs = text.chars().filter(|&c| c == 'x').count();
        assert_eq!(xs, 5_000, "every character of the word is drawn once");
        assert!(text.contains("end"));
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_fills_lines() {
        let sentence = "The quick brown fox jumps over the lazy dog. ".repeat(40);
        let document = PdfDocument::from_html("t", &sentence);
        assert!(document.lines.len() > 3);
        for line in &document.lines {
            let width: u32 = line.iter().map(|&b| win_ansi::helvetica_width(b)).sum();
            assert!(width <= MAX_LINE_UNITS);
            assert!(line.first() != Some(&b' ') && line.last() != Some(&b' '));
            // No word is cut: every line starts and ends on a word boundary.
            let text = String::from_utf8_lossy(line);
            let first_word = text.split(' ').next().unwrap_or_default();
            assert!("The quick brown fox jumps over the lazy dog.".contains(first_word));
        }
        // Greedy filling: every line but the last would overflow with the next word added.
        let units = |bytes: &[u8]| -> u32 { bytes.iter().map(|&b| win_ansi::helvetica_width(b)).sum() };
        for pair in document.lines.windows(2) {
            let next_word = pair[1].split(|&b| b == b' ').next().unwrap_or_default();
            let with_next = units(&pair[0]) + units(b" ") + units(next_word);
            assert!(with_next > MAX_LINE_UNITS, "line could have held the next word");
        }
    }

    #[test]
    fn indentation_before_a_long_word_does_not_make_a_blank_line() {
        let html = format!("<pre>    {}</pre>", "w".repeat(200));
        let document = PdfDocument::from_html("t", &html);
        assert!(document.lines.len() > 1);
        assert!(document.lines.iter().all(|line| !line.is_empty()));
        assert!(document.lines[0].starts_with(b"    w"));
    }

    #[test]
    fn malformed_html_does_not_panic() {
        assert_eq!(lines_of("<p>a < b & c<div"), ["a < b & c"]);
        assert_eq!(lines_of("<<<"), ["<<<"]);
        assert_eq!(lines_of("&#99999999;"), ["\u{FFFD}"]);
        assert_eq!(lines_of("x</>y<!-->z"), ["xyz"]);
        assert_eq!(lines_of("<a title='a > b' href=\"x>y\">link</a>"), ["link"]);
        let tricky_inputs = [
            "<p class=\"a\" x='é>'>café &#x1F600; &#xD800; &#0; &am &#x &#12a; < /p> \
             <!doctype html><? pi ?></ x><td><li></ul></pre></pre></head><head>ü<br/>",
            "<pre>\r\n\tü\t\t</pre></pre><table><td>a<td> <td>b</table>&",
            "<script>never closed </scrip",
            "<!-- unterminated comment <p>",
            "<a href='unterminated quote>text",
        ];
        // Every prefix, cut at every character boundary, must go through without panicking.
        for tricky in tricky_inputs {
            for (end, _) in tricky.char_indices().chain([(tricky.len(), ' ')]) {
                let document = PdfDocument::from_html("t", &tricky[..end]);
                load(&document.to_pdf());
            }
        }
        for html in ["<p>a < b & c<div", "<<<", "&#99999999;", "&", "<", "</", "<!", "&#x"] {
            load(&PdfDocument::from_html("t", html).to_pdf());
        }
    }

    #[test]
    fn xref_offsets_point_at_their_objects() {
        let html: String = (0..120).map(|i| format!("<p>Row {i} (é)</p>")).collect();
        let document = PdfDocument::from_html("Offsets (check)", &html);
        for pdf in [document.to_pdf(), document.page_pdf(2).expect("page 2 exists")] {
            load(&pdf);
            assert!(pdf.starts_with(b"%PDF-1.4\n%"));
            assert!(pdf.ends_with(b"%%EOF\n"));

            let startxref_at = pdf.windows(9).rposition(|window| window == b"startxref").expect("startxref present");
            let tail = String::from_utf8_lossy(&pdf[startxref_at..]).into_owned();
            let xref_offset: usize =
                tail.lines().nth(1).and_then(|line| line.trim().parse().ok()).expect("startxref offset");
            assert!(pdf[xref_offset..].starts_with(b"xref\n0 "));

            let xref = String::from_utf8_lossy(&pdf[xref_offset..]).into_owned();
            let mut xref_lines = xref.lines();
            xref_lines.next();
            let size: usize = xref_lines
                .next()
                .and_then(|line| line.split(' ').nth(1))
                .and_then(|count| count.parse().ok())
                .expect("subsection size");
            assert!(xref.contains(&format!("trailer\n<< /Size {size} ")));
            assert_eq!(xref_lines.next(), Some("0000000000 65535 f "));
            for id in 1..size {
                let entry = xref_lines.next().expect("entry for every object");
                assert_eq!(entry.len(), 19, "entries are 20 bytes with the newline");
                let offset: usize = entry[..10].parse().expect("offset digits");
                let expected = format!("{id} 0 obj");
                assert!(pdf[offset..].starts_with(expected.as_bytes()), "object {id} is not at offset {offset}");
            }
        }
    }

    #[test]
    fn stream_lengths_match_their_data() {
        let pdf = PdfDocument::from_html("t", "<p>(balanced) and ) unbalanced ( \\</p>").to_pdf();
        let document = load(&pdf);
        for (_, object) in document.objects.iter() {
            if let Ok(stream) = object.as_stream() {
                let length = stream.dict.get(b"Length").and_then(|l| l.as_i64());
                assert_eq!(length.ok(), i64::try_from(stream.content.len()).ok());
            }
        }
        let text = document.extract_text(&[1]).expect("text extracts");
        assert!(text.contains("(balanced) and ) unbalanced ( \\"), "{text:?}");
    }
}
