// The store's queries, written once and compiled once per backend: `lib.rs` includes this file
// in `sqlite_queries` and `postgres_queries`, each defining `Engine` (the sqlx database) and
// `BACKEND`. The SQL is the subset both databases accept; the few differences branch on
// `BACKEND`.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::QueryBuilder;

use crate::import::BatchOutcome;
use crate::model::*;
use crate::rows::{
    ApiKeyRow, ChangeRow, ContactRow, CustomFieldRow, FormRow, SubmissionRow, contact_columns,
};
use crate::time_fmt::{now, to_micros};
use crate::validate::{self, Apply, Blank, ContactInput, Patch, Schema};
use crate::text_pack::{TextPack, push_values_placeholders, unpack_sql};
use crate::write::{ChangeLogText, ContactWrite, FieldsJson, Saved, Target, WriteOp, fields_json};
use crate::{BEHAVIOUR_SCORE_MAX, Backend, Email, StoreError};

type Pool = sqlx::Pool<Engine>;
type Conn = <Engine as sqlx::Database>::Connection;
type Tx = sqlx::Transaction<'static, Engine>;

/// Rows per multi-row INSERT of contacts: 20 binds each stays under SQLite's 32,766 limit.
const CONTACT_INSERT_CHUNK: usize = 1000;
/// Rows per multi-row INSERT of change-log rows (4 binds each).
const CHANGE_INSERT_CHUNK: usize = 5000;
/// PostgreSQL: opens the transaction and takes the advisory lock that serialises writers in one
/// round trip (a simple-protocol query may hold several statements). The key, 0x6c627374, is any
/// fixed number shared by every contact-base writer.
const BEGIN_WRITE_POSTGRES: &str = "BEGIN; SELECT pg_advisory_xact_lock(1818391412)";

/// Starts a write transaction that is serialised with every other writer (see the crate docs).
async fn begin_write(pool: &Pool) -> Result<Tx, StoreError> {
    match BACKEND {
        // IMMEDIATE takes the write lock up front: a deferred transaction that reads then
        // writes could fail with SQLITE_BUSY when another writer got there in between.
        Backend::Sqlite => Ok(pool.begin_with("BEGIN IMMEDIATE").await?),
        Backend::Postgres => Ok(pool.begin_with(BEGIN_WRITE_POSTGRES).await?),
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

// ---------------------------------------------------------------- schema

pub(crate) async fn schema(pool: &Pool) -> Result<Schema, StoreError> {
    let mut conn = pool.acquire().await?;
    load_schema(&mut conn).await
}

async fn load_schema(conn: &mut Conn) -> Result<Schema, StoreError> {
    let states: Vec<String> = sqlx::query_scalar("SELECT name FROM states ORDER BY position, name")
        .fetch_all(&mut *conn)
        .await?;
    let fields = sqlx::query_as::<_, CustomFieldRow>(
        "SELECT id, name, label, kind, options, created_at FROM custom_fields ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(CustomField::try_from)
    .collect::<Result<Vec<_>, _>>()?;
    Ok(Schema { states, fields })
}

pub(crate) async fn add_state(pool: &Pool, name: &str) -> Result<Vec<String>, StoreError> {
    let mut tx = begin_write(pool).await?;
    let schema = load_schema(&mut tx).await?;
    if schema.states.iter().any(|s| s.eq_ignore_ascii_case(name)) {
        return Err(StoreError::AlreadyExists {
            what: format!("state '{name}'"),
        });
    }
    sqlx::query("INSERT INTO states (name, position) VALUES ($1, (SELECT COALESCE(MAX(position), 0) + 1 FROM states))")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    let schema = load_schema(&mut tx).await?;
    tx.commit().await?;
    Ok(schema.states)
}

pub(crate) async fn add_custom_field(
    pool: &Pool,
    field: &NewCustomField,
) -> Result<CustomField, StoreError> {
    let mut tx = begin_write(pool).await?;
    let options = serde_json::to_string(&field.options).unwrap_or_else(|_| "[]".into());
    let row = sqlx::query_as::<_, CustomFieldRow>(
        "INSERT INTO custom_fields (name, label, kind, options, created_at) VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, name, label, kind, options, created_at",
    )
    .bind(&field.name)
    .bind(field.label.as_deref().unwrap_or(&field.name))
    .bind(field.kind.name())
    .bind(options)
    .bind(to_micros(now()))
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::AlreadyExists { what: format!("custom field '{}'", field.name) }
        } else {
            e.into()
        }
    })?;
    tx.commit().await?;
    CustomField::try_from(row)
}

