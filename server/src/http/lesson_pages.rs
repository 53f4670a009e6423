//! Lesson pages as they were rendered, kept by everything they show.
//!
//! A lesson page is a function of the lesson (fixed while the server runs), the engine banner
//! and the learner's last grade on each of the lesson's quizzes — no name, no id, nothing else
//! of the learner's. So the page is rendered once per distinct [`PageKey`] and kept: the
//! learners who have not answered yet share one rendering, a learner who answers gets a new
//! one. Every response still gets its own CSP nonce: a page is kept cut at the nonce it was
//! rendered with, and joined again around a fresh one.
//!
//! Memory is bounded by `budget` bytes of kept HTML (`--page-memo-mb`; a key holds no more
//! than its page shows); past it, everything kept is dropped and the memo fills again. A
//! budget of 0 renders every page afresh.

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

/// How full the memo is (`/api/v1/status`).
#[derive(Debug, PartialEq, serde::Serialize)]
pub struct Usage {
    pub kept: usize,
    pub bytes: usize,
    pub budget_bytes: usize,
}

impl Page {
    /// Cut `html` at each place `nonce` appears (the inline scripts' `nonce` attributes).
    fn cut(html: &str, nonce: &str) -> Page {
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

    /// Keep `html`, rendered with `nonce`, as the page for `key` if it fits the budget.
    pub fn keep(&self, key: PageKey, html: &str, nonce: &str) {
        let size = html.len();
        if size > self.budget {
            return;
        }
        let page = Arc::new(Page::cut(html, nonce));
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
        if let Some(old) = kept.pages.insert(key, page) {
            kept.bytes -= old.bytes();
        }
        kept.bytes += size;
    }

    pub fn usage(&self) -> Usage {
        let kept = self.lock();
        Usage {
            kept: kept.pages.len(),
            bytes: kept.bytes,
            budget_bytes: self.budget,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        crate::sync::lock(&self.kept)
    }
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
        let usage = |kept, bytes| Usage {
            kept,
            bytes,
            budget_bytes: 100,
        };
        let html = |n: usize| "x".repeat(n);
        pages.keep(key("a", None), &html(40), "nonce");
        pages.keep(key("b", None), &html(40), "nonce");
        assert_eq!(pages.usage(), usage(2, 80));
        assert!(pages.get(&key("a", None)).is_some());
        // The banner is part of the key: the same lesson with a banner is another page.
        assert!(pages.get(&key("a", Some("engine down"))).is_none());
        // A third would pass the budget: what was kept goes, the new one stays.
        pages.keep(key("c", None), &html(40), "nonce");
        assert_eq!(pages.usage(), usage(1, 40));
        assert!(pages.get(&key("a", None)).is_none());
        // Keeping a key again replaces its page and counts it once.
        pages.keep(key("c", None), &html(20), "nonce");
        assert_eq!(pages.usage(), usage(1, 20));
        // A page bigger than the whole budget is not kept; a budget of 0 keeps nothing.
        pages.keep(key("d", None), &html(500), "nonce");
        assert!(pages.get(&key("d", None)).is_none());
        let none = LessonPages::new(0);
        none.keep(key("a", None), &html(1), "nonce");
        assert_eq!(none.usage().kept, 0);
    }
}
