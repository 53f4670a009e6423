//! Terminal colours in build logs, made safe for the page: SGR codes (`ESC [ … m`) become CSS
//! classes on text spans; every other escape sequence is dropped. Text is never HTML.

/// A run of text and the classes its colour and weight give it (`ansi-red`, `ansi-bold`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub classes: String,
    pub text: String,
}

const COLOURS: [&str; 8] = [
    "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
];

#[derive(Clone, Default, PartialEq)]
struct Style {
    bold: bool,
    fg: Option<&'static str>,
}

impl Style {
    fn classes(&self) -> String {
        let mut classes = Vec::new();
        if self.bold {
            classes.push("ansi-bold".to_string());
        }
        if let Some(colour) = self.fg {
            classes.push(format!("ansi-{colour}"));
        }
        classes.join(" ")
    }

    fn apply(&mut self, params: &str) {
        let codes: Vec<u32> = if params.is_empty() {
            vec![0]
        } else {
            params.split(';').filter_map(|p| p.parse().ok()).collect()
        };
        for code in codes {
            match code {
                0 => *self = Style::default(),
                1 => self.bold = true,
                22 => self.bold = false,
                30..=37 => self.fg = Some(COLOURS[(code - 30) as usize]),
                90..=97 => self.fg = Some(COLOURS[(code - 90) as usize]),
                39 => self.fg = None,
                _ => {}
            }
        }
    }
}

/// Split `line` into styled spans.
pub fn spans(line: &str) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    let mut style = Style::default();
    let mut text = String::new();
    let mut chars = line.chars().peekable();
    let flush = |out: &mut Vec<Span>, text: &mut String, style: &Style| {
        if !text.is_empty() {
            out.push(Span {
                classes: style.classes(),
                text: std::mem::take(text),
            });
        }
    };
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            if !c.is_control() || c == '\t' {
                text.push(c);
            }
            continue;
        }
        if chars.peek() != Some(&'[') {
            continue;
        }
        chars.next();
        let mut params = String::new();
        let mut last = None;
        for c in chars.by_ref() {
            if c.is_ascii_alphabetic() {
                last = Some(c);
                break;
            }
            params.push(c);
        }
        if last == Some('m') {
            let mut next = style.clone();
            next.apply(&params);
            if next != style {
                flush(&mut out, &mut text, &style);
                style = next;
            }
        }
    }
    flush(&mut out, &mut text, &style);
    out
}

/// The line's text without escape sequences or control characters (for a saved log file).
pub fn plain(line: &str) -> String {
    spans(line).into_iter().map(|s| s.text).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(classes: &str, text: &str) -> Span {
        Span {
            classes: classes.into(),
            text: text.into(),
        }
    }

    #[test]
    fn colours_become_classes_and_other_escapes_vanish() {
        assert_eq!(
            spans("\u{1b}[91mfailed\u{1b}[0m: \u{1b}[1;32mok\u{1b}[2K<b>"),
            [
                span("ansi-red", "failed"),
                span("", ": "),
                span("ansi-bold ansi-green", "ok<b>")
            ]
        );
        assert_eq!(spans("plain\r"), [span("", "plain")]);
        assert!(spans("\u{1b}[0m").is_empty());
        assert_eq!(plain("\u{1b}[91mfailed\u{1b}[0m: ok\r"), "failed: ok");
    }
}
