//! The Dockerfile as the engine's classic builder (Docker 20.10) reads it, for the policy.
//! The editor's parser (`app::lint::parse`) reads like BuildKit, for learners; the policy
//! must see exactly the instructions this engine will act on, so it follows the classic
//! parser instead: only `# escape=` and `# syntax=` directives at the very top, comments and
//! blank lines dropped inside continuations, no heredocs (a heredoc's body lines are
//! instructions to this engine), flags split off every instruction, `ONBUILD` holding one
//! instruction of its own. Keywords are matched in any case, as the engine does.

/// One instruction as the engine sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// 1-based line it starts on.
    pub line: u32,
    /// In lower case: `from`, `copy`, …
    pub keyword: String,
    /// Flag words as the engine splits them, quotes and escapes removed: `--from=x`.
    pub flags: Vec<String>,
    /// The arguments after the flags, trimmed.
    pub rest: String,
    /// For `ONBUILD`: the instruction it holds.
    pub inner: Option<Box<Node>>,
    /// For `ONBUILD`: the text the engine stores as the trigger.
    pub trigger: String,
}

/// A parsed Dockerfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub escape: char,
    pub nodes: Vec<Node>,
}

/// Parse a Dockerfile (or one `ONBUILD` trigger) the way the engine does.
pub fn parse(text: &str) -> Parsed {
    let mut lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    if text.ends_with('\n') {
        lines.pop();
    }
    if let Some(first) = lines.first_mut() {
        *first = first.strip_prefix('\u{feff}').unwrap_or(first);
    }
    let mut escape = '\\';
    let mut directives_done = false;
    let mut seen_escape = false;
    let mut nodes = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i];
        i += 1;
        let token = raw.trim_start();
        if !directives_done {
            match directive(token) {
                Some((key, value)) if key == "escape" && !seen_escape => {
                    seen_escape = true;
                    match value.as_str() {
                        "`" => escape = '`',
                        "\\" => escape = '\\',
                        // The engine refuses the whole file; judging it with `\` is harmless.
                        _ => {}
                    }
                }
                Some((key, _)) if key == "escape" || key == "syntax" => {}
                _ => directives_done = true,
            }
        }
        let start = i;
        let processed = strip_comment(token);
        let (mut line, mut done) = trim_continuation(processed, escape);
        if done && line.is_empty() {
            continue;
        }
        let mut joined = line.to_string();
        while !done && i < lines.len() {
            let raw = lines[i];
            i += 1;
            if raw.trim_start().starts_with('#') {
                continue;
            }
            let processed = strip_comment(raw);
            if processed.trim_start().is_empty() {
                continue;
            }
            (line, done) = trim_continuation(processed, escape);
            joined.push_str(line);
        }
        if let Some(node) = node_from_line(&joined, u32::try_from(start).unwrap_or(u32::MAX)) {
            nodes.push(node);
        }
    }
    Parsed { escape, nodes }
}

/// `docker build --target NAME`: the Dockerfile up to the end of the stage called `NAME`
/// (its `FROM … AS NAME`, in any case, as the engine matches it), the later stages cut off.
/// The classic builder builds every stage up to the target and nothing after it, so the
/// image is the same; what is built and labelled last is then that stage, and the policy
/// reads only what is built. The engine's words when no stage is called so.
pub fn up_to_stage(text: &str, target: &str) -> Result<String, String> {
    let parsed = parse(text);
    let froms: Vec<&Node> = parsed
        .nodes
        .iter()
        .filter(|n| n.keyword == "from")
        .collect();
    let named = |node: &Node| match fields(&node.rest).as_slice() {
        [_, as_word, name] if as_word.eq_ignore_ascii_case("as") => {
            name.eq_ignore_ascii_case(target)
        }
        _ => false,
    };
    let Some(at) = froms.iter().position(|n| named(n)) else {
        return Err(format!(
            "failed to reach build target {target} in Dockerfile"
        ));
    };
    let Some(next) = froms.get(at + 1) else {
        return Ok(text.to_string());
    };
    // Every line before the next stage's FROM (line numbers count from 1).
    let keep = usize::try_from(next.line)
        .unwrap_or(usize::MAX)
        .saturating_sub(1);
    let mut kept: String = text.split_inclusive('\n').take(keep).collect();
    if !kept.ends_with('\n') {
        kept.push('\n');
    }
    Ok(kept)
}

