//! `/query`, `/queryAll`, paging by `nextRecordsUrl`, `columns=true` (salesforce-api.md §4).

use serde_json::{Value, json};

use crate::support::{Org, V};

fn q(soql: &str) -> String {
    format!(
        "{V}/query?q={}",
        url::form_urlencoded::byte_serialize(soql.as_bytes()).collect::<String>()
    )
}

async fn seed(org: &Org, n: usize, company: &str) {
    let records: Vec<Value> = (0..n).map(|i| json!({"LastName": format!("L{i:05}"), "Company": company, "Email": format!("l{i}@{company}.io")})).collect();
    let a = org
        .control(
            "POST",
            "records",
            Some(json!({"sobject": "Lead", "records": records})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
}

#[tokio::test]
async fn query_returns_records_in_select_order_with_attributes() {
    let org = Org::start().await;
    let id = org.lead("Doe", "Acme", "jane@acme.io").await;
    org.lead("Roe", "Other", "rick@other.io").await;
    let a = org
        .call(
            "GET",
            &q("SELECT email, Id, LastName FROM Lead WHERE Company = 'Acme'"),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        a.body,
        json!({"totalSize": 1, "done": true, "records": [{
            "attributes": {"type": "Lead", "url": format!("/services/data/v66.0/sobjects/Lead/{id}")},
            "Email": "jane@acme.io", "Id": id, "LastName": "Doe"}]})
    );
    assert!(
        a.text.contains(r#""Email":"jane@acme.io","Id":"#),
        "canonical names, query order: {}",
        a.text
    );
}

#[tokio::test]
async fn paging_follows_next_records_url_with_the_requested_batch_size() {
    let org = Org::start().await;
    seed(&org, 2_500, "Paging").await;
    let first = org
        .call_with(
            "GET",
            &q("SELECT Id, LastName FROM Lead ORDER BY LastName DESC"),
            None,
            &[("Sforce-Query-Options", "batchSize=1000")],
        )
        .await;
    assert_eq!(first.body["totalSize"], json!(2500));
    assert_eq!(first.body["done"], json!(false));
    assert_eq!(first.body["records"].as_array().unwrap().len(), 1000);
    assert_eq!(first.body["records"][0]["LastName"], json!("L02499"));
    let next = first.body["nextRecordsUrl"].as_str().unwrap().to_owned();
    assert!(next.starts_with("/services/data/v66.0/query/0r8"), "{next}");
    assert!(next.ends_with("-1000"), "{next}");
    let locator = next.rsplit('/').next().unwrap().split('-').next().unwrap();
    assert_eq!(locator.len(), 18);

    let mut seen = 1000;
    let mut url = Some(next);
    let mut last = String::new();
    while let Some(u) = url {
        let page = org.call("GET", &u, None).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let recs = page.body["records"].as_array().unwrap();
        seen += recs.len();
        last = recs.last().unwrap()["LastName"]
            .as_str()
            .unwrap()
            .to_owned();
        url = page.body["nextRecordsUrl"].as_str().map(str::to_owned);
        assert_eq!(page.body["done"], json!(url.is_none()));
    }
    assert_eq!((seen, last.as_str()), (2500, "L00000"));
    let bad = org
        .call("GET", &format!("{V}/query/0r8000000000000AAA-2000"), None)
        .await;
    assert_eq!(
        (bad.status, bad.body),
        (
            400,
            json!([{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}])
        )
    );
}

#[tokio::test]
async fn default_page_is_2000_records() {
    let org = Org::start().await;
    seed(&org, 2_001, "Big").await;
    let a = org.call("GET", &q("SELECT Id FROM Lead"), None).await;
    assert_eq!(a.body["records"].as_array().unwrap().len(), 2000);
    assert!(
        a.body["nextRecordsUrl"]
            .as_str()
            .unwrap()
            .ends_with("-2000")
    );
}

#[tokio::test]
async fn query_all_sees_deleted_records_and_query_does_not() {
    let org = Org::start().await;
    let id = org.lead("Gone", "Acme", "g@acme.io").await;
    org.call("DELETE", &format!("{V}/sobjects/Lead/{id}"), None)
        .await;
    let live = org.call("GET", &q("SELECT Id FROM Lead"), None).await;
    assert_eq!(live.body["totalSize"], json!(0));
    let all = org
        .call(
            "GET",
            &format!("{V}/queryAll?q=SELECT+Id,IsDeleted+FROM+Lead+WHERE+IsDeleted+=+true"),
            None,
        )
        .await;
    assert_eq!(all.body["totalSize"], json!(1), "{}", all.text);
    assert_eq!(all.body["records"][0]["IsDeleted"], json!(true));
}

#[tokio::test]
async fn count_and_columns() {
    let org = Org::start().await;
    seed(&org, 7, "Cnt").await;
    let a = org
        .call(
            "GET",
            &q("SELECT COUNT() FROM Lead WHERE Company = 'Cnt'"),
            None,
        )
        .await;
    assert_eq!(a.body, json!({"totalSize": 7, "done": true, "records": []}));
    let c = org
        .call(
            "GET",
            &format!("{}&columns=true", q("SELECT Id, Email FROM Lead")),
            None,
        )
        .await;
    assert_eq!(c.body["entityName"], json!("Lead"));
    assert_eq!(c.body["columnMetadata"][1]["columnName"], json!("Email"));
    assert!(c.body.get("records").is_none());
}

#[tokio::test]
async fn soql_errors_come_back_as_error_arrays() {
    let org = Org::start().await;
    let a = org.call("GET", &q("SELECT Foo FROM Lead"), None).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body[0]["errorCode"], json!("INVALID_FIELD"));
    assert!(
        a.body[0]["message"]
            .as_str()
            .unwrap()
            .contains("No such column 'Foo' on entity 'Lead'")
    );
    let a = org.call("GET", &q("SELECT Id FROM Nope"), None).await;
    assert_eq!(a.body[0]["errorCode"], json!("INVALID_TYPE"));
    let a = org.call("GET", &q("SELECT FROM"), None).await;
    assert_eq!(a.body[0]["errorCode"], json!("MALFORMED_QUERY"));
    let a = org.call("GET", &format!("{V}/query"), None).await;
    assert_eq!(
        a.body,
        json!([{"message": "A query string has to be specified", "errorCode": "MALFORMED_QUERY"}])
    );
}
