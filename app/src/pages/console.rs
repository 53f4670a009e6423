//! The docker console in the page: what each command printed (the rows the server's terminal
//! drew, in their colours), a line to type into, and Stop. The server runs the commands in
//! the learner's toolbox (`/api/v1/console…`); the page only shows its event stream and sends
//! what is typed. Plain text in a log region, so screen readers follow it; the browser's part
//! works on the server's markup with a few DOM calls (a reactive view of it cost the bundle
//! more than its budget allows).

use leptos::prelude::*;

/// The console: on its own page (`docked` false) it connects at once; docked under a lesson
/// or an exercise (inside a `<details>`), when the learner opens it. The markup is the
/// server's; [`ConsoleLive`] brings it to life.
#[component]
pub(crate) fn Console(
    docked: bool,
    /// A command typed in already (a lesson's "Try it in the console" link).
    #[prop(default = None)]
    line: Option<String>,
) -> impl IntoView {
    let focus = line.is_some();
    view! {
        <section class="console" aria-label="Docker console" data-docked=docked.to_string()>
            <p class="console-state muted" role="status">
                {if docked { "Your toolbox starts when you open this." } else { "Connecting…" }}
            </p>
            <p class="console-ports" hidden></p>
            <div class="console-out" role="log" aria-label="What your commands printed" tabindex="0"></div>
            <form class="console-form">
                <span class="console-prompt" aria-hidden="true">"$"</span>
                <input id="console-line" type="text" aria-label="Command" autocomplete="off"
                    autocapitalize="off" spellcheck="false" aria-describedby="console-keys"
                    placeholder="docker ps" value=line autofocus=focus/>
                <button class="button" type="submit">"Run"</button>
                <button class="button console-stop" type="button" disabled>"Stop"</button>
            </form>
            <p class="error-box console-problem" role="alert" hidden></p>
            <p class="console-keys muted" id="console-keys">
                "↑ and ↓ bring back earlier commands. Ctrl-C or Stop interrupts the running command (twice ends it). While a command runs, what you type goes to it."
            </p>
            <noscript><p class="error-box">"The console needs JavaScript."</p></noscript>
            <ConsoleLive/>
        </section>
    }
}

/// The browser's part of every console on the page: nothing drawn, only the handlers (a
/// hydrated view of the console's markup cost the bundle kilobytes it does not have).
#[island]
fn ConsoleLive() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async { live::attach_all() });
}

/// The console docked under a lesson or an exercise: closed until the learner opens it.
#[component]
pub(crate) fn ConsoleDock() -> impl IntoView {
    view! {
        <details class="console-dock">
            <summary>"Docker console"<span class="muted">" — the real docker CLI, your own containers"</span></summary>
            <Console docked=true/>
            <p class="muted"><a href="/console">"Open the console on a page of its own"</a></p>
        </details>
    }
}

/// `/console`: the console on a page of its own.
#[component]
pub fn ConsolePage() -> impl IntoView {
    // `/console?try=docker%20ps`: the command typed in, for the learner to run with Enter.
    let line = leptos_router::hooks::use_query_map()
        .read_untracked()
        .get("try")
        .filter(|l| !l.is_empty() && l.len() <= 4096);
    view! {
        <leptos_meta::Title text="Docker console"/>
        <section class="panel console-page">
            <h1>"Docker console"</h1>
            <p class="muted">
                "Type docker commands as on your own machine. They run in a toolbox of yours, and the engine they reach shows and accepts only your own containers and images, within the workshop's limits."
            </p>
            <Console docked=false line/>
        </section>
    }
}

#[cfg(feature = "hydrate")]
mod live {
    use serde_json::Value;
    use std::cell::RefCell;
    use std::rc::Rc;
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{Element, HtmlButtonElement, HtmlElement, HtmlInputElement};

    struct Console {
        out: Element,
        state: Element,
        ports: HtmlElement,
        input: HtmlInputElement,
        stop: HtmlButtonElement,
        problem: HtmlElement,
        running: RefCell<Option<u64>>,
        history: RefCell<Vec<String>>,
        /// Where ↑/↓ are in the history (its length: not browsing).
        at: RefCell<usize>,
        feed: RefCell<Option<crate::pages::EventFeed>>,
        opened: std::cell::Cell<bool>,
    }

    fn find<T: JsCast>(section: &Element, selector: &str) -> Option<T> {
        section.query_selector(selector).ok()??.dyn_into().ok()
    }

    fn listen(target: &Element, name: &str, f: impl FnMut(web_sys::Event) + 'static) {
        let f = Closure::<dyn FnMut(web_sys::Event)>::new(f);
        let _ = target.add_event_listener_with_callback(name, f.as_ref().unchecked_ref());
        f.forget();
    }

    /// Bring every console of the page to life (once each).
    pub(super) fn attach_all() {
        let document = leptos::prelude::document();
        // (Each one is marked live as it is taken.)
        while let Ok(Some(section)) = document.query_selector("section.console:not([data-live])") {
            let docked = section.get_attribute("data-docked").as_deref() == Some("true");
            attach(section, docked);
        }
    }

