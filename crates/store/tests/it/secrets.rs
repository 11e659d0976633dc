use lb_store::{MasterKey, SecretError, StoreError};
use secrecy::{ExposeSecret, SecretString};

use crate::both_backends;

both_backends!(
    secrets_round_trip_and_a_wrong_key_is_a_clear_error,
    |store| {
        let key = MasterKey::generate();
        let password = SecretString::from("hunter2-and-token".to_owned());
        store
            .put_secret(&key, "salesforce.password", &password)
            .await
            .unwrap();
        let back = store
            .secret(&key, "salesforce.password")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back.expose_secret(), "hunter2-and-token");
        assert!(store.secret(&key, "missing").await.unwrap().is_none());
        assert_eq!(store.secret_names().await.unwrap(), ["salesforce.password"]);
        store.check_master_key(&key).await.unwrap();

        let lost = MasterKey::generate();
        let err = store
            .secret(&lost, "salesforce.password")
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Secret(SecretError::WrongKey { ref name }) if name == "salesforce.password")
        );
        assert!(err.to_string().contains("master key"), "{err}");
        assert!(store.check_master_key(&lost).await.is_err());
    }
);

#[tokio::test]
async fn secrets_are_not_stored_in_clear() {
    let t = crate::support::sqlite().await;
    let key = MasterKey::generate();
    t.store
        .put_secret(
            &key,
            "token",
            &SecretString::from("PLAINTEXT-MARKER".to_owned()),
        )
        .await
        .unwrap();
    t.store.close().await;
    let dir = t.dir.as_ref().unwrap().path().join("data");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(16).any(|w| w == b"PLAINTEXT-MARKER"));
    }
}

#[test]
fn key_file_is_created_once_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::load_or_create(&dir.path().join("master.key")).unwrap();
    let again = MasterKey::load_or_create(&dir.path().join("master.key")).unwrap();
    assert_eq!(
        key.to_base64().expose_secret(),
        again.to_base64().expose_secret()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(format!("{key:?}"), "MasterKey(***)");
}
