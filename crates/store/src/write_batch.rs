// The batch writer (see `write.rs`), included in both backend modules after `queries.rs`. The
// backend-specific statements it calls (`load_contacts`, `insert_rows`, `update_rows`,
// `insert_changes`) are the multi-row VALUES versions on SQLite (`lib.rs`) and array-bound
// UNNEST versions on PostgreSQL (`bulk_postgres.rs`).

/// What an operation came to before the batch's new contacts have ids.
#[allow(clippy::large_enum_variant)] // short-lived, one per operation of a batch
enum Outcome {
    Done {
        slot: usize,
        /// The contact as this operation left it; `None` while that is still the slot's state
        /// (filled in before a later operation of the batch changes the slot), so that a batch
        /// of distinct contacts copies none.
        contact: Option<Contact>,
        created: bool,
        changed: bool,
    },
    /// The email belongs to the contact in `slot` (maybe one created earlier in this batch).
    Taken {
        email: String,
        slot: usize,
    },
    Failed(StoreError),
}

/// Applies `ops` in order in the caller's write transaction: each sees what the earlier ones
/// did (an email freed by one may be taken by a later one; a contact created by one is updated
/// by a later upsert of its email). Each operation gets its own outcome: a refused one (email
/// taken, contact not found, no email to create with) changes nothing and the others proceed.
/// The outer error is the database's, and the caller's transaction must then be dropped.
///
/// Statements: one lookup of every email and id the batch names, the updates of existing
/// contacts, one multi-row insert of the new ones, one of the change-log rows (one row per
/// operation that changed something, at `at` with `origin`). `schema` gives new contacts their
/// default state.
async fn write_ops(
    conn: &mut Conn,
    schema: &Schema,
    ops: Vec<WriteOp>,
    origin: Origin,
    at: time::OffsetDateTime,
) -> Result<Vec<Result<Saved, StoreError>>, StoreError> {
    let mut emails: Vec<&str> = ops
        .iter()
        .filter_map(|op| op.patch.email().map(Email::as_str))
        .collect();
    emails.sort_unstable();
    emails.dedup();
    let mut ids: Vec<i64> = ops
        .iter()
        .filter_map(|op| match op.target {
            Target::Update(id) => Some(id.0),
            _ => None,
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let found = load_contacts(conn, &emails, &ids).await?;

    // Every contact the batch touches, by slot; `is_new` slots get their ids at the insert.
    let mut slots: Vec<Contact> = Vec::with_capacity(found.len() + ops.len());
    // The outcome that holds each slot's current state as `Done { contact: None }`, if any.
    let mut current_outcome: Vec<Option<usize>> = Vec::with_capacity(slots.capacity());
    let mut is_new: Vec<bool> = Vec::with_capacity(slots.capacity());
    let mut by_id: HashMap<i64, usize> = HashMap::with_capacity(found.len());
    let mut by_email: HashMap<String, usize> = HashMap::with_capacity(slots.capacity());
    for contact in found {
        if by_id.contains_key(&contact.id.0) {
            continue;
        }
        by_id.insert(contact.id.0, slots.len());
        by_email.insert(contact.email.as_str().to_owned(), slots.len());
        slots.push(contact);
        is_new.push(false);
        current_outcome.push(None);
    }
    // Slots from here on are the batch's new contacts, in order (see the insert below).
    let first_new = slots.len();

    let mut outcomes: Vec<Outcome> = Vec::with_capacity(ops.len());
    // (slot, its `fields` object in `log_text`) per changing operation, in order: the
    // change-log rows. Every object is written into one buffer (no allocation per row).
    let mut log: Vec<(usize, std::ops::Range<usize>)> = Vec::with_capacity(ops.len());
    let mut log_text = ChangeLogText::with_capacity(ops.len() * 192);
    // Existing contacts as each changing operation left them, in order.
    let mut updates: Vec<usize> = Vec::new();
    let mut update_states: Vec<Contact> = Vec::new();
    let mut email_moved = false;
    for op in ops {
        let WriteOp {
            target,
            mut patch,
            mode,
            score_increment,
        } = op;
        let email = patch.email().cloned();
        let slot = match (target, &email) {
            (Target::Create | Target::Upsert, None) => {
                outcomes.push(Outcome::Failed(StoreError::invalid("email", "is required")));
                continue;
            }
            (Target::Create, Some(email)) => {
                if let Some(&slot) = by_email.get(email.as_str()) {
                    outcomes.push(Outcome::Taken {
                        email: email.to_string(),
                        slot,
                    });
                    continue;
                }
                None
            }
            (Target::Upsert, Some(email)) => by_email.get(email.as_str()).copied(),
            (Target::Update(id), _) => match by_id.get(&id.0) {
                Some(&slot) => Some(slot),
                None => {
                    outcomes.push(Outcome::Failed(StoreError::NotFound {
                        what: format!("contact {id}"),
                    }));
                    continue;
                }
            },
        };
        if let Some(increment) = score_increment {
            let base = slot.map_or(0, |s| slots[s].behaviour_score);
            patch.behaviour_score = Some((base + increment).min(BEHAVIOUR_SCORE_MAX));
        }
        let Some(slot) = slot else {
            // Checked above: a creation has an email.
            let Some(email) = email else { continue };
            let mut contact = validate::blank_contact(email, schema, at);
            let mut fields = FieldsJson::start(&mut log_text);
            validate::apply(&mut contact, patch, true, mode, at, &mut fields);
            let slot = slots.len();
            by_email.insert(contact.email.as_str().to_owned(), slot);
            slots.push(contact);
            is_new.push(true);
            current_outcome.push(Some(outcomes.len()));
            // A new contact always has fields to record (its email, at least).
            if let Some(range) = fields.finish() {
                log.push((slot, range));
            }
            outcomes.push(Outcome::Done {
                slot,
                contact: None,
                created: true,
                changed: true,
            });
            continue;
        };
        if let Some(email) = &email
            && *email != slots[slot].email
            && let Some(&other) = by_email.get(email.as_str())
        {
            outcomes.push(Outcome::Taken {
                email: email.to_string(),
                slot: other,
            });
            continue;
        }
        // The slot's state is about to change: an earlier outcome that shares it keeps a copy.
        if let Some(earlier) = current_outcome[slot].take()
            && let Outcome::Done { contact, .. } = &mut outcomes[earlier]
        {
            *contact = Some(slots[slot].clone());
        }
        let old_email = slots[slot].email.clone();
        let contact = &mut slots[slot];
        let mut fields = FieldsJson::start(&mut log_text);
        validate::apply(contact, patch, false, mode, at, &mut fields);
        current_outcome[slot] = Some(outcomes.len());
        let Some(changes) = fields.finish() else {
            outcomes.push(Outcome::Done {
                slot,
                contact: None,
                created: false,
                changed: false,
            });
            continue;
        };
        contact.updated_at = at;
        if contact.email != old_email {
            by_email.remove(old_email.as_str());
            by_email.insert(contact.email.as_str().to_owned(), slot);
            email_moved |= !is_new[slot];
        }
        if !is_new[slot] {
            updates.push(slot);
            update_states.push(contact.clone());
        }
        log.push((slot, changes));
        outcomes.push(Outcome::Done {
            slot,
            contact: None,
            created: false,
            changed: true,
        });
    }

    // Existing contacts first, then the new ones: a new contact may take an email an update
    // freed, never the reverse (an email of a new contact is taken for the rest of the batch).
    if email_moved {
        // Emails moved between contacts: replay each state in order so that no intermediate
        // state holds an email twice.
        for contact in &update_states {
            update_rows(conn, std::slice::from_ref(contact)).await?;
        }
    } else if !updates.is_empty() {
        // Only each contact's final state, in one statement.
        let mut last: Vec<usize> = updates;
        last.sort_unstable();
        last.dedup();
        let finals: Vec<Contact> = last.iter().map(|&s| slots[s].clone()).collect();
        update_rows(conn, &finals).await?;
    }
    // The new contacts are the last slots, in the order their operations came.
    debug_assert!(is_new[first_new..].iter().all(|&n| n) && !is_new[..first_new].contains(&true));
    insert_rows(conn, &mut slots[first_new..]).await?;
    let rows: Vec<(ContactId, &str)> = log
        .into_iter()
        .map(|(s, fields)| (slots[s].id, &log_text.text[fields]))
        .collect();
    insert_changes(conn, &rows, origin, at).await?;

    let ids: Vec<ContactId> = slots.iter().map(|c| c.id).collect();
    let mut finals: Vec<Option<Contact>> = slots.into_iter().map(Some).collect();
    Ok(outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Outcome::Done {
                slot,
                contact,
                created,
                changed,
            } => {
                // `None`: the slot's final state, which no other outcome holds.
                let mut contact = match contact {
                    Some(contact) => contact,
                    None => finals[slot].take().ok_or_else(|| {
                        StoreError::Corrupt("two writes of a batch shared a state".into())
                    })?,
                };
                contact.id = ids[slot];
                Ok(Saved {
                    contact,
                    created,
                    changed,
                })
            }
            Outcome::Taken { email, slot } => Err(StoreError::EmailTaken {
                email,
                existing: ids[slot],
            }),
            Outcome::Failed(err) => Err(err),
        })
        .collect())
}

