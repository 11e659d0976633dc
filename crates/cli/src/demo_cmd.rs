//! `leadbridge demo`: everything in one process, no Salesforce account needed — an embedded
//! emulated org (lb-emulator, in-process), a contact base seeded with data that exercises every
//! rule of the seed (duplicate emails, records without email, flagged and unflagged Contacts,
//! a converted Lead, a contact without the company Salesforce requires), connected with the
//! seed's flow (consumer key/secret, username, password + security token), required fields
//! created, the default mapping, a first sync, a form submission pushed to the org, then the
//! scheduler until Ctrl-C. It prints what to open and what to try.
//!
//! The data directory (`--data-dir`, default a fresh directory under the system temp dir)
//! keeps the contact base and the emulated org (saved on exit), so the other commands —
//! `status`, `runs`, `sync` — work against the demo from another terminal while it runs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use lb_emulator::{Config as EmulatorConfig, Emulator};
use lb_engine::{
    ConnectRequest, Engine, RunRequest, Scheduler, SchedulerConfig, Scope, SyncSettings, Trigger,
};
use lb_salesforce::{Credentials, SecretString};
use lb_store::{ContactInput, NewForm, Origin, Store};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::base_settings::{GlobalArgs, runtime};
use crate::sync_cmd::{init_tracing, open_base};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the web app listens (another free port is taken if this one is busy).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Address of the embedded Salesforce emulator (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub emulator_listen: std::net::SocketAddr,
    /// Run the seeding and the first sync, print the summary, and exit instead of serving.
    #[arg(long)]
    pub no_serve: bool,
}

pub fn run(global: &GlobalArgs, args: DemoArgs) -> anyhow::Result<ExitCode> {
    init_tracing();
    let mut global = global.clone();
    let data_dir = global.data_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("leadbridge-demo-{}", std::process::id()))
    });
    global.data_dir = Some(data_dir.clone());
    runtime()?.block_on(demo(global, data_dir, args))
}

