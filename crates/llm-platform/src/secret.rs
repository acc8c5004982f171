//! API keys: `ApiKey`, a secret that never prints, and `SecretCipher`, which encrypts
//! keys at rest.
//!
//! Stored form: `enc:v1:` followed by base64 of a 24-byte random nonce and the
//! XChaCha20-Poly1305 ciphertext, with the config's alias as associated data (a ciphertext
//! copied to another row does not decrypt). Text without the prefix is a plaintext key
//! written by the earlier service; it still reads, and `reencrypt_plaintext` upgrades it.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Serialize, Serializer};
use shared_db::InvalidInput;
use zeroize::Zeroizing;

/// Prefix of an encrypted key; the version names the scheme.
pub(crate) const ENCRYPTED_PREFIX: &str = "enc:v1:";

const NONCE_LEN: usize = 24;

/// An LLM provider's API key.
///
/// `Debug` and `Serialize` print `***`; there is no `Display`. The plaintext is wiped
/// from memory when the key is dropped. Read it with [`ApiKey::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(Zeroizing<String>);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(Zeroizing::new(key.into()))
    }

    /// The plaintext key, to hand to the provider's client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl Serialize for ApiKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

/// Why a stored key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The key is encrypted and no cipher is configured.
    #[error("the api_key of llm config {alias:?} is encrypted; set STOCKDB_SECRET_KEY to read it")]
    NoKey {
        /// The config.
        alias: String,
    },
    /// Decryption failed: another key, or a damaged value. Never garbage.
    #[error(
        "cannot decrypt the api_key of llm config {alias:?}: STOCKDB_SECRET_KEY is not the key it \
         was encrypted with, or the stored value is damaged"
    )]
    WrongKey {
        /// The config.
        alias: String,
    },
    /// Encrypting was asked for and no cipher is configured.
    #[error("encrypting api keys needs a key: set STOCKDB_SECRET_KEY")]
    NoCipher,
}

impl SecretError {
    /// The alias of the config whose key it is (`*` when it concerns every config).
    pub fn alias(&self) -> &str {
        match self {
            Self::NoKey { alias } | Self::WrongKey { alias } => alias,
            Self::NoCipher => "*",
        }
    }
}

/// Encrypts and decrypts API keys with a 32-byte key. `Debug` hides the key.
#[derive(Clone)]
pub struct SecretCipher {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretCipher(***)")
    }
}

impl SecretCipher {
    /// The environment variable holding the key, base64 of 32 bytes.
    pub const ENV: &'static str = "STOCKDB_SECRET_KEY";

    /// A cipher from base64 of 32 bytes. The error never repeats the key.
    pub fn from_base64(key: &str) -> Result<Self, InvalidInput> {
        let bytes = Zeroizing::new(
            BASE64
                .decode(key.trim())
                .map_err(|_| InvalidInput::secret(Self::ENV, "not valid base64"))?,
        );
        if bytes.len() != 32 {
            return Err(InvalidInput::secret(
                Self::ENV,
                format!("must be 32 bytes of base64, found {} bytes", bytes.len()),
            ));
        }
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
            .map_err(|_| InvalidInput::secret(Self::ENV, "must be 32 bytes"))?;
        Ok(Self { cipher })
    }

    /// The cipher configured by `STOCKDB_SECRET_KEY`, or `None` when it is not set.
    pub fn from_env() -> Result<Option<Self>, InvalidInput> {
        match std::env::var(Self::ENV) {
            Ok(key) if !key.trim().is_empty() => Self::from_base64(&key).map(Some),
            _ => Ok(None),
        }
    }

    /// A new random key, base64-encoded, for `STOCKDB_SECRET_KEY`.
    pub fn generate_key() -> String {
        BASE64.encode(XChaCha20Poly1305::generate_key(&mut OsRng))
    }

