// PostgreSQL's bulk inserts, included in `postgres_queries` after `queries.rs` (SQLite uses the
// multi-row VALUES versions there). Small batches (a form submission, an API write): each
// column is bound as one array and `UNNEST`ed: one statement text whatever the row count, so it
// is prepared once per connection and never re-parsed, one round trip. Big batches (an import,
// a sync's batch; from `COPY_MIN_ROWS` rows): binary `COPY … FROM STDIN`, PostgreSQL's bulk
// path (rows buffered into pages, far less per-row work and WAL), with the contacts' ids taken
// from their sequence first so that nothing needs to come back.

/// A batch of contacts as one array per column, in `CONTACT_ARRAYS` order (the `UNNEST`
/// of both the insert and the update).
struct ColumnArrays<'a> {
    email: Vec<&'a str>,
    first_name: Vec<Option<&'a str>>,
    last_name: Vec<Option<&'a str>>,
    company: Vec<Option<&'a str>>,
    job_title: Vec<Option<&'a str>>,
    phone: Vec<Option<&'a str>>,
    score: Vec<i64>,
    state: Vec<&'a str>,
    stage: Vec<&'static str>,
    lead_at: Vec<Option<i64>>,
    mql_at: Vec<Option<i64>>,
    sql_at: Vec<Option<i64>>,
    customer_at: Vec<Option<i64>>,
    source: Vec<Option<&'a str>>,
    medium: Vec<Option<&'a str>>,
    campaign: Vec<Option<&'a str>>,
    custom: Vec<String>,
    created_at: Vec<i64>,
    updated_at: Vec<i64>,
}

