//! The emulated org's state: sObject metadata, records, the recycle bin, the integration user and
//! connected app, sessions, the daily API counter and injected faults.
//!
//! Layout and invariants (the SOQL module and the HTTP layer rely on them):
//! - Records are `serde_json::Map`s keyed by the **canonical** field names of the describe, with the
//!   value encodings of `notes/soql_contract.md`: datetimes as `2026-01-01T00:00:00.000+0000`
//!   (UTC, milliseconds, so string order is time order), dates as `2026-01-01`, numbers and
//!   booleans as JSON numbers/bools, everything else as strings. A field that is null is simply
//!   absent from the map, which keeps a million Leads small.
//! - Rows are never removed from a [`Table`] except by rolling back their own creation: a delete
//!   sets `IsDeleted` and puts the row in the recycle bin. So a row number stays valid for the
//!   life of the org, and query cursors can store row numbers instead of copies.
//! - Every write goes through [`Org::create`], [`Org::update`], [`Org::delete`] (or
//!   [`Org::upsert`]), which validate against the metadata exactly as Salesforce does (required
//!   fields, lengths, email format, restricted picklists, read-only fields) and maintain
//!   `CreatedDate`, `LastModifiedDate`, `SystemModstamp`, `IsDeleted` and computed `Name`s.
//! - Ids are 18 characters with the object's key prefix ([`ids`]); tables index them by their
//!   15-character case-sensitive form, so both forms are accepted everywhere.
//! - Each [`Table`] also keeps two secondary indexes over **all** its rows (deleted ones
//!   included, so `queryAll` can use them too), maintained wherever a row is pushed, replaced,
//!   restored or popped ([`Org::rebuild_indexes`] after a load): [`INDEXED_TEXT_FIELD`] by the
//!   hash of its SOQL fold, and [`INDEXED_TIME_FIELD`] in time order. They only narrow the rows a
//!   query looks at; the query still checks every candidate with its full WHERE clause.
//! - `Org` is guarded by one `RwLock` in the emulator: reads (queries, describes) share it, writes
//!   take it exclusively. A multi-record operation with all-or-none semantics brackets its writes
//!   with [`Org::begin`] / [`Org::rollback`] / [`Org::commit`].

pub mod bulk;
pub mod convert;
pub mod ids;
pub mod merge;
pub mod schema;
pub mod setup;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hasher};
use std::ops::Bound;
use std::sync::Arc;

use lb_wire::ApiError;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::{OffsetDateTime, UtcOffset};

pub use schema::{FieldAccess, FieldDef, FieldType, ObjectDef, PicklistEntry};

/// A stored record: canonical field name → value (see the module docs for encodings).
pub type Record = Map<String, Value>;

/// Salesforce editions the emulator can pretend to be (§11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Edition {
    Developer,
    Enterprise,
    Unlimited,
    Performance,
    Professional,
    Group,
    ContactManager,
}

impl Edition {
    /// Parses the CLI spelling (`developer`, `contact-manager`, …).
    pub fn parse(s: &str) -> Option<Edition> {
        Some(match s.to_ascii_lowercase().as_str() {
            "developer" => Edition::Developer,
            "enterprise" => Edition::Enterprise,
            "unlimited" => Edition::Unlimited,
            "performance" => Edition::Performance,
            "professional" => Edition::Professional,
            "group" | "team" => Edition::Group,
            "contact-manager" | "contactmanager" => Edition::ContactManager,
            _ => return None,
        })
    }

    /// API access is on by default only in these editions (§11, "Supported Editions").
    pub fn api_enabled(self) -> bool {
        matches!(
            self,
            Edition::Developer | Edition::Enterprise | Edition::Unlimited | Edition::Performance
        )
    }

    /// `Organization.OrganizationType`. Group Edition reports `Team Edition` (its historic name);
    /// Performance reports `Unlimited Edition`, as Salesforce lists no separate value for it.
    pub fn organization_type(self) -> &'static str {
        match self {
            Edition::Developer => "Developer Edition",
            Edition::Enterprise => "Enterprise Edition",
            Edition::Unlimited | Edition::Performance => "Unlimited Edition",
            Edition::Professional => "Professional Edition",
            Edition::Group => "Team Edition",
            Edition::ContactManager => "Contact Manager Edition",
        }
    }

    /// Default daily API allocation (§11): Developer 15,000; Enterprise/Professional 100,000 +
    /// 1,000 per licence; Unlimited/Performance 100,000 + 5,000 per licence. The emulated org has
    /// one licence (the integration user).
    pub fn default_daily_api_limit(self) -> u64 {
        match self {
            Edition::Developer => 15_000,
            Edition::Enterprise | Edition::Professional => 101_000,
            Edition::Unlimited | Edition::Performance => 105_000,
            Edition::Group | Edition::ContactManager => 0,
        }
    }
}

/// Formats a timestamp the way Salesforce's REST API does: `2026-01-01T00:00:00.000+0000`.
pub fn format_datetime(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses the datetime spellings Salesforce accepts in JSON bodies and SOQL: RFC 3339
/// (`Z`, `+02:00`) and its own `+0000` form, with or without fractional seconds.
pub fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    // `+0000` / `-0130`: insert the colon RFC 3339 wants.
    let bytes = s.as_bytes();
    if bytes.len() > 5 {
        let (head, tail) = s.split_at(s.len() - 5);
        if (tail.starts_with('+') || tail.starts_with('-'))
            && tail[1..].bytes().all(|b| b.is_ascii_digit())
        {
            let fixed = format!("{head}{}:{}", &tail[..3], &tail[3..]);
            return OffsetDateTime::parse(&fixed, &Rfc3339).ok();
        }
    }
    None
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<time::Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt).ok()
}

fn format_date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Why a record write or read failed, with the HTTP status a single-record REST call answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmlError {
    pub status: u16,
    pub errors: Vec<ApiError>,
}

impl DmlError {
    fn bad(errors: Vec<ApiError>) -> Self {
        DmlError {
            status: 400,
            errors,
        }
    }
    fn one(status: u16, code: &str, message: impl Into<String>, fields: Vec<String>) -> Self {
        DmlError {
            status,
            errors: vec![ApiError::with_fields(code, message, fields)],
        }
    }
    /// `404 NOT_FOUND` "The requested resource does not exist".
    pub fn not_found() -> Self {
        DmlError {
            status: 404,
            errors: vec![ApiError::new(
                "NOT_FOUND",
                "The requested resource does not exist",
            )],
        }
    }
}

/// The outcome of [`Org::upsert`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// A record was created (HTTP 201).
    Created(String),
    /// The one matching record was updated (HTTP 200).
    Updated(String),
    /// Several records match (HTTP 300); their 18-character ids.
    Multiple(Vec<String>),
}

/// The records of one sObject type.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Table {
    /// All rows ever created, deleted ones included (`IsDeleted: true`).
    rows: Vec<Record>,
    /// Row → deletion time, for rows in the recycle bin.
    recycle_bin: BTreeMap<u32, String>,
    /// 15-character id → row.
    #[serde(skip)]
    by_id: HashMap<String, u32>,
    /// Unique/external-id field → normalised value → live rows having it.
    #[serde(skip)]
    keys: HashMap<String, HashMap<String, Vec<u32>>>,
    /// Hash of the SOQL-folded [`INDEXED_TEXT_FIELD`] value → rows having it (any row; hash
    /// collisions only add candidates). A hash, not the text, keeps a million Leads small.
    #[serde(skip)]
    text_index: HashMap<u64, Vec<u32>>,
    /// (SOQL time of [`INDEXED_TIME_FIELD`] in ms, row) for every row where it is a datetime.
    #[serde(skip)]
    time_index: BTreeSet<(i64, u32)>,
}

/// The text field every table indexes for `=` / `IN` lookups (the sync finds people by email).
pub const INDEXED_TEXT_FIELD: &str = "Email";
/// The datetime field every table indexes in time order (the sync's incremental query).
pub const INDEXED_TIME_FIELD: &str = "SystemModstamp";

