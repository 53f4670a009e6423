use clap::Parser;
use layerlab_server::config::{Cli, Command, ImagesCommand, InstructorCommand};
use tracing_subscriber::EnvFilter;

// See BENCHMARKS.md: glibc's malloc/free was a fifth of a page's CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        None => layerlab_server::serve(cli.serve).await,
        Some(Command::Serve(config)) => layerlab_server::serve(config).await,
        Some(Command::Images {
            action: ImagesCommand::Seed(args),
        }) => layerlab_server::seed_images(args).await,
        Some(Command::Instructor {
            action: InstructorCommand::Add(args),
        }) => layerlab_server::add_instructor(args).await,
        Some(Command::CheckCourse {
            content_dir,
            exercises_dir,
        }) => {
            let summary = layerlab_server::check_course(&content_dir, &exercises_dir)?;
            println!("course OK: {summary}");
            Ok(())
        }
    }
}
