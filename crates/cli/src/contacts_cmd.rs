//! `leadbridge contacts add|list|show|import|export|tombstones|resync`: the contact base from
//! the terminal.
//!
//! Exit codes: 0 success; 1 when an import rejected rows (the accepted ones are kept), a
//! contact is not found, or `resync` finds no tombstone to clear; 2 for any other error (printed
//! once by `main`).

use std::io::{BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use lb_store::{
    Attribute, Contact, ContactId, ContactInput, ContactQuery, Email, ImportOptions, ImportReport,
    LifecycleStage, Origin, Store, StoreError, rfc3339,
};
use serde_json::{Value, json};

use crate::base_settings::{BaseSettings, GlobalArgs, runtime};

#[derive(Debug, Args)]
pub struct ContactsArgs {
    #[command(subcommand)]
    command: ContactsCommand,
}

// Parsed once per process: boxing the largest variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum ContactsCommand {
    /// Create a contact.
    Add(AddArgs),
    /// List contacts (50 by default; --all for every one).
    List(ListArgs),
    /// Show one contact by id or email.
    Show(ShowArgs),
    /// Import contacts from a CSV file: rows whose email exists update that contact (empty
    /// cells leave values alone), the others create contacts; bad rows are reported and skipped.
    Import(ImportArgs),
    /// Export every contact as CSV (the import's format).
    Export(ExportArgs),
    /// Contacts left out of the sync because their Salesforce record was deleted there.
    Tombstones(TombstonesArgs),
    /// Sync a contact left out of the sync again (clears its tombstone): the next sync may
    /// create a new Lead in Salesforce for it.
    Resync(ResyncArgs),
}

#[derive(Debug, Args)]
struct AddArgs {
    /// The email address, the contact's identity (unique here, matched case-insensitively).
    #[arg(long)]
    email: String,
    /// First name.
    #[arg(long)]
    first_name: Option<String>,
    /// Last name (Salesforce requires one to create a Lead).
    #[arg(long)]
    last_name: Option<String>,
    /// Company (Salesforce requires one to create a Lead).
    #[arg(long)]
    company: Option<String>,
    /// Job title.
    #[arg(long)]
    job_title: Option<String>,
    /// Phone number.
    #[arg(long)]
    phone: Option<String>,
    /// 0–50.
    #[arg(long)]
    behaviour_score: Option<String>,
    /// One of the configured states.
    #[arg(long)]
    state: Option<String>,
    /// lead, mql, sql or customer.
    #[arg(long)]
    lifecycle_stage: Option<String>,
    /// Where the contact came from (e.g. webinar).
    #[arg(long)]
    source: Option<String>,
    /// The medium that brought it (e.g. email, cpc).
    #[arg(long)]
    medium: Option<String>,
    /// The campaign that brought it.
    #[arg(long)]
    campaign: Option<String>,
    /// A custom field, as NAME=VALUE (repeatable).
    #[arg(long = "field", value_name = "NAME=VALUE")]
    fields: Vec<String>,
    /// Print the created contact as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Case-insensitive substring of email, first name, last name or company.
    #[arg(long)]
    search: Option<String>,
    /// Only contacts in this state.
    #[arg(long)]
    state: Option<String>,
    /// Only contacts at this lifecycle stage: lead, mql, sql or customer.
    #[arg(long)]
    lifecycle_stage: Option<String>,
    /// At most this many contacts (1–1000).
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Start after this contact id.
    #[arg(long)]
    after: Option<i64>,
    /// Every matching contact, page after page.
    #[arg(long, conflicts_with = "limit")]
    all: bool,
    /// Print the contacts as one JSON array.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// Contact id or email.
    contact: String,
    /// Print the contact as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// The CSV file: a header row with `email` and any other attribute or custom field names.
    file: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Rows written per transaction.
    #[arg(long, default_value_t = 5000, hide = true)]
    batch_size: usize,
}