fn text_hash(folded: &str) -> u64 {
    // `DefaultHasher::new()` has fixed keys: the same text hashes the same for the org's life.
    let mut h = DefaultHasher::new();
    h.write(folded.as_bytes());
    h.finish()
}

impl Table {
    /// Every row, deleted ones included, in creation order. Row numbers are positions here.
    pub fn rows(&self) -> &[Record] {
        &self.rows
    }

    /// The row at `row`.
    pub fn row(&self, row: u32) -> Option<&Record> {
        self.rows.get(row as usize)
    }

    /// The row number of an id (15 or 18 characters), deleted or not.
    pub fn find(&self, id: &str) -> Option<u32> {
        self.by_id.get(ids::normalize(id)?).copied()
    }

    /// Number of live (not deleted) rows.
    pub fn live_count(&self) -> usize {
        self.rows.len() - self.recycle_bin.len()
    }

    /// Rows in the recycle bin with their deletion time (`…+0000`), by row number.
    pub fn recycle_bin(&self) -> &BTreeMap<u32, String> {
        &self.recycle_bin
    }

    /// Rows (deleted ones included, in no particular order) whose [`INDEXED_TEXT_FIELD`] may
    /// equal `folded` (a value already folded with [`crate::soql::fold_text`]): a superset of
    /// the rows where it does.
    pub fn text_candidates(&self, folded: &str) -> &[u32] {
        self.text_index
            .get(&text_hash(folded))
            .map_or(&[], Vec::as_slice)
    }

    /// Rows (deleted ones included) whose [`INDEXED_TIME_FIELD`] is at least `from_ms`, in
    /// (time, row) order; exactly the rows where SOQL sees it `>=` that instant.
    pub fn time_from(&self, from_ms: i64) -> impl Iterator<Item = u32> + '_ {
        self.time_index
            .range((Bound::Included((from_ms, 0)), Bound::Unbounded))
            .map(|(_, row)| *row)
    }

    fn secondary_keys(&self, row: u32) -> (Option<u64>, Option<i64>) {
        let Some(rec) = self.rows.get(row as usize) else {
            return (None, None);
        };
        let text = match rec.get(INDEXED_TEXT_FIELD) {
            Some(Value::String(s)) if !s.is_empty() => Some(text_hash(&crate::soql::fold_text(s))),
            _ => None,
        };
        let time = match rec.get(INDEXED_TIME_FIELD) {
            Some(Value::String(s)) => crate::soql::datetime_ms(s),
            _ => None,
        };
        (text, time)
    }

    /// Adds `row`'s current values to the secondary indexes.
    fn index_secondary(&mut self, row: u32) {
        let (text, time) = self.secondary_keys(row);
        if let Some(h) = text {
            self.text_index.entry(h).or_default().push(row);
        }
        if let Some(t) = time {
            self.time_index.insert((t, row));
        }
    }

    /// Removes `row`'s current values from the secondary indexes (before they change).
    fn unindex_secondary(&mut self, row: u32) {
        let (text, time) = self.secondary_keys(row);
        if let Some(h) = text
            && let Some(rows) = self.text_index.get_mut(&h)
        {
            rows.retain(|r| *r != row);
            if rows.is_empty() {
                self.text_index.remove(&h);
            }
        }
        if let Some(t) = time {
            self.time_index.remove(&(t, row));
        }
    }
}

fn key_of(field: &FieldDef, value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) if field.case_sensitive => Some(s.clone()),
        Value::String(s) => Some(s.to_lowercase()),
        other => Some(other.to_string()),
    }
}

#[derive(Debug, Clone)]
enum Undo {
    Created {
        object: String,
        row: u32,
    },
    Changed {
        object: String,
        row: u32,
        old: Record,
        was_in_bin: Option<String>,
    },
}

/// The org's data and metadata. See the module docs for the invariants.
#[derive(Debug, Serialize, Deserialize)]
pub struct Org {
    pub org_id: String,
    pub org_name: String,
    pub edition: Edition,
    /// The integration user's 18-character id: owner and creator of everything the API writes.
    pub user_id: String,
    /// Shared so a write can hold its object's metadata while mutating records (an `Arc`
    /// clone, not a deep copy of ~70 field definitions per record).
    #[serde(with = "arc_map")]
    objects: BTreeMap<String, Arc<ObjectDef>>,
    tables: BTreeMap<String, Table>,
    /// Next sequence number for generated ids (shared by all prefixes).
    id_seq: u64,
    /// Last timestamp handed out, in ms; keeps `SystemModstamp` non-decreasing even if the wall
    /// clock steps back.
    last_ms: i128,
    /// When the metadata (objects, fields, field access) last changed, in seconds since the
    /// epoch: describe answers 304 to an `If-Modified-Since` at or after it (§3.1).
    #[serde(default)]
    metadata_changed_s: i64,
    /// Lower-cased object name → canonical name.
    #[serde(skip)]
    object_index: HashMap<String, String>,
    #[serde(skip)]
    journal: Vec<Undo>,
    #[serde(skip)]
    txn_depth: u32,
}

/// Who the integration user is, as seeded into a new org.
#[derive(Debug, Clone)]
pub struct OrgSeed {
    pub org_name: String,
    pub edition: Edition,
    pub username: String,
    pub user_email: String,
    pub user_first_name: String,
    pub user_last_name: String,
}

impl Org {
    /// A fresh org: the standard objects, one Organization record and the integration user.
    pub fn new(seed: &OrgSeed) -> Org {
        let mut org = Org {
            org_id: String::new(),
            org_name: seed.org_name.clone(),
            edition: seed.edition,
            user_id: String::new(),
            objects: BTreeMap::new(),
            tables: BTreeMap::new(),
            id_seq: 1,
            last_ms: 0,
            metadata_changed_s: now_ms() / 1000,
            object_index: HashMap::new(),
            journal: Vec::new(),
            txn_depth: 0,
        };
        for def in schema::standard_objects() {
            org.tables.insert(def.name.clone(), Table::default());
            org.objects.insert(def.name.clone(), Arc::new(def));
        }
        org.rebuild_indexes();
        org.org_id = org.next_id("00D");
        org.user_id = org.next_id("005");
        let now = org.now();
        let audit = |rec: &mut Record, id: &str, user: &str| {
            rec.insert("Id".into(), Value::String(id.to_owned()));
            rec.insert("IsDeleted".into(), Value::Bool(false));
            for f in ["CreatedDate", "LastModifiedDate", "SystemModstamp"] {
                rec.insert(f.into(), Value::String(now.clone()));
            }
            for f in ["CreatedById", "LastModifiedById"] {
                rec.insert(f.into(), Value::String(user.to_owned()));
            }
        };
        let mut orgrec = Record::new();
        audit(&mut orgrec, &org.org_id, &org.user_id);
        for (k, v) in [
            ("Name", seed.org_name.as_str()),
            ("OrganizationType", seed.edition.organization_type()),
            ("InstanceName", "EMU1"),
            ("DefaultLocaleSidKey", "fr_FR"),
            ("LanguageLocaleKey", "fr"),
            ("TimeZoneSidKey", "Europe/Paris"),
            ("Country", "France"),
        ] {
            orgrec.insert(k.into(), Value::String(v.into()));
        }
        orgrec.insert("IsSandbox".into(), Value::Bool(false));
        let mut user = Record::new();
        audit(&mut user, &org.user_id, &org.user_id);
        for (k, v) in [
            ("Username", seed.username.as_str()),
            ("FirstName", seed.user_first_name.as_str()),
            ("LastName", seed.user_last_name.as_str()),
            ("Email", seed.user_email.as_str()),
            ("Alias", "integ"),
            ("TimeZoneSidKey", "Europe/Paris"),
            ("LocaleSidKey", "fr_FR"),
            ("EmailEncodingKey", "UTF-8"),
            ("LanguageLocaleKey", "fr"),
            ("ProfileId", "00eKg0000000001AAA"),
            ("UserType", "Standard"),
            ("CompanyName", seed.org_name.as_str()),
        ] {
            user.insert(k.into(), Value::String(v.into()));
        }
        user.insert("IsActive".into(), Value::Bool(true));
        user.insert(
            "Name".into(),
            Value::String(format!("{} {}", seed.user_first_name, seed.user_last_name)),
        );
        org.push_row("Organization", orgrec);
        org.push_row("User", user);
        setup::install(&mut org);
        org
    }

