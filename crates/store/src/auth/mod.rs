//! Administrators of the web app: accounts, sign-in sessions and the one-time setup link.
//!
//! **Job.** Create an administrator (from `leadbridge admin create` or the setup link), check a
//! username and password, open a session and find it again from its cookie, close it.
//!
//! **Invariants.**
//! - Passwords are stored only as Argon2id PHC strings; checking one costs the same whether the
//!   username exists or not (a dummy hash is verified), so sign-in does not reveal usernames.
//! - Session and setup tokens are random 256-bit values handed out once; the database keeps only
//!   their SHA-256, so reading the database does not let anyone sign in.
//! - A setup token works once, only while no administrator exists, and only until it expires;
//!   redeeming it and creating the first administrator happen in one transaction.
//! - An expired session is never returned (and is deleted when met).

use secrecy::{ExposeSecret, SecretString};
use time::{Duration, OffsetDateTime};

use crate::time_fmt::{from_micros, now, to_micros};
use crate::{Db, Problem, Store, StoreError};

mod sqlite_q {
    type Engine = sqlx::Sqlite;
    include!("queries.rs");
}

mod postgres_q {
    type Engine = sqlx::Postgres;
    include!("queries.rs");
}

macro_rules! on_db {
    ($self:expr, $f:ident ( $($arg:expr),* $(,)? )) => {
        match &$self.db {
            Db::Sqlite(pool) => sqlite_q::$f(pool, $($arg),*).await,
            Db::Postgres(pool) => postgres_q::$f(pool, $($arg),*).await,
        }
    };
}

/// Fewest characters an administrator password may have.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// How long a sign-in lasts.
pub const SESSION_TTL: Duration = Duration::days(7);
/// How long the setup link printed at first start stays valid.
pub const SETUP_TOKEN_TTL: Duration = Duration::hours(24);

/// An administrator of the web app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminUser {
    pub id: i64,
    pub username: String,
    pub created_at: OffsetDateTime,
    pub last_sign_in_at: Option<OffsetDateTime>,
}

/// A signed-in session, found from its cookie.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub user: AdminUser,
    /// The anti-CSRF token every form of this session must send back.
    pub csrf_token: String,
    pub expires_at: OffsetDateTime,
}

/// A new session: the cookie value (shown once) and the session it opens.
#[derive(Debug)]
pub struct NewSession {
    pub token: SecretString,
    pub session: AdminSession,
}

impl Store {
    /// How many administrators exist (0 means the app still needs its first one).
    pub async fn admin_count(&self) -> Result<i64, StoreError> {
        on_db!(self, admin_count())
    }

    /// Creates an administrator. The username is trimmed and compared case-insensitively.
    pub async fn create_admin(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<AdminUser, StoreError> {
        let username = check_credentials(username, password)?;
        let hash = hash_password(password.clone()).await?;
        on_db!(self, create_admin(&username, &hash, to_micros(now())))
    }

    /// Replaces an administrator's password and closes all their sessions.
    pub async fn set_admin_password(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<(), StoreError> {
        let username = check_credentials(username, password)?;
        let hash = hash_password(password.clone()).await?;
        on_db!(self, set_admin_password(&username, &hash))
    }

    /// The administrator these credentials belong to, or `None` (same cost either way).
    pub async fn verify_admin(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<Option<AdminUser>, StoreError> {
        let username = normalise_username(username);
        let found = on_db!(self, admin_with_hash(&username))?;
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), hash),
            None => (None, DUMMY_HASH.to_owned()),
        };
        let matches = verify_password(password.clone(), hash).await?;
        Ok(user.filter(|_| matches))
    }

    /// Opens a session for `user_id` (valid for [`SESSION_TTL`]).
    pub async fn create_admin_session(&self, user_id: i64) -> Result<NewSession, StoreError> {
        let token = crate::secrets::new_api_token();
        let csrf_token = random_token();
        let hash = crate::secrets::token_sha256(token.expose_secret());
        let created = now();
        let expires = created + SESSION_TTL;
        let user = on_db!(
            self,
            create_session(
                user_id,
                &hash,
                &csrf_token,
                to_micros(created),
                to_micros(expires)
            )
        )?;
        Ok(NewSession {
            token,
            session: AdminSession {
                user,
                csrf_token,
                expires_at: expires,
            },
        })
    }

