#!/usr/bin/env python3
"""Drive the real simple-salesforce client against a running leadbridge emulator.

Run by crates/cli/tests/it/simple_salesforce.rs as
`$LEADBRIDGE_TEST_PYTHON simple_salesforce_driver.py SCENARIO`, with the emulator's first JSON line
passed as LB_* environment variables. Each scenario does what an ordinary user of the client does,
then prints ONE JSON object on the last stdout line: what the client got back. The Rust test
asserts the exact values; this script only fails by itself (non-zero exit, traceback on stderr)
when the client raises where it should not.

simple-salesforce always builds `https://{instance}` URLs and logs in at
`https://login.salesforce.com`, so in plain-http mode every request goes through a
`requests.Session` that rewrites those to the emulator (see real-clients.md §1). With
LB_TLS=1 the emulator serves HTTPS itself: only the login host is rewritten, and the
certificate is verified against the emulator's own self-signed PEM (LB_CA_CERT, the `ca_cert` of
its JSON line), or not at all when it printed none.
"""

import csv
import io
import json
import os
import sys
import urllib.parse

import requests
import urllib3
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

URL = os.environ["LB_URL"].rstrip("/")
LOGIN_URL = os.environ.get("LB_LOGIN_URL", URL).rstrip("/")
USERNAME = os.environ["LB_USERNAME"]
PASSWORD = os.environ["LB_PASSWORD"]
TOKEN = os.environ["LB_SECURITY_TOKEN"]
CLIENT_ID = os.environ["LB_CLIENT_ID"]
CLIENT_SECRET = os.environ["LB_CLIENT_SECRET"]
TLS = os.environ.get("LB_TLS") == "1"
CA_CERT = os.environ.get("LB_CA_CERT") or None
EMU = urllib.parse.urlsplit(URL)


class EmulatorSession(requests.Session):
    """A requests.Session that sends Salesforce's hosts to the emulator and logs every request."""

    def __init__(self):
        super().__init__()
        self.log = []  # (method, path-with-query)
        if TLS:
            self.verify = CA_CERT or False
            if not CA_CERT:
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    def request(self, method, url, *args, **kwargs):
        parts = urllib.parse.urlsplit(url)
        salesforce_hosts = ("login.salesforce.com", "test.salesforce.com")
        if parts.netloc in salesforce_hosts or (not TLS and parts.netloc == EMU.netloc):
            url = urllib.parse.urlunsplit((EMU.scheme, EMU.netloc, parts.path, parts.query, ""))
        path = parts.path + ("?" + parts.query if parts.query else "")
        self.log.append((method.upper(), path))
        if TLS:
            # An explicit verify= beats REQUESTS_CA_BUNDLE, which would otherwise replace ours.
            kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)


def soap_login(session, token=TOKEN):
    return Salesforce(username=USERNAME, password=PASSWORD, security_token=token, session=session)


def oauth_login(session, password=None):
    return Salesforce(
        username=USERNAME,
        password=PASSWORD + TOKEN if password is None else password,
        consumer_key=CLIENT_ID,
        consumer_secret=CLIENT_SECRET,
        session=session,
    )


def lead_count(sf, where=""):
    return sf.query(f"SELECT COUNT() FROM Lead {where}".strip())["totalSize"]


def sf_error(err):
    """The parts of a simple-salesforce exception a test asserts on."""
    out = {"class": type(err).__name__}
    if isinstance(err, SalesforceAuthenticationFailed):
        out.update(code=err.code, message=err.auth_message)
    elif isinstance(err, SalesforceError):
        out["status"] = err.status
        # The client hands over the error body already parsed (a list), or raw bytes/str.
        body = err.content
        if isinstance(body, (bytes, str)):
            try:
                body = json.loads(body)
            except ValueError:
                out["content"] = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
                return out
        first = body[0] if isinstance(body, list) and body else body
        if isinstance(first, dict):
            out.update(errorCode=first.get("errorCode"), message=first.get("message"))
        else:
            out["content"] = repr(body)
    return out


# --- scenarios ------------------------------------------------------------------------------------


