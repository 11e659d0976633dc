//! The seed, walked end to end against the emulator: connect with consumer key/secret,
//! username, password + security token; required fields missing → created; Leads pushed with
//! `plezi_url`, `score`, `status`; a form submission reaches the org (scheduler); an org edit
//! comes back; a flagged Contact is imported, an unflagged one is not, none is written;
//! duplicates reported; no-email records skipped; the password expires → "credentials
//! rejected", nothing lost, new credentials → resumes.

use std::collections::BTreeMap;
use std::time::Duration;

use lb_engine::{FieldStatus, Health, RunStatus, Scheduler, SchedulerConfig};
use lb_store::{Email, NewForm};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::{APP, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_end_to_end() {
    let w = world().await;

    // R-CONN-1, R-FIELD-5: the seed's credentials; the required fields are created.
    let (_, password, token) = w.em.emulator.credentials();
    let creds = w.credentials(password.expose_secret(), token.expose_secret());
    let first_try = w.connect_with(creds.clone()).await;
    assert!(first_try.logged_in && first_try.saved);
    assert_eq!(first_try.org.as_ref().unwrap().edition, "Developer Edition");
    let status_of = |r: &lb_engine::ConnectReport, f: &str| {
        r.fields.iter().find(|c| c.field == f).map(|c| c.status)
    };
    // Missing in a fresh org: created with the user's consent (R-FIELD-5).
    assert!(first_try.ok, "{first_try:?}");
    for f in [
        "plezi_url__c",
        "sync_to_plezi__c",
        "score__c",
        "status__c",
        "campaign__c",
        "lead_creation_date__c",
    ] {
        assert_eq!(
            status_of(&first_try, f),
            Some(FieldStatus::Created),
            "{f}: {first_try:?}"
        );
    }
    // Connecting again finds them in place.
    let report = w.connect_with(creds).await;
    assert!(report.ok, "{report:?}");
    assert_eq!(
        status_of(&report, "plezi_url__c"),
        Some(FieldStatus::Present)
    );

    // The org: a duplicate pair, a Lead without email, flagged and unflagged Contacts, and a
    // Lead converted to the flagged Contact.
    let leads = w
        .seed_org(
            "Lead",
            vec![
                json!({"LastName": "Lovelace", "FirstName": "Ada", "Company": "AE", "Email": "dup.ada@example.com", "Phone": "111",
                       "CreatedDate": "2025-01-01T00:00:00.000+0000"}),
                json!({"LastName": "King", "FirstName": "Ada", "Company": "AE2", "Email": "DUP.ada@example.com",
                       "CreatedDate": "2025-02-01T00:00:00.000+0000"}),
                json!({"LastName": "Nobody", "Company": "Ghost"}),
            ],
        )
        .await;
    let contacts = w
        .seed_org(
            "Contact",
            vec![
                json!({"LastName": "Hamilton", "Email": "margaret@example.com", "sync_to_plezi__c": "yes"}),
                json!({"LastName": "Turing", "Email": "alan@example.com", "sync_to_plezi__c": "no"}),
            ],
        )
        .await;
    let contact_before: Vec<_> = contacts
        .iter()
        .map(|id| w.org_record("Contact", id))
        .collect();

    // Ours: a contact to push, one without company (skipped: Salesforce requires it), and one
    // whose email is the unflagged Contact (no Lead for it).
    let tim = w
        .add_contact(json!({"email": "Tim@Example.com", "first_name": "Tim", "last_name": "Lee", "company": "W3C",
                            "behaviour_score": 35, "state": "engaged"}))
        .await;
    let dennis = w
        .add_contact(json!({"email": "dennis@example.com", "last_name": "Ritchie"}))
        .await;
    w.add_contact(json!({"email": "alan@example.com", "last_name": "Turing", "company": "GCHQ"}))
        .await;

    let first = w.sync().await;
    assert_eq!(first.status, RunStatus::Succeeded, "{:?}", first.message);
    assert!(first.api_requests > 0);

    // R-FIELD-1, R-FIELD-3: the Lead carries plezi_url, score and status.
    let tim_leads = w.org_leads("tim@example.com");
    assert_eq!(tim_leads.len(), 1);
    let lead = &tim_leads[0];
    assert_eq!(
        lead["plezi_url__c"],
        json!(format!("{APP}/contacts/{}", tim.id))
    );
    assert_eq!(lead["score__c"], json!("35"));
    assert_eq!(lead["status__c"], json!("engaged"));
    assert_eq!(lead["Company"], json!("W3C"));
    // Skipped with the reason, never given a placeholder.
    assert!(w.org_leads("dennis@example.com").is_empty());
    // R-SYNC-1, R-SYNC-7: every skip is listed with its reason in the run's record.
    let reason_of = |id: &str| {
        first
            .counts
            .skips
            .iter()
            .find(|k| k.id == id)
            .map(|k| k.reason.clone())
    };
    assert!(
        reason_of(&dennis.id.to_string())
            .unwrap()
            .contains("Company"),
        "{:?}",
        first.counts.skips
    );
    assert!(
        reason_of(&leads[2]).unwrap().contains("no email"),
        "{:?}",
        first.counts.skips
    );
    assert_eq!(first.counts.duplicates[0].email, "dup.ada@example.com");
    assert_eq!(first.counts.duplicates[0].synced, leads[0]);
    let recorded = w
        .store
        .sync()
        .run(first.run_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        recorded.counts["skips"].as_array().unwrap().len(),
        first.counts.skips.len()
    );
    assert!(
        w.org_leads("alan@example.com").is_empty(),
        "an unflagged Contact's email gets no Lead"
    );

    // R-FIELD-2: the flagged Contact is imported, the unflagged one is not; no Contact written.
    let margaret = w
        .store
        .contact_by_email(&Email::parse("margaret@example.com").unwrap())
        .await
        .unwrap();
    assert_eq!(margaret.unwrap().last_name.as_deref(), Some("Hamilton"));
    let alan = w
        .store
        .contact_by_email(&Email::parse("alan@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        alan.company.as_deref(),
        Some("GCHQ"),
        "our own contact, untouched by the unflagged Contact"
    );
    for (id, before) in contacts.iter().zip(&contact_before) {
        assert_eq!(
            &w.org_record("Contact", id),
            before,
            "R-SYNC-2: an org Contact is never written"
        );
    }

    // R-SYNC-3: one contact for the duplicate pair, the group reported; R-SYNC-1: no-email skipped.
    let ada = w
        .store
        .contact_by_email(&Email::parse("dup.ada@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ada.last_name.as_deref(),
        Some("Lovelace"),
        "the oldest record of the group wins"
    );
    assert_eq!(first.counts.duplicate_groups, 1);
    assert!(
        first.counts.skipped >= 3,
        "no-email Lead, Ritchie without company, the unflagged Contact: {:?}",
        first.counts
    );

    // The contacts created here from org records get their page link pushed back to their
    // Lead on the next run (their id did not exist when the first run planned).
    let settle = w.sync().await;
    assert_eq!(settle.status, RunStatus::Succeeded);
    let ada_lead = w.org_record("Lead", &leads[0]);
    assert_eq!(
        ada_lead["plezi_url__c"],
        json!(format!("{APP}/contacts/{}", ada.id))
    );
    let ada_dup = w.org_record("Lead", &leads[1]);
    assert_eq!(
        ada_dup.get("plezi_url__c"),
        None,
        "only the group's first record is synced"
    );

    // A run with nothing changed writes nothing and costs a couple of requests.
    let idle = w.sync().await;
    assert_eq!(idle.status, RunStatus::Succeeded);
    assert_eq!(
        (idle.counts.crm.lead.created, idle.counts.crm.lead.updated),
        (0, 0)
    );
    assert_eq!(idle.counts.marketing, Default::default());
    assert_eq!(
        idle.api_requests, 2,
        "an idle sync: one change query per object"
    );

    // R-SYNC-4: a form submission reaches the org through the scheduler.
    let cancel = CancellationToken::new();
    let config = SchedulerConfig {
        first_run_after: Duration::from_secs(3600),
        ..SchedulerConfig::default()
    };
    let scheduler = Scheduler::spawn(w.engine.clone(), config, cancel.clone());
    let form = w
        .store
        .create_form(&NewForm {
            name: "Contact us".into(),
            mapping: [
                ("email", "email"),
                ("last", "last_name"),
                ("company", "company"),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect::<BTreeMap<_, _>>(),
            score_increment: None,
        })
        .await
        .unwrap();
    w.store
        .submit_form(
            form.id,
            &[
                ("email".into(), "visitor@example.com".into()),
                ("last".into(), "Visitor".into()),
                ("company".into(), "Curious".into()),
            ],
        )
        .await
        .unwrap();
    assert!(
        w.eventually(10, |w| w.org_leads("visitor@example.com").len() == 1)
            .await,
        "the submission reached the org"
    );
    cancel.cancel();
    scheduler.join().await;

    // An org edit comes back (Phone flows both ways in the default mapping).
    let tim_lead_id = tim_leads[0]["Id"].as_str().unwrap().to_owned();
    w.org_update("Lead", &tim_lead_id, json!({"Phone": "+33 1 23 45 67 89"}));
    let back = w.sync().await;
    assert_eq!(back.status, RunStatus::Succeeded);
    let tim_now = w.store.contact(tim.id).await.unwrap();
    assert_eq!(tim_now.phone.as_deref(), Some("+33 1 23 45 67 89"));

    // R-CONN-6: the password expires → credentials rejected, paused, no retry.
    w.fault("expire_password", 1).await;
    let mut patch = serde_json::Map::new();
    patch.insert("company".into(), Value::String("W3C Europe".into()));
    w.store
        .update_contact(tim.id, &patch, lb_store::Origin::User)
        .await
        .unwrap();
    let refused = w.sync().await;
    assert_eq!(refused.status, RunStatus::Paused);
    let Health::CredentialsRejected {
        error,
        description,
        guidance,
        ..
    } = &refused.health
    else {
        panic!("expected credentials rejected, got {:?}", refused.health)
    };
    assert_eq!(error, "invalid_grant");
    assert!(
        description.contains("authentication failure") || description.contains("expired"),
        "{description}"
    );
    assert!(guidance.iter().any(|g| g.contains("security token")));
    let before = w.api_requests().await;
    let again = w.sync().await;
    assert_eq!(again.status, RunStatus::Paused);
    assert_eq!(again.api_requests, 0);
    assert_eq!(
        w.api_requests().await,
        before,
        "nothing sent while the refused credentials are saved"
    );
    let status = w.engine.status().await.unwrap();
    assert_eq!(status.health.name(), "credentials rejected");
    assert!(status.health_explained.contains("resumes by itself"));
    assert_eq!(
        status.backlog.contacts_changed, 1,
        "the pending change is kept"
    );

    // New credentials → the sync resumes where it stopped, the change arrives.
    w.control(
        "password",
        json!({"password": "New-Pass2", "security_token": "NEWTOKEN42"}),
    )
    .await;
    let report = w
        .connect_with(w.credentials("New-Pass2", "NEWTOKEN42"))
        .await;
    assert!(report.ok, "{report:?}");
    let resumed = w.sync().await;
    assert_eq!(
        resumed.status,
        RunStatus::Succeeded,
        "{:?}",
        resumed.message
    );
    assert_eq!(
        w.org_leads("tim@example.com")[0]["Company"],
        json!("W3C Europe")
    );
    w.check_invariants(&[&first, &settle, &idle, &back, &refused, &again, &resumed])
        .await;
}