    /// Rebuilds every derived index (after loading a saved org).
    pub fn rebuild_indexes(&mut self) {
        self.object_index = self
            .objects
            .keys()
            .map(|k| (k.to_ascii_lowercase(), k.clone()))
            .collect();
        for def in self.objects.values_mut() {
            Arc::make_mut(def).reindex();
        }
        for (name, table) in &mut self.tables {
            table.by_id.clear();
            table.keys.clear();
            table.text_index.clear();
            table.time_index.clear();
            for row in 0..table.rows.len() as u32 {
                table.index_secondary(row);
            }
            let Some(def) = self.objects.get(name) else {
                continue;
            };
            for (i, rec) in table.rows.iter().enumerate() {
                if let Some(Value::String(id)) = rec.get("Id") {
                    table
                        .by_id
                        .insert(id[..15.min(id.len())].to_owned(), i as u32);
                }
            }
            let key_fields: Vec<&FieldDef> = def
                .fields
                .iter()
                .filter(|f| f.unique || f.external_id)
                .collect();
            for (i, rec) in table.rows.iter().enumerate() {
                if table.recycle_bin.contains_key(&(i as u32)) {
                    continue;
                }
                for f in &key_fields {
                    if let Some(k) = rec.get(&f.name).and_then(|v| key_of(f, v)) {
                        table
                            .keys
                            .entry(f.name.clone())
                            .or_default()
                            .entry(k)
                            .or_default()
                            .push(i as u32);
                    }
                }
            }
        }
    }

    /// The current time in Salesforce's format, never earlier than the last one handed out.
    pub fn now(&mut self) -> String {
        let now = OffsetDateTime::now_utc();
        let ms = now.unix_timestamp_nanos() / 1_000_000;
        if ms > self.last_ms {
            self.last_ms = ms;
            format_datetime(now)
        } else {
            let t =
                OffsetDateTime::from_unix_timestamp_nanos(self.last_ms * 1_000_000).unwrap_or(now);
            format_datetime(t)
        }
    }

    /// A new 18-character id with `prefix`.
    pub fn next_id(&mut self, prefix: &str) -> String {
        let seq = self.id_seq;
        self.id_seq += 1;
        ids::to18(&ids::make_id15(prefix, seq))
    }

    // ---- metadata -------------------------------------------------------------------------

    /// The definition of an sObject type, looked up case-insensitively.
    pub fn object(&self, name: &str) -> Option<&ObjectDef> {
        let canonical = self.object_index.get(&name.to_ascii_lowercase())?;
        self.objects.get(canonical).map(|o| &**o)
    }

    /// All sObject definitions, by canonical name.
    pub fn objects(&self) -> impl Iterator<Item = &ObjectDef> {
        self.objects.values().map(|o| &**o)
    }

    /// When the metadata last changed (seconds since the epoch).
    pub fn metadata_changed_s(&self) -> i64 {
        self.metadata_changed_s
    }

    /// Records a metadata change (custom field added, access granted).
    pub fn touch_metadata(&mut self) {
        self.metadata_changed_s = now_ms() / 1000;
    }

    /// The shared definition of an sObject type (cheap to keep across a mutation).
    pub fn object_arc(&self, name: &str) -> Option<Arc<ObjectDef>> {
        let canonical = self.object_index.get(&name.to_ascii_lowercase())?;
        self.objects.get(canonical).cloned()
    }

    /// The records of an sObject type (canonical or any-case name).
    pub fn table(&self, object: &str) -> Option<&Table> {
        let canonical = self.object(object)?.name.clone();
        self.tables.get(&canonical)
    }

    /// Adds a custom field to `object`. The field starts as its `access` says (a field created
    /// through the Tooling API is invisible until field permissions are granted, §12.4). Gives the
    /// field a `00N…` definition id and returns it; `DUPLICATE_DEVELOPER_NAME` if the name exists.
    pub fn add_custom_field(
        &mut self,
        object: &str,
        mut field: FieldDef,
    ) -> Result<String, ApiError> {
        let canonical = self.object(object).map(|o| o.name.clone()).ok_or_else(|| {
            ApiError::new(
                "INVALID_TYPE",
                format!("sObject type '{object}' is not supported."),
            )
        })?;
        let id = self.next_id("00N");
        field.custom = true;
        field.definition_id = Some(id.clone());
        let keyed = field.unique || field.external_id;
        let name = field.name.clone();
        let def = Arc::make_mut(
            self.objects
                .get_mut(&canonical)
                .expect("indexed object exists"),
        );
        def.add_field(field).map_err(|f| {
            ApiError::new(
                "DUPLICATE_DEVELOPER_NAME",
                format!(
                    "There is already a field named {} on {canonical}.",
                    f.name.trim_end_matches("__c")
                ),
            )
        })?;
        if keyed {
            self.tables
                .get_mut(&canonical)
                .expect("table exists")
                .keys
                .entry(name)
                .or_default();
        }
        self.touch_metadata();
        Ok(id)
    }

    /// Sets what the integration user may do with a field (FieldPermissions, §12.4). Returns
    /// false if the object or field does not exist.
    pub fn set_field_access(&mut self, object: &str, field: &str, access: FieldAccess) -> bool {
        let Some(canonical) = self.object(object).map(|o| o.name.clone()) else {
            return false;
        };
        let Some(f) = self
            .objects
            .get_mut(&canonical)
            .and_then(|o| Arc::make_mut(o).field_mut(field))
        else {
            return false;
        };
        f.access = access;
        self.touch_metadata();
        true
    }

    // ---- transactions ---------------------------------------------------------------------

    /// Starts (or nests) an all-or-none bracket; returns the savepoint to roll back to.
    pub fn begin(&mut self) -> usize {
        self.txn_depth += 1;
        self.journal.len()
    }

    /// Undoes every write since `savepoint` and closes the bracket.
    pub fn rollback(&mut self, savepoint: usize) {
        while self.journal.len() > savepoint {
            let Some(undo) = self.journal.pop() else {
                break;
            };
            match undo {
                Undo::Created { object, row } => {
                    let def = self
                        .objects
                        .get(&object)
                        .expect("journaled object exists")
                        .clone();
                    let table = self
                        .tables
                        .get_mut(&object)
                        .expect("journaled table exists");
                    unindex(&def, table, row);
                    if row as usize + 1 == table.rows.len() {
                        table.unindex_secondary(row);
                        let rec = table.rows.pop().expect("row exists");
                        if let Some(Value::String(id)) = rec.get("Id") {
                            table.by_id.remove(&id[..15]);
                        }
                    }
                }
                Undo::Changed {
                    object,
                    row,
                    old,
                    was_in_bin,
                } => {
                    let def = self
                        .objects
                        .get(&object)
                        .expect("journaled object exists")
                        .clone();
                    let table = self
                        .tables
                        .get_mut(&object)
                        .expect("journaled table exists");
                    unindex(&def, table, row);
                    table.unindex_secondary(row);
                    table.rows[row as usize] = old;
                    table.index_secondary(row);
                    match was_in_bin {
                        Some(at) => {
                            table.recycle_bin.insert(row, at);
                        }
                        None => {
                            table.recycle_bin.remove(&row);
                            index(&def, table, row);
                        }
                    }
                }
            }
        }
        self.end_bracket();
    }

    /// Keeps every write since the matching [`Org::begin`] and closes the bracket.
    pub fn commit(&mut self) {
        self.end_bracket();
    }

    fn end_bracket(&mut self) {
        self.txn_depth = self.txn_depth.saturating_sub(1);
        if self.txn_depth == 0 {
            self.journal.clear();
        }
    }

