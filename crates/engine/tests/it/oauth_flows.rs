//! The server-to-server OAuth flows end to end through the engine: connect with the JWT bearer
//! flow (the `--private-key FILE` of `leadbridge connect`) and with client credentials against
//! the in-process emulator, then a sync run succeeds both ways — our contact arrives in the org
//! as a Lead, an org Lead arrives here as a contact — on the credentials stored by `connect`.

use std::io::Write;

use lb_engine::RunStatus;
use lb_salesforce::{Credentials, JwtKey, SecretString};
use lb_store::Email;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::support::{World, world, world_with};

/// The throw-away RSA key pair of `lb-salesforce`'s JWT tests (it protects nothing): one file.
#[path = "../../../salesforce/tests/it/keys.rs"]
mod keys;

/// After a successful connect: a contact of ours and an org Lead, one run, each on the other
/// side. The run uses the credentials `connect` stored (the engine reloads them itself).
async fn sync_both_ways(w: &World, tag: &str) {
    w.add_contact(json!({
        "email": format!("ours.{tag}@example.com"),
        "last_name": "Ours",
        "company": "Acme",
    }))
    .await;
    w.seed_org(
        "Lead",
        vec![json!({
            "LastName": "Theirs",
            "Company": "Globex",
            "Email": format!("theirs.{tag}@example.com"),
        })],
    )
    .await;
    let run = w.sync().await;
    assert_eq!(
        run.status,
        RunStatus::Succeeded,
        "{:?} {:?}",
        run.message,
        run.failures
    );
    let leads = w.org_leads(&format!("ours.{tag}@example.com"));
    assert_eq!(leads.len(), 1, "our contact became one Lead");
    assert_eq!(leads[0]["LastName"], json!("Ours"));
    let imported = w
        .store
        .contact_by_email(&Email::parse(&format!("theirs.{tag}@example.com")).unwrap())
        .await
        .unwrap();
    assert!(imported.is_some(), "the org Lead arrived as a contact");
    // A second run, still on the stored credentials, finds nothing to do.
    let again = w.sync().await;
    assert_eq!(again.status, RunStatus::Succeeded, "{:?}", again.message);
    assert_eq!(again.counts.crm.lead.created, 0);
    w.check_invariants(&[&run, &again]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_bearer_with_a_key_file_connects_and_syncs() {
    let w = world_with(lb_emulator::Config {
        jwt_certificate_pem: Some(keys::PUBLIC_KEY_PEM.to_owned()),
        ..lb_emulator::Config::default()
    })
    .await;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(keys::PRIVATE_KEY_PEM.as_bytes()).unwrap();
    let cfg = w.em.emulator.config();
    let report = w
        .connect_with(Credentials::JwtBearer {
            client_id: cfg.client_id.clone(),
            username: cfg.username.clone(),
            key: JwtKey::File(file.path().to_owned()),
            audience: None,
        })
        .await;
    assert!(report.ok && report.logged_in && report.saved, "{report:?}");
    // The key was read at connect time and stored: the runs below do not need the file.
    drop(file);
    sync_both_ways(&w, "jwt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_bearer_for_a_user_the_app_is_not_approved_for_is_refused() {
    // The key is the trusted one, but the assertion names a user the app was not approved for:
    // nothing is saved.
    let w = world_with(lb_emulator::Config {
        jwt_certificate_pem: Some(keys::PUBLIC_KEY_PEM.to_owned()),
        ..lb_emulator::Config::default()
    })
    .await;
    let cfg = w.em.emulator.config();
    let report = w
        .connect_with(Credentials::JwtBearer {
            client_id: cfg.client_id.clone(),
            username: "someone.else@acme.com".into(),
            key: JwtKey::Pem(SecretString::from(keys::PRIVATE_KEY_PEM)),
            audience: None,
        })
        .await;
    assert!(
        !report.ok && !report.logged_in && !report.saved,
        "{report:?}"
    );
    assert!(report.error.is_some(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_connects_and_syncs() {
    let w = world().await;
    let cfg = w.em.emulator.config();
    let report = w
        .connect_with(Credentials::ClientCredentials {
            client_id: cfg.client_id.clone(),
            client_secret: SecretString::from(cfg.client_secret.expose_secret().to_owned()),
        })
        .await;
    assert!(report.ok && report.logged_in && report.saved, "{report:?}");
    sync_both_ways(&w, "cc").await;
}