/// The column arrays' SQL types, `$first` onwards, for an `UNNEST(...)`.
fn contact_arrays(first: usize) -> String {
    const TYPES: [&str; 19] = [
        "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "BIGINT", "TEXT", "TEXT", "BIGINT",
        "BIGINT", "BIGINT", "BIGINT", "TEXT", "TEXT", "TEXT", "TEXT", "BIGINT", "BIGINT",
    ];
    TYPES
        .iter()
        .enumerate()
        .map(|(i, t)| format!("${}::{t}[]", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

impl<'a> ColumnArrays<'a> {
    fn of(contacts: &'a [Contact]) -> ColumnArrays<'a> {
        let n = contacts.len();
        let mut a = ColumnArrays {
            email: Vec::with_capacity(n),
            first_name: Vec::with_capacity(n),
            last_name: Vec::with_capacity(n),
            company: Vec::with_capacity(n),
            job_title: Vec::with_capacity(n),
            phone: Vec::with_capacity(n),
            score: Vec::with_capacity(n),
            state: Vec::with_capacity(n),
            stage: Vec::with_capacity(n),
            lead_at: Vec::with_capacity(n),
            mql_at: Vec::with_capacity(n),
            sql_at: Vec::with_capacity(n),
            customer_at: Vec::with_capacity(n),
            source: Vec::with_capacity(n),
            medium: Vec::with_capacity(n),
            campaign: Vec::with_capacity(n),
            custom: Vec::with_capacity(n),
            created_at: Vec::with_capacity(n),
            updated_at: Vec::with_capacity(n),
        };
        for c in contacts {
            let stages = &c.stage_reached;
            a.email.push(c.email.as_str());
            a.first_name.push(c.first_name.as_deref());
            a.last_name.push(c.last_name.as_deref());
            a.company.push(c.company.as_deref());
            a.job_title.push(c.job_title.as_deref());
            a.phone.push(c.phone.as_deref());
            a.score.push(c.behaviour_score);
            a.state.push(c.state.as_str());
            a.stage.push(c.lifecycle_stage.name());
            a.lead_at.push(stages.lead.map(to_micros));
            a.mql_at.push(stages.mql.map(to_micros));
            a.sql_at.push(stages.sql.map(to_micros));
            a.customer_at.push(stages.customer.map(to_micros));
            a.source.push(c.source.as_deref());
            a.medium.push(c.medium.as_deref());
            a.campaign.push(c.campaign.as_deref());
            a.custom.push(custom_json(c));
            a.created_at.push(to_micros(c.created_at));
            a.updated_at.push(to_micros(c.updated_at));
        }
        a
    }

    /// Binds the arrays, in column order, after what `q` already has bound.
    fn bind<'q>(
        self,
        q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>
    where
        'a: 'q,
    {
        q.bind(self.email)
            .bind(self.first_name)
            .bind(self.last_name)
            .bind(self.company)
            .bind(self.job_title)
            .bind(self.phone)
            .bind(self.score)
            .bind(self.state)
            .bind(self.stage)
            .bind(self.lead_at)
            .bind(self.mql_at)
            .bind(self.sql_at)
            .bind(self.customer_at)
            .bind(self.source)
            .bind(self.medium)
            .bind(self.campaign)
            .bind(self.custom)
            .bind(self.created_at)
            .bind(self.updated_at)
    }
}

/// The contact columns the arrays fill, in their order.
const CONTACT_COLUMNS: &str = "email, first_name, last_name, company, job_title, phone, \
     behaviour_score, state, lifecycle_stage, lead_at, mql_at, sql_at, customer_at, source, medium, \
     campaign, custom, created_at, updated_at";

/// Batches from this many rows are written with `COPY`; below, with the `UNNEST` statements
/// (a `COPY` costs two more round trips, a loss for a handful of rows).
const COPY_MIN_ROWS: usize = 1000;

/// Inserts new contacts and fills in their ids (increasing in slice order).
async fn insert_rows(conn: &mut Conn, contacts: &mut [Contact]) -> Result<(), StoreError> {
    if contacts.is_empty() {
        return Ok(());
    }
    if contacts.len() >= COPY_MIN_ROWS {
        return copy_contacts(conn, contacts).await;
    }
    // Built once from constants (no data in it): prepared once per connection.
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "INSERT INTO contacts ({CONTACT_COLUMNS}) SELECT * FROM UNNEST({}) RETURNING id, email",
            contact_arrays(1)
        )
    });
    let rows = ColumnArrays::of(contacts)
        .bind(sqlx::query(sqlx::AssertSqlSafe(SQL.as_str())))
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Corrupt("an email was inserted twice in one batch".into())
            } else {
                StoreError::from(e)
            }
        })?;
    let ids: Vec<(i64, String)> = rows
        .iter()
        .map(|r| Ok((sqlx::Row::try_get(r, 0)?, sqlx::Row::try_get(r, 1)?)))
        .collect::<Result<_, sqlx::Error>>()?;
    if let [(id, _)] = ids.as_slice() {
        contacts[0].id = ContactId(*id);
        return Ok(());
    }
    // RETURNING order is not promised by SQL: match the ids back by email.
    let by_email: HashMap<String, i64> = ids.into_iter().map(|(id, e)| (e, id)).collect();
    for c in contacts.iter_mut() {
        c.id = ContactId(
            *by_email
                .get(c.email.as_str())
                .ok_or_else(|| StoreError::Corrupt(format!("no id returned for {}", c.email)))?,
        );
    }
    Ok(())
}

/// Appends change-log rows, one per (contact, its `fields` object); their ids follow the slice's
/// order (`ORDER BY` the position: a contact's history is read back in id order).
async fn insert_changes(
    conn: &mut Conn,
    rows: &[(ContactId, &str)],
    origin: Origin,
    at: time::OffsetDateTime,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    if rows.len() >= COPY_MIN_ROWS {
        return copy_changes(conn, rows, origin, at).await;
    }
    let mut ids = Vec::with_capacity(rows.len());
    let mut fields = Vec::with_capacity(rows.len());
    for (id, changes) in rows {
        ids.push(id.0);
        fields.push(*changes);
    }
    sqlx::query(
        "INSERT INTO contact_changes (contact_id, origin, changed_at, fields) \
         SELECT c, $3, $4, f FROM UNNEST($1::BIGINT[], $2::TEXT[]) WITH ORDINALITY AS t(c, f, n) \
         ORDER BY n",
    )
    .bind(ids)
    .bind(fields)
    .bind(origin.name())
    .bind(to_micros(at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The contacts with any of these emails or ids (one round trip). With only emails (an import)
/// or only ids, one index scan: the `OR` of both is a bitmap scan that costs twice as much.
async fn load_contacts(
    conn: &mut Conn,
    emails: &[&str],
    ids: &[i64],
) -> Result<Vec<Contact>, StoreError> {
    let query = match (emails.is_empty(), ids.is_empty()) {
        (true, true) => return Ok(Vec::new()),
        (false, true) => sqlx::query_as::<_, ContactRow>(concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts WHERE email = ANY($1::TEXT[])"
        ))
        .bind(emails),
        (true, false) => sqlx::query_as::<_, ContactRow>(concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts WHERE id = ANY($1::BIGINT[])"
        ))
        .bind(ids),
        (false, false) => sqlx::query_as::<_, ContactRow>(concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts WHERE email = ANY($1::TEXT[]) OR id = ANY($2::BIGINT[])"
        ))
        .bind(emails)
        .bind(ids),
    };
    query
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(Contact::try_from)
        .collect()
}