/// [`write_ops`] of raw inputs in a transaction of its own: each input is checked against the schema read in the
/// transaction (a bad one is that row's `Invalid`, the others proceed).
pub(crate) async fn write_contacts(
    pool: &Pool,
    writes: &[ContactWrite],
    origin: Origin,
) -> Result<Vec<Result<Saved, StoreError>>, StoreError> {
    let mut tx = begin_write(pool).await?;
    let schema = load_schema(&mut tx).await?;
    let mut invalid: Vec<Option<StoreError>> = Vec::with_capacity(writes.len());
    let mut ops = Vec::with_capacity(writes.len());
    for write in writes {
        let (target, input) = match write {
            ContactWrite::Create(input) => (Target::Create, input),
            ContactWrite::Update(id, input) => (Target::Update(*id), input),
        };
        match parse(input, &schema) {
            Ok(patch) => {
                ops.push(WriteOp::new(target, patch));
                invalid.push(None);
            }
            Err(err) => invalid.push(Some(err)),
        }
    }
    let mut written = write_ops(&mut tx, &schema, ops, origin, now())
        .await?
        .into_iter();
    tx.commit().await?;
    Ok(invalid
        .into_iter()
        .map(|bad| match bad {
            Some(err) => Err(err),
            None => written
                .next()
                .unwrap_or_else(|| Err(StoreError::Corrupt("a write lost its outcome".into()))),
        })
        .collect())
}
