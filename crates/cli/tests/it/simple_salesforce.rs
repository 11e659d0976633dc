//! simple-salesforce (PyPI), unchanged, doing its ordinary work against `leadbridge emulator`
//! (issue 2, "Proof"). The client runs in plain-http mode through a URL-rewriting
//! `requests.Session`, and once over the emulator's own TLS (`--tls`, verification off).
//! Scenarios live in tests/clients/simple_salesforce_driver.py; the exact outcomes are here.

use serde_json::json;

use crate::support::{Client, Emulator};

const PY: Client = Client::SimpleSalesforce;

#[test]
fn soap_login_with_password_and_security_token_opens_a_session() {
    let emu = Emulator::start(&[]);
    let Some(out) = PY.run(&emu, "soap_login", &[]) else {
        return;
    };
    assert!(out["lead_count"].is_u64(), "COUNT() answered: {out}");
    assert_eq!(
        out,
        json!({
            "login_request": ["POST", "/services/Soap/u/59.0"],
            "session_id_prefix": "00D",
            "session_id_has_bang": true,
            "sf_instance": emu.host_port(),
            "lead_count": out["lead_count"],
            "last_request": ["GET", "/services/data/v59.0/query/"],
        })
    );
}

#[test]
fn oauth_password_grant_with_consumer_key_opens_a_session() {
    let emu = Emulator::start(&[]);
    let Some(out) = PY.run(&emu, "oauth_login", &[]) else {
        return;
    };
    assert!(out["lead_count"].is_u64(), "COUNT() answered: {out}");
    assert_eq!(
        out,
        json!({
            "login_request": ["POST", "/services/oauth2/token"],
            "session_id_prefix": "00D",
            "session_id_has_bang": true,
            "sf_instance": emu.host_port(),
            "lead_count": out["lead_count"],
        })
    );
}

#[test]
fn wrong_or_missing_security_token_raises_salesforce_authentication_failed() {
    let emu = Emulator::start(&[]);
    let Some(out) = PY.run(&emu, "refused_logins", &[]) else {
        return;
    };
    let oauth_refusal = json!({
        "class": "SalesforceAuthenticationFailed",
        "code": "invalid_grant",
        "message": "authentication failure",
    });
    assert_eq!(
        out,
        json!({
            "soap": {
                "class": "SalesforceAuthenticationFailed",
                "code": "INVALID_LOGIN",
                "message": "Invalid username, password, security token; or user locked out.",
            },
            "oauth_wrong_token": oauth_refusal,
            "oauth_missing_token": oauth_refusal,
        })
    );
}

#[test]
fn describe_lead_reports_salesforce_field_metadata() {
    let emu = Emulator::start(&[]);
    let Some(out) = PY.run(&emu, "describe_lead", &[]) else {
        return;
    };
    assert_eq!(
        out,
        json!({
            "name": "Lead",
            "keyPrefix": "00Q",
            "createable": true,
            "queryable": true,
            "Id": {"type": "id", "length": 18, "createable": false, "updateable": false, "nillable": false},
            "LastName": {"type": "string", "length": 80, "nillable": false, "createable": true, "updateable": true},
            "Company": {"type": "string", "length": 255, "nillable": false, "createable": true},
            "Email": {"type": "email", "length": 80, "nillable": true, "idLookup": true},
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
            "status_default": ["Open - Not Contacted"],
            "IsDeleted": {"type": "boolean", "createable": false, "updateable": false},
            "SystemModstamp": {"type": "datetime", "createable": false, "updateable": false},
            "global_has_lead": true,
        })
    );
}

#[test]
fn created_lead_is_found_by_query_then_updated_and_deleted() {
    let emu = Emulator::start(&[]);
    let Some(out) = PY.run(&emu, "crud", &[]) else {
        return;
    };
    assert_eq!(out, expected_crud());
}

