#![recursion_limit = "256"]
//! layerlab's server: loads the course, talks to the Docker engine, keeps sessions, and serves
//! the pages and the API. `main.rs` only parses the command line and calls in here.

pub mod attempts;
pub mod auth;
pub mod builds;
pub mod cohort;
pub mod config;
pub mod console;
pub mod console_work;
pub mod course;
pub mod engine;
pub mod exercise;
pub mod failure;
pub mod http;
pub mod janitor;
pub mod learners;
pub mod lessons;
pub mod policy;
pub mod progress;
pub mod pushes;
pub mod registry;
pub mod store;
pub mod sync;
pub mod when;
pub mod workbench;

use anyhow::Context;
use config::ServeConfig;
use http::state::AppState;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// The name the browser bundle's files carry: `/pkg/layerlab.js`, `/pkg/layerlab_bg.wasm`.
pub const BUNDLE_NAME: &str = "layerlab";

/// Everything `serve` needs, built from the configuration.
pub async fn build(config: &ServeConfig) -> anyhow::Result<axum::Router> {
    Ok(build_with_store(config).await?.0)
}

/// [`build`], and the store (its process row is marked stopped when serving ends).
async fn build_with_store(config: &ServeConfig) -> anyhow::Result<(axum::Router, store::Store)> {
    let course = course::Course::load(&config.content_dir).with_context(|| {
        format!(
            "cannot load the course from {}",
            config.content_dir.display()
        )
    })?;
    let exercises =
        exercise::Exercises::load(&config.exercises_dir, &course).with_context(|| {
            format!(
                "cannot load the exercises from {}",
                config.exercises_dir.display()
            )
        })?;
    course.check_exercise_links(&exercises.ids())?;
    exercises.check_build_network(config.allow_build_network)?;
    let (mut store, sessions) = store::open(&config.database_url).await?;
    auth::use_form_key(&store.form_key);
    store.keep_details = config.keep_attempt_details;
    store.min_free_bytes = config.min_free_database_disk_mb << 20;
    if store.database_dir.is_none() && store.min_free_bytes > 0 {
        tracing::info!("the database is not a local SQLite file: the free space on its disk is not checked (--min-free-database-disk-mb applies to SQLite only)");
    }
    sessions.delete_expired_in_background();
    let progress = progress::ProgressSender::default();
    let leptos_options = LeptosOptions::builder()
        .output_name(BUNDLE_NAME)
        .site_root(config.site_root.to_string_lossy().as_ref())
        .site_pkg_dir("pkg")
        .build();
    let engine = Arc::new(engine::Engine::new(Some(&config.docker_host)));
    let mut settings = config.limits.settings();
    settings.max_queued = config.edge.max_queued_builds;
    settings.max_queued_context_bytes = config.edge.queued_context_mb << 20;
    settings.base_images = exercises.base_images(&course);
    // Twice the build time limit: no running build can own a cgroup that old.
    let swept = engine::BuildCgroup::sweep_stale(settings.build.timeout * 2);
    if swept > 0 {
        tracing::info!("removed {swept} build cgroups left by an earlier server");
    }
    let exercises = Arc::new(exercises);
    let readers = cohort::instructors::registry_readers(store.clone());
    let registry = registry::Registry::start(&config.registry.settings(), readers)
        .await
        .context("cannot start the class registry")?;
    let registry = Arc::new(registry);
    registry.supervise();
    let builds = builds::Builds::new(
        engine.clone(),
        exercises.clone(),
        settings,
        store.clone(),
        progress.clone(),
        registry.clone(),
    );
    let pushes: Arc<pushes::Pushes> = Arc::default();
    let consoles = console::Consoles::new(
        engine.clone(),
        config.console.settings(),
        store.instance.clone(),
        exercises.base_images(&course),
        Some((builds.clone(), pushes.clone())),
        Some(store.clone()),
    );
    consoles.start().await;
    let state = AppState {
        leptos_options,
        course: Arc::new(course),
        builds,
        engine,
        exercises,
        store,
        progress,
        lesson_pages: Arc::new(http::lesson_pages::LessonPages::new(
            config.page_memo_mb << 20,
        )),
        edge: Arc::new(http::admission::Edge::new(config.edge.settings())),
        drafts: Arc::default(),
        registry,
        pushes,
        consoles,
        set_ups: Default::default(),
    };
    tell_isolation(state.engine.clone());
    janitor::start(
        state.store.clone(),
        state.engine.clone(),
        state.builds.clone(),
        (state.pushes.clone(), state.registry.clone()),
    )
    .await
    .context("cannot look for builds the last stop interrupted")?;
    let store = state.store.clone();
    Ok((
        http::router(state, sessions, &config.style_dir, config.secure_cookies),
        store,
    ))
}

