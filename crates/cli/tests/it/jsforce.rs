//! jsforce (npm), unchanged, doing its ordinary work against `leadbridge emulator` over plain
//! http (issue 2, "Proof"). Scenarios live in tests/clients/jsforce_driver.cjs; the exact
//! outcomes are here.

use serde_json::json;

use crate::support::{Client, Emulator};

const JS: Client = Client::Jsforce;

fn assert_login(out: &serde_json::Value, emu: &Emulator) {
    assert!(out["lead_count"].is_u64(), "COUNT() answered: {out}");
    assert_eq!(
        out["instance_url"],
        json!(emu.org.url.trim_end_matches('/')),
        "{out}"
    );
    assert_eq!(out["access_token_prefix"], json!("00D"), "{out}");
    assert_eq!(out["access_token_has_bang"], json!(true), "{out}");
    assert_eq!(out["user_id_prefix"], json!("005"), "{out}");
    assert_eq!(out["org_id_prefix"], json!("00D"), "{out}");
}

#[test]
fn soap_login_with_password_and_security_token_opens_a_session() {
    let emu = Emulator::start(&[]);
    let Some(out) = JS.run(&emu, "soap_login", &[]) else {
        return;
    };
    assert_login(&out, &emu);
    assert_eq!(
        (&out["user_id_len"], &out["org_id_len"]),
        (&json!(18), &json!(18)),
        "{out}"
    );
}

#[test]
fn oauth_password_grant_with_client_id_and_secret_opens_a_session() {
    let emu = Emulator::start(&[]);
    let Some(out) = JS.run(&emu, "oauth_login", &[]) else {
        return;
    };
    assert_login(&out, &emu);
}

#[test]
fn wrong_or_missing_security_token_is_refused_with_jsforces_login_errors() {
    let emu = Emulator::start(&[]);
    let Some(out) = JS.run(&emu, "refused_logins", &[]) else {
        return;
    };
    let oauth_refusal =
        json!({"name": "invalid_grant", "errorCode": null, "message": "authentication failure"});
    assert_eq!(
        out,
        json!({
            "soap": {
                "name": "Error",
                "errorCode": null,
                "message": "INVALID_LOGIN: Invalid username, password, security token; or user locked out.",
            },
            "oauth_wrong_token": oauth_refusal,
            "oauth_missing_token": oauth_refusal,
        })
    );
}

#[test]
fn describe_lead_and_describe_global() {
    let emu = Emulator::start(&[]);
    let Some(out) = JS.run(&emu, "describe_lead", &[]) else {
        return;
    };
    assert_eq!(
        out,
        json!({
            "name": "Lead",
            "keyPrefix": "00Q",
            "createable": true,
            "LastName": {"type": "string", "length": 80, "nillable": false, "createable": true, "updateable": true},
            "Email": {"type": "email", "length": 80, "nillable": true},
            "Status": {
                "type": "picklist",
                "nillable": false,
                "defaultedOnCreate": true,
                "defaultValue": "Open - Not Contacted",
            },
            "status_values": [
                "Open - Not Contacted",
                "Working - Contacted",
                "Closed - Converted",
                "Closed - Not Converted",
            ],
            "global_has_lead": true,
            "global_lead_prefix": "00Q",
        })
    );
}

#[test]
fn created_lead_is_found_by_query_then_updated_and_deleted() {
    let emu = Emulator::start(&[]);
    let Some(out) = JS.run(&emu, "crud", &[]) else {
        return;
    };
    assert_eq!(
        out,
        json!({
            "create": {"success": true, "errors": [], "id_len": 18, "id_prefix": "00Q"},
            "query_totalSize": 1,
            "query_record": {
                "Id_matches": true,
                "LastName": "Martin",
                "FirstName": "Bruno",
                "Company": "Globex",
                "Email": "bruno.martin@example.com",
                "Status": "Open - Not Contacted",
            },
            "update": {"success": true, "id_matches": true},
            "after_update": {"Company": "Globex Europe", "Title": "CMO", "LastName": "Martin"},
            "destroy": {"success": true, "id_matches": true},
            "retrieve_deleted": {
                "name": "NOT_FOUND",
                "errorCode": "NOT_FOUND",
                "message": "The requested resource does not exist",
            },
            "update_deleted": {"name": "ENTITY_IS_DELETED", "errorCode": "ENTITY_IS_DELETED", "message": "entity is deleted"},
            "create_missing_company": {
                "name": "REQUIRED_FIELD_MISSING",
                "errorCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [Company]",
            },
            "create_bad_email": {
                "name": "INVALID_EMAIL_ADDRESS",
                "errorCode": "INVALID_EMAIL_ADDRESS",
                "message": "Email: invalid email address: not-an-email",
            },
            "count_after_delete": 0,
        })
    );
}