async fn demo(global: GlobalArgs, data_dir: PathBuf, args: DemoArgs) -> anyhow::Result<ExitCode> {
    lb_store::ensure_data_dir(&data_dir)?;
    let org_file = data_dir.join("emulated-org.json");
    let fresh_org = !org_file.exists();
    let emulator = lb_emulator::spawn(EmulatorConfig {
        listen: args.emulator_listen,
        state_file: Some(org_file.clone()),
        ..EmulatorConfig::default()
    })
    .await
    .context("starting the embedded Salesforce emulator")?;
    recover_org(&emulator.emulator);
    let (store, key) = open_base(&global).await?;
    outln!("leadbridge demo — data in {}", data_dir.display());
    outln!("Embedded Salesforce org (emulator): {}", emulator.url);

    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(_) => tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding the web app")?,
    };
    let base_url = format!("http://{}", listener.local_addr()?);
    let engine = Engine::new(store.clone(), key);
    let mut settings = SyncSettings::load(&store).await?;
    // plezi_url (R-FIELD-1) points to this app's contact pages.
    settings.app_base_url = base_url.clone();
    settings.save(&store).await?;

    if fresh_org {
        seed_org_before_connect(&emulator.emulator)?;
    }
    if store.count_contacts().await? == 0 {
        seed_contacts(&store).await?;
    }

    // Connect with the seed's flow, creating the required fields (R-FIELD-5).
    let (username, password, token) = emulator.emulator.credentials();
    let cfg = emulator.emulator.config();
    let request = |create_fields| ConnectRequest {
        login_url: emulator.login_url.clone(),
        instance_url: Some(emulator.url.clone()),
        credentials: Credentials::Password {
            client_id: cfg.client_id.clone(),
            client_secret: Some(SecretString::from(
                cfg.client_secret.expose_secret().to_owned(),
            )),
            username: username.clone(),
            password: password.clone(),
            security_token: token.clone(),
        },
        create_fields,
    };
    let mut report = engine.connect(request(true)).await?;
    if !report.ok && report.logged_in {
        // An emulator without the Tooling API: add the fields as an admin would in Setup.
        add_fields_directly(&emulator.emulator);
        report = engine.connect(request(false)).await?;
    }
    if let Some(o) = report.org.as_ref().filter(|o| !o.name.is_empty()) {
        outln!(
            "Connected to {} ({}) with consumer key/secret, username, password + security token.",
            o.name,
            o.edition
        );
    } else if report.logged_in {
        outln!(
            "Connected to the embedded org at {} with consumer key/secret, username, password + security token.",
            emulator.url
        );
    }
    for f in &report.fields {
        outln!("  field {}.{}: {:?}", f.object, f.field, f.status);
    }
    if !report.ok {
        anyhow::bail!(
            "the demo org could not be connected: {}",
            report
                .error
                .as_deref()
                .unwrap_or("no reason given (see the fields above)")
        );
    }
    if fresh_org {
        seed_org_after_connect(&emulator.emulator)?;
    }

    // The first sync: full, since nothing was synced yet.
    let outcome = engine
        .run(RunRequest::new(Trigger::Manual, Scope::Incremental))
        .await?;
    let c = &outcome.counts;
    outln!(
        "First sync (run {}): {} — {} created in the org, {} created here from Leads and {} from flagged Contacts, \
         {} skipped, {}, {}.",
        outcome.run_id.unwrap_or(0),
        outcome.status.name(),
        count(c.crm.lead.created, "Lead", "Leads"),
        count(c.marketing.lead.created, "contact", "contacts"),
        c.marketing.contact.created,
        c.skipped,
        count(c.duplicate_groups, "duplicate group", "duplicate groups"),
        count(outcome.api_requests, "API request", "API requests")
    );
    if let Some(m) = &outcome.message {
        outln!("  {}", m.replace('\n', "\n  "));
    }

    let cancel = CancellationToken::new();
    let scheduler = Scheduler::spawn(engine.clone(), SchedulerConfig::default(), cancel.clone());

    // The web app: pages (sign-in, contacts, settings, mapping, sync history) and the API.
    let admin_password = demo_admin(&store).await?;
    let (ui, _setup_link) = lb_web::ui::app(engine.clone(), &base_url)
        .await
        .context("preparing the web app")?;
    let app = lb_web::router(lb_web::AppState::new(store.clone(), &base_url)).merge(ui);
    let server_cancel = cancel.clone();
    let server = tokio::spawn(async move {
        lb_web::serve(
            listener,
            app,
            async move { server_cancel.cancelled().await },
        )
        .await
    });

    // A form submission reaches the org within a second (R-SYNC-4).
    let form = store
        .forms()
        .await?
        .into_iter()
        .next()
        .context("the demo form")?;
    let email = "new.visitor@example.com";
    if store
        .contact_by_email(&lb_store::Email::parse(email)?)
        .await?
        .is_none()
    {
        let started = Instant::now();
        store
            .submit_form(
                form.id,
                &[
                    ("email".into(), email.into()),
                    ("first_name".into(), "New".into()),
                    ("last_name".into(), "Visitor".into()),
                    ("company".into(), "Curious Inc".into()),
                ],
            )
            .await?;
        let mut found = None;
        while started.elapsed() < Duration::from_secs(10) {
            let ids = emulator
                .emulator
                .org()
                .find_by_field("Lead", "Email", email);
            if let Some(id) = ids.into_iter().next() {
                found = Some(id);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        match found {
            Some(id) => outln!(
                "Form submission for {email}: Lead {id} in the org {} ms after the submission.",
                started.elapsed().as_millis()
            ),
            None => outln!(
                "Form submission for {email}: not in the org after 10 s (see `leadbridge runs`)."
            ),
        }
    }

    let dir = data_dir.display();
    let password_words = match &admin_password {
        Some(p) => format!(" with the password {p}"),
        None => " with the password printed the first time this data directory was used".into(),
    };
    outln!(
        "Seeded: duplicate emails (ada@lovelace.example twice in the org), a Lead without email, Contacts flagged"
    );
    outln!(
        "sync_to_plezi = yes (imported) and no (not imported), a converted Lead, a contact without company (skipped)."
    );
    outln!();
    if args.no_serve {
        // Nothing keeps serving: no URL to open and nothing to try against a stopped org.
        outln!("The demo has stopped (--no-serve); its data stays in {dir}. To look at it:");
        outln!("  leadbridge --data-dir {dir} status            # connection, last run, backlog");
        outln!(
            "  leadbridge --data-dir {dir} runs              # run history; `runs show 1` for failures and skips"
        );
        outln!(
            "  leadbridge --data-dir {dir} demo              # the web app and the org again (sign in as `demo`{password_words})"
        );
    } else {
        outln!("Open {base_url} and sign in as `demo`{password_words}.");
        outln!(
            "  {base_url}/contacts            the contact base (each contact's page is its Lead's plezi_url)"
        );
        outln!("  {base_url}/settings/salesforce the connection, its health and the fields");
        outln!(
            "  {base_url}/settings/mapping    the field mapping (a change offers a full resync)"
        );
        outln!(
            "  {base_url}/sync                the run history, every failure with the org's error code"
        );
        outln!();
        outln!("What to try (from another terminal, while this runs):");
        outln!(
            "  curl -s -XPOST {base_url}/api/v1/forms/{}/submissions -d email=you@example.com -d first_name=You -d last_name=Test -d company=Acme",
            form.id
        );
        outln!(
            "      # a form submission: its Lead is in the org within a second (`runs` shows it)"
        );
        outln!(
            "  leadbridge --data-dir {dir} status            # connection, last/next run, backlog"
        );
        outln!(
            "  leadbridge --data-dir {dir} runs              # run history; `runs show 1` for failures and skips"
        );
        outln!("  leadbridge --data-dir {dir} sync --dry-run    # what the next sync would do");
        outln!(
            "  curl -s {}/__emulator/stats                  # API requests the org has counted",
            emulator.url
        );
        outln!(
            "  curl -s -XPOST {}/__emulator/faults -d '{{\"kind\":\"expire_password\"}}'   # the seed's #1 failure: then `sync`, `status`",
            emulator.url
        );
        outln!(
            "  curl -s -XPOST {}/__emulator/password -d '{{\"password\":\"NEWPASS\",\"security_token\":\"NEWTOKEN\"}}'   # the admin resets it",
            emulator.url
        );
        outln!(
            "  leadbridge --data-dir {dir} connect --instance-url {} --client-id {} --client-secret '{}' --username {} \\\n      --password NEWPASS --security-token NEWTOKEN   # the new credentials: the sync resumes",
            emulator.url,
            cfg.client_id,
            cfg.client_secret.expose_secret(),
            username
        );
    }

    if args.no_serve {
        cancel.cancel();
    } else {
        outln!();
        outln!(
            "Syncing every {} minutes and after every form submission. Ctrl-C to stop.",
            settings.interval_minutes
        );
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = cancel.cancelled() => {}
        }
        cancel.cancel();
    }
    scheduler.join().await;
    let _ = server.await;
    emulator
        .shutdown()
        .await
        .context("saving the emulated org")?;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// The demo's org always comes up: faults injected during a previous demo (the "What to try"
/// list: an expired password, pending errors) are saved with the org, and would otherwise stop
/// the next start. The current password and token (a `POST /__emulator/password` is kept) stay.
fn recover_org(em: &Emulator) {
    {
        let mut auth = em.auth();
        auth.password_expired = false;
        // Sessions opened while the password was expired only served to change it.
        auth.sessions.retain(|_, s| !s.password_expired);
    }
    em.usage().faults.clear();
}

/// The demo's administrator, created once per data directory; returns its new password.
async fn demo_admin(store: &Store) -> anyhow::Result<Option<String>> {
    // 20 characters of a fresh random key: printed once, never stored in clear.
    let password: String = lb_store::MasterKey::generate()
        .to_base64()
        .expose_secret()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(20)
        .collect();
    match store
        .create_admin("demo", &SecretString::from(password.clone()))
        .await
    {
        Ok(_) => Ok(Some(password)),
        Err(lb_store::StoreError::AlreadyExists { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn seed(em: &Emulator, object: &str, records: &[Value]) -> anyhow::Result<Vec<String>> {
    let mut org = em.org_mut();
    let sp = org.begin();
    let mut ids = Vec::new();
    for r in records {
        let map = r.as_object().cloned().unwrap_or_default();
        match org.seed(object, &map) {
            Ok(id) => ids.push(id),
            Err(e) => {
                org.rollback(sp);
                anyhow::bail!("seeding the demo org's {object}s failed: {:?}", e.errors);
            }
        }
    }
    org.commit();
    Ok(ids)
}

/// Org records that need no custom field.
fn seed_org_before_connect(em: &Emulator) -> anyhow::Result<()> {
    seed(
        em,
        "Lead",
        &[
            json!({"FirstName": "Ada", "LastName": "Lovelace", "Company": "Analytical Engines", "Email": "ada@lovelace.example",
                   "CreatedDate": "2025-01-10T09:00:00.000+0000"}),
            // Same email, created later: a duplicate group (R-SYNC-3); the first is synced.
            json!({"FirstName": "Augusta Ada", "LastName": "King", "Company": "Analytical Engines Ltd", "Email": "ADA@lovelace.example",
                   "CreatedDate": "2025-03-02T09:00:00.000+0000"}),
            json!({"FirstName": "Grace", "LastName": "Hopper", "Company": "US Navy", "Email": "grace@navy.example"}),
            // No email: never synced, listed as skipped (R-SYNC-1).
            json!({"FirstName": "No", "LastName": "Email", "Company": "Ghost Corp"}),
        ],
    )?;
    Ok(())
}

/// Org records that need `sync_to_plezi__c` (created by `connect --create-fields`).
fn seed_org_after_connect(em: &Emulator) -> anyhow::Result<()> {
    let contacts = seed(
        em,
        "Contact",
        &[
            json!({"FirstName": "Margaret", "LastName": "Hamilton", "Email": "margaret@apollo.example", "sync_to_plezi__c": "yes"}),
            json!({"FirstName": "Alan", "LastName": "Turing", "Email": "alan@bletchley.example", "sync_to_plezi__c": "no"}),
            json!({"FirstName": "Linus", "LastName": "Torvalds", "Email": "linus@kernel.example", "sync_to_plezi__c": "yes"}),
        ],
    )?;
    // A Lead converted to the Linus Contact: it follows its Contact (R-SYNC-6).
    seed(
        em,
        "Lead",
        &[
            json!({"FirstName": "Linus", "LastName": "Torvalds", "Company": "Transmeta", "Email": "linus@kernel.example",
                 "IsConverted": true, "ConvertedContactId": contacts[2], "ConvertedDate": "2025-06-01"}),
        ],
    )?;
    Ok(())
}

fn add_fields_directly(em: &Emulator) {
    use lb_emulator::state::schema::{FieldDef, FieldType};
    let mut org = em.org_mut();
    let _ = org.add_custom_field(
        "Lead",
        FieldDef::new("plezi_url__c", "plezi_url", FieldType::Url).len(255),
    );
    let _ = org.add_custom_field(
        "Lead",
        FieldDef::new("score__c", "score", FieldType::String).len(255),
    );
    let _ = org.add_custom_field(
        "Lead",
        FieldDef::new("status__c", "status", FieldType::String).len(255),
    );
    let _ = org.add_custom_field(
        "Lead",
        FieldDef::new("campaign__c", "campaign", FieldType::String).len(255),
    );
    let _ = org.add_custom_field(
        "Lead",
        FieldDef::new(
            "lead_creation_date__c",
            "lead creation date",
            FieldType::Date,
        ),
    );
    let _ = org.add_custom_field(
        "Contact",
        FieldDef::new("sync_to_plezi__c", "sync_to_plezi", FieldType::Picklist).picklist(
            &["yes", "no"],
            None,
            true,
        ),
    );
}

async fn seed_contacts(store: &Store) -> anyhow::Result<()> {
    let contacts = [
        json!({"email": "tim@w3.example", "first_name": "Tim", "last_name": "Berners-Lee", "company": "W3C",
               "behaviour_score": 35, "state": "engaged", "campaign": "webinar-2026"}),
        json!({"email": "barbara@mit.example", "first_name": "Barbara", "last_name": "Liskov", "company": "MIT", "state": "accepted"}),
        // Salesforce requires Company on a Lead and no fallback is set: skipped with the reason.
        json!({"email": "dennis@bell.example", "first_name": "Dennis", "last_name": "Ritchie"}),
        // Already a Lead in the org: matched by email, not duplicated.
        json!({"email": "Grace@Navy.example", "first_name": "Grace", "last_name": "Hopper", "company": "US Navy", "behaviour_score": 12}),
        // An org Contact not flagged for sync: no Lead is created for it.
        json!({"email": "alan@bletchley.example", "first_name": "Alan", "last_name": "Turing", "company": "Bletchley Park"}),
    ];
    for c in contacts {
        let input: ContactInput = c.as_object().cloned().unwrap_or_default();
        store.create_contact(&input, Origin::User).await?;
    }
    store
        .create_form(&NewForm {
            name: "Contact us".into(),
            mapping: [
                ("email", "email"),
                ("first_name", "first_name"),
                ("last_name", "last_name"),
                ("company", "company"),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect(),
            score_increment: None,
        })
        .await?;
    Ok(())
}

/// `n` and the noun, singular for one.
fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}