// ---------------------------------------------------------------- contacts: reads

async fn find_by_id(conn: &mut Conn, id: ContactId) -> Result<Option<Contact>, StoreError> {
    sqlx::query_as::<_, ContactRow>(concat!(
        "SELECT ",
        contact_columns!(),
        " FROM contacts WHERE id = $1"
    ))
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?
    .map(Contact::try_from)
    .transpose()
}

async fn find_by_email(conn: &mut Conn, email: &Email) -> Result<Option<Contact>, StoreError> {
    sqlx::query_as::<_, ContactRow>(concat!(
        "SELECT ",
        contact_columns!(),
        " FROM contacts WHERE email = $1"
    ))
    .bind(email.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .map(Contact::try_from)
    .transpose()
}

pub(crate) async fn contact(pool: &Pool, id: ContactId) -> Result<Option<Contact>, StoreError> {
    let mut conn = pool.acquire().await?;
    find_by_id(&mut conn, id).await
}

pub(crate) async fn contact_by_email(
    pool: &Pool,
    email: &Email,
) -> Result<Option<Contact>, StoreError> {
    let mut conn = pool.acquire().await?;
    find_by_email(&mut conn, email).await
}

pub(crate) async fn contacts_by_id(
    pool: &Pool,
    ids: &[ContactId],
) -> Result<Vec<Contact>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut qb = QueryBuilder::<Engine>::new(concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts WHERE id IN ("
        ));
        let mut list = qb.separated(", ");
        for id in chunk {
            list.push_bind(id.0);
        }
        qb.push(") ORDER BY id");
        for row in qb.build_query_as::<ContactRow>().fetch_all(pool).await? {
            out.push(Contact::try_from(row)?);
        }
    }
    out.sort_by_key(|c| c.id);
    Ok(out)
}

/// `%`, `_` and `\` are literal in a search, not wildcards.
fn like_pattern(search: &str) -> String {
    let mut out = String::from("%");
    for c in search.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

pub(crate) async fn list_contacts(
    pool: &Pool,
    query: &ContactQuery,
) -> Result<ContactPage, StoreError> {
    let limit = i64::from(query.limit.unwrap_or(50).clamp(1, 1000));
    let mut qb = QueryBuilder::<Engine>::new(concat!(
        "SELECT ",
        contact_columns!(),
        " FROM contacts WHERE 1 = 1"
    ));
    if let Some(search) = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let pattern = like_pattern(search);
        qb.push(" AND (email LIKE ");
        qb.push_bind(pattern.clone());
        qb.push(" ESCAPE '\\' OR LOWER(COALESCE(first_name, '')) LIKE ");
        qb.push_bind(pattern.clone());
        qb.push(" ESCAPE '\\' OR LOWER(COALESCE(last_name, '')) LIKE ");
        qb.push_bind(pattern.clone());
        qb.push(" ESCAPE '\\' OR LOWER(COALESCE(company, '')) LIKE ");
        qb.push_bind(pattern);
        qb.push(" ESCAPE '\\')");
    }
    if let Some(state) = &query.state {
        qb.push(" AND state = ");
        qb.push_bind(state.clone());
    }
    if let Some(stage) = query.lifecycle_stage {
        qb.push(" AND lifecycle_stage = ");
        qb.push_bind(stage.name());
    }
    if let Some(after) = query.after {
        qb.push(" AND id > ");
        qb.push_bind(after.0);
    }
    qb.push(" ORDER BY id LIMIT ");
    // One more than asked tells whether a next page exists.
    qb.push_bind(limit + 1);
    let mut contacts = qb
        .build_query_as::<ContactRow>()
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(Contact::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let next = if contacts.len() as i64 > limit {
        contacts.truncate(limit as usize);
        contacts.last().map(|c| c.id)
    } else {
        None
    };
    Ok(ContactPage { contacts, next })
}

pub(crate) async fn contacts_after(
    pool: &Pool,
    after: ContactId,
    limit: u32,
) -> Result<Vec<Contact>, StoreError> {
    sqlx::query_as::<_, ContactRow>(concat!(
        "SELECT ",
        contact_columns!(),
        " FROM contacts WHERE id > $1 ORDER BY id LIMIT $2"
    ))
    .bind(after.0)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(Contact::try_from)
    .collect()
}

pub(crate) async fn count_contacts(pool: &Pool) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM contacts")
        .fetch_one(pool)
        .await?)
}

