//! Reads a Dockerfile the way BuildKit does: parser directives at the top, comments, blank
//! lines, line continuations with the escape character (comment and blank lines inside a
//! continuation are skipped), heredocs, exec (JSON) and shell forms, flags and stages. Every
//! instruction keeps the lines it came from. Problems are collected as [`ParseError`]s; the
//! parser never gives up, so the rules can still look at the rest.

use crate::dockerfile::KEYWORDS;

/// A parsed Dockerfile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dockerfile {
    /// The escape character: `\` unless `# escape=` says otherwise.
    pub escape: char,
    /// The `# syntax=` directive, if any.
    pub syntax: Option<String>,
    /// Every instruction in order, including the `ARG`s before the first `FROM`.
    pub instructions: Vec<Instruction>,
    pub errors: Vec<ParseError>,
}

/// Something the builder would refuse (or silently misread), with its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: u32,
    pub message: String,
}

/// One instruction as the builder sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// The 1-based line it starts on.
    pub line: u32,
    /// The last line it uses (continuations and heredoc bodies included).
    pub end_line: u32,
    /// In upper case: `RUN`, `COPY`, …
    pub keyword: String,
    /// The `--name=value` flags before the arguments, in order.
    pub flags: Vec<Flag>,
    pub args: Args,
    pub heredocs: Vec<Heredoc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    /// `None` for a bare `--link`.
    pub value: Option<String>,
}

/// The arguments after the keyword and flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Args {
    /// Exec form: a JSON array of strings.
    Exec(Vec<String>),
    /// Anything else, continuation lines joined, trimmed.
    Shell(String),
}

/// A `<<NAME` … `NAME` document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    /// The lines between the marker and the terminator, each ending in `\n` (leading tabs
    /// removed for `<<-`).
    pub body: String,
    /// `<<-NAME`: leading tabs are stripped from the body and the terminator.
    pub strip_tabs: bool,
    /// `<<"NAME"` or `<<'NAME'`: no variable expansion in the body.
    pub quoted: bool,
}

/// A word of a shell-form argument: as written, and with quotes and escapes removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    pub raw: String,
    pub text: String,
}

/// A build stage: its `FROM` and the instructions up to the next one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage<'a> {
    /// 0-based, as `COPY --from=0` counts.
    pub index: usize,
    pub from: &'a Instruction,
    /// The image (or earlier stage) as written; empty if the `FROM` has none.
    pub image: String,
    /// The `AS` name, in lower case.
    pub name: Option<String>,
    pub body: &'a [Instruction],
}

impl Instruction {
    /// The value of `--name=…`, if the flag is given.
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_deref().unwrap_or(""))
    }

    /// The shell-form text, or `""` for exec form.
    pub fn text(&self) -> &str {
        match &self.args {
            Args::Shell(s) => s,
            Args::Exec(_) => "",
        }
    }

    /// The arguments as a list: exec form as is, shell form split into words.
    pub fn list(&self, escape: char) -> Vec<String> {
        match &self.args {
            Args::Exec(items) => items.clone(),
            Args::Shell(s) => words(s, escape).into_iter().map(|w| w.text).collect(),
        }
    }
}

impl Dockerfile {
    /// The instructions before the first `FROM` (only `ARG` is allowed there).
    pub fn global_args(&self) -> &[Instruction] {
        let end = self
            .instructions
            .iter()
            .position(|i| i.keyword == "FROM")
            .unwrap_or(self.instructions.len());
        &self.instructions[..end]
    }

    pub fn stages(&self) -> Vec<Stage<'_>> {
        let starts: Vec<usize> = self
            .instructions
            .iter()
            .enumerate()
            .filter(|(_, i)| i.keyword == "FROM")
            .map(|(n, _)| n)
            .collect();
        starts
            .iter()
            .enumerate()
            .map(|(index, &start)| {
                let end = starts
                    .get(index + 1)
                    .copied()
                    .unwrap_or(self.instructions.len());
                let from = &self.instructions[start];
                let (image, name) = from_parts(from, self.escape);
                Stage {
                    index,
                    from,
                    image,
                    name,
                    body: &self.instructions[start + 1..end],
                }
            })
            .collect()
    }
}

/// The image and stage name of a `FROM`, as far as they can be read.
fn from_parts(from: &Instruction, escape: char) -> (String, Option<String>) {
    let words = from.list(escape);
    let image = words.first().cloned().unwrap_or_default();
    let name = match words.as_slice() {
        [_, as_word, name] if as_word.eq_ignore_ascii_case("as") => Some(name.to_lowercase()),
        _ => None,
    };
    (image, name)
}

