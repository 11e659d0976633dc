//! `leadbridge fields list|add` and `leadbridge states list|add`: the custom field definitions
//! and the state list of the contact base, as the API offers them.
//!
//! Exit codes: 0 success; 1 when the name already exists; 2 for bad input or any other error
//! (printed once by `main`, every problem named).

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use lb_store::{CustomField, FieldKind, NewCustomField, Store, StoreError, rfc3339};
use serde_json::{Value, json};

use crate::base_settings::{BaseSettings, GlobalArgs, runtime};

#[derive(Debug, Args)]
pub struct FieldsArgs {
    #[command(subcommand)]
    command: FieldsCommand,
}

#[derive(Debug, Subcommand)]
enum FieldsCommand {
    /// List the custom fields, oldest first.
    List {
        /// Print the fields as one JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Add a custom field (fields are only ever added; a new one comes last).
    Add(AddFieldArgs),
}

#[derive(Debug, Args)]
struct AddFieldArgs {
    /// The field's name: lowercase letters, digits and `_`, starting with a letter; not a
    /// standard attribute's name. It is the CSV column and JSON key.
    name: String,
    #[arg(long = "type", value_enum)]
    kind: Kind,
    /// Shown in the web app [default: the name].
    #[arg(long)]
    label: Option<String>,
    /// A picklist's allowed values, comma-separated (required for --type picklist, refused
    /// for the other types).
    #[arg(long, value_delimiter = ',', value_name = "A,B,C")]
    values: Vec<String>,
    /// Print the created field as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    Text,
    Number,
    Date,
    Picklist,
    Boolean,
}

impl From<Kind> for FieldKind {
    fn from(k: Kind) -> FieldKind {
        match k {
            Kind::Text => FieldKind::Text,
            Kind::Number => FieldKind::Number,
            Kind::Date => FieldKind::Date,
            Kind::Picklist => FieldKind::Picklist,
            Kind::Boolean => FieldKind::Boolean,
        }
    }
}

#[derive(Debug, Args)]
pub struct StatesArgs {
    #[command(subcommand)]
    command: StatesCommand,
}

#[derive(Debug, Subcommand)]
enum StatesCommand {
    /// List the states a contact may be in, in order.
    List {
        /// Print the states as one JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Add a state at the end of the list.
    Add {
        /// The state's name (1 to 40 characters).
        name: String,
        /// Print the whole list as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run_fields(global: &GlobalArgs, args: FieldsArgs) -> anyhow::Result<ExitCode> {
    with_store(global, |store| async move {
        match args.command {
            FieldsCommand::List { json } => list_fields(&store, json).await,
            FieldsCommand::Add(a) => add_field(&store, a).await,
        }
    })
}

pub fn run_states(global: &GlobalArgs, args: StatesArgs) -> anyhow::Result<ExitCode> {
    with_store(global, |store| async move {
        match args.command {
            StatesCommand::List { json } => {
                let states = store.states().await?;
                print_states(&states, json);
                Ok(ExitCode::SUCCESS)
            }
            StatesCommand::Add { name, json } => match store.add_state(&name).await {
                Ok(states) => {
                    if json {
                        print_states(&states, true);
                    } else {
                        outln!("added state '{}'", name.trim());
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(StoreError::AlreadyExists { what }) => {
                    eprintln!("error: {what} already exists");
                    Ok(ExitCode::from(1))
                }
                Err(err) => Err(explain("the state was not added", err)),
            },
        }
    })
}

/// Opens the store, runs `f`, closes the store whatever happened.
pub(crate) fn with_store<F, Fut>(global: &GlobalArgs, f: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<ExitCode>>,
{
    let settings = BaseSettings::resolve(global)?;
    runtime()?.block_on(async move {
        let store = settings.open_store().await?;
        let result = f(store.clone()).await;
        store.close().await;
        result
    })
}

/// Store errors that are the user's input, one line per problem.
pub(crate) fn explain(what: &str, err: StoreError) -> anyhow::Error {
    match err {
        StoreError::Invalid(problems) => anyhow::anyhow!(
            "{what}:\n{}",
            problems
                .iter()
                .map(|p| format!("  {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        other => other.into(),
    }
}

async fn list_fields(store: &Store, json: bool) -> anyhow::Result<ExitCode> {
    let fields = store.custom_fields().await?;
    if json {
        outln!(
            "{}",
            Value::Array(fields.iter().map(field_json).collect::<Vec<_>>())
        );
    } else if fields.is_empty() {
        outln!("no custom fields (add one with `leadbridge fields add NAME --type TYPE`)");
    } else {
        outln!("{:<32} {:<9} {:<32} VALUES", "NAME", "TYPE", "LABEL");
        for f in &fields {
            outln!(
                "{:<32} {:<9} {:<32} {}",
                f.name,
                f.kind.name(),
                f.label,
                f.options.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn add_field(store: &Store, a: AddFieldArgs) -> anyhow::Result<ExitCode> {
    let new = NewCustomField {
        name: a.name.clone(),
        label: a.label,
        kind: a.kind.into(),
        options: a.values.iter().map(|v| v.trim().to_owned()).collect(),
    };
    match store.add_custom_field(&new).await {
        Ok(field) => {
            if a.json {
                outln!("{}", field_json(&field));
            } else {
                outln!(
                    "added custom field '{}' ({})",
                    field.name,
                    field.kind.name()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(StoreError::AlreadyExists { what }) => {
            eprintln!("error: {what} already exists");
            Ok(ExitCode::from(1))
        }
        Err(err) => Err(explain("the field was not added", err)),
    }
}

fn print_states(states: &[String], json: bool) {
    if json {
        outln!("{}", json!(states));
    } else {
        for s in states {
            outln!("{s}");
        }
    }
}

fn field_json(f: &CustomField) -> Value {
    // The API's keys (`GET /api/v1/fields`).
    json!({
        "id": f.id,
        "name": f.name,
        "label": f.label,
        "kind": f.kind.name(),
        "options": f.options,
        "created_at": rfc3339(f.created_at),
    })
}