// ---------------------------------------------------------------- contacts: writes

fn custom_json(contact: &Contact) -> String {
    serde_json::to_string(&contact.custom).unwrap_or_else(|_| "{}".into())
}

#[allow(dead_code)] // the PostgreSQL build updates with arrays (`update_rows`)
async fn update_row(conn: &mut Conn, c: &Contact) -> Result<(), StoreError> {
    let stages = &c.stage_reached;
    sqlx::query(
        "UPDATE contacts SET email = $2, first_name = $3, last_name = $4, company = $5, job_title = $6, \
         phone = $7, behaviour_score = $8, state = $9, lifecycle_stage = $10, lead_at = $11, mql_at = $12, \
         sql_at = $13, customer_at = $14, source = $15, medium = $16, campaign = $17, custom = $18, \
         created_at = $19, updated_at = $20 WHERE id = $1",
    )
    .bind(c.id.0)
    .bind(c.email.as_str())
    .bind(c.first_name.as_deref())
    .bind(c.last_name.as_deref())
    .bind(c.company.as_deref())
    .bind(c.job_title.as_deref())
    .bind(c.phone.as_deref())
    .bind(c.behaviour_score)
    .bind(&c.state)
    .bind(c.lifecycle_stage.name())
    .bind(stages.lead.map(to_micros))
    .bind(stages.mql.map(to_micros))
    .bind(stages.sql.map(to_micros))
    .bind(stages.customer.map(to_micros))
    .bind(c.source.as_deref())
    .bind(c.medium.as_deref())
    .bind(c.campaign.as_deref())
    .bind(custom_json(c))
    .bind(to_micros(c.created_at))
    .bind(to_micros(c.updated_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Inserts new contacts in multi-row VALUES statements and fills in their ids (increasing in
/// slice order). `insert_rows` is this on SQLite; PostgreSQL binds arrays or copies
/// (`bulk_postgres.rs`). The ids are chosen here, after the highest ever given (AUTOINCREMENT's
/// `sqlite_sequence`, which the insert moves on): this runs in a `BEGIN IMMEDIATE` transaction,
/// so no other writer can take them meanwhile, and nothing needs to come back from the insert.
#[allow(dead_code)] // the PostgreSQL build uses its array version
async fn insert_rows_values(conn: &mut Conn, contacts: &mut [Contact]) -> Result<(), StoreError> {
    if contacts.is_empty() {
        return Ok(());
    }
    let last: i64 = sqlx::query_scalar(
        "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'contacts'), 0), \
         COALESCE((SELECT MAX(id) FROM contacts), 0))",
    )
    .fetch_one(&mut *conn)
    .await?;
    for (c, id) in contacts.iter_mut().zip(last + 1..) {
        c.id = ContactId(id);
    }
    // Built once for full chunks (the last one of a batch is shorter).
    static FULL_CHUNK: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| contacts_insert_sql(CONTACT_INSERT_CHUNK));
    let statements = contacts.chunks(CONTACT_INSERT_CHUNK).map(|chunk| {
        let sql = if chunk.len() == CONTACT_INSERT_CHUNK {
            FULL_CHUNK.clone()
        } else {
            contacts_insert_sql(chunk.len())
        };
        // Texts go in one blob (`text_pack.rs`): each row binds numbers and NULLs only.
        let mut pack = TextPack::with_capacity(chunk.len() * 192);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for c in chunk {
            let stages = &c.stage_reached;
            let row: [Option<i64>; CONTACT_INSERT_COLUMNS.len()] = [
                Some(c.id.0),
                Some(pack.put_str(c.email.as_str())),
                pack.put(c.first_name.as_deref()),
                pack.put(c.last_name.as_deref()),
                pack.put(c.company.as_deref()),
                pack.put(c.job_title.as_deref()),
                pack.put(c.phone.as_deref()),
                Some(c.behaviour_score),
                Some(pack.put_str(&c.state)),
                Some(pack.put_str(c.lifecycle_stage.name())),
                stages.lead.map(to_micros),
                stages.mql.map(to_micros),
                stages.sql.map(to_micros),
                stages.customer.map(to_micros),
                pack.put(c.source.as_deref()),
                pack.put(c.medium.as_deref()),
                pack.put(c.campaign.as_deref()),
                Some(pack.put_json(&c.custom)),
                Some(to_micros(c.created_at)),
                Some(to_micros(c.updated_at)),
            ];
            for value in row {
                query = query.bind(value);
            }
        }
        query.bind(pack.into_bytes())
    });
    execute_pipelined(conn, statements).await.map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Corrupt("an email was inserted twice in one batch".into())
        } else {
            StoreError::from(e)
        }
    })
}