fn line_number(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

/// Parse a whole Dockerfile.
pub fn parse(text: &str) -> Dockerfile {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut df = Dockerfile {
        escape: '\\',
        ..Dockerfile::default()
    };
    let mut i = read_directives(&lines, &mut df);
    while i < lines.len() {
        let start = i;
        let first = lines[i].trim_start();
        i += 1;
        if first.starts_with('#') {
            continue;
        }
        let (part, mut done) = trim_continuation(first, df.escape);
        if done && part.trim().is_empty() {
            continue;
        }
        let mut joined = String::from(part);
        let mut end = start;
        while !done && i < lines.len() {
            let raw = lines[i];
            i += 1;
            // The builder drops comment lines and blank lines inside a continuation.
            if raw.trim_start().starts_with('#') || raw.trim().is_empty() {
                continue;
            }
            end = i - 1;
            let (part, finished) = trim_continuation(raw, df.escape);
            joined.push_str(part);
            done = finished;
        }
        let mut instruction = instruction_from_line(&joined, start, &mut df);
        if let Some(ins) = instruction.as_mut() {
            ins.end_line = line_number(end);
            read_heredocs(ins, &lines, &mut i, &mut df);
        }
        df.instructions.extend(instruction);
    }
    check_stages(&mut df);
    df
}

/// The directives at the top of the file (`# escape=`, `# syntax=`, `# check=`); returns the
/// index of the first line that is not one.
fn read_directives(lines: &[&str], df: &mut Dockerfile) -> usize {
    let mut seen: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some((key, value)) = lines.get(i).and_then(|l| directive(l)) {
        if !matches!(key.as_str(), "escape" | "syntax" | "check") {
            // Unknown directives are comments, and end the directives.
            break;
        }
        if seen.contains(&key) {
            df.errors.push(ParseError {
                line: line_number(i),
                message: format!("the `# {key}=` directive is given twice; keep only one"),
            });
        }
        match key.as_str() {
            "escape" => match value.as_str() {
                "\\" => df.escape = '\\',
                "`" => df.escape = '`',
                _ => df.errors.push(ParseError {
                    line: line_number(i),
                    message: format!("`# escape={value}` is not allowed; the escape character can only be \\ or `"),
                }),
            },
            "syntax" => df.syntax = Some(value),
            _ => {}
        }
        seen.push(key);
        i += 1;
    }
    i
}

/// `#  key = value` → (`key` in lower case, `value`).
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim_start().strip_prefix('#')?;
    let (key, value) = rest.split_once('=')?;
    let key = key.trim();
    let mut chars = key.chars();
    if !chars.next()?.is_ascii_alphabetic() || !chars.all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    Some((key.to_ascii_lowercase(), value.to_string()))
}

/// Remove a trailing escape character (and whitespace after it): `(text, false)` when the
/// instruction continues on the next line.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    match trimmed.strip_suffix(escape) {
        Some(body) => (body, false),
        None => (line, true),
    }
}

/// The flags an instruction accepts, and whether each needs a value.
fn known_flags(keyword: &str) -> &'static [(&'static str, bool)] {
    match keyword {
        "FROM" => &[("platform", true)],
        "COPY" => &[
            ("from", true),
            ("chown", true),
            ("chmod", true),
            ("link", false),
            ("parents", false),
            ("exclude", true),
        ],
        "ADD" => &[
            ("chown", true),
            ("chmod", true),
            ("link", false),
            ("checksum", true),
            ("keep-git-dir", false),
            ("exclude", true),
            ("unpack", false),
        ],
        "RUN" => &[
            ("mount", true),
            ("network", true),
            ("security", true),
            ("device", true),
        ],
        "HEALTHCHECK" => &[
            ("interval", true),
            ("timeout", true),
            ("start-period", true),
            ("start-interval", true),
            ("retries", true),
        ],
        _ => &[],
    }
}

