//! The run's outbox (issue 6): a push spanning several partitions is one Bulk ingest job; a
//! pull of org Leads sends every new contact's page link (`plezi_url`) in the same run, so the
//! next run has nothing to send and nothing to re-read; a run stopped once its outbox was
//! written loses nothing and duplicates nothing; a failed record is read again from the retry
//! table.

use std::sync::Arc;

use lb_emulator::state::FaultKind;
use lb_engine::{Progress, RunRequest, RunStatus, Scope, SyncSettings, Trigger};
use lb_store::sync::RetryKind;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::{APP, World, world};

/// Small partitions, and Bulk from 50 rows: a few hundred records span many partitions and
/// each of their writes would be a Bulk job of its own if sent partition by partition.
async fn small_partitions(w: &World) {
    let mut settings = SyncSettings::load(&w.store).await.unwrap();
    settings.plan_partition = 40;
    settings.bulk_write_threshold = 50;
    settings.save(&w.store).await.unwrap();
}

/// The org's Bulk ingest jobs (`GET /jobs/ingest`, with a session of its own).
async fn ingest_jobs(w: &World) -> Vec<Value> {
    let cfg = w.em.emulator.config();
    let (user, password, token) = w.em.emulator.credentials();
    let login: Value = w
        .http
        .post(format!("{}/services/oauth2/token", w.em.url))
        .form(&[
            ("grant_type", "password"),
            ("client_id", cfg.client_id.as_str()),
            ("client_secret", cfg.client_secret.expose_secret()),
            ("username", user.as_str()),
            (
                "password",
                &format!("{}{}", password.expose_secret(), token.expose_secret()),
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = login["access_token"].as_str().expect("token");
    let list: Value = w
        .http
        .get(format!("{}/services/data/v66.0/jobs/ingest", w.em.url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["records"].as_array().cloned().unwrap_or_default()
}

async fn push_contacts(w: &World, n: usize, prefix: &str) {
    for i in 0..n {
        w.add_contact(json!({"email": format!("{prefix}{i:03}@example.com"), "last_name": format!("L{i}"), "company": "Acme"}))
            .await;
    }
}

async fn org_leads(w: &World, n: usize, prefix: &str) {
    let org: Vec<Value> = (0..n)
        .map(|i| json!({"LastName": format!("Org{i}"), "Company": "OrgCo", "Email": format!("{prefix}{i:03}@example.com")}))
        .collect();
    w.seed_org("Lead", org).await;
}

/// Every Lead of `prefix` points to the page of the contact holding its email.
async fn every_lead_has_its_page_link(w: &World, n: usize, prefix: &str) {
    for i in 0..n {
        let email = format!("{prefix}{i:03}@example.com");
        let leads = w.org_leads(&email);
        assert_eq!(leads.len(), 1, "{email}: one Lead");
        let parsed = lb_store::Email::parse(&email).unwrap();
        let contact = w
            .store
            .sync()
            .contacts_by_emails(&[parsed])
            .await
            .unwrap()
            .pop()
            .expect("contact imported");
        assert_eq!(
            leads[0]["plezi_url__c"],
            json!(format!("{APP}/contacts/{}", contact.id)),
            "{email}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_spanning_several_partitions_is_one_bulk_job() {
    let w = world().await;
    assert!(w.connect().await.ok);
    small_partitions(&w).await;
    push_contacts(&w, 300, "p").await;
    let o = w.sync().await;
    assert_eq!(o.status, RunStatus::Succeeded, "{:?}", o.message);
    assert_eq!(o.counts.crm.lead.created, 300);
    let jobs = ingest_jobs(&w).await;
    assert_eq!(
        jobs.len(),
        1,
        "one ingest job for 300 creates planned in 40-record partitions: {jobs:?}"
    );
    assert_eq!(jobs[0]["operation"], json!("insert"));
    for i in 0..300 {
        assert_eq!(w.org_leads(&format!("p{i:03}@example.com")).len(), 1);
    }
    // Every create is linked: the next run has nothing to do.
    let again = w.sync().await;
    assert_eq!(again.status, RunStatus::Succeeded, "{:?}", again.message);
    assert_eq!(again.counts.crm, Default::default());
    assert_eq!(ingest_jobs(&w).await.len(), 1);
    w.check_invariants(&[&o, &again]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_of_org_leads_sends_their_page_links_in_the_same_run() {
    let w = world().await;
    assert!(w.connect().await.ok);
    small_partitions(&w).await;
    org_leads(&w, 200, "o").await;
    let o = w.sync().await;
    assert_eq!(o.status, RunStatus::Succeeded, "{:?}", o.message);
    assert_eq!(o.counts.marketing.lead.created, 200);
    assert_eq!(o.counts.crm.lead.updated, 200, "the page links");
    every_lead_has_its_page_link(&w, 200, "o").await;
    let jobs = ingest_jobs(&w).await;
    assert_eq!(jobs.len(), 1, "one update job for the page links: {jobs:?}");
    assert_eq!(jobs[0]["operation"], json!("update"));
    let status = w.engine.status().await.unwrap();
    assert_eq!(
        status.backlog.retries, 0,
        "no created contact waits for a re-read"
    );

    // The next run reads the org's changes (our own updates coming back) and sends nothing:
    // no write, no read of a Lead by Id.
    let before = w.em.emulator.usage().by_endpoint.clone();
    let next = w.sync().await;
    assert_eq!(next.status, RunStatus::Succeeded, "{:?}", next.message);
    assert_eq!(next.counts.crm, Default::default());
    assert_eq!(next.counts.marketing, Default::default());
    let after = w.em.emulator.usage().by_endpoint.clone();
    let used = |k: &str| after.get(k).copied().unwrap_or(0) - before.get(k).copied().unwrap_or(0);
    assert_eq!(used("jobs"), 0, "no Bulk job: {before:?} → {after:?}");
    assert_eq!(used("composite/sobjects"), 0, "no collection write");
    // The change reads of Leads and Contacts (`queryAll`, one page each), nothing else.
    assert!(
        next.api_requests <= 3,
        "{} requests: {before:?} → {after:?}",
        next.api_requests
    );
    w.check_invariants(&[&o, &next]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_once_its_outbox_is_written_loses_and_duplicates_nothing() {
    let w = world().await;
    assert!(w.connect().await.ok);
    small_partitions(&w).await;
    push_contacts(&w, 120, "c").await;
    org_leads(&w, 120, "o").await;

    // Every partition planned, the outbox written: the org refuses what comes next.
    let em = w.em.emulator.clone();
    let mut request = RunRequest::new(Trigger::Manual, Scope::Incremental);
    request.progress = Some(Arc::new(move |p| {
        if p == Progress::Phase("sending to the org") {
            em.usage().faults.insert(FaultKind::RequestLimitExceeded, 2);
        }
    }));
    let stopped = w.engine.run(request).await.unwrap();
    assert_eq!(stopped.status, RunStatus::Paused, "{:?}", stopped.message);
    assert_eq!(stopped.counts.crm.lead.created, 0, "{:?}", stopped.counts);
    assert_eq!(
        stopped.counts.marketing.lead.created, 120,
        "applied at once"
    );
    let run_id = stopped.run_id.unwrap();
    assert_eq!(
        w.store.sync().outbox_len(run_id, None).await.unwrap(),
        0,
        "a stopped run leaves no outbox behind"
    );
    let wm = lb_engine::Watermarks::load(&w.store).await.unwrap();
    assert!(wm.completed_at.is_none(), "the watermarks did not move");

    let mut runs = vec![stopped];
    loop {
        let o = w.sync().await;
        let done = o.status != RunStatus::Paused;
        runs.push(o);
        if done {
            break;
        }
    }
    let last = runs.last().unwrap();
    assert_eq!(last.status, RunStatus::Succeeded, "{:?}", last.message);
    let created: u64 = runs.iter().map(|o| o.counts.crm.lead.created).sum();
    let imported: u64 = runs.iter().map(|o| o.counts.marketing.lead.created).sum();
    assert_eq!(
        (created, imported),
        (120, 120),
        "every record once, none twice"
    );
    for i in 0..120 {
        assert_eq!(w.org_leads(&format!("c{i:03}@example.com")).len(), 1);
    }
    every_lead_has_its_page_link(&w, 120, "o").await;
    w.check_invariants(&runs.iter().collect::<Vec<_>>()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cancelled_once_its_outbox_is_written_sends_nothing_and_the_next_run_does() {
    let w = world().await;
    assert!(w.connect().await.ok);
    small_partitions(&w).await;
    push_contacts(&w, 100, "k").await;
    let cancel = CancellationToken::new();
    let on = cancel.clone();
    let mut request = RunRequest::new(Trigger::Manual, Scope::Incremental);
    request.cancel = Some(cancel);
    request.progress = Some(Arc::new(move |p| {
        if p == Progress::Phase("sending to the org") {
            on.cancel();
        }
    }));
    let stopped = w.engine.run(request).await.unwrap();
    assert_eq!(stopped.status, RunStatus::Paused, "{:?}", stopped.message);
    assert!(ingest_jobs(&w).await.is_empty(), "nothing sent");
    assert!(w.org_leads("k000@example.com").is_empty());
    let next = w.sync().await;
    assert_eq!(next.status, RunStatus::Succeeded, "{:?}", next.message);
    assert_eq!(next.counts.crm.lead.created, 100);
    w.check_invariants(&[&stopped, &next]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_record_is_read_again_from_the_retry_table() {
    let w = world().await;
    assert!(w.connect().await.ok);
    push_contacts(&w, 3, "f").await;
    w.fault("duplicates_detected", 1).await;
    let first = w.sync().await;
    assert_eq!(first.status, RunStatus::Succeeded, "{:?}", first.message);
    let failed = first.counts.failed;
    assert!(failed >= 1, "{:?}", first.failures);
    let retry = w
        .store
        .sync()
        .retry_page(RetryKind::Contact, "", 100)
        .await
        .unwrap();
    assert_eq!(
        retry.len() as u64,
        failed,
        "the failed contacts wait in the retry table"
    );
    assert_eq!(
        w.engine.status().await.unwrap().backlog.retries as u64,
        failed
    );
    // Nothing changed here since: only the retry table brings it back.
    let second = w.sync().await;
    assert_eq!(second.status, RunStatus::Succeeded, "{:?}", second.message);
    assert_eq!(second.counts.crm.lead.created, failed);
    assert_eq!(second.counts.failed, 0);
    assert_eq!(w.store.sync().retry_len().await.unwrap(), 0, "settled");
    assert_eq!(w.engine.status().await.unwrap().backlog.retries, 0);
    for i in 0..3 {
        assert_eq!(w.org_leads(&format!("f{i:03}@example.com")).len(), 1);
    }
    w.check_invariants(&[&first, &second]).await;
}
