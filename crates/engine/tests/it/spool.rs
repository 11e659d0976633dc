//! The read spool at volume (issue 6): a run planned in many small partitions of whole email
//! groups ends with the same org and the same base as one planned whole; a run stopped
//! between two partitions loses nothing and duplicates nothing once run again; the spool of a
//! run that died is discarded, never planned.

use std::collections::BTreeMap;
use std::sync::Arc;

use lb_engine::{Progress, RunRequest, RunStatus, Scope, SyncSettings, Trigger};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::{World, world};

async fn set_partition(w: &World, plan_partition: usize) {
    let mut settings = SyncSettings::load(&w.store).await.unwrap();
    settings.plan_partition = plan_partition;
    settings.save(&w.store).await.unwrap();
}

/// Every contact here (by email) with its values (its creation time left out).
async fn ours(w: &World) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut after = None;
    loop {
        let page = w
            .store
            .list_contacts(&lb_store::ContactQuery {
                after,
                limit: Some(1000),
                ..Default::default()
            })
            .await
            .unwrap();
        for c in &page.contacts {
            let mut values = c.values();
            values.remove("created_at");
            out.insert(c.email.to_string(), values);
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    out
}

/// Every org Lead (by lower-cased email, then last name) with its synced fields.
fn leads(w: &World) -> BTreeMap<(String, String), BTreeMap<String, Value>> {
    let org = w.em.emulator.org();
    let table = org.table("Lead").unwrap();
    let mut out = BTreeMap::new();
    for (i, r) in table.rows().iter().enumerate() {
        if table.recycle_bin().contains_key(&(i as u32)) {
            continue;
        }
        let email = r
            .get("Email")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_lowercase();
        let last = r
            .get("LastName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let fields = [
            "FirstName",
            "Company",
            "Phone",
            "Title",
            "score__c",
            "status__c",
        ]
        .iter()
        .map(|f| (f.to_string(), r.get(*f).cloned().unwrap_or(Value::Null)))
        .chain([(
            "has_page".to_string(),
            json!(r.get("plezi_url__c").is_some_and(|v| !v.is_null())),
        )])
        .collect();
        out.insert((email, last), fields);
    }
    out
}

#[derive(Debug, PartialEq)]
struct End {
    ours: BTreeMap<String, BTreeMap<String, String>>,
    leads: BTreeMap<(String, String), BTreeMap<String, Value>>,
    links: i64,
    duplicate_groups: u64,
    skipped: u64,
}

/// The same story in a fresh world, planned in partitions of `plan_partition`: a first sync
/// (contacts to push, a Lead already there, a duplicate pair, org-only Leads, flagged and
/// unflagged Contacts, a Lead without email), then edits on both sides — one contact's email
/// moved to the other end of the key order, a linked Lead's email changed in the org — and two
/// more runs.
async fn story(plan_partition: usize) -> End {
    let w = world().await;
    assert!(w.connect().await.ok);
    set_partition(&w, plan_partition).await;
    for i in 0..14 {
        let mut c = json!({"email": format!("s{i:02}@example.com"), "last_name": format!("L{i}"), "company": "Acme", "behaviour_score": i});
        if i == 13 {
            c.as_object_mut().unwrap().remove("company");
        }
        w.add_contact(c).await;
    }
    let mut org_leads = vec![
        json!({"LastName": "First", "Company": "A", "Email": "dup.s@example.com", "CreatedDate": "2025-01-01T00:00:00.000+0000"}),
        json!({"LastName": "Second", "Company": "B", "Email": "Dup.S@example.com", "CreatedDate": "2025-02-01T00:00:00.000+0000"}),
        json!({"LastName": "Known", "Company": "K", "Email": "s03@example.com", "Phone": "333"}),
        json!({"LastName": "Nobody", "Company": "Ghost"}),
    ];
    for i in 0..6 {
        org_leads.push(json!({"LastName": format!("Org{i}"), "Company": "OrgCo", "Email": format!("o{i}@example.com")}));
    }
    let ids = w.seed_org("Lead", org_leads).await;
    w.seed_org(
        "Contact",
        vec![
            json!({"LastName": "Flagged", "Email": "flag@example.com", "sync_to_plezi__c": "yes"}),
            json!({"LastName": "Unflagged", "Email": "s05@example.com", "sync_to_plezi__c": "no"}),
        ],
    )
    .await;
    let first = w.sync().await;
    assert_eq!(first.status, RunStatus::Succeeded, "{:?}", first.message);
    assert_eq!(first.scope, "full", "never synced: the run was a full one");

    // Edits on both sides, some moving a record to another key range.
    let s02 = w
        .store
        .contact_by_email(&lb_store::Email::parse("s02@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut patch = serde_json::Map::new();
    patch.insert("email".into(), json!("zz.s02@example.com"));
    patch.insert("company".into(), json!("Moved Co"));
    w.store
        .update_contact(s02.id, &patch, lb_store::Origin::User)
        .await
        .unwrap();
    let s01 = w
        .store
        .contact_by_email(&lb_store::Email::parse("s01@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut patch = serde_json::Map::new();
    patch.insert("first_name".into(), json!("Changed"));
    w.store
        .update_contact(s01.id, &patch, lb_store::Origin::User)
        .await
        .unwrap();
    let o2 = w.org_leads("o2@example.com")[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.org_update("Lead", &o2, json!({"Phone": "222"}));
    let s04 = w.org_leads("s04@example.com")[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.org_update(
        "Lead",
        &s04,
        json!({"Email": "aa.s04@example.com", "Title": "Chief"}),
    );
    w.org_update("Lead", &ids[2], json!({"Phone": "3333"}));
    let second = w.sync().await;
    assert_eq!(second.status, RunStatus::Succeeded, "{:?}", second.message);
    assert_eq!(second.scope, "incremental");
    let third = w.sync().await;
    assert_eq!(third.status, RunStatus::Succeeded, "{:?}", third.message);
    w.check_invariants(&[&first, &second, &third]).await;
    End {
        ours: ours(&w).await,
        leads: leads(&w),
        links: w.store.sync().count_links().await.unwrap(),
        duplicate_groups: first.counts.duplicate_groups,
        skipped: first.counts.skipped,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_small_partitions_end_with_the_same_org_and_base_as_one() {
    let whole = story(20_000).await;
    let split = story(2).await;
    assert_eq!(whole.duplicate_groups, 1);
    assert!(
        whole.ours.contains_key("zz.s02@example.com")
            && whole.ours.contains_key("aa.s04@example.com"),
        "both email changes arrived: {:?}",
        whole.ours.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        whole.leads[&("o2@example.com".to_string(), "Org2".to_string())]["Phone"],
        json!("222")
    );
    assert_eq!(whole, split);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_between_partitions_loses_nothing_and_duplicates_nothing() {
    let w = world().await;
    assert!(w.connect().await.ok);
    set_partition(&w, 4).await;
    for i in 0..20 {
        w.add_contact(json!({"email": format!("c{i:02}@example.com"), "last_name": format!("L{i}"), "company": "Acme"}))
            .await;
    }
    let org: Vec<Value> = (0..10)
        .map(|i| json!({"LastName": format!("Org{i}"), "Company": "OrgCo", "Email": format!("o{i:02}@example.com")}))
        .collect();
    w.seed_org("Lead", org).await;

    // Stopped as soon as the first partition is applied.
    let cancel = CancellationToken::new();
    let on = cancel.clone();
    let mut request = RunRequest::new(Trigger::Manual, Scope::Incremental);
    request.cancel = Some(cancel);
    request.progress = Some(Arc::new(move |p| {
        if matches!(p, Progress::Applied { .. }) {
            on.cancel();
        }
    }));
    let stopped = w.engine.run(request).await.unwrap();
    assert_eq!(stopped.status, RunStatus::Paused, "{:?}", stopped.message);
    let created = stopped.counts.crm.lead.created + stopped.counts.marketing.lead.created;
    assert!(
        created > 0 && created < 30,
        "stopped part way: {:?}",
        stopped.counts
    );
    let run_id = stopped.run_id.unwrap();
    assert_eq!(
        w.store.sync().spool_len(run_id).await.unwrap(),
        0,
        "a stopped run leaves no spool behind"
    );
    let wm = lb_engine::Watermarks::load(&w.store).await.unwrap();
    assert!(wm.completed_at.is_none(), "the watermarks did not move");

    let again = w.sync().await;
    assert_eq!(again.status, RunStatus::Succeeded, "{:?}", again.message);
    assert_eq!(
        created + again.counts.crm.lead.created + again.counts.marketing.lead.created,
        30,
        "every record once, none twice"
    );
    for i in 0..20 {
        assert_eq!(w.org_leads(&format!("c{i:02}@example.com")).len(), 1);
    }
    let here = ours(&w).await;
    for i in 0..10 {
        assert_eq!(
            here[&format!("o{i:02}@example.com")].get("last_name"),
            Some(&format!("Org{i}"))
        );
    }
    w.check_invariants(&[&stopped, &again]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spool_of_a_run_that_died_is_discarded_not_planned() {
    let w = world().await;
    assert!(w.connect().await.ok);
    let k = w
        .add_contact(json!({"email": "k@example.com", "last_name": "Kay", "company": "Acme"}))
        .await;
    assert_eq!(w.sync().await.status, RunStatus::Succeeded);
    let lead = w.org_leads("k@example.com")[0].clone();
    // A run that died had spooled a copy of the Lead that is not the org's (the next run
    // reads again from the unmoved watermark; it must never plan that copy).
    let mut stale = lb_core::OrgRecord {
        id: lead["Id"].as_str().unwrap().to_owned(),
        object: lb_core::SObject::Lead,
        fields: BTreeMap::new(),
        last_modified: time::OffsetDateTime::now_utc(),
        system_modstamp: time::OffsetDateTime::now_utc(),
        created: time::OffsetDateTime::now_utc(),
        is_converted: false,
        converted_contact_id: None,
    };
    stale.fields.insert("Email".into(), "k@example.com".into());
    stale.fields.insert("LastName".into(), "Stale".into());
    stale.fields.insert("Company".into(), "Stale Co".into());
    let dead = 1_000_000;
    w.store.sync().spool_records(dead, &[stale]).await.unwrap();
    w.store.sync().spool_ours(dead, &[k.id]).await.unwrap();
    let next = w.sync().await;
    assert_eq!(next.status, RunStatus::Succeeded, "{:?}", next.message);
    assert_eq!(w.store.sync().spool_len(dead).await.unwrap(), 0);
    let k = w.store.contact(k.id).await.unwrap();
    assert_eq!(k.last_name.as_deref(), Some("Kay"));
    assert_eq!(
        w.org_leads("k@example.com")[0]["LastName"],
        json!("Kay"),
        "nothing planned from the dead run's copy"
    );
}
