//! The checks behind [`super::RULES`], run over a parsed Dockerfile.

use super::parse::{key_values, words, Args, Dockerfile, Instruction, Stage};
use super::*;

pub(super) fn check(df: &Dockerfile, out: &mut Vec<LintFinding>) {
    let escape = df.escape;
    for ins in df.global_args() {
        secrets(ins, escape, out);
    }
    let stages = df.stages();
    let names = StageNames::new(&stages);
    // Whether each stage has PIP_NO_CACHE_DIR set (a stage built FROM another inherits it).
    let mut pip_cache_off: Vec<bool> = Vec::new();
    for stage in &stages {
        from_checks(stage, &stages, &names, out);
        let mut no_pip_cache = names
            .last_before(&stage.image.to_lowercase(), stage.index)
            .is_some_and(|p| pip_cache_off[p]);
        for ins in stage.body {
            match ins.keyword.as_str() {
                "ENV" | "ARG" => {
                    secrets(ins, escape, out);
                    no_pip_cache |= sets_pip_no_cache(ins, escape);
                }
                "WORKDIR" => workdir(ins, escape, out),
                "RUN" => run(ins, no_pip_cache, out),
                "ADD" => {
                    add(ins, escape, out);
                    copy_destination(ins, escape, out);
                }
                "COPY" => {
                    copy_destination(ins, escape, out);
                    copy_from(ins, stage, &stages, &names, out);
                }
                "CMD" | "ENTRYPOINT" => shell_form(ins, out),
                "MAINTAINER" => out.push(MAINTAINER.at(
                    ins.line,
                    "MAINTAINER is deprecated; write LABEL org.opencontainers.image.authors=\"…\" instead",
                )),
                _ => {}
            }
        }
        pip_cache_off.push(no_pip_cache);
        consecutive_runs(stage.body, out);
        only_last_counts(stage.body, "CMD", out);
        only_last_counts(stage.body, "ENTRYPOINT", out);
    }
    user_root(&stages, &names, escape, out);
}

/// Stage name → the indexes of the stages with that name, in order: every question about
/// names is a lookup, so a Dockerfile of thousands of stages is linted in linear time.
struct StageNames(std::collections::HashMap<String, Vec<usize>>);

impl StageNames {
    fn new(stages: &[Stage<'_>]) -> Self {
        let mut names: std::collections::HashMap<String, Vec<usize>> = Default::default();
        for stage in stages {
            if let Some(name) = &stage.name {
                names.entry(name.clone()).or_default().push(stage.index);
            }
        }
        StageNames(names)
    }

    fn indexes(&self, name: &str) -> &[usize] {
        self.0.get(name).map_or(&[], Vec::as_slice)
    }

    fn first_before(&self, name: &str, index: usize) -> Option<usize> {
        self.indexes(name).first().copied().filter(|i| *i < index)
    }

    /// The earlier stage a `FROM <name>` builds on (the latest one of that name).
    fn last_before(&self, name: &str, index: usize) -> Option<usize> {
        let all = self.indexes(name);
        let before = all.partition_point(|i| *i < index);
        before.checked_sub(1).map(|k| all[k])
    }

    fn first_from(&self, name: &str, index: usize) -> Option<usize> {
        let all = self.indexes(name);
        all.get(all.partition_point(|i| *i < index)).copied()
    }
}

fn from_checks(
    stage: &Stage<'_>,
    stages: &[Stage<'_>],
    names: &StageNames,
    out: &mut Vec<LintFinding>,
) {
    let line = stage.from.line;
    if let Some(name) = &stage.name {
        if let Some(first) = names.first_before(name, stage.index) {
            out.push(DUPLICATE_STAGE_NAME.at(
                line,
                format!(
                    "the stage name `{name}` is already used on line {}; give this stage another name",
                    stages[first].from.line
                ),
            ));
        }
    }
    let image = stage.image.as_str();
    let lower = image.to_lowercase();
    if image.is_empty()
        || image.contains(['$', '@'])
        || lower == "scratch"
        || names.first_before(&lower, stage.index).is_some()
    {
        return;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => out.push(FROM_LATEST.at(
            line,
            format!("`FROM {image}` means {image}:latest, which changes whenever a new image is pushed; pin a version, like {image}:<version>"),
        )),
        Some((_, "latest")) => out.push(FROM_LATEST.at(
            line,
            format!("`{image}` is whatever was pushed last; pin a version tag (or a digest) so every build starts from the same image"),
        )),
        Some(_) => {}
    }
}

/// ENV and ARG names that look like secrets.
fn secrets(ins: &Instruction, escape: char, out: &mut Vec<LintFinding>) {
    let names: Vec<String> = match ins.keyword.as_str() {
        "ARG" => words(ins.text(), escape)
            .into_iter()
            .map(|w| w.text.split('=').next().unwrap_or("").to_string())
            .collect(),
        "ENV" => key_values(ins.text(), escape, "ENV")
            .unwrap_or_default()
            .into_iter()
            .map(|(name, _)| name)
            .collect(),
        _ => return,
    };
    for name in names.iter().filter(|n| looks_secret(n)) {
        let message = if ins.keyword == "ENV" {
            format!("`{name}` looks like a secret, and anyone with the image can read ENV values; pass it when the container starts (docker run -e {name}=…)")
        } else {
            format!("`{name}` looks like a secret, and build arguments stay in the image history; use a secret mount (RUN --mount=type=secret,id=…) instead")
        };
        out.push(SECRET_IN_ENV.at(ins.line, message));
    }
}

/// `DB_PASSWORD`, `apiKey`, `GITHUB_TOKEN` yes; `PASSWORD_FILE`, `TOKENIZER`, `KEYBOARD` no.
fn looks_secret(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "PASSWORD",
        "PASSWORDS",
        "PASSWD",
        "PASS",
        "SECRET",
        "SECRETS",
        "TOKEN",
        "TOKENS",
        "APIKEY",
        "CREDENTIAL",
        "CREDENTIALS",
        "CREDS",
        "PRIVATEKEY",
        "ACCESSKEY",
        "SECRETKEY",
    ];
    const KEY_KINDS: &[&str] = &[
        "API",
        "PRIVATE",
        "ACCESS",
        "SECRET",
        "SSH",
        "ENCRYPTION",
        "SIGNING",
        "MASTER",
    ];
    // Names of files, folders or addresses that hold a secret are not the secret.
    const POINTERS: &[&str] = &["FILE", "PATH", "DIR", "URL"];
    let mut parts: Vec<String> = Vec::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            parts.push(String::new());
            previous_lower = false;
            continue;
        }
        if parts.is_empty() || (previous_lower && c.is_uppercase()) {
            parts.push(String::new());
        }
        previous_lower = c.is_lowercase();
        if let Some(part) = parts.last_mut() {
            part.extend(c.to_uppercase());
        }
    }
    parts.retain(|p| !p.is_empty());
    if parts.last().is_some_and(|p| POINTERS.contains(&p.as_str())) {
        return false;
    }
    parts.iter().any(|p| WORDS.contains(&p.as_str()))
        || parts
            .windows(2)
            .any(|w| w[1] == "KEY" && KEY_KINDS.contains(&w[0].as_str()))
}

