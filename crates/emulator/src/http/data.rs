//! The data API behind the gate: resource listing, describes, record CRUD and upsert, limits;
//! delegating queries to `query` and composite/collections to `collections`.
//!
//! [`dispatch`] is synchronous: it runs on a blocking thread (top-level calls) or inside a
//! composite request, and takes the org lock itself for exactly as long as it needs.

use axum::http::{Method, StatusCode};
use lb_wire::{ApiError, SaveResult};
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use super::{Call, Ctx, Reply, collections, fault_error, query};
use crate::state::{DmlError, FaultKind, ObjectDef, Record, UpsertOutcome};

/// Routes one data-API call. `call.segs` are the path segments after `vNN.0`.
pub(crate) fn dispatch(em: &Ctx, call: &Call) -> Reply {
    let segs: Vec<&str> = call.segs.iter().map(String::as_str).collect();
    // Bulk 2.0, replication, Tooling and permissions: routes owned by their own modules.
    let extra = [
        super::bulk::route,
        super::replication::route,
        super::tooling::route,
    ];
    if let Some(reply) = extra.iter().find_map(|route| route(em, call, &segs)) {
        return reply;
    }
    let m = &call.method;
    match segs.as_slice() {
        [] => only(m, &[Method::GET]).unwrap_or_else(|| resources(call)),
        ["sobjects"] => only(m, &[Method::GET]).unwrap_or_else(|| global_describe(em, call)),
        ["sobjects", object] => match *m {
            Method::GET => basic_info(em, call, object),
            Method::POST => create(em, call, object),
            _ => not_allowed(m, "GET,HEAD,POST"),
        },
        ["sobjects", object, "describe"] => {
            only(m, &[Method::GET]).unwrap_or_else(|| describe(em, call, object))
        }
        ["sobjects", object, id] => match *m {
            Method::GET => get_record(em, call, object, id),
            Method::PATCH => update(em, call, object, id),
            Method::DELETE => delete(em, call, object, id),
            // `POST /sobjects/Lead/Id` (or an external-id field with no value) creates (v37+).
            Method::POST => create(em, call, object),
            _ => not_allowed(m, "GET,PATCH,HEAD,DELETE"),
        },
        ["sobjects", object, field, value] => match *m {
            Method::GET => get_by_external_id(em, call, object, field, value),
            Method::PATCH | Method::POST => upsert(em, call, object, field, value),
            Method::DELETE => delete_by_external_id(em, call, object, field, value),
            _ => not_allowed(m, "GET,PATCH,POST,HEAD,DELETE"),
        },
        ["query" | "queryAll"] => {
            only(m, &[Method::GET]).unwrap_or_else(|| query::start(em, call, segs[0] == "queryAll"))
        }
        ["query" | "queryAll", locator] => {
            only(m, &[Method::GET]).unwrap_or_else(|| query::next_page(em, call, locator))
        }
        ["limits"] => only(m, &[Method::GET]).unwrap_or_else(|| limits(em)),
        ["limits", "recordCount"] => {
            only(m, &[Method::GET]).unwrap_or_else(|| record_count(em, call))
        }
        ["composite"] => {
            only(m, &[Method::POST]).unwrap_or_else(|| collections::composite(em, call))
        }
        ["composite", "sobjects", rest @ ..] => collections::dispatch(em, call, rest),
        _ => Reply::not_found(),
    }
}

fn only(m: &Method, allowed: &[Method]) -> Option<Reply> {
    if allowed.contains(m) {
        return None;
    }
    let list: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    Some(not_allowed(m, &list.join(",")))
}

pub(crate) fn not_allowed(m: &Method, allowed: &str) -> Reply {
    Reply::error(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("HTTP Method '{m}' not allowed. Allowed are {allowed}"),
    )
}

/// A JSON parse failure in Salesforce's words (`JSON_PARSER_ERROR`, 400).
pub(crate) fn json_error(e: &serde_json::Error) -> Reply {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "Unexpected end-of-input".to_owned(),
        _ => {
            let text = e.to_string();
            let cut = text.find(" at line ").unwrap_or(text.len());
            format!("Unexpected character: {}", &text[..cut])
        }
    };
    Reply::error(
        StatusCode::BAD_REQUEST,
        "JSON_PARSER_ERROR",
        format!("{what} at [line:{}, column:{}]", e.line(), e.column()),
    )
}

