//! Org deletes (`lb_engine::deletes`) driven directly against the emulator and the store: a
//! Lead deleted in the org → tombstone, link gone, contact kept; merged into an unlinked
//! record → re-linked to the master; merged into a record linked to another contact →
//! tombstoned and reported as a duplicate; an unlinked deletion → nothing; applied twice →
//! nothing more; a tombstoned contact is suppressed until its tombstone is cleared.

use lb_core::SObject;
use lb_emulator::state::merge::MergeRequest;
use lb_engine::Watermarks;
use lb_engine::deletes::{self, DeletedRecord};
use lb_salesforce::{Client, ClientConfig};
use lb_store::ContactId;
use lb_store::sync::NewRun;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::support::World;
use crate::support::world;

fn client(w: &World) -> Client {
    let (_, password, token) = w.em.emulator.credentials();
    let creds = w.credentials(password.expose_secret(), token.expose_secret());
    Client::new(ClientConfig::new(w.em.login_url.clone()), creds).expect("client")
}

async fn run_id(w: &World) -> i64 {
    w.store
        .sync()
        .start_run(&NewRun {
            triggered_by: "test".into(),
            scope: "incremental".into(),
            dry_run: false,
            owner: "test@host".into(),
            mapping_hash: None,
        })
        .await
        .unwrap()
}

async fn linked_org_id(w: &World, id: ContactId) -> Option<String> {
    w.store
        .sync()
        .links_by_contacts(&[id])
        .await
        .unwrap()
        .into_iter()
        .next()
        .map(|l| l.org_id)
}