/// Writes contacts' current state over their rows, in one statement. No two of them may swap
/// emails (the batch writer replays such batches one contact at a time).
async fn update_rows(conn: &mut Conn, contacts: &[Contact]) -> Result<(), StoreError> {
    if contacts.is_empty() {
        return Ok(());
    }
    // Built once from constants (no data in it): prepared once per connection.
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let sets = CONTACT_COLUMNS
            .split(',')
            .map(|c| format!("{0} = u.{0}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "UPDATE contacts AS c SET {sets} FROM UNNEST($1::BIGINT[], {}) \
             AS u(id, {CONTACT_COLUMNS}) WHERE c.id = u.id",
            contact_arrays(2)
        )
    });
    let ids: Vec<i64> = contacts.iter().map(|c| c.id.0).collect();
    ColumnArrays::of(contacts)
        .bind(sqlx::query(sqlx::AssertSqlSafe(SQL.as_str())).bind(ids))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The contact columns of a `COPY`: the id first, then `CONTACT_COLUMNS`.
const COPY_CONTACTS: &str = "COPY contacts (id, email, first_name, last_name, company, job_title, \
     phone, behaviour_score, state, lifecycle_stage, lead_at, mql_at, sql_at, customer_at, source, \
     medium, campaign, custom, created_at, updated_at) FROM STDIN (FORMAT binary)";

/// [`insert_rows`] of a big batch: ids from the table's sequence (one round trip, in slice
/// order), then the rows in one binary `COPY`.
async fn copy_contacts(conn: &mut Conn, contacts: &mut [Contact]) -> Result<(), StoreError> {
    let mut ids: Vec<i64> = sqlx::query_scalar(
        "SELECT ARRAY(SELECT nextval(pg_get_serial_sequence('contacts', 'id')) \
         FROM generate_series(1, $1))",
    )
    .bind(contacts.len() as i64)
    .fetch_one(&mut *conn)
    .await?;
    if ids.len() != contacts.len() {
        return Err(StoreError::Corrupt(
            "the contact id sequence gave the wrong number of ids".into(),
        ));
    }
    // Taken in increasing order while this writer holds the lock; sorted all the same so that
    // ids follow the slice whatever order the array was built in.
    ids.sort_unstable();
    let mut copy = BinaryCopy::start(conn, COPY_CONTACTS).await?;
    for (c, id) in contacts.iter_mut().zip(ids) {
        c.id = ContactId(id);
        let stages = &c.stage_reached;
        copy.row(20);
        copy.int8(Some(id));
        copy.text(Some(c.email.as_str()));
        copy.text(c.first_name.as_deref());
        copy.text(c.last_name.as_deref());
        copy.text(c.company.as_deref());
        copy.text(c.job_title.as_deref());
        copy.text(c.phone.as_deref());
        copy.int8(Some(c.behaviour_score));
        copy.text(Some(c.state.as_str()));
        copy.text(Some(c.lifecycle_stage.name()));
        copy.int8(stages.lead.map(to_micros));
        copy.int8(stages.mql.map(to_micros));
        copy.int8(stages.sql.map(to_micros));
        copy.int8(stages.customer.map(to_micros));
        copy.text(c.source.as_deref());
        copy.text(c.medium.as_deref());
        copy.text(c.campaign.as_deref());
        copy.json(&c.custom);
        copy.int8(Some(to_micros(c.created_at)));
        copy.int8(Some(to_micros(c.updated_at)));
        copy.row_done().await?;
    }
    copy.finish().await.map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Corrupt("an email was inserted twice in one batch".into())
        } else {
            StoreError::from(e)
        }
    })?;
    Ok(())
}