def scenario_soap_login(session):
    sf = soap_login(session)
    login = session.log[0]
    return {
        "login_request": list(login),
        "session_id_prefix": sf.session_id[:3],
        "session_id_has_bang": "!" in sf.session_id,
        "sf_instance": sf.sf_instance,
        "lead_count": lead_count(sf),
        "last_request": list(session.log[-1]),
    }


def scenario_oauth_login(session):
    sf = oauth_login(session)
    return {
        "login_request": list(session.log[0]),
        "session_id_prefix": sf.session_id[:3],
        "session_id_has_bang": "!" in sf.session_id,
        "sf_instance": sf.sf_instance,
        "lead_count": lead_count(sf),
    }


def scenario_refused_logins(session):
    out = {}
    try:
        soap_login(session, token="WRONG" + TOKEN)
        out["soap"] = "accepted"
    except SalesforceAuthenticationFailed as err:
        out["soap"] = sf_error(err)
    try:
        oauth_login(session, password=PASSWORD + "WRONG" + TOKEN)
        out["oauth_wrong_token"] = "accepted"
    except SalesforceAuthenticationFailed as err:
        out["oauth_wrong_token"] = sf_error(err)
    try:
        oauth_login(session, password=PASSWORD)  # security token missing
        out["oauth_missing_token"] = "accepted"
    except SalesforceAuthenticationFailed as err:
        out["oauth_missing_token"] = sf_error(err)
    return out


def scenario_describe_lead(session):
    sf = soap_login(session)
    d = sf.Lead.describe()
    fields = {f["name"]: f for f in d["fields"]}

    def pick(name, *keys):
        f = fields.get(name)
        return None if f is None else {k: f.get(k) for k in keys}

    status = fields.get("Status", {})
    return {
        "name": d["name"],
        "keyPrefix": d["keyPrefix"],
        "createable": d["createable"],
        "queryable": d["queryable"],
        "Id": pick("Id", "type", "length", "createable", "updateable", "nillable"),
        "LastName": pick("LastName", "type", "length", "nillable", "createable", "updateable"),
        "Company": pick("Company", "type", "length", "nillable", "createable"),
        "Email": pick("Email", "type", "length", "nillable", "idLookup"),
        "Status": pick("Status", "type", "nillable", "defaultedOnCreate", "defaultValue"),
        "status_values": [p["value"] for p in status.get("picklistValues", []) if p.get("active")],
        "status_default": [p["value"] for p in status.get("picklistValues", []) if p.get("defaultValue")],
        "IsDeleted": pick("IsDeleted", "type", "createable", "updateable"),
        "SystemModstamp": pick("SystemModstamp", "type", "createable", "updateable"),
        "global_has_lead": any(s["name"] == "Lead" for s in sf.describe()["sobjects"]),
    }


def scenario_crud(session):
    sf = soap_login(session)
    created = sf.Lead.create({"LastName": "Durand", "FirstName": "Alice", "Company": "Acme SA",
                              "Email": "alice.durand@example.com"})
    lead_id = created["id"]
    found = sf.query(f"SELECT Id, LastName, FirstName, Company, Email, Status FROM Lead "
                     f"WHERE Email = 'alice.durand@example.com'")
    rec = found["records"][0] if found["records"] else {}
    update_status = sf.Lead.update(lead_id, {"Company": "Acme Group", "Title": "CTO"})
    after = sf.Lead.get(lead_id)
    delete_status = sf.Lead.delete(lead_id)
    try:
        sf.Lead.get(lead_id)
        get_deleted = "found"
    except SalesforceResourceNotFound as err:
        get_deleted = sf_error(err)
    return {
        "create": {"success": created["success"], "errors": created["errors"],
                   "id_len": len(lead_id), "id_prefix": lead_id[:3]},
        "query_totalSize": found["totalSize"],
        "query_record": {k: rec.get(k) for k in ("LastName", "FirstName", "Company", "Email", "Status")},
        "query_attributes_type": rec.get("attributes", {}).get("type"),
        "query_id_matches": rec.get("Id") == lead_id,
        "update_status": update_status,
        "after_update": {k: after.get(k) for k in ("Company", "Title", "LastName", "IsDeleted")},
        "after_update_modstamp_ge_created": after.get("SystemModstamp", "") >= after.get("CreatedDate", "~"),
        "delete_status": delete_status,
        "get_deleted": get_deleted,
        "count_after_delete": lead_count(sf, "WHERE Email = 'alice.durand@example.com'"),
    }


