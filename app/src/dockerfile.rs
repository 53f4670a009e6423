//! A small Dockerfile scanner shared by the server and the editor. It finds where each
//! instruction starts (so a failing `Step 3/7` can be shown on its line) and splits lines into
//! tokens for highlighting. It never judges an exercise: checks look at the built image.

/// One instruction as written: the line it starts on (1-based), its keyword in upper case,
/// and its arguments with continuation lines joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    pub line: u32,
    pub keyword: String,
    pub args: String,
}

/// The instructions of a Dockerfile in order, the way the classic builder numbers its steps:
/// comments, blank lines and parser directives are skipped; `\` joins lines.
pub fn instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current: Option<Instruction> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if current.is_none() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        if current.is_some() && line.starts_with('#') {
            // Comments inside a continued instruction are dropped by the builder too.
            continue;
        }
        let (body, continues) = match line.strip_suffix('\\') {
            Some(body) => (body.trim_end(), true),
            None => (line, false),
        };
        match current.as_mut() {
            Some(instruction) => {
                if !body.is_empty() {
                    if !instruction.args.is_empty() {
                        instruction.args.push(' ');
                    }
                    instruction.args.push_str(body);
                }
            }
            None => {
                let (keyword, args) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
                current = Some(Instruction {
                    line: number,
                    keyword: keyword.to_ascii_uppercase(),
                    args: args.trim().to_string(),
                });
            }
        }
        if !continues {
            out.extend(current.take());
        }
    }
    out.extend(current);
    out
}

/// A base image named by a `FROM`, with the line it is on. Names of earlier stages and
/// references built from `ARG`s are left out: only the engine can resolve those.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseImage {
    pub line: u32,
    pub reference: String,
}

pub fn base_images(text: &str) -> Vec<BaseImage> {
    let mut stages: Vec<String> = Vec::new();
    let mut bases = Vec::new();
    for instruction in instructions(text) {
        if instruction.keyword != "FROM" {
            continue;
        }
        let words: Vec<&str> = instruction
            .args
            .split_whitespace()
            .filter(|w| !w.starts_with("--"))
            .collect();
        let Some(reference) = words.first() else {
            continue;
        };
        if let [_, as_word, name] = words.as_slice() {
            if as_word.eq_ignore_ascii_case("as") {
                stages.push(name.to_ascii_lowercase());
            }
        }
        let lower = reference.to_ascii_lowercase();
        if reference.contains('$') || lower == "scratch" || stages[..].contains(&lower) {
            continue;
        }
        bases.push(BaseImage {
            line: instruction.line,
            reference: normalize_reference(reference),
        });
    }
    bases
}

/// `busybox` → `busybox:latest`; references with a tag or digest are kept as written.
pub fn normalize_reference(reference: &str) -> String {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    if last.contains(':') || reference.contains('@') {
        reference.to_string()
    } else {
        format!("{reference}:latest")
    }
}

/// What a piece of a line is, for colouring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Keyword,
    Comment,
    String,
    Variable,
    Flag,
    Plain,
}

impl TokenKind {
    /// The CSS class the editor gives this kind of token.
    pub fn class(self) -> &'static str {
        match self {
            TokenKind::Keyword => "tok-kw",
            TokenKind::Comment => "tok-comment",
            TokenKind::String => "tok-str",
            TokenKind::Variable => "tok-var",
            TokenKind::Flag => "tok-flag",
            TokenKind::Plain => "tok",
        }
    }
}

/// Keywords the classic builder knows; anything else at the start of a line is plain text
/// (the build's own error will name it).
pub const KEYWORDS: &[&str] = &[
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
];

/// Split every line of `text` into tokens. `continued` lines (after a trailing `\`) get no
/// keyword. Joining a line's tokens gives the line back exactly.
pub fn highlight(text: &str) -> Vec<Vec<(TokenKind, String)>> {
    let mut continued = false;
    text.split('\n')
        .map(|line| {
            let tokens = highlight_line(line, continued);
            let trimmed = line.trim();
            // A comment keeps whatever continuation was running; other lines set it.
            if !trimmed.starts_with('#') {
                continued = trimmed.ends_with('\\');
            }
            tokens
        })
        .collect()
}

