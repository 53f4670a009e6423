//! layerlab's integration tests, in one binary (one link of the whole server instead of one
//! per file): each module is a suite, named as before, so `cargo test --test testsuite --
//! builds::` runs one. `support` holds what they share, split by job.

mod support;

mod abuse;
mod browser;
mod browser_console;
mod browser_people;
mod browser_registry;
mod browser_workbench;
mod builds;
mod console;
mod console_app;
mod console_exercises;
mod course;
mod edge;
mod engine_facts;
mod faults;
mod http;
mod layers;
mod load;
mod people;
mod policy;
mod postgres;
mod registry;
mod sandbox_net;
mod servers;