/// `#  key = value` at the top of the file → (`key` in lower case, `value`).
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('#')?;
    let rest = rest.trim_start_matches(is_re_space);
    let key_len = rest
        .char_indices()
        .find(|(n, c)| !(c.is_ascii_alphabetic() || (*n > 0 && c.is_ascii_digit())))
        .map_or(rest.len(), |(n, _)| n);
    if key_len == 0 {
        return None;
    }
    let (key, after) = rest.split_at(key_len);
    let after = after.trim_start_matches(is_re_space).strip_prefix('=')?;
    let value = after.trim_matches(is_re_space);
    if value.is_empty() {
        return None;
    }
    Some((key.to_ascii_lowercase(), value.to_string()))
}

/// Go's `\s`: tab, newline, form feed, carriage return, space.
fn is_re_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// The engine's `[\t\v\f\r ]`.
fn is_field_space(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// A line that starts with `#` (after the indentation already removed) is a comment.
fn strip_comment(line: &str) -> &str {
    if line.starts_with('#') {
        ""
    } else {
        line
    }
}

/// The escape character and any spaces or tabs after it at the end: the line continues.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    match trimmed.strip_suffix(escape) {
        Some(body) => (body, false),
        None => (line, true),
    }
}

fn node_from_line(line: &str, number: u32) -> Option<Node> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let (word, args) = match line.find(is_field_space) {
        Some(at) => (&line[..at], line[at..].trim_start_matches(is_field_space)),
        None => (line, ""),
    };
    let keyword = word.to_lowercase();
    let (rest, flags) = extract_flags(args);
    let rest = rest.trim().to_string();
    let mut node = Node {
        line: number,
        keyword,
        flags,
        rest,
        inner: None,
        trigger: String::new(),
    };
    if node.keyword == "onbuild" {
        // What the engine stores: the joined line without its `ONBUILD` keyword.
        node.trigger = line[word.len()..].trim_start().to_string();
        node.inner = node_from_line(&node.rest, number).map(Box::new);
    }
    Some(node)
}

/// Leading `--flag` words, as the engine splits them (quotes group, `\` escapes, a lone
/// `--` ends them), and the rest of the line. The engine walks this text byte by byte and
/// takes each byte as a Latin-1 character (so the bytes 0x85 and 0xA0 inside a UTF-8
/// character count as spaces); so does this, or a flag could hide from the policy.
fn extract_flags(line: &str) -> (String, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(u8),
    }
    let bytes = line.as_bytes();
    let is_space = |b: u8| matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0);
    let rest_from = |pos: usize| String::from_utf8_lossy(&bytes[pos..]).into_owned();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut blank_ok = false;
    let mut pos = 0;
    loop {
        let at_end = pos >= bytes.len();
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            let ch = bytes[pos];
            if is_space(ch) {
                pos += 1;
                continue;
            }
            if ch != b'-' || bytes.get(pos + 1) != Some(&b'-') {
                return (rest_from(pos), words);
            }
            phase = Phase::Word;
        }
        if at_end {
            if word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            break;
        }
        let ch = bytes[pos];
        match phase {
            Phase::Word => {
                if is_space(ch) {
                    phase = Phase::Spaces;
                    if word == "--" {
                        return (rest_from(pos), words);
                    }
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                } else if ch == b'\'' || ch == b'"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                } else if ch == b'\\' {
                    if let Some(n) = bytes.get(pos + 1) {
                        word.push(char::from(*n));
                        pos += 1;
                    }
                } else {
                    word.push(char::from(ch));
                }
            }
            Phase::Quote(q) => {
                if ch == q {
                    phase = Phase::Word;
                } else if ch == b'\\' {
                    match bytes.get(pos + 1) {
                        Some(n) => {
                            word.push(char::from(*n));
                            pos += 1;
                        }
                        None => phase = Phase::Word,
                    }
                } else {
                    word.push(char::from(ch));
                }
            }
            Phase::Spaces => {}
        }
        pos += 1;
    }
    (String::new(), words)
}