/// Runs `statements` in order, each built (by the iterator) while the one before runs: on
/// SQLite a statement runs on the connection's own thread, so building the next one (packing
/// a thousand rows) overlaps it instead of waiting for it.
async fn execute_pipelined<'q>(
    conn: &mut Conn,
    mut statements: impl Iterator<Item = sqlx::query::Query<'q, Engine, <Engine as sqlx::Database>::Arguments>>,
) -> Result<(), sqlx::Error> {
    let mut next = statements.next();
    while let Some(statement) = next.take() {
        let running = statement.execute(&mut *conn);
        futures::pin_mut!(running);
        // The first poll hands the statement to the connection's thread.
        let sent = futures::poll!(running.as_mut());
        next = statements.next();
        match sent {
            std::task::Poll::Ready(result) => result?,
            std::task::Poll::Pending => running.await?,
        };
    }
    Ok(())
}

/// The columns of SQLite's bulk insert of contacts, in their order in a row of binds, and
/// whether each is text (bound packed, see `text_pack.rs`).
const CONTACT_INSERT_COLUMNS: [(&str, bool); 20] = [
    ("id", false),
    ("email", true),
    ("first_name", true),
    ("last_name", true),
    ("company", true),
    ("job_title", true),
    ("phone", true),
    ("behaviour_score", false),
    ("state", true),
    ("lifecycle_stage", true),
    ("lead_at", false),
    ("mql_at", false),
    ("sql_at", false),
    ("customer_at", false),
    ("source", true),
    ("medium", true),
    ("campaign", true),
    ("custom", true),
    ("created_at", false),
    ("updated_at", false),
];

/// `INSERT … SELECT` of `rows` rows of `VALUES`: each row's binds (`CONTACT_INSERT_COLUMNS`)
/// in order, then the text pack.
fn contacts_insert_sql(rows: usize) -> String {
    let pack = format!("${}", rows * CONTACT_INSERT_COLUMNS.len() + 1);
    let columns = CONTACT_INSERT_COLUMNS.map(|(name, _)| name).join(", ");
    let mut sql = format!("INSERT INTO contacts ({columns}) SELECT ");
    for (i, (_, text)) in CONTACT_INSERT_COLUMNS.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        let column = format!("column{}", i + 1);
        if *text {
            unpack_sql(&mut sql, &pack, &column);
        } else {
            sql.push_str(&column);
        }
    }
    push_values_placeholders(&mut sql, rows, CONTACT_INSERT_COLUMNS.len());
    sql
}