    /// `key` encrypted for the config `alias`, in the stored form.
    pub(crate) fn encrypt(&self, alias: &str, key: &ApiKey) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption with a valid key and nonce cannot fail.
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: key.expose().as_bytes(),
                    aad: alias.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        format!("{ENCRYPTED_PREFIX}{}", BASE64.encode(blob))
    }

    fn decrypt(&self, alias: &str, encoded: &str) -> Result<ApiKey, SecretError> {
        let wrong_key = || SecretError::WrongKey {
            alias: alias.to_owned(),
        };
        let blob = BASE64.decode(encoded).map_err(|_| wrong_key())?;
        if blob.len() < NONCE_LEN {
            return Err(wrong_key());
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| wrong_key())?;
        let plaintext = Zeroizing::new(
            self.cipher
                .decrypt(
                    &XNonce::from(nonce),
                    Payload {
                        msg: ciphertext,
                        aad: alias.as_bytes(),
                    },
                )
                .map_err(|_| wrong_key())?,
        );
        let text = std::str::from_utf8(&plaintext).map_err(|_| wrong_key())?;
        Ok(ApiKey::new(text))
    }
}

/// True when `stored` is an encrypted key rather than plaintext.
pub(crate) fn is_encrypted(stored: &str) -> bool {
    stored.starts_with(ENCRYPTED_PREFIX)
}

/// Reads a stored key: plaintext as it is, encrypted through `cipher`.
pub(crate) fn read_stored(
    cipher: Option<&SecretCipher>,
    alias: &str,
    stored: &str,
) -> Result<ApiKey, SecretError> {
    match stored.strip_prefix(ENCRYPTED_PREFIX) {
        None => Ok(ApiKey::new(stored)),
        Some(encoded) => match cipher {
            Some(cipher) => cipher.decrypt(alias, encoded),
            None => Err(SecretError::NoKey {
                alias: alias.to_owned(),
            }),
        },
    }
}

/// The stored form of `key`: encrypted when a cipher is configured, else plaintext.
pub(crate) fn to_stored(cipher: Option<&SecretCipher>, alias: &str, key: &ApiKey) -> String {
    match cipher {
        Some(cipher) => cipher.encrypt(alias, key),
        None => key.expose().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> SecretCipher {
        SecretCipher::from_base64(&SecretCipher::generate_key()).unwrap()
    }

    #[test]
    fn keys_never_print() {
        let key = ApiKey::new("sk-live-123456");
        assert_eq!(format!("{key:?}"), "ApiKey(***)");
        assert_eq!(serde_json::to_string(&key).unwrap(), r#""***""#);
        assert!(!format!("{:?}", cipher()).contains('='));
    }

    #[test]
    fn encrypted_keys_round_trip_and_differ_each_time() {
        let cipher = cipher();
        let key = ApiKey::new("sk-live-123456");
        let first = cipher.encrypt("gpt", &key);
        let second = cipher.encrypt("gpt", &key);
        assert!(first.starts_with(ENCRYPTED_PREFIX));
        assert!(!first.contains("sk-live"));
        assert_ne!(first, second, "a fresh nonce every time");
        assert_eq!(read_stored(Some(&cipher), "gpt", &first).unwrap(), key);
    }

    #[test]
    fn a_wrong_key_or_alias_is_an_error_never_garbage() {
        let stored = cipher().encrypt("gpt", &ApiKey::new("sk-live-123456"));
        assert!(matches!(
            read_stored(Some(&cipher()), "gpt", &stored),
            Err(SecretError::WrongKey { .. })
        ));
        let right = cipher();
        let stored = right.encrypt("gpt", &ApiKey::new("sk"));
        assert!(matches!(
            read_stored(Some(&right), "claude", &stored),
            Err(SecretError::WrongKey { .. })
        ));
        assert!(matches!(
            read_stored(None, "gpt", &stored),
            Err(SecretError::NoKey { .. })
        ));
    }

    #[test]
    fn plaintext_rows_still_read() {
        assert_eq!(
            read_stored(None, "gpt", "sk-plain").unwrap().expose(),
            "sk-plain"
        );
        assert_eq!(
            read_stored(Some(&cipher()), "gpt", "sk-plain")
                .unwrap()
                .expose(),
            "sk-plain"
        );
    }

    #[test]
    fn bad_cipher_keys_are_refused_without_echoing_them() {
        let err = SecretCipher::from_base64("c2hvcnQ=").unwrap_err();
        assert_eq!(err.field, "STOCKDB_SECRET_KEY");
        assert_eq!(err.value, "***");
        assert!(SecretCipher::from_base64("not base64 !!").is_err());
    }
}