def scenario_query_paging(session):
    """Seeded by the Rust test: LB_SEEDED Leads with Company = LB_COMPANY."""
    sf = soap_login(session)
    company = os.environ["LB_COMPANY"]
    soql = f"SELECT Id, LastName, Company FROM Lead WHERE Company = '{company}'"
    first = sf.query(soql)
    everything = sf.query_all(soql)
    ids = [r["Id"] for r in everything["records"]]
    more = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True) if first.get("nextRecordsUrl") else {}
    pages = [p for m, p in session.log if m == "GET" and "/query" in p]
    return {
        "first_page": {"totalSize": first["totalSize"], "done": first["done"], "records": len(first["records"]),
                       "next_is_path": str(first.get("nextRecordsUrl", "")).startswith("/services/data/v59.0/query/")},
        "second_page": {"done": more.get("done"), "records": len(more.get("records", [])),
                        "has_next": "nextRecordsUrl" in more},
        "query_all": {"totalSize": everything["totalSize"], "records": len(everything["records"]),
                      "distinct_ids": len(set(ids)), "all_company": all(r["Company"] == company for r in everything["records"])},
        "query_requests": len(pages),
    }


def scenario_query_all_deleted(session):
    sf = soap_login(session)
    ids = [sf.Lead.create({"LastName": f"Gone {i}", "Company": "RecycleCo"})["id"] for i in range(3)]
    sf.Lead.delete(ids[0])
    live = sf.query("SELECT Id FROM Lead WHERE Company = 'RecycleCo'")
    every = sf.query_all("SELECT Id, IsDeleted FROM Lead WHERE Company = 'RecycleCo'", include_deleted=True)
    deleted = [r["Id"] for r in every["records"] if r["IsDeleted"]]
    return {
        "query_totalSize": live["totalSize"],
        "query_all_totalSize": every["totalSize"],
        "deleted_ids_match": deleted == [ids[0]],
        "queryAll_endpoint_used": any("/queryAll/" in p for _, p in session.log),
    }


def scenario_collections(session):
    sf = soap_login(session)
    records = [{"attributes": {"type": "Lead"}, "LastName": f"Coll {i}", "Company": "CollCo",
                "Email": f"coll{i}@example.com"} for i in range(5)]
    records.insert(2, {"attributes": {"type": "Lead"}, "Company": "CollCo"})  # LastName missing
    created = sf.restful("composite/sobjects", method="POST",
                         data=json.dumps({"allOrNone": False, "records": records}))
    ok_ids = [r["id"] for r in created if r["success"]]
    bad = [r for r in created if not r["success"]]
    rolled_back = sf.restful("composite/sobjects", method="POST", data=json.dumps({"allOrNone": True, "records": [
        {"attributes": {"type": "Lead"}, "LastName": "AllOrNone ok", "Company": "AonCo"},
        {"attributes": {"type": "Lead"}, "LastName": "AllOrNone bad", "Company": "AonCo", "Email": "not-an-email"},
    ]}))
    updated = sf.restful("composite/sobjects", method="PATCH", data=json.dumps({"allOrNone": False, "records": [
        {"attributes": {"type": "Lead"}, "id": i, "Title": "Updated"} for i in ok_ids]}))
    retrieved = sf.restful("composite/sobjects/Lead", method="POST",
                           data=json.dumps({"ids": ok_ids[:2], "fields": ["Id", "Title", "LastName"]}))
    deleted = sf.restful("composite/sobjects", method="DELETE",
                         params={"ids": ",".join(ok_ids[:2]), "allOrNone": "false"})
    return {
        "create_results": len(created),
        "create_success": len(ok_ids),
        "create_failure_index": [i for i, r in enumerate(created) if not r["success"]],
        "create_failure_errors": bad[0]["errors"] if bad else None,
        "all_or_none": [[e["statusCode"] for e in r["errors"]] for r in rolled_back],
        "all_or_none_success": [r["success"] for r in rolled_back],
        "aon_count": lead_count(sf, "WHERE Company = 'AonCo'"),
        "update_success": [r["success"] for r in updated],
        "titles": sorted({r["Title"] for r in retrieved}),
        "retrieved_ids_match": [r["Id"] for r in retrieved] == ok_ids[:2],
        "delete_success": [r["success"] for r in deleted],
        "count_after": lead_count(sf, "WHERE Company = 'CollCo'"),
        "title_count": lead_count(sf, "WHERE Company = 'CollCo' AND Title = 'Updated'"),
    }