/// Turn one joined line into an instruction, or record why it is none.
fn instruction_from_line(line: &str, start: usize, df: &mut Dockerfile) -> Option<Instruction> {
    let line_no = line_number(start);
    let escape = df.escape;
    let mut error = |message: String| {
        df.errors.push(ParseError {
            line: line_no,
            message,
        })
    };
    let line = line.trim();
    let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let keyword = word.to_ascii_uppercase();
    if !KEYWORDS.contains(&keyword.as_str()) {
        error(unknown_instruction(word));
        return None;
    }
    let (flags, rest) = split_flags(rest.trim());
    let allowed = known_flags(&keyword);
    for flag in &flags {
        match allowed.iter().find(|(name, _)| *name == flag.name) {
            None if allowed.is_empty() => error(format!(
                "{keyword} takes no flags like `--{}`; remove it",
                flag.name
            )),
            None => error(format!(
                "{keyword} has no `--{}` flag; it knows {}",
                flag.name,
                allowed
                    .iter()
                    .map(|(n, _)| format!("--{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Some((_, true)) if flag.value.as_deref().unwrap_or("").is_empty() => error(format!(
                "`--{}` needs a value: --{}=…",
                flag.name, flag.name
            )),
            Some(_) => {}
        }
    }
    let rest = rest.trim();
    let args = match keyword.as_str() {
        "RUN" | "CMD" | "ENTRYPOINT" | "SHELL" => match json_strings(rest) {
            Form::Strings(items) => Args::Exec(items),
            Form::NotStrings => {
                error(format!("{keyword} in exec form must be a list of strings in double quotes, like [\"sh\", \"-c\", \"…\"]"));
                Args::Shell(rest.to_string())
            }
            Form::Malformed => {
                error(format!("this {keyword} starts with `[` but is not valid JSON, so it would run as a shell command; use double quotes and commas: [\"prog\", \"arg\"]"));
                Args::Shell(rest.to_string())
            }
            Form::Shell => Args::Shell(rest.to_string()),
        },
        "COPY" | "ADD" | "VOLUME" => match json_strings(rest) {
            Form::Strings(items) => Args::Exec(items),
            _ => Args::Shell(rest.to_string()),
        },
        _ => Args::Shell(rest.to_string()),
    };
    let empty = match &args {
        Args::Exec(items) => items.is_empty(),
        Args::Shell(s) => s.is_empty(),
    };
    match keyword.as_str() {
        "CMD" | "ENTRYPOINT" => {}
        "SHELL" if !matches!(args, Args::Exec(ref v) if !v.is_empty()) => {
            error("SHELL must be written as a JSON list, like SHELL [\"/bin/bash\", \"-c\"]".into())
        }
        _ if empty => error(format!("{keyword} needs arguments after it")),
        "COPY" | "ADD" if list_len(&args, escape) < 2 => error(format!(
            "{keyword} needs a source and a destination, like {keyword} app.sh /app/"
        )),
        "ENV" | "LABEL" => {
            if let Err(message) = key_values(rest, escape, &keyword) {
                error(message);
            }
        }
        "ARG" => {
            for w in words(rest, escape) {
                let name = w.text.split('=').next().unwrap_or("");
                if name.is_empty() {
                    error(format!("`ARG {}` has no name before `=`", w.raw));
                }
            }
        }
        "HEALTHCHECK" => {
            let first = rest.split_whitespace().next().unwrap_or("");
            if !first.eq_ignore_ascii_case("cmd") && !first.eq_ignore_ascii_case("none") {
                error("HEALTHCHECK is followed by CMD <command> or NONE".into());
            }
        }
        "ONBUILD" => {
            let inner = rest
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            if matches!(inner.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                error(format!("ONBUILD cannot trigger {inner}"));
            } else if !KEYWORDS.contains(&inner.as_str()) {
                error(unknown_instruction(&inner));
            }
        }
        _ => {}
    }
    Some(Instruction {
        line: line_no,
        end_line: line_no,
        keyword,
        flags,
        args,
        heredocs: Vec::new(),
    })
}

fn list_len(args: &Args, escape: char) -> usize {
    match args {
        Args::Exec(items) => items.len(),
        Args::Shell(s) => words(s, escape).len(),
    }
}

fn unknown_instruction(word: &str) -> String {
    let upper = word.to_ascii_uppercase();
    let closest = KEYWORDS
        .iter()
        .map(|k| (edit_distance(k, &upper), *k))
        .min()
        .filter(|(d, _)| *d <= 2);
    match closest {
        Some((_, k)) => format!("unknown instruction `{word}`; did you mean {k}?"),
        None => format!("unknown instruction `{word}`; every line starts with an instruction such as FROM, RUN or COPY"),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Leading `--name[=value]` words; a lone `--` ends them.
fn split_flags(mut rest: &str) -> (Vec<Flag>, &str) {
    let mut flags = Vec::new();
    loop {
        rest = rest.trim_start();
        let Some(after) = rest.strip_prefix("--") else {
            break;
        };
        let len = after.find(char::is_whitespace).unwrap_or(after.len());
        let word = &after[..len];
        rest = &after[len..];
        if word.is_empty() {
            break;
        }
        let (name, value) = match word.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (word, None),
        };
        flags.push(Flag {
            name: name.to_ascii_lowercase(),
            value,
        });
    }
    (flags, rest)
}

/// What the arguments of an exec-form-capable instruction are.
enum Form {
    Strings(Vec<String>),
    NotStrings,
    Malformed,
    Shell,
}

/// Exec form: arguments that start with `[` and parse as a JSON array of strings.
fn json_strings(rest: &str) -> Form {
    if !rest.starts_with('[') {
        return Form::Shell;
    }
    if let Ok(items) = serde_json::from_str::<Vec<String>>(rest) {
        return Form::Strings(items);
    }
    match serde_json::from_str::<Vec<serde_json::Value>>(rest) {
        Ok(_) => Form::NotStrings,
        // `RUN [ -f /x ] && …` is a fine shell command; only text that was meant as a list
        // (`["…` or `[a, b]`) is a mistake.
        Err(_) if rest.starts_with("[\"") || rest.starts_with("['") => Form::Malformed,
        Err(_) if rest.trim_end().ends_with(']') && rest.contains(',') => Form::Malformed,
        Err(_) => Form::Shell,
    }
}

/// Read the bodies of the heredocs a `RUN`, `COPY` or `ADD` line opens, from the lines after
/// it; `i` moves past them.
fn read_heredocs(ins: &mut Instruction, lines: &[&str], i: &mut usize, df: &mut Dockerfile) {
    if !matches!(ins.keyword.as_str(), "RUN" | "COPY" | "ADD") {
        return;
    }
    let Args::Shell(text) = &ins.args else {
        return;
    };
    if !text.contains("<<") {
        return;
    }
    let markers: Vec<(String, bool, bool)> = words(text, df.escape)
        .iter()
        .filter_map(|w| heredoc_marker(&w.raw))
        .collect();
    for (name, strip_tabs, quoted) in markers {
        let mut body = String::new();
        let mut terminated = false;
        while *i < lines.len() {
            let line = lines[*i];
            *i += 1;
            let line = if strip_tabs {
                line.trim_start_matches('\t')
            } else {
                line
            };
            if line == name {
                terminated = true;
                break;
            }
            body.push_str(line);
            body.push('\n');
        }
        if terminated {
            ins.end_line = u32::try_from(*i).unwrap_or(u32::MAX);
        } else {
            df.errors.push(ParseError {
                line: ins.line,
                message: format!("the heredoc `<<{name}` is never closed; end it with a line that says only {name}"),
            });
            ins.end_line = u32::try_from(lines.len()).unwrap_or(u32::MAX);
        }
        ins.heredocs.push(Heredoc {
            name,
            body,
            strip_tabs,
            quoted,
        });
    }
}

/// `<<EOF`, `<<-EOF`, `<<"EOF"`, `2<<EOF` → (name, strip tabs, quoted).
pub fn heredoc_marker(raw: &str) -> Option<(String, bool, bool)> {
    let rest = raw
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .strip_prefix("<<")?;
    let (strip_tabs, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let quoted = rest.contains(['"', '\'']);
    let name: String = rest.chars().filter(|c| !matches!(c, '"' | '\'')).collect();
    (!name.is_empty()).then_some((name, strip_tabs, quoted))
}

/// Split shell-form arguments into words the way the builder does for `COPY`, `ENV` and
/// friends: whitespace separates, quotes group, the escape character escapes.
pub fn words(s: &str, escape: char) -> Vec<Word> {
    let mut out = Vec::new();
    let mut word = Word {
        raw: String::new(),
        text: String::new(),
    };
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                word.raw.push(c);
            }
            Some('"') if c == escape => {
                word.raw.push(c);
                if let Some(n) = chars.next() {
                    word.raw.push(n);
                    if n != '"' && n != '$' && n != escape {
                        word.text.push(c);
                    }
                    word.text.push(n);
                }
            }
            Some(_) => {
                word.raw.push(c);
                word.text.push(c);
            }
            None if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::replace(
                        &mut word,
                        Word {
                            raw: String::new(),
                            text: String::new(),
                        },
                    ));
                    in_word = false;
                }
            }
            None => {
                in_word = true;
                word.raw.push(c);
                if c == '"' || c == '\'' {
                    quote = Some(c);
                } else if c == escape {
                    if let Some(n) = chars.next() {
                        word.raw.push(n);
                        word.text.push(n);
                    }
                } else {
                    word.text.push(c);
                }
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

/// `ENV`/`LABEL` arguments: `a=1 b="two words"`, or the old `ENV name value` form.
pub fn key_values(
    rest: &str,
    escape: char,
    keyword: &str,
) -> Result<Vec<(String, String)>, String> {
    let list = words(rest, escape);
    let Some(first) = list.first() else {
        return Ok(Vec::new());
    };
    if !first.text.contains('=') {
        return match rest.trim().split_once(char::is_whitespace) {
            Some((name, value)) => Ok(vec![(name.to_string(), value.trim().to_string())]),
            None => Err(format!(
                "`{keyword} {rest}` has no value; write {keyword} {rest}=value"
            )),
        };
    }
    list.into_iter()
        .map(|w| match w.text.split_once('=') {
            Some(("", _)) => Err(format!("`{}` has no name before `=`", w.raw)),
            Some((name, value)) => Ok((name.to_string(), value.to_string())),
            None => Err(format!(
                "`{}` has no `=`; write every pair as name=value",
                w.raw
            )),
        })
        .collect()
}

/// Stage-level structure: only `ARG` before the first `FROM`, `FROM` takes one image and an
/// optional `AS name`, and stage names are valid.
fn check_stages(df: &mut Dockerfile) {
    let mut errors = Vec::new();
    let mut seen_from = false;
    let mut reported_orphan = false;
    for ins in &df.instructions {
        if ins.keyword == "FROM" {
            seen_from = true;
            let list = ins.list(df.escape);
            match list.as_slice() {
                [_] => {}
                [_, as_word, name] if as_word.eq_ignore_ascii_case("as") => {
                    if !valid_stage_name(&name.to_lowercase()) {
                        errors.push(ParseError { line: ins.line, message: format!("`{name}` cannot name a stage: start with a letter and use only letters, digits, `-`, `_` and `.`") });
                    }
                }
                [] => {}
                _ => errors.push(ParseError {
                    line: ins.line,
                    message: "FROM takes an image and optionally AS <name>, like FROM python:3.12-slim AS build".into(),
                }),
            }
        } else if !seen_from && ins.keyword != "ARG" && !reported_orphan {
            reported_orphan = true;
            errors.push(ParseError {
                line: ins.line,
                message: format!(
                    "{} comes before any FROM; start the Dockerfile with FROM <image> (only ARG may come first)",
                    ins.keyword
                ),
            });
        }
    }
    if !seen_from && !reported_orphan {
        if let Some(first) = df.instructions.first() {
            errors.push(ParseError {
                line: first.line,
                message: "there is no FROM; add FROM <image> after the ARG lines".into(),
            });
        }
    }
    df.errors.extend(errors);
}

fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(df: &Dockerfile) -> Vec<(u32, u32, &str)> {
        df.instructions
            .iter()
            .map(|i| (i.line, i.end_line, i.keyword.as_str()))
            .collect()
    }

    fn shell(s: &str) -> Args {
        Args::Shell(s.into())
    }

    #[test]
    fn comments_blank_lines_and_continuations() {
        let df = parse(
            "# a comment\n\nFROM busybox:1.36\n  run echo one \\\n  # skipped\n\n   && echo two\nCMD [\"sh\"]\n",
        );
        assert!(df.errors.is_empty(), "{:?}", df.errors);
        assert_eq!(summary(&df), [(3, 3, "FROM"), (4, 7, "RUN"), (8, 8, "CMD")]);
        assert_eq!(df.instructions[1].args, shell("echo one    && echo two"));
        assert_eq!(df.instructions[2].args, Args::Exec(vec!["sh".into()]));
    }

    #[test]
    fn directives_only_count_at_the_top() {
        let df =
            parse("# syntax=docker/dockerfile:1\n#  ESCAPE = `\nFROM busybox\nRUN echo a `\n  b\n");
        assert_eq!(df.escape, '`');
        assert_eq!(df.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(df.instructions[1].args, shell("echo a   b"));
        assert_eq!(df.instructions[1].end_line, 5);

        // After a blank line (or any comment), `# escape=` is just a comment.
        let df = parse("\n# escape=`\nFROM busybox\nRUN echo a \\\n  b\n");
        assert_eq!(df.escape, '\\');
        assert_eq!(df.instructions.len(), 2);
        let df = parse("# hello\n# escape=`\nFROM busybox\n");
        assert_eq!(df.escape, '\\');

        let df = parse("# escape=x\nFROM busybox\n");
        assert_eq!(df.errors.len(), 1);
        assert_eq!(df.errors[0].line, 1);
        let df = parse("# escape=`\n# escape=\\\nFROM busybox\n");
        assert_eq!(df.errors[0].line, 2);
    }

    #[test]
    fn windows_paths_with_backtick_escape() {
        let df = parse("# escape=`\nFROM mcr.microsoft.com/windows/servercore\nCOPY testfile.txt c:\\\nRUN dir c:\\\n");
        assert!(df.errors.is_empty(), "{:?}", df.errors);
        assert_eq!(summary(&df).len(), 3);
        assert_eq!(df.instructions[1].list(df.escape), ["testfile.txt", "c:\\"]);
    }

    #[test]
    fn heredocs() {
        let text = "FROM busybox\nRUN <<EOF\necho one\n  echo two\nEOF\nRUN <<-\"A\" cat > /x && cat <<'B'\n\thello $NAME\n\tA\nbye\nB\nCOPY <<EOF /etc/motd\nwelcome\nEOF\nUSER 1000\n";
        let df = parse(text);
        assert!(df.errors.is_empty(), "{:?}", df.errors);
        assert_eq!(
            summary(&df),
            [
                (1, 1, "FROM"),
                (2, 5, "RUN"),
                (6, 10, "RUN"),
                (11, 13, "COPY"),
                (14, 14, "USER")
            ]
        );
        let run = &df.instructions[1];
        assert_eq!(run.heredocs.len(), 1);
        assert_eq!(run.heredocs[0].name, "EOF");
        assert_eq!(run.heredocs[0].body, "echo one\n  echo two\n");
        let two = &df.instructions[2].heredocs;
        assert_eq!(two.len(), 2);
        assert_eq!(
            (
                two[0].name.as_str(),
                two[0].strip_tabs,
                two[0].quoted,
                two[0].body.as_str()
            ),
            ("A", true, true, "hello $NAME\n")
        );
        assert_eq!(
            (two[1].name.as_str(), two[1].strip_tabs, two[1].quoted),
            ("B", false, true)
        );
        assert_eq!(two[1].body, "bye\n");
        assert_eq!(df.instructions[3].heredocs[0].body, "welcome\n");
        assert_eq!(df.instructions[3].list(df.escape), ["<<EOF", "/etc/motd"]);

        // `<<` inside quotes is no heredoc; a heredoc is only for RUN, COPY and ADD.
        let df = parse("FROM busybox\nRUN echo \"<<EOF\"\nLABEL x=\"<<EOF\"\nUSER 1\n");
        assert!(df.errors.is_empty(), "{:?}", df.errors);
        assert_eq!(df.instructions.len(), 4);
    }

    #[test]
    fn an_unterminated_heredoc_is_an_error() {
        let df = parse("FROM busybox\nRUN <<EOF\necho hi\n");
        assert_eq!(df.errors.len(), 1);
        assert_eq!(df.errors[0].line, 2);
        assert!(df.errors[0].message.contains("never closed"));
    }

    #[test]
    fn exec_and_shell_forms() {
        let df = parse("FROM busybox\nCMD [\"echo\", \"a \\\"b\\\"\"]\nENTRYPOINT echo hi\nRUN [ -f /x ] || true\nSHELL [\"/bin/sh\", \"-ec\"]\n");
        assert_eq!(
            df.instructions[1].args,
            Args::Exec(vec!["echo".into(), "a \"b\"".into()])
        );
        assert_eq!(df.instructions[2].args, shell("echo hi"));
        assert!(df.errors.is_empty(), "{:?}", df.errors);
        // `[ -f /x ]` is a shell test, not a broken list.
        assert_eq!(df.instructions[3].args, shell("[ -f /x ] || true"));
        assert!(matches!(df.instructions[4].args, Args::Exec(_)));

        let df = parse("FROM busybox\nCMD ['sh', 'app.sh']\nCMD [1, 2]\nSHELL /bin/bash -c\nCMD [sh, app.sh]\nRUN [ \"$A\" = b ]\nCMD [\"a\" \"b\"]\n");
        let lines: Vec<u32> = df.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 7], "{:?}", df.errors);
    }

    #[test]
    fn flags() {
        let df = parse("FROM --platform=linux/amd64 busybox AS b\nCOPY --from=b --chown=1:1 --link a /a\nRUN --mount=type=cache,target=/root/.cache -- echo\n");
        assert!(df.errors.is_empty(), "{:?}", df.errors);
        let copy = &df.instructions[1];
        assert_eq!(copy.flag("from"), Some("b"));
        assert_eq!(copy.flag("chown"), Some("1:1"));
        assert_eq!(copy.flag("link"), Some(""));
        assert_eq!(copy.flag("chmod"), None);
        assert_eq!(copy.args, shell("a /a"));
        assert_eq!(df.instructions[2].args, shell("echo"));
        assert_eq!(df.stages()[0].from.flag("platform"), Some("linux/amd64"));

        let df = parse("FROM busybox\nCOPY --form=b a /a\nWORKDIR --x /a\nCOPY --from= a /b\n");
        let lines: Vec<u32> = df.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4], "{:?}", df.errors);
    }

    #[test]
    fn stages_and_global_args() {
        let df = parse("ARG BASE=busybox:1.36\nFROM $BASE AS Build\nRUN true\nFROM build\nCOPY --from=build /a /a\nFROM scratch\n");
        assert!(df.errors.is_empty(), "{:?}", df.errors);
        assert_eq!(df.global_args().len(), 1);
        let stages = df.stages();
        let shape: Vec<(usize, &str, Option<&str>, usize)> = stages
            .iter()
            .map(|s| (s.index, s.image.as_str(), s.name.as_deref(), s.body.len()))
            .collect();
        assert_eq!(
            shape,
            [
                (0, "$BASE", Some("build"), 1),
                (1, "build", None, 1),
                (2, "scratch", None, 0)
            ]
        );
        assert_eq!(stages[1].from.line, 4);
    }

    #[test]
    fn structural_errors() {
        let df = parse("RUN echo\nFROM busybox AS 1st\nFROM a b\nFORM busybox\nBOGUS x\nENV A\nENV A=1 B\nCOPY a\n");
        let got: Vec<(u32, bool)> = df
            .errors
            .iter()
            .map(|e| (e.line, e.message.contains("FROM")))
            .collect();
        assert_eq!(
            got,
            [
                (4, true), // did you mean FROM?
                (5, true),
                (6, false),
                (7, false),
                (8, false),
                (1, true),
                (2, false),
                (3, true)
            ],
            "{:?}",
            df.errors
        );
        let df = parse("ARG A=1\n");
        assert_eq!(df.errors.len(), 1);
        assert!(parse("").errors.is_empty());
        assert!(parse("# only a comment\n\n").instructions.is_empty());
    }

    #[test]
    fn words_and_key_values() {
        let w: Vec<String> = words("a \"b c\" 'd $e' f\\ g \"h\\\"i\"", '\\')
            .into_iter()
            .map(|w| w.text)
            .collect();
        assert_eq!(w, ["a", "b c", "d $e", "f g", "h\"i"]);
        assert_eq!(
            key_values("A=1 B=\"two words\"", '\\', "ENV"),
            Ok(vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into())
            ])
        );
        assert_eq!(
            key_values("NAME some value", '\\', "ENV"),
            Ok(vec![("NAME".into(), "some value".into())])
        );
        assert!(key_values("=1", '\\', "ENV").is_err());
        assert_eq!(heredoc_marker("<<-'X'"), Some(("X".into(), true, true)));
        assert_eq!(heredoc_marker("2<<EOF"), Some(("EOF".into(), false, false)));
        assert_eq!(heredoc_marker("<<"), None);
        assert_eq!(heredoc_marker("a<<EOF"), None);
    }

    #[test]
    fn crlf_and_bom() {
        let df = parse("\u{feff}FROM busybox\r\nRUN echo a \\\r\n b\r\n");
        assert!(df.errors.is_empty(), "{:?}", df.errors);
        assert_eq!(summary(&df), [(1, 1, "FROM"), (2, 3, "RUN")]);
        assert_eq!(df.instructions[1].args, shell("echo a  b"));
    }
}