fn expected_crud() -> serde_json::Value {
    json!({
        "create": {"success": true, "errors": [], "id_len": 18, "id_prefix": "00Q"},
        "query_totalSize": 1,
        "query_record": {
            "LastName": "Durand",
            "FirstName": "Alice",
            "Company": "Acme SA",
            "Email": "alice.durand@example.com",
            "Status": "Open - Not Contacted",
        },
        "query_attributes_type": "Lead",
        "query_id_matches": true,
        "update_status": 204,
        "after_update": {"Company": "Acme Group", "Title": "CTO", "LastName": "Durand", "IsDeleted": false},
        "after_update_modstamp_ge_created": true,
        "delete_status": 204,
        "get_deleted": {
            "class": "SalesforceResourceNotFound",
            "status": 404,
            "errorCode": "NOT_FOUND",
            "message": "The requested resource does not exist",
        },
        "count_after_delete": 0,
    })
}

#[test]
fn crud_works_over_the_emulators_own_tls() {
    let emu = Emulator::start(&["--tls"]);
    assert!(
        emu.org.url.starts_with("https://"),
        "--tls instance url: {}",
        emu.org.url
    );
    let Some(login) = PY.run(&emu, "soap_login", &[]) else {
        return;
    };
    assert_eq!(login["sf_instance"], json!(emu.host_port()));
    let Some(out) = PY.run(&emu, "crud", &[]) else {
        return;
    };
    assert_eq!(out, expected_crud());
}

#[test]
fn query_pages_2500_leads_by_next_records_url() {
    let emu = Emulator::start(&[]);
    emu.seed_leads("PagingCo", 2_500);
    let env = [("LB_COMPANY", "PagingCo".to_string())];
    let Some(out) = PY.run(&emu, "query_paging", &env) else {
        return;
    };
    assert_eq!(
        out,
        json!({
            "first_page": {"totalSize": 2500, "done": false, "records": 2000, "next_is_path": true},
            "second_page": {"done": true, "records": 500, "has_next": false},
            "query_all": {"totalSize": 2500, "records": 2500, "distinct_ids": 2500, "all_company": true},
            // query(), query_all() over two pages, query_more(): four GETs of /query.
            "query_requests": 4,
        })
    );
}

#[test]
fn query_all_sees_deleted_leads_and_query_does_not() {
    let emu = Emulator::start(&[]);
    let Some(out) = PY.run(&emu, "query_all_deleted", &[]) else {
        return;
    };
    assert_eq!(
        out,
        json!({
            "query_totalSize": 2,
            "query_all_totalSize": 3,
            "deleted_ids_match": true,
            "queryAll_endpoint_used": true,
        })
    );
}

#[test]
fn sobject_collections_report_per_record_results_and_honour_all_or_none() {
    let emu = Emulator::start(&[]);
    let Some(out) = PY.run(&emu, "collections", &[]) else {
        return;
    };
    assert_eq!(
        out,
        json!({
            "create_results": 6,
            "create_success": 5,
            "create_failure_index": [2],
            "create_failure_errors": [{
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [LastName]",
                "fields": ["LastName"],
            }],
            "all_or_none": [["ALL_OR_NONE_OPERATION_ROLLED_BACK"], ["INVALID_EMAIL_ADDRESS"]],
            "all_or_none_success": [false, false],
            "aon_count": 0,
            "update_success": [true, true, true, true, true],
            "titles": ["Updated"],
            "retrieved_ids_match": true,
            "delete_success": [true, true],
            "count_after": 3,
            "title_count": 3,
        })
    );
}

#[test]
fn bulk2_insert_of_500_leads_is_then_counted_by_query() {
    let emu = Emulator::start(&[]);
    let Some(out) = PY.run(&emu, "bulk2_ingest", &[("LB_N", "500".into())]) else {
        return;
    };
    assert_eq!(
        out,
        json!({
            "jobs": 1,
            "numberRecordsProcessed": 501,
            "numberRecordsFailed": 1,
            "numberRecordsTotal": 501,
            "successful_rows": 500,
            "successful_ids_prefix": ["00Q"],
            "successful_created": ["true"],
            "failed_rows": 1,
            "failed_error": "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
            "count": 500,
        })
    );
}