/// [`insert_changes`] of a big batch in one binary `COPY`. Ids come from the column's default,
/// evaluated row after row in the order sent: the slice's order.
async fn copy_changes(
    conn: &mut Conn,
    rows: &[(ContactId, &str)],
    origin: Origin,
    at: time::OffsetDateTime,
) -> Result<(), StoreError> {
    let at = to_micros(at);
    let mut copy = BinaryCopy::start(
        conn,
        "COPY contact_changes (contact_id, origin, changed_at, fields) FROM STDIN (FORMAT binary)",
    )
    .await?;
    for (id, fields) in rows {
        copy.row(4);
        copy.int8(Some(id.0));
        copy.text(Some(origin.name()));
        copy.int8(Some(at));
        copy.text(Some(fields));
        copy.row_done().await?;
    }
    copy.finish().await?;
    Ok(())
}

/// A binary `COPY … FROM STDIN (FORMAT binary)` being sent: a signature, then per row its
/// field count and each field as a length (-1 for NULL) and its binary value (`text`: the UTF-8
/// bytes; `bigint`: 8 bytes big-endian). No escaping, so no value can be misread. Rows go out
/// every [`COPY_CHUNK_BYTES`], so the server stores the first rows while the next are encoded.
struct BinaryCopy<'c> {
    copy: sqlx::postgres::PgCopyIn<&'c mut sqlx::PgConnection>,
    buf: Vec<u8>,
}

/// Bytes of rows sent to the server at a time.
const COPY_CHUNK_BYTES: usize = 64 * 1024;

impl<'c> BinaryCopy<'c> {
    /// Runs `statement` (a `COPY … FROM STDIN (FORMAT binary)`), ready for rows.
    async fn start(conn: &'c mut Conn, statement: &str) -> Result<BinaryCopy<'c>, sqlx::Error> {
        let copy = conn.copy_in_raw(statement).await?;
        let mut buf = Vec::with_capacity(COPY_CHUNK_BYTES + 4096);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        buf.extend_from_slice(&0i32.to_be_bytes()); // no header extension
        Ok(BinaryCopy { copy, buf })
    }

    fn row(&mut self, fields: i16) {
        self.buf.extend_from_slice(&fields.to_be_bytes());
    }

    /// Sends the rows so far once they fill a chunk.
    async fn row_done(&mut self) -> Result<(), sqlx::Error> {
        if self.buf.len() >= COPY_CHUNK_BYTES {
            self.copy.send(self.buf.as_slice()).await?;
            self.buf.clear();
        }
        Ok(())
    }

    fn text(&mut self, value: Option<&str>) {
        match value {
            Some(v) => {
                self.buf
                    .extend_from_slice(&field_len(v.len()).to_be_bytes());
                self.buf.extend_from_slice(v.as_bytes());
            }
            None => self.buf.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }

    fn int8(&mut self, value: Option<i64>) {
        match value {
            Some(v) => {
                self.buf.extend_from_slice(&8i32.to_be_bytes());
                self.buf.extend_from_slice(&v.to_be_bytes());
            }
            None => self.buf.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }

    /// A text field holding `value` as JSON, written in place.
    fn json(&mut self, value: &impl serde::Serialize) {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0i32.to_be_bytes());
        if serde_json::to_writer(&mut self.buf, value).is_err() {
            // A map of strings always serialises; keep the column's default all the same.
            self.buf.truncate(at + 4);
            self.buf.extend_from_slice(b"{}");
        }
        let len = field_len(self.buf.len() - at - 4);
        self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// Sends the last rows and the trailer; the server's answer (rows copied, or its error).
    async fn finish(mut self) -> Result<u64, sqlx::Error> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.copy.send(self.buf.as_slice()).await?;
        self.copy.finish().await
    }
}

/// A field's length as the format's 32-bit count. Values are at most a few thousand bytes
/// (validated lengths), far below `i32::MAX`.
fn field_len(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}