/// Appends change-log rows, one per (contact, its `fields` object), in multi-row VALUES
/// statements, in slice order. `insert_changes` is this on SQLite; PostgreSQL binds arrays
/// (`bulk_postgres.rs`).
#[allow(dead_code)] // the PostgreSQL build uses its array version
async fn insert_changes_values(
    conn: &mut Conn,
    rows: &[(ContactId, &str)],
    origin: Origin,
    at: time::OffsetDateTime,
) -> Result<(), StoreError> {
    let at = to_micros(at);
    // Texts go in one blob (`text_pack.rs`); the origin and time are the same for every row.
    // Binds: each row's contact id and packed fields, then the pack, the origin, the time.
    let changes_sql = |rows: usize| {
        let n = rows * 2;
        let mut sql = format!(
            "INSERT INTO contact_changes (contact_id, origin, changed_at, fields) SELECT column1, ${}, ${}, ",
            n + 2,
            n + 3
        );
        unpack_sql(&mut sql, &format!("${}", n + 1), "column2");
        push_values_placeholders(&mut sql, rows, 2);
        sql
    };
    static FULL_CHUNK: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let statements = rows.chunks(CHANGE_INSERT_CHUNK).map(|chunk| {
        let sql = if chunk.len() == CHANGE_INSERT_CHUNK {
            FULL_CHUNK.get_or_init(|| changes_sql(CHANGE_INSERT_CHUNK)).clone()
        } else {
            changes_sql(chunk.len())
        };
        let mut pack = TextPack::with_capacity(chunk.iter().map(|(_, f)| f.len()).sum());
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, fields) in chunk {
            query = query.bind(id.0).bind(pack.put_str(fields));
        }
        query
            .bind(pack.into_bytes())
            .bind(origin.name())
            .bind(at)
    });
    Ok(execute_pipelined(conn, statements).await?)
}

/// The contacts with any of these emails (a packed list joined to the email index) or ids (`IN`
/// lists). `load_contacts` is this on SQLite; PostgreSQL binds arrays (`bulk_postgres.rs`).
#[allow(dead_code)] // the PostgreSQL build uses its array version
async fn load_contacts_in(
    conn: &mut Conn,
    emails: &[&str],
    ids: &[i64],
) -> Result<Vec<Contact>, StoreError> {
    let mut out = Vec::new();
    // The emails as a packed list (`text_pack.rs`): one text bound, not one per email.
    // `CROSS JOIN` keeps the list as the outer loop: one probe of the email index per email,
    // no temporary index of the list built and cleared for each statement (as `IN (…)` does).
    let emails_sql = |n: usize| {
        let mut sql = String::from("SELECT c.id, c.email, c.first_name, c.last_name, c.company, \
             c.job_title, c.phone, c.behaviour_score, c.state, c.lifecycle_stage, c.lead_at, \
             c.mql_at, c.sql_at, c.customer_at, c.source, c.medium, c.campaign, c.custom, \
             c.created_at, c.updated_at");
        push_values_placeholders(&mut sql, n, 1);
        sql.push_str(" AS list CROSS JOIN contacts AS c ON c.email = ");
        unpack_sql(&mut sql, &format!("${}", n + 1), "list.column1");
        sql
    };
    static FULL_CHUNK: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    for chunk in emails.chunks(CONTACT_INSERT_CHUNK) {
        let sql = if chunk.len() == CONTACT_INSERT_CHUNK {
            FULL_CHUNK.get_or_init(|| emails_sql(CONTACT_INSERT_CHUNK)).clone()
        } else {
            emails_sql(chunk.len())
        };
        let mut pack = TextPack::with_capacity(chunk.iter().map(|e| e.len()).sum());
        let mut query = sqlx::query_as::<_, ContactRow>(sqlx::AssertSqlSafe(sql));
        for email in chunk {
            query = query.bind(pack.put_str(email));
        }
        for row in query.bind(pack.into_bytes()).fetch_all(&mut *conn).await? {
            out.push(Contact::try_from(row)?);
        }
    }
    for chunk in ids.chunks(CONTACT_INSERT_CHUNK) {
        let mut qb = QueryBuilder::<Engine>::new(concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts WHERE id IN ("
        ));
        let mut list = qb.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        qb.push(")");
        for row in qb.build_query_as::<ContactRow>().fetch_all(&mut *conn).await? {
            out.push(Contact::try_from(row)?);
        }
    }
    Ok(out)
}

