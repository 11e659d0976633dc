//! The sync runtime's tables (issue 6, `lb_store::sync`), on both backends: links with bases
//! replaced by org id, one batch in one transaction with its intents cleared, run history with
//! failures, compare-and-swap state, the change marks and backlog the runner reads.

use std::collections::BTreeMap;

use lb_core::{FieldBase, SObject, Side};
use lb_store::sync::{
    BatchCommit, Intent, NewRun, ProvenanceEntry, RunEnd, RunFailure, RunStatus, StoredLink,
};
use lb_store::{ChangeCursor, Origin};
use serde_json::json;

use crate::both_backends;
use crate::support::input;

fn link(contact: i64, org: &str) -> StoredLink {
    let mut base = BTreeMap::new();
    base.insert(
        "email".to_owned(),
        FieldBase {
            ours: Some("a@x.io".into()),
            theirs: Some("A@x.io".into()),
            entry: 7,
        },
    );
    StoredLink {
        contact_id: lb_store::ContactId(contact),
        org_id: org.into(),
        object: SObject::Lead,
        base,
    }
}

both_backends!(
    a_batch_records_links_provenance_failures_and_clears_its_intents,
    |store| {
        let sync = store.sync();
        let c = store
            .create_contact(&input(json!({"email": "a@x.io"})), Origin::User)
            .await
            .unwrap();
        let run = sync
            .start_run(&NewRun {
                triggered_by: "manual".into(),
                scope: "incremental".into(),
                dry_run: false,
                owner: "1@h".into(),
                mapping_hash: None,
            })
            .await
            .unwrap();
        sync.put_intents(
            run,
            &[Intent {
                contact_id: c.id,
                email: "a@x.io".into(),
            }],
        )
        .await
        .unwrap();
        assert_eq!(sync.intents().await.unwrap().len(), 1);
        let failure = RunFailure {
            side: Side::Crm,
            object: Some("Lead".into()),
            record: Some("contact 9".into()),
            email: Some("b@x.io".into()),
            error_code: "DUPLICATES_DETECTED".into(),
            message: "dup".into(),
            fields: vec!["Email".into()],
        };
        let batch = BatchCommit {
            run_id: run,
            links: vec![link(c.id.0, "00Q1")],
            provenance: vec![ProvenanceEntry {
                contact_id: c.id,
                attribute: "email".into(),
                target: Side::Crm,
                source: Side::Marketing,
                rule: "Created".into(),
                value: Some("a@x.io".into()),
                run_id: run,
                written_at: time::OffsetDateTime::now_utc(),
            }],
            failures: vec![failure.clone()],
            clear_intents: vec![c.id],
        };
        sync.commit_batch(&batch).await.unwrap();
        assert!(sync.intents().await.unwrap().is_empty());
        assert_eq!(
            sync.links_by_contacts(&[c.id]).await.unwrap(),
            vec![link(c.id.0, "00Q1")]
        );
        assert_eq!(
            sync.links_by_org_ids(&["00Q1".into()]).await.unwrap().len(),
            1
        );
        assert_eq!(sync.provenance(c.id).await.unwrap()[0].rule, "Created");
        assert_eq!(sync.run_failures(run).await.unwrap(), vec![failure]);

        // A link that moves to another contact replaces the old one (one link per org record).
        let d = store
            .create_contact(&input(json!({"email": "d@x.io"})), Origin::User)
            .await
            .unwrap();
        sync.commit_batch(&BatchCommit {
            run_id: run,
            links: vec![link(d.id.0, "00Q1")],
            ..Default::default()
        })
        .await
        .unwrap();
        assert!(sync.links_by_contacts(&[c.id]).await.unwrap().is_empty());
        assert_eq!(sync.count_links().await.unwrap(), 1);

        sync.finish_run(
            run,
            &RunEnd {
                status: RunStatus::Succeeded,
                counts: json!({"failed": 1}),
                api_requests: 7,
                message: None,
            },
        )
        .await
        .unwrap();
        let r = sync.run(run).await.unwrap().unwrap();
        assert_eq!(
            (r.status, r.api_requests, r.counts["failed"].as_u64()),
            (RunStatus::Succeeded, 7, Some(1))
        );
        assert_eq!(
            sync.last_finished_run(Some(RunStatus::Succeeded))
                .await
                .unwrap()
                .unwrap()
                .id,
            run
        );
        assert!(sync.running_runs().await.unwrap().is_empty());
    }
);

both_backends!(state_compare_and_swap_takes_a_value_once, |store| {
    let sync = store.sync();
    assert!(
        sync.compare_and_swap_state("lock", None, Some("me"))
            .await
            .unwrap()
    );
    assert!(
        !sync
            .compare_and_swap_state("lock", None, Some("you"))
            .await
            .unwrap()
    );
    assert_eq!(sync.state("lock").await.unwrap().as_deref(), Some("me"));
    assert!(
        sync.compare_and_swap_state("lock", Some("me"), None)
            .await
            .unwrap()
    );
    assert_eq!(sync.state("lock").await.unwrap(), None);
});

both_backends!(
    change_marks_and_backlog_leave_the_syncs_own_writes_out,
    |store| {
        let sync = store.sync();
        let a = store
            .create_contact(&input(json!({"email": "a@x.io"})), Origin::User)
            .await
            .unwrap();
        let b = store
            .create_contact(&input(json!({"email": "b@x.io"})), Origin::Sync)
            .await
            .unwrap();
        assert_eq!(sync.backlog(ChangeCursor::START).await.unwrap(), 1);
        // Sent by a run for that contact alone (its link recorded after the change): no longer
        // waiting, though the cursor did not move; changed again: waiting again.
        sync.commit_batch(&BatchCommit {
            run_id: 1,
            links: vec![link(a.id.0, "00Q1")],
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!(sync.backlog(ChangeCursor::START).await.unwrap(), 0);
        store
            .update_contact(a.id, &input(json!({"company": "Acme"})), Origin::Form)
            .await
            .unwrap();
        assert_eq!(sync.backlog(ChangeCursor::START).await.unwrap(), 1);
        let marks = sync.change_marks(ChangeCursor::START, 100).await.unwrap();
        assert!(
            marks
                .iter()
                .any(|m| m.contact_id == a.id && m.origin == Origin::User)
        );
        assert!(
            marks
                .iter()
                .any(|m| m.contact_id == b.id && m.origin == Origin::Sync)
        );
        let times = sync.field_times(&[a.id, b.id]).await.unwrap();
        assert!(times[&a.id].contains_key("email"));
        assert!(
            !times.contains_key(&b.id),
            "the sync's own writes do not count as changes here"
        );
        let found = sync
            .contacts_by_emails(&[lb_store::Email::parse("B@X.io").unwrap()])
            .await
            .unwrap();
        assert_eq!(found[0].id, b.id);
    }
);
