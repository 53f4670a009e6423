//! A Dockerfile linter for learners. It runs on the server and in the browser as the learner
//! types, so it is plain Rust with no extra dependencies. Every finding links to the lesson
//! paragraph that explains the point (`/learn/<slug>#<heading-id>`).

pub mod parse;
mod rules;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The build fails, or does something other than what was written.
    Error,
    /// Works, but is a known trap.
    Warning,
    /// Worth knowing; fine to ignore.
    Info,
}

impl Severity {
    /// The wire name, also the CSS class: `error`, `warning`, `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One thing the linter noticed, on one line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LintFinding {
    /// A [`Rule::id`].
    pub rule: String,
    pub severity: Severity,
    /// 1-based line the instruction starts on.
    pub line: u32,
    /// One line of plain English saying what to do.
    pub message: String,
    /// The lesson paragraph that explains it: `/learn/<slug>#<heading-id>`.
    pub lesson: String,
}

/// A rule the linter applies. `severity` is the usual one; a few findings are milder (a
/// missing `USER` is only [`Severity::Info`], a `COPY` wildcard into a file only a warning).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    /// `/learn/<slug>#<heading-id>`.
    pub lesson: &'static str,
    pub summary: &'static str,
}

impl Rule {
    fn at(&self, line: u32, message: impl Into<String>) -> LintFinding {
        LintFinding {
            rule: self.id.to_string(),
            severity: self.severity,
            line,
            message: message.into(),
            lesson: self.lesson.to_string(),
        }
    }
}

const fn rule(
    id: &'static str,
    severity: Severity,
    lesson: &'static str,
    summary: &'static str,
) -> Rule {
    Rule {
        id,
        severity,
        lesson,
        summary,
    }
}

use Severity::{Error, Info, Warning};

const PARSE_ERROR: Rule = rule(
    "parse-error",
    Error,
    "/learn/anatomy-of-a-dockerfile#build-list-run-read",
    "A line the builder cannot read: unknown instruction, broken JSON list, unclosed heredoc…",
);
const FROM_LATEST: Rule = rule(
    "from-latest",
    Warning,
    "/learn/tags-and-semver#a-tag-is-a-movable-label",
    "FROM without a tag, or with :latest, can change under you.",
);
const DUPLICATE_STAGE_NAME: Rule = rule(
    "duplicate-stage-name",
    Error,
    "/learn/multi-stage-builds#one-dockerfile-two-stages",
    "Two stages have the same AS name.",
);
const WORKDIR_RELATIVE: Rule = rule(
    "workdir-relative",
    Warning,
    "/learn/workdir-and-env#workdir-always-absolute",
    "A relative WORKDIR depends on the WORKDIR before it.",
);
const CD_IN_RUN: Rule = rule(
    "cd-in-run",
    Warning,
    "/learn/workdir-and-env#workdir-always-absolute",
    "`cd` in a RUN only lasts for that RUN; use WORKDIR.",
);
const ADD_INSTEAD_OF_COPY: Rule = rule(
    "add-instead-of-copy",
    Warning,
    "/learn/copy-add-and-dockerignore#add-two-extra-tricks",
    "ADD of plain local files, where COPY does the job without surprises.",
);
const COPY_MULTI_DEST_SLASH: Rule = rule(
    "copy-multi-dest-slash",
    Error,
    "/learn/copy-add-and-dockerignore#copy-the-one-to-reach-for",
    "Several sources (or a wildcard) copied to a destination that does not end in /.",
);
const COPY_FROM_UNKNOWN: Rule = rule(
    "copy-from-unknown",
    Error,
    "/learn/multi-stage-builds#one-dockerfile-two-stages",
    "COPY --from names no earlier stage.",
);
const COPY_FROM_SELF: Rule = rule(
    "copy-from-self",
    Error,
    "/learn/multi-stage-builds#one-dockerfile-two-stages",
    "COPY --from names the stage it is in.",
);
const USER_ROOT: Rule = rule(
    "user-root",
    Warning,
    "/learn/non-root-users#give-it-its-files-then-switch",
    "The final image runs as root.",
);
const SECRET_IN_ENV: Rule = rule(
    "secret-in-env",
    Warning,
    "/learn/workdir-and-env#why-secrets-do-not-belong-in-env",
    "An ENV or ARG whose name looks like a secret; it stays readable in the image.",
);
const APT_NO_RECOMMENDS: Rule = rule(
    "apt-no-recommends",
    Info,
    "/learn/multi-stage-builds#what-the-final-stage-keeps",
    "apt-get install without --no-install-recommends pulls in extra packages.",
);
const APT_NO_CLEANUP: Rule = rule(
    "apt-no-cleanup",
    Warning,
    "/learn/what-is-an-image#why-a-deleted-file-still-costs-space",
    "apt-get install in a RUN that leaves /var/lib/apt/lists in the layer.",
);
const PIP_NO_CACHE: Rule = rule(
    "pip-no-cache",
    Info,
    "/learn/packaging-python-apps#stage-two-install-and-serve",
    "pip install without --no-cache-dir keeps pip's download cache in the layer.",
);
const CONSECUTIVE_RUN: Rule = rule(
    "consecutive-run",
    Info,
    "/learn/what-is-an-image#which-instructions-make-a-layer",
    "RUN instructions in a row that could be one RUN (and one layer).",
);
const SHELL_FORM_CMD: Rule = rule(
    "shell-form-cmd",
    Warning,
    "/learn/cmd-entrypoint-and-debugging#two-instructions-one-command-line",
    "CMD or ENTRYPOINT in shell form runs under /bin/sh -c and misses stop signals.",
);
const MULTIPLE_CMD: Rule = rule(
    "multiple-cmd",
    Warning,
    "/learn/cmd-entrypoint-and-debugging#two-instructions-one-command-line",
    "More than one CMD (or ENTRYPOINT) in a stage: only the last one counts.",
);
const MAINTAINER: Rule = rule(
    "maintainer",
    Warning,
    "/learn/what-is-an-image#which-instructions-make-a-layer",
    "MAINTAINER is deprecated; use a LABEL.",
);

