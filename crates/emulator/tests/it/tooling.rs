//! Tooling `CustomField` creation and the field-level-security step (salesforce-api.md §12.4):
//! a new field is invisible to describe, queries and writes until `FieldPermissions` grant it.

use serde_json::{Value, json};

use crate::support::{Org, V};

fn q(soql: &str) -> String {
    format!(
        "{V}/query?q={}",
        url::form_urlencoded::byte_serialize(soql.as_bytes()).collect::<String>()
    )
}

fn tq(soql: &str) -> String {
    format!(
        "{V}/tooling/query?q={}",
        url::form_urlencoded::byte_serialize(soql.as_bytes()).collect::<String>()
    )
}

async fn create_field(org: &Org, body: Value) -> crate::support::Answer {
    org.call(
        "POST",
        &format!("{V}/tooling/sobjects/CustomField"),
        Some(body),
    )
    .await
}

async fn described(org: &Org, object: &str, field: &str) -> Option<Value> {
    let d = org
        .call("GET", &format!("{V}/sobjects/{object}/describe"), None)
        .await;
    d.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == json!(field))
        .cloned()
}

/// The integration user's profile-owned permission set, found the way a client finds it.
async fn profile_set(org: &Org) -> String {
    let user = org.running.emulator.org().user_id.clone();
    let u = org
        .call(
            "GET",
            &q(&format!(
                "SELECT Id, ProfileId FROM User WHERE Id = '{user}'"
            )),
            None,
        )
        .await;
    let profile = u.body["records"][0]["ProfileId"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = org
        .call("GET", &q(&format!("SELECT Id FROM PermissionSet WHERE IsOwnedByProfile = true AND ProfileId = '{profile}'")), None)
        .await;
    assert_eq!(s.body["totalSize"], json!(1), "{}", s.text);
    s.body["records"][0]["Id"].as_str().unwrap().to_owned()
}

async fn grant(
    org: &Org,
    set: &str,
    field: &str,
    read: bool,
    edit: bool,
) -> crate::support::Answer {
    let (object, _) = field.split_once('.').unwrap();
    org.call(
        "POST",
        &format!("{V}/sobjects/FieldPermissions"),
        Some(json!({"ParentId": set, "SobjectType": object, "Field": field, "PermissionsRead": read, "PermissionsEdit": edit})),
    )
    .await
}

#[tokio::test]
async fn a_new_field_is_invisible_until_field_permissions_grant_it() {
    let org = Org::start().await;
    let a = create_field(
        &org,
        json!({"FullName": "Lead.plezi_url__c", "Metadata": {"type": "Url", "label": "Plezi URL", "required": false, "externalId": false}}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let field_id = a.body["id"].as_str().unwrap().to_owned();
    assert!(field_id.starts_with("00N"), "{field_id}");
    assert_eq!(
        a.body,
        json!({"id": field_id, "success": true, "errors": [], "warnings": [], "infos": []})
    );

    // The FLS trap: the field exists but the integration user cannot see it.
    assert_eq!(described(&org, "Lead", "plezi_url__c").await, None);
    let read = org
        .call("GET", &q("SELECT Id, plezi_url__c FROM Lead"), None)
        .await;
    assert_eq!(
        (read.status, read.body[0]["errorCode"].clone()),
        (400, json!("INVALID_FIELD"))
    );
    let write = org
        .call(
            "POST",
            &format!("{V}/sobjects/Lead"),
            Some(json!({"LastName": "Doe", "Company": "Acme", "plezi_url__c": "https://x.io"})),
        )
        .await;
    assert_eq!(
        (write.status, write.body[0]["errorCode"].clone()),
        (400, json!("INVALID_FIELD"))
    );
    // The Tooling API sees the metadata regardless.
    let listed = org
        .call(
            "GET",
            &tq("SELECT Id, DeveloperName FROM CustomField WHERE TableEnumOrId = 'Lead'"),
            None,
        )
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(
        listed.body,
        json!({"size": 1, "totalSize": 1, "done": true, "queryLocator": null, "entityTypeName": "CustomField", "records": [{
            "attributes": {"type": "CustomField", "url": format!("/services/data/v66.0/tooling/sobjects/CustomField/{field_id}")},
            "Id": field_id, "DeveloperName": "plezi_url"}]})
    );

    let set = profile_set(&org).await;
    let g = grant(&org, &set, "Lead.plezi_url__c", true, true).await;
    assert_eq!(g.status, 201, "{}", g.text);
    assert!(
        g.body["id"].as_str().unwrap().starts_with("01k"),
        "{}",
        g.text
    );
    assert_eq!(g.body["success"], json!(true));

    let d = described(&org, "Lead", "plezi_url__c")
        .await
        .expect("described once granted");
    assert_eq!(
        (
            d["type"].clone(),
            d["custom"].clone(),
            d["createable"].clone()
        ),
        (json!("url"), json!(true), json!(true))
    );
    let id = org
        .call(
            "POST",
            &format!("{V}/sobjects/Lead"),
            Some(json!({"LastName": "Doe", "Company": "Acme", "plezi_url__c": "https://x.io"})),
        )
        .await;
    assert_eq!(id.status, 201, "{}", id.text);
    let rows = org
        .call("GET", &q("SELECT plezi_url__c FROM Lead"), None)
        .await;
    assert_eq!(
        rows.body["records"][0]["plezi_url__c"],
        json!("https://x.io")
    );
    // The grant is an ordinary, queryable FieldPermissions record.
    let fp = org
        .call("GET", &q(&format!("SELECT Id, PermissionsRead, PermissionsEdit FROM FieldPermissions WHERE ParentId = '{set}' AND Field = 'Lead.plezi_url__c'")), None)
        .await;
    assert_eq!(fp.body["totalSize"], json!(1), "{}", fp.text);
}

#[tokio::test]
async fn read_only_grants_and_revocations_change_what_the_api_allows() {
    let org = Org::start().await;
    let a = create_field(&org, json!({"FullName": "Contact.Plezi_Id__c", "Metadata": {"type": "Text", "label": "Plezi Id", "length": 64, "externalId": true, "unique": true}})).await;
    assert_eq!(a.status, 201, "{}", a.text);
    let set = profile_set(&org).await;
    let g = grant(&org, &set, "Contact.Plezi_Id__c", true, false).await;
    let fp_id = g.body["id"].as_str().unwrap().to_owned();
    let d = described(&org, "Contact", "Plezi_Id__c")
        .await
        .expect("readable");
    assert_eq!(
        (
            d["createable"].clone(),
            d["updateable"].clone(),
            d["externalId"].clone(),
            d["length"].clone()
        ),
        (json!(false), json!(false), json!(true), json!(64))
    );
    let w = org
        .call(
            "POST",
            &format!("{V}/sobjects/Contact"),
            Some(json!({"LastName": "Doe", "Plezi_Id__c": "p1"})),
        )
        .await;
    assert_eq!(
        (w.status, w.body[0]["errorCode"].clone()),
        (400, json!("INVALID_FIELD_FOR_INSERT_UPDATE"))
    );

    let p = org
        .call(
            "PATCH",
            &format!("{V}/sobjects/FieldPermissions/{fp_id}"),
            Some(json!({"PermissionsEdit": true})),
        )
        .await;
    assert_eq!(p.status, 204, "{}", p.text);
    let w = org
        .call(
            "POST",
            &format!("{V}/sobjects/Contact"),
            Some(json!({"LastName": "Doe", "Plezi_Id__c": "p1"})),
        )
        .await;
    assert_eq!(w.status, 201, "{}", w.text);
    // Now usable as an upsert key.
    let u = org
        .call(
            "PATCH",
            &format!("{V}/sobjects/Contact/Plezi_Id__c/p1"),
            Some(json!({"Title": "CEO"})),
        )
        .await;
    assert_eq!(u.status, 200, "{}", u.text);

    let bad = org
        .call(
            "PATCH",
            &format!("{V}/sobjects/FieldPermissions/{fp_id}"),
            Some(json!({"PermissionsRead": false})),
        )
        .await;
    assert_eq!(
        bad.body,
        json!([{"message": "Permission Edit Contact.Plezi_Id__c depends on permission(s): Read Contact.Plezi_Id__c", "errorCode": "FIELD_INTEGRITY_EXCEPTION", "fields": ["PermissionsEdit"]}])
    );
    assert_eq!(
        org.call(
            "DELETE",
            &format!("{V}/sobjects/FieldPermissions/{fp_id}"),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        described(&org, "Contact", "Plezi_Id__c").await,
        None,
        "revoked"
    );
}

#[tokio::test]
async fn picklist_fields_take_their_values_from_the_value_set() {
    let org = Org::start().await;
    let a = create_field(
        &org,
        json!({"FullName": "Contact.sync_to_plezi__c", "Metadata": {"type": "Picklist", "label": "Sync to Plezi",
            "valueSet": {"restricted": true, "valueSetDefinition": {"sorted": false, "value": [
                {"valueName": "Yes", "label": "Yes", "default": true}, {"fullName": "No", "label": "No", "default": false}]}}}}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let set = profile_set(&org).await;
    assert_eq!(
        grant(&org, &set, "Contact.sync_to_plezi__c", true, true)
            .await
            .status,
        201
    );
    let d = described(&org, "Contact", "sync_to_plezi__c")
        .await
        .unwrap();
    let values: Vec<&str> = d["picklistValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, vec!["Yes", "No"]);
    assert_eq!(d["restrictedPicklist"], json!(true));
    let c = org
        .call(
            "POST",
            &format!("{V}/sobjects/Contact"),
            Some(json!({"LastName": "Doe"})),
        )
        .await;
    let got = org
        .call(
            "GET",
            &format!("{V}/sobjects/Contact/{}", c.body["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(
        got.body["sync_to_plezi__c"],
        json!("Yes"),
        "the default value applies"
    );
    let bad = org
        .call(
            "POST",
            &format!("{V}/sobjects/Contact"),
            Some(json!({"LastName": "Doe", "sync_to_plezi__c": "Maybe"})),
        )
        .await;
    assert_eq!(
        (bad.status, bad.body[0]["errorCode"].clone()),
        (400, json!("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"))
    );
}

#[tokio::test]
async fn bad_field_definitions_and_grants_are_refused() {
    let org = Org::start().await;
    let body =
        json!({"FullName": "Lead.plezi_url__c", "Metadata": {"type": "Url", "label": "Plezi URL"}});
    assert_eq!(create_field(&org, body.clone()).await.status, 201);
    let dup = create_field(&org, body).await;
    assert_eq!(
        (dup.status, dup.body[0]["errorCode"].clone()),
        (400, json!("DUPLICATE_DEVELOPER_NAME"))
    );
    for bad in [
        json!({"FullName": "Lead.bad name__c", "Metadata": {"type": "Text", "label": "x", "length": 10}}),
        json!({"FullName": "Nope.x__c", "Metadata": {"type": "Text", "label": "x", "length": 10}}),
        json!({"FullName": "Lead.x__c", "Metadata": {"type": "Text", "label": "x"}}),
        json!({"FullName": "Lead.x__c", "Metadata": {"type": "Text", "label": "x", "length": 300}}),
        json!({"FullName": "Lead.x__c", "Metadata": {"type": "Hologram", "label": "x"}}),
        json!({"FullName": "Lead.x__c", "Metadata": {"type": "Picklist", "label": "x"}}),
        json!({"FullName": "Lead.x__c"}),
    ] {
        let a = create_field(&org, bad.clone()).await;
        assert_eq!(
            (a.status, a.body[0]["errorCode"].clone()),
            (400, json!("FIELD_INTEGRITY_EXCEPTION")),
            "{bad} -> {}",
            a.text
        );
    }
    let garbage = org
        .raw(
            "POST",
            &format!("{V}/tooling/sobjects/CustomField"),
            "application/json",
            "{",
        )
        .await;
    assert_eq!(
        (garbage.status, garbage.body[0]["errorCode"].clone()),
        (400, json!("JSON_PARSER_ERROR"))
    );

    let set = profile_set(&org).await;
    let g = grant(&org, &set, "Lead.nope__c", true, true).await;
    assert_eq!(
        (g.status, g.body[0]["errorCode"].clone()),
        (400, json!("FIELD_INTEGRITY_EXCEPTION"))
    );
    let g = grant(&org, &set, "Lead.plezi_url__c", false, true).await;
    assert_eq!(
        (g.status, g.body[0]["errorCode"].clone()),
        (400, json!("FIELD_INTEGRITY_EXCEPTION"))
    );
    let g = grant(&org, "0PS000000000000", "Lead.plezi_url__c", true, true).await;
    assert_eq!(
        (g.status, g.body[0]["errorCode"].clone()),
        (400, json!("INVALID_CROSS_REFERENCE_KEY"))
    );
    assert_eq!(
        grant(&org, &set, "Lead.plezi_url__c", true, true)
            .await
            .status,
        201
    );
    let again = grant(&org, &set, "Lead.plezi_url__c", true, true).await;
    assert_eq!(
        (again.status, again.body[0]["errorCode"].clone()),
        (400, json!("DUPLICATE_VALUE"))
    );
    let unknown_type = org
        .call("GET", &tq("SELECT Id FROM EntityDefinition"), None)
        .await;
    assert_eq!(
        (
            unknown_type.status,
            unknown_type.body[0]["errorCode"].clone()
        ),
        (400, json!("INVALID_TYPE"))
    );
}

#[tokio::test]
async fn grants_on_an_unassigned_permission_set_apply_once_it_is_assigned() {
    let org = Org::start().await;
    assert_eq!(create_field(&org, json!({"FullName": "Lead.score__c", "Metadata": {"type": "Number", "label": "Score", "precision": 5, "scale": 0}})).await.status, 201);
    let ps = org
        .call(
            "POST",
            &format!("{V}/sobjects/PermissionSet"),
            Some(json!({"Name": "Leadbridge", "Label": "Leadbridge"})),
        )
        .await;
    assert_eq!(ps.status, 201, "{}", ps.text);
    let ps = ps.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        grant(&org, &ps, "Lead.score__c", true, true).await.status,
        201
    );
    assert_eq!(
        described(&org, "Lead", "score__c").await,
        None,
        "not assigned yet"
    );
    let user = org.running.emulator.org().user_id.clone();
    let a = org
        .call(
            "POST",
            &format!("{V}/sobjects/PermissionSetAssignment"),
            Some(json!({"AssigneeId": user, "PermissionSetId": ps})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let d = described(&org, "Lead", "score__c").await.expect("assigned");
    assert_eq!(
        (d["type"].clone(), d["precision"].clone()),
        (json!("double"), json!(5))
    );
    let id = a.body["id"].as_str().unwrap();
    assert_eq!(
        org.call(
            "DELETE",
            &format!("{V}/sobjects/PermissionSetAssignment/{id}"),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        described(&org, "Lead", "score__c").await,
        None,
        "unassigned again"
    );
}