/// Parses the body as a JSON value (`JSON_PARSER_ERROR` on failure). An XML body is refused as
/// Salesforce refuses unsupported content: the emulator speaks JSON only.
pub(crate) fn parse_json(call: &Call) -> Result<Value, Reply> {
    if let Some(ct) = call
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        let ct = ct.to_ascii_lowercase();
        if ct.contains("xml") {
            return Err(Reply::error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "Content type 'application/xml' is not supported by the emulator; send JSON",
            ));
        }
    }
    if call.body.iter().all(u8::is_ascii_whitespace) {
        return Err(Reply::error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "No content to map due to end-of-input at [line:1, column:0]",
        ));
    }
    serde_json::from_slice(&call.body).map_err(|e| json_error(&e))
}

/// Parses the body as a JSON object.
pub(crate) fn parse_object(call: &Call, type_name: &str) -> Result<Map<String, Value>, Reply> {
    match parse_json(call)? {
        Value::Object(m) => Ok(m),
        other => Err(Reply::error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            format!(
                "Cannot deserialize instance of {type_name} from {} value {} or request may be missing a required field at [line:1, column:1]",
                token_name(&other),
                if other.is_array() {
                    "[".to_owned()
                } else {
                    other.to_string()
                }
            ),
        )),
    }
}

pub(crate) fn token_name(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
        Value::String(_) => "VALUE_STRING",
        Value::Number(_) => "VALUE_NUMBER_INT",
        Value::Bool(true) => "VALUE_TRUE",
        Value::Bool(false) => "VALUE_FALSE",
        Value::Null => "VALUE_NULL",
    }
}

pub(crate) fn dml_reply(e: DmlError) -> Reply {
    Reply::errors(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        e.errors,
    )
}

/// The single-record REST reply for an injected write fault (§10; DUPLICATES_DETECTED carries
/// its `duplicateResult`).
pub(crate) fn fault_reply(kind: FaultKind, object: &str, version: u32) -> Reply {
    let e = fault_error(kind, object, None);
    if kind == FaultKind::DuplicatesDetected {
        let body = json!([{
            "duplicateResult": {
                "allowSave": false,
                "duplicateRule": format!("Standard_{object}_Duplicate_Rule"),
                "duplicateRuleEntityType": object,
                "errorMessage": e.message,
                "matchResults": [{
                    "entityType": object,
                    "errors": [],
                    "matchEngine": "FuzzyMatchEngine",
                    "matchRecords": [],
                    "rule": format!("Standard_{object}_Match_Rule_v1_0"),
                    "size": 0,
                    "success": true
                }]
            },
            "errorCode": e.error_code,
            "message": e.message,
        }]);
        let _ = version;
        return Reply::json(StatusCode::BAD_REQUEST, &body);
    }
    Reply::errors(
        StatusCode::BAD_REQUEST,
        vec![ApiError::new(e.error_code, e.message)],
    )
}

/// A record as the REST API returns it: `attributes` first, then `fields` in the given order,
/// absent ones as `null`.
pub(crate) struct RecordOut<'a> {
    pub object: &'a str,
    pub version: u32,
    pub rec: &'a Record,
    pub fields: &'a [String],
}

impl serde::Serialize for RecordOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.fields.len() + 1))?;
        let id = self
            .rec
            .get("Id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        map.serialize_entry(
            "attributes",
            &lb_wire::RecordAttributes {
                sobject_type: self.object.to_owned(),
                url: Some(format!(
                    "/services/data/v{}.0/sobjects/{}/{id}",
                    self.version, self.object
                )),
            },
        )?;
        for f in self.fields {
            map.serialize_entry(f, self.rec.get(f).unwrap_or(&Value::Null))?;
        }
        map.end()
    }
}

/// Resolves a `fields=` list (comma-separated, any case) to canonical names; INVALID_FIELD for
/// unknown ones. `None` means every readable field.
pub(crate) fn select_fields(def: &ObjectDef, list: Option<&str>) -> Result<Vec<String>, Reply> {
    let Some(list) = list.filter(|l| !l.trim().is_empty()) else {
        return Ok(def
            .visible_fields()
            .filter(|f| f.field_type != crate::state::FieldType::Address)
            .map(|f| f.name.clone())
            .collect());
    };
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match def.field(name) {
            Some(f) => out.push(f.name.clone()),
            None => {
                return Err(Reply::error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_FIELD",
                    format!("No such column '{name}' on sobject of type {}", def.name),
                ));
            }
        }
    }
    Ok(out)
}

