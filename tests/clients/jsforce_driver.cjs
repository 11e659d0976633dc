// Drive the real jsforce client against a running leadbridge emulator.
//
// Run by crates/cli/tests/it/jsforce.rs as `node jsforce_driver.cjs SCENARIO` with
// NODE_PATH=$LEADBRIDGE_TEST_NODE_PATH (hence CommonJS: NODE_PATH does not apply to ES modules)
// and the emulator's first JSON line passed as LB_* environment variables. Each scenario does what
// an ordinary jsforce user does, then prints ONE JSON object on the last stdout line: what the
// client got back. The Rust test asserts the exact values; this script fails by itself (non-zero
// exit, stack on stderr) only when the client throws where it should not.
//
// jsforce takes loginUrl/instanceUrl as given, so plain http works without any rewriting
// (real-clients.md §2). Version 62.0 is passed explicitly: jsforce never negotiates.
'use strict';

const jsforce = require('jsforce');

const env = (name) => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`missing environment variable ${name}`);
  return v;
};
const URL = env('LB_URL').replace(/\/$/, '');
const LOGIN_URL = (process.env.LB_LOGIN_URL || URL).replace(/\/$/, '');
const USERNAME = env('LB_USERNAME');
const PASSWORD = env('LB_PASSWORD');
const TOKEN = env('LB_SECURITY_TOKEN');
const CLIENT_ID = env('LB_CLIENT_ID');
const CLIENT_SECRET = env('LB_CLIENT_SECRET');
const VERSION = '62.0';

async function soapLogin(token = TOKEN) {
  const conn = new jsforce.Connection({ loginUrl: LOGIN_URL, version: VERSION });
  const userInfo = await conn.login(USERNAME, PASSWORD + token);
  return { conn, userInfo };
}

async function oauthLogin(password = PASSWORD + TOKEN) {
  const conn = new jsforce.Connection({
    loginUrl: LOGIN_URL,
    version: VERSION,
    oauth2: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, loginUrl: LOGIN_URL },
  });
  const userInfo = await conn.login(USERNAME, password);
  return { conn, userInfo };
}

async function leadCount(conn, where = '') {
  const res = await conn.query(`SELECT COUNT() FROM Lead ${where}`.trim());
  return res.totalSize;
}

// The parts of a jsforce error a test asserts on.
function errorInfo(err) {
  return { name: err.name, errorCode: err.errorCode === undefined ? null : err.errorCode, message: err.message };
}

async function refused(promise) {
  try {
    await promise;
    return 'accepted';
  } catch (err) {
    return errorInfo(err);
  }
}