fn sets_pip_no_cache(ins: &Instruction, escape: char) -> bool {
    match ins.keyword.as_str() {
        "ENV" => key_values(ins.text(), escape, "ENV")
            .unwrap_or_default()
            .iter()
            .any(|(name, _)| name == "PIP_NO_CACHE_DIR"),
        "ARG" => words(ins.text(), escape)
            .iter()
            .any(|w| w.text.starts_with("PIP_NO_CACHE_DIR=")),
        _ => false,
    }
}

fn workdir(ins: &Instruction, escape: char, out: &mut Vec<LintFinding>) {
    let Some(path) = ins.list(escape).into_iter().next() else {
        return;
    };
    let bytes = path.as_bytes();
    let windows_drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if path.starts_with(['/', '\\', '$']) || windows_drive {
        return;
    }
    let suggestion = path.trim_start_matches("./");
    out.push(WORKDIR_RELATIVE.at(
        ins.line,
        format!("`WORKDIR {path}` is relative to the WORKDIR before it, which may come from the base image; use an absolute path such as WORKDIR /{suggestion}"),
    ));
}

fn run(ins: &Instruction, pip_cache_off: bool, out: &mut Vec<LintFinding>) {
    let commands = run_commands(ins);
    let programs: Vec<(&[String], &[String])> = commands.iter().map(|c| split_program(c)).collect();
    let mounts: Vec<&str> = ins
        .flags
        .iter()
        .filter(|f| f.name == "mount")
        .filter_map(|f| f.value.as_deref())
        .collect();

    if let Some((_, cd)) = programs.iter().find(|(_, p)| first_is(p, "cd")) {
        let message = match cd.get(1) {
            Some(dir) if dir.starts_with('/') => format!(
                "`cd {dir}` only lasts for this RUN; use WORKDIR {dir} to set the directory for later steps"
            ),
            _ => "`cd` only lasts for this RUN; use WORKDIR with an absolute path to set the directory for later steps".to_string(),
        };
        out.push(CD_IN_RUN.at(ins.line, message));
    }

    let apt: Vec<&[String]> = programs
        .iter()
        .map(|(_, p)| *p)
        .filter(|p| {
            p.first()
                .is_some_and(|w| matches!(basename(w), "apt-get" | "apt"))
                && p.iter().any(|w| w == "install")
        })
        .collect();
    if let Some(tool) = apt.first().and_then(|p| p.first()).map(|w| basename(w)) {
        let no_recommends = |p: &&[String]| {
            p.iter().any(|w| {
                let w = w.to_ascii_lowercase();
                w == "--no-install-recommends"
                    || w.ends_with("install-recommends=false")
                    || w.ends_with("install-recommends=0")
            })
        };
        if !apt.iter().all(no_recommends) {
            out.push(APT_NO_RECOMMENDS.at(
                ins.line,
                format!("`{tool} install` also installs recommended packages you did not ask for; add --no-install-recommends"),
            ));
        }
        let text = run_text(ins);
        if !text.contains("/var/lib/apt/lists")
            && !mounts.iter().any(|m| m.contains("/var/lib/apt"))
        {
            out.push(APT_NO_CLEANUP.at(
                ins.line,
                format!("the package lists `{tool}` downloaded stay in this layer; end the same RUN with && rm -rf /var/lib/apt/lists/*"),
            ));
        }
    }

    if !pip_cache_off && !mounts.iter().any(|m| m.contains(".cache/pip")) {
        let keeps_cache = programs.iter().any(|(prefix, p)| {
            !prefix.iter().any(|w| w.starts_with("PIP_NO_CACHE_DIR="))
                && pip_install(p)
                && !p.iter().any(|w| w.starts_with("--no-cache-dir"))
        });
        if keeps_cache {
            out.push(PIP_NO_CACHE.at(
                ins.line,
                "pip keeps its download cache in this layer; add --no-cache-dir to pip install (or set ENV PIP_NO_CACHE_DIR=1)",
            ));
        }
    }
}

