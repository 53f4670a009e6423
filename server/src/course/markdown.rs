//! The one place that turns lesson markdown into HTML: it owns the pulldown-cmark options,
//! gives headings stable ids (so feedback can link to a paragraph), and sanitizes the result.

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// Classes a fenced code block may carry (`language-` + the fence's language); other
/// languages keep their text but lose the class.
const CODE_CLASSES: &[&str] = &[
    "language-dockerfile",
    "language-sh",
    "language-console",
    "language-text",
    "language-python",
    "language-json",
    "language-toml",
    "language-yaml",
    "language-ini",
];

pub fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_SMART_PUNCTUATION
}

/// Render a block of markdown (a lesson section) to sanitized HTML.
pub fn render_block(src: &str) -> String {
    render_block_trying_at(src, "/console")
}

/// [`render_block`], with "Try it" links opening the console on `page` (a console
/// exercise's own page, whose console is on it).
pub fn render_block_trying_at(src: &str, page: &str) -> String {
    let events = with_heading_ids(
        with_try_blocks(Parser::new_ext(src, options()).collect(), page)
            .into_iter()
            .map(lowercase_code_language)
            .collect(),
    );
    let mut html = String::with_capacity(src.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    sanitizer().clean(&html).to_string()
}

/// Render a short piece (a quiz prompt or option) to inline HTML, without the wrapping `<p>`.
pub fn render_inline(src: &str) -> String {
    let html = render_block(src);
    let trimmed = html.trim();
    match trimmed
        .strip_prefix("<p>")
        .and_then(|s| s.strip_suffix("</p>"))
    {
        Some(inner) if !inner.contains("<p>") => inner.to_string(),
        _ => trimmed.to_string(),
    }
}

fn lowercase_code_language(event: Event<'_>) -> Event<'_> {
    use pulldown_cmark::CodeBlockKind;
    match event {
        Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) => {
            let mut lang = lang
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            if !CODE_CLASSES
                .iter()
                .any(|c| c.strip_prefix("language-") == Some(lang.as_str()))
            {
                lang.clear();
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(CowStr::from(lang))))
        }
        other => other,
    }
}

/// A ```` ```try ```` block: commands to run in the docker console, one a line. Each is shown
/// as code with a link that opens the console with it typed in (`/console?try=…`): the
/// learner reads it, then presses Enter.
fn with_try_blocks<'a>(events: Vec<Event<'a>>, page: &str) -> Vec<Event<'a>> {
    use pulldown_cmark::CodeBlockKind;
    let mut out = Vec::with_capacity(events.len());
    let mut inside: Option<String> = None;
    for event in events {
        match (&mut inside, event) {
            (None, Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))))
                if lang.trim().eq_ignore_ascii_case("try") =>
            {
                inside = Some(String::new());
            }
            (Some(text), Event::Text(t)) => text.push_str(&t),
            (Some(text), Event::End(TagEnd::CodeBlock)) => {
                out.push(Event::Html(CowStr::from(try_block(text, page))));
                inside = None;
            }
            (Some(_), _) => {}
            (None, other) => out.push(other),
        }
    }
    out
}

fn try_block(text: &str, page: &str) -> String {
    let escape = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut html = format!(
        "<div class=\"try-it\"><pre><code class=\"language-sh\">{}</code></pre><p class=\"try-it-links\">",
        escape(&lines.join("\n"))
    );
    for line in &lines {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("try", line)
            .finish();
        html.push_str(&format!(
            "<a class=\"try-it-link\" href=\"{page}?{}\">Try <code>{}</code> in the console</a> ",
            escape(&query),
            escape(line)
        ));
    }
    html.push_str("</p></div>\n");
    html
}

/// Give every `##`-and-deeper heading an id made from its text, unique within the document.
fn with_heading_ids(mut events: Vec<Event<'_>>) -> Vec<Event<'_>> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut i = 0;
    while i < events.len() {
        if let Event::Start(Tag::Heading {
            level, id: None, ..
        }) = &events[i]
        {
            if *level != HeadingLevel::H1 {
                let mut text = String::new();
                for e in &events[i + 1..] {
                    match e {
                        Event::End(TagEnd::Heading(_)) => break,
                        Event::Text(t) | Event::Code(t) => text.push_str(t),
                        _ => {}
                    }
                }
                let base = slugify(&text);
                let n = seen.entry(base.clone()).or_insert(0);
                let slug = if *n == 0 { base } else { format!("{base}-{n}") };
                *n += 1;
                if let Event::Start(Tag::Heading { id, .. }) = &mut events[i] {
                    *id = Some(CowStr::from(slug));
                }
            }
        }
        i += 1;
    }
    events
}

/// `"Why `latest` surprises you"` → `why-latest-surprises-you`.
pub fn slugify(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "section".into()
    } else {
        out
    }
}

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        b.allowed_classes(HashMap::from([
            ("code", CODE_CLASSES.iter().copied().collect::<HashSet<_>>()),
            ("div", HashSet::from(["try-it"])),
            ("p", HashSet::from(["try-it-links"])),
            ("a", HashSet::from(["try-it-link"])),
        ]));
        for h in ["h2", "h3", "h4", "h5", "h6"] {
            b.add_tag_attributes(h, ["id"]);
        }
        b
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_block_keeps_its_language_class() {
        let html = render_block("```Dockerfile\nFROM busybox:1.36\nRUN echo hi\n```\n");
        insta::assert_snapshot!(html);
    }

    #[test]
    fn tables_headings_and_inline_code() {
        let html = render_block(
            "## Which instructions add a layer?\n\n| Instruction | New layer? |\n|---|---|\n| `RUN` | yes |\n| `ENV` | no |\n\n## Which instructions add a layer?\n",
        );
        insta::assert_snapshot!(html);
    }

    #[test]
    fn a_try_block_links_each_command_to_the_console() {
        let html =
            render_block("```try\ndocker ps -a\ndocker logs web --tail 5 && echo \"<b>\"\n```\n");
        assert!(html.contains(r#"<div class="try-it">"#), "{html}");
        assert!(
            html.contains(r#"href="/console?try=docker+ps+-a""#),
            "{html}"
        );
        assert!(
            html.contains("/console?try=docker+logs+web+--tail+5+%26%26+echo+%22%3Cb%3E%22"),
            "{html}"
        );
        assert!(
            html.contains("Try <code>docker ps -a</code> in the console"),
            "{html}"
        );
        assert!(!html.contains("<b>"), "text stays text: {html}");
    }

    #[test]
    fn scripts_and_event_handlers_are_removed() {
        let html = render_block(
            "Hello <script>alert(1)</script><img src=x onerror=alert(2)> [x](javascript:alert(3))\n\n```evil\n<b>not markup</b>\n```\n",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(
            html.contains("&lt;b&gt;not markup&lt;/b&gt;"),
            "code text stays escaped: {html}"
        );
        assert!(
            !html.contains("language-evil"),
            "unknown languages lose the class: {html}"
        );
        insta::assert_snapshot!(html);
    }

    #[test]
    fn inline_rendering_drops_the_paragraph() {
        assert_eq!(
            render_inline("Tag `1.14.0` then *refactor*"),
            "Tag <code>1.14.0</code> then <em>refactor</em>"
        );
        assert_eq!(render_inline("one\n\ntwo"), "<p>one</p>\n<p>two</p>");
    }

    #[test]
    fn slugs() {
        assert_eq!(
            slugify("Why `latest` surprises you"),
            "why-latest-surprises-you"
        );
        assert_eq!(slugify("  ?? "), "section");
        assert_eq!(slugify("Größe & Layers"), "größe-layers");
    }
}