fn resources(call: &Call) -> Reply {
    let p = call.prefix();
    let mut m = Map::new();
    for (k, path) in [
        ("tooling", "tooling"),
        ("metadata", "metadata"),
        ("eclair", "eclair"),
        ("folders", "folders"),
        ("prechatForms", "prechatForms"),
        ("chatter", "chatter"),
        ("tabs", "tabs"),
        ("appMenu", "appMenu"),
        ("quickActions", "quickActions"),
        ("queryAll", "queryAll"),
        ("commerce", "commerce"),
        ("wave", "wave"),
        ("iot", "iot"),
        ("analytics", "analytics"),
        ("search", "search"),
        ("smartdatadiscovery", "smartdatadiscovery"),
        ("parameterizedSearch", "parameterizedSearch"),
        ("composite", "composite"),
        ("jobs", "jobs"),
        ("licensing", "licensing"),
        ("limits", "limits"),
        ("process", "process"),
        ("async-queries", "async-queries"),
        ("query", "query"),
        ("match", "match"),
        ("emailConnect", "emailConnect"),
        ("compactLayouts", "compactLayouts"),
        ("knowledgeManagement", "knowledgeManagement"),
        ("sobjects", "sobjects"),
        ("actions", "actions"),
        ("support", "support"),
        ("recent", "recent"),
        ("connect", "connect"),
        ("theme", "theme"),
    ] {
        m.insert(k.into(), Value::String(format!("{p}/{path}")));
    }
    Reply::json(StatusCode::OK, &m)
}

/// `identity` entry needs org/user ids: added by the caller that knows them.
/// `If-Modified-Since` on describes (§3.1): 304 with no body when the metadata has not changed
/// since the given HTTP date; unparseable dates are ignored, as HTTP says.
fn not_modified(org: &crate::Org, call: &Call) -> Option<Reply> {
    let since = call
        .headers
        .get(axum::http::header::IF_MODIFIED_SINCE)?
        .to_str()
        .ok()?;
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let t = time::PrimitiveDateTime::parse(since.trim(), &fmt)
        .ok()?
        .assume_utc();
    (org.metadata_changed_s() <= t.unix_timestamp()).then(|| Reply::empty(StatusCode::NOT_MODIFIED))
}

fn global_describe(em: &Ctx, call: &Call) -> Reply {
    let v = format!("{}.0", call.version);
    let org = em.org();
    if let Some(r) = not_modified(&org, call) {
        return r;
    }
    let body = lb_wire::GlobalDescribe {
        encoding: "UTF-8".into(),
        max_batch_size: 200,
        sobjects: org.objects().map(|o| o.summary(&v)).collect(),
    };
    Reply::json(StatusCode::OK, &body)
}

fn basic_info(em: &Ctx, call: &Call, object: &str) -> Reply {
    let org = em.org();
    let Some(def) = org.object(object) else {
        return Reply::not_found();
    };
    let v = format!("{}.0", call.version);
    let recent: Vec<Value> = Vec::new();
    Reply::json(
        StatusCode::OK,
        &json!({"objectDescribe": def.summary(&v), "recentItems": recent}),
    )
}

fn describe(em: &Ctx, call: &Call, object: &str) -> Reply {
    let org = em.org();
    let Some(def) = org.object(object) else {
        return Reply::not_found();
    };
    if let Some(r) = not_modified(&org, call) {
        return r;
    }
    Reply::json(
        StatusCode::OK,
        &def.describe(&format!("{}.0", call.version)),
    )
}

fn create(em: &Ctx, call: &Call, object: &str) -> Reply {
    if em.org().object(object).is_none() {
        return Reply::not_found();
    }
    let body = match parse_object(call, &format!("common.api.soap.wsdl.{object}")) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Some(kind) = call.injected {
        return fault_reply(kind, object, call.version);
    }
    match em.org_mut().create(object, &body) {
        Ok(id) => Reply::json(
            StatusCode::CREATED,
            &SaveResult {
                id: Some(id),
                success: true,
                errors: vec![],
                created: None,
            },
        ),
        Err(e) => dml_reply(e),
    }
}

fn get_record(em: &Ctx, call: &Call, object: &str, id: &str) -> Reply {
    let org = em.org();
    let Some(def) = org.object(object) else {
        return Reply::not_found();
    };
    // Reserved sub-resources that are not records.
    if crate::state::ids::normalize(id).is_none() {
        if def.field(id).is_some() {
            return Reply::not_found();
        }
        return Reply::not_found();
    }
    let fields = match select_fields(def, call.param("fields").as_deref()) {
        Ok(f) => f,
        Err(r) => return r,
    };
    match org.get(&def.name, id) {
        Ok(rec) => {
            let out = RecordOut {
                object: &def.name,
                version: call.version,
                rec,
                fields: &fields,
            };
            Reply::json(StatusCode::OK, &out)
        }
        Err(e) => dml_reply(e),
    }
}