def scenario_bulk2_ingest(session):
    sf = soap_login(session)
    n = int(os.environ.get("LB_N", "500"))
    records = [{"LastName": f"Bulk {i:05d}", "Company": "BulkCo", "Email": f"bulk{i}@example.com"} for i in range(n)]
    records.append({"LastName": "", "Company": "BulkCo", "Email": "broken@example.com"})  # LastName missing
    jobs = sf.bulk2.Lead.insert(records=records, wait=1)
    job = jobs[0]
    successful = list(csv.DictReader(io.StringIO(sf.bulk2.Lead.get_successful_records(job["job_id"]))))
    failed = list(csv.DictReader(io.StringIO(sf.bulk2.Lead.get_failed_records(job["job_id"]))))
    return {
        "jobs": len(jobs),
        "numberRecordsProcessed": job["numberRecordsProcessed"],
        "numberRecordsFailed": job["numberRecordsFailed"],
        "numberRecordsTotal": job["numberRecordsTotal"],
        "successful_rows": len(successful),
        "successful_ids_prefix": sorted({r["sf__Id"][:3] for r in successful}),
        "successful_created": sorted({r["sf__Created"] for r in successful}),
        "failed_rows": len(failed),
        "failed_error": failed[0]["sf__Error"] if failed else None,
        "count": lead_count(sf, "WHERE Company = 'BulkCo'"),
    }


def scenario_bulk2_query(session):
    """Seeded by the Rust test: LB_SEEDED Leads with Company = LB_COMPANY."""
    sf = soap_login(session)
    company = os.environ["LB_COMPANY"]
    pages = list(sf.bulk2.Lead.query(f"SELECT Id, LastName, Company FROM Lead WHERE Company = '{company}'",
                                     max_records=1000, wait=1))
    rows = [r for page in pages for r in csv.DictReader(io.StringIO(page))]
    return {
        "pages": len(pages),
        "rows": len(rows),
        "distinct_ids": len({r["Id"] for r in rows}),
        "columns": list(rows[0].keys()) if rows else [],
        "all_company": all(r["Company"] == company for r in rows),
    }


def scenario_limits(session):
    sf = soap_login(session)
    first = sf.limits()
    second = sf.limits()
    usage = sf.api_usage.get("api-usage")
    return {
        "DailyApiRequests_Max": first["DailyApiRequests"]["Max"],
        "DailyApiRequests_Remaining_is_int": isinstance(first["DailyApiRequests"]["Remaining"], int),
        "remaining_drop": first["DailyApiRequests"]["Remaining"] - second["DailyApiRequests"]["Remaining"],
        "has_bulk_v2_query_jobs": "DailyBulkV2QueryJobs" in first,
        "api_usage_total": usage.total if usage else None,
        "api_usage_used_matches_remaining":
            usage is not None and usage.total - usage.used == second["DailyApiRequests"]["Remaining"],
    }


def scenario_limit_exceeded(session):
    """The emulator runs with a small --daily-api-limit; calls beyond it are refused with 403."""
    sf = soap_login(session)
    sf.limits()
    usage = sf.api_usage["api-usage"]
    answered = 0
    refused = None
    for _ in range(usage.total + 5):
        try:
            sf.query("SELECT Id FROM Lead LIMIT 1")
            answered += 1
        except SalesforceRefusedRequest as err:
            refused = sf_error(err)
            break
    # Every call made after the limits() read counts; the login itself may or may not count, so
    # the total is checked against what the org reported, not against a guess.
    return {"total": usage.total, "answered_plus_used": answered + usage.used, "refused": refused}


