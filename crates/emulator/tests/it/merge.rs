//! Record merges through SOAP `merge()` (REST has no merge resource), authenticated with an
//! OAuth access token: the losers are deleted with `MasterRecordId` = the winner, which
//! `queryAll` shows and `query` does not.

use serde_json::json;

use crate::support::{Org, V};

fn envelope(token: &str, requests: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com" xmlns:urn1="urn:sobject.partner.soap.sforce.com"><soapenv:Header><urn:SessionHeader><urn:sessionId>{token}</urn:sessionId></urn:SessionHeader></soapenv:Header><soapenv:Body><urn:merge>{requests}</urn:merge></soapenv:Body></soapenv:Envelope>"#
    )
}

fn request(object: &str, master: &str, fields: &str, victims: &[&str]) -> String {
    let ids: String = victims
        .iter()
        .map(|v| format!("<urn:recordToMergeIds>{v}</urn:recordToMergeIds>"))
        .collect();
    format!(
        "<urn:request><urn:masterRecord><urn1:type>{object}</urn1:type><urn1:Id>{master}</urn1:Id>{fields}</urn:masterRecord>{ids}</urn:request>"
    )
}

async fn soap(org: &Org, body: String) -> (u16, String) {
    let resp = org
        .http
        .post(org.url("/services/Soap/u/59.0"))
        .header("content-type", "text/xml")
        .header("SOAPAction", "\"\"")
        .body(body)
        .send()
        .await
        .expect("request");
    (
        resp.status().as_u16(),
        resp.text().await.unwrap_or_default(),
    )
}

async fn lead(org: &Org, last: &str) -> String {
    org.call(
        "POST",
        &format!("{V}/sobjects/Lead"),
        Some(json!({"LastName": last, "Company": "Acme", "Email": format!("{last}@acme.io")})),
    )
    .await
    .body["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn merged_leads_are_deleted_with_their_master_and_seen_by_query_all() {
    let org = Org::start().await;
    let (a, b, c) = (
        lead(&org, "a").await,
        lead(&org, "b").await,
        lead(&org, "c").await,
    );
    let before = org.control("GET", "stats", None).await.body["api_requests"]
        .as_u64()
        .unwrap();
    let body = [
        request("Lead", &a, "<FirstName>Winner</FirstName>", &[&b]),
        // Refused (the master cannot be merged into itself); the first request stands.
        request("Lead", &c, "", &[&c]),
    ]
    .concat();
    let (status, xml) = soap(&org, envelope(&org.token, &body)).await;
    assert_eq!(status, 200, "{xml}");
    assert!(xml.contains("<mergeResponse><result>"), "{xml}");
    assert!(
        xml.contains(&format!(
            "<result><id>{a}</id><mergedRecordIds>{b}</mergedRecordIds><success>true</success></result>"
        )),
        "{xml}"
    );
    assert!(
        xml.contains("<statusCode>INVALID_ID_FIELD</statusCode>")
            && xml.contains("<success>false</success>"),
        "{xml}"
    );
    let after = org.control("GET", "stats", None).await.body["api_requests"]
        .as_u64()
        .unwrap();
    assert_eq!(after, before + 1, "the SOAP call counts once");

    let q = "SELECT Id, FirstName, IsDeleted, MasterRecordId FROM Lead WHERE IsDeleted = true";
    let all = org
        .call("GET", &format!("{V}/queryAll?q={}", urlencode(q)), None)
        .await;
    assert_eq!(all.status, 200, "{:?}", all.body);
    let rows = all.body["records"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{:?}", all.body);
    assert_eq!(rows[0]["Id"], json!(b));
    assert_eq!(rows[0]["MasterRecordId"], json!(a));
    let live = org
        .call(
            "GET",
            &format!(
                "{V}/query?q={}",
                urlencode("SELECT Id, FirstName, MasterRecordId FROM Lead ORDER BY LastName")
            ),
            None,
        )
        .await;
    let rows = live.body["records"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{:?}", live.body);
    assert_eq!(rows[0]["Id"], json!(a));
    assert_eq!(rows[0]["FirstName"], json!("Winner"));
    assert_eq!(rows[0]["MasterRecordId"], json!(null));
    let gone = org
        .call("GET", &format!("{V}/sobjects/Lead/{b}"), None)
        .await;
    assert_eq!(gone.status, 404);
}

#[tokio::test]
async fn merge_needs_a_session() {
    let org = Org::start().await;
    let a = lead(&org, "a").await;
    let b = lead(&org, "b").await;
    let (status, xml) = soap(&org, envelope("bogus", &request("Lead", &a, "", &[&b]))).await;
    assert_eq!(status, 500, "{xml}");
    assert!(xml.contains("INVALID_SESSION_ID"), "{xml}");
    let still = org
        .call("GET", &format!("{V}/sobjects/Lead/{b}"), None)
        .await;
    assert_eq!(still.status, 200);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn contacts_merge_through_the_enterprise_endpoint() {
    let org = Org::start().await;
    let mut ids = Vec::new();
    for last in ["Keep", "Drop"] {
        let r = org
            .call(
                "POST",
                &format!("{V}/sobjects/Contact"),
                Some(json!({"LastName": last, "Email": format!("{last}@acme.io")})),
            )
            .await;
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:enterprise.soap.sforce.com" xmlns:urn1="urn:sobject.enterprise.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Header><urn:SessionHeader><urn:sessionId>{token}</urn:sessionId></urn:SessionHeader></soapenv:Header><soapenv:Body><urn:merge><urn:request><urn:masterRecord xsi:type="urn1:Contact"><urn1:Id>{keep}</urn1:Id></urn:masterRecord><urn:recordToMergeIds>{drop}</urn:recordToMergeIds></urn:request></urn:merge></soapenv:Body></soapenv:Envelope>"#,
        token = org.token,
        keep = ids[0],
        drop = ids[1],
    );
    let resp = org
        .http
        .post(org.url("/services/Soap/c/59.0"))
        .header("content-type", "text/xml")
        .header("SOAPAction", "\"\"")
        .body(body)
        .send()
        .await
        .unwrap();
    let xml = resp.text().await.unwrap();
    assert!(xml.contains("<success>true</success>"), "{xml}");
    let q = "SELECT Id, MasterRecordId FROM Contact WHERE IsDeleted = true";
    let all = org
        .call("GET", &format!("{V}/queryAll?q={}", urlencode(q)), None)
        .await;
    let rows = all.body["records"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{:?}", all.body);
    assert_eq!(rows[0]["Id"], json!(ids[1]));
    assert_eq!(rows[0]["MasterRecordId"], json!(ids[0]));
}
