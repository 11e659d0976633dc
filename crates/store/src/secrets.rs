//! The secret store's cryptography: XChaCha20-Poly1305 under a 256-bit master key.
//!
//! The master key comes from `LEADBRIDGE_MASTER_KEY` (base64 of 32 bytes) or from the key file
//! `master.key` of the data directory, created on first start with mode 0600. Each secret is
//! sealed with a fresh random 192-bit nonce, and the secret's name is bound as associated data,
//! so a ciphertext copied under another name does not decrypt.
//!
//! Invariants: plaintext exists only in memory, inside `secrecy` types; a wrong or lost key is
//! reported as [`SecretError::WrongKey`] (the AEAD tag fails), never as garbage.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};

/// The environment variable that carries the master key (base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "LEADBRIDGE_MASTER_KEY";
/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "master.key";

const AAD_PREFIX: &[u8] = b"leadbridge/secret/v1:";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "cannot decrypt secret '{name}': the master key is not the one it was encrypted with \
         (was the key file {KEY_FILE} replaced or lost, or {MASTER_KEY_ENV} changed?). Restore the \
         original key, or delete the secret and enter it again"
    )]
    WrongKey { name: String },
    #[error("the master key is malformed: {0} (expected base64 of 32 bytes)")]
    BadKey(String),
    #[error("cannot read or create the key file {path}: {source}")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("secret '{0}' could not be encrypted")]
    Seal(String),
}

/// The 256-bit key that encrypts every secret. `Debug` never shows it.
pub struct MasterKey(SecretBox<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

/// A sealed secret as stored.
pub(crate) struct Sealed {
    pub(crate) nonce: Vec<u8>,
    pub(crate) ciphertext: Vec<u8>,
}

impl MasterKey {
    /// A fresh random key.
    pub fn generate() -> MasterKey {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        MasterKey(SecretBox::new(Box::new(bytes)))
    }

    /// Reads a key written as base64 (standard alphabet, padding optional).
    pub fn from_base64(text: &str) -> Result<MasterKey, SecretError> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|e| SecretError::BadKey(e.to_string()))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| SecretError::BadKey(format!("{} bytes", b.len())))?;
        Ok(MasterKey(SecretBox::new(Box::new(bytes))))
    }

    /// The key as base64, for the key file (or to copy into the environment of another host).
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(STANDARD.encode(self.0.expose_secret()))
    }

    /// `LEADBRIDGE_MASTER_KEY` when set, else the data directory's key file (created on first
    /// start, mode 0600).
    pub fn from_env_or_data_dir(data_dir: &Path) -> Result<MasterKey, SecretError> {
        match std::env::var(MASTER_KEY_ENV) {
            Ok(value) if !value.trim().is_empty() => MasterKey::from_base64(&value),
            _ => MasterKey::load_or_create(&data_dir.join(KEY_FILE)),
        }
    }

    /// Reads the key file, or creates it with a new key (mode 0600) if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, SecretError> {
        let err = |source| SecretError::KeyFile {
            path: path.to_owned(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => return MasterKey::from_base64(&text),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(err(e)),
            Err(_) => {}
        }
        let key = MasterKey::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(mut file) => {
                writeln!(file, "{}", key.to_base64().expose_secret()).map_err(err)?;
                file.sync_all().map_err(err)?;
                tracing::info!(path = %path.display(), "created a new master key file");
                Ok(key)
            }
            // Another process created it between our read and our create: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                MasterKey::from_base64(&std::fs::read_to_string(path).map_err(err)?)
            }
            Err(e) => Err(err(e)),
        }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.expose_secret().into())
    }

    pub(crate) fn seal(&self, name: &str, plaintext: &[u8]) -> Result<Sealed, SecretError> {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let aad = [AAD_PREFIX, name.as_bytes()].concat();
        let ciphertext = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| SecretError::Seal(name.to_owned()))?;
        Ok(Sealed {
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    pub(crate) fn open(&self, name: &str, sealed: &Sealed) -> Result<SecretString, SecretError> {
        let wrong = || SecretError::WrongKey {
            name: name.to_owned(),
        };
        if sealed.nonce.len() != 24 {
            return Err(wrong());
        }
        let aad = [AAD_PREFIX, name.as_bytes()].concat();
        let plain = self
            .cipher()
            .decrypt(
                XNonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| wrong())?;
        let text = String::from_utf8(plain).map_err(|_| wrong())?;
        Ok(SecretString::from(text))
    }
}

/// A new API token: `lbk_` and 32 random bytes, base64url.
pub(crate) fn new_api_token() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(format!("lbk_{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// API tokens are 256-bit random, so a plain SHA-256 (no salt, no stretching) is enough to make
/// the stored value useless to a thief while allowing an indexed lookup.
pub(crate) fn token_sha256(token: &str) -> String {
    let digest = Sha256::digest(token.trim().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secret_opens_only_with_its_key_and_name() {
        let key = MasterKey::generate();
        let sealed = key.seal("salesforce.password", b"hunter2").unwrap();
        assert_eq!(
            key.open("salesforce.password", &sealed)
                .unwrap()
                .expose_secret(),
            "hunter2"
        );
        assert!(matches!(
            key.open("other.name", &sealed),
            Err(SecretError::WrongKey { .. })
        ));
        let other = MasterKey::generate();
        assert!(matches!(
            other.open("salesforce.password", &sealed),
            Err(SecretError::WrongKey { .. })
        ));
    }

    #[test]
    fn key_round_trips_through_base64() {
        let key = MasterKey::generate();
        let again = MasterKey::from_base64(key.to_base64().expose_secret()).unwrap();
        let sealed = key.seal("n", b"v").unwrap();
        assert_eq!(again.open("n", &sealed).unwrap().expose_secret(), "v");
        assert!(matches!(
            MasterKey::from_base64("c2hvcnQ="),
            Err(SecretError::BadKey(_))
        ));
    }
}