/// Arguments split on the engine's whitespace (`FROM`, and `ADD`/`COPY` not in JSON form).
pub fn fields(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        return Vec::new();
    }
    rest.split(is_field_space)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// `ADD`/`COPY` arguments: a JSON array of strings (the engine reads the first JSON value
/// and ignores what follows it), or else whitespace-separated words.
pub fn json_or_fields(rest: &str) -> Vec<String> {
    if rest.trim_start().starts_with('[') {
        let mut stream =
            serde_json::Deserializer::from_str(rest.trim_start()).into_iter::<serde_json::Value>();
        if let Some(Ok(serde_json::Value::Array(items))) = stream.next() {
            let strings: Option<Vec<String>> = items
                .into_iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect();
            if let Some(strings) = strings {
                return strings;
            }
        }
    }
    fields(rest)
}

/// Words as the engine splits `ARG` and `ENV` arguments: quotes and escapes kept in the
/// word (expansion removes them later), whitespace outside quotes separating.
pub fn raw_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut chars = rest.chars().peekable();
    while let Some(ch) = chars.next() {
        match quote {
            None if ch.is_whitespace() => {
                if in_word && (blank_ok || !word.is_empty()) {
                    words.push(std::mem::take(&mut word));
                }
                in_word = false;
                blank_ok = false;
            }
            None => {
                in_word = true;
                if ch == '\'' || ch == '"' {
                    quote = Some(ch);
                    blank_ok = true;
                }
                if ch == escape {
                    if chars.peek().is_none() {
                        continue;
                    }
                    word.push(ch);
                    if let Some(n) = chars.next() {
                        word.push(n);
                    }
                    continue;
                }
                word.push(ch);
            }
            Some(q) => {
                if ch == q {
                    quote = None;
                }
                if ch == escape && q != '\'' {
                    if chars.peek().is_none() {
                        quote = None;
                        continue;
                    }
                    word.push(ch);
                    if let Some(n) = chars.next() {
                        word.push(n);
                    }
                    continue;
                }
                word.push(ch);
            }
        }
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// `ENV` pairs before expansion: `a=1 b=2`, or the old `ENV name value with spaces`.
pub fn env_pairs(rest: &str, escape: char) -> Vec<(String, String)> {
    let words = raw_words(rest, escape);
    let Some(first) = words.first() else {
        return Vec::new();
    };
    if !first.contains('=') {
        let mut parts = rest.splitn(2, is_field_space);
        let name = parts.next().unwrap_or("").to_string();
        let value = parts
            .next()
            .unwrap_or("")
            .trim_start_matches(is_field_space)
            .to_string();
        return vec![(name, value)];
    }
    words
        .iter()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `ARG` entries before expansion: name, and the default if one is given.
pub fn arg_entries(rest: &str, escape: char) -> Vec<(String, Option<String>)> {
    raw_words(rest, escape)
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (w, None),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_cuts_the_stages_after_it_and_names_are_matched_in_any_case() {
        let text = "ARG V=1\nFROM busybox:latest AS Build\nRUN echo \\\n  built > /made\n# the next one\nfrom busybox:latest as test\nRUN false\nFROM busybox:latest\nCOPY --from=build /made /made\n";
        assert_eq!(
            up_to_stage(text, "build").unwrap(),
            "ARG V=1\nFROM busybox:latest AS Build\nRUN echo \\\n  built > /made\n# the next one\n"
        );
        assert_eq!(
            up_to_stage(text, "TEST").unwrap(),
            "ARG V=1\nFROM busybox:latest AS Build\nRUN echo \\\n  built > /made\n# the next one\nfrom busybox:latest as test\nRUN false\n"
        );
        // The last stage named: all of it. (A stage without a name cannot be a target.)
        let last = "FROM busybox:latest AS a\nFROM busybox:latest AS b\nRUN true";
        assert_eq!(up_to_stage(last, "b").unwrap(), last);
        assert_eq!(
            up_to_stage(text, "0").unwrap_err(),
            "failed to reach build target 0 in Dockerfile"
        );
        assert!(up_to_stage(text, "nope").is_err());
        // `AS` inside a continued FROM line, and the escape directive, read as the engine does.
        let escaped =
            "# escape=`\nFROM busybox:latest `\n  AS first\nRUN true\nFROM busybox:latest\n";
        assert_eq!(
            up_to_stage(escaped, "first").unwrap(),
            "# escape=`\nFROM busybox:latest `\n  AS first\nRUN true\n"
        );
    }

    fn shape(p: &Parsed) -> Vec<(u32, &str, Vec<&str>, &str)> {
        p.nodes
            .iter()
            .map(|n| {
                (
                    n.line,
                    n.keyword.as_str(),
                    n.flags.iter().map(String::as_str).collect(),
                    n.rest.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn lines_join_flags_split_and_case_is_ignored() {
        let p = parse("FROM busybox\ncopy --fr\\\n# note\n\nom=abc /a /b\nAdd \"--x\" y\n");
        assert_eq!(
            shape(&p),
            [
                (1, "from", vec![], "busybox"),
                (2, "copy", vec!["--from=abc"], "/a /b"),
                (6, "add", vec![], "\"--x\" y"),
            ]
        );
        let p = parse("COPY --from=\"a b\" --chown=1\\:2 -- --x y\n");
        assert_eq!(p.nodes[0].flags, ["--from=a b", "--chown=1:2"]);
        assert_eq!(p.nodes[0].rest, "--x y");
    }

    #[test]
    fn only_directives_at_the_top_count_and_heredocs_are_not_read() {
        let p =
            parse("# syntax=docker/dockerfile:1\n#  ESCAPE = `\nFROM x\nCOPY --from=a `\n /s /d\n");
        assert_eq!(p.escape, '`');
        assert_eq!(p.nodes[1].rest, "/s /d");
        assert_eq!(p.nodes[1].flags, ["--from=a"]);
        let p = parse("FROM x\n# escape=`\nRUN a `\nADD b c\n");
        assert_eq!(p.escape, '\\');
        assert_eq!(p.nodes.len(), 3);
        // The engine has no heredocs: the body is instructions.
        let p = parse("FROM x\nRUN <<EOF\nADD http://h/ /x\nEOF\n");
        assert_eq!(p.nodes[2].keyword, "add");
    }

    #[test]
    fn onbuild_holds_one_instruction_and_its_trigger_text() {
        let p = parse("FROM x\nonbuild   copy --FROM=y /a /b\n");
        let node = &p.nodes[1];
        assert_eq!(node.trigger, "copy --FROM=y /a /b");
        let inner = node.inner.as_deref().expect("inner");
        assert_eq!(inner.keyword, "copy");
        assert_eq!(inner.flags, ["--FROM=y"]);
    }

    #[test]
    fn arguments_split_as_the_engine_splits_them() {
        assert_eq!(
            json_or_fields("[\"http://h/\", \"/x\"] trailing"),
            ["http://h/", "/x"]
        );
        assert_eq!(json_or_fields("[ -a ] b"), ["[", "-a", "]", "b"]);
        assert_eq!(fields("a\t b\x0bc"), ["a", "b", "c"]);
        assert_eq!(
            raw_words("A=\"x y\" B=c\\ d 'e f'", '\\'),
            ["A=\"x y\"", "B=c\\ d", "'e f'"]
        );
        assert_eq!(
            env_pairs("U http://h/ x", '\\'),
            [("U".to_string(), "http://h/ x".to_string())]
        );
        assert_eq!(
            env_pairs("U=1 V=\"2 3\"", '\\'),
            [
                ("U".to_string(), "1".to_string()),
                ("V".to_string(), "\"2 3\"".to_string())
            ]
        );
        assert_eq!(
            arg_entries("A B=1", '\\'),
            [
                ("A".to_string(), None),
                ("B".to_string(), Some("1".to_string()))
            ]
        );
    }
}
