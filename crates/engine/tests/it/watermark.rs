//! The SystemModstamp watermark rests on the org's clock at the time of the read (the `Date`
//! of an answer received before the change query), not on the newest stamp seen: a write is
//! read back once by the run after it, then no more, while an org edit made later still comes
//! back.

use lb_engine::SyncSettings;
use serde_json::json;

use crate::support::world;

#[tokio::test]
async fn a_write_is_read_back_once_then_only_new_org_edits_are_read() {
    let w = world().await;
    w.connect().await;
    let mut settings = SyncSettings::load(&w.store).await.unwrap();
    settings.overlap_seconds = 1;
    settings.save(&w.store).await.unwrap();
    for i in 0..5 {
        w.add_contact(
            json!({"email": format!("wm{i}@example.com"), "last_name": "Mark", "company": "Acme"}),
        )
        .await;
    }
    let push = w.sync().await;
    assert_eq!(push.counts.crm.lead.created, 5, "{:?}", push.message);
    // The next run reads the pushed Leads back (they were stamped after its watermark).
    // Let the overlap pass first, as the 2 hours between two scheduled runs would.
    tokio::time::sleep(std::time::Duration::from_millis(3_500)).await;
    let back = w.sync().await;
    assert_eq!(back.counts.read_org_leads, 5, "own writes read back once");
    // The run after that starts from the org's clock at the read-back, past the writes and
    // their overlap window: nothing is read again.
    let idle = w.sync().await;
    assert_eq!(
        idle.counts.read_org_leads, 0,
        "nothing re-read from the overlap window"
    );
    // An org edit made since is read, and comes here.
    let lead = &w.org_leads("wm3@example.com")[0];
    let id = lead["Id"].as_str().unwrap().to_owned();
    w.org_update("Lead", &id, json!({"Company": "Edited In Org"}));
    let edit = w.sync().await;
    assert_eq!(edit.counts.read_org_leads, 1);
    assert_eq!(edit.counts.marketing.lead.updated, 1, "{:?}", edit.counts);
    let c = w
        .store
        .contact_by_email(&lb_store::Email::parse("wm3@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        c.values().get("company").map(String::as_str),
        Some("Edited In Org")
    );
    w.check_invariants(&[&push, &back, &idle, &edit]).await;
}