// POST to the emulator's control API (not a Salesforce call; Node's own fetch, no client).
async function control(path, body) {
  const resp = await fetch(`${URL}/__emulator/${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  if (!resp.ok) throw new Error(`control ${path}: ${resp.status} ${await resp.text()}`);
}

const scenarios = {
  async soap_login() {
    const { conn, userInfo } = await soapLogin();
    return {
      instance_url: conn.instanceUrl,
      access_token_prefix: conn.accessToken.slice(0, 3),
      access_token_has_bang: conn.accessToken.includes('!'),
      user_id_prefix: userInfo.id.slice(0, 3),
      user_id_len: userInfo.id.length,
      org_id_prefix: userInfo.organizationId.slice(0, 3),
      org_id_len: userInfo.organizationId.length,
      lead_count: await leadCount(conn),
    };
  },

  async oauth_login() {
    const { conn, userInfo } = await oauthLogin();
    return {
      instance_url: conn.instanceUrl,
      access_token_prefix: conn.accessToken.slice(0, 3),
      access_token_has_bang: conn.accessToken.includes('!'),
      user_id_prefix: userInfo.id.slice(0, 3),
      org_id_prefix: userInfo.organizationId.slice(0, 3),
      lead_count: await leadCount(conn),
    };
  },

  async refused_logins() {
    return {
      soap: await refused(soapLogin('WRONG' + TOKEN)),
      oauth_wrong_token: await refused(oauthLogin(PASSWORD + 'WRONG' + TOKEN)),
      oauth_missing_token: await refused(oauthLogin(PASSWORD)),
    };
  },

  async describe_lead() {
    const { conn } = await soapLogin();
    const d = await conn.sobject('Lead').describe();
    const fields = Object.fromEntries(d.fields.map((f) => [f.name, f]));
    const pick = (name, ...keys) =>
      fields[name] ? Object.fromEntries(keys.map((k) => [k, fields[name][k] === undefined ? null : fields[name][k]])) : null;
    const status = fields.Status || { picklistValues: [] };
    const global = await conn.describeGlobal();
    return {
      name: d.name,
      keyPrefix: d.keyPrefix,
      createable: d.createable,
      LastName: pick('LastName', 'type', 'length', 'nillable', 'createable', 'updateable'),
      Email: pick('Email', 'type', 'length', 'nillable'),
      Status: pick('Status', 'type', 'nillable', 'defaultedOnCreate', 'defaultValue'),
      status_values: status.picklistValues.filter((p) => p.active).map((p) => p.value),
      global_has_lead: global.sobjects.some((s) => s.name === 'Lead'),
      global_lead_prefix: (global.sobjects.find((s) => s.name === 'Lead') || {}).keyPrefix || null,
    };
  },

  async crud() {
    const { conn } = await soapLogin();
    const Lead = conn.sobject('Lead');
    const created = await Lead.create({ LastName: 'Martin', FirstName: 'Bruno', Company: 'Globex', Email: 'bruno.martin@example.com' });
    const found = await conn.query(
      "SELECT Id, LastName, FirstName, Company, Email, Status FROM Lead WHERE Email = 'bruno.martin@example.com'");
    const rec = found.records[0] || {};
    const updated = await Lead.update({ Id: created.id, Company: 'Globex Europe', Title: 'CMO' });
    const after = await Lead.retrieve(created.id);
    const destroyed = await Lead.destroy(created.id);
    const retrieveDeleted = await refused(Lead.retrieve(created.id));
    const updateDeleted = await refused(Lead.update({ Id: created.id, Title: 'Too late' }));
    const missingCompany = await refused(Lead.create({ LastName: 'NoCompany' }));
    const badEmail = await refused(Lead.create({ LastName: 'BadEmail', Company: 'Globex', Email: 'not-an-email' }));
    return {
      create: { success: created.success, errors: created.errors, id_len: created.id.length, id_prefix: created.id.slice(0, 3) },
      query_totalSize: found.totalSize,
      query_record: {
        Id_matches: rec.Id === created.id, LastName: rec.LastName, FirstName: rec.FirstName,
        Company: rec.Company, Email: rec.Email, Status: rec.Status,
      },
      update: { success: updated.success, id_matches: updated.id === created.id },
      after_update: { Company: after.Company, Title: after.Title, LastName: after.LastName },
      destroy: { success: destroyed.success, id_matches: destroyed.id === created.id },
      retrieve_deleted: retrieveDeleted,
      update_deleted: updateDeleted,
      create_missing_company: missingCompany,
      create_bad_email: badEmail,
      count_after_delete: await leadCount(conn, "WHERE Email = 'bruno.martin@example.com'"),
    };
  },

  // Seeded by the Rust test: LB_SEEDED Leads with Company = LB_COMPANY.
  async query_paging() {
    const { conn } = await soapLogin();
    const company = env('LB_COMPANY');
    const soql = `SELECT Id, LastName, Company FROM Lead WHERE Company = '${company}'`;
    const pageSizes = [];
    let page = await conn.query(soql);
    const firstNext = page.nextRecordsUrl || null;
    pageSizes.push(page.records.length);
    const ids = page.records.map((r) => r.Id);
    while (!page.done) {
      page = await conn.queryMore(page.nextRecordsUrl);
      pageSizes.push(page.records.length);
      ids.push(...page.records.map((r) => r.Id));
    }
    const auto = await conn.query(soql).run({ autoFetch: true, maxFetch: 100000 });
    const small = await conn.query(soql, { headers: { 'Sforce-Query-Options': 'batchSize=500' } });
    return {
      totalSize: auto.totalSize,
      // jsforce makes the nextRecordsUrl path absolute against the instance URL.
      first_next_is_path: firstNext !== null && firstNext.startsWith(`${URL}/services/data/v${VERSION}/query/`),
      page_sizes: pageSizes,
      distinct_ids: new Set(ids).size,
      auto_fetch_records: auto.records.length,
      auto_fetch_all_company: auto.records.every((r) => r.Company === company),
      batch_size_500_first_page: small.records.length,
    };
  },

  async query_all_deleted() {
    const { conn } = await soapLogin();
    const results = await conn.sobject('Lead').create(
      [0, 1, 2].map((i) => ({ LastName: `Gone ${i}`, Company: 'RecycleJs' })), { allOrNone: true });
    const ids = results.map((r) => r.id);
    await conn.sobject('Lead').destroy(ids[1]);
    const live = await conn.query("SELECT Id FROM Lead WHERE Company = 'RecycleJs'");
    const every = await conn.query("SELECT Id, IsDeleted FROM Lead WHERE Company = 'RecycleJs'").scanAll(true);
    const deletedOnly = await conn.query("SELECT Id FROM Lead WHERE Company = 'RecycleJs' AND IsDeleted = true").scanAll(true);
    return {
      query_totalSize: live.totalSize,
      query_all_totalSize: every.totalSize,
      deleted_ids_match: JSON.stringify(every.records.filter((r) => r.IsDeleted).map((r) => r.Id)) === JSON.stringify([ids[1]]),
      deleted_only: deletedOnly.records.map((r) => r.Id === ids[1]),
    };
  },

  async collections() {
    const { conn } = await soapLogin();
    const Lead = conn.sobject('Lead');
    // 201 records in one call is more than a collection takes: Salesforce refuses the call.
    const tooMany = await refused(Lead.create(
      Array.from({ length: 201 }, (_, i) => ({ LastName: `Over ${i}`, Company: 'OverJs' })), { allOrNone: false }));
    // 250 records with allowRecursive: jsforce splits them into collections of 200 and 50.
    const records = Array.from({ length: 250 }, (_, i) => ({ LastName: `Coll ${i}`, Company: 'CollJs', Email: `colljs${i}@example.com` }));
    records[7] = { Company: 'CollJs' }; // LastName missing
    const created = await Lead.create(records, { allOrNone: false, allowRecursive: true });
    const okIds = created.filter((r) => r.success).map((r) => r.id);
    const failures = created.map((r, i) => [r, i]).filter(([r]) => !r.success);
    const rolledBack = await Lead.create([
      { LastName: 'AllOrNone ok', Company: 'AonJs' },
      { LastName: 'AllOrNone bad', Company: 'AonJs', Email: 'not-an-email' },
    ], { allOrNone: true });
    const updated = await Lead.update(okIds.slice(0, 10).map((id) => ({ Id: id, Title: 'Updated' })));
    const retrieved = await Lead.retrieve(okIds.slice(0, 3));
    const destroyed = await Lead.destroy(okIds.slice(0, 5));
    return {
      too_many: tooMany,
      over_count: await leadCount(conn, "WHERE Company = 'OverJs'"),
      create_results: created.length,
      create_success: okIds.length,
      create_failure_index: failures.map(([, i]) => i),
      create_failure_errors: failures.length ? failures[0][0].errors : null,
      all_or_none_success: rolledBack.map((r) => r.success),
      all_or_none_codes: rolledBack.map((r) => (r.errors || []).map((e) => e.statusCode || e.errorCode)),
      aon_count: await leadCount(conn, "WHERE Company = 'AonJs'"),
      update_success: updated.filter((r) => r.success).length,
      retrieved_ids_match: JSON.stringify(retrieved.map((r) => r && r.Id)) === JSON.stringify(okIds.slice(0, 3)),
      retrieved_titles: retrieved.map((r) => r && r.Title),
      destroy_success: destroyed.filter((r) => r.success).length,
      count_after: await leadCount(conn, "WHERE Company = 'CollJs'"),
      updated_count: await leadCount(conn, "WHERE Company = 'CollJs' AND Title = 'Updated'"),
    };
  },

  async bulk2_ingest() {
    const { conn } = await soapLogin();
    const n = Number(process.env.LB_N || '500');
    const input = Array.from({ length: n }, (_, i) => ({ LastName: `Bulk ${i}`, Company: 'BulkJs', Email: `bulkjs${i}@example.com` }));
    input.push({ LastName: '', Company: 'BulkJs', Email: 'brokenjs@example.com' }); // LastName missing
    conn.bulk2.pollInterval = 200;
    conn.bulk2.pollTimeout = 60000;
    const res = await conn.bulk2.loadAndWaitForResults({ object: 'Lead', operation: 'insert', input });
    return {
      successful: res.successfulResults.length,
      successful_ids_prefix: [...new Set(res.successfulResults.map((r) => String(r.sf__Id).slice(0, 3)))],
      successful_created: [...new Set(res.successfulResults.map((r) => String(r.sf__Created)))],
      failed: res.failedResults.length,
      failed_error: res.failedResults.length ? res.failedResults[0].sf__Error : null,
      unprocessed: res.unprocessedRecords.length,
      count: await leadCount(conn, "WHERE Company = 'BulkJs'"),
    };
  },

  // Seeded by the Rust test: LB_SEEDED Leads with Company = LB_COMPANY. jsforce reads one results
  // page only (its multi-page bug, real-clients.md §2), which the emulator gives when no
  // maxRecords is asked.
  async bulk2_query() {
    const { conn } = await soapLogin();
    conn.bulk2.pollInterval = 200;
    conn.bulk2.pollTimeout = 60000;
    const company = env('LB_COMPANY');
    const stream = await conn.bulk2.query(`SELECT Id, LastName, Company FROM Lead WHERE Company = '${company}'`);
    const rows = await new Promise((resolve, reject) => {
      const out = [];
      stream.on('record', (r) => out.push(r));
      stream.on('error', reject);
      stream.on('end', () => resolve(out));
    });
    return {
      rows: rows.length,
      distinct_ids: new Set(rows.map((r) => r.Id)).size,
      columns: rows.length ? Object.keys(rows[0]) : [],
      all_company: rows.every((r) => r.Company === company),
    };
  },

  // Sessions expire under the client: jsforce's refresh delegate logs in again once and retries.
  async session_expiry() {
    const { conn } = await soapLogin();
    let refreshes = 0;
    conn.on('refresh', () => { refreshes += 1; });
    const before = await leadCount(conn);
    const oldToken = conn.accessToken;
    await control('faults', { kind: 'expire_sessions', count: 1 });
    const after = await leadCount(conn);
    return { count_before: before, count_after: after, refreshes, new_token: conn.accessToken !== oldToken };
  },

  async limits() {
    const { conn } = await soapLogin();
    const first = await conn.limits();
    const second = await conn.limits();
    const usage = conn.limitInfo && conn.limitInfo.apiUsage;
    return {
      DailyApiRequests: { Max: first.DailyApiRequests.Max, Remaining_is_number: typeof first.DailyApiRequests.Remaining === 'number' },
      remaining_drop: first.DailyApiRequests.Remaining - second.DailyApiRequests.Remaining,
      api_usage_limit: usage ? usage.limit : null,
      api_usage_used_matches_remaining: usage ? usage.limit - usage.used === second.DailyApiRequests.Remaining : false,
    };
  },
};

async function main() {
  const name = process.argv[2];
  if (!scenarios[name]) {
    console.error(`usage: node jsforce_driver.cjs {${Object.keys(scenarios).join('|')}}`);
    process.exit(2);
  }
  const result = await scenarios[name]();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err && err.stack ? err.stack : err);
    if (err && err.data) console.error('error.data:', JSON.stringify(err.data));
    process.exit(1);
  },
);
