// The administrator queries, compiled once per backend (see `mod.rs`): SQL both databases accept.

use super::{AdminSession, AdminUser, user_from_row};
use crate::StoreError;
use crate::time_fmt::from_micros;

type Pool = sqlx::Pool<Engine>;

macro_rules! user_columns {
    () => {
        "id, username, created_at, last_sign_in_at"
    };
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

pub(super) async fn admin_count(pool: &Pool) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM admin_users").fetch_one(pool).await?)
}

pub(super) async fn create_admin(
    pool: &Pool,
    username: &str,
    hash: &str,
    at: i64,
) -> Result<AdminUser, StoreError> {
    let sql = concat!(
        "INSERT INTO admin_users (username, password_hash, created_at) VALUES ($1, $2, $3) RETURNING ",
        user_columns!()
    );
    let row: (i64, String, i64, Option<i64>) = sqlx::query_as(sql)
        .bind(username)
        .bind(hash)
        .bind(at)
        .fetch_one(pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::AlreadyExists { what: format!("administrator '{username}'") }
            } else {
                e.into()
            }
        })?;
    Ok(user_from_row(row))
}

pub(super) async fn set_admin_password(
    pool: &Pool,
    username: &str,
    hash: &str,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let id: Option<i64> =
        sqlx::query_scalar("UPDATE admin_users SET password_hash = $1 WHERE username = $2 RETURNING id")
            .bind(hash)
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(id) = id else {
        return Err(StoreError::NotFound { what: format!("administrator '{username}'") });
    };
    sqlx::query("DELETE FROM admin_sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn admin_with_hash(
    pool: &Pool,
    username: &str,
) -> Result<Option<(AdminUser, String)>, StoreError> {
    let sql = concat!("SELECT ", user_columns!(), ", password_hash FROM admin_users WHERE username = $1");
    let row: Option<(i64, String, i64, Option<i64>, String)> =
        sqlx::query_as(sql).bind(username).fetch_optional(pool).await?;
    Ok(row.map(|(id, name, created, last, hash)| (user_from_row((id, name, created, last)), hash)))
}

pub(super) async fn create_session(
    pool: &Pool,
    user_id: i64,
    token_hash: &str,
    csrf: &str,
    created: i64,
    expires: i64,
) -> Result<AdminUser, StoreError> {
    let mut tx = pool.begin().await?;
    // Sessions that ran out are swept here rather than by a timer: sign-ins are rare.
    sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1")
        .bind(created)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO admin_sessions (token_sha256, user_id, csrf_token, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(csrf)
    .bind(created)
    .bind(expires)
    .execute(&mut *tx)
    .await?;
    let sql = concat!("UPDATE admin_users SET last_sign_in_at = $1 WHERE id = $2 RETURNING ", user_columns!());
    let row: Option<(i64, String, i64, Option<i64>)> =
        sqlx::query_as(sql).bind(created).bind(user_id).fetch_optional(&mut *tx).await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound { what: format!("administrator {user_id}") });
    };
    tx.commit().await?;
    Ok(user_from_row(row))
}

pub(super) async fn session(
    pool: &Pool,
    token_hash: &str,
    now: i64,
) -> Result<Option<AdminSession>, StoreError> {
    let row: Option<(i64, String, i64, Option<i64>, String, i64)> = sqlx::query_as(
        "SELECT u.id, u.username, u.created_at, u.last_sign_in_at, s.csrf_token, s.expires_at \
         FROM admin_sessions s JOIN admin_users u ON u.id = s.user_id WHERE s.token_sha256 = $1",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await?;
    let Some((id, name, created, last, csrf_token, expires)) = row else {
        return Ok(None);
    };
    if expires <= now {
        delete_session(pool, token_hash).await?;
        return Ok(None);
    }
    Ok(Some(AdminSession {
        user: user_from_row((id, name, created, last)),
        csrf_token,
        expires_at: from_micros(expires),
    }))
}

pub(super) async fn delete_session(pool: &Pool, token_hash: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM admin_sessions WHERE token_sha256 = $1")
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn create_setup_token(
    pool: &Pool,
    token_hash: &str,
    created: i64,
    expires: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO admin_setup_tokens (token_sha256, created_at, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(token_hash)
    .bind(created)
    .bind(expires)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn setup_token_usable(
    pool: &Pool,
    token_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let usable: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM admin_setup_tokens WHERE token_sha256 = $1 AND used_at IS NULL \
         AND expires_at > $2 AND NOT EXISTS (SELECT 1 FROM admin_users)",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_one(pool)
    .await?;
    Ok(usable > 0)
}

pub(super) async fn redeem_setup_token(
    pool: &Pool,
    token_hash: &str,
    username: &str,
    hash: &str,
    now: i64,
) -> Result<AdminUser, StoreError> {
    let mut tx = pool.begin().await?;
    // The UPDATE's conditions are the whole check: two concurrent redemptions cannot both match.
    let spent = sqlx::query(
        "UPDATE admin_setup_tokens SET used_at = $1 WHERE token_sha256 = $2 AND used_at IS NULL \
         AND expires_at > $1 AND NOT EXISTS (SELECT 1 FROM admin_users)",
    )
    .bind(now)
    .bind(token_hash)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if spent != 1 {
        return Err(StoreError::NotFound { what: "setup link (used or expired)".into() });
    }
    let sql = concat!(
        "INSERT INTO admin_users (username, password_hash, created_at) VALUES ($1, $2, $3) RETURNING ",
        user_columns!()
    );
    let row: (i64, String, i64, Option<i64>) =
        sqlx::query_as(sql).bind(username).bind(hash).bind(now).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(user_from_row(row))
}