/// Say in the log, once the engine answers, how it isolates builds from the host, and warn
/// when they run as the host's real root.
fn tell_isolation(engine: Arc<engine::Engine>) {
    tokio::spawn(async move {
        match engine.isolation().await {
            Ok(isolation) => match &isolation.warning {
                Some(warning) => {
                    tracing::warn!("engine isolation: {}. {warning}", isolation.summary)
                }
                None => tracing::info!("engine isolation: {}", isolation.summary),
            },
            Err(problem) => tracing::info!("engine isolation: unknown ({problem})"),
        }
    });
}

/// Load the course and its exercises with every cross-check `serve` does; say what is there.
pub fn check_course(
    content_dir: &std::path::Path,
    exercises_dir: &std::path::Path,
) -> anyhow::Result<String> {
    let course = course::Course::load(content_dir)
        .with_context(|| format!("cannot load the course from {}", content_dir.display()))?;
    let exercises = exercise::Exercises::load(exercises_dir, &course)
        .with_context(|| format!("cannot load the exercises from {}", exercises_dir.display()))?;
    course.check_exercise_links(&exercises.ids())?;
    let quizzes: usize = course
        .lessons
        .iter()
        .map(|l| course.quiz_ids(&l.slug).len())
        .sum();
    let needing = exercises.needing_build_network();
    let network_note = if needing.is_empty() {
        String::new()
    } else {
        format!(
            " ({} with `build_network = true`, served only with --allow-build-network: {})",
            needing.len(),
            needing.join(", ")
        )
    };
    use app::dto::plural;
    Ok(format!(
        "{} with {} in {}, {}{network_note}",
        plural(course.lessons.len(), "lesson"),
        plural(quizzes, "quiz"),
        plural(course.modules.len(), "module"),
        plural(exercises.iter().count(), "exercise")
    ))
}

/// Warn the operator when pages will not become interactive.
pub fn check_bundle(config: &ServeConfig) -> Option<String> {
    let js = config
        .site_root
        .join("pkg")
        .join(format!("{BUNDLE_NAME}.js"));
    (!js.exists()).then(|| {
        format!(
            "the browser bundle is missing ({}): pages will work without JavaScript only. Build it with `./x wasm`.",
            js.display()
        )
    })
}

/// `layerlab images seed`: create each missing base image (by default the course's and the
/// console's toolbox), saying what happened to each.
pub async fn seed_images(args: config::SeedArgs) -> anyhow::Result<()> {
    let images = if args.images.is_empty() {
        let course = course::Course::load(&args.content_dir).with_context(|| {
            format!("cannot load the course from {}", args.content_dir.display())
        })?;
        let exercises =
            exercise::Exercises::load(&args.exercises_dir, &course).with_context(|| {
                format!(
                    "cannot load the exercises from {}",
                    args.exercises_dir.display()
                )
            })?;
        // … and the docker console's toolbox.
        let mut images = exercises.base_images(&course);
        images.push(engine::seed::TOOLBOX_IMAGE.to_string());
        images
    } else {
        args.images
    };
    let engine = engine::Engine::new(Some(&args.docker_host));
    for image in &images {
        let outcome = engine
            .seed_base_image(image, args.force, &args.busybox, args.trust_host_ca)
            .await
            .with_context(|| format!("cannot seed {image}"))?;
        match outcome {
            engine::SeedOutcome::AlreadyPresent => println!("{image}: already present"),
            engine::SeedOutcome::Created => println!("{image}: created"),
        }
    }
    Ok(())
}

/// `layerlab instructor add`: store an argon2 hash of the password, never the password.
pub async fn add_instructor(args: config::InstructorArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let name = args.name.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
        anyhow::bail!("an instructor name is 1 to 64 printable characters");
    }
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("Password for {name}: "))?;
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            anyhow::bail!("the two passwords differ; nothing was changed");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if password.chars().count() < 8 {
        anyhow::bail!("the password needs at least 8 characters; nothing was changed");
    }
    let hash = auth::hash_password(&password)?;
    let (store, _) = store::open(&args.database_url).await?;
    store.put_instructor(name, &hash, args.reset).await?;
    println!(
        "instructor `{name}` {}; they log in at /instructor/login",
        if args.reset {
            "has a new password"
        } else {
            "added"
        }
    );
    Ok(())
}

/// Bind, print the address, serve until Ctrl-C or SIGTERM.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let (router, store) = build_with_store(&config).await?;
    if let Some(warning) = check_bundle(&config) {
        tracing::warn!("{warning}");
    }
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    let addr = listener.local_addr()?;
    println!("layerlab is serving on http://{addr}");
    // The peer's address is what per-address limits count by (see `--trusted-proxies`).
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    // What is left unfinished is anyone's to mark at once, without waiting for a heartbeat.
    if let Err(e) = store.server_stopped().await {
        tracing::warn!("could not say this server stopped: {e}");
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
