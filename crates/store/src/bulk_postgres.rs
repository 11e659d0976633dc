// PostgreSQL's bulk inserts, included in `postgres_queries` after `queries.rs` (SQLite uses the
// multi-row VALUES versions there). Each column is bound as one array and `UNNEST`ed: one
// statement text whatever the row count, so it is prepared once per connection and never
// re-parsed, and there is no bind-parameter limit to chunk around.

/// Inserts new contacts and fills in their ids.
async fn insert_rows(conn: &mut Conn, contacts: &mut [Contact]) -> Result<(), StoreError> {
    if contacts.is_empty() {
        return Ok(());
    }
    let n = contacts.len();
    let mut email = Vec::with_capacity(n);
    let mut first_name = Vec::with_capacity(n);
    let mut last_name = Vec::with_capacity(n);
    let mut company = Vec::with_capacity(n);
    let mut job_title = Vec::with_capacity(n);
    let mut phone = Vec::with_capacity(n);
    let mut score = Vec::with_capacity(n);
    let mut state = Vec::with_capacity(n);
    let mut stage = Vec::with_capacity(n);
    let mut lead_at = Vec::with_capacity(n);
    let mut mql_at = Vec::with_capacity(n);
    let mut sql_at = Vec::with_capacity(n);
    let mut customer_at = Vec::with_capacity(n);
    let mut source = Vec::with_capacity(n);
    let mut medium = Vec::with_capacity(n);
    let mut campaign = Vec::with_capacity(n);
    let mut custom = Vec::with_capacity(n);
    let mut created_at = Vec::with_capacity(n);
    let mut updated_at = Vec::with_capacity(n);
    for c in contacts.iter() {
        let stages = &c.stage_reached;
        email.push(c.email.as_str().to_owned());
        first_name.push(c.first_name.clone());
        last_name.push(c.last_name.clone());
        company.push(c.company.clone());
        job_title.push(c.job_title.clone());
        phone.push(c.phone.clone());
        score.push(c.behaviour_score);
        state.push(c.state.clone());
        stage.push(c.lifecycle_stage.name().to_owned());
        lead_at.push(stages.lead.map(to_micros));
        mql_at.push(stages.mql.map(to_micros));
        sql_at.push(stages.sql.map(to_micros));
        customer_at.push(stages.customer.map(to_micros));
        source.push(c.source.clone());
        medium.push(c.medium.clone());
        campaign.push(c.campaign.clone());
        custom.push(custom_json(c));
        created_at.push(to_micros(c.created_at));
        updated_at.push(to_micros(c.updated_at));
    }
    let ids: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO contacts (email, first_name, last_name, company, job_title, phone, behaviour_score, \
         state, lifecycle_stage, lead_at, mql_at, sql_at, customer_at, source, medium, campaign, custom, \
         created_at, updated_at) \
         SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], \
         $7::BIGINT[], $8::TEXT[], $9::TEXT[], $10::BIGINT[], $11::BIGINT[], $12::BIGINT[], $13::BIGINT[], \
         $14::TEXT[], $15::TEXT[], $16::TEXT[], $17::TEXT[], $18::BIGINT[], $19::BIGINT[]) \
         RETURNING id, email",
    )
    .bind(email)
    .bind(first_name)
    .bind(last_name)
    .bind(company)
    .bind(job_title)
    .bind(phone)
    .bind(score)
    .bind(state)
    .bind(stage)
    .bind(lead_at)
    .bind(mql_at)
    .bind(sql_at)
    .bind(customer_at)
    .bind(source)
    .bind(medium)
    .bind(campaign)
    .bind(custom)
    .bind(created_at)
    .bind(updated_at)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Corrupt("an email was inserted twice in one batch".into())
        } else {
            StoreError::from(e)
        }
    })?;
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

