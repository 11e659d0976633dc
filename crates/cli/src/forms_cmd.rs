//! `leadbridge forms list|create|show`: the forms of the contact base, as the API offers them;
//! `show` prints the HTML snippet to paste into a web page and the submission URL.
//!
//! Exit codes: 0 success; 1 when the form is not found; 2 for bad input or any other error
//! (printed once by `main`, every problem named).

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use lb_store::{Form, NewForm, Store, StoreError, rfc3339};
use serde_json::{Value, json};

use crate::base_settings::GlobalArgs;
use crate::schema_cmd::{explain, with_store};

#[derive(Debug, Args)]
pub struct FormsArgs {
    #[command(subcommand)]
    command: FormsCommand,
}

#[derive(Debug, Subcommand)]
enum FormsCommand {
    /// List the forms, oldest first.
    List(ListArgs),
    /// Create a form: its inputs mapped to contact attributes or custom fields.
    Create(CreateArgs),
    /// Show one form, the HTML snippet to paste into a page and its submission URL.
    Show(ShowArgs),
}

/// How browsers reach the app (the snippet's and the submission URL's host).
#[derive(Debug, Args)]
struct BaseUrlArg {
    /// How browsers reach the app: the host of the submission URL and of the snippet's
    /// action [default: the config file's base_url, else the URL `serve` last recorded].
    #[arg(long, env = "LEADBRIDGE_BASE_URL", value_name = "URL")]
    base_url: Option<String>,
}