fn update(em: &Ctx, call: &Call, object: &str, id: &str) -> Reply {
    if em.org().object(object).is_none() {
        return Reply::not_found();
    }
    let body = match parse_object(call, &format!("common.api.soap.wsdl.{object}")) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if body.keys().any(|k| k.eq_ignore_ascii_case("Id")) {
        return Reply::errors(
            StatusCode::BAD_REQUEST,
            vec![ApiError::new(
                "INVALID_FIELD",
                "The Id field should not be specified in the sobject data.",
            )],
        );
    }
    if let Some(kind) = call.injected {
        return fault_reply(kind, object, call.version);
    }
    match em.org_mut().update(object, id, &body) {
        Ok(_) => Reply::empty(StatusCode::NO_CONTENT),
        Err(e) => dml_reply(e),
    }
}

fn delete(em: &Ctx, call: &Call, object: &str, id: &str) -> Reply {
    if em.org().object(object).is_none() {
        return Reply::not_found();
    }
    if let Some(kind) = call.injected {
        return fault_reply(kind, object, call.version);
    }
    match em.org_mut().delete(Some(object), id) {
        Ok(_) => Reply::empty(StatusCode::NO_CONTENT),
        Err(e)
            if e.errors
                .first()
                .is_some_and(|x| x.error_code == "MALFORMED_ID") =>
        {
            Reply::not_found()
        }
        Err(e) => dml_reply(e),
    }
}

fn ext_field_missing(field: &str) -> Reply {
    Reply::error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        format!("Provided external ID field does not exist or is not accessible: {field}"),
    )
}

fn record_urls(call: &Call, object: &str, ids: &[String]) -> Reply {
    let urls: Vec<String> = ids
        .iter()
        .map(|id| format!("{}/sobjects/{object}/{id}", call.prefix()))
        .collect();
    Reply::json(StatusCode::MULTIPLE_CHOICES, &urls)
}

fn get_by_external_id(em: &Ctx, call: &Call, object: &str, field: &str, value: &str) -> Reply {
    let org = em.org();
    let Some(def) = org.object(object) else {
        return Reply::not_found();
    };
    let Some(f) = def
        .field(field)
        .filter(|f| f.external_id || f.id_lookup || f.field_type == crate::state::FieldType::Id)
    else {
        return ext_field_missing(field);
    };
    let ids = org.find_by_field(&def.name, &f.name, value);
    match ids.as_slice() {
        [] => Reply::not_found(),
        [id] => {
            let fields = match select_fields(def, call.param("fields").as_deref()) {
                Ok(f) => f,
                Err(r) => return r,
            };
            match org.get(&def.name, id) {
                Ok(rec) => Reply::json(
                    StatusCode::OK,
                    &RecordOut {
                        object: &def.name,
                        version: call.version,
                        rec,
                        fields: &fields,
                    },
                ),
                Err(e) => dml_reply(e),
            }
        }
        many => record_urls(call, &def.name, many),
    }
}

fn upsert(em: &Ctx, call: &Call, object: &str, field: &str, value: &str) -> Reply {
    let canonical = match em.org().object(object) {
        Some(d) => d.name.clone(),
        None => return Reply::not_found(),
    };
    let body = match parse_object(call, &format!("common.api.soap.wsdl.{canonical}")) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Some(kind) = call.injected {
        return fault_reply(kind, &canonical, call.version);
    }
    let update_only = call
        .param("updateOnly")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let outcome = em
        .org_mut()
        .upsert(&canonical, field, value, &body, update_only);
    match outcome {
        Ok(UpsertOutcome::Created(id)) => Reply::json(
            StatusCode::CREATED,
            &SaveResult {
                id: Some(id),
                success: true,
                errors: vec![],
                created: Some(true),
            },
        ),
        // Before API 46.0 an upsert that updated answered 204 with no body (§5).
        Ok(UpsertOutcome::Updated(_)) if call.version < 46 => Reply::empty(StatusCode::NO_CONTENT),
        Ok(UpsertOutcome::Updated(id)) => Reply::json(
            StatusCode::OK,
            &SaveResult {
                id: Some(id),
                success: true,
                errors: vec![],
                created: Some(false),
            },
        ),
        Ok(UpsertOutcome::Multiple(ids)) => record_urls(call, &canonical, &ids),
        Err(e) => dml_reply(e),
    }
}