/// Appends change-log rows, one per (contact, changed fields); their ids follow the slice's
/// order (`ORDER BY` the position: a contact's history is read back in id order).
async fn insert_changes(
    conn: &mut Conn,
    rows: &[(ContactId, Vec<Change>)],
    origin: Origin,
    at: time::OffsetDateTime,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(rows.len());
    let mut fields = Vec::with_capacity(rows.len());
    for (id, changes) in rows {
        ids.push(id.0);
        fields.push(fields_json(changes));
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

/// The contacts with any of these emails or ids (two index scans, one round trip).
async fn load_contacts(
    conn: &mut Conn,
    emails: &[&str],
    ids: &[i64],
) -> Result<Vec<Contact>, StoreError> {
    if emails.is_empty() && ids.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as::<_, ContactRow>(concat!(
        "SELECT ",
        contact_columns!(),
        " FROM contacts WHERE email = ANY($1::TEXT[]) OR id = ANY($2::BIGINT[])"
    ))
    .bind(emails)
    .bind(ids)
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
    let n = contacts.len();
    let mut id = Vec::with_capacity(n);
    let mut email = Vec::with_capacity(n);
    let mut first_name = Vec::with_capacity(n);
    let mut last_name = Vec::with_capacity(n);
    let mut company = Vec::with_capacity(n);
    let mut job_title = Vec::with_capacity(n);
    let mut phone = Vec::with_capacity(n);
    let mut score = Vec::with_capacity(n);
    let mut state = Vec::with_capacity(n);
    let mut stage = Vec::with_capacity(n);
    let mut lead_at = Vec::with_capacity(n);
    let mut mql_at = Vec::with_capacity(n);
    let mut sql_at = Vec::with_capacity(n);
    let mut customer_at = Vec::with_capacity(n);
    let mut source = Vec::with_capacity(n);
    let mut medium = Vec::with_capacity(n);
    let mut campaign = Vec::with_capacity(n);
    let mut custom = Vec::with_capacity(n);
    let mut created_at = Vec::with_capacity(n);
    let mut updated_at = Vec::with_capacity(n);
    for c in contacts {
        let stages = &c.stage_reached;
        id.push(c.id.0);
        email.push(c.email.as_str());
        first_name.push(c.first_name.as_deref());
        last_name.push(c.last_name.as_deref());
        company.push(c.company.as_deref());
        job_title.push(c.job_title.as_deref());
        phone.push(c.phone.as_deref());
        score.push(c.behaviour_score);
        state.push(c.state.as_str());
        stage.push(c.lifecycle_stage.name());
        lead_at.push(stages.lead.map(to_micros));
        mql_at.push(stages.mql.map(to_micros));
        sql_at.push(stages.sql.map(to_micros));
        customer_at.push(stages.customer.map(to_micros));
        source.push(c.source.as_deref());
        medium.push(c.medium.as_deref());
        campaign.push(c.campaign.as_deref());
        custom.push(custom_json(c));
        created_at.push(to_micros(c.created_at));
        updated_at.push(to_micros(c.updated_at));
    }
    sqlx::query(
        "UPDATE contacts AS c SET email = u.email, first_name = u.first_name, last_name = u.last_name, \
         company = u.company, job_title = u.job_title, phone = u.phone, behaviour_score = u.behaviour_score, \
         state = u.state, lifecycle_stage = u.lifecycle_stage, lead_at = u.lead_at, mql_at = u.mql_at, \
         sql_at = u.sql_at, customer_at = u.customer_at, source = u.source, medium = u.medium, \
         campaign = u.campaign, custom = u.custom, created_at = u.created_at, updated_at = u.updated_at \
         FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], \
         $8::BIGINT[], $9::TEXT[], $10::TEXT[], $11::BIGINT[], $12::BIGINT[], $13::BIGINT[], $14::BIGINT[], \
         $15::TEXT[], $16::TEXT[], $17::TEXT[], $18::TEXT[], $19::BIGINT[], $20::BIGINT[]) \
         AS u(id, email, first_name, last_name, company, job_title, phone, behaviour_score, state, \
         lifecycle_stage, lead_at, mql_at, sql_at, customer_at, source, medium, campaign, custom, \
         created_at, updated_at) \
         WHERE c.id = u.id",
    )
    .bind(id)
    .bind(email)
    .bind(first_name)
    .bind(last_name)
    .bind(company)
    .bind(job_title)
    .bind(phone)
    .bind(score)
    .bind(state)
    .bind(stage)
    .bind(lead_at)
    .bind(mql_at)
    .bind(sql_at)
    .bind(customer_at)
    .bind(source)
    .bind(medium)
    .bind(campaign)
    .bind(custom)
    .bind(created_at)
    .bind(updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