    fn journal(&mut self, undo: Undo) {
        if self.txn_depth > 0 {
            self.journal.push(undo);
        }
    }

    // ---- reads ----------------------------------------------------------------------------

    /// A live record by id. `404 NOT_FOUND` for unknown or deleted ids, `400 MALFORMED_ID`-free:
    /// Salesforce answers NOT_FOUND for a malformed id in a REST path too.
    pub fn get(&self, object: &str, id: &str) -> Result<&Record, DmlError> {
        let table = self.table(object).ok_or_else(DmlError::not_found)?;
        let row = table.find(id).ok_or_else(DmlError::not_found)?;
        if table.recycle_bin.contains_key(&row) {
            return Err(DmlError::not_found());
        }
        Ok(&table.rows[row as usize])
    }

    /// Live records whose `field` equals `value` (string comparison, case-insensitive unless the
    /// field is case-sensitive). Uses the unique/external-id index when there is one.
    pub fn find_by_field(&self, object: &str, field: &str, value: &str) -> Vec<String> {
        let (Some(def), Some(table)) = (self.object(object), self.table(object)) else {
            return Vec::new();
        };
        let Some(f) = def.field(field) else {
            return Vec::new();
        };
        let id_of = |row: &u32| {
            table.rows[*row as usize]
                .get("Id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        if f.field_type == FieldType::Id {
            return table
                .find(value)
                .filter(|r| !table.recycle_bin.contains_key(r))
                .map(|r| vec![id_of(&r)])
                .unwrap_or_default();
        }
        if let Some(index) = table.keys.get(&f.name) {
            let key = key_of(f, &Value::String(value.to_owned())).unwrap_or_default();
            return index
                .get(&key)
                .map(|rows| rows.iter().map(id_of).collect())
                .unwrap_or_default();
        }
        let want = key_of(f, &Value::String(value.to_owned()));
        table
            .rows
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                !table.recycle_bin.contains_key(&(*i as u32))
                    && r.get(&f.name).and_then(|v| key_of(f, v)) == want
            })
            .map(|(i, _)| id_of(&(i as u32)))
            .collect()
    }

    // ---- writes ---------------------------------------------------------------------------

    /// Creates a record from a JSON body (field names in any case; `attributes` ignored).
    /// Returns the new 18-character id, or the errors Salesforce would give (status 400, or 404
    /// for an unknown object).
    pub fn create(&mut self, object: &str, body: &Map<String, Value>) -> Result<String, DmlError> {
        let def = self
            .object_arc(object)
            .ok_or_else(|| unknown_object(object))?;
        if !def.createable {
            return Err(DmlError::one(
                400,
                "INVALID_TYPE_FOR_OPERATION",
                format!("entity type {} does not support insert", def.name),
                vec![],
            ));
        }
        if body.keys().any(|k| k.eq_ignore_ascii_case("Id")) {
            return Err(DmlError::bad(vec![ApiError::new(
                "INVALID_FIELD",
                "The Id field should not be specified in the sobject data.",
            )]));
        }
        let values = self.check_values(&def, body, Op::Create)?;
        let mut rec = Record::new();
        for f in &def.fields {
            if f.defaulted_on_create && !f.default_value.is_null() {
                rec.insert(f.name.clone(), f.default_value.clone());
            }
        }
        for (name, value) in values {
            if value.is_null() {
                rec.remove(&name);
            } else {
                rec.insert(name, value);
            }
        }
        let missing: Vec<String> = def
            .fields
            .iter()
            .filter(|f| {
                !f.nillable && f.createable && !f.defaulted_on_create && !rec.contains_key(&f.name)
            })
            .map(|f| f.name.clone())
            .collect();
        if !missing.is_empty() {
            return Err(required_missing(missing));
        }
        self.check_unique(&def, &rec, None)?;
        let id = self.next_id(&def.key_prefix);
        let now = self.now();
        rec.insert("Id".into(), Value::String(id.clone()));
        rec.insert("IsDeleted".into(), Value::Bool(false));
        if def.has_owner() && !rec.contains_key("OwnerId") {
            rec.insert("OwnerId".into(), Value::String(self.user_id.clone()));
        }
        for f in ["CreatedDate", "LastModifiedDate", "SystemModstamp"] {
            rec.insert(f.into(), Value::String(now.clone()));
        }
        for f in ["CreatedById", "LastModifiedById"] {
            rec.insert(f.into(), Value::String(self.user_id.clone()));
        }
        compute_name(&def, &mut rec);
        let row = self.push_row(&def.name, rec);
        self.journal(Undo::Created {
            object: def.name.clone(),
            row,
        });
        Ok(id)
    }

    /// Applies a partial update. An `Id` key in the body is allowed only if it names the record
    /// itself (collections carry it). 404 for unknown ids, `ENTITY_IS_DELETED` for deleted ones.
    pub fn update(
        &mut self,
        object: &str,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<String, DmlError> {
        let def = self
            .object_arc(object)
            .ok_or_else(|| unknown_object(object))?;
        let (row, id18) = self.locate_live(&def, id)?;
        if def.name == "Lead"
            && self.tables[&def.name].rows[row as usize].get("IsConverted")
                == Some(&Value::Bool(true))
        {
            return Err(DmlError::one(
                400,
                "CANNOT_UPDATE_CONVERTED_LEAD",
                "cannot reference converted lead",
                vec![],
            ));
        }
        let mut body = body.clone();
        if let Some(k) = body.keys().find(|k| k.eq_ignore_ascii_case("Id")).cloned() {
            let given = body.remove(&k);
            let same = given
                .as_ref()
                .and_then(Value::as_str)
                .and_then(ids::normalize)
                == Some(&id18[..15]);
            if !same {
                return Err(DmlError::bad(vec![ApiError::new(
                    "INVALID_FIELD",
                    "The Id field should not be specified in the sobject data.",
                )]));
            }
        }
        let values = self.check_values(&def, &body, Op::Update)?;
        let old = self.tables[&def.name].rows[row as usize].clone();
        let mut rec = old.clone();
        let mut missing = Vec::new();
        for (name, value) in values {
            if value.is_null() {
                let f = def.field_any(&name).expect("checked field");
                if !f.nillable && !f.field_type.eq(&FieldType::Boolean) {
                    missing.push(name.clone());
                }
                rec.remove(&name);
            } else {
                rec.insert(name, value);
            }
        }
        if !missing.is_empty() {
            return Err(required_missing(missing));
        }
        self.check_unique(&def, &rec, Some(row))?;
        let now = self.now();
        rec.insert("LastModifiedDate".into(), Value::String(now.clone()));
        rec.insert("SystemModstamp".into(), Value::String(now));
        rec.insert(
            "LastModifiedById".into(),
            Value::String(self.user_id.clone()),
        );
        compute_name(&def, &mut rec);
        self.replace_row(&def, row, rec, false);
        self.journal(Undo::Changed {
            object: def.name.clone(),
            row,
            old,
            was_in_bin: None,
        });
        Ok(id18)
    }

    /// Soft-deletes a record: `IsDeleted` becomes true and it goes to the recycle bin, where
    /// `queryAll` still sees it. 404 NOT_FOUND for unknown ids, `ENTITY_IS_DELETED` if already
    /// deleted. `object` may be `None` when only the id is known (collections delete): the type
    /// comes from the key prefix.
    pub fn delete(&mut self, object: Option<&str>, id: &str) -> Result<String, DmlError> {
        let def = match object {
            Some(o) => self.object_arc(o).ok_or_else(|| unknown_object(o))?,
            None => self.object_for_id(id).ok_or_else(|| {
                DmlError::one(400, "MALFORMED_ID", format!("malformed id {id}"), vec![])
            })?,
        };
        if !def.deletable {
            return Err(DmlError::one(
                400,
                "INVALID_TYPE_FOR_OPERATION",
                format!("entity type {} does not support delete", def.name),
                vec![],
            ));
        }
        let (row, id18) = self.locate_live(&def, id)?;
        let old = self.tables[&def.name].rows[row as usize].clone();
        let mut rec = old.clone();
        let now = self.now();
        rec.insert("IsDeleted".into(), Value::Bool(true));
        rec.insert("SystemModstamp".into(), Value::String(now.clone()));
        self.replace_row(&def, row, rec, true);
        self.tables
            .get_mut(&def.name)
            .expect("table")
            .recycle_bin
            .insert(row, now);
        self.journal(Undo::Changed {
            object: def.name.clone(),
            row,
            old,
            was_in_bin: None,
        });
        Ok(id18)
    }

    /// Upsert by external id (§5): `field` must be `Id` or an external-id field. Creates when no
    /// live record has `value`, updates the one that has it, reports [`UpsertOutcome::Multiple`]
    /// when several do. The key field may also appear in the body.
    pub fn upsert(
        &mut self,
        object: &str,
        field: &str,
        value: &str,
        body: &Map<String, Value>,
        update_only: bool,
    ) -> Result<UpsertOutcome, DmlError> {
        let def = self
            .object_arc(object)
            .ok_or_else(|| unknown_object(object))?;
        let key = def
            .field(field)
            .filter(|f| f.external_id || f.field_type == FieldType::Id)
            .ok_or_else(|| DmlError {
                status: 404,
                errors: vec![ApiError::new(
                    "NOT_FOUND",
                    format!(
                        "Provided external ID field does not exist or is not accessible: {field}"
                    ),
                )],
            })?
            .clone();
        let matches = self.find_by_field(&def.name, &key.name, value);
        match matches.len() {
            0 if update_only => Err(DmlError::not_found()),
            0 => {
                let mut body = body.clone();
                if key.field_type == FieldType::Id {
                    body.retain(|k, _| !k.eq_ignore_ascii_case("Id"));
                } else {
                    body.retain(|k, _| !k.eq_ignore_ascii_case(&key.name));
                    body.insert(key.name.clone(), Value::String(value.to_owned()));
                }
                self.create(&def.name, &body).map(UpsertOutcome::Created)
            }
            1 => {
                let mut body = body.clone();
                // The key in the body must agree with the URL; Salesforce refuses a mismatch.
                if let Some(k) = body
                    .keys()
                    .find(|k| k.eq_ignore_ascii_case(&key.name))
                    .cloned()
                {
                    let agrees = match (&body[&k], key.field_type) {
                        (Value::String(s), FieldType::Id) => {
                            ids::normalize(s) == ids::normalize(&matches[0])
                        }
                        (Value::String(s), _) => {
                            key_of(&key, &Value::String(s.clone()))
                                == key_of(&key, &Value::String(value.to_owned()))
                        }
                        (other, _) => *other == value,
                    };
                    if !agrees {
                        return Err(DmlError::one(
                            400,
                            "INVALID_FIELD",
                            format!(
                                "Cannot specify {} in the body when using it as the external ID in the URL",
                                key.name
                            ),
                            vec![key.name.clone()],
                        ));
                    }
                    body.remove(&k);
                }
                self.update(&def.name, &matches[0], &body)
                    .map(UpsertOutcome::Updated)
            }
            _ => Ok(UpsertOutcome::Multiple(matches)),
        }
    }

    /// Inserts an already-complete record as is (seeding through the control API keeps given
    /// timestamps). Missing `Id`/audit fields are filled in; validation still applies to the
    /// fields a client could write.
    pub fn seed(&mut self, object: &str, body: &Map<String, Value>) -> Result<String, DmlError> {
        let def = self
            .object_arc(object)
            .ok_or_else(|| unknown_object(object))?;
        let mut writable = Map::new();
        let mut system = Map::new();
        for (k, v) in body {
            if k == "attributes" {
                continue;
            }
            match def.field_any(k) {
                Some(f) if f.createable => {
                    writable.insert(f.name.clone(), v.clone());
                }
                Some(f) => {
                    system.insert(f.name.clone(), v.clone());
                }
                None => {
                    return Err(DmlError::bad(vec![ApiError::new(
                        "INVALID_FIELD",
                        format!("No such column '{k}' on sobject of type {}", def.name),
                    )]));
                }
            }
        }
        let id = self.create(&def.name, &writable)?;
        if system.is_empty() {
            return Ok(id);
        }
        let row = self.tables[&def.name].find(&id).expect("just created");
        let mut rec = self.tables[&def.name].rows[row as usize].clone();
        for (k, v) in system {
            match (k.as_str(), &v) {
                ("Id" | "IsDeleted" | "Name", _) => {}
                (_, Value::String(s))
                    if def
                        .field_any(&k)
                        .is_some_and(|f| f.field_type == FieldType::DateTime) =>
                {
                    let t = parse_datetime(s).ok_or_else(|| {
                        DmlError::bad(vec![ApiError::with_fields(
                            "JSON_PARSER_ERROR",
                            format!("Cannot deserialize instance of datetime from VALUE_STRING value {s}"),
                            vec![k.clone()],
                        )])
                    })?;
                    rec.insert(k, Value::String(format_datetime(t)));
                }
                (_, Value::Null) => {
                    rec.remove(&k);
                }
                _ => {
                    rec.insert(k, v);
                }
            }
        }
        self.replace_row(&def, row, rec, false);
        Ok(id)
    }

    /// The object an id belongs to, from its key prefix.
    pub fn object_for_id(&self, id: &str) -> Option<Arc<ObjectDef>> {
        let prefix = id.get(..3)?;
        self.objects
            .values()
            .find(|o| o.key_prefix == prefix)
            .cloned()
    }

    // ---- internals ------------------------------------------------------------------------

    fn push_row(&mut self, object: &str, rec: Record) -> u32 {
        let def = self.objects.get(object).expect("known object");
        let table = self.tables.get_mut(object).expect("table for every object");
        let row = table.rows.len() as u32;
        if let Some(Value::String(id)) = rec.get("Id") {
            table.by_id.insert(id[..15].to_owned(), row);
        }
        table.rows.push(rec);
        index(def, table, row);
        table.index_secondary(row);
        row
    }

    fn replace_row(&mut self, def: &ObjectDef, row: u32, rec: Record, deleting: bool) {
        let table = self
            .tables
            .get_mut(&def.name)
            .expect("table for every object");
        unindex(def, table, row);
        table.unindex_secondary(row);
        table.rows[row as usize] = rec;
        table.index_secondary(row);
        if !deleting {
            index(def, table, row);
        }
    }

    fn locate_live(&self, def: &ObjectDef, id: &str) -> Result<(u32, String), DmlError> {
        let norm = ids::normalize(id).ok_or_else(|| {
            DmlError::one(
                400,
                "MALFORMED_ID",
                format!("{} ID: id value of incorrect type: {id}", def.label),
                vec!["Id".into()],
            )
        })?;
        if !norm.starts_with(&def.key_prefix) {
            return Err(DmlError::one(
                400,
                "MALFORMED_ID",
                format!("{} ID: id value of incorrect type: {id}", def.label),
                vec!["Id".into()],
            ));
        }
        let table = &self.tables[&def.name];
        let row = table.find(norm).ok_or_else(DmlError::not_found)?;
        if table.recycle_bin.contains_key(&row) {
            return Err(DmlError::one(
                404,
                "ENTITY_IS_DELETED",
                "entity is deleted",
                vec![],
            ));
        }
        Ok((row, ids::to18(norm)))
    }

    /// Maps body keys to canonical fields and converts each value to its stored encoding,
    /// refusing what Salesforce refuses. Errors are collected: every problem, not the first.
    fn check_values(
        &self,
        def: &ObjectDef,
        body: &Map<String, Value>,
        op: Op,
    ) -> Result<Vec<(String, Value)>, DmlError> {
        let mut out = Vec::with_capacity(body.len());
        let mut errors = Vec::new();
        let mut not_writable = Vec::new();
        for (key, value) in body {
            if key == "attributes" {
                continue;
            }
            let Some(f) = def.field(key) else {
                return Err(DmlError::bad(vec![ApiError::new(
                    "INVALID_FIELD",
                    format!("No such column '{key}' on sobject of type {}", def.name),
                )]));
            };
            let writable = match op {
                Op::Create => f.createable,
                Op::Update => f.updateable,
            } && f.access.editable;
            if !writable {
                not_writable.push(f.name.clone());
                continue;
            }
            match self.convert(def, f, value) {
                Ok(v) => out.push((f.name.clone(), v)),
                Err(e) => errors.push(e),
            }
        }
        if !not_writable.is_empty() {
            return Err(DmlError::bad(vec![ApiError::with_fields(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                format!(
                    "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                    not_writable.join(", ")
                ),
                not_writable,
            )]));
        }
        // A JSON type mismatch stops deserialisation before any validation runs.
        if let Some(parse) = errors.iter().find(|e| e.error_code == "JSON_PARSER_ERROR") {
            return Err(DmlError::bad(vec![ApiError::new(
                parse.error_code.clone(),
                parse.message.clone(),
            )]));
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(DmlError::bad(errors))
        }
    }

    fn convert(&self, def: &ObjectDef, f: &FieldDef, value: &Value) -> Result<Value, ApiError> {
        let parse_err = |kind: &str, v: &Value| {
            let (token, shown) = match v {
                Value::String(s) => ("VALUE_STRING", s.clone()),
                Value::Bool(b) => (if *b { "VALUE_TRUE" } else { "VALUE_FALSE" }, b.to_string()),
                Value::Number(n) if n.is_f64() => ("VALUE_NUMBER_FLOAT", n.to_string()),
                Value::Number(n) => ("VALUE_NUMBER_INT", n.to_string()),
                Value::Array(_) => ("START_ARRAY", "[".into()),
                Value::Object(_) => ("START_OBJECT", "{".into()),
                Value::Null => ("VALUE_NULL", "null".into()),
            };
            ApiError::new(
                "JSON_PARSER_ERROR",
                format!(
                    "Cannot deserialize instance of {kind} from {token} value {shown} or request may be missing a required field"
                ),
            )
        };
        let one = |code: &str, msg: String| ApiError::with_fields(code, msg, vec![f.name.clone()]);
        if value.is_null() {
            return Ok(Value::Null);
        }
        let v = match f.field_type {
            FieldType::Boolean => match value {
                Value::Bool(b) => Value::Bool(*b),
                Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
                Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
                other => return Err(parse_err("boolean", other)),
            },
            FieldType::Int => {
                let n = match value {
                    Value::Number(n) => n
                        .as_i64()
                        .or_else(|| n.as_f64().filter(|x| x.fract() == 0.0).map(|x| x as i64)),
                    Value::String(s) => s.trim().parse::<i64>().ok(),
                    _ => None,
                };
                let n = n.ok_or_else(|| parse_err("int", value))?;
                if f.digits > 0 && n.unsigned_abs().to_string().len() > f.digits as usize {
                    return Err(one(
                        "NUMBER_OUTSIDE_VALID_RANGE",
                        format!(
                            "{}: value outside of valid range on numeric field: {n}",
                            f.label
                        ),
                    ));
                }
                Value::from(n)
            }
            FieldType::Double | FieldType::Currency | FieldType::Percent => {
                let n = match value {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
                    _ => None,
                };
                let n = n.ok_or_else(|| parse_err("double", value))?;
                let int_digits = f.precision.saturating_sub(f.scale) as usize;
                if int_digits > 0 && (n.abs().trunc() as u128).to_string().len() > int_digits {
                    return Err(one(
                        "NUMBER_OUTSIDE_VALID_RANGE",
                        format!(
                            "{}: value outside of valid range on numeric field: {n}",
                            f.label
                        ),
                    ));
                }
                match serde_json::Number::from_f64(n) {
                    Some(num) if n.fract() == 0.0 && n.abs() < 9.0e15 => Value::from(n as i64)
                        .as_i64()
                        .map_or(Value::Number(num), Value::from),
                    Some(num) => Value::Number(num),
                    None => return Err(parse_err("double", value)),
                }
            }
            FieldType::Date => {
                let s = value.as_str().ok_or_else(|| parse_err("date", value))?;
                let d = parse_date(s)
                    .or_else(|| parse_datetime(s).map(|t| t.to_offset(UtcOffset::UTC).date()));
                Value::String(format_date(d.ok_or_else(|| parse_err("date", value))?))
            }
            FieldType::DateTime => {
                let s = value.as_str().ok_or_else(|| parse_err("datetime", value))?;
                let t = parse_datetime(s)
                    .or_else(|| parse_date(s).map(|d| d.midnight().assume_utc()))
                    .ok_or_else(|| parse_err("datetime", value))?;
                Value::String(format_datetime(t))
            }
            FieldType::Id | FieldType::Reference => {
                let s = value.as_str().ok_or_else(|| parse_err("id", value))?;
                if s.is_empty() {
                    return Ok(Value::Null);
                }
                let bad_id = || {
                    one(
                        "MALFORMED_ID",
                        format!("{}: id value of incorrect type: {s}", f.label),
                    )
                };
                let norm = ids::normalize(s).ok_or_else(bad_id)?;
                let targets: Vec<&ObjectDef> = f
                    .reference_to
                    .iter()
                    .filter_map(|t| self.object(t))
                    .collect();
                let target = targets.iter().find(|t| norm.starts_with(&t.key_prefix));
                let group_owner =
                    f.reference_to.iter().any(|t| t == "Group") && norm.starts_with("00G");
                let external = targets.is_empty() && !f.reference_to.is_empty();
                match target {
                    Some(t) => {
                        let live = self.tables.get(&t.name).and_then(|tb| {
                            tb.find(norm).filter(|r| !tb.recycle_bin.contains_key(r))
                        });
                        if live.is_none() {
                            return Err(ApiError::with_fields(
                                "INVALID_CROSS_REFERENCE_KEY",
                                "invalid cross reference id",
                                vec![f.name.clone()],
                            ));
                        }
                    }
                    None if group_owner || external => {}
                    None => return Err(bad_id()),
                }
                Value::String(ids::to18(norm))
            }
            t => {
                let s = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => return Err(parse_err("String", other)),
                };
                if s.is_empty() {
                    return Ok(Value::Null);
                }
                let chars = s.chars().count();
                if f.length > 0 && chars > f.length as usize {
                    return Err(one(
                        "STRING_TOO_LONG",
                        format!(
                            "{}: data value too large: {s} (max length={})",
                            f.label, f.length
                        ),
                    ));
                }
                if t == FieldType::Email && !valid_email(&s) {
                    return Err(one(
                        "INVALID_EMAIL_ADDRESS",
                        format!("{}: invalid email address: {s}", f.label),
                    ));
                }
                if f.restricted_picklist {
                    let allowed = |v: &str| f.picklist.iter().any(|p| p.active && p.value == v);
                    let ok = if t == FieldType::MultiPicklist {
                        s.split(';').all(allowed)
                    } else {
                        allowed(&s)
                    };
                    if !ok {
                        // Salesforce names the picklist by its entity label for Lead Status.
                        let label = if def.name == "Lead" && f.name == "Status" {
                            "Lead Status"
                        } else {
                            f.label.as_str()
                        };
                        return Err(one(
                            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                            format!("{label}: bad value for restricted picklist field: {s}"),
                        ));
                    }
                }
                Value::String(s)
            }
        };
        Ok(v)
    }

    fn check_unique(
        &self,
        def: &ObjectDef,
        rec: &Record,
        own_row: Option<u32>,
    ) -> Result<(), DmlError> {
        let table = &self.tables[&def.name];
        let mut clashes = Vec::new();
        let mut other = String::new();
        for f in def.fields.iter().filter(|f| f.unique) {
            let Some(k) = rec.get(&f.name).and_then(|v| key_of(f, v)) else {
                continue;
            };
            if let Some(rows) = table.keys.get(&f.name).and_then(|m| m.get(&k))
                && let Some(r) = rows.iter().find(|r| Some(**r) != own_row)
            {
                clashes.push(f.name.clone());
                other = table.rows[*r as usize]
                    .get("Id")
                    .and_then(Value::as_str)
                    .and_then(|id| id.get(..15))
                    .unwrap_or_default()
                    .to_owned();
            }
        }
        if clashes.is_empty() {
            return Ok(());
        }
        Err(DmlError::one(
            400,
            "DUPLICATE_VALUE",
            format!(
                "duplicate value found: {} duplicates value on record with id: {other}",
                clashes.join(", ")
            ),
            clashes,
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Update,
}

fn index(def: &ObjectDef, table: &mut Table, row: u32) {
    let rec = &table.rows[row as usize];
    for f in def.fields.iter().filter(|f| f.unique || f.external_id) {
        if let Some(k) = rec.get(&f.name).and_then(|v| key_of(f, v)) {
            table
                .keys
                .entry(f.name.clone())
                .or_default()
                .entry(k)
                .or_default()
                .push(row);
        }
    }
}

fn unindex(def: &ObjectDef, table: &mut Table, row: u32) {
    let Some(rec) = table.rows.get(row as usize) else {
        return;
    };
    for f in def.fields.iter().filter(|f| f.unique || f.external_id) {
        if let Some(k) = rec.get(&f.name).and_then(|v| key_of(f, v))
            && let Some(rows) = table.keys.get_mut(&f.name).and_then(|m| m.get_mut(&k))
        {
            rows.retain(|r| *r != row);
        }
    }
}

fn unknown_object(object: &str) -> DmlError {
    let _ = object;
    DmlError::not_found()
}

fn required_missing(fields: Vec<String>) -> DmlError {
    DmlError::one(
        400,
        "REQUIRED_FIELD_MISSING",
        format!("Required fields are missing: [{}]", fields.join(", ")),
        fields,
    )
}

/// Computed `Name` of person-like objects: "First Last" (Lead, Contact, User).
fn compute_name(def: &ObjectDef, rec: &mut Record) {
    let computed = def.field_any("Name").is_some_and(|f| f.calculated);
    if !computed {
        return;
    }
    let first = rec
        .get("FirstName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let last = rec
        .get("LastName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = format!("{first} {last}").trim().to_owned();
    rec.insert("Name".into(), Value::String(name));
}

/// Salesforce's email check, approximately: one `@`, a non-empty local part without spaces, and
/// a dotted domain of letters, digits, hyphens.
fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(char::is_alphabetic));
    local_ok && domain_ok
}

// ---- credentials, sessions --------------------------------------------------------------------

/// How a session was obtained (kept for `userinfo` and stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    Password,
    ClientCredentials,
    RefreshToken,
    AuthorizationCode,
    JwtBearer,
    SoapLogin,
}

/// A live access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub user_id: String,
    pub issued_at_ms: i64,
    pub grant: GrantKind,
    /// Sessions obtained with an expired password only allow changing it (SOAP semantics).
    pub password_expired: bool,
    /// The refresh token this session came from, if any (revoking it ends the session).
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// A refresh token and the app it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshGrant {
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
}

