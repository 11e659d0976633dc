//! Administrators of the web app, their sessions and the one-time setup link (issue 7).

use lb_store::StoreError;
use secrecy::{ExposeSecret, SecretString};

use crate::both_backends;

fn pw(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

both_backends!(admin_signs_in_with_the_right_password_only, |store| {
    let admin = store
        .create_admin(" Marie@Example.com ", &pw("correct horse battery"))
        .await
        .unwrap();
    assert_eq!(admin.username, "marie@example.com");
    let ok = store
        .verify_admin("MARIE@example.com", &pw("correct horse battery"))
        .await
        .unwrap();
    assert_eq!(ok.map(|u| u.id), Some(admin.id));
    assert_eq!(
        store
            .verify_admin("marie@example.com", &pw("wrong password!"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .verify_admin("nobody", &pw("correct horse battery"))
            .await
            .unwrap(),
        None
    );
    let again = store
        .create_admin("marie@example.com", &pw("another password"))
        .await;
    assert!(
        matches!(again, Err(StoreError::AlreadyExists { .. })),
        "{again:?}"
    );
});

both_backends!(short_password_is_refused_with_the_rule, |store| {
    let err = store.create_admin("a", &pw("short")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid input: password: needs at least 10 characters"
    );
    assert_eq!(store.admin_count().await.unwrap(), 0);
});

both_backends!(session_is_found_by_its_token_until_signed_out, |store| {
    let admin = store
        .create_admin("admin", &pw("0123456789ab"))
        .await
        .unwrap();
    let new = store.create_admin_session(admin.id).await.unwrap();
    let found = store
        .admin_session(new.token.expose_secret())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user.id, admin.id);
    assert!(found.user.last_sign_in_at.is_some());
    assert_eq!(found.csrf_token, new.session.csrf_token);
    assert_ne!(
        found.csrf_token,
        new.token.expose_secret(),
        "the form token is not the cookie"
    );
    assert!(store.admin_session("not-a-token").await.unwrap().is_none());
    store
        .delete_admin_session(new.token.expose_secret())
        .await
        .unwrap();
    assert!(
        store
            .admin_session(new.token.expose_secret())
            .await
            .unwrap()
            .is_none()
    );
});

both_backends!(password_change_closes_every_session, |store| {
    let admin = store
        .create_admin("admin", &pw("0123456789ab"))
        .await
        .unwrap();
    let a = store.create_admin_session(admin.id).await.unwrap();
    let b = store.create_admin_session(admin.id).await.unwrap();
    store
        .set_admin_password("ADMIN", &pw("a brand new password"))
        .await
        .unwrap();
    assert!(
        store
            .admin_session(a.token.expose_secret())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .admin_session(b.token.expose_secret())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .verify_admin("admin", &pw("a brand new password"))
            .await
            .unwrap()
            .is_some()
    );
    let unknown = store
        .set_admin_password("ghost", &pw("a brand new password"))
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound { .. })),
        "{unknown:?}"
    );
});

both_backends!(setup_link_creates_the_first_admin_once, |store| {
    let token = store.create_setup_token().await.unwrap().unwrap();
    assert!(
        store
            .setup_token_usable(token.expose_secret())
            .await
            .unwrap()
    );
    assert!(!store.setup_token_usable("forged").await.unwrap());
    let bad = store
        .redeem_setup_token(token.expose_secret(), "first", &pw("short"))
        .await;
    assert!(
        matches!(bad, Err(StoreError::Invalid(_))),
        "a refused password does not spend the link"
    );
    store
        .redeem_setup_token(token.expose_secret(), "first", &pw("0123456789ab"))
        .await
        .unwrap();
    let twice = store
        .redeem_setup_token(token.expose_secret(), "second", &pw("0123456789ab"))
        .await;
    assert!(
        matches!(twice, Err(StoreError::NotFound { .. })),
        "{twice:?}"
    );
    assert_eq!(store.admin_count().await.unwrap(), 1);
    assert!(
        store.create_setup_token().await.unwrap().is_none(),
        "no link once an administrator exists"
    );
});