#[test]
fn bulk2_query_pages_2500_leads_by_locator() {
    let emu = Emulator::start(&[]);
    emu.seed_leads("BulkQueryCo", 2_500);
    let env = [("LB_COMPANY", "BulkQueryCo".to_string())];
    let Some(out) = PY.run(&emu, "bulk2_query", &env) else {
        return;
    };
    assert_eq!(
        out,
        json!({
            "pages": 3,
            "rows": 2500,
            "distinct_ids": 2500,
            "columns": ["Id", "LastName", "Company"],
            "all_company": true,
        })
    );
}

#[test]
fn limits_and_sforce_limit_info_agree_with_the_daily_allowance() {
    let emu = Emulator::start(&["--daily-api-limit", "12345"]);
    let Some(out) = PY.run(&emu, "limits", &[]) else {
        return;
    };
    assert_eq!(
        out,
        json!({
            "DailyApiRequests_Max": 12345,
            "DailyApiRequests_Remaining_is_int": true,
            "remaining_drop": 1,
            "has_bulk_v2_query_jobs": true,
            "api_usage_total": 12345,
            "api_usage_used_matches_remaining": true,
        })
    );
}

#[test]
fn spent_daily_allowance_refuses_calls_with_request_limit_exceeded() {
    let emu = Emulator::start(&["--daily-api-limit", "25"]);
    let Some(out) = PY.run(&emu, "limit_exceeded", &[]) else {
        return;
    };
    assert_eq!(
        out,
        json!({
            "total": 25,
            "answered_plus_used": 25,
            "refused": {
                "class": "SalesforceRefusedRequest",
                "status": 403,
                "errorCode": "REQUEST_LIMIT_EXCEEDED",
                "message": "TotalRequests Limit exceeded.",
            },
        })
    );
}

#[test]
fn expired_session_makes_the_client_log_in_again_and_retry() {
    let emu = Emulator::start(&[]);
    let Some(out) = PY.run(&emu, "session_expiry", &[]) else {
        return;
    };
    assert_eq!(out["count_before"], out["count_after"], "{out}");
    assert_eq!(
        (&out["soap_logins"], &out["new_session"], &out["requests"]),
        (
            &json!(2),
            &json!(true),
            &json!(["POST", "GET", "GET", "POST", "GET"])
        ),
        "401 INVALID_SESSION_ID must make simple-salesforce log in again once: {out}"
    );
}

#[test]
fn password_reset_refuses_the_old_credentials_and_accepts_the_new() {
    let emu = Emulator::start(&[]);
    let Some(out) = PY.run(&emu, "password_change", &[]) else {
        return;
    };
    assert!(out["new_credentials_count"].is_u64(), "{out}");
    assert_eq!(
        out["old_credentials"],
        json!({
            "class": "SalesforceAuthenticationFailed",
            "code": "INVALID_LOGIN",
            "message": "Invalid username, password, security token; or user locked out.",
        })
    );
}

#[test]
fn tooling_custom_field_needs_field_permissions_then_serves_upsert_by_external_id() {
    let emu = Emulator::start(&[]);
    let Some(out) = PY.run(&emu, "custom_field_upsert", &[]) else {
        return;
    };
    assert_eq!(
        out,
        json!({
            "create": {"success": true, "id_prefix": "00N"},
            // The FLS trap of a real org: the new field is invisible until granted.
            "before_grant": {
                "in_describe": false,
                "query": {"class": "SalesforceMalformedRequest", "status": 400, "errorCode": "INVALID_FIELD"},
            },
            "grant_success": true,
            "field": {
                "type": "string",
                "length": 64,
                "custom": true,
                "externalId": true,
                "unique": true,
                "nillable": true,
            },
            // simple-salesforce returns the status code: created, then updated (200 since v46.0).
            "upsert_statuses": [201, 200],
            "found": [{"LastName": "Upserted", "Title": "VP Sales", "Plezi_Id__c": "P-0001"}],
        })
    );
}