fn first_is(words: &[String], program: &str) -> bool {
    words.first().is_some_and(|w| w == program)
}

fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// `pip`, `pip3`, `pip3.12`, or `python3 -m pip`, with `install`.
fn pip_install(words: &[String]) -> bool {
    let versioned = |word: &str, stem: &str| {
        basename(word)
            .strip_prefix(stem)
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
    };
    let Some(first) = words.first() else {
        return false;
    };
    let rest = if versioned(first, "pip") {
        &words[1..]
    } else if versioned(first, "python")
        && words.get(1).is_some_and(|w| w == "-m")
        && words.get(2).is_some_and(|w| w == "pip")
    {
        &words[3..]
    } else {
        return false;
    };
    rest.iter().any(|w| w == "install")
}

fn is_shell(word: &str) -> bool {
    matches!(
        basename(word),
        "sh" | "bash" | "ash" | "dash" | "zsh" | "ksh"
    )
}

/// The simple commands a RUN executes, as word lists: its shell text, the heredocs it runs
/// as scripts, or its exec-form list (looking inside `sh -c "…"`).
fn run_commands(ins: &Instruction) -> Vec<Vec<String>> {
    match &ins.args {
        Args::Exec(items) => {
            let script = items.first().filter(|w| is_shell(w)).and_then(|_| {
                let flag = items
                    .iter()
                    .position(|w| w.starts_with('-') && !w.starts_with("--") && w.ends_with('c'))?;
                items.get(flag + 1)
            });
            match script {
                Some(script) => shell_commands(script),
                None => vec![items.clone()],
            }
        }
        Args::Shell(text) => {
            let mut commands = shell_commands(text);
            // `RUN <<EOF` (or `RUN bash <<EOF`) runs the heredoc as a script.
            let runs_script = commands.iter().all(|c| {
                let words: Vec<&String> = c.iter().filter(|w| !w.starts_with("<<")).collect();
                words.first().is_none_or(|w| is_shell(w))
            });
            if runs_script {
                for heredoc in &ins.heredocs {
                    commands.extend(shell_commands(&heredoc.body));
                }
            }
            commands
        }
    }
}

/// Everything a RUN says, heredocs included, for plain text searches.
fn run_text(ins: &Instruction) -> String {
    let mut text = match &ins.args {
        Args::Exec(items) => items.join(" "),
        Args::Shell(s) => s.clone(),
    };
    for heredoc in &ins.heredocs {
        text.push('\n');
        text.push_str(&heredoc.body);
    }
    text
}