#[test]
fn login_and_crud_work_over_the_emulators_own_tls() {
    let emu = Emulator::start(&["--tls"]);
    assert!(
        emu.org.url.starts_with("https://"),
        "--tls instance url: {}",
        emu.org.url
    );
    let Some(login) = JS.run(&emu, "soap_login", &[]) else {
        return;
    };
    assert_login(&login, &emu);
    let Some(out) = JS.run(&emu, "crud", &[]) else {
        return;
    };
    assert_eq!(out["query_totalSize"], json!(1), "{out}");
    assert_eq!(out["count_after_delete"], json!(0), "{out}");
}

#[test]
fn query_pages_2500_leads_by_query_more_and_auto_fetch() {
    let emu = Emulator::start(&[]);
    emu.seed_leads("PagingJs", 2_500);
    let env = [("LB_COMPANY", "PagingJs".to_string())];
    let Some(out) = JS.run(&emu, "query_paging", &env) else {
        return;
    };
    assert_eq!(
        out,
        json!({
            "totalSize": 2500,
            "first_next_is_path": true,
            "page_sizes": [2000, 500],
            "distinct_ids": 2500,
            "auto_fetch_records": 2500,
            "auto_fetch_all_company": true,
            "batch_size_500_first_page": 500,
        })
    );
}

#[test]
fn query_all_sees_deleted_leads_and_query_does_not() {
    let emu = Emulator::start(&[]);
    let Some(out) = JS.run(&emu, "query_all_deleted", &[]) else {
        return;
    };
    assert_eq!(
        out,
        json!({
            "query_totalSize": 2,
            "query_all_totalSize": 3,
            "deleted_ids_match": true,
            "deleted_only": [true],
        })
    );
}

#[test]
fn array_create_update_retrieve_destroy_go_through_sobject_collections() {
    let emu = Emulator::start(&[]);
    let Some(out) = JS.run(&emu, "collections", &[]) else {
        return;
    };
    assert_eq!(
        out,
        json!({
            "too_many": {
                "name": "EXCEEDED_ID_LIMIT",
                "errorCode": "EXCEEDED_ID_LIMIT",
                "message": "record limit reached. cannot submit more than 200 records into this call",
            },
            "over_count": 0,
            // 250 records with allowRecursive: jsforce splits them into collections of 200 and 50.
            "create_results": 250,
            "create_success": 249,
            "create_failure_index": [7],
            "create_failure_errors": [{
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [LastName]",
                "fields": ["LastName"],
            }],
            "all_or_none_success": [false, false],
            "all_or_none_codes": [["ALL_OR_NONE_OPERATION_ROLLED_BACK"], ["INVALID_EMAIL_ADDRESS"]],
            "aon_count": 0,
            "update_success": 10,
            "retrieved_ids_match": true,
            "retrieved_titles": ["Updated", "Updated", "Updated"],
            "destroy_success": 5,
            "count_after": 244,
            "updated_count": 5,
        })
    );
}

#[test]
fn bulk2_load_of_500_leads_is_then_counted_by_query() {
    let emu = Emulator::start(&[]);
    let Some(out) = JS.run(&emu, "bulk2_ingest", &[("LB_N", "500".into())]) else {
        return;
    };
    assert_eq!(
        out,
        json!({
            "successful": 500,
            "successful_ids_prefix": ["00Q"],
            "successful_created": ["true"],
            "failed": 1,
            "failed_error": "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
            "unprocessed": 0,
            "count": 500,
        })
    );
}

#[test]
fn bulk2_query_returns_all_2500_leads() {
    let emu = Emulator::start(&[]);
    emu.seed_leads("BulkQueryJs", 2_500);
    let env = [("LB_COMPANY", "BulkQueryJs".to_string())];
    let Some(out) = JS.run(&emu, "bulk2_query", &env) else {
        return;
    };
    assert_eq!(
        out,
        json!({
            "rows": 2500,
            "distinct_ids": 2500,
            "columns": ["Id", "LastName", "Company"],
            "all_company": true,
        })
    );
}

#[test]
fn limits_and_limit_info_agree_with_the_daily_allowance() {
    let emu = Emulator::start(&["--daily-api-limit", "12345"]);
    let Some(out) = JS.run(&emu, "limits", &[]) else {
        return;
    };
    assert_eq!(
        out,
        json!({
            "DailyApiRequests": {"Max": 12345, "Remaining_is_number": true},
            "remaining_drop": 1,
            "api_usage_limit": 12345,
            "api_usage_used_matches_remaining": true,
        })
    );
}

#[test]
fn expired_session_is_refreshed_once_by_jsforce_and_the_call_retried() {
    let emu = Emulator::start(&[]);
    let Some(out) = JS.run(&emu, "session_expiry", &[]) else {
        return;
    };
    assert_eq!(out["count_before"], out["count_after"], "{out}");
    assert_eq!(
        (&out["refreshes"], &out["new_token"]),
        (&json!(1), &json!(true)),
        "{out}"
    );
}