fn parse(input: &ContactInput, schema: &Schema) -> Result<Patch, StoreError> {
    validate::parse_input(input, schema, Blank::Clears).map_err(StoreError::Invalid)
}

/// One operation of the batch writer in a transaction of its own; its refusal is the error.
async fn write_one(
    pool: &Pool,
    target: Target,
    input: &ContactInput,
    origin: Origin,
) -> Result<Saved, StoreError> {
    let mut tx = begin_write(pool).await?;
    let schema = load_schema(&mut tx).await?;
    let patch = parse(input, &schema)?;
    let saved = write_ops(
        &mut tx,
        &schema,
        vec![WriteOp::new(target, patch)],
        origin,
        now(),
    )
    .await?
    .pop()
    .unwrap_or_else(|| Err(StoreError::Corrupt("a write lost its outcome".into())))?;
    tx.commit().await?;
    Ok(saved)
}

pub(crate) async fn create_contact(
    pool: &Pool,
    input: &ContactInput,
    origin: Origin,
) -> Result<Contact, StoreError> {
    Ok(write_one(pool, Target::Create, input, origin).await?.contact)
}

pub(crate) async fn update_contact(
    pool: &Pool,
    id: ContactId,
    input: &ContactInput,
    origin: Origin,
) -> Result<(Contact, bool), StoreError> {
    let saved = write_one(pool, Target::Update(id), input, origin).await?;
    Ok((saved.contact, saved.changed))
}

pub(crate) async fn upsert_contact(
    pool: &Pool,
    input: &ContactInput,
    origin: Origin,
) -> Result<(Contact, bool, bool), StoreError> {
    let saved = write_one(pool, Target::Upsert, input, origin).await?;
    Ok((saved.contact, saved.created, saved.changed))
}

pub(crate) async fn delete_contact(
    pool: &Pool,
    id: ContactId,
    origin: Origin,
) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    let deleted = sqlx::query("DELETE FROM contacts WHERE id = $1")
        .bind(id.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(StoreError::NotFound {
            what: format!("contact {id}"),
        });
    }
    let fields = fields_json(&[(DELETED_FIELD.to_owned(), None)]);
    insert_changes(&mut tx, &[(id, fields.as_str())], origin, now()).await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------- change log

