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

/// Appends change-log rows (contact, field, new value); their ids follow the slice's order
/// (`ORDER BY` the position: a contact's history is read back in id order).
async fn insert_changes(
    conn: &mut Conn,
    changes: &[(ContactId, Change)],
    origin: Origin,
    at: time::OffsetDateTime,
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(changes.len());
    let mut fields = Vec::with_capacity(changes.len());
    let mut values = Vec::with_capacity(changes.len());
    for (id, (field, value)) in changes {
        ids.push(id.0);
        fields.push(field.as_str());
        values.push(value.as_deref());
    }
    sqlx::query(
        "INSERT INTO field_changes (contact_id, field, value, origin, changed_at) \
         SELECT c, f, v, $4, $5 FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[]) WITH ORDINALITY AS t(c, f, v, n) \
         ORDER BY n",
    )
    .bind(ids)
    .bind(fields)
    .bind(values)
    .bind(origin.name())
    .bind(to_micros(at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
