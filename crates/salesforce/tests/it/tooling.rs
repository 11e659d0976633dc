//! Creating the R-FIELD custom fields and granting the integration user access (R-FIELD-5).

use lb_salesforce::{CustomFieldKind, CustomFieldSpec, RecordResult};
use serde_json::json;

use crate::helpers::{org, rec};

fn spec(object: &str, name: &str, kind: CustomFieldKind) -> CustomFieldSpec {
    CustomFieldSpec {
        object: object.into(),
        name: name.into(),
        label: name.replace('_', " "),
        kind,
        description: None,
    }
}

#[tokio::test]
async fn missing_text_field_is_created_made_visible_and_usable() {
    let org = org().await;
    let client = org.client();
    let lead = client.describe("Lead").await.unwrap();
    assert!(!lead.fields.iter().any(|f| f.name == "plezi_url__c"));

    let setup = client
        .ensure_custom_field(&spec(
            "Lead",
            "plezi_url",
            CustomFieldKind::Text { length: 255 },
        ))
        .await
        .unwrap();
    assert!(setup.created);
    assert!(
        setup.id.as_deref().is_some_and(|id| id.starts_with("00N")),
        "{setup:?}"
    );

    let lead = client.describe("Lead").await.unwrap();
    let field = lead
        .fields
        .iter()
        .find(|f| f.name == "plezi_url__c")
        .expect("field visible after FLS grant");
    assert_eq!(field.field_type, "string");
    assert_eq!(field.length, 255);
    let report = client
        .create(
            "Lead",
            &[rec(
                json!({"LastName": "L", "Company": "C", "plezi_url__c": "https://app.example/c/1"}),
            )],
        )
        .await;
    assert!(
        matches!(report.outcomes[0].result, RecordResult::Saved { .. }),
        "{report:?}"
    );

    // Running setup again creates nothing.
    let again = client
        .ensure_custom_field(&spec(
            "Lead",
            "plezi_url",
            CustomFieldKind::Text { length: 255 },
        ))
        .await
        .unwrap();
    assert!(!again.created);
}

#[tokio::test]
async fn picklist_and_date_fields_are_created_with_their_values() {
    let org = org().await;
    let client = org.client();
    client
        .ensure_custom_field(&spec(
            "Contact",
            "sync_to_plezi",
            CustomFieldKind::Picklist {
                values: vec!["yes".into(), "no".into()],
                restricted: true,
            },
        ))
        .await
        .unwrap();
    client
        .ensure_custom_field(&spec("Lead", "lead_created", CustomFieldKind::Date))
        .await
        .unwrap();
    let contact = client.describe("Contact").await.unwrap();
    let f = contact
        .fields
        .iter()
        .find(|f| f.name == "sync_to_plezi__c")
        .expect("picklist field");
    assert_eq!(f.field_type, "picklist");
    let values: Vec<&str> = f.picklist_values.iter().map(|p| p.value.as_str()).collect();
    assert_eq!(values, vec!["yes", "no"]);
    let lead = client.describe("Lead").await.unwrap();
    assert_eq!(
        lead.fields
            .iter()
            .find(|f| f.name == "lead_created__c")
            .map(|f| f.field_type.as_str()),
        Some("date")
    );
}