fn create_lead(w: &World, last: &str, email: &str) -> String {
    let body = json!({"LastName": last, "Company": "Acme", "Email": email});
    w.em.emulator
        .org_mut()
        .create("Lead", body.as_object().unwrap())
        .expect("lead created")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_and_merged_leads_become_tombstones_or_new_links() {
    let w = world().await;
    assert!(w.connect().await.ok);
    let mut contacts = Vec::new();
    for name in ["deleted", "merged", "loser", "winner", "kept"] {
        let c = w
            .add_contact(json!({"email": format!("{name}@example.com"), "last_name": name, "company": "Acme"}))
            .await;
        contacts.push(c.id);
    }
    let [deleted, merged, loser, winner, kept] = contacts[..] else {
        unreachable!()
    };
    let first = w.sync().await;
    assert_eq!(
        first.status,
        lb_engine::RunStatus::Succeeded,
        "{:?}",
        first.message
    );
    let mut lead = std::collections::BTreeMap::new();
    for id in &contacts {
        lead.insert(
            *id,
            linked_org_id(&w, *id)
                .await
                .expect("linked by the first sync"),
        );
    }
    // The runner's bound: the Lead watermark minus the overlap (`None` when the org had no Lead
    // when last read, as here: the first sync only pushed Leads; then the whole recycle bin).
    let wm = Watermarks::load(&w.store).await.unwrap();
    let since = wm.lead.map(|t| t - time::Duration::minutes(5));

    // In the org, after the sync: a deletion, a merge into a new (unlinked) Lead, a merge into
    // a Lead linked to another contact, and a deletion of a Lead nobody is linked to.
    let master = create_lead(&w, "Master", "master@example.com");
    let stray = create_lead(&w, "Stray", "stray@example.com");
    {
        let mut org = w.em.emulator.org_mut();
        org.delete(Some("Lead"), &lead[&deleted]).unwrap();
        org.delete(Some("Lead"), &stray).unwrap();
        for (victim, into) in [(&lead[&merged], &master), (&lead[&loser], &lead[&winner])] {
            org.merge(&MergeRequest {
                object: "Lead".into(),
                master_id: into.clone(),
                master_fields: serde_json::Map::new(),
                victim_ids: vec![victim.clone()],
            })
            .expect("merged");
        }
    }

    let client = client(&w);
    // One token request, then one queryAll request for the object (under 2,000 deletions).
    let before = client.request_counts();
    let read = deletes::read_deleted(&client, SObject::Lead, since)
        .await
        .unwrap();
    let cost = client.request_counts().since(&before);
    assert_eq!(cost.get(lb_salesforce::EndpointKind::Query), 1, "{cost:?}");
    assert_eq!(
        cost.get(lb_salesforce::EndpointKind::QueryMore),
        0,
        "{cost:?}"
    );
    let by_id = |id: &str| read.iter().find(|d| d.id == id).cloned();
    assert_eq!(read.len(), 4, "{read:?}");
    assert_eq!(by_id(&lead[&deleted]).unwrap().master_id, None);
    assert_eq!(
        by_id(&lead[&merged]).unwrap().master_id.as_deref(),
        Some(master.as_str())
    );
    assert_eq!(
        by_id(&lead[&loser]).unwrap().master_id.as_deref(),
        Some(lead[&winner].as_str())
    );
    assert!(by_id(&stray).is_some());
    // Nothing was deleted in the Contact object; a window after the deletions is empty.
    assert!(
        deletes::read_deleted(&client, SObject::Contact, since)
            .await
            .unwrap()
            .is_empty()
    );
    let later = time::OffsetDateTime::now_utc() + time::Duration::minutes(1);
    assert!(
        deletes::read_deleted(&client, SObject::Lead, Some(later))
            .await
            .unwrap()
            .is_empty()
    );

    let run = run_id(&w).await;
    let counts = deletes::apply_deletes(&w.store, run, &read).await.unwrap();
    assert_eq!(
        (
            counts.read,
            counts.unlinked,
            counts.tombstoned,
            counts.relinked,
            counts.duplicates,
            counts.stale
        ),
        (4, 1, 1, 1, 1, 0),
        "{counts:?}"
    );
    assert_eq!(counts.relinked_masters, vec![master.clone()]);
    let dup = counts
        .reports
        .iter()
        .find(|r| r.outcome == "duplicate")
        .unwrap();
    assert_eq!((dup.contact_id, dup.other_contact), (loser, Some(winner)));

    // Deleted: link gone, tombstone recorded, contact kept.
    assert_eq!(linked_org_id(&w, deleted).await, None);
    assert!(
        w.store.contact(deleted).await.is_ok(),
        "our contact is kept"
    );
    // Merged into an unlinked Lead: linked to the master now, no tombstone.
    assert_eq!(linked_org_id(&w, merged).await, Some(master.clone()));
    // Merged into the winner's Lead: tombstoned; the winner keeps its link.
    assert_eq!(linked_org_id(&w, loser).await, None);
    assert!(w.store.contact(loser).await.is_ok());
    assert_eq!(linked_org_id(&w, winner).await, Some(lead[&winner].clone()));
    assert_eq!(linked_org_id(&w, kept).await, Some(lead[&kept].clone()));
    let stones = w.store.sync().tombstones_for(&contacts).await.unwrap();
    assert_eq!(
        stones.iter().map(|t| t.contact_id).collect::<Vec<_>>(),
        vec![deleted, loser]
    );
    assert_eq!(stones[0].org_id, lead[&deleted]);
    assert_eq!(stones[0].run_id, run);
    assert_eq!(stones[1].master_id.as_deref(), Some(lead[&winner].as_str()));
    // Nothing was deleted in the org by us: the live Leads are exactly the survivors.
    for id in [&master, &lead[&winner], &lead[&kept]] {
        assert!(w.em.emulator.org().get("Lead", id).is_ok());
    }

    // Read again inside the overlap: nothing more happens (the links are gone or moved).
    let again = deletes::apply_deletes(&w.store, run, &read).await.unwrap();
    assert_eq!(
        (
            again.unlinked,
            again.tombstoned,
            again.relinked,
            again.duplicates,
            again.stale
        ),
        (4, 0, 0, 0, 0),
        "{again:?}"
    );
    assert_eq!(w.store.sync().count_tombstones().await.unwrap(), 2);

    // The runner leaves the tombstoned contacts out, with a reason, until cleared.
    let sup = deletes::suppressed(&w.store, &contacts).await.unwrap();
    assert_eq!(
        sup.tombstones.keys().copied().collect::<Vec<_>>(),
        vec![deleted, loser]
    );
    assert!(
        sup.emails.contains_key("deleted@example.com"),
        "{:?}",
        sup.emails
    );
    let reasons = sup.reasons();
    assert!(
        reasons[0].1.contains("was deleted in the org"),
        "{reasons:?}"
    );
    assert!(reasons[0].1.contains(&lead[&deleted]), "{reasons:?}");
    assert!(reasons[1].1.contains("merged into"), "{reasons:?}");
    // A full sync's candidate list (every contact) gives the same answer.
    let mut many: Vec<ContactId> = (1..=50).map(ContactId).collect();
    many.extend(&contacts);
    let sup_all = deletes::suppressed(&w.store, &many).await.unwrap();
    assert_eq!(sup_all, sup);
    assert_eq!(deletes::suppressed_all(&w.store).await.unwrap(), sup);
    assert!(w.store.sync().clear_tombstone(deleted).await.unwrap());
    let sup = deletes::suppressed(&w.store, &contacts).await.unwrap();
    assert!(!sup.contains(deleted) && sup.contains(loser));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_org_contact_is_tombstoned_like_a_lead() {
    let w = world().await;
    assert!(w.connect().await.ok);
    // A flagged org Contact is imported and linked by the first sync.
    let ids = w
        .seed_org(
            "Contact",
            vec![json!({"LastName": "Hopper", "Email": "grace@example.com", "sync_to_plezi__c": "yes"})],
        )
        .await;
    let first = w.sync().await;
    assert_eq!(
        first.status,
        lb_engine::RunStatus::Succeeded,
        "{:?}",
        first.message
    );
    let ours = w
        .store
        .contact_by_email(&lb_store::Email::parse("grace@example.com").unwrap())
        .await
        .unwrap()
        .expect("imported");
    assert_eq!(
        linked_org_id(&w, ours.id).await.as_deref(),
        Some(ids[0].as_str())
    );
    w.em.emulator
        .org_mut()
        .delete(Some("Contact"), &ids[0])
        .unwrap();
    let read: Vec<DeletedRecord> = deletes::read_deleted(&client(&w), SObject::Contact, None)
        .await
        .unwrap();
    assert_eq!(
        read.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        vec![ids[0].as_str()]
    );
    let run = run_id(&w).await;
    let counts = deletes::apply_deletes(&w.store, run, &read).await.unwrap();
    assert_eq!(counts.tombstoned, 1, "{counts:?}");
    assert_eq!(linked_org_id(&w, ours.id).await, None);
    let stone = &w.store.sync().tombstones_for(&[ours.id]).await.unwrap()[0];
    assert_eq!(stone.object, SObject::Contact);
    // The run record's shape.
    let recorded: Value = json!(counts);
    assert_eq!(recorded["tombstoned"], json!(1));
    assert_eq!(recorded["reports"][0]["outcome"], json!("tombstoned"));
}

/// Through the runner: the next incremental sync sees a deletion and a merge with its change
/// query (no request of its own), keeps the contact, relinks the merged one to the winner, and
/// never pushes the deleted Lead again — not even in a full resync — until a Lead with that
/// email is created in the org after the deletion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_applies_org_deletes_and_never_recreates_a_deleted_lead() {
    use lb_engine::{RunRequest, RunStatus, Scope, Trigger};
    let w = world().await;
    assert!(w.connect().await.ok);
    let gone = w
        .add_contact(json!({"email": "gone@example.com", "last_name": "Gone", "company": "Acme"}))
        .await;
    let merged = w
        .add_contact(
            json!({"email": "merged@example.com", "last_name": "Merged", "company": "Acme"}),
        )
        .await;
    let first = w.sync().await;
    assert_eq!(first.status, RunStatus::Succeeded, "{:?}", first.message);
    let gone_lead = linked_org_id(&w, gone.id).await.expect("linked");
    let merged_lead = linked_org_id(&w, merged.id).await.expect("linked");
    let idle = w.sync().await;
    let master = create_lead(&w, "Master", "master@example.com");
    {
        let mut org = w.em.emulator.org_mut();
        org.delete(Some("Lead"), &gone_lead).unwrap();
        org.merge(&MergeRequest {
            object: "Lead".into(),
            master_id: master.clone(),
            master_fields: serde_json::Map::new(),
            victim_ids: vec![merged_lead.clone()],
        })
        .expect("merged");
    }

    let run = w.sync().await;
    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.message);
    let d = &run.counts.deletes;
    assert_eq!((d.read, d.tombstoned, d.relinked), (2, 1, 1), "{d:?}");
    assert_eq!(linked_org_id(&w, gone.id).await, None);
    assert_eq!(linked_org_id(&w, merged.id).await, Some(master.clone()));
    assert!(
        w.store.contact(gone.id).await.is_ok(),
        "our contact is kept"
    );
    assert!(
        run.api_requests <= idle.api_requests + 3,
        "deletions ride on the change query; the extra requests are the winner read again by \
         Id, its email looked up and our values written to it: {} vs idle {}",
        run.api_requests,
        idle.api_requests
    );

    // A full resync leaves the tombstoned contact out and says why.
    let full = w
        .engine
        .run(RunRequest::new(Trigger::Manual, Scope::Full))
        .await
        .expect("run starts");
    assert_eq!(full.status, RunStatus::Succeeded, "{:?}", full.message);
    assert!(
        w.org_leads("gone@example.com").is_empty(),
        "never re-created"
    );
    assert!(
        full.counts
            .skips
            .iter()
            .any(|s| s.id == gone.id.to_string() && s.reason.contains("deleted")),
        "{:?}",
        full.counts.skips
    );

    // A Lead with the same email created in the org after the deletion: it syncs again.
    let again = create_lead(&w, "Gone", "gone@example.com");
    let back = w.sync().await;
    assert_eq!(back.status, RunStatus::Succeeded, "{:?}", back.message);
    assert_eq!(linked_org_id(&w, gone.id).await, Some(again));
    assert!(
        w.store
            .sync()
            .tombstones_for(&[gone.id])
            .await
            .unwrap()
            .is_empty(),
        "the tombstone is cleared"
    );
    assert_eq!(
        w.org_leads("gone@example.com").len(),
        1,
        "no duplicate Lead"
    );
}