/// A pending authorization code (web-server flow, §1.6).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub scope: String,
    pub expires_at_ms: i64,
}

/// Serde for the `Arc`ed object map (serde's `rc` feature is not enabled in the workspace).
mod arc_map {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::ObjectDef;

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<String, Arc<ObjectDef>>,
        ser: S,
    ) -> Result<S::Ok, S::Error> {
        let plain: BTreeMap<&String, &ObjectDef> = m.iter().map(|(k, v)| (k, &**v)).collect();
        plain.serialize(ser)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        de: D,
    ) -> Result<BTreeMap<String, Arc<ObjectDef>>, D::Error> {
        let plain = BTreeMap::<String, ObjectDef>::deserialize(de)?;
        Ok(plain.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

mod secret_serde {
    use secrecy::{ExposeSecret, SecretString};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(s: &SecretString, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.expose_secret())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<SecretString, D::Error> {
        Ok(SecretString::from(String::deserialize(de)?))
    }
}

/// The integration user's credentials, the connected app, and every token issued.
/// Secrets are `SecretString`s: never logged, only exposed to compare or to persist.
#[derive(Debug, Serialize, Deserialize)]
pub struct Auth {
    pub username: String,
    #[serde(with = "secret_serde")]
    pub password: SecretString,
    #[serde(with = "secret_serde")]
    pub security_token: SecretString,
    /// Set by the `expire_password` fault; cleared by a new password.
    pub password_expired: bool,
    pub client_id: String,
    #[serde(with = "secret_serde")]
    pub client_secret: SecretString,
    /// PEM of the certificate (or public key) JWT bearer assertions must be signed for.
    pub jwt_certificate_pem: Option<String>,
    pub sessions: HashMap<String, Session>,
    pub refresh_tokens: HashMap<String, RefreshGrant>,
    pub codes: HashMap<String, AuthCode>,
}

impl Auth {
    /// Whether `given` is the password with the security token appended (§1.3). The bare
    /// password is refused: the emulated org has no trusted IP ranges.
    pub fn password_matches(&self, given: &str) -> bool {
        let expected = format!(
            "{}{}",
            self.password.expose_secret(),
            self.security_token.expose_secret()
        );
        constant_time_eq(given.as_bytes(), expected.as_bytes())
    }

    /// Whether `given` is the connected app's secret.
    pub fn secret_matches(&self, given: &str) -> bool {
        constant_time_eq(
            given.as_bytes(),
            self.client_secret.expose_secret().as_bytes(),
        )
    }
}

/// Compares without an early exit, so timing does not leak how much of a secret matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// ---- API usage and faults ---------------------------------------------------------------------

/// Faults the control API can inject (`POST /__emulator/faults`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    ExpirePassword,
    ExpireSessions,
    RequestLimitExceeded,
    ServerUnavailable,
    UnableToLockRow,
    DuplicatesDetected,
}

impl FaultKind {
    /// Parses the control API spelling.
    pub fn parse(s: &str) -> Option<FaultKind> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }
}

