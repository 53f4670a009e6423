//! Lesson pages as they were rendered, kept by everything they show.
//!
//! A lesson page is a function of the lesson (fixed while the server runs), the engine banner
//! and the learner's last grade on each of the lesson's quizzes — no name, no id, nothing else
//! of the learner's. So the page is rendered once per distinct [`PageKey`] and kept: the
//! learners who have not answered yet share one rendering, a learner who answers gets a new
//! one. Every response still gets its own CSP nonce: a page is kept cut at the nonce it was
//! rendered with, and joined again around a fresh one.
//!
//! Memory is bounded by `budget` bytes of kept HTML (`--page-memo-mb`); past it, everything
//! kept is dropped and the memo fills again. A budget of 0 renders every page afresh.

use app::dto::QuizGrade;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Everything a lesson page shows that can differ between two requests for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub slug: String,
    /// What the engine banner says, if anything.
    pub banner: Option<String>,
    /// The learner's last grade on each of the lesson's quizzes, in the lesson's order.
    pub grades: Vec<(String, Option<QuizGrade>)>,
}

/// A rendered page, cut where its nonce was.
#[derive(Debug)]
pub struct Page {
    parts: Vec<String>,
}

impl Page {
    /// Cut `html` at each place `nonce` appears (the inline scripts' `nonce` attributes).
    pub fn cut(html: &str, nonce: &str) -> Page {
        assert!(!nonce.is_empty(), "a page is cut at a non-empty nonce");
        Page {
            parts: html.split(nonce).map(str::to_string).collect(),
        }
    }

    /// The page with `nonce` where the old one was.
    pub fn with_nonce(&self, nonce: &str) -> String {
        let len = self.parts.iter().map(String::len).sum::<usize>()
            + nonce.len() * self.parts.len().saturating_sub(1);
        let mut html = String::with_capacity(len);
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                html.push_str(nonce);
            }
            html.push_str(part);
        }
        html
    }

    fn bytes(&self) -> usize {
        self.parts.iter().map(String::len).sum()
    }
}

pub struct LessonPages {
    budget: usize,
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    pages: HashMap<PageKey, Arc<Page>>,
    bytes: usize,
}

impl LessonPages {
    pub fn new(budget_bytes: usize) -> LessonPages {
        LessonPages {
            budget: budget_bytes,
            kept: Mutex::default(),
        }
    }

    pub fn get(&self, key: &PageKey) -> Option<Arc<Page>> {
        self.lock().pages.get(key).cloned()
    }

    /// Keep `page` for `key`, within the budget.
    pub fn keep(&self, key: PageKey, page: Arc<Page>) {
        let size = page.bytes() + key_bytes(&key);
        if size > self.budget {
            return;
        }
        let mut kept = self.lock();
        if kept.bytes + size > self.budget {
            tracing::debug!(
                "lesson pages: {} kept pages ({} bytes) dropped to stay within {} bytes",
                kept.pages.len(),
                kept.bytes,
                self.budget
            );
            *kept = Kept::default();
        }
        if let Some(old) = kept.pages.insert(key.clone(), page) {
            kept.bytes -= old.bytes() + key_bytes(&key);
        }
        kept.bytes += size;
    }

    /// The most bytes kept at once.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// How many pages are kept, and their bytes (`/api/v1/status` shows them).
    pub fn usage(&self) -> (usize, usize) {
        let kept = self.lock();
        (kept.pages.len(), kept.bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Roughly what a key holds (its strings), counted against the budget with its page.
fn key_bytes(key: &PageKey) -> usize {
    let grade = |g: &QuizGrade| {
        g.quiz.len()
            + g.questions
                .iter()
                .map(|q| {
                    q.id.len()
                        + q.explanation_html.len()
                        + q.given.iter().map(String::len).sum::<usize>()
                })
                .sum::<usize>()
    };
    key.slug.len()
        + key.banner.as_ref().map_or(0, String::len)
        + key
            .grades
            .iter()
            .map(|(id, g)| id.len() + g.as_ref().map_or(0, grade))
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(slug: &str, banner: Option<&str>) -> PageKey {
        PageKey {
            slug: slug.into(),
            banner: banner.map(str::to_string),
            grades: vec![("q".into(), None)],
        }
    }

    #[test]
    fn a_page_gets_the_new_nonce_everywhere_the_old_one_was() {
        let html = r#"<script nonce="OLD">a</script><p>x</p><script nonce="OLD">b</script>"#;
        let page = Page::cut(html, "OLD");
        assert_eq!(
            page.with_nonce("fresh"),
            r#"<script nonce="fresh">a</script><p>x</p><script nonce="fresh">b</script>"#
        );
        assert_eq!(
            Page::cut("no scripts", "OLD").with_nonce("new"),
            "no scripts"
        );
    }

    #[test]
    fn kept_pages_stay_within_the_budget() {
        let pages = LessonPages::new(100);
        let page = |n: usize| Arc::new(Page::cut(&"x".repeat(n), "nonce"));
        pages.keep(key("a", None), page(40));
        pages.keep(key("b", None), page(40));
        assert_eq!(pages.usage(), (2, 2 * (40 + 2)));
        assert!(pages.get(&key("a", None)).is_some());
        // The banner is part of the key: the same lesson with a banner is another page.
        assert!(pages.get(&key("a", Some("engine down"))).is_none());
        // A third would pass the budget: what was kept goes, the new one stays.
        pages.keep(key("c", None), page(40));
        assert_eq!(pages.usage(), (1, 42));
        assert!(pages.get(&key("a", None)).is_none());
        // Keeping a key again replaces its page and counts it once.
        pages.keep(key("c", None), page(20));
        assert_eq!(pages.usage(), (1, 22));
        // A page bigger than the whole budget is not kept; a budget of 0 keeps nothing.
        pages.keep(key("d", None), page(500));
        assert!(pages.get(&key("d", None)).is_none());
        let none = LessonPages::new(0);
        none.keep(key("a", None), page(1));
        assert_eq!(none.usage(), (0, 0));
    }
}
