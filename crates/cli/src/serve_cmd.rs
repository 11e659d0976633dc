//! `leadbridge serve [--listen ADDR] [--base-url URL]`: the REST API and the pages, until
//! SIGINT/SIGTERM; open requests finish before the process exits.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use lb_web::AppState;

use crate::base_settings::{BaseSettings, GlobalArgs, runtime};

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080, or `listen` in the config file].
    #[arg(long, env = "LEADBRIDGE_LISTEN", value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// How browsers reach this server (contact page links, form URLs)
    /// [default: http://<listen address>].
    #[arg(long, env = "LEADBRIDGE_BASE_URL", value_name = "URL")]
    base_url: Option<String>,
    /// An origin (https://shop.example, or *) whose scripts may call the API-key routes from a
    /// browser (CORS); repeat for several, or comma-separate in LEADBRIDGE_CORS_ORIGINS
    /// [default: none, or `cors_origins` in the config file]. The public form submission
    /// endpoint accepts any origin regardless.
    #[arg(
        long = "cors-origin",
        env = "LEADBRIDGE_CORS_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    cors_origins: Vec<String>,
}

pub fn run(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let settings = BaseSettings::resolve(global)?;
    let cors_origins = if args.cors_origins.is_empty() {
        settings.cors_origins.clone().unwrap_or_default()
    } else {
        crate::base_settings::check_origins(args.cors_origins.iter().map(String::as_str))
            .context("--cors-origin")?
    };
    runtime()?.block_on(async move {
        let store = settings.open_store().await?;
        // Loaded (and created on first start) now, so that a wrong key stops the server at
        // start-up with a clear message rather than at the first sync.
        let key = settings.master_key(&store).await?;
        let listen = args
            .listen
            .or(settings.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default address"));
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let bound = listener.local_addr()?;
        let base_url = args
            .base_url
            .or(settings.base_url.clone())
            .unwrap_or_else(|| format!("http://{bound}"));
        // The sync scheduler runs in this process too (issue 6): every 2 h, after each form
        // submission, and when paused credentials are replaced.
        let sync = lb_engine::Scheduler::start(store.clone(), key, &base_url).await?;
        // The web app (sign-in, settings, mapping, sync pages) on the same port as the API.
        let engine = sync.engine().clone();
        let (ui, setup_link) = lb_web::ui::app(engine, &base_url)
            .await
            .context("preparing the web app")?;
        let app = lb_web::router(
            AppState::new(store.clone(), &base_url).with_cors_origins(cors_origins.clone()),
        )
        .merge(ui);
        if let Some(link) = setup_link {
            eprintln!("No administrator yet: create the first one at {link}");
            eprintln!(
                "(one-time link, valid 24 hours; or run `leadbridge admin create --username NAME`)"
            );
        }
        eprintln!(
            "leadbridge serving {base_url} (listening on {bound}, data in {})",
            settings.data_dir.display()
        );
        if !cors_origins.is_empty() {
            eprintln!(
                "API calls from browsers allowed for: {}",
                cors_origins.join(", ")
            );
        }
        lb_web::serve(listener, app, shutdown_signal())
            .await
            .context("serving HTTP")?;
        sync.stop().await;
        store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