/// The daily API allowance, per-endpoint counts and pending faults.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Usage {
    pub daily_limit: u64,
    pub used: u64,
    /// Start of the current 24-hour window (ms since epoch).
    pub window_start_ms: i64,
    pub by_endpoint: BTreeMap<String, u64>,
    /// Fault kind → how many more data requests it hits.
    pub faults: BTreeMap<FaultKind, u32>,
}

/// Why [`Usage::charge`] refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitExceeded;

impl Usage {
    /// A fresh allowance of `daily_limit` calls.
    pub fn new(daily_limit: u64) -> Usage {
        Usage {
            daily_limit,
            used: 0,
            window_start_ms: now_ms(),
            by_endpoint: BTreeMap::new(),
            faults: BTreeMap::new(),
        }
    }

    /// Counts one API call against the allowance. Refused (and not counted) once the
    /// allowance is spent; the window restarts after 24 hours.
    pub fn charge(&mut self, endpoint: &str) -> Result<(), LimitExceeded> {
        let now = now_ms();
        if now - self.window_start_ms >= 24 * 3600 * 1000 {
            self.window_start_ms = now;
            self.used = 0;
        }
        if self.used >= self.daily_limit {
            return Err(LimitExceeded);
        }
        self.used += 1;
        *self.by_endpoint.entry(endpoint.to_owned()).or_default() += 1;
        Ok(())
    }

