//! The faults a real org throws, injected through the emulator's control API. After each:
//! one org Lead per email, no lost change (a later clean run brings every contact to the
//! org), every failure recorded with the org's errorCode.

use lb_engine::{Health, RunStatus};
use serde_json::json;

use crate::support::{World, world};

async fn contacts(w: &World, n: usize, prefix: &str) {
    for i in 0..n {
        w.add_contact(json!({"email": format!("{prefix}{i}@example.com"), "last_name": format!("L{i}"), "company": "Acme"}))
            .await;
    }
}

/// No lost change: every contact has exactly one Lead once the faults are gone.
async fn all_pushed(w: &World, n: usize, prefix: &str) {
    for i in 0..n {
        assert_eq!(
            w.org_leads(&format!("{prefix}{i}@example.com")).len(),
            1,
            "{prefix}{i} has one Lead"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_renewed_without_losing_the_run() {
    let w = world().await;
    assert!(w.connect().await.ok);
    contacts(&w, 5, "s").await;
    let first = w.sync().await;
    assert_eq!(first.status, RunStatus::Succeeded);
    contacts(&w, 5, "t").await;
    w.fault("expire_sessions", 1).await;
    let second = w.sync().await;
    assert_eq!(second.status, RunStatus::Succeeded, "{:?}", second.message);
    all_pushed(&w, 5, "t").await;
    w.check_invariants(&[&first, &second]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_limit_exceeded_pauses_then_a_later_run_finishes_the_work() {
    let w = world().await;
    assert!(w.connect().await.ok);
    contacts(&w, 450, "r").await;
    // The org refuses the next calls with REQUEST_LIMIT_EXCEEDED.
    w.fault("request_limit_exceeded", 3).await;
    let paused = w.sync().await;
    assert_eq!(paused.status, RunStatus::Paused, "{:?}", paused.message);
    assert!(
        matches!(paused.health, Health::AllowanceSpent { .. }),
        "{:?}",
        paused.health
    );
    assert!(
        paused
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("REQUEST_LIMIT_EXCEEDED")
    );
    // Manual runs try again at once; once the allowance is back, the work is finished.
    let resumed = loop {
        let o = w.sync().await;
        if o.status != RunStatus::Paused {
            break o;
        }
    };
    assert_eq!(
        resumed.status,
        RunStatus::Succeeded,
        "{:?}",
        resumed.message
    );
    all_pushed(&w, 450, "r").await;
    w.check_invariants(&[&paused, &resumed]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_of_503_lose_nothing_and_duplicate_nothing() {
    let w = world().await;
    assert!(w.connect().await.ok);
    contacts(&w, 250, "b").await;
    w.fault("server_unavailable", 3).await;
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        let o = w.sync().await;
        let done = o.status == RunStatus::Succeeded;
        outcomes.push(o);
        if done {
            break;
        }
    }
    assert_eq!(outcomes.last().unwrap().status, RunStatus::Succeeded);
    all_pushed(&w, 250, "b").await;
    w.check_invariants(&outcomes.iter().collect::<Vec<_>>())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unable_to_lock_row_is_retried_and_succeeds() {
    let w = world().await;
    assert!(w.connect().await.ok);
    contacts(&w, 10, "k").await;
    w.fault("unable_to_lock_row", 2).await;
    let o = w.sync().await;
    assert_eq!(o.status, RunStatus::Succeeded, "{:?}", o.message);
    all_pushed(&w, 10, "k").await;
    w.check_invariants(&[&o]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_detected_is_a_recorded_per_record_failure_retried_next_run() {
    let w = world().await;
    assert!(w.connect().await.ok);
    contacts(&w, 3, "d").await;
    w.fault("duplicates_detected", 1).await;
    let first = w.sync().await;
    assert_eq!(first.status, RunStatus::Succeeded);
    assert!(first.counts.failed >= 1, "{:?}", first.counts);
    assert!(
        first
            .failures
            .iter()
            .all(|f| f.error_code == "DUPLICATES_DETECTED"),
        "{:?}",
        first.failures
    );
    assert!(
        first
            .failures
            .iter()
            .all(|f| f.email.as_deref().is_some_and(|e| e.starts_with('d')))
    );
    let second = w.sync().await;
    assert_eq!(second.status, RunStatus::Succeeded);
    assert_eq!(second.counts.failed, 0);
    all_pushed(&w, 3, "d").await;
    w.check_invariants(&[&first, &second]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_org_refuses_is_recorded_and_the_others_go_through() {
    let w = world().await;
    assert!(w.connect().await.ok);
    contacts(&w, 4, "v").await;
    // Lead.LastName is 80 characters in the org: this one is refused, the others are not.
    let long = "x".repeat(120);
    w.add_contact(json!({"email": "toolong@example.com", "last_name": long, "company": "Acme"}))
        .await;
    let o = w.sync().await;
    assert_eq!(o.status, RunStatus::Succeeded);
    assert_eq!(o.counts.crm.lead.created, 4);
    assert_eq!(o.counts.failed, 1);
    let f = &o.failures[0];
    assert_eq!(f.email.as_deref(), Some("toolong@example.com"));
    assert_eq!(f.error_code, "STRING_TOO_LONG");
    assert_eq!(f.fields, vec!["LastName".to_string()]);
    let shown = w
        .store
        .sync()
        .run_failures(o.run_id.unwrap())
        .await
        .unwrap();
    assert_eq!(shown, o.failures);
    all_pushed(&w, 4, "v").await;
    w.check_invariants(&[&o]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_created_before_a_crash_is_found_by_email_and_never_created_twice() {
    let w = world().await;
    assert!(w.connect().await.ok);
    let first = w.sync().await;
    assert_eq!(first.status, RunStatus::Succeeded);
    // The crash window: the create reached the org, the process died before recording the
    // link; the intent journal holds the contact. The Lead's SystemModstamp is older than the
    // watermark, so only the email lookup can find it.
    let c = w
        .add_contact(json!({"email": "crash@example.com", "last_name": "Crash", "company": "Acme"}))
        .await;
    w.seed_org(
        "Lead",
        vec![json!({"LastName": "Crash", "Company": "Acme", "Email": "crash@example.com",
                    "SystemModstamp": "2020-01-01T00:00:00.000+0000", "CreatedDate": "2020-01-01T00:00:00.000+0000"})],
    )
    .await;
    w.store
        .sync()
        .put_intents(
            first.run_id.unwrap(),
            &[lb_store::sync::Intent {
                contact_id: c.id,
                email: "crash@example.com".into(),
            }],
        )
        .await
        .unwrap();
    let again = w.sync().await;
    assert_eq!(again.status, RunStatus::Succeeded, "{:?}", again.message);
    assert_eq!(again.counts.crm.lead.created, 0);
    assert_eq!(again.counts.links_matched, 1);
    assert_eq!(w.org_leads("crash@example.com").len(), 1);
    assert!(
        w.store.sync().intents().await.unwrap().is_empty(),
        "the intent is settled by the link"
    );
    w.check_invariants(&[&first, &again]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_budget_pauses_the_sync_before_it_overruns_its_share() {
    let w = world().await;
    assert!(w.connect().await.ok);
    contacts(&w, 3, "g").await;
    let mut settings = lb_engine::SyncSettings::load(&w.store).await.unwrap();
    // A share so small that the org's current use is already above it.
    settings.budget_share = 0.000_01;
    settings.save(&w.store).await.unwrap();
    let paused = w.sync().await;
    assert_eq!(paused.status, RunStatus::Paused, "{:?}", paused.message);
    assert!(
        matches!(paused.health, Health::BudgetReached { .. }),
        "{:?}",
        paused.health
    );
    assert_eq!(
        paused.counts.crm.lead.created, 0,
        "nothing written past the budget"
    );
    settings.budget_share = 0.5;
    settings.save(&w.store).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_paused_by_refused_credentials_resumes_by_itself_once_new_ones_are_saved() {
    use std::time::Duration;
    let w = world().await;
    assert!(w.connect().await.ok);
    assert_eq!(w.sync().await.status, RunStatus::Succeeded);
    w.fault("expire_password", 1).await;
    contacts(&w, 2, "p").await;
    let refused = w.sync().await;
    assert!(matches!(refused.health, Health::CredentialsRejected { .. }));
    let cancel = tokio_util::sync::CancellationToken::new();
    let config = lb_engine::SchedulerConfig {
        first_run_after: Duration::from_secs(3600),
        health_poll: Duration::from_millis(50),
        ..Default::default()
    };
    let scheduler = lb_engine::Scheduler::spawn(w.engine.clone(), config, cancel.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        w.org_leads("p0@example.com").is_empty(),
        "no retry with the refused credentials"
    );
    w.control(
        "password",
        json!({"password": "Fresh-Pass3", "security_token": "FRESHTOKEN"}),
    )
    .await;
    assert!(
        w.connect_with(w.credentials("Fresh-Pass3", "FRESHTOKEN"))
            .await
            .ok
    );
    assert!(
        w.eventually(10, |w| w.org_leads("p1@example.com").len() == 1)
            .await,
        "resumed by itself"
    );
    cancel.cancel();
    scheduler.join().await;
    all_pushed(&w, 2, "p").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_change_turns_the_next_run_into_a_full_resync() {
    let w = world().await;
    assert!(w.connect().await.ok);
    contacts(&w, 3, "m").await;
    assert_eq!(w.sync().await.status, RunStatus::Succeeded);
    // Our own creates come back once (new SystemModstamp), then nothing is read.
    w.sync().await;
    let idle = w.sync().await;
    assert_eq!(
        idle.counts.read_contacts, 0,
        "an incremental run reads only what changed"
    );
    // R-SYNC-5: job title now flows both ways.
    let mut mapping = lb_engine::settings::load_mapping(&w.store).await.unwrap();
    mapping
        .set_direction(
            "job_title",
            lb_core::SObject::Lead,
            lb_core::Direction::Both,
        )
        .unwrap();
    lb_engine::settings::save_mapping(&w.store, &mapping)
        .await
        .unwrap();
    let resync = w.sync().await;
    assert_eq!(resync.status, RunStatus::Succeeded);
    assert_eq!(resync.counts.read_contacts, 3, "every contact read again");
    assert!(
        resync
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("full resync"),
        "{:?}",
        resync.message
    );
    let after = w.sync().await;
    assert_eq!(
        after.counts.read_contacts, 0,
        "back to incremental once resynced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_credentials_flow_connects_syncs_and_keeps_its_secret_encrypted() {
    use secrecy::ExposeSecret;
    let w = world().await;
    let cfg = w.em.emulator.config();
    let creds = lb_salesforce::Credentials::ClientCredentials {
        client_id: cfg.client_id.clone(),
        client_secret: lb_salesforce::SecretString::from(
            cfg.client_secret.expose_secret().to_owned(),
        ),
    };
    let report = w.connect_with(creds).await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.grant, "client_credentials");
    assert!(
        report.notice.is_none(),
        "no legacy-flow notice for client credentials"
    );
    let conn = lb_engine::ConnectionSettings::load(&w.store)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conn.grant, "client_credentials");
    let stored = serde_json::to_string(&conn).unwrap();
    assert!(
        !stored.contains(cfg.client_secret.expose_secret()),
        "no secret outside the secret store"
    );
    contacts(&w, 2, "cc").await;
    assert_eq!(w.sync().await.status, RunStatus::Succeeded);
    all_pushed(&w, 2, "cc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_planned_in_small_partitions_keeps_email_groups_whole() {
    let w = world().await;
    assert!(w.connect().await.ok);
    let mut settings = lb_engine::SyncSettings::load(&w.store).await.unwrap();
    settings.plan_partition = 3;
    settings.save(&w.store).await.unwrap();
    contacts(&w, 12, "q").await;
    w.seed_org(
        "Lead",
        vec![
            json!({"LastName": "First", "Company": "A", "Email": "dup.q@example.com", "CreatedDate": "2025-01-01T00:00:00.000+0000"}),
            json!({"LastName": "Second", "Company": "B", "Email": "Dup.Q@example.com", "CreatedDate": "2025-02-01T00:00:00.000+0000"}),
            json!({"LastName": "Known", "Company": "C", "Email": "q3@example.com"}),
        ],
    )
    .await;
    let o = w.sync().await;
    assert_eq!(o.status, RunStatus::Succeeded, "{:?}", o.message);
    assert_eq!(o.counts.duplicate_groups, 1);
    assert_eq!(
        o.counts.crm.lead.created, 11,
        "q3 already has its Lead: matched, not created"
    );
    assert_eq!(o.counts.links_matched, 1);
    assert_eq!(
        o.counts.marketing.lead.created, 1,
        "one contact for the duplicate pair"
    );
    let dup = w
        .store
        .contact_by_email(&lb_store::Email::parse("dup.q@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dup.last_name.as_deref(), Some("First"));
    all_pushed(&w, 12, "q").await;
    w.check_invariants(&[&o]).await;
}
