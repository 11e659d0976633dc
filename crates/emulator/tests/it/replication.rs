//! `sobjects/{type}/updated` and `/deleted` (salesforce-api.md §9).

use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::support::{Org, V};

fn iso(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn window_url(kind: &str, start: OffsetDateTime, end: OffsetDateTime) -> String {
    format!(
        "{V}/sobjects/Lead/{kind}/?start={}&end={}",
        enc(&iso(start)),
        enc(&iso(end))
    )
}

#[tokio::test]
async fn updated_lists_ids_changed_in_the_window_up_to_the_current_minute() {
    let org = Org::start().await;
    let a = org.lead("Doe", "Acme", "a@acme.io").await;
    let b = org.lead("Roe", "Acme", "b@acme.io").await;
    let gone = org.lead("Gone", "Acme", "g@acme.io").await;
    assert_eq!(
        org.call("DELETE", &format!("{V}/sobjects/Lead/{gone}"), None)
            .await
            .status,
        204
    );
    let now = OffsetDateTime::now_utc();
    // A window ending in the future is covered up to the current minute only, so a record
    // changed during this minute shows up in the next poll rather than being missed.
    let ans = org
        .call(
            "GET",
            &window_url(
                "updated",
                now - Duration::hours(1),
                now + Duration::hours(1),
            ),
            None,
        )
        .await;
    assert_eq!(ans.status, 200, "{}", ans.text);
    let minute = format!("{}:00.000+0000", &iso(now)[..16]);
    assert_eq!(ans.body["latestDateCovered"], json!(minute));
    let ids = ans.body["ids"].as_array().unwrap().clone();
    let stamp = org
        .call("GET", &format!("{V}/sobjects/Lead/{a}"), None)
        .await
        .body["SystemModstamp"]
        .as_str()
        .unwrap()
        .to_owned();
    if stamp.as_str() < minute.as_str() {
        assert_eq!(ids, vec![json!(a), json!(b)]);
    } else {
        assert_eq!(
            ids,
            Vec::<Value>::new(),
            "changes of the current minute wait for the next window"
        );
    }

    // A past window sees nothing, and says it covered exactly up to its end.
    let past_end = now - Duration::minutes(90);
    let ans = org
        .call(
            "GET",
            &window_url("updated", now - Duration::hours(2), past_end),
            None,
        )
        .await;
    assert_eq!(
        ans.body,
        json!({"ids": [], "latestDateCovered": format!("{}:00.000+0000", &iso(past_end)[..16])})
    );
}

#[tokio::test]
async fn deleted_lists_recycle_bin_entries_with_their_deletion_time() {
    let org = Org::start().await;
    let keep = org.lead("Keep", "Acme", "k@acme.io").await;
    let gone = org.lead("Gone", "Acme", "g@acme.io").await;
    assert_eq!(
        org.call("DELETE", &format!("{V}/sobjects/Lead/{gone}"), None)
            .await
            .status,
        204
    );
    let _ = keep;
    // Let the deletion's minute pass out of "now": query a window whose end is a minute ahead
    // and check the entry either way.
    let now = OffsetDateTime::now_utc();
    let ans = org
        .call(
            "GET",
            &window_url(
                "deleted",
                now - Duration::hours(1),
                now + Duration::minutes(5),
            ),
            None,
        )
        .await;
    assert_eq!(ans.status, 200, "{}", ans.text);
    let covered = ans.body["latestDateCovered"].as_str().unwrap().to_owned();
    let deleted_at = org
        .call(
            "GET",
            &format!(
                "{V}/queryAll?q={}",
                enc(&format!(
                    "SELECT SystemModstamp FROM Lead WHERE Id = '{gone}'"
                ))
            ),
            None,
        )
        .await
        .body["records"][0]["SystemModstamp"]
        .as_str()
        .unwrap()
        .to_owned();
    let expected: Vec<Value> = if deleted_at < covered {
        vec![json!({"id": gone, "deletedDate": deleted_at})]
    } else {
        Vec::new()
    };
    assert_eq!(ans.body["deletedRecords"], json!(expected));
    let earliest = ans.body["earliestDateAvailable"].as_str().unwrap();
    assert!(
        earliest.ends_with(":00.000+0000") && earliest <= covered.as_str(),
        "{}",
        ans.text
    );
}

#[tokio::test]
async fn bad_windows_are_refused_with_replication_errors() {
    let org = Org::start().await;
    let now = OffsetDateTime::now_utc();
    let a = org
        .call(
            "GET",
            &window_url("updated", now, now - Duration::hours(1)),
            None,
        )
        .await;
    assert_eq!(
        (a.status, a.body[0]["errorCode"].clone()),
        (400, json!("INVALID_REPLICATION_DATE"))
    );
    // Seconds are truncated: two times within one minute are the same instant.
    let a = org
        .call(
            "GET",
            &window_url(
                "updated",
                now.replace_second(1).unwrap(),
                now.replace_second(59).unwrap(),
            ),
            None,
        )
        .await;
    assert_eq!(
        (a.status, a.body[0]["errorCode"].clone()),
        (400, json!("INVALID_REPLICATION_DATE"))
    );
    let a = org
        .call(
            "GET",
            &window_url("deleted", now - Duration::days(31), now),
            None,
        )
        .await;
    assert_eq!(
        (a.status, a.body[0]["errorCode"].clone()),
        (400, json!("INVALID_REPLICATION_DATE"))
    );
    let a = org
        .call(
            "GET",
            &format!("{V}/sobjects/Lead/updated/?start=yesterday&end=today"),
            None,
        )
        .await;
    assert_eq!(
        (a.status, a.body[0]["errorCode"].clone()),
        (400, json!("INVALID_REPLICATION_DATE"))
    );
    let a = org
        .call("GET", &format!("{V}/sobjects/Lead/updated/"), None)
        .await;
    assert_eq!(
        (a.status, a.body[0]["errorCode"].clone()),
        (400, json!("MISSING_ARGUMENT"))
    );
    let a = org
        .call(
            "GET",
            &window_url("updated", now - Duration::hours(1), now).replace("Lead", "Nope"),
            None,
        )
        .await;
    assert_eq!(
        (a.status, a.body[0]["errorCode"].clone()),
        (404, json!("NOT_FOUND"))
    );
    let a = org
        .call(
            "POST",
            &window_url("updated", now - Duration::hours(1), now),
            Some(json!({})),
        )
        .await;
    assert_eq!(a.status, 405);
}

#[tokio::test]
async fn unencoded_plus_offsets_are_read_as_plus() {
    let org = Org::start().await;
    let now = OffsetDateTime::now_utc();
    // A client that forgets to encode `+` sends a space; Salesforce documents encoding, but the
    // timestamp is still unambiguous.
    let url = format!(
        "{V}/sobjects/Lead/updated/?start={}&end={}",
        iso(now - Duration::hours(1)),
        iso(now)
    );
    let a = org.call("GET", &url, None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["ids"], json!([]));
}