    /// Takes one occurrence of a pending counted fault, if any.
    pub fn take_fault(&mut self, kind: FaultKind) -> bool {
        match self.faults.get_mut(&kind) {
            Some(n) if *n > 0 => {
                *n -= 1;
                if *n == 0 {
                    self.faults.remove(&kind);
                }
                true
            }
            _ => false,
        }
    }

    /// `api-usage=N/M` for the `Sforce-Limit-Info` header.
    pub fn limit_info(&self) -> String {
        format!("api-usage={}/{}", self.used, self.daily_limit)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn org() -> Org {
        Org::new(&OrgSeed {
            org_name: "Acme".into(),
            edition: Edition::Developer,
            username: "integration@acme.test".into(),
            user_email: "integration@acme.test".into(),
            user_first_name: "Integration".into(),
            user_last_name: "User".into(),
        })
    }

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn create_fills_defaults_audit_fields_and_canonical_names() {
        let mut org = org();
        let id = org
            .create(
                "lead",
                &body(json!({"lastname": "Doe", "COMPANY": "Acme", "email": "j@x.io"})),
            )
            .expect("created");
        assert!(id.starts_with("00Q") && id.len() == 18);
        let rec = org.get("Lead", &id[..15]).expect("found by 15-char id");
        assert_eq!(rec["LastName"], json!("Doe"));
        assert_eq!(rec["Status"], json!("Open - Not Contacted"));
        assert_eq!(rec["Name"], json!("Doe"));
        assert_eq!(rec["IsDeleted"], json!(false));
        assert_eq!(rec["OwnerId"], json!(org.user_id.clone()));
        let created = rec["CreatedDate"].as_str().expect("string");
        assert_eq!(created.len(), 28);
        assert!(created.ends_with("+0000"));
        assert!(!rec.contains_key("FirstName"), "nulls are not stored");
    }

    #[test]
    fn required_fields_are_listed_in_one_error() {
        let mut org = org();
        let err = org
            .create("Lead", &body(json!({"FirstName": "J"})))
            .expect_err("refused");
        assert_eq!(err.status, 400);
        assert_eq!(
            err.errors,
            vec![ApiError::with_fields(
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [LastName, Company]",
                vec!["LastName".into(), "Company".into()]
            )]
        );
    }

    #[test]
    fn validation_errors_match_salesforce_wording() {
        let mut org = org();
        let err = org
            .create(
                "Lead",
                &body(json!({"LastName": "D", "Company": "A", "Email": "nope", "Status": "Foo"})),
            )
            .expect_err("refused");
        assert_eq!(
            err.errors,
            vec![
                ApiError::with_fields(
                    "INVALID_EMAIL_ADDRESS",
                    "Email: invalid email address: nope",
                    vec!["Email".into()]
                ),
                ApiError::with_fields(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    "Lead Status: bad value for restricted picklist field: Foo",
                    vec!["Status".into()]
                ),
            ]
        );
        let long = "x".repeat(81);
        let err = org
            .create("Lead", &body(json!({"LastName": long, "Company": "A"})))
            .expect_err("too long");
        assert_eq!(err.errors[0].error_code, "STRING_TOO_LONG");
        assert_eq!(
            err.errors[0].message,
            format!("Last Name: data value too large: {long} (max length=80)")
        );
        let err = org
            .create(
                "Lead",
                &body(json!({"LastName": "D", "Company": "A", "Name": "x"})),
            )
            .expect_err("read-only");
        assert_eq!(err.errors[0].error_code, "INVALID_FIELD_FOR_INSERT_UPDATE");
        let err = org
            .create(
                "Lead",
                &body(json!({"LastName": "D", "Company": "A", "Bogus": 1})),
            )
            .expect_err("unknown");
        assert_eq!(
            err.errors,
            vec![ApiError::new(
                "INVALID_FIELD",
                "No such column 'Bogus' on sobject of type Lead"
            )]
        );
        let err = org
            .create(
                "Lead",
                &body(json!({"LastName": "D", "Company": "A", "DoNotCall": "maybe"})),
            )
            .expect_err("type");
        assert_eq!(err.errors[0].error_code, "JSON_PARSER_ERROR");
    }

    #[test]
    fn update_bumps_modstamp_and_delete_goes_to_recycle_bin() {
        let mut org = org();
        let id = org
            .create("Lead", &body(json!({"LastName": "Doe", "Company": "Acme"})))
            .expect("created");
        let before = org.get("Lead", &id).expect("live")["SystemModstamp"].clone();
        std::thread::sleep(std::time::Duration::from_millis(3));
        org.update("Lead", &id, &body(json!({"FirstName": "Jane"})))
            .expect("updated");
        let rec = org.get("Lead", &id).expect("live");
        assert_eq!(rec["Name"], json!("Jane Doe"));
        assert!(rec["SystemModstamp"].as_str() > before.as_str());
        org.delete(Some("Lead"), &id).expect("deleted");
        assert_eq!(org.get("Lead", &id).expect_err("gone").status, 404);
        let again = org.delete(Some("Lead"), &id).expect_err("twice");
        assert_eq!(again.errors[0].error_code, "ENTITY_IS_DELETED");
        let table = org.table("Lead").expect("table");
        assert_eq!(table.live_count(), 0);
        assert_eq!(table.rows()[0]["IsDeleted"], json!(true));
        assert_eq!(table.recycle_bin().len(), 1);
    }

    #[test]
    fn rollback_undoes_creates_updates_and_deletes() {
        let mut org = org();
        let kept = org
            .create("Lead", &body(json!({"LastName": "Keep", "Company": "A"})))
            .expect("created");
        let sp = org.begin();
        org.create("Lead", &body(json!({"LastName": "New", "Company": "A"})))
            .expect("created");
        org.update("Lead", &kept, &body(json!({"LastName": "Changed"})))
            .expect("updated");
        org.delete(Some("Lead"), &kept).expect("deleted");
        org.rollback(sp);
        let table = org.table("Lead").expect("table");
        assert_eq!(table.rows().len(), 1);
        assert_eq!(
            org.get("Lead", &kept).expect("restored")["LastName"],
            json!("Keep")
        );
    }

    #[test]
    fn upsert_creates_updates_and_reports_ambiguity() {
        let mut org = org();
        let mut f = FieldDef::new("Ext__c", "Ext", FieldType::String);
        f.external_id = true;
        org.add_custom_field("Lead", f).expect("added");
        let b = body(json!({"LastName": "Doe", "Company": "A"}));
        let UpsertOutcome::Created(id) = org.upsert("Lead", "ext__c", "K1", &b, false).expect("ok")
        else {
            panic!("created")
        };
        assert_eq!(
            org.upsert("Lead", "Ext__c", "k1", &b, false),
            Ok(UpsertOutcome::Updated(id.clone()))
        );
        org.create(
            "Lead",
            &body(json!({"LastName": "Twin", "Company": "A", "Ext__c": "K1"})),
        )
        .expect("dup allowed: not unique");
        assert!(
            matches!(org.upsert("Lead", "Ext__c", "K1", &b, false), Ok(UpsertOutcome::Multiple(ids)) if ids.len() == 2)
        );
        let err = org
            .upsert("Lead", "Nope__c", "x", &b, false)
            .expect_err("unknown field");
        assert_eq!(err.status, 404);
        assert_eq!(
            err.errors[0].message,
            "Provided external ID field does not exist or is not accessible: Nope__c"
        );
    }

    #[test]
    fn organization_type_follows_edition() {
        let org = org();
        let table = org.table("Organization").expect("table");
        assert_eq!(
            table.rows()[0]["OrganizationType"],
            json!("Developer Edition")
        );
        assert!(org.org_id.starts_with("00D"));
    }

    #[test]
    fn datetimes_normalise_to_utc_millis() {
        let t = parse_datetime("2026-01-01T02:00:00+02:00").expect("rfc3339");
        assert_eq!(format_datetime(t), "2026-01-01T00:00:00.000+0000");
        let t = parse_datetime("2026-01-01T00:00:00.123+0000").expect("sf form");
        assert_eq!(format_datetime(t), "2026-01-01T00:00:00.123+0000");
    }

    #[test]
    fn email_check_accepts_ordinary_and_refuses_broken_addresses() {
        assert!(valid_email("jane.doe+tag@example.co.uk"));
        for bad in ["nope", "a@b", "a b@c.io", "@c.io", "a@.io", "a@c.i0"] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
