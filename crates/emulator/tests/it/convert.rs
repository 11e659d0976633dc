//! Lead conversion through SOAP `convertLead()` (salesforce-api.md §12.5; REST has no
//! conversion resource), authenticated with an OAuth access token as real tools do.

use serde_json::json;

use crate::support::{Org, V};

fn envelope(token: &str, converts: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Header><urn:SessionHeader><urn:sessionId>{token}</urn:sessionId></urn:SessionHeader></soapenv:Header><soapenv:Body><urn:convertLead>{converts}</urn:convertLead></soapenv:Body></soapenv:Envelope>"#
    )
}

fn entry(lead: &str, status: &str, extra: &str) -> String {
    format!(
        "<urn:leadConverts><urn:leadId>{lead}</urn:leadId><urn:convertedStatus>{status}</urn:convertedStatus><urn:doNotCreateOpportunity>true</urn:doNotCreateOpportunity>{extra}</urn:leadConverts>"
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

fn tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..end])
}

#[tokio::test]
async fn converting_a_lead_creates_its_account_and_contact_and_marks_it_converted() {
    let org = Org::start().await;
    let lead = org
        .call(
            "POST",
            &format!("{V}/sobjects/Lead"),
            Some(json!({"FirstName": "Jane", "LastName": "Doe", "Company": "Acme", "Email": "jane@acme.io", "Title": "CTO", "City": "Lyon", "LeadSource": "Web"})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = org.control("GET", "stats", None).await.body["api_requests"]
        .as_u64()
        .unwrap();
    let (status, xml) = soap(
        &org,
        envelope(&org.token, &entry(&lead, "Closed - Converted", "")),
    )
    .await;
    assert_eq!(status, 200, "{xml}");
    assert!(xml.contains("<convertLeadResponse><result>"), "{xml}");
    assert_eq!(tag(&xml, "success"), Some("true"), "{xml}");
    assert_eq!(tag(&xml, "leadId"), Some(lead.as_str()));
    assert!(xml.contains(r#"<opportunityId xsi:nil="true"/>"#), "{xml}");
    let account = tag(&xml, "accountId").unwrap().to_owned();
    let contact = tag(&xml, "contactId").unwrap().to_owned();
    assert!(
        account.starts_with("001") && contact.starts_with("003"),
        "{xml}"
    );
    let after = org.control("GET", "stats", None).await.body["api_requests"]
        .as_u64()
        .unwrap();
    assert_eq!(after, before + 1, "the SOAP call counts once");

    let l = org
        .call("GET", &format!("{V}/sobjects/Lead/{lead}"), None)
        .await
        .body;
    assert_eq!(l["IsConverted"], json!(true));
    assert_eq!(l["ConvertedContactId"], json!(contact));
    assert_eq!(l["ConvertedAccountId"], json!(account));
    assert_eq!(l["Status"], json!("Closed - Converted"));
    let today = time::OffsetDateTime::now_utc().date();
    assert_eq!(
        l["ConvertedDate"],
        json!(format!(
            "{:04}-{:02}-{:02}",
            today.year(),
            u8::from(today.month()),
            today.day()
        ))
    );
    let c = org
        .call("GET", &format!("{V}/sobjects/Contact/{contact}"), None)
        .await
        .body;
    assert_eq!(
        (
            c["FirstName"].clone(),
            c["LastName"].clone(),
            c["Email"].clone(),
            c["Title"].clone(),
            c["MailingCity"].clone(),
            c["AccountId"].clone(),
            c["LeadSource"].clone()
        ),
        (
            json!("Jane"),
            json!("Doe"),
            json!("jane@acme.io"),
            json!("CTO"),
            json!("Lyon"),
            json!(account),
            json!("Web")
        )
    );
    let a = org
        .call("GET", &format!("{V}/sobjects/Account/{account}"), None)
        .await
        .body;
    assert_eq!(
        (a["Name"].clone(), a["BillingCity"].clone()),
        (json!("Acme"), json!("Lyon"))
    );

    let upd = org
        .call(
            "PATCH",
            &format!("{V}/sobjects/Lead/{lead}"),
            Some(json!({"Title": "CEO"})),
        )
        .await;
    assert_eq!(
        (upd.status, upd.body[0]["errorCode"].clone()),
        (400, json!("CANNOT_UPDATE_CONVERTED_LEAD"))
    );
    let q = format!(
        "{V}/query?q={}",
        url::form_urlencoded::byte_serialize(b"SELECT COUNT() FROM Lead WHERE IsConverted = false")
            .collect::<String>()
    );
    assert_eq!(org.call("GET", &q, None).await.body["totalSize"], json!(0));
}

#[tokio::test]
async fn each_entry_gets_its_own_result_and_failures_change_nothing() {
    let org = Org::start().await;
    let good = org.lead("Good", "GoodCo", "g@good.io").await;
    let other = org.lead("Other", "OtherCo", "o@other.io").await;
    let account = org
        .call(
            "POST",
            &format!("{V}/sobjects/Account"),
            Some(json!({"Name": "Existing", "Phone": "0102"})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = envelope(
        &org.token,
        &[
            entry(
                &good,
                "Closed - Converted",
                &format!("<urn:accountId>{account}</urn:accountId>"),
            ),
            entry(&other, "Working - Contacted", ""),
            entry("00Q000000000999", "Closed - Converted", ""),
            entry(&good, "Closed - Converted", ""),
        ]
        .concat(),
    );
    let (status, xml) = soap(&org, body).await;
    assert_eq!(status, 200, "{xml}");
    let results: Vec<&str> = xml.split("<result>").skip(1).collect();
    assert_eq!(results.len(), 4, "{xml}");
    assert_eq!(tag(results[0], "success"), Some("true"));
    assert_eq!(
        tag(results[0], "accountId"),
        Some(account.as_str()),
        "merged into the given account"
    );
    assert_eq!(tag(results[1], "statusCode"), Some("INVALID_STATUS"));
    assert_eq!(
        tag(results[1], "message"),
        Some("invalid convertedStatus: Working - Contacted")
    );
    assert_eq!(
        tag(results[2], "statusCode"),
        Some("INVALID_CROSS_REFERENCE_KEY")
    );
    assert_eq!(
        tag(results[3], "statusCode"),
        Some("CANNOT_UPDATE_CONVERTED_LEAD"),
        "already converted by entry 1"
    );

    let a = org
        .call("GET", &format!("{V}/sobjects/Account/{account}"), None)
        .await
        .body;
    assert_eq!(
        (a["Name"].clone(), a["Phone"].clone()),
        (json!("Existing"), json!("0102")),
        "merging keeps existing values"
    );
    let l = org
        .call("GET", &format!("{V}/sobjects/Lead/{other}"), None)
        .await
        .body;
    assert_eq!(
        l["IsConverted"],
        json!(false),
        "a failed entry leaves its lead alone"
    );
    let q = format!(
        "{V}/query?q={}",
        url::form_urlencoded::byte_serialize(b"SELECT COUNT() FROM Contact").collect::<String>()
    );
    assert_eq!(
        org.call("GET", &q, None).await.body["totalSize"],
        json!(1),
        "only the successful entry created a contact"
    );
    // The converted statuses are listed as a client would look them up.
    let q = format!(
        "{V}/query?q={}",
        url::form_urlencoded::byte_serialize(
            b"SELECT MasterLabel FROM LeadStatus WHERE IsConverted = true"
        )
        .collect::<String>()
    );
    assert_eq!(
        org.call("GET", &q, None).await.body["records"][0]["MasterLabel"],
        json!("Closed - Converted")
    );
}

#[tokio::test]
async fn a_bad_session_is_a_soap_fault() {
    let org = Org::start().await;
    let lead = org.lead("Doe", "Acme", "d@acme.io").await;
    let (status, xml) = soap(
        &org,
        envelope("00Dbogus!token", &entry(&lead, "Closed - Converted", "")),
    )
    .await;
    assert_eq!(status, 500);
    assert!(
        xml.contains("<faultcode>sf:INVALID_SESSION_ID</faultcode>"),
        "{xml}"
    );
    let l = org
        .call("GET", &format!("{V}/sobjects/Lead/{lead}"), None)
        .await
        .body;
    assert_eq!(l["IsConverted"], json!(false));
}