    fn attach(section: Element, docked: bool) {
        let _ = section.set_attribute("data-live", "");
        let (
            Some(out),
            Some(state),
            Some(ports),
            Some(input),
            Some(stop),
            Some(problem),
            Some(form),
        ) = (
            find(&section, ".console-out"),
            find(&section, ".console-state"),
            find(&section, ".console-ports"),
            find(&section, "input"),
            find(&section, ".console-stop"),
            find(&section, ".console-problem"),
            find::<Element>(&section, "form"),
        )
        else {
            return;
        };
        let console = Rc::new(Console {
            out,
            state,
            ports,
            input,
            stop,
            problem,
            running: RefCell::new(None),
            history: RefCell::default(),
            at: RefCell::new(0),
            feed: RefCell::new(None),
            opened: std::cell::Cell::new(false),
        });
        let c = console.clone();
        listen(&form, "submit", move |e: web_sys::Event| {
            e.prevent_default();
            c.clone().submit();
        });
        let c = console.clone();
        listen(&console.input, "keydown", move |e: web_sys::Event| {
            if let Some(e) = e.dyn_ref() {
                c.key(e);
            }
        });
        let c = console.clone();
        listen(&console.stop, "click", move |_: web_sys::Event| {
            c.post("interrupt", Value::Null);
        });
        match section.closest("details").ok().flatten() {
            Some(details) if docked => {
                let c = console.clone();
                listen(&details.clone(), "toggle", move |_: web_sys::Event| {
                    if details.has_attribute("open") {
                        c.clone().connect();
                    }
                });
            }
            _ => console.connect(),
        }
    }

    impl Console {
        /// Open the console (its toolbox starts), then follow its events. (In that order: the
        /// first request of a new learner starts their session, which the stream must share.)
        fn connect(self: Rc<Self>) {
            if self.opened.replace(true) {
                return;
            }
            let (sender, mut events) = futures::channel::mpsc::unbounded();
            self.state.set_text_content(Some("Starting your toolbox…"));
            leptos::task::spawn_local(async move {
                use futures::StreamExt;
                self.send("", Value::Null).await;
                *self.feed.borrow_mut() =
                    crate::pages::EventFeed::open("/api/v1/console/events", &["console"], &sender);
                while let Some((name, data)) = events.next().await {
                    if name == "error" {
                        let gone = self.feed.borrow().as_ref().is_none_or(|f| f.refused());
                        if gone {
                            self.feed.borrow_mut().take();
                            self.state.set_text_content(Some(
                                "The console is not reachable. Reload the page to try again.",
                            ));
                            return;
                        }
                        continue;
                    }
                    if let Ok(event) = serde_json::from_str::<Value>(&data) {
                        self.show(&event);
                    }
                }
            });
        }

        fn submit(self: Rc<Self>) {
            let text = self.input.value();
            if self.running.borrow().is_some() {
                self.post("input", serde_json::json!({ "text": format!("{text}\r") }));
            } else if text.trim().is_empty() {
                return;
            } else {
                self.clone().connect();
                self.post("commands", serde_json::json!({ "line": text }));
            }
            self.input.set_value("");
        }

        fn key(self: &Rc<Self>, e: &web_sys::KeyboardEvent) {
            let key = e.key();
            if e.ctrl_key() && (key == "c" || key == "d") {
                // Ctrl-C with text selected copies it, as everywhere.
                let selected = self.input.selection_start().ok().flatten()
                    != self.input.selection_end().ok().flatten();
                if key == "c" && !selected {
                    // As at a shell's prompt: with nothing running, the line is dropped.
                    e.prevent_default();
                    if self.running.borrow().is_some() {
                        self.post("interrupt", Value::Null);
                    } else {
                        self.input.set_value("");
                    }
                } else if key == "d" && self.input.value().is_empty() {
                    e.prevent_default();
                    self.post("input", serde_json::json!({ "text": "\u{4}" }));
                }
                return;
            }
            let history = self.history.borrow();
            let mut at = self.at.borrow_mut();
            let to = match key.as_str() {
                "ArrowUp" if *at > 0 => *at - 1,
                "ArrowDown" if *at < history.len() => *at + 1,
                _ => return,
            };
            e.prevent_default();
            *at = to;
            self.input
                .set_value(history.get(to).map_or("", String::as_str));
        }

        /// POST to `/api/v1/console/<what>`, meanwhile going on; a refusal is shown.
        fn post(self: &Rc<Self>, what: &'static str, body: Value) {
            let me = self.clone();
            leptos::task::spawn_local(async move { me.send(what, body).await });
        }

        /// POST to `/api/v1/console/<what>`; a refusal is shown.
        async fn send(&self, what: &str, body: Value) {
            let url = if what.is_empty() {
                "/api/v1/console".to_string()
            } else {
                format!("/api/v1/console/{what}")
            };
            self.problem.set_hidden(true);
            let sent = match gloo_net::http::Request::post(&url).json(&body) {
                Ok(request) => request.send().await,
                Err(e) => Err(e),
            };
            let message = match sent {
                Ok(r) if r.ok() => return,
                Ok(r) => crate::pages::refusal(r, "The console did not take that.").await,
                Err(e) => format!("The server could not be reached: {e}"),
            };
            self.problem.set_text_content(Some(&message));
            self.problem.set_hidden(false);
        }