#[derive(Debug, Args)]
struct TombstonesArgs {
    /// Print them as one JSON array.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ResyncArgs {
    /// Contact id or email.
    contact: String,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: ContactsArgs) -> anyhow::Result<ExitCode> {
    let settings = BaseSettings::resolve(global)?;
    runtime()?.block_on(async move {
        let store = settings.open_store().await?;
        let result = match args.command {
            ContactsCommand::Add(a) => add(&store, a).await,
            ContactsCommand::List(a) => list(&store, a).await,
            ContactsCommand::Show(a) => show(&store, a).await,
            ContactsCommand::Import(a) => import(&store, a).await,
            ContactsCommand::Export(a) => export(&store, a).await,
            ContactsCommand::Tombstones(a) => tombstones(&store, a).await,
            ContactsCommand::Resync(a) => resync(&store, a).await,
        };
        store.close().await;
        result
    })
}

/// Store errors that are the user's input, rendered as one line per problem.
fn explain(err: StoreError) -> anyhow::Error {
    match err {
        StoreError::Invalid(problems) => anyhow::anyhow!(
            "the contact was not saved:\n{}",
            problems
                .iter()
                .map(|p| format!("  {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        other => other.into(),
    }
}

async fn add(store: &Store, a: AddArgs) -> anyhow::Result<ExitCode> {
    let mut input = ContactInput::new();
    let mut put = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            input.insert(name.to_owned(), Value::String(v));
        }
    };
    put("email", Some(a.email));
    put("first_name", a.first_name);
    put("last_name", a.last_name);
    put("company", a.company);
    put("job_title", a.job_title);
    put("phone", a.phone);
    put("behaviour_score", a.behaviour_score);
    put("state", a.state);
    put("lifecycle_stage", a.lifecycle_stage);
    put("source", a.source);
    put("medium", a.medium);
    put("campaign", a.campaign);
    for field in a.fields {
        let (name, value) = field
            .split_once('=')
            .with_context(|| format!("--field '{field}' must be NAME=VALUE"))?;
        input.insert(name.trim().to_owned(), Value::String(value.to_owned()));
    }
    let contact = store
        .create_contact(&input, Origin::User)
        .await
        .map_err(explain)?;
    if a.json {
        outln!("{}", contact_json(&contact));
    } else {
        outln!("created contact {} <{}>", contact.id, contact.email);
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(store: &Store, a: ListArgs) -> anyhow::Result<ExitCode> {
    let lifecycle_stage = match a.lifecycle_stage.as_deref() {
        None => None,
        Some(raw) => Some(LifecycleStage::parse(raw).with_context(|| {
            format!("--lifecycle-stage '{raw}' is not one of: lead, mql, sql, customer")
        })?),
    };
    if !(1..=1000).contains(&a.limit) {
        anyhow::bail!("--limit must be between 1 and 1000");
    }
    let mut query = ContactQuery {
        search: a.search,
        state: a.state,
        lifecycle_stage,
        after: a.after.map(ContactId),
        limit: Some(if a.all { 1000 } else { a.limit }),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    // JSON: one array, streamed element by element (`--all` pages through everything).
    let mut first = true;
    if a.json {
        write!(out, "[")?;
    } else {
        writeln!(
            out,
            "{:>8}  {:<36} {:<24} {:<24} {:>5}  {:<10} STAGE",
            "ID", "EMAIL", "NAME", "COMPANY", "SCORE", "STATE"
        )?;
    }
    loop {
        let page = store.list_contacts(&query).await?;
        for c in &page.contacts {
            if a.json {
                let sep = if first { "\n  " } else { ",\n  " };
                first = false;
                write!(out, "{sep}{}", contact_json(c))?;
            } else {
                let name = [c.first_name.as_deref(), c.last_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                writeln!(
                    out,
                    "{:>8}  {:<36} {:<24} {:<24} {:>5}  {:<10} {}",
                    c.id.0,
                    c.email.as_str(),
                    name,
                    c.company.as_deref().unwrap_or(""),
                    c.behaviour_score,
                    c.state,
                    c.lifecycle_stage
                )?;
            }
        }
        match page.next {
            Some(next) if a.all => query.after = Some(next),
            _ => break,
        }
    }
    if a.json {
        writeln!(out, "{}]", if first { "" } else { "\n" })?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

async fn find(store: &Store, key: &str) -> anyhow::Result<Option<Contact>> {
    if let Ok(id) = key.parse::<i64>() {
        return match store.contact(ContactId(id)).await {
            Ok(c) => Ok(Some(c)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        };
    }
    let email = Email::parse(key)
        .with_context(|| format!("'{key}' is neither a contact id nor an email"))?;
    Ok(store.contact_by_email(&email).await?)
}

async fn show(store: &Store, a: ShowArgs) -> anyhow::Result<ExitCode> {
    let Some(contact) = find(store, &a.contact).await? else {
        eprintln!("no contact {}", a.contact);
        return Ok(ExitCode::from(1));
    };
    let last = store.last_changes(contact.id).await?;
    // Where the contact stands with Salesforce: its linked record, or why it is left out.
    let sync = store.sync();
    let link = sync.links_by_contacts(&[contact.id]).await?.pop();
    let stone = sync.tombstones_for(&[contact.id]).await?.pop();
    if a.json {
        let mut value = contact_json(&contact);
        value["salesforce"] = json!({
            "linked": link.as_ref().map(|l| json!({"object": l.object.api_name(), "id": l.org_id})),
            "tombstone": stone.as_ref().map(|t| json!({
                "object": t.object.api_name(),
                "org_id": t.org_id,
                "deleted_at": rfc3339(t.deleted_at),
                "master_id": t.master_id,
                "run_id": t.run_id,
            })),
        });
        value["last_changes"] = last
            .iter()
            .map(|(f, l)| {
                (
                    f.clone(),
                    json!({"changed_at": rfc3339(l.changed_at), "origin": l.origin.name()}),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into();
        outln!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!("contact {}", contact.id);
    let values = contact.values();
    let mut names: Vec<String> = Attribute::ALL.iter().map(|a| a.name().to_owned()).collect();
    names.extend(contact.custom.keys().cloned());
    for name in names {
        let value = values.get(&name).map(String::as_str).unwrap_or("");
        let changed = last
            .get(&name)
            .map(|l| format!("  (changed {} by {})", rfc3339(l.changed_at), l.origin))
            .unwrap_or_default();
        outln!("  {name:<16} {value}{changed}");
    }
    outln!("  lifecycle:");
    for stage in LifecycleStage::ALL {
        let reached = contact
            .stage_reached
            .get(stage)
            .map(rfc3339)
            .unwrap_or_else(|| "-".into());
        outln!("    {:<9} {reached}", stage.name());
    }
    outln!("  updated_at       {}", rfc3339(contact.updated_at));
    match (&link, &stone) {
        (_, Some(t)) => {
            let merged = t
                .master_id
                .as_deref()
                .map(|m| format!(" (merged into {m}, linked to another contact)"))
                .unwrap_or_default();
            outln!(
                "  salesforce       left out of the sync: its {} {} was deleted in Salesforce on {}{merged}; \
                 `leadbridge contacts resync {}` syncs it again",
                t.object.api_name(),
                t.org_id,
                rfc3339(t.deleted_at),
                contact.id
            );
        }
        (Some(l), None) => outln!(
            "  salesforce       linked to {} {}",
            l.object.api_name(),
            l.org_id
        ),
        (None, None) => {
            outln!("  salesforce       not linked yet (the next sync looks its email up)")
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn import(store: &Store, a: ImportArgs) -> anyhow::Result<ExitCode> {
    let file =
        std::fs::File::open(&a.file).with_context(|| format!("opening {}", a.file.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(size);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} importing [{bar:40}] {bytes}/{total_bytes} ({eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Some(bar)
    } else {
        None
    };
    let options = ImportOptions {
        batch_size: a.batch_size.max(1),
        ..ImportOptions::default()
    };
    let started = std::time::Instant::now();
    let progress_bar = bar.clone();
    let mut on_progress = move |bytes: u64| {
        if let Some(bar) = &progress_bar {
            bar.set_position(bytes);
        }
    };
    let result = store
        .import_csv(&mut reader, &options, &mut on_progress)
        .await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = match result {
        Ok(report) => report,
        Err(StoreError::Invalid(problems)) => {
            let hints = import_hints(&problems);
            anyhow::bail!(
                "{} was not imported:\n{}{}",
                a.file.display(),
                problems
                    .iter()
                    .map(|p| format!("  {p}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                hints
                    .iter()
                    .map(|h| format!("\nhint: {h}"))
                    .collect::<String>()
            )
        }
        Err(e) => return Err(e.into()),
    };
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report, started.elapsed());
    }
    Ok(if report.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// What to do about a header the import refused: the usual causes of unknown columns (a file
/// saved with ';' between columns, as spreadsheets do in French locales; a custom field not
/// defined yet). Headers written as labels ("First Name") are read as their column.
fn import_hints(problems: &[lb_store::Problem]) -> Vec<String> {
    let unknown: Vec<&str> = problems
        .iter()
        .filter(|p| p.message.starts_with("unknown column"))
        .map(|p| p.field.as_str())
        .collect();
    let mut hints = Vec::new();
    if unknown.iter().any(|c| c.contains(';')) {
        hints.push(
            "the header looks separated by ';': leadbridge reads comma-separated files \
             (save the sheet as CSV with commas)"
                .to_owned(),
        );
    } else if !unknown.is_empty() {
        hints.push(
            "a custom field's column is imported once the field exists: \
             `leadbridge fields add NAME --type text|number|date|picklist|boolean`"
                .to_owned(),
        );
    }
    hints
}

fn print_report(report: &ImportReport, elapsed: std::time::Duration) {
    outln!(
        "{} rows: {} accepted ({} created, {} updated, {} unchanged), {} rejected in {:.1}s",
        report.rows,
        report.accepted(),
        report.created,
        report.updated,
        report.unchanged,
        report.rejected,
        elapsed.as_secs_f64()
    );
    for rejected in &report.rejections {
        for problem in &rejected.problems {
            outln!("  rejected {problem}");
        }
    }
    let hidden = report.rejected as usize - report.rejections.len();
    if hidden > 0 {
        outln!(
            "  … and {hidden} more rejected rows (use --json for the first {})",
            report.rejections.len()
        );
    }
}

async fn export(store: &Store, a: ExportArgs) -> anyhow::Result<ExitCode> {
    let written = match &a.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            let n = lb_store::export_csv(store, &mut out).await?;
            out.flush()?;
            n
        }
        None => {
            let mut out = std::io::BufWriter::new(crate::output::Stdout);
            let n = lb_store::export_csv(store, &mut out).await?;
            out.flush()?;
            n
        }
    };
    if a.output.is_some() {
        eprintln!("exported {written} contacts");
    }
    Ok(ExitCode::SUCCESS)
}

/// Every tombstone, a page of the store at a time, with the contact's email.
async fn tombstones(store: &Store, a: TombstonesArgs) -> anyhow::Result<ExitCode> {
    let sync = store.sync();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut first = true;
    if a.json {
        write!(out, "[")?;
    }
    let mut after = ContactId(0);
    let mut total = 0usize;
    loop {
        let page = sync.tombstones(after, 1000).await?;
        let ids: Vec<ContactId> = page.iter().map(|t| t.contact_id).collect();
        let emails: std::collections::HashMap<ContactId, String> = store
            .contacts_by_id(&ids)
            .await?
            .into_iter()
            .map(|c| (c.id, c.email.to_string()))
            .collect();
        if total == 0 && !page.is_empty() && !a.json {
            writeln!(
                out,
                "{:>8}  {:<36} {:<8} {:<18} {:<27} {:>6}  MERGED INTO",
                "CONTACT", "EMAIL", "OBJECT", "ORG ID", "DELETED AT", "RUN"
            )?;
        }
        for t in &page {
            let email = emails.get(&t.contact_id).map(String::as_str);
            if a.json {
                let sep = if first { "\n  " } else { ",\n  " };
                first = false;
                let value = json!({
                    "contact_id": t.contact_id.0,
                    "email": email,
                    "org_id": t.org_id,
                    "object": t.object.api_name(),
                    "deleted_at": rfc3339(t.deleted_at),
                    "master_id": t.master_id,
                    "run_id": t.run_id,
                    "recorded_at": rfc3339(t.recorded_at),
                });
                write!(out, "{sep}{value}")?;
            } else {
                writeln!(
                    out,
                    "{:>8}  {:<36} {:<8} {:<18} {:<27} {:>6}  {}",
                    t.contact_id.0,
                    email.unwrap_or("-"),
                    t.object.api_name(),
                    t.org_id,
                    rfc3339(t.deleted_at),
                    t.run_id,
                    t.master_id.as_deref().unwrap_or("")
                )?;
            }
        }
        total += page.len();
        match page.last() {
            Some(last) if page.len() == 1000 => after = last.contact_id,
            _ => break,
        }
    }
    if a.json {
        writeln!(out, "{}]", if first { "" } else { "\n" })?;
    } else if total == 0 {
        writeln!(out, "no contact is left out of the sync")?;
    } else {
        let contacts = if total == 1 { "contact" } else { "contacts" };
        writeln!(
            out,
            "{total} {contacts} left out of the sync; `leadbridge contacts resync ID` syncs one again"
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

async fn resync(store: &Store, a: ResyncArgs) -> anyhow::Result<ExitCode> {
    let Some(contact) = find(store, &a.contact).await? else {
        eprintln!("no contact {}", a.contact);
        return Ok(ExitCode::from(1));
    };
    let sync = store.sync();
    let stone = sync.tombstones_for(&[contact.id]).await?.pop();
    if !sync.clear_tombstone(contact.id).await? {
        eprintln!(
            "contact {} <{}> is not left out of the sync: there is no tombstone to clear",
            contact.id, contact.email
        );
        return Ok(ExitCode::from(1));
    }
    let what = stone
        .map(|t| {
            format!(
                " (its Salesforce {} {} was deleted)",
                t.object.api_name(),
                t.org_id
            )
        })
        .unwrap_or_default();
    outln!(
        "contact {} <{}> will be synced again{what}: the next sync may create a new Lead in Salesforce for it",
        contact.id,
        contact.email
    );
    Ok(ExitCode::SUCCESS)
}

/// The JSON form of a contact: the attribute names as keys, then custom fields by name.
fn contact_json(c: &Contact) -> Value {
    let s = &c.stage_reached;
    let mut value = json!({
        "id": c.id.0,
        "email": c.email.as_str(),
        "first_name": c.first_name,
        "last_name": c.last_name,
        "company": c.company,
        "job_title": c.job_title,
        "phone": c.phone,
        "behaviour_score": c.behaviour_score,
        "state": c.state,
        "lifecycle_stage": c.lifecycle_stage.name(),
        "stage_reached": {
            "lead": s.lead.map(rfc3339), "mql": s.mql.map(rfc3339),
            "sql": s.sql.map(rfc3339), "customer": s.customer.map(rfc3339),
        },
        "source": c.source,
        "medium": c.medium,
        "campaign": c.campaign,
        "created_at": rfc3339(c.created_at),
        "updated_at": rfc3339(c.updated_at),
    });
    for (name, v) in &c.custom {
        value[name] = Value::String(v.clone());
    }
    value
}