/// Split a command into the words before the program (`VAR=x`, `sudo`, `then`, …) and the
/// program with its arguments.
fn split_program(command: &[String]) -> (&[String], &[String]) {
    const SKIP: &[&str] = &[
        "if", "then", "else", "elif", "do", "while", "until", "!", "{", "}", "time", "sudo",
        "exec", "env", "command",
    ];
    let is_assignment = |w: &str| {
        w.split_once('=').is_some_and(|(name, _)| {
            name.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    let start = command
        .iter()
        .position(|w| !SKIP.contains(&w.as_str()) && !is_assignment(w))
        .unwrap_or(command.len());
    command.split_at(start)
}

/// A rough POSIX shell reader: splits a script into simple commands at `;`, `&`, `|`, `&&`,
/// `||`, parentheses and newlines, with quotes and backslashes removed from the words.
fn shell_commands(script: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut command: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let end_word = |command: &mut Vec<String>, word: &mut String, in_word: &mut bool| {
        if *in_word {
            command.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for d in chars.by_ref() {
                    if d == '\'' {
                        break;
                    }
                    word.push(d);
                }
            }
            '"' => {
                in_word = true;
                while let Some(d) = chars.next() {
                    match d {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('\n') | None => {}
                            Some(e) => {
                                if !matches!(e, '"' | '\\' | '$' | '`') {
                                    word.push('\\');
                                }
                                word.push(e);
                            }
                        },
                        _ => word.push(d),
                    }
                }
            }
            '\\' => {
                if let Some(e) = chars.next().filter(|e| *e != '\n') {
                    word.push(e);
                    in_word = true;
                }
            }
            '#' if !in_word => {
                while chars.peek().is_some_and(|d| *d != '\n') {
                    chars.next();
                }
            }
            '&' if word.ends_with(['>', '<']) => word.push(c),
            ';' | '&' | '|' | '(' | ')' | '\n' => {
                end_word(&mut command, &mut word, &mut in_word);
                if !command.is_empty() {
                    commands.push(std::mem::take(&mut command));
                }
            }
            c if c.is_whitespace() => end_word(&mut command, &mut word, &mut in_word),
            _ => {
                word.push(c);
                in_word = true;
            }
        }
    }
    end_word(&mut command, &mut word, &mut in_word);
    if !command.is_empty() {
        commands.push(command);
    }
    commands
}

fn add(ins: &Instruction, escape: char, out: &mut Vec<LintFinding>) {
    if ["checksum", "keep-git-dir", "unpack"]
        .iter()
        .any(|f| ins.flag(f).is_some())
    {
        return;
    }
    let list = ins.list(escape);
    let Some((_, sources)) = list.split_last() else {
        return;
    };
    let needs_add = |s: &String| {
        let lower = s.to_ascii_lowercase();
        s.contains('$')
            || s.contains("://")
            || s.starts_with("git@")
            || [
                ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz",
                ".tar.zst", ".tzst",
            ]
            .iter()
            .any(|ext| lower.ends_with(ext))
    };
    if sources.is_empty() || sources.iter().any(needs_add) {
        return;
    }
    out.push(ADD_INSTEAD_OF_COPY.at(
        ins.line,
        "ADD also unpacks archives and downloads URLs, which surprises people; for plain files use COPY",
    ));
}

fn copy_destination(ins: &Instruction, escape: char, out: &mut Vec<LintFinding>) {
    let list = ins.list(escape);
    let Some((dest, sources)) = list.split_last() else {
        return;
    };
    let is_folder = dest.ends_with('/')
        || (escape == '`' && dest.ends_with('\\'))
        || matches!(dest.as_str(), "." | "..")
        || dest.ends_with("/.")
        || dest.ends_with("/..");
    if sources.is_empty() || is_folder || dest.contains('$') {
        return;
    }
    let keyword = &ins.keyword;
    if sources.len() > 1 {
        out.push(COPY_MULTI_DEST_SLASH.at(
            ins.line,
            format!("{keyword} with several sources needs a folder as destination: end it with a slash, `{dest}/`"),
        ));
    } else if sources[0].contains(['*', '?', '[']) {
        let mut finding = COPY_MULTI_DEST_SLASH.at(
            ins.line,
            format!("`{}` can match several files, and then the build fails unless the destination ends with a slash: write `{dest}/`", sources[0]),
        );
        finding.severity = Severity::Warning;
        out.push(finding);
    }
}

fn copy_from(
    ins: &Instruction,
    stage: &Stage<'_>,
    stages: &[Stage<'_>],
    names: &StageNames,
    out: &mut Vec<LintFinding>,
) {
    let Some(from) = ins.flag("from") else {
        return;
    };
    let name = from.to_lowercase();
    if name.is_empty() || name.contains('$') {
        return;
    }
    let line = ins.line;
    if name.chars().all(|c| c.is_ascii_digit()) {
        match name.parse::<usize>() {
            Ok(n) if n < stage.index => {}
            Ok(n) if n == stage.index => out.push(COPY_FROM_SELF.at(
                line,
                format!("`--from={from}` is this same stage; copy from an earlier stage, or from the build context without --from"),
            )),
            _ => out.push(COPY_FROM_UNKNOWN.at(
                line,
                format!("there is no stage {from} before this one (stages count from 0 at the first FROM); name an earlier stage"),
            )),
        }
        return;
    }
    if names.first_before(&name, stage.index).is_some() {
        return;
    }
    if stage.name.as_deref() == Some(name.as_str()) {
        out.push(COPY_FROM_SELF.at(
            line,
            format!("`--from={from}` names the stage this COPY is in; copy from an earlier stage, or from the build context without --from"),
        ));
    } else if let Some(later) = names.first_from(&name, stage.index).map(|i| &stages[i]) {
        out.push(COPY_FROM_UNKNOWN.at(
            line,
            format!(
                "the stage `{from}` comes later (line {}); move it above this one",
                later.from.line
            ),
        ));
    } else if !name.contains(['/', ':', '@']) {
        out.push(COPY_FROM_UNKNOWN.at(
            line,
            format!("no stage above is called `{from}`; name one with FROM <image> AS {from}, or, to copy from an image, give its tag (like {from}:1.0)"),
        ));
    }
}

fn shell_form(ins: &Instruction, out: &mut Vec<LintFinding>) {
    let Args::Shell(text) = &ins.args else {
        return;
    };
    if text.is_empty() {
        return;
    }
    let keyword = &ins.keyword;
    let simple = !text.contains(|c: char| "$&|;<>()*?`'\"\\{}[]~#!".contains(c));
    let fix = if simple {
        let items: Vec<String> = text
            .split_whitespace()
            .map(|w| format!("\"{w}\""))
            .collect();
        format!("write {keyword} [{}]", items.join(", "))
    } else {
        format!("write it as a JSON list, like {keyword} [\"prog\", \"arg\"]")
    };
    let what = if keyword == "ENTRYPOINT" {
        "runs under /bin/sh -c, ignores CMD and docker run arguments, and misses the stop signal"
    } else {
        "runs under /bin/sh -c and misses the stop signal, so the container is slow to stop"
    };
    out.push(SHELL_FORM_CMD.at(ins.line, format!("{keyword} in shell form {what}; {fix}")));
}

fn only_last_counts(body: &[Instruction], keyword: &str, out: &mut Vec<LintFinding>) {
    let lines: Vec<u32> = body
        .iter()
        .filter(|i| i.keyword == keyword)
        .map(|i| i.line)
        .collect();
    if let Some((last, earlier)) = lines.split_last() {
        for line in earlier {
            out.push(MULTIPLE_CMD.at(
                *line,
                format!("only the last {keyword} of a stage counts (line {last}), so this one has no effect; remove it"),
            ));
        }
    }
}

fn consecutive_runs(body: &[Instruction], out: &mut Vec<LintFinding>) {
    let mut i = 0;
    while i < body.len() {
        let first = &body[i];
        let mut j = i + 1;
        if first.keyword == "RUN" {
            while body
                .get(j)
                .is_some_and(|next| next.keyword == "RUN" && next.flags == first.flags)
            {
                j += 1;
            }
        }
        if j - i >= 2 {
            let message = if j - i == 2 {
                format!("this RUN follows another (line {}) and each adds a layer; join them into one RUN with &&", first.line)
            } else {
                format!("{} RUNs in a row (lines {} to {}) each add a layer; join them into one RUN with &&", j - i, first.line, body[j - 1].line)
            };
            out.push(CONSECUTIVE_RUN.at(body[i + 1].line, message));
        }
        i = j;
    }
}

fn user_root(stages: &[Stage<'_>], names: &StageNames, escape: char, out: &mut Vec<LintFinding>) {
    let Some(last) = stages.last() else {
        return;
    };
    let mut stage = last;
    loop {
        if let Some(user) = stage.body.iter().rev().find(|i| i.keyword == "USER") {
            let value = user.list(escape).into_iter().next().unwrap_or_default();
            let name = value.split(':').next().unwrap_or("");
            if name == "root" || name == "0" {
                let line = if std::ptr::eq(stage, last) {
                    user.line
                } else {
                    last.from.line
                };
                out.push(USER_ROOT.at(
                    line,
                    format!("the container runs as root (`USER {value}`); end the final stage with an ordinary user, like USER 10000"),
                ));
            }
            return;
        }
        match names.last_before(&stage.image.to_lowercase(), stage.index) {
            Some(p) => stage = &stages[p],
            None => break,
        }
    }
    let mut finding = USER_ROOT.at(
        last.from.line,
        "the final stage sets no USER, so the container runs as root unless the base image chose a user; add USER with a non-root uid near the end",
    );
    finding.severity = Severity::Info;
    out.push(finding);
}

#[cfg(test)]
mod tests {
    use super::super::lint;
    use super::*;

    /// The lines on which `rule` fires.
    fn hits(rule: &str, text: &str) -> Vec<u32> {
        assert!(RULES.iter().any(|r| r.id == rule), "unknown rule {rule}");
        lint(text)
            .into_iter()
            .filter(|f| f.rule == rule)
            .map(|f| f.line)
            .collect()
    }

    fn severity(rule: &str, text: &str) -> Severity {
        lint(text)
            .into_iter()
            .find(|f| f.rule == rule)
            .map(|f| f.severity)
            .unwrap_or_else(|| panic!("{rule} not found"))
    }

    /// One Dockerfile per rule that triggers it, and the lines it must fire on.
    const EXAMPLES: &[(&str, &str, &[u32])] = &[
        ("parse-error", "FROM busybox:1.36\nRUN <<EOF\necho\n", &[2]),
        ("from-latest", "FROM busybox\nUSER 1\n", &[1]),
        (
            "duplicate-stage-name",
            "FROM busybox:1.36 AS a\nFROM busybox:1.36 AS a\nUSER 1\n",
            &[2],
        ),
        ("workdir-relative", "FROM busybox:1.36\nWORKDIR app\nUSER 1\n", &[2]),
        ("cd-in-run", "FROM busybox:1.36\nRUN cd /app && make\nUSER 1\n", &[2]),
        ("add-instead-of-copy", "FROM busybox:1.36\nADD app.sh /app/\nUSER 1\n", &[2]),
        ("copy-multi-dest-slash", "FROM busybox:1.36\nCOPY a b /app\nUSER 1\n", &[2]),
        (
            "copy-from-unknown",
            "FROM busybox:1.36\nCOPY --from=build /a /a\nUSER 1\n",
            &[2],
        ),
        (
            "copy-from-self",
            "FROM busybox:1.36 AS app\nCOPY --from=app /a /b\nUSER 1\n",
            &[2],
        ),
        ("user-root", "FROM busybox:1.36\nUSER root\n", &[2]),
        ("secret-in-env", "FROM busybox:1.36\nENV API_TOKEN=x\nUSER 1\n", &[2]),
        (
            "apt-no-recommends",
            "FROM debian:12\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\nUSER 1\n",
            &[2],
        ),
        (
            "apt-no-cleanup",
            "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl\nUSER 1\n",
            &[2],
        ),
        ("pip-no-cache", "FROM python:3.12\nRUN pip install flask\nUSER 1\n", &[2]),
        (
            "consecutive-run",
            "FROM busybox:1.36\nRUN echo a\nRUN echo b\nUSER 1\n",
            &[3],
        ),
        ("shell-form-cmd", "FROM busybox:1.36\nUSER 1\nCMD sh app.sh\n", &[3]),
        (
            "multiple-cmd",
            "FROM busybox:1.36\nUSER 1\nCMD [\"a\"]\nCMD [\"b\"]\n",
            &[3],
        ),
        (
            "maintainer",
            "FROM busybox:1.36\nMAINTAINER me@example.com\nUSER 1\n",
            &[2],
        ),
    ];

    #[test]
    fn every_rule_has_a_unique_id_and_a_lesson_link() {
        for (i, rule) in RULES.iter().enumerate() {
            assert!(
                RULES[..i].iter().all(|r| r.id != rule.id),
                "{} twice",
                rule.id
            );
            assert!(
                rule.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                rule.id
            );
            let (slug, anchor) = rule
                .lesson
                .strip_prefix("/learn/")
                .and_then(|l| l.split_once('#'))
                .unwrap_or_else(|| panic!("{}: {}", rule.id, rule.lesson));
            assert!(!slug.is_empty() && !anchor.is_empty(), "{}", rule.lesson);
            assert!(!rule.summary.is_empty());
        }
    }

    #[test]
    fn every_rule_fires_on_its_example_and_every_finding_is_a_listed_rule() {
        for rule in RULES {
            assert!(
                EXAMPLES.iter().any(|(id, _, _)| *id == rule.id),
                "no example for {}",
                rule.id
            );
        }
        for (id, text, lines) in EXAMPLES {
            assert_eq!(hits(id, text), *lines, "{id} on {text:?}");
            for finding in lint(text) {
                let rule = RULES
                    .iter()
                    .find(|r| r.id == finding.rule)
                    .unwrap_or_else(|| panic!("{} is not in RULES", finding.rule));
                assert_eq!(finding.lesson, rule.lesson);
                assert!(!finding.message.is_empty() && !finding.message.contains('\n'));
            }
        }
    }

    #[test]
    fn findings_are_sorted_and_serialise_in_lower_case() {
        let findings = lint("FROM busybox\nWORKDIR app\nRUN cd x\nRUN true\nCMD x\n");
        let keys: Vec<(u32, &str)> = findings.iter().map(|f| (f.line, f.rule.as_str())).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(keys[0], (1, "from-latest"));
        assert_eq!(keys[1], (1, "user-root"));
        let json = serde_json::to_value(&findings[0]).expect("serialises");
        assert_eq!(json["severity"], "warning");
        assert_eq!(
            json["lesson"],
            "/learn/tags-and-semver#a-tag-is-a-movable-label"
        );
        let back: LintFinding = serde_json::from_value(json).expect("deserialises");
        assert_eq!(back, findings[0]);
    }

    #[test]
    fn parse_errors_are_errors() {
        let text = "FROM busybox:1.36\nRUNN echo\nCMD ['sh', 'x']\nUSER 1\n";
        assert_eq!(hits("parse-error", text), [2, 3]);
        assert_eq!(severity("parse-error", text), Severity::Error);
        assert!(hits(
            "parse-error",
            "FROM busybox:1.36\nRUN [ -f /x ] || true\nUSER 1\n"
        )
        .is_empty());
    }

    #[test]
    fn from_latest() {
        assert_eq!(hits("from-latest", "FROM busybox:latest\n"), [1]);
        assert_eq!(hits("from-latest", "FROM localhost:5000/app\n"), [1]);
        assert_eq!(
            hits(
                "from-latest",
                "FROM --platform=linux/amd64 python AS build\nFROM build\n"
            ),
            [1]
        );
        let clean = "ARG BASE=x\nFROM busybox:1.36 AS build\nFROM build\nFROM scratch\nFROM ${BASE}\nFROM localhost:5000/app:2\nFROM python@sha256:abc\n";
        assert!(hits("from-latest", clean).is_empty());
        // A stage name only counts once it is defined.
        assert_eq!(
            hits("from-latest", "FROM later\nFROM busybox:1 AS later\n"),
            [1]
        );
    }

    #[test]
    fn duplicate_stage_name() {
        let text = "FROM busybox:1 AS build\nFROM busybox:1 AS Build\n";
        assert_eq!(hits("duplicate-stage-name", text), [2]);
        assert!(hits(
            "duplicate-stage-name",
            "FROM busybox:1 AS build\nFROM busybox:1 AS test\n"
        )
        .is_empty());
    }

    #[test]
    fn workdir_relative() {
        assert_eq!(
            hits(
                "workdir-relative",
                "FROM busybox:1\nWORKDIR /app\nWORKDIR src\nWORKDIR ./x\n"
            ),
            [3, 4]
        );
        assert!(hits(
            "workdir-relative",
            "FROM busybox:1\nWORKDIR /app\nWORKDIR $HOME/x\nWORKDIR \"/my app\"\n"
        )
        .is_empty());
        assert!(hits("workdir-relative", "# escape=`\nFROM w\nWORKDIR C:\\app\n").is_empty());
    }

    #[test]
    fn cd_in_run() {
        let text = "FROM busybox:1\nRUN mkdir /x; cd /x\nRUN [\"sh\", \"-c\", \"cd /y && ls\"]\nRUN <<EOF\nset -e\ncd /z\nEOF\nRUN if true; then cd /w; fi\n";
        assert_eq!(hits("cd-in-run", text), [2, 3, 4, 8]);
        let found = lint(text);
        let message = found
            .iter()
            .find(|f| f.rule == "cd-in-run")
            .map(|f| f.message.as_str());
        assert!(
            message.is_some_and(|m| m.contains("WORKDIR /x")),
            "{message:?}"
        );
        let clean = "FROM busybox:1\nWORKDIR /x\nRUN echo cd /x && abcd x\nRUN echo \"; cd /x\"\nRUN python3 <<EOF\ncd = 1\nEOF\n";
        assert!(hits("cd-in-run", clean).is_empty(), "{:?}", lint(clean));
    }

    #[test]
    fn add_instead_of_copy() {
        let text = "FROM busybox:1\nADD app.sh /app/\nADD --chown=1 a b /app/\nADD <<EOF /etc/motd\nhi\nEOF\n";
        assert_eq!(hits("add-instead-of-copy", text), [2, 3, 4]);
        let clean = "FROM busybox:1\nADD https://example.com/x.sh /x\nADD vendor.tar.gz /opt/\nADD site.TGZ /srv/\nADD git@github.com:a/b.git /src\nADD --checksum=sha256:abc x /y\nADD $FILE /x\nCOPY app.sh /app/\n";
        assert!(hits("add-instead-of-copy", clean).is_empty());
    }

    #[test]
    fn copy_multi_dest_slash() {
        let text =
            "FROM busybox:1\nCOPY a.sh b.sh /app\nADD [\"a\", \"b\", \"/c\"]\nCOPY *.sh /app\n";
        assert_eq!(hits("copy-multi-dest-slash", text), [2, 3, 4]);
        let kinds: Vec<Severity> = lint(text)
            .into_iter()
            .filter(|f| f.rule == "copy-multi-dest-slash")
            .map(|f| f.severity)
            .collect();
        assert_eq!(kinds, [Severity::Error, Severity::Error, Severity::Warning]);
        let clean = "FROM busybox:1\nCOPY a.sh b.sh /app/\nCOPY a b ./\nCOPY a b .\nCOPY app.sh /app\nCOPY *.sh /app/\nCOPY a b $DEST\n";
        assert!(hits("copy-multi-dest-slash", clean).is_empty());
    }

    #[test]
    fn copy_from_unknown_and_self() {
        let text = "FROM busybox:1 AS one\nCOPY --from=two /a /a\nCOPY --from=1 /a /a\nCOPY --from=7 /a /a\nCOPY --from=one /a /a\nCOPY --from=0 /a /a\nFROM busybox:1 AS two\nCOPY --from=two /a /a\nCOPY --from=nope /a /a\n";
        assert_eq!(hits("copy-from-unknown", text), [2, 3, 4, 9]);
        assert_eq!(hits("copy-from-self", text), [5, 6, 8]);
        let clean = "FROM busybox:1 AS Build\nFROM busybox:1\nCOPY --from=build /a /a\nCOPY --from=0 /a /a\nCOPY --from=nginx:1.25 /etc/nginx/nginx.conf /x\nCOPY --from=ghcr.io/a/b /x /y\nCOPY --from=$STAGE /a /a\n";
        assert!(hits("copy-from-unknown", clean).is_empty());
        assert!(hits("copy-from-self", clean).is_empty());
    }

    #[test]
    fn findings_are_capped_and_the_rest_counted() {
        let text = format!("FROM a\n{}", "ARG = = =\n".repeat(3000));
        let found = crate::lint::lint(&text);
        assert_eq!(found.len(), crate::lint::MAX_FINDINGS + 1);
        let last = found.last().expect("a last finding");
        assert!(last.message.contains("more findings"), "{}", last.message);
        // Too long to lint as you type: one finding says so.
        let long = "FROM busybox:1\n".repeat(6000);
        let live = crate::lint::lint_as_you_type(&long);
        assert_eq!(live.len(), 1);
        assert!(live[0].message.contains("too long"), "{}", live[0].message);
    }

    #[test]
    fn stage_names_find_parents_duplicates_and_later_stages() {
        let text = "FROM busybox:1 AS a\nUSER 10000\nFROM a AS a\nFROM a AS b\nCOPY --from=c /x /x\nFROM busybox:1 AS c\nFROM b\n";
        // `a` twice: the second is a duplicate; `--from=c` names a later stage.
        assert_eq!(hits("duplicate-stage-name", text), [3]);
        assert_eq!(hits("copy-from-unknown", text), [5]);
        // The final stage builds on b ← a ← a, which set USER 10000: not root.
        assert!(hits("user-root", text).is_empty());
    }

    #[test]
    fn user_root() {
        // Explicit root in the final stage: a warning on the USER line.
        let text = "FROM busybox:1\nUSER 10000\nFROM busybox:1\nUSER 10000\nUSER root:root\n";
        assert_eq!(hits("user-root", text), [5]);
        assert_eq!(severity("user-root", text), Severity::Warning);
        assert_eq!(hits("user-root", "FROM busybox:1\nUSER 0\n"), [2]);
        // No USER at all: only information, on the final FROM.
        let text = "FROM busybox:1 AS build\nUSER root\nFROM busybox:1\nCMD [\"x\"]\n";
        assert_eq!(hits("user-root", text), [3]);
        assert_eq!(severity("user-root", text), Severity::Info);
        // Build stages never count; a stage built on another inherits its USER.
        let clean = "FROM busybox:1 AS build\nUSER root\nRUN x\nFROM busybox:1\nUSER app\n";
        assert!(hits("user-root", clean).is_empty());
        let inherits = "FROM busybox:1 AS base\nUSER 10000\nFROM base\nCMD [\"x\"]\n";
        assert!(hits("user-root", inherits).is_empty());
        assert!(hits(
            "user-root",
            "FROM busybox:1\nUSER root\nRUN x\nUSER $APP_UID\n"
        )
        .is_empty());
    }

    #[test]
    fn secret_in_env() {
        let text = "ARG GITHUB_TOKEN\nFROM busybox:1\nENV DB_PASSWORD=x APP_MODE=prod\nENV apiKey secret\nARG AWS_SECRET_ACCESS_KEY=\nENV SSH_PRIVATE_KEY=x\nENV NPM_AUTH_TOKEN=x\n";
        assert_eq!(hits("secret-in-env", text), [1, 3, 4, 5, 6, 7]);
        let clean = "FROM busybox:1\nENV POSTGRES_PASSWORD_FILE=/run/secrets/db APP_MODE=prod\nENV TOKENIZER=bpe KEYBOARD=us PRIMARY_KEY=id\nARG VERSION=1\nENV PASSWORDLESS=1\n";
        assert!(hits("secret-in-env", clean).is_empty());
        assert!(lint("FROM busybox:1\nENV API_TOKEN=x\n")
            .iter()
            .any(|f| f.rule == "secret-in-env" && f.message.contains("docker run -e API_TOKEN")));
    }

    #[test]
    fn apt() {
        let text = "FROM debian:12\nRUN apt-get update \\\n && DEBIAN_FRONTEND=noninteractive apt-get install -y curl\nRUN apt install -y --no-install-recommends git\n";
        assert_eq!(hits("apt-no-recommends", text), [2]);
        assert_eq!(hits("apt-no-cleanup", text), [2, 4]);
        let clean = "FROM debian:12\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends curl \\\n && rm -rf /var/lib/apt/lists/*\nRUN --mount=type=cache,target=/var/lib/apt/lists apt-get -o APT::Install-Recommends=false install -y git\nRUN apt-get update\nRUN echo apt-get install x > /notes\n";
        assert!(
            hits("apt-no-recommends", clean).is_empty(),
            "{:?}",
            lint(clean)
        );
        assert!(
            hits("apt-no-cleanup", clean).is_empty(),
            "{:?}",
            lint(clean)
        );
    }

    #[test]
    fn pip_no_cache() {
        let text = "FROM python:3.12\nRUN pip install -r requirements.txt\nRUN python3 -m pip install flask\nRUN /usr/local/bin/pip3.12 install x\n";
        assert_eq!(hits("pip-no-cache", text), [2, 3, 4]);
        let clean = "FROM python:3.12\nRUN pip install --no-cache-dir flask\nRUN PIP_NO_CACHE_DIR=1 pip install x\nRUN pip wheel .\nRUN pip --version\nRUN --mount=type=cache,target=/root/.cache/pip pip install y\n";
        assert!(hits("pip-no-cache", clean).is_empty());
        let env = "FROM python:3.12 AS base\nENV PIP_NO_CACHE_DIR=1\nRUN pip install a\nFROM base\nRUN pip install b\nFROM python:3.12\nRUN pip install c\n";
        assert_eq!(hits("pip-no-cache", env), [7]);
    }

    #[test]
    fn consecutive_run() {
        let text = "FROM busybox:1\nRUN a\n# comment\nRUN b\nRUN c\nCOPY x /x\nRUN d\nRUN --network=none e\nFROM busybox:1\nRUN f\n";
        assert_eq!(hits("consecutive-run", text), [4]);
        assert!(lint(text).iter().any(|f| f.message.contains("3 RUNs")));
        let clean = "FROM busybox:1\nRUN a && b\nCOPY x /x\nRUN c\nFROM busybox:1\nRUN d\n";
        assert!(hits("consecutive-run", clean).is_empty());
    }

    #[test]
    fn shell_form_cmd() {
        let text =
            "FROM busybox:1\nCMD python app.py\nFROM busybox:1\nENTRYPOINT exec ./run.sh $ARGS\n";
        assert_eq!(hits("shell-form-cmd", text), [2, 4]);
        let found = lint(text);
        let cmd = found
            .iter()
            .find(|f| f.rule == "shell-form-cmd")
            .map(|f| f.message.as_str());
        assert!(
            cmd.is_some_and(|m| m.contains("CMD [\"python\", \"app.py\"]")),
            "{cmd:?}"
        );
        let clean = "FROM busybox:1\nCMD [\"python\", \"app.py\"]\nENTRYPOINT [\"/run.sh\"]\nRUN echo shell is fine here\n";
        assert!(hits("shell-form-cmd", clean).is_empty());
    }

    #[test]
    fn multiple_cmd() {
        let text = "FROM busybox:1\nCMD [\"a\"]\nENTRYPOINT [\"x\"]\nCMD [\"b\"]\nENTRYPOINT [\"y\"]\nCMD [\"c\"]\n";
        assert_eq!(hits("multiple-cmd", text), [2, 3, 4]);
        let clean = "FROM busybox:1 AS build\nCMD [\"a\"]\nFROM busybox:1\nENTRYPOINT [\"x\"]\nCMD [\"b\"]\n";
        assert!(hits("multiple-cmd", clean).is_empty());
    }

    #[test]
    fn maintainer() {
        assert_eq!(
            hits(
                "maintainer",
                "FROM busybox:1\n\nMAINTAINER Jo <jo@example.com>\n"
            ),
            [3]
        );
        assert!(hits(
            "maintainer",
            "FROM busybox:1\nLABEL org.opencontainers.image.authors=jo@example.com\n"
        )
        .is_empty());
    }

    #[test]
    fn shell_reading() {
        assert_eq!(
            shell_commands("a 'b c' \"d\\\"e\" && f|g; h 2>&1 # note\ni"),
            [
                vec!["a", "b c", "d\"e"],
                vec!["f"],
                vec!["g"],
                vec!["h", "2>&1"],
                vec!["i"]
            ]
        );
        let command: Vec<String> = ["sudo", "A=1", "apt-get", "install"]
            .map(String::from)
            .to_vec();
        let (prefix, program) = split_program(&command);
        assert_eq!((prefix.len(), program[0].as_str()), (2, "apt-get"));
        assert!(looks_secret("client_secret") && !looks_secret("HOME"));
    }

    /// The course's own solutions must build, so they must not have errors.
    #[test]
    fn the_course_solutions_have_no_errors() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../exercises");
        let mut checked = 0;
        for entry in std::fs::read_dir(&root)
            .expect("exercises folder")
            .flatten()
        {
            let dir = entry.path();
            let Some(file) = ["solution/Dockerfile", "starter/Dockerfile"]
                .iter()
                .map(|f| dir.join(f))
                .find(|p| p.is_file())
            else {
                continue;
            };
            let text = std::fs::read_to_string(&file).expect("read");
            let errors: Vec<LintFinding> = lint(&text)
                .into_iter()
                .filter(|f| f.severity == Severity::Error)
                .collect();
            assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
            checked += 1;
        }
        assert!(
            checked >= 10,
            "only {checked} exercises found in {}",
            root.display()
        );
    }
}