fn highlight_line(line: &str, continued: bool) -> Vec<(TokenKind, String)> {
    let mut tokens: Vec<(TokenKind, String)> = Vec::new();
    let push = |tokens: &mut Vec<(TokenKind, String)>, kind: TokenKind, s: &str| {
        if s.is_empty() {
            return;
        }
        match tokens.last_mut() {
            Some((k, text)) if *k == kind => text.push_str(s),
            _ => tokens.push((kind, s.to_string())),
        }
    };
    let indent_len = line.len() - line.trim_start().len();
    push(&mut tokens, TokenKind::Plain, &line[..indent_len]);
    let mut rest = &line[indent_len..];
    if rest.starts_with('#') {
        push(&mut tokens, TokenKind::Comment, rest);
        return tokens;
    }
    if !continued {
        let word_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..word_len];
        if KEYWORDS.contains(&word.to_ascii_uppercase().as_str()) {
            push(&mut tokens, TokenKind::Keyword, word);
            rest = &rest[word_len..];
        }
    }
    let mut chars = rest.char_indices().peekable();
    let mut plain_start = 0;
    while let Some((i, c)) = chars.next() {
        let at_word_start = i == 0 || rest[..i].ends_with(char::is_whitespace);
        let end = match c {
            '"' | '\'' => {
                let close = rest[i + 1..].find(c).map(|j| i + 1 + j + 1);
                Some((TokenKind::String, close.unwrap_or(rest.len())))
            }
            '$' => {
                let after = &rest[i + 1..];
                let len = if after.starts_with('{') {
                    after.find('}').map(|j| j + 1).unwrap_or(after.len())
                } else {
                    after
                        .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                        .unwrap_or(after.len())
                };
                (len > 0).then_some((TokenKind::Variable, i + 1 + len))
            }
            '-' if at_word_start && rest[i..].starts_with("--") => {
                let len = rest[i..]
                    .find(|ch: char| ch == '=' || ch.is_whitespace())
                    .unwrap_or(rest.len() - i);
                Some((TokenKind::Flag, i + len))
            }
            _ => None,
        };
        if let Some((kind, end)) = end {
            push(&mut tokens, TokenKind::Plain, &rest[plain_start..i]);
            push(&mut tokens, kind, &rest[i..end]);
            plain_start = end;
            while chars.peek().is_some_and(|(j, _)| *j < end) {
                chars.next();
            }
        }
    }
    push(&mut tokens, TokenKind::Plain, &rest[plain_start..]);
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    const MULTI: &str = "# syntax=docker/dockerfile:1\n\
        FROM busybox AS build\n\
        RUN echo one \\\n\
          # a comment inside\n\
          && echo two\n\
        \n\
        FROM build\n\
        FROM --platform=linux/amd64 busybox:1.36 as final\n\
        COPY --from=build /x /y\n\
        FROM $BASE\n";

    #[test]
    fn instructions_carry_their_first_line_and_joined_arguments() {
        let found = instructions(MULTI);
        let lines: Vec<(u32, &str)> = found.iter().map(|i| (i.line, i.keyword.as_str())).collect();
        assert_eq!(
            lines,
            [
                (2, "FROM"),
                (3, "RUN"),
                (7, "FROM"),
                (8, "FROM"),
                (9, "COPY"),
                (10, "FROM")
            ]
        );
        assert_eq!(found[1].args, "echo one && echo two");
    }

    #[test]
    fn base_images_skip_stage_names_and_arguments() {
        let bases = base_images(MULTI);
        assert_eq!(
            bases,
            [
                BaseImage {
                    line: 2,
                    reference: "busybox:latest".into()
                },
                BaseImage {
                    line: 8,
                    reference: "busybox:1.36".into()
                }
            ]
        );
        assert_eq!(
            normalize_reference("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(normalize_reference("a/b:1"), "a/b:1");
    }

    #[test]
    fn highlighting_round_trips_and_marks_each_kind() {
        let text = "FROM busybox\nRUN echo \"hi $NAME\" \\\n  run --flag=${X}\n# note\ncopy a b";
        let lines = highlight(text);
        let joined: Vec<String> = lines
            .iter()
            .map(|l| l.iter().map(|(_, s)| s.as_str()).collect())
            .collect();
        assert_eq!(joined.join("\n"), text);
        assert_eq!(lines[0][0], (TokenKind::Keyword, "FROM".into()));
        assert!(lines[1].contains(&(TokenKind::String, "\"hi $NAME\"".into())));
        // A continuation line never starts with a keyword, even if it looks like one.
        assert!(!lines[2].iter().any(|(k, _)| *k == TokenKind::Keyword));
        assert!(lines[2].contains(&(TokenKind::Flag, "--flag".into())));
        assert!(lines[2].contains(&(TokenKind::Variable, "${X}".into())));
        assert_eq!(lines[3], [(TokenKind::Comment, "# note".into())]);
        assert_eq!(lines[4][0], (TokenKind::Keyword, "copy".into()));
    }
}