pub(crate) async fn changes_since(
    pool: &Pool,
    cursor: ChangeCursor,
    limit: u32,
) -> Result<Vec<FieldChange>, StoreError> {
    // Each row holds at least one field: `limit` rows are enough, and a write is never split
    // between pages (its fields share one seq, the cursor after it).
    let rows = sqlx::query_as::<_, ChangeRow>(
        "SELECT id, contact_id, origin, changed_at, fields FROM contact_changes WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(cursor.0)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    let mut out = Vec::new();
    for row in rows {
        let changes = row.into_changes()?;
        if !out.is_empty() && out.len() + changes.len() > limit as usize {
            break;
        }
        out.extend(changes);
    }
    Ok(out)
}

pub(crate) async fn latest_change_cursor(pool: &Pool) -> Result<ChangeCursor, StoreError> {
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM contact_changes")
        .fetch_one(pool)
        .await?;
    Ok(ChangeCursor(max.unwrap_or(0)))
}

pub(crate) async fn contact_history(
    pool: &Pool,
    id: ContactId,
) -> Result<Vec<FieldChange>, StoreError> {
    let mut out = Vec::new();
    for row in sqlx::query_as::<_, ChangeRow>(
        "SELECT id, contact_id, origin, changed_at, fields FROM contact_changes WHERE contact_id = $1 ORDER BY id",
    )
    .bind(id.0)
    .fetch_all(pool)
    .await?
    {
        out.extend(row.into_changes()?);
    }
    Ok(out)
}

pub(crate) async fn last_changes(
    pool: &Pool,
    id: ContactId,
) -> Result<BTreeMap<String, LastChange>, StoreError> {
    // The history is short per contact; the latest row per field wins.
    let mut out = BTreeMap::new();
    for change in contact_history(pool, id).await? {
        out.insert(
            change.field,
            LastChange {
                changed_at: change.changed_at,
                origin: change.origin,
            },
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------- forms

pub(crate) async fn create_form(
    pool: &Pool,
    form: &NewForm,
    redirect_url: Option<&str>,
) -> Result<Form, StoreError> {
    let mut tx = begin_write(pool).await?;
    let row = sqlx::query_as::<_, FormRow>(
        "INSERT INTO forms (name, mapping, score_increment, redirect_url, created_at) \
         VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, name, mapping, score_increment, redirect_url, created_at",
    )
    .bind(&form.name)
    .bind(serde_json::to_string(&form.mapping).unwrap_or_else(|_| "{}".into()))
    .bind(
        form.score_increment
            .unwrap_or(crate::DEFAULT_SCORE_INCREMENT),
    )
    .bind(redirect_url)
    .bind(to_micros(now()))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Form::try_from(row)
}

pub(crate) async fn set_form_redirect_url(
    pool: &Pool,
    id: i64,
    redirect_url: Option<&str>,
) -> Result<Option<Form>, StoreError> {
    let mut tx = begin_write(pool).await?;
    let row = sqlx::query_as::<_, FormRow>(
        "UPDATE forms SET redirect_url = $1 WHERE id = $2 \
         RETURNING id, name, mapping, score_increment, redirect_url, created_at",
    )
    .bind(redirect_url)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    row.map(Form::try_from).transpose()
}

pub(crate) async fn forms(pool: &Pool) -> Result<Vec<Form>, StoreError> {
    sqlx::query_as::<_, FormRow>(
        "SELECT id, name, mapping, score_increment, redirect_url, created_at FROM forms \
         ORDER BY id",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(Form::try_from)
    .collect()
}

async fn load_form(conn: &mut Conn, id: i64) -> Result<Option<Form>, StoreError> {
    sqlx::query_as::<_, FormRow>(
        "SELECT id, name, mapping, score_increment, redirect_url, created_at FROM forms \
         WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .map(Form::try_from)
    .transpose()
}

pub(crate) async fn form(pool: &Pool, id: i64) -> Result<Option<Form>, StoreError> {
    let mut conn = pool.acquire().await?;
    load_form(&mut conn, id).await
}

pub(crate) async fn submissions(
    pool: &Pool,
    form_id: i64,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<Submission>, StoreError> {
    sqlx::query_as::<_, SubmissionRow>(
        "SELECT id, form_id, contact_id, created, payload, submitted_at FROM form_submissions \
         WHERE form_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(form_id)
    .bind(before.unwrap_or(i64::MAX))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(Submission::try_from)
    .collect()
}

// ---------------------------------------------------------------- API keys

pub(crate) async fn create_api_key(
    pool: &Pool,
    name: &str,
    prefix: &str,
    hash: &str,
) -> Result<ApiKey, StoreError> {
    let row = sqlx::query_as::<_, ApiKeyRow>(
        "INSERT INTO api_keys (name, prefix, token_sha256, created_at) VALUES ($1, $2, $3, $4) \
         RETURNING id, name, prefix, created_at, last_used_at, revoked_at",
    )
    .bind(name)
    .bind(prefix)
    .bind(hash)
    .bind(to_micros(now()))
    .fetch_one(pool)
    .await?;
    Ok(row.into())
}

pub(crate) async fn verify_api_key(pool: &Pool, hash: &str) -> Result<Option<ApiKey>, StoreError> {
    let Some(row) = sqlx::query_as::<_, ApiKeyRow>(
        "SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM api_keys \
         WHERE token_sha256 = $1 AND revoked_at IS NULL",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let key = ApiKey::from(row);
    // Record use at most once a minute: a write per API call would compete with real writes.
    let at = now();
    if key
        .last_used_at
        .is_none_or(|t| at - t > time::Duration::minutes(1))
    {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(to_micros(at))
            .bind(key.id)
            .execute(pool)
            .await?;
    }
    Ok(Some(key))
}

pub(crate) async fn api_keys(pool: &Pool) -> Result<Vec<ApiKey>, StoreError> {
    Ok(sqlx::query_as::<_, ApiKeyRow>(
        "SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM api_keys ORDER BY id",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(ApiKey::from)
    .collect())
}

pub(crate) async fn revoke_api_key(pool: &Pool, id: i64) -> Result<(), StoreError> {
    let n = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(to_micros(now()))
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound {
            what: format!("active API key {id}"),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------- secrets

pub(crate) async fn put_secret(
    pool: &Pool,
    name: &str,
    nonce: &[u8],
    ciphertext: &[u8],
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO secrets (name, nonce, ciphertext, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext, \
         updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(nonce.to_vec())
    .bind(ciphertext.to_vec())
    .bind(to_micros(now()))
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn secret(
    pool: &Pool,
    name: &str,
) -> Result<Option<(Vec<u8>, Vec<u8>)>, StoreError> {
    Ok(sqlx::query_as::<_, (Vec<u8>, Vec<u8>)>(
        "SELECT nonce, ciphertext FROM secrets WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?)
}

pub(crate) async fn delete_secret(pool: &Pool, name: &str) -> Result<bool, StoreError> {
    Ok(sqlx::query("DELETE FROM secrets WHERE name = $1")
        .bind(name)
        .execute(pool)
        .await?
        .rows_affected()
        > 0)
}

pub(crate) async fn secret_names(pool: &Pool) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT name FROM secrets ORDER BY name")
        .fetch_all(pool)
        .await?)
}

// ---------------------------------------------------------------- import

/// Applies one batch of checked import rows in one transaction through the batch writer: rows
/// whose email exists update that contact, the others create one; a later row with the same
/// email as an earlier one in the same file updates it.
pub(crate) async fn import_batch(
    pool: &Pool,
    schema: &Schema,
    rows: Vec<(u64, Patch)>,
) -> Result<BatchOutcome, StoreError> {
    let mut tx = begin_write(pool).await?;
    let ops = rows
        .into_iter()
        .map(|(_, patch)| WriteOp::new(Target::Upsert, patch))
        .collect();
    let results = write_ops(&mut tx, schema, ops, Origin::Import, now()).await?;
    let mut outcome = BatchOutcome::default();
    let mut seen = HashSet::new();
    for result in results {
        // Every import row has an email, so an upsert cannot be refused.
        let saved = result?;
        // Counted per row, so that created + updated + unchanged is the accepted row count
        // even when the file repeats an email.
        if saved.created {
            outcome.created += 1;
        } else if saved.changed {
            outcome.updated += 1;
        } else {
            outcome.unchanged += 1;
        }
        if saved.changed && seen.insert(saved.contact.id) {
            outcome.changed.push(saved.contact.id);
        }
    }
    tx.commit().await?;
    Ok(outcome)
}