fn delete_by_external_id(em: &Ctx, call: &Call, object: &str, field: &str, value: &str) -> Reply {
    let (canonical, ids) = {
        let org = em.org();
        let Some(def) = org.object(object) else {
            return Reply::not_found();
        };
        let Some(f) = def
            .field(field)
            .filter(|f| f.external_id || f.field_type == crate::state::FieldType::Id)
        else {
            return ext_field_missing(field);
        };
        (
            def.name.clone(),
            org.find_by_field(&def.name, &f.name, value),
        )
    };
    if let Some(kind) = call.injected {
        return fault_reply(kind, &canonical, call.version);
    }
    match ids.as_slice() {
        [] => Reply::not_found(),
        [id] => match em.org_mut().delete(Some(&canonical), id) {
            Ok(_) => Reply::empty(StatusCode::NO_CONTENT),
            Err(e) => dml_reply(e),
        },
        many => record_urls(call, &canonical, many),
    }
}

/// `GET /limits` (§11): integer `Max`/`Remaining`; `DailyApiRequests` is live.
fn limits(em: &Ctx) -> Reply {
    let usage = em.usage().clone();
    let (lead_count, storage_used) = {
        let org = em.org();
        let live: usize = org
            .objects()
            .filter_map(|o| org.table(&o.name))
            .map(|t| t.live_count())
            .sum();
        (live, (live as u64 * 2) / 1024) // Salesforce counts ~2 KB per record
    };
    let _ = lead_count;
    let mut m = Map::new();
    let mut put = |k: &str, max: u64, remaining: u64| {
        m.insert(k.into(), json!({"Max": max, "Remaining": remaining}));
    };
    put("ActiveScratchOrgs", 3, 3);
    put("AnalyticsExternalDataSizeMB", 40960, 40960);
    put("ConcurrentAsyncGetReportInstances", 200, 200);
    put("ConcurrentSyncReportRuns", 20, 20);
    put(
        "DailyApiRequests",
        usage.daily_limit,
        usage.daily_limit.saturating_sub(usage.used),
    );
    put("DailyAsyncApexExecutions", 250000, 250000);
    put("DailyAsyncApexTests", 500, 500);
    put("DailyBulkApiBatches", 15000, 15000);
    put("DailyBulkV2QueryFileStorageMB", 976562, 976562);
    put("DailyBulkV2QueryJobs", 10000, 10000);
    put("DailyDurableGenericStreamingApiEvents", 10000, 10000);
    put("DailyDurableStreamingApiEvents", 10000, 10000);
    put("DailyGenericStreamingApiEvents", 10000, 10000);
    put("DailyStandardVolumePlatformEvents", 10000, 10000);
    put("DailyStreamingApiEvents", 10000, 10000);
    put("DailyWorkflowEmails", 390, 390);
    put("DataStorageMB", 5, 5u64.saturating_sub(storage_used));
    put("DurableStreamingApiConcurrentClients", 20, 20);
    put("FileStorageMB", 20, 20);
    put("HourlyAsyncReportRuns", 1200, 1200);
    put("HourlyDashboardRefreshes", 200, 200);
    put("HourlyDashboardResults", 5000, 5000);
    put("HourlyDashboardStatuses", 999999999, 999999999);
    put("HourlyODataCallout", 10000, 10000);
    put("HourlySyncReportRuns", 500, 500);
    put("HourlyTimeBasedWorkflow", 50, 50);
    put("MassEmail", 10, 10);
    put("SingleEmail", 15, 15);
    put("StreamingApiConcurrentClients", 20, 20);
    Reply::json(StatusCode::OK, &m)
}

/// `GET /limits/recordCount?sObjects=Lead,Contact` (§11).
fn record_count(em: &Ctx, call: &Call) -> Reply {
    let org = em.org();
    let wanted: Vec<String> = match call.param("sObjects") {
        Some(list) => list
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        None => org.objects().map(|o| o.name.clone()).collect(),
    };
    let mut out = Vec::new();
    for name in wanted {
        if let (Some(def), Some(table)) = (org.object(&name), org.table(&name)) {
            out.push(json!({"count": table.live_count(), "name": def.name}));
        }
    }
    Reply::json(StatusCode::OK, &json!({"sObjects": out}))
}