def scenario_custom_field_upsert(session):
    """Tooling API CustomField, the FLS step of a real org, then upsert by that external id."""
    from simple_salesforce.exceptions import SalesforceMalformedRequest

    sf = soap_login(session)
    created = sf.toolingexecute("sobjects/CustomField", method="POST", data={
        "FullName": "Lead.Plezi_Id__c",
        "Metadata": {"type": "Text", "label": "Plezi Id", "length": 64, "required": False,
                     "externalId": True, "unique": True, "caseSensitive": False},
    })

    def visible():
        return any(f["name"] == "Plezi_Id__c" for f in sf.Lead.describe()["fields"])

    before = {"in_describe": visible()}
    try:
        sf.query("SELECT Id, Plezi_Id__c FROM Lead")
        before["query"] = "accepted"
    except SalesforceMalformedRequest as err:
        before["query"] = {k: v for k, v in sf_error(err).items() if k != "message"}

    profile_set = sf.query("SELECT Id FROM PermissionSet WHERE IsOwnedByProfile = true")["records"][0]["Id"]
    grant = sf.FieldPermissions.create({"ParentId": profile_set, "SobjectType": "Lead", "Field": "Lead.Plezi_Id__c",
                                        "PermissionsRead": True, "PermissionsEdit": True})
    field = next((f for f in sf.Lead.describe()["fields"] if f["name"] == "Plezi_Id__c"), {})
    first = sf.Lead.upsert("Plezi_Id__c/P-0001", {"LastName": "Upserted", "Company": "ExtCo"})
    second = sf.Lead.upsert("Plezi_Id__c/P-0001", {"Title": "VP Sales"})
    found = sf.query("SELECT LastName, Title, Plezi_Id__c FROM Lead WHERE Plezi_Id__c = 'P-0001'")
    return {
        "create": {"success": created.get("success"), "id_prefix": str(created.get("id", ""))[:3]},
        "before_grant": before,
        "grant_success": grant["success"],
        "field": {k: field.get(k) for k in ("type", "length", "custom", "externalId", "unique", "nillable")},
        "upsert_statuses": [first, second],
        "found": [{k: r[k] for k in ("LastName", "Title", "Plezi_Id__c")} for r in found["records"]],
    }


def control(path, body):
    """POST to the emulator's control API (not a Salesforce call: plain requests, no client)."""
    resp = requests.post(f"{URL}/__emulator/{path}", json=body, verify=(CA_CERT or False) if TLS else True, timeout=30)
    resp.raise_for_status()


def scenario_session_expiry(session):
    """Sessions expire under the client: it must log in again by itself and retry (real-clients.md §1)."""
    sf = soap_login(session)
    before = lead_count(sf)
    old_session = sf.session_id
    control("faults", {"kind": "expire_sessions", "count": 1})
    after = lead_count(sf)
    logins = [p for m, p in session.log if p.startswith("/services/Soap/u/")]
    return {
        "count_before": before,
        "count_after": after,
        "soap_logins": len(logins),
        "new_session": sf.session_id != old_session,
        # login, query (200), query (401), login, query (200)
        "requests": [m for m, _ in session.log],
    }


def scenario_password_change(session):
    """After `POST /__emulator/password`, the old credentials are refused and the new ones work."""
    control("password", {"password": "N3w-Passw0rd", "security_token": "NEWTOKEN42"})
    try:
        soap_login(session)
        old = "accepted"
    except SalesforceAuthenticationFailed as err:
        old = sf_error(err)
    sf = Salesforce(username=USERNAME, password="N3w-Passw0rd", security_token="NEWTOKEN42", session=session)
    return {"old_credentials": old, "new_credentials_count": lead_count(sf)}


SCENARIOS = {name[len("scenario_"):]: fn for name, fn in globals().items() if name.startswith("scenario_")}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(SCENARIOS)}}}")
    session = EmulatorSession()
    result = SCENARIOS[sys.argv[1]](session)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
