use secrecy::ExposeSecret;

use crate::both_backends;

both_backends!(api_key_verifies_until_revoked, |store| {
    let (key, token) = store.create_api_key("zapier").await.unwrap();
    assert!(token.expose_secret().starts_with("lbk_"));
    assert_eq!(key.prefix, &token.expose_secret()[..12]);
    let found = store
        .verify_api_key(token.expose_secret())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, key.id);
    assert!(store.verify_api_key("lbk_wrong").await.unwrap().is_none());
    let listed = store.api_keys().await.unwrap();
    assert!(listed[0].last_used_at.is_some());
    store.revoke_api_key(key.id).await.unwrap();
    assert!(
        store
            .verify_api_key(token.expose_secret())
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.create_api_key("  ").await.is_err());
});
