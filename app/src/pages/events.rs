//! Server-Sent Events in the browser: one `EventSource` whose named events (and errors, as
//! `"error"`) go into a channel with their data, for the workbench's build, a push and the
//! instructor's cohort to read in their own loops.

use futures::channel::mpsc::UnboundedSender;
use wasm_bindgen::{closure::Closure, JsCast};

/// What an event source sends: the event's name (`"error"` for the source's errors) and data.
pub(crate) type Sender = UnboundedSender<(&'static str, String)>;

/// One `EventSource` and the listeners that forward its events; they live as long as this.
pub(crate) struct EventFeed {
    source: web_sys::EventSource,
    _listeners: Vec<Closure<dyn FnMut(web_sys::MessageEvent)>>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl EventFeed {
    /// Open `url`, forwarding the events called `names` and every error into `sender`.
    pub(crate) fn open(url: &str, names: &[&'static str], sender: &Sender) -> Option<EventFeed> {
        let source = web_sys::EventSource::new(url).ok()?;
        let mut listeners = Vec::new();
        for &name in names {
            let sender = sender.clone();
            let listener = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |event: web_sys::MessageEvent| {
                    let data = event.data().as_string().unwrap_or_default();
                    let _ = sender.unbounded_send((name, data));
                },
            );
            let _ =
                source.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
            listeners.push(listener);
        }
        let on_error = {
            let sender = sender.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
                let _ = sender.unbounded_send(("error", String::new()));
            })
        };
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Some(EventFeed {
            source,
            _listeners: listeners,
            _on_error: on_error,
        })
    }

    /// The browser closed the stream for good: the server answered, but not with events.
    pub(crate) fn refused(&self) -> bool {
        self.source.ready_state() == web_sys::EventSource::CLOSED
    }

    pub(crate) fn close(&self) {
        self.source.set_onerror(None);
        self.source.close();
    }
}