    /// The live session a cookie value opens, if any.
    pub async fn admin_session(&self, token: &str) -> Result<Option<AdminSession>, StoreError> {
        let hash = crate::secrets::token_sha256(token);
        on_db!(self, session(&hash, to_micros(now())))
    }

    /// Closes a session (signing out). Closing an unknown session is not an error.
    pub async fn delete_admin_session(&self, token: &str) -> Result<(), StoreError> {
        let hash = crate::secrets::token_sha256(token);
        on_db!(self, delete_session(&hash))
    }

    /// A one-time setup link token, or `None` when an administrator already exists.
    pub async fn create_setup_token(&self) -> Result<Option<SecretString>, StoreError> {
        if self.admin_count().await? > 0 {
            return Ok(None);
        }
        let token = crate::secrets::new_api_token();
        let hash = crate::secrets::token_sha256(token.expose_secret());
        let created = now();
        on_db!(
            self,
            create_setup_token(
                &hash,
                to_micros(created),
                to_micros(created + SETUP_TOKEN_TTL)
            )
        )?;
        Ok(Some(token))
    }

    /// Whether a setup token can still create the first administrator.
    pub async fn setup_token_usable(&self, token: &str) -> Result<bool, StoreError> {
        let hash = crate::secrets::token_sha256(token);
        on_db!(self, setup_token_usable(&hash, to_micros(now())))
    }

    /// Creates the first administrator with a setup token; the token is spent. Fails with
    /// `NotFound` when the token is unknown, used or expired, or an administrator exists.
    pub async fn redeem_setup_token(
        &self,
        token: &str,
        username: &str,
        password: &SecretString,
    ) -> Result<AdminUser, StoreError> {
        let username = check_credentials(username, password)?;
        if !self.setup_token_usable(token).await? {
            return Err(StoreError::NotFound {
                what: "setup link (used or expired)".into(),
            });
        }
        let hash = hash_password(password.clone()).await?;
        let token_hash = crate::secrets::token_sha256(token);
        on_db!(
            self,
            redeem_setup_token(&token_hash, &username, &hash, to_micros(now()))
        )
    }
}

/// A PHC string of a password nobody has, verified when the username is unknown so that the
/// answer takes as long as for a real user.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0W2s3zSXTSkKPLOnzeUkr7vO2T3ftGnFVAsK3Zw0ci0";

fn normalise_username(username: &str) -> String {
    username.trim().to_lowercase()
}

fn check_credentials(username: &str, password: &SecretString) -> Result<String, StoreError> {
    let mut problems = Vec::new();
    let name = normalise_username(username);
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        problems.push(Problem::new(
            "username",
            "needs 1 to 100 printable characters".into(),
        ));
    }
    let chars = password.expose_secret().chars().count();
    if !(MIN_PASSWORD_CHARS..=1000).contains(&chars) {
        problems.push(Problem::new(
            "password",
            format!("needs at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if problems.is_empty() {
        Ok(name)
    } else {
        Err(StoreError::Invalid(problems))
    }
}

fn random_token() -> String {
    use base64::Engine as _;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Argon2 is deliberately slow (tens of milliseconds): off the async workers.
async fn hash_password(password: SecretString) -> Result<String, StoreError> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::PasswordHasher;
        argon2::Argon2::default()
            .hash_password(password.expose_secret().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| StoreError::Corrupt(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| StoreError::Corrupt(format!("password hashing task failed: {e}")))?
}

async fn verify_password(password: SecretString, hash: String) -> Result<bool, StoreError> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordVerifier, phc::PasswordHash};
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| StoreError::Corrupt(format!("stored password hash: {e}")))?;
        Ok(argon2::Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| StoreError::Corrupt(format!("password check task failed: {e}")))?
}

fn user_from_row(row: (i64, String, i64, Option<i64>)) -> AdminUser {
    AdminUser {
        id: row.0,
        username: row.1,
        created_at: from_micros(row.2),
        last_sign_in_at: row.3.map(from_micros),
    }
}
