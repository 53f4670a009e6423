//! What a command printed to its terminal, as the page shows it: the bytes of a pseudo-terminal
//! (text, carriage returns and new lines, the colours and cursor moves the docker CLI and
//! other programs send) become rows of styled text. A progress line that redraws itself (a
//! pull's layers, `\r` and cursor-up) changes its rows in place instead of piling up copies.
//! Only what is needed to read a command's output is understood; the rest of the escape
//! sequences (modes, titles, the alternate screen) are dropped.

use app::dto::ConsoleRow as Row;
use std::collections::{BTreeSet, VecDeque};

/// Rows kept of one command's output; older rows are dropped from the top.
pub const MAX_ROWS: usize = 1000;
/// Characters kept of one row (a terminal would wrap; the page wraps long rows itself).
const MAX_COLUMNS: usize = 2000;
/// The most parameters an escape sequence may carry before it is dropped as garbage.
const MAX_SEQUENCE: usize = 64;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Style {
    fg: Option<u8>,
    bg: Option<u8>,
    bold: bool,
    dim: bool,
    italic: bool,
    underline: bool,
    inverse: bool,
}

impl Style {
    /// The CSS classes of this style (`style/` defines them; `app::ansi` uses the same).
    fn classes(&self) -> String {
        const COLOURS: [&str; 8] = [
            "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
        ];
        let mut classes: Vec<String> = Vec::new();
        let (fg, bg) = if self.inverse {
            (Some(self.bg.unwrap_or(0)), Some(self.fg.unwrap_or(7)))
        } else {
            (self.fg, self.bg)
        };
        if self.bold {
            classes.push("ansi-bold".into());
        }
        if let Some(fg) = fg {
            classes.push(format!("ansi-{}", COLOURS[usize::from(fg % 8)]));
            if fg >= 8 {
                classes.push("ansi-bright".into());
            }
        }
        if let Some(bg) = bg {
            classes.push(format!("ansi-bg-{}", COLOURS[usize::from(bg % 8)]));
        }
        for (on, class) in [
            (self.dim, "ansi-dim"),
            (self.italic, "ansi-italic"),
            (self.underline, "ansi-underline"),
        ] {
            if on {
                classes.push(class.into());
            }
        }
        classes.join(" ")
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Cell {
    ch: char,
    style: Style,
}

const BLANK: Cell = Cell {
    ch: ' ',
    style: Style {
        fg: None,
        bg: None,
        bold: false,
        dim: false,
        italic: false,
        underline: false,
        inverse: false,
    },
};

/// Where the parser is between two bytes.
#[derive(Debug, Default)]
enum Parse {
    #[default]
    Text,
    /// After ESC.
    Escape,
    /// Inside `ESC [`: the parameters so far.
    Csi(String),
    /// Inside `ESC ]` (a title, a link): dropped up to BEL or `ESC \`.
    Osc { escaped: bool },
    /// After `ESC (` and the like: one more byte to drop.
    Charset,
}

/// One command's output as rows of styled cells, with the rows changed since last asked.
#[derive(Debug, Default)]
pub struct Screen {
    rows: VecDeque<Vec<Cell>>,
    /// The number of the first kept row (rows dropped from the top are counted here).
    first: u64,
    row: usize,
    column: usize,
    style: Style,
    parse: Parse,
    /// The start of a UTF-8 character split between two reads.
    partial: Vec<u8>,
    dirty: BTreeSet<u64>,
    /// The terminal's height, for cursor positions counted from its top.
    pub height: usize,
}

impl Screen {
    pub fn new(height: usize) -> Self {
        Screen {
            height: height.max(1),
            ..Default::default()
        }
    }

    /// Take in what the program wrote.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        let taken = std::mem::take(&mut self.partial);
        let mut rest: &[u8] = &taken;
        while !rest.is_empty() {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    self.feed_text(text);
                    rest = &[];
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    // (`valid` is the prefix from_utf8 vouched for.)
                    self.feed_text(std::str::from_utf8(valid).unwrap_or_default());
                    match e.error_len() {
                        Some(bad) => {
                            self.feed_text("\u{fffd}");
                            rest = &after[bad..];
                        }
                        None => {
                            // An unfinished character: wait for the rest of it.
                            self.partial = after.to_vec();
                            rest = &[];
                        }
                    }
                }
            }
        }
    }

    fn feed_text(&mut self, text: &str) {
        for ch in text.chars() {
            self.take(ch);
        }
    }

    fn take(&mut self, ch: char) {
        match std::mem::take(&mut self.parse) {
            Parse::Text => match ch {
                '\u{1b}' => self.parse = Parse::Escape,
                '\r' => self.column = 0,
                '\n' => self.down(1),
                '\u{8}' => self.column = self.column.saturating_sub(1),
                '\t' => self.column = (self.column / 8 + 1) * 8,
                c if c.is_control() => {}
                c => self.put(c),
            },
            Parse::Escape => match ch {
                '[' => self.parse = Parse::Csi(String::new()),
                ']' => self.parse = Parse::Osc { escaped: false },
                '(' | ')' | '*' | '+' | '#' | '%' => self.parse = Parse::Charset,
                _ => {}
            },
            Parse::Charset => {}
            Parse::Osc { escaped } => {
                if ch == '\u{7}' || (escaped && ch == '\\') {
                    return;
                }
                self.parse = Parse::Osc {
                    escaped: ch == '\u{1b}',
                };
            }
            Parse::Csi(mut params) => {
                if ('\u{40}'..='\u{7e}').contains(&ch) {
                    self.csi(&params, ch);
                } else if params.len() < MAX_SEQUENCE {
                    params.push(ch);
                    self.parse = Parse::Csi(params);
                }
            }
        }
    }

    fn put(&mut self, ch: char) {
        if self.column >= MAX_COLUMNS {
            return;
        }
        let (style, column) = (self.style, self.column);
        let row = self.row_mut();
        if row.len() <= column {
            row.resize(column, BLANK);
            row.push(Cell { ch, style });
        } else {
            row[column] = Cell { ch, style };
        }
        self.column += 1;
    }

    fn row_mut(&mut self) -> &mut Vec<Cell> {
        if self.row >= MAX_ROWS {
            // Past the kept rows: the oldest go.
            let drop = self.row - MAX_ROWS + 1;
            let popped = drop.min(self.rows.len());
            self.rows.drain(..popped);
            self.first += drop as u64;
            self.row -= drop;
        }
        while self.rows.len() <= self.row {
            self.rows.push_back(Vec::new());
        }
        self.dirty.insert(self.first + self.row as u64);
        &mut self.rows[self.row]
    }

    fn down(&mut self, by: usize) {
        // (A new row exists once something is written on it.)
        self.row = self.row.saturating_add(by).min(MAX_ROWS * 4);
        self.column = 0;
    }

    fn csi(&mut self, params: &str, command: char) {
        // Private modes (`?25l`, bracketed paste) change nothing shown.
        if params.starts_with(['?', '>', '=', '<']) {
            return;
        }
        let numbers: Vec<usize> = params.split(';').map(|p| p.parse().unwrap_or(0)).collect();
        let first = |default: usize| match numbers.first() {
            Some(0) | None => default,
            Some(&n) => n,
        };
        match command {
            'm' => self.sgr(&numbers),
            'A' => self.row = self.row.saturating_sub(first(1)),
            'B' | 'E' => {
                let by = first(1);
                let column = self.column;
                self.down(by);
                if command == 'B' {
                    self.column = column;
                }
            }
            'F' => {
                self.row = self.row.saturating_sub(first(1));
                self.column = 0;
            }
            'C' => self.column = self.column.saturating_add(first(1)).min(MAX_COLUMNS),
            'D' => self.column = self.column.saturating_sub(first(1)),
            'G' => self.column = (first(1) - 1).min(MAX_COLUMNS),
            'H' | 'f' => {
                // Counted from the top of the terminal: the last `height` rows.
                let top = self.rows.len().saturating_sub(self.height);
                let row = numbers.first().copied().unwrap_or(1).max(1) - 1;
                let column = numbers.get(1).copied().unwrap_or(1).max(1) - 1;
                self.row = top.saturating_add(row).min(MAX_ROWS - 1);
                self.column = column.min(MAX_COLUMNS);
            }
            'K' => {
                let column = self.column;
                let row = self.row_mut();
                match numbers.first().copied().unwrap_or(0) {
                    0 => row.truncate(column),
                    1 => {
                        for cell in row.iter_mut().take(column + 1) {
                            *cell = BLANK;
                        }
                    }
                    _ => row.clear(),
                }
            }
            'J' => {
                let mode = numbers.first().copied().unwrap_or(0);
                let from = if mode == 0 { self.row } else { 0 };
                for index in from..self.rows.len() {
                    if mode == 0 && index == self.row {
                        let column = self.column;
                        self.rows[index].truncate(column);
                    } else if mode != 1 || index <= self.row {
                        self.rows[index].clear();
                    }
                    self.dirty.insert(self.first + index as u64);
                }
            }
            _ => {}
        }
    }

    /// Select Graphic Rendition: colours and weights.
    fn sgr(&mut self, numbers: &[usize]) {
        let mut i = 0;
        while i < numbers.len() {
            match numbers[i] {
                0 => self.style = Style::default(),
                1 => self.style.bold = true,
                2 => self.style.dim = true,
                3 => self.style.italic = true,
                4 => self.style.underline = true,
                7 => self.style.inverse = true,
                22 => (self.style.bold, self.style.dim) = (false, false),
                23 => self.style.italic = false,
                24 => self.style.underline = false,
                27 => self.style.inverse = false,
                n @ 30..=37 => self.style.fg = Some((n - 30) as u8),
                39 => self.style.fg = None,
                n @ 40..=47 => self.style.bg = Some((n - 40) as u8),
                49 => self.style.bg = None,
                n @ 90..=97 => self.style.fg = Some((n - 90 + 8) as u8),
                n @ 100..=107 => self.style.bg = Some((n - 100 + 8) as u8),
                n @ (38 | 48) => {
                    let (colour, used) = extended_colour(&numbers[i + 1..]);
                    if n == 38 {
                        self.style.fg = colour;
                    } else {
                        self.style.bg = colour;
                    }
                    i += used;
                }
                _ => {}
            }
            i += 1;
        }
    }

    /// The rows changed since last asked, by number.
    pub fn take_changed(&mut self) -> Vec<(u64, Row)> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty
            .into_iter()
            .filter(|n| *n >= self.first)
            .filter_map(|n| {
                let row = self.rows.get((n - self.first) as usize)?;
                Some((n, spans(row)))
            })
            .collect()
    }

    /// Every kept row, by number.
    pub fn all_rows(&self) -> Vec<(u64, Row)> {
        self.rows
            .iter()
            .enumerate()
            .map(|(i, row)| (self.first + i as u64, spans(row)))
            .collect()
    }

    /// Every kept row as plain text (for tests and the transcript).
    pub fn text(&self) -> String {
        let mut text = String::new();
        for row in &self.rows {
            let line: String = row.iter().map(|c| c.ch).collect();
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }

    /// How many rows are kept.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// `38;5;n` or `38;2;r;g;b` (after the 38): one of the 16 colours the page has, and how many
/// numbers it used.
fn extended_colour(rest: &[usize]) -> (Option<u8>, usize) {
    match rest {
        [5, n, ..] => (Some(nearest_of_256(*n)), 2),
        [2, r, g, b, ..] => (Some(nearest_rgb(*r, *g, *b)), 4),
        _ => (None, rest.len()),
    }
}

fn nearest_of_256(n: usize) -> u8 {
    match n {
        0..=15 => n as u8,
        16..=231 => {
            let n = n - 16;
            let level = |v: usize| if v == 0 { 0 } else { 55 + v * 40 };
            nearest_rgb(level(n / 36), level(n / 6 % 6), level(n % 6))
        }
        _ => {
            let grey = 8 + (n.min(255) - 232) * 10;
            nearest_rgb(grey, grey, grey)
        }
    }
}

fn nearest_rgb(r: usize, g: usize, b: usize) -> u8 {
    const BASIC: [(usize, usize, usize); 16] = [
        (0, 0, 0),
        (205, 0, 0),
        (0, 205, 0),
        (205, 205, 0),
        (0, 0, 238),
        (205, 0, 205),
        (0, 205, 205),
        (229, 229, 229),
        (127, 127, 127),
        (255, 0, 0),
        (0, 255, 0),
        (255, 255, 0),
        (92, 92, 255),
        (255, 0, 255),
        (0, 255, 255),
        (255, 255, 255),
    ];
    let distance = |(br, bg, bb): (usize, usize, usize)| {
        br.abs_diff(r).pow(2) + bg.abs_diff(g).pow(2) + bb.abs_diff(b).pow(2)
    };
    (0..16u8)
        .min_by_key(|i| distance(BASIC[*i as usize]))
        .unwrap_or(7)
}

/// One row as the page draws it: runs of one style, each its classes and its text.
fn spans(row: &[Cell]) -> Row {
    let mut out = Vec::new();
    let end = row
        .iter()
        .rposition(|c| c.ch != ' ' || c.style.bg.is_some() || c.style.inverse)
        .map_or(0, |i| i + 1);
    let mut start = 0;
    while start < end {
        // Past MAX_SPANS runs, the rest of the row is plain text: a row that changes colour
        // at every character would otherwise weigh far more than its text.
        let last = out.len() + 1 >= MAX_SPANS;
        let style = if last {
            Style::default()
        } else {
            row[start].style
        };
        let stop = if last {
            end
        } else {
            (start..end).find(|i| row[*i].style != style).unwrap_or(end)
        };
        out.push((
            style.classes(),
            row[start..stop].iter().map(|c| c.ch).collect(),
        ));
        start = stop;
    }
    out
}

/// The most runs of one style a row is sent as.
const MAX_SPANS: usize = 64;

/// About how many bytes rows weigh as JSON.
pub fn weight(rows: &[(u64, Row)]) -> usize {
    rows.iter()
        .map(|(_, spans)| {
            16 + spans
                .iter()
                .map(|(classes, text)| 8 + classes.len() + text.len())
                .sum::<usize>()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(bytes: &[u8]) -> Screen {
        let mut screen = Screen::new(24);
        screen.feed(bytes);
        screen
    }

    #[test]
    fn lines_and_carriage_returns_make_rows_as_a_terminal_shows_them() {
        let s = screen(b"one\r\ntwo\r\n50%\r100%\r\n");
        assert_eq!(s.text(), "one\ntwo\n100%\n");
    }

    #[test]
    fn a_progress_display_redraws_its_rows_in_place() {
        // As `docker pull` does on a terminal: one row per layer, cursor up, rewrite.
        let mut s = screen(b"a: Waiting\r\nb: Waiting\r\n");
        s.take_changed();
        s.feed(b"\x1b[2A\x1b[2Ka: Pull complete\r\n\x1b[2Kb: Downloading\r\n");
        assert_eq!(s.text(), "a: Pull complete\nb: Downloading\n");
        let changed: Vec<u64> = s.take_changed().into_iter().map(|(n, _)| n).collect();
        assert_eq!(changed, vec![0, 1]);
    }

    #[test]
    fn colours_become_classes() {
        let span = |c: &str, t: &str| (c.to_string(), t.to_string());
        let s = screen(b"\x1b[1;31mred <b>\x1b[0m & plain\r\n");
        assert_eq!(
            s.all_rows(),
            vec![(
                0,
                vec![span("ansi-bold ansi-red", "red <b>"), span("", " & plain")]
            )]
        );
        let s = screen(b"\x1b[38;5;196mx\x1b[38;2;0;0;0;48;5;15my\x1b[7mz");
        assert_eq!(
            s.all_rows()[0].1,
            vec![
                span("ansi-red ansi-bright", "x"),
                span("ansi-black ansi-bg-white", "y"),
                span("ansi-white ansi-bright ansi-bg-black", "z"),
            ]
        );
    }

    #[test]
    fn characters_split_between_reads_and_broken_bytes_are_kept_readable() {
        let mut s = Screen::new(24);
        let text = "größe ✓".as_bytes();
        s.feed(&text[..3]);
        s.feed(&text[3..]);
        s.feed(b" \xff!");
        assert_eq!(s.text(), "größe ✓ \u{fffd}!\n");
    }

    #[test]
    fn titles_modes_and_unknown_sequences_show_nothing() {
        let s = screen(b"\x1b]0;a title\x07\x1b[?25lA\x1b(B\x1b[?2004hB\x1b]8;;http://x\x1b\\C");
        assert_eq!(s.text(), "ABC\n");
    }

    #[test]
    fn output_past_the_kept_rows_drops_the_oldest() {
        let mut s = Screen::new(24);
        for i in 0..(MAX_ROWS + 10) {
            s.feed(format!("row {i}\r\n").as_bytes());
        }
        assert_eq!(s.len(), MAX_ROWS);
        let rows = s.all_rows();
        assert_eq!(rows[0], (10, vec![(String::new(), "row 10".to_string())]));
        // An endless row and an endless escape sequence stay bounded too.
        let mut s = Screen::new(24);
        s.feed(&vec![b'x'; MAX_COLUMNS * 3]);
        s.feed(b"\x1b[");
        s.feed(&vec![b'1'; 10_000]);
        s.feed(b"mz");
        assert_eq!(s.text().trim_end().len(), MAX_COLUMNS);
    }

    #[test]
    fn a_row_of_many_colours_is_sent_as_a_few_runs() {
        let mut s = Screen::new(24);
        for i in 0..MAX_COLUMNS {
            s.feed(format!("\x1b[3{}mx", i % 2 + 1).as_bytes());
        }
        let rows = s.all_rows();
        assert_eq!(rows[0].1.len(), MAX_SPANS);
        assert_eq!(rows[0].1.last().map(|(c, _)| c.as_str()), Some(""));
        let text: usize = rows[0].1.iter().map(|(_, t)| t.chars().count()).sum();
        assert_eq!(text, MAX_COLUMNS);
        assert!(weight(&rows) < 3 * MAX_COLUMNS, "{}", weight(&rows));
    }

    #[test]
    fn huge_cursor_moves_stay_within_the_kept_rows() {
        let mut s = Screen::new(24);
        for sequence in [
            "\x1b[18446744073709551615C",
            "\x1b[99999999999999999999999;99999999999999H",
            "\x1b[18446744073709551615B",
            "\x1b[65535;65535H",
            "\x1b[18446744073709551615G",
            "\x1b[18446744073709551615A",
        ] {
            s.feed(sequence.as_bytes());
            s.feed(b"x");
        }
        assert!(s.len() <= MAX_ROWS);
    }

    #[test]
    fn erasing_and_moving_the_cursor_work_on_the_rows_shown() {
        let s = screen(b"hello world\r\x1b[6C\x1b[Kthere\r\nab\x08c\tX\r\n");
        assert_eq!(s.text(), "hello there\nac      X\n");
        // 1;1 is the terminal's top-left: the first row while fewer rows than its height exist.
        let s = screen(b"one\r\ntwo\r\n\x1b[1;1HTWO\x1b[2;1H\x1b[2KX");
        assert_eq!(s.text(), "TWO\nX\n");
    }
}
