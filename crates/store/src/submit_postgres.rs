// PostgreSQL's insert of submission records, included in `postgres_queries` after
// `submit_batch.rs` (SQLite uses `insert_submissions_values`).

/// The submission records, one array per column: one statement text whatever the batch size,
/// so it is prepared once per connection; their ids.
async fn insert_submissions(
    conn: &mut Conn,
    jobs: &[SubmissionWrite],
    saved: &[Saved],
    at: time::OffsetDateTime,
) -> Result<Vec<i64>, StoreError> {
    let form_ids: Vec<i64> = jobs.iter().map(|j| j.form.form.id).collect();
    let contact_ids: Vec<i64> = saved.iter().map(|s| s.contact.id.0).collect();
    let created: Vec<i64> = saved.iter().map(|s| i64::from(s.created)).collect();
    let payloads: Vec<&str> = jobs.iter().map(|j| j.payload.as_str()).collect();
    Ok(sqlx::query_scalar(
        "INSERT INTO form_submissions (form_id, contact_id, created, payload, submitted_at) \
         SELECT f, c, n, p, $5 \
         FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[]) \
         WITH ORDINALITY AS t(f, c, n, p, i) ORDER BY i RETURNING id",
    )
    .bind(form_ids)
    .bind(contact_ids)
    .bind(created)
    .bind(payloads)
    .bind(to_micros(at))
    .fetch_all(&mut *conn)
    .await?)
}