/// Every rule [`lint`] applies.
pub static RULES: &[Rule] = &[
    PARSE_ERROR,
    FROM_LATEST,
    DUPLICATE_STAGE_NAME,
    WORKDIR_RELATIVE,
    CD_IN_RUN,
    ADD_INSTEAD_OF_COPY,
    COPY_MULTI_DEST_SLASH,
    COPY_FROM_UNKNOWN,
    COPY_FROM_SELF,
    USER_ROOT,
    SECRET_IN_ENV,
    APT_NO_RECOMMENDS,
    APT_NO_CLEANUP,
    PIP_NO_CACHE,
    CONSECUTIVE_RUN,
    SHELL_FORM_CMD,
    MULTIPLE_CMD,
    MAINTAINER,
];

/// The largest Dockerfile linted as the learner types (a build lints any size it accepts).
pub const MAX_LIVE_LINT_BYTES: usize = 64 * 1024;

/// Lint as the learner types: [`lint`], or for a Dockerfile over [`MAX_LIVE_LINT_BYTES`] one
/// finding saying it is only linted when built.
pub fn lint_as_you_type(dockerfile: &str) -> Vec<LintFinding> {
    if dockerfile.len() > MAX_LIVE_LINT_BYTES {
        return vec![PARSE_ERROR.at(
            1,
            format!(
                "this Dockerfile is over {} KiB, too long to check as you type; building it shows the findings",
                MAX_LIVE_LINT_BYTES / 1024
            ),
        )];
    }
    lint(dockerfile)
}

/// Findings given at most: past them one more says how many were left out (a page of
/// findings is already more than anyone fixes at once, and the list goes to the browser).
pub const MAX_FINDINGS: usize = 200;

/// Lint a Dockerfile: findings sorted by line, then rule id (at most [`MAX_FINDINGS`] and
/// one that counts the rest).
pub fn lint(dockerfile: &str) -> Vec<LintFinding> {
    let df = parse::parse(dockerfile);
    let mut out: Vec<LintFinding> = df
        .errors
        .iter()
        .map(|e| PARSE_ERROR.at(e.line, e.message.as_str()))
        .collect();
    rules::check(&df, &mut out);
    out.sort_by(|a, b| a.line.cmp(&b.line).then_with(|| a.rule.cmp(&b.rule)));
    if out.len() > MAX_FINDINGS {
        let left = out.len() - MAX_FINDINGS;
        out.truncate(MAX_FINDINGS);
        let line = out.last().map_or(1, |f| f.line);
        out.push(PARSE_ERROR.at(
            line,
            format!("…and {left} more findings not listed; fix these first"),
        ));
    }
    out
}