#[derive(Debug, Args)]
struct ListArgs {
    #[command(flatten)]
    base_url: BaseUrlArg,
    /// Print the forms as one JSON array.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// The form's name in the app and in `forms list` (1–200 characters).
    #[arg(long)]
    name: String,
    /// An input mapped to an attribute or custom field, as INPUT=ATTRIBUTE (repeatable; one
    /// must map to email).
    #[arg(long = "field", value_name = "INPUT=ATTRIBUTE", required = true)]
    fields: Vec<String>,
    /// Points each submission adds to behaviour_score, 0–50 [default: 5].
    #[arg(long)]
    score_increment: Option<i64>,
    /// Where a browser posting the form as plain HTML goes afterwards (http or https)
    /// [default: the app's thank-you page].
    #[arg(long, value_name = "URL")]
    redirect_url: Option<String>,
    #[command(flatten)]
    base_url: BaseUrlArg,
    /// Print the created form as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// The form's id.
    id: String,
    #[command(flatten)]
    base_url: BaseUrlArg,
    /// Print the form (snippet included) as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(global: &GlobalArgs, args: FormsArgs) -> anyhow::Result<ExitCode> {
    let config_base_url = crate::base_settings::BaseSettings::resolve(global)?.base_url;
    with_store(global, |store| async move {
        let base = |arg: BaseUrlArg| base_url(&store, arg, config_base_url.clone());
        match args.command {
            FormsCommand::List(a) => {
                let base_url = base(a.base_url).await?;
                let forms = store.forms().await?;
                if a.json {
                    outln!(
                        "{}",
                        Value::Array(forms.iter().map(|f| form_json(f, &base_url)).collect())
                    );
                } else if forms.is_empty() {
                    outln!("no forms (create one with `leadbridge forms create`)");
                } else {
                    outln!("{:>5}  {:<32} {:>5}  INPUTS", "ID", "NAME", "SCORE");
                    for f in &forms {
                        outln!(
                            "{:>5}  {:<32} {:>5}  {}",
                            f.id,
                            f.name,
                            format!("+{}", f.score_increment),
                            inputs(f)
                        );
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            FormsCommand::Create(a) => {
                let base_url = base(a.base_url).await?;
                create(
                    &store,
                    a.name,
                    a.fields,
                    a.score_increment,
                    a.redirect_url,
                    a.json,
                    &base_url,
                )
                .await
            }
            FormsCommand::Show(a) => {
                let base_url = base(a.base_url).await?;
                let id: i64 =
                    a.id.trim()
                        .parse()
                        .with_context(|| format!("the form id '{}' is not a number", a.id))?;
                match store.form(id).await {
                    Ok(form) => {
                        show(&form, &store.schema().await?, &base_url, a.json);
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(StoreError::NotFound { what }) => {
                        eprintln!("error: {what} not found (see `leadbridge forms list`)");
                        Ok(ExitCode::from(1))
                    }
                    Err(err) => Err(err.into()),
                }
            }
        }
    })
}

/// The flag or environment, else the config file, else what `serve` recorded; never written.
async fn base_url(
    store: &Store,
    arg: BaseUrlArg,
    config: Option<String>,
) -> anyhow::Result<String> {
    let given = arg
        .base_url
        .or(config)
        .map(|u| u.trim().trim_end_matches('/').to_owned())
        .filter(|u| !u.is_empty());
    match given {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => Ok(url),
        Some(url) => anyhow::bail!("the base URL {url:?} must start with http:// or https://"),
        None => Ok(lb_engine::SyncSettings::load(store)
            .await
            .context("reading the sync settings")?
            .app_base_url),
    }
}

async fn create(
    store: &Store,
    name: String,
    fields: Vec<String>,
    score_increment: Option<i64>,
    redirect_url: Option<String>,
    json: bool,
    base_url: &str,
) -> anyhow::Result<ExitCode> {
    let mut mapping = BTreeMap::new();
    let mut problems = Vec::new();
    for field in &fields {
        match field.split_once('=') {
            Some((input, attr)) if !input.trim().is_empty() && !attr.trim().is_empty() => {
                if mapping
                    .insert(input.trim().to_owned(), attr.trim().to_owned())
                    .is_some()
                {
                    problems.push(format!(
                        "  --field {field}: the input '{}' is listed twice",
                        input.trim()
                    ));
                }
            }
            _ => problems.push(format!("  --field '{field}' must be INPUT=ATTRIBUTE")),
        }
    }
    if !problems.is_empty() {
        anyhow::bail!("the form was not created:\n{}", problems.join("\n"));
    }
    let form = store
        .create_form_with_redirect(
            &NewForm {
                name,
                mapping,
                score_increment,
            },
            redirect_url.as_deref(),
        )
        .await
        .map_err(|e| explain("the form was not created", e))?;
    if json {
        outln!("{}", form_json(&form, base_url));
    } else {
        outln!("created form {} '{}'", form.id, form.name);
        outln!("submission URL: {}", submission_url(&form, base_url));
        outln!(
            "(`leadbridge forms show {}` prints the HTML to paste into a page)",
            form.id
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn show(form: &Form, schema: &lb_store::Schema, base_url: &str, json: bool) {
    if json {
        let mut value = form_json(form, base_url);
        value["snippet"] = Value::String(lb_web::ui::form_snippet(base_url, form, schema));
        outln!("{value}");
        return;
    }
    outln!("form {} '{}'", form.id, form.name);
    outln!("inputs:          {}", inputs(form));
    outln!("score increment: +{}", form.score_increment);
    outln!(
        "after a plain HTML post: {}",
        form.redirect_url
            .clone()
            .unwrap_or_else(|| format!("{base_url}/forms/{}/thanks (thank-you page)", form.id))
    );
    outln!("created:         {}", rfc3339(form.created_at));
    outln!("submission URL:  {}", submission_url(form, base_url));
    outln!();
    outln!("HTML to paste into a page:");
    outln!(
        "{}",
        lb_web::ui::form_snippet(base_url, form, schema).trim_end()
    );
}

fn submission_url(form: &Form, base_url: &str) -> String {
    format!("{base_url}/api/v1/forms/{}/submissions", form.id)
}

fn inputs(form: &Form) -> String {
    form.mapping
        .iter()
        .map(|(i, a)| format!("{i}={a}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The API's keys (`GET /api/v1/forms/{id}`).
fn form_json(form: &Form, base_url: &str) -> Value {
    json!({
        "id": form.id,
        "name": form.name,
        "mapping": form.mapping,
        "score_increment": form.score_increment,
        "submission_url": submission_url(form, base_url),
        "redirect_url": form.redirect_url,
        "created_at": rfc3339(form.created_at),
    })
}