        fn command(&self, id: u64) -> Option<Element> {
            self.out
                .query_selector(&format!("[data-command=\"{id}\"]"))
                .ok()
                .flatten()
        }

        /// Draw one event of the stream (a stream that begins again redraws the same).
        fn show(&self, event: &Value) {
            let document = leptos::prelude::document();
            let make = |tag: &str, class: &str| {
                let e = document.create_element(tag).ok()?;
                e.set_class_name(class);
                Some(e)
            };
            let id = event["id"].as_u64().unwrap_or_default();
            let text = |key: &str| event[key].as_str().unwrap_or_default().to_string();
            let bottom =
                self.out.scroll_top() + self.out.client_height() >= self.out.scroll_height() - 40;
            match event["kind"].as_str().unwrap_or_default() {
                "state" => self.state.set_text_content(Some(&text("message"))),
                "command" => {
                    if let Some(old) = self.command(id) {
                        old.remove();
                    }
                    let (Some(block), Some(line), Some(rows), Some(end)) = (
                        make("div", "console-command"),
                        make("p", "console-line"),
                        make("pre", "console-rows"),
                        make("p", "console-end"),
                    ) else {
                        return;
                    };
                    let _ = block.set_attribute("data-command", &id.to_string());
                    let typed = text("line");
                    line.set_text_content(Some(&format!("$ {typed}")));
                    let _ = block.append_with_node_3(&line, &rows, &end);
                    let _ = self.out.append_child(&block);
                    *self.running.borrow_mut() = Some(id);
                    self.stop.set_disabled(false);
                    self.input.set_placeholder("typing to the running command");
                    let mut history = self.history.borrow_mut();
                    if history.last() != Some(&typed) {
                        history.push(typed);
                    }
                    *self.at.borrow_mut() = history.len();
                }
                "rows" => {
                    let Some(rows) = self
                        .command(id)
                        .and_then(|c| c.query_selector("pre").ok().flatten())
                    else {
                        return;
                    };
                    for row in event["rows"].as_array().into_iter().flatten() {
                        let n = row[0].as_u64().unwrap_or_default().to_string();
                        let line = match rows
                            .query_selector(&format!("[data-row=\"{n}\"]"))
                            .ok()
                            .flatten()
                        {
                            Some(line) => line,
                            None => {
                                let Some(line) = make("div", "") else { return };
                                let _ = line.set_attribute("data-row", &n);
                                let _ = rows.append_child(&line);
                                line
                            }
                        };
                        line.set_text_content(None);
                        for span in row[1].as_array().into_iter().flatten() {
                            let (class, words) = (
                                span[0].as_str().unwrap_or_default(),
                                span[1].as_str().unwrap_or_default(),
                            );
                            if class.is_empty() {
                                let _ = line.append_with_str_1(words);
                            } else if let Some(e) = make("span", class) {
                                e.set_text_content(Some(words));
                                let _ = line.append_child(&e);
                            }
                        }
                    }
                }
                "done" => {
                    if let Some(end) = self
                        .command(id)
                        .and_then(|c| c.query_selector(".console-end").ok().flatten())
                    {
                        let note = text("note");
                        end.set_text_content(Some(if note.is_empty() { "done" } else { &note }));
                        let failed = event["exit"].as_i64() != Some(0);
                        let _ =
                            end.set_attribute("data-failed", if failed { "true" } else { "false" });
                    }
                    if *self.running.borrow() == Some(id) {
                        *self.running.borrow_mut() = None;
                        self.stop.set_disabled(true);
                        self.input.set_placeholder("docker ps");
                    }
                }
                "ports" => {
                    let ports = event["ports"].as_array();
                    self.ports.set_text_content(Some("Your published ports: "));
                    self.ports.set_hidden(ports.is_none_or(|p| p.is_empty()));
                    for pair in ports.into_iter().flatten() {
                        let (port, target) = (
                            pair[0].as_u64().unwrap_or_default(),
                            pair[1].as_u64().unwrap_or_default(),
                        );
                        let Some(link) = make("a", "") else { return };
                        let _ = link.set_attribute("href", &format!("/console/ports/{port}/"));
                        link.set_text_content(Some(&format!("localhost:{port} → {target}")));
                        let _ = self.ports.append_with_node_1(&link);
                        let _ = self.ports.append_with_str_1(" ");
                    }
                }
                "forgot" => {
                    let before = event["before"].as_u64().unwrap_or_default();
                    while let Some(first) = self.out.first_element_child() {
                        let n: u64 = first
                            .get_attribute("data-command")
                            .and_then(|n| n.parse().ok())
                            .unwrap_or(u64::MAX);
                        if n >= before {
                            break;
                        }
                        first.remove();
                    }
                }
                _ => {}
            }
            if bottom {
                self.out.set_scroll_top(self.out.scroll_height());
            }
        }
    }
}
